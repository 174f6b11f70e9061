"""Pangolin's variant rules (nucleoforge.splicing.rules_pangolin) on a small random-weight Pangolin
stand-in: every entry is compared with a transcription of the original command's steps
(``_original``: its window, per-model alignment, per-tissue means, per-strand gain/loss, in-place
masking per gene, its number formatting), run window by window like the original, while the
engine shares reference windows, batches and groups genes by strand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nucleoforge.alphabet import one_hot, reverse_complement_one_hot
from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import Gene, GeneTable
from nucleoforge.io.genome import Genome
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.splicing.pangolin_genes import gene_bodies, site_positions
from nucleoforge.splicing.rules_pangolin import PangolinFamily, score_text
from nucleoforge.splicing.scoring import VariantInput, VariantScorer
from nucleoforge.splicing.variant_family import ScoringFamily, default_settings, family_for
from nucleoforge.splicing.variant_rules import SkipReason

D = 5
# 1-based genes: (gene_id, strand, start, end, transcripts of exons)
GENES = [
    ("G1", "+", 50, 400, [[(50, 120), (200, 260), (330, 400)], [(50, 120), (210, 260), (330, 400)]]),
    ("G2", "+", 100, 300, [[(100, 150), (205, 300)]]),
    ("G3", "-", 150, 500, [[(150, 208), (300, 500)]]),
    ("G4", "+", 180, 250, []),  # a gene line without exons
    ("G5", "+", 230, 240, [[(230, 240)]]),
]


@pytest.fixture(scope="module")
def model() -> SpliceAIModel:
    torch.manual_seed(3)
    config = SpliceAIConfig(stages=[(2, 3, 1), (2, 3, 2)], channels=4, num_members=12, head="pangolin", num_labels=4,
                            member_tissues=[t for t in range(4) for _ in range(3)], weights_family="pangolin")
    m = SpliceAIModel(config).eval()
    with torch.no_grad():  # spread the random network's outputs so that changes are not all ~0
        for p in m.parameters():
            p.mul_(3.0)
    return m


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pangolin")
    seq = "".join(np.random.default_rng(11).choice(list("ACGT"), 600))
    fa = tmp / "g.fa"
    fa.write_text(">chr1\n" + seq + "\n")
    gtf = tmp / "g.gtf"
    lines = []
    for gid, strand, start, end, transcripts in GENES:
        lines.append(f'chr1\tt\tgene\t{start}\t{end}\t.\t{strand}\t.\tgene_id "{gid}"; gene_name "{gid}";')
        for k, exons in enumerate(transcripts):
            for a, b in exons:
                lines.append(f'chr1\tt\texon\t{a}\t{b}\t.\t{strand}\t.\tgene_id "{gid}"; transcript_id "{gid}.{k}";')
    gtf.write_text("\n".join(lines) + "\n")
    return Genome(fa), GeneTable.load(gtf), seq


def _member_tracks(model: SpliceAIModel, window: str, strand: str) -> np.ndarray:
    """The original's per-model call: each model's own tissue P(site), forward orientation."""
    x = one_hot(window)[None]
    if strand == "-":
        x = reverse_complement_one_hot(x)
    with torch.no_grad():
        members = model(torch.as_tensor(x.copy()), output_members=True).member_probabilities[0].numpy()
    y = np.stack([members[m, :, 3 * t + 1] for m, t in enumerate(model.config.member_tissues)], axis=1)
    return y[::-1] if strand == "-" else y


def _original(model, seq: str, pos: int, ref: str, alt: str, d: int, mask: bool = True, cutoff=None, exons=False):
    """The original command's steps for one record (genes of the GTF above), written out."""
    flank = model.config.flank
    window = seq[pos - 1 - flank - d : pos - 1 + len(ref) + flank + d]
    alt_window = window[: flank + d] + alt + window[flank + d + len(ref) :]
    found = {"+": {}, "-": {}}
    for gid, strand, start, end, transcripts in GENES:
        if start < pos <= end:
            found[strand][gid] = [p for exs in transcripts for e in exs for p in e]
    out = []
    for strand in "+-":
        if not found[strand]:
            continue
        r_all, a_all = _member_tracks(model, window, strand), _member_tracks(model, alt_window, strand)
        per_tissue = []
        for t in range(4):
            diffs = []
            for m in range(3 * t, 3 * t + 3):
                r, a = r_all[:, m], a_all[:, m]
                n = abs(len(r) - len(a))
                if len(r) > len(a):
                    a = np.concatenate([a[: d + 1], np.zeros(n), a[d + 1 :]])
                elif len(r) < len(a):
                    a = np.concatenate([a[:d], np.max(a[d : d + n + 1], keepdims=True), a[d + n + 1 :]])
                diffs.append(a - r)
            per_tissue.append(np.mean(diffs, axis=0))
        ch = np.array(per_tissue)
        loss = ch[np.argmin(ch, axis=0), np.arange(ch.shape[1])]
        gain = ch[np.argmax(ch, axis=0), np.arange(ch.shape[1])]
        for gid, sites in found[strand].items():
            warn = "Warnings:"
            ps = np.array(sites) - (pos - d)
            if mask and len(ps):
                ok = ps[(ps >= 0) & (ps < len(loss))]
                gain[ok] = np.minimum(gain[ok], 0)
                other = ~np.isin(np.arange(len(loss)), ok)
                loss[other] = np.maximum(loss[other], 0)
            elif mask:
                warn += "NoAnnotatedSitesToMaskForThisGene"
                loss[:] = np.maximum(loss[:], 0)
            if exons:
                s1, s2 = [gid + "_sites1"], [gid + "_sites2"]
                for i in range(len(ps) // 2):
                    vals = []
                    for p in ps[2 * i : 2 * i + 2]:
                        pair = [loss[p], gain[p]] if 0 <= p < len(loss) else None
                        vals.append("NA" if pair is None else round(pair[np.argmax(np.abs(pair))], 2))
                    if vals != ["NA", "NA"]:
                        s1.append(f"{ps[2 * i] - d}:{vals[0]}")
                        s2.append(f"{ps[2 * i + 1] - d}:{vals[1]}")
                fields = s1 + s2
            elif cutoff is not None:
                lo, gn = np.where(loss <= -cutoff)[0], np.where(gain >= cutoff)[0]
                fields = [gid] + [f"{p}:{round(s, 2)}" for p, s in zip(np.concatenate([gn - d, lo - d]),
                                                                     np.concatenate([gain[gn], loss[lo]]))]
            else:
                g, lo = np.argmax(gain), np.argmin(loss)
                fields = [gid, f"{g - d}:{round(gain[g], 2)}", f"{lo - d}:{round(loss[lo], 2)}"]
            out.append("|".join(fields + [warn]))
    return out


def _records(seq: str) -> list[VariantInput]:
    def other(b: str) -> str:
        return "A" if b != "A" else "C"

    return [
        VariantInput("chr1", 206, seq[205], [other(seq[205])]),  # G1 G2 G4 (+) and G3 (-)
        VariantInput("chr1", 207, seq[206:209], [seq[206]]),  # deletion, both strands
        VariantInput("chr1", 209, seq[208], [seq[208] + "GT"]),  # insertion
        VariantInput("chr1", 210, seq[209:211], [other(seq[209]) + other(seq[210])]),  # MNV: scored
        VariantInput("chr1", 121, seq[120], [other(seq[120])]),  # G1 and G2 only
        VariantInput("chr1", 202, seq[201:203], [other(seq[201])]),  # a deletion whose first base changes
        VariantInput("chr1", 231, seq[230], [other(seq[230])]),  # G5 from its second base
        VariantInput("chr1", 360, seq[359], [other(seq[359])]),  # G1 (+) and G3 (-), far from G2
    ]


@pytest.mark.parametrize("mask,options", [(True, {}), (False, {}), (True, {"score_cutoff": 0.05}),
                                          (True, {"score_exons": True})])
def test_entries_follow_the_original_steps(model, world, mask, options) -> None:
    genome, genes, seq = world
    scorer = VariantScorer(model, genome, genes, distance=D, mask=mask, family_options=options)
    assert isinstance(scorer.family, PangolinFamily)
    records = _records(seq)
    got = scorer.score_chunk(records)
    for v, entries in zip(records, got):
        want = _original(model, seq, v.pos, v.ref, v.alts[0], D, mask, options.get("score_cutoff"),
                         options.get("score_exons", False))
        assert entries == want, (v, entries, want)
    assert [e.split("|")[0] for e in got[0]] == (["G1_sites1", "G2_sites1", "G4_sites1", "G3_sites1"]
                                                 if options.get("score_exons") else ["G1", "G2", "G4", "G3"])


def test_each_strand_is_predicted_once_and_both_when_genes_on_both(model, world) -> None:
    genome, genes, seq = world
    scorer = VariantScorer(model, genome, genes, distance=D, mask=True, incremental=False)
    v = _records(seq)[0]  # three + genes and one - gene
    entries = scorer.score_chunk([v])[0]
    assert len(entries) == 4 and "NoAnnotatedSitesToMaskForThisGene" in entries[2]  # G4 has no exon
    width = model.config.context + 2 * D + 1
    assert scorer.model_positions == 4 * width  # REF and ALT, once per strand (not per gene)
    only_plus = VariantInput("chr1", 121, seq[120], ["A" if seq[120] != "A" else "C"])
    scorer.model_positions = 0
    scorer.score_chunk([only_plus])
    assert scorer.model_positions == 2 * width


def test_a_gene_starting_at_pos_is_not_the_variants(model, world) -> None:
    genome, genes, seq = world
    scorer = VariantScorer(model, genome, genes, distance=D)
    at_start = VariantInput("chr1", 230, seq[229], ["A" if seq[229] != "A" else "C"])
    assert [e.split("|")[0] for e in scorer.score_chunk([at_start])[0]] == ["G1", "G2", "G4", "G3"]
    first = VariantInput("chr1", 50, seq[49], ["A" if seq[49] != "A" else "C"])  # G1's first base: no gene
    assert scorer.score_alleles([first])[0][0].reason == SkipReason.NO_GENE


def test_the_first_alt_is_scored_and_unsupported_formats_are_skipped(model, world) -> None:
    genome, genes, seq = world
    scorer = VariantScorer(model, genome, genes, distance=D)
    b = seq[205]
    single = scorer.score_chunk([VariantInput("chr1", 206, b, ["A" if b != "A" else "C"])])[0]
    multi = scorer.score_alleles([VariantInput("chr1", 206, b, ["A" if b != "A" else "C", "G" if b != "G" else "T"])])[0]
    assert multi[0].entries == single and multi[1].entries == [] and multi[1].reason == SkipReason.NOT_FIRST_ALT
    complex_indel = VariantInput("chr1", 206, seq[205:207], ["GTT"])
    assert scorer.score_alleles([complex_indel])[0][0].reason == SkipReason.FORMAT
    assert scorer.score_chunk([complex_indel, VariantInput("chr1", 206, b, ["N"])]) == [None, None]
    # deliberate difference: symbolic ALTs are skipped (the original tries to encode '<CNV>' and fails)
    assert scorer.score_alleles([VariantInput("chr1", 206, b, ["<CNV>"])])[0][0].reason == SkipReason.UNSUPPORTED_ALT
    # REF longer than 2 x distance: skipped like the original's "Deletion too large"
    assert scorer.score_alleles([VariantInput("chr1", 206, seq[205:217], [b])])[0][0].reason == SkipReason.REF_TOO_LONG


def _gene(name: str, sites: list[tuple[int, int]], start: int = 1, end: int = 100, strand: str = "+") -> Gene:
    return Gene(name, "chr1", strand, start - 1, end, tuple(a - 1 for a, _ in sites), tuple(b for _, b in sites))


def test_masking_is_in_place_across_the_genes_of_a_strand(model) -> None:
    family = PangolinFamily(model)
    d, pos = 2, 50
    y_ref = np.zeros((5, 12), np.float32)
    y_alt = np.zeros((5, 12), np.float32)
    y_alt[1], y_alt[3] = 0.2, -0.3  # a gain at POS - 1 and a loss at POS + 1 in every tissue
    a, b = _gene("A", [(49, 60)]), _gene("B", [(40, 51)])  # A's site at POS - 1, B's at POS + 1
    first, second = family.group_entries("T", pos, d, [("A", a), ("B", b)], y_ref, y_alt, True)
    alone = family.group_entries("T", pos, d, [("B", b)], y_ref, y_alt, True)[0]
    assert str(first) == "A|-2:0.0|-2:0.0|Warnings:"  # A: its gain masked, the loss (not at A's site) too
    assert str(second) == "B|-2:0.0|-2:0.0|Warnings:"  # B sees A's masking: its own site's loss is gone
    assert str(alone) == "B|-1:0.20000000298023224|1:-0.30000001192092896|Warnings:"
    none = family.group_entries("T", pos, d, [("C", _gene("C", []))], y_ref, y_alt, True)[0]
    assert str(none) == "C|-1:0.20000000298023224|-2:0.0|Warnings:NoAnnotatedSitesToMaskForThisGene"


def test_numbers_print_like_the_original(model) -> None:
    family = PangolinFamily(model)
    y_ref = np.zeros((3, 12), np.float32)
    y_alt = np.zeros((3, 12), np.float32)
    y_alt[0] = -0.0123
    y_alt[2] = 0.004
    snv = family.group_entries("T", 10, 1, [("G", _gene("G", []))], y_ref, y_alt, False)[0]
    assert str(snv) == "G|1:0.0|-1:-0.009999999776482582|Warnings:"  # float32 after round(x, 2)
    deletion = family.align(np.zeros((4, 12), np.float32), y_alt, 2, 1)  # zeros inserted: float64
    assert deletion[1].dtype == np.float64 and deletion[1].shape == (4, 12)
    entry = family.group_entries("T", 10, 1, [("G", _gene("G", []))], *deletion, False)[0]
    assert str(entry) == "G|2:0.0|-1:-0.01|Warnings:"  # the gain (0.004) one position later
    assert score_text(np.float32(-0.001)) == "-0.0" and score_text(np.float32(0.0)) == "0.0"
    # insertions: the inserted positions collapse into their maximum (per model), after POS - d .. POS - 1
    ins = np.arange(6 * 12, dtype=np.float32).reshape(6, 12)
    _, aligned = family.align(np.zeros((3, 12), np.float32), ins, 1, 4)
    assert aligned.shape == (3, 12) and (aligned[1] == ins[4]).all() and (aligned[2] == ins[5]).all()


def test_gene_view_from_a_gtf_and_from_a_table(world, tmp_path) -> None:
    _, genes, _ = world
    view = gene_bodies(genes)
    g1 = next(g for g in view if g.name == "G1")
    assert (g1.tx_start, g1.tx_end) == (49, 400)  # the gene line, not a transcript
    assert site_positions(g1) == [50, 120, 200, 260, 330, 400, 50, 120, 210, 260, 330, 400]  # every transcript, file order
    assert site_positions(next(g for g in view if g.name == "G4")) == []
    table = tmp_path / "t.tsv"
    table.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                     "T1\tchr1\t+\t99\t300\t99,204,\t150,300,\n")
    t = GeneTable.load(table)
    assert gene_bodies(t) is t and site_positions(t[0]) == [100, 150, 205, 300]


