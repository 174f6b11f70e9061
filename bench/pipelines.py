"""Pipelines benchmark: length-bucketed batching vs naive padding, same outputs.

Model: a **randomly initialised** SpliceBERT of the real size (6 layers × 512 hidden, 16 heads,
FFN 2048, 1,026 positions) — speed does not depend on the weights, and no pretrained weights
are needed. Data: real GRCh37 chr22 sequences from ``examples/data`` of mixed length (uniform
64–1,024 nt, N-free, fixed seed). Fill-mask masks one random nucleotide per sequence;
embeddings are mean-pooled last-layer states.

"bucketed" sorts the model chunks of each buffer (``--buffer`` sequences) by length before
batching; "naive" batches them in input order, padded to the longest of each batch. Both must
give the same outputs (max |difference| is printed). Prints a table and a final JSON line.

    python bench/pipelines.py                 # 1,000 sequences, batch 16
    python bench/pipelines.py --n 200 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def real_sequences(n: int, seed: int = 0) -> list[tuple[str, str]]:
    from nucleoforge.io.fasta import read_fasta

    block = next(read_fasta(REPO / "examples" / "data" / "GRCh37_chr22_20000001-21000000.fa.gz")).sequence
    rng = np.random.default_rng(seed)
    out: list[tuple[str, str]] = []
    while len(out) < n:
        length = int(rng.integers(64, 1025))
        start = int(rng.integers(0, len(block) - length))
        seq = block[start : start + length]
        if "N" not in seq:
            out.append((f"chr22:{20_000_001 + start}-{20_000_000 + start + length}", seq))
    return out


def padded_tokens(lengths: list[int], batch: int, buffer: int, bucketing: bool) -> int:
    """Tokens the model processes (padding included) under the pipeline's batching rule."""
    total = 0
    for b0 in range(0, len(lengths), buffer):
        chunk = lengths[b0 : b0 + buffer]
        order = sorted(chunk, reverse=True) if bucketing else chunk
        for i in range(0, len(order), batch):
            group = order[i : i + batch]
            total += max(group) * len(group)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="number of sequences")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--buffer", type=int, default=256, help="sequences read ahead (bucketing happens within it)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tasks", default="fill-mask,embed")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import nucleoforge as nf
    import nucleoforge.pipelines  # noqa: F401
    from transformers import pipeline

    torch.manual_seed(0)
    model = nf.SpliceBertForMaskedLM(nf.SpliceBertConfig()).eval()
    tokenizer = nf.NucleotideTokenizer.for_model("splicebert")
    seqs = real_sequences(args.n)
    rng = np.random.default_rng(1)
    masked = []
    for name, s in seqs:
        p = int(rng.integers(0, len(s)))
        masked.append((name, s[:p] + "<mask>" + s[p + 1 :]))
    lengths = [len(s) + 2 for _, s in seqs]
    real = sum(lengths)
    nts = sum(len(s) for _, s in seqs)

    rows, summary = [], {}
    for task in args.tasks.split(","):
        if task == "fill-mask":
            pipe = pipeline("nucleotide-fill-mask", model=model, tokenizer=tokenizer, device=args.device)
            inputs, kwargs = masked, {}
        elif task == "embed":
            pipe = pipeline("nucleotide-embedding", model=model, tokenizer=tokenizer, device=args.device)
            inputs, kwargs = seqs, {"pool": "mean"}
        else:
            raise SystemExit(f"unknown task {task!r}")
        pipe(inputs[:4], batch_size=4, **kwargs)  # warm-up
        results = {}
        for mode in ("bucketed", "naive"):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = pipe(inputs, batch_size=args.batch_size, buffer_size=args.buffer, bucketing=mode == "bucketed", **kwargs)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
            results[mode] = (seconds, out)
            tokens = padded_tokens(lengths, args.batch_size, args.buffer, mode == "bucketed")
            rows.append((task, mode, seconds, args.n / seconds, nts / seconds, real / tokens))
        a, b = results["bucketed"][1], results["naive"][1]
        if task == "fill-mask":
            diff = max(abs(x["probabilities"][c] - y["probabilities"][c]) for xs, ys in zip(a, b) for x, y in zip(xs, ys) for c in x["probabilities"])
            same_pred = all(x["token"] == y["token"] for xs, ys in zip(a, b) for x, y in zip(xs, ys))
        else:
            diff = max(float(np.abs(x["embedding"] - y["embedding"]).max()) for x, y in zip(a, b))
            same_pred = True
        ratio = results["naive"][0] / results["bucketed"][0]
        summary[task] = {
            "bucketed_seq_per_s": round(args.n / results["bucketed"][0], 3),
            "naive_seq_per_s": round(args.n / results["naive"][0], 3),
            "speedup": round(ratio, 3),
            "max_abs_diff": diff,
            "same_predictions": same_pred,
        }

    print(f"\nSpliceBERT 6x512 (random init), {args.n} real chr22 sequences 64-1024 nt ({nts:,} nt), "
          f"batch {args.batch_size}, buffer {args.buffer}, device {args.device}, torch threads {torch.get_num_threads()}")
    print(f"{'task':<10} {'batching':<9} {'seconds':>9} {'seq/s':>8} {'nt/s':>9} {'real/padded tokens':>19}")
    for task, mode, seconds, sps, ntps, eff in rows:
        print(f"{task:<10} {mode:<9} {seconds:>9.1f} {sps:>8.2f} {ntps:>9.0f} {eff:>19.3f}")
    for task, s in summary.items():
        print(f"{task}: bucketed / naive speed ratio {s['speedup']:.2f}x; max |diff| {s['max_abs_diff']:.2e}; "
              f"same predictions: {s['same_predictions']}")
    print(json.dumps({"bench": "pipelines", "n": args.n, "batch_size": args.batch_size, "buffer": args.buffer,
                      "device": args.device, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                      "platform": platform.machine(), "results": summary}))


if __name__ == "__main__":
    main()
