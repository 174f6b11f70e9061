"""nucleoforge.io.sequences: the pipelines' input files, counted in one pass over the bytes and parsed once."""

from __future__ import annotations

import pytest

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.io import fasta as fasta_module
from nucleoforge.io.fasta import read_fasta
from nucleoforge.io.sequences import open_sequences
from nucleoforge.io.stockholm import read_stockholm
from tests.conftest import DATA


def test_fasta_count_and_records_match_the_fasta_reader():
    path = DATA / "oct4_peaks_train.fa.gz"
    source = open_sequences(path)
    expected = [(r.name, r.sequence) for r in read_fasta(path)]
    assert source.format == "fasta" and source.count == len(expected) > 100
    assert list(source) == expected


def test_stockholm_is_sniffed_and_has_no_count():
    path = DATA / "tRNA1415G.sto.gz"
    source = open_sequences(path)
    assert source.format == "stockholm" and source.count is None
    assert list(source) == [(r.name, r.sequence) for r in read_stockholm(path)]


def test_the_file_is_decoded_once(monkeypatch, tmp_path):
    """Sniff and count read raw bytes; only the parse decodes text (the CLI used to open it as text three times)."""
    path = tmp_path / "x.fa"
    path.write_text(">a\nACGT\n>b\nGG\n")
    opened = []
    real = fasta_module.open_text
    monkeypatch.setattr(fasta_module, "open_text", lambda p: opened.append(p) or real(p))
    source = open_sequences(path)
    assert source.count == 2 and list(source) == [("a", "ACGT"), ("b", "GG")]
    assert opened == [path]


def test_missing_file_and_truncated_gzip_name_the_file(tmp_path):
    with pytest.raises(MissingPathError, match="input file not found: .*missing.fa"):
        open_sequences(tmp_path / "missing.fa")
    cut = tmp_path / "cut.fa.gz"
    whole = (DATA / "oct4_peaks_train.fa.gz").read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(NucleoforgeError, match=r"cut.fa.gz: truncated or corrupt gzip file"):
        open_sequences(cut)
