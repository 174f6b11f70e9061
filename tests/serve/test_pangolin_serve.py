"""Pangolin in ``nucleoforge serve``: ``GET /pangolin/`` answers the entries of ``nucleoforge variants
--model pangolin`` under SpliceAI-lookup's Pangolin keys, through the worker and cache of /spliceai/,
and the page shows both models side by side.

A tiny random Pangolin-head model on the tiny genome checks the HTTP layer quickly; the real
weights (converted into a temporary folder; skipped without ../shared/weights) check the numbers
against the command line and the page in Chromium.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
import torch

from tests.cli.runner import assert_user_error, invoke, run_main
from tests.serve.conftest import start_server
from tests.serve.test_browser import browser  # noqa: F401  (the headless Chromium of the page's tests)

KEYS = ("g_name", "g_id", "t_id", "t_strand", "TX_START", "TX_END", "EXON_STARTS", "EXON_ENDS", "ENTRY", "WARNINGS",
        "DS_SG", "DS_SL", "DP_SG", "DP_SL", "SG_REF", "SG_ALT", "SL_REF", "SL_ALT", "tracks")


def _q(path: str = "/pangolin/", **params) -> str:
    return path + "?" + urllib.parse.urlencode(params)


def _cli_entries(vcf: Path, reference: Path, annotation: str, model: Path, distance: int, mask: int, out: Path) -> dict:
    """``chrom-pos-ref-alt`` -> the Pangolin INFO entries ``nucleoforge variants --model MODEL`` writes."""
    result = invoke(["variants", "-I", vcf, "-R", reference, "-A", annotation, "--model", model, "-D", distance,
                     "-M", mask, "-O", out, "-q"])
    assert result.exit_code == 0, result.output
    entries = {}
    for line in out.read_text().splitlines():
        if not line.startswith("#"):
            c = line.split("\t")
            info = dict(f.split("=", 1) for f in c[7].split(";") if "=" in f)
            entries[f"{c[0].removeprefix('chr')}-{c[1]}-{c[3]}-{c[4]}"] = info["Pangolin"].split(",") if "Pangolin" in info else []
    return entries


def _check_row(row: dict, distance: int, ref_len: int, masked: bool) -> None:
    """A row's keys, its scores read from its entry, and its REF/ALT values read from its tracks."""
    assert set(KEYS) <= set(row), set(KEYS) - set(row)
    gene, gain, loss, warnings = row["ENTRY"].split("|")
    (dp_sg, ds_sg), (dp_sl, ds_sl) = gain.split(":"), loss.split(":")
    assert (row["g_id"], row["DP_SG"], row["DP_SL"]) == (gene, int(dp_sg), int(dp_sl))
    assert (row["DS_SG"], row["DS_SL"]) == (f"{float(ds_sg):.2f}", f"{float(ds_sl):.2f}")
    assert row["WARNINGS"] == warnings.removeprefix("Warnings:")
    tracks = row["tracks"]
    assert sorted(tracks) == ["SG_ALT", "SG_REF", "SL_ALT", "SL_REF"]
    assert {len(v) for v in tracks.values()} == {2 * distance + ref_len}
    g, lo = row["DP_SG"] + distance, row["DP_SL"] + distance
    assert (row["SG_REF"], row["SG_ALT"]) == (f"{tracks['SG_REF'][g]:.2f}", f"{tracks['SG_ALT'][g]:.2f}")
    assert (row["SL_REF"], row["SL_ALT"]) == (f"{tracks['SL_REF'][lo]:.2f}", f"{tracks['SL_ALT'][lo]:.2f}")
    if not masked:  # the gain is ALT - REF in the tissue the tracks picked (tracks rounded to 4 decimals)
        assert abs(tracks["SG_ALT"][g] - tracks["SG_REF"][g] - float(ds_sg)) <= 0.005 + 2e-4
        assert abs(tracks["SL_ALT"][lo] - tracks["SL_REF"][lo] - float(ds_sl)) <= 0.005 + 2e-4
        assert max(a - r for a, r in zip(tracks["SG_ALT"], tracks["SG_REF"])) <= float(ds_sg) + 0.005 + 2e-4


