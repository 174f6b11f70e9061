"""CI-SpliceAI variant scores (nucleoforge.splicing.rules_cispliceai) against the original ``cis-vcf``.

* golden: the original ``cis-vcf <chr22> -a grch37`` (cispliceai 1.2.2, its defaults: -d 1000, no
  masking, most significant entry, N outside the gene) on 72 real dbSNP records of the bundled
  chr22 block (tests/fixtures/cispliceai/, recipe in tests/fixtures/README.md), compared record
  by record with ours (weights converted at test time, ``-A grch37`` = the wheel's own
  ``grch37.csv``);
* the rules, on a small random-weight stand-in: every entry equals a transcription of the
  original's steps (``_original``: its window rounded to even length, N masking, pseudo-genes
  ``+``/``-``, indel alignment, masking, most significant gene), window by window;
* the deliberate differences, each shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.alphabet import one_hot, reverse_complement_one_hot
from nucleoforge.io.annotation import Gene, GeneTable
from nucleoforge.io.genome import Genome, place_subsequence_records
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.splicing.rules_cispliceai import CISpliceAIFamily, read_cis_table
from nucleoforge.splicing.scoring import VariantInput, VariantScorer
from nucleoforge.splicing.variant_family import default_settings, family_for
from nucleoforge.splicing.variant_rules import SkipReason
from tests.conftest import CHR22

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cispliceai"
#: a quick subset: a deletion of 5 and one of 27 nt, two SNV ALTs, intergenic records (an SNV
#: under '+', an insertion under '-')
QUICK = {20004216, 20020601, 20055245, 20708949, 20741890}


def _vcf_records(path: Path) -> list[tuple[VariantInput, str]]:
    """Records of a VCF and each one's CISpliceAI value ('' when absent)."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        chrom, pos, _, ref, alts, _, _, info = line.split("\t")[:8]
        fields = dict(kv.split("=", 1) for kv in info.split(";") if "=" in kv)
        out.append((VariantInput(chrom, int(pos), ref, alts.split(","), label=f"{chrom}:{pos} {ref}>{alts}"),
                    fields.get("CISpliceAI", "")))
    return out


@pytest.fixture(scope="module")
def golden_setup(tmp_path_factory):
    from nucleoforge.models.spliceai.convert import package_roots
    from nucleoforge.models.spliceai.convert_cispliceai import convert_cispliceai

    if not any((r / "data" / "CI-SpliceAI.pb").is_file() for r in package_roots("cispliceai")):
        pytest.skip("the cispliceai wheel is not installed (pip install --no-deps cispliceai==1.2.2)")
    d = tmp_path_factory.mktemp("cis")
    model = SpliceAIModel.from_pretrained(convert_cispliceai(d / "cispliceai")).eval()
    ref = d / "chr22.fa"
    place_subsequence_records(CHR22, ref, chrom_prefix="")  # '22' at its real coordinates, as the original's FASTA
    return model, Genome(ref), GeneTable.load("grch37")


def _golden(golden_setup, positions: set[int] | None) -> tuple[int, int, list]:
    model, genome, genes = golden_setup
    records = [(v, want) for v, want in _vcf_records(FIXTURES / "variants.output.vcf") if positions is None or v.pos in positions]
    inputs = [v for v, _ in _vcf_records(FIXTURES / "variants.input.vcf")]
    assert len(inputs) == 72 and all(want for _, want in records)  # the original writes every record
    distance, mask = default_settings("cispliceai")  # the original's defaults: -d 1000, no masking
    assert (distance, mask) == (1000, False)
    scorer = VariantScorer(model, genome, genes, distance=distance, mask=mask)
    assert isinstance(scorer.family, CISpliceAIFamily)
    got = [",".join(e or []) for e in scorer.score_chunk([v for v, _ in records])]
    differ = [(v.label, g, want) for (v, want), g in zip(records, got) if g != want]
    return len(records) - len(differ), len(records), differ


def test_cispliceai_strings_equal_the_original_on_a_subset(golden_setup) -> None:
    same, n, differ = _golden(golden_setup, QUICK)
    assert not differ, f"{len(differ)} of {n} records differ (record, ours, original): {differ[:4]}"


