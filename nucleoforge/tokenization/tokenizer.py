"""The tokenizer class: one vocabulary-driven tokenizer for single nucleotides and overlapping k-mers
(see :mod:`nucleoforge.tokenization` for the rules it follows)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers import BatchEncoding, PreTrainedTokenizer

from nucleoforge import registry
from nucleoforge.alphabet import NUCLEOTIDE_LETTERS, encode_bytes, invalid_character
from nucleoforge.errors import NucleoforgeError
from nucleoforge.tokenization.kmers import covered_length, kmer_count, nucleotides_to_tokens
from nucleoforge.tokenization.masks import MASK_CHAR, mark_masks, truncate_sequence
from nucleoforge.tokenization.padding import scatter_rows


def vocabulary_for(model_type: str, k: int | None = None) -> list[str]:
    """The original vocabulary of a model, in its original id order (from :mod:`nucleoforge.registry`).

    >>> len(vocabulary_for("utrbert", 6)), vocabulary_for("splicebert")[5:]
    (4101, ['N', 'A', 'C', 'G', 'T'])
    """
    return registry.family(model_type).tokens(k)


# Byte codes used by the vectorised path: 0..3 = A, C, G, T/U (alphabet.encode_bytes), then these.
_AMBIG, _MASK, _INVALID = 4, 5, 255


class NucleotideTokenizer(PreTrainedTokenizer):
    """Tokenizer for nucleotide sequences with a single-nucleotide or k-mer vocabulary.

    Args:
        vocab_file: a ``vocab.txt`` with one token per line (line number = id).
        k: k-mer size; ``None`` infers it from the vocabulary.
        errors: ``"strict"`` (default) raises ``ValueError`` on characters that are not
            nucleotides; ``"replace"`` maps them to ``N``/``[UNK]`` instead.
    """

    vocab_files_names = {"vocab_file": "vocab.txt"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | None = None,
        k: int | None = None,
        errors: str = "strict",
        vocab: Sequence[str] | None = None,
        unk_token: str = "[UNK]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        mask_token: str = "[MASK]",
        **kwargs: Any,
    ) -> None:
        if vocab is None:
            if vocab_file is None:
                raise NucleoforgeError("NucleotideTokenizer needs a vocab_file or a vocab list")
            with open(vocab_file, encoding="utf-8") as fh:
                vocab = [line.rstrip("\r\n") for line in fh if line.rstrip("\r\n")]
        self._vocab: dict[str, int] = {}
        for i, token in enumerate(vocab):
            if token in self._vocab:
                raise NucleoforgeError(f"vocabulary token {token!r} appears twice (ids {self._vocab[token]} and {i})")
            self._vocab[token] = i
        self.ids_to_tokens = {i: t for t, i in self._vocab.items()}
        for name, token in (("unk", unk_token), ("pad", pad_token), ("cls", cls_token), ("sep", sep_token), ("mask", mask_token)):
            if str(token) not in self._vocab:
                raise NucleoforgeError(f"the vocabulary has no {name} token {str(token)!r}")
        if errors not in ("strict", "replace"):
            raise NucleoforgeError(f"errors must be 'strict' or 'replace', got {errors!r}")
        self.errors = errors
        self._unk = str(unk_token)
        self.k = self._infer_k(k)
        self._build_tables()
        super().__init__(
            k=self.k,
            errors=errors,
            unk_token=unk_token,
            pad_token=pad_token,
            cls_token=cls_token,
            sep_token=sep_token,
            mask_token=mask_token,
            **kwargs,
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """transformers' ``from_pretrained``, with a model name that is no local folder resolved by
        :func:`nucleoforge.registry.locate` first (``splicebert`` → ``multimolecule/splicebert`` in
        the Hugging Face cache; ``revision=`` pins it)."""
        folder = str(pretrained_model_name_or_path)
        if not os.path.isdir(folder) and not os.path.isfile(folder):
            folder = registry.locate(folder, kwargs.get("revision"), bool(kwargs.get("local_files_only")))
        return cls._from_folder(folder, *args, **kwargs)

    @classmethod
    def _from_folder(cls, folder: str, *args: Any, **kwargs: Any) -> Any:
        """The tokenizer saved in the local ``folder`` (``from_pretrained`` after name resolution)."""
        return super().from_pretrained(folder, *args, **kwargs)

    @classmethod
    def for_model(cls, model_type: str, k: int | None = None, **kwargs: Any) -> NucleotideTokenizer:
        """The tokenizer of a registered model family: ``splicebert`` (``variant`` sets the length),
        ``utrbert`` (k = 3..6), ``rnaernie``, ``genebert-sequence`` / ``dnabert`` (ACGT k-mers)…"""
        entry = registry.family(model_type)
        k = entry.check_k(k)
        kwargs.setdefault("model_max_length", entry.positions(kwargs.pop("variant", None)))
        return cls(vocab=entry.tokens(k), k=k, **kwargs)

    @classmethod
    def for_config(cls, config: Any, **kwargs: Any) -> NucleotideTokenizer:
        """The tokenizer matching a BERT-family config (its family's vocabulary for ``config.k``,
        ``model_max_length`` from its positions)."""
        entry = registry.family_of_config(config)
        kwargs.setdefault("model_max_length", config.max_position_embeddings)
        return cls(vocab=entry.tokens(getattr(config, "k", None)), k=getattr(config, "k", None), **kwargs)

    def _infer_k(self, k: int | None) -> int:
        lengths = {len(t) for t in self._vocab if set(t) <= set("ACGTU") and t}
        if k is None:
            if len(lengths) != 1:
                raise NucleoforgeError(f"cannot infer k from the vocabulary (nucleotide tokens of lengths {sorted(lengths)}); pass k=")
            k = next(iter(lengths))
        if k < 1 or k not in lengths:
            raise NucleoforgeError(f"k={k} does not match the vocabulary (it has nucleotide tokens of lengths {sorted(lengths)})")
        return k

    def _build_tables(self) -> None:
        k = self.k
        kmers = [t for t in self._vocab if len(t) == k and set(t) <= set("ACGTU")]
        letters = set("".join(kmers))
        if "T" in letters and "U" in letters:
            raise NucleoforgeError("the vocabulary mixes T and U nucleotide tokens")
        self.fourth_base = "U" if "U" in letters else "T"
        bases = "ACG" + self.fourth_base
        missing = ["".join(p) for p in itertools.product(bases, repeat=k) if "".join(p) not in self._vocab]
        if missing:
            raise NucleoforgeError(f"the {k}-mer vocabulary lacks {len(missing)} k-mers, e.g. {missing[:3]}")
        # k-mer code (base-4 number over A,C,G,T/U) -> token id
        self._kmer_ids = np.array(
            [self._vocab["".join(p)] for p in itertools.product(bases, repeat=k)], dtype=np.int64
        )
        self.has_n = k == 1 and "N" in self._vocab
        self._ambiguous_id = self._vocab["N"] if self.has_n else self._vocab[self._unk]
        codes = np.full(256, _INVALID, dtype=np.uint8)
        letters = NUCLEOTIDE_LETTERS + NUCLEOTIDE_LETTERS.lower()
        # alphabet's one letter table: A C G T/U -> 0..3, every other nucleotide letter (IUPAC) -> 4 = _AMBIG
        codes[np.frombuffer(letters.encode("ascii"), dtype=np.uint8)] = encode_bytes(letters)
        codes[ord(MASK_CHAR)] = _MASK
        self._codes = codes
        # single-nucleotide vocabularies with their own IUPAC tokens (MultiMolecule's): those letters keep them
        own = np.full(256, -1, dtype=np.int64)
        if k == 1:
            for letter in NUCLEOTIDE_LETTERS:
                if letter not in "ACGTUN" and letter in self._vocab:
                    own[[ord(letter), ord(letter.lower())]] = self._vocab[letter]
        self._own_letters = own if (own >= 0).any() else None

    # ------------------------------------------------------------------ vocabulary API
    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self._vocab, **self.added_tokens_encoder)

    def _convert_token_to_id(self, token: str) -> int:
        return self._vocab.get(token, self._vocab[str(self.unk_token)])

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens.get(index, str(self.unk_token))

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        name = (filename_prefix + "-" if filename_prefix else "") + "vocab.txt"
        path = os.path.join(save_directory, name) if os.path.isdir(save_directory) else save_directory
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(len(self.ids_to_tokens)):
                fh.write(self.ids_to_tokens[i] + "\n")
        return (path,)

    @property
    def nucleotide_token_ids(self) -> dict[str, int]:
        """Ids of the four nucleotide tokens (single-nucleotide vocabularies), keyed A, C, G, T/U."""
        if self.k != 1:
            raise NucleoforgeError(f"a {self.k}-mer vocabulary has no single-nucleotide tokens")
        return {b: self._vocab[b] for b in "ACG" + self.fourth_base}

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None) -> list[int]:
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + token_ids_0 + sep
        return cls + token_ids_0 + sep + token_ids_1 + sep

    def get_special_tokens_mask(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None, already_has_special_tokens: bool = False
    ) -> list[int]:
        if already_has_special_tokens:
            special = set(self.all_special_ids)
            return [1 if t in special else 0 for t in token_ids_0]
        mask = [1] + [0] * len(token_ids_0) + [1]
        if token_ids_1 is not None:
            mask += [0] * len(token_ids_1) + [1]
        return mask

    def create_token_type_ids_from_sequences(self, token_ids_0: list[int], token_ids_1: list[int] | None = None) -> list[int]:
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    # ------------------------------------------------------------------ encoding
    def num_tokens(self, length: int) -> int:
        """Tokens (without specials) for a sequence of ``length`` nucleotides."""
        return kmer_count(length, self.k)

    def encode_sequences(
        self,
        sequences: Sequence[str],
        errors: str | None = None,
        masks: Sequence[np.ndarray | None] | None = None,
        add_special_tokens: bool = False,
    ) -> list[np.ndarray]:
        """Token ids of each sequence, vectorised over the whole batch.

        ``masks``: per sequence ``None`` or a boolean array over its nucleotides; those
        nucleotides are masked (as if written ``<mask>``: every token covering one is
        ``[MASK]``). ``add_special_tokens`` wraps each row in ``[CLS] … [SEP]``.

        >>> tok = NucleotideTokenizer.for_model("utrbert", k=3)
        >>> ids = tok.encode_sequences(["ACGUA"], masks=[np.array([0, 0, 0, 0, 1], bool)])[0]
        >>> tok.convert_ids_to_tokens(ids.tolist())
        ['ACG', 'CGU', '[MASK]']
        """
        flat, lengths = self._encode_flat(list(sequences), errors or self.errors, masks)
        counts = kmer_count(np.asarray(lengths, dtype=np.int64), self.k)
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        rows = [flat[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]
        return [self.with_special_tokens(r) for r in rows] if add_special_tokens else rows

    def with_special_tokens(self, ids: np.ndarray) -> np.ndarray:
        """``[CLS] ids [SEP]`` as int64."""
        return np.concatenate([[self.cls_token_id], ids, [self.sep_token_id]]).astype(np.int64)

    def _prepare(self, sequences: list[str]) -> list[str]:
        out = []
        for i, seq in enumerate(sequences):
            if not isinstance(seq, str):
                raise TypeError(f"sequence {i}: expected a string, got {type(seq).__name__}")
            out.append(mark_masks(seq))
        return out

    def _encode_flat(
        self, sequences: list[str], errors: str, masks: Sequence[np.ndarray | None] | None = None
    ) -> tuple[np.ndarray, list[int]]:
        sequences = self._prepare(sequences)
        lengths = [len(s) for s in sequences]
        if not sequences:
            return np.zeros(0, dtype=np.int64), lengths
        k = self.k
        if k > 1:
            for i, n in enumerate(lengths):
                if n < k:
                    raise NucleoforgeError(
                        f"sequence {i} has {n} nucleotides, shorter than k={k}: a {k}-mer tokenizer needs at least {k}"
                    )
        # one byte per character: a non-ASCII one becomes "?", which is invalid like every other non-letter
        raw = "".join(sequences).encode("ascii", "replace")
        codes = self._codes[np.frombuffer(raw, dtype=np.uint8)]
        if masks is not None:
            codes[self._flat_masks(masks, lengths)] = _MASK
        invalid = codes == _INVALID
        if invalid.any():
            if errors == "strict":
                self._raise_invalid(sequences, lengths, int(np.argmax(invalid)))
            codes = np.where(invalid, _AMBIG, codes).astype(np.uint8)
        if k == 1:
            lut = np.empty(256, dtype=np.int64)
            lut[:4] = self._kmer_ids
            lut[_AMBIG] = self._ambiguous_id
            lut[_MASK] = self.mask_token_id
            ids = lut[codes]
            if self._own_letters is not None:
                own = self._own_letters[np.frombuffer(raw, dtype=np.uint8)]
                keep = (own >= 0) & (codes != _MASK)
                ids[keep] = own[keep]
            return ids, lengths
        # k-mers: base-4 number over each window; any ambiguous letter -> [UNK], any mask -> [MASK]
        n_windows = kmer_count(len(codes), k)
        base = (codes & 3).astype(np.int32)
        values = base[:n_windows].copy()
        for j in range(1, k):
            np.multiply(values, 4, out=values)
            np.add(values, base[j : j + n_windows], out=values)
        ids = self._kmer_ids[values]
        special = codes >= _AMBIG
        if special.any():
            ids[nucleotides_to_tokens(special, k)] = self.unk_token_id
            masked = codes == _MASK
            if masked.any():
                ids[nucleotides_to_tokens(masked, k)] = self.mask_token_id
        # keep only windows that lie inside one sequence
        if len(set(lengths)) == 1:
            n, per = lengths[0], kmer_count(lengths[0], k)
            return _strided_windows(ids, len(lengths), n, per), lengths
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        counts = kmer_count(np.array(lengths, dtype=np.int64), k)
        index = np.repeat(starts, counts) + _ranges(counts)
        return ids[index], lengths

    @staticmethod
    def _flat_masks(masks: Sequence[np.ndarray | None], lengths: list[int]) -> np.ndarray:
        if len(masks) != len(lengths):
            raise NucleoforgeError(f"{len(masks)} masks for {len(lengths)} sequences")
        parts = []
        for i, (mask, n) in enumerate(zip(masks, lengths)):
            mask = np.zeros(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool).reshape(-1)
            if len(mask) != n:
                raise NucleoforgeError(f"sequence {i}: the mask covers {len(mask)} positions, the sequence has {n} nucleotides")
            parts.append(mask)
        return np.concatenate(parts)

    def _raise_invalid(self, sequences: list[str], lengths: list[int], flat_pos: int) -> None:
        ends = np.cumsum(lengths)
        seq_index = int(np.searchsorted(ends, flat_pos, side="right"))
        pos = flat_pos - (int(ends[seq_index - 1]) if seq_index else 0)
        target = "N" if self.has_n else "[UNK]"
        raise invalid_character(sequences[seq_index][pos], pos, seq_index, f'pass errors="replace" to map it to {target}')

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        ids = self.encode_sequences([text])[0]
        return [self.ids_to_tokens[int(i)] for i in ids]

    def tokenize(self, text: str, **kwargs: Any) -> list[str]:  # masks are part of the sequence
        return self._tokenize(text)

    def __call__(self, text: Any = None, text_pair: Any = None, *args: Any, **kwargs: Any) -> BatchEncoding:
        """Tokenise one sequence or a batch; plain string inputs take the vectorised path.

        Accepts the usual transformers arguments (``padding``, ``truncation``, ``max_length``,
        ``pad_to_multiple_of``, ``padding_side``, ``return_tensors``, ``return_attention_mask``,
        ``return_token_type_ids``, ``return_special_tokens_mask``, ``return_length``) and
        ``errors="strict"|"replace"``. Pairs, pre-tokenised input and targets use the generic path.
        """
        generic_only = {"text_target", "text_pair_target", "is_split_into_words", "return_overflowing_tokens",
                        "return_offsets_mapping", "stride"}  # fmt: skip
        single = isinstance(text, str)
        batch = isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text)
        if text_pair is None and not args and (single or batch) and not any(kwargs.get(key) for key in generic_only):
            for key in generic_only:
                kwargs.pop(key, None)
            return self._fast_call([text] if single else list(text), single, **kwargs)
        kwargs.pop("errors", None)
        return super().__call__(text, text_pair, *args, **kwargs)

    def _fast_call(
        self,
        sequences: list[str],
        single: bool,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_special_tokens_mask: bool = False,
        return_length: bool = False,
        errors: str | None = None,
        verbose: bool = True,
        **unused: Any,
    ) -> BatchEncoding:
        unused.pop("split_special_tokens", None)
        if unused:
            raise TypeError(f"unexpected tokenizer arguments: {sorted(unused)}")
        errors = errors or self.errors
        if errors not in ("strict", "replace"):
            raise NucleoforgeError(f"errors must be 'strict' or 'replace', got {errors!r}")
        if not sequences:  # as transformers' own tokenizers, which raise on an empty list too
            raise NucleoforgeError("cannot tokenize an empty batch: pass at least one sequence")
        n_special = 2 if add_special_tokens else 0
        limit = max_length if max_length is not None else self.model_max_length
        truncate = truncation not in (None, False, "do_not_truncate")
        if truncate:
            if limit is None or limit > 10**9:
                raise NucleoforgeError("truncation=True needs max_length (the tokenizer has no model_max_length)")
            keep = covered_length(limit - n_special, self.k)
            if keep < self.k:
                raise NucleoforgeError(f"max_length={limit} leaves no room for a {self.k}-mer after special tokens")
            sequences = [truncate_sequence(s, keep) for s in sequences]
        flat, nt_lengths = self._encode_flat(list(sequences), errors)
        counts = np.array([self.num_tokens(n) for n in nt_lengths], dtype=np.int64)
        lengths = counts + n_special
        if limit is not None and limit < 10**9 and not truncate and len(lengths) and lengths.max() > limit:
            i = int(np.argmax(lengths > limit))
            raise NucleoforgeError(
                f"sequence {i} gives {int(lengths[i])} tokens, more than the model's maximum of {limit} "
                f"({covered_length(limit - n_special, self.k)} nucleotides); pass truncation=True, or use a windowed "
                "pipeline (nucleoforge.pipelines) for long sequences"
            )
        width = _padded_width(padding, lengths, limit, pad_to_multiple_of)
        if width is None and len(set(lengths.tolist())) > 1 and return_tensors is not None:
            raise NucleoforgeError("sequences of different lengths need padding=True to be returned as tensors")
        wanted = {
            "attention_mask": return_attention_mask if return_attention_mask is not None else True,
            "token_type_ids": bool(return_token_type_ids), "special_tokens_mask": return_special_tokens_mask,
        }  # fmt: skip
        if width is None:
            out = self._unpadded(flat, counts, add_special_tokens, wanted, return_tensors)
        else:
            side = padding_side or self.padding_side
            out = self._padded(flat, lengths, width, side, add_special_tokens, wanted, return_tensors)
        if return_length:
            out["length"] = lengths.tolist() if return_tensors is None else lengths
        if single and return_tensors is None:
            out = {key: value[0] for key, value in out.items()}
        if return_tensors == "pt":  # zero-copy; BatchEncoding's own conversion would copy
            import torch

            return BatchEncoding({key: torch.from_numpy(np.ascontiguousarray(v)) for key, v in out.items()})
        return BatchEncoding(out, tensor_type=return_tensors)

    def _unpadded(
        self, flat: np.ndarray, counts: np.ndarray, add_special_tokens: bool, wanted: dict[str, bool], return_tensors: str | None
    ) -> dict[str, Any]:
        """The fast path's outputs without padding: one row per sequence (lists, or stacked arrays
        when the rows are equally long and tensors are asked for)."""
        bounds = np.concatenate([[0], np.cumsum(counts)])
        rows = [flat[bounds[i] : bounds[i + 1]] for i in range(len(counts))]
        rows = [self.with_special_tokens(r) for r in rows] if add_special_tokens else rows
        out: dict[str, Any] = {"input_ids": rows}
        if wanted["attention_mask"]:
            out["attention_mask"] = [np.ones(len(r), dtype=np.int64) for r in rows]
        if wanted["token_type_ids"]:
            out["token_type_ids"] = [np.zeros(len(r), dtype=np.int64) for r in rows]
        if wanted["special_tokens_mask"]:
            out["special_tokens_mask"] = [self._special_mask(r, add_special_tokens) for r in rows]
        if return_tensors is None:
            return {key: [r.tolist() for r in value] for key, value in out.items()}
        return {key: np.stack(value) if value else np.zeros((0, 0), np.int64) for key, value in out.items()}

    def _padded(
        self, flat: np.ndarray, lengths: np.ndarray, width: int, side: str, add_special_tokens: bool,
        wanted: dict[str, bool], return_tensors: str | None,
    ) -> dict[str, Any]:
        """The fast path's outputs padded to ``width`` on ``side`` (arrays, or lists without tensors)."""
        margin = 1 if add_special_tokens else 0
        input_ids, inside, is_token = scatter_rows(flat, lengths, self.pad_token_id, width, None, side, np.int64, margin)
        if add_special_tokens:
            rows_index = np.arange(len(lengths))
            start = np.zeros_like(lengths) if side == "right" else input_ids.shape[1] - lengths
            input_ids[rows_index, start] = self.cls_token_id
            input_ids[rows_index, start + lengths - 1] = self.sep_token_id
        out: dict[str, Any] = {"input_ids": input_ids}
        if wanted["attention_mask"]:
            out["attention_mask"] = inside.astype(np.int64)
        if wanted["token_type_ids"]:
            out["token_type_ids"] = np.zeros_like(input_ids)
        if wanted["special_tokens_mask"]:
            out["special_tokens_mask"] = (~is_token).astype(np.int64)
        if return_tensors is None:
            return {key: value.tolist() for key, value in out.items()}
        return out

    def _special_mask(self, row: np.ndarray, add: bool) -> np.ndarray:
        mask = np.zeros(len(row), dtype=np.int64)
        if add:
            mask[0] = mask[-1] = 1
        return mask