def test_a_table_and_its_gtf_give_the_same_entries(model, world, tmp_path) -> None:
    genome, _, seq = world
    table = tmp_path / "t.tsv"
    rows = ["#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END"]
    gtf = []
    for gid, strand, start, end, transcripts in GENES[1:3]:  # single-transcript genes
        exons = transcripts[0]
        rows.append(f"{gid}\tchr1\t{strand}\t{start - 1}\t{end}\t" + "".join(f"{a - 1}," for a, _ in exons) + "\t"
                    + "".join(f"{b}," for _, b in exons))
        gtf.append(f'chr1\tt\tgene\t{start}\t{end}\t.\t{strand}\t.\tgene_id "{gid}";')
        gtf += [f'chr1\tt\texon\t{a}\t{b}\t.\t{strand}\t.\tgene_id "{gid}"; transcript_id "{gid}.0";' for a, b in exons]
    table.write_text("\n".join(rows) + "\n")
    (tmp_path / "t.gtf").write_text("\n".join(gtf) + "\n")
    records = _records(seq)[:4]
    by_table = VariantScorer(model, genome, GeneTable.load(table), distance=D).score_chunk(records)
    by_gtf = VariantScorer(model, genome, GeneTable.load(tmp_path / "t.gtf"), distance=D).score_chunk(records)
    assert by_table == by_gtf and all(by_table)