# ------------------------------------------------------------------ a tiny Pangolin on the tiny genome
@pytest.fixture(scope="module")
def tiny_pangolin(tmp_path_factory) -> Path:
    """A random 12-member Pangolin-head model (4 tissues x 3), saved as a model folder."""
    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

    torch.manual_seed(5)
    config = SpliceAIConfig(stages=[(2, 3, 1), (2, 3, 2)], channels=4, num_members=12, head="pangolin", num_labels=4,
                            member_tissues=[t for t in range(4) for _ in range(3)], weights_family="pangolin")
    model = SpliceAIModel(config).eval()
    with torch.no_grad():  # outputs spread enough for visible changes
        for p in model.parameters():
            p.mul_(3.0)
    path = tmp_path_factory.mktemp("pangolin_tiny")
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_served(tiny_genome, tiny_spliceai, tiny_pangolin, tmp_path_factory):
    """Two servers on the tiny genome ('t'): SpliceAI with Pangolin (and a score cache), and SpliceAI alone."""
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.serve.service import GenomeSpec, LookupService

    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    fa, table, seq = tiny_genome
    spec = [GenomeSpec("t", str(fa), str(table))]
    spliceai = SpliceAIModel.from_pretrained(tiny_spliceai(0)).eval()
    cache = tmp_path_factory.mktemp("pangolin_cache") / "scores.sqlite"
    both = LookupService(spec, spliceai, pangolin=SpliceAIModel.from_pretrained(tiny_pangolin).eval(), cache=str(cache))
    srv, stop = start_server(both, max_batch=8, timeout=120)
    alone, stop_alone = start_server(LookupService(spec, spliceai), timeout=120)
    yield srv, alone, seq
    stop()
    stop_alone()


def _tiny_variants(seq: str) -> list[str]:
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    return [f"1-120-{seq[119]}-{other[seq[119]]}",  # + strand gene only
            f"1-300-{seq[299]}-{other[seq[299]]}",  # both strands: PLUS then MINUS
            f"1-330-{seq[329:333]}-{seq[329]}",  # deletion (the float64 path)
            f"1-160-{seq[159]}-{seq[159]}GT",  # insertion
            f"1-200-{seq[199:201]}-{other[seq[199]]}{other[seq[200]]}"]  # MNV: Pangolin scores it


@pytest.mark.parametrize("mask", [0, 1])
def test_tiny_answers_are_the_command_lines_entries(tiny_served, tiny_genome, tiny_pangolin, tmp_path, mask):
    srv, _, seq = tiny_served
    fa, table, _ = tiny_genome
    variants = _tiny_variants(seq)
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(
        "chr{}\t{}\t.\t{}\t{}\t.\t.\t.\n".format(*v.split("-")) for v in variants))
    expected = _cli_entries(vcf, fa, str(table), tiny_pangolin, 20, mask, tmp_path / "out.vcf")
    for v in variants:
        status, data = srv.get(_q(hg="t", variant=v, distance=20, mask=mask, tracks=1))
        assert status == 200, (v, data)
        assert [r["ENTRY"] for r in data["scores"]] == expected[v] != [], v
        assert (data["variant"], data["distance"], data["mask"], data["source"]) == (v, 20, mask, "nucleoforge:model")
        for row in data["scores"]:
            _check_row(row, 20, len(v.split("-")[2]), bool(mask))
        rows = data["allNonZeroScores"]
        assert {r["pos"] for r in rows} >= {data["pos"], data["pos"] + data["scores"][0]["DP_SG"]}
        assert set(rows[0]) == {"pos", "SG_REF", "SG_ALT", "SL_REF", "SL_ALT"}
    both = srv.get(_q(hg="t", variant=variants[1], distance=20, mask=mask))[1]
    assert [(r["g_name"], r["t_strand"]) for r in both["scores"]] == [("PLUS", "+"), ("MINUS", "-")]