@pytest.mark.slow
def test_cispliceai_strings_equal_the_original(golden_setup) -> None:
    """All 72 records (77 entries, 4 intergenic under '+'/'-'): identical strings."""
    same, n, differ = _golden(golden_setup, None)
    print(f"identical CISpliceAI strings: {same} of {n}")
    assert not differ, f"{len(differ)} of {n} records differ (record, ours, original): {differ[:4]}"


# -- the rules on a small stand-in --------------------------------------------------------------------
D = 6
#: CI-SpliceAI genes: (gene_id, strand, start, end) with start <= POS < end, kept start .. end - 1;
#: exons (1-based) give the junction sites
GENES = [
    ("E1", "+", 40, 300, [(40, 90), (150, 200), (260, 299)]),
    ("E2", "-", 120, 260, [(120, 170), (230, 259)]),
    ("E3", "+", 500, 560, [(500, 559)]),
]


@pytest.fixture(scope="module")
def model() -> SpliceAIModel:
    torch.manual_seed(5)
    config = SpliceAIConfig(stages=[(2, 3, 1), (2, 3, 2)], channels=4, num_members=2, weights_family="cispliceai")
    m = SpliceAIModel(config).eval()
    with torch.no_grad():  # spread the random network's outputs so that changes are not all ~0
        for p in m.parameters():
            p.mul_(3.0)
    return m


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cis_rules")
    seq = "".join(np.random.default_rng(21).choice(list("ACGT"), 800))
    fa = tmp / "g.fa"
    fa.write_text(">chr1\n" + seq + "\n")
    genes = [Gene(gid, "chr1", strand, start - 1, end - 1, tuple(a - 1 for a, _ in ex), tuple(b for _, b in ex))
             for gid, strand, start, end, ex in GENES]
    return Genome(fa), GeneTable(genes, str(tmp / "genes.tsv")), seq


def _sites(gid: str) -> tuple[list[int], list[int]]:
    """(acceptors, donors) 1-based of a stand-in gene, as the original reads its junction lists."""
    strand, exons = next((g[1], g[4]) for g in GENES if g[0] == gid)
    jn_start, jn_end = [b for _, b in exons[:-1]], [a for a, _ in exons[1:]]
    return (jn_end, jn_start) if strand == "+" else (jn_start, jn_end)


def _predict(model: SpliceAIModel, window: str, strand: str) -> np.ndarray:
    x = one_hot(window)[None]
    if strand == "-":
        x = reverse_complement_one_hot(x)
    with torch.no_grad():
        y = model(torch.as_tensor(x.copy())).probabilities[0].numpy()
    return y[::-1] if strand == "-" else y


def _original(model, seq: str, pos: int, ref: str, alt: str, d: int, mask: bool = False, quirk: bool = False,
              every: bool = False):
    """The original's steps for one ALT (cispliceai data.py / annotation.py, written out)."""
    w = d + model.config.flank
    start, length = pos - w, 2 * w + len(ref)
    length += length % 2
    s = seq[start - 1 : start - 1 + length]
    areas = [(g, st, a, b, _sites(g)) for g, st, a, b, _ in GENES if a <= pos < b]
    if not areas:  # both strands, no sites; the pseudo area ends one base after the window (quirk)
        areas = [(st, st, pos - w - 1, pos + w + 1 if quirk else 1 << 40, ([], [])) for st in "+-"]
    out = []
    for name, strand, a, b, (acc, don) in areas:
        m0, m1 = max(a - start, 0), max(start + length - b, 0)
        x = "N" * m0 + s[m0 : len(s) - m1] + "N" * m1
        y_ref, y_alt = _predict(model, x, strand), _predict(model, x[:w] + alt + x[w + len(ref) :], strand)
        diff = abs(len(y_ref) - len(y_alt))
        if len(y_ref) > len(y_alt):
            y_alt = np.concatenate([y_alt[:d], np.zeros((diff, 3)), y_alt[d:]])
        elif len(y_alt) > len(y_ref):
            y_alt = np.concatenate([y_alt[:d], [np.max(y_alt[d : d + diff + 1], axis=0)], y_alt[d + diff + 1 :]])
        delta = y_alt - y_ref
        if mask:
            for ch, sites in ((1, acc), (2, don)):
                on = np.zeros(len(delta), bool)
                idx = np.array([p for p in sites if start + w - d <= p < start + length - w + d], dtype=int) - (pos - d)
                on[idx] = True
                lost = delta[:, ch] < 0
                delta[(~lost & on) | (lost & ~on), ch] = 0
        ds = [float(np.max(delta[:, 1])), float(-np.min(delta[:, 1])), float(np.max(delta[:, 2])), float(-np.min(delta[:, 2]))]
        dp = [np.argmax(delta[:, 1]) - d, np.argmin(delta[:, 1]) - d, np.argmax(delta[:, 2]) - d, np.argmin(delta[:, 2]) - d]
        text = f"{alt}|{name}|" + "|".join(f"{v:.2f}" for v in ds) + "|" + "|".join(f"{p:.0f}" for p in dp)
        out.append((max(ds), text))
    return [t for _, t in out] if every else [out[int(np.argmax([s for s, _ in out]))][1]]


