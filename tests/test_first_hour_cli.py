"""Small promises of the command line that break in a user's first hour (issue 20).

Item numbers refer to the issue: 2 quiet means quiet, 3 help cites docs that exist, 4 the contact
metric's default, 5 --model-type and the size line, 6 a model name where a folder is expected,
7 help readable at 80 columns. (Item 1 is tests/pipelines/test_registration.py.)
"""

from __future__ import annotations

import os
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.cli.runner import invoke, run_exe
from tests.conftest import DATA
from tests.training.conftest import TINY_ARG

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = DATA / "GRCh37_chr22_20000001-21000000.fa.gz"
BERT_TYPES = ["splicebert", "utrbert", "rnaernie", "genebert-sequence"]


def _commands() -> list[tuple[list[str], Any]]:
    """``(path, click command)`` of the app, every group and every command."""
    import typer.main

    from nucleoforge.cli import app

    def walk(cmd: Any, path: list[str]):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def _option(command: str, name: str) -> Any:
    cmd = dict((" ".join(p), c) for p, c in _commands())[command]
    return next(p for p in cmd.params if name in p.opts)


@pytest.fixture(scope="module")
def tfbs_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 real peaks from the bundled files (Oct4 = 1, MafK = 0)."""
    from nucleoforge.io.fasta import read_fasta

    rows = [(r.sequence, 1) for r in read_fasta(DATA / "oct4_peaks_test.fa")][:8]
    rows += [(r.sequence, 0) for r in read_fasta(DATA / "mafk_peaks_test.fa")][:8]
    path = tmp_path_factory.mktemp("tfbs") / "train.csv"
    path.write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    return path


def _finetune_args(train: Path, out: Path) -> list[str]:
    return ["finetune", "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(train), "--eval", str(train),
            "--test", str(train), "--output", str(out), "--epochs", "1", "--batch-size", "8", "--threads", "1"]  # fmt: skip


def _pretrain_args(out: Path) -> list[str]:
    return ["pretrain", "--model-type", "splicebert", "--config", TINY_ARG, "--train", str(DATA / "oct4_peaks_test.fa"),
            "--output", str(out), "--min-length", "64", "--max-length", "96", "--batch-size", "4", "--max-steps", "2",
            "--save-steps", "2", "--logging-steps", "1", "--threads", "1"]  # fmt: skip


# ---------------------------------------------------------------------------- 2: -q is quiet
def test_finetune_quiet_prints_nothing(tmp_path, tfbs_csv):
    """Item 2: no Trainer log dicts, no JSON summary, no bars or warnings — only the files."""
    out = tmp_path / "ft"
    r = run_exe(*_finetune_args(tfbs_csv, out), "-q")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert {"metrics.json", "log.jsonl", "model.safetensors"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "metrics.json").read_text())["metric_for_best_model"] == "auroc"


def test_pretrain_quiet_prints_nothing(tmp_path):
    """Item 2 (pretrain): the same with the global -q before the command."""
    out = tmp_path / "pt"
    r = run_exe("-q", *_pretrain_args(out))
    assert (r.code, r.out, r.err) == (0, "", "")
    assert len((out / "log.jsonl").read_text().splitlines()) >= 2 and (out / "metrics.json").is_file()


# ---------------------------------------------------------------------------- 3: docs named in --help exist
def test_every_docs_page_named_in_help_exists():
    """Item 3: every ``docs/….md`` in any command's help text is a file of the repository."""
    texts: list[str] = []
    for _, cmd in _commands():
        texts += [cmd.help or "", *((getattr(p, "help", None) or "") for p in cmd.params)]
    cited = sorted(set(re.findall(r"docs/[\w./-]+\.md", "\n".join(texts))))
    assert "docs/how-to/training.md" in cited  # finetune --train
    assert [c for c in cited if not (ROOT / c).is_file()] == []


