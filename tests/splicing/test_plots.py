"""``nucleoforge splice --plot``: the figure's title states the strand once (issue 20, item 4)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cli.runner import run_main
from tests.conftest import CHR22


def _prediction(name: str, strand: str, chrom: str | None = None):
    from nucleoforge.pipelines.splice_site import SpliceSitePrediction

    rng = np.random.default_rng(0)
    return SpliceSitePrediction(name=name, acceptor=rng.random(40) * 0.1, donor=rng.random(40) * 0.1, strand=strand,
                                chrom=chrom, start=20105070 if chrom else 0)


def _titles(fig) -> list[str]:
    """The figure title, then every axes' title, as drawn."""
    return [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes)]


@pytest.mark.parametrize("name, strand, title", [
    ("22:20105071-20105110:+", "+", "SpliceAI 22:20105071-20105110 (+)"),  # --region chrom:start-end:strand
    ("22:20105071-20105110:-", "-", "SpliceAI 22:20105071-20105110 (-)"),
    ("chr22:20105070-20105110(+)", "+", "SpliceAI chr22:20105070-20105110 (+)"),  # bedtools getfasta -s names
    ("chr22:20105070-20105110(-)", "-", "SpliceAI chr22:20105070-20105110 (-)"),
    ("chr22:20105070-20105110(+)", "-", "SpliceAI chr22:20105070-20105110(+) (-)"),  # predicted on the other strand
    ("22:20105071-20105110", "+", "SpliceAI 22:20105071-20105110 (+)"),  # --region without a strand
    ("seq1", "-", "SpliceAI seq1 (-)"),
    ("+", "+", "SpliceAI + (+)"),  # a name that is only the strand stays
])
def test_the_title_names_the_strand_once(name, strand, title):
    import matplotlib.pyplot as plt

    from nucleoforge.splicing.plots import tracks_figure

    fig = tracks_figure(_prediction(name, strand, chrom="22" if name[0].isdigit() else None))
    try:
        assert _titles(fig) == [title, "", ""]
    finally:
        plt.close(fig)


def test_an_explicit_title_is_kept_as_given():
    import matplotlib.pyplot as plt

    from nucleoforge.splicing.plots import tracks_figure

    fig = tracks_figure(_prediction("22:20105071-20105110:+", "+"), title="RANBP1 exon 1 (+)")
    try:
        assert _titles(fig) == ["RANBP1 exon 1 (+)", "", ""]
    finally:
        plt.close(fig)


def test_splice_plot_from_the_command_line(capsys, tmp_path, tiny_spliceai):
    """The README's ``splice --region 22:...:+ --plot`` call: the written figure's title (kept as text by SVG)."""
    from nucleoforge.io.genome import place_subsequence_records

    ref = tmp_path / "chr22.fa"
    place_subsequence_records(CHR22, ref)
    out = tmp_path / "ranbp1.svg"
    r = run_main(capsys, "splice", "--region", "22:20105071-20105400:+", "--reference", ref, "--plot", out,
                 "-A", "grch37", "--model", tiny_spliceai(0), "--device", "cpu", "-q", "-o", tmp_path / "t.tsv")
    assert r.code == 0, r.err
    assert r.err.strip() == f"wrote {out}"
    svg = out.read_text()
    assert "<!-- SpliceAI 22:20105071-20105400 (+) -->" in svg
    assert svg.count("(+) -->") == 2  # the title and the RANBP1 (+) gene label, nothing else
    assert "<!-- RANBP1 (+) -->" in svg
