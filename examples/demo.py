"""`make demo`: the main jobs on the bundled real data.

1. SpliceAI with the real pretrained weights (converted from the installed `spliceai` wheel on
   first run): splice sites on a real chr22 gene next to its annotated exon boundaries, a track
   plot, and a few real dbSNP variants scored (examples/spliceai_demo.py).
2. A SpliceBERT-shaped language model — RANDOMLY INITIALISED, since the SpliceBERT weights
   cannot be downloaded here (convert a local copy with `nucleoforge convert splicebert`) —
   saved to a temporary folder, reloaded through the Auto classes, and used for fill-mask on a
   real chr22 sequence: the machinery end to end, not biology.
"""

from __future__ import annotations

import runpy
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def language_model_demo() -> None:
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    import nucleoforge as nf
    from nucleoforge.io.fasta import read_fasta

    block = next(read_fasta(HERE / "data" / "GRCh37_chr22_20000001-21000000.fa.gz")).sequence
    seq = block[300_000:300_060]  # chr22:20,300,001-20,300,060 (GRCh37)
    masked = seq[:20] + "<mask>" + seq[21:40] + "<mask>" + seq[41:]
    print("\n=== SpliceBERT fill-mask (RANDOM WEIGHTS: shows the machinery, not real predictions) ===")
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        nf.SpliceBertForMaskedLM(nf.SpliceBertConfig()).save_pretrained(tmp)
        nf.NucleotideTokenizer.for_model("splicebert").save_pretrained(tmp)
        model = AutoModelForMaskedLM.from_pretrained(tmp)
        tokenizer = AutoTokenizer.from_pretrained(tmp)
        print(f"model: {type(model).__name__}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
        fill = pipeline("nucleotide-fill-mask", model=model, tokenizer=tokenizer, device="cpu")
        print(f"input  chr22:20,300,001-20,300,060  {masked}")
        for site in fill(masked):
            probs = "  ".join(f"{b}={p:.3f}" for b, p in site["probabilities"].items())
            truth = seq[site["position"]]
            print(f"  position {site['position']:>2} (reference {truth}): {probs}  -> {site['token']}")


def main() -> None:
    spliceai_demo = HERE / "spliceai_demo.py"
    if spliceai_demo.exists():
        sys.argv = [str(spliceai_demo), "--out", str(HERE.parent / "out" / "demo")]
        runpy.run_path(str(spliceai_demo), run_name="__main__")
    language_model_demo()


if __name__ == "__main__":
    main()
