"""``variants --ray-address``: the shards of :mod:`.sharding` as tasks of Ray actors.

Each actor holds the scorers of one worker (built once by the function the local workers and the
single-process command use) and scores one shard at a time into its part file, so everything
else — shard cuts, per-shard resume, the ordered merge, byte-identical output — is
:mod:`.sharding`'s. The shard and part files live in ``OUT.shards/``, next to the output: on a
multi-node cluster that folder, the reference, the annotation and the model must be on a
filesystem every node mounts at the same path (as on an HPC cluster's shared storage).

An actor that dies (a killed process, a lost node) fails its task with ``RayActorError``; the
shard is given to a new actor, up to ``retries`` times. Ray is an optional dependency
(``pip install 'nucleoforge[distributed]'``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from nucleoforge.errors import NucleoforgeError

__all__ = ["run_on_ray"]


class _ShardActor:
    """A Ray actor: one worker's scorers (built by ``init(settings)``); :meth:`score` runs one shard."""

    def __init__(self, init: Callable[[Any], None], score: Callable[[str, str], dict], settings: Any) -> None:
        init(settings)
        self._score = score

    def score(self, shard: str, part: str) -> dict[str, Any]:
        return self._score(shard, part)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise NucleoforgeError("--ray-address needs Ray: pip install 'nucleoforge[distributed]' (or pip install ray)") from None
    return ray


def run_on_ray(settings: Any, jobs: Any, *, address: str, workers: int, init: Callable[[Any], None],
               score: Callable[[str, str], dict]) -> int:
    """Score ``jobs`` (a :class:`~.sharding._Jobs`) on Ray; returns the number of actors used.

    Every actor calls ``init(settings)`` once, then ``score(shard, part)`` per shard (the local
    workers' functions, passed in so that this module does not import :mod:`.sharding`).

    ``address``: ``local`` starts a Ray instance on this machine with ``workers`` CPUs (stopped
    at the end); ``auto`` or ``HOST:PORT`` connect to a running cluster. With ``workers`` = 1 on
    a cluster, one actor per CPU of the cluster (``settings.threads`` CPUs each); a CUDA
    ``settings.device`` gives each actor one GPU.
    """
    ray = _import_ray()
    from ray.exceptions import RayActorError, RayTaskError

    threads = settings.threads or 1
    started = False
    if not ray.is_initialized():
        common = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        if address == "local":
            ray.init(num_cpus=workers * threads, object_store_memory=128 << 20, **common)
        else:
            try:
                ray.init(address=address, **common)
            except (ConnectionError, RuntimeError) as exc:
                raise NucleoforgeError(f"--ray-address {address}: cannot connect to a Ray cluster ({exc})") from None
        started = True
    try:
        if address != "local" and workers == 1:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
        gpu = 1 if (settings.device or "").startswith("cuda") else 0
        actor_class = ray.remote(num_cpus=threads, num_gpus=gpu)(_ShardActor)
        queue = list(jobs.todo)
        running: dict[Any, tuple[int, Any]] = {}  # task ref -> (shard index, actor)

        def submit(actor: Any) -> None:
            if queue:
                i = queue.pop(0)
                running[actor.score.remote(str(jobs.shards[i]), str(jobs.parts[i]))] = (i, actor)

        for _ in range(min(workers, len(queue))):
            submit(actor_class.remote(init, score, settings))
        while running:
            finished, _ = ray.wait(list(running), num_returns=1)
            i, actor = running.pop(finished[0])
            try:
                ray.get(finished[0])
            except RayActorError:  # the actor's process died: a new actor takes the shard again
                jobs.failed(i)
                jobs.retried += 1
                queue.insert(0, i)
                submit(actor_class.remote(init, score, settings))
                continue
            except RayTaskError as exc:  # the shard's own error (a bad record, say): as the local run raises it
                cause = getattr(exc, "cause", None)
                raise (cause if isinstance(cause, Exception) else exc) from None
            jobs.done(i)
            submit(actor)
        return workers
    finally:
        if started:
            ray.shutdown()
