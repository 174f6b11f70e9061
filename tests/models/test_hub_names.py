"""Hub names resolve the standard way (issue 24, part 2): a local folder first, then named
weights, then a hub repository through ``huggingface_hub``'s cache — tested on a cache folder
laid out as the hub client writes it (``models--owner--name/refs/main`` + ``snapshots/<commit>/``),
``HF_HUB_OFFLINE=1``, never the network. Each case runs in a fresh process: the hub client reads
``HF_HUB_CACHE`` when it is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.cli.runner import run_exe

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "multimolecule"
MAIN, PINNED = "1" * 40, "2" * 40


def cached_repo(cache: Path, repo: str, src: Path, commit: str, main: bool = True) -> Path:
    """``src`` as snapshot ``commit`` of hub repository ``repo`` in the cache folder ``cache``."""
    base = cache / f"models--{repo.replace('/', '--')}"
    snapshot = base / "snapshots" / commit
    shutil.copytree(src, snapshot)
    if main:
        (base / "refs").mkdir(parents=True, exist_ok=True)
        (base / "refs" / "main").write_text(commit)
    return snapshot


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory) -> Path:
    """multimolecule/splicebert at main and at a pinned revision whose MLM bias differs by +1."""
    cache = tmp_path_factory.mktemp("hub")
    cached_repo(cache, "multimolecule/splicebert", FIX / "splicebert" / "checkpoint", MAIN)
    pinned = cached_repo(cache, "multimolecule/splicebert", FIX / "splicebert" / "checkpoint", PINNED, main=False)
    state = load_file(pinned / "model.safetensors")
    state["lm_head.bias"] = state["lm_head.bias"] + 1
    save_file(state, pinned / "model.safetensors", metadata={"format": "pt"})
    return cache


def run_python(code: str, cache: Path) -> dict:
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_hub_id_short_name_and_revision_through_the_cache(hub_cache):
    out = run_python(f"""
import json, torch, nucleoforge
from transformers import AutoModelForMaskedLM, AutoTokenizer
from nucleoforge import SpliceBertForMaskedLM
from nucleoforge.tokenization import RnaTokenizer
ids = torch.tensor([[1, 6, 7, 8, 4, 9, 2]])
by_id = AutoModelForMaskedLM.from_pretrained("multimolecule/splicebert")
by_name = SpliceBertForMaskedLM.from_pretrained("splicebert")
pinned = SpliceBertForMaskedLM.from_pretrained("splicebert", revision="{PINNED}")
tok = AutoTokenizer.from_pretrained("multimolecule/splicebert")
tok_name = RnaTokenizer.from_pretrained("splicebert")
with torch.no_grad():
    a, b, c = (m(input_ids=ids).logits for m in (by_id, by_name, pinned))
print(json.dumps({{"class": type(by_id).__name__, "same": bool(torch.equal(a, b)),
                   "pinned_shift": float((c - a).mean()), "tokenizer": type(tok).__name__,
                   "ids": tok("ACG<mask>U")["input_ids"], "ids_name": tok_name("ACG<mask>U")["input_ids"],
                   "format": by_name.config.source_format}}))
""", hub_cache)
    assert out["class"] == "SpliceBertForMaskedLM" and out["same"] and out["format"] == "multimolecule"
    assert out["pinned_shift"] == pytest.approx(1.0, abs=1e-5)  # revision= picked the other snapshot
    assert out["tokenizer"] == "RnaTokenizer" and out["ids"] == out["ids_name"] == [1, 6, 7, 8, 4, 9, 2]


def test_command_line_model_name_resolves_through_the_cache(hub_cache):
    r = run_exe("fill-mask", "ACGU<mask>ACGU", "--model", "splicebert", env={"HF_HUB_CACHE": str(hub_cache)})
    assert r.code == 0, r.err
    assert "prediction" in r.out and "seq1" in r.out


def test_offline_without_a_cached_copy_is_one_line_at_once(tmp_path):
    start = time.monotonic()
    r = run_exe("fill-mask", "ACGU<mask>ACGU", "--model", "multimolecule/rnaernie", env={"HF_HUB_CACHE": str(tmp_path)})
    assert time.monotonic() - start < 60  # no 20-second retries on top of the start-up
    assert r.code == 2 and r.err.splitlines() == [
        f"error: --model multimolecule/rnaernie: not in the Hugging Face cache ({tmp_path}) and HF_HUB_OFFLINE is set, "
        "so it cannot be downloaded; fetch it where the hub is reachable (`hf download multimolecule/rnaernie`); or "
        "convert a local copy of the original release with `nucleoforge convert rnaernie SRC DST` and pass that folder"]


def test_a_local_folder_wins_over_the_hub_name(hub_cache, tmp_path, monkeypatch):
    """The rule's first step: a folder called ``splicebert`` here is read, not the cached repository."""
    from nucleoforge import registry

    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIX / "rnaernie" / "checkpoint", tmp_path / "splicebert")
    assert registry.locate("splicebert") == "splicebert"
    with pytest.raises(Exception, match="MultiMolecule 'rnaernie' model, not a 'splicebert' model"):
        from nucleoforge import SpliceBertForMaskedLM

        SpliceBertForMaskedLM.from_pretrained("splicebert")


def test_info_names_each_short_names_hub_repository():
    from tests.cli.runner import invoke

    result = invoke(["info"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    assert "multimolecule/utrbert-4mer" in rows["utrbert-4mer"] and "multimolecule/rnaernie" in rows["rnaernie"]
    assert "│ —" in rows["genebert-sequence-6mer"]