def _records(seq: str) -> list[VariantInput]:
    def other(b: str) -> str:
        return "A" if b != "A" else "C"

    return [
        VariantInput("chr1", 152, seq[151], [other(seq[151])]),  # E1 (+) and E2 (-): the most significant
        VariantInput("chr1", 198, seq[197:201], [seq[197]]),  # a deletion (REF 4 nt: even)
        VariantInput("chr1", 199, seq[198:201], [seq[198]]),  # a deletion (REF 3 nt: a longer track)
        VariantInput("chr1", 203, seq[202], [seq[202] + "GTA"]),  # an insertion
        VariantInput("chr1", 210, seq[209:211], [other(seq[209]) + other(seq[210])]),  # an MNV: scored
        VariantInput("chr1", 230, seq[229:232], [other(seq[229]) + "G"]),  # complex: scored, deletion rules
        VariantInput("chr1", 40, seq[39], [other(seq[39])]),  # E1's first base (start <= POS)
        VariantInput("chr1", 260, seq[259], [other(seq[259])]),  # E2's end: POS < end, so E1 only
        VariantInput("chr1", 420, seq[419], [other(seq[419]), seq[419] + "T"]),  # intergenic: '+' / '-'
        VariantInput("chr1", 530, seq[529:532], [seq[529]]),  # inside E3 (+)
        VariantInput("chr1", 161, seq[160], [other(seq[160])]),  # E1 and E2, E2 the most significant
    ]


@pytest.mark.parametrize("mask,incremental", [(False, True), (True, True), (False, False)])
def test_entries_follow_the_original_steps(model, world, mask, incremental) -> None:
    """SNVs from the substitution cones (one position wider than SpliceAI's) or full ALT passes."""
    genome, genes, seq = world
    scorer = VariantScorer(model, genome, genes, distance=D, mask=mask, incremental=incremental)
    assert isinstance(scorer.family, CISpliceAIFamily) and scorer.incremental == incremental
    records = _records(seq)
    for v, alleles in zip(records, scorer.score_alleles(records)):
        for alt, allele in zip(v.alts, alleles):
            assert allele.entries == _original(model, seq, v.pos, v.ref, alt, D, mask), (v, alt)
    got = scorer.score_chunk(records)
    assert got[0][0].split("|")[1] in ("E1", "E2") and got[6][0].split("|")[1] == "E1"
    assert [e.split("|")[1] for e in got[8]] in (["+", "+"], ["+", "-"], ["-", "+"], ["-", "-"])
    assert got[4][0].split("|")[2] != "."  # the MNV has delta scores


