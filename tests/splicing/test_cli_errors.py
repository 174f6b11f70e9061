"""User errors of ``splice``, ``variants`` and ``evaluate-splice`` through ``nucleoforge.cli.main``:
one ``error:`` line naming the folder / file / gene, exit status 2 — never random weights, a
bare "Aborted.", an ``IndexError`` or a silently wrong result."""

from __future__ import annotations

import shutil

import pytest

from tests.cli.runner import assert_user_error, run_main, spliceai_folder, splicebert_folder  # noqa: F401
from tests.conftest import CHR22

VCF_HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=600>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def genome(tmp_path_factory, chr22_block):
    """``(fasta, genes, sequence)``: chr1 = 600 nt of real chr22, a gene inside it and one past its end."""
    seq = chr22_block[40_000:40_600]
    assert "N" not in seq
    d = tmp_path_factory.mktemp("genome")
    fa = d / "chr1.fa"
    fa.write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, 600, 60)) + "\n")
    genes = d / "genes.txt"
    genes.write_text(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
        "INSIDE\t1\t+\t40\t400\t40,150,300,\t100,200,400,\n"
        "PASTEND\t1\t+\t450\t900\t450,700,\t520,900,\n"
    )
    return fa, genes, seq


def _vcf(tmp_path, seq, positions=(120, 160)):
    path = tmp_path / "in.vcf"
    alt = {"A": "C", "C": "G", "G": "T", "T": "A"}
    path.write_text(VCF_HEADER + "".join(f"chr1\t{p}\t.\t{seq[p - 1]}\t{alt[seq[p - 1]]}\t.\tPASS\t.\n" for p in positions))
    return path


def _command(name, genome, tmp_path):
    fa, genes, seq = genome
    if name == "splice":
        return ["splice", seq[:80]]
    if name == "variants":
        return ["variants", "-I", _vcf(tmp_path, seq), "-O", tmp_path / "out.vcf", "-R", fa, "-A", genes]
    return ["evaluate-splice", "-R", fa, "-A", genes, "-g", "INSIDE"]


@pytest.mark.parametrize("command", ["splice", "variants", "evaluate-splice"])
def test_spliceai_commands_refuse_a_splicebert_folder(capsys, tmp_path, genome, splicebert_folder, command):
    """A SpliceBERT folder as --model used to run SpliceAI with random weights and exit 0."""
    args = _command(command, genome, tmp_path)
    line = assert_user_error(run_main(capsys, *args, "--model", splicebert_folder, "-q"), splicebert_folder, "'splicebert'")
    assert "SpliceAI" in line
    assert not (tmp_path / "out.vcf").exists()


def test_spliceai_folder_with_foreign_weights_is_refused(capsys, tmp_path, genome, spliceai_folder, splicebert_folder):
    """A SpliceAI config.json over another model's weights: the missing and unexpected weights are named."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(spliceai_folder / "config.json", folder)
    shutil.copy(splicebert_folder / "model.safetensors", folder)
    line = assert_user_error(run_main(capsys, *_command("splice", genome, tmp_path), "--model", folder, "-q"),
                             folder, "spliceai", "missing", "unexpected")
    assert "members.0." in line and "bert." in line


def test_spliceai_folder_with_wrong_shapes_is_refused(capsys, tmp_path, genome, spliceai_folder):
    """Weights saved for other channel counts than config.json says: refused, not reinitialised."""
    import json

    folder = tmp_path / "wide"
    shutil.copytree(spliceai_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["channels"] = 2 * config["channels"]
    (folder / "config.json").write_text(json.dumps(config))
    assert_user_error(run_main(capsys, *_command("splice", genome, tmp_path), "--model", folder, "-q"), folder, "shape")


def test_missing_model_folder_is_named(capsys, tmp_path, genome):
    missing = tmp_path / "no_such_model"
    assert_user_error(run_main(capsys, *_command("splice", genome, tmp_path), "--model", missing, "-q"), missing)


def _truncated_gzip(path, tmp_path):
    """The bundled gzip FASTA cut to a third: a real, truncated download."""
    cut = tmp_path / path.name
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    return cut


def test_truncated_gzip_reference_leaves_no_temp_file(capsys, tmp_path, monkeypatch, spliceai_folder):
    """Used to print a bare "Aborted." and leave a partial copy in the cache on each try."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(cache))
    ref = _truncated_gzip(CHR22, tmp_path)
    for _ in range(2):
        line = assert_user_error(
            run_main(capsys, "splice", "--region", "22:20000101-20000200", "--reference", ref, "--model", spliceai_folder, "-q"),
            ref, "truncated",
        )
        assert "Aborted" not in line
        leftovers = [p for p in cache.rglob("*") if p.is_file()]
        assert leftovers == [], leftovers


def test_truncated_gzip_fasta_input_names_the_file(capsys, tmp_path, spliceai_folder):
    fasta = _truncated_gzip(CHR22, tmp_path)
    assert_user_error(run_main(capsys, "splice", "--fasta", fasta, "--model", spliceai_folder, "-q"), fasta, "truncated")


def test_header_only_reference_is_refused(capsys, tmp_path, genome, spliceai_folder):
    """A reference with a header and no sequence used to score every variant as "near chromosome end"."""
    _, genes, seq = genome
    ref = tmp_path / "header_only.fa"
    ref.write_text(">chr1\n")
    args = ["variants", "-I", _vcf(tmp_path, seq), "-O", tmp_path / "out.vcf", "-R", ref, "-A", genes]
    assert_user_error(run_main(capsys, *args, "--model", spliceai_folder, "-q"), ref, "'chr1'", "no sequence")


def test_evaluate_splice_gene_past_the_fasta_end(capsys, genome, spliceai_folder):
    """Used to raise IndexError deep in the metrics."""
    fa, genes, _ = genome
    args = ["evaluate-splice", "-R", fa, "-A", genes, "-g", "PASTEND", "--model", spliceai_folder, "-q"]
    assert_user_error(run_main(capsys, *args), "PASTEND", fa, "length 600")


def test_evaluate_splice_region_past_the_fasta_end(capsys, genome, spliceai_folder):
    fa, genes, _ = genome
    args = ["evaluate-splice", "-R", fa, "-A", genes, "-r", "chr1:1-5000", "--model", spliceai_folder, "-q"]
    assert_user_error(run_main(capsys, *args), "chr1:1-5000", "length 600")
