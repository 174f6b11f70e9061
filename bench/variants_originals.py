"""``bench/variants.py --model ...``: nucleoforge's ``variants`` command against each model's own
original command line, on the same records, threads and machine.

Both tools run as whole processes (``nucleoforge variants`` and the original's console script), one
after the other on each record set (interleaved, so a change in machine load hits both), plus one
run each on a header-only input: its time is the start-up, subtracted for the "excluding start-up"
figures. Wall seconds and CPU seconds (user + system of the child) are both recorded; on a machine
shared with other jobs the CPU seconds are the steadier measure.

Originals and how they are called (their defaults, the settings passed to both tools explicitly):

* ``pangolin`` (tkzeng/Pangolin): ``pangolin IN.csv REF DB PREFIX -d D -m True|False`` in CSV mode
  (``CHROM,POS,REF,ALT,ID``); ``DB`` is a gffutils database of a GTF written here from the ``grch37``
  table (one gene, one transcript and its exons per row; every feature kept, as
  ``scripts/create_db.py --filter None`` keeps them), built with the original's interpreter unless
  ``--pangolin-db`` is given. nucleoforge reads the same GTF (``-A``).
* ``openspliceai``: ``openspliceai variant -R REF -A grch37 -I IN -O OUT -m WEIGHTS -f FLANK
  -t pytorch -D D -M M`` (``--original-weights``: the folder of ``model_<FLANK>nt_rs*.pt``).
* ``cispliceai``: ``cis-vcf REF -a grch37 -i IN -o OUT -d D [-m]`` (its own annotation: gene IDs
  where nucleoforge writes the table's symbols, so its strings are compared with SYMBOL set aside).
* ``spliceai``: Illumina's ``spliceai -I IN -O OUT -R REF -A grch37 -D D -M M``.

Records: dbSNP substitutions of the bundled block inside a ``grch37`` gene (``TX_START + 1 < POS``,
the stricter of the tools' rules); ``dense`` = the first ``n`` in genome order (consecutive),
``sparse`` = the first substitution of each gene (no two share a gene), first ``n`` of them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# family -> (original console script, INFO key, defaults (distance, mask) of the original)
ORIGINALS = {
    "spliceai": ("spliceai", "SpliceAI", (50, 0)),
    "openspliceai": ("openspliceai", "OpenSpliceAI", (50, 0)),
    "cispliceai": ("cis-vcf", "CISpliceAI", (1000, 0)),
    "pangolin": ("pangolin", "Pangolin", (50, 1)),
}


def model_family(model: str) -> str:
    """``spliceai``, ``openspliceai``, ``cispliceai`` or ``pangolin`` for a model name or folder."""
    cfg = Path(model) / "config.json"
    if cfg.is_file():
        family = json.loads(cfg.read_text()).get("weights_family") or "spliceai"
    else:
        family = next((f for f in ("openspliceai", "cispliceai", "pangolin") if model.startswith(f)), "spliceai")
    if family not in ORIGINALS:
        raise SystemExit(f"--model {model}: weights family {family!r} has no original command line here")
    return family


# ---------------------------------------------------------------- records and inputs
def pick_records(variants: list, genes: Any, kind: str, n: int) -> list:
    """The ``dense`` or ``sparse`` substitutions (see the module docstring)."""

    def gene_names(v: Any) -> list[str]:
        return [genes[i].name for i in genes.overlapping(v.chrom, v.pos) if genes[i].tx_start + 1 < v.pos]

    snvs = [v for v in variants if len(v.ref) == len(v.alt) == 1 and v.ref in "ACGT" and v.alt in "ACGT"]
    if kind == "dense":
        return [v for v in snvs if gene_names(v)][:n]
    seen: set[str] = set()
    picked = []
    for v in snvs:
        hits = gene_names(v)
        if hits and not seen.intersection(hits):
            seen.update(hits)
            picked.append(v)
    return picked[:n]


def write_csv(variants: list, path: Path) -> None:
    """Pangolin's CSV input mode: ``CHROM,POS,REF,ALT,ID``."""
    with open(path, "w") as fh:
        fh.write("CHROM,POS,REF,ALT,ID\n")
        for v in variants:
            fh.write(f"{v.chrom},{v.pos},{v.ref},{v.alt},{v.id}\n")


