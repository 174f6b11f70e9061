"""Genome-build facts and the build check (nucleoforge.io.builds) on real data: the bundled GRCh37
chr22 block placed at its coordinates, the spliceai wheel's GRCh37/GRCh38 tables, and the fly
dm3 chr2R excerpt with its GTF (another species: no false alarm)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.builds import (
    GRCH37_LENGTHS,
    GRCH38_LENGTHS,
    annotation_build,
    build_named,
    check_build,
    contig_conflict,
    intron_tally,
    length_conflict,
    read_vcf_facts,
)
from tests.conftest import CHR22

FLY = Path("/work/shared/data/genome")
FLY_FA, FLY_GTF = FLY / "dm3_chr2R_1-5100000.fa.gz", FLY / "dm3_chr2R_2-5M.gtf.gz"
HINT = "(--allow-build-mismatch to score anyway)"


@pytest.fixture(scope="module")
def placed(tmp_path_factory) -> Path:
    """The bundled 1 Mb GRCh37 block as record ``22`` of 21,000,000 nt (N before 20,000,001)."""
    from nucleoforge.io.genome import place_subsequence_records

    ref = tmp_path_factory.mktemp("builds") / "chr22.fa"
    assert place_subsequence_records(CHR22, ref) == {"22": 21_000_000}
    return ref


@pytest.fixture(scope="module")
def tables():
    from nucleoforge.io.annotation import GeneTable

    try:
        return {name: GeneTable.load(name) for name in ("grch37", "grch38")}
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def _vcf(path: Path, header: str, rows: str = "22\t20105100\t.\tA\tG\t.\t.\t.\n") -> Path:
    path.write_text("##fileformat=VCFv4.2\n" + header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + rows)
    return path


# ---------------------------------------------------------------------------- (a) the length table and rule
def test_length_tables_hold_the_published_primary_assembly_lengths():
    """(a) Spot checks against UCSC hg19/hg38 chrom.sizes, and the totals of 1-22, X, Y."""
    assert (GRCH37_LENGTHS["22"], GRCH38_LENGTHS["22"]) == (51_304_566, 50_818_468)
    assert (GRCH37_LENGTHS["1"], GRCH38_LENGTHS["1"]) == (249_250_621, 248_956_422)
    assert (GRCH37_LENGTHS["MT"], GRCH38_LENGTHS["MT"]) == (16_569, 16_569)
    assert list(GRCH37_LENGTHS) == list(GRCH38_LENGTHS) == [*map(str, range(1, 23)), "X", "Y", "MT"]
    assert sum(v for k, v in GRCH37_LENGTHS.items() if k != "MT") == 3_095_677_412
    assert sum(v for k, v in GRCH38_LENGTHS.items() if k != "MT") == 3_088_269_832


@pytest.mark.parametrize("lengths, build, expected", [
    ({"22": 51_304_566}, "GRCh38", "22 is 51,304,566 nt here, 50,818,468 in GRCh38"),  # longer
    ({"chr22": 50_818_468}, "GRCh37", "chr22 is 50,818,468 nt here, 51,304,566 in GRCh37"),  # the other build's
    ({"chr1": 1_000, "chrX": 156_040_895}, "GRCh37", "chrX is 156,040,895 nt here, 155,270,560 in GRCh37"),
    ({"chrM": 16_571}, "GRCh38", "chrM is 16,571 nt here, 16,569 in GRCh38"),  # hg19's chrM
    ({"chrM": 16_571, "MT": 16_569}, "GRCh37", None),  # hg19's chrM and the rCRS are both GRCh37's
    ({"22": 21_000_000, "chr21": 46_709_983}, "GRCh38", None),  # an excerpt; a matching length
    ({"22": 50_000_000}, "GRCh37", None),  # shorter, not the other build's: may be an excerpt
    ({"2R": 21_146_708, "chrUn_gl000220": 161_802}, "GRCh37", None),  # other names: no verdict
])  # fmt: skip
def test_length_rule(lengths, build, expected):
    """(a) Longer than the named build's, or exactly the other build's length, contradicts it."""
    assert length_conflict(lengths, build) == expected


def test_build_names_in_headers(tmp_path):
    """(a)(c) Build names in ##reference/##assembly values and GTF #!genome-build lines."""
    assert build_named("file:///data/hs37d5.fa.gz") == "GRCh37"
    assert build_named("GCA_000001405.15_GRCh38_no_alt_analysis_set.fna") == "GRCh38"
    assert build_named("hg19 lifted to hg38") is None and build_named("dm6") is None and build_named("b370") is None
    gtf = tmp_path / "genes.gtf"
    gtf.write_text("#!genome-build GRCh38.p14\n#!genome-version GRCh38\n"
                   "22\tx\texon\t1\t10\t.\t+\t.\ttranscript_id \"t\";\n")
    assert annotation_build(gtf) == ("GRCh38", f"the #!genome-build line of {gtf} (GRCh38.p14)")
    assert annotation_build("grch37") == ("GRCh37", "annotation grch37")
    assert annotation_build(FLY_GTF) == (None, "")


def test_vcf_facts_and_contig_rule(tmp_path):
    """(c) ##reference, ##contig lengths and the first positions are read; a stream is not."""
    vcf = _vcf(tmp_path / "a.vcf", "##reference=GRCh37\n##contig=<ID=22,length=20000000>\n")
    facts = read_vcf_facts(vcf)
    assert (facts.build, facts.build_line, facts.contigs, facts.positions) == \
        ("GRCh37", "##reference=GRCh37", {"22": 20_000_000}, [("22", 20_105_100)])
    assert read_vcf_facts("-") is None and read_vcf_facts("/dev/stdin") is None
    assert contig_conflict({"22": 21_000_000}, {"chr22": 20_000_000}) == "22 is 21,000,000 nt here, 20,000,000 there"
    assert contig_conflict({"22": 21_000_000}, {"22": 51_304_566}) is None  # the FASTA may be an excerpt


