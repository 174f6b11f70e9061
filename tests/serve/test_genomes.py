"""Several genomes in one server, a GTF annotation (per-transcript scores), the request timeout."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.cli.runner import run_main
from tests.serve.conftest import start_server
from tests.splicing.conftest import VCF_HEADER, synthetic_vcf_lines
from tests.splicing.test_transcripts import write_gtf


@pytest.fixture(scope="module")
def two_genomes(tiny_genome, tiny_spliceai, tmp_path_factory):
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.serve.service import GenomeSpec, LookupService

    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    fa, table, seq = tiny_genome
    d = tmp_path_factory.mktemp("serve_gtf")
    gtf = write_gtf(d / "tx.gtf", ["T1", "T2", "M1"])
    model_dir = tiny_spliceai(0)
    model = SpliceAIModel.from_pretrained(model_dir).eval()
    service = LookupService([GenomeSpec("table", str(fa), str(table)), GenomeSpec("gtf", str(fa), str(gtf))], model)
    srv, stop = start_server(service, max_batch=16)
    yield srv, fa, table, gtf, seq, model_dir, d
    stop()


def _answer(srv, hg: str, variant: str) -> list[str] | str:
    """The entries of a scored variant, or the error of a refused one (HTTP 400, nothing else)."""
    status, data = srv.get("/spliceai/?" + urllib.parse.urlencode({"hg": hg, "variant": variant}))
    if status == 200:
        return [r["ENTRY"] for r in data["scores"]]
    assert status == 400 and data["source"] == "nucleoforge", (status, data)
    return data["error"]


def _no_gene(annotation: object, chrom: str, pos: int) -> str:
    return (f"no gene of the annotation {annotation} overlaps {chrom}:{pos}: SpliceAI scores need a variant inside an "
            "annotated transcript")


def test_each_genome_answers_with_its_annotation(two_genomes, capsys):
    """hg=table gives `variants -A TABLE`'s SpliceAI field, hg=gtf `variants -A GTF --transcripts
    canonical`'s SpliceAI_TX field (symbol and transcript ID), record for record."""
    srv, fa, table, gtf, seq, model_dir, d = two_genomes
    vcf = d / "in.vcf"
    vcf.write_text(VCF_HEADER + "".join(synthetic_vcf_lines(seq)))
    out = d / "out.vcf"
    r = run_main(capsys, "variants", "-I", vcf, "-O", out, "-R", fa, "-A", gtf, "--model", model_dir, "-q",
                 "--transcripts", "canonical")
    assert r.code == 0, r.err
    compared, refused = 0, []
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        c = line.split("\t")
        info = dict(f.split("=", 1) for f in c[7].split(";") if "=" in f)
        variant = f"{c[0]}-{c[1]}-{c[3]}-{c[4]}"
        if "SpliceAI_TX" in info:
            assert _answer(srv, "gtf", variant) == info["SpliceAI_TX"].split(",")
            assert _answer(srv, "table", variant) == info["SpliceAI"].split(",")
            compared += 1
        else:  # skipped by `variants`: the server refuses it, saying why
            assert "SpliceAI" not in info
            refused.append((c[2], _answer(srv, "gtf", variant), _answer(srv, "table", variant)))
    too_close = "1:60 is too close to the end of chr1: the 129-nt window of distance 50 passes it"
    assert compared == 12 and refused == [("nogene", _no_gene(gtf, "1", 10), _no_gene(table, "1", 10)),
                                          ("v0", too_close, too_close)]
    status, data = srv.get("/spliceai/?hg=gtf&variant=chr1-120-" + seq[119] + "-" + ("A" if seq[119] != "A" else "C"))
    assert data["scores"][0]["t_id"] == "T1" and data["scores"][0]["g_name"] == "PLUS"  # MANE_Select = canonical
    assert srv.get("/health")[1]["genomes"].keys() == {"table", "gtf"}


def test_a_request_past_the_timeout_is_a_408_and_the_server_carries_on(tiny_genome, tiny_spliceai):
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.serve.service import GenomeSpec, LookupService

    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    fa, table, seq = tiny_genome
    service = LookupService([GenomeSpec("t", str(fa), str(table))], SpliceAIModel.from_pretrained(tiny_spliceai(0)).eval())
    gate = __import__("threading").Event()
    score = service.score

    def slow(setting, jobs):  # the worker is held until the request has timed out
        gate.wait(10)
        return score(setting, jobs)

    service.score = slow
    srv, stop = start_server(service, timeout=0.2)
    try:
        variant = f"1-120-{seq[119]}-{'A' if seq[119] != 'A' else 'C'}"
        status, data = srv.get(f"/spliceai/?hg=t&variant={variant}")
        assert status == 408
        assert data["error"] == ("the request took longer than the server's timeout of 0.2 s (--timeout); retry later "
                                 "or send fewer variants at once")
        gate.set()
        status, data = srv.get("/health")
        assert status == 200
    finally:
        gate.set()
        stop()
