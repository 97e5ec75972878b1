"""`derive train`: batch, stochastic or mini-batch gradient descent over epochs."""

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

MODES = ("batch", "sgd", "minibatch")  # derive.numeric.train.MODES (NumPy stays out of --help)
INITS = ("gaussian", "uniform")


@click.command(options_metavar="--mode batch|sgd|minibatch [OPTIONS]")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False),
              help="Network spec (TOML) with its [[examples]]. Default: the lecture's example.")
@click.option("--mode", type=click.Choice(MODES),
              help="Required (or --compare-modes): batch: mean gradient over all examples; "
                   "sgd: one example per update; minibatch: mean gradient over --batch-size "
                   "examples.")
@click.option("--batch-size", type=int, help="Examples per update in --mode minibatch (the "
              "last mini-batch takes the examples that remain).")
@click.option("--max-epochs", type=int, default=100, show_default=True,
              help="Stop after this many epochs.")
@click.option("--min-change", type=float, metavar="EPS",
              help="Stop when no parameter changed by EPS or more over an epoch.")
@click.option("--target-loss", type=float, metavar="L",
              help="Stop when the mean loss on all examples is at most L.")
@click.option("--max-misclassified", type=float, metavar="PCT",
              help="Stop when at most PCT % of the examples are misclassified (one output: "
                   "thresholded at 0.5; several: argmax).")
@click.option("--shuffle", is_flag=True, help="A fresh random order of the examples every "
              "epoch (needs --seed).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for --shuffle and --init "
              "(numpy.random.default_rng).")
@click.option("--standardize", is_flag=True,
              help="Scale each input feature to mean 0 and standard deviation 1 first.")
@click.option("--init", "init_method", type=click.Choice(INITS),
              help="Random weights (biases 0) for layers the spec gives only as size = N "
                   "(needs --seed).")
@click.option("--lr", type=float, help="Learning rate η (default: the spec's).")
@click.option("--compare-modes", is_flag=True,
              help="Run batch, sgd and minibatch from the same start and draw their loss "
                   "curves together.")
@click.option("--decimals", type=click.IntRange(*DECIMALS), default=3, show_default=True,
              help="Places shown for parameters (one more for gradients and losses).")
@format_option()
@output_options
@friendly
def train(spec_path, mode, batch_size, max_epochs, min_change, target_loss, max_misclassified,
          shuffle, seed, standardize, init_method, lr, compare_modes, decimals, fmt, output,
          force):
    """Train the spec's network on its examples, epoch after epoch, until a stopping
    criterion fires.  --mode is required: batch, sgd or minibatch (or --compare-modes for
    all three).

    Prints every step for short runs, always a table per epoch (loss, misclassified %,
    largest parameter change) and the loss curve (a text plot; an SVG image beside a
    Markdown file; pgfplots in LaTeX).
    """
    from derive import api
    from derive.commands._progress import Progress
    from derive.output import choose_format

    fmt = choose_format(fmt, output, DOCUMENT_FORMATS)
    svg_file = picture_beside(fmt, output, force, "loss")
    if fmt != "json" and spec_path and not init_method:
        from derive.spec import load
        from derive.documents.training import check_renderable

        check_renderable(load(spec_path))  # refuse huge tables before any training
    bar = Progress("training")
    try:
        result = api.train(spec_path, mode, batch_size=batch_size, max_epochs=max_epochs,
                           min_change=min_change, target_loss=target_loss,
                           max_misclassified=max_misclassified, shuffle=shuffle, seed=seed,
                           standardize=standardize, init=init_method, lr=lr,
                           compare_modes=compare_modes, decimals=decimals, progress=bar)
    finally:
        bar.close()
    emit_charted(result, fmt, output, force, svg_file)
