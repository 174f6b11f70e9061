"""Output folders, with the rules of :mod:`nucleoforge.io.outputs` for files:

* :func:`atomic_folder` builds an output folder in ``TARGET.tmpXXXXXXXX`` beside it and renames it
  on success (an error leaves ``TARGET`` as it was); :func:`check_output_folder` refuses a
  non-empty folder unless ``overwrite`` (``--overwrite``), and a folder that is or holds an input.
* training output folders — :func:`prepare_output_folder` refuses a non-empty folder that is not
  the command's own run being resumed; with ``--overwrite`` the run writes beside it
  (``TARGET.overwrite-tmp``) and :class:`OutputFolder` swaps that in at its first checkpoint, so
  a run that fails earlier leaves the old folder as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from nucleoforge.errors import MissingPathError, NotAFolderError, NucleoforgeError
from nucleoforge.io.outputs import PathLike, fsync_dir, is_stream

__all__ = ["check_output_folder", "atomic_folder", "OutputFolder", "prepare_output_folder", "STAGING_SUFFIX"]


def _folder_listing(folder: str, limit: int = 4) -> str:
    """``a.txt, checkpoint-3/, log.jsonl and 2 more``: what a folder holds (sub-folders end in ``/``)."""
    names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(folder))
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _holds_own_run(folder: str, resumable: Sequence[str]) -> bool:
    return any(any(Path(folder).glob(pattern)) for pattern in resumable)


def _check_replaceable(target: PathLike, *, overwrite: bool, command: Optional[str], resumable: Sequence[str],
                       option: str) -> bool:
    """Refuse (one line) a non-empty ``target`` unless ``overwrite``; ``True`` when it will be replaced."""
    text = str(target)
    if not os.path.isdir(text) or not any(os.scandir(text)):
        return False
    if overwrite:
        return True
    listing = _folder_listing(text)
    if command is not None and resumable and _holds_own_run(text, resumable):
        raise NucleoforgeError(f"{option} {target} already holds a {command} run ({listing}); "
                               "pass --resume to continue it, or --overwrite to replace it")
    raise NucleoforgeError(f"{option} {target}: folder exists and is not empty (it holds {listing}); "
                           "pass --overwrite to replace it, or choose another folder")


def _check_not_holding(target: PathLike, inputs: Sequence[Optional[PathLike]], option: str) -> None:
    real = os.path.realpath(str(target))
    for inp in inputs:
        if is_stream(inp) or not os.path.exists(inp):  # type: ignore[arg-type]
            continue
        r = os.path.realpath(inp)  # type: ignore[arg-type]
        if r == real or r.startswith(real + os.sep):
            raise NucleoforgeError(f"{option} {target} holds the input {inp}; writing the folder would delete it: "
                                   "choose another output folder")


def check_output_folder(target: PathLike, *, overwrite: bool = False, force: bool = False,
                        inputs: Sequence[Optional[PathLike]] = (), option: str = "--output") -> bool:
    """Refuse an output folder that is a file, whose parent does not exist, that is or holds one of
    ``inputs`` (replacing it would delete the input), or that exists and is not empty (unless
    ``overwrite``; ``force`` is its older name). Returns ``True`` when a non-empty folder will be
    replaced."""
    text = str(target)
    if os.path.exists(text) and not os.path.isdir(text):
        raise NotAFolderError(f"{option} {target} is a file, not a folder")
    parent = os.path.dirname(os.path.realpath(text))
    if not os.path.isdir(parent):
        raise MissingPathError(f"{option} {target}: the directory {parent} does not exist")
    _check_not_holding(target, inputs, option)
    return _check_replaceable(target, overwrite=overwrite or force, command=None, resumable=(), option=option)


def _swap_in(new: str, real: str) -> None:
    """Rename the finished folder ``new`` to ``real``; an existing ``real`` is moved aside first and
    removed only once ``new`` is in place (put back if the rename fails)."""
    parent, name = os.path.split(real)
    old: Optional[str] = None
    try:
        if os.path.exists(real):
            old = tempfile.mkdtemp(prefix=name + ".old", dir=parent)
            os.replace(real, os.path.join(old, name))
        try:
            os.replace(new, real)
        except BaseException:
            if old is not None:
                os.replace(os.path.join(old, name), real)
            raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    fsync_dir(parent)


@contextlib.contextmanager
def atomic_folder(target: PathLike, *, overwrite: bool = False, force: bool = False,
                  inputs: Sequence[Optional[PathLike]] = (), option: str = "--output") -> Iterator[Path]:
    """Yield a new temporary folder beside ``target``; on success it replaces ``target`` (an
    existing folder is removed only once the new one is in place), on an error it is removed and
    ``target`` is left as it was. :func:`check_output_folder` runs first (a non-empty ``target``
    needs ``overwrite``)."""
    check_output_folder(target, overwrite=overwrite, force=force, inputs=inputs, option=option)
    real = os.path.realpath(target)
    parent, name = os.path.split(real)
    tmp = tempfile.mkdtemp(prefix=name + ".tmp", dir=parent)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        _swap_in(tmp, real)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------- training output folders
#: suffix of the folder an ``--overwrite`` training run writes until its first checkpoint
STAGING_SUFFIX = ".overwrite-tmp"


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _barrier() -> None:
    import sys

    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()


class OutputFolder:
    """The output folder of a training run, from :func:`prepare_output_folder`.

    ``path`` is where the run writes now: ``target`` itself, or — while an ``--overwrite`` run
    has not saved its first checkpoint — the staging folder ``TARGET.overwrite-tmp`` beside it, so
    that ``target`` (the run being replaced) stays untouched until then. :meth:`commit` puts the
    staging folder in place of ``target``; :meth:`discard` removes it (a run that failed before its
    first checkpoint). Used as a context manager, an error discards and a normal end commits.
    Under torchrun every rank holds one; only rank 0 renames or removes, between barriers.
    """

    def __init__(self, target: PathLike, staging: Optional[PathLike] = None) -> None:
        self.target = Path(target)
        self.staging = Path(staging) if staging is not None else None
        self.path = self.staging if self.staging is not None else self.target

    @property
    def staged(self) -> bool:
        """``True`` while the run writes into the staging folder."""
        return self.staging is not None and self.path == self.staging

    def relocate(self, path: Optional[PathLike]) -> Optional[Path]:
        """``path`` inside the staging folder, moved to the same place inside ``target``."""
        if path is None or self.staging is None:
            return None if path is None else Path(path)
        p = Path(path)
        try:
            return self.target / p.relative_to(self.staging)
        except ValueError:
            return p

    def commit(self) -> Path:
        """Replace ``target`` by the staging folder (once; a no-op without one); returns ``target``."""
        if self.staged:
            _barrier()  # every rank has finished writing into the staging folder
            if _is_main_process():
                os.makedirs(self.staging, exist_ok=True)  # type: ignore[arg-type]
                _swap_in(str(self.staging), os.path.realpath(self.target))
            _barrier()
            self.path = self.target
        return self.target

    def discard(self) -> None:
        """Remove the staging folder of a run that stops before :meth:`commit`; ``target`` stays."""
        if self.staged and _is_main_process():
            shutil.rmtree(self.staging, ignore_errors=True)  # type: ignore[arg-type]

    def __enter__(self) -> "OutputFolder":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.commit()

    def __repr__(self) -> str:
        return f"OutputFolder(target={str(self.target)!r}, path={str(self.path)!r})"


def prepare_output_folder(path: PathLike, *, command: str, overwrite: bool = False, resume: bool = False,
                          resumable: Sequence[str] = (), inputs: Sequence[Optional[PathLike]] = (),
                          option: str = "--output") -> OutputFolder:
    """Check the output folder of a training command before anything is loaded or written.

    * a missing or empty folder, or ``resume`` (the command checks that its run is there): the
      run writes into ``path``;
    * a non-empty folder without ``overwrite``: ``NucleoforgeError``, one line naming the folder,
      what it holds and ``--overwrite`` — and ``--resume`` when it holds a run of ``command``
      (a file or folder matching one of the glob patterns ``resumable``);
    * ``overwrite`` of a non-empty folder: the run writes into ``PATH.overwrite-tmp`` beside it
      (a leftover one from an interrupted run is removed first) until :meth:`OutputFolder.commit`,
      at its first checkpoint, swaps it in. A folder that is or holds one of ``inputs`` is refused.

    ``resume`` and ``overwrite`` together are refused.
    """
    text = str(path)
    if os.path.exists(text) and not os.path.isdir(text):
        raise NotAFolderError(f"{option} {path} is a file, not a folder")
    if resume and overwrite:
        raise NucleoforgeError(f"--resume and --overwrite cannot be combined: --resume continues the run in {path}, "
                               "--overwrite replaces it")
    if resume:
        return OutputFolder(path)
    if not _check_replaceable(path, overwrite=overwrite, command=command, resumable=resumable, option=option):
        return OutputFolder(path)
    _check_not_holding(path, inputs, option)
    real = os.path.realpath(text)
    staging = real + STAGING_SUFFIX
    if _is_main_process() and os.path.lexists(staging):  # left by an interrupted --overwrite run
        if os.path.isdir(staging) and not os.path.islink(staging):
            shutil.rmtree(staging)
        else:
            os.unlink(staging)
    return OutputFolder(path, staging)
