"""A genome-build mismatch is refused before scoring (issue 20): `variants`, `evaluate-splice`,
`splice-data` and `serve` exit 2 with one line naming the evidence, and write nothing;
``--allow-build-mismatch`` scores anyway with one warning.

The README scenario: the bundled GRCh37 chr22 block placed at its real coordinates (record
``22``, 21,000,000 nt) with ``-A grch38`` scored RANBP1 variants against GRCh38 genes, exit 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.cli.runner import assert_user_error, invoke, run_main

INTRONS = ("annotated introns of {whose} have GT-AG at their ends in the reference: annotation and reference "
           "do not match (--allow-build-mismatch to {action} anyway)")


@pytest.fixture(autouse=True)
def _wheel_tables():
    from nucleoforge.io.annotation import spliceai_annotation_path

    try:
        spliceai_annotation_path("grch38")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def _line(ref: Path, count: str, whose: str, action: str = "score") -> str:
    return f"error: annotation grch38 on reference {ref}: {count} " + INTRONS.format(whose=whose, action=action)


def test_readme_scenario_is_refused(dbsnp_vcf, tiny_spliceai, tmp_path):
    """(a)(b) GRCh37 reference + -A grch38 + dbSNP records: exit 2, the evidence line, no output."""
    ref, vcf = dbsnp_vcf
    out = tmp_path / "out.vcf"
    res = invoke(["variants", "-I", vcf, "-O", out, "-R", ref, "-A", "grch38", "--model", tiny_spliceai(0), "-q"])
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines() == [_line(ref, "1 of 191", "the genes in this run and genes near them")]
    assert res.stdout == "" and not out.exists() and list(tmp_path.iterdir()) == []


def test_readme_scenario_from_stdin_samples_the_reference(dbsnp_vcf, tiny_spliceai, tmp_path):
    """(b) -I - cannot be read twice: genes sampled across the reference are judged instead."""
    ref, _ = dbsnp_vcf
    res = invoke(["variants", "-R", ref, "-A", "grch38", "-O", tmp_path / "out.vcf", "--model", tiny_spliceai(0), "-q"])
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines() == [_line(ref, "1 of 191", "genes sampled across the reference")]
    assert list(tmp_path.iterdir()) == []


def test_allow_build_mismatch_scores_with_one_warning(dbsnp_vcf, tiny_spliceai, tmp_path, caplog):
    """The override: every record is scored, and the evidence is logged once as a warning."""
    ref, vcf = dbsnp_vcf
    out = tmp_path / "out.vcf"
    with caplog.at_level(logging.WARNING, logger="nucleoforge.io.builds"):
        res = invoke(["variants", "-I", vcf, "-O", out, "-R", ref, "-A", "grch38", "--model", tiny_spliceai(0),
                      "--allow-build-mismatch"])
    assert res.exit_code == 0, res.output
    records = [ln for ln in out.read_text().splitlines() if not ln.startswith("#")]
    assert len(records) == 12 and all("SpliceAI=" in ln for ln in records)
    warnings = [r.getMessage() for r in caplog.records if r.name == "nucleoforge.io.builds"]
    assert warnings == ["--allow-build-mismatch: going on despite a build mismatch: "
                        + _line(ref, "1 of 191", "the genes in this run and genes near them")[len("error: "):]
                        .rsplit(" (--allow", 1)[0]]


def test_vcf_contig_length_mismatch_is_refused(dbsnp_vcf, tiny_spliceai, tmp_path):
    """(c) The VCF's ##contig line gives 22 fewer bases than the FASTA has."""
    ref, vcf = dbsnp_vcf
    short = tmp_path / "short.vcf"
    short.write_text(vcf.read_text().replace("##contig=<ID=22,length=21000000>", "##contig=<ID=22,length=20500000>"))
    out = tmp_path / "out.vcf"
    res = invoke(["variants", "-I", short, "-O", out, "-R", ref, "-A", "grch37", "--model", tiny_spliceai(0), "-q"])
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines() == [f"error: reference {ref}: 22 is 21,000,000 nt here, 20,500,000 there, in the "
                                       f"##contig line of {short} (--allow-build-mismatch to score anyway)"]
    assert not out.exists()


def test_chromosome_length_of_the_other_build_is_refused(tiny_spliceai, tmp_path):
    """(a) The CLI path of the length rule on a small chromosome: hg19's 16,571-nt chrM with -A grch38."""
    ref = tmp_path / "chrM.fa"
    ref.write_text(">chrM\n" + "ACGT" * 4142 + "ACG\n")
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chrM,length=16571>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\t"
                   "INFO\nchrM\t3\t.\tG\tA\t.\t.\t.\n")
    out = tmp_path / "out.vcf"
    res = invoke(["variants", "-I", vcf, "-O", out, "-R", ref, "-A", "grch38", "--model", tiny_spliceai(0), "-q"])
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines() == [f"error: reference {ref}: chrM is 16,571 nt here, 16,569 in GRCh38, named by "
                                       "annotation grch38 (--allow-build-mismatch to score anyway)"]
    assert not out.exists()


def test_evaluate_splice_refuses_a_mismatch(dbsnp_vcf, tiny_spliceai, tmp_path):
    """evaluate-splice on RANBP1 of the GRCh38 table against the GRCh37 block."""
    ref, _ = dbsnp_vcf
    out = tmp_path / "genes.tsv"
    res = invoke(["evaluate-splice", "-R", ref, "-A", "grch38", "-g", "RANBP1", "-o", out, "--model", tiny_spliceai(0),
                  "-q"])
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines() == [_line(ref, "1 of 191", "the genes in this run and genes near them", "evaluate")]
    assert not out.exists()


def test_splice_data_refuses_a_mismatch(dbsnp_vcf, tmp_path):
    """splice-data: the content check on genes sampled across the reference; no dataset folder."""
    ref, _ = dbsnp_vcf
    out = tmp_path / "data"
    res = invoke(["splice-data", "-R", ref, "-A", "grch38", "-o", out, "-q"])
    assert res.exit_code == 2, res.output
    expected = _line(ref, "1 of 191", "genes sampled across the reference", "build the dataset")
    assert res.stderr.splitlines() == [expected]
    assert list(tmp_path.iterdir()) == []


def test_serve_start_up_check(dbsnp_vcf):
    """serve's start-up check on each served genome: the mismatched one is named."""
    from nucleoforge.cli.serve import check_served_builds
    from nucleoforge.errors import NucleoforgeError
    from nucleoforge.serve.service import GenomeSpec

    ref, _ = dbsnp_vcf
    check_served_builds([GenomeSpec("37", str(ref), "grch37")])
    with pytest.raises(NucleoforgeError) as err:
        check_served_builds([GenomeSpec("37", str(ref), "grch37"), GenomeSpec("38", str(ref), "grch38")])
    assert f"error: {err.value}" == _line(ref, "1 of 191", "genes sampled across the reference", "serve")


def test_serve_refuses_a_mismatch_before_the_model_loads(capsys, dbsnp_vcf, tmp_path):
    """`nucleoforge serve` exits 2 with the evidence before loading --model (a missing folder here)
    and before binding anything."""
    pytest.importorskip("fastapi", reason="nucleoforge[serve] is not installed")
    ref, _ = dbsnp_vcf
    res = run_main(capsys, "serve", "-R", ref, "-A", "grch38", "--hg", "38", "--host", "127.0.0.1", "--port", "0",
                   "--model", tmp_path / "no-model", "-q")
    assert assert_user_error(res) == _line(ref, "1 of 191", "genes sampled across the reference", "serve")
