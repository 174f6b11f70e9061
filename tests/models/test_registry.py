"""The one table of model families (nucleoforge.registry): every layer reads it, and a new
BERT-family model is one folder plus one entry."""

from __future__ import annotations

import pytest
import torch

from nucleoforge import registry
from nucleoforge.registry import ModelFamily, kmer_vocabulary
from nucleoforge.tokenization import NucleotideTokenizer


@pytest.fixture
def toy_family():
    entry = registry.register_family(ModelFamily(
        model_type="toybert", name="ToyBERT", module="tests.models.toybert", config_class="ToyBertConfig",
        prefix="ToyBert", vocabulary=lambda k: kmer_vocabulary(k, "ACGT"), ks=(2,), variants={"toybert": 66},
        auto={"AutoModel": "ToyBertModel", "AutoModelForMaskedLM": "ToyBertForMaskedLM"},
        description="a toy 2-mer model, 2×32",
    ))  # fmt: skip
    registry.register_auto_classes(["toybert"])
    yield entry
    registry.unregister_family("toybert")


def test_a_fourth_family_is_one_folder_plus_one_entry(toy_family, tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from tests.cli.runner import invoke
    from tests.models.toybert import ToyBertConfig, ToyBertForMaskedLM

    # tokenizer: the registry's vocabulary (2-mers of ACGT, DNABERT order) and positions
    tok = NucleotideTokenizer.for_model("toybert")
    assert len(tok) == 21 and tok.k == 2 and tok.model_max_length == 66
    assert tok("ACGT")["input_ids"] == [2, 6, 11, 16, 3]  # [CLS] AC CG GT [SEP]
    assert NucleotideTokenizer.for_config(ToyBertConfig()).get_vocab() == tok.get_vocab()
    # save / load through the Auto classes
    torch.manual_seed(0)
    model = ToyBertForMaskedLM(ToyBertConfig()).eval()
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is ToyBertForMaskedLM
    assert type(AutoTokenizer.from_pretrained(tmp_path)) is NucleotideTokenizer
    ids = torch.tensor([tok("ACGTTGCA")["input_ids"]])
    torch.testing.assert_close(loaded(input_ids=ids).logits, model(input_ids=ids).logits, rtol=0, atol=1e-6)
    # the CLI lists it, with its parameter count
    result = invoke(["info"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "toybert" in line)
    n = sum(p.numel() for p in model.parameters())
    assert "a toy 2-mer model" in row and f"{n / 1e6:.2f} M" in row and "│     65 │" in row  # 64 2-mers = 65 nt


def test_every_layer_reads_the_one_table():
    from nucleoforge.models.splicebert import SPLICEBERT_VARIANTS, SpliceBertConfig
    from nucleoforge.models.utrbert import UTRBERT_KS
    from nucleoforge.training.pretrain import MODEL_TYPES

    assert SPLICEBERT_VARIANTS is registry.family("splicebert").variants
    assert SpliceBertConfig(variant="splicebert-human.510").max_position_embeddings == 512
    assert UTRBERT_KS == (3, 4, 5, 6)
    assert MODEL_TYPES == ("splicebert", "utrbert", "rnaernie", "genebert-sequence")
    assert NucleotideTokenizer.for_model("dnabert", k=6).get_vocab() == NucleotideTokenizer.for_model("genebert-sequence").get_vocab()
    assert NucleotideTokenizer.for_model("splicebert", variant="splicebert.510").model_max_length == 512


def test_unknown_family_and_k_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown model type 'nope'; expected one of splicebert, utrbert, rnaernie"):
        registry.family("nope")
    with pytest.raises(ValueError, match=r"3UTRBERT has 3-mer, 4-mer, 5-mer, 6-mer vocabularies, got k=7"):
        NucleotideTokenizer.for_model("utrbert", k=7)
    with pytest.raises(ValueError, match=r"unknown SpliceBERT variant 'splicebert.2k'"):
        NucleotideTokenizer.for_model("splicebert", variant="splicebert.2k")


def test_import_registers_auto_classes_lazily_without_torch():
    """``import nucleoforge`` imports no torch; the Auto classes know every family as soon as they load."""
    import subprocess
    import sys

    code = ("import sys, nucleoforge; assert 'torch' not in sys.modules, 'torch imported';"
            "from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer;"
            "import transformers.modeling_utils;"
            "assert AutoConfig.for_model('utrbert', k=4).vocab_size == 261;"
            "m = AutoModelForMaskedLM.from_config(AutoConfig.for_model('rnaernie', num_hidden_layers=1));"
            "assert type(m).__name__ == 'RnaErnieForMaskedLM';"
            "assert type(AutoModel.from_config(AutoConfig.for_model('spliceai'))).__name__ == 'SpliceAIModel'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    # the other order: transformers' Auto classes first, then nucleoforge
    code = ("from transformers import AutoModelForMaskedLM, AutoConfig; import nucleoforge;"
            "assert type(AutoModelForMaskedLM.from_config(AutoConfig.for_model('splicebert', num_hidden_layers=1))).__name__"
            " == 'SpliceBertForMaskedLM'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_broken_family_never_breaks_the_users_import():
    """Registering on the first Auto use must not make ``from transformers import AutoConfig`` fail:
    the broken family is reported as a warning, the others are registered."""
    import subprocess
    import sys

    code = ("import warnings, nucleoforge; from nucleoforge import registry;"
            "registry.register_family(registry.ModelFamily(model_type='broken', name='Broken', module='no.such.module',"
            " config_class='X', prefix='Broken'));"
            "warnings.simplefilter('always');"
            "from transformers import AutoConfig;"
            "print(AutoConfig.for_model('splicebert').model_type)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "splicebert"
    assert "RuntimeWarning: nucleoforge could not register" in done.stderr and "broken (no.such.module)" in done.stderr
    with pytest.raises(RuntimeError, match=r"cannot register broken \(no\.such\.module\): ModuleNotFoundError"):
        registry.register_family(ModelFamily(model_type="broken", name="Broken", module="no.such.module", config_class="X",
                                             prefix="Broken"))
        try:
            registry.register_auto_classes(["broken"])
        finally:
            registry.unregister_family("broken")
