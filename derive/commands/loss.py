"""`derive loss NAME [--output-activation A]`: dE/do, Err = −dE/di and the cancellations."""

from __future__ import annotations

import click

from derive.commands._common import (
    complete_activation,
    complete_loss,
    emit,
    format_option,
    friendly,
    output_format,
    output_options,
)
from derive.symbolic.definitions import ACTIVATIONS, LOSSES

DOCUMENT_FORMATS = ("text", "markdown", "latex", "html", "json")

HELP = ("""Derive a loss's gradient dE/do and the error term Err = −dE/di of an output unit, with
    the range of the loss and a table of how much wrong predictions cost.

    NAME is one of: """ + ", ".join(LOSSES) + ".")


@click.command("loss", help=HELP)
@click.argument("name", metavar="NAME", shell_complete=complete_loss)
@click.option("--output-activation", "output_activation", metavar="A",
              shell_complete=complete_activation,
              help=f"The output layer's activation ({', '.join(ACTIVATIONS)}); default: "
                   f"softmax for ce, else sigmoid.")
@format_option(DOCUMENT_FORMATS)
@output_options
@friendly
def loss(name, output_activation, fmt, output, force):
    from derive import api

    fmt = output_format(fmt, output, force)
    emit(api.loss(name, output_activation).render(fmt), output, force)