def _padded_width(padding: bool | str | None, lengths: np.ndarray, limit: int | None, pad_to_multiple_of: int | None) -> int | None:
    """The padded row width the ``padding`` argument asks for (``None``: no padding)."""
    if padding is True or padding == "longest":
        width = int(lengths.max()) if len(lengths) else 0
    elif padding == "max_length":
        if limit is None or limit > 10**9:
            raise NucleoforgeError("padding='max_length' needs max_length")
        width = limit
    elif padding in (False, None, "do_not_pad"):
        return None
    else:
        raise NucleoforgeError(f"padding must be True, False, 'longest' or 'max_length', got {padding!r}")
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    return width


def _strided_windows(ids: np.ndarray, batch: int, length: int, per: int) -> np.ndarray:
    """The first ``per`` window ids of each of ``batch`` equal-length sequences, flattened."""
    padded = np.concatenate([ids, np.zeros(length - per, dtype=ids.dtype)])
    return padded.reshape(batch, length)[:, :per].reshape(-1)


def _ranges(counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(c)`` for every c in ``counts``, vectorised."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


#: MultiMolecule's special tokens, in its id order (ids 0-5 of every vocabulary it writes)
MULTIMOLECULE_SPECIALS = ["<pad>", "<cls>", "<eos>", "<unk>", "<mask>", "<null>"]
#: the letters after them in its default ("standard") RNA and DNA alphabets
_MM_RNA = list("ACGUNRYSWKMBDHVIX") + ["|", ".", "*", "-", "?"]
_MM_DNA = list("ACGTNRYSWKMBDHVX") + ["|", ".", "*", "-", "?"]


class RnaTokenizer(NucleotideTokenizer):
    """MultiMolecule's tokenizer interface (``RnaTokenizer.from_pretrained("multimolecule/splicebert")``)
    on nucleoforge's tokenizer: the folder's ``vocab.txt`` is kept as it is (no re-indexing),
    ``<cls> … <eos>`` around each sequence, T read as U, ``nmers`` overlapping k-mers.

    Differences from MultiMolecule's own tokenizer, on purpose: characters that are no nucleotide
    letter raise an error naming them (``errors="replace"`` maps them to ``N``) instead of
    becoming ``<unk>``; in a k-mer vocabulary a written ``<mask>`` stands for one nucleotide, so
    every k-mer covering it is ``<mask>`` (MultiMolecule drops those overlapping k-mers), and a
    k-mer containing an ambiguity letter is ``<unk>``.

    >>> tok = RnaTokenizer()
    >>> tok("gguc<mask>U")["input_ids"]
    [1, 8, 8, 9, 7, 4, 9, 2]
    >>> tok.convert_ids_to_tokens(tok("ACGTR")["input_ids"])
    ['<cls>', 'A', 'C', 'G', 'U', 'R', '<eos>']
    """

    default_letters = _MM_RNA

    def __init__(self, vocab_file: str | None = None, nmers: int = 1, vocab: Sequence[str] | None = None,
                 unk_token: str = "<unk>", pad_token: str = "<pad>", cls_token: str = "<cls>", sep_token: str = "<eos>",
                 mask_token: str = "<mask>", bos_token: str | None = None, eos_token: str | None = None,
                 **kwargs: Any) -> None:
        # MultiMolecule's own options: the vocabulary already says which letter is the fourth base,
        # and letters are read in either case
        for name in ("replace_T_with_U", "replace_U_with_T", "do_upper_case", "alphabet", "codon", "backend"):
            kwargs.pop(name, None)
        if kwargs.pop("codon", False):
            raise NucleoforgeError("codon tokenization (non-overlapping triplets) is not supported")
        if vocab is None and vocab_file is None:
            letters = self.default_letters if nmers == 1 else ["".join(p) for p in itertools.product("ACGUN", repeat=nmers)]
            vocab = MULTIMOLECULE_SPECIALS + letters
        kwargs.setdefault("bos_token", bos_token or cls_token)
        kwargs.setdefault("eos_token", eos_token or sep_token)
        super().__init__(vocab_file=vocab_file, k=nmers, vocab=vocab, unk_token=unk_token, pad_token=pad_token,
                         cls_token=cls_token, sep_token=sep_token, mask_token=mask_token, **kwargs)

    @classmethod
    def _from_folder(cls, folder: str, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`NucleotideTokenizer._from_folder`; a SpliceAI model folder (it has no tokenizer
        files: SpliceAI reads one-hot input) gives the default vocabulary, whose ids ``SpliceAiModel`` takes."""
        from nucleoforge.io.checkpoints import folder_model_type

        if (os.path.isfile(os.path.join(folder, "config.json")) and not os.path.exists(os.path.join(folder, "vocab.txt"))
                and folder_model_type(folder) == "spliceai"):
            return cls()
        return super()._from_folder(folder, *args, **kwargs)

    @property
    def nmers(self) -> int:
        return self.k


class DnaTokenizer(RnaTokenizer):
    """:class:`RnaTokenizer` with MultiMolecule's DNA alphabet (U read as T).

    >>> DnaTokenizer().convert_ids_to_tokens(DnaTokenizer()("acgu")["input_ids"])
    ['<cls>', 'A', 'C', 'G', 'T', '<eos>']
    """

    default_letters = _MM_DNA