def test_cache_keeps_the_entries(model, world, tmp_path) -> None:
    genome, genes, seq = world
    records = _records(seq)
    scorer = VariantScorer(model, genome, genes, distance=D, mask=True, cache=tmp_path / "c.sqlite")
    first = scorer.score_chunk(records)
    positions = scorer.model_positions
    assert scorer.score_chunk(records) == first and scorer.model_positions == positions
    assert scorer.cache_setting()["format"] == "pangolin-info/1"
    scorer.close()


def test_dispatch_defaults_and_options(model) -> None:
    assert isinstance(family_for(model), PangolinFamily) and family_for(model).info_key == "Pangolin"
    assert isinstance(family_for(model), ScoringFamily)
    assert default_settings("pangolin") == (50, True) and default_settings("spliceai") == (50, False)
    family = family_for(model, options={"score_cutoff": "0.2", "score_exons": False})
    assert family.cutoff == 0.2 and family.run_parameters() == {"score_cutoff": 0.2}
    assert "pos:score" in family.info_lines(False)[0]
    with pytest.raises(NucleoforgeError, match="unknown Pangolin option"):
        family_for(model, options={"cut": 1})
    with pytest.raises(NucleoforgeError, match="unknown weights family"):
        default_settings("nope")


def test_substitution_cones_give_the_full_pass_entries(model, world) -> None:
    genome, genes, seq = world
    records = _records(seq)
    cones = VariantScorer(model, genome, genes, distance=D, mask=True)
    full = VariantScorer(model, genome, genes, distance=D, mask=True, incremental=False)
    assert cones.incremental and not full.incremental
    assert cones.score_chunk(records) == full.score_chunk(records)
    assert cones.incremental_alts == 7  # four SNVs, once per strand with genes (three on both strands)