# ---------------------------------------------------------------------------- (b) content
def test_mismatched_annotation_and_reference_is_refused(placed, tables):
    """(b) The README scenario: GRCh38 genes on the GRCh37 block; their introns do not read GT-AG."""
    with pytest.raises(NucleoforgeError) as err:
        check_build(placed, "grch38", genes=tables["grch38"])
    assert str(err.value) == (f"annotation grch38 on reference {placed}: 1 of 191 annotated introns of genes sampled "
                              f"across the reference have GT-AG at their ends in the reference: annotation and "
                              f"reference do not match {HINT}")


def test_override_logs_one_warning(placed, tables, caplog):
    """(b) --allow-build-mismatch: no error, one warning naming the evidence."""
    with caplog.at_level(logging.WARNING, logger="nucleoforge.io.builds"):
        report = check_build(placed, "grch38", genes=tables["grch38"], allow=True, action="serve")
    assert len(report.problems) == 1 and (report.introns.gtag, report.introns.judged) == (1, 191)
    assert [r.getMessage() for r in caplog.records] == [
        f"--allow-build-mismatch: going on despite a build mismatch: {report.problems[0]}"]
    assert "to serve anyway" not in report.problems[0]


def test_matching_pair_passes(placed, tables, caplog):
    """(b) GRCh37 genes on the GRCh37 block: nearly all introns in the block read GT-AG."""
    with caplog.at_level(logging.WARNING):
        report = check_build(placed, "grch37", genes=tables["grch37"], positions=[("chr22", 20_105_100)])
    assert report.problems == [] and caplog.records == []
    assert (report.introns.gtag, report.introns.judged) == (128, 134)


def test_another_species_passes():
    """(b) The fly dm3 chr2R excerpt and its GTF: every judged intron is GT-AG (no false alarm)."""
    report = check_build(FLY_FA, FLY_GTF)
    assert report.problems == []
    assert (report.introns.gtag, report.introns.judged, report.introns.from_run) == (213, 213, 0)


def test_fly_genes_on_a_shifted_reference_are_refused(tmp_path):
    """(b) The same GTF on the same sequence shifted by 1 kb (an off-by-a-block reference) is refused."""
    from nucleoforge.io.genome import Genome

    with Genome(FLY_FA) as genome:
        seq = genome.fetch("chr2R", 1_000, genome.length("chr2R"))
    shifted = tmp_path / "shifted.fa"
    shifted.write_text(">chr2R\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    pattern = (r"^annotation .*dm3_chr2R_2-5M.gtf.gz on reference .*shifted.fa: \d of 2\d\d annotated introns of "
               r"genes sampled across the reference")
    with pytest.raises(NucleoforgeError, match=pattern):
        check_build(shifted, FLY_GTF)


def test_too_few_introns_give_no_verdict(tmp_path):
    """(b) Fewer than 20 judged introns (N bases, outside the FASTA): no verdict."""
    fa = tmp_path / "g.fa"
    fa.write_text(">1\n" + "ACGT" * 250 + "\n")
    table = tmp_path / "genes.txt"
    rows = "".join(f"G{i}\t1\t+\t0\t{900 + i}\t0,{500 + i},\t{100 + i},{900 + i},\n" for i in range(15))
    rows += "FAR\t1\t+\t2000\t5000\t2000,4000,\t2100,5000,\n"  # outside the FASTA
    table.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n" + rows)
    report = check_build(fa, table)
    assert report.problems == [] and (report.introns.judged, report.introns.gtag) == (15, 0)


# ---------------------------------------------------------------------------- (a)(c) through check_build
def test_vcf_contig_length_contradicts_the_reference(placed, tables, tmp_path):
    """(c) The VCF's ##contig says 22 is 20,000,000 nt; the FASTA's is longer."""
    vcf = _vcf(tmp_path / "short.vcf", "##contig=<ID=22,length=20000000>\n")
    with pytest.raises(NucleoforgeError) as err:
        check_build(placed, "grch37", genes=tables["grch37"], vcf=vcf)
    assert str(err.value) == (f"reference {placed}: 22 is 21,000,000 nt here, 20,000,000 there, in the ##contig line "
                              f"of {vcf} {HINT}")


def test_builds_named_by_the_vcf(tmp_path):
    """(a)(c) A hg19 chrM (16,571 nt) against GRCh38 named by ##reference, and by ##contig lengths."""
    mt = tmp_path / "chrM.fa"
    mt.write_text(">chrM\n" + "ACGT" * 4142 + "ACG\n")  # 16,571 nt
    table = tmp_path / "none.txt"
    table.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n")
    named = _vcf(tmp_path / "ref.vcf", "##reference=GRCh38\n", "chrM\t100\t.\tA\tG\t.\t.\t.\n")
    with pytest.raises(NucleoforgeError) as err:
        check_build(mt, table, vcf=named)
    assert str(err.value) == (f"reference {mt}: chrM is 16,571 nt here, 16,569 in GRCh38, named by the ##reference "
                              f"line of {named} {HINT}")
    by_contigs = _vcf(tmp_path / "contigs.vcf", "##contig=<ID=chr1,length=248956422>\n",
                      "chrM\t100\t.\tA\tG\t.\t.\t.\n")
    with pytest.raises(NucleoforgeError, match="16,569 in GRCh38, named by the ##contig lengths of"):
        check_build(mt, table, vcf=by_contigs)
    assert check_build(mt, table, vcf=_vcf(tmp_path / "b37.vcf", "##reference=hs37d5.fa\n")).problems == []
