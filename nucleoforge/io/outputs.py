"""Safe outputs: refuse an output that is an input, write atomically, resume only a matching run.

Every command that writes files goes through this module (folders: :mod:`nucleoforge.io.output_folders`),
so the rules hold everywhere:

* :func:`check_not_input` / :func:`check_paths` — inputs are validated (they exist) and no
  output is one of the inputs (same file, also through symbolic or hard links) **before** any
  output is opened or any model is loaded.
* :func:`atomic_output` / :func:`atomic_path` — a non-resumable output is written to a
  temporary file beside the target (``TARGET.tmpXXXXXXXX``), fsync'ed and renamed over the
  target on success; on an error it is removed and an existing target is left untouched.
  Output folders (atomic folders, ``--overwrite``, training output folders) follow the same
  rules in :mod:`nucleoforge.io.output_folders`.
* run manifests — a resumable command (``variants``, ``variant-effect``) appends to its output
  as it goes, so an interrupted run can be continued. Next to the output it writes
  ``OUTPUT.manifest.json`` (:func:`run_manifest`, :func:`write_manifest`): the command, the
  identity of every input file (size and sha256), every parameter that changes the results,
  the model identity (sha256 of its weights) and the library versions. :func:`check_resume`
  refuses to continue an output whose manifest differs, naming each field that differs.
  :func:`open_resumable` is the whole protocol, used by both drivers; :func:`check_resumable`
  refuses to resume from an input that is not a regular file (a pipe cannot be hashed).
* an output that exists and is not a regular file (``/dev/stdout``, a FIFO, a device) is
  written in place: no temporary file, no rename, no manifest.

>>> old = {"command": "variants", "inputs": {}, "parameters": {"distance": 50, "mask": False}, "model": None}
>>> new = {**old, "parameters": {"distance": 10, "mask": False}}
>>> manifest_differences(old, new)
['distance: 50 in the run being resumed, 10 now']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping, Optional, Sequence, Union

from nucleoforge.errors import MissingPathError, NotAFolderError, NucleoforgeError


__all__ = [
    "check_not_input", "check_paths", "atomic_path", "atomic_output",
    "file_sha256", "file_identity",
    "model_identity", "run_manifest", "manifest_path", "write_manifest", "read_manifest",
    "manifest_differences", "check_resume", "check_resumable", "open_resumable", "MANIFEST_FORMAT",
]  # fmt: skip

PathLike = Union[str, "os.PathLike[str]"]
MANIFEST_FORMAT = "nucleoforge-run-manifest/1"
_log = logging.getLogger("nucleoforge.io.outputs")


def is_stream(path: Optional[PathLike]) -> bool:
    """``None``, ``""`` or ``-``: stdin/stdout rather than a path."""
    return path is None or str(path) in ("", "-")


# the process's own streams: written in place even when they are a regular file (a redirection)
_STD_STREAM = re.compile(r"^/(dev/(stdout|stderr|fd/\d+)|proc/(self|\d+)/fd/\d+)$")


def _writes_in_place(target: PathLike) -> bool:
    """An existing output that cannot be replaced by a rename: not a regular file (a FIFO,
    ``/dev/stdout`` on a pipe or terminal, a device), or one of the process's std streams."""
    text = str(target)
    if not os.path.exists(text) or os.path.isdir(text):
        return False
    return not os.path.isfile(text) or bool(_STD_STREAM.match(text))


# ---------------------------------------------------------------------------- output is not an input
def check_not_input(output: Optional[PathLike], *inputs: Optional[PathLike], option: str = "output") -> None:
    """Raise ``ValueError`` when ``output`` is the same file as one of ``inputs``.

    Same file means the same inode (:func:`os.path.samefile`: the same path written two ways,
    a symbolic link to it, a hard link) or the same resolved path. ``None``, ``-`` and outputs
    that are not (yet) regular files — a new file, ``/dev/stdout`` — are never the input.
    """
    if is_stream(output) or not os.path.isfile(output):  # type: ignore[arg-type]
        return
    real_out = os.path.realpath(output)  # type: ignore[arg-type]
    for inp in inputs:
        if is_stream(inp) or not os.path.exists(inp):  # type: ignore[arg-type]
            continue
        try:
            same = os.path.samefile(output, inp) or real_out == os.path.realpath(inp)  # type: ignore[arg-type]
        except OSError:
            same = False
        if same:
            raise NucleoforgeError(f"{option} {output} is the same file as the input {inp}; "
                             "writing it would destroy the input: choose another output file")


