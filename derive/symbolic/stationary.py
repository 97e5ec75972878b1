"""Stationary points of a function of one variable, found and classified by SymPy.

solve f'(x) = 0 on the reals (exactly for polynomials, with real_roots; by solveset otherwise;
by bisection on sign changes of f' over a given interval when SymPy finds no closed form), then
classify each point by the first derivative of order >= 2 that is not zero there (even order:
minimum or maximum by its sign; odd order: a saddle, i.e. a horizontal inflection), and label a
minimum global when no other stationary point is lower and the function does not fall below it
towards -oo or +oo (limits by SymPy); maxima alike.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

KINDS = ("global_min", "local_min", "local_max", "global_max", "saddle")
_MAX_ORDER = 8
_TOL = 1e-9


def _as_float(value) -> float | None:
    try:
        v = complex(sp.N(value, 30))
    except (TypeError, ValueError):
        return None
    if abs(v.imag) > 1e-12 * max(1.0, abs(v.real)):
        return None
    return v.real


def _roots(df, x, interval) -> tuple[list[float], str]:
    """Real roots of df and how they were found."""
    try:
        poly = sp.Poly(df, x)
    except sp.PolynomialError:
        poly = None
    if poly is not None and poly.is_univariate and all(c.is_rational for c in poly.all_coeffs()):
        if poly.degree() <= 0:
            return [], "exact"
        roots = sorted({float(sp.N(r, 30)) for r in sp.real_roots(poly)})
        return roots, "exact"
    try:
        sol = sp.solveset(df, x, sp.S.Reals)
    except (NotImplementedError, ValueError, TypeError):
        sol = None
    if isinstance(sol, sp.FiniteSet):
        roots = sorted({r for r in (_as_float(s) for s in sol) if r is not None})
        return roots, "exact"
    return _bisect_all(df, x, interval), "numeric"


@np.errstate(all="ignore")  # outside f's domain (sqrt(x) at x < 0) is NaN, not a warning
def _bisect_all(df, x, interval) -> list[float]:
    """Roots of df in the interval: sign changes on a fine grid, each refined by bisection."""
    from derive.numeric.evaluate import Function
    from derive.symbolic.tree import to_tree

    g = Function(to_tree(df))
    lo, hi = interval
    n = 4000
    xs = [lo + (hi - lo) * i / n for i in range(n + 1)]
    vals = []
    for v in xs:
        try:
            vals.append(float(g(x=v)))
        except (ValueError, ZeroDivisionError, OverflowError):
            vals.append(float("nan"))
    roots = []
    for a, b, fa, fb in zip(xs, xs[1:], vals, vals[1:]):
        if not (math.isfinite(fa) and math.isfinite(fb)):
            continue
        if fa == 0:
            roots.append(a)
            continue
        if fa * fb < 0:
            for _ in range(200):
                m = (a + b) / 2
                try:
                    fm = float(g(x=m))
                except (ValueError, ZeroDivisionError, OverflowError):
                    break  # a pole, not a root: f there is not finite, and is dropped below
                if fm == 0 or b - a < 1e-15 * max(1.0, abs(m)):
                    break
                if (fa < 0) == (fm < 0):
                    a, fa = m, fm
                else:
                    b = m
            roots.append((a + b) / 2)
    if vals and vals[-1] == 0:
        roots.append(xs[-1])
    return roots


def _kind(f, x, x0: float) -> str:
    """min / max / saddle from the first non-vanishing derivative of order >= 2 at x0."""
    d = sp.diff(f, x)
    for order in range(2, _MAX_ORDER + 1):
        d = sp.diff(d, x)
        value = _as_float(d.subs(x, sp.Float(x0, 30)))
        if value is None:
            return "saddle"
        if abs(value) > _TOL:
            if order % 2:
                return "saddle"
            return "min" if value > 0 else "max"
    return "saddle"


def stationary_points(f, x, interval=(-10.0, 10.0)) -> dict:
    """{"points": [{"x", "value", "kind"}], "method": "exact"|"numeric", "limits": {...}}."""
    df = sp.diff(f, x)
    roots, method = _roots(df, x, interval)
    points = []
    for r in roots:
        value = _as_float(f.subs(x, sp.Float(r, 30)))
        if value is None or not math.isfinite(value):
            continue
        points.append({"x": r, "value": value, "kind": _kind(f, x, r)})
    limits = {}
    for side, where in (("-oo", -sp.oo), ("+oo", sp.oo)):
        try:
            lim = sp.limit(f, x, where)
        except (NotImplementedError, ValueError, TypeError):
            lim = None
        limits[side] = lim
    mins = [p["value"] for p in points if p["kind"] == "min"]
    maxs = [p["value"] for p in points if p["kind"] == "max"]
    all_values = [p["value"] for p in points]

    def bounded(value, below: bool) -> bool:
        for lim in limits.values():
            if isinstance(lim, sp.AccumBounds):  # oscillates between lim.min and lim.max
                edge = _as_float(lim.min if below else lim.max)
                if edge is None or (below and edge < value - _TOL) or \
                        (not below and edge > value + _TOL):
                    return False
                continue
            if lim is None or lim.has(sp.AccumBounds) or not (lim.is_real or lim.is_infinite):
                return False
            if below and (lim == -sp.oo or (lim.is_finite and float(lim) < value)):
                return False
            if not below and (lim == sp.oo or (lim.is_finite and float(lim) > value)):
                return False
        return True

    for p in points:
        if p["kind"] == "min":
            lowest = p["value"] <= min(all_values) + _TOL * max(1.0, abs(p["value"]))
            glob = lowest and p["value"] <= min(mins) + _TOL and bounded(p["value"], True)
            p["kind"] = "global_min" if glob else "local_min"
        elif p["kind"] == "max":
            highest = p["value"] >= max(all_values) - _TOL * max(1.0, abs(p["value"]))
            glob = highest and p["value"] >= max(maxs) - _TOL and bounded(p["value"], False)
            p["kind"] = "global_max" if glob else "local_max"
    return {"points": points, "method": method,
            "limits": {k: (None if v is None else str(v)) for k, v in limits.items()}}