def test_the_track_is_one_longer_for_an_snv_and_zeros_go_before_the_anchor(model, world) -> None:
    genome, genes, seq = world
    scorer = VariantScorer(model, genome, genes, distance=D)
    snv, deletion = _records(seq)[0], _records(seq)[2]
    (ref, alt), = scorer.score_with_tracks([snv])[0][0].tracks[:1]
    # POS - D - 1 .. POS + D + 1, of which POS - D .. POS + D + 1 are scored (SpliceAI: POS - D .. POS + D)
    assert ref.shape[0] == alt.shape[0] == 2 * D + 3
    (ref, alt), = scorer.score_with_tracks([deletion])[0][0].tracks[:1]
    assert ref.shape[0] == 2 * D + 4 and np.all(alt[D : D + 2] == 0) and alt.dtype == np.float64  # REF 3 nt + 1


def test_every_gene_is_scored_and_the_most_significant_kept(model, world) -> None:
    genome, genes, seq = world
    v = _records(seq)[10]
    every = _original(model, seq, v.pos, v.ref, v.alts[0], D, every=True)
    assert [e.split("|")[1] for e in every] == ["E1", "E2"]
    scores = [max(float(x) for x in e.split("|")[2:6]) for e in every]
    kept = VariantScorer(model, genome, genes, distance=D).score_chunk([v])[0]
    assert kept == [every[1]] and scores[1] > scores[0]  # not the first gene's


def test_the_original_table_is_read_with_its_own_bounds_and_sites(tmp_path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text('gene_id,chr,strand,start,end,jn_start,jn_end\nENSG1,chr1,+,100,400,"150,250","200,300"\n'
                   'ENSG2,chr1,-,120,200,"140","160"\n')
    genes, sites = read_cis_table(csv)
    table = GeneTable(genes)
    assert table.overlapping("1", 100) == [0] and table.overlapping("1", 399) == [0] and table.overlapping("1", 400) == []
    assert sites[0] == ((200, 300), (150, 250)) and sites[1] == ((140,), (160,))  # (acceptors, donors)
    bad = tmp_path / "bad.csv"
    bad.write_text("#NAME\tCHROM\n")
    with pytest.raises(ValueError, match="bad.csv:1: expected the CI-SpliceAI header"):
        read_cis_table(bad)


def test_grch37_means_the_originals_own_table(model) -> None:
    from nucleoforge.models.spliceai.convert import package_roots

    if not any((r / "data" / "grch37.csv").is_file() for r in package_roots("cispliceai")):
        pytest.skip("the cispliceai wheel is not installed")
    family = family_for(model)
    view = family.gene_view(GeneTable.load("grch37"))  # type: ignore[attr-defined]
    assert view.source.endswith("grch37.csv") and len(view) == 18_614 + 2 * 24  # + two pseudo-genes per chromosome
    tango2 = [view[i].name for i in view.overlapping("22", 20_024_283)]
    assert tango2[0] == "ENSG00000183597" and tango2[-2:] == ["+", "-"]


# -- deliberate differences ------------------------------------------------------------------------------
def test_difference_a_ref_mismatch_is_skipped_not_written_as_the_entry(model, world) -> None:
    """The original writes 'REF annotation mismatch - Expected "X", found "Y"|||||||||' as the
    entry; we leave the record unscored with a warning, as for every other model."""
    genome, genes, seq = world
    wrong = "A" if seq[151] != "A" else "C"
    allele = VariantScorer(model, genome, genes, distance=D).score_alleles([VariantInput("chr1", 152, wrong, ["G"])])[0][0]
    assert allele.entries == [] and allele.reason == SkipReason.REF_MISMATCH


def test_difference_intergenic_windows_keep_their_last_bases(model, world) -> None:
    """Outside genes the original's pseudo-gene ends one base after its window, so the last
    ``len(REF) + len(REF) % 2 - 1`` bases of both windows become N: only the last as many track
    positions can change (not the scores here); we keep those bases."""
    genome, genes, seq = world
    v = _records(seq)[8]
    ours = VariantScorer(model, genome, genes, distance=D).score_alleles([v])[0][0].entries
    assert ours == _original(model, seq, v.pos, v.ref, v.alts[0], D)
    assert ours == _original(model, seq, v.pos, v.ref, v.alts[0], D, quirk=True)
