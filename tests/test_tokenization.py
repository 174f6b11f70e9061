"""NucleotideTokenizer: exact vocabularies and ids, k-mers, masks, errors, batching, save/load."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

import nucleoforge  # noqa: F401  (registers the Auto classes)
from nucleoforge.tokenization import RNAERNIE_RNA_TYPES, NucleotideTokenizer, vocabulary_for


def test_splicebert_vocabulary_and_ids() -> None:
    tok = NucleotideTokenizer.for_model("splicebert")
    assert [tok.convert_ids_to_tokens(i) for i in range(10)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "N", "A", "C", "G", "T"]
    # upper-casing, U -> T, IUPAC -> N
    assert tok("acguRyn")["input_ids"] == [2, 6, 7, 8, 9, 5, 5, 5, 3]
    assert tok.model_max_length == 1026
    assert NucleotideTokenizer.for_model("splicebert", variant="splicebert.510").model_max_length == 512


@pytest.mark.parametrize("k,size", [(3, 69), (4, 261), (5, 1029), (6, 4101)])
def test_utrbert_vocabulary_order(k: int, size: int) -> None:
    tok = NucleotideTokenizer.for_model("utrbert", k=k)
    assert tok.vocab_size == size == len(tok)
    expected = ["".join(p) for p in itertools.product("AUCG", repeat=k)]
    assert [tok.convert_ids_to_tokens(i) for i in range(5, size)] == expected
    seq = "ACGTTGCAAC"
    ids = tok(seq, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(seq) - k + 1
    rna = seq.replace("T", "U")  # T -> U (the original left T as [UNK])
    assert ids == [tok.convert_tokens_to_ids(rna[i : i + k]) for i in range(len(seq) - k + 1)]


def test_utrbert_ambiguity_and_mask_kmers() -> None:
    tok = NucleotideTokenizer.for_model("utrbert", k=3)
    tokens = tok.convert_ids_to_tokens(tok("ACGNAUG", add_special_tokens=False)["input_ids"])
    assert tokens == ["ACG", "[UNK]", "[UNK]", "[UNK]", "AUG"]
    # a masked nucleotide masks every k-mer covering it, including at the edges
    for k in (3, 4, 5, 6):
        tok = NucleotideTokenizer.for_model("utrbert", k=k)
        for pos in (0, 4, 9):
            seq = "ACGUACGUAC"
            masked = seq[:pos] + "<mask>" + seq[pos + 1 :]
            ids = tok(masked, add_special_tokens=False)["input_ids"]
            expected = [t for t in range(len(seq) - k + 1) if t <= pos < t + k]
            assert [i for i, t in enumerate(ids) if t == tok.mask_token_id] == expected


def test_rnaernie_vocabulary() -> None:
    vocab = vocabulary_for("rnaernie")
    assert len(vocab) == 39 and vocab[:7] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEL]", "[IND]"]
    assert vocab[7:35] == RNAERNIE_RNA_TYPES and vocab[7] == "RNaseMRPRNA" and vocab[34] == "vaultRNA"
    assert vocab[35:] == ["A", "T", "C", "G"]
    tok = NucleotideTokenizer.for_model("rnaernie")
    assert tok("AUCGN")["input_ids"] == [2, 35, 36, 37, 38, 1, 3]  # U -> T, no N token -> [UNK]
    assert tok.model_max_length == 513


@pytest.mark.parametrize(
    "seq,index,pos,char",
    [("ACGX", 0, 3, "X"), ("AC1G", 0, 2, "1"), ("AC G", 0, 2, " "), ("ACé", 0, 2, "é"), ("AC*", 0, 2, "*")],
)
def test_invalid_characters_are_named(seq: str, index: int, pos: int, char: str) -> None:
    tok = NucleotideTokenizer.for_model("splicebert")
    with pytest.raises(ValueError) as err:
        tok(["ACGT", seq][index:] if index else seq)
    assert f"position {pos + 1}:" in str(err.value) and repr(char) in str(err.value)  # 1-based in messages
    assert tok(seq, errors="replace")["input_ids"][pos + 1] == tok.convert_tokens_to_ids("N")


def test_invalid_character_in_second_sequence() -> None:
    tok = NucleotideTokenizer.for_model("rnaernie")
    with pytest.raises(ValueError, match=r"sequence 1, position 2: invalid character 'Z'"):
        tok(["ACGU", "AZ"], padding=True)
    assert tok(["ACGU", "AZ"], padding=True, errors="replace")["input_ids"][1][2] == tok.unk_token_id


def test_kmer_sequence_shorter_than_k() -> None:
    tok = NucleotideTokenizer.for_model("utrbert", k=6)
    with pytest.raises(ValueError, match="sequence 1 has 4 nucleotides, shorter than k=6"):
        tok(["ACGUACGU", "ACGU"])


def test_too_long_and_truncation() -> None:
    tok = NucleotideTokenizer.for_model("splicebert", variant="splicebert.510")
    with pytest.raises(ValueError, match="more than the model's maximum of 512"):
        tok("A" * 511)
    ids = tok("ACGT" * 200, truncation=True)["input_ids"]
    assert len(ids) == 512 and ids[-1] == tok.sep_token_id
    tok6 = NucleotideTokenizer.for_model("utrbert", k=6)
    assert len(tok6("ACGU" * 200, truncation=True)["input_ids"]) == 512


def test_batch_padding_matches_single_sequences() -> None:
    tok = NucleotideTokenizer.for_model("utrbert", k=4)
    seqs = ["ACGUACGUAC", "GGCAU", "UUUUAAAACCCCGGGG"]
    batch = tok(seqs, padding=True, return_tensors="pt")
    assert batch["input_ids"].shape == (3, 15) and batch["input_ids"].dtype == torch.long
    for i, s in enumerate(seqs):
        single = tok(s)["input_ids"]
        assert batch["input_ids"][i, : len(single)].tolist() == single
        assert batch["attention_mask"][i].sum().item() == len(single)
        assert (batch["input_ids"][i, len(single) :] == tok.pad_token_id).all()
    left = tok(seqs, padding=True, padding_side="left", return_tensors="np")
    assert left["input_ids"][1, -4:].tolist() == tok("GGCAU")["input_ids"]
    assert left["attention_mask"][1].tolist() == [0] * 11 + [1] * 4
    multiple = tok(seqs, padding=True, pad_to_multiple_of=8)
    assert all(len(r) == 16 for r in multiple["input_ids"])


def test_vectorised_path_equals_per_sequence_encoding() -> None:
    rng = np.random.default_rng(0)
    letters = np.array(list("ACGTUNRYacgtun"))
    seqs = ["".join(rng.choice(letters, size=n)) for n in rng.integers(6, 60, size=50)]
    for name, k in (("splicebert", None), ("utrbert", 5), ("rnaernie", None)):
        tok = NucleotideTokenizer.for_model(name, k=k)
        batch = tok(seqs, padding=True)["input_ids"]
        for s, row in zip(seqs, batch):
            expected = [tok.cls_token_id] + [tok._convert_token_to_id(t) for t in _reference_tokens(s, tok)] + [tok.sep_token_id]
            assert row[: len(expected)] == expected


def _reference_tokens(seq: str, tok: NucleotideTokenizer) -> list[str]:
    """Slow, obvious reference: per-character mapping then k-mers."""
    letters = []
    for c in seq.upper():
        if c in "TU":
            c = tok.fourth_base
        elif c not in "ACG":
            c = "N"
        letters.append(c)
    if tok.k == 1:
        return [c if c != "N" or tok.has_n else "[UNK]" for c in letters]
    kmers = ["".join(letters[i : i + tok.k]) for i in range(len(letters) - tok.k + 1)]
    return [m if "N" not in m else "[UNK]" for m in kmers]


def test_save_and_auto_load(tmp_path) -> None:
    tok = NucleotideTokenizer.for_model("utrbert", k=5)
    tok.save_pretrained(tmp_path)
    assert (tmp_path / "vocab.txt").read_text().splitlines()[5] == "AAAAA"
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(loaded, NucleotideTokenizer) and loaded.k == 5 and loaded.model_max_length == 512
    assert loaded("ACGUACG")["input_ids"] == tok("ACGUACG")["input_ids"]


def test_vocab_file_errors(tmp_path) -> None:
    bad = tmp_path / "vocab.txt"
    bad.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nA\nC\nG\nT\n")
    with pytest.raises(ValueError, match="no mask token"):
        NucleotideTokenizer(vocab_file=str(bad))
    bad.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nA\nC\nG\nT\nA\n")
    with pytest.raises(ValueError, match="appears twice"):
        NucleotideTokenizer(vocab_file=str(bad))


def test_special_tokens_mask_and_decode() -> None:
    tok = NucleotideTokenizer.for_model("splicebert")
    out = tok(["ACG", "A"], padding=True, return_special_tokens_mask=True)
    assert out["special_tokens_mask"] == [[1, 0, 0, 0, 1], [1, 0, 1, 1, 1]]
    assert tok.decode(tok("ACGT")["input_ids"], skip_special_tokens=True) == "A C G T"
    assert tok.nucleotide_token_ids == {"A": 6, "C": 7, "G": 8, "T": 9}


# ---------------------------------------------------------------------------- the shared rules (one implementation each)
#: the message every entry point gives for "ACXT…" (1-based position), before its own prefix/hint
INVALID_X_AT_3 = "position 3: invalid character 'X' (expected A, C, G, T/U or an IUPAC ambiguity code)"


def test_invalid_character_message_is_the_shared_one_based_message() -> None:
    tok = NucleotideTokenizer.for_model("splicebert")
    with pytest.raises(ValueError) as err:
        tok("ACXT")
    assert str(err.value) == f'sequence 0, {INVALID_X_AT_3}; pass errors="replace" to map it to N'
    with pytest.raises(ValueError) as err:
        NucleotideTokenizer.for_model("utrbert", k=3).encode_sequences(["ACGU", "ACXT"])
    assert str(err.value) == f'sequence 1, {INVALID_X_AT_3}; pass errors="replace" to map it to [UNK]'


@pytest.mark.parametrize("model_type,k", [("splicebert", None), ("utrbert", 3), ("utrbert", 6)])
def test_empty_batch_raises_a_clear_value_error(model_type: str, k: int | None) -> None:
    """transformers' own (python-backend) tokenizers raise ValueError on an empty list; so do we, for every k."""
    tok = NucleotideTokenizer.for_model(model_type, k=k)
    for kwargs in ({}, {"padding": True}, {"padding": True, "return_tensors": "pt"}, {"return_tensors": "np"}):
        with pytest.raises(ValueError, match="cannot tokenize an empty batch"):
            tok([], **kwargs)
    assert tok.encode_sequences([]) == []  # the internal batch API stays well-formed


