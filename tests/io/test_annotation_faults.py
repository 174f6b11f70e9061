"""GTF/GFF3 faults that used to give a silently wrong gene table (issue 21): each is now an error
naming file:line or a counted warning on ``GeneTable.warnings``.

The files are cut from the bundled fly GTF (dm3 chr2R, AUGUSTUS tutorial genes) and from real
gene structures of the ``grch37`` table of the ``spliceai`` wheel; each test changes one thing.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import Gene, GeneTable

FLY_GTF = Path(__file__).resolve().parents[2] / "examples" / "data" / "dm3_chr2R_2-5M.gtf.gz"


@pytest.fixture(scope="module")
def fly() -> list[str]:
    """The fly GTF's lines (line 1 is a comment; one transcript per gene)."""
    assert FLY_GTF.exists(), f"bundled test data missing: {FLY_GTF} (copy it from /work/shared/data/genome/)"
    with gzip.open(FLY_GTF, "rt") as fh:
        return fh.read().splitlines(keepends=True)


def _first(lines: list[str], n: int) -> list[str]:
    """The comment line and the lines of the first ``n`` transcripts."""
    starts = [i for i, ln in enumerate(lines) if "\ttranscript\t" in ln]
    return lines[: starts[n]] if n < len(starts) else lines


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines))
    return path


def _line(lines: list[str], tid: str, feature: str = "exon") -> int:
    """1-based number of the first ``feature`` line of ``tid``."""
    return next(i for i, ln in enumerate(lines, 1) if f'transcript_id "{tid}"' in ln and f"\t{feature}\t" in ln)


def _strand(line: str, strand: str) -> str:
    cols = line.split("\t")
    cols[6] = strand
    return "\t".join(cols)


def _fields(genes) -> list[tuple]:
    return [(g.name, g.chrom, g.strand, g.tx_start, g.tx_end, g.exon_starts, g.exon_ends) for g in genes]


# -- item 3: a transcript without a strand ------------------------------------------------------


def test_gtf_transcripts_without_strand_are_skipped_and_counted(tmp_path, fly, caplog):
    """Item 3: strand '.'/'?' used to be read forward with minus-strand acceptor/donor labels."""
    lines = _first(fly, 10)
    clean = GeneTable.load(_write(tmp_path / "clean.gtf", lines))
    edited = [_strand(ln, ".") if '"aug40.t1"' in ln else _strand(ln, "?") if '"aug3688.t1"' in ln else ln
              for ln in lines]
    path = _write(tmp_path / "nostrand.gtf", edited)
    with caplog.at_level(logging.WARNING, logger="nucleoforge.io.annotation"):
        table = GeneTable.load(path)
    assert _fields(table) == _fields(g for g in clean if g.name not in ("aug40", "aug3688"))
    assert len(table) == 8 and all(g.strand in "+-" for g in table)
    assert table.warning_counts == {"no_strand": 2}
    expected = f"{path}: 2 transcripts without a strand ('.' or '?'): skipped; first: aug40.t1 at {path}:10"
    assert [str(w) for w in table.warnings] == [expected]
    assert caplog.messages == [expected]
    every = GeneTable.load(path, transcripts="all")  # the same rule for every transcript
    assert [g.transcript_id for g in every] == [g.transcript_id for g in table] and every.warning_counts == {"no_strand": 2}

    only = _write(tmp_path / "only.gtf", lines[:1] + [_strand(ln, ".") for ln in lines[1:8]])  # aug38.t1 only, unstranded
    with pytest.raises(NucleoforgeError) as err:
        GeneTable.load(only)
    assert str(err.value) == (f"{only}: no usable transcript; 1 transcript without a strand ('.' or '?'): skipped; "
                              f"first: aug38.t1 at {only}:3")


# -- item 4: one transcript_id at two places ----------------------------------------------------


