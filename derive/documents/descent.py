"""`derive descend` results as documents: plain data for the templates (nothing formatted)."""

from __future__ import annotations

import math

import numpy as np

from derive.numeric.descend import FitRun, Function1, MinimizeRun
from derive.numeric.thin import ordinal
from derive.symbolic.budget import notes

MAX_ROWS = 40  # longer runs show the first and the last steps
HEAD, TAIL = 15, 10

KIND_NAMES = {"global_min": "global minimum", "local_min": "local minimum",
              "local_max": "local maximum", "global_max": "global maximum",
              "saddle": "saddle (horizontal inflection)"}


def _thin_rows(n: int) -> list[int | None]:
    """Indices of the rows shown; None marks the omitted middle."""
    if n <= MAX_ROWS:
        return list(range(n))
    return list(range(HEAD)) + [None] + list(range(n - TAIL, n))


def _log_scale(values) -> bool:
    ys = [v for v in values if v is not None and math.isfinite(v)]
    return bool(ys) and min(ys) > 0 and max(ys) / min(ys) > 1e3


def _curve_title(title: str, runs) -> str:
    """The chart's title, saying when its curve is thinned (a run of 10^6 steps is drawn
    from its kept rows: the first, every k-th, the last)."""
    thinned = [r.thinning["steps"] for r in runs if r.thinning]
    if not thinned:
        return title
    every = max(t["every"] for t in thinned)
    return (f"{title} (drawn from every {ordinal(every)} step and the first and last "
            f"{thinned[0]['first']})")


def fit_document(model, xs, ys, runs: list[FitRun], *, preset: dict | None,
                 decimals: int) -> dict:
    n = max(r.steps_taken + 1 for r in runs)
    rows = []
    for i in _thin_rows(n):
        if i is None:
            rows.append(None)
            continue
        cells = []
        for r in runs:
            s = r.row(i)
            cells.append(None if s is None else {"params": [s["params"][p] for p in r.params],
                                                 "loss": s["loss"],
                                                 "gradient": [s["gradient"][p]
                                                              for p in r.params]})
        rows.append({"step": i, "runs": cells})
    series = [{"label": f"η = {r.lr:g}", "kind": "path",
               "points": [[s["step"], s["loss"]] for s in r.steps]} for r in runs]
    losses = [s["loss"] for r in runs for s in r.steps]
    return {
        "kind": "fit", "model": model.text, "model_latex": model.latex,
        "model_oneline": model.oneline,
        "params": list(model.params), "data": [{"x": x, "y": y} for x, y in zip(xs, ys)],
        "preset": preset, "decimals": decimals,
        "runs": [{"lr": r.lr, "diverged": r.verdict.diverged, "crawling": r.verdict.crawling,
                  "converged": r.verdict.converged, "message": r.verdict.message,
                  "steps": r.steps_taken,
                  "start": [r.steps[0]["params"][p] for p in r.params],
                  "end": [r.steps[-1]["params"][p] for p in r.params],
                  "end_loss": r.steps[-1]["loss"]} for r in runs],
        "rows": rows, "omitted": max(0, n - HEAD - TAIL) if n > MAX_ROWS else 0,
        "chart": {"title": _curve_title("Loss (mean squared error) at each step", runs),
                  "xlabel": "step",
                  "ylabel": "loss", "log_y": _log_scale(losses), "xlim": None, "ylim": None,
                  "series": series},
    }


def minimize_document(fn: Function1, runs: list[MinimizeRun], points: dict, *,
                      decimals: int) -> dict:
    starts = [r.start for r in runs]
    xs = starts + [p["x"] for p in points["points"]]
    xs += [r.end for r in runs if math.isfinite(r.end) and abs(r.end) <= 1e3]
    lo, hi = min(xs), max(xs)
    pad = max(0.5, 0.15 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    grid = np.linspace(lo, hi, 401)
    with np.errstate(all="ignore"):
        curve = np.asarray(fn.f(x=grid), dtype=float)
    finite = curve[np.isfinite(curve)]
    ylim = None
    if finite.size:
        y0, y1 = float(finite.min()), float(finite.max())
        span = (y1 - y0) or 1.0
        ylim = [y0 - 0.08 * span, y1 + 0.08 * span]
    series = [{"label": "f(x)", "kind": "line",
               "points": [[float(a), float(b)] for a, b in zip(grid, curve)]}]
    for r in runs:
        series.append({"label": f"from x = {r.start:g}", "kind": "path",
                       "points": [[s["x"], s["value"]] for s in r.steps]})
    if points["points"]:
        series.append({"label": "stationary points", "kind": "points",
                       "points": [[p["x"], p["value"]] for p in points["points"]],
                       "labels": [KIND_NAMES[p["kind"]].split(" (")[0]
                                  for p in points["points"]]})
    docs = []
    for r in runs:
        count = r.steps_taken + 1
        shown = [None if i is None else r.row(i) for i in _thin_rows(count)]
        near = None
        if math.isfinite(r.end) and points["points"]:
            best = min(points["points"], key=lambda p: abs(p["x"] - r.end))
            if abs(best["x"] - r.end) <= 1e-3 * max(1.0, abs(best["x"])):
                near = {"x": best["x"], "kind": best["kind"], "name": KIND_NAMES[best["kind"]]}
        docs.append({"start": r.start, "end": r.end, "end_value": r.steps[-1]["value"],
                     "steps": r.steps_taken, "rows": shown,
                     "omitted": count - HEAD - TAIL if count > MAX_ROWS else 0,
                     "diverged": r.verdict.diverged, "message": r.verdict.message,
                     "near": near})
    return {
        "kind": "minimize", "function": fn.text, "function_latex": fn.latex,
        "derivative": fn.derivative, "derivative_latex": fn.derivative_latex,
        "function_oneline": fn.oneline, "derivative_oneline": fn.derivative_oneline,
        "lr": runs[0].lr if runs else None, "decimals": decimals, "runs": docs,
        "stationary_points": [dict(p, name=KIND_NAMES[p["kind"]]) for p in points["points"]],
        "method": points["method"],
        # stationary points SymPy did not find within its time budget: the document says so
        "omitted_notes": notes(points.get("omitted", [])),
        "chart": {"title": _curve_title("f(x), its stationary points and the descent paths",
                                        runs), "xlabel": "x",
                  "ylabel": "f(x)", "log_y": False, "xlim": [float(lo), float(hi)],
                  "ylim": ylim, "series": series},
    }
