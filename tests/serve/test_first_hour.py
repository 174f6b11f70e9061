"""What a new user of ``nucleoforge serve`` does first (issue 20): paste a variant in whatever form
they have it, and post the VCF they already scored with ``nucleoforge variants`` — multi-allelic
records included — expecting the same numbers.

Runs on the ``server`` fixture (tests/serve/conftest.py): the real SpliceAI ensemble on the bundled
chr22 block, genome '37', ``--max-batch 8``.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

from tests.cli.runner import invoke

CANONICAL = "22-20102090-T-C"  # rs885980, a donor gain in TRMT2A
FORMS = ["chr22-20102090-T-C", "22:20102090 T>C", "22:20102090T>C", "chr22:g.20102090T>C",  # pasted forms
         "22-20102090-T-C", "22 20102090 T C", "chr22:20102090 t>c", "22-20,102,090-T-C"]  # today's forms
MALFORMED = ["22:-20102090 T>C", "22--20102090-T-C", "22 -20102090 T C", "22:20102090", "chr22:g.20102090",
             "22:20102090 T>C>G", "22-20102090-T-C,G", "22:20102090 T>C extra", "22-20102090.5-T-C", ""]
EXPECTED_FORMS = ("chrom-pos-ref-alt (e.g. chr8-140300616-T-G), chrom:pos ref>alt or chrom pos ref alt; "
                  "also chrom:posREF>ALT (22:20102090T>C) and HGVS chrom:g.posREF>ALT (chr22:g.20102090T>C); "
                  "'chr' is optional and pos is a positive integer")

VCF_HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=22>\n"
              "##INFO=<ID=RS,Number=1,Type=String,Description=\"dbSNP\">\n"
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
# rs35216297 (C>G,T, a real multi-allelic dbSNP record in SCARF2 / XXbac-B562F10.12) and every other
# base at rs885980's position (T>C,A,G: 'A,C,T'-style ALT lists)
MULTI = [("22", 20784102, "rs35216297", "C", ["G", "T"]), ("22", 20102090, "rs885980", "T", ["C", "A", "G"])]


def _vcf(records) -> str:
    return VCF_HEADER + "".join(f"{c}\t{p}\t{i}\t{r}\t{','.join(a)}\t.\t.\t.\n" for c, p, i, r, a in records)


def _get(server, variant: str, **params):
    return server.get("/spliceai/?" + urllib.parse.urlencode({"hg": "37", "variant": variant, "distance": 50, **params}))


# ---------------------------------------------------------------- item 1: multi-ALT records, per ALT
def _batch_multi(server) -> list[dict]:
    status, data = server.post("/spliceai/batch?hg=37&distance=50&mask=0", _vcf(MULTI), "text/plain")
    assert status == 200, data
    assert [d["variant"] for d in data] == ["22-20784102-C-G", "22-20784102-C-T",
                                            "22-20102090-T-C", "22-20102090-T-A", "22-20102090-T-G"]
    assert [(d["chrom"], d["pos"], d["ref"], d["alt"]) for d in data] == \
        [(c, p, r, a) for c, p, _, r, alts in MULTI for a in alts]
    return data


def _by_alt(vcf_text: str) -> dict[str, list[str]]:
    """'chrom-pos-ref-alt' -> that ALT's SpliceAI INFO entries (the entry's first field is the ALT)."""
    out: dict[str, list[str]] = {}
    for line in vcf_text.splitlines():
        if not line.startswith("#"):
            c = line.split("\t")
            entries = c[7].split("SpliceAI=")[1].split(";")[0].split(",")
            for alt in c[4].split(","):
                out[f"{c[0]}-{c[1]}-{c[3]}-{alt}"] = [e for e in entries if e.split("|")[0] == alt]
    return out


def test_a_multi_allelic_vcf_record_gets_one_answer_per_alt(server):
    """Each ALT's entries are the original `spliceai` CLI's for rs35216297 (tests/fixtures/spliceai_variants),
    and each equals the single-variant GET of that ALT."""
    data = _batch_multi(server)
    assert [row["ENTRY"] for d in data[:2] for row in d["scores"]] == [
        "G|SCARF2|0.08|0.00|0.00|0.00|-31|18|12|18", "G|XXbac-B562F10.12|0.08|0.00|0.00|0.00|-31|18|12|5",
        "T|SCARF2|0.01|0.00|0.00|0.00|-31|-39|12|7", "T|XXbac-B562F10.12|0.01|0.00|0.00|0.00|-31|-39|12|7"]
    assert [row["ENTRY"] for row in data[2]["scores"]] == ["C|TRMT2A|0.05|0.00|0.67|0.00|6|31|1|7"]  # rs885980
    for d in data:
        status, one = _get(server, d["variant"], mask=0)
        assert status == 200 and [row["ENTRY"] for row in one["scores"]] == [row["ENTRY"] for row in d["scores"]]


@pytest.mark.slow  # runs `nucleoforge variants` with the real ensemble (~12 s CPU)
def test_multi_allelic_answers_equal_the_cli_info_entries(server, chr22_reference, tmp_path):
    """The same VCF through `nucleoforge variants`: every ALT's INFO entries are the batch's answer for it."""
    data = _batch_multi(server)
    (tmp_path / "in.vcf").write_text(_vcf(MULTI))
    out = tmp_path / "out.vcf"
    r = invoke(["variants", "-I", tmp_path / "in.vcf", "-O", out, "-R", chr22_reference, "-A", "grch37",
                "--model", "spliceai-10k", "-D", 50, "-M", 0, "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    cli = _by_alt(out.read_text())
    assert list(cli) == [d["variant"] for d in data]
    assert {d["variant"]: [row["ENTRY"] for row in d["scores"]] for d in data} == cli
    assert cli["22-20102090-T-G"] == ["G|TRMT2A|0.08|0.00|0.00|0.00|6|-2|-10|7"]


def test_max_batch_counts_alts_not_records(server):
    """``--max-batch 8``: three records of 3 + 3 + 2 ALTs fit, one more ALT does not."""
    eight = _vcf([MULTI[1], MULTI[1], MULTI[0]])
    status, data = server.post("/spliceai/batch?hg=37", eight, "text/plain")
    assert status == 200 and len(data) == 8
    assert [d["alt"] for d in data] == ["C", "A", "G", "C", "A", "G", "G", "T"]
    assert data[0]["scores"] == data[3]["scores"] or data[3]["source"] == "nucleoforge:cache"
    nine = _vcf([MULTI[1], MULTI[1], ("22", 20784102, "rs35216297", "C", ["G", "T", "A"])])
    status, data = server.post("/spliceai/batch?hg=37", nine, "text/plain")
    assert status == 413
    assert data == {"error": "9 variants in one batch: this server takes at most 8 (--max-batch); split the request",
                    "source": "nucleoforge"}


def test_an_unscorable_alt_fails_alone(server):
    """A '*' (spanning deletion) ALT gets its own error; the record's other ALT is scored."""
    status, data = server.post("/spliceai/batch?hg=37", _vcf([("22", 20102090, ".", "T", ["C", "*"])]), "text/plain")
    assert status == 200 and len(data) == 2
    assert data[0]["variant"] == CANONICAL and data[0]["scores"][0]["ENTRY"].startswith("C|TRMT2A|0.05|0.00|0.67|0.00")
    assert data[1] == {"variant": "22-20102090-T-*", "source": "nucleoforge",
                       "error": f"cannot parse variant '22-20102090-T-*': expected {EXPECTED_FORMS}"}