def test_gtf_transcript_id_reused_on_the_other_strand_gives_two_transcripts(tmp_path, fly):
    """Item 4: aug3801.t1 (minus strand, 389 kb downstream) renamed aug118.t1 used to be merged
    into aug118.t1 as one 389,554-nt transcript."""
    lines = _first(fly, 17)
    clean = GeneTable.load(_write(tmp_path / "clean.gtf", lines), transcripts="all")
    reused = [ln.replace('transcript_id "aug3801.t1"', 'transcript_id "aug118.t1"') for ln in lines]
    path = _write(tmp_path / "reused.gtf", reused)
    every = GeneTable.load(path, transcripts="all")
    ids = [g.transcript_id for g in clean]
    assert [g.transcript_id for g in every] == [t.replace("aug3801.t1", "aug118.t1") for t in ids]
    by_id = {g.transcript_id: g for g in clean}
    first, second = [g for g in every if g.transcript_id == "aug118.t1"]
    assert _fields([first]) == _fields([by_id["aug118.t1"]])
    assert (second.name, second.chrom, second.strand, second.tx_start, second.tx_end) == (
        "aug118.t1", "chr2R", "-", 2521281, 2523492)
    assert (second.exon_starts, second.exon_ends) == (by_id["aug3801.t1"].exon_starts, by_id["aug3801.t1"].exon_ends)
    assert max(g.tx_end - g.tx_start for g in every) < 120_000  # no merged transcript spanning both
    # the two stay apart for look-ups by position (what scoring and splice-data use)
    assert [every[i].strand for i in every.overlapping("chr2R", 2_522_000)] == ["-"]
    assert [every[i].strand for i in every.overlapping("chr2R", 2_134_000)] == ["+"]
    assert (_line(lines, "aug118.t1"), _line(lines, "aug3801.t1")) == (97, 147)  # first exon lines
    assert [str(w) for w in every.warnings] == [
        f"{path}: 1 transcript ID used at more than one place (chromosome, strand): one transcript per place; "
        f"first: aug118.t1 at chr2R:+ ({path}:97) and chr2R:- ({path}:147)"]
    canonical = GeneTable.load(path)  # gene IDs differ: both genes keep their own transcript
    assert [(g.name, g.transcript_id, g.strand) for g in canonical if g.name in ("aug118", "aug3801")] == [
        ("aug118", "aug118.t1", "+"), ("aug3801", "aug118.t1", "-")]
    assert canonical.warning_counts == {"reused_transcript_id": 1}


def _gtf_rows(gene: Gene, chrom: str, shift: int, tid: str) -> list[str]:
    """GTF exon lines of a table gene moved by ``shift`` to ``chrom``."""
    attrs = f'gene_id "{gene.name}"; gene_name "{gene.name}"; transcript_id "{tid}";\n'
    return [f"{chrom}\ttable\texon\t{s + 1 + shift}\t{e + shift}\t.\t{gene.strand}\t.\t{attrs}"
            for s, e in zip(gene.exon_starts, gene.exon_ends)]


def test_pseudoautosomal_gene_on_x_and_y_gives_one_entry_per_chromosome(tmp_path):
    """Items 4 and extra 'gene ID at two places': SHOX (grch37, PAR1) written on X and at its
    GRCh37 PAR1 copy on Y (50 kb lower), one gene_id and transcript_id as RefSeq-style GTFs do.
    Main merged the Y exons into the X transcript."""
    table = GeneTable.load("grch37")
    shox = next(g for g in table if g.name == "SHOX")
    path = _write(tmp_path / "par.gtf", _gtf_rows(shox, "X", 0, "SHOX.1") + _gtf_rows(shox, "Y", -50_000, "SHOX.1"))
    genes = GeneTable.load(path)
    assert _fields(genes) == [
        ("SHOX", "X", "+", 585078, 607558, shox.exon_starts, shox.exon_ends),
        ("SHOX", "Y", "+", 535078, 557558,
         tuple(s - 50_000 for s in shox.exon_starts), tuple(e - 50_000 for e in shox.exon_ends)),
    ]
    assert genes.overlapping("chrY", 535_079) == [1] and genes.overlapping("chrX", 535_079) == []
    assert [str(w) for w in genes.warnings] == [
        f"{path}: 1 transcript ID used at more than one place (chromosome, strand): one transcript per place; "
        f"first: SHOX.1 at X:+ ({path}:1) and Y:+ ({path}:7)",
        f"{path}: 1 gene ID at more than one place (chromosome, strand): one entry per place; "
        f"first: SHOX at X:+ ({path}:1) and Y:+ ({path}:7)",
    ]


