"""Fixtures for the output-safety tests: tiny saved SpliceAI and language models, a synthetic
genome with two genes, and real dbSNP SNVs on the bundled chr22 block."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import CHR22, DATA
from tests.pipelines.conftest import model_dir  # noqa: F401  (re-exported fixture)


@pytest.fixture(scope="session")
def tiny_spliceai(tmp_path_factory):
    """``tiny_spliceai(seed) -> folder`` of a tiny random SpliceAI ensemble (save_pretrained)."""
    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

    cache: dict[int, Path] = {}

    def make(seed: int = 0) -> Path:
        if seed not in cache:
            torch.manual_seed(seed)
            model = SpliceAIModel(SpliceAIConfig(stages=[(1, 5, 2), (1, 3, 3)], channels=8, num_members=2)).eval()
            for p in model.parameters():  # spiky outputs: visible delta scores
                p.data.mul_(1.5)
            path = tmp_path_factory.mktemp(f"spliceai_tiny{seed}")
            model.save_pretrained(path)
            cache[seed] = path
        return cache[seed]

    return make


@pytest.fixture(scope="session")
def tiny_genome(tmp_path_factory):
    """``(fasta, gene_table, sequence)``: a 600-nt chr1 with a plus- and a minus-strand gene."""
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 600))
    d = tmp_path_factory.mktemp("tiny_genome")
    fa = d / "g.fa"
    fa.write_text(">chr1\n" + seq + "\n")
    table = d / "genes.txt"
    table.write_text(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
        "PLUS\t1\t+\t40\t400\t40,150,300,\t100,200,400,\n"
        "MINUS\t1\t-\t250\t590\t250,420,\t330,590,\n"
    )
    return fa, table, seq


def synthetic_vcf_lines(seq: str) -> list[str]:
    """Data lines of SNVs/indels inside the tiny genome's genes (one outside), in order."""
    def other(b: str) -> str:
        return "A" if b != "A" else "C"

    rows = []
    for i, pos in enumerate([60, 120, 160, 201, 230, 300, 310, 350, 421, 450, 500, 520]):
        rows.append(f"chr1\t{pos}\tv{i}\t{seq[pos - 1]}\t{other(seq[pos - 1])}\t.\tPASS\t.\n")
    rows.insert(6, f"chr1\t330\tdel\t{seq[329:333]}\t{seq[329]}\t.\tPASS\t.\n")
    rows.append(f"chr1\t10\tnogene\t{seq[9]}\t{other(seq[9])}\t.\tPASS\t.\n")
    rows.sort(key=lambda r: int(r.split("\t")[1]))
    return rows


VCF_HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=600>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="session")
def dbsnp_vcf(tmp_path_factory, chr22_block):
    """``(reference, vcf)``: chr22 at real coordinates and a VCF of 12 real dbSNP SNVs."""
    from nucleoforge.io.genome import place_subsequence_records
    from nucleoforge.io.vcf import read_hisat2_snps, write_vcf

    root = tmp_path_factory.mktemp("dbsnp")
    ref = root / "chr22.fa"
    lengths = place_subsequence_records(CHR22, ref)
    variants = itertools.islice(read_hisat2_snps(DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz",
                                                 {"22:20000001-21000000": chr22_block}), 40)
    snvs = sorted([v for v in variants if len(v.ref) == len(v.alt) == 1][:12], key=lambda v: v.pos)
    vcf = root / "in.vcf"
    with open(vcf, "w") as fh:
        write_vcf(snvs, fh, contigs=lengths)
    return ref, vcf


# ---------------------------------------------------------------------------- splice-data folders
def write_split(path: Path, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
    import h5py

    with h5py.File(path, "w") as h5:
        h5["X"], h5["Y"], h5["W"] = x.astype(np.uint8), y.astype(np.int8), w.astype(np.uint8)


def write_dataset(folder: Path, rows=(16, 8, 4), block: int = 100, context: int = 20, seed: int = 0) -> Path:
    """A random dataset whose labels follow the sequence (acceptor after AG, donor before GT) so
    that training can learn something; the last row of each split ends in padding (Y = -1, W = 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    summary = {}
    for split, n in zip(("train", "validation", "test"), rows):
        x = rng.integers(0, 5, (n, block + context), dtype=np.uint8)
        core = x[:, context // 2 : context // 2 + block]
        y = np.zeros((n, block), np.int8)
        y[:, 1:][(core[:, :-1] == 1) & (core[:, 1:] == 3)] = 1
        y[:, :-1][(core[:, :-1] == 3) & (core[:, 1:] == 4) & (y[:, :-1] == 0)] = 2
        w = np.ones((n, block), np.uint8)
        y[-1, -7:], w[-1, -7:] = -1, 0
        w[0, :3] = 0  # near a transcript end: excluded
        write_split(folder / f"{split}.h5", x, y, w)
        summary[split] = {"blocks": n, "positions": int(w.sum())}
    meta = {"format": "nucleoforge-splice-data/1", "context": context, "block": block, "summary": summary}
    (folder / "dataset.json").write_text(json.dumps(meta))
    return folder
