"""Output folders (nucleoforge.io.outputs): a non-empty folder that is not the command's own run
being resumed is refused in one line naming it, what it holds and ``--overwrite``; ``--overwrite``
replaces it atomically — a training run writes beside it until its first checkpoint
(:class:`OutputFolder`), a folder without checkpoints is built beside it and swapped in at the end
(:func:`atomic_folder`) — and a run that fails first leaves the old folder as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.output_folders import STAGING_SUFFIX, OutputFolder, atomic_folder, check_output_folder, prepare_output_folder


def _old_run(folder: Path) -> dict[str, str]:
    """A folder of another run: two files and a checkpoint; returns what it holds."""
    (folder / "checkpoint-3").mkdir(parents=True)
    (folder / "checkpoint-3" / "model.safetensors").write_text("old weights")
    (folder / "log.jsonl").write_text('{"step": 1}\n')
    (folder / "notes.txt").write_text("mine")
    return _contents(folder)


def _contents(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_missing_empty_and_resumed_folders_are_written_in_place(tmp_path):
    # issue item: an empty or missing folder is always fine; its own run is resumed in place
    for folder in (tmp_path / "new", tmp_path / "empty"):
        if folder.name == "empty":
            folder.mkdir()
        out = prepare_output_folder(folder, command="pretrain")
        assert (out.target, out.path, out.staged) == (folder, folder, False)
    run = tmp_path / "run"
    before = _old_run(run)
    out = prepare_output_folder(run, command="pretrain", resume=True, resumable=("checkpoint-*",))
    assert (out.path, out.staged) == (run, False)
    with out:
        pass
    assert _contents(run) == before


def test_a_foreign_folder_is_refused_in_one_line_and_left_untouched(tmp_path):
    # issue item: refuse a foreign non-empty folder: the folder, what is in it, --overwrite
    folder = tmp_path / "out"
    before = _old_run(folder)
    (folder / "a.txt").write_text("1")
    (folder / "b.txt").write_text("2")
    with pytest.raises(NucleoforgeError) as err:
        prepare_output_folder(folder, command="finetune")
    assert str(err.value) == (f"--output {folder}: folder exists and is not empty (it holds a.txt, b.txt, checkpoint-3/, "
                              "log.jsonl and 1 more); pass --overwrite to replace it, or choose another folder")
    # a folder with checkpoints of the command itself: --resume is offered too
    with pytest.raises(NucleoforgeError) as err:
        prepare_output_folder(folder, command="pretrain", resumable=("checkpoint-*",))
    assert str(err.value) == (f"--output {folder} already holds a pretrain run (a.txt, b.txt, checkpoint-3/, log.jsonl "
                              "and 1 more); pass --resume to continue it, or --overwrite to replace it")
    with pytest.raises(NucleoforgeError) as err:
        prepare_output_folder(folder, command="pretrain", overwrite=True, resume=True)
    assert str(err.value) == (f"--resume and --overwrite cannot be combined: --resume continues the run in {folder}, "
                              "--overwrite replaces it")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        prepare_output_folder(tmp_path / "file", command="pretrain", overwrite=True)
    assert _contents(folder) == {**before, "a.txt": "1", "b.txt": "2"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out"]


def test_overwrite_keeps_the_old_folder_until_commit_then_only_the_new_files(tmp_path):
    # issue item: --overwrite replaces atomically: old folder stays until the first checkpoint exists
    folder = tmp_path / "out"
    before = _old_run(folder)
    out = prepare_output_folder(folder, command="pretrain", overwrite=True, resumable=("checkpoint-*",))
    staging = tmp_path / ("out" + STAGING_SUFFIX)
    assert (out.target, out.path, out.staged) == (folder, staging, True)
    with out:
        (out.path / "checkpoint-1").mkdir(parents=True)
        (out.path / "checkpoint-1" / "model.safetensors").write_text("new weights")
        assert _contents(folder) == before  # untouched until the commit
        assert out.relocate(out.path / "checkpoint-1") == folder / "checkpoint-1"
        assert out.commit() == folder
        assert (out.path, out.staged) == (folder, False)
        (out.path / "log.jsonl").write_text('{"step": 2}\n')  # the run goes on in the real folder
    assert _contents(folder) == {"checkpoint-1/model.safetensors": "new weights", "log.jsonl": '{"step": 2}\n'}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or old folder left
    assert out.relocate(tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_a_run_failing_before_its_first_checkpoint_leaves_the_old_folder(tmp_path):
    # issue item: an interrupted --overwrite run leaves the old folder intact
    folder = tmp_path / "out"
    before = _old_run(folder)
    for stop in (RuntimeError("training failed"), KeyboardInterrupt()):
        out = prepare_output_folder(folder, command="finetune", overwrite=True)
        with pytest.raises(type(stop)):
            with out:
                (out.path / "checkpoint-0").mkdir(parents=True)
                (out.path / "log.jsonl").write_text("partial\n")
                raise stop
        assert _contents(folder) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_killed_runs_staging_folder_is_cleared_by_the_next_overwrite(tmp_path):
    # issue item: a run killed before its first checkpoint (no cleanup ran) leaves the old folder intact;
    # the next --overwrite starts from an empty staging folder
    folder = tmp_path / "out"
    before = _old_run(folder)
    stale = tmp_path / ("out" + STAGING_SUFFIX)
    (stale / "checkpoint-9").mkdir(parents=True)
    (stale / "log.jsonl").write_text("killed run\n")
    out = prepare_output_folder(folder, command="pretrain", overwrite=True)
    assert out.path == stale and not stale.exists()
    assert _contents(folder) == before
    with out:
        (out.path).mkdir()
        (out.path / "metrics.json").write_text("{}")
    assert _contents(folder) == {"metrics.json": "{}"}


def test_overwrite_refuses_a_folder_holding_an_input(tmp_path):
    # replacing the folder would delete the input the run reads
    folder = tmp_path / "out"
    _old_run(folder)
    corpus = folder / "train.fa"
    corpus.write_text(">a\nACGT\n")
    with pytest.raises(NucleoforgeError) as err:
        prepare_output_folder(folder, command="pretrain", overwrite=True, inputs=[None, corpus])
    assert str(err.value) == (f"--output {folder} holds the input {corpus}; writing the folder would delete it: "
                              "choose another output folder")
    assert corpus.exists()


def test_output_folder_without_staging_commits_nothing(tmp_path):
    out = OutputFolder(tmp_path / "x")
    assert out.commit() == tmp_path / "x" and not (tmp_path / "x").exists()
    out.discard()
    assert repr(out) == f"OutputFolder(target={str(tmp_path / 'x')!r}, path={str(tmp_path / 'x')!r})"


def test_atomic_folder_names_overwrite_and_swaps_at_the_end(tmp_path):
    # issue item (splice-data, calibrate-splice): refused without --overwrite; written beside, swapped in at the end
    folder = tmp_path / "data"
    before = _old_run(folder)
    with pytest.raises(NucleoforgeError) as err:
        check_output_folder(folder)
    assert str(err.value) == (f"--output {folder}: folder exists and is not empty (it holds checkpoint-3/, log.jsonl, "
                              "notes.txt); pass --overwrite to replace it, or choose another folder")
    with pytest.raises(RuntimeError):
        with atomic_folder(folder, overwrite=True) as tmp:
            (tmp / "dataset.json").write_text("{}")
            assert _contents(folder) == before
            raise RuntimeError("interrupted")
    assert _contents(folder) == before and sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    with atomic_folder(folder, overwrite=True) as tmp:
        (tmp / "dataset.json").write_text("{}")
        assert _contents(folder) == before
    assert _contents(folder) == {"dataset.json": "{}"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
