"""nucleoforge.io.genome / annotation / vcf: regions, indexed FASTA, gene tables, dbSNP lists."""

from __future__ import annotations

import gzip
import io

import pytest

from nucleoforge.io.annotation import Gene, GeneTable, spliceai_annotation_path
from nucleoforge.io.genome import Genome, Region, normalise_chrom, parse_region, place_subsequence_records
from nucleoforge.io.vcf import Variant, read_hisat2_snps, write_vcf
from tests.conftest import CHR22, DATA

SEQ = "ACGTACGTNNacgtTTGGCCAA"


@pytest.fixture()
def fasta(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">chr1 first\n" + SEQ[:10] + "\n" + SEQ[10:] + "\n>chr2\nGGGG\n")
    return path


def test_parse_region_forms_and_errors():
    assert parse_region("chr1:1-10") == Region("chr1", 0, 10, "+")
    assert parse_region(" 22:1,000-2,000:- ") == Region("22", 999, 2000, "-")
    assert str(parse_region("X:5-5")) == "X:5-5:+"
    for bad in ("chr1", "chr1:10-5", "chr1:0-5", "chr1:1-5:?", "chr1:a-b"):
        with pytest.raises(ValueError, match="region"):
            parse_region(bad)


def test_normalise_chrom():
    assert normalise_chrom("chr22", ["21", "22"]) == "22"
    assert normalise_chrom("22", ["chr22"]) == "chr22"
    assert normalise_chrom("MT", ["chrM"]) == "chrM"
    assert normalise_chrom("chrZ", ["1"]) == "chrZ"


@pytest.mark.parametrize("compress", [False, True])
def test_genome_fetch_plain_and_gzip(tmp_path, fasta, compress, monkeypatch):
    monkeypatch.setenv("NUCLEOFORGE_CACHE", str(tmp_path / "cache"))
    path = fasta
    if compress:
        path = tmp_path / "g.fa.gz"
        path.write_bytes(gzip.compress(fasta.read_bytes()))
    with Genome(path) as g:
        assert g.chroms == ["chr1", "chr2"] and g.lengths == {"chr1": len(SEQ), "chr2": 4}
        assert g.fetch("1", 0, 4) == "ACGT"  # chr prefix added
        assert g.fetch("chr1", 8, 14) == "NNacgt"  # case kept
        assert g.fetch_padded("chr2", -2, 6) == "NNGGGGNN"
        assert g.fetch("chr2", 4, 4) == ""
        with pytest.raises(IndexError, match="outside chr2"):
            g.fetch("chr2", 2, 5)
        with pytest.raises(KeyError, match="chromosome 'chr3'"):
            g.fetch("chr3", 0, 1)
    if compress:
        assert list((tmp_path / "cache" / "genomes").glob("*-g.fa"))  # decompressed once into the cache


def test_genome_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="reference FASTA not found"):
        Genome(tmp_path / "nope.fa")


def test_place_subsequence_records(tmp_path):
    src = tmp_path / "pieces.fa"
    src.write_text(">7:3-6\nACGT\n>7:9-10\nGG\n")
    out = tmp_path / "placed.fa"
    assert place_subsequence_records(src, out, chrom_prefix="chr") == {"chr7": 10}
    with Genome(out) as g:
        assert g.fetch("7", 0, 10) == "NNACGTNNGG"
    bad = tmp_path / "bad.fa"
    bad.write_text(">7:3-9\nACGT\n")
    with pytest.raises(ValueError, match="holds 4 bases"):
        place_subsequence_records(bad, tmp_path / "x.fa")


TABLE = (
    "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
    "PLUS\t1\t+\t100\t1000\t100,400,800,\t200,500,1000,\n"
    "MINUS\t1\t-\t900\t2000\t900,1500,\t1000,2000,\n"
)


def test_gene_table_lookup_and_sites():
    t = GeneTable.read(io.StringIO(TABLE), "t.txt")
    assert len(t) == 2 and t.chroms == ["1"]
    assert t.overlapping("chr1", 100) == [] and t.overlapping("1", 101) == [0]
    assert t.overlapping("1", 950) == [0, 1] and t.overlapping("1", 2001) == [] and t.overlapping("2", 500) == []
    plus, minus = t[0], t[1]
    assert plus.introns == [(200, 400), (500, 800)]
    assert plus.acceptors == [400, 800] and plus.donors == [199, 499]
    # Minus strand: the donor is the exon's first base on the forward strand after the intron.
    assert minus.acceptors == [999] and minus.donors == [1500]
    assert t.within("1", 0, 1500) == [0] and t.within("1", 0, 2000) == [0, 1]


