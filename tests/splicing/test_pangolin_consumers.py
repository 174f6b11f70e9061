"""A per-tissue (Pangolin-head) model in ``splice``, ``evaluate-splice`` and ``train-splice --init``.

``splice`` writes one column and one bedGraph track per tissue (the model's probabilities);
``evaluate-splice`` scores it as a splice-site detector (positives acceptor or donor, score the
highest tissue's P(splice site)); ``train-splice --init`` copies the trunks of its members into
SpliceAI-format members whose 3-class classifier starts new. Tiny random-weight models; one test
on the real Pangolin weights (``../shared/weights/pangolin``, converted into a temporary folder).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.alphabet import one_hot
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.splicing.evaluation import SITE_SCORE, gene_labels, site_metrics
from tests.cli.runner import assert_user_error, run_main
from tests.conftest import shared_weights
from tests.splicing.conftest import write_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

TISSUES = ["heart", "liver", "brain", "testis"]
#: two members per tissue, in Pangolin's order (a tissue's replicates together)
TINY = dict(stages=[(1, 3, 1)], channels=4, num_members=8, head="pangolin", member_tissues=[0, 0, 1, 1, 2, 2, 3, 3],
            weights_family="pangolin", weights_name="Tiny Pangolin", weights_licence="GPL-3.0")  # fmt: skip
SEQ = "ACGTAGGTAAGTCCAGGTTTAGCAGGTACCTTAG"


@pytest.fixture(scope="module")
def tiny_pangolin(tmp_path_factory) -> Path:
    torch.manual_seed(3)
    model = SpliceAIModel(SpliceAIConfig(**TINY))
    for p in model.parameters():  # spread-out probabilities: visible differences between tissues
        p.data.mul_(3.0)
    folder = tmp_path_factory.mktemp("pangolin_tiny") / "model"
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("pangolin_data") / "data")


def _probabilities(folder: Path, seq: str, strand: str = "+") -> np.ndarray:
    """The model's own ``probabilities`` (L, tissues) for ``seq``, N beyond its ends; '-' = reverse complement."""
    model = SpliceAIModel.from_pretrained(folder).eval()
    flank = model.config.flank
    x = torch.from_numpy(one_hot("N" * flank + seq + "N" * flank))[None]
    if strand == "-":
        x = x.flip(1, 2)  # reverse complement (A<->T, C<->G in the one-hot order)
    with torch.inference_mode():
        p = model(x).probabilities[0].numpy()
    return p[::-1] if strand == "-" else p


def _rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


# ---------------------------------------------------------------------------- splice
@pytest.mark.parametrize("strand", ["+", "-"])
def test_splice_writes_one_column_per_tissue_equal_to_the_model(tiny_pangolin, capsys, strand) -> None:
    r = run_main(capsys, "splice", SEQ, "--model", tiny_pangolin, "--strand", strand, "-q")
    assert r.code == 0, r.err
    rows = _rows(r.out)
    assert rows[0] == ["name", "position", *TISSUES]
    expected = _probabilities(tiny_pangolin, SEQ, strand)
    assert [int(row[1]) for row in rows[1:]] == list(range(1, len(SEQ) + 1))
    assert [row[2:] for row in rows[1:]] == [[f"{v:.4f}" for v in p] for p in expected.tolist()]
    assert len({row[2] for row in rows[1:]} | {row[5] for row in rows[1:]}) > 2  # tissues really differ


def test_splice_min_score_takes_the_highest_tissue(tiny_pangolin, capsys) -> None:
    expected = _probabilities(tiny_pangolin, SEQ)
    cut = float(np.median(expected.max(axis=1)))
    r = run_main(capsys, "splice", SEQ, "--model", tiny_pangolin, "--min-score", cut, "-q")
    assert r.code == 0, r.err
    kept = [int(row[1]) for row in _rows(r.out)[1:]]
    assert kept == [i + 1 for i in np.flatnonzero(expected.max(axis=1) >= cut)]
    assert 0 < len(kept) < len(SEQ)


def test_splice_bedgraph_writes_one_track_per_tissue(tiny_pangolin, tmp_path, capsys) -> None:
    r = run_main(capsys, "splice", SEQ, "--model", tiny_pangolin, "--bedgraph", tmp_path / "t", "-q")
    assert r.code == 0, r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"t.{t}.bedGraph" for t in TISSUES)
    expected = _probabilities(tiny_pangolin, SEQ)
    for t, tissue in enumerate(TISSUES):
        lines = (tmp_path / f"t.{tissue}.bedGraph").read_text().splitlines()
        assert lines[0].startswith("track type=bedGraph") and tissue in lines[0]
        values = {int(line.split("\t")[1]): line.split("\t")[3] for line in lines[1:]}
        assert values == {i: f"{v:.4f}" for i, v in enumerate(expected[:, t].tolist()) if v >= 1e-4}


