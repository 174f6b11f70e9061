"""The command line's one error boundary, its global options and the option checks every command shares.

:func:`run` executes the typer app (``standalone_mode=False``) inside one ``try``:

* a **user error** prints one line ``error: <message>`` on stderr and exits with status 2. It is
  one of (:func:`is_user_error`): a :class:`~nucleoforge.errors.NucleoforgeError` (what the library
  raises for a bad input, option or model folder), click's usage errors (an unknown option,
  ``typer.BadParameter``), or an ``OSError`` about a path the user gave — a missing, unreadable or
  unwritable input or output named on the command line (or a file inside / beside it, such as
  an output's temporary file), or a full disk;
* anything else — a bare ``ValueError``/``KeyError``/``TypeError`` included — is a bug or an
  environment failure, an **internal error**: one line ``error: internal error: <type>:
  <message> (run with --debug for the traceback)``, exit status 1;
* ``--debug`` (before the command, or ``NUCLEOFORGE_DEBUG=1``) prints the traceback too.

``-q/--quiet`` before the command (and each command's own ``-q/--quiet``) silences every
progress bar — nucleoforge's, transformers' weight loading and the Trainer's — and every
warning: only errors are printed.

Nothing heavy is imported here (``nucleoforge --help`` must stay instant).
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, Optional

import typer

from nucleoforge.cli.app import app
from nucleoforge.errors import NucleoforgeError

try:  # typer >= 0.2x carries its own copy of click
    from typer._click import exceptions as _click_exceptions
    from typer._click.globals import get_current_context
except ImportError:  # older typer: click itself
    from click import exceptions as _click_exceptions  # type: ignore[no-redef]
    from click.globals import get_current_context  # type: ignore[no-redef]

ClickException = _click_exceptions.ClickException
UsageError = _click_exceptions.UsageError
NoArgsIsHelpError = getattr(_click_exceptions, "NoArgsIsHelpError", ())

__all__ = [
    "USER_ERRORS", "is_user_error", "run", "set_quiet", "is_quiet", "debug_enabled", "check_device", "describe", "model_type_choices",
    "check_model_type", "check_model_name",
]  # fmt: skip

#: exception types that are always the user's to fix: one ``error:`` line and exit status 2 (an
#: ``OSError`` is too when it is about a path the user gave: :func:`is_user_error`)
USER_ERRORS: tuple[type[BaseException], ...] = (
    NucleoforgeError,  # the library's user errors (CheckpointError, ConversionError... are subclasses)
    ClickException,  # typer's (click's) usage errors, typer.BadParameter included
)

#: errno values that are the user's to fix whatever the file: a full disk or quota
_DISK_FULL = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT") if hasattr(errno, name))

_state: dict[str, Any] = {"debug": False, "quiet": False}
_QUIET_ENV = {"TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def debug_enabled() -> bool:
    """Whether ``--debug`` was given or ``NUCLEOFORGE_DEBUG`` is set (1/true/yes/on)."""
    return bool(_state["debug"]) or os.environ.get("NUCLEOFORGE_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def is_quiet() -> bool:
    """Whether ``-q/--quiet`` was given (before the command or to it)."""
    return bool(_state["quiet"])


def set_quiet() -> None:
    """No progress bars and no warnings until the command ends: nucleoforge's bars (commands ask
    :func:`is_quiet`), transformers' (weight loading, the Trainer) and any other tqdm bar."""
    if _state["quiet"]:
        return
    _state["quiet"] = True
    ctx = get_current_context(silent=True)
    if ctx is not None:  # undone when the invocation ends (tests run many in one process)
        ctx.find_root().call_on_close(_reset_quiet)
    _state["saved_env"] = {k: os.environ.get(k) for k in _QUIET_ENV}
    os.environ.update(_QUIET_ENV)
    import logging
    import warnings

    _state["warnings"] = warnings.catch_warnings()  # restores the filters when the command ends
    _state["warnings"].__enter__()
    warnings.simplefilter("ignore")  # Python warnings (torch's, the Trainer's) too: errors only

    _state["nf_level"] = logging.getLogger("nucleoforge").level
    logging.getLogger("nucleoforge").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging  # does not import torch

    _state["hf_verbosity"] = hf_logging.get_verbosity()
    _state["hf_bars"] = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # also turns off the Trainer's bars when disable_tqdm is not given
    if "datasets" in sys.modules:  # imported later, it reads HF_DATASETS_DISABLE_PROGRESS_BARS
        _state["datasets_bars"] = sys.modules["datasets"].is_progress_bar_enabled()
        sys.modules["datasets"].disable_progress_bars()


