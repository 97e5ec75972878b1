"""`derive activation NAME` / `derive activation --expr "..."`: a derivation, step by step."""

from __future__ import annotations

import click

from derive.commands._common import (
    complete_activation,
    emit,
    format_option,
    friendly,
    output_format,
    output_options,
)
from derive.symbolic.definitions import ACTIVATIONS

DOCUMENT_FORMATS = ("text", "markdown", "latex", "html", "json")

HELP = ("""Derive an activation's derivative step by step, its form in the output a, its range
    and where its gradient vanishes.

    NAME is one of: """ + ", ".join(ACTIVATIONS) + ".")


@click.command("activation", help=HELP)
@click.argument("name", required=False, shell_complete=complete_activation)
@click.option("--expr", "expression", metavar="EXPR",
              help='A custom activation in z, e.g. "z/(1 + abs(z))": numbers, + - * / **, and '
                   "exp log sqrt abs sin cos tanh erf sigmoid softplus relu max min where.")
@click.option("--alpha", type=float, metavar="A",
              help="leaky_relu's or elu's parameter alpha (any real number; default 0.01 and "
                   "1.0): the range, the vanishing gradient and the form in the output are "
                   "those for this value.")
@format_option(DOCUMENT_FORMATS)
@output_options
@friendly
def activation(name, expression, alpha, fmt, output, force):
    from derive import api

    fmt = output_format(fmt, output, force)
    emit(api.activation(name, expr=expression, alpha=alpha).render(fmt), output, force)
