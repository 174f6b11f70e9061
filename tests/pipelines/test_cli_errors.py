"""Language-model commands (``fill-mask``, ``embed``, ``variant-effect``, ``attention``) refuse a
folder of another model type or with missing / unexpected weights: one ``error:`` line naming
the folder and its model type, exit status 2 (through ``nucleoforge.cli.main``)."""

from __future__ import annotations

import shutil

import pytest

from nucleoforge.io.checkpoints import CheckpointError
from tests.cli.runner import assert_user_error, run_main, spliceai_folder, splicebert_folder  # noqa: F401
from tests.conftest import CHR22, DATA


def _args(command, seq, tmp_path):
    if command == "fill-mask":
        return ["fill-mask", seq[:20] + "<mask>" + seq[21:40]]
    if command == "embed":
        return ["embed", "--input", DATA / "oct4_peaks_test.fa", "--output", tmp_path / "e.npz", "--no-progress"]
    if command == "variant-effect":
        vcf = tmp_path / "in.vcf"
        vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        return ["variant-effect", "-I", vcf, "-R", CHR22, "-O", tmp_path / "ve.tsv", "--no-progress"]
    return ["attention", seq[:40]]


@pytest.mark.parametrize("command", ["fill-mask", "embed", "variant-effect", "attention"])
def test_lm_commands_refuse_a_spliceai_folder(capsys, tmp_path, chr22_block, spliceai_folder, command):
    args = _args(command, chr22_block[5_000:5_100], tmp_path)
    line = assert_user_error(run_main(capsys, *args, "--model", spliceai_folder, "--device", "cpu"),
                             spliceai_folder, "'spliceai'")
    assert "masked language model" in line


def _mixed_folder(tmp_path, splicebert_folder, spliceai_folder):
    """SpliceBERT's config.json and tokenizer over SpliceAI's weights."""
    folder = tmp_path / "mixed"
    shutil.copytree(splicebert_folder, folder)
    shutil.copy(spliceai_folder / "model.safetensors", folder / "model.safetensors")
    return folder


def test_lm_folder_with_foreign_weights_is_refused(capsys, tmp_path, chr22_block, spliceai_folder, splicebert_folder):
    """Used to fill masks with a randomly initialised SpliceBERT and exit 0."""
    folder = _mixed_folder(tmp_path, splicebert_folder, spliceai_folder)
    args = _args("fill-mask", chr22_block[5_000:5_100], tmp_path)
    assert_user_error(run_main(capsys, "-q", *args, "--model", folder, "--device", "cpu"), folder, "splicebert", "missing",
                      "unexpected")


def test_load_masked_lm_checks_type_and_weights(tmp_path, spliceai_folder, splicebert_folder):
    from nucleoforge.pipelines._common import load_masked_lm

    with pytest.raises(CheckpointError, match=r"holds a 'spliceai' model, not a masked language model"):
        load_masked_lm(str(spliceai_folder))
    with pytest.raises(CheckpointError, match=r"splicebert model\): its weights do not match SpliceBertForMaskedLM"):
        load_masked_lm(str(_mixed_folder(tmp_path, splicebert_folder, spliceai_folder)))
    model, _ = load_masked_lm(str(splicebert_folder))  # a complete folder loads
    assert type(model).__name__ == "SpliceBertForMaskedLM"


@pytest.mark.parametrize("command", ["fill-mask", "embed", "attention"])
def test_quiet_lm_commands_print_nothing_on_stderr(capsys, tmp_path, chr22_block, splicebert_folder, command):
    """``-q``: no weight-loading or pipeline progress bar, no warning — stderr stays empty."""
    args = _args(command, chr22_block[5_000:5_100], tmp_path)
    if command == "embed":
        args = [a for a in args if a != "--no-progress"]
    result = run_main(capsys, *args, "--model", splicebert_folder, "--device", "cpu", "-q")
    assert result.code == 0, result.err
    assert result.err == ""


def test_lm_folder_without_weights_is_one_error(capsys, tmp_path, splicebert_folder):
    """A folder with config and vocabulary but no weight file used to be an "unexpected failure" (exit 1)."""
    folder = tmp_path / "no-weights"
    shutil.copytree(splicebert_folder, folder)
    for weights in ("model.safetensors", "pytorch_model.bin"):
        (folder / weights).unlink(missing_ok=True)
    assert_user_error(run_main(capsys, "fill-mask", "ACG<mask>TACGT", "--model", folder, "--quiet"), folder, "splicebert")
