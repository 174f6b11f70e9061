"""GeneBERT model: SRM losses by hand, CLIP-style outputs, region encoders (pretraining: tests/training/test_genebert.py)."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification

from nucleoforge.models.genebert import (
    GeneBertConfig,
    GeneBertForPreTraining,
    GeneBertModel,
    GeneBertSequenceConfig,
    GeneBertSequenceForContactPrediction,
    GeneBertSequenceForMaskedLM,
    GeneBertSequenceForSequencePrediction,
    GeneBertSequenceForTokenPrediction,
    GeneBertSequenceModel,
    srm_infonce_loss,
    srm_pooled_loss,
)
from nucleoforge.tokenization import NucleotideTokenizer
from tests.models.test_common import ModelTesterMixin

SEQ = dict(k=3, num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
           max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
REGIONS = {
    "swin": dict(model_type="swin", image_size=32, patch_size=4, num_channels=1, embed_dim=16, depths=[1, 1],
                 num_heads=[2, 2], window_size=4),
    "vit": dict(model_type="vit", image_size=32, patch_size=8, num_channels=1, hidden_size=32, num_hidden_layers=1,
                num_attention_heads=4, intermediate_size=64),
    "deit": dict(model_type="deit", image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=1,
                 num_attention_heads=4, intermediate_size=64),
}  # fmt: skip


def tiny_config(region: str = "swin", **kwargs) -> GeneBertConfig:
    return GeneBertConfig(sequence_config=SEQ, region_config=REGIONS[region], projection_dim=16, **kwargs)


def tiny_batch(b: int = 4, t: int = 24, g: int = 4, n_tf: int = 30, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 5 + 4**3, (b, t), generator=gen)
    ids[:, 0], ids[:, t // 2], ids[:, -1] = 2, 3, 3
    types = torch.zeros(b, t, dtype=torch.long)
    types[:, t // 2 + 1 :] = 1
    labels = torch.full((b, t), -100)
    labels[:, 3:6] = ids[:, 3:6]
    return {
        "input_ids": ids, "token_type_ids": types, "labels": labels,
        "next_sentence_label": torch.tensor([0, 1] * (b // 2)),
        "region_values": torch.randn(b, g, n_tf, generator=gen),
    }  # fmt: skip


# ---------------------------------------------------------------------------- losses
def test_infonce_equals_hand_computation() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.3], [1.5, -0.2, 0.1]])
    rows = [-(logits[i, i] - math.log(sum(math.exp(x) for x in logits[i].tolist()))) for i in range(3)]
    cols = [-(logits[j, j] - math.log(sum(math.exp(x) for x in logits[:, j].tolist()))) for j in range(3)]
    expected = 0.5 * (sum(rows) / 3 + sum(cols) / 3)
    assert float(srm_infonce_loss(logits)) == pytest.approx(float(expected), abs=1e-6)
    pooled = -math.log(sum(math.exp(logits[i, i]) for i in range(3)) / sum(math.exp(x) for x in logits.flatten().tolist()))
    assert float(srm_pooled_loss(logits)) == pytest.approx(pooled, abs=1e-6)


def test_infonce_is_minimal_when_pairs_align() -> None:
    torch.manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    scale = 10.0
    aligned = srm_infonce_loss(scale * emb @ emb.t())
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        perm = torch.randperm(6, generator=gen)
        if bool((perm == torch.arange(6)).all()):
            continue
        shuffled = srm_infonce_loss(scale * emb @ emb[perm].t())
        assert float(shuffled) > float(aligned)
    # perfect, well separated alignment drives the loss to ~0; identical embeddings give log(B)
    assert float(srm_infonce_loss(torch.eye(6) * 50)) < 1e-6
    assert float(srm_infonce_loss(torch.ones(6, 6))) == pytest.approx(math.log(6), abs=1e-6)


# ---------------------------------------------------------------------------- models
@pytest.mark.parametrize("region", ["swin", "vit", "deit"])
def test_pretraining_forward_losses_and_gradients(region: str) -> None:
    torch.manual_seed(0)
    model = GeneBertForPreTraining(tiny_config(region)).eval()  # no drop-path: outputs are comparable
    batch = tiny_batch()
    out = model(**batch)
    assert out.logits_per_sequence.shape == (4, 4)
    torch.testing.assert_close(out.logits_per_region, out.logits_per_sequence.t())
    assert out.sequence_embeds.shape == out.region_embeds.shape == (4, 16)
    torch.testing.assert_close(out.sequence_embeds.norm(dim=-1), torch.ones(4))
    assert out.mgm_logits.shape == (12, 5 + 64) and out.ngsp_logits.shape == (4, 2)
    expected = out.mgm_loss + out.ngsp_loss + 0.5 * out.srm_loss
    torch.testing.assert_close(out.loss, expected)
    masked = batch["labels"] != -100
    full = model.lm_head(out.sequence_last_hidden_state)[masked]
    torch.testing.assert_close(out.mgm_logits, full)
    torch.testing.assert_close(out.mgm_loss, torch.nn.functional.cross_entropy(full, batch["labels"][masked]))
    seq = torch.nn.functional.normalize(model.get_sequence_features(batch["input_ids"], None, batch["token_type_ids"]), dim=-1)
    reg = torch.nn.functional.normalize(model.get_region_features(batch["region_values"]), dim=-1)
    torch.testing.assert_close(out.logits_per_sequence, model.logit_scale.exp() * seq @ reg.t())
    out.loss.backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    assert model.lm_head.decoder.weight is model.bert.embeddings.word_embeddings.weight


def test_srm_weight_zero_skips_the_region_branch() -> None:
    torch.manual_seed(0)
    model = GeneBertForPreTraining(tiny_config(srm_weight=0.0))
    out = model(**tiny_batch())
    assert out.srm_loss is None and out.logits_per_sequence is None
    torch.testing.assert_close(out.loss, out.mgm_loss + out.ngsp_loss)


def test_pooled_srm_loss_option_and_config_errors() -> None:
    torch.manual_seed(0)
    model = GeneBertForPreTraining(tiny_config(srm_loss="pooled")).eval()
    out = model(**tiny_batch())
    torch.testing.assert_close(out.srm_loss, srm_pooled_loss(out.logits_per_sequence))
    with pytest.raises(ValueError, match="srm_loss"):
        tiny_config(srm_loss="nce")
    with pytest.raises(ValueError, match="region_config.model_type"):
        GeneBertConfig(region_config={"model_type": "bert"})
    with pytest.raises(ValueError, match=r"region_values must be \(batch, group_size, n_TF\)"):
        model(input_ids=tiny_batch()["input_ids"], region_values=torch.zeros(4, 30))


def test_save_load_and_auto_classes(tmp_path) -> None:
    torch.manual_seed(0)
    model = GeneBertForPreTraining(tiny_config()).eval()
    with torch.no_grad():
        model.logit_scale.fill_(1.5)  # a trained temperature must survive the round trip
    batch = tiny_batch()
    model.save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)) is GeneBertConfig
    loaded = AutoModelForPreTraining.from_pretrained(tmp_path).eval()
    assert type(loaded) is GeneBertForPreTraining and float(loaded.logit_scale.detach()) == 1.5
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    torch.testing.assert_close(a.loss, b.loss, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.logits_per_sequence, b.logits_per_sequence, atol=1e-5, rtol=1e-5)
    base = AutoModel.from_pretrained(tmp_path).eval()
    assert type(base) is GeneBertModel
    with torch.no_grad():
        out = base(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"], region_values=batch["region_values"], return_loss=True)
    torch.testing.assert_close(out.logits_per_sequence, a.logits_per_sequence, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.loss, a.srm_loss, atol=1e-5, rtol=1e-5)


def test_sequence_encoder_export_for_fine_tuning(tmp_path) -> None:
    torch.manual_seed(0)
    model = GeneBertForPreTraining(tiny_config()).eval()
    tok = NucleotideTokenizer.for_model("dnabert", k=3)
    model.save_sequence_model(tmp_path / "sequence", tokenizer=tok)
    clf = AutoModelForSequenceClassification.from_pretrained(tmp_path / "sequence", num_labels=2).eval()
    assert type(clf) is GeneBertSequenceForSequencePrediction
    ids = tok(["ACGTTGCAAGGCTTAACG", "GGGCCCATAT"], padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = model.encode_sequence(ids["input_ids"], ids["attention_mask"])
        theirs = clf.bert(ids["input_ids"], ids["attention_mask"])
    torch.testing.assert_close(theirs.last_hidden_state, ours.last_hidden_state)
    torch.testing.assert_close(theirs.pooler_output, ours.pooler_output)  # the NGSP-trained pooler comes along
    mlm = GeneBertSequenceForMaskedLM.from_pretrained(tmp_path / "sequence").eval()
    with torch.no_grad():
        torch.testing.assert_close(mlm(**ids).logits, model.lm_head(ours.last_hidden_state))


def test_region_encoder_from_local_pretrained_weights(tmp_path) -> None:
    from transformers import SwinConfig, SwinModel

    torch.manual_seed(1)
    swin = SwinModel(SwinConfig(**{k: v for k, v in REGIONS["swin"].items() if k != "model_type"}))
    swin.save_pretrained(tmp_path / "swin")
    model = GeneBertForPreTraining.from_encoders(tiny_config("vit"), region_path=tmp_path / "swin")
    assert model.config.region_config.model_type == "swin"
    for (name, p), (name2, q) in zip(model.region_model.state_dict().items(), swin.state_dict().items()):
        assert name == name2 and torch.equal(p, q)


def test_region_matrix_is_resized_to_the_image() -> None:
    model = GeneBertModel(tiny_config("deit"))
    values = torch.arange(4 * 30, dtype=torch.float32).view(1, 4, 30)
    pixels = model.region_pixels(values)
    assert pixels.shape == (1, 3, 32, 32)
    torch.testing.assert_close(pixels[:, 0], pixels[:, 2])
    expected = torch.nn.functional.adaptive_avg_pool2d(values[:, None], (32, 32))  # area = adaptive average
    torch.testing.assert_close(pixels[:, :1], expected)
    old = GeneBertModel(tiny_config("deit", region_interpolation="bilinear"))  # configs that name it still load
    torch.testing.assert_close(old.region_pixels(values)[:, :1], torch.nn.functional.interpolate(
        values[:, None], size=(32, 32), mode="bilinear", align_corners=False))


def _columns_reaching_the_encoder(interpolation: str, n_tf: int = 579, region: str = "vit") -> torch.Tensor:
    """Per motif column: does the pooled region feature depend on it (gradient not zero)?"""
    torch.manual_seed(0)
    cfg = dict(REGIONS[region], image_size=64)
    model = GeneBertModel(GeneBertConfig(sequence_config=SEQ, region_config=cfg, projection_dim=16,
                                         region_interpolation=interpolation)).eval()
    values = torch.randn(2, 10, n_tf, requires_grad=True)
    model.get_region_features(values).pow(2).sum().backward()
    return values.grad.abs().sum(dim=(0, 1)) > 0


@pytest.mark.parametrize("region", ["vit", "swin"])
def test_every_motif_column_reaches_the_region_encoder(region) -> None:
    """Defect 1: with the area resize each of JASPAR2018's 579 columns changes the output at 64 px."""
    reached = _columns_reaching_the_encoder("area", region=region)
    assert bool(reached.all()), f"{int((~reached).sum())} of 579 columns never reach the encoder"