def check_paths(inputs: Mapping[str, Optional[PathLike]], outputs: Mapping[str, Optional[PathLike]]) -> None:
    """Validate a command's files before anything is opened for writing.

    ``inputs`` and ``outputs`` map an option name (used in the messages, e.g. ``"--input"``) to a
    path or ``None`` (not given). Every input must exist (``FileNotFoundError``) and not be a
    folder; every output must lie in an existing folder, not be a folder, and not be an input.
    """
    given = {opt: p for opt, p in inputs.items() if not is_stream(p)}
    for opt, path in given.items():
        if not os.path.exists(path):  # type: ignore[arg-type]
            raise MissingPathError(f"{opt} {path}: no such file")
        if os.path.isdir(path):  # type: ignore[arg-type]
            raise NucleoforgeError(f"{opt} {path} is a directory, not a file")
    for opt, path in outputs.items():
        if is_stream(path):
            continue
        if os.path.isdir(path):  # type: ignore[arg-type]
            raise NucleoforgeError(f"{opt} {path} is a directory; give a file name")
        parent = os.path.dirname(os.path.abspath(path)) or "."  # type: ignore[arg-type]
        if os.path.exists(parent) and not os.path.isdir(parent):
            raise NotAFolderError(f"{opt} {path}: {parent} is a file, not a directory")
        if not os.path.isdir(parent):
            raise MissingPathError(f"{opt} {path}: the directory {parent} does not exist")
        check_not_input(path, *given.values(), option=opt)


# ---------------------------------------------------------------------------- atomic writes
def _final_mode(target: str) -> int:
    if os.path.exists(target):
        return os.stat(target).st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_dir(folder: str) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the platform allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is fsync'ed and renamed over
    ``target`` (through a symbolic link: the file it points to), on an error it is removed.

    For writers that open their file by name (zip, parquet); see :func:`atomic_output` for a
    text or binary handle. A target that exists and is not a regular file (``/dev/stdout``, a
    FIFO) is yielded itself: written in place, nothing renamed.
    """
    if _writes_in_place(target):
        yield Path(str(target))
        return
    real = os.path.realpath(target)
    folder, name = os.path.split(real)
    try:
        fd, tmp = tempfile.mkstemp(prefix=name + ".tmp", dir=folder)
    except OSError as exc:  # name the target, not the temporary file
        raise type(exc)(exc.errno, exc.strerror, str(target)) from exc
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _final_mode(real))
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


@contextlib.contextmanager
def atomic_output(target: PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """``open(target, mode)`` that only replaces ``target`` when the block succeeds.

    The handle writes to a temporary file beside ``target`` (see :func:`atomic_path`); an
    exception inside the block leaves an existing ``target`` as it was.
    """
    if not mode.startswith("w"):
        raise NucleoforgeError(f"atomic_output writes a new file (mode 'w' or 'wb'), got {mode!r}")
    if _writes_in_place(target):  # /dev/stdout, a FIFO: no temporary file, no fsync (a pipe has none)
        with open(target, mode, **open_kwargs) as fh:
            yield fh
        return
    with atomic_path(target) as tmp:
        with open(tmp, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


# ---------------------------------------------------------------------------- identities
def file_sha256(path: PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def file_identity(path: Optional[PathLike]) -> dict[str, Any]:
    """``{"path", "size", "sha256"}`` of an input; ``sha256`` is ``None`` for a stream (stdin,
    a pipe), which cannot be read twice."""
    if is_stream(path):
        return {"path": "-", "size": None, "sha256": None}
    text = str(path)
    if not os.path.isfile(text):
        return {"path": text, "size": None, "sha256": None}
    return {"path": os.path.abspath(text), "size": os.path.getsize(text), "sha256": file_sha256(text)}


def model_identity(model: Any) -> dict[str, Any]:
    """``{"class", "name", "sha256"}`` of a torch model: the sha256 covers every tensor of its
    ``state_dict`` (names, dtypes, shapes and values), so moving or re-saving the weights keeps
    the identity and any change of weights or precision changes it."""
    import torch

    h = hashlib.sha256(type(model).__name__.encode())
    for key, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"\0{key}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    name = getattr(model, "name_or_path", None) or getattr(getattr(model, "config", None), "_name_or_path", None)
    return {"class": type(model).__name__, "name": str(name) if name else None, "sha256": h.hexdigest()}


def _versions() -> dict[str, Optional[str]]:
    from importlib import metadata

    out: dict[str, Optional[str]] = {}
    for pkg in ("nucleoforge", "torch", "transformers", "pysam"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


# ---------------------------------------------------------------------------- manifests
def run_manifest(command: str, *, inputs: Mapping[str, Any], parameters: Mapping[str, Any],
                 model: Any = None) -> dict[str, Any]:
    """The manifest of a run: ``command``; ``inputs`` (name -> path, hashed here, or an already
    computed identity dict); ``parameters`` (JSON values: every setting that changes the
    results); ``model`` (a torch model, hashed by :func:`model_identity`, or an identity dict)."""
    ids = {name: (dict(value) if isinstance(value, Mapping) else file_identity(value)) for name, value in inputs.items()}
    if model is not None and not isinstance(model, Mapping):
        model = model_identity(model)
    return {
        "format": MANIFEST_FORMAT,
        "command": command,
        "inputs": ids,
        "parameters": json.loads(json.dumps(dict(parameters))),
        "model": dict(model) if model is not None else None,
        "versions": _versions(),
    }


def manifest_path(output: PathLike) -> Path:
    """``OUTPUT.manifest.json``."""
    return Path(str(output) + ".manifest.json")


def write_manifest(output: PathLike, manifest: Mapping[str, Any]) -> Path:
    """Write (atomically) the manifest of ``output``; returns its path."""
    path = manifest_path(output)
    with atomic_output(path) as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.write("\n")
    return path


def read_manifest(output: PathLike) -> Optional[dict[str, Any]]:
    """The manifest of ``output``, or ``None`` when there is none; ``ValueError`` when unreadable."""
    path = manifest_path(output)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NucleoforgeError(f"{path} is not a nucleoforge run manifest ({exc}); rerun without --resume to start over") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise NucleoforgeError(f"{path} is not a nucleoforge run manifest (format {MANIFEST_FORMAT}); "
                         "rerun without --resume to start over")
    return data


def _show(value: Any) -> str:
    return "not set" if value is None else str(value)


def manifest_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between the manifest of the run being resumed (``old``) and this run's
    (``new``), one phrase per field; versions are not compared (see :func:`check_resume`)."""
    diffs: list[str] = []
    if old.get("command") != new.get("command"):
        diffs.append(f"command: {old.get('command')} in the run being resumed, {new.get('command')} now")
    old_in, new_in = old.get("inputs") or {}, new.get("inputs") or {}
    for name in sorted(set(old_in) | set(new_in)):
        a, b = old_in.get(name) or {}, new_in.get(name) or {}
        if a.get("sha256") != b.get("sha256") or a.get("size") != b.get("size"):
            path = b.get("path") or a.get("path")
            if a.get("sha256") and b.get("sha256"):
                diffs.append(f"{name} {path}: its content (sha256) differs from the file the run being resumed read "
                             f"({a.get('path')}, {a['sha256'][:12]}…, now {b['sha256'][:12]}…)")
            else:
                diffs.append(f"{name}: {_show(a.get('path'))} in the run being resumed, {_show(b.get('path'))} now")
    old_p, new_p = old.get("parameters") or {}, new.get("parameters") or {}
    for key in sorted(set(old_p) | set(new_p)):
        if old_p.get(key) != new_p.get(key):
            diffs.append(f"{key}: {_show(old_p.get(key))} in the run being resumed, {_show(new_p.get(key))} now")
    old_m, new_m = old.get("model") or {}, new.get("model") or {}
    if old_m.get("sha256") != new_m.get("sha256"):
        diffs.append(f"model: the weights (sha256) differ ({_show(old_m.get('name'))} in the run being resumed, "
                     f"{_show(new_m.get('name'))} now)")
    return diffs


