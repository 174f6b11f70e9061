"""Every code block of docs/ runs (harness: tests/docs/conftest.py).

One test per page runs its blocks in order in a fresh folder and one namespace; pages with
blocks marked ``slow`` are run again, whole, in the slow tier; every block marked ``skip`` is
reported as a skipped test with its reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.conftest import DOCS, PendingFeature, doc_pages, iter_examples, page_blocks, prepare_page_dir, stop_background

PAGES = doc_pages()
BLOCKS = {page: page_blocks(page) for page in PAGES}


def _runs_here(page: str, slow: bool) -> bool:
    return any(b.runs and not b.skip and (slow or not b.slow) for b in BLOCKS[page])


def run_page(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, include_slow: bool) -> int:
    """Run the page's blocks in order; returns how many ran."""
    cwd = prepare_page_dir(tmp_path / "page")
    monkeypatch.chdir(cwd)
    ran = 0
    try:
        for example in iter_examples(page):
            block = example.parsed
            if not block.runs or block.skip or (block.slow and not include_slow):
                continue
            example.namespace["__docs_cwd__"] = str(cwd)
            try:
                example.evaluate()
            except PendingFeature as exc:
                pytest.skip(f"{exc}\n(the rest of docs/{page} needs it)")
            ran += 1
    finally:
        stop_background(cwd)
    return ran


@pytest.mark.parametrize("page", [p for p in PAGES if _runs_here(p, slow=False)])
def test_page_blocks(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_page(page, tmp_path, monkeypatch, include_slow=False) > 0


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if any(b.runs and b.slow and not b.skip for b in BLOCKS[p])])
def test_page_blocks_slow(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_page(page, tmp_path, monkeypatch, include_slow=True) > 0


@pytest.mark.parametrize(
    "where,reason",
    [(b.where, b.skip) for p in PAGES for b in BLOCKS[p] if b.runs and b.skip],
)
def test_skipped_block(where: str, reason: str) -> None:
    pytest.skip(f"{where} not run here: {reason}")


def test_every_block_is_classified() -> None:
    """A fence without a language would silently never run; a shell block needs `$ ` prompts."""
    unlabeled = [b.where for p in PAGES for b in BLOCKS[p] if not b.language]
    assert unlabeled == [], f"fenced blocks without a language (use ```text for listings): {unlabeled}"
    skipped_without_reason = [b.where for p in PAGES for b in BLOCKS[p] if "skip" in b.markers and not b.skip]
    assert skipped_without_reason == [], f"skip markers need a reason: {skipped_without_reason}"


def test_docs_use_bundled_paths_only() -> None:
    """Blocks read the bundled data (examples/data), never a path outside the repository."""
    bad = [b.where for p in PAGES for b in BLOCKS[p] if b.runs and ("../shared" in b.source or "/work/" in b.source)]
    assert bad == []


def test_pages_exist() -> None:
    assert (DOCS / "index.md").is_file() and len(PAGES) >= 20
