"""SpliceAI demo on real data: splice sites of a chr22 gene and delta scores of dbSNP variants.

    .venv/bin/python examples/spliceai_demo.py [--gene RANBP1] [--out DIR]

1. Loads the published SpliceAI-10k ensemble (converted from the ``spliceai`` wheel's Keras
   files on the first run; weights CC BY-NC 4.0).
2. Places the bundled 1 Mb of GRCh37 chr22 (examples/data) at its real coordinates, so that
   the ``grch37`` gene table and dbSNP positions line up.
3. Predicts every position of the gene (with its real 5 kb flanks as context), prints the top
   acceptor/donor sites next to the annotated exon boundaries and writes the track plot.
4. Scores the real dbSNP variants closest to the gene's exon boundaries, as
   ``nucleoforge variants`` / Illumina's ``spliceai`` would (-D 50).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLOCK = HERE / "data" / "GRCh37_chr22_20000001-21000000.fa.gz"
SNPS = HERE / "data" / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gene", default="RANBP1", help="a grch37 gene inside chr22:20-21 Mb")
    ap.add_argument("--variants", type=int, default=5, help="dbSNP variants to score")
    ap.add_argument("--out", default=None, help="folder for the plot and VCFs (default: a temporary folder)")
    args = ap.parse_args()
    t_start = time.perf_counter()

    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.fasta import read_fasta
    from nucleoforge.io.genome import Genome, cache_dir, place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.splicing.scoring import VariantScorer
    from nucleoforge.splicing.scoring_vcf import score_vcf
    from nucleoforge.pipelines.splice_site import SpliceSitePipeline
    from nucleoforge.splicing.plots import plot_tracks

    out = Path(args.out or tempfile.mkdtemp(prefix="spliceai-demo-"))
    out.mkdir(parents=True, exist_ok=True)

    print("1. Loading SpliceAI-10k (5-model ensemble) ...")
    model = SpliceAIModel.from_pretrained("spliceai-10k").eval()

    ref = cache_dir() / "demo" / "GRCh37_chr22_to21Mb.fa"
    if not ref.exists():
        ref.parent.mkdir(parents=True, exist_ok=True)
        place_subsequence_records(BLOCK, ref)
    genome = Genome(ref)
    genes = GeneTable.load("grch37")
    idx = [i for i in genes.within("22", 20_000_000, 21_000_000) if genes[i].name == args.gene]
    if not idx:
        raise SystemExit(f"{args.gene} is not a grch37 gene inside chr22:20-21 Mb")
    gene = genes[idx[0]]
    print(f"2. {gene.name}: chr22:{gene.tx_start + 1:,}-{gene.tx_end:,} ({gene.strand}), "
          f"{len(gene.exon_starts)} exons, {len(gene.introns)} introns")

    flank = model.config.flank
    seq = genome.fetch_padded("22", gene.tx_start - flank, gene.tx_end + flank).upper()
    pipe = SpliceSitePipeline(model=model, device="cpu")
    pred = pipe({"sequence": seq, "name": gene.name, "chrom": "22", "start": gene.tx_start,
                 "strand": gene.strand, "context": (flank, flank)}, progress=True)

    for kind, truth in (("acceptor", set(gene.acceptors)), ("donor", set(gene.donors))):
        top = pred.top_sites(kind, len(truth))
        hits = sum(p - 1 in truth for p, _ in top)
        print(f"\n   top {len(truth)} {kind}s (annotated = exon boundary in the gene table): {hits}/{len(truth)} annotated")
        print(f"   {'position':>12} {'prob':>6}  annotated")
        for p, s in sorted(top):
            print(f"   {p:>12,} {s:6.3f}  {'yes' if p - 1 in truth else '-'}")
        missed = sorted(truth - {p - 1 for p, _ in top})
        if missed:
            print("   annotated but not in the top list: " + ", ".join(
                f"{m + 1:,} ({(pred.acceptor if kind == 'acceptor' else pred.donor)[m - gene.tx_start]:.3f})" for m in missed))

    png = out / f"spliceai_{gene.name}.png"
    plot_tracks(pred, png, genes=genes, title=f"SpliceAI on {gene.name} (GRCh37 chr22, {gene.strand} strand)")
    print(f"\n3. Track plot: {png}")

    rec = next(read_fasta(BLOCK))
    in_gene = [v for v in read_hisat2_snps(SNPS, {rec.name: rec.sequence}) if gene.tx_start < v.pos <= gene.tx_end]
    bounds = [s + 1 for s in gene.exon_starts] + list(gene.exon_ends)
    in_gene.sort(key=lambda v: min(abs(b - v.pos) for b in bounds))
    chosen = sorted(in_gene[: args.variants], key=lambda v: v.pos)
    vcf_in, vcf_out = out / "dbsnp_subset.vcf", out / "dbsnp_subset.spliceai.vcf"
    with open(vcf_in, "w") as fh:
        write_vcf(chosen, fh, {"22": 51_304_566})
    scorer = VariantScorer(model, genome, genes, distance=50)
    score_vcf(scorer, str(vcf_in), str(vcf_out), progress=False)
    print(f"\n4. {len(chosen)} dbSNP variants of {gene.name} nearest to exon boundaries, scored (-D 50):")
    print("   ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL")
    with open(vcf_out) as fh:
        for line in fh:
            if not line.startswith("#"):
                c = line.rstrip("\n").split("\t")
                print(f"   {c[2]:<12} 22:{c[1]} {c[3]}>{c[4]}  {c[7]}")
    print(f"\n   written: {vcf_out}")
    print(f"done in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
