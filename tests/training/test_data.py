"""Streaming FASTA chunks, length bucketing, labelled-file readers (conventions and errors), Stockholm."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nucleoforge.io.stockholm import dot_bracket_to_pairs, pairs_to_dot_bracket, read_stockholm
from nucleoforge.tokenization import NucleotideTokenizer
from nucleoforge.training.data import FastaChunkDataset
from nucleoforge.training.labelled import read_labelled
from tests.conftest import DATA

TOK = NucleotideTokenizer.for_model("splicebert")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, chr22_block) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.fa.gz"
    with gzip.open(path, "wt") as fh:
        for i in range(5):
            fh.write(f">r{i}\n{chr22_block[i * 9000 : i * 9000 + 3000 + 1000 * i]}\n")
        fh.write(">gap\n" + "N" * 2000 + "\n")
    return path


def _lengths(ds) -> list[int]:
    return [len(e["input_ids"]) - 2 for e in ds]


def test_chunks_cover_records_with_lengths_in_range(corpus, chr22_block):
    ds = FastaChunkDataset(corpus, TOK, min_length=64, max_length=300, seed=1, shuffle_buffer=0, random_offset=False)
    chunks = list(ds.chunks())
    assert all(64 <= len(c) <= 300 for _, c in chunks)
    # unshuffled chunks of r0 tile it from the start; the all-N record gives nothing
    joined = "".join(c for _, c in chunks)
    assert joined.startswith(chr22_block[:2000]) and "N" not in joined
    assert len(joined) > 0.97 * sum(3000 + 1000 * i for i in range(5))
    assert [i for i, _ in chunks] == list(range(len(chunks)))


def test_order_depends_only_on_seed_and_epoch(corpus):
    def ids(seed, epoch):
        ds = FastaChunkDataset(corpus, TOK, 64, 300, seed=seed, shuffle_buffer=16, bucket_size=4)
        ds.set_epoch(epoch)
        return [(e["seed"], e["input_ids"].tobytes()) for e in ds]

    first = ids(0, 0)
    assert first == ids(0, 0)
    assert first != ids(0, 1) and first != ids(1, 0)
    assert len({s for s, _ in first}) == len(first)  # one mask seed per chunk


def test_length_buckets(corpus):
    ds = FastaChunkDataset(corpus, TOK, 64, 1000, seed=3, shuffle_buffer=10_000, bucket_size=8)
    lengths = _lengths(ds)
    buckets = [lengths[i : i + 8] for i in range(0, len(lengths) - 7, 8)]
    spread = np.mean([max(b) - min(b) for b in buckets])
    unbucketed = _lengths(FastaChunkDataset(corpus, TOK, 64, 1000, seed=3, shuffle_buffer=10_000, bucket_size=1))
    random_spread = np.mean([max(unbucketed[i : i + 8]) - min(unbucketed[i : i + 8]) for i in range(0, len(unbucketed) - 7, 8)])
    assert spread < 0.5 * random_spread  # 47 chunks in 6 buckets: each spans about a sixth of the range
    assert sorted(lengths) == sorted(unbucketed)


def test_kmer_chunks_have_specials(corpus):
    tok = NucleotideTokenizer.for_model("utrbert", k=3)
    example = next(iter(FastaChunkDataset(corpus, tok, 100, 100, shuffle_buffer=0)))
    assert example["input_ids"][0] == tok.cls_token_id and example["input_ids"][-1] == tok.sep_token_id
    assert len(example["input_ids"]) == 100 - 3 + 1 + 2


def _write(tmp_path, name, text) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sequence_labels_all_problem_types(tmp_path):
    csv = _write(tmp_path, "a.csv", "id,sequence,label\nx,ACGT,1\ny,acgu,0\n")
    data = read_labelled(csv, TOK, "sequence", "binary")
    assert data.labels == [1.0, 0.0] and data.ids == ["x", "y"] and data.num_labels == 1
    tsv = _write(tmp_path, "b.tsv", "sequence\tlabel\nACGT\tsplice\nACGA\tintron\nACGG\tsplice\n")
    data = read_labelled(tsv, TOK, "sequence", "multiclass")
    assert data.label_names == ["intron", "splice"] and data.labels == [1, 0, 1] and data.num_labels == 2
    reg = _write(tmp_path, "c.csv", 'sequence,label\nACGT,"0.5, 2"\nACGA,"[1, -3]"\n')
    data = read_labelled(reg, TOK, "sequence", "regression")
    assert data.num_labels == 2 and data.labels[1].tolist() == [1.0, -3.0]
    fa = _write(tmp_path, "d.fa", ">s1 label=3\nACGT\n>s2 label=1\nAC\n")
    data = read_labelled(fa, TOK, "sequence", "multiclass")
    assert data.labels == [3, 1] and data.num_labels == 4 and data.ids == ["s1", "s2"]


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"sequence": ["ACGU", "GGCC"], "label": [[0, 1, 1, 0], [1, 1, 0, 0]]}), path)
    data = read_labelled(path, TOK, "token", "binary")
    assert [x.tolist() for x in data.labels] == [[0, 1, 1, 0], [1, 1, 0, 0]]


def test_token_and_contact_labels(tmp_path):
    path = _write(tmp_path, "t.csv", "sequence,label\nGGAAACC,((...))\nACGUA,0 1 2 -100 1\n")
    data = read_labelled(path, TOK, "token", "multiclass")
    assert data.label_names == ["(", ")", "."]
    assert data.labels[0].tolist() == [0, 0, 2, 2, 2, 1, 1]
    path = _write(tmp_path, "c.csv", 'sequence,label\nGGAAACC,((...))\nGGAAACC,"1-7 2-6"\nGGAAACC,"[[1,7]]"\n')
    data = read_labelled(path, TOK, "contact", "binary")
    assert [p.tolist() for p in data.labels] == [[[0, 6], [1, 5]], [[0, 6], [1, 5]], [[0, 6]]]


@pytest.mark.parametrize(
    ("name", "text", "task", "problem", "message"),
    [
        ("e.csv", "sequence,label\nACGT,1\n,0\n", "sequence", "binary", r"e\.csv: row 2: empty sequence"),
        ("b.csv", "sequence,label\nACGT,1\nACGT,2\n", "sequence", "binary", r"b\.csv: row 2: label '2' is not valid for problem type 'binary'"),
        ("r.csv", "sequence,label\nACGT,high\n", "sequence", "regression", r"r\.csv: row 1: label 'high' is not a number"),
        ("t.csv", "sequence,label\nACGT,0101\nACGTA,0101\n", "token", "binary", r"t\.csv: row 2: token label string has 4 characters, the sequence 5"),
        ("l.csv", "sequence,label\nACGT,0 1 1\n", "token", "regression", r"l\.csv: row 1: 3 token labels for a sequence of 4"),
        ("u.csv", "sequence,label,weight\nACGT,1,3\n", "sequence", "binary", r"u\.csv: unknown column\(s\) \['weight'\]"),
        ("x.csv", "sequence,label\nACXT,1\n", "sequence", "binary", r"x\.csv: row 1: position 3: invalid character 'X'"),
        ("p.csv", "sequence,label\nACGU,((.)\n", "contact", "binary", r"p\.csv: row 1: unmatched '\(' at position 0"),
        ("q.csv", 'sequence,label\nACGU,"1-9"\n', "contact", "binary", r"q\.csv: row 1: pair \(1, 9\) is outside 1\.\.4"),
        ("m.csv", "sequence,label\nACGU,\n", "sequence", "binary", r"m\.csv: row 1: empty label"),
        ("n.csv", "sequence\nACGU\n", "sequence", "binary", r"n\.csv: no 'label' column"),
    ],
)
def test_bad_input_names_file_and_row(tmp_path, name, text, task, problem, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(ValueError, match=message):
        read_labelled(path, TOK, task, problem)


def test_unseen_class_in_eval_file(tmp_path):
    path = _write(tmp_path, "v.csv", "sequence,label\nACGT,exon\n")
    with pytest.raises(ValueError, match=r"v\.csv: row 1: label 'exon' is not one of the training classes"):
        read_labelled(path, TOK, "sequence", "multiclass", label_names=["intron", "splice"])


def test_dot_bracket_round_trip_with_pseudoknots():
    s = "((..[[..))..]]..{.}."
    pairs = dot_bracket_to_pairs(s)
    assert pairs == [(0, 9), (1, 8), (4, 13), (5, 12), (16, 18)]
    assert dot_bracket_to_pairs(pairs_to_dot_bracket(pairs, len(s))) == pairs


def test_stockholm_trna_file():
    records = list(read_stockholm(DATA / "tRNA1415G.sto.gz"))
    assert len(records) == 1415 and len({r.name for r in records}) == 1415
    first = records[0]
    assert first.name == "DA0260" and len(first.sequence) == 75 and first.sequence.startswith("GGGCGAAUAG")
    # the acceptor stem: nucleotides 1-7 pair with the 3' end before the discriminator base and CCA
    assert first.dot_bracket() == "(((((((..((((........)))).(((((.......)))))....(((((.......))))))))))))...."
    assert all(first.sequence[i] + first.sequence[j] in {"GC", "CG", "AU", "UA", "GU", "UG"} for i, j in first.pairs[:7])
    assert 20 <= np.mean([len(r.pairs) for r in records]) <= 22


def test_stockholm_errors(tmp_path):
    path = _write(tmp_path, "bad.sto", "# STOCKHOLM 1.0\ns1 ACGU\n#=GR s1 SS <<>\n//\n")
    with pytest.raises(ValueError, match=r"bad\.sto:2: sequence 's1': SS line has 3 columns, the sequence 4"):
        list(read_stockholm(path))
    path = _write(tmp_path, "open.sto", "# STOCKHOLM 1.0\ns1 ACGU\n")
    with pytest.raises(ValueError, match=r"open\.sto:2: alignment does not end with '//'"):
        list(read_stockholm(path))
