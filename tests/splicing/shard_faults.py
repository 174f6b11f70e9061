"""Fault injection for the sharded ``variants`` tests, through
:attr:`nucleoforge.splicing.scorer_settings.ScoringSettings.before_shard` (a picklable hook that
travels to every worker process or Ray actor with the settings).

* :class:`KillOnce`: the worker scoring that shard dies once (``os._exit(137)``, like a kill);
* :class:`Hold`: the worker scoring that shard waits there 60 s (time for a test to kill the driver);
* :func:`inject`: every ``variants`` run of this process gets the hook (in-process CLI runs);
* :func:`main`: the ``nucleoforge`` command line with a hook, for a test's subprocess
  (``python -c "from tests.splicing.shard_faults import main; main('hold', 'shard-00001.vcf')" variants ...``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class KillOnce:
    shard: str  # e.g. "shard-00002.vcf"

    def __call__(self, shard: str, part: str) -> None:
        if Path(shard).name == self.shard and not Path(f"{part}.killed").exists():
            Path(f"{part}.killed").write_text("")
            os._exit(137)


@dataclasses.dataclass(frozen=True)
class Hold:
    shard: str

    def __call__(self, shard: str, part: str) -> None:
        if Path(shard).name == self.shard:
            time.sleep(60)


HOOKS = {"kill": KillOnce, "hold": Hold}


def inject(monkeypatch: Any, hook: Any) -> None:
    """Give every ``run_variants`` call of this process (the ``variants`` command's) ``hook``."""
    import nucleoforge.splicing.variants_run as variants_run

    original = variants_run.run_variants

    def with_hook(settings: Any, *args: Any, **kw: Any) -> Any:
        return original(dataclasses.replace(settings, before_shard=hook), *args, **kw)

    monkeypatch.setattr(variants_run, "run_variants", with_hook)


def main(kind: str, shard: str) -> None:
    """Run the command line (``sys.argv[1:]``) with ``HOOKS[kind](shard)`` in every worker."""
    import nucleoforge.splicing.variants_run as variants_run
    from nucleoforge.cli import main as cli_main

    original, hook = variants_run.run_variants, HOOKS[kind](shard)
    variants_run.run_variants = lambda settings, *a, **kw: original(dataclasses.replace(settings, before_shard=hook), *a, **kw)
    cli_main()
