"""`derive activation NAME` / `derive activation --expr "..."`: a derivation, step by step."""

from __future__ import annotations

import click

from derive.commands._common import emit, format_option, friendly, output_options
from derive.errors import DeriveError
from derive.symbolic.definitions import ACTIVATIONS

DOCUMENT_FORMATS = ("text", "markdown", "latex", "html", "json")

HELP = ("""Derive an activation's derivative step by step, its form in the output a, its range
    and where its gradient vanishes.

    NAME is one of: """ + ", ".join(ACTIVATIONS) + ".")


@click.command("activation", help=HELP)
@click.argument("name", required=False)
@click.option("--expr", "expression", metavar="EXPR",
              help='A custom activation in z, e.g. "z/(1 + abs(z))": numbers, + - * / **, and '
                   "exp log sqrt abs sin cos tanh erf sigmoid softplus relu max min where.")
@format_option(DOCUMENT_FORMATS)
@output_options
@friendly
def activation(name, expression, fmt, output, force):
    from derive.output import check_writable, choose_format
    from derive.symbolic.definitions import activation_def

    fmt = choose_format(fmt, output, DOCUMENT_FORMATS)
    if output:
        check_writable(output, force)
    if expression is not None and name is not None:
        raise DeriveError("give either an activation NAME or --expr, not both")
    if expression is None and name is None:
        raise DeriveError(f"give an activation NAME ({', '.join(ACTIVATIONS)}) or --expr "
                          f"\"EXPRESSION in z\"")
    from derive import explain

    defn = explain.custom_definition(expression) if expression is not None \
        else activation_def(name)
    doc = explain.activation_document(defn)
    if fmt == "json":
        from render import to_json

        text = to_json(explain.activation_json(doc))
    else:
        from render import render

        text = render("activation", fmt, doc=doc)
    emit(text, output, force)