def _reset() -> None:
    """Undo :func:`set_quiet` and ``--debug`` (so that :func:`run` can be called again in one process)."""
    _reset_quiet()
    _state["debug"] = False


def _reset_quiet() -> None:
    if _state["quiet"]:
        import logging

        if "warnings" in _state:
            _state.pop("warnings").__exit__(None, None, None)
        logging.getLogger("nucleoforge").setLevel(_state.pop("nf_level", logging.NOTSET))
        for k, v in _state.pop("saved_env", {}).items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        from transformers.utils import logging as hf_logging

        if _state.pop("hf_bars", True):
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(_state.pop("hf_verbosity", hf_logging.WARNING))
        if _state.pop("datasets_bars", False):
            sys.modules["datasets"].enable_progress_bars()
    _state["quiet"] = False


@app.callback()
def _global_options(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars, no warnings: only errors (every command)."),
    debug: bool = typer.Option(False, "--debug", help="Print the traceback of a failure (also NUCLEOFORGE_DEBUG=1)."),
) -> None:
    """Global options (before the command): -q/--quiet and --debug."""
    if debug:
        _state["debug"] = True
    if quiet:
        set_quiet()


def check_device(device: Optional[str], option: str = "--device") -> Optional[str]:
    """``device`` unchanged if torch can use it here; else ``typer.BadParameter`` naming ``option``."""
    if device is None:
        return None
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise typer.BadParameter(f"{device!r} is not a torch device (expected cpu, cuda, cuda:N or mps)", param_hint=f"'{option}'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise typer.BadParameter(f"{device!r}: CUDA is not available ({why}); use --device cpu", param_hint=f"'{option}'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise typer.BadParameter(f"{device!r}: there are only {torch.cuda.device_count()} CUDA device(s)", param_hint=f"'{option}'")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise typer.BadParameter(f"{device!r}: MPS is not available here; use --device cpu", param_hint=f"'{option}'")
    return device


def model_type_choices(*kinds: str) -> list[str]:
    """The model types of the registry's families of ``kinds``, in table order: what a
    ``--model-type`` option accepts and what its help lists (one source for both)."""
    from nucleoforge import registry

    return [f.model_type for kind in kinds for f in registry.families(kind=kind)]


def check_model_type(value: Optional[str], choices: Sequence[str], option: str = "--model-type", why: str = "") -> Optional[str]:
    """``value`` unchanged if it is one of ``choices`` (or None); else a user error listing them
    (an alias such as ``dnabert`` is refused too: the help lists model types only)."""
    if value is None or value in choices:
        return value
    from nucleoforge.errors import NucleoforgeError

    raise NucleoforgeError(f"{option} {value}: {why}expected one of {', '.join(choices)}")


def check_model_name(value: Any, option: str = "--model", kinds: Sequence[str] = ("bert",)) -> Any:
    """The folder a model option names: ``value`` itself when it exists; a name or hub id
    resolved by :func:`nucleoforge.registry.locate` (``splicebert`` → ``multimolecule/splicebert``
    in the Hugging Face cache); otherwise one line on what to pass instead — a name of another
    kind (``spliceai-10k`` where a language model is expected) or one no hub repository holds.

    A folder of that name, when one exists, is used as usual. ``kinds``: the registry kinds the
    option takes (a name of another kind says so).
    """
    if value is None or os.path.exists(value):
        return value
    from nucleoforge import registry
    from nucleoforge.errors import NucleoforgeError
    from nucleoforge.io.hub import looks_like_hub_id

    entry = registry.family_of_name(str(value))
    if entry is None and not looks_like_hub_id(str(value)):
        return value  # a path that does not exist: the command says so
    if entry is not None and entry.kind not in kinds:
        wanted = [f for kind in kinds for f in registry.families(kind=kind)]
        example = next((f.convert_command for f in wanted if f.convert_command), None)
        raise NucleoforgeError(
            f"{option} {value}: a {entry.name} model name; {option} takes a folder of a "
            f"{', '.join(f.model_type for f in wanted[:-1])}{' or ' if len(wanted) > 1 else ''}{wanted[-1].model_type} model" + (f", e.g. the folder written by `{example}`" if example else "")
        )
    if entry is None or entry.hub:
        try:
            folder = registry.locate(str(value))
        except NucleoforgeError as exc:
            raise NucleoforgeError(f"{option} {exc}") from None
        return type(value)(folder) if isinstance(value, os.PathLike) else folder
    if entry.convert_command:
        how = f"the folder written by `{entry.convert_command}` from the original release"
    else:
        how = f"a {entry.model_type} folder written by `nucleoforge pretrain` or `nucleoforge finetune`"
    raise NucleoforgeError(f"{option} {value}: a model name, not a folder; pass {how}")


def describe(exc: BaseException) -> str:
    """One line saying what went wrong (file, line, record or option, and what was expected)."""
    if isinstance(exc, ClickException):
        text = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, UsageError) and ctx is not None:
            text += f" (see '{ctx.command_path} --help')"
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" + (f" ({exc.filename2})" if exc.filename2 else "")
    elif isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())  # one line


