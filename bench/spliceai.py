"""SpliceAI throughput: nucleoforge (PyTorch, chunked) vs the original Keras ensemble, side by side.

Positions/s for the published 5-member ensemble on real GRCh37 chr22 sequence from the bundled
1-Mb block: the first 100 kb, and the whole 1 Mb (which holds a 100-kb N gap). Both
implementations predict every position of the sequence on the plus strand, N-padded at the
ends. The Keras column runs only when TensorFlow (with tf-keras) is importable, e.g.

    PYTHONPATH=/work/main TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python bench/spliceai.py

It follows the original's scheme: 5,000-position blocks, each a 15,000-nt window (the 10-kb
context re-read for every block), ``model.predict`` per member, softmax outputs averaged. Wall
time and process CPU time are both reported (CPU time is steadier on a shared machine); the
ratio column is ours / Keras in wall positions/s. The last line is JSON.

Usage: python bench/spliceai.py [--lengths 100000 1000000] [--chunk-size 50000] [--threads N]
                                [--no-keras] [--keras-batch 4] [--keras-max-length N] [--repeats 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FASTA = REPO / "examples" / "data" / "GRCh37_chr22_20000001-21000000.fa.gz"
BLOCK = 5_000  # the original's predicted positions per window


def read_block() -> str:
    with gzip.open(FASTA, "rt") as handle:
        return "".join(line.strip() for line in handle if not line.startswith(">")).upper()


def timed(fn, repeats: int):
    """(result, best wall seconds, CPU seconds of that run) over ``repeats`` runs."""
    best = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if best is None or wall < best[1]:
            best = (result, wall, cpu)
    return best


def keras_models():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    try:
        import tensorflow as tf  # noqa: F401
        import tf_keras
    except ImportError as exc:
        print(f"# Keras column skipped: {exc}", file=sys.stderr)
        return None
    from nucleoforge.models.spliceai.convert import find_spliceai_wheel_files

    return [tf_keras.models.load_model(str(p), compile=False) for p in find_spliceai_wheel_files()[0]]


def keras_predict(models, seq: str, flank: int, batch: int) -> np.ndarray:
    """The original block-wise ensemble prediction of every position of ``seq``."""
    from nucleoforge.alphabet import one_hot

    n_blocks = -(-len(seq) // BLOCK)
    padded = np.zeros((n_blocks * BLOCK + 2 * flank, 4), np.float32)
    padded[flank : flank + len(seq)] = one_hot(seq)
    out = np.zeros((n_blocks * BLOCK, 3), np.float32)
    for i in range(0, n_blocks, batch):
        idx = range(i, min(i + batch, n_blocks))
        windows = np.stack([padded[j * BLOCK : j * BLOCK + BLOCK + 2 * flank] for j in idx])
        probs = np.mean([m.predict(windows, verbose=0) for m in models], axis=0)
        out[i * BLOCK : (i + len(idx)) * BLOCK] = probs.reshape(-1, 3)
    return out[: len(seq)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--chunk-size", type=int, default=None, help="predicted positions per chunk")
    parser.add_argument("--batch-size", type=int, default=1, help="chunks per forward call")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument("--keras-batch", type=int, default=4, help="15-kb windows per Keras predict call")
    parser.add_argument("--keras-max-length", type=int, default=None,
                        help="run Keras only on lengths up to this (its cost per position is constant)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    import torch

    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.pipelines.splice_predict import predict_sequence
    from nucleoforge.pipelines.splice_predict import DEFAULT_CHUNK_SIZE

    if args.threads:
        torch.set_num_threads(args.threads)
    chunk_size = args.chunk_size or DEFAULT_CHUNK_SIZE
    model = SpliceAIModel.from_pretrained("spliceai-10k")
    flank = model.config.flank
    models = None if args.no_keras else keras_models()
    block = read_block()
    predict_sequence(model, block[:20_000], chunk_size=chunk_size)  # warm-up
    if models:
        keras_predict(models, block[:BLOCK], flank, 1)

    rows = []
    for length in args.lengths:
        seq = block[:length]
        ours, wall, cpu = timed(
            lambda: predict_sequence(model, seq, chunk_size=chunk_size, batch_size=args.batch_size), args.repeats
        )
        row = {"length": len(seq), "n_count": seq.count("N"), "ours_pos_per_s": len(seq) / wall,
               "ours_pos_per_cpu_s": len(seq) / cpu, "ours_wall_s": wall}
        if models and (args.keras_max_length is None or length <= args.keras_max_length):
            theirs, k_wall, k_cpu = timed(lambda: keras_predict(models, seq, flank, args.keras_batch), args.repeats)
            row.update(keras_pos_per_s=len(seq) / k_wall, keras_pos_per_cpu_s=len(seq) / k_cpu, keras_wall_s=k_wall,
                       speedup=k_wall / wall, max_abs_diff=float(np.abs(ours - theirs).max()))
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    print(f"SpliceAI-10k, 5-member ensemble, plus strand; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, chunk {chunk_size} x {args.batch_size}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    head = f"{'length':>9} {'ours pos/s':>11} {'ours pos/CPU-s':>15}"
    if models:
        head += f" {'Keras pos/s':>12} {'Keras pos/CPU-s':>16} {'speed-up':>9} {'max |diff|':>11}"
    print(head)
    for r in rows:
        line = f"{r['length']:>9,} {r['ours_pos_per_s']:>11,.0f} {r['ours_pos_per_cpu_s']:>15,.0f}"
        if "keras_pos_per_s" in r:
            line += (f" {r['keras_pos_per_s']:>12,.0f} {r['keras_pos_per_cpu_s']:>16,.0f}"
                     f" {r['speedup']:>8.2f}x {r['max_abs_diff']:>11.2e}")
        print(line)
    print(json.dumps({"benchmark": "spliceai", "threads": torch.get_num_threads(), "chunk_size": chunk_size,
                      "batch_size": args.batch_size, "keras": bool(models), "rows": rows}))


if __name__ == "__main__":
    main()