def check_resume(output: PathLike, manifest: Mapping[str, Any]) -> None:
    """Refuse (``ValueError``) to resume ``output`` unless its manifest matches ``manifest``.

    The message names every field that differs. An output without a manifest is refused too:
    nothing says which input, model and settings its rows came from. Different library
    versions are only logged.
    """
    path = manifest_path(output)
    old = read_manifest(output)
    if old is None:
        raise NucleoforgeError(f"cannot resume {output}: there is no run manifest {path}, so nothing says which input, "
                         "model and settings its rows came from; rerun without --resume to start over")
    diffs = manifest_differences(old, manifest)
    if diffs:
        raise NucleoforgeError(f"cannot resume {output}: it was written by a different run (see {path}): " + "; ".join(diffs)
                         + ". Rerun without --resume to start over, or write to another output")
    old_v, new_v = old.get("versions") or {}, manifest.get("versions") or {}
    changed = {k: (old_v.get(k), new_v.get(k)) for k in set(old_v) | set(new_v) if old_v.get(k) != new_v.get(k)}
    if changed:
        _log.warning("resuming %s written with other library versions: %s", output,
                     ", ".join(f"{k} {a} -> {b}" for k, (a, b) in sorted(changed.items())))


# ---------------------------------------------------------------------------- the resume protocol
def check_resumable(inputs: Mapping[str, Optional[PathLike]], option: str = "--resume") -> None:
    """Refuse (``ValueError``, one line naming the option) to resume from an input that is not a
    regular file: stdin, a pipe or a device cannot be hashed, so nothing could tell that it
    holds the input of the run being resumed (both manifests would say ``sha256: null``)."""
    for opt, path in inputs.items():
        if path is not None and (is_stream(path) or not os.path.isfile(path)):  # type: ignore[arg-type]
            shown = "-" if is_stream(path) else path
            raise NucleoforgeError(f"{option}: {opt} {shown} is not a regular file (stdin, a pipe or a device cannot be "
                             f"checked against the run being resumed); save it to a file first, or rerun without {option}")


