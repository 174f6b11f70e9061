"""examples/genebert_ablate.py end to end at smoke size (slow: `make test-all`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
SCRIPT = REPO / "examples" / "genebert_ablate.py"
ENV = {"HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
SMOKE = ["--steps", "4", "--seeds", "0", "--labels", "40", "--finetune-labels", "40", "--finetune-epochs", "1",
         "--promoter-epochs", "1", "--finetune-lrs", "1e-3", "3e-4", "--threads", "1"]  # fmt: skip


def _run(*args: object, torchrun: int = 0) -> subprocess.CompletedProcess:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(torchrun)] if torchrun else [sys.executable]
    return subprocess.run([*launcher, str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=ENV, timeout=900)


@pytest.mark.slow
def test_ablation_example_writes_arms_readouts_and_paired_intervals(tmp_path):
    out = tmp_path / "ablate"
    res = _run("--output", out, *SMOKE)
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    arms = ("full", "lambda0", "mgm", "random")
    expected = {f"{a}|{tf}|{r}" for tf in ("oct4", "mafk") for r, with_kmer in (("probe n=40", True), ("fine-tune n=40", False))
                for a in (*arms, "6-mer LR") if with_kmer or a != "6-mer LR"}  # fmt: skip
    expected |= {f"{a}|promoter|{r}" for r, with_kmer in (("probe cv", True), ("fine-tune cv", False))
                 for a in (*arms, "6-mer LR") if with_kmer or a != "6-mer LR"}  # fmt: skip
    assert set(results["auroc"]) == expected
    assert all(0.0 <= v[0] <= 1.0 for v in results["auroc"].values())
    pairs = {(r["a"], r["b"], r["task"], r["readout"]) for r in results["paired"]}
    assert ("full", "lambda0", "promoter", "fine-tune cv") in pairs and len(pairs) == 3 * 6
    assert all(r["ci95"][0] <= r["ci95"][1] for r in results["paired"])
    assert results["promoter_set"]["kinds"]["promoter"] == 19
    assert sorted(p.name for p in out.iterdir() if p.name.endswith("seed0")) == [f"{a}_seed0" for a in arms]
    # every learning rate's metrics are kept, the weights only of the one validation chose
    fold = out / "finetune" / "full_seed0_oct4"
    assert sorted(p.name for p in fold.glob("lr*")) == ["lr0.0003", "lr0.001"]
    kept = list(fold.glob("lr*/model.safetensors"))
    assert len(kept) == 1 and not list(fold.glob("lr*/checkpoint-*"))
    val = {d.name: json.loads((d / "metrics.json").read_text())["eval"]["eval_auroc"] for d in fold.glob("lr*")}
    assert val[kept[0].parent.name] == max(val.values())  # validation picked the rate
    # a re-run reuses every run and gives the same numbers; other settings are refused
    again = _run("--output", out, *SMOKE)
    assert again.returncode == 0 and "[pretrain" not in again.stdout, again.stderr[-2000:]
    assert json.loads((out / "results.json").read_text())["auroc"] == results["auroc"]
    other = _run("--output", out, *SMOKE, "--steps", "5")
    assert other.returncode != 0 and f"error: {out} holds runs made with other settings (--steps 4 → 5)" in other.stderr


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="gloo torchrun run")
def test_torchrun_pretrains_on_two_processes_then_a_plain_run_reads_out(tmp_path):
    out = tmp_path / "ddp"
    res = _run("--output", out, "--steps", "3", "--seeds", "0", "--arms", "full", "random", "--batch-size", "4",
               "--threads", "1", torchrun=2)  # fmt: skip
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    assert "[pretrain full seed 0] 3 steps × 8" in res.stdout  # per-process batch 4, global 8
    assert "now run the same command without torchrun for the readouts" in res.stdout
    assert (out / "full_seed0" / "sequence" / "config.json").is_file() and (out / "random_seed0" / "sequence").is_dir()
    assert not (out / "results.json").exists()
    plain = _run("--output", out, "--steps", "3", "--seeds", "0", "--arms", "full", "random", "--batch-size", "4",
                 "--threads", "1", "--tasks", "oct4", "--readouts", "probe", "--labels", "40")  # fmt: skip
    assert plain.returncode == 0 and "[pretrain" not in plain.stdout, plain.stderr[-2000:]
    assert set(json.loads((out / "results.json").read_text())["auroc"]) == {
        f"{a}|oct4|probe n=40" for a in ("full", "random", "6-mer LR")}  # fmt: skip
    assert os.path.getsize(out / "settings.json") > 0
