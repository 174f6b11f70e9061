"""Rebuild ``dbsnp_chr22_sample.vcf``: 40 real dbSNP records of the bundled chr22 block that lie
in annotated ``grch37`` genes, for the five-minute walk-through and the install test.

    .venv/bin/python examples/data/make_dbsnp_sample.py [--out examples/data/dbsnp_chr22_sample.vcf]

Selection (deterministic; needs the ``spliceai`` wheel for the ``grch37`` table and the weights):

1. Every dbSNP record of ``GRCh37_chr22_20000001-21000000.dbsnp.txt.gz`` (REF and indel anchor
   bases read from the block by :func:`nucleoforge.io.vcf.read_hisat2_snps`) that lies inside
   exactly one ``grch37`` transcript whose transcript and 5 kb of context on each side are real
   sequence (inside the block, clear of its 100 kb N gap).
2. Of those, the records within 50 nt of an exon boundary (``-D 50`` reach) are scored with the
   SpliceAI-10k ensemble (``-D 50``, no masking); the record with the highest delta score is
   kept as the splice-altering example, with the next four highest.
3. The rest is filled in file order, one record per gene in turn (so the set spreads over the
   genes), up to 30 SNVs, 5 deletions and 5 insertions in all.

The records are written sorted by position, as a plain-text sites-only VCF 4.2.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLOCK = HERE / "GRCh37_chr22_20000001-21000000.fa.gz"
SNPS = HERE / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz"
CHR22_LENGTH = 51_304_566
BLOCK_START, BLOCK_END = 20_000_000, 21_000_000  # 0-based half-open
GAP = (20_509_431, 20_609_431)  # the block's N run, 0-based half-open
FLANK = 5_000
COUNTS = {"snv": 30, "deletion": 5, "insertion": 5}


def kind(v) -> str:
    if len(v.ref) == len(v.alt) == 1:
        return "snv"
    return "deletion" if len(v.ref) > len(v.alt) else "insertion"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "dbsnp_chr22_sample.vcf")
    args = ap.parse_args()

    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.fasta import read_fasta
    from nucleoforge.io.genome import Genome, place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.splicing.scoring import VariantInput, VariantScorer

    genes = GeneTable.load("grch37")
    rec = next(read_fasta(BLOCK))

    def clean(i: int) -> bool:  # transcript and its context are real sequence
        g = genes[i]
        lo, hi = g.tx_start - FLANK, g.tx_end + FLANK
        return BLOCK_START <= lo and hi <= BLOCK_END and (hi <= GAP[0] or lo >= GAP[1])

    def boundary_distance(i: int, pos: int) -> int:
        g = genes[i]
        return min(abs(b - pos) for b in [s + 1 for s in g.exon_starts] + list(g.exon_ends))

    candidates = []  # (variant, gene index)
    for v in read_hisat2_snps(SNPS, {rec.name: rec.sequence}):
        idx = genes.overlapping(v.chrom, v.pos)
        if len(idx) == 1 and clean(idx[0]):
            candidates.append((v, idx[0]))

    near = [(v, i) for v, i in candidates if boundary_distance(i, v.pos) <= 50]
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(tmp) / "chr22.fa"
        place_subsequence_records(BLOCK, ref)
        scorer = VariantScorer(SpliceAIModel.from_pretrained("spliceai-10k").eval(), Genome(ref), genes, distance=50)
        entries = list(scorer.score([VariantInput(v.chrom, v.pos, v.ref, [v.alt], v.id) for v, _ in near]))
    best: dict[str, float] = {}
    for (v, _), found in zip(near, entries):
        best[v.id] = max((max(float(x) for x in e.split("|")[2:6]) for e in found or []), default=0.0)
    ranked = sorted(near, key=lambda vi: (-best[vi[0].id], vi[0].pos))
    for v, i in ranked[:8]:
        print(f"{v.id}\t22:{v.pos}\t{v.ref}>{v.alt}\t{genes[i].name}\tmax DS {best[v.id]:.2f}")

    chosen = {v.id: v for v, _ in ranked[:5]}
    left = {k: n - sum(kind(v) == k for v in chosen.values()) for k, n in COUNTS.items()}
    order = list(dict.fromkeys(i for _, i in candidates))  # genes in file order
    queue = {i: [v for v, j in candidates if j == i and v.id not in chosen] for i in order}
    while any(left.values()) and any(queue.values()):
        for i in order:  # one record per gene per round
            while queue[i]:
                v = queue[i].pop(0)
                if left[kind(v)] > 0 and v.id not in chosen:
                    chosen[v.id] = v
                    left[kind(v)] -= 1
                    break
    records = sorted(chosen.values(), key=lambda v: v.pos)
    with open(args.out, "w") as fh:
        n = write_vcf(records, fh, {"22": CHR22_LENGTH},
                      ["##reference=GRCh37",
                       "##source=dbSNP records of examples/data/GRCh37_chr22_20000001-21000000.dbsnp.txt.gz "
                       "(selected by examples/data/make_dbsnp_sample.py)"])
    kinds = {k: sum(kind(v) == k for v in records) for k in COUNTS}
    print(f"wrote {n} records to {args.out} ({kinds}); {len(near)} candidates scored, {len(candidates)} in clean genes")


if __name__ == "__main__":
    main()
