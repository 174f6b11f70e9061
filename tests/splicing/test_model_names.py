"""A language-model name given to a splice command's --model says what to pass instead."""

import pytest

from tests.cli.runner import run_main

EXPECTED = ("error: --model {name}: a {family} language model, not a splice model; pass one of spliceai-80, "
            "spliceai-400, spliceai-2k, spliceai-10k or a folder written by `nucleoforge convert spliceai` "
            "or `nucleoforge train-splice`")


@pytest.mark.parametrize("name, family", [("splicebert", "SpliceBERT"), ("utrbert-3mer", "3UTRBERT")])
def test_splice_model_option_refuses_a_language_model_name(capsys, tmp_path, monkeypatch, name, family):
    monkeypatch.chdir(tmp_path)  # no folder of that name here
    r = run_main(capsys, "splice", "ACGTACGT", "--model", name)
    assert r.code == 2
    assert r.err_lines == [EXPECTED.format(name=name, family=family)]