def test_a_cached_second_alt_keeps_its_reason(model, world, tmp_path) -> None:
    genome, genes, seq = world
    b = seq[205]
    v = VariantInput("chr1", 206, b, ["A" if b != "A" else "C", "G" if b != "G" else "T"])
    scorer = VariantScorer(model, genome, genes, distance=D, cache=tmp_path / "c.sqlite")
    first = scorer.score_alleles([v])[0]
    again = scorer.score_alleles([v])[0]
    assert scorer.provenance.get("cache") == 1  # the first ALT came back from the cache
    assert [(a.entries, a.reason) for a in again] == [(a.entries, a.reason) for a in first]
    assert again[1].reason == SkipReason.NOT_FIRST_ALT
    scorer.close()


def test_windows_past_a_chromosome_end_are_skipped(model, tmp_path) -> None:
    """Deliberate difference: the original shortens a window at the chromosome's end (and fails on
    a negative start); here a window that passes either end is skipped as near the chromosome end."""
    seq = "".join(np.random.default_rng(5).choice(list("ACGT"), 120))
    (tmp_path / "e.fa").write_text(">chr1\n" + seq + "\n")
    (tmp_path / "e.gtf").write_text('chr1\tt\tgene\t2\t119\t.\t+\t.\tgene_id "E";\n'
                                    'chr1\tt\texon\t2\t119\t.\t+\t.\tgene_id "E"; transcript_id "E.1";\n')
    scorer = VariantScorer(model, Genome(tmp_path / "e.fa"), GeneTable.load(tmp_path / "e.gtf"), distance=D)
    flank = model.config.flank

    def snv(pos: int) -> VariantInput:
        return VariantInput("chr1", pos, seq[pos - 1], ["A" if seq[pos - 1] != "A" else "C"])

    first_inside, last_inside = flank + D + 1, len(seq) - flank - D
    results = scorer.score_alleles([snv(first_inside - 1), snv(first_inside), snv(last_inside), snv(last_inside + 1)])
    assert [r[0].reason for r in results] == [SkipReason.CHROM_END, None, None, SkipReason.CHROM_END]
    assert results[1][0].entries and results[2][0].entries