def write_gtf(genes: Any, path: Path, chrom: str, first: int, last: int) -> None:
    """The table's genes on ``chrom`` overlapping ``first..last`` as a GTF (gene_id = the name)."""
    with open(path, "w") as fh:
        for g in genes:
            if g.chrom.removeprefix("chr") != chrom or g.tx_end < first or g.tx_start + 1 > last:
                continue
            attr = f'gene_id "{g.name}"; gene_name "{g.name}";'
            tx = f'{attr} transcript_id "{g.name}.1";'
            fh.write(f"{chrom}\tbench\tgene\t{g.tx_start + 1}\t{g.tx_end}\t.\t{g.strand}\t.\t{attr}\n")
            fh.write(f"{chrom}\tbench\ttranscript\t{g.tx_start + 1}\t{g.tx_end}\t.\t{g.strand}\t.\t{tx}\n")
            for k, (a, b) in enumerate(zip(g.exon_starts, g.exon_ends), 1):
                fh.write(f'{chrom}\tbench\texon\t{a + 1}\t{b}\t.\t{g.strand}\t.\t{tx} exon_number "{k}";\n')


_GFFUTILS = """
import sys, gffutils, pyfastx
gffutils.create_db(sys.argv[1], sys.argv[2], force=True, disable_infer_genes=True, disable_infer_transcripts=True)
pyfastx.Fasta(sys.argv[3])  # its index, built once outside the timed runs
"""


def prepare_pangolin(python: str, gtf: Path, db: Path, ref: Path) -> None:
    """The gffutils database of ``gtf`` and pyfastx's index of ``ref``, with the original's interpreter."""
    subprocess.run([python, "-c", _GFFUTILS, str(gtf), str(db), str(ref)], check=True, capture_output=True)


def write_fai(ref: Path) -> None:
    """A samtools-style ``.fai`` for ``ref`` (equal-width lines), so no tool indexes it inside a timed run."""
    out, name, offset, length, width, linebytes = [], None, 0, 0, 0, 0
    pos = 0
    with open(ref, "rb") as fh:
        for line in fh:
            if line.startswith(b">"):
                if name is not None:
                    out.append(f"{name}\t{length}\t{offset}\t{width}\t{linebytes}\n")
                name, length, width, offset = line[1:].split()[0].decode(), 0, 0, pos + len(line)
            else:
                if not width:
                    width, linebytes = len(line.rstrip(b"\r\n")), len(line)
                length += len(line.rstrip(b"\r\n"))
            pos += len(line)
    if name is not None:
        out.append(f"{name}\t{length}\t{offset}\t{width}\t{linebytes}\n")
    Path(str(ref) + ".fai").write_text("".join(out))


# ---------------------------------------------------------------- commands and outputs
@dataclass
class Setup:
    """What both command lines need."""

    family: str
    model: str
    ref: Path
    annotation: str  #: nucleoforge's -A
    distance: int
    mask: int
    ours: list[str]  #: nucleoforge's console script (with its interpreter when needed)
    original: str | None = None  #: the original's console script
    weights: str | None = None  #: OpenSpliceAI's weight folder
    db: Path | None = None  #: Pangolin's gffutils database
    env: dict = field(default_factory=dict)


def ours_cmd(s: Setup, src: Path, out: Path) -> list[str]:
    return [*s.ours, "variants", "-I", str(src), "-O", str(out), "-R", str(s.ref), "-A", s.annotation,
            "--model", s.model, "-D", str(s.distance), "-M", str(s.mask), "-q"]


