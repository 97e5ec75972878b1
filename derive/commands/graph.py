"""`derive graph "EXPR" --at x=…,y=…`: the evaluation trace of an expression, forward and reverse."""

from __future__ import annotations

import click

from derive.commands._common import (
    emit,
    format_option,
    friendly,
    output_format,
    output_options,
)

DOCUMENT_FORMATS = ("text", "markdown", "latex", "html", "json")

@click.command("graph")
@click.argument("expression", metavar="EXPR")
@click.option("--at", "at", required=True, metavar="x1=2,x2=5",
              help="The point: a value for every variable of EXPR.")
@format_option(DOCUMENT_FORMATS)
@output_options
@friendly
def graph(expression, at, fmt, output, force):
    """Split EXPR into elementary operations v1, v2, … and tabulate the forward primal trace
    (each node's value) and the reverse adjoint trace (each node's ∂f/∂v by the chain rule),
    then the value and the gradient.

    EXPR uses numbers, + - * / **, and exp log sqrt abs sin cos tanh erf sigmoid softplus relu
    max min; nothing in it is ever run as code."""
    from derive import api

    fmt = output_format(fmt, output, force)
    emit(api.graph(expression, at=at).render(fmt), output, force)
