"""A BERT-family token head on ``splice-data`` windows (``train-splice --model-type``) and
``evaluate-splice --data``: window geometry against hand slicing, the trained folder scored with
the same metrics as the validation during training, SpliceAI on a split, and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nucleoforge.io.splice_h5 import read_splice_dataset
from nucleoforge.splicing.evaluation import average_precision, topk_accuracy
from nucleoforge.splicing.split_evaluation import evaluate_split, load_splice_model
from nucleoforge.splicing.training import SpliceWindowDataset
from nucleoforge.tokenization import NucleotideTokenizer
from tests.cli.runner import assert_user_error, run_main
from tests.splicing.conftest import write_dataset, write_split

#: a one-layer SpliceBERT of width 16 reading at most 62 nt (64 positions with [CLS]/[SEP])
TINY_BERT = "hidden_size=16,num_hidden_layers=1,num_attention_heads=2,intermediate_size=32,max_position_embeddings=64"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("lm_splice_data") / "data")


def test_windows_match_hand_slicing(tmp_path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    block, context = 10, 4
    x = np.arange(2 * (block + context)).reshape(2, block + context) % 5
    y = np.zeros((2, block), np.int8)
    y[0, 3], y[0, 9], y[1, 1] = 1, 2, 2
    w = np.ones((2, block), np.uint8)
    w[1, 4:] = 0  # row 1: pieces 1 and 2 count nothing -> left out
    w[0, 0] = 0
    write_split(folder / "train.h5", x, y, w)
    (folder / "dataset.json").write_text(json.dumps({"format": "nucleoforge-splice-data/1", "context": context, "block": block}))
    tok = NucleotideTokenizer.for_model("splicebert")
    ds = SpliceWindowDataset(read_splice_dataset(folder), "train", context=2, width=4, tokenizer=tok)
    assert ds.pieces == 3 and len(ds) == 4  # row 0: pieces 0, 1, 2; row 1: piece 0
    codes, labels = ds.windows(range(4))
    # model context 2 of the stored 4: x columns 1 .. 1 + 10 + 2, block position j at column 2 + j
    x0 = np.r_[x[0, 1:13], 0, 0]  # N past the stored sequence (the last piece runs 2 past the block)
    assert codes.tolist() == [x0[0:6].tolist(), x0[4:10].tolist(), x0[8:14].tolist(), x[1, 1:7].tolist()]
    i = -100
    assert labels.tolist() == [[i, i, 0, 0, 1, i], [i, 0, 0, 0, 0, i], [i, 0, 2, i, i, i], [i, 0, 2, 0, 0, i]]
    item = ds[0]
    assert tok.convert_ids_to_tokens(item["input_ids"].tolist()) == ["[CLS]", *("NACGT"[c] for c in codes[0]), "[SEP]"]
    assert item["block_index"] == 0 and ds[3]["block_index"] == 3


def test_token_head_trains_saves_and_scores_like_its_validation(data, tmp_path, capsys) -> None:
    out = tmp_path / "lm"
    r = run_main(capsys, "train-splice", "--data", data, "--output", out, "--model-type", "splicebert", "--config",
                 TINY_BERT, "--context", "10", "--max-steps", "3", "--batch-size", "4", "-q")  # fmt: skip
    assert r.code == 0, r.err
    validation = json.loads(r.out.splitlines()[-1])["validation"]
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "splicebert" and config["architectures"] == ["SpliceBertForTokenPrediction"]
    assert config["splice_windows"] == {"context": 10, "width": 52}  # 62 nt read at most, minus the context
    assert config["id2label"] == {"0": "neither", "1": "acceptor", "2": "donor"}
    training = json.loads((out / "training.json").read_text())
    assert training["settings"]["model_type"] == "splicebert" and training["settings"]["width"] == 52

    r = run_main(capsys, "evaluate-splice", "--data", data, "--split", "validation", "--model", out, "-q")
    assert r.code == 0, r.err
    scored = json.loads(r.out.splitlines()[-1])
    assert scored["positions"] == validation["positions"] == 790
    for key in ("acceptor_topk", "acceptor_pr_auc", "donor_topk", "donor_pr_auc"):
        assert scored[key] == pytest.approx(validation[key], abs=6e-5), key

    # the same numbers by hand: the model on every window, the labelled positions pooled
    model, tok = load_splice_model(out)
    items = SpliceWindowDataset(read_splice_dataset(data), "validation", 10, 52, tok)
    codes, labels = items.windows(range(len(items)))
    ids = torch.from_numpy(np.stack([items[i]["input_ids"] for i in range(len(items))]))
    with torch.no_grad():
        p = model(input_ids=ids).logits.softmax(-1).numpy()
    keep = labels != -100
    yk, pk = labels[keep], p[keep]
    assert keep.sum() == 790
    assert scored["acceptor_topk"] == round(topk_accuracy(yk == 1, pk[:, 1]), 4)
    assert scored["donor_pr_auc"] == round(average_precision(yk == 2, pk[:, 2]), 4)


def test_spliceai_on_a_split_equals_its_training_validation(data, tmp_path, capsys) -> None:
    out = tmp_path / "cnn"
    r = run_main(capsys, "train-splice", "--data", data, "--output", out, "--config", '{"stages": [[1, 3, 1]], "channels": 4}',
                 "--max-steps", "2", "--batch-size", "4", "-q")  # fmt: skip
    assert r.code == 0, r.err
    validation = json.loads(r.out.splitlines()[-1])["validation"]
    model, tok = load_splice_model(out)
    assert tok is None
    result = evaluate_split(model, data, "validation", batch_size=3)
    for key in ("positions", "acceptors", "donors", "acceptor_topk", "acceptor_pr_auc", "donor_topk", "donor_pr_auc"):
        assert result.metrics[key] == pytest.approx(validation[key], abs=6e-5), key
    assert "acc top-k" in result.table()


@pytest.mark.parametrize("args, message", [
    (["--model-type", "splicebert", "--members", "2"], "--members applies to SpliceAI models, not to the splicebert token head"),
    (["--model-type", "splicebert", "--freeze-stages", "1"], "--freeze-stages applies to SpliceAI models"),
    (["--model-type", "splicebert", "--width", "60"], "the splicebert model reads at most 62 nt: --context 10 leaves at most --width 52, got 60"),
    (["--model-type", "splicebert", "--context", "62"], "the splicebert model reads at most 62 nt: --context 62 leaves no labelled position"),
    (["--model-type", "splicebert", "--context", "7"], "--context 7: expected an even number >= 0"),
    (["--model-type", "genebert"], "--model-type genebert: train-splice trains SpliceAI or a BERT-family token head"),
    (["--model-type", "nosuch"], "nosuch"),
    (["--width", "10"], "--width applies to language-model token heads"),
])  # fmt: skip
def test_token_head_errors_are_one_line(data, tmp_path, capsys, args, message) -> None:
    extra = [] if "--context" in args or args[:1] == ["--width"] else ["--context", "10"]
    config = ["--config", TINY_BERT] if "--model-type" in args and "splicebert" in args else []
    r = run_main(capsys, "train-splice", "--data", data, "--output", tmp_path / "o", *args, *extra, *config, "--max-steps", "1", "-q")
    assert_user_error(r, message)
    assert not (tmp_path / "o").exists()


def test_evaluate_on_data_refuses_a_language_model_without_its_head(data, tmp_path, capsys) -> None:
    from nucleoforge.training.pretrain import new_model

    mlm, tok = new_model("splicebert", dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
    mlm.save_pretrained(tmp_path / "mlm")
    tok.save_pretrained(tmp_path / "mlm")
    r = run_main(capsys, "evaluate-splice", "--data", data, "--model", tmp_path / "mlm", "-q")
    assert_user_error(r, str(tmp_path / "mlm"))
    r = run_main(capsys, "evaluate-splice", "--data", data, "--reference", tmp_path / "x.fa", "-q")
    assert_user_error(r, "--data scores a dataset split; it cannot be combined with --reference")
    r = run_main(capsys, "evaluate-splice", "--data", tmp_path, "--model", tmp_path / "mlm", "-q")
    assert_user_error(r, "dataset.json")


def test_token_head_learns_a_per_nucleotide_rule_so_labels_are_aligned(tmp_path) -> None:
    """Y = acceptor at every G, donor at every T: a head reading the right nucleotide learns it in
    a few steps (top-k 1.0); labels off by one position would leave it near 0.25."""
    from nucleoforge.splicing.training import train_splice

    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    block, context = 100, 20
    for split, n in (("train", 16), ("validation", 4)):
        x = rng.integers(0, 5, (n, block + context))
        core = x[:, context // 2 : context // 2 + block]
        write_split(folder / f"{split}.h5", x, np.where(core == 3, 1, np.where(core == 4, 2, 0)), np.ones((n, block)))
    (folder / "dataset.json").write_text(json.dumps({"format": "nucleoforge-splice-data/1", "context": context, "block": block}))
    torch.manual_seed(0)
    report = train_splice(folder, tmp_path / "lm", model_type="splicebert", context=10, max_steps=30, batch_size=8,
                          learning_rate=1e-2, disable_tqdm=True, config_overrides=dict(
                              hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                              max_position_embeddings=64))  # fmt: skip
    final = report["ensemble"]
    assert final["positions"] == 400
    assert final["acceptor_topk"] == final["donor_topk"] == 1.0