@pytest.mark.parametrize("model_type,k", [("splicebert", None), ("utrbert", 3), ("utrbert", 5)])
def test_mask_array_gives_the_ids_of_written_masks(model_type: str, k: int | None) -> None:
    from nucleoforge.tokenization import parse_masks

    tok = NucleotideTokenizer.for_model(model_type, k=k)
    text = "AC<mask>GUUAG[MASK]CCAGU<mask>"
    plain, masked = parse_masks(text)
    assert len(plain) == 15 and np.flatnonzero(masked).tolist() == [2, 8, 14]
    expected = tok(text)["input_ids"]
    assert tok.encode_sequences([plain], masks=[masked], add_special_tokens=True)[0].tolist() == expected
    # the mask array alone: any letters under it
    letters = plain.replace("\x01", "G")
    assert tok.encode_sequences([letters], masks=[masked], add_special_tokens=True)[0].tolist() == expected
    with pytest.raises(ValueError, match="the mask covers 3 positions, the sequence has 15"):
        tok.encode_sequences([letters], masks=[masked[:3]])


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_coverage_rule(k: int) -> None:
    from nucleoforge.tokenization import (
        covered_length,
        coverage_matrix,
        kmer_count,
        nucleotides_to_tokens,
        tokens_to_nucleotides,
    )

    n = 11
    t = kmer_count(n, k)
    assert t == n - k + 1 and covered_length(t, k) == n and kmer_count(k - 1, k) == 0 and covered_length(0, k) == 0
    covers = np.zeros((n, t), dtype=bool)  # covers[i, j]: token j covers nucleotide i (by definition)
    for j in range(t):
        covers[j : j + k, j] = True
    rng = np.random.default_rng(k)
    values = rng.normal(size=t)
    np.testing.assert_allclose(tokens_to_nucleotides(values, k), covers @ values)
    selected = rng.random(n) < 0.2
    assert nucleotides_to_tokens(selected, k).tolist() == (covers[selected].any(axis=0)).tolist()
    np.testing.assert_allclose(coverage_matrix(t, k), covers / covers.sum(axis=1, keepdims=True))
    # torch, batched, along another axis (the heads' use)
    x = torch.as_tensor(rng.normal(size=(2, t, 3)))
    np.testing.assert_allclose(tokens_to_nucleotides(x, k, axis=1).numpy(), np.einsum("nt,btc->bnc", covers, x.numpy()))


def test_pad_batch() -> None:
    from nucleoforge.tokenization import IGNORE_INDEX, pad_batch

    ids, mask = pad_batch([[5, 6, 7], np.array([8])], 0, pad_to_multiple_of=4)
    assert ids.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0]] and mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    ids, mask = pad_batch([[5, 6, 7], [8]], 0, side="left")
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    labels, _ = pad_batch([[0.5], [1.0, 2.0]], IGNORE_INDEX, width=3, dtype=np.float32)
    assert labels.dtype == np.float32 and labels.tolist() == [[0.5, -100, -100], [1.0, 2.0, -100]]
    with pytest.raises(ValueError, match="empty batch"):
        pad_batch([], 0)
    with pytest.raises(ValueError, match="does not fit"):
        pad_batch([[1, 2, 3]], 0, width=2)
