"""A training run (or several, --compare-modes) as a document: plain data for the templates.

Everything is computed here or in derive.numeric.train; render/ and templates/ only lay it out.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from derive.errors import DeriveError
from derive.numeric.thin import ordinal
from derive.numeric.train import INIT_DESCRIPTIONS, Standardization, TrainRun
from derive.spec import Spec

MAX_RENDER_PARAMETERS = 200  # tables of every parameter beyond this are refused
MAX_SHOWN_STEPS = 30  # every step is shown for runs up to this many steps ...
MAX_SHOWN_STEP_PARAMETERS = 60  # ... of networks up to this many parameters
MAX_EPOCH_ROWS = 100  # longer runs show the first and last half of this many epochs
MAX_EXAMPLE_ROWS = 30  # the standardisation table lists the examples up to this many

MODE_NAMES = {"batch": "batch gradient descent", "sgd": "stochastic gradient descent",
              "minibatch": "mini-batch gradient descent"}


def check_renderable(spec: Spec) -> None:
    n = len(spec.parameter_names())
    if n > MAX_RENDER_PARAMETERS:
        raise DeriveError(
            f"the network {'-'.join(map(str, spec.sizes))} has {n:,} parameters: tables of "
            f"every parameter are too large to read (the limit is {MAX_RENDER_PARAMETERS}); "
            f"use --format json, which works for any size")


def _g(x) -> str:
    return f"{x:.4g}" if x is not None and math.isfinite(x) else str(x)


def stop_reason(run: TrainRun) -> str:
    last = run.epochs[-1] if run.epochs else None
    c = run.criteria
    if run.stopped_by == "diverged":
        return (f"diverged in epoch {last.epoch}: the loss or a parameter stopped being a "
                f"finite number (the learning rate {run.learning_rate:g} is too large)")
    if run.stopped_by == "target_loss":
        return (f"target loss reached after epoch {last.epoch}: the mean loss on all examples, "
                f"{_g(last.loss)}, is at most {_g(c.target_loss)}")
    if run.stopped_by == "max_misclassified":
        return (f"few enough misclassified after epoch {last.epoch}: {last.misclassified:.4g}% "
                f"of the examples, at most {_g(c.max_misclassified)}%")
    if run.stopped_by == "min_change":
        return (f"weight changes incredibly small after epoch {last.epoch}: the largest "
                f"change of any parameter over the epoch, {_g(last.max_change)}, is below "
                f"{_g(c.min_change)}")
    return f"finished the pre-specified {c.max_epochs} epoch{'s' * (c.max_epochs != 1)}"


def _label(run: TrainRun) -> str:
    return f"minibatch (B = {run.batch_size})" if run.mode == "minibatch" else run.mode


def chart(runs: list[TrainRun], title: str) -> dict:
    series = []
    ys = []
    for n, run in enumerate(runs):
        pts = [[x, y] for x, y in run.curve]
        ys += [y for _, y in run.curve if y is not None and math.isfinite(y)]
        series.append({"label": _label(run), "kind": "line", "points": pts, "color_index": n})
    positive = ys and min(ys) > 0
    log_y = bool(positive and max(ys) / min(ys) > 1e3)
    per_update = any(r.curve_per_update for r in runs)
    thinned = [r.thinning["curve"] for r in runs if "curve" in r.thinning]
    if thinned:  # a long run's curve is drawn from its kept points (derive.numeric.thin)
        title += (f" (drawn from every {ordinal(max(t['every'] for t in thinned))} point and "
                  f"the first and last {thinned[0]['first']})")
    return {"title": title, "xlabel": "epoch", "log_y": log_y, "xlim": None, "ylim": None,
            "ylabel": "mean loss on all examples" + (" (after every update)" if per_update
                                                     else ""),
            "series": series}


def _json_steps(run: TrainRun) -> str:
    """What --format json holds of the updates: every one, or the kept ones of a long run."""
    how = run.thinning.get("steps")
    if how is None:
        return "every one"
    return (f"{how['kept']:,} of them (the first {how['first']:,}, every "
            f"{ordinal(how['every'])} and the last {how['last']:,})")


def _run_doc(run: TrainRun, spec: Spec, show_steps: bool) -> dict:
    names = run.names
    epochs = [asdict(e) for e in run.epochs]  # every epoch of a short run (derive.numeric.thin)
    omitted = 0
    if run.epochs_run > MAX_EPOCH_ROWS:
        half = MAX_EPOCH_ROWS // 2
        omitted = run.epochs_run - 2 * half
        epochs = epochs[:half] + [None] + epochs[-half:]
    steps = []
    if show_steps:
        for s in run.steps:
            steps.append({"epoch": s.epoch, "examples": list(s.examples), "loss": s.loss,
                          "params": [{"name": n, "gradient": g, "new": v} for n, g, v in
                                     zip(names, s.gradients.tolist(), s.update.tolist())]})
    return {
        "mode": run.mode, "mode_name": MODE_NAMES[run.mode], "label": _label(run),
        "batch_size": run.batch_size, "updates_per_epoch": math.ceil(
            len(spec.examples) / run.batch_size),
        "stopped_by": run.stopped_by, "stop_reason": stop_reason(run),
        "initial_loss": run.initial_loss, "initial_misclassified": run.initial_misclassified,
        "epochs": epochs, "omitted_epochs": omitted, "n_steps": run.updates,
        "json_steps": _json_steps(run),
        "steps": steps, "steps_shown": show_steps,
        "params": [{"name": n, "initial": a, "final": b} for n, a, b in
                   zip(names, run.initial.tolist(), run.final.tolist())],
    }


def train_document(spec: Spec, runs: list[TrainRun], *, compare: bool, decimals: int = 3,
                   init: tuple[str, int] | None = None,
                   standardization: Standardization | None = None) -> dict:
    """The document's data (without the rendered pictures, which the command adds)."""
    n_params = len(spec.parameter_names())
    show = all(r.updates <= MAX_SHOWN_STEPS for r in runs) \
        and n_params <= MAX_SHOWN_STEP_PARAMETERS
    std = None
    if standardization is not None:
        s = standardization
        std = {"features": [{"name": n, "mean_before": a, "sd_before": b, "mean_after": c,
                             "sd_after": d} for n, a, b, c, d in
                            zip(s.names, s.mean_before, s.sd_before, s.mean_after, s.sd_after)],
               "constant": list(s.constant),
               "examples": [{"number": i + 1, "before": list(b), "after": list(a)}
                            for i, (b, a) in enumerate(zip(s.before, s.after))]
               if len(s.before) <= MAX_EXAMPLE_ROWS else []}
    title = spec.title or "Training run"
    first = runs[0]
    return {
        "title": title, "sizes": list(spec.sizes),
        "activations": [layer.activation for layer in spec.layers],
        "loss": spec.loss, "learning_rate": spec.learning_rate,
        "n_examples": len(spec.examples), "n_params": n_params,
        "shuffle": any(r.shuffle for r in runs), "seed": first.seed,
        "criteria": first.criteria.to_dict(),
        "init": {"method": init[0], "seed": init[1], "description": INIT_DESCRIPTIONS[init[0]]}
        if init else None,
        "standardization": std,
        "runs": [_run_doc(r, spec, show) for r in runs], "compare": compare,
        "chart": chart(runs, "Loss during training" + (": batch, SGD and mini-batch"
                                                       if compare else "")),
        "decimals": decimals,
    }
