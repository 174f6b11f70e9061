"""The shared model-test mixin: every BERT-family model runs these checks on a tiny config.

A model test subclasses :class:`ModelTesterMixin` and sets ``config_class``, ``classes`` (its
Model / ForMaskedLM / ForSequencePrediction / ForTokenPrediction / ForContactPrediction) and
``tokenizer_kwargs``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

from nucleoforge.tokenization import NucleotideTokenizer, nucleotide_length

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip


class ModelTesterMixin:
    config_class: ClassVar[type]
    classes: ClassVar[dict[str, type]]
    model_type: ClassVar[str]
    tokenizer_kwargs: ClassVar[dict[str, Any]] = {}
    config_kwargs: ClassVar[dict[str, Any]] = {}

    # ------------------------------------------------------------------ helpers
    def config(self, **kwargs: Any):
        return self.config_class(**{**TINY, **self.config_kwargs, **kwargs})

    def tokenizer(self) -> NucleotideTokenizer:
        return NucleotideTokenizer.for_model(self.model_type, **self.tokenizer_kwargs)

    def model(self, kind: str = "Model", **kwargs: Any):
        torch.manual_seed(0)
        return self.classes[kind](self.config(**kwargs)).eval()

    def batch(self, seqs: list[str], **kwargs: Any):
        return self.tokenizer()(seqs, padding=True, return_tensors="pt", **kwargs)

    # ------------------------------------------------------------------ checks
    def test_forward_shapes(self, real_sequences: list[str]) -> None:
        tok = self.tokenizer()
        batch = self.batch(real_sequences[:3])
        t = batch["input_ids"].shape[1]
        out = self.model()(**batch, output_hidden_states=True, output_attentions=True)
        assert out.last_hidden_state.shape == (3, t, 32)
        assert out.pooler_output.shape == (3, 32)
        assert len(out.hidden_states) == 3 and len(out.attentions) == 2
        assert out.attentions[0].shape == (3, 4, t, t)
        mlm = self.model("ForMaskedLM")(**batch)
        assert mlm.logits.shape == (3, t, len(tok))
        n = max(len(s) for s in real_sequences[:3])
        seq = self.model("ForSequencePrediction", num_labels=3)(**batch)
        assert seq.logits.shape == (3, 3)
        token = self.model("ForTokenPrediction", num_labels=2)(**batch)
        assert token.logits.shape == (3, n, 2)
        assert token.nucleotide_mask.sum(1).tolist() == [len(s) for s in real_sequences[:3]]
        contact = self.model("ForContactPrediction", num_labels=1)(**batch)
        assert contact.logits.shape == (3, n, n, 1)
        torch.testing.assert_close(contact.logits, contact.logits.transpose(1, 2))

    def test_save_load_round_trip(self, tmp_path, real_sequences: list[str]) -> None:
        batch = self.batch(real_sequences[:2])
        model = self.model("ForMaskedLM")
        model.save_pretrained(tmp_path)
        self.tokenizer().save_pretrained(tmp_path)
        loaded = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
        assert type(loaded) is type(model)
        assert type(AutoConfig.from_pretrained(tmp_path)) is self.config_class
        with torch.no_grad():
            torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits, atol=1e-5, rtol=1e-5)
        assert loaded.lm_head.decoder.weight.data_ptr() == loaded.bert.embeddings.word_embeddings.weight.data_ptr()
        base = AutoModel.from_pretrained(tmp_path)
        assert type(base) is self.classes["Model"]

    @pytest.mark.parametrize("side", ["right", "left"])
    def test_padding_equivalence(self, real_sequences: list[str], side: str) -> None:
        model = self.model("ForMaskedLM")
        tok = self.tokenizer()
        seqs = real_sequences[:3]
        batch = tok(seqs, padding=True, padding_side=side, return_tensors="pt")
        with torch.no_grad():
            batched = model(**batch).logits
            for i, s in enumerate(seqs):
                alone = model(**tok([s], return_tensors="pt")).logits[0]
                real = batch["attention_mask"][i].bool()
                torch.testing.assert_close(batched[i][real], alone, atol=1e-5, rtol=1e-5)
        token_model = self.model("ForTokenPrediction", num_labels=2)
        with torch.no_grad():
            out = token_model(**batch)
            for i, s in enumerate(seqs):
                alone = token_model(**tok([s], return_tensors="pt")).logits[0]
                torch.testing.assert_close(out.logits[i, : len(s)], alone, atol=1e-5, rtol=1e-5)

    def test_eager_equals_sdpa(self, real_sequences: list[str]) -> None:
        batch = self.batch(real_sequences[:3])
        model = self.model("ForMaskedLM")
        with torch.no_grad():
            model.config._attn_implementation = "sdpa"
            sdpa = model(**batch).logits
            model.config._attn_implementation = "eager"
            eager = model(**batch).logits
        real = batch["attention_mask"].bool()
        torch.testing.assert_close(sdpa[real], eager[real], atol=1e-5, rtol=1e-5)

    def test_determinism(self, real_sequences: list[str]) -> None:
        batch = self.batch(real_sequences[:2])
        model = self.model("ForSequencePrediction", num_labels=2)
        with torch.no_grad():
            assert torch.equal(model(**batch).logits, model(**batch).logits)
        assert torch.equal(self.model("ForSequencePrediction", num_labels=2)(**batch).logits, model(**batch).logits)

    @pytest.mark.parametrize("kind", ["ForMaskedLM", "ForSequencePrediction", "ForTokenPrediction", "ForContactPrediction"])
    def test_every_parameter_gets_a_gradient(self, real_sequences: list[str], kind: str) -> None:
        tok = self.tokenizer()
        model = self.model(kind, num_labels=2).train()
        batch = self.batch(real_sequences[:2], return_token_type_ids=True)
        batch["token_type_ids"][0, 1] = 1  # reach the second token-type embedding row
        n = max(nucleotide_length(s) for s in real_sequences[:2])
        if kind == "ForMaskedLM":
            labels = batch["input_ids"].clone()
        elif kind == "ForSequencePrediction":
            labels = torch.tensor([0, 1])
        elif kind == "ForTokenPrediction":
            labels = torch.randint(0, 2, (2, n))
        else:
            labels = torch.randint(0, 2, (2, n, n))
        loss = model(**batch, labels=labels).loss
        loss.backward()
        missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        # the padding row of the word embeddings stays zero by design; rows of absent tokens have zero grad
        assert missing == [], missing
        assert torch.isfinite(loss)
        del tok

    def test_gradient_checkpointing_same_loss(self, real_sequences: list[str]) -> None:
        batch = self.batch(real_sequences[:2])
        labels = batch["input_ids"].clone()
        model = self.model("ForMaskedLM").train()
        loss = model(**batch, labels=labels).loss
        model.activation_checkpointing_enable() if hasattr(model, "activation_checkpointing_enable") else model.gradient_checkpointing_enable()
        loss_ckpt = model(**batch, labels=labels).loss
        torch.testing.assert_close(loss, loss_ckpt)
        loss_ckpt.backward()

    def test_bf16_heads(self, real_sequences: list[str]) -> None:
        batch = self.batch(real_sequences[:2])
        n = max(len(s) for s in real_sequences[:2])
        for kind, labels in (
            ("ForSequencePrediction", torch.tensor([0, 1])),
            ("ForTokenPrediction", torch.randint(0, 2, (2, n))),
            ("ForContactPrediction", torch.randint(0, 2, (2, n, n))),
        ):
            model = self.model(kind, num_labels=2, problem_type="multiclass" if kind != "ForContactPrediction" else None)
            if kind == "ForContactPrediction":
                model = self.model(kind, num_labels=1, problem_type="binary")
            model = model.to(torch.bfloat16)
            out = model(**batch, labels=labels)
            assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.loss)

    def test_config_validation(self) -> None:
        with pytest.raises(ValueError, match="multiple of num_attention_heads"):
            self.config(hidden_size=30)
        with pytest.raises(ValueError, match="hidden_act"):
            self.config(hidden_act="swishy")
        with pytest.raises(ValueError, match="problem_type"):
            self.config(problem_type="classification")
        with pytest.raises(ValueError, match="num_hidden_layers"):
            self.config(num_hidden_layers=0)

    def test_too_long_input_is_a_clear_error(self) -> None:
        model = self.model(max_position_embeddings=16)
        with pytest.raises(ValueError, match="exceeds the model's 16 positions"):
            model(input_ids=torch.full((1, 17), 6))
