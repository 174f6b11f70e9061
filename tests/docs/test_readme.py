"""The README's code blocks run as written: its Python blocks here, its shell commands on the docs
pages that run them (each command line of the README appears in a block that the docs tests run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.docs.conftest import DOCS, REPO, doc_pages, page_blocks, prepare_page_dir

README = REPO / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


def test_readme_starts_with_the_two_set_up_commands_and_fits_on_a_screen() -> None:
    text = README.read_text()
    assert FENCE.search(text).group(2) == "make demo\nmake test\n"
    assert len(text.splitlines()) <= 300


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    cwd = prepare_page_dir(tmp_path / "readme")
    for body in _blocks("python"):
        done = subprocess.run([sys.executable, "-c", body], cwd=cwd, capture_output=True, text=True, timeout=600,
                              env={"HF_HUB_OFFLINE": "1", "PATH": str(Path(sys.executable).parent)})
        assert done.returncode == 0, done.stderr[-2000:]


def test_readme_commands_are_run_by_the_docs_pages() -> None:
    """Every `nucleoforge …`/`curl …` line of the README stands in a docs block that runs (not skipped)."""
    ran = "\n".join(b.source for page in doc_pages() for b in page_blocks(page) if b.runs and not b.skip)
    # `pip install …` lines: the install route that tests/test_wheel_install.py runs (slow tier)
    commands = [line.strip() for body in _blocks("bash")[1:] for line in body.splitlines()
                if line.strip() and not line.startswith("pip ")]
    assert commands, "the README shows commands"
    missing = [c for c in commands if c not in ran]
    assert missing == [], f"README commands that no docs block runs: {missing} (docs in {DOCS})"