# -- item 5: GFF3 exons whose Parent is never defined -----------------------------------------


def _gff3(gtf_lines: list[str]) -> list[str]:
    """gene -> mRNA -> exon GFF3 lines for the GTF's transcripts (one per gene)."""
    out = ["##gff-version 3\n"]
    for ln in gtf_lines:
        if ln.startswith("#"):
            continue
        cols = ln.rstrip("\n").split("\t")
        gid, tid = cols[8].split('"')[1], cols[8].split('"')[3]
        if cols[2] == "transcript":
            out.append("\t".join(cols[:2] + ["gene"] + cols[3:8] + [f"ID={gid};Name={gid}"]) + "\n")
            out.append("\t".join(cols[:2] + ["mRNA"] + cols[3:8] + [f"ID={tid};Parent={gid}"]) + "\n")
        elif cols[2] == "exon":
            out.append("\t".join(cols[:8] + [f"Parent={tid}"]) + "\n")
    return out


def test_gff3_exons_with_undefined_parent_are_dropped_and_counted(tmp_path, fly):
    """Item 5: 50 genes plus exons whose Parent no line defines gave 51 genes; now 50 and a warning."""
    lines = _first(fly, 50)
    gtf = GeneTable.load(_write(tmp_path / "fly.gtf", lines))
    gff = _gff3(lines)
    orphan = [ln.replace("Parent=aug46.t1", "Parent=aug46.t2") for ln in gff if "Parent=aug46.t1" in ln and "\texon\t" in ln]
    assert len(orphan) == 2
    at = gff.index(next(ln for ln in gff if "ID=aug47;" in ln))  # right after aug46's lines
    path = _write(tmp_path / "orphans.gff3", gff[:at] + orphan + gff[at:])
    table = GeneTable.load(path)
    assert len(gtf) == 50 and len(table) == 50
    assert _fields(table) == _fields(gtf)
    assert [str(w) for w in table.warnings] == [
        f"{path}: 2 exons whose Parent is never defined: dropped; first: Parent=aug46.t2 at {path}:{at + 1}"]

    # a Parent defined further down the file is not an orphan
    moved = gff[:1] + gff[3:6] + gff[1:3] + gff[6:]  # aug38's mRNA/gene lines after its exons
    assert _fields(GeneTable.load(_write(tmp_path / "forward.gff3", moved))) == _fields(gtf)

    only = _write(tmp_path / "only.gff3", ["##gff-version 3\n"] + orphan)
    with pytest.raises(NucleoforgeError) as err:
        GeneTable.load(only)
    assert str(err.value) == (f"{only}: no usable transcript; 2 exons whose Parent is never defined: dropped; "
                              f"first: Parent=aug46.t2 at {only}:2")


# -- extra cases --------------------------------------------------------------------------------


def test_malformed_exon_lines_name_file_and_line(tmp_path, fly):
    """Extra 1: an exon ending before it starts (main: a negative-length exon and bogus introns),
    coordinates that are not integers (main: a bare int() error without the file), an unknown strand."""
    lines = _first(fly, 3)  # exon lines 3-5 are aug38.t1's
    cases = [
        (lines[3].replace("\t2025494\t2025770\t", "\t2025770\t2025494\t"), "4: end 2025494 is before start 2025770"),
        (lines[3].replace("\t2025494\t", "\t2,025,494\t"), "4: start/end are not integers: '2,025,494', '2025770'"),
        (lines[3].replace("\t2025494\t", "\t0\t"), "4: start 0 is below 1 (positions are 1-based)"),
        (_strand(lines[3], "x"), "4: strand must be +, -, . or ?, got 'x'"),
    ]
    for bad, message in cases:
        path = _write(tmp_path / "bad.gtf", lines[:3] + [bad] + lines[4:])
        with pytest.raises(NucleoforgeError) as err:
            GeneTable.load(path)
        assert str(err.value) == f"{path}:{message}"
    gff = _gff3(lines)  # line 5 is aug38.t1's second exon
    gff[4] = gff[4].replace("\t2025494\t2025770\t", "\t2025770\t2025494\t")
    path = _write(tmp_path / "bad.gff3", gff)
    with pytest.raises(NucleoforgeError) as err:
        GeneTable.load(path)
    assert str(err.value) == f"{path}:5: end 2025494 is before start 2025770"


