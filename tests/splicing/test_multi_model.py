"""``variants --model A --model B``: several models in one pass over the input and the reference,
one INFO field each, equal field by field to the single-model runs; resumed, sharded, cached and
precomputed runs of several models; the header's settings lines; the refusals (duplicate INFO
key, resume with other models, Pangolin options without Pangolin)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.cli.runner import assert_user_error, run_main
from tests.conftest import CHR22, DATA


@pytest.fixture(scope="module")
def setup(tmp_path_factory, chr22_block, tiny_spliceai):
    """chr22 at real coordinates; a VCF of 44 real dbSNP records (spread, and a dense run); tiny
    random models saved as folders: SpliceAI, OpenSpliceAI (LeakyReLU), CI-SpliceAI and Pangolin
    (four members, one per tissue) by their configs' weights family."""
    from nucleoforge.io.genome import place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf
    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

    d = tmp_path_factory.mktemp("multi")
    ref = d / "chr22.fa"
    lengths = place_subsequence_records(CHR22, ref)
    variants = list(read_hisat2_snps(DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz", {"22:20000001-21000000": chr22_block}))
    vcf = d / "in.vcf"
    with open(vcf, "w") as fh:
        write_vcf(sorted({*variants[::100], *variants[402:410]}, key=lambda v: v.pos), fh, contigs=lengths)
    folders = {}
    for seed, (name, kwargs) in enumerate({
        "osai": dict(num_members=3, batch_norm_eps=1e-5, activation="leaky_relu", weights_family="openspliceai"),
        "cis": dict(num_members=2, weights_family="cispliceai"),
        "pang": dict(num_members=4, head="pangolin", weights_family="pangolin"),
    }.items()):
        torch.manual_seed(3 + seed)
        model = SpliceAIModel(SpliceAIConfig(stages=[(1, 5, 2), (1, 3, 3)], channels=8, **kwargs)).eval()
        for p in model.parameters():  # spiky outputs: visible delta scores
            p.data.mul_(1.5)
        model.save_pretrained(d / name)
        folders[name] = str(d / name)
    return ref, vcf, str(tiny_spliceai(0)), folders


def _run(capsys, ref, vcf, out, *extra):
    return run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", ref, "-A", "grch37", "-q", *extra)


def _fields(path: Path) -> list[dict[str, str]]:
    """Per record its INFO fields (key -> value)."""
    rows = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            info = line.split("\t")[7]
            rows.append(dict(kv.split("=", 1) for kv in info.split(";") if "=" in kv))
    return rows


def _model_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln.startswith("##nucleoforge_model=")]


def test_two_models_equal_their_single_runs_and_resume_and_shard_identically(capsys, setup, tmp_path) -> None:
    ref, vcf, sai, m = setup
    one, two, both = tmp_path / "one.vcf", tmp_path / "two.vcf", tmp_path / "both.vcf"
    assert _run(capsys, ref, vcf, one, "--model", sai).code == 0
    assert _run(capsys, ref, vcf, two, "--model", m["pang"]).code == 0
    r = run_main(capsys, "variants", "-I", vcf, "-O", both, "-R", ref, "-A", "grch37", "--model", sai, "--model", m["pang"])
    assert r.code == 0, r.err
    # each model's licence line once, before the summary line
    assert r.err_lines[-3:-1] == [f"weights: {sai} (licence not recorded)", f"weights: {m['pang']} (licence not recorded)"]
    a, b, ab = _fields(one), _fields(two), _fields(both)
    assert len(ab) == 44 and sum("SpliceAI" in f for f in ab) >= 10 and sum("Pangolin" in f for f in ab) >= 10
    assert [f.get("SpliceAI") for f in ab] == [f.get("SpliceAI") for f in a]
    assert [f.get("Pangolin") for f in ab] == [f.get("Pangolin") for f in b]
    # a single SpliceAI run keeps its header as before; every other run records each field's settings
    assert _model_lines(one) == [] and len(_model_lines(two)) == 1
    lines = _model_lines(both)
    assert [ln.split(",", 1)[0] for ln in lines] == ["##nucleoforge_model=<ID=SpliceAI", "##nucleoforge_model=<ID=Pangolin"]
    assert f'Weights="{m["pang"]}"' in lines[1] and "Distance=50,Mask=1" in lines[1] and "Distance=50,Mask=0" in lines[0]
    assert "##INFO=<ID=Pangolin," in both.read_text()
    models = json.loads(Path(f"{both}.manifest.json").read_text())["parameters"]["models"]
    assert [(x["info_key"], x["model"], x["distance"], x["mask"]) for x in models] == \
        [("SpliceAI", sai, 50, False), ("Pangolin", m["pang"], 50, True)]
    assert "scored per INFO field: SpliceAI" in r.err

    # interrupted in the middle of a record: the resumed run is byte-identical
    cut = tmp_path / "cut.vcf"
    text = both.read_bytes()
    cut.write_bytes(text[: text.index(b"\n22\t", len(text) // 2) + 30])
    Path(f"{cut}.manifest.json").write_text(Path(f"{both}.manifest.json").read_text())
    r = _run(capsys, ref, vcf, cut, "--model", sai, "--model", m["pang"], "--resume")
    assert r.code == 0, r.err
    assert cut.read_bytes() == both.read_bytes()

    sharded = tmp_path / "sharded.vcf"
    r = _run(capsys, ref, vcf, sharded, "--model", sai, "--model", m["pang"], "--workers", "2", "--shard-size", "5")
    assert r.code == 0, r.err
    assert sharded.read_bytes() == both.read_bytes()


def test_resume_with_other_models_or_settings_is_refused(capsys, setup, tmp_path) -> None:
    ref, vcf, sai, m = setup
    osai = m["osai"]
    out = tmp_path / "out.vcf"
    assert _run(capsys, ref, vcf, out, "--model", sai, "--model", osai).code == 0
    before = out.read_bytes()
    assert_user_error(_run(capsys, ref, vcf, out, "--model", sai, "--resume"), "cannot resume", "INFO fields",
                      "SpliceAI, OpenSpliceAI in the run being resumed, SpliceAI now")
    assert_user_error(_run(capsys, ref, vcf, out, "--model", osai, "--model", sai, "--resume"), "INFO fields")
    assert_user_error(_run(capsys, ref, vcf, out, "--model", sai, "--model", osai, "-D", "60", "--resume"),
                      "cannot resume", "SpliceAI: -D 50 in the run being resumed, 60 now")
    assert_user_error(_run(capsys, ref, vcf, out, "--model", sai, "--model", f"{m['cis']}=OpenSpliceAI", "--resume"),
                      "cannot resume", f"OpenSpliceAI: weights {osai} in the run being resumed, {m['cis']} now")
    assert out.read_bytes() == before
    # a single-model output resumed as a two-model run
    single = tmp_path / "single.vcf"
    assert _run(capsys, ref, vcf, single, "--model", sai).code == 0
    assert_user_error(_run(capsys, ref, vcf, single, "--model", sai, "--model", osai, "--resume"), "INFO fields",
                      "SpliceAI in the run being resumed, SpliceAI, OpenSpliceAI now")


def test_info_keys_distance_mask_and_pangolin_options(capsys, setup, tmp_path) -> None:
    from nucleoforge.splicing.variant_family import default_settings

    ref, vcf, sai, m = setup
    dup = tmp_path / "dup.vcf"
    assert_user_error(_run(capsys, ref, vcf, dup, "--model", sai, "--model", f"{m['osai']}=SpliceAI"), "SpliceAI", "already")
    assert not dup.exists()
    assert_user_error(_run(capsys, ref, vcf, dup, "--model", f"{m['osai']}=1bad"), "1bad", "INFO key")
    assert_user_error(_run(capsys, ref, vcf, dup, "--model", sai, "-s", "0.2"), "--score-cutoff", "Pangolin")
    assert_user_error(_run(capsys, ref, vcf, dup, "--model", sai, "--score-exons"), "--score-exons")

    given = tmp_path / "given.vcf"
    assert _run(capsys, ref, vcf, given, "--model", f"{sai}=SAI_A", "--model", m["osai"], "-D", "20", "-M", "1").code == 0
    lines = _model_lines(given)
    assert [ln.split(",", 1)[0] for ln in lines] == ["##nucleoforge_model=<ID=SAI_A", "##nucleoforge_model=<ID=OpenSpliceAI"]
    assert all("Distance=20,Mask=1" in ln for ln in lines)
    assert "##INFO=<ID=SAI_A," in given.read_text() and "##INFO=<ID=SpliceAI," not in given.read_text()
    dps = [int(x) for f in _fields(given) for e in f.get("SAI_A", "").split(",") if e for x in e.split("|")[6:]]
    assert dps and max(map(abs, dps)) <= 20

    # omitted: each model at its original's defaults (CI-SpliceAI -D 1000, Pangolin -M 1); -s only to Pangolin
    defaults = tmp_path / "defaults.vcf"
    assert _run(capsys, ref, vcf, defaults, "--model", m["cis"], "--model", m["pang"], "-s", "0.2").code == 0
    (d0, m0), (d1, m1) = default_settings("cispliceai"), default_settings("pangolin")
    assert (d0, m0, d1, m1) == (1000, False, 50, True)
    lines = _model_lines(defaults)
    assert f"Distance={d0},Mask={int(m0)}" in lines[0] and 'Options="calibrated=0"' in lines[0]
    assert f"Distance={d1},Mask={int(m1)}" in lines[1] and 'Options="score_cutoff=0.2"' in lines[1]
    models = json.loads(Path(f"{defaults}.manifest.json").read_text())["parameters"]["models"]
    assert [x["options"] for x in models] == [{}, {"score_cutoff": 0.2}]


def test_cache_precomputed_and_table_with_two_models(capsys, setup, tmp_path) -> None:
    import pysam

    ref, vcf, sai, m = setup
    both = tmp_path / "both.vcf"
    assert _run(capsys, ref, vcf, both, "--model", sai, "--model", m["pang"]).code == 0
    expected = [ln for ln in both.read_text().splitlines() if not ln.startswith("##nucleoforge")]

    cache = tmp_path / "scores.sqlite"
    for name in ("c1.vcf", "c2.vcf"):
        r = _run(capsys, ref, vcf, tmp_path / name, "--model", sai, "--model", m["pang"], "--cache", cache)
        assert r.code == 0, r.err
        got = [ln for ln in (tmp_path / name).read_text().splitlines() if not ln.startswith("##nucleoforge")]
        assert got == expected
    counts = json.loads(Path(f"{tmp_path / 'c2.vcf'}.provenance.json").read_text())["alleles_by_source"]
    assert set(counts) == {"SpliceAI cache", "Pangolin cache"}, counts

    # the two-model output as a score file of both fields: every allele found there, same output
    gz = str(tmp_path / "both.vcf.gz")
    pysam.tabix_compress(str(both), gz)
    pysam.tabix_index(gz, preset="vcf")
    pre = tmp_path / "pre.vcf"
    r = _run(capsys, ref, vcf, pre, "--model", sai, "--model", m["pang"], "--precomputed", gz)
    assert r.code == 0, r.err
    assert [ln for ln in pre.read_text().splitlines() if not ln.startswith("##nucleoforge")] == expected
    counts = json.loads(Path(f"{pre}.provenance.json").read_text())["alleles_by_source"]
    assert set(counts) == {f"SpliceAI precomputed {gz}", f"Pangolin precomputed {gz}"}, counts

    table, sharded = tmp_path / "both.tsv", tmp_path / "sharded.tsv"
    assert _run(capsys, ref, vcf, table, "--model", sai, "--model", m["pang"]).code == 0
    assert _run(capsys, ref, vcf, sharded, "--model", sai, "--model", m["pang"], "--workers", "2", "--shard-size", "5").code == 0
    assert sharded.read_bytes() == table.read_bytes()
    rows = [ln.split("\t") for ln in table.read_text().splitlines()]
    assert rows[0][5] == "MODEL" and rows[0][-3:] == ["SCORES", "DS_MAX", "NOTE"]
    fields = _fields(both)
    for key, entry_of in (("SpliceAI", lambda r: "|".join([r[4], r[6], *r[7:15]])), ("Pangolin", lambda r: f"{r[6]}|{r[15]}")):
        in_vcf = [e for f in fields if key in f for e in f[key].split(",")]
        assert [entry_of(r) for r in rows[1:] if r[5] == key and r[6]] == in_vcf


def test_real_pangolin_and_openspliceai_weights_in_one_run(capsys, setup, tmp_path) -> None:
    """The converted Pangolin and OpenSpliceAI-MANE-10k weights (GPL-3.0: converted into tmp_path at
    test time) in one run on two real SNVs: each field equals its single-model run, each licence
    line is printed once, and the header records each model's defaults."""
    from nucleoforge.models.spliceai.convert_pytorch import convert_openspliceai, convert_pangolin
    from tests.conftest import shared_weights

    ref, vcf, _, _ = setup
    pang = str(convert_pangolin(shared_weights("pangolin"), tmp_path / "pangolin"))
    osai = str(convert_openspliceai(shared_weights("openspliceai", "openspliceai-mane", "10000nt"), tmp_path / "osai"))
    lines = Path(vcf).read_text().splitlines(True)
    small = tmp_path / "two.vcf"
    records = [ln for ln in lines if not ln.startswith("#")][1:3]  # in ARVCF and TANGO2
    small.write_text("".join(ln for ln in lines if ln.startswith("#")) + "".join(records))
    both = tmp_path / "both.vcf"
    r = run_main(capsys, "variants", "-I", small, "-O", both, "-R", ref, "-A", "grch37", "--model", osai, "--model", pang)
    assert r.code == 0, r.err
    licences = [ln for ln in r.err_lines if ln.startswith("weights: ")]
    assert len(licences) == 2 and all("GPL-3.0" in ln for ln in licences), licences
    model_lines = _model_lines(both)
    assert "ID=OpenSpliceAI" in model_lines[0] and "Distance=50,Mask=0" in model_lines[0]
    assert "ID=Pangolin" in model_lines[1] and "Distance=50,Mask=1" in model_lines[1]
    fields = _fields(both)
    assert all("OpenSpliceAI" in f and "Pangolin" in f for f in fields), fields
    for model, key in ((osai, "OpenSpliceAI"), (pang, "Pangolin")):
        single = tmp_path / f"{key}.vcf"
        assert _run(capsys, ref, small, single, "--model", model).code == 0
        assert [f.get(key) for f in _fields(single)] == [f[key] for f in fields]
