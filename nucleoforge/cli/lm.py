"""``nucleoforge info``: the models, variants and parameter counts."""

from __future__ import annotations

import typer

from nucleoforge.cli import app


def model_table() -> list[tuple[str, str, str, int, int]]:
    """(name, model type, description, max nucleotides, parameters) of every model and variant."""
    import torch

    import nucleoforge as nf

    rows = []
    specs = [
        ("splicebert", lambda: nf.SpliceBertForMaskedLM(nf.SpliceBertConfig()), "pre-mRNA MLM, 6×512, single nt"),
        ("splicebert.510", lambda: nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(variant="splicebert.510")), "first-stage 510-nt model"),
        ("splicebert-human.510", lambda: nf.SpliceBertForMaskedLM(nf.SpliceBertConfig(variant="splicebert-human.510")), "human-only 510-nt model"),
        *[(f"utrbert-{k}mer", (lambda k=k: nf.UtrBertForMaskedLM(nf.UtrBertConfig(k=k))), f"3'UTR MLM, 12×768, {k}-mers") for k in (3, 4, 5, 6)],
        ("rnaernie", lambda: nf.RnaErnieForMaskedLM(nf.RnaErnieConfig()), "ncRNA MLM, 12×768, ReLU"),
    ]
    with torch.device("meta"):  # count parameters without allocating them
        for name, build, description in specs:
            model = build()
            n = sum(p.numel() for p in model.parameters())
            rows.append((name, model.config.model_type, description, model.config.max_nucleotides, n))
    try:
        from nucleoforge.models.spliceai import SpliceAIConfig, SpliceAIModel

        with torch.device("meta"):
            model = SpliceAIModel(SpliceAIConfig.from_variant("spliceai-10k"))
        n = sum(p.numel() for p in model.parameters())
        rows.append(("spliceai-10k", "spliceai", f"splice-site CNN, {model.config.num_members}-member ensemble", 0, n))
    except ImportError:  # pragma: no cover - SpliceAI not importable
        pass
    return rows


@app.command()
def info() -> None:
    """List the models and variants nucleoforge implements, with parameter counts."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="nucleoforge models")
    for column in ("name", "model_type", "description", "max nt", "parameters"):
        table.add_column(column, justify="right" if column in ("max nt", "parameters") else "left")
    for name, model_type, description, max_nt, n in model_table():
        table.add_row(name, model_type, description, str(max_nt) if max_nt else "any", f"{n / 1e6:.2f} M")
    Console().print(table)
    typer.echo("Pretrained weights: SpliceAI converts from the installed `spliceai` wheel; the language models "
               "from their original releases with `nucleoforge convert` (see README).")
