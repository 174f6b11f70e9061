"""Original releases by URL: downloaded once into the cache by ``pooch`` (progress bar, checksum
when known), unpacked safely, and the model folder inside picked out.

``https://…/models.tar.gz`` is fetched into ``<cache>/downloads/`` (again only if it is not there,
or its checksum differs), unpacked into ``<cache>/releases/<sha256 prefix>/`` with tarfile's
``data`` filter (no member outside the folder, no links out of it, no devices; a zip is checked the
same way) and the one folder of the archive that holds a checkpoint is returned; where there are
several (SpliceBERT's tarball holds three models), ``#path/inside`` at the end of the URL picks one.

>>> is_url("https://zenodo.org/records/7995778/files/models.tar.gz"), is_url("models/SpliceBERT.1024nt")
(True, False)
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from nucleoforge.io.cache import cache_dir
from nucleoforge.io.checkpoints import CheckpointError
from nucleoforge.io.checkpoints import sha256 as file_sha256

__all__ = ["is_url", "release_folder", "KNOWN_SHA256"]

#: sha256 of original release files whose checksum is published or was recorded here (URL -> hash)
KNOWN_SHA256: dict[str, str] = {}
#: files that mark a checkpoint folder inside an archive
_CHECKPOINT_FILES = ("config.json", "pytorch_model.bin", "model.safetensors", "model_state.pdparams")
_DRIVE_HOSTS = ("drive.google.com", "docs.google.com")


def is_url(text: str) -> bool:
    return str(text).startswith(("https://", "http://"))


def _fetch(url: str, known: str | None, progress: bool) -> tuple[Path, bool]:
    """The downloaded file (pooch: once, into ``<cache>/downloads``, checksum ``known`` verified when
    given), and whether it was downloaded now."""
    import pooch

    host = urlsplit(url).hostname or ""
    if host in _DRIVE_HOSTS:
        raise CheckpointError(f"{url}: a Google Drive link, which plain HTTP downloaders cannot fetch (it answers with a "
                              "confirmation page); download it by hand in a browser, unpack it, and pass that folder")
    name = PurePosixPath(urlsplit(url).path).name or "download"
    fname = hashlib.sha256(url.encode()).hexdigest()[:12] + "-" + name  # one file per URL
    folder = cache_dir() / "downloads"
    fresh = not (folder / fname).exists()
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # its own lines tell developers to pass known_hash; ours below says what happened
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{known}" if known else None, fname=fname, path=folder,
                              progressbar=progress)
    except ValueError as exc:  # pooch: the hash differs (the partial/bad file is not kept)
        raise CheckpointError(f"{url}: the download's sha256 is not the expected {known} ({exc}); nothing was "
                              "converted") from None
    except Exception as exc:  # noqa: BLE001  requests' connection and HTTP errors
        raise CheckpointError(f"{url}: cannot download it ({type(exc).__name__}: {exc})") from None
    finally:
        logger.setLevel(level)
    return Path(path), fresh


def _unpack(archive: Path, digest: str) -> Path:
    """``archive`` (of sha256 ``digest``) unpacked once into ``<cache>/releases/<sha256 prefix>``;
    refuses members that would land outside that folder."""
    out = cache_dir() / "releases" / digest[:16]
    done = out / ".unpacked"
    if done.exists():
        return out
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    target = (staging / member).resolve()
                    if member.startswith("/") or not target.is_relative_to(staging.resolve()):
                        raise CheckpointError(f"{archive.name}: member {member!r} would be written outside the "
                                              "folder it is unpacked into; the archive is refused")
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                try:
                    tf.extractall(staging, filter="data")
                except tarfile.FilterError as exc:
                    raise CheckpointError(f"{archive.name}: {exc}; the archive is refused") from None
        else:
            raise CheckpointError(f"{archive.name}: neither a tar nor a zip archive")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / ".unpacked").write_text(archive.name)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out


def _checkpoint_folders(root: Path) -> list[Path]:
    return sorted({p.parent for name in _CHECKPOINT_FILES for p in root.rglob(name)})


def release_folder(url: str, sha256: str | None = None, progress: bool = True) -> Path:
    """The local checkpoint folder of an original release at ``url`` (see the module docstring)."""
    base, _, inside = url.partition("#")
    known = sha256 or KNOWN_SHA256.get(base)
    path, fresh = _fetch(base, known, progress)
    digest = known or file_sha256(path)  # pooch checked a known one: the file is hashed once either way
    if fresh and progress:
        print(f"downloaded {base} into {path} (sha256 {digest}{', as expected' if known else ''})", file=sys.stderr)
    if tarfile.is_tarfile(path) or zipfile.is_zipfile(path):
        root = _unpack(path, digest)
    else:  # a single file: it is the checkpoint; its folder is what a converter reads
        root = path.parent / (path.name + ".d")
        root.mkdir(exist_ok=True)
        target = root / PurePosixPath(urlsplit(base).path).name
        if not target.exists():
            shutil.copy2(path, target)
    if inside:
        folder = (root / inside).resolve()
        if not folder.is_relative_to(root.resolve()) or not folder.is_dir():
            raise CheckpointError(f"{url}: the archive has no folder {inside!r}")
        return folder
    found = _checkpoint_folders(root)
    if len(found) == 1:
        return found[0]
    if not found:
        raise CheckpointError(f"{url}: the archive holds no checkpoint folder (none of {', '.join(_CHECKPOINT_FILES)})")
    listed = ", ".join(str(p.relative_to(root)) for p in found)
    raise CheckpointError(f"{url}: the archive holds {len(found)} checkpoint folders ({listed}); pick one by ending the "
                          f"URL with #FOLDER, e.g. #{found[0].relative_to(root)}")
