"""``train-splice``: class weights, the learning-rate schedule, freezing, members assembled into one
ensemble, exact resume, the one-line errors, and the trained folder in ``splice`` / ``variants`` /
``evaluate-splice`` (tiny models and tiny datasets written here with h5py in the
``nucleoforge-splice-data/1`` format)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from nucleoforge.io.outputs import file_sha256, model_identity
from nucleoforge.io.splice_h5 import read_splice_dataset
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.splicing.split_evaluation import evaluate_split
from nucleoforge.splicing.training import (
    ExponentialDecay,
    class_counts,
    class_weights,
    decay_rate,
    exponential_lr,
    train_splice,
)
from tests.cli.runner import assert_user_error, run_main
from tests.splicing.conftest import write_dataset, write_split

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spliceai_variants"
#: a one-stage SpliceAI (context 4) with 4 channels: a few CPU steps take milliseconds
TINY = {"stages": [[1, 3, 1]], "channels": 4}
TINY_ARG = json.dumps(TINY)
RUN = dict(config_overrides=TINY, batch_size=4, logging_steps=1, disable_tqdm=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("splice_data") / "data")


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def _log(folder: Path) -> dict[int, dict]:
    return {e["step"]: e for e in map(json.loads, open(folder / "log.jsonl")) if "loss" in e}


# ---------------------------------------------------------------------------- class weights, schedule
def test_class_weights_are_exact_on_a_hand_made_label_set(tmp_path) -> None:
    y = np.array([[0, 0, 1, 0, 2, 0, -1, -1],
                  [0, 1, 0, 0, 0, 2, 0, 0],
                  [2, 0, 0, 0, 0, 0, 0, 1]])  # fmt: skip
    w = np.array([[1, 1, 1, 1, 1, 0, 0, 0],   # a W = 0 neither and two padding positions
                  [1, 1, 1, 1, 1, 1, 1, 1],
                  [0, 1, 1, 1, 1, 1, 1, 1]])  # the donor at 0 is excluded (W = 0)  # fmt: skip
    folder = tmp_path / "d"
    folder.mkdir()
    write_split(folder / "train.h5", np.ones((3, 8 + 2)), y, w)
    (folder / "dataset.json").write_text(json.dumps({"format": "nucleoforge-splice-data/1", "context": 2, "block": 8,
                                                     "summary": {}}))  # fmt: skip
    counts = class_counts(read_splice_dataset(folder), "train")
    assert counts.tolist() == [15, 3, 2]  # neither: 3 + 6 + 6; acceptors 1 + 1 + 1; donors 1 + 1 (one excluded)
    weights = class_weights(counts)
    n = 20
    assert weights.tolist() == [n / 30, n / 12, n / 8]
    per_class = weights * counts
    assert per_class[0] == pytest.approx(per_class[1] + per_class[2], rel=1e-15)  # positives = negatives
    assert per_class[1] == pytest.approx(per_class[2], rel=1e-15)  # acceptors = donors
    assert per_class.sum() == pytest.approx(n, rel=1e-15)  # mean weight 1
    with pytest.raises(ValueError, match="no counted donor"):
        class_weights([10, 2, 0])


def test_learning_rate_schedule_values() -> None:
    gamma = decay_rate(5, 1e-3, 1e-5)
    assert gamma == pytest.approx(10 ** -0.5)
    values = [exponential_lr(t, 1e-3, 1e-5, gamma) for t in range(5)]
    assert values == pytest.approx([1e-3, 10**-3.5, 1e-4, 10**-4.5, 1e-5], rel=1e-12)
    assert exponential_lr(9, 1e-3, 1e-5, gamma) == 1e-5  # the floor holds after the last step
    # an explicit --lr-decay: halving per step, floored
    decay = ExponentialDecay(1e-3, 1e-5, 0.5)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, decay)
    seen = []
    for _ in range(9):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1e-3 * 0.5**t if 1e-3 * 0.5**t > 1e-5 else 1e-5 for t in range(9)], rel=1e-12)
    assert seen[-1] == 1e-5
    assert decay_rate(1, 1e-3, 1e-5) == 1.0
    with pytest.raises(ValueError, match="--lr-floor"):
        decay_rate(5, 1e-3, 0.0)


# ---------------------------------------------------------------------------- freezing, members
def _saved(folder: Path, config: SpliceAIConfig, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = SpliceAIModel(config)
    for member in model.members:  # non-trivial BatchNorm statistics, so a change would show
        for m in member.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    model.save_pretrained(folder)
    return folder


def test_frozen_stages_stay_unchanged(data, tmp_path) -> None:
    init = _saved(tmp_path / "init", SpliceAIConfig(stages=[(1, 3, 1), (1, 3, 2)], channels=4, num_members=1))
    out = tmp_path / "out"
    train_splice(data, out, init=init, freeze_stages=1, max_steps=3, batch_size=4, disable_tqdm=True)
    before, after = _weights(init), _weights(out)
    assert before.keys() == after.keys()
    frozen = [k for k in before if k.split(".")[2] in ("input_conv", "input_skip") or k.startswith("members.0.stages.0.")]
    trained = [k for k in before if k not in frozen]
    assert any("running_mean" in k for k in frozen) and any("stages.0.units.0.conv1" in k for k in frozen)
    for key in frozen:  # weights and BatchNorm statistics
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0, msg=key)
    changed = [k for k in trained if not torch.equal(after[k], before[k])]
    assert "members.0.classifier.weight" in changed and "members.0.stages.1.units.0.conv1.weight" in changed
    assert "members.0.stages.1.units.0.norm1.running_mean" in changed  # unfrozen BatchNorms still learn statistics


def test_members_are_assembled_into_one_ensemble(data, tmp_path) -> None:
    out = tmp_path / "ens"
    report = train_splice(data, out, members=2, max_steps=2, **RUN)
    model = SpliceAIModel.from_pretrained(out).eval()
    assert model.config.num_members == 2 and model.config.context == 4
    parts = [SpliceAIModel.from_pretrained(out / f"member-{i}").eval() for i in range(2)]
    state = model.state_dict()
    for i, part in enumerate(parts):
        for key, value in part.state_dict().items():
            torch.testing.assert_close(state[key.replace("members.0.", f"members.{i}.")], value, rtol=0, atol=0)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 40 + 4)), 4).float()
    with torch.no_grad():
        mean = torch.stack([p(x).probabilities for p in parts]).mean(0)
        torch.testing.assert_close(model(x).probabilities, mean, rtol=0, atol=1e-6)
    assert not torch.equal(parts[0].members[0].classifier.weight, parts[1].members[0].classifier.weight)  # own seeds
    training = json.loads((out / "training.json").read_text())
    assert [m["seed"] for m in training["members"]] == [42, 43]
    assert training["settings"]["members"] == 2 and training["settings"]["max_steps"] == 2
    assert training["data"]["inputs"]["train.h5"]["sha256"] == file_sha256(data / "train.h5")
    counts = class_counts(read_splice_dataset(data), "train")
    assert training["class_counts"] == dict(zip(("neither", "acceptor", "donor"), counts.tolist()))
    assert training["class_weights"] == dict(zip(("neither", "acceptor", "donor"), class_weights(counts).tolist()))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(report))
    # each member's last validation is its saved model's on the validation split, the ensemble's
    # that of the assembled model (evaluate-splice --data rounds to 4 decimals)
    for entry, part in zip(metrics["members"], parts):
        assert entry["final"]["step"] == 2 and entry["final"]["positions"] == 8 * 100 - 7 - 3
        _assert_metrics(entry["final"], evaluate_split(part, data, "validation").metrics)
    _assert_metrics(metrics["ensemble"], evaluate_split(model, data, "validation").metrics)
    assert metrics["ensemble"] != metrics["members"][0]["final"]


def _assert_metrics(found: dict, expected: dict) -> None:
    assert set(expected) == {"positions", "acceptors", "donors", "acceptor_topk", "acceptor_pr_auc", "donor_topk",
                             "donor_pr_auc"}  # fmt: skip
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, abs=5e-5, nan_ok=True), key


# ---------------------------------------------------------------------------- exact resume
def test_resume_is_exact_skips_finished_members_and_reads_the_checkpoint(data, tmp_path) -> None:
    """Two members of 6 steps (epochs of 4 steps, a checkpoint every 3): a run stopped inside
    member 1 after its checkpoint-3 and resumed ends with the weights of the uninterrupted run;
    member 0 is not trained again; a resume that ignored the checkpoint would not see a change to it."""
    kwargs = dict(members=2, max_steps=6, save_steps=3, **RUN)
    straight = tmp_path / "straight"
    train_splice(data, straight, **kwargs)

    def stopped(name: str) -> Path:
        run = tmp_path / name
        run.mkdir()
        shutil.copy(straight / "training.manifest.json", run)
        shutil.copytree(straight / "member-0", run / "member-0")
        shutil.copytree(straight / "member-1" / "checkpoint-3", run / "member-1" / "checkpoint-3")
        return run

    resumed = stopped("resumed")
    member0 = (resumed / "member-0" / "model.safetensors").stat().st_mtime_ns
    train_splice(data, resumed, resume=True, **kwargs)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)
    assert (resumed / "member-0" / "model.safetensors").stat().st_mtime_ns == member0  # skipped
    la, lb = _log(straight / "member-1"), _log(resumed / "member-1")
    assert sorted(lb) == [4, 5, 6]
    for step in (4, 5, 6):
        assert lb[step]["learning_rate"] == pytest.approx(la[step]["learning_rate"], rel=1e-12)
        assert lb[step]["loss"] == pytest.approx(la[step]["loss"], abs=1e-6)
    # the logged rate of step s is the schedule's rate of optimizer step s - 1: 1e-3 down to 1e-5 at the last
    gamma = decay_rate(6, 1e-3, 1e-5)
    assert [la[s]["learning_rate"] for s in range(1, 7)] == pytest.approx([exponential_lr(s, 1e-3, 1e-5, gamma) for s in range(6)])
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert [e["step"] for e in metrics["members"][1]["evaluations"]] == [4, 6]  # epoch 1 (from the checkpoint), end

    changed = stopped("changed")
    ckpt = changed / "member-1" / "checkpoint-3" / "model.safetensors"
    state = load_file(str(ckpt))
    state["members.0.classifier.bias"] = state["members.0.classifier.bias"] + 1.0
    save_file(state, str(ckpt), metadata={"format": "pt"})
    train_splice(data, changed, resume=True, **kwargs)
    moved = (_weights(changed)["members.1.classifier.bias"] - a["members.1.classifier.bias"]).abs().max()
    assert moved > 0.5


# ---------------------------------------------------------------------------- errors
def test_errors_are_one_line(data, tmp_path, capsys) -> None:
    base = ["train-splice", "--data", data, "--batch-size", "4", "--max-steps", "1", "-q"]
    init = _saved(tmp_path / "init", SpliceAIConfig(stages=[(1, 3, 1)], channels=4, num_members=2))
    # --context must match the init model's
    r = run_main(capsys, *base, "--output", tmp_path / "o1", "--init", init, "--context", "400")
    assert_user_error(r, "--context 400", str(init), "(4)")
    r = run_main(capsys, *base, "--output", tmp_path / "o1", "--init", init, "--members", "3")
    assert_user_error(r, "--members 3", "2 member(s)", "--init-member")
    # a model context larger than the data's
    r = run_main(capsys, *base, "--output", tmp_path / "o1", "--context", "400")
    assert_user_error(r, "400", "holds 20 nt")
    # missing and empty splits, missing folder
    missing = tmp_path / "no_validation"
    shutil.copytree(data, missing)
    (missing / "validation.h5").unlink()
    r = run_main(capsys, *base, "--output", tmp_path / "o1", "--config", TINY_ARG, "--data", missing)
    assert_user_error(r, str(missing / "validation.h5"))
    empty = tmp_path / "empty_train"
    shutil.copytree(data, empty)
    write_split(empty / "train.h5", np.zeros((0, 120)), np.zeros((0, 100)), np.zeros((0, 100)))
    r = run_main(capsys, *base, "--output", tmp_path / "o1", "--config", TINY_ARG, "--data", empty)
    assert_user_error(r, str(empty / "train.h5"), "empty")
    r = run_main(capsys, *base, "--output", tmp_path / "o1", "--config", TINY_ARG, "--data", tmp_path / "nowhere")
    assert_user_error(r, str(tmp_path / "nowhere"))
    assert not (tmp_path / "o1").exists()
    # an existing run is not overwritten; a resume with other settings is refused
    out = tmp_path / "run"
    assert run_main(capsys, *base, "--output", out, "--config", TINY_ARG).code == 0
    r = run_main(capsys, *base, "--output", out, "--config", TINY_ARG)
    assert_user_error(r, str(out), "--resume")
    r = run_main(capsys, *base, "--output", out, "--config", TINY_ARG, "--resume", "--lr", "0.01")
    assert_user_error(r, "cannot resume", "learning_rate: 0.001", "0.01 now")


# ---------------------------------------------------------------------------- the folder everywhere
TABLE = (
    "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
    "TANGO2\t22\t+\t20008630\t20053449\t20008630,20024282,20030877,20039987,20040959,20043465,20049052,20050860,20052064,"
    "\t20008769,20024377,20030966,20040107,20041074,20043536,20049206,20050965,20053449,\n"
    "TRMT2A\t22\t-\t20099388\t20104818\t20099388,20100433,20100640,20100954,20101208,20102096,20102283,20102487,20102788,"
    "20103194,20103560,20104405,\t20100317,20100530,20100757,20101030,20101331,20102208,20102399,20102602,20102970,"
    "20103303,20104135,20104818,\n"
)  # two real GRCh37 genes of the bundled block (the spliceai wheel's grch37 table)


@pytest.fixture(scope="module")
def tiny_reference(tmp_path_factory, chr22_block) -> tuple[Path, Path, Path]:
    """``(reference, gene table, vcf)``: the first 150 kb of the bundled chr22 block at its real
    coordinates, two of its genes, and the fixture VCF's records that lie in it."""
    from nucleoforge.io.genome import place_subsequence_records

    root = tmp_path_factory.mktemp("tiny_reference")
    piece = root / "piece.fa"
    piece.write_text(">22:20000001-20150000\n" + chr22_block[:150_000] + "\n")
    ref = root / "chr22.fa"
    place_subsequence_records(piece, ref)
    table = root / "genes.txt"
    table.write_text(TABLE)
    lines = (FIXTURES / "input.vcf").read_text().splitlines(keepends=True)
    header = [ln for ln in lines if ln.startswith("#")]
    records = [ln for ln in lines if not ln.startswith("#") and int(ln.split("\t")[1]) < 20_150_000][:8]
    vcf = root / "in.vcf"
    vcf.write_text("".join(header + records))
    return ref, table, vcf


