"""Sequence classification on real ChIP-seq peaks: Oct4 (label 1) vs MafK (label 0), 200 bp each.

The bundled janggu peaks (3,897 + 3,900 training, 100 + 100 test sequences) are written as CSV
files (``id,sequence,label``); 10 % of the training rows (fixed seed) become the validation set
for best-checkpoint selection and early stopping. A small 3UTRBERT-shaped model (4-mer tokens) is
fine-tuned from scratch (``--model DIR`` starts from a pretrained folder instead) and compared on the same
test set with a baseline: logistic regression on 4-mer counts (scikit-learn).

    python examples/finetune_tfbs.py --output runs/tfbs        # a few minutes on one CPU thread

Ends with a JSON line (test AUROC of both).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from nucleoforge.io.fasta import read_fasta

DATA = Path(__file__).resolve().parent / "data"


def write_csv(path: Path, rows: list[tuple[str, str, int]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "sequence", "label"])
        writer.writerows(rows)


def kmer_counts(seqs: list[str], k: int = 4) -> np.ndarray:
    """Counts of every k-mer over ACGT (k-mers with other letters skipped)."""
    index = {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=k))}
    out = np.zeros((len(seqs), len(index)), dtype=np.float32)
    for r, s in enumerate(seqs):
        s = s.upper()
        for i in range(len(s) - k + 1):
            j = index.get(s[i : i + k])
            if j is not None:
                out[r, j] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="runs/finetune_tfbs")
    parser.add_argument("--model", default=None, help="pretrained nucleoforge folder (default: a fresh model)")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    def load(name: str, label: int) -> list[tuple[str, str, int]]:
        return [(r.name, r.sequence.upper(), label) for r in read_fasta(DATA / name)]

    train = load("oct4_peaks_train.fa.gz", 1) + load("mafk_peaks_train.fa.gz", 0)
    test = load("oct4_peaks_test.fa", 1) + load("mafk_peaks_test.fa", 0)
    order = np.random.default_rng(0).permutation(len(train))
    n_eval = len(train) // 10
    valid = [train[i] for i in order[:n_eval]]
    train = [train[i] for i in order[n_eval:]]
    for name, rows in (("train", train), ("eval", valid), ("test", test)):
        write_csv(out / f"{name}.csv", rows)
    print(f"train {len(train)}, eval {len(valid)}, test {len(test)} sequences")

    # baseline: logistic regression on 4-mer counts
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(kmer_counts([s for _, s, _ in train]))
    clf = LogisticRegression(C=0.1, max_iter=2000).fit(scaler.transform(kmer_counts([s for _, s, _ in train])), [y for *_, y in train])
    base_scores = clf.predict_proba(scaler.transform(kmer_counts([s for _, s, _ in test])))[:, 1]
    baseline_auroc = float(roc_auc_score([y for *_, y in test], base_scores))

    # 4-mer tokens (a 3UTRBERT-shaped model: DNA is read as RNA, T -> U): each token already sees a k-mer
    config = dict(k=4, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                  pooling="mean")  # fmt: skip
    options = dict(task="sequence", problem_type="binary", epochs=args.epochs, batch_size=32, learning_rate=2e-3,
                   warmup_steps=20, patience=2, seed=0, bf16=False, logging_steps=20)  # fmt: skip
    model_args = f"--model {args.model}" if args.model else f"--model-type utrbert --config '{json.dumps(config)}'"
    print("equivalent command:\n  " + (
        f"nucleoforge finetune {model_args} --task sequence --problem-type binary --train {out}/train.csv "
        f"--eval {out}/eval.csv --test {out}/test.csv --output {out}/model --epochs {args.epochs} --batch-size 32 "
        f"--lr 2e-3 --warmup-steps 20 --patience 2 --seed 0 --no-bf16 --logging-steps 20 --threads {args.threads}"))

    from nucleoforge.training.finetune import finetune

    t0 = time.time()
    metrics = finetune(out / "train.csv", out / "model", eval=out / "eval.csv", test=out / "test.csv", model=args.model,
                       model_type=None if args.model else "utrbert", config_overrides=None if args.model else config,
                       **options)  # fmt: skip
    elapsed = time.time() - t0
    test_metrics = metrics["test"]
    print(f"\n{'method':38s} test AUROC  test AUPRC  test MCC")
    print(f"{'logistic regression on 4-mer counts':38s} {baseline_auroc:.4f}")
    print(f"{'nucleoforge (3UTRBERT-shaped, 4-mers)':38s} {test_metrics['test_auroc']:.4f}      "
          f"{test_metrics['test_auprc']:.4f}      {test_metrics['test_mcc']:.4f}")
    print(json.dumps({
        "test_auroc": round(test_metrics["test_auroc"], 4), "test_auprc": round(test_metrics["test_auprc"], 4),
        "test_accuracy": round(test_metrics["test_accuracy"], 4), "test_mcc": round(test_metrics["test_mcc"], 4),
        "baseline_4mer_logreg_test_auroc": round(baseline_auroc, 4), "best_checkpoint": metrics["best_checkpoint"],
        "train_seconds": round(elapsed, 1), "threads": args.threads,
    }))  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
