"""The descent and minima kinds: gradient descent on one parameter.

descent: the lecture's intuition example, a constant multiplier c fitted to two (x, y) pairs
(dollars to shekels) by gradient descent on the mean squared error
E(c) = (1/n) sum (c x - y)^2, dE/dc = (2/n) sum (c x - y) x.  E is a parabola with curvature
H = (2/n) sum x^2, so a step multiplies the distance to the minimum by (1 - eta H): descent
converges exactly when eta < 2/H, crawls when eta H is small and diverges when eta > 2/H.
The learning rate is drawn to be too small, good or too large; the answers are the first
three iterates, the largest convergent learning rate and whether the run diverges.

minima: f(x) = 3x^4 - 4(p+q+r)x^3 + 6(pq+pr+qr)x^2 - 12pqr x, whose derivative is
12(x-p)(x-q)(x-r): minima at p and r, a maximum at q.  Which minimum is global, and where
gradient descent with a small learning rate from a given start ends (checked by running it).
"""

from __future__ import annotations

import numpy as np

from derive.problemset.common import (Problem, Redraw, check_distinct, check_finite, choose,
                                    distractors, grid, need, shown, answer_keys,
                                    yes_no_choice)

STEPS = 3
REGIMES = {"too small": (0.02, 0.15), "good": (0.3, 1.2), "too large": (2.1, 3.0)}


def iterate(data, c0: float, eta: float, steps: int, places: int | None = None):
    """Gradient descent on c; with places, every value rounded as it is computed (by hand)."""
    x = np.array([p[0] for p in data], dtype=float)
    y = np.array([p[1] for p in data], dtype=float)
    n = len(x)

    def r(v, p):
        return v if places is None else shown(v, p)

    rows, c = [], c0
    for k in range(steps + 1):
        loss = r(float(np.mean((c * x - y) ** 2)), (places or 0) + 1)
        grad = r(float(2.0 / n * np.sum((c * x - y) * x)), (places or 0) + 1)
        rows.append({"step": k, "c": c, "loss": loss, "gradient": grad})
        c = r(c - eta * grad, places or 0)
    return rows


def generate_descent(rng, options, pid: str) -> Problem:
    d = options.decimals
    xs = sorted(int(v) for v in rng.choice([1, 2, 3], size=2, replace=False))
    c_true = float(choose(rng, grid(1.5, 4.0, 0.5)))
    data = [[float(x), float(np.round(c_true * x + choose(rng, grid(-0.3, 0.3, 0.1)), 1))]
            for x in xs]
    H = 2.0 / len(xs) * sum(x * x for x in xs)
    regime = choose(rng, list(REGIMES)) if options.lr is None else None
    if options.lr is not None:
        eta = options.lr
        regime = "too large" if eta * H > 2 else "too small" if eta * H <= 0.15 else "good"
    else:
        lo, hi = REGIMES[regime]
        etas = [e for e in grid(0.01, 1.0, 0.01) if lo <= e * H <= hi]
        need(bool(etas), "no learning rate on the grid")
        eta = float(choose(rng, etas))
    c_star = sum(x * y for x, y in data) / sum(x * x for x, _ in data)
    c0 = float(choose(rng, [c for c in grid(0.0, 5.0, 0.5) if abs(c - c_star) >= 1.0]))
    exact = iterate(data, c0, eta, STEPS)
    hand = iterate(data, c0, eta, STEPS, d)
    answers = {f"c{k}": exact[k]["c"] for k in range(1, STEPS + 1)}
    answers["grad0"] = exact[0]["gradient"]
    answers["eta_max"] = 2.0 / H
    places = {n: d for n in answers}
    places["grad0"] = d + 1
    check_finite(answers)
    need(all(abs(v) < 1e4 for v in answers.values()), "too large to work by hand")
    chains = {f"c{k}": [hand[k]["c"]] for k in range(1, STEPS + 1)}
    chains["grad0"] = [hand[0]["gradient"]]
    check_distinct(answers, places)
    answers["diverges"] = 1.0 if eta * H > 2 else 0.0  # yes (1) or no (0)
    places["diverges"] = 0
    keys = answer_keys(answers, places, chains, yes_no=("diverges",))
    choices = {}
    if options.choices:
        g = exact[0]["gradient"]
        mistakes = {"the sign of the update (c + η·dE/dc)": c0 + eta * g,
                    "the factor 2 of the squared error forgotten": c0 - eta * g / 2,
                    "the sum instead of the mean": c0 - eta * g * len(xs)}
        choices["c1"] = distractors(rng, answers["c1"], d, mistakes, options.choices)
    spec = {"model": "c*x", "data": data, "start": c0, "learning_rate": eta, "steps": STEPS}
    solution = {"rows": exact, "hand": hand, "H": H, "eta_max": 2.0 / H, "eta": eta, "eta_H": eta * H,
                "factor": 1 - eta * H, "c_star": c_star, "regime": regime, "data": data,
                "n": len(xs)}
    ask = (*choices, "diverges") if options.choices else tuple(answers)
    return Problem("descent", pid, spec, answers, places=places, solution=solution,
                   choices=choices, facts={"regime": regime}, **keys, ask=ask,
                   options={"diverges": yes_no_choice(bool(answers["diverges"]))})


