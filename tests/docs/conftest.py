"""The docs-block harness: every fenced code block under ``docs/`` runs as part of the test suite.

Blocks are found by sybil (``sybil.Sybil`` with one parser, :class:`DocBlockParser`, built on
sybil's Markdown fence lexer), then run page by page, in page order, by
``tests/docs/test_blocks.py``:

* ```` ```python ```` blocks are executed in one namespace per page; a block that starts with
  ``>>>`` is a doctest and its printed output is compared (ELLIPSIS, NORMALIZE_WHITESPACE);
* ```` ```console ```` (or ``bash``/``shell``/``sh``) blocks hold ``$ command`` lines (a trailing
  ``\\`` continues a command on the next line); each command runs through ``bash`` and must exit
  0 (or the code of an ``exit: N`` marker). The lines after a command, up to the next ``$``, are
  its expected output (stdout and stderr together, as in a terminal), compared only when the
  block is marked ``check-output``: a line ``...`` stands for any number of lines, ``...`` inside
  a line for any text;
* ```` ```text ```` (and every other language) is a listing and is never run; a fence without a
  language is an error (so nothing is left out by accident).

Each page runs in its own temporary folder whose ``examples`` is a link to the repository's
``examples/``, so blocks read the bundled data as ``examples/data/...`` and write only there.
A block that starts a background server writes its process id to a ``*.pid`` file in that
folder; the process is stopped when the page ends, whatever happened.

Markers, HTML comments on the line(s) right before a block (invisible on the site), combined
freely (``<!-- slow; check-output -->``):

``<!-- skip: REASON -->``
    never run here (no GPU, the original release download, a cluster, ...); reported as a
    skipped test with the reason.
``<!-- slow -->``
    takes minutes: run only in the slow tier (``-m slow``, ``make test-all``), with the page's
    other blocks.
``<!-- check-output -->``
    compare the output with the block's listing (a python block: what it prints, with the
    ```` ```text ```` block right after it).
``<!-- exit: N -->``
    the command is expected to fail with exit status N (the error pages).
``<!-- pending: WHAT -->``
    a feature still being built: the block is tried; if it fails, the rest of the page is
    skipped, naming WHAT (remove the marker once the feature has landed).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sybil import Document, Region, Sybil
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent

#: languages whose blocks run; every other language is a listing
PYTHON = {"python", "py", "pycon"}
SHELL = {"console", "bash", "shell", "sh"}
MARKER = re.compile(r"<!--\s*(.*?)\s*-->\s*$", re.DOTALL)
KNOWN_MARKERS = {"skip", "slow", "check-output", "exit", "pending"}
#: the longest a single shell command may run
COMMAND_TIMEOUT_S = 900


class PendingFeature(Exception):
    """A block marked ``pending`` failed: the feature it documents has not landed yet."""


@dataclass
class Block:
    """One fenced code block of a page and its markers."""

    page: str  # path relative to docs/
    line: int  # 1-based line of the opening fence
    language: str
    source: str
    markers: dict[str, str] = field(default_factory=dict)
    #: the source of the ```text block right after this one, if any (a python block's listed output)
    listing: str | None = None

    @property
    def runs(self) -> bool:
        return self.language in PYTHON or self.language in SHELL

    @property
    def skip(self) -> str | None:
        return self.markers.get("skip")

    @property
    def slow(self) -> bool:
        return "slow" in self.markers

    @property
    def pending(self) -> str | None:
        return self.markers.get("pending")

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def parse_markers(text_before: str, where: str) -> dict[str, str]:
    """The markers of the HTML comments directly above a block (only blank lines between)."""
    markers: dict[str, str] = {}
    lines = text_before.rstrip().splitlines()
    while lines and lines[-1].strip().endswith("-->"):
        # gather one (possibly multi-line) comment
        chunk = [lines.pop()]
        while "<!--" not in chunk[0] and lines:
            chunk.insert(0, lines.pop())
        match = MARKER.search("\n".join(chunk).strip())
        if match is None:
            break
        # markers are separated by ";" (a reason may hold ";" too: only a known marker name starts a new one)
        for item in re.split(r";\s*(?=(?:" + "|".join(map(re.escape, KNOWN_MARKERS)) + r")\b)", match.group(1)):
            item = " ".join(item.split())
            if not item:
                continue
            key, _, value = item.partition(":")
            key = key.strip()
            if key not in KNOWN_MARKERS:
                raise ValueError(f"{where}: unknown docs-block marker {key!r} (known: {sorted(KNOWN_MARKERS)})")
            markers[key] = value.strip()
        while lines and not lines[-1].strip():
            lines.pop()
    return markers


class DocBlockParser:
    """A sybil parser: one region per fenced block, its ``parsed`` value a :class:`Block`."""

    def __init__(self) -> None:
        self.lexer = RawFencedCodeBlockLexer(info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE))

    def __call__(self, document: Document) -> Iterable[Region]:
        page = Path(document.path).resolve().relative_to(DOCS).as_posix()
        regions = list(self.lexer(document))
        blocks = []
        for lexed in regions:
            info = str(lexed.lexemes["info"]).strip()
            line = document.text.count("\n", 0, lexed.start) + 1
            language = info.split()[0].strip("{}.").lower() if info else ""
            blocks.append(Block(
                page=page,
                line=line,
                language=language,
                source=str(lexed.lexemes["source"]),
                markers=parse_markers(document.text[: lexed.start], f"docs/{page}:{line}"),
            ))
        for i, (lexed, block) in enumerate(zip(regions, blocks)):
            following = blocks[i + 1] if i + 1 < len(blocks) else None
            between = document.text[lexed.end: regions[i + 1].start] if following else ""
            if following is not None and following.language == "text" and not between.strip():
                block.listing = following.source
            yield Region(lexed.start, lexed.end, parsed=block, evaluator=evaluate_block)


SYBIL = Sybil(parsers=[DocBlockParser()], path=str(DOCS), patterns=["**/*.md"])


def doc_pages() -> list[str]:
    """Every Markdown page under docs/, relative to it, sorted."""
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def page_blocks(page: str) -> list[Block]:
    """The fenced blocks of one page, in order."""
    document = SYBIL.parse(DOCS / page)
    return [example.parsed for example in document]


# ---------------------------------------------------------------- running blocks


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        COLUMNS="100",
        TERM="dumb",
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("FORCE_COLOR", None)
    return env


def split_commands(source: str, where: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines (``\\`` continues one) and the output lines listed after each."""
    commands: list[tuple[str, list[str]]] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ ") or line == "$":
            cmd = [line[2:]]
            while cmd[-1].rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd.append(lines[i])
            commands.append(("\n".join(cmd), []))
        elif commands:
            commands[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"{where}: a shell block must start with a `$ ` command line, got {line!r} "
                                 "(write listings as ```text)")
        i += 1
    if not commands:
        raise AssertionError(f"{where}: a shell block without a `$ ` command (write listings as ```text)")
    return commands


