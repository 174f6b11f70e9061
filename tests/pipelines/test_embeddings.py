"""Embeddings: windows vs direct runs, bucketing vs naive batching, pooling, streaming writers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import pipeline

import nucleoforge.pipelines  # noqa: F401
from nucleoforge.heads import nucleotide_states
from nucleoforge.pipelines._common import load_masked_lm


def _direct(model, tok, seq: str, layer: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(per-nucleotide states, [CLS] state) of one sequence run alone."""
    enc = tok(seq, return_tensors="pt")
    with torch.no_grad():
        out = model.base_model(**enc, output_hidden_states=True)
    hidden = out.hidden_states[layer]
    states, _ = nucleotide_states(hidden, enc["input_ids"], enc["attention_mask"], model.config.k, (0, 2, 3))
    return states[0].numpy(), hidden[0, 0].numpy()


@pytest.mark.parametrize("kind,k,positions", [("splicebert", None, 130), ("utrbert", 4, 66)])
def test_windowed_equals_direct_in_kept_centres(model_dir, chr22_block, kind, k, positions):
    from nucleoforge.pipelines.windows import plan_windows

    model, tok = load_masked_lm(str(model_dir(kind, k, positions)))
    embed = pipeline("nucleotide-embedding", model=model, tokenizer=tok, device="cpu")
    seq = chr22_block[300_000:300_333]
    size = model.config.max_nucleotides
    stitched = embed(seq, pool="none", stride=size // 2 - 3)["embedding"]
    assert stitched.shape == (333, 32)
    windows = plan_windows(333, size, size // 2 - 3)
    assert len(windows) >= 3
    for w in windows:
        direct, _ = _direct(model, tok, seq[w.start : w.end])
        np.testing.assert_allclose(stitched[w.keep_start : w.keep_end], direct[w.keep_start - w.start : w.keep_end - w.start], atol=2e-5)
    # a sequence that fits is one window: identical to the direct run
    short = seq[:size]
    np.testing.assert_allclose(embed(short, pool="none")["embedding"], _direct(model, tok, short)[0], atol=2e-5)


def test_bucketed_and_naive_batching_agree(model_dir, peaks, trnas):
    model, tok = load_masked_lm(str(model_dir("utrbert", 3, 66)))
    embed = pipeline("nucleotide-embedding", model=model, tokenizer=tok, device="cpu")
    # convert the DNA peaks' T to U is done by the tokenizer; mix lengths 20..200
    inputs = [(n, s[: 20 + 9 * i]) for i, (n, s) in enumerate(peaks[:20])] + trnas[:10]
    bucketed = embed(inputs, pool="none", batch_size=4)
    naive = embed(inputs, pool="none", batch_size=4, bucketing=False)
    single = [embed(x, pool="none") for x in inputs[:3]]
    assert [r["name"] for r in bucketed] == [n for n, _ in inputs]
    for a, b in zip(bucketed, naive):
        np.testing.assert_allclose(a["embedding"], b["embedding"], atol=2e-5)
    for a, b in zip(bucketed, single):
        np.testing.assert_allclose(a["embedding"], b["embedding"], atol=2e-5)


def test_pooling_and_layers(model_dir, trnas):
    model, tok = load_masked_lm(str(model_dir("splicebert")))
    embed = pipeline("nucleotide-embedding", model=model, tokenizer=tok, device="cpu")
    name, seq = trnas[0]
    full = embed(seq, pool="none")["embedding"]
    assert embed(seq)["embedding"] == pytest.approx(full.mean(0), abs=1e-6)
    assert embed(seq, pool="cls")["embedding"] == pytest.approx(_direct(model, tok, seq)[1], abs=1e-5)
    np.testing.assert_allclose(embed(seq, pool="none", layer=0)["embedding"], _direct(model, tok, seq, layer=0)[0], atol=1e-5)
    np.testing.assert_allclose(embed(seq, pool="none", layer=1)["embedding"], _direct(model, tok, seq, layer=1)[0], atol=1e-5)
    with pytest.raises(ValueError, match="layer must be in -3..2"):
        embed(seq, layer=3)


def test_npz_writer_streams_and_round_trips(tmp_path):
    from nucleoforge.io.tables import open_embedding_writer

    rng = np.random.default_rng(0)
    arrays = [("a", rng.normal(size=(5, 3)).astype(np.float32)), ("b/c", rng.normal(size=(2, 3)).astype(np.float32)),
              ("a", rng.normal(size=(4, 3)).astype(np.float32))]
    with open_embedding_writer(tmp_path / "x.npz") as w:
        keys = [w.write(n, a) for n, a in arrays]
    assert keys == ["a", "b/c", "a_2"]
    loaded = np.load(tmp_path / "x.npz")
    assert loaded.files == keys
    for key, (_, a) in zip(keys, arrays):
        np.testing.assert_array_equal(loaded[key], a)


@pytest.mark.parametrize("per_nucleotide", [False, True])
def test_parquet_writer_row_groups(tmp_path, per_nucleotide):
    pq = pytest.importorskip("pyarrow.parquet")
    from nucleoforge.io.tables import ParquetWriter

    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=((i + 1, 4) if per_nucleotide else (4,))).astype(np.float32) for i in range(7)]
    with ParquetWriter(tmp_path / "x.parquet", rows_per_group=3) as w:
        for i, a in enumerate(arrays):
            w.write(f"s{i}", a, a.shape[0] if per_nucleotide else 10)
    f = pq.ParquetFile(tmp_path / "x.parquet")
    assert f.metadata.num_row_groups == 3
    table = f.read().to_pylist()
    assert [r["name"] for r in table] == [f"s{i}" for i in range(7)]
    for row, a in zip(table, arrays):
        np.testing.assert_array_equal(np.array(row["embedding"], dtype=np.float32), a)