def _forward(model: SpliceAIModel, seq: str, strand: str = "+") -> np.ndarray:
    """The model's own ``(len(seq) - context, 3)`` probabilities of the centre of ``seq`` in one
    forward pass (on '-': of the reverse complement, flipped back)."""
    codes = np.frombuffer(seq.upper().encode(), np.uint8)
    x = np.stack([codes == ord(b) for b in "ACGT"], -1).astype(np.float32)
    if strand == "-":
        x = x[::-1, ::-1].copy()  # reverse complement of an A, C, G, T one-hot
    with torch.no_grad():
        p = model(torch.from_numpy(x)[None]).probabilities[0].numpy()
    return p[::-1] if strand == "-" else p


def _probabilities(model: SpliceAIModel, seq: str, strand: str = "+") -> np.ndarray:
    """``(len(seq), 3)`` probabilities of ``seq`` with N flanks of context / 2 (``splice``, ``evaluate-splice``)."""
    half = "N" * (model.config.context // 2)
    return _forward(model, half + seq + half, strand)


def _delta_entry(model: SpliceAIModel, genome, record: list[str], gene: str, d: int = 50) -> str:
    """Illumina's INFO entry of a variant on a '+' gene far from its ends, from the model's own
    probabilities of the reference and the alternative window (2d + 1 positions around POS, the
    ALT track aligned to the REF track for an indel)."""
    chrom, pos, ref, alt = record[0], int(record[1]), record[3], record[4]
    half = model.config.context // 2 + d
    seq = genome.fetch_padded(chrom, pos - 1 - half, pos + half).upper()
    assert seq[half : half + len(ref)] == ref
    p_ref, p_alt = _forward(model, seq), _forward(model, seq[:half] + alt + seq[half + len(ref) :]).astype(np.float64)
    if len(ref) > 1:  # a deletion: zeros after the ALT base
        p_alt = np.concatenate([p_alt[: d + 1], np.zeros((len(ref) - 1, 3)), p_alt[d + 1 :]])
    elif len(alt) > 1:  # an insertion: the inserted positions collapsed by their maximum
        p_alt = np.concatenate([p_alt[:d], p_alt[d : d + len(alt)].max(0, keepdims=True), p_alt[d + len(alt) :]])
    assert len(p_alt) == len(p_ref) == 2 * d + 1
    deltas = [p_alt[:, 1] - p_ref[:, 1], p_ref[:, 1] - p_alt[:, 1], p_alt[:, 2] - p_ref[:, 2], p_ref[:, 2] - p_alt[:, 2]]
    idx = [int(a.argmax()) for a in deltas]
    return f"{alt}|{gene}|" + "|".join(f"{a[i]:.2f}" for a, i in zip(deltas, idx)) + "|" + "|".join(str(i - d) for i in idx)


def test_trained_folder_loads_in_splice_variants_and_evaluate_splice(data, tmp_path, tiny_reference, capsys) -> None:
    """The trained folder in ``splice``, ``variants`` and ``evaluate-splice`` reports exactly what
    the assembled model itself predicts on the same sequences (computed here in one forward pass)."""
    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.genome import Genome
    from nucleoforge.splicing.evaluation import average_precision, gene_labels, topk_accuracy

    out = tmp_path / "model"
    r = run_main(capsys, "train-splice", "--data", data, "--output", out, "--config", TINY_ARG, "--members", "2",
                 "--max-steps", "2", "--batch-size", "4", "-q")  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out.splitlines()[-1])["validation"] == json.loads((out / "metrics.json").read_text())["ensemble"]
    model = SpliceAIModel.from_pretrained(out).eval()
    assert model.config.num_members == 2
    ref, table, vcf = tiny_reference

    seq = "ACGTAGGTAAGTCCCTTTAGGAT"
    r = run_main(capsys, "splice", seq, "--model", out, "-q")
    assert r.code == 0, r.err
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert rows[0] == ["name", "position", "acceptor", "donor"] and [int(row[1]) for row in rows[1:]] == list(range(1, 24))
    expected = _probabilities(model, seq)
    for row, p in zip(rows[1:], expected):
        for text, value in zip(row[2:], p[1:]):
            assert float(text) == pytest.approx(value, abs=0.5 * 10.0 ** -len(text.split(".")[1]) + 1e-7)
    assert len({row[2] for row in rows[1:]}) > 3  # the values differ along the sequence

    scored = tmp_path / "out.vcf"
    r = run_main(capsys, "variants", "-I", vcf, "-O", scored, "-R", ref, "-A", table, "--model", out, "-q")
    assert r.code == 0, r.err
    body = [ln.split("\t") for ln in scored.read_text().splitlines() if not ln.startswith("#")]
    assert len(body) == 8
    info = {cols[2]: cols[7] for cols in body}
    inside = ["rs737985", "rs4819854", "rs72211264", "rs112148654"]  # 22:20,009,078 … 20,025,176: in TANGO2
    assert sorted(k for k, v in info.items() if v.startswith("SpliceAI=")) == sorted(inside)
    with Genome(ref) as genome:
        for cols in body:
            if cols[2] in inside:
                assert info[cols[2]] == "SpliceAI=" + _delta_entry(model, genome, cols, "TANGO2")
    assert info["rs551721384"] == info["rs2286480"] == "."  # before TANGO2: no gene
    manifest = json.loads(Path(str(scored) + ".manifest.json").read_text())
    assert manifest["model"]["sha256"] == model_identity(model)["sha256"]  # the weights that were loaded

    r = run_main(capsys, "evaluate-splice", "-R", ref, "-A", table, "--region", "22:20000001-20150000", "--model", out, "-q")
    assert r.code == 0, r.err
    summary = json.loads(r.out.splitlines()[-1])
    assert summary["genes"] == 2 and summary["introns"] == 8 + 11
    genes = GeneTable.load(table)
    labels, probs = [], []
    with Genome(ref) as genome:
        for i, g in enumerate(genes):
            labels.append(gene_labels(genes, i))
            probs.append(_probabilities(model, genome.fetch_padded(g.chrom, g.tx_start, g.tx_end), g.strand))
    y, p = np.concatenate(labels), np.concatenate(probs)
    assert summary["positions"] == len(y)
    for c, name in ((1, "acceptor"), (2, "donor")):
        assert summary[f"{name}_topk"] == pytest.approx(topk_accuracy(y == c, p[:, c]), abs=5e-5)
        assert summary[f"{name}_pr_auc"] == pytest.approx(average_precision(y == c, p[:, c]), abs=5e-5)


