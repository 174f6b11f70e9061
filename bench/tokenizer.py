"""Tokenizer throughput: 10,000 random sequences × 1,000 nt to padded tensors (M nt/s).

Compares the vectorised NucleotideTokenizer path with a plain per-character Python loop (on a
subset, scaled) for SpliceBERT (1-mer), 3UTRBERT 6-mer and RNAErnie vocabularies.

    .venv/bin/python bench/tokenizer.py [--sequences 10000] [--length 1000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from nucleoforge.tokenization import NucleotideTokenizer


def python_loop(tok: NucleotideTokenizer, seqs: list[str]) -> torch.Tensor:
    """The naive baseline: one dict lookup per character / k-mer, then padding."""
    vocab = tok.get_vocab()
    k, fourth = tok.k, tok.fourth_base
    rows = []
    for s in seqs:
        s = s.upper().replace("U" if fourth == "T" else "T", fourth)
        ids = [vocab.get(s[i : i + k], tok.unk_token_id) for i in range(len(s) - k + 1)]
        rows.append([tok.cls_token_id, *ids, tok.sep_token_id])
    width = max(len(r) for r in rows)
    return torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequences", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    codes = rng.integers(0, 4, size=(args.sequences, args.length))
    seqs = [letters[row].tobytes().decode() for row in codes]
    total_nt = args.sequences * args.length
    results = []
    for name, k in (("splicebert", None), ("utrbert", 6), ("rnaernie", None)):
        tok = NucleotideTokenizer.for_model(name, k=k, model_max_length=10**6)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            batch = tok(seqs, padding=True, return_tensors="pt")
            best = min(best, time.perf_counter() - start)
        subset = seqs[: max(1, args.sequences // 20)]
        start = time.perf_counter()
        naive = python_loop(tok, subset)
        naive_s = (time.perf_counter() - start) * len(seqs) / len(subset)
        assert torch.equal(naive, batch["input_ids"][: len(subset)]), "vectorised ids differ from the naive loop"
        results.append({
            "vocabulary": f"{name}{'-' + str(k) + 'mer' if k else ''}",
            "vectorised_M_nt_per_s": total_nt / best / 1e6,
            "python_loop_M_nt_per_s": total_nt / naive_s / 1e6,
            "speedup": naive_s / best,
        })  # fmt: skip
    print(f"{'vocabulary':<16}{'vectorised M nt/s':>20}{'python loop M nt/s':>22}{'speed-up':>10}")
    for r in results:
        print(f"{r['vocabulary']:<16}{r['vectorised_M_nt_per_s']:>20.1f}{r['python_loop_M_nt_per_s']:>22.2f}{r['speedup']:>9.0f}×")
    print(json.dumps({"bench": "tokenizer", "sequences": args.sequences, "length": args.length, "results": results}))


if __name__ == "__main__":
    main()
