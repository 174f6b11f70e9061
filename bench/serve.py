"""Load test of ``nucleoforge serve``: requests/s and latency, uncached and cached, on 127.0.0.1.

The app runs in this process (uvicorn in a thread, the real 10k ensemble, genome ``37`` = the
bundled chr22 block at real coordinates + ``grch37``, a fresh SQLite score cache). Clients are
threads sending single-variant ``GET /spliceai/`` requests, ``--concurrency`` at a time, a
bounded number each:

* uncached: ``--n`` distinct dbSNP substitutions inside genes, each scored by the model
  (concurrent requests are batched by the server's worker);
* cached: the same variants again, every answer read from the cache (no model call).

    .venv/bin/python bench/serve.py --n 120 --concurrency 8

Prints a table and a final JSON line (latencies in ms; p50/p95 over all requests of a phase).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO / "examples" / "data"


def _phase(url: str, variants: list[str], concurrency: int) -> dict:
    def one(v: str) -> tuple[float, int, str]:
        q = url + "/spliceai/?" + urllib.parse.urlencode({"hg": "37", "variant": v, "distance": 50, "mask": 0})
        t0 = time.perf_counter()
        with urllib.request.urlopen(q, timeout=600) as r:
            body = json.loads(r.read())
        return time.perf_counter() - t0, r.status, body.get("source", "")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, variants))
    wall = time.perf_counter() - t0
    lat = sorted(r[0] * 1000 for r in results)
    return {"requests": len(results), "seconds": round(wall, 2), "requests_per_s": round(len(results) / wall, 2),
            "p50_ms": round(statistics.median(lat), 1), "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1),
            "ok": sum(r[1] == 200 for r in results), "sources": sorted({r[2] for r in results})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=120, help="distinct variants (requests per phase)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()

    import torch
    import uvicorn

    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.fasta import read_fasta
    from nucleoforge.io.genome import place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps
    from nucleoforge.models.spliceai import SpliceAIModel
    from nucleoforge.serve.app import create_app
    from nucleoforge.serve.service import GenomeSpec, LookupService

    work = Path(tempfile.mkdtemp(prefix="nf-bench-serve-"))
    ref = work / "chr22.fa"
    place_subsequence_records(DATA / "GRCh37_chr22_20000001-21000000.fa.gz", ref)
    rec = next(read_fasta(DATA / "GRCh37_chr22_20000001-21000000.fa.gz"))
    genes = GeneTable.load("grch37")
    snvs = [v for v in read_hisat2_snps(DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz", {rec.name: rec.sequence})
            if len(v.ref) == len(v.alt) == 1 and genes.overlapping("22", v.pos)]
    variants = [f"22-{v.pos}-{v.ref}-{v.alt}" for v in snvs[:: max(1, len(snvs) // args.n)][: args.n]]

    model = SpliceAIModel.from_pretrained("spliceai-10k").eval()
    service = LookupService([GenomeSpec("37", str(ref), "grch37")], model, cache=str(work / "cache.sqlite"), device=args.device)
    app = create_app(service, max_batch=args.max_batch, timeout=600)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        uncached = _phase(url, variants, args.concurrency)
        stats = json.loads(urllib.request.urlopen(url + "/health").read())["worker"]
        cached = _phase(url, variants, args.concurrency)
    finally:
        server.should_exit = True
        thread.join(30)

    print(f"\n{'phase':<10}{'requests':>10}{'seconds':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}  source")
    for name, r in (("uncached", uncached), ("cached", cached)):
        print(f"{name:<10}{r['requests']:>10}{r['seconds']:>10.1f}{r['requests_per_s']:>9.2f}{r['p50_ms']:>9.1f}"
              f"{r['p95_ms']:>9.1f}  {','.join(r['sources'])}")
    print(f"worker: {stats['jobs']} jobs in {stats['batches']} scorer calls (largest {stats['largest_batch']})")
    print(json.dumps({"bench": "serve", "device": str(next(model.parameters()).device), "threads": torch.get_num_threads(),
                      "concurrency": args.concurrency, "uncached": uncached, "cached": cached,
                      "worker_batches": stats["batches"], "worker_jobs": stats["jobs"],
                      "largest_batch": stats["largest_batch"]}))


if __name__ == "__main__":
    main()
