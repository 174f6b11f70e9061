"""Run the real command line — ``nucleoforge.cli.main`` in this process, or the installed
``nucleoforge`` executable in a fresh one — and check the error boundary's contract.

``typer.testing.CliRunner`` on ``app`` bypasses ``main`` (and so the boundary): these helpers do not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("nucleoforge")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_main(capsys: pytest.CaptureFixture, *args: object) -> Result:
    """``nucleoforge ARGS`` through :func:`nucleoforge.cli.main` in this process."""
    from nucleoforge.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    code = done.value.code
    return Result(0 if code is None else int(code), captured.out, captured.err)


def run_exe(*args: object, env: dict[str, str] | None = None, timeout: float = 300) -> Result:
    """``nucleoforge ARGS`` as a fresh process (the console script of this environment)."""
    full_env = {k: v for k, v in os.environ.items() if k != "NUCLEOFORGE_DEBUG"}
    full_env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})})
    exe = str(EXE) if EXE.exists() else None
    cmd = [exe] if exe else [sys.executable, "-c", "from nucleoforge.cli import main; main()"]
    done = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout)
    return Result(done.returncode, done.stdout, done.stderr)


def assert_user_error(result: Result | Invoked, *names: object) -> str:
    """Exit status 2 and stderr exactly one ``error: …`` line naming each of ``names``; returns the line."""
    assert result.code == 2, f"exit {result.code}, stderr:\n{result.err}"
    lines = result.err_lines
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.err}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in result.err and not line.startswith("error: internal error:"), line
    for name in names:
        assert str(name) in line, f"{name!r} not named in: {line}"
    return line


# ---------------------------------------------------------------------------- tiny saved models
@pytest.fixture(scope="session")
def spliceai_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SpliceAI ensemble saved with ``save_pretrained`` (a complete, valid folder)."""
    import torch

    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("spliceai_folder")
    SpliceAIModel(SpliceAIConfig(stages=[(1, 3, 1), (1, 3, 2)], channels=4, num_members=2)).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def splicebert_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SpliceBERT masked LM and its tokenizer, saved (a folder of another model type for SpliceAI)."""
    from tests.pipelines.conftest import build_model

    model, tokenizer = build_model("splicebert")
    path = tmp_path_factory.mktemp("splicebert_folder")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@dataclass
class Invoked:
    """``CliRunner``-shaped result (``exit_code``, ``output`` = stdout then stderr) of :func:`invoke`."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    # the names of :class:`Result`, so that :func:`assert_user_error` takes either
    @property
    def code(self) -> int:
        return self.exit_code

    @property
    def err(self) -> str:
        return self.stderr

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def invoke(args: list[object]) -> Invoked:
    """``nucleoforge ARGS`` through the error boundary (:func:`nucleoforge.cli.boundary.run`) in this
    process, without pytest's capture fixtures: for tests written against ``CliRunner`` results."""
    import contextlib
    import io

    from nucleoforge.cli.boundary import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in args])
    return Invoked(code, out.getvalue(), err.getvalue())
