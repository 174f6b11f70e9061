"""``multimolecule`` imported in the same process registers ``splicebert``, ``utrbert`` and
``rnaernie`` with the transformers Auto classes too; the last import must not silently win
(issue 24, part 3): nucleoforge's classes stay, with one warning, in either import order.

The package itself (AGPL-3.0, many dependencies) is not installed here: a stand-in named
``multimolecule`` does what its ``import`` does to transformers — a plain ``AutoConfig.register``
of its own config classes under those names (transformers 5 overwrites a custom name silently).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

STAND_IN = '''
from transformers import AutoConfig, PretrainedConfig
for name in ("splicebert", "utrbert", "rnaernie"):
    AutoConfig.register(name, type(name.title() + "Config", (PretrainedConfig,), {"model_type": name}))
'''

CHECK = '''
import json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    {imports}
    from transformers import AutoConfig
    owners = {{n: AutoConfig.for_model(n).__module__ for n in ("splicebert", "utrbert", "rnaernie")}}
print(json.dumps({{"owners": owners, "warnings": [str(w.message) for w in caught if "multimolecule" in str(w.message)]}}))
'''


ORDERS = {
    "nucleoforge first": "import transformers.models.auto.configuration_auto; import nucleoforge; import multimolecule",
    "multimolecule first": "import transformers.models.auto.configuration_auto; import multimolecule; import nucleoforge",
    # transformers' triggers done: only the multimolecule module itself is watched from then on
    "after transformers' pipelines": "import nucleoforge; import transformers.pipelines; import multimolecule",
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_nucleoforges_classes_stay_registered_with_one_warning(tmp_path, order):
    (tmp_path / "multimolecule").mkdir()
    (tmp_path / "multimolecule" / "__init__.py").write_text(STAND_IN)
    imports = ORDERS[order]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", CHECK.format(imports=imports)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(module.startswith("nucleoforge.models.") for module in result["owners"].values()), result
    assert len(result["warnings"]) == 1 and "load nucleoforge's classes" in result["warnings"][0]
