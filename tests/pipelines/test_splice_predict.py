"""SpliceAI long-sequence prediction: chunking, N padding, strands, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nucleoforge.alphabet import one_hot, reverse_complement
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel, convert_keras_h5
from nucleoforge.pipelines.splice_predict import iter_predict, predict_flanked
from nucleoforge.pipelines.splice_predict import predict_sequence

from tests.models.test_spliceai import tiny_model
from tests.models.test_spliceai_reference import blockwise_predict, wheel_h5_files  # noqa: F401  (pytest fixture)


def padded_reference(model: SpliceAIModel, seq: str, strand: str = "+") -> np.ndarray:
    """The whole sequence N-padded by the flank and run in one call, strand by rc-in / flip-out."""
    flank = model.config.flank
    x = np.concatenate([np.zeros((flank, 4), np.float32), one_hot(seq), np.zeros((flank, 4), np.float32)])
    if strand == "-":
        x = x[::-1, ::-1]
    with torch.no_grad():
        probs = model(torch.from_numpy(x.copy())[None]).probabilities[0].numpy()
    return probs[::-1] if strand == "-" else probs


@pytest.fixture(scope="module")
def rng_sequence() -> str:
    rng = np.random.default_rng(7)
    letters = np.array(list("ACGTN"))[rng.choice(5, 157, p=[0.24, 0.24, 0.24, 0.24, 0.04])]
    return "".join(letters)


@pytest.mark.parametrize("strand", ["+", "-"])
@pytest.mark.parametrize("chunk_size", [7, 37, 157, 1000])
def test_chunking_gives_the_one_call_numbers(rng_sequence: str, strand: str, chunk_size: int) -> None:
    model = tiny_model()
    expected = padded_reference(model, rng_sequence, strand)
    got = predict_sequence(model, rng_sequence, strand=strand, chunk_size=chunk_size, batch_size=3)
    assert got.shape == (157, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_minus_strand_is_reverse_complement_in_flip_out(rng_sequence: str) -> None:
    model = tiny_model()
    minus = predict_sequence(model, rng_sequence, strand="-", chunk_size=40)
    rc_plus = predict_sequence(model, reverse_complement(rng_sequence), strand="+", chunk_size=40)
    np.testing.assert_allclose(minus, rc_plus[::-1], atol=1e-6, rtol=0)
    # ... and the network itself is not strand-symmetric: the two strands differ.
    assert np.abs(minus - predict_sequence(model, rng_sequence, chunk_size=40)).max() > 1e-3


def test_sequences_shorter_than_the_flank_and_empty() -> None:
    model = tiny_model()
    np.testing.assert_allclose(predict_sequence(model, "ACG"), padded_reference(model, "ACG"), atol=1e-6, rtol=0)
    assert predict_sequence(model, "").shape == (0, 3)
    assert list(iter_predict(model, "")) == []


def test_case_and_u_and_ambiguity_letters() -> None:
    model = tiny_model()
    base = predict_sequence(model, "ACGTNACGTT")
    np.testing.assert_array_equal(predict_sequence(model, "acgunACGUT"), base)
    np.testing.assert_array_equal(predict_sequence(model, "ACGTRACGTT"), base)  # R is unknown, like N


def test_iter_predict_streams_ordered_tiles(rng_sequence: str) -> None:
    model = tiny_model()
    stream = iter_predict(model, rng_sequence, chunk_size=40, batch_size=2)
    first_start, first = next(stream)  # a generator: the first chunk comes before the rest is computed
    chunks = [(first_start, first), *stream]
    assert [(s, len(p)) for s, p in chunks] == [(0, 40), (40, 40), (80, 40), (120, 37)]
    np.testing.assert_array_equal(np.concatenate([p for _, p in chunks]), predict_sequence(model, rng_sequence))


def test_invalid_input_errors() -> None:
    model = tiny_model()
    seq = "ACGT" * 30 + "AC-GT"
    with pytest.raises(ValueError, match=r"^position 123: invalid character '-' \(expected A, C, G, T/U or an IUPAC ambiguity code\)$"):
        predict_sequence(model, seq, chunk_size=50)
    with pytest.raises(ValueError, match="strand must be '\\+' or '-', got 'minus'"):
        predict_sequence(model, "ACGT", strand="minus")
    with pytest.raises(ValueError, match="chunk_size and batch_size must be positive"):
        predict_sequence(model, "ACGT", chunk_size=0)


@pytest.mark.parametrize("strand", ["+", "-"])
def test_invalid_character_message_is_the_shared_one_based_message(strand: str) -> None:
    """SpliceAI prediction of a string reports the tokenizer's and the pipelines' message (1-based)."""
    from nucleoforge.pipelines.splice_site import SpliceSitePipeline

    model = tiny_model()
    expected = "position 3: invalid character 'X' (expected A, C, G, T/U or an IUPAC ambiguity code)"
    with pytest.raises(ValueError) as err:
        predict_sequence(model, "ACXTACGTAC", strand=strand, chunk_size=4)
    assert str(err.value) == expected
    with pytest.raises(ValueError) as err:
        SpliceSitePipeline(model=model, device="cpu")("ACXTACGTAC", strand=strand)
    assert str(err.value) == expected


def test_predict_flanked_is_a_batched_no_grad_call() -> None:
    model = tiny_model().train()
    x = np.stack([one_hot("ACGTTGCA" * 8), one_hot("TTGACCAN" * 8)])
    got = predict_flanked(model, x)
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).probabilities.numpy()
    assert got.shape == (2, 64 - 24, 3)
    np.testing.assert_array_equal(got, expected)


def test_real_30kb_chunked_equals_one_shot_and_blockwise_original(wheel_h5_files, chr22_block) -> None:
    """On real chr22 sequence (TANGO2, incl. both ends): chunks == one call == the original's 5-kb blocks."""
    model = SpliceAIModel(SpliceAIConfig(num_members=1))
    model.load_state_dict(convert_keras_h5(wheel_h5_files[:1]))
    model.eval()
    seq = chr22_block[8_000:38_000]
    one_shot = predict_sequence(model, seq, chunk_size=len(seq))
    chunked = predict_sequence(model, seq, chunk_size=12_000, batch_size=2)
    np.testing.assert_allclose(chunked, one_shot, atol=1e-5, rtol=0)

    def keras_like_window_call(windows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(windows)).probabilities.numpy()

    blockwise = blockwise_predict(keras_like_window_call, one_hot(seq), model.config.flank, block=5000)
    np.testing.assert_allclose(chunked, blockwise, atol=1e-5, rtol=0)
    assert chunked[:, 1:].max() > 0.5  # TANGO2's exons are in there: not a trivial all-"neither" output