def open_resumable(
    output: PathLike,
    manifest: Optional[Mapping[str, Any]],
    *,
    resume: bool,
    inputs: Mapping[str, Optional[PathLike]],
    source: str,
    input_keys: Iterator[Sequence[str]],
    read_kept: Callable[[], tuple[Sequence[Sequence[str]], int, Optional[str]]],
    open_sink: Callable[[bool], Any],
    header: str,
    bgzf: bool = False,
    key_names: Sequence[str] = ("CHROM", "POS", "ID", "REF", "ALT"),
    row_name: str = "record",
    row_offset: int = 1,
    input_name: str = "input record",
) -> tuple[Any, int]:
    """Open the output of a resumable run (``variants``, ``variant-effect``); returns
    ``(sink, kept)``: the open sink (``open_sink(append)``, anything with ``write``, ``flush``
    and ``close``; the caller closes it) and the number of rows kept from the run being resumed.

    * ``resume`` and a non-empty ``output``: every input (``inputs``: option -> path) must be a
      regular file (:func:`check_resumable`); ``read_kept()`` gives the keys of the complete
      rows already in ``output`` (their first ``len(key_names)`` columns), the byte length of
      the complete part and, for a ``bgzf`` output, its decompressed text. Each kept key must be
      the next of ``input_keys`` (which is advanced past them; ``source`` names the input in
      the messages), then the manifest must match (:func:`check_resume`). Only then is the
      output touched: cut to its complete part (a BGZF output is rewritten beside it and
      renamed over it) and opened for appending. A refused resume leaves it as it was.
    * otherwise (a fresh run): a stale manifest is removed first, the output is opened
      (truncated) and gets ``header``, and only then is the new ``manifest`` written, so a
      manifest never describes rows this run did not write. ``manifest=None`` (stdout) and an
      output written in place (``/dev/stdout``, a FIFO) get no manifest and cannot be resumed.
    """
    manifest_file = manifest is not None and not _writes_in_place(output)
    if resume:
        if not manifest_file:
            raise NucleoforgeError(f"--resume needs an output file, not a stream ({output})")
        check_resumable(inputs)
    text = str(output)
    if resume and os.path.isfile(text) and os.path.getsize(text) > 0:
        # Every check before the output is touched.
        kept, end, complete = read_kept()
        width = len(key_names)
        for i, row in enumerate(kept):
            row = tuple(row[:width])
            label = f"{row_name} {i + row_offset} ({' '.join(row[:3])})"
            want = next(input_keys, None)
            if want is None:
                raise NucleoforgeError(f"{output}: {label} has no {input_name} {i + 1} in {source} (the input has {i}); "
                                 "--resume needs the same input (rerun without --resume to start over)")
            want = tuple(want)
            if row != want:
                diff = ", ".join(f"{n} {a} in the output, {b} in the input"
                                 for n, a, b in zip(key_names, row + ("",) * width, want) if a != b)
                raise NucleoforgeError(f"{output}: {label} does not match {input_name} {i + 1} of {source}: {diff}; "
                                 "--resume needs the same input (rerun without --resume to start over)")
        check_resume(output, manifest)  # type: ignore[arg-type]
        if bgzf:  # rewrite the complete part beside the output; new BGZF blocks are appended after it
            import pysam

            with atomic_path(output) as tmp:
                with pysam.BGZFile(str(tmp), "wb") as fh:
                    fh.write((complete or "").encode())
        else:
            with open(text, "r+b") as fh:
                fh.truncate(end)
        return open_sink(True), len(kept)
    if manifest_file:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(manifest_path(output))
    sink = open_sink(False)
    try:
        sink.write(header)
        sink.flush()
        if manifest_file:
            try:
                write_manifest(output, manifest)  # type: ignore[arg-type]
            except OSError as exc:
                if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
                    raise
                from nucleoforge.io.vcf_output import OutputWriteError

                raise OutputWriteError(str(manifest_path(output)), exc) from None
    except BaseException as exc:
        # no manifest, so nothing to resume: an output this run created goes (never a device or
        # a file that was there before)
        with contextlib.suppress(OSError):
            sink.close()
        removed = getattr(sink, "remove_created", lambda: False)()
        from nucleoforge.io.vcf_output import OutputWriteError

        if isinstance(exc, OutputWriteError):
            raise exc.with_note(f"{output} was removed" if removed else "no records were written") from None
        raise
    return sink, 0
