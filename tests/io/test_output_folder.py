"""atomic_folder / check_output_folder (nucleoforge.io.outputs): an output folder is built beside
its target and renamed on success; a non-empty folder needs force; a folder holding an input is
refused; an error leaves the target as it was."""

from __future__ import annotations

import pytest

from nucleoforge.io.output_folders import atomic_folder, check_output_folder


def test_atomic_folder_replaces_only_on_success(tmp_path):
    target = tmp_path / "out"
    with atomic_folder(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith("out.tmp") and not target.exists()
        (tmp / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1"
    with pytest.raises(ValueError, match="folder exists and is not empty .*--overwrite"):
        with atomic_folder(target):
            pass
    with pytest.raises(RuntimeError):
        with atomic_folder(target, force=True) as tmp:
            (tmp / "b.txt").write_text("2")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and (target / "a.txt").exists()
    with atomic_folder(target, force=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (tmp_path / "empty").mkdir()
    with atomic_folder(tmp_path / "empty") as tmp:  # an empty folder needs no force
        (tmp / "c.txt").write_text("3")
    assert (tmp_path / "empty" / "c.txt").exists()


def test_check_output_folder_refusals(tmp_path):
    (tmp_path / "data").mkdir()
    ref = tmp_path / "data" / "ref.fa"
    ref.write_text(">a\nACGT\n")
    with pytest.raises(ValueError, match="holds the input"):
        check_output_folder(tmp_path / "data", force=True, inputs=(ref,))
    with pytest.raises(NotADirectoryError, match="is a file"):
        check_output_folder(ref)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_output_folder(tmp_path / "missing" / "out")
    check_output_folder(tmp_path / "new", inputs=(ref, None))
