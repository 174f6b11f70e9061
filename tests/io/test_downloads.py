"""Original releases by URL (issue 24, part 4): fetched once by pooch from a real HTTP server on
127.0.0.1, unpacked safely, converted; a crafted archive and a wrong checksum are refused."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nucleoforge.io.checkpoints import CheckpointError
from nucleoforge.io.downloads import release_folder
from tests.cli.runner import invoke

ORIGINAL = Path(__file__).resolve().parents[1] / "fixtures" / "multimolecule" / "splicebert_original" / "original"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log on stderr
        pass


@pytest.fixture()
def served(tmp_path):
    """``(folder, base URL, hits)``: files in ``folder`` over HTTP on 127.0.0.1, a bounded loop
    (at most 50 requests or 120 s) that stops by itself; ``hits`` counts the requests."""
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(_Quiet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            super().do_GET()

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 0.2
    stop = threading.Event()
    deadline = time.monotonic() + 120

    def loop() -> None:
        while not stop.is_set() and len(hits) < 50 and time.monotonic() < deadline:
            server.handle_request()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", hits
    stop.set()
    thread.join(timeout=5)
    server.server_close()


def _tar(path: Path, members: dict[str, Path | bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, src in members.items():
            if isinstance(src, Path):
                tf.add(src, arcname=name)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(src)
                tf.addfile(info, io.BytesIO(src))
    return path


def test_convert_a_release_archive_by_url_once(served, tmp_path, monkeypatch):
    root, url, hits = served
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path / "cache"))
    _tar(root / "models.tar.gz", {"models/SpliceBERT.1024nt": ORIGINAL, "models/SpliceBERT.510nt": ORIGINAL})
    # two models in the archive: one line that lists them and says how to pick
    r = invoke(["convert", "splicebert", f"{url}/models.tar.gz", tmp_path / "a"])
    lines = [line for line in r.stderr.splitlines() if line.startswith(("error", "downloaded"))]
    assert r.exit_code == 2 and lines[0].startswith(f"downloaded {url}/models.tar.gz into ") and lines[1:] == [
        f"error: {url}/models.tar.gz: the archive holds 2 checkpoint folders (models/SpliceBERT.1024nt, "
        "models/SpliceBERT.510nt); pick one by ending the URL with #FOLDER, e.g. #models/SpliceBERT.1024nt"], r.output
    r = invoke(["convert", "splicebert", f"{url}/models.tar.gz#models/SpliceBERT.1024nt", tmp_path / "by-url"])
    assert r.exit_code == 0, r.output
    assert hits == ["/models.tar.gz"]  # downloaded once: the second command read the cache
    r = invoke(["convert", "splicebert", ORIGINAL, tmp_path / "local"])
    assert r.exit_code == 0, r.output
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("by-url", "local"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_archive_member_outside_the_folder_is_refused(served, tmp_path, monkeypatch):
    root, url, _ = served
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path / "cache"))
    _tar(root / "evil.tar.gz", {"model/config.json": b"{}", "../escaped.txt": b"x"})
    with pytest.raises(CheckpointError, match=r"evil\.tar\.gz: .*escaped\.txt.*the archive is refused"):
        release_folder(f"{url}/evil.tar.gz", progress=False)
    assert not list((tmp_path / "cache").rglob("escaped.txt")) and not (tmp_path / "escaped.txt").exists()


def test_a_wrong_checksum_is_refused(served, tmp_path, monkeypatch):
    root, url, _ = served
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path / "cache"))
    _tar(root / "models.tar.gz", {"m": ORIGINAL})
    with pytest.raises(CheckpointError, match="the download's sha256 is not the expected 000000"):
        release_folder(f"{url}/models.tar.gz", sha256="0" * 64, progress=False)
    r = invoke(["convert", "splicebert", f"{url}/models.tar.gz", tmp_path / "out", "--sha256", "0" * 64])
    assert r.exit_code == 2 and [line for line in r.stderr.splitlines() if line.startswith("error")] == [
        f"error: {url}/models.tar.gz: the download's sha256 is not the expected {'0' * 64} "
        + r.stderr.split(f"expected {'0' * 64} ", 1)[1].split("\n")[0]]
    assert not (tmp_path / "out").exists()


def test_google_drive_is_one_line_on_downloading_by_hand(tmp_path):
    r = invoke(["convert", "rnaernie", "https://drive.google.com/drive/folders/abc", tmp_path / "out"])
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert "a Google Drive link, which plain HTTP downloaders cannot fetch" in r.stderr
    assert "download it by hand in a browser, unpack it, and pass that folder" in r.stderr
