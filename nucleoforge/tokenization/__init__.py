"""One tokenizer for every nucleotide language model: single nucleotides and overlapping k-mers.

The vocabulary (and so the id order) is exactly the original model's, so original checkpoints
load without re-indexing their embeddings. Everything else is derived from the vocabulary:

* which letter a model uses for the fourth base (``T`` for SpliceBERT/RNAErnie, ``U`` for
  3UTRBERT): the other one is converted (U→T or T→U);
* ``k`` — k-mer vocabularies are tokenised as overlapping k-mers, stride 1 (L−k+1 tokens);
* IUPAC ambiguity letters become ``N`` where the vocabulary has it, otherwise ``[UNK]``
  (a k-mer containing one is ``[UNK]``).

Masks may be written inside a sequence as ``<mask>`` or ``[MASK]``; each stands for one
nucleotide. In a k-mer vocabulary every k-mer covering a masked nucleotide becomes ``[MASK]``.

Batches take a vectorised NumPy path (lookup tables over the bytes of all sequences at once).

>>> tok = NucleotideTokenizer.for_model("splicebert")
>>> tok("acgu<mask>N")["input_ids"]
[2, 6, 7, 8, 9, 4, 5, 3]
>>> tok3 = NucleotideTokenizer.for_model("utrbert", k=3)
>>> tok3.convert_ids_to_tokens(tok3("ACGTA")["input_ids"])
['[CLS]', 'ACG', 'CGU', 'GUA', '[SEP]']
>>> tok("ACXT")
Traceback (most recent call last):
...
nucleoforge.errors.NucleoforgeError: sequence 0, position 3: invalid character 'X' (expected A, C, G, T/U or an IUPAC ambiguity code); pass errors="replace" to map it to N

The package also holds the rules every layer above shares: how k-mer tokens cover nucleotides
(:func:`kmer_count`, :func:`covered_length`, :func:`tokens_to_nucleotides`,
:func:`nucleotides_to_tokens`, :func:`coverage_matrix`; in :mod:`~nucleoforge.tokenization.kmers`),
how written masks are read (:func:`parse_masks`, :func:`nucleotide_length`; in
:mod:`~nucleoforge.tokenization.masks`), how rows of ids are padded into a batch (:func:`pad_batch`)
and the label value that carries no loss (:data:`IGNORE_INDEX`; both in
:mod:`~nucleoforge.tokenization.padding`). The tokenizer itself is in
:mod:`~nucleoforge.tokenization.tokenizer`; import every name from this package.
"""

from nucleoforge.registry import RNAERNIE_RNA_TYPES, SPECIAL_TOKENS, kmer_vocabulary
from nucleoforge.tokenization.kmers import coverage_matrix, covered_length, kmer_count, nucleotides_to_tokens, tokens_to_nucleotides
from nucleoforge.tokenization.masks import nucleotide_length, parse_masks
from nucleoforge.tokenization.padding import IGNORE_INDEX, pad_batch
from nucleoforge.tokenization.tokenizer import DnaTokenizer, NucleotideTokenizer, RnaTokenizer, vocabulary_for

__all__ = [
    "NucleotideTokenizer", "RnaTokenizer", "DnaTokenizer", "vocabulary_for", "IGNORE_INDEX", "pad_batch", "kmer_count", "covered_length",
    "tokens_to_nucleotides", "nucleotides_to_tokens", "coverage_matrix", "parse_masks", "nucleotide_length",
    "RNAERNIE_RNA_TYPES", "SPECIAL_TOKENS", "kmer_vocabulary",
]  # fmt: skip
