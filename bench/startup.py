"""Start-up cost: whole processes, run interleaved, medians over ``--repeats`` rounds.

Rows:
* ``nucleoforge --help`` and ``nucleoforge variants --help`` (targets: ≤ 0.5 s; no torch import);
* ``import nucleoforge`` (lazy: imports neither torch nor transformers);
* a transformers program's first model: ``import torch, transformers`` + a 1-layer BERT masked LM
  from ``AutoModelForMaskedLM.from_config`` against ``import nucleoforge`` + the same for a 1-layer
  SpliceBERT (this first Auto use registers every family): the difference is what nucleoforge
  adds (target ≤ 0.5 s);
* the same pair with a config only (``AutoConfig.for_model``): registering the families imports
  their model classes, so here nucleoforge also pays for transformers' ``PreTrainedModel``.

    .venv/bin/python bench/startup.py [--repeats 7]

Prints a table and a final JSON line (seconds).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PY = sys.executable
CLI = shutil.which("nucleoforge", path=str(Path(PY).parent)) or "nucleoforge"

_MODEL = ("transformers.AutoModelForMaskedLM.from_config(transformers.AutoConfig.for_model('{}', num_hidden_layers=1, "
          "hidden_size=32, num_attention_heads=2, intermediate_size=64))")

CASES = {
    "nucleoforge --help": [CLI, "--help"],
    "nucleoforge variants --help": [CLI, "variants", "--help"],
    "python: import nucleoforge": [PY, "-c", "import nucleoforge"],
    "python: import torch, transformers": [PY, "-c", "import torch, transformers"],
    "python: torch + transformers + first Auto model (BERT)": [PY, "-c", "import torch, transformers; " + _MODEL.format("bert")],
    "python: nucleoforge + first Auto model (SpliceBERT)": [PY, "-c", "import torch, transformers, nucleoforge; " + _MODEL.format("splicebert")],
    "python: torch + transformers + first AutoConfig": [PY, "-c", "import torch, transformers; transformers.AutoConfig.for_model('bert')"],
    "python: nucleoforge + first AutoConfig (SpliceBERT)": [
        PY, "-c", "import torch, transformers, nucleoforge; transformers.AutoConfig.for_model('splicebert')"],
}  # fmt: skip


def run_once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def torch_imported(cmd: list[str]) -> bool:
    """Whether the command's process imports torch (``-X importtime`` on the same code)."""
    if cmd[0] == CLI:
        code = f"import sys; sys.argv = {['nucleoforge', *cmd[1:]]!r}\nfrom nucleoforge.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    else:
        code = cmd[-1]
    done = subprocess.run([PY, "-X", "importtime", "-c", code], capture_output=True, text=True)
    return any(line.rstrip().endswith("| torch") for line in done.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for cmd in CASES.values():  # warm the file cache once
        run_once(cmd)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, cmd in CASES.items():  # interleaved, so drifts in machine load hit every row alike
            times[name].append(run_once(cmd))
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"{'process':<64} {'median s':>9} {'min s':>7} {'max s':>7} {'imports torch':>14}")
    for name, t in times.items():
        print(f"{name:<64} {med[name]:>9.3f} {min(t):>7.3f} {max(t):>7.3f} {str(torch_imported(CASES[name])):>14}")
    overhead = med["python: nucleoforge + first Auto model (SpliceBERT)"] - med["python: torch + transformers + first Auto model (BERT)"]
    config_only = med["python: nucleoforge + first AutoConfig (SpliceBERT)"] - med["python: torch + transformers + first AutoConfig"]
    print(f"nucleoforge's cost on top of torch + transformers: {overhead:+.3f} s (first model), {config_only:+.3f} s (config only)")
    print(json.dumps({"bench": "startup", "repeats": args.repeats, "median_s": {k: round(v, 3) for k, v in med.items()},
                      "overhead_first_model_s": round(overhead, 3), "overhead_config_only_s": round(config_only, 3)}))


if __name__ == "__main__":
    main()
