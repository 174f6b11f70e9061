"""``variants --transcripts``: per-transcript entries in ``INFO/SpliceAI_TX`` next to an unchanged
``SpliceAI`` field, checked against gene-level runs on one-transcript annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from nucleoforge.io.annotation import GeneTable
from tests.cli.runner import assert_user_error, run_main
from tests.splicing.conftest import VCF_HEADER, synthetic_vcf_lines

#: the tiny genome's PLUS gene with two transcripts (T1 all three exons, tagged MANE_Select; T2 skips
#: exon 2) and its MINUS gene with one; 1-based inclusive GTF coordinates of the table's exons
TRANSCRIPTS = {
    "T1": ("PLUS", "+", [(41, 100), (151, 200), (301, 400)], ' tag "MANE_Select";'),
    "T2": ("PLUS", "+", [(41, 100), (301, 400)], ""),
    "M1": ("MINUS", "-", [(251, 330), (421, 590)], ""),
}


def write_gtf(path: Path, ids) -> Path:
    rows = []
    for tid in ids:
        gene, strand, exons, tag = TRANSCRIPTS[tid]
        for s, e in exons:
            rows.append(f'chr1\ttest\texon\t{s}\t{e}\t.\t{strand}\t.\tgene_id "{gene}"; gene_name "{gene}"; transcript_id "{tid}";{tag}\n')
    path.write_text("".join(rows))
    return path


@pytest.fixture(scope="module")
def inputs(tiny_genome, tiny_spliceai, tmp_path_factory):
    fa, _, seq = tiny_genome
    d = tmp_path_factory.mktemp("tx")
    rows = synthetic_vcf_lines(seq)
    rows.append(f"chr1\t171\tmnv\t{seq[170:172]}\t{'AC' if seq[170:172] != 'AC' else 'GT'}\t.\tPASS\t.\n")
    rows.sort(key=lambda r: int(r.split("\t")[1]))
    vcf = d / "in.vcf"
    vcf.write_text(VCF_HEADER + "".join(rows))
    return fa, vcf, tiny_spliceai(0), d


def _info(path: Path, key: str) -> dict[str, list[str]]:
    out = {}
    for ln in path.read_text().splitlines():
        if ln.startswith("#"):
            continue
        cols = ln.split("\t")
        fields = dict(f.split("=", 1) for f in cols[7].split(";") if "=" in f)
        out[cols[2]] = fields[key].split(",") if key in fields else []
    return out


def _run(capsys, fa, vcf, gtf, out, model, *extra):
    r = run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", fa, "-A", gtf, "--model", model, "-q", *extra)
    assert r.code == 0, r.err
    return r


def _with_tx(entries: list[str], tid_of: dict[str, str]) -> list[str]:
    """Gene-level entries with the transcript ID put after the symbol."""
    out = []
    for e in entries:
        alt, gene, rest = e.split("|", 2)
        out.append(f"{alt}|{gene}|{tid_of[gene]}|{rest}")
    return out


def test_canonical_pick_follows_the_tag() -> None:
    import tempfile

    gtf = write_gtf(Path(tempfile.mkdtemp()) / "a.gtf", ["T2", "T1", "M1"])
    table = GeneTable.load(str(gtf))
    assert sorted((g.name, g.transcript_id, g.symbol) for g in table) == [("MINUS", "M1", "MINUS"), ("PLUS", "T1", "PLUS")]
    every = GeneTable.load(str(gtf), transcripts="all")
    assert sorted((g.transcript_id, g.symbol) for g in every) == [("M1", "MINUS"), ("T1", "PLUS"), ("T2", "PLUS")]


@pytest.mark.parametrize("mask", ["0", "1"])
def test_transcript_entries_equal_gene_level_runs_on_each_transcript(capsys, inputs, tmp_path, mask) -> None:
    fa, vcf, model, _ = inputs
    gtf = write_gtf(tmp_path / "all.gtf", ["T1", "T2", "M1"])
    plain = tmp_path / "plain.vcf"
    _run(capsys, fa, vcf, gtf, plain, model, "-M", mask)
    canonical = tmp_path / "canonical.vcf"
    _run(capsys, fa, vcf, gtf, canonical, model, "-M", mask, "--transcripts", "canonical")
    every = tmp_path / "all.vcf"
    _run(capsys, fa, vcf, gtf, every, model, "-M", mask, "--transcripts", "all")

    gene_level = _info(plain, "SpliceAI")
    assert _info(canonical, "SpliceAI") == _info(every, "SpliceAI") == gene_level  # the SpliceAI field is untouched
    assert "##INFO=<ID=SpliceAI_TX," in every.read_text()
    tx_canonical = _info(canonical, "SpliceAI_TX")
    assert tx_canonical == {k: _with_tx(v, {"PLUS": "T1", "MINUS": "M1"}) for k, v in gene_level.items()}
    assert tx_canonical["mnv"] == [f"{e.split('|')[0]}|PLUS|T1|.|.|.|.|.|.|.|." for e in gene_level["mnv"]]

    # every transcript: each one's entries equal a gene-level run on an annotation holding only it
    only_t2 = tmp_path / "t2.vcf"
    _run(capsys, fa, vcf, write_gtf(tmp_path / "t2.gtf", ["T2", "M1"]), only_t2, model, "-M", mask)
    t2_level = _info(only_t2, "SpliceAI")
    tx_all = _info(every, "SpliceAI_TX")
    for rec, entries in tx_all.items():
        by_tx = {tid: [e for e in entries if e.split("|")[2] == tid] for tid in ("T1", "T2", "M1")}
        assert [e for e in entries if e.split("|")[2] != "T2"] == tx_canonical[rec], rec  # T1 and M1 as in canonical
        want_t2 = [e for e in _with_tx(t2_level[rec], {"PLUS": "T2", "MINUS": "M1"}) if e.split("|")[2] == "T2"]
        assert by_tx["T2"] == want_t2, rec
    assert any(tx_all[r] for r in tx_all) and sum(len(v) for v in tx_all.values()) > sum(len(v) for v in tx_canonical.values())


def test_transcripts_need_transcript_ids(capsys, inputs, tiny_genome, tmp_path) -> None:
    fa, vcf, model, _ = inputs
    table = tiny_genome[1]
    r = run_main(capsys, "variants", "-I", vcf, "-O", tmp_path / "o.vcf", "-R", fa, "-A", table, "--model", model, "-q",
                 "--transcripts", "canonical")  # fmt: skip
    assert_user_error(r, "--transcripts needs a GTF or GFF3", str(table))
    r = run_main(capsys, "variants", "-I", vcf, "-O", tmp_path / "o.vcf", "-R", fa, "-A", table, "--model", model, "-q",
                 "--transcripts", "some")  # fmt: skip
    assert_user_error(r, "--transcripts 'some'", "canonical or all")
    assert not (tmp_path / "o.vcf").exists()
