"""``variants --workers N``: a VCF cut into shards of consecutive records, scored by N local
processes, merged in input order.

* **Shards** (:func:`write_shards`): at least ``shard_size`` records each, cut only where the next
  record is on another chromosome or more than ``10,000 + 2D + 1`` nt after the previous one, so
  no reference pass of the scorer would have spanned the cut. Each shard is a small VCF with the
  input's header under ``OUT.shards/``.
* **Workers**: each process builds its scorers once (:func:`~.scorer_settings.build_scorers`, the same
  function the single-process run uses) and runs :func:`~.scoring_vcf.score_vcf` on one
  shard into ``part-K.vcf``, with the run manifest and resume of that function. Torch runs one
  thread per worker by default.
* **Faults**: a worker that dies (killed, out of memory) breaks the pool; the unfinished shards are
  submitted again to a new pool, up to ``retries`` times each. A driver that dies takes its workers
  with it (:func:`_watch_parent`), so no worker outlives a killed run and the resource tracker
  exits too; a driver that ignores warnings (``-q``) starts the tracker ignoring its "leaked
  semaphore" warning after a killed worker (the tracker removes those semaphores either way).
  Tests inject faults (a worker killed or held on one shard) through the picklable hook
  :attr:`~.scorer_settings.ScoringSettings.before_shard`, which travels to the workers with the settings.
* **Merge**: the header of part 0 (a VCF's header lines, a table's header row) and the records
  (rows) of every part in order, written atomically to the output (plain or BGZF); then
  ``OUT.shards`` is removed. A plain output is byte-identical to the single-process run (tested,
  VCF and table); a ``.gz`` one decompresses to the same bytes. The parts' summaries are summed
  (records, every ALT allele by outcome, chromosomes missing from the reference).
* **Several models**: every worker builds one scorer per model and writes every field into its
  part (as :func:`~.scoring_vcf.score_vcf` does); cuts clear the largest ``-D`` of the run.
* **Resume**: ``OUT.shards/plan.json`` records the input (sha256), ``shard_size`` and ``-D`` (the largest); a
  resumed run with the same plan keeps every finished part (and continues a half-written one);
  another plan is refused.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nucleoforge.errors import NucleoforgeError
from nucleoforge.splicing.scorer_settings import ScoringSettings, build_scorers

__all__ = ["write_shards", "score_vcf_sharded"]

#: largest SpliceAI context: records further apart never share a reference pass
_MAX_CONTEXT = 10_000


# ---------------------------------------------------------------------------- shards
def write_shards(input_path: str, folder: Path, shard_size: int, distance: int) -> list[Path]:
    """Cut ``input_path`` into shard VCFs ``folder/shard-K.vcf`` (see the module docstring)."""
    from nucleoforge.errors import NucleoforgeError
    from nucleoforge.io.vcf import open_vcf
    from nucleoforge.io.vcf_records import iter_vcf_records

    if shard_size < 1:
        raise NucleoforgeError(f"--shard-size must be >= 1, got {shard_size}")
    gap = _MAX_CONTEXT + 2 * distance + 1
    vcf = open_vcf(input_path)
    shards: list[Path] = []
    try:
        header = str(vcf.header)
        lines: list[str] = []
        last: tuple[str, int] | None = None

        def flush() -> None:
            path = folder / f"shard-{len(shards):05d}.vcf"
            path.write_text(header + "".join(lines), encoding="utf-8")
            shards.append(path)
            lines.clear()

        for rec in iter_vcf_records(vcf, input_path):
            if len(lines) >= shard_size and last is not None and (rec.chrom != last[0] or rec.pos - last[1] > gap):
                flush()
            lines.append(str(rec))
            last = (rec.chrom, rec.pos)
        if lines or not shards:
            flush()
    finally:
        vcf.close()
    return shards


# ---------------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _watch_parent(parent: int) -> None:
    """End this worker as soon as process ``parent`` (the driver) dies.

    On Linux the kernel sends SIGKILL on the parent's death (``PR_SET_PDEATHSIG``); everywhere a
    daemon thread compares ``os.getppid()`` with ``parent`` every 0.5 s and calls ``os._exit``
    (a dead parent's children are adopted by another process). Either way no worker blocks
    forever on the dead driver's queue.
    """
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # no prctl (another libc): the thread below still watches
            pass
    if os.getppid() != parent:  # the driver died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="nucleoforge-parent-watch", daemon=True).start()


def _init_local_worker(settings: ScoringSettings, parent: int) -> None:
    """Initializer of a local pool's worker: die with the driver ``parent``, then build the scorers."""
    _watch_parent(parent)
    _init_worker(settings)


def _init_worker(settings: ScoringSettings) -> None:
    import torch

    torch.set_num_threads(settings.threads or 1)
    _WORKER["scorers"] = build_scorers(settings)
    _WORKER["settings"] = settings


def _score_shard(shard: str, part: str) -> dict[str, Any]:
    from nucleoforge.splicing.scoring_vcf import score_vcf, sources_of

    scorers, tx_scorer = _WORKER["scorers"]
    settings = _WORKER["settings"]
    if settings.before_shard is not None:
        settings.before_shard(shard, part)
    resume = Path(part).exists() and Path(f"{part}.manifest.json").exists()
    counts, sources = dict(scorers[0].counts), sources_of(scorers)  # the scorers count over all their shards
    summary = score_vcf(scorers, shard, part, resume=resume, chunk_size=settings.chunk_size, progress=False,
                        transcripts=tx_scorer, output_format=settings.output_format, check_chromosomes=False)  # fmt: skip
    summary.skipped = {k: v - counts.get(k, 0) for k, v in scorers[0].counts.items() if v - counts.get(k, 0)}
    summary.sources = {k: v - sources.get(k, 0) for k, v in sources_of(scorers).items() if v - sources.get(k, 0)}
    Path(f"{part}.done").write_text(json.dumps(asdict(summary)), encoding="utf-8")
    return asdict(summary)


@dataclass
class _Jobs:
    """The shards still to score and the retry rule, shared by the local and the Ray runner."""

    shards: list[Path]
    parts: list[Path]
    todo: list[int]
    retries: int
    folder: Path
    bar: Any = None
    retried: int = 0  # worker pools / actors started again after a death
    attempts: dict[int, int] = field(default_factory=dict)

    def done(self, i: int) -> None:
        self.todo.remove(i)
        if self.bar is not None:
            self.bar.update(1)

    def failed(self, i: int) -> None:
        """Shard ``i``'s worker died: count the attempt, give up past ``retries``."""
        self.attempts[i] = self.attempts.get(i, 0) + 1
        if self.attempts[i] > self.retries:
            raise RuntimeError(f"shard {self.shards[i]} failed {self.attempts[i]} times (a worker died); the finished "
                               f"parts are kept in {self.folder}: rerun with --resume")  # fmt: skip


#: the resource tracker's warning after a killed worker (it then removes the worker's semaphores)
_LEAK_WARNING = ("resource_tracker: There appear to be 1 leaked semaphore objects to clean up at shutdown",
                 UserWarning, "multiprocessing.resource_tracker")  # fmt: skip


def _ignored_here(message: str, category: type[Warning], module: str) -> bool:
    """Whether this process's warning filters would ignore ``message`` raised in ``module``."""
    import warnings

    for action, msg, cat, mod, lineno in warnings.filters:
        if ((msg is None or msg.match(message)) and issubclass(category, cat) and (mod is None or mod.match(module))
                and lineno == 0):  # fmt: skip
            return action == "ignore"
    return False


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (shared by the driver and its workers) now, told to
    ignore its leaked-semaphore warning when this process ignores warnings (``-q``). A tracker
    already running (an earlier pool in this process) is kept as it is."""
    import sys
    from multiprocessing import resource_tracker

    if not _ignored_here(*_LEAK_WARNING):
        return
    flag = f"ignore::UserWarning:{_LEAK_WARNING[2]}"  # the tracker takes the driver's -W options
    sys.warnoptions.append(flag)
    try:
        resource_tracker.ensure_running()
    finally:
        sys.warnoptions.remove(flag)


def _run_local(settings: ScoringSettings, jobs: _Jobs, workers: int) -> None:
    """Score ``jobs`` with a pool of ``workers`` spawned processes, a new pool after a worker died."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")  # no forked torch state
    _start_resource_tracker()
    while jobs.todo:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs.todo)), mp_context=ctx,
                                   initializer=_init_local_worker, initargs=(settings, os.getpid()))  # fmt: skip
        futures = {pool.submit(_score_shard, str(jobs.shards[i]), str(jobs.parts[i])): i for i in jobs.todo}
        broken = False
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    try:
                        f.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    jobs.done(futures[f])
                if broken:
                    break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if broken:
            for i in jobs.todo:
                jobs.failed(i)
            jobs.retried += 1


