"""SpliceAI variant scoring: golden INFO strings from the original CLI, rules, streaming, resume."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome, place_subsequence_records
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.splicing.scoring import VariantInput, VariantScorer
from nucleoforge.splicing.scoring_vcf import score_vcf
from tests.conftest import CHR22, refuse_writes, spliceai_pretrained

FIXTURES = Path(__file__).parents[1] / "fixtures" / "spliceai_variants"


def _info(path: Path) -> dict[str, str]:
    """ID -> INFO column of a VCF (plain or gz)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    out = {}
    with opener(path, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                cols = line.rstrip("\n").split("\t")
                out[cols[2]] = cols[7]
    return out


# --------------------------------------------------------------------------------------------
# Golden tests: the real ensemble against the original Illumina CLI's output.
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_setup(tmp_path_factory):
    model = spliceai_pretrained("spliceai-10k")  # skips (fails under CI=true) without the wheel/cache
    ref = tmp_path_factory.mktemp("ref") / "chr22.fa"
    place_subsequence_records(CHR22, ref, chrom_prefix="chr")  # 'chr22' vs the VCF's '22'
    genome = Genome(ref)
    genes = GeneTable.load("grch37")
    cache: dict[bytes, np.ndarray] = {}
    base = VariantScorer(model, genome, genes).family.predict

    def cached(x: np.ndarray) -> np.ndarray:  # one model run serves both -M settings
        key = hashlib.sha1(np.ascontiguousarray(x).tobytes()).digest()
        if key not in cache:
            cache[key] = base(x)
        return cache[key]

    return model, genome, genes, cached


# Quick subset (4 model windows of ALT + 4 of REF): SNVs on both strands with non-zero
# scores, a deletion, an insertion, and records that need no model (REF mismatch, MNV,
# outside genes). The test after it covers all 29 (two genes, multi-allelic, '*' alleles,
# gene edges).
QUICK = {
    "rs885980", "rs885980_mnv", "rs73389745", "rs368639630", "rs545014283",
    "rs2286480_refmismatch", "rs141779732",
}

# The multi-allelic record: dbSNP rs35216297 (both of its alleles, C>G and C>T) at
# chr22:20,784,102, 18 nt inside an exon end shared by the two overlapping minus-strand genes
# SCARF2 and XXbac-B562F10.12. The original CLI writes one entry per ALT x gene, ALT-major.
# (Masking changes nothing here: the gains are not at the nearest boundary, the losses are 0.)
MULTIALLELIC = "rs35216297_multiallelic"
MULTIALLELIC_INFO = "SpliceAI=" + ",".join([
    "G|SCARF2|0.08|0.00|0.00|0.00|-31|18|12|18",
    "G|XXbac-B562F10.12|0.08|0.00|0.00|0.00|-31|18|12|5",
    "T|SCARF2|0.01|0.00|0.00|0.00|-31|-39|12|7",
    "T|XXbac-B562F10.12|0.01|0.00|0.00|0.00|-31|-39|12|7",
])


def _run_golden(real_setup, tmp_path, mask: int, ids: set[str] | None, incremental: bool = False) -> tuple[dict, dict]:
    """Score the golden input; ``incremental``: through the reference activations (no shared
    prediction cache, which only sees whole windows)."""
    model, genome, genes, cached = real_setup
    src = FIXTURES / "input.vcf"
    if ids is not None:
        lines = [ln for ln in src.read_text().splitlines(True) if ln.startswith("#") or ln.split("\t")[2] in ids]
        src = tmp_path / "subset.vcf"
        src.write_text("".join(lines))
    out = tmp_path / f"out_M{mask}.vcf"
    if incremental:
        scorer = VariantScorer(model, genome, genes, distance=50, mask=bool(mask))
        assert scorer.incremental
    else:
        scorer = VariantScorer(model, genome, genes, distance=50, mask=bool(mask), predict=cached)
    score_vcf(scorer, str(src), str(out), progress=False)
    if incremental:
        assert scorer.incremental_alts > 0
    expected = _info(FIXTURES / f"expected_M{mask}.vcf")
    got = _info(out)
    if ids is not None:
        expected = {k: v for k, v in expected.items() if k in ids}
    return got, expected


@pytest.mark.parametrize("mask", [0, 1])
def test_golden_subset_matches_original_cli(real_setup, tmp_path, mask):
    got, expected = _run_golden(real_setup, tmp_path, mask, QUICK)
    assert len(got) == len(QUICK)
    assert got == expected


def test_multiallelic_golden_record_is_two_alts_in_two_genes():
    """The fixture itself (no model): the original CLI scored both ALTs in both genes."""
    rec = next(ln.split("\t") for ln in (FIXTURES / "input.vcf").read_text().splitlines() if f"\t{MULTIALLELIC}\t" in ln)
    assert rec[:5] == ["22", "20784102", MULTIALLELIC, "C", "G,T"]
    for mask in (0, 1):
        assert _info(FIXTURES / f"expected_M{mask}.vcf")[MULTIALLELIC] == MULTIALLELIC_INFO
    entries = [e.split("|") for e in MULTIALLELIC_INFO.removeprefix("SpliceAI=").split(",")]
    assert len(entries) == 4 and {e[0] for e in entries} == {"G", "T"}
    assert {e[1] for e in entries} == {"SCARF2", "XXbac-B562F10.12"}
    assert max(float(x) for e in entries for x in e[2:6]) > 0  # not a vacuous all-zero record


@pytest.mark.parametrize("mask", [0, 1])
def test_golden_all_records_match_original_cli(real_setup, tmp_path, mask):
    got, expected = _run_golden(real_setup, tmp_path, mask, None)
    assert len(got) == 29
    assert got[MULTIALLELIC] == MULTIALLELIC_INFO  # >= 2 ALTs x >= 2 genes, comma-joined
    assert got == expected


@pytest.mark.parametrize("mask, ids", [(0, None), (1, QUICK)])
def test_golden_records_match_original_cli_incrementally(real_setup, tmp_path, mask, ids):
    """Substitutions predicted from the reference activations give the original CLI's strings."""
    got, expected = _run_golden(real_setup, tmp_path, mask, ids, incremental=True)
    assert len(got) == (29 if ids is None else len(QUICK))
    assert got == expected


def test_golden_output_keeps_input_records(real_setup, tmp_path):
    """Unscored records are written unchanged and in input order."""
    got, expected = _run_golden(real_setup, tmp_path, 0, QUICK)
    assert list(got) == [k for k in _info(FIXTURES / "input.vcf") if k in QUICK]
    assert got["rs2286480_refmismatch"] == "." and got["rs141779732"] == "."  # REF mismatch; no gene
    assert got["rs885980_mnv"] == "SpliceAI=CT|TRMT2A|.|.|.|.|.|.|.|."


# --------------------------------------------------------------------------------------------
# Rules on a small synthetic genome with a tiny random model, against a direct per-variant
# implementation of the original algorithm (two model calls per ALT x gene, no batching).
# --------------------------------------------------------------------------------------------

D = 4


@pytest.fixture(scope="module")
def tiny(tiny_genome):
    torch.manual_seed(0)
    model = SpliceAIModel(SpliceAIConfig(stages=[(1, 5, 2), (1, 3, 3)], channels=8, num_members=2)).eval()
    for p in model.parameters():  # larger weights -> spiky, position-dependent outputs
        p.data.mul_(1.5)
    fa, table, seq = tiny_genome  # tests/splicing/conftest.py
    return model, Genome(fa), GeneTable.load(table), seq


def _direct(model, seq: str, genes: GeneTable, pos: int, ref: str, alts: list[str]) -> tuple[list[str] | None, list[str] | None]:
    """The original algorithm, one variant at a time (genome = ``seq``, chromosome '1');
    returns the entries without and with masking."""
    ctx = model.config.context
    cov = 2 * D + 1
    wid = ctx + cov
    idxs = genes.overlapping("1", pos)
    if not idxs:
        return None, None
    lo, hi = pos - wid // 2 - 1, pos + wid // 2
    if lo < 0 or hi > len(seq):
        return None, None
    win = seq[lo:hi]
    if win[wid // 2 : wid // 2 + len(ref)] != ref or len(ref) > 2 * D:
        return None, None
    out: tuple[list[str], list[str]] = ([], [])
    for alt in alts:
        if set(alt) & set(".-*<>"):
            continue
        for i in idxs:
            g = genes[i]
            if len(ref) > 1 and len(alt) > 1:
                for o in out:
                    o.append(f"{alt}|{g.name}|.|.|.|.|.|.|.|.")
                continue
            p0 = max(wid // 2 + (g.tx_start + 1 - pos), 0)
            p1 = max(wid // 2 - (g.tx_end - pos), 0)
            x_ref = "N" * p0 + win[p0 : wid - p1] + "N" * p1
            x_alt = x_ref[: wid // 2] + alt + x_ref[wid // 2 + len(ref) :]
            ys = []
            for x in (x_ref, x_alt):
                from nucleoforge.alphabet import one_hot

                oh = one_hot(x)[None]
                if g.strand == "-":
                    oh = oh[:, ::-1, ::-1].copy()
                with torch.no_grad():
                    y = model(torch.from_numpy(oh)).probabilities[0].numpy()
                ys.append(y[::-1] if g.strand == "-" else y)
            y_ref, y_alt = ys
            c = cov // 2
            if len(ref) > 1:
                y_alt = np.concatenate([y_alt[: c + 1], np.zeros((len(ref) - 1, 3)), y_alt[c + 1 :]])
            elif len(alt) > 1:
                y_alt = np.concatenate([y_alt[:c], y_alt[c : c + len(alt)].max(0, keepdims=True), y_alt[c + len(alt) :]])
            bounds = sorted({b - pos for b in [s + 1 for s in g.exon_starts] + list(g.exon_ends)})
            nb = min(bounds, key=abs)
            for mask, o in zip((False, True), out):
                vals, dps = [], []
                for k, gain in ((1, True), (1, False), (2, True), (2, False)):
                    diff = y_alt[:, k] - y_ref[:, k] if gain else y_ref[:, k] - y_alt[:, k]
                    j = int(diff.argmax())
                    masked = mask and ((j - c == nb) if gain else (j - c != nb))
                    vals.append(float(diff[j]) * (0 if masked else 1))
                    dps.append(j - c)
                o.append(f"{alt}|{g.name}|" + "|".join(f"{v:.2f}" for v in vals) + "|" + "|".join(map(str, dps)))
    return out[0] or None, out[1] or None


def _variants(seq: str) -> list[VariantInput]:
    def snv(pos, alt):
        return VariantInput("chr1", pos, seq[pos - 1], [alt])

    return [
        snv(120, "A" if seq[119] != "A" else "C"),  # PLUS, intron
        snv(201, "G" if seq[200] != "G" else "T"),  # PLUS, next to an exon end
        VariantInput("1", 150, seq[149], ["A", "C", "G", "T"]),  # multi-allelic incl. REF-as-ALT
        snv(300, "T" if seq[299] != "T" else "A"),  # in both genes
        VariantInput("1", 330, seq[329 : 329 + 4], [seq[329]]),  # 3-nt deletion, both genes
        VariantInput("1", 421, seq[420], [seq[420] + "GAT"]),  # insertion, MINUS
        VariantInput("1", 44, seq[43], ["C" if seq[43] != "C" else "G"]),  # near PLUS's TX_START
        VariantInput("1", 585, seq[584], ["A" if seq[584] != "A" else "C"]),  # near the chromosome end
        VariantInput("1", 10, seq[9], ["A"]),  # no gene
        VariantInput("1", 160, "A" if seq[159] != "A" else "C", ["G"]),  # REF mismatch
        VariantInput("1", 170, seq[169 : 169 + 2 * D + 1], [seq[169]]),  # REF longer than 2D
        VariantInput("1", 180, seq[179 : 181], ["GT"]),  # MNV -> dots
        VariantInput("1", 190, seq[189], ["<DEL>", "*", "."]),  # only unscorable ALTs
        VariantInput("1", 190, seq[189], None),  # no ALT at all
    ]


def test_batched_scores_equal_direct_per_variant_scores(tiny):
    model, genome, genes, seq = tiny
    variants = _variants(seq)
    direct = [_direct(model, seq, genes, v.pos, v.ref, list(v.alts)) if v.alts else (None, None) for v in variants]
    masked = VariantScorer(model, genome, genes, distance=D, mask=True, batch_size=3)
    assert list(masked.score(variants, chunk_size=5)) == [m for _, m in direct]
    scorer = VariantScorer(model, genome, genes, distance=D, mask=False, batch_size=3)
    got = list(scorer.score(variants, chunk_size=5))
    assert got == [u for u, _ in direct]
    assert got != [m for _, m in direct]  # masking changed something
    assert got[0] is not None and got[3] is not None and len(got[3]) == 2  # both genes
    assert got[7] is None and got[9] is None and got[10] is None and got[12] is None
    assert got[11] == [f"GT|PLUS|.|.|.|.|.|.|.|."]
    assert scorer.counts == {"near chromosome end": 1, "no gene": 1, "REF does not match the reference": 1,
                             "REF longer than 2 x distance": 1, "bad input": 1}


def test_scores_are_not_all_zero(tiny):
    """Guard against a vacuous comparison: the tiny model gives visible deltas."""
    model, genome, genes, seq = tiny
    got = VariantScorer(model, genome, genes, distance=D).score_chunk(_variants(seq)[:6])
    values = [float(x) for entries in got if entries for e in entries for x in e.split("|")[2:6] if x != "."]
    assert max(values) >= 0.05


def test_reference_track_is_shared(tiny):
    """Variants in one window share one reference run: fewer model positions than 2 per ALT."""
    model, genome, genes, seq = tiny
    variants = [VariantInput("1", p, seq[p - 1], ["A" if seq[p - 1] != "A" else "C"]) for p in range(110, 120)]
    wid = model.config.context + 2 * D + 1
    full = VariantScorer(model, genome, genes, distance=D, batch_size=4, incremental=False)
    full_entries = full.score_chunk(variants)
    assert full.model_positions == 10 * wid + (9 + wid)  # 10 ALT windows + one merged reference run
    cone = VariantScorer(model, genome, genes, distance=D, batch_size=4)
    assert cone.score_chunk(variants) == full_entries
    assert (cone.model_positions, cone.incremental_alts) == (9 + wid, 10)  # the ALTs read the reference run


def _all_snvs(seq: str, step: int = 3) -> list[VariantInput]:
    """Substitutions to every other base every ``step`` nt, with the rules' variants mixed in."""
    out = [VariantInput("1", p, seq[p - 1], [b for b in "ACGT" if b != seq[p - 1]]) for p in range(30, 590, step)]
    return out + _variants(seq)


@pytest.mark.parametrize("memory", [None, "one window"])
def test_incremental_entries_equal_full_alt_passes(tiny, memory):
    """Both strands, both genes, indels mixed in; with the activation memory of a single
    variant's window, nearby variants are split over more reference windows, same entries."""
    from nucleoforge.models.spliceai.incremental import activation_bytes

    model, genome, genes, seq = tiny
    variants = _all_snvs(seq)
    full = VariantScorer(model, genome, genes, distance=D, incremental=False).score_chunk(variants)
    kw = {} if memory is None else {"activation_memory": activation_bytes(model.config, model.config.context + 2 * D + 1)}
    cone = VariantScorer(model, genome, genes, distance=D, batch_size=5, **kw)
    got = cone.score_chunk(variants)
    assert got == full
    assert cone.incremental_alts == sum(len(e) for e in full if e) - 4  # not the deletion (2 genes), insertion, MNV
    if memory is not None:  # one reference window per variant
        assert cone.max_ref_span == 2 * D + 1


def test_incremental_entries_equal_full_alt_passes_calibrated(tiny):
    model, genome, genes, seq = tiny
    calibrated = SpliceAIModel(model.config.__class__(**{**model.config.to_dict(), "calibration_temperatures": [1.5, 0.7, 1.2]}))
    calibrated.load_state_dict(model.state_dict())
    calibrated.eval()
    variants = _all_snvs(seq, step=11)
    full = VariantScorer(calibrated, genome, genes, distance=D, calibrated=True, incremental=False).score_chunk(variants)
    assert VariantScorer(calibrated, genome, genes, distance=D, calibrated=True).score_chunk(variants) == full
    assert full != VariantScorer(model, genome, genes, distance=D).score_chunk(variants)  # temperatures matter


def test_activation_memory_below_one_window_is_refused(tiny):
    model, genome, genes, _ = tiny
    with pytest.raises(ValueError, match=r"activation memory 0 MiB is less than one variant's window needs \(0 MiB "
                       r"for this model at distance 4\); raise it \(--activation-memory\) or use --full-alt-pass"):
        VariantScorer(model, genome, genes, distance=D, activation_memory=1000)
    VariantScorer(model, genome, genes, distance=D, activation_memory=1000, incremental=False)  # not needed then


def test_warning_names_record(tiny, caplog):
    model, genome, genes, seq = tiny
    with caplog.at_level(logging.WARNING, logger="nucleoforge.spliceai"):
        VariantScorer(model, genome, genes, distance=D).score_chunk([_variants(seq)[9]])
    assert "1:160" in caplog.text and "REF does not match the reference" in caplog.text


def test_score_streams_lazily(tiny):
    model, genome, genes, seq = tiny
    pulled = []

    def gen():
        for i in itertools.count():
            pulled.append(i)
            yield VariantInput("1", 10, seq[9], ["A"])  # no gene: cheap

    it = VariantScorer(model, genome, genes, distance=D).score(gen(), chunk_size=7)
    assert next(it) is None
    assert len(pulled) == 7  # only the first chunk was read


# --------------------------------------------------------------------------------------------
# VCF driver: order, header, chr prefixes, resume after an interruption.
# --------------------------------------------------------------------------------------------


def _write_vcf(path: Path, seq: str, n_copies: int = 3) -> None:
    rows = []
    for k in range(n_copies):
        for v in _variants(seq)[:12]:
            rows.append(f"chr1\t{v.pos}\tv{k}_{v.pos}_{len(rows)}\t{v.ref}\t{','.join(v.alts)}\t.\tPASS\t.\n")
    rows.append(f"chr1\t190\tsym\t{seq[189]}\t<DEL>\t.\tPASS\t.\n")
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=600>\n##ALT=<ID=DEL,Description=\"Deletion\">\n"
                    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(rows))


@pytest.mark.parametrize("suffix", [".vcf", ".vcf.gz"])
def test_score_vcf_order_and_resume(tiny, tmp_path, suffix):
    model, genome, genes, seq = tiny
    src = tmp_path / "in.vcf"
    _write_vcf(src, seq)
    full = tmp_path / f"full{suffix}"
    s1 = score_vcf(VariantScorer(model, genome, genes, distance=D), str(src), str(full), chunk_size=4, progress=False)
    assert s1.records == 37 and s1.resumed == 0
    info = _info(full)
    assert list(info) == [ln.split("\t")[2] for ln in src.read_text().splitlines() if not ln.startswith("#")]
    assert info["sym"] == "."
    assert sum(v != "." for v in info.values()) == s1.scored == 3 * 8

    # An interruption: the output holds 10 complete records and half of the 11th.
    text = gzip.open(full, "rt").read() if suffix == ".vcf.gz" else full.read_text()
    header = [ln for ln in text.splitlines(True) if ln.startswith("#")]
    body = [ln for ln in text.splitlines(True) if not ln.startswith("#")]
    partial = "".join(header + body[:10]) + body[10][: len(body[10]) // 2]
    part = tmp_path / f"part{suffix}"
    if suffix == ".vcf.gz":
        data = gzip.compress(partial.encode())
        part.write_bytes(data[:-8])  # a gzip stream cut before its trailer, too
    else:
        part.write_text(partial)
    shutil.copy(f"{full}.manifest.json", f"{part}.manifest.json")  # the interrupted run's manifest
    scorer = VariantScorer(model, genome, genes, distance=D)
    s2 = score_vcf(scorer, str(src), str(part), resume=True, chunk_size=4, progress=False)
    assert (s2.records, s2.resumed) == (37, 10)
    resumed_text = gzip.open(part, "rt").read() if suffix == ".vcf.gz" else part.read_text()
    assert resumed_text == text
    # Only the records after the resume point were scored again.
    assert s2.scored == sum(v != "." for v in list(info.values())[10:])


@pytest.mark.parametrize("name", ["o.vcf", "o.vcf.gz"])
def test_output_flush_reaches_disk(tmp_path, name):
    """What a run has flushed is readable while it is still running (or after it is killed)."""
    from nucleoforge.io.vcf_output import VcfSink, salvage_vcf_output

    out = VcfSink(str(tmp_path / name), append=False)
    out.write("#CHROM\tPOS\n1\t5\n")
    out.flush()
    out.write("1\t6")  # an unfinished line, not flushed
    header, body, _ = salvage_vcf_output(tmp_path / name)
    assert (header, body) == (["#CHROM\tPOS\n"], ["1\t5\n"])
    out.close()


def test_resume_rejects_different_input(tiny, tmp_path):
    model, genome, genes, seq = tiny
    src = tmp_path / "in.vcf"
    _write_vcf(src, seq, 1)
    out = tmp_path / "out.vcf"
    score_vcf(VariantScorer(model, genome, genes, distance=D), str(src), str(out), progress=False)
    other = tmp_path / "other.vcf"
    other.write_text(src.read_text().replace("chr1\t120\t", "chr1\t121\t", 1))
    with pytest.raises(ValueError, match="does not match input record 1"):
        score_vcf(VariantScorer(model, genome, genes, distance=D), str(other), str(out), resume=True, progress=False)


def test_distance_validation(tiny):
    model, genome, genes, _ = tiny
    with pytest.raises(ValueError, match="distance must be in"):
        VariantScorer(model, genome, genes, distance=5000)


def test_a_fresh_run_that_cannot_open_its_output_leaves_no_manifest_behind(tiny, tmp_path, monkeypatch):
    """The old rows of an output that a fresh run could not open are described by no manifest,
    so a later --resume with the new settings cannot take them for its own."""
    model, genome, genes, seq = tiny
    src = tmp_path / "in.vcf"
    _write_vcf(src, seq, 1)
    out = tmp_path / "out.vcf"
    score_vcf(VariantScorer(model, genome, genes, distance=D), str(src), str(out), progress=False)
    old = out.read_bytes()
    refuse_writes(monkeypatch, out)
    with pytest.raises(PermissionError):
        score_vcf(VariantScorer(model, genome, genes, distance=D + 1), str(src), str(out), progress=False)
    monkeypatch.undo()
    assert out.read_bytes() == old
    assert not Path(f"{out}.manifest.json").exists()
    with pytest.raises(ValueError, match="no run manifest"):
        score_vcf(VariantScorer(model, genome, genes, distance=D + 1), str(src), str(out), resume=True, progress=False)
    assert out.read_bytes() == old


def test_resuming_a_bgzf_output_rewrites_it_beside_the_target(tiny, tmp_path, monkeypatch):
    """An interruption while the complete part of a .gz output is rewritten loses nothing."""
    import pysam

    model, genome, genes, seq = tiny
    src = tmp_path / "in.vcf"
    _write_vcf(src, seq)
    out = tmp_path / "out.vcf.gz"
    score_vcf(VariantScorer(model, genome, genes, distance=D), str(src), str(out), chunk_size=4, progress=False)
    full = gzip.open(out, "rt").read()
    lines = full.splitlines(True)
    n_header = sum(ln.startswith("#") for ln in lines)
    partial = gzip.compress("".join(lines[: n_header + 10]).encode() + lines[n_header + 10][:20].encode())
    out.write_bytes(partial)
    real = pysam.BGZFile

    class Interrupted(Exception):
        pass

    class WriteFails:
        def __init__(self, path, mode):
            self.fh = real(path, mode)

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            raise Interrupted

        def close(self):
            self.fh.close()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    monkeypatch.setattr(pysam, "BGZFile", WriteFails)
    with pytest.raises(Interrupted):
        score_vcf(VariantScorer(model, genome, genes, distance=D), str(src), str(out), resume=True, progress=False)
    monkeypatch.undo()
    assert out.read_bytes() == partial  # every kept record is still there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.vcf", "out.vcf.gz", "out.vcf.gz.manifest.json"]
    mode = out.stat().st_mode & 0o777
    s = score_vcf(VariantScorer(model, genome, genes, distance=D), str(src), str(out), resume=True, chunk_size=4,
                  progress=False)
    assert s.resumed == 10 and gzip.open(out, "rt").read() == full
    assert out.stat().st_mode & 0o777 == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.vcf", "out.vcf.gz", "out.vcf.gz.manifest.json"]
