"""The layout rules of docs/explanation/architecture.md, checked on the import graph of the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("nucleoforge", include_external_packages=False, cache_dir=None)


def test_import_linter_contracts_pass():
    """The layers and forbidden-import contracts in pyproject.toml (`lint-imports`)."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is not installed (it is in the test extra: pip install -e '.[test]')")
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_import_cycles(graph):
    """No module reaches itself through imports (function-level imports included)."""
    modules = sorted(graph.modules)
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i in graph.modules} for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for m in modules:
        if m not in index:
            visit(m)
    assert cycles == []


def test_models_read_no_files_but_checkpoints(graph):
    """models/ may use io/ only to load checkpoints (a TensorFlow GraphDef is one), to fetch an original
    release archive (io.downloads) and to find the cache folder."""
    allowed = {"nucleoforge.io", "nucleoforge.io.checkpoints", "nucleoforge.io.cache", "nucleoforge.io.tf_graphdef",
               "nucleoforge.io.downloads"}
    bad = sorted(
        (m, i)
        for m in graph.find_descendants("nucleoforge.models")
        for i in graph.find_modules_directly_imported_by(m)
        if i.startswith("nucleoforge.io") and i not in allowed
    )
    assert bad == []


def test_nothing_imports_the_package_root(graph):
    """The root ``nucleoforge`` (lazy names, Auto registration) sits above every layer."""
    assert sorted(graph.find_modules_that_directly_import("nucleoforge")) == []