def _plan_models(settings: ScoringSettings) -> dict[str, Any]:
    """The run's models for the plan (``KEY=MODEL -D N -M N [options]`` each) when it has several
    or one not keyed ``SpliceAI``; empty otherwise (the plan of a single-model run is unchanged)."""
    specs = settings.specs()
    if len(specs) == 1 and specs[0].info_key in (None, "SpliceAI"):
        return {}
    return {"models": [f"{s.info_key}={s.spec} -D {s.distance} -M {int(bool(s.mask))}"
                       + (f" {json.dumps(s.family_options, sort_keys=True)}" if s.family_options else "") for s in specs]}


def score_vcf_sharded(settings: ScoringSettings, input_path: str, output_path: str, *, workers: int,
                      shard_size: int = 2000, resume: bool = False, retries: int = 2, progress: bool = True,
                      ray_address: str | None = None) -> dict[str, Any]:
    """Score ``input_path`` into ``output_path`` with ``workers`` processes (see the module docstring).

    ``ray_address``: run the shards as tasks of Ray actors instead of local processes (``local``
    starts a Ray instance on this machine with ``workers`` CPUs; ``auto`` or ``HOST:PORT`` join a
    running cluster, one actor per CPU unless ``workers`` > 1 says how many). Returns the summed
    summary (``records``, ``scored``, ``skipped``, ``sources``, ``shards``, ``retried``, ``workers``, and
    ``summary``: the parts' :class:`~nucleoforge.splicing.scoring.VcfRunSummary` summed).
    """
    from nucleoforge.io.outputs import check_paths, file_sha256

    if workers < 1:
        raise NucleoforgeError(f"--workers must be >= 1, got {workers}")
    if output_path == "-":
        raise NucleoforgeError(f"{'--ray-address' if ray_address else '--workers'} needs an output file (-O), not stdout")
    check_paths({"-I/--input": input_path, "-R/--reference": settings.reference}, {"-O/--output": output_path})
    if os.path.exists(output_path) and not os.path.isfile(output_path):  # /dev/full, a FIFO: no shard folder beside it
        raise NucleoforgeError(f"{'--ray-address' if ray_address else '--workers'} needs a regular output file (-O): "
                               f"{output_path} is not one (its shards are kept beside it, in {output_path}.shards)")
    folder = Path(f"{output_path}.shards")
    plan = {"input_sha256": file_sha256(input_path), "shard_size": shard_size, "distance": settings.max_distance,
            **_plan_models(settings)}
    plan_file = folder / "plan.json"
    if folder.exists():
        if not resume:
            raise NucleoforgeError(f"{folder} holds an interrupted sharded run; pass --resume to continue it, or remove it")
        old = json.loads(plan_file.read_text()) if plan_file.exists() else None
        if old is not None and old.get("models") != plan.get("models"):
            raise NucleoforgeError(f"cannot resume {output_path}: {folder} was planned for other models: "
                                   f"{'; '.join(old.get('models') or ['SpliceAI'])} in the run being resumed, "
                                   f"{'; '.join(plan.get('models') or ['SpliceAI'])} now ({plan_file})")
        if old is None or {k: old.get(k) for k in plan} != plan:
            raise NucleoforgeError(f"cannot resume {output_path}: {folder} was planned for another input or --shard-size / -D "
                             f"({plan_file})")  # fmt: skip
        shards = sorted(folder.glob("shard-*.vcf"))
    else:
        folder.mkdir()
        shards = write_shards(input_path, folder, shard_size, settings.max_distance)
        plan_file.write_text(json.dumps({**plan, "shards": len(shards)}), encoding="utf-8")
    parts = [folder / s.name.replace("shard-", "part-") for s in shards]
    todo = [i for i, p in enumerate(parts) if not Path(f"{p}.done").exists()]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(shards), initial=len(shards) - len(todo), unit=" shard", desc="variants")
    jobs = _Jobs(shards, parts, todo, retries, folder, bar)
    if ray_address:
        from nucleoforge.splicing.ray_backend import run_on_ray

        workers = run_on_ray(settings, jobs, address=ray_address, workers=workers, init=_init_worker, score=_score_shard)
    else:
        _run_local(settings, jobs, workers)
    if bar is not None:
        bar.close()

    # merge: the header of part 0, then every part's records in order
    from nucleoforge.splicing.scoring_vcf import VcfRunSummary

    table = settings.output_format == "tsv"
    total: dict[str, Any] = {"records": 0, "scored": 0, "skipped": {}, "sources": {}, "shards": len(shards),
                             "retried": jobs.retried, "workers": workers}
    summed = VcfRunSummary()
    try:
        _merge_parts(parts, output_path, table, summed)
    except OSError as exc:  # a full disk or /dev/full: one line naming -O; the scored parts stay for --resume
        import errno

        from nucleoforge.io.vcf_output import OutputWriteError

        if exc.errno not in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise

        raise OutputWriteError(output_path, exc, note="the scored shards are kept: rerun with --resume once "
                                                      "there is room") from None
    total.update(records=summed.records, scored=summed.scored, skipped=summed.skipped, sources=summed.sources,
                 summary=summed)
    first = Path(f"{parts[0]}.provenance.json")
    if first.exists():  # a run with --precomputed / --cache: the summed counts, as a single process writes them
        from nucleoforge.io.outputs import atomic_output

        with atomic_output(f"{output_path}.provenance.json") as fh:
            fh.write(json.dumps({"header": json.loads(first.read_text())["header"], "records": total["records"],
                                 "resumed": 0, "alleles_by_source": total["sources"], "shards": len(shards)},
                                indent=2) + "\n")  # fmt: skip
    shutil.rmtree(folder)
    return total


