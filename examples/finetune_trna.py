"""Base-pair (contact) prediction on 1,415 real tRNA structures, against ViennaRNA MFE folding.

The bundled Infernal test alignment (Stockholm, one ``#=GR … SS`` line per sequence) is parsed
with :func:`nucleoforge.io.stockholm.read_stockholm`; gaps are removed and each sequence's pairs
re-indexed. The split is by sequence: identical sequences (1,415 records, 1,292 distinct) always
fall in the same part (80 / 10 / 10 % by a hash of the sequence). A small SpliceBERT-shaped
model with the contact head is trained from scratch (no pretrained tRNA weights exist here);
pairs are decoded greedily (highest probability first, one partner per nucleotide, ``|i−j| ≥ 4``),
the probability threshold chosen on the validation set. Baseline: ViennaRNA's MFE structure
(``RNA.fold``). Both are scored with the same per-sequence base-pair F1 on the test tRNAs.

    python examples/finetune_trna.py --output runs/trna          # a few minutes on one CPU thread

Ends with a JSON line.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from nucleoforge.io.stockholm import dot_bracket_to_pairs, read_stockholm
from nucleoforge.training.metrics import greedy_pairs, pair_scores

DATA = Path(__file__).resolve().parent / "data"


def split_of(sequence: str) -> str:
    """80/10/10 by a hash of the sequence, so duplicates never straddle two parts."""
    h = int(hashlib.sha1(sequence.encode()).hexdigest(), 16) % 10
    return "test" if h == 0 else "eval" if h == 1 else "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="runs/finetune_trna")
    parser.add_argument("--epochs", type=float, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    parts: dict[str, list] = {"train": [], "eval": [], "test": []}
    for rec in read_stockholm(DATA / "tRNA1415G.sto.gz"):
        parts[split_of(rec.sequence)].append(rec)
    for name, recs in parts.items():
        with open(out / f"{name}.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "sequence", "label"])
            writer.writerows((r.name, r.sequence, r.dot_bracket()) for r in recs)
    print({k: len(v) for k, v in parts.items()}, "tRNAs (train/eval/test)")

    config = dict(variant="splicebert.510", hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                  intermediate_size=256, contact_rank=32)  # fmt: skip
    options = dict(task="contact", problem_type="binary", epochs=args.epochs, batch_size=16, learning_rate=3e-3,
                   warmup_steps=50, patience=4, seed=0, bf16=False, logging_steps=50)  # fmt: skip
    print("equivalent command:\n  " + (
        f"nucleoforge finetune --model-type splicebert --config '{json.dumps(config)}' --task contact "
        f"--problem-type binary --train {out}/train.csv --eval {out}/eval.csv --test {out}/test.csv "
        f"--output {out}/model --epochs {args.epochs} --batch-size 16 --lr 3e-3 --warmup-steps 50 --patience 4 "
        f"--seed 0 --no-bf16 --logging-steps 50 --threads {args.threads}"))

    from nucleoforge.training.finetune import finetune, predict
    from nucleoforge.training.pretrain import load_model

    t0 = time.time()
    metrics = finetune(out / "train.csv", out / "model", eval=out / "eval.csv", test=out / "test.csv",
                       model_type="splicebert", config_overrides=config, **options)  # fmt: skip
    elapsed = time.time() - t0

    # decode with a threshold picked on the validation tRNAs, then score the test tRNAs
    model, tok = load_model(out / "model", "ForContactPrediction")

    def probabilities(recs):
        return [1 / (1 + np.exp(-lg[..., 0])) for lg in predict(model, tok, [r.sequence for r in recs])]

    def mean_f1(maps, recs, threshold):
        return float(np.mean([pair_scores(greedy_pairs(p, threshold), r.pairs)["f1"] for p, r in zip(maps, recs)]))

    eval_maps, test_maps = probabilities(parts["eval"]), probabilities(parts["test"])
    thresholds = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]
    best = max(thresholds, key=lambda t: mean_f1(eval_maps, parts["eval"], t))
    model_scores = [pair_scores(greedy_pairs(p, best), r.pairs) for p, r in zip(test_maps, parts["test"])]

    import RNA

    vienna_scores = [pair_scores(dot_bracket_to_pairs(RNA.fold(r.sequence)[0]), r.pairs) for r in parts["test"]]

    def summary(scores):
        return {key: round(float(np.mean([s[key] for s in scores])), 4) for key in ("precision", "recall", "f1")}

    ours, vienna = summary(model_scores), summary(vienna_scores)
    print(f"\n{len(parts['test'])} test tRNAs   precision  recall  F1 (means per sequence)")
    print(f"ViennaRNA MFE      {vienna['precision']:.4f}     {vienna['recall']:.4f}  {vienna['f1']:.4f}")
    print(f"nucleoforge        {ours['precision']:.4f}     {ours['recall']:.4f}  {ours['f1']:.4f}   (threshold {best} from eval)")
    print(json.dumps({
        "n_train": len(parts["train"]), "n_eval": len(parts["eval"]), "n_test": len(parts["test"]),
        "model_test_f1": ours["f1"], "model_test_precision": ours["precision"], "model_test_recall": ours["recall"],
        "model_test_top_l_precision": round(metrics["test"]["test_top_l_precision"], 4),
        "model_test_f1_at_0.5": round(metrics["test"]["test_f1"], 4), "threshold": best,
        "vienna_test_f1": vienna["f1"], "vienna_test_precision": vienna["precision"], "vienna_test_recall": vienna["recall"],
        "train_seconds": round(elapsed, 1), "threads": args.threads,
    }))  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
