"""OpenSpliceAI variant scores against the original ``openspliceai variant`` (0.0.7) on 72 real
dbSNP records of the bundled chr22 block: every ``OpenSpliceAI`` INFO string must be identical.

Fixtures (tests/fixtures/openspliceai/, recipe in tests/fixtures/README.md): ``variants.input.vcf``
and the original's ``variants.output.vcf`` from ``openspliceai variant -m <mane/10000nt> -f 10000
-t pytorch -A grch37 -D 50`` (mask 0). Both tools read the same ``grch37`` table (the openspliceai
wheel's copy is byte-identical to the spliceai wheel's) and a FASTA with record ``22`` at real
coordinates. We run the command line on the MANE 10k folder converted at test time into a
temporary folder (the weights are GPL-3.0: never into the repository). OpenSpliceAI 0.0.7 applies
SpliceAI's rules and reports DP relative to POS like SpliceAI (its issue #9 is fixed there), so
the strings agree without any OpenSpliceAI-specific rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nucleoforge.io.genome import place_subsequence_records
from tests.cli.runner import run_main
from tests.conftest import CHR22, shared_weights

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openspliceai"
#: a quick subset: SNVs (one with a visible score), a deletion, insertions, three ALTs, two genes,
#: the original's one ``-0.00`` and an intergenic record (left without INFO by both)
QUICK = {20004216, 20020601, 20080447, 20101392, 20378890, 20718525, 20783721, 20989963}


def records(path: Path, key: str) -> list[tuple[str, str]]:
    """Per record ``(CHROM:POS REF>ALT, the INFO value of key or '')``."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cols = line.split("\t")
        info = dict(kv.split("=", 1) for kv in cols[7].split(";") if "=" in kv)
        out.append((f"{cols[0]}:{cols[1]} {cols[3]}>{cols[4]}", info.get(key, "")))
    return out


def subset(src: Path, dst: Path, positions: set[int]) -> Path:
    lines = [ln for ln in src.read_text().splitlines(keepends=True)
             if ln.startswith("#") or int(ln.split("\t")[1]) in positions]
    dst.write_text("".join(lines))
    return dst


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from nucleoforge.models.spliceai.convert_pytorch import convert_openspliceai

    src = shared_weights("openspliceai", "openspliceai-mane", "10000nt")
    d = tmp_path_factory.mktemp("osai")
    folder = convert_openspliceai(src, d / "mane-10k")
    ref = d / "chr22.fa"
    place_subsequence_records(CHR22, ref, chrom_prefix="")  # '22' at its real coordinates, as the original's FASTA
    return folder, ref


def _compare(capsys, setup, tmp_path, positions: set[int] | None) -> None:
    folder, ref = setup
    theirs = FIXTURES / "variants.output.vcf"
    vcf = FIXTURES / "variants.input.vcf"
    if positions is not None:
        vcf = subset(vcf, tmp_path / "in.vcf", positions)
    out = tmp_path / "out.vcf"
    result = run_main(capsys, "variants", "--model", folder, "-D", "50", "-R", ref, "-A", "grch37", "-I", vcf, "-O", out, "-q")
    assert result.code == 0, result.err
    ours = records(out, "OpenSpliceAI")
    wanted = [r for r in records(theirs, "OpenSpliceAI") if positions is None or int(r[0].split(":")[1].split()[0]) in positions]
    assert [r[0] for r in ours] == [r[0] for r in wanted]
    differ = [(o[0], o[1], w[1]) for o, w in zip(ours, wanted) if o[1] != w[1]]
    assert not differ, f"{len(differ)} of {len(ours)} records differ (record, ours, original): {differ[:4]}"
    assert sum(1 for r in ours if r[1]) == len(ours) - (1 if positions else 4)  # intergenic records have no entry


def test_openspliceai_strings_equal_the_original_on_a_subset(capsys, setup, tmp_path) -> None:
    _compare(capsys, setup, tmp_path, QUICK)


@pytest.mark.slow
def test_openspliceai_strings_equal_the_original(capsys, setup, tmp_path) -> None:
    """All 72 records (68 scored, 76 entries; 4 intergenic left without INFO): identical strings."""
    _compare(capsys, setup, tmp_path, None)
