"""``variants --cache``: a rerun takes every entry from the cache (byte-identical output, no model
call), other settings never see each other's entries, concurrent writers lose nothing, and a file
that is not a cache is one clear error."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome
from nucleoforge.io.score_cache import CacheError, ScoreCache
from nucleoforge.models.spliceai import SpliceAIModel
from nucleoforge.splicing.scoring import VariantInput, VariantScorer
from tests.cli.runner import assert_user_error, run_main
from tests.splicing.conftest import VCF_HEADER, synthetic_vcf_lines


@pytest.fixture(scope="module")
def setup(tiny_genome, tiny_spliceai, tmp_path_factory):
    fa, table, seq = tiny_genome
    d = tmp_path_factory.mktemp("cache")
    rows = synthetic_vcf_lines(seq)
    a, b = ("C", "G") if seq[140] not in "CG" else ("A", "T")
    rows.append(f"chr1\t141\tmulti\t{seq[140]}\t{a},{b}\t.\tPASS\t.\n")  # two ALTs
    rows.append(f"chr1\t171\tmnv\t{seq[170:172]}\t{'AC' if seq[170:172] != 'AC' else 'GT'}\t.\tPASS\t.\n")
    rows.sort(key=lambda r: int(r.split("\t")[1]))
    vcf = d / "in.vcf"
    vcf.write_text(VCF_HEADER + "".join(rows))
    return fa, table, vcf, tiny_spliceai(0), d


def _variants(capsys, fa, table, vcf, out, model, *extra):
    return run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", fa, "-A", table, "--model", model, "-q", *extra)


def test_rerun_takes_every_entry_from_the_cache_and_writes_the_same_bytes(capsys, setup, tmp_path) -> None:
    fa, table, vcf, model, _ = setup
    cache = tmp_path / "scores.sqlite"
    plain = tmp_path / "plain.vcf"
    assert _variants(capsys, fa, table, vcf, plain, model).code == 0
    first = _variants(capsys, fa, table, vcf, tmp_path / "a.vcf", model, "--cache", cache)
    assert first.code == 0, first.err
    # 17 alleles: 12 SNVs, a deletion, an MNV, 2 ALTs of one record, 1 outside genes; 2 records are left
    # unscored (outside genes, near the chromosome end): never looked up (rules first) nor stored
    assert "0 of 15 alleles found, 15 added" in first.err
    second = _variants(capsys, fa, table, vcf, tmp_path / "b.vcf", model, "--cache", cache)
    assert second.code == 0, second.err
    assert "15 of 15 alleles found, 0 added" in second.err
    prov = {run: [ln for ln in (tmp_path / f"{run}.vcf").read_text().splitlines() if ln.startswith("##nucleoforge_prov")]
            for run in "ab"}  # fmt: skip
    # the header names the sources and settings, not counts: a model run and a cache run are the same file
    assert prov["a"] == prov["b"] and ";alleles=" not in prov["a"][0]
    # the same as without a cache, but for the one provenance header line
    with_cache = [ln for ln in (tmp_path / "a.vcf").read_text().splitlines() if not ln.startswith("##nucleoforge_provenance=")]
    assert with_cache == plain.read_text().splitlines()
    body = [ln.split("\t") for ln in plain.read_text().splitlines() if not ln.startswith("#")]
    info = {c[2]: c[7] for c in body}
    assert info["multi"].count("|") == 2 * 9 * 1 and info["mnv"].endswith("|.|.|.|.|.|.|.|.")  # 2 ALTs x 1 gene; MNV entry

    # -D 10 is another setting: nothing found, its own entries added (the record near the chromosome
    # end has room for the shorter window now)
    third = _variants(capsys, fa, table, vcf, tmp_path / "c.vcf", model, "--cache", cache, "-D", "10")
    assert "0 of 16 alleles found, 16 added" in third.err
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT COUNT(*) FROM settings").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 31


def test_cache_hits_never_call_the_model(setup, tmp_path) -> None:
    fa, table, vcf, model_dir, _ = setup
    model = SpliceAIModel.from_pretrained(model_dir).eval()
    genome, genes = Genome(fa), GeneTable.load(str(table))
    lines = [ln.split("\t") for ln in vcf.read_text().splitlines() if not ln.startswith("#")]
    inputs = [VariantInput(c[0], int(c[1]), c[3], c[4].split(",")) for c in lines]
    expected = VariantScorer(model, genome, genes).score_chunk(inputs)
    scorer = VariantScorer(model, genome, genes, cache=tmp_path / "c.sqlite")
    assert scorer.score_chunk(inputs) == expected and scorer.cache.stored == 15
    scorer.close()

    def refuse(x: np.ndarray) -> np.ndarray:
        raise AssertionError("the model ran on a cached variant")

    cold = VariantScorer(model, genome, genes, predict=refuse, cache=tmp_path / "c.sqlite", cache_readonly=True)
    assert cold.score_chunk(inputs) == expected
    assert (cold.cache.hits, cold.cache.lookups, cold.model_positions) == (15, 15, 0)
    cold.close()
    # -M 1, or weights changed by one value: other settings, whose entries are never returned here
    before = scorer.cache_setting()
    assert VariantScorer(model, genome, genes, mask=True).cache_setting() != before
    next(model.parameters()).data.view(-1)[0] += 1e-3
    assert VariantScorer(model, genome, genes).cache_setting()["model_sha256"] != before["model_sha256"]


def _writer(path: str, start: int, n: int) -> None:
    with ScoreCache(path, {"model": "m"}, timeout=60) as cache:
        for i in range(start, start + n, 10):  # many small transactions, interleaved with the other process
            cache.store([(("chr1", p, "A", "G"), [f"G|GENE|0.{p % 100:02d}|0.00|0.00|0.00|1|2|3|4"]) for p in range(i, i + 10)])


def test_two_processes_writing_one_cache_lose_nothing(tmp_path) -> None:
    path = str(tmp_path / "shared.sqlite")
    ScoreCache(path, {"model": "m"}).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, 0, 1500)), ctx.Process(target=_writer, args=(path, 1000, 1500))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with ScoreCache(path, {"model": "m"}) as cache:
        assert len(cache) == 2500  # 0..2499, the overlap 1000..1499 stored once
        found = cache.lookup([("chr1", p, "A", "G") for p in (0, 1234, 2499, 2500)])
        assert sorted(k[1] for k in found) == [0, 1234, 2499]
        assert found[("chr1", 1234, "A", "G")] == ["G|GENE|0.34|0.00|0.00|0.00|1|2|3|4"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_concurrent_cli_runs_share_a_cache(setup, tmp_path) -> None:
    fa, table, vcf, model, _ = setup
    cache = tmp_path / "shared.sqlite"
    exe = shutil.which("nucleoforge", path=str(Path(sys.executable).parent)) or shutil.which("nucleoforge")
    cmd = [exe, "variants", "-I", str(vcf), "-R", str(fa), "-A", str(table),
           "--model", str(model), "--cache", str(cache), "-q"]  # fmt: skip
    runs = [subprocess.Popen([*cmd, "-O", str(tmp_path / f"{i}.vcf")], stderr=subprocess.PIPE, text=True) for i in range(2)]
    errs = [r.communicate(timeout=300)[1] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], errs
    body = [[ln for ln in (tmp_path / f"{i}.vcf").read_text().splitlines() if not ln.startswith("##nucleoforge_prov")]
            for i in range(2)]  # the provenance counts say which run found what in the cache
    assert body[0] == body[1]
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 15
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_file_that_is_not_a_cache_is_one_error(capsys, setup, tmp_path) -> None:
    fa, table, vcf, model, _ = setup
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    r = _variants(capsys, fa, table, vcf, tmp_path / "o.vcf", model, "--cache", text)
    assert_user_error(r, "--cache", str(text), "SQLite")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    assert_user_error(_variants(capsys, fa, table, vcf, tmp_path / "o.vcf", model, "--cache", other),
                      str(other), "not a nucleoforge score cache")
    assert_user_error(_variants(capsys, fa, table, vcf, tmp_path / "o.vcf", model, "--cache", tmp_path / "no" / "c.sqlite"),
                      "--cache", "does not exist")
    assert_user_error(_variants(capsys, fa, table, vcf, tmp_path / "o.vcf", model, "--cache", tmp_path / "o.vcf"),
                      "--cache", "-O")
    with pytest.raises(CacheError, match="is a folder"):
        ScoreCache(tmp_path, {})


# ---------------------------------------------------------------------------- --precomputed
def _index(plain: Path, out: Path, keep=lambda cols: True, edit=lambda cols: cols, drop_chr: bool = False) -> Path:
    """bgzip + tabix a copy of a VCF (records filtered by ``keep``, changed by ``edit``)."""
    import pysam

    lines = []
    for ln in plain.read_text().splitlines(keepends=True):
        if ln.startswith("#"):
            lines.append(ln.replace("ID=chr1,", "ID=1,") if drop_chr else ln)
            continue
        cols = ln.rstrip("\n").split("\t")
        if keep(cols):
            cols = edit(cols)
            if drop_chr:
                cols[0] = cols[0][3:]
            lines.append("\t".join(cols) + "\n")
    out.write_text("".join(lines))
    return Path(pysam.tabix_index(str(out), preset="vcf", force=True))


def _body(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]


def test_precomputed_entries_are_taken_and_misses_computed(capsys, setup, tmp_path) -> None:
    fa, table, vcf, model, _ = setup
    plain = tmp_path / "plain.vcf"
    assert _variants(capsys, fa, table, vcf, plain, model).code == 0
    # a score file with the records before position 300 only (one entry changed, so its use is visible),
    # with chromosome "1" where the VCF and FASTA say "chr1"
    changed = {"v1"}

    def edit(cols):
        if cols[2] in changed:
            cols[7] = "SpliceAI=" + "|".join(cols[7].split("=")[1].split("|")[:2] + ["0.99"] * 4 + ["1"] * 4)
        return cols

    early = _index(plain, tmp_path / "early.vcf", keep=lambda c: int(c[1]) < 300, edit=edit, drop_chr=True)
    cache = tmp_path / "c.sqlite"
    out = tmp_path / "out.vcf"
    r = _variants(capsys, fa, table, vcf, out, model, "--precomputed", early, "--cache", cache)
    assert r.code == 0, r.err
    expected = [ln if "\tv1\t" not in ln else "\t".join(edit(ln.split("\t"))) for ln in _body(plain)]
    assert _body(out) == expected
    header = [ln for ln in out.read_text().splitlines() if ln.startswith("##nucleoforge_provenance=")]
    assert len(header) == 1 and f"sources=precomputed:{early},cache:{cache},model" in header[0]
    n_pre = json.loads(Path(f"{out}.provenance.json").read_text())["alleles_by_source"][f"precomputed {early}"]
    assert ";alleles=" not in header[0] and n_pre > 0
    assert "distance=50;mask=0" in header[0]
    report = json.loads(Path(f"{out}.provenance.json").read_text())
    n_early = sum(1 for ln in _body(plain) if int(ln.split("\t")[1]) < 300 and "SpliceAI=" in ln)
    by_source = report["alleles_by_source"]
    assert by_source[f"precomputed {early}"] == n_early + 1  # the two-ALT record at 141 counts twice
    assert by_source["model"] == 15 - by_source[f"precomputed {early}"]
    assert "alleles by source" in r.err

    # everything precomputed (the plain output itself): no model call at all
    full = _index(plain, tmp_path / "full.vcf")
    again = _variants(capsys, fa, table, vcf, tmp_path / "again.vcf", model, "--precomputed", full)
    assert _body(tmp_path / "again.vcf") == _body(plain)
    assert json.loads(Path(f"{tmp_path / 'again.vcf'}.provenance.json").read_text())["alleles_by_source"] == {
        f"precomputed {full}": 15}, again.err


def test_precomputed_file_errors(capsys, setup, tmp_path) -> None:
    fa, table, vcf, model, _ = setup
    plain = tmp_path / "plain.vcf"
    assert _variants(capsys, fa, table, vcf, plain, model).code == 0
    assert_user_error(_variants(capsys, fa, table, vcf, tmp_path / "o.vcf", model, "--precomputed", plain),
                      "--precomputed", str(plain), "tabix -p vcf")
    no_info = _index(vcf, tmp_path / "noinfo.vcf")
    assert_user_error(_variants(capsys, fa, table, vcf, tmp_path / "o.vcf", model, "--precomputed", no_info),
                      str(no_info), "no SpliceAI INFO field")
    assert_user_error(_variants(capsys, fa, table, vcf, tmp_path / "o.vcf", model, "--precomputed", tmp_path / "x.vcf.gz"),
                      "--precomputed", "no such file")
    assert not (tmp_path / "o.vcf").exists()


def test_resume_refuses_other_precomputed_files(capsys, setup, tmp_path) -> None:
    fa, table, vcf, model, _ = setup
    plain = tmp_path / "plain.vcf"
    assert _variants(capsys, fa, table, vcf, plain, model).code == 0
    scores = _index(plain, tmp_path / "scores.vcf")
    out = tmp_path / "out.vcf"
    assert _variants(capsys, fa, table, vcf, out, model, "--precomputed", scores).code == 0
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:-3]))  # an interrupted run
    assert_user_error(_variants(capsys, fa, table, vcf, out, model, "--resume"), "cannot resume", "precomputed")
    r = _variants(capsys, fa, table, vcf, out, model, "--resume", "--precomputed", scores)
    assert r.code == 0, r.err
    assert out.read_text().splitlines(keepends=True) == lines  # byte-identical, header included
    # the counts of a resumed run cover the records it scored (the kept ones were counted before the stop)
    assert json.loads(Path(f"{out}.provenance.json").read_text())["alleles_by_source"] == {f"precomputed {scores}": 3}
