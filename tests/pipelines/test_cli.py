"""Every pipeline command on the bundled real data (chr22 block, dbSNP, tRNAs, TF peaks)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nucleoforge.io.stockholm import read_stockholm
from tests.cli.runner import assert_user_error, invoke
from tests.conftest import CHR22, DATA


def _run(*args: object) -> str:
    result = invoke(list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_fill_mask_prints_a_table(model_dir, chr22_block):
    seq = chr22_block[5_000:5_040]
    out = _run("fill-mask", "--model", model_dir("splicebert"), seq[:20] + "<mask>" + seq[21:], "--device", "cpu")
    assert "position" in out and "prediction" in out
    row = next(line for line in out.splitlines() if "seq1" in line)
    probs = [float(x) for x in row.replace("│", " ").split()[2:6]]
    assert row.split("│")[2].strip() == "21" and sum(probs) == pytest.approx(1.0, abs=2e-4)


def test_fill_mask_kmer_model_on_trnas_writes_tsv(model_dir, trnas, tmp_path):
    fasta = tmp_path / "masked.fa"
    fasta.write_text("".join(f">{n}\n{s[:30]}<mask>{s[31:]}\n" for n, s in trnas[:5]))
    _run("fill-mask", "--model", model_dir("utrbert", 4, 66), "--input", fasta, "--output", tmp_path / "fm.tsv", "--device", "cpu")
    lines = (tmp_path / "fm.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["name", "position", "A", "C", "G", "U", "prediction", "score"]
    assert [line.split("\t")[:2] for line in lines[1:]] == [[n, "31"] for n, _ in trnas[:5]]
    assert all(sum(map(float, line.split("\t")[2:6])) == pytest.approx(1.0, abs=1e-5) for line in lines[1:])


@pytest.mark.parametrize("fmt", ["npz", "parquet"])
def test_embed_tf_peaks(model_dir, tmp_path, fmt):
    from transformers import pipeline

    out = tmp_path / f"peaks.{fmt}"
    _run("embed", "--model", model_dir("splicebert"), "--input", DATA / "oct4_peaks_test.fa", "--output", out,
         "--pool", "none", "--batch-size", "16", "--device", "cpu", "--no-progress")
    first_name, first_seq = next(iter(_peaks()))
    expected = pipeline("nucleotide-embedding", model=str(model_dir("splicebert")), device="cpu")(first_seq, pool="none")["embedding"]
    if fmt == "npz":
        data = np.load(out)
        assert len(data.files) == 100 and data.files[0] == first_name
        assert all(data[f].shape == (200, 32) for f in data.files[:5])
        np.testing.assert_allclose(data[first_name], expected, atol=2e-5)
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(out)
        assert table.num_rows == 100 and table.column("length").to_pylist()[:3] == [200, 200, 200]
        np.testing.assert_allclose(np.array(table.column("embedding")[0].as_py(), dtype=np.float32), expected, atol=2e-5)


def _peaks():
    from nucleoforge.io.fasta import read_fasta

    return ((r.name, r.sequence) for r in read_fasta(DATA / "oct4_peaks_test.fa"))


def test_embed_trna_stockholm_mean_pooled(model_dir, tmp_path, trnas):
    sto = tmp_path / "few.sto"
    records = list(itertools.islice(read_stockholm(DATA / "tRNA1415G.sto.gz"), 8))  # the first real tRNAs
    rows = [f"{r.name} {r.aligned}\n#=GR {r.name} SS {r.aligned_structure}\n" for r in records]
    sto.write_text("# STOCKHOLM 1.0\n" + "".join(rows) + "//\n")
    n = sum(1 for _ in read_stockholm(sto))
    _run("embed", "--model", model_dir("utrbert", 3, 66), "--input", sto, "--output", tmp_path / "t.npz", "--device", "cpu",
         "--no-progress")
    data = np.load(tmp_path / "t.npz")
    assert n > 5 and len(data.files) == n and data[data.files[0]].shape == (32,)
    assert data.files[0] == trnas[0][0]


@pytest.fixture(scope="module")
def reference_and_vcf(tmp_path_factory, chr22_block):
    """A chr22 reference at real coordinates and a VCF of real dbSNP SNVs (+ a wrong REF, an indel)."""
    from nucleoforge.io.genome import place_subsequence_records
    from nucleoforge.io.vcf import Variant, read_hisat2_snps, write_vcf

    root = tmp_path_factory.mktemp("ve")
    ref = root / "chr22.fa"
    lengths = place_subsequence_records(CHR22, ref)
    variants = list(itertools.islice(read_hisat2_snps(DATA / "GRCh37_chr22_20000001-21000000.dbsnp.txt.gz",
                                                      {"22:20000001-21000000": chr22_block}), 40))
    snvs = [v for v in variants if len(v.ref) == len(v.alt) == 1][:12]
    indel = next(v for v in variants if len(v.ref) != len(v.alt))
    wrong = snvs[3]._replace(id="wrong", ref="ACGT".replace(snvs[3].ref, "")[0])
    wrong = wrong._replace(alt=snvs[3].ref)
    records = sorted(snvs + [indel, wrong], key=lambda v: v.pos)
    vcf = root / "in.vcf"
    with open(vcf, "w") as fh:
        write_vcf(records, fh, contigs=lengths)
    return ref, vcf, snvs


def test_variant_effect_streams_skips_and_resumes(model_dir, tmp_path, reference_and_vcf, caplog):
    ref, vcf, snvs = reference_and_vcf
    out = tmp_path / "out.tsv"
    args = ["variant-effect", "--model", model_dir("splicebert"), "-I", vcf, "-R", ref, "-O", out, "--flank", "20",
            "--device", "cpu", "--no-progress"]
    with caplog.at_level("WARNING"):
        text = _run(*args)
    assert "scored 12 variants" in text and "1 not snv" in text and "1 ref mismatch" in text
    assert any("REF does not match the reference base" in r.message for r in caplog.records)
    lines = out.read_text().splitlines()
    assert lines[0] == "#chrom\tpos\tid\tref\talt\tkl_sum\tkl_max\tllr\tp_ref\tp_alt\tn_flank"
    assert [tuple(line.split("\t")[:5]) for line in lines[1:]] == [(v.chrom, str(v.pos), v.id, v.ref, v.alt) for v in sorted(snvs, key=lambda v: v.pos)]
    assert all(float(line.split("\t")[5]) > 0 and line.split("\t")[10] == "40" for line in lines[1:])
    full = out.read_text()
    # interrupted run: 5 complete rows and half a line; resuming scores only the rest
    out.write_text("\n".join(lines[:6]) + "\n" + lines[6][:15])
    text = _run(*args, "--resume")  # variant-effect resumes only when asked
    assert "scored 7 variants" in text and "5 resumed" in text
    assert out.read_text() == full


def test_variant_effect_kmer_model(model_dir, tmp_path, reference_and_vcf):
    ref, vcf, snvs = reference_and_vcf
    out = tmp_path / "k.tsv"
    _run("variant-effect", "--model", model_dir("utrbert", 5, 66), "-I", vcf, "-R", ref, "-O", out, "--device", "cpu",
         "--no-progress")
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    assert len(rows) == 12 and all(int(r[10]) == 67 for r in rows)  # window of 68 nt, flank capped by it
    assert all(np.isfinite(float(r[7])) for r in rows)


def test_attention_plot(model_dir, trnas, tmp_path):
    name, seq = trnas[7]
    png, tsv = tmp_path / "att.png", tmp_path / "att.tsv"
    out = _run("attention", seq, "--model", model_dir("utrbert", 3, 130), "--plot", png, "--output", tsv, "--layer", "1",
               "--head", "2", "--device", "cpu")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = tsv.read_text().splitlines()[1:]
    assert len(rows) == len(seq) and "".join(r.split("\t")[1] for r in rows) == seq
    assert "layer 1, head 2" in out and f"{len(seq)}x{len(seq)} map" in out


def test_embed_no_sequences_to_parquet_is_a_readable_empty_table(model_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    empty = tmp_path / "empty.fa"
    empty.write_text("")
    out = tmp_path / "none.parquet"
    text = _run("embed", "--model", model_dir("splicebert"), "--input", empty, "--output", out, "--device", "cpu",
                "--no-progress")
    assert "wrote 0 embeddings" in text
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert table.schema.names == ["name", "length", "embedding"]
    assert table.schema.field("name").type == pa.string() and table.schema.field("length").type == pa.int32()
    assert table.schema.field("embedding").type == pa.list_(pa.float32())


def test_attention_checks_its_outputs_before_loading_the_model(tmp_path):
    """A bad --output/--plot is refused (exit 2, one line) before the missing model is looked at."""
    missing_model = tmp_path / "no_model"
    for option in ("--output", "--plot"):
        result = invoke(["attention", "ACGTACGT", "--model", missing_model, option, tmp_path / "nodir" / "x"])
        assert assert_user_error(result) == (f"error: {option} {tmp_path}/nodir/x: the directory {tmp_path}/nodir "
                                             "does not exist")
    result = invoke(["attention", "ACGTACGT", "--model", missing_model, "--output", tmp_path, "--plot", tmp_path / "a.png"])
    assert assert_user_error(result) == f"error: --output {tmp_path} is a directory; give a file name"