def output_matches(expected: list[str], actual: str) -> bool:
    """``expected`` lines against ``actual`` (trailing spaces ignored); ``...`` is a wildcard."""
    parts = []
    for line in expected:
        line = line.rstrip()
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(p) for p in line.split("...")) + r"\n")
    while parts and parts[-1] == r"\n":
        parts.pop()
    text = "\n".join(l.rstrip() for l in actual.rstrip("\n").splitlines()) + "\n"
    if not actual.strip():
        text = ""
    return re.fullmatch("".join(parts), text) is not None


def run_shell(block: Block, cwd: Path) -> None:
    expected_code = int(block.markers.get("exit", "0") or 0)
    for command, expected in split_commands(block.source, block.where):
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=COMMAND_TIMEOUT_S,
        )
        shown = f"$ {command}\n{done.stdout}"
        if done.returncode != expected_code:
            raise AssertionError(f"{block.where}: exit status {done.returncode}, expected {expected_code}:\n{shown}")
        if "check-output" in block.markers and not output_matches(expected, done.stdout):
            raise AssertionError(
                f"{block.where}: output differs from the listing.\n--- listed:\n" + "\n".join(expected)
                + f"\n--- got:\n{done.stdout}"
            )


def run_python(block: Block, namespace: dict[str, Any]) -> None:
    source = block.source
    if source.lstrip().startswith(">>>"):
        parser = doctest.DocTestParser()
        test = parser.get_doctest(source, namespace, block.where, str(DOCS / block.page), block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        if runner.failures:
            raise AssertionError(f"{block.where}: doctest failed:\n" + "".join(report))
        return
    # pad so that tracebacks show the page's own line numbers
    code = compile("\n" * block.line + source, str(DOCS / block.page), "exec")
    if "check-output" not in block.markers:
        exec(code, namespace)
        return
    if block.listing is None:
        raise AssertionError(f"{block.where}: check-output on a python block needs a ```text block right after it")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, namespace)
    if not output_matches(block.listing.splitlines(), printed.getvalue()):
        raise AssertionError(f"{block.where}: printed output differs from the listing.\n--- listed:\n"
                             f"{block.listing}--- got:\n{printed.getvalue()}")


def evaluate_block(example: Any) -> None:
    """The sybil evaluator: run one block in its page's namespace (``example.namespace``)."""
    block: Block = example.parsed
    namespace = example.namespace
    cwd = Path(namespace["__docs_cwd__"])
    try:
        if block.language in PYTHON:
            run_python(block, namespace)
        elif block.language in SHELL:
            run_shell(block, cwd)
    except Exception as exc:
        if block.pending:
            raise PendingFeature(f"{block.where}: pending ({block.pending}): {exc}") from exc
        raise


def prepare_page_dir(tmp: Path) -> Path:
    """A fresh working folder for one page, with ``examples`` linked to the repository's."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "examples").symlink_to(EXAMPLES, target_is_directory=True)
    return tmp


def iter_examples(page: str) -> Iterator[Any]:
    """The sybil examples of one page, in order (they share ``document.namespace``)."""
    document = SYBIL.parse(DOCS / page)
    yield from document


def stop_background(cwd: Path) -> None:
    """Stop the processes whose ids a page wrote to ``*.pid`` files in its folder."""
    import signal

    for pid_file in cwd.glob("*.pid"):
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            pass