def test_splice_region_uses_the_real_flanks(tiny_pangolin, tiny_genome, capsys) -> None:
    fa, _, seq = tiny_genome
    r = run_main(capsys, "splice", "--region", "chr1:101-130", "--reference", fa, "--model", tiny_pangolin, "-q")
    assert r.code == 0, r.err
    flank = SpliceAIModel.from_pretrained(tiny_pangolin).config.flank
    expected = _probabilities(tiny_pangolin, seq[100 - flank : 130 + flank])[flank:-flank]
    rows = _rows(r.out)[1:]
    assert [int(row[1]) for row in rows] == list(range(101, 131))
    assert [row[2:] for row in rows] == [[f"{v:.4f}" for v in p] for p in expected.tolist()]


def test_splice_plot_is_refused_with_one_line(tiny_pangolin, tmp_path, capsys) -> None:
    r = run_main(capsys, "splice", SEQ, "--model", tiny_pangolin, "--plot", tmp_path / "p.png", "-q")
    assert_user_error(r, "--plot", "per tissue", "--bedgraph")
    assert not (tmp_path / "p.png").exists()


def test_the_splice_site_pipeline_refuses_a_per_tissue_model(tiny_pangolin) -> None:
    """Its acceptor/donor fields would be two tissues: one error pointing at predict_tissues instead."""
    from transformers import pipeline

    splice = pipeline("splice-site", model=SpliceAIModel.from_pretrained(tiny_pangolin).eval(), device="cpu")
    with pytest.raises(ValueError, match="per tissue.*predict_tissues"):
        splice(SEQ)


# ---------------------------------------------------------------------------- evaluate-splice
def test_site_metrics_per_class_leave_the_other_class_out() -> None:
    """The site score does not tell acceptors from donors: a class's numbers rank it against the
    positions labelled neither only (a donor above the acceptor does not count against it)."""
    y, score = np.array([0, 1, 2, 0, 0]), np.array([0.2, 0.5, 0.9, 0.1, 0.6])
    m = site_metrics(y, score)
    assert (m["sites"], m["site_topk"], m["site_pr_auc"]) == (2, 0.5, pytest.approx((1 + 2 / 3) / 2))
    assert (m["acceptor_topk"], m["acceptor_pr_auc"]) == (0.0, 0.5)  # 0.6 (neither) > 0.5; the donor's 0.9 left out
    assert (m["donor_topk"], m["donor_pr_auc"]) == (1.0, 1.0)  # the acceptor's 0.5 left out


def test_evaluate_splice_on_genes_scores_sites_by_the_highest_tissue(tiny_pangolin, tiny_genome, capsys) -> None:
    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.genome import Genome

    fa, table, _ = tiny_genome
    r = run_main(capsys, "evaluate-splice", "-R", fa, "-A", table, "--region", "chr1:1-600", "--model", tiny_pangolin, "-q")
    assert r.code == 0, r.err
    summary = json.loads(r.out.splitlines()[-1])
    assert summary["score"] == SITE_SCORE and "scored as: " + SITE_SCORE in r.out
    genes, genome = GeneTable.load(str(table)), Genome(fa)
    ys, scores = [], []
    for i, g in enumerate(genes):  # the model's probabilities over each transcript, N outside it
        ys.append(gene_labels(genes, i))
        scores.append(_probabilities(tiny_pangolin, genome.fetch_padded(g.chrom, g.tx_start, g.tx_end).upper(),
                                     g.strand).max(axis=1))
    expected = site_metrics(np.concatenate(ys), np.concatenate(scores), (0.5, 2.0, 4.0))
    for key in ("sites", "site_topk", "site_pr_auc", "site_top2k", "acceptor_topk", "acceptor_pr_auc", "donor_pr_auc"):
        assert summary[key] == pytest.approx(round(expected[key], 4), abs=1e-4), key


def test_evaluate_splice_on_a_split_scores_sites(tiny_pangolin, data, capsys) -> None:
    from nucleoforge.io.splice_h5 import counted_labels, one_hot_codes, read_splice_dataset

    r = run_main(capsys, "evaluate-splice", "--data", data, "--split", "test", "--model", tiny_pangolin, "-q")
    assert r.code == 0, r.err
    summary = json.loads(r.out.splitlines()[-1])
    assert summary["score"] == SITE_SCORE and "site PR-AUC" in r.out
    model = SpliceAIModel.from_pretrained(tiny_pangolin).eval()
    ys, scores = [], []
    for x, y, w in read_splice_dataset(data).iter_batches("test", 3, context=model.config.context):
        with torch.inference_mode():
            p = model(torch.from_numpy(one_hot_codes(x))).probabilities.numpy()
        labels = counted_labels(y, w, -100)
        labels = labels.numpy() if torch.is_tensor(labels) else np.asarray(labels)
        ys.append(labels[labels != -100])
        scores.append(p.max(axis=-1)[labels != -100])
    expected = site_metrics(np.concatenate(ys), np.concatenate(scores))
    assert summary["positions"] == len(np.concatenate(ys))
    for key in ("sites", "site_topk", "site_pr_auc", "acceptor_topk", "donor_topk", "donor_pr_auc"):
        assert summary[key] == pytest.approx(round(expected[key], 4), abs=1e-4), key


