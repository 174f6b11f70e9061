"""``nucleoforge pretrain`` under ``torchrun --nproc_per_node=2`` on CPU (gloo): no code changes,
each rank trains on different chunks, one checkpoint and one final model are written."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.training.conftest import TINY_ARG


def test_torchrun_two_cpu_processes(tmp_path, chr22_corpus):
    train, held = chr22_corpus
    out = tmp_path / "ddp"
    script = shutil.which("nucleoforge", path=str(Path(sys.executable).parent)) or shutil.which("nucleoforge")
    assert script, "the nucleoforge console script is not installed"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script, "pretrain",
           "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(train), "--eval", str(held),
           "--output", str(out), "--min-length", "64", "--max-length", "96", "--batch-size", "4", "--max-steps", "4",
           "--save-steps", "4", "--logging-steps", "1", "--shuffle-buffer", "64", "--trace-batches", "--quiet"]  # fmt: skip
    # own process group, so that a timeout ends the workers too, not only the torchrun agent
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=170)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(f"torchrun timed out; output tail:\n{stdout[-2000:]}\n{stderr[-3000:]}") from None
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    rank0 = (out / "trace" / "rank0.txt").read_text().split("\n")[:-1]
    rank1 = (out / "trace" / "rank1.txt").read_text().split("\n")[:-1]
    # both ranks took the same 4 steps, each on its own batches (crc of input ids differ at every step)
    assert [line.split()[0] for line in rank0] == [line.split()[0] for line in rank1] == ["0", "1", "2", "3"]
    assert all(a.split()[1] != b.split()[1] for a, b in zip(rank0, rank1))
    assert not {a.split()[1] for a in rank0} & {b.split()[1] for b in rank1}
    # one checkpoint (written by rank 0 only), one final model and one metrics file
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4"]
    assert (out / "model.safetensors").is_file() and (out / "vocab.txt").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["eval"]["eval_mlm_accuracy"] <= 1.0
    logged = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2, 3, 4]  # logged once, by rank 0
