"""``nucleoforge pretrain`` / ``finetune`` end to end with tiny models: resume continues exactly,
metrics files, bad input rejected (file and row named) before training starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.runner import invoke
from tests.training.conftest import TINY, TINY_ARG

pytestmark = pytest.mark.usefixtures("one_thread")


# Seeded values on CPU torch 2.13; a little slack for other CPUs' kernels (the recomputation from
# the saved model's predictions, asserted beside each pin, is the exact check).
PINNED = 0.02


def _pretrain(train: Path, held: Path, out: Path, max_steps: int, *extra: str):
    args = ["pretrain", "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(train), "--eval", str(held),
            "--output", str(out), "--min-length", "64", "--max-length", "96", "--batch-size", "4", "--max-steps",
            str(max_steps), "--save-steps", "3", "--logging-steps", "1", "--lr", "1e-3", "--lr-scheduler", "constant",
            "--shuffle-buffer", "64", "--trace-batches", "--quiet", *extra]  # fmt: skip
    result = invoke(args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _losses(folder: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in open(folder / "log.jsonl")]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _trace(folder: Path) -> list[str]:
    return (folder / "trace" / "rank0.txt").read_text().splitlines()


def _recomputed(folder: Path, head: str, data: Path, problem_type: str = "binary") -> dict[str, float]:
    """The metrics of the saved model's predictions on ``data`` (a CSV/TSV of sequence,label), computed
    here from :func:`~nucleoforge.training.finetune.predict`'s logits — not by the Trainer."""
    import numpy as np

    from nucleoforge.training.finetune import predict
    from nucleoforge.training.metrics import contact_metrics, prediction_metrics
    from nucleoforge.training.pretrain import load_model

    sep = "\t" if data.suffix == ".tsv" else ","
    rows = [line.split(sep) for line in data.read_text().splitlines()[1:]]
    model, tok = load_model(folder, head)
    logits = predict(model, tok, [seq for seq, _ in rows])
    if head == "ForContactPrediction":  # dot-bracket labels: the pairs of each structure
        def pairs(structure: str) -> list[tuple[int, int]]:
            stack, out = [], []
            for i, ch in enumerate(structure):
                if ch == "(":
                    stack.append(i)
                elif ch == ")":
                    out.append((stack.pop(), i))
            return out

        maps = [1 / (1 + np.exp(-x[..., 0].astype(np.float64))) for x in logits]
        return contact_metrics(maps, [pairs(label) for _, label in rows])
    if head == "ForTokenPrediction":  # one label per nucleotide
        labels = np.array([int(c) for _, label in rows for c in label])
        return prediction_metrics(np.concatenate([x.reshape(-1) for x in logits]), labels, problem_type)
    return prediction_metrics(np.stack(logits).reshape(-1), np.array([int(y) for _, y in rows]), problem_type)


def test_pretrain_and_exact_resume(tmp_path, chr22_corpus):
    train, held = chr22_corpus
    full, part = tmp_path / "full", tmp_path / "part"
    _pretrain(train, held, full, 6)
    _pretrain(train, held, part, 3)
    assert sorted(p.name for p in part.glob("checkpoint-*")) == ["checkpoint-3"]
    _pretrain(train, held, part, 6, "--resume")
    # the resumed run trains on the same batches, with the same masks, to the same losses
    assert _trace(part) == _trace(full)
    a, b = _losses(full), _losses(part)
    assert sorted(a) == list(range(1, 7)) and sorted(b) == list(range(1, 7))
    for step in range(4, 7):
        assert b[step] == pytest.approx(a[step], abs=1e-5)
    metrics = json.loads((full / "metrics.json").read_text())
    # seeded (data order, masks, weights): the same numbers on every CPU run
    assert metrics["eval"]["eval_mlm_accuracy"] == pytest.approx(4 / 11, abs=1e-4)
    from nucleoforge.training.pretrain import load_model

    model, tok = load_model(full)
    assert model.config.hidden_size == TINY["hidden_size"] and tok.k == 1


def test_pretrain_schedule_switch_at_the_resume_point_is_exact(tmp_path, chr22_corpus):
    """A masking schedule that switches at step index 3 (the 4th step): the uninterrupted run and
    a run resumed from checkpoint-3 mask every batch alike — the Trainer collates ahead of the
    step (and before restoring its state on resume), so the masking happens at the step."""
    train, held = chr22_corpus
    full, part = tmp_path / "full", tmp_path / "part"
    schedule = ("--schedule", "0:base@0.15,3:base@0.4")
    _pretrain(train, held, full, 6, *schedule)
    _pretrain(train, held, part, 3, *schedule)
    _pretrain(train, held, part, 6, "--resume", *schedule)
    assert _trace(part) == _trace(full)
    masked = [int(line.split()[4]) for line in _trace(full)]  # masked tokens per batch
    assert min(masked[3:]) > max(masked[:3])  # 40 % from the 4th step on, 15 % before


