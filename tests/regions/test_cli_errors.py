"""``genebert build-regions`` refuses sequences that are not nucleotides instead of writing them into its dataset."""

from __future__ import annotations

import pytest

from tests.cli.runner import assert_user_error, run_main
from tests.conftest import DATA


def _bad_peaks(tmp_path):
    """Real Oct4 peaks; the third record's sequence spoiled with ``12X*`` (a paste accident)."""
    lines = (DATA / "oct4_peaks_test.fa").read_text().splitlines()[:6]
    lines[5] = "ACGT12X*" + lines[5][8:]
    path = tmp_path / "peaks.fa"
    path.write_text("\n".join(lines) + "\n")
    return path, lines[4][1:].split()[0]


def test_build_regions_refuses_non_nucleotides(capsys, tmp_path):
    peaks, name = _bad_peaks(tmp_path)
    line = assert_user_error(run_main(capsys, "genebert", "build-regions", "--sequences", peaks, "--group-size", "1",
                                      "--output", tmp_path / "out"), f"{peaks}:5", repr(name), "'1'")
    assert "position 5" in line
    assert not (tmp_path / "out" / "genebert_regions.json").exists()


def test_regions_from_fasta_names_record_position_and_letter(tmp_path):
    from nucleoforge.regions.datasets import regions_from_fasta

    peaks, name = _bad_peaks(tmp_path)
    with pytest.raises(ValueError, match=rf"peaks.fa:5: record '{name}', position 5: invalid character '1'"):
        list(regions_from_fasta(peaks, "oct4"))
