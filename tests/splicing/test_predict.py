"""nucleoforge.splicing.predict: the inputs and the TSV/bedGraph writing of ``nucleoforge splice``."""

from __future__ import annotations

import io

import pytest
import torch

from nucleoforge.errors import NucleoforgeError
from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
from nucleoforge.pipelines.splice_site import SpliceSitePipeline
from nucleoforge.splicing.predict import splice_inputs, write_splice_predictions


@pytest.fixture(scope="module")
def pipe() -> SpliceSitePipeline:
    torch.manual_seed(0)
    return SpliceSitePipeline(model=SpliceAIModel(SpliceAIConfig(stages=[(1, 3, 2)], channels=4)).eval(), device="cpu")


@pytest.fixture()
def reference(tmp_path, chr22_block: str):
    """A 300-nt chromosome ``chrT`` of real chr22 sequence (lower case kept, as soft-masked references are)."""
    seq = chr22_block[10_000:10_300].lower()
    path = tmp_path / "ref.fa"
    path.write_text(f">chrT\n{seq}\n")
    return path, seq


def test_region_inputs_carry_the_real_flanks(reference):
    path, seq = reference
    items = list(splice_inputs(regions=["chrT:101-150", "chrT:1-20:-"], reference=path, flank=30))
    assert items[0]["sequence"] == seq[70:180].upper()
    assert (items[0]["name"], items[0]["start"], items[0]["strand"], items[0]["context"]) == ("chrT:101-150", 100, "+", (30, 30))
    assert items[1]["sequence"] == "N" * 30 + seq[:50].upper()  # N only beyond the chromosome's start
    assert items[1]["strand"] == "-"


def test_a_region_past_the_end_is_refused_when_the_inputs_are_made(reference):
    path, _ = reference
    with pytest.raises(NucleoforgeError, match=r"^region chrT:290-310 ends after chrT \(length 300\)$"):
        splice_inputs(regions=["chrT:1-10", "chrT:290-310"], reference=path, flank=5)  # no item consumed yet


def test_exactly_one_kind_of_input(reference):
    with pytest.raises(NucleoforgeError, match="exactly one of sequence, fasta or regions"):
        splice_inputs(sequence="ACGT", regions=["chrT:1-10"], reference=reference[0])


def test_outputs_appear_only_when_every_input_is_done(pipe, tmp_path):
    out, prefix = tmp_path / "sites.tsv", tmp_path / "tracks"
    bad = [{"sequence": "ACGTACGTAG", "name": "ok"}, {"sequence": "ACXTACGT", "name": "bad"}]
    with pytest.raises(NucleoforgeError, match="invalid character 'X'"):
        write_splice_predictions(pipe, bad, output=out, bedgraph=prefix)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, no temporary file left

    first = write_splice_predictions(pipe, splice_inputs(sequence="acgtacgtag"), output=out, bedgraph=prefix, min_score=0.0)
    rows = out.read_text().splitlines()
    assert rows[0] == "name\tposition\tacceptor\tdonor" and [r.split("\t")[:2] for r in rows[1:3]] == [["sequence", "1"], ["sequence", "2"]]
    assert len(rows) == 11 and first is not None and len(first.acceptor) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sites.tsv", "tracks.acceptor.bedGraph", "tracks.donor.bedGraph"]


def test_a_handle_output_gets_one_header_for_many_inputs(pipe):
    out = io.StringIO()
    inputs = [{"sequence": "ACGTAC", "name": "a"}, {"sequence": "GGTAAG", "name": "b", "start": 100}]
    write_splice_predictions(pipe, inputs, output=out)
    rows = [r.split("\t")[:2] for r in out.getvalue().splitlines()]
    assert rows[0] == ["name", "position"] and rows.count(["name", "position"]) == 1
    assert rows[1] == ["a", "1"] and rows[7] == ["b", "101"] and len(rows) == 13
