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

With ``--model`` (openspliceai-mane-10k, cispliceai, pangolin or a converted folder) or
``--original-python``, the script instead times the whole ``nucleoforge variants`` process against
the model's own original command line on ``--n`` (default 8) records of each of ``--sets``,
interleaved, with start-up measured on a header-only input, and counts identical output strings
(bench/variants_originals.py says how each original is called):

    .venv/bin/python bench/variants.py --model pangolin --original-python ENV/bin/python --sets dense:30,sparse:8
    .venv/bin/python bench/variants.py --model openspliceai-mane-10k --original-python ENV/bin/python \
        --original-weights OPENSPLICEAI/models/openspliceai-mane/10000nt --n 6
    .venv/bin/python bench/variants.py --model cispliceai --original-python ENV/bin/python

Without an original it times nucleoforge alone and says so in one line.

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
    ap.add_argument("--n", type=int, default=None, help="dbSNP records to score with nucleoforge (0 = all 3,502; "
                    "default 300) or, in the comparison with an original, per record set (default 8)")
    ap.add_argument("--set", choices=["dense", "sparse"], default="dense", help="dense: the first --n records; sparse: "
                    "one substitution per gene")
    ap.add_argument("--distance", "-D", type=int, default=None, help="default: the model's original's (50; "
                    "CI-SpliceAI 1000)")
    ap.add_argument("--mask", "-M", type=int, default=None, choices=[0, 1], help="default: the model's original's "
                    "(0; Pangolin 1)")
    ap.add_argument("--full", action="store_true", help="also run ours with a full ALT pass per substitution and "
                    "compare the outputs")
    ap.add_argument("--original", default=None, help="path of the original's console script (spliceai, openspliceai, "
                    "cis-vcf, pangolin)")
    ap.add_argument("--original-n", type=int, default=8, help="scored records to time with the original (0 = all)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--workdir", default=None, help="keep the reference and VCFs here")
    ap.add_argument("--cache", action="store_true", help="score through a fresh score cache, then rerun warm "
                    "(every entry from the cache) and compare the outputs")
    ap.add_argument("--model", default="spliceai-10k", help="weights: spliceai-10k, openspliceai-mane-10k, cispliceai, "
                    "pangolin or a converted folder; any but spliceai-10k (or with --original-python) runs the "
                    "whole-process comparison of bench/variants_originals.py")
    ap.add_argument("--original-python", default=None, help="interpreter of the original's isolated environment; its "
                    "console script (spliceai, openspliceai, cis-vcf, pangolin) is taken from the same folder")
    ap.add_argument("--original-weights", default=None, help="OpenSpliceAI: the folder of model_<N>nt_rs*.pt the "
                    "original 'openspliceai variant' loads")
    ap.add_argument("--pangolin-db", default=None, help="Pangolin: a gffutils database of the grch37 genes (default: "
                    "built from a GTF written here, with --original-python)")
    ap.add_argument("--sets", default="dense,sparse", help="record sets of the comparison run, in order, each "
                    "optionally NAME:N (N records of that set instead of --n), e.g. dense:30,sparse:8")
    args = ap.parse_args()
    from variants_originals import model_family

    family = model_family(args.model)
    if family != "spliceai" or args.original_python:
        return main_originals(args, family)
    args.n = 300 if args.n is None else args.n

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
    args.distance = 50 if args.distance is None else args.distance
    args.mask = 0 if args.mask is None else args.mask
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


def main_originals(args: argparse.Namespace, family: str) -> None:
    """``--model`` with an original command line: see bench/variants_originals.py."""
    from variants_originals import (ORIGINALS, Setup, compare, pick_records, prepare_pangolin, write_csv, write_fai,
                                    write_gtf)

    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.fasta import read_fasta
    from nucleoforge.io.genome import place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf

    script, key, (d0, m0) = ORIGINALS[family]
    distance = d0 if args.distance is None else args.distance
    mask = m0 if args.mask is None else args.mask
    n = 8 if args.n is None else args.n
    work = Path(args.workdir or tempfile.mkdtemp(prefix="nf-bench-originals-"))
    work.mkdir(parents=True, exist_ok=True)
    ref = work / "chr22.fa"
    if not ref.exists():
        place_subsequence_records(BLOCK, ref)
    if not Path(str(ref) + ".fai").exists():
        write_fai(ref)
    length = int(open(str(ref) + ".fai").read().split("\t")[1])
    rec = next(read_fasta(BLOCK))
    variants = list(read_hisat2_snps(SNPS, {rec.name: rec.sequence}))
    genes = GeneTable.load("grch37")
    inputs = {}
    for spec in ["empty", *args.sets.split(",")]:
        name, _, size = spec.partition(":")
        if name not in ("empty", "dense", "sparse") or (size and not size.isdigit()):
            sys.exit(f"--sets: expected dense or sparse, each optionally :N records, got {spec!r}")
        picked = [] if name == "empty" else pick_records(variants, genes, name, int(size) if size else n)
        vcf = work / f"{name}.vcf"
        with open(vcf, "w") as fh:
            write_vcf(picked, fh, {"22": length})
        write_csv(picked, work / f"{name}.csv")
        inputs[name] = (vcf, work / f"{name}.csv", len(picked))
    py = args.original_python
    original = args.original or (str(Path(py).parent / script) if py else None)
    skip = None
    if not original:
        skip = f"no original {script} (--original-python or --original): timing nucleoforge only"
    elif not Path(original).exists():
        skip = f"original {original} not found: timing nucleoforge only"
    elif family == "openspliceai" and not args.original_weights:
        skip = "openspliceai variant needs --original-weights (a folder of model_<N>nt_rs*.pt): timing nucleoforge only"
    annotation, db = "grch37", None
    if family == "pangolin":
        annotation = str(work / "grch37_block.gtf")
        write_gtf([genes[i] for i in range(len(genes))], Path(annotation), "22", 20_000_001, 21_000_000)
        db = Path(args.pangolin_db) if args.pangolin_db else work / "grch37_block.db"
        if not skip and not args.pangolin_db:
            if not py:
                skip = "pangolin needs --pangolin-db or --original-python (to build one): timing nucleoforge only"
            else:
                prepare_pangolin(py, Path(annotation), db, ref)
    if skip:
        print(skip, file=sys.stderr)
        original = None
    threads = str(args.threads or os.cpu_count())
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads,
           "TF_NUM_INTEROP_THREADS": threads, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2",
           "TF_USE_LEGACY_KERAS": "1", "PYTHONWARNINGS": "ignore"}
    ours = Path(sys.executable).parent / "nucleoforge"
    ours_cmd = [str(ours)] if ours.exists() else [sys.executable, "-c", "from nucleoforge.cli import main; main()"]
    setup = Setup(family, args.model, ref, annotation, distance, mask, ours_cmd, original, args.original_weights, db,
                  env)
    load0 = os.getloadavg()
    res = compare(setup, inputs, work)
    load1 = os.getloadavg()
    report(args, family, key, setup, res, load0, load1, threads)


