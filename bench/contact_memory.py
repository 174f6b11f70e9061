"""Extra memory of the contact head: full-size SpliceBERT, L = 1,022 nt, batch 1, forward + backward.

Each configuration runs in a fresh subprocess and reports its peak resident memory; the contact
head's extra memory is the difference to the same encoder with a token head (which needs no
pair tensor). For comparison, one L × L × hidden float32 pair tensor would take
1022² × 512 × 4 B = 2.1 GB.

    .venv/bin/python bench/contact_memory.py [--length 1022] [--dtype float32|bfloat16]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def run_one(kind: str, length: int, dtype: str) -> None:
    import torch

    import nucleoforge as nf

    torch.manual_seed(0)
    cls = {"token": nf.SpliceBertForTokenPrediction, "contact": nf.SpliceBertForContactPrediction}[kind]
    model = cls(nf.SpliceBertConfig(num_labels=1, problem_type="binary")).to(getattr(torch, dtype)).train()
    tok = nf.NucleotideTokenizer.for_model("splicebert")
    seq = "".join("ACGT"[int(i)] for i in torch.randint(0, 4, (length,)))
    batch = tok([seq], return_tensors="pt")
    shape = (1, length) if kind == "token" else (1, length, length)
    labels = torch.randint(0, 2, shape)
    out = model(**batch, labels=labels)
    out.loss.backward()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"kind": kind, "peak_rss_mb": peak_kb / 1024, "logits_shape": list(out.logits.shape)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--length", type=int, default=1022)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--child", choices=["token", "contact"])
    args = parser.parse_args()
    if args.child:
        run_one(args.child, args.length, args.dtype)
        return
    results = {}
    for kind in ("token", "contact"):
        cmd = [sys.executable, __file__, "--child", kind, "--length", str(args.length), "--dtype", args.dtype]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        results[kind] = json.loads(line)
    extra = results["contact"]["peak_rss_mb"] - results["token"]["peak_rss_mb"]
    naive_gb = args.length**2 * 512 * 4 / 1e9
    print(f"{'head':<10}{'peak RSS MB':>14}{'logits shape':>22}")
    for kind, r in results.items():
        print(f"{kind:<10}{r['peak_rss_mb']:>14.0f}{str(tuple(r['logits_shape'])):>22}")
    print(f"contact head extra memory (fwd+bwd, L={args.length}, {args.dtype}): {extra:.0f} MB "
          f"(one L×L×hidden float32 tensor alone: {naive_gb:.1f} GB)")
    print(json.dumps({"bench": "contact_memory", "length": args.length, "dtype": args.dtype,
                      "extra_mb": extra, "naive_pair_tensor_gb": naive_gb, **{k: v["peak_rss_mb"] for k, v in results.items()}}))


if __name__ == "__main__":
    main()
