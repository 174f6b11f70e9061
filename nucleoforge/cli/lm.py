"""``nucleoforge info``: the model families of the registry, their variants and parameter counts."""

from __future__ import annotations

import typer

from nucleoforge.cli.app import app


def model_table() -> list[tuple[str, str, str, int, int]]:
    """(name, model type, description, max nucleotides, parameters) of every registered family and variant.

    BERT-family models count their masked-LM model; SpliceAI its ensemble; GeneBERT its pretraining model.
    """
    import torch

    from nucleoforge import registry

    rows = []
    for entry in registry.families():
        config_cls = entry.config_cls()
        for name, kwargs, description in entry.info_rows():
            if entry.kind == "spliceai":
                config, cls = config_cls.from_variant(name), entry.model_class("Model")
            else:
                config = config_cls(**kwargs)
                cls = entry.model_class("ForMaskedLM" if entry.kind == "bert" else "ForPreTraining")
            with torch.device("meta"):  # count parameters without allocating them
                model = cls(config)
            n = sum(p.numel() for p in model.parameters())
            max_nt = getattr(config, "max_nucleotides", 0) if entry.kind == "bert" else 0
            rows.append((name, entry.model_type, description, max_nt, n))
    return rows


@app.command()
def info() -> None:
    """List the models and variants nucleoforge implements, with parameter counts."""
    from rich.console import Console
    from rich.table import Table

    from nucleoforge import registry

    table = Table(title="nucleoforge models (--model NAME: the hub repository, through the Hugging Face cache)")
    for column in ("name", "model_type", "description", "max nt", "parameters", "hub"):
        table.add_column(column, justify="right" if column in ("max nt", "parameters") else "left")
    for name, model_type, description, max_nt, n in model_table():
        table.add_row(name, model_type, description, str(max_nt) if max_nt else "any", f"{n / 1e6:.2f} M",
                      registry.hub_id(name) or "—")
    console = Console(width=150)
    console.print(table)
    named = Table(title="named splice weights (--model NAME)")
    for column in ("name", "weights", "licence", "converted"):
        named.add_column(column)
    for name, display, licence, status in named_weights_table():
        named.add_row(name, display, licence, status)
    console.print(named)
    typer.echo("Pretrained weights: SpliceAI and CI-SpliceAI convert from their installed wheels on first use; "
               "OpenSpliceAI and Pangolin with `nucleoforge convert openspliceai|pangolin SRC`; the language models "
               "load from the hub repository named in the table (MultiMolecule's format, read as it is), or convert "
               "from their original releases (a folder or the archive's URL) with `nucleoforge convert` "
               "(docs/how-to/pretrained-weights.md).")


def named_weights_table() -> list[tuple[str, str, str, str]]:
    """(name, weights, licence, converted) of every named splice weight set; converted is ``yes``, or how
    the name gets converted (``on first use`` from a wheel, or the convert command to run)."""
    from nucleoforge.models.spliceai.pretrained import NAMED_WEIGHTS, is_converted

    rows = []
    for name, entry in NAMED_WEIGHTS.items():
        if is_converted(name):
            status = "yes"
        elif "first use" in entry.make:
            status = "on first use"
        else:
            status = "no: " + entry.make.split(" <")[0].removeprefix("nucleoforge ") + " SRC"
        rows.append((name, entry.display, entry.licence, status))
    return rows