def test_tiny_errors_batch_cache_and_health(tiny_served):
    srv, alone, seq = tiny_served
    ref = seq[309]
    for params, message in [
        ({"variant": "1-abc"}, "cannot parse variant '1-abc': expected chrom-pos-ref-alt"),
        ({"variant": f"1-310-{'A' if ref != 'A' else 'C'}-G"}, f"does not match the reference of genome t at 1:310: the "
                                                                 f"reference has {ref}"),
        ({"variant": f"1-310-{seq[309:312]}-GT"}, "got no Pangolin score: variant format not supported (Pangolin)"),
        ({"variant": f"1-310-{ref}-G", "hg": "38"}, "hg='38': this server has genome(s) t"),
        ({"variant": f"1-310-{ref}-G", "mask": 2}, "mask=2: expected 0 (raw scores) or 1 (masked)"),
    ]:
        status, data = srv.get(_q(**{"hg": "t", **params}))
        assert status == 400 and message in data["error"], (params, data)
        assert data["source"] == "nucleoforge"
    v = f"1-310-{ref}-{'G' if ref != 'G' else 'T'}"
    first = srv.get(_q(hg="t", variant=v, distance=15))[1]
    again = srv.get(_q(hg="t", variant=v, distance=15))[1]
    assert (first["source"], again["source"]) == ("nucleoforge:model", "nucleoforge:cache")
    assert [r["ENTRY"] for r in again["scores"]] == [r["ENTRY"] for r in first["scores"]]
    assert "tracks" not in again["scores"][0] and again["scores"][0]["DS_SG"] == first["scores"][0]["DS_SG"]
    spliceai = srv.get(_q("/spliceai/", hg="t", variant=v, distance=15))[1]  # the other model, same worker
    assert spliceai["scores"][0]["ENTRY"].count("|") == 9
    status, batch = srv.post(_q("/pangolin/batch", hg="t", distance=15),
                             f"##fileformat=VCFv4.2\n1\t310\t.\t{ref}\t{v[-1]},N\n", "text/plain")
    assert status == 200 and batch[0]["scores"][0]["ENTRY"] == first["scores"][0]["ENTRY"] and "error" in batch[1]
    assert srv.get("/health")[1]["pangolin"].endswith("pangolin_tiny0")
    # a server without Pangolin: 404 with one line saying how to add it; /health has no "pangolin"
    assert "pangolin" not in alone.get("/health")[1]
    for status, data in (alone.get(_q(hg="t", variant=v)), alone.post("/pangolin/batch?hg=t", f'["{v}"]')):
        assert status == 404 and data["error"].startswith("this server has no Pangolin model: start it with --pangolin")