def original_cmd(s: Setup, src: Path, out: Path) -> list[str]:
    d, m = str(s.distance), str(s.mask)
    if s.family == "pangolin":
        return [s.original, str(src), str(s.ref), str(s.db), str(out.with_suffix("")), "-d", d, "-m", str(bool(s.mask))]
    if s.family == "openspliceai":
        flank = re.search(r"(\d+)nt", Path(s.weights).name)
        return [s.original, "variant", "-R", str(s.ref), "-A", "grch37", "-I", str(src), "-O", str(out),
                "-m", s.weights, "-f", flank.group(1) if flank else "10000", "-t", "pytorch", "-D", d, "-M", m]
    if s.family == "cispliceai":
        mask = ["-m"] if s.mask else []
        return [s.original, str(s.ref), "-a", "grch37", "-i", str(src), "-o", str(out), "-d", d, *mask]
    return [s.original, "-I", str(src), "-O", str(out), "-R", str(s.ref), "-A", "grch37", "-D", d, "-M", m]


def vcf_field(path: Path, key: str) -> dict[str, str]:
    """ID -> the INFO field ``key`` of each record ('' when absent)."""
    out = {}
    for line in open(path):
        if line.startswith("#"):
            continue
        c = line.rstrip("\n").split("\t")
        found = [x[len(key) + 1 :] for x in c[7].split(";") if x.startswith(key + "=")]
        out[c[2]] = found[0] if found else ""
    return out


def pangolin_csv(path: Path, width: int = 5) -> dict[str, str]:
    """ID -> the Pangolin string of the original's CSV output (input columns, then the string)."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return {r[4]: ",".join(r[width:]) for r in rows}


def without_symbol(entries: str) -> set[str]:
    """SpliceAI-format entries with the SYMBOL field dropped (CI-SpliceAI names genes by Ensembl ID)."""
    return {"|".join(e.split("|")[:1] + e.split("|")[2:]) for e in entries.split(",") if e}


def run_timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one child process; exits with its stderr on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-3000:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def compare(s: Setup, inputs: dict[str, tuple[Path, Path | None, int]], work: Path) -> dict:
    """Time both tools on the header-only input and each record set, interleaved; check the strings.

    ``inputs``: set name -> (VCF, Pangolin CSV or None, records). Returns per set and tool the wall
    and CPU seconds (whole process), and per set the identical-strings counts.
    """
    key = ORIGINALS[s.family][1]
    res: dict[str, Any] = {}
    for k, (name, (vcf, pcsv, n)) in enumerate(inputs.items()):
        entry: dict[str, Any] = {"records": n}
        tools = [("ours", ours_cmd), ("original", original_cmd)] if s.original else [("ours", ours_cmd)]
        if k % 2:  # alternate who goes first
            tools.reverse()
        for tool, build in tools:
            src = pcsv if (tool == "original" and s.family == "pangolin") else vcf
            out = work / f"{tool}_{s.family}_{name}.{'csv' if src.suffix == '.csv' else 'vcf'}"
            wall, cpu = run_timed(build(s, src, out), s.env)
            entry[tool] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "output": out}
            print(f"  {name:<7}{tool:<9}{wall:8.1f} s wall {cpu:8.1f} s CPU  load {os.getloadavg()[0]:.1f}",
                  file=sys.stderr, flush=True)
        if "original" in entry and n:
            ours = vcf_field(entry["ours"]["output"], key)
            theirs = pangolin_csv(entry["original"]["output"]) if s.family == "pangolin" else \
                vcf_field(entry["original"]["output"], key)
            ids = list(theirs)
            entry["identical"] = sum(ours.get(i) == theirs[i] for i in ids)
            entry["compared"] = len(ids)
            entry["differing"] = [(i, ours.get(i), theirs[i]) for i in ids if ours.get(i) != theirs[i]][:3]
            if s.family == "cispliceai":  # the numbers of cis-vcf's one entry among ours
                entry["identical_numbers"] = sum(without_symbol(theirs[i]) <= without_symbol(ours.get(i) or "")
                                                 for i in ids)
        for tool in ("ours", "original"):
            if tool in entry:
                entry[tool].pop("output")
        res[name] = entry
    return res
