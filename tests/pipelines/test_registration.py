"""``import nucleoforge`` registers the pipeline tasks with ``transformers.pipeline`` (issue 20, item 1).

Each check runs in a fresh interpreter: registration happens on import, so the order in which
nucleoforge, transformers and its pipelines module are imported is the thing under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TASKS = ["nucleotide-attention", "nucleotide-embedding", "nucleotide-fill-mask", "splice-site", "zero-shot-variant-effect"]

_CHECK = """
import json, sys
{imports}
light = sorted(m for m in ("torch", "transformers") if m in sys.modules)
import transformers
{before_pipeline}
fill = transformers.pipeline("nucleotide-fill-mask", model={lm!r}, device="cpu")
masks = fill("ACGUA<mask>GUACGU")
from transformers.pipelines import PIPELINE_REGISTRY
from nucleoforge.models.spliceai import SpliceAIModel
splice = transformers.pipeline("splice-site", model=SpliceAIModel.from_pretrained({splice!r}), device="cpu")
pred = splice("ACGTAGGTAAGTCCCTTTAGGAT")
print(json.dumps({{
    "light": light,
    "fill": [type(fill).__name__, len(masks), masks[0]["position"], sorted(masks[0]["probabilities"])],
    "splice": [type(splice).__name__, len(pred.acceptor)],
    "tasks": sorted(t for t in PIPELINE_REGISTRY.get_supported_tasks() if t in {tasks!r}),
}}))
"""

ORDERS = {
    # the README's promise: import nucleoforge, then use transformers.pipeline
    "nucleoforge_first": ("import nucleoforge", ""),
    # an Auto class used first (registers the families), the pipelines module only later
    "auto_class_first": ("import nucleoforge",
                         "transformers.AutoConfig.from_pretrained({lm!r})"),
    # transformers' pipelines already loaded when nucleoforge is imported
    "pipelines_first": ("import transformers, transformers.pipelines\nimport nucleoforge", ""),
}  # fmt: skip


@pytest.fixture(scope="module")
def spliceai_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("spliceai_tiny")
    SpliceAIModel(SpliceAIConfig(stages=[(1, 3, 1), (1, 3, 2)], channels=4, num_members=2)).save_pretrained(path)
    return path


@pytest.mark.parametrize("order", [
    "nucleoforge_first",
    pytest.param("auto_class_first", marks=pytest.mark.slow),  # a fresh interpreter each: ~10-20 s
    pytest.param("pipelines_first", marks=pytest.mark.slow),
])  # fmt: skip
def test_import_nucleoforge_registers_the_pipeline_tasks(order, model_dir, spliceai_dir):
    lm = str(model_dir("splicebert"))
    imports, before = ORDERS[order]
    code = _CHECK.format(imports=imports, before_pipeline=before.format(lm=lm), lm=lm, splice=str(spliceai_dir), tasks=TASKS)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                          env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["fill"] == ["NucleotideFillMaskPipeline", 1, 5, ["A", "C", "G", "T"]]
    assert result["splice"] == ["SpliceSitePipeline", 23]
    assert result["tasks"] == TASKS
    if order != "pipelines_first":
        assert result["light"] == []  # `import nucleoforge` alone imports neither torch nor transformers