def report(args: argparse.Namespace, family: str, key: str, s, res: dict, load0: tuple, load1: tuple,
           threads: str) -> None:
    """The table and the JSON line of a comparison with an original."""
    tools = [t for t in ("ours", "original") if t in res["empty"]]
    label = {"ours": "nucleoforge", "original": f"original {ORIGINAL_NAMES[family]}"}
    print(f"\nmodel {args.model} ({family}), -D {s.distance} -M {s.mask}, {threads} threads, load average "
          f"{load0[0]:.1f} at start, {load1[0]:.1f} at end (1 min)")
    print(f"{'set':<8}{'tool':<22}{'records':>8}{'wall s':>9}{'CPU s':>8}{'net wall':>10}{'net CPU':>9}"
          f"{'SNVs/h':>9}{'SNVs/CPU-h':>11}{'identical':>11}")
    out: dict = {"bench": "variants-original", "model": args.model, "family": family, "distance": s.distance,
                 "mask": s.mask, "threads": int(threads), "cpu": platform.processor() or platform.machine(),
                 "load_average_start": round(load0[0], 1), "load_average_end": round(load1[0], 1),
                 "startup": {t: res["empty"][t] for t in tools}, "sets": {}}
    for name, e in res.items():
        if name == "empty":
            continue
        row: dict = {"records": e["records"]}
        for t in tools:
            net_w = e[t]["wall_s"] - res["empty"][t]["wall_s"]
            net_c = e[t]["cpu_s"] - res["empty"][t]["cpu_s"]
            rate_w = e["records"] / net_w * 3600 if net_w > 0 else float("nan")
            rate_c = e["records"] / net_c * 3600 if net_c > 0 else float("nan")
            same = f"{e['identical']}/{e['compared']}" if "identical" in e and t == "original" else ""
            print(f"{name:<8}{label[t]:<22}{e['records']:>8}{e[t]['wall_s']:>9.1f}{e[t]['cpu_s']:>8.1f}{net_w:>10.1f}"
                  f"{net_c:>9.1f}{rate_w:>9.0f}{rate_c:>11.0f}{same:>11}")
            row[t] = {**e[t], "net_wall_s": round(net_w, 2), "net_cpu_s": round(net_c, 2),
                      "snvs_per_hour": round(rate_w) if net_w > 0 else None,
                      "snvs_per_cpu_hour": round(rate_c) if net_c > 0 else None}
        if "original" in tools:
            o, u = row["original"], row["ours"]
            row["ratio"] = {
                "whole_wall": round(o["wall_s"] / u["wall_s"], 1), "whole_cpu": round(o["cpu_s"] / u["cpu_s"], 1),
                "net_wall": round(o["net_wall_s"] / u["net_wall_s"], 1) if u["net_wall_s"] > 0 else None,
                "net_cpu": round(o["net_cpu_s"] / u["net_cpu_s"], 1) if u["net_cpu_s"] > 0 else None}
            row["identical"] = f"{e['identical']}/{e['compared']}"
            if "identical_numbers" in e:
                row["identical_numbers"] = f"{e['identical_numbers']}/{e['compared']}"
            if e["differing"]:
                row["differing_examples"] = e["differing"]
            print(f"{'':<8}{'x original':<22}{'':>8}{row['ratio']['whole_wall']:>9}{row['ratio']['whole_cpu']:>8}"
                  f"{row['ratio']['net_wall'] or float('nan'):>10}{row['ratio']['net_cpu'] or float('nan'):>9}")
        out["sets"][name] = row
    print(json.dumps(out))


ORIGINAL_NAMES = {"spliceai": "spliceai", "openspliceai": "openspliceai variant", "cispliceai": "cis-vcf",
                  "pangolin": "pangolin"}


if __name__ == "__main__":
    main()