# ---------------------------------------------------------------------------- train-splice --init
def _trunk(state: dict, member: int) -> dict:
    prefix = f"members.{member}."
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and ".classifier." not in "." + k[len(prefix):]}


def test_train_from_a_per_tissue_init_copies_trunks_and_starts_a_new_classifier(tiny_pangolin, data, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    r = run_main(capsys, "train-splice", "--data", data, "--init", tiny_pangolin, "--members", 3, "--freeze-stages", 1,
                 "--max-steps", 2, "--batch-size", 4, "--output", out)  # fmt: skip
    assert r.code == 0, r.err
    assert [line for line in r.err_lines if "starts new" in line] == [
        f"--init {tiny_pangolin}: new member i copies the trunk of its member i (all but the classifier); its per-tissue "
        "classifier (heart, liver, brain, testis) is not carried over: the 3-class classifier (neither, acceptor, donor) "
        "starts new"]
    config = json.loads((out / "config.json").read_text())
    assert (config["head"], config["num_members"], config["weights_family"], config["weights_licence"]) == \
        ("softmax", 3, "spliceai", "GPL-3.0")
    assert "tissues" not in config or config["tissues"] is None
    assert config["weights_name"] == "Tiny Pangolin, trunks with a new acceptor/donor classifier, trained by train-splice"
    training = json.loads((out / "training.json").read_text())
    assert (training["settings"]["init"], training["settings"]["init_classifier"]) == (str(tiny_pangolin), "new")
    assert [m["init_member"] for m in training["members"]] == [0, 1, 2]
    init = SpliceAIModel.from_pretrained(tiny_pangolin).state_dict()
    trained = SpliceAIModel.from_pretrained(out).state_dict()
    for i in range(3):  # the frozen trunk is member i's (BatchNorm statistics too); the classifier has 3 channels
        mine, theirs = _trunk(trained, i), _trunk(init, i)
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
        assert tuple(trained[f"members.{i}.classifier.weight"].shape) == (3, 4, 1)
    r = run_main(capsys, "splice", SEQ, "--model", out, "-q")  # a SpliceAI-format folder now
    assert r.code == 0 and r.out.splitlines()[0] == "name\tposition\tacceptor\tdonor"


def test_train_from_one_member_of_a_per_tissue_init(tiny_pangolin, data, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    r = run_main(capsys, "train-splice", "--data", data, "--init", tiny_pangolin, "--init-member", 5, "--members", 2,
                 "--freeze-stages", 1, "--max-steps", 1, "--batch-size", 4, "--output", out)  # fmt: skip
    assert r.code == 0, r.err
    assert [line for line in r.err_lines if "starts new" in line][0].startswith(
        f"--init {tiny_pangolin}: every new member copies the trunk of its member 5 (all but the classifier)")
    init = SpliceAIModel.from_pretrained(tiny_pangolin).state_dict()
    trained = SpliceAIModel.from_pretrained(out).state_dict()
    for i in range(2):
        mine, theirs = _trunk(trained, i), _trunk(init, 5)
        assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    assert [m["init_member"] for m in json.loads((out / "training.json").read_text())["members"]] == [5, 5]


def test_more_members_than_a_per_tissue_init_has_are_refused(tiny_pangolin, data, tmp_path, capsys) -> None:
    r = run_main(capsys, "train-splice", "--data", data, "--init", tiny_pangolin, "--members", 9, "--max-steps", 1,
                 "--batch-size", 4, "--output", tmp_path / "out", "-q")  # fmt: skip
    assert_user_error(r, "--members 9", "8 member(s)", "--init-member")


# ---------------------------------------------------------------------------- the real weights
def test_splice_with_the_real_pangolin_weights_prints_the_models_probabilities(chr22_block, tmp_path, capsys) -> None:
    from nucleoforge.models.spliceai.convert_pytorch import convert_pangolin

    folder = convert_pangolin(shared_weights("pangolin"), tmp_path / "pangolin")
    seq = chr22_block[24_182:24_482]  # TANGO2 (+): its exon 20,024,283-20,024,377 with 100 nt either side
    r = run_main(capsys, "splice", seq, "--model", folder)
    assert r.code == 0, r.err
    assert [line for line in r.err_lines if line.startswith("weights:")] == [
        "weights: Pangolin (GPL-3.0; converted from final.{1,2,3}.{0,2,4,6}.3.v2)"]
    rows = _rows(r.out)
    assert rows[0] == ["name", "position", *TISSUES]
    expected = _probabilities(folder, seq)
    assert [row[2:] for row in rows[1:]] == [[f"{v:.4f}" for v in p] for p in expected.tolist()]
    assert expected[100].max() > 0.5 and expected[194].max() > 0.5  # the exon's acceptor and donor
