"""Pretrain a small SpliceBERT-shaped MLM from scratch on real pre-mRNA (GRCh37 chr22:20–21 Mb).

Gene spans come from the GENCODE table shipped in the ``spliceai`` wheel (read as a file, the
package is never imported); pre-mRNA = the genomic span TX_START..TX_END of each gene, reverse-
complemented for minus-strand genes. Three genes that overlap no other gene are held out for
evaluation. The held-out MLM accuracy is compared with the best constant predictor (always the
most frequent training nucleotide = the unigram arg-max).

    python examples/pretrain_chr22.py --output runs/chr22            # ≈ 5 min on one CPU thread

It writes the FASTA files, runs :func:`nucleoforge.training.pretrain.pretrain` (the same code as
``nucleoforge pretrain``; the equivalent command is printed) and ends with a JSON line.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from nucleoforge.alphabet import reverse_complement
from nucleoforge.io.fasta import read_fasta, write_fasta

DATA = Path(__file__).resolve().parent / "data"
BLOCK = DATA / "GRCh37_chr22_20000001-21000000.fa.gz"
BLOCK_START = 20_000_000  # 0-based genomic coordinate of the block's base 0 (chr22:20,000,001)
HELD_OUT = ("RTN4R", "DGCR6L", "ZNF74")  # overlap no other gene of the block


def gene_spans() -> list[tuple[str, str, int, int]]:
    """(name, strand, tx_start, tx_end) of the GRCh37 genes inside the block (0-based, end exclusive)."""
    root = importlib.util.find_spec("spliceai").submodule_search_locations[0]
    table = Path(root) / "annotations" / "grch37.txt"
    out = []
    with open(table, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            name, chrom, strand, start, end = line.rstrip("\n").split("\t")[:5]
            if chrom in ("22", "chr22") and int(start) >= BLOCK_START and int(end) <= BLOCK_START + 1_000_000:
                out.append((name, strand, int(start), int(end)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="runs/pretrain_chr22")
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    block = next(read_fasta(BLOCK)).sequence
    train, held = [], []
    for name, strand, start, end in gene_spans():
        seq = block[start - BLOCK_START : end - BLOCK_START]
        seq = reverse_complement(seq) if strand == "-" else seq
        (held if name in HELD_OUT else train).append((f"{name} {strand} chr22:{start + 1}-{end}", seq))
    with open(out / "train.fa", "w") as fh:
        write_fasta(train, fh)
    with open(out / "eval.fa", "w") as fh:
        write_fasta(held, fh)
    print(f"{len(train)} training genes ({sum(len(s) for _, s in train):,} nt), "
          f"{len(held)} held-out genes ({sum(len(s) for _, s in held):,} nt)")

    config = dict(variant="splicebert.510", hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=256)
    options = dict(min_length=64, max_length=128, eval_length=128, batch_size=32, learning_rate=2e-3, warmup_steps=30,
                   max_steps=args.max_steps, logging_steps=25, save_steps=100, seed=0, bf16=False)
    cli = (f"nucleoforge pretrain --model-type splicebert --config '{json.dumps(config)}' --train {out}/train.fa "
           f"--eval {out}/eval.fa --output {out}/model --min-length 64 --max-length 128 --eval-length 128 "
           f"--batch-size 32 --lr 2e-3 --warmup-steps 30 --max-steps {args.max_steps} --logging-steps 25 "
           f"--save-steps 100 --seed 0 --no-bf16 --threads {args.threads}")
    print("equivalent command:\n  " + cli)

    from nucleoforge.training.pretrain import pretrain

    t0 = time.time()
    metrics = pretrain([out / "train.fa"], out / "model", model_type="splicebert", config_overrides=config,
                       eval_files=[out / "eval.fa"], **options)
    elapsed = time.time() - t0

    # best constant predictor: the most frequent training nucleotide, scored on the same masked eval positions
    from nucleoforge.training.collators import build_collator
    from nucleoforge.training.data import masked_eval_examples
    from nucleoforge.tokenization import NucleotideTokenizer

    tok = NucleotideTokenizer.for_model("splicebert", variant="splicebert.510")
    counts = collections.Counter("".join(s for _, s in train))
    top = max("ACGT", key=lambda b: counts[b])
    eval_set = masked_eval_examples([out / "eval.fa"], tok, build_collator("base", tok), 128, 2000, seed=0)
    labels = np.concatenate([e["labels"][e["labels"] != -100] for e in eval_set])
    constant = float((labels == tok.nucleotide_token_ids[top]).mean())
    oracle = max(float((labels == i).mean()) for i in tok.nucleotide_token_ids.values())  # best constant chosen on eval
    logs = [json.loads(line) for line in open(out / "model" / "log.jsonl")]
    losses = [(r["step"], round(r["loss"], 4)) for r in logs if "loss" in r]
    evals = [(r["step"], round(r["eval_mlm_accuracy"], 4), round(r["eval_loss"], 4)) for r in logs if "eval_mlm_accuracy" in r]
    print("\nstep  train loss")
    for step, loss in losses:
        print(f"{step:5d}  {loss:.4f}")
    print("\nstep  eval MLM accuracy  eval loss")
    for step, acc, loss in evals:
        print(f"{step:5d}  {acc:.4f}             {loss:.4f}")
    result = {
        "train_nt": sum(len(s) for _, s in train), "eval_nt": sum(len(s) for _, s in held),
        "masked_eval_positions": int(len(labels)), "first_train_loss": losses[0][1], "last_train_loss": losses[-1][1],
        "eval_mlm_accuracy": round(metrics["eval"]["eval_mlm_accuracy"], 4), "eval_loss": round(metrics["eval"]["eval_loss"], 4),
        "constant_baseline_accuracy": round(constant, 4), "constant_baseline_nucleotide": top,
        "best_constant_on_eval_accuracy": round(oracle, 4),
        "train_seconds": round(elapsed, 1), "threads": args.threads, "max_steps": args.max_steps,
    }  # fmt: skip
    print(f"\nheld-out MLM accuracy {result['eval_mlm_accuracy']:.4f} vs most frequent training nucleotide ({top}) "
          f"{constant:.4f}; best constant chosen on the held-out labels {oracle:.4f}")
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