def _argument_paths(args: Sequence[str]) -> list[str]:
    """Absolute forms of every command-line token that could name a path (``--opt=value`` too)."""
    paths = []
    for arg in args:
        if arg.startswith("-") and "=" in arg:
            arg = arg.split("=", 1)[1]
        elif arg.startswith("-") and arg != "-":
            continue
        if arg and arg != "-":
            paths.append(os.path.abspath(os.path.expanduser(arg)))
    return paths


def _about_user_path(filename: object, given: Sequence[str]) -> bool:
    """Whether ``filename`` is a path the user gave, a file inside one (a folder argument), a file
    beside one whose name starts with it (``OUT.tmpXXXX``, ``OUT.manifest.json``, ``PREFIX.donor.bedGraph``),
    or a folder above one (an output's missing parent)."""
    if not isinstance(filename, (str, bytes, os.PathLike)):
        return False
    path = os.path.abspath(os.fsdecode(filename))
    for user in given:
        if path == user or path.startswith(user.rstrip(os.sep) + os.sep) or user.startswith(path.rstrip(os.sep) + os.sep):
            return True
        if os.path.dirname(path) == os.path.dirname(user) and os.path.basename(path).startswith(os.path.basename(user)):
            return True
    return False


def is_user_error(exc: BaseException, args: Sequence[str] = ()) -> bool:
    """Whether ``exc`` is the user's to fix (exit status 2): a :data:`USER_ERRORS` instance, or an
    ``OSError`` about a path among ``args`` (the command line; see :func:`_about_user_path`) or
    about a full disk. Any other exception is an internal error (exit status 1).

    >>> is_user_error(NucleoforgeError("x.vcf:3: bad line")), is_user_error(ValueError("a bug"))
    (True, False)
    >>> missing = FileNotFoundError(2, "No such file or directory", "data/x.fa")
    >>> is_user_error(missing, ["splice", "--fasta", "data/x.fa"]), is_user_error(missing, ["splice", "ACGT"])
    (True, False)
    """
    if isinstance(exc, USER_ERRORS):
        return True
    if isinstance(exc, OSError):
        if exc.errno in _DISK_FULL:
            return True
        given = _argument_paths(args)
        return any(_about_user_path(name, given) for name in (exc.filename, exc.filename2) if name is not None)
    return False


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rc = app(args=args, prog_name="nucleoforge", standalone_mode=False)
        return rc if isinstance(rc, int) else 0
    except NoArgsIsHelpError:  # `nucleoforge` / `nucleoforge convert` alone: help, printed already
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except typer.Abort as exc:
        cause = exc.__cause__ or exc.__context__
        return _report(cause, args) if cause is not None else _report(exc, args, "aborted")
    except Exception as exc:  # noqa: BLE001 (the boundary)
        return _report(exc, args)
    finally:
        _reset()


def _report(exc: BaseException, args: Sequence[str], text: Optional[str] = None) -> int:
    debug = debug_enabled()
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if text is None and is_user_error(exc, args):
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2
    msg = text or f"internal error: {type(exc).__name__}: {describe(exc)}"
    print(f"error: {msg}" + ("" if debug else " (run with --debug for the traceback)"), file=sys.stderr)
    return 1
