"""The documentation site builds with ``mkdocs build --strict`` and loads nothing from the network.

``--strict`` turns every warning into a failure; mkdocs.yml's ``validation`` makes a broken link,
a missing anchor or a page left out of the nav a warning, and mkdocstrings warns on an API name
that does not resolve. The built HTML must not reference remote scripts, stylesheets or fonts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: a remote URL loaded by the page (not a plain hyperlink): script/img/iframe src, link href, CSS url()/@import
REMOTE_ASSET = re.compile(
    r"""<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref=["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//"""
    r"""|@import\s+["'](?:https?:)?//""",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(REPO / "mkdocs.yml"), "-d", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def test_site_builds_strict(site: Path) -> None:
    for page in ("index.html", "reference/cli.html", "reference/api.html", "getting-started/first-vcf.html"):
        assert (site / page).is_file(), page


def test_cli_reference_is_generated(site: Path) -> None:
    html = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    for command in ("nucleoforge variants", "nucleoforge serve", "nucleoforge genebert pretrain", "nucleoforge convert spliceai"):
        assert command in html, command
    assert "--reference" in html and "cli-reference" not in html


def test_no_remote_assets(site: Path) -> None:
    hits = []
    for path in site.rglob("*"):
        if path.suffix in {".html", ".css", ".js"}:
            for match in REMOTE_ASSET.finditer(path.read_text(encoding="utf-8", errors="replace")):
                hits.append(f"{path.relative_to(site)}: {match.group(0)[:80]}")
    assert hits == []
