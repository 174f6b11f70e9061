"""The REST API of ``nucleoforge serve``: the original CLI's scores, every parameter and error case."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[1] / "fixtures" / "spliceai_variants"

# golden records (the original `spliceai` CLI's output): SNVs on both strands, a deletion, an
# insertion, an MNV, a position in two genes, a multi-allelic record (one request per ALT)
GOLDEN = ["rs885980", "rs73389745", "rs8137004", "rs368639630", "rs545014283", "rs885980_mnv", "rs35216297_multiallelic"]


def _golden(mask: int) -> dict[str, tuple[list[str], list[str]]]:
    """ID -> (the 'chrom-pos-ref-alt' of every ALT, the expected entries) from the fixtures."""
    rows = {}
    for line in (FIXTURES / f"expected_M{mask}.vcf").read_text().splitlines():
        if line.startswith("#"):
            continue
        c = line.split("\t")
        if c[2] in GOLDEN:
            rows[c[2]] = ([f"{c[0]}-{c[1]}-{c[3]}-{a}" for a in c[4].split(",")], c[7].removeprefix("SpliceAI=").split(","))
    assert len(rows) == len(GOLDEN)
    return rows


def _q(**params) -> str:
    return "/spliceai/?" + urllib.parse.urlencode(params)


@pytest.mark.parametrize("mask", [0, 1])
def test_scores_equal_the_original_cli(server, mask):
    """The same strings as `nucleoforge variants` / the original CLI (fixtures) for every entry."""
    for rid, (variants, expected) in _golden(mask).items():
        got = []
        for v in variants:
            status, data = server.get(_q(hg="37", variant=v, distance=50, mask=mask, tracks=1))
            assert status == 200, (rid, data)
            assert (data["chrom"], data["distance"], data["mask"], data["genomeVersion"]) == ("22", 50, mask, "37")
            for row in data["scores"]:
                values = row["ENTRY"].split("|")
                assert [row[f"DS_{k}"] for k in ("AG", "AL", "DG", "DL")] == values[2:6]
                assert [str(row[f"DP_{k}"]) if row[f"DP_{k}"] is not None else "." for k in ("AG", "AL", "DG", "DL")] == values[6:]
                assert row["g_name"] == values[1]
            got += [row["ENTRY"] for row in data["scores"]]
        assert got == expected, rid


def test_tracks_are_the_scores_behind_the_deltas(server):
    status, data = server.get(_q(hg="37", variant="chr22:20102090 T>C", tracks=1))
    assert status == 200 and data["variant"] == "22-20102090-T-C"
    row = data["scores"][0]
    assert row["g_name"] == "TRMT2A" and row["DS_DG"] == "0.67" and row["DP_DG"] == 1
    assert len(row["REF_DONOR"]) == len(row["ALT_DONOR"]) == 101
    i = row["DP_DG"] + 50
    assert abs(row["ALT_DONOR"][i] - row["REF_DONOR"][i] - 0.67) <= 0.005 + 1e-4  # DS_DG = max gain, at DP_DG
    assert max(a - r for a, r in zip(row["ALT_DONOR"], row["REF_DONOR"])) == pytest.approx(row["ALT_DONOR"][i] - row["REF_DONOR"][i])
    assert (row["DS_DG_REF"], row["DS_DG_ALT"]) == (f"{row['REF_DONOR'][i]:.2f}", f"{row['ALT_DONOR'][i]:.2f}")
    assert {r["pos"] for r in data["allNonZeroScores"]} >= {20102090 + 1}
    assert row["EXON_STARTS"][0] == row["TX_START"] and row["t_strand"] in "+-"


def test_a_cached_variant_comes_from_the_cache(server):
    v = "22-20103189-T-C"  # scored by no other test of this module
    first = server.get(_q(hg="37", variant=v))[1]
    again = server.get(_q(hg="37", variant=v))[1]
    assert again["source"] == "nucleoforge:cache" and first["source"] == "nucleoforge:model"
    assert [r["ENTRY"] for r in again["scores"]] == [r["ENTRY"] for r in first["scores"]]
    assert "REF_ACCEPTOR" not in again["scores"][0]  # the cache holds entries, not tracks
    forced = server.get(_q(hg="37", variant=v, tracks=1))[1]
    assert forced["source"] == "nucleoforge:model" and "REF_ACCEPTOR" in forced["scores"][0]


@pytest.mark.parametrize("params, message", [
    ({"variant": "chr22-abc"}, "cannot parse variant 'chr22-abc': expected chrom-pos-ref-alt (e.g. chr8-140300616-T-G), "
                               "chrom:pos ref>alt or chrom pos ref alt"),
    ({"variant": "22-20102090-A-C"}, "REF A does not match the reference of genome 37 at 22:20102090: the reference has T"),
    ({"variant": "7-117559590-A-G"}, "chromosome '7' is not in the reference of genome 37"),
    ({"variant": "22-20004430-G-T"}, "no gene of the annotation grch37 overlaps 22:20004430: SpliceAI scores need a "
                                     "variant inside an annotated transcript"),
    ({"variant": "22-20102090-T-C", "distance": 5000}, "distance=5000: expected an integer from 0 to 4999"),
    ({"variant": "22-20102090-T-C", "distance": -1}, "distance=-1: expected an integer from 0 to 4999"),
    ({"variant": "22-20102090-T-C", "distance": "x"}, "distance: Input should be a valid integer"),
    ({"variant": "22-20102090-T-C", "mask": 2}, "mask=2: expected 0 (raw scores) or 1 (masked)"),
    ({"variant": "22-20102090-T-C", "hg": "38"}, "hg='38': this server has genome(s) 37"),
    ({"variant": "22-20137433-GTAC-G", "distance": 1}, "REF GTAC does not match"),
    ({}, "variant: Field required"),
])
def test_errors_are_json_400_naming_the_problem(server, params, message):
    status, data = server.get(_q(**{"hg": "37", **params}))
    assert status == 400
    assert data["error"].startswith(message) and data["source"] == "nucleoforge"


def test_ref_longer_than_twice_the_distance(server):
    status, data = server.get(_q(hg="37", variant="22-20004216-TGCGGC-T", distance=2))
    assert status == 400 and data["error"] == "REF of 6 nt is longer than 2 x distance (4): raise distance"


def test_batch_answers_in_input_order(server):
    variants = ["22-20102090-T-C", "bad", "22-20102090-A-C", "22-20050957-C-T", "chr22:20137433 GT>G"]
    status, data = server.post("/spliceai/batch", f'{{"hg": "37", "mask": 0, "variants": {variants!r}}}'.replace("'", '"'))
    assert status == 200 and len(data) == 5
    assert data[0]["scores"][0]["ENTRY"].startswith("C|TRMT2A|0.05|0.00|0.67|0.00")
    assert data[1]["error"].startswith("cannot parse variant 'bad'") and data[1]["variant"] == "bad"
    assert data[2]["error"].startswith("REF A does not match")
    assert data[3]["scores"][0]["ENTRY"] == "T|TANGO2|0.00|0.00|0.14|0.01|9|25|-34|25"
    assert data[4]["scores"][0]["ENTRY"] == "G|CCDC188|0.00|0.03|0.01|0.01|-41|-33|-10|45"
    # a bare JSON list and a VCF body give the same answers
    plain = server.post("/spliceai/batch?hg=37", '["22-20102090-T-C", "22-20050957-C-T"]')[1]
    vcf = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n22\t20102090\t.\tT\tC\n22\t20050957\trs1\tC\tT\n"
    as_vcf = server.post("/spliceai/batch?hg=37", vcf, "text/plain")[1]
    assert [d["scores"][0]["ENTRY"] for d in plain] == [d["scores"][0]["ENTRY"] for d in as_vcf] == \
        [data[0]["scores"][0]["ENTRY"], data[3]["scores"][0]["ENTRY"]]


@pytest.mark.parametrize("body, content_type, status, message", [
    ('["22-1-A-C"]', "application/json", 200,
     "REF A does not match the reference of genome 37 at 22:1: the reference has N"),
    ("[" + ",".join(['"22-20102090-T-C"'] * 9) + "]", "application/json", 413,
     "9 variants in one batch: this server takes at most 8 (--max-batch); split the request"),
    ("{not json", "application/json", 400, "request body is not valid JSON"),
    ('{"variants": [1, 2]}', "application/json", 400, 'request body: expected a JSON list of variant strings'),
    ("22\t100\t.\tA\n", "text/plain", 400, "VCF body line 1: expected at least 5 tab-separated columns"),
])
def test_batch_errors(server, body, content_type, status, message):
    got_status, data = server.post("/spliceai/batch?hg=37", body, content_type)
    assert got_status == status
    if status == 200:  # the batch is answered; its one variant carries the error
        assert data == [{"variant": "22-1-A-C", "error": message, "source": "nucleoforge"}]
    else:
        assert data["error"].startswith(message) and data["source"] == "nucleoforge"


def test_health_openapi_and_page(server, chr22_reference):
    import re
    import urllib.request

    from nucleoforge.serve.app import STATIC

    status, health = server.get("/health")
    assert status == 200
    worker = health.pop("worker")
    assert Path(health.pop("model")).name == "spliceai-10k"  # the converted weights' folder
    assert health == {"status": "ok", "genomes": {"37": {"reference": str(chr22_reference), "annotation": "grch37"}},
                      "max_batch": 8, "max_distance": 4999, "timeout_s": 120,
                      "cache_readonly": False, "queued": 0}
    # one variant through the worker (tracks=1: never from the cache) is one job in one scorer call
    assert server.get(_q(hg="37", variant="22-20050957-C-T", distance=7, tracks=1))[0] == 200
    after = server.get("/health")[1]["worker"]
    assert {k: after[k] - worker[k] for k in ("jobs", "batches", "batched_jobs", "errors", "cancelled")} == \
        {"jobs": 1, "batches": 1, "batched_jobs": 0, "errors": 0, "cancelled": 0}
    assert after["histogram"]["1"] == worker["histogram"].get("1", 0) + 1
    status, schema = server.get("/openapi.json")
    assert status == 200
    params = {p["name"] for p in schema["paths"]["/spliceai/"]["get"]["parameters"]}
    assert params == {"variant", "hg", "distance", "mask", "tracks"}
    assert {"/spliceai/batch", "/health"} <= set(schema["paths"])
    with urllib.request.urlopen(server.url + "/") as r:
        page = r.read()
    assert page == (STATIC / "index.html").read_bytes()  # the package's page, as it is
    assert '<form id="query">' in page.decode() and "http" not in page.decode().split("<body>")[1]
    # every resource it loads comes from this server: the package's files, byte for byte
    refs = sorted(set(re.findall(r'(?:src|href)="(/[^"]*)"', page.decode())))
    assert refs == ["/static/app.js", "/static/favicon.svg", "/static/style.css", "/static/vendor/uPlot.iife.min.js",
                    "/static/vendor/uPlot.min.css"]
    for ref in refs:
        with urllib.request.urlopen(server.url + ref) as r:
            assert r.status == 200 and r.read() == (STATIC / ref.removeprefix("/static/")).read_bytes(), ref
