"""The shape of an activation, computed: the range of its outputs and where its gradient vanishes.

Nothing here is typed in.  Limits at ±∞ come from SymPy (branch by branch for piecewise
functions); what happens in between comes from evaluating the compiled function and its
derivative on a fine grid, with each boundary refined by bisection to full precision.  An
interval of small gradient, |f'(z)| < THRESHOLD, is the slides' "little/slow learning" made
concrete; where f' is exactly 0 over an interval the unit passes no error back at all ("dead").
Infinite bounds are None (JSON has no infinity).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from derive.numeric.evaluate import Function
from derive.symbolic import budget

THRESHOLD = 0.01
# the range where SymPy's limits at ±∞ did not finish in time
UNDETERMINED = {"values": None, "low": None, "high": None, "low_closed": False,
                "high_closed": False, "text": "not determined"}
SPAN = 15.0  # the grid's half-width: every activation here has settled by |z| = 15
STEP = 1e-3


def _branch(expr, z, sign):
    """The piece of a Piecewise that is in force far out on the side `sign` of the axis."""
    while isinstance(expr, sp.Piecewise):
        far = sign * sp.Integer(10) ** 6
        for piece, cond in expr.args:
            if cond == sp.true or bool(cond.subs(z, far)):
                expr = piece
                break
        else:
            return sp.nan
    return expr


def limit_at(expr, z, sign, step: str = "limits") -> float | None:
    """lim f(z) as z -> sign·∞, as a float (±inf allowed, nan when SymPy cannot tell), or None
    where SymPy did not finish within its budget (an optional step, named `step`, of
    derive.symbolic.budget)."""
    return budget.optional(step, lambda: _limit(expr, z, sign), None)


def _limit(expr, z, sign) -> float:
    try:
        value = sp.limit(_branch(expr, z, sign), z, sign * sp.oo)
    except (NotImplementedError, ValueError, TypeError):
        return float("nan")
    if value in (sp.oo, -sp.oo):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _kinks(expr, z) -> list[float]:
    """Points where a piecewise expression changes branch (z > 0 -> 0); none where SymPy did
    not find them within the budget (the grid and bisection still place the edges)."""
    if not expr.has(sp.Piecewise):
        return []
    return budget.optional("kinks", lambda: _solve_kinks(expr, z), [])


def _solve_kinks(expr, z) -> list[float]:
    points = set()
    for pw in expr.atoms(sp.Piecewise):
        for _, cond in pw.args:
            for rel in cond.atoms(sp.Rel):
                try:
                    for root in sp.solve(sp.Eq(rel.lhs, rel.rhs), z):
                        if root.is_real:
                            points.add(float(root))
                except (NotImplementedError, ValueError, TypeError):
                    pass
    return sorted(p for p in points if -SPAN < p < SPAN)


def _grid(kinks) -> np.ndarray:
    grid = np.linspace(-SPAN, SPAN, int(round(2 * SPAN / STEP)) + 1)
    return np.unique(np.concatenate([grid, np.asarray(kinks, dtype=float)]))


def _bisect(pred, inside: float, outside: float) -> float:
    """The boundary between a point where pred holds and one where it does not."""
    for _ in range(80):
        mid = (inside + outside) / 2
        if mid in (inside, outside):
            break
        if pred(mid):
            inside = mid
        else:
            outside = mid
    return inside


def _runs(mask):
    """(start, stop) index pairs of the runs of True in a boolean array."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return list(zip(edges[::2], edges[1::2] - 1))


def _show(x: float | None, places: int = 2) -> str:
    if x is None:
        return "∞"
    text = f"{x:.{places}f}".rstrip("0").rstrip(".") if places else f"{x:.0f}"
    return "0" if text in ("-0", "") else text.replace("-", "−")


def _interval_text(var: str, iv: dict, places: int = 2) -> str:
    lo, hi = iv["low"], iv["high"]
    if lo is None and hi is None:
        return f"every {var}"
    if lo is None:
        return f"{var} {'≤' if iv['high_closed'] else '<'} {_show(hi, places)}"
    if hi is None:
        return f"{var} {'≥' if iv['low_closed'] else '>'} {_show(lo, places)}"
    left = "≤" if iv["low_closed"] else "<"
    right = "≤" if iv["high_closed"] else "<"
    return f"{_show(lo, places)} {left} {var} {right} {_show(hi, places)}"


