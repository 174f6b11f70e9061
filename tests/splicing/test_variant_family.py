"""The model-agnostic engine: a Pangolin-shaped family double runs through ``VariantScorer`` and
``score_vcf`` unchanged; the shared record rules report every failing reason; the scorer's own
cache look-ups work from another thread."""

from __future__ import annotations

import threading

import numpy as np

from nucleoforge.alphabet import one_hot
from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome
from nucleoforge.splicing.scoring import VariantInput, VariantScorer
from nucleoforge.splicing.scoring_vcf import score_vcf
from nucleoforge.splicing.variant_family import ScoringFamily
from nucleoforge.splicing.variant_rules import REQUEST_ORDER, SCORER_ORDER, SkipReason, check_variant
from tests.splicing.conftest import VCF_HEADER

TISSUES = ("heart", "liver", "brain", "testis")


class PangolinDouble:
    """What Pangolin needs of the family interface, on a tiny random network: 12 models in 4
    tissue groups (3 each, averaged per group: one usage channel per tissue), gain and loss across
    tissues, and its own INFO entry ``GENE|POS:GAIN|POS:LOSS|Warnings:``."""

    info_key = "Pangolin"
    entry_fields = 4
    context = 20
    incremental = None  # no substitution cones: every ALT gets a full ALT pass

    def __init__(self) -> None:
        import torch

        self.weights = np.random.default_rng(7).normal(size=(12, 5, 4))  # 12 models, a 5-nt kernel over A/C/G/T
        self.model = torch.nn.Module()  # the weights' identity goes into cache keys and the run manifest
        self.model.register_buffer("weights", torch.as_tensor(self.weights))
        self.model.name_or_path = "pangolin-double"
        self.calls = 0

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        flank, length = self.context // 2, x.shape[1] - self.context
        windows = np.stack([x[:, flank - 2 + k : flank - 2 + k + length] for k in range(5)], axis=2)  # (B, L, 5, 4)
        usage = 1 / (1 + np.exp(-np.einsum("blkc,mkc->blm", windows, self.weights)))  # (B, L, 12)
        return usage.reshape(*usage.shape[:2], 4, 3).mean(axis=3)  # 4 tissue groups of 3 models

    def align(self, y_ref, y_alt, ref_len, alt_len):
        c = len(y_ref) // 2
        if ref_len > alt_len:
            y_alt = np.concatenate([y_alt[: c + alt_len], np.zeros((ref_len - alt_len, 4)), y_alt[c + alt_len :]])
        elif alt_len > ref_len:
            y_alt = np.concatenate([y_alt[:c], y_alt[c : c + alt_len].max(axis=0, keepdims=True), y_alt[c + alt_len :]])
        return y_ref, y_alt

    def entry(self, alt, gene, y_ref, y_alt, dist_boundary, mask):
        delta = y_alt - y_ref  # (2D + 1, tissues)
        gain, loss = delta.max(axis=1), delta.min(axis=1)  # across tissues, per position
        c = len(delta) // 2
        g, lo = int(gain.argmax()), int(loss.argmin())
        return f"{gene}|{g - c}:{gain[g]:.2f}|{lo - c}:{loss[lo]:.2f}|Warnings:"

    def unscored_entry(self, alt, gene):
        return f"{gene}|.|.|Warnings:NotScored"

    def has_scores(self, entry):
        return "|.|" not in entry

    def info_lines(self, transcripts):
        return ['##INFO=<ID=Pangolin,Number=.,Type=String,Description="Pangolin: GENE|POS:GAIN|POS:LOSS|Warnings:">']

    def identity(self):
        return {"format": "pangolin-info/1", "models": 12, "tissues": list(TISSUES)}

    def run_parameters(self):
        return {}

    def provenance_fields(self):
        return []


