"""The `derive` command: a thin click layer over the library.

The library raises DeriveError for a user's mistake; here it becomes one line on stderr and
exit status 2, never a traceback.  Heavy imports (NumPy, Jinja, SymPy) happen inside the
commands, so `derive --help` and the JSON path start quickly.
"""

from __future__ import annotations

import functools
import sys

import click

from derive.errors import DeriveError
from derive.symbolic.definitions import ACTIVATIONS, LOSSES

DOCUMENT_FORMATS = ("text", "markdown", "latex", "json")

if __name__ == "__main__":  # python -m derive.cli: one module, so commands attach to this main
    sys.modules.setdefault("derive.cli", sys.modules[__name__])


def friendly(fn):
    """Map the library's DeriveError to a clear message and exit status 2."""

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


def load_spec(path):
    from derive import spec

    return spec.load(path) if path else spec.LECTURE


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="derive")
def main():
    """derive: gradient descent and backpropagation, derived and worked step by step.

    SymPy derives the gradients, NumPy evaluates them, Jinja writes the worked solution.
    """


@main.command()
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False),
              help="Network spec (TOML). Default: the lecture's 3-2-1 example.")
@click.option("--activation", metavar="NAME",
              help=f"Use this activation in every layer: {', '.join(ACTIVATIONS)}.")
@click.option("--loss", metavar="NAME", help=f"Loss: {', '.join(LOSSES)}.")
@click.option("--lr", type=float, help="Learning rate η (default: the spec's).")
@click.option("--example", "example_no", type=click.IntRange(min=1), default=1,
              show_default=True, help="Which of the spec's [[examples]] to use.")
@click.option("--decimals", type=click.IntRange(0, 12), default=3, show_default=True,
              help="Places shown for net inputs, outputs and parameters (one more for "
                   "error terms, gradients and the loss).")
@click.option("--rounding", type=click.Choice(["exact", "hand"]), default="exact",
              show_default=True,
              help="exact: carry full precision; hand: round each value as it is computed, "
                   "as on the slides.")
@format_option()
@output_options
@friendly
def example(spec_path, activation, loss, lr, example_no, decimals, rounding, fmt, output,
            force):
    """One training step, worked as on the lecture's slides.

    Forward pass, loss, error terms and updates, every sum written out with its numbers.
    """
    from derive.output import check_writable, choose_format

    fmt = choose_format(fmt, output, DOCUMENT_FORMATS)
    if output:
        check_writable(output, force)
    spec = load_spec(spec_path)
    if activation is not None:
        spec = spec.with_activation(activation)
    if loss is not None:
        spec = spec.with_loss(loss)
    if lr is not None:
        spec = spec.with_learning_rate(lr)
    if example_no > len(spec.examples):
        raise DeriveError(f"--example {example_no}: the spec has only "
                          f"{len(spec.examples)} example(s)")
    if fmt == "json":
        from derive.numeric.network import step
        from render import to_json

        text = to_json(step(spec, example_no - 1, rounding, decimals).to_dict())
    else:
        from derive.worked import worked_example
        from render import render

        doc = worked_example(spec, example_no - 1, rounding, decimals)
        text = render("example", fmt, doc=doc)
    emit(text, output, force)


from derive.commands.activation import activation as _activation; main.add_command(_activation)  # noqa: E402,E501
from derive.commands.loss import loss as _loss; main.add_command(_loss)  # noqa: E402,E501
from derive.commands.graph import graph as _graph; main.add_command(_graph)  # noqa: E402,E501


if __name__ == "__main__":  # pragma: no cover
    main()
