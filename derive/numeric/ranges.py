"""The range of a loss over the outputs an output layer can produce.

One function for every document that states it (`derive loss`, the loss problems and their
answer keys): E can only take the values its outputs allow, so the range of half_sse with a
sigmoid output is (0, 1/2), not [0, ∞).  The outputs come from the output activation's range
(computed by SymPy for its parameters, with each end open or closed), the candidates for E's
extremes from the loss's derivation record: the critical points of E in o (SymPy solved dE/do = 0
in the target t) and E at the ends of the range (its limits at ±∞ from SymPy, its value at a
finite end, where 0·log 0 counts as 0, the limit of t·log o at a constant t = 0).

A softmax layer's outputs are coupled (positive, summing to 1): there E is minimised over the
open simplex by the Karush-Kuhn-Tucker conditions and its supremum approached at a corner.
Both rest on E being convex in the outputs, which every registered loss is (tests check it).
"""

from __future__ import annotations

import math

import numpy as np

from derive.numeric import functions
from derive.numeric.evaluate import OPERATIONS
from derive.symbolic.definitions import activation_def

_EQUAL = 1e-12  # two candidate values this close are the same extreme


def _value(tree, env: dict) -> float:
    """A loss tree at one point, with 0·(±∞) = 0 (the limit of t·log o as o → 0 for t = 0)."""
    head = tree[0]
    if head == "num":
        return float(tree[1])
    if head == "sym":
        return float(env[tree[1]])
    args = [_value(child, env) for child in tree[1:]]
    if head == "mul" and any(a == 0 for a in args):
        return 0.0
    with np.errstate(all="ignore"):
        return float(OPERATIONS[head](args))


def output_interval(activation: str, params=()) -> dict:
    """The outputs one unit can produce: {"low", "high", "low_closed", "high_closed"}, an
    infinite end as None (sigmoid (0, 1), relu [0, ∞), leaky_relu with alpha < 0 [0, ∞))."""
    rng = functions.activation(activation, tuple(sorted(dict(params).items()))).record["range"]
    return {"values": None,  # an interval, not a finite set (the shape of an activation's range)
            "low": None if rng["low"] is None else rng["low"] + 0.0,  # -0.0 reads as 0
            "high": None if rng["high"] is None else rng["high"] + 0.0,
            "low_closed": rng["low_closed"], "high_closed": rng["high_closed"]}


def _unit(record: dict, interval: dict, t: float, K: int) -> list[tuple]:
    """Candidates (E, o, attained) for one unit's term: the ends of its outputs' interval and
    the critical points of E inside it."""
    env = {"t": t, "K": float(K)}
    out = []
    for side, infinite in (("low", "-inf"), ("high", "inf")):
        end = interval[side]
        if end is None:
            limit = record["limits"].get(infinite)
            value = (math.inf if limit == "inf" else -math.inf if limit == "-inf"
                     else math.nan if limit is None else _value(limit, env))
            out.append((value, infinite, False))
        else:
            out.append((_value(record["numeric"]["E"], {**env, "o": end}), end,
                        bool(interval[f"{side}_closed"])))
    lo = -math.inf if interval["low"] is None else interval["low"]
    hi = math.inf if interval["high"] is None else interval["high"]
    for tree in record["critical"]:
        o = _value(tree, env)
        if lo < o < hi:
            out.append((_value(record["numeric"]["E"], {**env, "o": o}), o, True))
    return out


def _extreme(candidates: list[tuple], pick) -> tuple:
    """(value, where, reached) of the least (pick=min) or greatest (max) candidate."""
    finite = [c for c in candidates if not math.isnan(c[0])]
    best = pick(c[0] for c in finite)
    tied = [c for c in finite if c[0] == best or (
        math.isfinite(best) and abs(c[0] - best) <= _EQUAL * max(1.0, abs(best)))]
    reached = [c for c in tied if c[2]]
    return best, (reached or tied)[0][1], bool(reached)


