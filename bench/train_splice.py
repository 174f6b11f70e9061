"""SpliceAI training throughput: positions/s of one training step (forward, class-weighted loss,
backward, Adam, schedule) for SpliceAI-400 and SpliceAI-10k at batch 64 blocks of 5,000 positions.

The inputs are real GRCh37 chr22 sequence from the bundled block (windows of ``block +
context`` nt; labels drawn at the SpliceAI site density), run through the same pieces as
``train-splice`` (:func:`nucleoforge.splicing.training.weighted_splice_loss`, Adam, the
exponential decay). A step trains ``batch × block`` positions; positions/s = that / the median
step time after ``--warmup`` steps. The data column times reading and one-hot encoding one batch
from a gzip-chunked h5 split (the ``splice-data`` layout) with
:class:`~nucleoforge.splicing.training.SpliceBlockDataset`, for comparison. Peak memory: the
process's maximum RSS on CPU (it only grows, so the variants run smallest first), the CUDA
allocator's peak on a GPU. CPU time per step (positions per CPU-second) is steadier than wall
time on a shared machine. The last line is JSON.

Usage: python bench/train_splice.py [--variants spliceai-400 spliceai-10k] [--batch-size 64]
                                    [--block 5000] [--steps 3] [--warmup 1] [--threads N]
                                    [--device cuda --bf16]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FASTA = REPO / "examples" / "data" / "GRCh37_chr22_20000001-21000000.fa.gz"
CODES = {"A": 1, "C": 2, "G": 3, "T": 4}


def block_codes() -> np.ndarray:
    with gzip.open(FASTA, "rt") as handle:
        seq = "".join(line.strip() for line in handle if not line.startswith(">")).upper()
    table = np.zeros(256, dtype=np.uint8)
    for base, code in CODES.items():
        table[ord(base)] = code
    return table[np.frombuffer(seq.encode(), dtype=np.uint8)]


def batch_arrays(codes: np.ndarray, rows: int, block: int, context: int, rng: np.random.Generator):
    """``rows`` windows of real sequence (no N) with labels at about SpliceAI's site density."""
    width = block + context
    starts = []
    while len(starts) < rows:
        s = int(rng.integers(0, len(codes) - width))
        if codes[s : s + width].min() > 0:
            starts.append(s)
    x = np.stack([codes[s : s + width] for s in starts])
    y = np.zeros((rows, block), np.int8)
    sites = rng.random((rows, block))
    y[sites < 1.5e-3] = 1
    y[(sites >= 1.5e-3) & (sites < 3e-3)] = 2
    return x, y, np.ones((rows, block), np.uint8)


def data_rate(x: np.ndarray, y: np.ndarray, w: np.ndarray, block: int, context: int, repeats: int = 3) -> float:
    """Positions/s of reading + one-hot encoding one batch from a gzip-chunked h5 split."""
    import h5py

    from nucleoforge.io.splice_h5 import read_splice_dataset
    from nucleoforge.splicing.training import SpliceBlockDataset, collate_blocks

    with tempfile.TemporaryDirectory() as tmp:
        gz = {"compression": "gzip", "compression_opts": 4}
        with h5py.File(Path(tmp) / "train.h5", "w") as h5:
            h5.create_dataset("X", data=x, chunks=(1, x.shape[1]), **gz)
            h5.create_dataset("Y", data=y, chunks=(1, block), **gz)
            h5.create_dataset("W", data=w, chunks=(1, block), **gz)
        meta = {"format": "nucleoforge-splice-data/1", "context": context, "block": block, "summary": {}}
        (Path(tmp) / "dataset.json").write_text(json.dumps(meta))
        ds = SpliceBlockDataset(read_splice_dataset(tmp), "train", context)
        order = np.random.default_rng(0).permutation(len(ds)).tolist()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            collate_blocks(ds.__getitems__(order))
            times.append(time.perf_counter() - t0)
    return len(order) * block / min(times)


def bench_variant(name: str, codes: np.ndarray, args: argparse.Namespace) -> dict:
    import torch

    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.splicing.training import ExponentialDecay, splice_config, weighted_splice_loss

    config = splice_config(int({"spliceai-80": 80, "spliceai-400": 400, "spliceai-2k": 2000, "spliceai-10k": 10000}[name]))
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = SpliceAIModel(config).to(device).train()
    rng = np.random.default_rng(0)
    x, y, w = batch_arrays(codes, args.batch_size, args.block, config.context, rng)
    onehot = torch.from_numpy(np.eye(5, dtype=np.float32)[x][..., 1:]).to(device)
    labels = torch.from_numpy(np.where(w > 0, y, -100).astype(np.int64)).to(device)
    weights = torch.tensor([0.5, 170.0, 170.0])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, ExponentialDecay(1e-3, 1e-5, 0.999))
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, cpu = [], []
    for step in range(args.warmup + args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        with autocast:
            out = model(onehot, output_members=True)
        loss = weighted_splice_loss(out.member_logits, labels, weights)
        loss.backward()
        opt.step()
        sched.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        print(f"# {name} step {step}: {time.perf_counter() - t0:.2f} s, loss {loss.item():.4f}", file=sys.stderr, flush=True)
    step_s = statistics.median(times)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {
        "variant": name, "context": config.context, "batch": args.batch_size, "block": args.block,
        "step_s": round(step_s, 3), "positions_per_s": round(args.batch_size * args.block / step_s, 1),
        "positions_per_cpu_s": round(args.batch_size * args.block / statistics.median(cpu), 1),
        "peak_gib": round(peak, 2), "data_positions_per_s": round(data_rate(x, y, w, args.block, config.context), 1),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", nargs="+", default=["spliceai-400", "spliceai-10k"])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--block", type=int, default=5000)
    ap.add_argument("--steps", type=int, default=3, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (as train-splice on capable GPUs)")
    ap.add_argument("--glibc-default", action="store_true",
                    help="keep glibc's default mmap of large tensors (train-splice turns it off on CPU)")
    args = ap.parse_args()
    import torch

    from nucleoforge.splicing.training import reuse_freed_cpu_memory

    reused = not args.glibc_default and args.device == "cpu" and reuse_freed_cpu_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    codes = block_codes()
    rows = [bench_variant(v, codes, args) for v in args.variants]
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"SpliceAI training step (1 member, fwd + weighted loss + bwd + Adam), {args.device} ({where}), "
          f"{torch.get_num_threads()} threads, {'bf16' if args.bf16 else 'fp32'}, torch {torch.__version__}"
          f"{', freed memory reused (glibc)' if reused else ''}")
    print(f"{'variant':<14} {'context':>7} {'batch':>5} {'step s':>8} {'positions/s':>12} {'pos/CPU-s':>10} {'peak GiB':>9} "
          f"{'data pos/s':>12}")
    for r in rows:
        print(f"{r['variant']:<14} {r['context']:>7,} {r['batch']:>5} {r['step_s']:>8.2f} {r['positions_per_s']:>12,.0f} "
              f"{r['positions_per_cpu_s']:>10,.0f} {r['peak_gib']:>9.2f} {r['data_positions_per_s']:>12,.0f}")
    print(json.dumps({"benchmark": "train_splice", "device": args.device, "bf16": args.bf16,
                      "threads": torch.get_num_threads(), "reuse_freed_memory": reused, "rows": rows}))  # fmt: skip


if __name__ == "__main__":
    main()
