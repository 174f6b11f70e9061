"""Motif-scanning speed: nucleoforge's batched torch convolution vs Biopython's PSSM search.

Work: N regions of 500 bp of real human sequence (GRCh37 chr22 windows every 89 bp from
``examples/data``, windows with N skipped) against every JASPAR2018 CORE vertebrate motif
(579), both strands, max log-odds score per (region, motif). Biopython does the same work
(``PositionSpecificScoringMatrix.calculate`` on each strand, same pseudocounts and background)
on a subset of the regions, and its rate is scaled; the two results are compared on that
subset. Prints a table and a final JSON line.

    python bench/motif_scan.py                      # 10,000 regions; Biopython on 200
    python bench/motif_scan.py --regions 2000 --bio-regions 50 --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from nucleoforge.io.fasta import read_fasta
from nucleoforge.regions.motifs import MotifScanner, load_jaspar, log_odds_matrix

GENOME = Path(__file__).resolve().parents[1] / "examples" / "data" / "GRCh37_chr22_20000001-21000000.fa.gz"


def regions(n: int, width: int, step: int = 89) -> list[str]:
    """``n`` ``width``-bp windows without N every ``step`` bp, in genome order (the 1 Mb
    example holds ~1,800 disjoint 500-bp windows, so 10,000 regions overlap)."""
    genome = next(iter(read_fasta(GENOME, uppercase=True))).sequence
    out = []
    for start in range(0, len(genome) - width, step):
        window = genome[start : start + width]
        if "N" not in window:
            out.append(window)
            if len(out) == n:
                return out
    raise SystemExit(f"only {len(out)} windows of {width} bp without N in {GENOME.name}; ask for fewer")


def biopython_scan(sequences: list[str]) -> np.ndarray:
    from Bio import motifs as bio_motifs
    from pyjaspar import jaspardb

    found = jaspardb(release="JASPAR2018").fetch_motifs(collection="CORE", tax_group=["vertebrates"])
    pssms = []
    for m in found:
        pssm = m.counts.normalize(pseudocounts=bio_motifs.jaspar.calculate_pseudocounts(m)).log_odds()
        pssms.append((pssm, pssm.reverse_complement()))
    out = np.empty((len(sequences), len(pssms)), dtype=np.float32)
    for i, seq in enumerate(sequences):
        for j, (fwd, rev) in enumerate(pssms):
            out[i, j] = max(np.nanmax(fwd.calculate(seq)), np.nanmax(rev.calculate(seq)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--bio-regions", type=int, default=200, help="regions Biopython scans (its rate is scaled)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    seqs = regions(args.regions, args.width)
    motifs = load_jaspar("JASPAR2018", "CORE", "vertebrates")
    scanner = MotifScanner([log_odds_matrix(m.counts) for m in motifs])
    scanner.scan_sequences(seqs[: args.batch_size], batch_size=args.batch_size)  # warm-up

    t0 = time.perf_counter()
    ours = scanner.scan_sequences(seqs, batch_size=args.batch_size)
    t_ours = time.perf_counter() - t0

    sub = seqs[: args.bio_regions]
    t0 = time.perf_counter()
    bio = biopython_scan(sub)
    t_bio = time.perf_counter() - t0
    max_diff = float(np.abs(bio - ours[: len(sub)]).max())

    n_m = len(motifs)
    rows = [
        ("nucleoforge (torch conv1d)", len(seqs), t_ours),
        ("Biopython PSSM.calculate", len(sub), t_bio),
    ]
    print(f"{args.regions} regions x {args.width} bp, {n_m} JASPAR2018 CORE vertebrate motifs, both strands, "
          f"torch threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}")
    print(f"{'method':<28}{'regions':>9}{'seconds':>10}{'regions/s':>11}{'region-motifs/s':>17}{'10k-region time':>17}")
    for name, n, t in rows:
        rate = n / t
        print(f"{name:<28}{n:>9}{t:>10.2f}{rate:>11.1f}{rate * n_m:>17.0f}{10_000 / rate:>16.0f}s")
    speedup = (len(seqs) / t_ours) / (len(sub) / t_bio)
    print(f"speed-up {speedup:.1f}x; max |score difference| on the {len(sub)} shared regions: {max_diff:.2e}")
    print(json.dumps({
        "bench": "motif_scan", "regions": len(seqs), "width": args.width, "motifs": n_m,
        "nucleoforge_regions_per_s": round(len(seqs) / t_ours, 2),
        "nucleoforge_region_motifs_per_s": round(len(seqs) * n_m / t_ours),
        "biopython_regions": len(sub), "biopython_regions_per_s": round(len(sub) / t_bio, 3),
        "biopython_region_motifs_per_s": round(len(sub) * n_m / t_bio),
        "speedup": round(speedup, 2), "max_abs_diff": max_diff, "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
