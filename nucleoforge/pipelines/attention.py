"""``nucleotide-attention``: attention from [CLS] per nucleotide, and a full attention map.

* ``cls_attention`` — the attention weight from [CLS] to each token, averaged over every
  layer and head, mapped to nucleotides (k-mer models: mean over the k-mers covering a
  nucleotide). Attention to [CLS]/[SEP] is left out, so the values need not sum to 1.
* ``attention_map`` — the ``(N, N)`` nucleotide × nucleotide weights of one ``layer``
  (default: the last) and one ``head`` (default: the mean over heads); for k-mer models
  both axes are averaged over covering k-mers (``M · A · Mᵀ`` with M the coverage matrix).

Attention maps need the whole sequence in one model call (no windows).

>>> import torch
>>> from transformers import pipeline
>>> import nucleoforge as nf
>>> _ = torch.manual_seed(0)
>>> model = nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(hidden_size=16, num_hidden_layers=2,
...     num_attention_heads=2, intermediate_size=32, max_position_embeddings=34))
>>> att = pipeline("nucleotide-attention", model=model,
...                tokenizer=nf.NucleotideTokenizer.for_model("splicebert"), device="cpu")
>>> r = att("ACGTACGTAC", layer=0, head=1)
>>> r["cls_attention"].shape, r["attention_map"].shape, r["layer"], r["head"]
((10,), (10, 10), 0, 1)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForMaskedLM
from transformers.pipelines import PIPELINE_REGISTRY

from nucleoforge.errors import NucleoforgeError
from nucleoforge.pipelines._common import NucleotidePipeline, coverage_matrix, parse_masks
from nucleoforge.pipelines.windows import Window

__all__ = ["AttentionPipeline", "plot_attention"]


class AttentionPipeline(NucleotidePipeline):
    """Attention maps of a BERT-family nucleotide model.

    Call parameters: ``layer`` (0-based, negative counts from the end; default -1) and
    ``head`` (0-based; ``None`` = mean over heads), plus the batching parameters.

    Result: ``name``, ``sequence``, ``cls_attention`` ``(N,)``, ``attention_map`` ``(N, N)``
    (row = attending nucleotide), ``layer`` and ``head`` (as resolved, ``None`` = mean).
    """

    _token_outputs = ("cls", "map")

    def _sanitize_parameters(self, layer: int | None = None, head: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"unexpected attention parameters: {sorted(kwargs)}")
        fwd: dict[str, Any] = {}
        c = self.model.config
        if layer is not None:
            if not -c.num_hidden_layers <= layer < c.num_hidden_layers:
                raise NucleoforgeError(f"layer must be in {-c.num_hidden_layers}..{c.num_hidden_layers - 1}, got {layer}")
            fwd["layer"] = layer % c.num_hidden_layers
        if head is not None:
            if not 0 <= head < c.num_attention_heads:
                raise NucleoforgeError(f"head must be in 0..{c.num_attention_heads - 1}, got {head}")
            fwd["head"] = head
        post = {"layer": fwd.get("layer", c.num_hidden_layers - 1), "head": fwd.get("head")}
        return {}, fwd, post

    def preprocess(self, item: dict[str, Any]) -> dict[str, Any]:
        plain, masked = parse_masks(item["sequence"])
        if len(plain) > self.max_nucleotides:
            raise NucleoforgeError(f"sequence {item['name']!r} has {len(plain)} nucleotides; attention maps need it to fit "
                             f"in one model call ({self.max_nucleotides} nucleotides)")
        if len(plain) < self.k:
            raise NucleoforgeError(f"sequence {item['name']!r} has {len(plain)} nucleotides, fewer than k={self.k}")
        ids = self.tokenizer.with_special_tokens(self.encode(item["name"], plain, masked))
        return {"name": item["name"], "sequence": item["sequence"],
                "chunks": [{"input_ids": ids, "window": Window(0, len(plain), 0, len(plain))}]}

    def _forward(self, batch: dict[str, torch.Tensor], layer: int = -1, head: int | None = None) -> dict[str, torch.Tensor]:
        out = self.model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_attentions=True)
        stacked = torch.stack([a.float() for a in out.attentions], dim=1)  # (B, L, H, T, T)
        cls = stacked[:, :, :, 0, :].mean(dim=(1, 2))  # right padding: [CLS] is token 0
        chosen = stacked[:, layer]
        full = chosen.mean(dim=1) if head is None else chosen[:, head]
        return {"cls": cls, "map": full}

    def postprocess(self, job: dict[str, Any], layer: int = -1, head: int | None = None) -> dict[str, Any]:
        out = job["outputs"][0]
        n_tok = out["cls"].shape[0] - 2
        m = coverage_matrix(n_tok, self.k)
        cls = m @ out["cls"][1:-1]
        full = out["map"][:, : n_tok + 2][1:-1, 1:-1]
        return {"name": job["name"], "sequence": job["sequence"], "cls_attention": cls.astype(np.float32),
                "attention_map": (m @ full @ m.T).astype(np.float32), "layer": layer, "head": head}


def plot_attention(result: dict[str, Any], path: str | os.PathLike, title: str | None = None) -> None:
    """Two panels: [CLS] attention per nucleotide (top) and the full map (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cls, full = result["cls_attention"], result["attention_map"]
    n = len(cls)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 9.5), gridspec_kw={"height_ratios": [1, 4]})
    top.bar(np.arange(1, n + 1), cls, width=1.0, color="tab:blue")
    top.set_xlim(0.5, n + 0.5)
    top.set_ylabel("[CLS] attention\n(mean of layers, heads)")
    image = bottom.imshow(full, cmap="viridis", aspect="auto", extent=(0.5, n + 0.5, n + 0.5, 0.5))
    head = "mean of heads" if result["head"] is None else f"head {result['head']}"
    bottom.set_title(f"layer {result['layer']}, {head}", fontsize=10)
    bottom.set_xlabel("attended nucleotide (1-based)")
    bottom.set_ylabel("attending nucleotide")
    fig.colorbar(image, ax=bottom, orientation="horizontal", fraction=0.04, pad=0.08)
    fig.suptitle(title or f"attention of {result['name']} ({n} nt)")
    fig.tight_layout()
    from nucleoforge.io.outputs import atomic_output

    with atomic_output(path, "wb") as fh:  # an existing PNG is replaced only by a complete one
        fig.savefig(fh, dpi=120, format=os.path.splitext(str(path))[1][1:].lower() or None)
    plt.close(fig)


PIPELINE_REGISTRY.register_pipeline(
    "nucleotide-attention", pipeline_class=AttentionPipeline, pt_model=AutoModelForMaskedLM, type="text"
)