def test_byte_order_mark_and_crlf_are_read_like_a_plain_gtf(tmp_path, fly):
    """Extra 2: a UTF-8 BOM (Windows editors) made main read the first chromosome as
    '\\ufeffchr2R', so no variant on chr2R found that gene; with the comment line first, main refused
    the file with an unrelated column-count error."""
    lines = _first(fly, 12)
    clean = GeneTable.load(_write(tmp_path / "clean.gtf", lines))
    exons_first = [ln for ln in lines[1:] if "\ttranscript\t" not in ln]  # a GTF of exon (and CDS) lines
    for name, body in (("bom.gtf", exons_first), ("bom_comment.gtf", lines)):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + "".join(body).replace("\n", "\r\n").encode())
        table = GeneTable.load(path)
        assert _fields(table) == _fields(clean) and table.chroms == ["chr2R"] and table.warnings == ()
        assert table.overlapping("chr2R", 2_024_932) == [0]
    gz = tmp_path / "bom.gtf.gz"
    gz.write_bytes(gzip.compress(b"\xef\xbb\xbf" + "".join(exons_first).encode()))
    assert _fields(GeneTable.load(gz)) == _fields(clean)


def test_transcript_with_overlapping_exons_is_skipped_and_counted(tmp_path, fly):
    """Extra 3: a duplicated (or overlapping) exon line gave main a negative-length 'intron' and
    splice sites inside an exon."""
    lines = _first(fly, 6)
    clean = GeneTable.load(_write(tmp_path / "clean.gtf", lines))
    i = _line(lines, "aug3688.t1") + 2  # 0-based index of its 4th exon line (line 28: 2073189-2073352)
    # line 29: starts inside the 3rd exon (line 27: 2072785-2073123)
    overlapping = lines[i].replace("\t2073189\t", "\t2073100\t")
    path = _write(tmp_path / "overlap.gtf", lines[: i + 1] + [overlapping] + lines[i + 1 :])
    table = GeneTable.load(path)
    assert [g.name for g in table] == [g.name for g in clean if g.name != "aug3688"]
    assert [str(w) for w in table.warnings] == [
        f"{path}: 1 transcript with overlapping or touching exons: skipped; first: aug3688.t1 at {path}:27 and {path}:29"]
    duplicated = _write(tmp_path / "dup.gtf", lines[: i + 1] + [lines[i]] + lines[i + 1 :])
    assert GeneTable.load(duplicated, transcripts="all").warning_counts == {"overlapping_exons": 1}


def test_gene_name_shared_by_two_gene_ids_keeps_both_genes(tmp_path, fly):
    """Extra 4: main picked one transcript per gene *name*, so two loci sharing a name (Ensembl
    names RNA families this way, e.g. hundreds of 'U6' genes) kept only the longest."""
    lines = _first(fly, 4)
    named = [ln.replace('gene_id "aug40";', 'gene_id "aug40"; gene_name "U6";')
             .replace('gene_id "aug41";', 'gene_id "aug41"; gene_name "U6";') for ln in lines]
    table = GeneTable.load(_write(tmp_path / "names.gtf", named))
    assert [(g.name, g.transcript_id, g.tx_start) for g in table] == [
        ("aug38", "aug38.t1", 2024931), ("U6", "aug40.t1", 2061220), ("U6", "aug41.t1", 2067242),
        ("aug3686", "aug3686.t1", 2068488)]
    assert table.warnings == ()


def test_gtf_without_exon_lines_is_an_error(tmp_path, fly):
    """Extra 5: a GTF with CDS lines only (no 'exon' lines) gave main an empty table, so every
    variant was silently 'outside any gene'."""
    lines = [ln for ln in _first(fly, 5) if "\texon\t" not in ln]
    path = _write(tmp_path / "cds.gtf", lines)
    with pytest.raises(NucleoforgeError) as err:
        GeneTable.load(path)
    assert str(err.value) == (f"{path}: no 'exon' lines (feature types found: CDS, transcript); "
                              "transcripts are built from exon lines")