def small_intervals(df, lo_limit: float, hi_limit: float, kinks, var="z",
                    span=(-SPAN, SPAN), threshold=THRESHOLD) -> list[dict]:
    """The intervals of `var` where |df| < threshold; df is a scalar/array function of var."""
    grid = _grid(kinks) if span == (-SPAN, SPAN) else np.unique(np.concatenate([
        np.linspace(span[0], span[1], 20001), np.asarray(kinks, dtype=float)]))
    with np.errstate(all="ignore"):
        values = np.abs(np.asarray(df(grid), dtype=float))
    small = values < threshold
    zero = values == 0

    def is_small(x):
        with np.errstate(all="ignore"):
            return bool(abs(float(df(np.array([x]))[0])) < threshold)

    def crosses(x):
        """|df| passes through the threshold continuously here (not a jump at a kink)."""
        with np.errstate(all="ignore"):
            return abs(abs(float(df(np.array([x]))[0])) - threshold) < 1e-6

    def edge(x):
        """A boundary and whether it belongs to the interval: at a kink (a jump of f′) the
        kink itself decides; elsewhere |f′| crosses the threshold there, so it is open."""
        for k in kinks:
            if abs(x - k) < 1e-9:
                return float(k), is_small(float(k))
        return x, is_small(x) and not crosses(x)

    out = []
    for a, b in _runs(small):
        iv = {}
        if a == 0 and (span != (-SPAN, SPAN) or abs(lo_limit) < threshold):
            iv["low"] = None if span == (-SPAN, SPAN) else float(span[0])
            iv["low_closed"] = span != (-SPAN, SPAN)
        else:
            x = _bisect(is_small, float(grid[a]), float(grid[a - 1])) if a else float(grid[0])
            iv["low"], iv["low_closed"] = edge(x)
        last = len(grid) - 1
        if b == last and (span != (-SPAN, SPAN) or abs(hi_limit) < threshold):
            iv["high"] = None if span == (-SPAN, SPAN) else float(span[1])
            iv["high_closed"] = span != (-SPAN, SPAN)
        else:
            x = _bisect(is_small, float(grid[b]), float(grid[b + 1])) if b < last \
                else float(grid[last])
            iv["high"], iv["high_closed"] = edge(x)
        iv["zero"] = bool(zero[a:b + 1].all())
        iv["text"] = _interval_text(var, iv)
        out.append(iv)
    return out


def _attained(f, z, value: float, sign: int) -> bool:
    """Does f reach its limit `value` (as z -> sign·∞) at some finite z?  Yes where the piece
    in force out there is constant (relu's 0); else only where SymPy finds a real z with
    f(z) = value.  (A grid cannot tell: erf(6) is 1.0 in floating point, but erf < 1.)"""
    branch = _branch(f, z, sign)
    if not branch.has(z):
        return True
    try:
        roots = budget.optional("range_ends",
                                lambda: sp.solve(sp.Eq(f, sp.nsimplify(value)), z), None)
    except (NotImplementedError, ValueError, TypeError):
        return False
    return roots is not None and any(r.is_real for r in roots)


def output_range(f, d, z, f_numeric, kinks, constant: bool) -> dict | None:
    """The set of values f takes, from its limits, its extrema and (if constant) its pieces;
    None where the limits at ±∞ ran out of time."""
    grid = _grid(kinks)
    with np.errstate(all="ignore"):
        values = np.asarray(f_numeric(grid), dtype=float)
    if constant:  # piecewise constant (step): a finite set of values
        vals = sorted({float(v) for v in values})
        return {"values": vals, "low": vals[0], "high": vals[-1], "low_closed": True,
                "high_closed": True,
                "text": "{" + ", ".join(_show(v, 4) for v in vals) + "}"}
    lo_lim = limit_at(f, z, -1)
    hi_lim = limit_at(f, z, 1) if lo_lim is not None else None
    if lo_lim is None or hi_lim is None:  # out of time: the range is not determined
        return None
    limits = [v for v in (lo_lim, hi_lim) if not math.isnan(v)]
    out = {"values": None}
    for side, pick, arg in (("low", min, np.argmin), ("high", max, np.argmax)):
        best_limit = pick(limits) if limits else float("nan")
        k = int(arg(values))
        grid_best = float(values[k])
        interior = 0 < k < len(grid) - 1 and (math.isnan(best_limit) or
                                             pick(grid_best, best_limit) == grid_best and
                                             abs(grid_best - best_limit) > 1e-9)
        if interior:
            # an extremum inside: refine where f' = 0 (gelu's and swish's minimum)
            x0 = float(grid[k])
            def refine(x0=x0):
                try:
                    x = float(sp.nsolve(d, z, x0))
                    return float(f.subs(z, x).evalf())
                except (ValueError, TypeError, ZeroDivisionError):
                    return grid_best

            value = budget.optional("extremes", refine, grid_best)
            out[side], out[f"{side}_closed"] = value, True
        else:
            value = best_limit
            attained = math.isfinite(value) and _attained(f, z, value,
                                                          -1 if value == lo_lim else 1)
            out[side] = value if math.isfinite(value) else None
            out[f"{side}_closed"] = attained
    left = "[" if out["low_closed"] else "("
    right = "]" if out["high_closed"] else ")"
    low = "−∞" if out["low"] is None else _show(out["low"], 4)
    out["text"] = f"{left}{low}, {_show(out['high'], 4)}{right}"
    return out


