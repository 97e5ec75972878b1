"""What every command shares: error mapping, output options, writing the result.

Command modules import these from here, never from derive.cli: derive/cli.py imports the
command modules (one hook line each), so a command importing derive.cli would be a cycle —
and under `python -m derive.cli` a second copy of the CLI module.
"""

from __future__ import annotations

import functools
import sys

import click

from derive.errors import DeriveError

DOCUMENT_FORMATS = ("text", "markdown", "latex", "html", "json")


# -- shell completion (click's: eval "$(_DERIVE_COMPLETE=bash_source derive)") -----------------
# The names are completed from the registries; the options themselves stay free text, so that a
# misspelt name gets derive's own message with a did-you-mean rather than click's.

def _complete(names, incomplete: str):
    from click.shell_completion import CompletionItem

    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def complete_activation(ctx, param, incomplete):
    """Every registered activation (derive activation NAME, --output-activation)."""
    from derive.symbolic.definitions import ACTIVATIONS

    return _complete(ACTIVATIONS, incomplete)


def complete_layer_activation(ctx, param, incomplete):
    """The activations that can go in every layer of a trained network: not step (no
    gradient), not softmax (output layer only)."""
    from derive.symbolic.definitions import ACTIVATIONS

    return _complete([n for n, d in ACTIVATIONS.items() if d.elementwise and n != "step"],
                     incomplete)


def complete_loss(ctx, param, incomplete):
    from derive.symbolic.definitions import LOSSES

    return _complete(LOSSES, incomplete)


def friendly(fn):
    """Map the library's DeriveError to one clear line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DeriveError as exc:
            click.echo(f"derive: error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def emit(text: str, output: str | None, force: bool) -> None:
    """Print, or write the whole file atomically (never over a file without --force)."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from derive.output import write_atomic

    path = write_atomic(output, text, force)
    click.echo(f"wrote {path}", err=True)


def format_option(formats=DOCUMENT_FORMATS):
    return click.option("--format", "fmt", type=click.Choice(formats), default=None,
                        help="Output format (default: from the suffix of -o, else text).")


def output_options(fn):
    fn = click.option("--force", is_flag=True, help="Overwrite an existing output file.")(fn)
    fn = click.option("-o", "--output", type=click.Path(dir_okay=False),
                      help="Write to this file instead of the terminal.")(fn)
    return fn


def output_format(fmt: str | None, output: str | None, force: bool) -> str:
    """The format asked for (or implied by -o's suffix), with -o checked before any work."""
    from derive.output import check_writable, choose_format

    fmt = choose_format(fmt, output, DOCUMENT_FORMATS)
    if output:
        check_writable(output, force)
    return fmt


def picture_beside(fmt: str, output: str | None, force: bool, name: str):
    """A Markdown page written to a file gets its curve as an SVG beside it
    (report.md -> report-<name>.svg); refused up front if either would be overwritten."""
    from pathlib import Path

    from derive.output import check_writable

    if output:
        check_writable(output, force)
    if not output or fmt != "markdown":
        return None
    out = Path(output)
    svg_file = out.with_name(f"{out.stem}-{name}.svg")
    check_writable(svg_file, force)
    return svg_file


def emit_charted(result, fmt: str, output: str | None, force: bool, svg_file) -> None:
    """Render a result with a curve; a Markdown page and its picture are written together,
    both or neither."""
    from derive.output import write_together

    text = result.render(fmt, **({} if fmt == "json" else
                                 {"svg_name": svg_file.name if svg_file else None}))
    if svg_file is None:
        emit(text, output, force)
        return
    for path in write_together([(svg_file, result.svg()), (output, text)], force):
        click.echo(f"wrote {path}", err=True)