# ---------------------------------------------------------------------------- 4: the contact metric's default
def test_metric_defaults_in_help_are_the_ones_applied(tmp_path):
    """Item 4: ``finetune --help`` states the defaults DEFAULT_METRIC applies; a contact run picks top_l_precision."""
    from nucleoforge.training.finetune import DEFAULT_METRIC

    text = " ".join(_option("finetune", "--metric").help.split())
    m = re.search(r"default: ([\w/]+) by problem type; (\w+) for contact", text)
    assert m is not None, text
    problems = re.findall(r"\w+", _option("finetune", "--problem-type").help.replace(" or ", ", "))
    assert problems == ["binary", "multiclass", "multilabel", "regression"]
    stated = dict(zip(problems, m.group(1).split("/"), strict=True)) | {"contact": m.group(2)}
    assert stated == DEFAULT_METRIC
    assert stated["contact"] == "top_l_precision"
    # and the one a contact run without --metric really selects the best checkpoint by
    data = tmp_path / "c.csv"
    data.write_text("sequence,label\n" + "".join(f"GGGGAAAACCCC{'ACGUA'[i % 5] * 3},((((....))))...\n" for i in range(4)))
    out = tmp_path / "contact"
    r = invoke(["finetune", "--model-type", "splicebert", "--config", TINY_ARG, "--task", "contact", "--train", data,
                "--eval", data, "--output", out, "--epochs", "1", "--batch-size", "4", "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["metric_for_best_model"] == stated["contact"]


# ---------------------------------------------------------------------------- 5: --model-type and the size line
@pytest.mark.parametrize(("command", "prefix", "listed"), [
    ("pretrain", "fresh model: ", BERT_TYPES),
    ("finetune", "fresh model instead: ", BERT_TYPES),
    ("train-splice", "(default) or a BERT-family type (", ["spliceai", *BERT_TYPES]),
])  # fmt: skip
def test_model_type_help_lists_the_registry_types(command, prefix, listed):
    """Item 5: the help lists exactly the registry's model types (the set the option accepts)."""
    from nucleoforge import registry

    text = " ".join(_option(command, "--model-type").help.split())
    head, _, rest = text.partition(prefix)
    names = ([head.strip()] if command == "train-splice" else []) + rest.split(")")[0].split(", ")
    assert names == listed
    assert names == [f.model_type for kind in (["spliceai"] if command == "train-splice" else []) + ["bert"]
                     for f in registry.families(kind=kind)]  # fmt: skip


@pytest.mark.parametrize(("args", "line"), [
    (["pretrain", "--model-type", "dnabert", "--train", "x.fa"],
     "error: --model-type dnabert: expected one of splicebert, utrbert, rnaernie, genebert-sequence"),
    (["finetune", "--model-type", "dnabert", "--train", "x.csv"],
     "error: --model-type dnabert: expected one of splicebert, utrbert, rnaernie, genebert-sequence"),
    (["train-splice", "--model-type", "dnabert", "--data", "d"],
     "error: --model-type dnabert: train-splice trains SpliceAI or a BERT-family token head; expected one of spliceai, "
     "splicebert, utrbert, rnaernie, genebert-sequence"),
])  # fmt: skip
def test_model_type_not_listed_is_refused(tmp_path, args, line):
    """Item 5: ``dnabert`` (an alias the help does not list) is refused, before any file is read or written."""
    r = invoke([*args, "--output", tmp_path / "out"])
    assert r.exit_code == 2 and r.stderr.splitlines() == [line] and r.stdout == ""
    assert not (tmp_path / "out").exists()


def test_size_line_before_training(tmp_path, tfbs_csv):
    """Item 5: without -q, finetune and pretrain say the model's size on stderr before training (the summary stays on stdout)."""
    r = invoke(_finetune_args(tfbs_csv, tmp_path / "ft"))
    assert r.exit_code == 0, r.output
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("model: ")] == [
        "model: splicebert, 11 k parameters, checkpoints ~134 kB each"]
    lines = r.stdout.splitlines()  # the Trainer's log lines, then the summary (indented JSON)
    assert set(json.loads("\n".join(lines[len(lines) - lines[::-1].index("{") - 1 :]))) == {"eval", "test"}
    r = invoke(_pretrain_args(tmp_path / "pt"))
    assert r.exit_code == 0, r.output
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("model: ")] == [
        "model: splicebert, 11 k parameters, checkpoints ~131 kB each"]


def test_train_splice_size_line():
    """Item 5: train-splice's line, for the default SpliceAI-10k member, SpliceAI-400 and a fresh token head."""
    from nucleoforge.cli.splice_train import _size_line
    from nucleoforge.cli.config_options import parse_config_overrides

    assert _size_line(None, {}, None, None) == "model: spliceai, 697 k parameters, checkpoints ~8.4 MB each"
    assert _size_line(400, {}, None, "") is None  # an init that is no folder: train_splice reports it
    assert _size_line(400, {}, None, None) == "model: spliceai, 185 k parameters, checkpoints ~2.2 MB each"
    assert _size_line(None, {}, "utrbert", None) == "model: utrbert, 86 M parameters, checkpoints ~1.0 GB each"
    tiny = parse_config_overrides([TINY_ARG])
    assert _size_line(None, tiny, "splicebert", None) == "model: splicebert, 11 k parameters, checkpoints ~132 kB each"


