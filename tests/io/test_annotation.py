"""GFF3 gene tables (GeneTable.read_gff3 / load) on a tiny GFF3 written from the first genes of the
bundled fly GTF (dm3 chr2R, AUGUSTUS tutorial genes), checked against that GTF itself."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nucleoforge.io.annotation import GeneTable
from tests.conftest import DATA

FLY_GTF = DATA / "dm3_chr2R_2-5M.gtf.gz"

# The first four genes of dm3_chr2R_2-5M.gtf.gz as GFF3 (gene -> mRNA -> exon/CDS), plus a shorter
# second isoform of aug38 that skips its middle exon (its first and last exons have two parents).
GFF3 = """\
##gff-version 3
##sequence-region chr2R 1 21146708
chr2R	AUGUSTUS	gene	2024932	2025830	.	+	.	ID=aug38;Name=aug38
chr2R	AUGUSTUS	mRNA	2024932	2025830	.	+	.	ID=aug38.t1;Parent=aug38{tag1}
chr2R	AUGUSTUS	mRNA	2024932	2025830	.	+	.	ID=aug38.t2;Parent=aug38{tag2}
chr2R	AUGUSTUS	exon	2024932	2025318	.	+	.	ID=aug38.e1;Parent=aug38.t1,aug38.t2
chr2R	AUGUSTUS	CDS	2024932	2025318	.	+	0	ID=aug38.t1.cds;Parent=aug38.t1
chr2R	AUGUSTUS	exon	2025494	2025770	.	+	.	ID=aug38.e2;Parent=aug38.t1
chr2R	AUGUSTUS	exon	2025823	2025830	.	+	.	ID=aug38.e3;Parent=aug38.t1,aug38.t2
###
chr2R	AUGUSTUS	gene	2061221	2062882	.	+	.	ID=aug40;Name=aug40;Note=coding exons only%3B from genes.gb
chr2R	AUGUSTUS	mRNA	2061221	2062882	.	+	.	ID=aug40.t1;Parent=aug40
chr2R	AUGUSTUS	exon	2061221	2061676	.	+	.	Parent=aug40.t1
chr2R	AUGUSTUS	exon	2061797	2062882	.	+	.	Parent=aug40.t1
###
chr2R	AUGUSTUS	gene	2067243	2067788	.	+	.	ID=aug41;Name=aug41
chr2R	AUGUSTUS	mRNA	2067243	2067788	.	+	.	ID=aug41.t1;Parent=aug41
chr2R	AUGUSTUS	exon	2067243	2067788	.	+	.	Parent=aug41.t1
###
chr2R	AUGUSTUS	gene	2068489	2069124	.	-	.	ID=aug3686;Name=aug3686
chr2R	AUGUSTUS	mRNA	2068489	2069124	.	-	.	ID=aug3686.t1;Parent=aug3686
chr2R	AUGUSTUS	exon	2068978	2069124	.	-	.	Parent=aug3686.t1
chr2R	AUGUSTUS	exon	2068812	2068920	.	-	.	Parent=aug3686.t1
chr2R	AUGUSTUS	exon	2068489	2068760	.	-	.	Parent=aug3686.t1
##FASTA
>chr2R
ACGTACGT
"""


def _write(path: Path, tag1: str = "", tag2: str = "") -> Path:
    path.write_text(GFF3.format(tag1=tag1, tag2=tag2))
    return path


def test_gff3_matches_the_gtf_it_was_written_from(tmp_path):
    t = GeneTable.load(_write(tmp_path / "fly.gff3"))
    assert [g.name for g in t] == ["aug38", "aug40", "aug41", "aug3686"]
    assert FLY_GTF.is_file(), f"{FLY_GTF}: the bundled fly GTF is missing (it ships in examples/data)"
    gtf = GeneTable.load(FLY_GTF)
    assert [g.name for g in gtf][:4] == ["aug38", "aug40", "aug41", "aug3686"]
    assert list(t) == list(gtf)[:4]
    aug38, _, _, minus = t
    assert aug38.exon_starts == (2024931, 2025493, 2025822) and aug38.exon_ends == (2025318, 2025770, 2025830)  # t1: longest
    assert (minus.strand, minus.tx_start, minus.tx_end, minus.introns) == ("-", 2068488, 2069124, [(2068760, 2068811), (2068920, 2068977)])
    assert minus.acceptors == [2068759, 2068919] and minus.donors == [2068811, 2068977]


def test_gff3_canonical_tag_all_transcripts_and_gff_suffix(tmp_path):
    t = GeneTable.load(_write(tmp_path / "tagged.gff3", tag2=";tag=basic,Ensembl_canonical"))
    assert t[0].name == "aug38" and t[0].exon_starts == (2024931, 2025822)  # the tagged shorter isoform wins
    every = GeneTable.load(_write(tmp_path / "fly.gff"), transcripts="all")  # .gff with GFF3 attributes
    assert [g.name for g in every] == ["aug38.t1", "aug38.t2", "aug40.t1", "aug41.t1", "aug3686.t1"]
    gz = tmp_path / "fly.gff3.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(GFF3.format(tag1="", tag2=""))
    assert list(GeneTable.load(gz)) == list(GeneTable.load(tmp_path / "fly.gff"))
    gtf_as_gff = tmp_path / "a.gff"  # GTF attributes in a .gff file: still read as GTF
    gtf_as_gff.write_text('1\tsrc\texon\t101\t200\t.\t+\t.\tgene_id "g1"; transcript_id "t1";\n')
    assert [(g.name, g.tx_start) for g in GeneTable.load(gtf_as_gff)] == [("g1", 100)]


def test_gff3_errors(tmp_path):
    bad = tmp_path / "bad.gff3"
    bad.write_text("##gff-version 3\nchr2R\tA\texon\t10\t20\t.\t+\t.\tID=e1\n")
    with pytest.raises(ValueError, match=r"bad.gff3:2: exon without a Parent"):
        GeneTable.load(bad)
    with pytest.raises(ValueError, match="'canonical' or 'all'"):
        GeneTable.load(bad, transcripts="longest")