def test_a_pangolin_shaped_family_runs_through_the_engine(tiny_genome, tmp_path) -> None:
    fa, table, seq = tiny_genome
    family = PangolinDouble()
    assert isinstance(family, ScoringFamily)
    genome, genes = Genome(fa), GeneTable.load(str(table))
    d = 5
    scorer = VariantScorer(family, genome, genes, distance=d)
    snv = VariantInput("chr1", 120, seq[119], ["A" if seq[119] != "A" else "C"])
    deletion = VariantInput("chr1", 330, seq[329:333], [seq[329]])
    mnv = VariantInput("chr1", 171, seq[170:172], ["AC" if seq[170:172] != "AC" else "GT"])
    nogene = VariantInput("chr1", 10, seq[9], ["A" if seq[9] != "A" else "C"])
    got = scorer.score_alleles([snv, deletion, mnv, nogene])
    # the SNV by hand: the 31-nt window around POS (all inside PLUS), REF and ALT through the 12 models
    half = (family.context + 2 * d + 1) // 2
    ref_w = seq[120 - 1 - half : 120 + half]
    alt_w = ref_w[:half] + snv.alts[0] + ref_w[half + 1 :]
    y_ref, y_alt = (family.predict(one_hot(w)[None])[0] for w in (ref_w, alt_w))
    assert got[0][0].entries == [family.entry(snv.alts[0], "PLUS", y_ref, y_alt, 0, False)]
    assert got[0][0].entries[0].startswith("PLUS|") and got[0][0].entries[0].endswith("|Warnings:")
    # the deletion overlaps both genes (one entry each, MINUS on the reverse strand); the MNV is not scored
    assert [e.split("|")[0] for e in got[1][0].entries] == ["PLUS", "MINUS"] and got[1][0].reason is None
    assert got[2][0].entries == ["PLUS|.|.|Warnings:NotScored"] and got[2][0].reason == SkipReason.MNV
    assert got[3][0].entries == [] and got[3][0].reason == SkipReason.NO_GENE
    assert scorer.model_positions > 0 and scorer.incremental is False

    # the VCF driver writes the family's INFO field and header line
    src = tmp_path / "in.vcf"
    src.write_text(VCF_HEADER + f"chr1\t120\tsnv\t{snv.ref}\t{snv.alts[0]}\t.\tPASS\t.\n")
    summary = score_vcf(VariantScorer(family, genome, genes, distance=d), str(src), str(tmp_path / "out.vcf"),
                        progress=False)
    text = (tmp_path / "out.vcf").read_text()
    assert summary.scored == 1 and "##INFO=<ID=Pangolin," in text and "##INFO=<ID=SpliceAI," not in text
    assert f"Pangolin={got[0][0].entries[0]}" in text


def test_a_check_reports_every_failing_rule_and_each_caller_picks_its_own_first(tiny_genome) -> None:
    fa, table, seq = tiny_genome
    genome, genes = Genome(fa), GeneTable.load(str(table))
    wrong = "".join("A" if b != "A" else "C" for b in seq[4:8])
    check = check_variant(genome, "chr1", 5, wrong, genes=genes, width=31, distance=1)
    assert [f.reason for f in check.failures] == [SkipReason.NO_GENE, SkipReason.CHROM_END, SkipReason.REF_MISMATCH,
                                                  SkipReason.REF_TOO_LONG]
    assert check.failures[2].found == seq[4:8] and check.failures[1].detail.startswith("the 31-nt window passes")
    assert check.first(SCORER_ORDER).reason == SkipReason.NO_GENE  # Illumina's order: the counts
    assert check.first(REQUEST_ORDER).reason == SkipReason.REF_MISMATCH  # the user's order: REF before the gene
    assert [f.reason for f in check_variant(genome, "chr1", 599, "AAA").failures] == [SkipReason.PAST_END]
    assert [f.reason for f in check_variant(genome, "chrX", 5, "A", genes=genes).failures] == [SkipReason.NO_GENE,
                                                                                               SkipReason.FASTA]


def test_lookup_reads_the_scorers_cache_from_another_thread(tiny_genome, tmp_path) -> None:
    fa, table, seq = tiny_genome
    genome, genes = Genome(fa), GeneTable.load(str(table))
    family = PangolinDouble()
    scorer = VariantScorer(family, genome, genes, distance=5, cache=tmp_path / "c.sqlite")
    v = VariantInput("chr1", 120, seq[119], ["A" if seq[119] != "A" else "C"])
    entries = scorer.score_chunk([v])[0]
    found: list = []
    reader = threading.Thread(target=lambda: found.append(scorer.lookup([("chr1", 120, v.ref, v.alts[0])])))
    reader.start()
    reader.join()
    assert found == [{("chr1", 120, v.ref, v.alts[0]): entries}]
    calls = family.calls
    assert scorer.score_chunk([v])[0] == entries and family.calls == calls  # the second time from the cache
    scorer.close()
    assert scorer.lookup([("chr1", 120, v.ref, v.alts[0])]) == {}
