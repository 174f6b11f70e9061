"""``nucleoforge pretrain`` under ``torchrun --nproc_per_node=2`` on CPU (gloo): no code changes,
each rank trains on different chunks, one checkpoint and one final model are written."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_torchrun
from tests.training.conftest import TINY_ARG


def test_torchrun_two_cpu_processes(tmp_path, chr22_corpus):
    train, held = chr22_corpus
    out = tmp_path / "ddp"
    run_torchrun("pretrain", "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(train), "--eval", str(held),
                 "--output", str(out), "--min-length", "64", "--max-length", "96", "--batch-size", "4", "--max-steps", "4",
                 "--save-steps", "4", "--logging-steps", "1", "--shuffle-buffer", "64", "--trace-batches", "--quiet",
                 TOKENIZERS_PARALLELISM="false")  # fmt: skip
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
    # seeded (data order, masks, weights) and reduced over both ranks: the same number on every CPU run
    assert metrics["eval"]["eval_mlm_accuracy"] == pytest.approx(5 / 66, abs=1e-4)
    logged = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2, 3, 4]  # logged once, by rank 0
