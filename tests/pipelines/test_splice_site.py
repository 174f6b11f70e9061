"""splice-site pipeline, TSV/bedGraph/plot writers, evaluation metrics, the SpliceAI CLI commands."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from nucleoforge.alphabet import reverse_complement
from nucleoforge.io.annotation import GeneTable
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.splicing.evaluation import average_precision, gene_labels, select_genes, topk_accuracy
from nucleoforge.pipelines.splice_predict import predict_sequence
from nucleoforge.io.tables import write_bedgraph
from nucleoforge.io.tables import write_splice_tsv as write_tsv
from nucleoforge.pipelines.splice_site import SpliceSitePipeline
from nucleoforge.splicing.plots import plot_tracks


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SpliceAIModel(SpliceAIConfig(stages=[(1, 5, 2), (1, 3, 3)], channels=8, num_members=2)).eval()


@pytest.fixture(scope="module")
def pipe(model):
    return SpliceSitePipeline(model=model, device="cpu")


def test_pipeline_registered_and_matches_predict_sequence(model, pipe, real_sequences):
    from transformers import pipeline

    seq = real_sequences[0]
    pred = pipeline("splice-site", model=model, device="cpu")(seq)
    probs = predict_sequence(model, seq)
    np.testing.assert_array_equal(pred.acceptor, probs[:, 1])
    np.testing.assert_array_equal(pred.donor, probs[:, 2])
    assert pred.positions.tolist() == list(range(1, len(seq) + 1))
    assert pred.acceptor.max() > 0.05 or pred.donor.max() > 0.05  # not a flat output


def test_minus_strand_is_reverse_complement_flipped(pipe, real_sequences):
    seq = real_sequences[2]
    minus = pipe(seq, strand="-")
    rc = pipe(reverse_complement(seq))
    np.testing.assert_allclose(minus.acceptor, rc.acceptor[::-1], atol=1e-6)
    np.testing.assert_allclose(minus.donor, rc.donor[::-1], atol=1e-6)
    assert not np.allclose(minus.acceptor, pipe(seq).acceptor, atol=1e-3)


def test_context_min_score_and_lists(pipe, real_sequences):
    seq = real_sequences[0]
    full = pipe(seq)
    inner = pipe({"sequence": seq, "name": "r", "chrom": "22", "start": 1000, "context": (5, 7)}, min_score=0.0)
    np.testing.assert_array_equal(inner.acceptor, full.acceptor[5 : len(seq) - 7])
    assert inner.positions[0] == 1001 and len(inner.acceptor) == len(seq) - 12
    threshold = float(np.sort(np.r_[inner.acceptor, inner.donor])[-3])
    sites = pipe({"sequence": seq, "context": (5, 7), "start": 1000}, min_score=threshold).sites
    assert len(sites) == 3 and all(s["score"] >= threshold for s in sites)
    assert all(s["type"] in ("acceptor", "donor") and 1001 <= s["position"] <= 1000 + len(seq) - 12 for s in sites)
    many = pipe([real_sequences[1], {"sequence": real_sequences[3], "strand": "-"}])
    assert [len(p.acceptor) for p in many] == [len(real_sequences[1]), len(real_sequences[3])] and many[1].strand == "-"
    with pytest.raises(ValueError, match="strand must be"):
        pipe(seq, strand="x")
    with pytest.raises(ValueError, match="leaves no position"):
        pipe({"sequence": "ACGT", "context": (2, 2)})


def test_writers(pipe, real_sequences, tmp_path):
    pred = pipe({"sequence": real_sequences[0], "name": "s1", "chrom": "chr22", "start": 99})
    buf = io.StringIO()
    assert write_tsv(pred, buf) == len(real_sequences[0])
    lines = buf.getvalue().splitlines()
    assert lines[0] == "name\tposition\tacceptor\tdonor"
    assert lines[1] == f"s1\t100\t{pred.acceptor[0]:.4f}\t{pred.donor[0]:.4f}"
    buf = io.StringIO()
    n = write_tsv(pred, buf, min_score=0.05, header=False)
    assert n == int(((pred.acceptor >= 0.05) | (pred.donor >= 0.05)).sum())
    acc, don = write_bedgraph(pred, tmp_path / "t")
    rows = open(acc).read().splitlines()
    assert rows[0].startswith("track type=bedGraph")
    chrom, start, end, value = rows[1].split("\t")
    first = int(np.flatnonzero(pred.acceptor >= 1e-4)[0])
    assert (chrom, int(start), int(end), value) == ("chr22", 99 + first, 100 + first, f"{pred.acceptor[first]:.4f}")
    genes = GeneTable.read(io.StringIO(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nG\t22\t+\t105\t140\t105,130,\t115,140,\n"))
    plot_tracks(pred, tmp_path / "p.png", genes=genes)
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_against_sklearn():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.02
    s = np.round(rng.random(2000) * 0.5 + y * rng.random(2000) * 0.6, 2)  # rounded: ties
    assert average_precision(y, s) == pytest.approx(sklearn.average_precision_score(y, s), abs=1e-12)
    k = int(y.sum())
    top = np.argsort(-s, kind="stable")[:k]
    assert topk_accuracy(y, s) == pytest.approx(y[top].mean())
    assert topk_accuracy(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.1, 0.0])) == 0.5
    assert topk_accuracy(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.1, 0.0]), factor=2) == 1.0
    assert np.isnan(topk_accuracy(np.zeros(3), np.ones(3)))


def test_gene_labels_and_selection():
    t = GeneTable.read(io.StringIO(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
        "P\t1\t+\t10\t40\t10,30,\t20,40,\n"
        "M\t1\t-\t50\t90\t50,70,\t60,90,\n"))
    y = gene_labels(t, 0)
    assert np.flatnonzero(y == 2).tolist() == [9] and np.flatnonzero(y == 1).tolist() == [20]
    y = gene_labels(t, 1)  # minus strand: acceptor at the upstream exon's last base
    assert np.flatnonzero(y == 1).tolist() == [9] and np.flatnonzero(y == 2).tolist() == [20]
    assert select_genes(t, None, regions=["chr1:1-45"]) == [0]
    assert select_genes(t, None, regions=["1:1-100"], names=["M"]) == [0, 1]
    with pytest.raises(ValueError, match="genes not in"):
        select_genes(t, None, names=["Q"])


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture()
def saved_model(model, tmp_path):
    path = tmp_path / "tiny-spliceai"
    model.save_pretrained(path)
    return path


def test_cli_splice_sequence_and_region(saved_model, tmp_path, model):
    from tests.cli.runner import assert_user_error, invoke

    seq = "ACGTTAGGTAAGTCCAGGTTTAG"
    res = invoke(["splice", seq, "--model", saved_model, "-q", "--strand", "-"])
    assert res.exit_code == 0, res.output
    rows = [ln.split("\t") for ln in res.stdout.splitlines()[1:]]
    probs = predict_sequence(model, seq, strand="-")
    assert [r[1] for r in rows] == [str(i) for i in range(1, len(seq) + 1)]
    assert [r[2] for r in rows] == [f"{p:.4f}" for p in probs[:, 1]]

    fa = tmp_path / "g.fa"
    genome_seq = "".join(np.random.default_rng(3).choice(list("ACGT"), 200))
    fa.write_text(">chr5\n" + genome_seq + "\n")
    out = tmp_path / "out.tsv"
    res = invoke(["splice", "--region", "5:51-80:+", "--reference", fa, "--model", saved_model, "-q", "-o", out,
                  "--bedgraph", tmp_path / "bg"])
    assert res.exit_code == 0, res.output
    rows = [ln.split("\t") for ln in out.read_text().splitlines()[1:]]
    flank = model.config.flank
    expected = predict_sequence(model, genome_seq[50 - flank : 80 + flank])[flank:-flank]
    assert [r[1] for r in rows] == [str(i) for i in range(51, 81)]  # genomic coordinates
    assert [r[3] for r in rows] == [f"{p:.4f}" for p in expected[:, 2]]
    assert (tmp_path / "bg.donor.bedGraph").exists()
    fasta = tmp_path / "two.fa"
    fasta.write_text(">a\n" + genome_seq[:30] + "\n>b\n" + genome_seq[30:50] + "\n")
    res = invoke(["splice", "--fasta", fasta, "--model", saved_model, "-q", "--min-score", "0"])
    assert res.exit_code == 0, res.output
    rows = [ln.split("\t") for ln in res.stdout.splitlines()]
    assert rows[0] == ["name", "position", "acceptor", "donor"] and len(rows) == 51
    assert [r[0] for r in rows[1:]] == ["a"] * 30 + ["b"] * 20 and rows[31][1] == "1"
    res = invoke(["splice", "--region", "5:51-80", "--model", saved_model])
    assert assert_user_error(res) == ("error: Invalid value: --region needs --reference genome.fa "
                                      "(see 'nucleoforge splice --help')")


def test_cli_variants_and_evaluate(saved_model, tmp_path, model):
    from tests.cli.runner import invoke

    rng = np.random.default_rng(4)
    seq = "".join(rng.choice(list("ACGT"), 400))
    (tmp_path / "g.fa").write_text(">1\n" + seq + "\n")
    (tmp_path / "genes.txt").write_text(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nG\t1\t+\t50\t350\t50,200,\t120,350,\n")
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=400>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"chr1\t121\ta\t{seq[120]}\t{'A' if seq[120] != 'A' else 'G'}\t.\t.\t.\n"
                   f"chr1\t10\tb\t{seq[9]}\tT\t.\t.\t.\n")
    out = tmp_path / "out.vcf"
    res = invoke(["variants", "-I", vcf, "-O", out, "-R", tmp_path / "g.fa", "-A", tmp_path / "genes.txt", "-D", "5",
                  "--model", saved_model, "-q"])
    assert res.exit_code == 0, res.output
    body = [ln for ln in out.read_text().splitlines() if not ln.startswith("#")]
    assert body[0].split("\t")[7].startswith("SpliceAI=" + body[0].split("\t")[4] + "|G|")
    assert body[1].split("\t")[7] == "."
    assert "##INFO=<ID=SpliceAI" in out.read_text()
    res = invoke(["evaluate-splice", "-R", tmp_path / "g.fa", "-A", tmp_path / "genes.txt", "--region", "1:1-400",
                  "--model", saved_model, "-q"])
    assert res.exit_code == 0, res.output
    assert '"genes": 1' in res.stdout.splitlines()[-1] and "acceptor_pr_auc" in res.stdout


def _plot(which: str, path) -> None:
    from nucleoforge.pipelines.attention import plot_attention
    from nucleoforge.pipelines.splice_site import SpliceSitePrediction

    if which == "attention":
        plot_attention({"cls_attention": np.full(6, 1 / 6), "attention_map": np.eye(6), "head": None, "layer": 0,
                        "name": "s"}, path)
    else:
        plot_tracks(SpliceSitePrediction("s", np.linspace(0, 1, 20), np.linspace(1, 0, 20)), path)


@pytest.mark.parametrize("which", ["attention", "tracks"])
def test_plots_are_saved_through_a_temporary_file(which, tmp_path, monkeypatch):
    """A figure that fails while it is saved leaves an existing target untouched; the file type
    still follows the target's extension."""
    from matplotlib.figure import Figure

    target = tmp_path / "plot.png"
    target.write_bytes(b"precious\n")
    real = Figure.savefig

    def fails_half_way(self, fname, *args, **kwargs):
        if hasattr(fname, "write"):
            fname.write(b"\x89PNG half")
        else:
            with open(fname, "wb") as fh:
                fh.write(b"\x89PNG half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", fails_half_way)
    with pytest.raises(RuntimeError, match="disk full"):
        _plot(which, target)
    monkeypatch.setattr(Figure, "savefig", real)
    assert target.read_bytes() == b"precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]
    _plot(which, target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _plot(which, tmp_path / "plot.pdf")
    assert (tmp_path / "plot.pdf").read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.pdf", "plot.png"]