def test_tiny_page_shows_a_pangolin_refusal_in_its_own_column(tiny_served, browser):
    """A variant Pangolin does not score (REF 3 nt, ALT 2 nt): SpliceAI's table, Pangolin's error beside it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    srv, alone, seq = tiny_served
    variant = f"1-310-{seq[309:312]}-GT"
    browser.get(srv.url + "/?" + urllib.parse.urlencode({"variant": variant, "hg": "t", "distance": 20, "mask": 0}))
    WebDriverWait(browser, 120).until(lambda d: d.find_element(By.ID, "pangolin-error").text)
    assert "got no Pangolin score: variant format not supported (Pangolin)" in browser.find_element(By.ID, "pangolin-error").text
    assert not browser.find_element(By.ID, "pangolin-result").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#scores tbody tr") and browser.find_element(By.ID, "status").text == ""
    browser.get(alone.url + "/?" + urllib.parse.urlencode({"variant": variant, "hg": "t", "distance": 20, "mask": 0}))
    WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#scores tbody tr"))
    assert not browser.find_element(By.ID, "pangolin-col").is_displayed()  # no Pangolin column without Pangolin


def test_serve_pangolin_option_errors_are_one_line(capsys, tmp_path, tiny_spliceai, monkeypatch):
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path / "empty_cache"))
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\nACGT\n")
    common = ["serve", "-q", "-R", fa, "-A", "grch37", "--allow-build-mismatch", "--port", 0]
    assert_user_error(run_main(capsys, *common, "--pangolin", "pangolin"), "pangolin is not converted yet",
                      "nucleoforge convert pangolin")
    assert_user_error(run_main(capsys, *common, "--pangolin", tmp_path / "nowhere"), "--pangolin", "no such folder")
    assert_user_error(run_main(capsys, *common, "--pangolin", "pangolin", "--no-pangolin"), "contradict")
    assert_user_error(run_main(capsys, *common, "--model", tiny_spliceai(0), "--pangolin", tiny_spliceai(0)),
                      "not a Pangolin model folder")


# --------------------------------------------------------------------------------- the real weights
@pytest.fixture(scope="module")
def real_served(chr22_reference, tmp_path_factory):
    """The real SpliceAI ensemble and Pangolin (converted into a temporary folder) on the chr22 block."""
    from nucleoforge.models.spliceai import SpliceAIModel, convert_pangolin
    from nucleoforge.serve.service import GenomeSpec, LookupService
    from tests.conftest import shared_weights, spliceai_pretrained

    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    folder = convert_pangolin(shared_weights("pangolin"), tmp_path_factory.mktemp("pangolin_real") / "pangolin")
    pangolin = SpliceAIModel.from_pretrained(folder).eval()
    service = LookupService([GenomeSpec("37", str(chr22_reference), "grch37")], spliceai_pretrained("spliceai-10k"),
                            pangolin=pangolin)
    srv, stop = start_server(service, timeout=600)
    yield srv, folder
    stop()


VARIANT = "22-20102090-T-C"  # rs885980 in TRMT2A (- strand): SpliceAI's donor gain 0.67 at +1


def test_real_answer_is_the_command_lines(real_served, chr22_reference, tmp_path):
    srv, folder = real_served
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\t20102090\t.\tT\tC\t.\t.\t.\n")
    expected = _cli_entries(vcf, chr22_reference, "grch37", folder, 50, 0, tmp_path / "out.vcf")
    status, data = srv.get(_q(hg="37", variant=VARIANT, distance=50, mask=0, tracks=1))
    assert status == 200, data
    assert [r["ENTRY"] for r in data["scores"]] == expected[VARIANT] != []
    row = data["scores"][0]
    _check_row(row, 50, 1, False)
    assert (row["g_name"], row["t_strand"], row["DP_SG"], row["DS_SG"]) == ("TRMT2A", "-", 1, "0.17")


def test_real_page_shows_both_models_side_by_side(real_served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    srv, _ = real_served
    browser.set_window_size(1600, 1000)
    browser.get(srv.url + "/?" + urllib.parse.urlencode({"variant": VARIANT, "hg": "37", "distance": 50, "mask": 0}))
    wait = WebDriverWait(browser, 300)
    for plot in ("plot", "pangolin-plot"):
        wait.until(lambda d: d.find_element(By.ID, plot).get_attribute("data-ready") == "1")

    def cells(table: str) -> list[list[str]]:
        return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]

    spliceai = srv.get(_q("/spliceai/", hg="37", variant=VARIANT, distance=50, mask=0))[1]["scores"]
    pangolin = srv.get(_q(hg="37", variant=VARIANT, distance=50, mask=0))[1]["scores"]
    assert cells("scores") == [[r["g_name"], r["t_id"] or "–", r["t_strand"], r["DS_AG"], r["DS_AL"], r["DS_DG"],
                                r["DS_DL"], str(r["DP_AG"]), str(r["DP_AL"]), str(r["DP_DG"]), str(r["DP_DL"])]
                               for r in spliceai]
    assert cells("pangolin-scores") == [[r["g_name"], r["t_strand"], r["DS_SG"], r["DS_SL"], str(r["DP_SG"]),
                                         str(r["DP_SL"]), r["WARNINGS"]] for r in pangolin]
    boxes = [browser.find_element(By.ID, i).rect for i in ("spliceai-col", "pangolin-col")]
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"] and abs(boxes[0]["y"] - boxes[1]["y"]) < 5  # side by side
    labels = [e.text.rstrip(":") for e in browser.find_elements(By.CSS_SELECTOR, "#pangolin-plot .u-legend .u-label")]
    assert labels == ["position", "REF (gain tissue)", "ALT (gain tissue)", "REF (loss tissue)", "ALT (loss tissue)",
                      "variant", "exon boundary"]
    ticks = browser.execute_script("""
        const u = pchart, ax = u.axes[0];
        u.ctx.save(); u.ctx.font = ax.font[0];
        const out = ax._splits.map((v, i) => {
          const w = u.ctx.measureText(ax._values[i]).width, c = u.valToPos(v, "x", true);
          return [c - w / 2, c + w / 2];
        });
        u.ctx.restore();
        return out;""")
    assert len(ticks) >= 3 and all(a[1] < b[0] for a, b in zip(ticks, ticks[1:])), ticks  # x labels do not overlap
    assert browser.find_element(By.ID, "status").text == ""
    assert browser.save_screenshot(str(tmp_path / "serve_two_models.png"))
