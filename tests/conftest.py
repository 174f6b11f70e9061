"""Shared test set-up: offline hub, small real sequences from the bundled data."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# an empty hub cache of the test session's own, never the user's (tests that need a cached
# repository build one and point HF_HUB_CACHE at it in a subprocess)
if "HF_HUB_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="nf-test-hub-")
    atexit.register(shutil.rmtree, os.environ["HF_HUB_CACHE"], True)

from pathlib import Path  # noqa: E402
from typing import NoReturn  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"
CHR22 = DATA / "GRCh37_chr22_20000001-21000000.fa.gz"


def spliceai_unavailable(what: str, exc: BaseException) -> NoReturn:
    """Skip a golden SpliceAI test whose inputs are missing (the ``spliceai`` wheel, or its
    converted weights in ``$NUCLEOFORGE_CACHE`` missing or stale) — or, under ``CI=true``,
    fail it: on CI a golden comparison must never pass by being skipped."""
    msg = (
        f"{what}: {type(exc).__name__}: {exc}. Install the wheel with `pip install --no-deps spliceai==1.3.1` "
        "(`make install` does) and delete a stale converted cache (the `spliceai/` folder under "
        "$NUCLEOFORGE_CACHE, default ~/.cache/nucleoforge) so it is converted again."
    )
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true: golden SpliceAI tests must not be skipped. {msg}", pytrace=False)
    pytest.skip(msg)


def spliceai_wheel_h5_files() -> list[Path]:
    """The five h5 models of the installed ``spliceai`` wheel (see :func:`spliceai_unavailable`)."""
    from nucleoforge.models.spliceai.convert import find_spliceai_wheel_files

    try:
        return find_spliceai_wheel_files()[0]
    except FileNotFoundError as exc:
        spliceai_unavailable("SpliceAI wheel not installed", exc)


def spliceai_pretrained(name: str = "spliceai-10k"):
    """``SpliceAIModel.from_pretrained(name)`` in eval mode (converted from the wheel into the
    cache on first use). A missing wheel or cache, an unreadable cache file, or a stale cache
    (weights missing from or unknown to the model: transformers would initialise them at
    random) goes to :func:`spliceai_unavailable`."""
    from safetensors import SafetensorError

    from nucleoforge.models.spliceai import SpliceAIModel

    try:
        model, info = SpliceAIModel.from_pretrained(name, output_loading_info=True)
    except (OSError, SafetensorError) as exc:  # FileNotFoundError: no wheel and nothing cached
        spliceai_unavailable(f"SpliceAI weights {name!r} unavailable", exc)
    stale = {k: list(v)[:5] for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if stale:
        spliceai_unavailable(f"converted SpliceAI cache for {name!r} is stale", ValueError(f"loading info {stale}"))
    return model.eval()


@pytest.fixture()
def one_thread():
    """torch on one thread for the test (training runs deterministic and light on a shared
    machine); the count before it is restored after. Use with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def chr22_block() -> str:
    """The bundled 1 Mb of GRCh37 chr22 (base 0 = chr22:20,000,001)."""
    from nucleoforge.io.fasta import read_fasta

    return next(read_fasta(CHR22)).sequence


@pytest.fixture(scope="session")
def real_sequences(chr22_block: str) -> list[str]:
    """A few real chr22 sequences of different lengths without N (for model tests)."""
    starts = [5_000, 40_000, 123_456, 300_000, 777_777]
    lengths = [60, 23, 45, 31, 52]
    seqs = [chr22_block[s : s + n] for s, n in zip(starts, lengths)]
    assert all("N" not in s for s in seqs)
    return seqs


def run_torchrun(command: str, *args: str, timeout: float = 170, **env: str) -> str:
    """``torchrun --standalone --nproc_per_node=2 nucleoforge COMMAND ARGS`` (gloo on CPU); returns stdout.

    The workers run in their own process group, so a timeout ends them too, not only the agent.
    """
    import os
    import shutil
    import signal
    import subprocess
    import sys

    script = shutil.which("nucleoforge", path=str(Path(sys.executable).parent)) or shutil.which("nucleoforge")
    assert script, "the nucleoforge console script is not installed"
    environ = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", **env)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script, command, *args]
    proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(f"torchrun timed out; output tail:\n{stdout[-2000:]}\n{stderr[-3000:]}") from None
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    return stdout


def refuse_writes(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make ``open(path, "w"/"a")`` fail with ``PermissionError``, as for a read-only file (root
    ignores chmod, so the tests cannot make one); other opens are unchanged. ``monkeypatch.undo()`` ends it."""
    import builtins

    real_open = builtins.open

    def read_only_output(file, mode="r", *args, **kwargs):  # noqa: ANN001
        if str(file) == str(path) and mode[0] in "wa":
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_output)


#: the real third-party splice weights (OpenSpliceAI, Pangolin; GPL-3.0), never committed: read at
#: test time from ``../shared/weights`` next to the checkout, or ``$NUCLEOFORGE_SHARED_WEIGHTS``
SHARED_WEIGHTS = Path(os.environ.get("NUCLEOFORGE_SHARED_WEIGHTS", REPO.parent / "shared" / "weights"))


def shared_weights(*parts: str) -> Path:
    """``SHARED_WEIGHTS / parts``, or skip the test when it is missing — fail instead under
    ``CI=true``, where a parity test must never pass by being skipped."""
    path = SHARED_WEIGHTS.joinpath(*parts)
    if not path.exists():
        msg = (f"{path} is missing: the OpenSpliceAI/Pangolin weights are read from ../shared/weights "
               "(or $NUCLEOFORGE_SHARED_WEIGHTS)")
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"CI=true: tests on the real weights must not be skipped. {msg}", pytrace=False)
        pytest.skip(msg)
    return path