def shape(f, d, z, numeric: dict, params: dict, form_tree, constant: bool,
          elementwise: bool = True) -> dict:
    """{"range", "vanishing"} of an activation f with derivative d (parameters at defaults)."""
    env = {str(k): float(v) for k, v in params.items()}
    f_num, df_num = Function(numeric["f"]), Function(numeric["df"])
    kinks = _kinks(f, z)
    rng = output_range(f, d, z, lambda x: f_num(z=x, **env), kinks, constant)
    vanishing = {"threshold": THRESHOLD, "in_input": None, "in_output": None}
    if rng is None:  # the limits ran out of time: neither is determined (record's "omitted")
        budget.note_omitted("gradient_limits")
        return {"range": dict(UNDETERMINED), "vanishing": vanishing}
    if elementwise:
        d_low = limit_at(d, z, -1, "gradient_limits")
        d_high = limit_at(d, z, 1, "gradient_limits") if d_low is not None else None
        if d_low is None or d_high is None:
            return {"range": rng, "vanishing": vanishing}
        vanishing["in_input"] = small_intervals(
            lambda x: df_num(z=x, **env), d_low, d_high, kinks)
    if form_tree is not None and rng["values"] is None and rng["low"] is not None \
            and rng["high"] is not None:
        g = Function(form_tree)
        vanishing["in_output"] = small_intervals(
            lambda a: g(a=a, **env), 1.0, 1.0, [], var="a", span=(rng["low"], rng["high"]))
        for iv in vanishing["in_output"]:
            for side in ("low", "high"):
                if iv[side] == rng[side]:  # the edge of the range: open where f never gets there
                    iv[f"{side}_closed"] = rng[f"{side}_closed"]
            iv["text"] = _interval_text("a", iv, 4)
    return {"range": rng, "vanishing": vanishing}


# net inputs tried first when looking for two with the same output: numbers a reader can check
_NICE = (-1.0, 1.0, -2.0, 2.0, -0.5, 0.5, 0.0, -3.0, 3.0, -1.5, 1.5, -0.25, 0.25)


def _niceness(x: float) -> tuple:
    """Shorter decimals first, then nearer 0: -1 before -0.75 before 1.2345."""
    for places in range(0, 7):
        if abs(x - round(x, places)) < 1e-12:
            return places, abs(x)
    return 7, abs(x)


def output_collision(f_tree, df_tree) -> dict | None:
    """Two net inputs z1, z2 with the same output a = f(z1) = f(z2) and different slopes
    f'(z1) != f'(z2): the proof that f' cannot be written in terms of the output (leaky_relu
    with alpha < 0: f(-1) = f(0.5) = 0.5, f'(-1) = -0.5, f'(0.5) = 1).  None where none is found
    on the grid (f is one-to-one there, or constant where its slopes agree)."""
    f_num, df_num = Function(f_tree), Function(df_tree)

    def f(x):
        with np.errstate(all="ignore"):
            return np.asarray(f_num(z=np.asarray(x, dtype=float)), dtype=float)

    def df(x):
        with np.errstate(all="ignore"):
            return np.asarray(df_num(z=np.asarray(x, dtype=float)), dtype=float)

    grid = np.unique(np.concatenate([_grid([]), _NICE]))
    values = f(grid)
    for z1 in _NICE:
        a, d1 = float(f([z1])[0]), float(df([z1])[0])
        if not (math.isfinite(a) and math.isfinite(d1)):
            continue
        gap = values - a
        found = []
        # exactly the same output (a flat piece: relu's z <= 0) ...
        for z2 in grid[np.abs(gap) <= 1e-12 * max(1.0, abs(a))]:
            found.append(float(z2))
        # ... or a crossing between two grid points, refined by bisection
        for k in np.flatnonzero(np.sign(gap[:-1]) * np.sign(gap[1:]) < 0):
            lo, hi = float(grid[k]), float(grid[k + 1])
            side = math.copysign(1.0, float(gap[k]))
            z2 = _bisect(lambda x: math.copysign(1.0, float(f([x])[0]) - a) == side, lo, hi)
            found.append(z2)
        for z2 in sorted(found, key=_niceness):
            if abs(z2 - z1) < 1e-6:
                continue
            d2 = float(df([z2])[0])
            if math.isfinite(d2) and abs(d2 - d1) > 1e-9 * max(1.0, abs(d1)):
                return {"z": [z1, z2], "a": a, "fprime": [d1, d2]}
    return None