def test_bilinear_resize_drops_most_motif_columns() -> None:
    """What the default fixes: bilinear without antialiasing reads 2 columns per output pixel."""
    assert int(_columns_reaching_the_encoder("bilinear").sum()) == 128


class TestGeneBertSequenceEncoder(ModelTesterMixin):
    """The sequence encoder alone (fine-tuning classes) passes the shared BERT-family checks."""

    config_class = GeneBertSequenceConfig
    classes = {
        "Model": GeneBertSequenceModel, "ForMaskedLM": GeneBertSequenceForMaskedLM,
        "ForSequencePrediction": GeneBertSequenceForSequencePrediction,
        "ForTokenPrediction": GeneBertSequenceForTokenPrediction,
        "ForContactPrediction": GeneBertSequenceForContactPrediction,
    }  # fmt: skip
    model_type = "dnabert"
    tokenizer_kwargs = {"k": 3}
    config_kwargs = {"k": 3, "vocab_size": 69}


def test_ngsp_weight_zero_leaves_mgm_and_srm() -> None:
    """The "MGM only" arm: ngsp_weight=0 drops the next-segment term from the total."""
    from nucleoforge.models.genebert import GeneBertForPreTraining

    batch = tiny_batch()
    torch.manual_seed(0)
    full = GeneBertForPreTraining(tiny_config("vit")).eval()
    torch.manual_seed(0)
    mgm = GeneBertForPreTraining(tiny_config("vit", ngsp_weight=0.0, srm_weight=0.0)).eval()
    a, b = full(**batch), mgm(**batch)
    torch.testing.assert_close(a.loss, a.mgm_loss + a.ngsp_loss + 0.5 * a.srm_loss)
    torch.testing.assert_close(b.loss, b.mgm_loss)
    torch.testing.assert_close(a.mgm_loss, b.mgm_loss)  # identical init across arms
    with pytest.raises(ValueError, match="ngsp_weight must be >= 0"):
        tiny_config(ngsp_weight=-1)