def test_gene_table_errors():
    with pytest.raises(ValueError, match="t.txt:1: expected the header"):
        GeneTable.read(io.StringIO("NAME\tCHROM\n"), "t.txt")
    with pytest.raises(ValueError, match="t.txt:2: malformed gene line"):
        GeneTable.read(io.StringIO(TABLE.splitlines()[0] + "\nG\t1\t+\tx\t10\t1,\t5,\n"), "t.txt")


def test_gene_table_from_gtf(tmp_path):
    gtf = tmp_path / "a.gtf"
    rows = [
        ("1", "exon", 101, 200, "+", 'gene_id "g1"; transcript_id "t1"; gene_name "G";'),
        ("1", "exon", 401, 500, "+", 'gene_id "g1"; transcript_id "t1"; gene_name "G";'),
        ("1", "exon", 101, 900, "+", 'gene_id "g1"; transcript_id "t2"; gene_name "G"; tag "Ensembl_canonical";'),
        ("1", "gene", 101, 900, "+", 'gene_id "g1"; gene_name "G";'),
    ]
    gtf.write_text("".join(f"{c}\tsrc\t{f}\t{s}\t{e}\t.\t{st}\t.\t{a}\n" for c, f, s, e, st, a in rows))
    t = GeneTable.load(gtf)
    assert [(g.name, g.tx_start, g.tx_end, g.exon_starts) for g in t] == [("G", 100, 900, (100,))]


def test_spliceai_gene_table_on_the_bundled_block():
    """The data README's figures: 18 grch37 genes inside chr22:20-21 Mb with 135 introns."""
    try:
        spliceai_annotation_path("grch37")
    except FileNotFoundError:
        pytest.skip("spliceai wheel not installed")
    t = GeneTable.load("grch37")
    inside = t.within("chr22", 20_000_000, 21_000_000)
    assert len(inside) == 18
    assert sum(len(t[i].introns) for i in inside) == 135
    assert {"TANGO2", "DGCR8", "MED15"} <= {t[i].name for i in inside}
    assert all(isinstance(t[i], Gene) and t[i].strand in "+-" for i in inside)


def test_read_hisat2_snps_on_bundled_dbsnp(chr22_block):
    variants = list(read_hisat2_snps(DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz", {"22:20000001-21000000": chr22_block}))
    kinds = [("snv" if len(v.ref) == len(v.alt) == 1 else "del" if len(v.ref) > 1 else "ins") for v in variants]
    assert (kinds.count("snv"), kinds.count("del"), kinds.count("ins")) == (3174, 187, 141)
    first = variants[0]
    assert first == Variant("22", 20_000_146, "rs73387790", chr22_block[145], "A")
    for v in variants:  # REF is the reference at POS; indels keep the anchor base
        off = v.pos - 20_000_001
        assert chr22_block[off : off + len(v.ref)] == v.ref
        assert v.alt[0] == v.ref[0] or len(v.ref) == len(v.alt) == 1
    buf = io.StringIO()
    assert write_vcf(variants[:2], buf, {"22": 51_304_566}) == 2
    assert buf.getvalue().splitlines()[-1] == f"22\t{variants[1].pos}\t{variants[1].id}\t{variants[1].ref}\t{variants[1].alt}\t.\t.\t."


def test_read_hisat2_snps_errors():
    with pytest.raises(ValueError, match="<snps>:1: expected 5 columns"):
        list(read_hisat2_snps(io.StringIO("rs1 single 1:1-4\n"), {}))
    with pytest.raises(ValueError, match="unknown variant type 'inversion'"):
        list(read_hisat2_snps(io.StringIO("rs1 inversion 1:1-4 1 A\n"), {"1:1-4": "ACGT"}))


def test_bundled_block_placed_at_real_coordinates(tmp_path, chr22_block):
    out = tmp_path / "chr22.fa"
    assert place_subsequence_records(CHR22, out) == {"22": 21_000_000}
    with Genome(out) as g:
        assert g.fetch("chr22", 20_000_000, 20_000_050) == chr22_block[:50]
        assert set(g.fetch("22", 19_999_990, 20_000_000)) == {"N"}
