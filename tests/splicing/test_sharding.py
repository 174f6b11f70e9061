"""``variants --workers N``: shards cut between distant records, merged output byte-identical to one
process, a killed worker retried, an interrupted run resumed (and a different plan refused)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from nucleoforge.splicing.sharding import score_vcf_sharded, write_shards
from nucleoforge.splicing.scorer_settings import ScoringSettings
from tests.splicing.shard_faults import KillOnce, inject
from tests.cli.runner import assert_user_error, run_main
from tests.conftest import CHR22, DATA


@pytest.fixture(scope="module")
def spread(tmp_path_factory, chr22_block, tiny_spliceai):
    """chr22 at real coordinates and a VCF of every 100th bundled dbSNP record (36, ~28 kb apart) and 8 consecutive ones."""
    from nucleoforge.io.genome import place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf

    d = tmp_path_factory.mktemp("shards")
    ref = d / "chr22.fa"
    lengths = place_subsequence_records(CHR22, ref)
    variants = list(read_hisat2_snps(DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz", {"22:20000001-21000000": chr22_block}))
    vcf = d / "in.vcf"
    chosen = sorted({*variants[::100], *variants[402:410]}, key=lambda v: v.pos)  # + a dense run across a 5-record cut
    with open(vcf, "w") as fh:
        write_vcf(chosen, fh, contigs=lengths)
    return ref, vcf, tiny_spliceai(0)


def _run(capsys, ref, vcf, out, model, *extra):
    return run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", ref, "-A", "grch37", "--model", model, "-q", *extra)


def test_shards_are_cut_only_between_distant_records(spread, tmp_path) -> None:
    _, vcf, _ = spread
    shards = write_shards(str(vcf), tmp_path, shard_size=5, distance=50)
    bodies = [[ln.split("\t") for ln in s.read_text().splitlines() if not ln.startswith("#")] for s in shards]
    assert sum(map(len, bodies)) == 44 and all(len(b) >= 5 for b in bodies[:-1])
    for a, b in zip(bodies, bodies[1:]):
        assert int(b[0][1]) - int(a[-1][1]) > 10_000 + 101
    assert all(s.read_text().startswith("##fileformat=VCF") for s in shards)


def test_workers_give_the_single_process_output_and_survive_a_killed_worker(capsys, spread, tmp_path, monkeypatch) -> None:
    ref, vcf, model = spread
    single = tmp_path / "single.vcf"
    assert _run(capsys, ref, vcf, single, model).code == 0
    multi = tmp_path / "multi.vcf"
    r = _run(capsys, ref, vcf, multi, model, "--workers", "2", "--shard-size", "5")
    assert r.code == 0, r.err
    assert multi.read_bytes() == single.read_bytes()
    outside = next(ln for ln in run_main(capsys, "variants", "-I", vcf, "-O", tmp_path / "again.vcf", "-R", ref, "-A",
                                         "grch37", "--model", model).err.splitlines() if "records written" in ln)
    n_outside = outside.split(" outside annotated genes")[0].rsplit(", ", 1)[1]
    assert "44 records written" in r.err and "by 2 workers (0 pool restart(s))" in r.err
    assert f", {n_outside} outside annotated genes" in r.err  # counted once per record, not per worker
    assert not Path(f"{multi}.shards").exists()

    gz = tmp_path / "multi.vcf.gz"
    assert _run(capsys, ref, vcf, gz, model, "--workers", "2", "--shard-size", "8").code == 0
    assert gzip.decompress(gz.read_bytes()) == single.read_bytes()

    inject(monkeypatch, KillOnce("shard-00002.vcf"))  # that worker dies once
    killed = tmp_path / "killed.vcf"
    r = _run(capsys, ref, vcf, killed, model, "--workers", "2", "--shard-size", "5")
    assert r.code == 0, r.err
    assert "(1 pool restart(s))" in r.err
    assert killed.read_bytes() == single.read_bytes()


def test_an_interrupted_run_resumes_and_another_plan_is_refused(capsys, spread, tmp_path) -> None:
    ref, vcf, model = spread
    single = tmp_path / "single.vcf"
    assert _run(capsys, ref, vcf, single, model).code == 0
    out = tmp_path / "out.vcf"
    settings = ScoringSettings(reference=str(ref), annotation="grch37", model=str(model),
                               before_shard=KillOnce("shard-00003.vcf"))
    with pytest.raises(RuntimeError, match="failed 1 times"):
        score_vcf_sharded(settings, str(vcf), str(out), workers=2, shard_size=5, retries=0, progress=False)
    folder = Path(f"{out}.shards")
    done = sorted(p.name for p in folder.glob("part-*.vcf.done"))
    assert "part-00003.vcf.done" not in done and len(done) >= 1 and not out.exists()
    plan = json.loads((folder / "plan.json").read_text())
    assert plan["shard_size"] == 5 and plan["shards"] >= 4

    assert_user_error(_run(capsys, ref, vcf, out, model, "--workers", "2", "--shard-size", "5"), "--resume")
    assert_user_error(_run(capsys, ref, vcf, out, model, "--workers", "2", "--shard-size", "6", "--resume"),
                      "cannot resume", "--shard-size")
    # mark a finished part: a resume that merges it as it is (instead of scoring it again) shows the mark
    part = folder / done[0].removesuffix(".done")
    text = part.read_text()
    first_id = next(ln.split("\t")[2] for ln in text.splitlines() if not ln.startswith("#"))
    part.write_text(text.replace(f"\t{first_id}\t", "\tKEPT\t", 1))
    r = _run(capsys, ref, vcf, out, model, "--workers", "2", "--shard-size", "5", "--resume")
    assert r.code == 0, r.err
    assert not folder.exists()
    assert out.read_text().replace("\tKEPT\t", f"\t{first_id}\t", 1) == single.read_text()
    assert "\tKEPT\t" in out.read_text()


def test_sharded_provenance_counts_are_the_totals(capsys, spread, tmp_path) -> None:
    ref, vcf, model = spread
    one, many = tmp_path / "one.vcf", tmp_path / "many.vcf"
    assert _run(capsys, ref, vcf, one, model, "--cache", tmp_path / "a.sqlite").code == 0
    r = _run(capsys, ref, vcf, many, model, "--cache", tmp_path / "b.sqlite", "--workers", "2", "--shard-size", "5")
    assert r.code == 0, r.err

    def prov(path: Path) -> str:
        return next(ln for ln in path.read_text().splitlines() if ln.startswith("##nucleoforge_provenance="))

    assert ";alleles=" not in prov(one) and ";alleles=" not in prov(many)  # counts live in OUT.provenance.json
    assert json.loads(Path(f"{many}.provenance.json").read_text())["alleles_by_source"] == \
        json.loads(Path(f"{one}.provenance.json").read_text())["alleles_by_source"]


# ---------------------------------------------------------------------------- Ray
def _ray():
    """Ray, or a skip (a failure under CI=true, where `make test` installs it)."""
    import os

    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("Ray is not installed (pip install -e '.[distributed]'); CI must run the Ray tests")
        pytest.skip("Ray is not installed (pip install 'nucleoforge[distributed]')")


def test_ray_gives_the_single_process_output_despite_a_killed_actor(capsys, spread, tmp_path, monkeypatch) -> None:
    """One Ray run (a local instance, 2 CPUs) in which one actor's process dies: the shard goes to
    a new actor and the merged output is the single-process one, byte for byte."""
    _ray()
    ref, vcf, model = spread
    single = tmp_path / "single.vcf"
    assert _run(capsys, ref, vcf, single, model).code == 0
    inject(monkeypatch, KillOnce("shard-00002.vcf"))  # that actor's process dies once
    on_ray = tmp_path / "ray.vcf"
    r = _run(capsys, ref, vcf, on_ray, model, "--ray-address", "local", "--workers", "2", "--shard-size", "5")
    assert r.code == 0, r.err
    assert "44 records written, 25 scored in 8 shards by 2 Ray actors (1 actor restart(s))" in r.err
    assert on_ray.read_bytes() == single.read_bytes()
    assert not Path(f"{on_ray}.shards").exists()


def test_ray_run_resumes_after_the_driver_is_killed(capsys, spread, tmp_path) -> None:
    _ray()
    import os
    import signal
    import subprocess
    import sys
    import time

    ref, vcf, model = spread
    single = tmp_path / "single.vcf"
    assert _run(capsys, ref, vcf, single, model).code == 0
    out = tmp_path / "out.vcf"
    folder = Path(f"{out}.shards")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    held = "from tests.splicing.shard_faults import main; main('hold', 'shard-00005.vcf')"  # that actor waits
    cmd = [sys.executable, "-c", held, "variants", "-I", str(vcf), "-O", str(out), "-R", str(ref), "-A",
           "grch37", "--model", str(model), "-q", "--ray-address", "local", "--workers", "2", "--shard-size", "5"]
    driver = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(list(folder.glob("part-*.done"))) < 5 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.2)
        assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
        assert len(list(folder.glob("part-*.done"))) >= 5
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray instance it started
        driver.wait()
        driver.stderr.close()
    assert not out.exists() and not (folder / "part-00005.vcf.done").exists()
    r = _run(capsys, ref, vcf, out, model, "--ray-address", "local", "--workers", "2", "--shard-size", "5", "--resume")
    assert r.code == 0, r.err
    assert "(0 actor restart(s))" in r.err
    assert out.read_bytes() == single.read_bytes()


def test_full_alt_pass_option_gives_the_same_file(capsys, spread, tmp_path) -> None:
    ref, vcf, model = spread
    default, full = tmp_path / "default.vcf", tmp_path / "full.vcf"
    assert _run(capsys, ref, vcf, default, model).code == 0
    assert _run(capsys, ref, vcf, full, model, "--full-alt-pass").code == 0
    assert full.read_bytes() == default.read_bytes()
    assert_user_error(_run(capsys, ref, vcf, tmp_path / "x.vcf", model, "--activation-memory", "0"), "--activation-memory")
