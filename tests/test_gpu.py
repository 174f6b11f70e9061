"""GPU checks (bf16, SDPA vs eager, SpliceAI on CUDA); skipped cleanly on machines without CUDA."""

from __future__ import annotations

import pytest
import torch

import nucleoforge as nf

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip


def test_splicebert_bf16_sdpa_matches_fp32_cpu(real_sequences: list[str]) -> None:
    torch.manual_seed(0)
    model = nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(**TINY)).eval()
    batch = nf.NucleotideTokenizer.for_model("splicebert")(real_sequences, padding=True, return_tensors="pt")
    with torch.no_grad():
        reference = model(**batch).logits
        gpu = model.to("cuda", torch.bfloat16)
        cuda_batch = {k: v.to("cuda") for k, v in batch.items()}
        sdpa = gpu(**cuda_batch).logits.float().cpu()
        gpu.config._attn_implementation = "eager"
        eager = gpu(**cuda_batch).logits.float().cpu()
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(sdpa[real], reference[real], atol=0.1, rtol=0.05)
    torch.testing.assert_close(sdpa[real], eager[real], atol=0.1, rtol=0.05)


def test_contact_head_bf16_on_gpu(real_sequences: list[str]) -> None:
    config = nf.SpliceBertConfig(**TINY, num_labels=1, problem_type="binary")
    model = nf.SpliceBertForContactPrediction(config).to("cuda", torch.bfloat16)
    batch = nf.NucleotideTokenizer.for_model("splicebert")(real_sequences[:2], padding=True, return_tensors="pt")
    n = max(len(s) for s in real_sequences[:2])
    out = model(**{k: v.to("cuda") for k, v in batch.items()}, labels=torch.randint(0, 2, (2, n, n), device="cuda"))
    out.loss.backward()
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.loss)


def test_spliceai_on_gpu_equals_cpu(chr22_block: str) -> None:
    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
    from nucleoforge.pipelines.splice_predict import predict_sequence

    torch.manual_seed(0)
    model = SpliceAIModel(SpliceAIConfig.from_variant("spliceai-400")).eval()
    seq = chr22_block[24_000:27_000]
    cpu = predict_sequence(model, seq)
    gpu = predict_sequence(model, seq, device="cuda")
    assert abs(cpu - gpu).max() < 1e-4