def test_pretrain_resume_without_checkpoint_fails(tmp_path, chr22_corpus):
    train, held = chr22_corpus
    result = invoke(["pretrain", "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(train),
                                 "--output", str(tmp_path / "none"), "--resume", "--max-steps", "2", "--quiet"])  # fmt: skip
    assert result.exit_code == 2 and "no checkpoint-* folder" in result.output


def test_pretrain_rejects_too_long_chunks(tmp_path, chr22_corpus):
    train, _ = chr22_corpus
    result = invoke(["pretrain", "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(train),
                                 "--output", str(tmp_path / "x"), "--max-length", "2000", "--quiet"])  # fmt: skip
    assert result.exit_code == 2 and "exceeds the model's 510 nucleotides" in result.output


def test_pretrain_kmer_span_schedule(tmp_path, chr22_corpus):
    """``0:kmer,2:span`` masks steps 0 and 1 exactly as k-mer masking alone and steps 2 and 3
    exactly as span masking alone (same batches, same mask seeds): the switch is at step 2."""
    train, _ = chr22_corpus

    def run(name: str, schedule: str) -> list[str]:
        out = tmp_path / name
        result = invoke(["pretrain", "--model-type", "utrbert", "--config",
                         "k=3,hidden_size=16,num_hidden_layers=1,num_attention_heads=2,intermediate_size=32",
                         "--train", train, "--output", out, "--min-length", "40", "--max-length", "60",
                         "--batch-size", "4", "--max-steps", "4", "--save-steps", "4", "--logging-steps", "1",
                         "--schedule", schedule, "--trace-batches", "--quiet"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert sorted(_losses(out)) == [1, 2, 3, 4]
        return _trace(out)

    switched, kmer, span = run("switched", "0:kmer,2:span"), run("kmer", "0:kmer"), run("span", "0:span")
    assert [line.split()[0] for line in switched] == ["0", "1", "2", "3"]
    assert switched[:2] == kmer[:2] and switched[2:] == span[2:]
    assert kmer[:2] != span[:2] and kmer[2:] != span[2:]  # the two strategies mask these batches differently


@pytest.fixture()
def tfbs_csv(tmp_path) -> tuple[Path, Path]:
    """60 real peaks from the bundled test files (Oct4 = 1, MafK = 0)."""
    from nucleoforge.io.fasta import read_fasta
    from tests.conftest import DATA

    rows = [(r.sequence, 1) for r in read_fasta(DATA / "oct4_peaks_test.fa")][:30]
    rows += [(r.sequence, 0) for r in read_fasta(DATA / "mafk_peaks_test.fa")][:30]
    train, held = tmp_path / "train.csv", tmp_path / "eval.csv"
    train.write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows[::2] + rows[1::2]))
    held.write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows[::3]))
    return train, held


