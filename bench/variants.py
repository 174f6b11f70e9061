"""Variant-scoring speed: ``nucleoforge variants`` vs Illumina's ``spliceai`` CLI.

Input: the real dbSNP records of the bundled GRCh37 chr22:20-21 Mb block, converted to a
VCF with REF alleles from the FASTA, against a coordinate-faithful reference (record
``22`` = N x 20,000,000 + the block), annotation ``grch37``.

* ``--set dense`` (default): the first ``--n`` records, in genome order (0 = all 3,502);
* ``--set sparse``: one substitution per gene (the first inside each gene's transcript),
  so no two records share a reference pass.

    .venv/bin/python bench/variants.py                      # first 300 records, ours only
    .venv/bin/python bench/variants.py --n 300 --full --original /tmp/tfenv/bin/spliceai --original-n 8
    .venv/bin/python bench/variants.py --set sparse --full --original /tmp/tfenv/bin/spliceai --original-n 0
    .venv/bin/python bench/variants.py --n 200 --cache      # + a cold and a warm run through a score cache

Ours runs with the incremental ALT pass (the default) and, with ``--full``, again with a full
ALT window per substitution; the two outputs must be byte-identical. Rates: records/s over
all records (records outside genes cost nothing) and scored variants/s (records that got a
SpliceAI entry) — the second is the fair comparison. The original is timed on the first
``--original-n`` scored records (0 = all of them), with and without its start-up (measured on
an empty VCF). Both INFO outputs are compared on the shared records. Prints a table and a
final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"
BLOCK = DATA / "GRCh37_chr22_20000001-21000000.fa.gz"
SNPS = DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz"


def _info(path: Path) -> dict[tuple[str, str], str]:
    out = {}
    with open(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                c = line.rstrip("\n").split("\t")
                out[(c[1], c[2])] = c[7]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="dbSNP records to score with nucleoforge (0 = all 3,502)")
    ap.add_argument("--set", choices=["dense", "sparse"], default="dense", help="dense: the first --n records; sparse: "
                    "one substitution per gene")
    ap.add_argument("--distance", "-D", type=int, default=50)
    ap.add_argument("--mask", "-M", type=int, default=0, choices=[0, 1])
    ap.add_argument("--full", action="store_true", help="also run ours with a full ALT pass per substitution and "
                    "compare the outputs")
    ap.add_argument("--original", default=None, help="path of the original 'spliceai' console script (TF env)")
    ap.add_argument("--original-n", type=int, default=8, help="scored records to time with the original (0 = all)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--workdir", default=None, help="keep the reference and VCFs here")
    ap.add_argument("--cache", action="store_true", help="score through a fresh score cache, then rerun warm "
                    "(every entry from the cache) and compare the outputs")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.fasta import read_fasta
    from nucleoforge.io.genome import Genome, place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.splicing.scoring import VariantScorer
    from nucleoforge.splicing.scoring_vcf import score_vcf

    work = Path(args.workdir or tempfile.mkdtemp(prefix="nf-bench-variants-"))
    work.mkdir(parents=True, exist_ok=True)
    ref = work / "chr22.fa"
    if not ref.exists():
        place_subsequence_records(BLOCK, ref)
    rec = next(read_fasta(BLOCK))
    variants = list(read_hisat2_snps(SNPS, {rec.name: rec.sequence}))
    genes = GeneTable.load("grch37")
    if args.set == "sparse":  # the first substitution inside each gene's transcript
        seen: set[str] = set()
        picked = []
        for v in variants:
            hits = [genes[i].name for i in genes.overlapping("22", v.pos)] if len(v.ref) == len(v.alt) == 1 else []
            if hits and not seen.intersection(hits):
                seen.update(hits)
                picked.append(v)
        variants = picked
    elif args.n:
        variants = variants[: args.n]
    vcf_in = work / f"dbsnp_{args.set}.vcf"
    with open(vcf_in, "w") as fh:
        write_vcf(variants, fh, {"22": 51_304_566})

    genome = Genome(ref)
    t0 = time.perf_counter()
    model = SpliceAIModel.from_pretrained("spliceai-10k").eval()
    load_s = time.perf_counter() - t0
    common = dict(distance=args.distance, mask=bool(args.mask), batch_size=args.batch_size, device=args.device)
    scorer = VariantScorer(model, genome, genes, **common)
    ours_out = work / "ours.vcf"
    t0 = time.perf_counter()
    summary = score_vcf(scorer, str(vcf_in), str(ours_out), progress=True)
    ours_s = time.perf_counter() - t0
    rows = [("nucleoforge", len(variants), summary.scored, ours_s, load_s)]
    full = None
    if args.full:
        full_scorer = VariantScorer(model, genome, genes, incremental=False, **common)
        full_out = work / "ours_full_alt.vcf"
        t0 = time.perf_counter()
        score_vcf(full_scorer, str(vcf_in), str(full_out), progress=True)
        full_s = time.perf_counter() - t0
        rows.append(("nucleoforge full ALT", len(variants), summary.scored, full_s, 0.0))
        full = {"full_alt_seconds": round(full_s, 2), "incremental_speedup": round(full_s / ours_s, 2),
                "full_alt_identical": full_out.read_bytes() == ours_out.read_bytes()}
    warm = None
    if args.cache:
        cache_file = work / "bench-cache.sqlite"
        cache_file.unlink(missing_ok=True)
        timings = {}
        for run in ("cold", "warm"):
            cached = VariantScorer(model, genome, genes, cache=cache_file, **common)
            out = work / f"cache_{run}.vcf"
            t0 = time.perf_counter()
            score_vcf(cached, str(vcf_in), str(out), progress=False)
            timings[run] = (time.perf_counter() - t0, cached.cache.hits, cached.cache.lookups)
            cached.close()
            rows.append((f"nucleoforge cache {run}", len(variants), summary.scored, timings[run][0], 0.0))
        body = [[ln for ln in open(work / f"cache_{r}.vcf") if not ln.startswith("##nucleoforge_provenance")]
                for r in ("cold", "warm")]  # fmt: skip
        plain = open(ours_out).readlines()
        warm = {"cache_cold_seconds": round(timings["cold"][0], 2), "cache_warm_seconds": round(timings["warm"][0], 2),
                "cache_warm_hits": timings["warm"][1], "cache_warm_lookups": timings["warm"][2],
                "cache_warm_speedup": round(timings["cold"][0] / timings["warm"][0], 1),
                "cache_outputs_identical": body[0] == body[1] == plain}  # fmt: skip

    result = {
        "bench": "variants", "device": str(next(model.parameters()).device), "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "records": len(variants), "scored": summary.scored,
        "ours_seconds": round(ours_s, 2), "ours_records_per_s": round(len(variants) / ours_s, 3),
        "ours_scored_per_s": round(summary.scored / ours_s, 3),
        "ours_snvs_per_hour": round(scorer.incremental_alts / ours_s * 3600),
        "set": args.set, "distance": args.distance, "mask": args.mask,
        "ours_model_positions_per_scored": round(scorer.model_positions / max(summary.scored, 1)),
        **(full or {}), **(warm or {}),
    }

    original = args.original
    if original and Path(original).exists():
        ours_info = _info(ours_out)
        scored_keys = [k for k, v in ours_info.items() if v != "."][: args.original_n or None]
        subset = [v for v in variants if (str(v.pos), v.id) in set(scored_keys)]
        sub_in, empty_in = work / "subset.vcf", work / "empty.vcf"
        with open(sub_in, "w") as fh:
            write_vcf(subset, fh, {"22": 51_304_566})
        with open(empty_in, "w") as fh:
            write_vcf([], fh, {"22": 51_304_566})
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
        times = {}
        for name, src in (("empty", empty_in), ("subset", sub_in)):
            out = work / f"original_{name}.vcf"
            cmd = [original, "-I", str(src), "-O", str(out), "-R", str(ref), "-A", "grch37", "-D", str(args.distance),
                   "-M", str(args.mask)]
            t0 = time.perf_counter()
            res = subprocess.run(cmd, env=env, capture_output=True, text=True)
            times[name] = time.perf_counter() - t0
            if res.returncode != 0:
                sys.exit(f"original CLI failed:\n{res.stderr[-3000:]}")
        orig_info = _info(work / "original_subset.vcf")
        same = sum(orig_info[k] == ours_info[k] for k in orig_info)
        net = times["subset"] - times["empty"]
        rows.append(("spliceai (Illumina)", len(subset), len(subset), times["subset"], times["empty"]))
        result.update({
            "original_records": len(subset), "original_seconds": round(times["subset"], 2),
            "original_startup_seconds": round(times["empty"], 2),
            "original_scored_per_s": round(len(subset) / net, 3) if net > 0 else None,
            "identical_info": f"{same}/{len(orig_info)}",
            "speedup_scored": round((summary.scored / ours_s) / (len(subset) / net), 2) if net > 0 else None,
        })
    elif original:
        print(f"original CLI not found at {original}; timing nucleoforge only", file=sys.stderr)

    print(f"\n{'tool':<22}{'records':>9}{'scored':>8}{'seconds':>10}{'start-up s':>12}{'scored/s':>10}")
    for name, n, scored, secs, startup in rows:
        net = secs - startup if name.startswith("spliceai") else secs
        print(f"{name:<22}{n:>9}{scored:>8}{secs:>10.1f}{startup:>12.1f}{scored / net if net > 0 else float('nan'):>10.3f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