# ---------------------------------------------------------------------------- 6: a model name for --model
CONVERT = "a model name, not a folder; pass the folder written by `nucleoforge convert {} SRC DST` from the original release"
# the language models' names resolve to their hub repositories; offline with an empty cache: one line
OFFLINE = ("{name} → multimolecule/{name}: not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE is set, so it "
           "cannot be downloaded; fetch it where the hub is reachable (`hf download multimolecule/{name}`); or convert a "
           "local copy of the original release with `nucleoforge convert {family} SRC DST` and pass that folder")
NAMES = {
    "splicebert": OFFLINE.format(name="splicebert", family="splicebert", cache="{cache}"),
    "utrbert-3mer": OFFLINE.format(name="utrbert-3mer", family="utrbert", cache="{cache}"),
    "rnaernie": OFFLINE.format(name="rnaernie", family="rnaernie", cache="{cache}"),
    "spliceai-10k": "a SpliceAI model name; --model takes a folder of a splicebert, utrbert, rnaernie or genebert-sequence "
                    "model, e.g. the folder written by `nucleoforge convert splicebert SRC DST`",
}  # fmt: skip
LM_COMMANDS = {
    "fill-mask": lambda name, tmp: ["fill-mask", "ACGU<mask>ACGU", "--model", name],
    "embed": lambda name, tmp: ["embed", "--model", name, "-i", DATA / "oct4_peaks_test.fa", "-o", tmp / "e.npz"],
    "attention": lambda name, tmp: ["attention", "ACGUACGU", "--model", name],
    "variant-effect": lambda name, tmp: ["variant-effect", "--model", name, "-I", DATA / "oct4_peaks_test.fa",
                                         "-R", REFERENCE, "-O", tmp / "v.tsv"],
}  # fmt: skip


@pytest.mark.parametrize("name", list(NAMES))
@pytest.mark.parametrize("command", list(LM_COMMANDS))
def test_model_name_given_to_language_model_commands(tmp_path, monkeypatch, command, name):
    """Item 6: a name ``nucleoforge info`` lists gets one line on what to pass, exit 2."""
    monkeypatch.chdir(tmp_path)  # no folder of that name here
    r = invoke(LM_COMMANDS[command](name, tmp_path))
    line = f"error: --model {name}: " if name == "spliceai-10k" else "error: --model "
    cache = os.environ["HF_HUB_CACHE"]
    assert r.exit_code == 2 and r.stderr.splitlines() == [line + NAMES[name].format(cache=cache)], r.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "line"), [
    (["finetune", "--model", "utrbert-6mer", "--train", "x.csv", "-o", "out"],
     "error: --model " + OFFLINE.format(name="utrbert-6mer", family="utrbert", cache="{cache}")),
    (["pretrain", "--model", "splicebert.510", "--train", "x.fa", "-o", "out"],
     "error: --model " + OFFLINE.format(name="splicebert.510", family="splicebert", cache="{cache}")),
    (["train-splice", "--init", "rnaernie", "--data", "d", "-o", "out"],
     "error: --init " + OFFLINE.format(name="rnaernie", family="rnaernie", cache="{cache}")),
    (["finetune", "--model", "genebert-sequence-6mer", "--train", "x.csv", "-o", "out"],
     "error: --model genebert-sequence-6mer: a model name, not a folder; pass a genebert-sequence folder written by "
     "`nucleoforge pretrain` or `nucleoforge finetune`"),
])  # fmt: skip
def test_model_name_given_to_training_commands(tmp_path, monkeypatch, args, line):
    """Item 6: the training commands' folder options say the same."""
    monkeypatch.chdir(tmp_path)
    r = invoke(args)
    assert r.exit_code == 2 and r.stderr.splitlines() == [line.format(cache=os.environ["HF_HUB_CACHE"])], r.output


def test_a_folder_of_that_name_is_used_as_a_folder(tmp_path, monkeypatch):
    """Item 6: only a name that is not a path is refused (a local folder ``splicebert/`` is read as usual)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "splicebert").mkdir()
    r = invoke(["fill-mask", "ACGU<mask>ACGU", "--model", "splicebert"])
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1, r.output
    assert "splicebert is not a model folder (no config.json)" in r.stderr


# ---------------------------------------------------------------------------- 7: help at 80 columns
def test_help_at_80_columns_shows_every_name_whole(monkeypatch):
    """Item 7: at COLUMNS=80 every option name and every sub-command name appears whole in its help page."""
    monkeypatch.setenv("COLUMNS", "80")
    pages = 0
    for path, cmd in _commands():
        r = invoke([*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
        names = [o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")]
        names += list(getattr(cmd, "commands", {}))
        cut = [n for n in names if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", r.stdout)]
        assert cut == [], f"nucleoforge {' '.join(path)} --help: {cut} not shown whole"
        pages += 1
    assert pages > 20