def _elementwise(record: dict, interval: dict, targets) -> dict:
    K = len(targets)
    low, high = 0.0, 0.0
    low_at, high_at, low_reached, high_reached = [], [], True, True
    for t in targets:
        candidates = _unit(record, interval, float(t), K)
        value, at, reached = _extreme(candidates, min)
        low, low_at, low_reached = low + value, low_at + [at], low_reached and reached
        value, at, reached = _extreme(candidates, max)
        high, high_at, high_reached = high + value, high_at + [at], high_reached and reached
    return {"low": low, "low_reached": low_reached, "low_at": low_at,
            "high": high, "high_reached": high_reached, "high_at": high_at}


def _simplex(record: dict, targets) -> dict:
    """E over a softmax layer: o_k > 0, Σ o_k = 1.  The least E where each ∂E/∂o_k equals one
    multiplier λ (or o_k = 0 where ∂E/∂o_k ≥ λ there), found by bisection on λ; the greatest
    E, for a convex E, at a corner o = e_j of the simplex (approached, never reached)."""
    t = np.asarray(targets, dtype=float)
    K = len(t)
    E, dE = record["numeric"]["E"], record["numeric"]["dE_do"]

    def slope(o, k):
        return _value(dE, {"o": o, "t": float(t[k]), "K": float(K)})

    def o_at(lam, k):
        """argmin over o in [0, 1] of e_k(o) − λ o: where e_k′(o) = λ (e_k′ increases)."""
        lo, hi = 0.0, 1.0
        if not slope(1e-300, k) < lam:
            return 0.0
        if not slope(1 - 1e-16, k) > lam:
            return 1.0
        for _ in range(200):
            mid = (lo + hi) / 2
            if mid in (lo, hi):
                break
            if slope(mid, k) < lam:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    ends = [slope(o, k) for k in range(K) for o in (1e-15, 1 - 1e-15)]
    lam_lo, lam_hi = min(ends) - 1.0, max(ends) + 1.0
    for _ in range(400):  # Σ o_k(λ) grows with λ: find where it is 1
        mid = (lam_lo + lam_hi) / 2
        if mid in (lam_lo, lam_hi):
            break
        if sum(o_at(mid, k) for k in range(K)) < 1:
            lam_lo = mid
        else:
            lam_hi = mid
    o = np.array([o_at((lam_lo + lam_hi) / 2, k) for k in range(K)])
    o = o / o.sum()

    def total(outputs):
        return sum(_value(E, {"o": float(outputs[k]), "t": float(t[k]), "K": float(K)})
                   for k in range(K))

    low = total(o)
    # a least E at o = t exactly (the targets are probabilities): no rounding noise in it
    if np.all(t >= 0) and abs(t.sum() - 1) < 1e-12 and np.allclose(o, t, atol=1e-9):
        o, low = t.copy(), total(t)
    corners = [total(np.eye(K)[j]) for j in range(K)]
    j = int(np.argmax(corners))
    high = corners[j]
    return {"low": low, "low_reached": bool(np.all(o > 1e-9)), "low_at": [float(v) for v in o],
            "high": high, "high_reached": False,
            "high_at": [float(v) for v in np.eye(K)[j]]}


def loss_range(loss: str, activation: str, params=(), targets=(1.0,)) -> dict:
    """Infimum and supremum of E (summed over the units, as the loss is) for these targets
    over the outputs the output activation can produce, each marked reached or not, with the
    outputs where each is reached or approached ("-inf"/"inf" for an end at infinity).
    A supremum that is infinite is None: E grows without bound."""
    record = functions.loss(loss).record
    coupled = not activation_def(activation).elementwise and len(targets) > 1
    interval = output_interval(activation, params)
    out = _simplex(record, targets) if coupled else _elementwise(record, interval, targets)
    for side in ("low", "high"):
        value = out[side]
        if math.isinf(value):
            out[side], out[f"{side}_reached"] = None, False
        else:
            out[side] = float(f"{value:.15g}") + 0.0  # no binary noise: 0.5, not 0.49999…
    return {"loss": loss, "activation": activation, "targets": [float(t) for t in targets],
            "outputs": interval, "coupled": coupled, **out}
