"""The command line's one error boundary (nucleoforge/cli/boundary.py), through ``main`` and the executable.

A user error is exactly one ``error: …`` line on stderr naming the file / line / record / option,
exit status 2, no traceback; an internal error (anything else) is one line and exit status 1, with the
traceback only under ``--debug`` (or ``NUCLEOFORGE_DEBUG=1``); ``-q`` leaves stderr empty.
"""

from __future__ import annotations

import os

import pytest

from tests.cli.runner import assert_user_error, run_exe, run_main, spliceai_folder, splicebert_folder  # noqa: F401
from tests.conftest import DATA


@pytest.fixture(scope="module")
def seq(chr22_block: str) -> str:
    """60 nt of real chr22 sequence."""
    return chr22_block[5_000:5_060]


def test_unknown_option_is_one_line(capsys):
    line = assert_user_error(run_main(capsys, "splice", "--bogus"), "--bogus")
    assert "nucleoforge splice --help" in line


def test_missing_required_option_is_one_line(capsys):
    assert_user_error(run_main(capsys, "embed", "--input", DATA / "oct4_peaks_test.fa"), "--model")


def test_missing_input_names_the_file(capsys, spliceai_folder, tmp_path):
    missing = tmp_path / "missing.fa"
    assert_user_error(run_main(capsys, "splice", "--fasta", missing, "--model", spliceai_folder, "-q"), missing)


def test_directory_input_names_it(capsys, spliceai_folder, tmp_path):
    assert_user_error(run_main(capsys, "splice", "--fasta", tmp_path, "--model", spliceai_folder, "-q"), tmp_path)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files without read permission")
def test_unreadable_input_names_the_file(capsys, spliceai_folder, tmp_path):
    fasta = tmp_path / "locked.fa"
    fasta.write_text((DATA / "oct4_peaks_test.fa").read_text())
    fasta.chmod(0)
    assert_user_error(run_main(capsys, "splice", "--fasta", fasta, "--model", spliceai_folder, "-q"), fasta)


def test_non_utf8_input_names_file_and_line(capsys, spliceai_folder, tmp_path):
    """A latin-1 FASTA (an accented header on line 3): the file, the line and what to do."""
    peaks = (DATA / "oct4_peaks_test.fa").read_text().splitlines()[:4]
    fasta = tmp_path / "latin1.fa"
    fasta.write_bytes("\n".join([*peaks[:2], peaks[2] + " café", peaks[3]]).encode("latin-1") + b"\n")
    line = assert_user_error(run_main(capsys, "splice", "--fasta", fasta, "--model", spliceai_folder, "-q"), f"{fasta}:3")
    assert "not UTF-8" in line


def test_duplicate_fasta_record_names_the_file_and_record(capsys, spliceai_folder, tmp_path):
    peaks = (DATA / "oct4_peaks_test.fa").read_text().splitlines()
    fasta = tmp_path / "dup.fa"
    fasta.write_text("\n".join(peaks[:4] + peaks[:2]) + "\n")
    name = peaks[0][1:].split()[0]
    assert_user_error(run_main(capsys, "splice", "--fasta", fasta, "--model", spliceai_folder, "-q"),
                      f"{fasta}:5", repr(name), "duplicate")


def test_unwritable_output_names_the_path(capsys, spliceai_folder, tmp_path, seq):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    out = blocker / "out.tsv"
    assert_user_error(run_main(capsys, "splice", seq, "--model", spliceai_folder, "-o", out, "-q"), out)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("command", ["splice", "fill-mask"])
def test_device_cuda_without_cuda_names_the_option(capsys, spliceai_folder, splicebert_folder, seq, command):
    model = spliceai_folder if command == "splice" else splicebert_folder
    text = seq if command == "splice" else seq[:20] + "<mask>" + seq[21:]
    line = assert_user_error(run_main(capsys, command, text, "--model", model, "--device", "cuda"), "'--device'", "CUDA")
    assert "--device cpu" in line


def test_bad_device_string_names_the_option(capsys, spliceai_folder, seq):
    assert_user_error(run_main(capsys, "splice", seq, "--model", spliceai_folder, "--device", "gpu"), "'--device'", "'gpu'")


