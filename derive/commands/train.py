"""`derive train`: batch, stochastic or mini-batch gradient descent over epochs."""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import quote

import click

from derive.commands._common import emit, format_option, friendly, output_options
from derive.errors import DeriveError

# no HTML page for this command yet: the formats it renders
DOCUMENT_FORMATS = ("text", "markdown", "latex", "json")

MODES = ("batch", "sgd", "minibatch")  # derive.numeric.train.MODES (NumPy stays out of --help)
INITS = ("gaussian", "uniform")


def svg_path_for(output: str, name: str) -> Path:
    """The image written beside a Markdown file: report.md -> report-loss.svg."""
    out = Path(output)
    return out.with_name(f"{out.stem}-{name}.svg")


@click.command()
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False),
              help="Network spec (TOML) with its [[examples]]. Default: the lecture's example.")
@click.option("--mode", type=click.Choice(MODES),
              help="batch: mean gradient over all examples; sgd: one example per update; "
                   "minibatch: mean gradient over --batch-size examples.")
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
@click.option("--seed", type=int, help="Seed for --shuffle and --init "
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
@click.option("--decimals", type=click.IntRange(0, 12), default=3, show_default=True,
              help="Places shown for parameters (one more for gradients and losses).")
@format_option(DOCUMENT_FORMATS)
@output_options
@friendly
def train(spec_path, mode, batch_size, max_epochs, min_change, target_loss, max_misclassified,
          shuffle, seed, standardize, init_method, lr, compare_modes, decimals, fmt, output,
          force):
    """Train the spec's network on its examples, epoch after epoch, until a stopping
    criterion fires.

    Prints every step for short runs, always a table per epoch (loss, misclassified %,
    largest parameter change) and the loss curve (a text plot; an SVG image beside a
    Markdown file; pgfplots in LaTeX).
    """
    from derive import spec as specs
    from derive.numeric import train as training
    from derive.output import check_writable, choose_format, write_atomic

    fmt = choose_format(fmt, output, DOCUMENT_FORMATS)
    svg_file = None
    if output:
        check_writable(output, force)
        if fmt == "markdown":
            svg_file = svg_path_for(output, "loss")
            check_writable(svg_file, force)
    if compare_modes and mode is not None:
        raise DeriveError("--compare-modes runs batch, sgd and minibatch; leave out --mode")
    if not compare_modes and mode is None:
        raise DeriveError("--mode is needed: batch, sgd or minibatch (or --compare-modes)")
    criteria = training.Criteria(max_epochs, min_change, target_loss,
                                 max_misclassified).check()
    init = training.initializer(init_method, seed) if init_method else None
    if init is not None and not spec_path:
        raise DeriveError("--init needs --spec: a spec whose layers give only size = N")
    spec = specs.load(spec_path, init) if spec_path else specs.LECTURE
    if lr is not None:
        spec = spec.with_learning_rate(lr)
    if fmt != "json":
        from derive.train_document import check_renderable

        check_renderable(spec)
    info = None
    if standardize:
        spec, info = training.standardize(spec)

    n = len(spec.examples)
    if compare_modes:
        plan = [("batch", None), ("sgd", None),
                ("minibatch", batch_size if batch_size is not None else max(1, math.ceil(n / 2)))]
    else:
        plan = [(mode, batch_size)]
    for m, b in plan:  # refuse impossible combinations before any work
        training.check_mode(m, b, n)

    from derive.commands._progress import Progress

    bar = Progress("training")
    runs = []
    try:
        for k, (m, b) in enumerate(plan):
            def progress(epoch, total, k=k):
                bar(k * total + epoch, len(plan) * total)

            runs.append(training.train(spec, m, b, criteria, shuffle and m != "batch", seed,
                                       progress=progress))
    finally:
        bar.close()

    if fmt == "json":
        from render import to_json

        def extra(d):
            if info is not None:
                d["standardization"] = info.to_dict()
            if init_method:
                d["init"] = {"method": init_method, "seed": seed,
                             "description": training.INIT_DESCRIPTIONS[init_method]}
            return d

        if compare_modes:
            value = extra({"modes": {r.mode: r.to_dict() for r in runs}})
        else:
            value = extra(runs[0].to_dict())
        emit(to_json(value), output, force)
        return

    from derive.train_document import train_document
    from render import plot, render

    doc = train_document(spec, runs, compare=compare_modes, decimals=decimals,
                         init=(init_method, seed) if init_method else None,
                         standardization=info)
    doc["plot"] = plot.text(doc["chart"])
    doc["pgfplots"] = plot.pgfplots(doc["chart"]) if fmt == "latex" else ""
    doc["svg_name"] = svg_file.name if svg_file else None
    doc["svg_url"] = quote(svg_file.name) if svg_file else None  # a relative link, %-encoded
    text = render("train", fmt, doc=doc)
    if svg_file is not None:
        write_atomic(svg_file, plot.svg(doc["chart"]), force)
        click.echo(f"wrote {svg_file}", err=True)
    emit(text, output, force)
