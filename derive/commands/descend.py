"""`derive descend`: the lecture's one-parameter intuition examples and its minima slide."""

from __future__ import annotations

import click

from derive.commands._common import (
    DOCUMENT_FORMATS,
    emit_charted,
    format_option,
    friendly,
    output_options,
    picture_beside,
)
from derive.errors import DECIMALS

PRESETS = ("shekels", "miles")  # derive.numeric.descend.PRESETS (NumPy stays out of --help)


@click.command()
@click.option("--model", metavar="EXPR", help='The model in x and its parameters, e.g. "c*x".')
@click.option("--data", metavar="X:Y,...", help='The (x, y) pairs, e.g. "10:36.7,20:73.4".')
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter and its starting value, e.g. c=3 (repeat, or a=1,b=0).")
@click.option("--preset", type=click.Choice(PRESETS),
              help="The lecture's examples: shekels (dollars to shekels) or miles "
                   "(kilometres to miles); other options override the preset's values.")
@click.option("--function", "function", metavar="EXPR",
              help='Minimise this function of x directly, e.g. "x**4 - 3*x**2 + x".')
@click.option("--start", metavar="A,B,...", help="With --function: the starting points.")
@click.option("--lr", metavar="ETA[,ETA...]",
              help="Learning rate; several separated by commas run side by side.")
@click.option("--steps", type=int, help="Number of steps (default: 10; 100 with --function).")
@click.option("--decimals", type=click.IntRange(*DECIMALS), default=4, show_default=True,
              help="Places shown for parameters (one more for losses and gradients).")
@format_option()
@output_options
@friendly
def descend(model, data, params, preset, function, start, lr, steps, decimals, fmt, output,
            force):
    """Gradient descent on one or a few numbers, step by step.

    Fits a model's parameters to data pairs by gradient descent on the mean squared error,
    or (with --function) minimises a function of x from several starts and finds its
    stationary points.  Says plainly when a run diverges (learning rate too large) or crawls
    (learning rate too small).
    """
    from derive import api
    from derive.output import choose_format

    fmt = choose_format(fmt, output, DOCUMENT_FORMATS)
    svg_file = picture_beside(fmt, output, force, "descent")
    result = api.descend(model=model, data=data, params=params, preset=preset,
                         function=function, start=start, lr=lr, steps=steps,
                         decimals=decimals, progress=_progress)
    emit_charted(result, fmt, output, force, svg_file)


class _progress:
    """One bar over several runs of `steps` steps (silent unless stderr is a terminal)."""

    def __init__(self, label, runs, steps):
        from derive.commands._progress import Progress

        self.bar, self.runs, self.steps = Progress(label), runs, max(steps, 1)

    def __enter__(self):
        def for_run(i):
            return lambda k, total: self.bar(i * self.steps + k, self.runs * self.steps)

        return for_run

    def __exit__(self, *exc):
        self.bar.close()
        return False