# every option that counts something (windows, steps, samples…) must be positive, in every command
_BATCH_SIZE_COMMANDS = [
    ["fill-mask"], ["embed"], ["variant-effect"], ["splice"], ["variants"], ["evaluate-splice"], ["pretrain"],
    ["finetune"], ["genebert", "build-regions"], ["genebert", "pretrain"],
]


@pytest.mark.parametrize("command", _BATCH_SIZE_COMMANDS, ids=" ".join)
def test_batch_size_zero_is_refused_by_every_command(capsys, command):
    line = assert_user_error(run_main(capsys, *command, "--batch-size", "0"), "'--batch-size'")
    assert "greater than or equal to 1" in line or ">=1" in line


@pytest.mark.parametrize("option", ["--chunk-size", "--window", "--stride", "--max-steps", "--save-steps", "--grad-accum"])
def test_other_counts_must_be_positive(capsys, option):
    command = {"--chunk-size": "variants", "--window": "embed", "--stride": "embed"}.get(option, "pretrain")
    assert_user_error(run_main(capsys, command, option, "0"), f"'{option}'")


def _boom(*args, **kwargs):
    raise RuntimeError("boom: an internal failure")


def test_unexpected_failure_is_one_line_exit_1(capsys, monkeypatch):
    from nucleoforge.cli import lm

    monkeypatch.setattr(lm, "model_table", _boom)
    result = run_main(capsys, "info")
    assert result.code == 1
    assert result.err_lines == ["error: internal error: RuntimeError: boom: an internal failure "
                                "(run with --debug for the traceback)"]
    assert "Traceback" not in result.err


@pytest.mark.parametrize("how", ["--debug", "NUCLEOFORGE_DEBUG=1"])
def test_debug_prints_the_traceback(capsys, monkeypatch, how):
    from nucleoforge.cli import lm

    monkeypatch.setattr(lm, "model_table", _boom)
    if how == "--debug":
        result = run_main(capsys, "--debug", "info")
    else:
        monkeypatch.setenv("NUCLEOFORGE_DEBUG", "1")
        result = run_main(capsys, "info")
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.err and "in _boom" in result.err
    assert result.err_lines[-1] == "error: internal error: RuntimeError: boom: an internal failure"


def test_debug_traceback_for_a_user_error_too(capsys, spliceai_folder, tmp_path):
    result = run_main(capsys, "--debug", "splice", "--fasta", tmp_path / "missing.fa", "--model", spliceai_folder)
    assert result.code == 2 and "Traceback" in result.err
    assert result.err_lines[-1].startswith("error: ") and "missing.fa" in result.err_lines[-1]


@pytest.mark.parametrize("where", ["after the command", "before the command"])
def test_quiet_splice_prints_nothing_on_stderr(spliceai_folder, seq, where):
    """A successful ``splice -q`` in a fresh process: the TSV on stdout, stderr empty (no weight-loading bar)."""
    args = ["splice", seq, "--model", spliceai_folder, "-q"] if where == "after the command" else \
        ["-q", "splice", seq, "--model", spliceai_folder]
    result = run_exe(*args)
    assert result.code == 0, result.err
    assert result.err == ""
    rows = result.out.splitlines()
    assert rows[0].split("\t") == ["name", "position", "acceptor", "donor"] and len(rows) == 1 + len(seq)


def test_quiet_state_ends_with_the_command(capsys, spliceai_folder, seq):
    """In one process (as in tests), ``-q`` does not leak into the next command."""
    from transformers.utils import logging as hf_logging

    from nucleoforge.cli import boundary

    assert run_main(capsys, "-q", "splice", seq, "--model", spliceai_folder).code == 0
    assert not boundary.is_quiet() and hf_logging.is_progress_bar_enabled()


def test_every_command_with_progress_accepts_quiet():
    """``-q/--quiet`` is spelled the same in every command that can show a progress bar."""
    import typer.main

    from nucleoforge.cli import app

    group = typer.main.get_command(app)
    assert any("-q" in p.opts for p in group.params)  # the global one
    missing = []
    for name, cmd in group.commands.items():
        for sub_name, sub in (getattr(cmd, "commands", None) or {name: cmd}).items():
            if name in ("info", "convert", "export"):
                continue
            if not any("-q" in p.opts and "--quiet" in p.opts for p in sub.params):
                missing.append(f"{name} {sub_name}".strip())
    assert not missing, missing


