"""``zero-shot-variant-effect``: score a single-nucleotide variant with a masked language model.

The method of the SpliceBERT paper, for any MLM in the library (k-mer models included):

* **KL context score** — run the model on the reference window and on the window carrying the
  alternative base (no masking), take each position's A/C/G/T(U) distribution (k-mer models:
  derived as in :mod:`nucleoforge.pipelines._common`), and sum
  ``KL(P_alt(i) ‖ P_ref(i)) = Σ_b P_alt(i, b) · log(P_alt(i, b) / P_ref(i, b))`` over the
  positions ``i`` within ``±flank`` of the variant, **excluding the variant site itself**
  (its unmasked prediction mostly echoes the input base). ``kl_max`` is the largest term.
* **Log-likelihood ratio** — mask the variant nucleotide (k-mer models: every k-mer covering
  it) and compare the masked-site probabilities: ``llr = log P(alt) − log P(ref)``. The
  masked window is the same for REF and ALT, so swapping them negates ``llr`` exactly.

Inputs are dicts: ``sequence`` (the reference window), ``position`` (0-based index of the
variant in it), ``alt`` (one base) and optionally ``ref`` (checked against the window); other
keys (``chrom``, ``pos``, ``id``…) are passed through to the result. The window must fit the
model; :func:`variant_window` cuts one centred on the variant. The pipeline never reads
files — ``nucleoforge variant-effect`` reads the VCF and the reference and calls it.

>>> import torch
>>> from transformers import pipeline
>>> import nucleoforge as nf
>>> _ = torch.manual_seed(0)
>>> model = nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(hidden_size=16, num_hidden_layers=1,
...     num_attention_heads=2, intermediate_size=32, max_position_embeddings=34))
>>> score = pipeline("zero-shot-variant-effect", model=model,
...                  tokenizer=nf.NucleotideTokenizer.for_model("splicebert"), device="cpu")
>>> r = score({"sequence": "ACGTACGTACGTAC", "position": 6, "ref": "G", "alt": "G"}, flank=5)
>>> r["kl_sum"], r["llr"], r["n_flank"]
(0.0, 0.0, 10)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import AutoModelForMaskedLM
from transformers.pipelines import PIPELINE_REGISTRY

from nucleoforge.alphabet import check_nucleotides
from nucleoforge.errors import NucleoforgeError
from nucleoforge.pipelines._common import (
    NucleotidePipeline,
    base_alphabet,
    base_codes,
    base_distributions,
    check_combine,
)
from nucleoforge.pipelines.windows import Window

__all__ = ["VariantEffectPipeline", "variant_window", "SCORE_COLUMNS"]

#: Score columns of the result (and of the CLI's TSV), in order.
SCORE_COLUMNS = ("kl_sum", "kl_max", "llr", "p_ref", "p_alt", "n_flank")


def variant_window(length: int, position: int, size: int) -> tuple[int, int]:
    """``(start, end)`` of a ``size``-nt window centred on 0-based ``position`` of a sequence of
    ``length`` nucleotides, shifted to stay inside it (shorter when the sequence is shorter).

    >>> variant_window(1000, 500, 101), variant_window(1000, 10, 101), variant_window(50, 10, 101)
    ((450, 551), (0, 101), (0, 50))
    """
    if size >= length:
        return 0, length
    start = min(max(position - size // 2, 0), length - size)
    return start, start + size


class VariantEffectPipeline(NucleotidePipeline):
    """Zero-shot SNV scores: KL context score over ``±flank`` and the masked-site LLR.

    Call parameters: ``flank`` (default 100), ``combine`` (k-mer models, ``"mean"``/
    ``"product"``), ``return_profiles`` (add per-position ``kl``, ``p_ref_profile`` and
    ``p_alt_profile`` arrays and the flank ``positions``), plus the batching parameters.

    Result: the input's extra keys plus ``kl_sum``, ``kl_max``, ``llr``, ``p_ref``,
    ``p_alt`` (masked-site probabilities) and ``n_flank`` (positions summed).
    """

    _token_outputs = ("probs",)

    def _sanitize_parameters(self, flank: int | None = None, combine: str | None = None,
                             return_profiles: bool | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"unexpected variant-effect parameters: {sorted(kwargs)}")
        post: dict[str, Any] = {}
        if flank is not None:
            if flank < 0:
                raise NucleoforgeError(f"flank must be >= 0, got {flank}")
            post["flank"] = flank
        if combine is not None:
            post["combine"] = check_combine(combine)
        if return_profiles is not None:
            post["return_profiles"] = bool(return_profiles)
        return {}, {}, post

    def preprocess(self, item: dict[str, Any]) -> dict[str, Any]:
        seq, name = item["sequence"], item["name"]
        v = item.get("position")
        alphabet = base_alphabet(self.tokenizer)
        if not isinstance(v, (int, np.integer)) or not 0 <= v < len(seq):
            raise NucleoforgeError(f"variant {name!r}: position must be an index into the {len(seq)}-nt window, got {v!r}")
        alt = str(item.get("alt", "")).upper().replace("U" if alphabet[3] == "T" else "T", alphabet[3])
        if len(alt) != 1 or alt not in alphabet:
            raise NucleoforgeError(f"variant {name!r}: ALT must be one base of {alphabet}, got {item.get('alt')!r}")
        ref = seq[v].upper().replace("U" if alphabet[3] == "T" else "T", alphabet[3])
        if ref not in alphabet:
            raise NucleoforgeError(f"variant {name!r}: the reference base at the variant is {seq[v]!r}, not one of {alphabet}")
        given = item.get("ref")
        if given is not None and str(given).upper().replace("U", "T") != ref.replace("U", "T"):
            raise NucleoforgeError(f"variant {name!r}: REF {given!r} does not match the window base {seq[v]!r} at position {v}")
        if len(seq) > self.max_nucleotides:
            raise NucleoforgeError(f"variant {name!r}: the {len(seq)}-nt window exceeds the model's {self.max_nucleotides} nucleotides")
        if len(seq) < self.k:
            raise NucleoforgeError(f"variant {name!r}: the {len(seq)}-nt window is shorter than k={self.k}")
        check_nucleotides(seq, name)
        whole = Window(0, len(seq), 0, len(seq))
        alt_seq = seq[:v] + alt + seq[v + 1 :]
        site = np.zeros(len(seq), dtype=bool)
        site[v] = True
        # reference, reference with the variant nucleotide masked, and (REF != ALT) the alternative window
        views = [(seq, None), (seq, site)] + ([(alt_seq, None)] if alt != ref else [])
        ids = self.tokenizer.encode_sequences([s for s, _ in views], errors="replace", masks=[m for _, m in views],
                                              add_special_tokens=True)
        chunks = [{"input_ids": row, "window": whole} for row in ids]
        meta = {key: value for key, value in item.items() if key not in ("sequence", "position", "alt", "ref")}
        return {"meta": meta, "ref_seq": seq, "alt_seq": alt_seq, "site": site, "position": int(v), "ref": ref,
                "alt": alt, "chunks": chunks}

    def _forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"probs": self._kmer_probs(batch)}

    def postprocess(self, job: dict[str, Any], flank: int = 100, combine: str = "mean",
                    return_profiles: bool = False) -> dict[str, Any]:
        alphabet = base_alphabet(self.tokenizer)
        v, n = job["position"], len(job["ref_seq"])
        ref_probs = job["outputs"][0]["probs"][1:-1]
        mask_probs = job["outputs"][1]["probs"][1:-1]
        alt_probs = job["outputs"][2]["probs"][1:-1] if len(job["outputs"]) > 2 else ref_probs
        positions = np.array([i for i in range(max(0, v - flank), min(n, v + flank + 1)) if i != v], dtype=np.int64)
        p_ref = base_distributions(ref_probs, base_codes(job["ref_seq"]), self.k, positions, combine)
        p_alt = base_distributions(alt_probs, base_codes(job["alt_seq"]), self.k, positions, combine)
        tiny = 1e-30
        kl = (p_alt * (np.log(np.clip(p_alt, tiny, None)) - np.log(np.clip(p_ref, tiny, None)))).sum(axis=1)
        site = base_distributions(mask_probs, base_codes(job["ref_seq"], job["site"]), self.k, [v], combine)[0]
        pr, pa = float(site[alphabet.index(job["ref"])]), float(site[alphabet.index(job["alt"])])
        result = {
            **job["meta"],
            "ref": job["ref"],
            "alt": job["alt"],
            "kl_sum": float(kl.sum()),
            "kl_max": float(kl.max()) if kl.size else 0.0,
            "llr": float(np.log(max(pa, tiny)) - np.log(max(pr, tiny))),
            "p_ref": pr,
            "p_alt": pa,
            "n_flank": int(len(positions)),
        }
        if return_profiles:
            result.update(positions=positions, kl=kl, p_ref_profile=p_ref, p_alt_profile=p_alt)
        return result


PIPELINE_REGISTRY.register_pipeline(
    "zero-shot-variant-effect", pipeline_class=VariantEffectPipeline, pt_model=AutoModelForMaskedLM, type="text"
)
