"""examples/genebert_ablate.py end to end at smoke size (slow: `make test-all`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


@pytest.mark.slow
def test_ablation_example_writes_arms_probes_and_paired_intervals(tmp_path):
    out = tmp_path / "ablate"
    cmd = [sys.executable, str(REPO / "examples" / "genebert_ablate.py"), "--output", str(out), "--steps", "4",
           "--seeds", "0", "--labels", "40", "--threads", "1"]
    res = subprocess.run(cmd, capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results["auroc"]) == {f"{a}|{tf}|40" for a in ("full", "lambda0", "mgm", "random", "6-mer LR")
                                     for tf in ("oct4", "mafk")}
    assert all(0.0 <= v[0] <= 1.0 for v in results["auroc"].values())
    pairs = {(r["a"], r["b"], r["tf"]) for r in results["paired"]}
    assert ("full", "lambda0", "oct4") in pairs and all(r["ci95"][0] <= r["ci95"][1] for r in results["paired"])
    assert sorted(p.name for p in out.iterdir() if p.name.endswith("seed0")) == ["full_seed0", "lambda0_seed0", "mgm_seed0",
                                                                                "random_seed0"]