def test_check_device_on_a_machine_with_one_gpu(monkeypatch):
    """With CUDA present: ``cuda`` / ``cuda:0`` pass, ``cuda:3`` names the option and the device count."""
    import torch
    import typer

    from nucleoforge.cli.boundary import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_device("cuda") == "cuda" and check_device("cuda:0") == "cuda:0" and check_device(None) is None
    with pytest.raises(typer.BadParameter, match=r"'cuda:3': there are only 1 CUDA device\(s\)"):
        check_device("cuda:3")


# ---------------------------------------------------------------------------- who is at fault: exit 2 or 1
def _raise(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.mark.parametrize("exc", [ValueError("a bug: bad index"), KeyError("weights.bias"), TypeError("a bug: None + 1")],
                         ids=["ValueError", "KeyError", "TypeError"])
def test_a_bare_builtin_error_is_an_internal_error(capsys, monkeypatch, exc):
    """A ``ValueError``/``KeyError``/``TypeError`` that is not a ``NucleoforgeError`` is a bug: exit 1, one line."""
    from nucleoforge.cli import lm

    monkeypatch.setattr(lm, "model_table", _raise(exc))
    result = run_main(capsys, "info")
    name = type(exc).__name__
    text = "weights.bias" if name == "KeyError" else str(exc)
    assert result.code == 1
    assert result.err_lines == [f"error: internal error: {name}: {text} (run with --debug for the traceback)"]


def test_a_nucleoforge_error_is_a_user_error(capsys, monkeypatch):
    from nucleoforge.cli import lm
    from nucleoforge.errors import NucleoforgeError

    monkeypatch.setattr(lm, "model_table", _raise(NucleoforgeError("x.vcf:3: expected 8 columns, found 1")))
    assert assert_user_error(run_main(capsys, "info")) == "error: x.vcf:3: expected 8 columns, found 1"


def test_an_os_error_on_a_path_the_user_gave_is_a_user_error(capsys, monkeypatch, spliceai_folder, tmp_path):
    """The OS refuses to read ``--fasta`` (root reads any file, so the refusal is injected where it is opened)."""
    from nucleoforge.io import fasta as fasta_module

    given = tmp_path / "peaks.fa"
    given.write_text(">a\nACGT\n")
    monkeypatch.setattr(fasta_module, "has_records", _raise(PermissionError(13, "Permission denied", str(given))))
    line = assert_user_error(run_main(capsys, "splice", "--fasta", given, "--model", spliceai_folder, "-q"))
    assert line == f"error: {given}: Permission denied"


def test_a_file_written_beside_an_output_is_the_users_path(tmp_path):
    """An output's temporary file (``OUT.tmpXXXX``), a file inside a folder argument, an output's missing
    parent and a full disk are the user's to fix; a file elsewhere is not."""
    import errno

    from nucleoforge.cli.boundary import is_user_error

    out, folder = tmp_path / "out.vcf", tmp_path / "model"
    args = ["variants", "-O", str(out), f"--model={folder}"]

    def err(path):
        return OSError(errno.EACCES, "Permission denied", str(path))

    assert is_user_error(err(f"{out}.tmp1a2b"), args) and is_user_error(err(folder / "config.json"), args)
    assert is_user_error(err(tmp_path), args) and is_user_error(OSError(errno.ENOSPC, "No space left on device"), args)
    assert not is_user_error(err(tmp_path / "other.vcf"), args) and not is_user_error(OSError("no file"), args)


def test_an_os_error_not_about_a_user_path_is_an_internal_error(capsys, monkeypatch, spliceai_folder, tmp_path):
    """A gzip reference is decompressed into the cache folder: a cache that cannot be made is the
    environment's failure (exit 1), not the user's input (the reference, named on the command line)."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(blocker / "cache"))
    result = run_main(capsys, "splice", "-r", "22:20000001-20000100", "-R", DATA / "GRCh37_chr22_20000001-21000000.fa.gz",
                      "--model", spliceai_folder, "-q")
    assert result.code == 1, result.err
    (line,) = result.err_lines
    assert line.startswith("error: internal error: NotADirectoryError: ") and str(blocker) in line
    assert line.endswith(" (run with --debug for the traceback)")