# ------------------------------------------------------------- item 2: the forms users paste
def test_every_accepted_form_gives_the_canonical_answer(server):
    _get(server, CANONICAL)  # scored once; from now on every form's answer comes from the score cache
    status, canonical = _get(server, CANONICAL)
    assert status == 200 and canonical["variant"] == CANONICAL and canonical["source"] == "nucleoforge:cache"
    assert canonical["scores"][0]["ENTRY"] == "C|TRMT2A|0.05|0.00|0.67|0.00|6|31|1|7"  # as the original CLI (fixtures)
    for form in FORMS:
        status, data = _get(server, form)
        assert status == 200, (form, data)
        assert data == canonical, form
    status, batch = server.post("/spliceai/batch?hg=37&distance=50", json.dumps(FORMS))
    assert status == 200 and batch == [canonical] * len(FORMS)


@pytest.mark.parametrize("text", MALFORMED)
def test_a_malformed_variant_is_a_400_naming_the_accepted_forms(server, text):
    status, data = _get(server, text)
    assert status == 400
    assert data == {"error": f"cannot parse variant {text!r}: expected {EXPECTED_FORMS}", "source": "nucleoforge"}


def test_malformed_variants_in_a_batch_fail_alone(server):
    status, data = server.post("/spliceai/batch?hg=37", json.dumps(["22:-20102090 T>C", CANONICAL, "22-0-T-C"]))
    assert status == 200 and len(data) == 3
    assert data[0] == {"variant": "22:-20102090 T>C", "source": "nucleoforge",
                       "error": f"cannot parse variant '22:-20102090 T>C': expected {EXPECTED_FORMS}"}
    assert data[1]["variant"] == CANONICAL and data[1]["pos"] == 20102090
    assert data[2] == {"variant": "22-0-T-C", "error": "variant '22-0-T-C': position must be >= 1", "source": "nucleoforge"}


def test_the_api_schema_lists_the_accepted_forms(server):
    status, schema = server.get("/openapi.json")
    assert status == 200
    (param,) = [p for p in schema["paths"]["/spliceai/"]["get"]["parameters"] if p["name"] == "variant"]
    assert param["description"] == f"the variant: {EXPECTED_FORMS}"