# ---------------------------------------------------------------------------- torchrun
def test_torchrun_two_cpu_processes(data, tmp_path) -> None:
    """``torchrun --nproc_per_node 2 nucleoforge train-splice`` on CPU (gloo): each rank trains on its
    own rows, both members are trained and assembled once, validation is gathered (not doubled)."""
    from tests.conftest import run_torchrun

    out = tmp_path / "ddp"
    stdout = run_torchrun("train-splice", "--data", str(data), "--output", str(out), "--config", TINY_ARG, "--members", "2",
                          "--max-steps", "3", "--batch-size", "4", "--logging-steps", "1", "--trace-batches", "-q")  # fmt: skip
    assert json.loads(stdout.strip().splitlines()[-1])["validation"]["positions"] == 790  # printed once, by rank 0
    for member in ("member-0", "member-1"):
        ranks = [[line.split() for line in (out / member / "trace" / f"rank{r}.txt").read_text().splitlines()] for r in (0, 1)]
        assert [s for s, _ in ranks[0]] == [s for s, _ in ranks[1]] == ["0", "1", "2"]
        rows = [[set(map(int, r.split(","))) for _, r in rank] for rank in ranks]
        assert all(not (a & b) for a, b in zip(*rows))  # different rows on each rank at every step
        assert rows[0][0] | rows[1][0] | rows[0][1] | rows[1][1] == set(range(16))  # one epoch: every row once
        assert [e["step"] for e in map(json.loads, open(out / member / "log.jsonl")) if "loss" in e] == [1, 2, 3]
        assert json.loads((out / member / "member.json").read_text())["final"]["positions"] == 790
    assert SpliceAIModel.from_pretrained(out).config.num_members == 2
    assert json.loads((out / "training.json").read_text())["settings"]["world_size"] == 2