def polynomial(p: int, q: int, r: int) -> list[tuple[int, int]]:
    """(coefficient, power) of f with f' = 12 (x - p)(x - q)(x - r), constant term 0."""
    return [(3, 4), (-4 * (p + q + r), 3), (6 * (p * q + p * r + q * r), 2), (-12 * p * q * r, 1)]


def f_value(terms, x: float) -> float:
    return float(sum(c * x ** k for c, k in terms))


def f_slope(terms, x: float) -> float:
    return float(sum(c * k * x ** (k - 1) for c, k in terms))


def descend_to(terms, x0: float, eta: float, steps: int = 20000) -> float:
    """Run gradient descent (the check that the answer's basin is right)."""
    x = x0
    for _ in range(steps):
        step = eta * f_slope(terms, x)
        x -= step
        if abs(step) < 1e-12:
            break
    return x


def generate_minima(rng, options, pid: str) -> Problem:
    p, q, r = sorted(int(v) for v in rng.choice(np.arange(-3, 4), size=3, replace=False))
    need(2 * q != p + r, "symmetric: the two minima would be equally deep")
    terms = polynomial(p, q, r)
    fp, fr = f_value(terms, p), f_value(terms, r)
    need(abs(fp - fr) >= 1, "minima too alike")
    x0 = float(choose(rng, [x for x in grid(p - 1.0, r + 1.0, 0.5)
                            if x not in (p, q, r)]))
    # a learning rate small enough for the steepest slope met between the starts
    curv = max(abs(36 * x * x - 24 * (p + q + r) * x + 12 * (p * q + p * r + q * r))
               for x in np.linspace(p - 1, r + 1, 201))
    eta = float(np.round(0.5 / curv, 4))
    end = descend_to(terms, x0, eta)
    basin = p if x0 < q else r
    if abs(end - basin) > 1e-6:
        raise Redraw("descent left its basin")
    glob, loc = (p, r) if fp < fr else (r, p)
    answers = {"x_global": float(glob), "x_local": float(loc), "x_max": float(q),
               "f_global": min(fp, fr), "f_local": max(fp, fr), "end": float(basin)}
    d = options.decimals
    places = {n: d for n in answers}
    keys = answer_keys(answers, places)
    check_distinct({n: v for n, v in answers.items() if n != "end"}, places)
    check_distinct({n: v for n, v in answers.items() if n.startswith("f")}, places)
    choices = {}
    if options.choices:
        other = r if basin == p else p
        mistakes = {"the other minimum": float(other), "the maximum": float(q),
                    "the start": x0}
        choices["end"] = distractors(rng, float(basin), d, mistakes, options.choices)
    expression = " + ".join(f"{c}*x**{k}" if k > 1 else f"{c}*x" for c, k in terms if c)
    spec = {"function": expression.replace("+ -", "- "), "start": x0,
            "terms": [list(t) for t in terms]}
    rows = []
    for x in (p, q, r):
        curvature = float(sum(c * k * (k - 1) * x ** (k - 2) for c, k in terms if k >= 2))
        kind = ("global_min" if x == glob else "local_min") if x in (p, r) else "local_max"
        rows.append({"x": float(x), "value": f_value(terms, x), "curvature": curvature,
                     "kind": kind})
    solution = {"terms": terms, "roots": [p, q, r], "rows": rows, "start": x0, "end": basin,
                "eta": eta, "numeric_end": end}
    return Problem("minima", pid, spec, answers, places=places, solution=solution,
                   choices=choices, **keys, ask=tuple(choices) if choices else tuple(answers), facts={"stationary_points": rows})