def _merge_parts(parts: list[Path], output_path: str, table: bool, summed: Any) -> None:
    """Concatenate the finished parts into ``output_path`` (atomically; headers once) and sum their summaries into ``summed``."""
    from nucleoforge.io.outputs import atomic_path

    with atomic_path(output_path) as tmp:  # renamed over -O only when every part is in
        gz = output_path.endswith((".gz", ".bgz"))  # the temporary name has no suffix: decide on -O's
        if gz:
            import pysam

            sink: Any = pysam.BGZFile(str(tmp), "wb")
        else:
            sink = open(tmp, "w", encoding="utf-8")
        try:
            for k, part in enumerate(parts):
                with open(part, encoding="utf-8") as src:
                    if table:  # a table's header is its first row
                        text = "".join(line for n, line in enumerate(src) if not (k and n == 0))
                    else:
                        text = "".join(line for line in src if not (k and line.startswith("#")))
                sink.write(text.encode() if gz else text)
                summary = json.loads(Path(f"{part}.done").read_text())
                for key in ("records", "resumed", "scored", "alleles", "alleles_scored", "matched_records"):
                    setattr(summed, key, getattr(summed, key) + summary.get(key, 0))
                for key in ("skipped", "sources", "alleles_skipped", "missing_chromosomes", "scored_by_field"):
                    into = getattr(summed, key)
                    for name, n in summary.get(key, {}).items():
                        into[name] = into.get(name, 0) + n
        finally:
            sink.close()
