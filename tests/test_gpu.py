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


def _contact_run(model, batch, labels, device: str, dtype: torch.dtype):
    """Logits (float32, on the CPU), loss and gradient norm of one training step of the contact head."""
    model = model.to(device, dtype)
    model.zero_grad()
    out = model(**{k: v.to(device) for k, v in batch.items()}, labels=labels.to(device))
    out.loss.backward()
    grad = torch.sqrt(sum(p.grad.float().pow(2).sum() for p in model.parameters() if p.grad is not None))
    return out.logits.detach().float().cpu(), out.logits.dtype, float(out.loss.detach()), float(grad)


def test_contact_head_bf16_on_gpu(real_sequences: list[str]) -> None:
    """bf16 on the GPU trains the contact head like fp32 on the CPU: same logits, loss and gradient
    size within bf16's precision."""
    import copy

    torch.manual_seed(0)
    config = nf.SpliceBertConfig(**TINY, num_labels=1, problem_type="binary")
    model = nf.SpliceBertForContactPrediction(config)  # no dropout in TINY: train mode is deterministic
    batch = nf.NucleotideTokenizer.for_model("splicebert")(real_sequences[:2], padding=True, return_tensors="pt")
    n = max(len(s) for s in real_sequences[:2])
    labels = torch.randint(0, 2, (2, n, n), generator=torch.Generator().manual_seed(1))
    ref_logits, ref_dtype, ref_loss, ref_grad = _contact_run(copy.deepcopy(model), batch, labels, "cpu", torch.float32)
    logits, dtype, loss, grad = _contact_run(model, batch, labels, "cuda", torch.bfloat16)
    assert (ref_dtype, dtype) == (torch.float32, torch.bfloat16)
    assert logits.shape == ref_logits.shape and torch.isfinite(logits).all()
    # a fresh head's logits are small (std ~0.01): compare their pattern, not an absolute tolerance
    # (another random head correlates ~0; its gradient norm differs by ~30 %)
    r = torch.corrcoef(torch.stack([logits.flatten(), ref_logits.flatten()]))[0, 1]
    assert r > 0.99, f"bf16 logits correlate {float(r):.3f} with fp32"
    assert (logits - ref_logits).abs().max() < 0.5 * ref_logits.std() + 0.004  # bf16 keeps ~3 digits
    assert loss == pytest.approx(ref_loss, abs=0.01) and grad == pytest.approx(ref_grad, rel=0.1)


def test_spliceai_on_gpu_equals_cpu(chr22_block: str) -> None:
    from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel
    from nucleoforge.pipelines.splice_predict import predict_sequence

    torch.manual_seed(0)
    model = SpliceAIModel(SpliceAIConfig.from_variant("spliceai-400")).eval()
    seq = chr22_block[24_000:27_000]
    cpu = predict_sequence(model, seq)
    gpu = predict_sequence(model, seq, device="cuda")
    assert abs(cpu - gpu).max() < 1e-4
