"""`derive descend`: the lecture's one-parameter intuition examples and its minima slide."""

from __future__ import annotations

from urllib.parse import quote

import click

from derive.commands._common import emit, format_option, friendly, output_options
from derive.errors import DeriveError

# no HTML page for this command yet: the formats it renders
DOCUMENT_FORMATS = ("text", "markdown", "latex", "json")

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
@click.option("--decimals", type=click.IntRange(0, 12), default=4, show_default=True,
              help="Places shown for parameters (one more for losses and gradients).")
@format_option(DOCUMENT_FORMATS)
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
    from derive.numeric import descend as dsc
    from derive.output import check_writable, choose_format, write_atomic

    fmt = choose_format(fmt, output, DOCUMENT_FORMATS)
    svg_file = None
    if output:
        check_writable(output, force)
        if fmt == "markdown":
            from derive.commands.train import svg_path_for

            svg_file = svg_path_for(output, "descent")
            check_writable(svg_file, force)
    if steps is not None and not 0 <= steps <= dsc.MAX_STEPS:
        raise DeriveError(f"--steps must be from 0 to {dsc.MAX_STEPS:,}, not {steps}")

    if function is not None:
        if model or data or params or preset:
            raise DeriveError("--function minimises a function of x directly; leave out "
                              "--model, --data, --param and --preset")
        if start is None:
            raise DeriveError("--function needs --start A,B,... (where each run starts)")
        if lr is None:
            raise DeriveError("--function needs --lr ETA")
        rates = dsc.parse_rates(lr)
        if len(rates) != 1:
            raise DeriveError("--function takes one learning rate (several rates compare "
                              "fits of a model: use them with --model or --preset)")
        starts = dsc.parse_numbers(start, "--start")
        fn = dsc.compile_function(function)
        n = 100 if steps is None else steps
        with _progress("descending", len(starts), n) as bars:
            runs = [dsc.minimize(fn, s, rates[0], n, bars(i)) for i, s in enumerate(starts)]
        points = _stationary(fn, runs)
        if fmt == "json":
            from render import to_json

            value = {"runs": [r.to_dict() for r in runs],
                     "stationary_points": [{"x": p["x"], "value": p["value"], "kind": p["kind"]}
                                           for p in points["points"]],
                     "function": fn.expression, "derivative": fn.derivative,
                     "lr": rates[0], "method": points["method"]}
            emit(to_json(value), output, force)
            return
        from derive.descend_document import minimize_document

        doc = minimize_document(fn, runs, points, decimals=decimals)
    else:
        if start is not None:
            raise DeriveError("--start goes with --function; a model starts from --param")
        chosen = dsc.PRESETS[preset] if preset else None
        if chosen is None and not (model and data and params):
            raise DeriveError("give --model, --data and --param (e.g. --model \"c*x\" --data "
                              "\"10:36.7,20:73.4\" --param c=3), a --preset (shekels, miles), "
                              "or --function")
        model_text = model or chosen["model"]
        xs, ys = dsc.parse_data(data or chosen["data"])
        start_params = dsc.parse_params(params or [chosen["param"]])
        if lr is None and chosen is None:
            raise DeriveError("--lr is needed: the learning rate (or several, e.g. "
                              "0.0001,0.001,0.02)")
        rates = dsc.parse_rates(lr or chosen["lr"])
        n = steps if steps is not None else (chosen["steps"] if chosen else 10)
        compiled = dsc.compile_model(model_text, list(start_params))
        with _progress("descending", len(rates), n) as bars:
            runs = [dsc.fit(compiled, xs, ys, start_params, rate, n, bars(i))
                    for i, rate in enumerate(rates)]
        preset_doc = None
        if chosen:
            preset_doc = {"name": preset, "description": chosen["description"],
                          "overridden": [name for name, v in (("--model", model),
                                                              ("--data", data),
                                                              ("--param", params),
                                                              ("--lr", lr),
                                                              ("--steps", steps)) if v]}
        if fmt == "json":
            from render import to_json

            common = {"model": compiled.expression, "data": [[x, y] for x, y in zip(xs, ys)]}
            if preset_doc:
                common["preset"] = {"name": preset, "description": chosen["description"]}
            if len(runs) == 1:
                value = {**runs[0].to_dict(), **common}
                value = {"steps": value.pop("steps"), "diverged": value.pop("diverged"),
                         **value}
            else:
                value = {"runs": [r.to_dict() for r in runs], **common}
            emit(to_json(value), output, force)
            return
        from derive.descend_document import fit_document

        doc = fit_document(compiled, xs, ys, runs, preset=preset_doc, decimals=decimals)

    from render import plot, render

    doc["plot"] = plot.text(doc["chart"])
    doc["pgfplots"] = plot.pgfplots(doc["chart"]) if fmt == "latex" else ""
    doc["svg_url"] = quote(svg_file.name) if svg_file else None
    text = render("descend", fmt, doc=doc)
    if svg_file is not None:
        write_atomic(svg_file, plot.svg(doc["chart"]), force)
        click.echo(f"wrote {svg_file}", err=True)
    emit(text, output, force)


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


def _stationary(fn, runs) -> dict:
    import math

    import sympy as sp

    from derive.symbolic.stationary import stationary_points

    xs = [r.start for r in runs] + [r.end for r in runs if math.isfinite(r.end)]
    xs = [x for x in xs if abs(x) <= 1e3] or [0.0]
    lo, hi = min(xs), max(xs)
    pad = max(5.0, hi - lo)
    return stationary_points(fn.sympy_expr, sp.Symbol("x", real=True), (lo - pad, hi + pad))
