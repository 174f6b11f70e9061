"""MkDocs hook: render the command-line reference from the typer app at build time.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; this hook replaces it with
one section per command of :data:`nucleoforge.cli.app` (usage line, help text, a table of its
arguments and options), walking the command groups (``convert``, ``genebert``) recursively.
typer ships its own copy of click, so click-based MkDocs plugins cannot read the app; this walks
typer's command objects directly. The page therefore always matches the installed code.
"""

from __future__ import annotations

import html
from typing import Any

MARKER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"


def _escape(text: str) -> str:
    """Plain help text -> Markdown that renders as written (no emphasis, links or table breaks)."""
    text = html.escape(text, quote=False)
    for ch in ("\\", "*", "_", "[", "]", "|", "`"):
        text = text.replace(ch, "\\" + ch)
    return text


def _paragraphs(text: str) -> str:
    """Help text paragraphs (typer keeps the docstring's blank-line breaks) as Markdown paragraphs."""
    paras = [" ".join(line.strip() for line in block.splitlines()) for block in text.strip().split("\n\n")]
    return "\n\n".join(_escape(p) for p in paras if p)


def _command_section(cmd: Any, ctx: Any, path: list[str], level: int) -> list[str]:
    from typer._click.core import Context

    name = " ".join(path)
    out = [f"{'#' * level} `{name}`", ""]
    help_text = cmd.help or ""
    if help_text:
        out += [_paragraphs(help_text), ""]
    out += ["```text", cmd.get_usage(ctx).strip(), "```", ""]
    rows = []
    for param in cmd.params:
        record = param.get_help_record(ctx)
        if record is None or getattr(param, "hidden", False):
            continue
        names, desc = record
        kind = "argument" if param.param_type_name == "argument" else "option"
        rows.append(f"| `{names.replace('|', chr(92) + '|')}` | {kind} | {_escape(desc)} |")
    if rows:
        out += ["| name | kind | description |", "|---|---|---|", *rows, ""]
    subcommands = getattr(cmd, "commands", None)
    if subcommands:
        for sub_name, sub in subcommands.items():
            if getattr(sub, "hidden", False):
                continue
            sub_ctx = Context(sub, info_name=sub_name, parent=ctx)
            out += _command_section(sub, sub_ctx, [*path, sub_name], min(level + 1, 4))
    return out


def render_cli_reference() -> str:
    """The Markdown of every command of the installed ``nucleoforge`` app."""
    import typer.main
    from typer._click.core import Context

    from nucleoforge.cli import app

    root = typer.main.get_command(app)
    root_ctx = Context(root, info_name="nucleoforge")
    lines = _command_section(root, root_ctx, ["nucleoforge"], 2)
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the marker of the CLI reference page with the generated sections."""
    if page.file.src_uri == PAGE and MARKER in markdown:
        return markdown.replace(MARKER, render_cli_reference())
    return markdown