def test_finetune_sequence_writes_metrics(tmp_path, tfbs_csv):
    train, held = tfbs_csv
    out = tmp_path / "ft"
    result = invoke(["finetune", "--model-type", "splicebert", "--config", TINY_ARG, "--task", "sequence",
                                 "--problem-type", "binary", "--train", str(train), "--eval", str(held), "--test",
                                 str(held), "--output", str(out), "--epochs", "2", "--batch-size", "16", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    # the saved (best) model's predictions give the reported numbers, and eval and test read the same file
    names = ("accuracy", "f1", "mcc", "auroc", "auprc")
    recomputed = _recomputed(out, "ForSequencePrediction", held)
    assert {k: metrics["test"][f"test_{k}"] for k in names} == pytest.approx(recomputed, abs=1e-5)
    assert {k: metrics["eval"][f"eval_{k}"] for k in names} == pytest.approx(recomputed, abs=1e-5)
    # seeded: the same numbers on every CPU run
    assert recomputed == pytest.approx({"accuracy": 0.5, "f1": 0.0, "mcc": 0.0, "auroc": 0.23, "auprc": 0.390851}, abs=PINNED)
    assert metrics["metric_for_best_model"] == "auroc"
    assert metrics["best_checkpoint"] is not None and Path(metrics["best_checkpoint"]).name.startswith("checkpoint-")
    # the saved folder reloads as a sequence classifier with the trained head
    from nucleoforge.training.pretrain import load_model

    model, _ = load_model(out, "ForSequencePrediction")
    assert model.config.problem_type == "binary" and model.config.num_labels == 1


def test_finetune_contact_from_scratch(tmp_path):
    data = tmp_path / "c.csv"
    data.write_text("sequence,label\n" + "".join(f"GGGGAAAACCCC{'ACGUA'[i % 5] * 3},((((....))))...\n" for i in range(8)))
    out = tmp_path / "contact"
    result = invoke(["finetune", "--model-type", "splicebert", "--config", TINY_ARG, "--task", "contact",
                                 "--train", str(data), "--eval", str(data), "--output", str(out), "--epochs", "1",
                                 "--batch-size", "4", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    names = ("precision", "recall", "f1", "top_l_precision", "micro_f1")
    recomputed = _recomputed(out, "ForContactPrediction", data)
    assert {k: metrics["eval"][f"eval_{k}"] for k in names} == pytest.approx(recomputed, abs=1e-6)
    # seeded: the same numbers on every CPU run
    assert recomputed == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "top_l_precision": 1 / 24,
                                        "micro_f1": 0.0}, abs=PINNED)


@pytest.mark.parametrize(
    ("content", "task", "problem", "message"),
    [
        ("sequence,label\nACGT,1\n,0\n", "sequence", "binary", "row 2: empty sequence"),
        ("sequence,label\nACGT,1\nACGT,0.5\n", "sequence", "binary", "row 2: label '0.5' is not valid for problem type 'binary'"),
        ("sequence,label\nACGT,0101\nACGTA,0101\n", "token", "binary", "row 2: token label string has 4 characters"),
        ("sequence,label,extra\nACGT,1,x\n", "sequence", "binary", "unknown column(s) ['extra']"),
    ],
)
def test_finetune_bad_input_fails_before_training(tmp_path, content, task, problem, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    out = tmp_path / "never"
    result = invoke(["finetune", "--model-type", "splicebert", "--config", TINY_ARG, "--task", task,
                                 "--problem-type", problem, "--train", str(bad), "--output", str(out), "--quiet"])  # fmt: skip
    assert result.exit_code == 2
    assert "bad.csv" in result.output and message in result.output
    assert not out.exists()


def test_finetune_token_task_from_pretrained_folder(tmp_path, chr22_corpus, chr22_block):
    train, held = chr22_corpus
    pretrained = tmp_path / "mlm"
    result = invoke(["pretrain", "--model-type", "utrbert", "--config",
                                 "k=3,hidden_size=16,num_hidden_layers=1,num_attention_heads=2,intermediate_size=32",
                                 "--train", str(train), "--output", str(pretrained), "--min-length", "40",
                                 "--max-length", "60", "--batch-size", "4", "--max-steps", "2", "--save-steps", "2",
                                 "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    # per-nucleotide labels: 1 on C/G (a real, learnable property), aligned to nucleotides for a 3-mer model
    seqs = [chr22_block[i : i + 30 + i % 7] for i in range(100_000, 100_000 + 40 * 97, 97)]
    data = tmp_path / "tok.tsv"
    data.write_text("sequence\tlabel\n" + "".join(f"{s}\t{''.join('1' if c in 'CG' else '0' for c in s)}\n" for s in seqs))
    out = tmp_path / "tok"
    result = invoke(["finetune", "--model", str(pretrained), "--task", "token", "--problem-type", "binary",
                                 "--train", str(data), "--eval", str(data), "--output", str(out), "--epochs", "2",
                                 "--batch-size", "8", "--lr", "3e-3", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    names = ("accuracy", "f1", "mcc", "auroc", "auprc")
    recomputed = _recomputed(out, "ForTokenPrediction", data)
    assert {k: metrics["eval"][f"eval_{k}"] for k in names} == pytest.approx(recomputed, abs=1e-5)
    # seeded: the same numbers on every CPU run
    assert recomputed == pytest.approx({"accuracy": 0.640909, "f1": 0.781163, "mcc": 0.0, "auroc": 0.788872,
                                        "auprc": 0.854098}, abs=PINNED)
    from nucleoforge.training.pretrain import load_model

    model, tok = load_model(out, "ForTokenPrediction")
    assert tok.k == 3 and model.config.k == 3 and model.config.problem_type == "binary"
