"""The activation and loss kinds: one function, its derivative or its value and range.

activation: derive f' (the derivation record SymPy made, from the cache) and evaluate f and f'
at a given net input; the answer for f' accepts the student's route through the rounded
output (o(1 - o) with o rounded), the lecture's way.
loss: the loss of given predictions against given targets, and the range the loss can take
for those targets over the outputs the output activation can produce (read off numerically,
with whether each end is reached), so any registered loss and activation work.
"""

from __future__ import annotations

import math

import numpy as np
import sympy

from derive.errors import DeriveError

from derive.numeric import functions
from derive.problemset.common import (Problem, check_distinct, check_finite, choose, distractors,
                                    grid, need, places_for, shown, answer_keys)
from derive.symbolic import cache
from derive.symbolic.definitions import ACTIVATIONS, LOSSES, activation_def, loss_def

Z = grid(-3.0, 3.0, 0.05)


def usable_activations() -> list[str]:
    """Elementwise activations with a gradient that depends on z (step has none, softmax is
    per layer, linear's is the constant 1: nothing to derive)."""
    out = []
    for name, defn in ACTIVATIONS.items():
        record = cache.activation(defn)
        if defn.elementwise and record["has_gradient"] and "z" in record["derivative"][
                "expression"]:
            out.append(name)
    return out


def _value(act, z: float) -> float:
    return float(np.ravel(act(np.array([z])))[0])


def _fprime(act, z: float, a: float) -> float:
    return float(np.ravel(act.derivative(np.array([z]), np.array([a])))[0])


def generate_activation(rng, options, pid: str) -> Problem:
    name = options.activation or choose(rng, usable_activations())
    defn = activation_def(name)
    record = cache.activation(defn)
    if not defn.elementwise or not record["has_gradient"]:
        raise DeriveError(f"--activation {name}: the activation kind needs an elementwise "
                          f"activation with a gradient; choose one of: "
                          f"{', '.join(usable_activations())}")
    act = functions.activation(name)
    z = float(choose(rng, [v for v in Z if v != 0]))
    d = options.decimals
    f = _value(act, z)
    fp = float(np.ravel(act.df(z=np.array([z]), **dict(act.params)))[0])
    check_finite({"f": f, "fprime": fp})
    places = {"f": places_for("f", d), "fprime": places_for("fprime", d)}
    need(abs(fp) >= 0.001, "flat")
    # the student's route: f' from the output rounded to the places shown
    routes = [fp, _fprime(act, z, shown(f, places["f"]))]
    answers = {"f": f, "fprime": fp}
    keys = answer_keys(answers, places, {"fprime": routes[1:]})
    check_distinct(answers, places)
    choices = {}
    if options.choices:
        mistakes = {"f itself instead of f′": f}
        if act.df_from_output is not None:
            mistakes["f′ taken of the net input (the output form at z)"] = _fprime(act, z, z)
        mistakes["the sign"] = -fp
        choices["fprime"] = distractors(rng, fp, places["fprime"], mistakes, options.choices)
    spec = {"activation": name, "z": z, **dict(act.params)}
    facts = {"function": record["function"]["expression"],
             "derivative": record["derivative"]["expression"],
             "derivative_from_output": (record["derivative_from_output"] or {}).get("expression")}
    # the parameters f depends on (alpha of leaky_relu and elu): the statement prints them
    params = [{"name": k, "tex": sympy.latex(sympy.Symbol(k)), "value": v}
              for k, v in act.params]
    solution = {"activations": [record], "z": z, "f": f, "fprime": fp, "name": name,
                "params": params}
    return Problem("activation", pid, spec, answers, places=places, solution=solution,
                   choices=choices, facts=facts, **keys,
                   ask=tuple(choices) if choices else tuple(answers))


def _outputs(rng, name: str | None, loss: str, K: int):
    """Predictions and targets the loss is defined for (DESIGN.md's valid combinations)."""
    if loss == "ce":
        cuts = np.sort(rng.choice(np.arange(5, 96, 5), size=K - 1, replace=False))
        o = np.diff(np.concatenate([[0], cuts, [100]])) / 100.0
        t = np.zeros(K)
        t[int(rng.integers(K))] = 1.0
        return None, o, t  # a softmax layer's outputs: any probabilities that sum to 1
    act = name or "sigmoid"
    lo, hi = _range(functions.activation(act))
    if lo >= 0 and hi <= 1:
        o = rng.choice(grid(0.05, 0.95, 0.01), size=K)
        t = rng.integers(0, 2, size=K).astype(float)
    else:
        low, high = max(lo + 0.1, -1.5), min(hi - 0.1, 1.5)
        o = rng.choice(grid(low, high, 0.01), size=K)
        t = rng.choice(grid(max(lo, -1.0), min(hi, 1.0), 0.1), size=K)
    return act, np.round(o, 2), np.round(t, 2)


def _range(act) -> tuple[float, float]:
    lo, hi = (_value(act, z) for z in (-40.0, 40.0))
    return (lo if abs(lo) < 1e6 else -math.inf), (hi if abs(hi) < 1e6 else math.inf)


def loss_range(loss_fn, act_name: str | None, t: np.ndarray, params=()) -> dict:
    """Infimum and supremum of the loss over the outputs the activation can give, for
    targets t; each end marked reached or not (a sigmoid never reaches 0 or 1)."""
    def outputs(reach: float) -> np.ndarray:
        if act_name is None or not activation_def(act_name).elementwise:
            # probabilities strictly inside (0, 1), as close to the ends as `reach` says
            return np.concatenate([[10.0 ** -reach], np.linspace(0.0, 1.0, 20001)[1:-1],
                                   [1 - 10.0 ** -reach]])
        return functions.activation(act_name, params)(np.linspace(-reach, reach, 20001))

    def extremes(o, target, K):
        with np.errstate(all="ignore"):
            E = loss_fn.E(o=o, t=np.full_like(o, target), K=float(K))
        return np.where(np.isfinite(E), E, np.inf)

    K = len(t)
    low = high = 0.0
    low_reached = high_reached = True
    unbounded = False
    o, o_far = outputs(20.0), outputs(40.0)
    for k in range(K):
        E = extremes(o, t[k], K)
        i_min, i_max = int(np.argmin(E)), int(np.argmax(E))
        low += float(E[i_min])
        high += float(E[i_max])
        # reaching further out raises the supremum: the loss is unbounded
        far = float(np.max(extremes(o_far, t[k], K)))
        unbounded |= not math.isfinite(far) or far - float(E[i_max]) > 1e-6 * max(1.0, far)
        low_reached &= 0 < i_min < len(o) - 1 and o[i_min] != o[0] and o[i_min] != o[-1]
        high_reached &= 0 < i_max < len(o) - 1 and o[i_max] != o[0] and o[i_max] != o[-1]
    low = round(low, 6) + 0.0
    finite = not unbounded and math.isfinite(high)
    return {"low": low, "low_reached": bool(low_reached),
            "high": round(high, 6) if finite else None,
            "high_reached": bool(high_reached) if finite else False}


def generate_loss(rng, options, pid: str) -> Problem:
    name = options.loss or choose(rng, list(LOSSES))
    loss_fn = functions.loss(name)
    K = int(rng.integers(2, 4)) if options.network[-1] == 1 else options.network[-1]
    act_name, o, t = _outputs(rng, options.activation, name, K)
    d = options.decimals
    value = float(loss_fn.per_example(o[None, :], t[None, :])[0])
    rng_ = loss_range(loss_fn, act_name, t)
    answers = {"loss": value, "loss_min": rng_["low"]}
    if rng_["high"] is not None:
        answers["loss_max"] = rng_["high"]
    check_finite(answers)
    places = {n: places_for("loss", d) for n in answers}
    keys = answer_keys(answers, places)
    check_distinct(answers, places)
    choices = {}
    if options.choices:
        half = 2.0 if name == "half_sse" else 0.5
        mistakes = {"the factor 2 of the loss convention": value * half,
                    "the mean over the units instead of the sum" if name != "mse" else
                    "the sum over the units instead of the mean": value / K if name != "mse"
                    else value * K,
                    "the sign": -value}
        choices["loss"] = distractors(rng, value, places["loss"], mistakes, options.choices)
    # sup E is asked of every variant, bounded or not, as a choice that offers "unbounded"
    # (a quiz's question group must hold the same question for every variant)
    sup = {"loss_max": _sup_choice(rng, rng_["high"], K, places["loss"], options.choices or 4)}
    if rng_["high"] is None:
        keys["words"]["loss_max"] = "unbounded"
    ask = ("loss", "loss_max") if options.choices else ("loss", "loss_min", "loss_max")
    spec = {"loss": name, "output_activation": act_name, "outputs": o.tolist(),
            "targets": t.tolist()}
    record = cache.loss(loss_def(name))
    solution = {"loss": record, "loss_value": value, "range": rng_,
                "loss_terms": [{"unit": k + 1, "target": float(t[k]), "out": float(o[k])}
                               for k in range(K)], "K": K, "output_activation": act_name,
                "output_params": dict(functions.activation(act_name).params) if act_name else {}}
    return Problem("loss", pid, spec, answers, places=places, solution=solution,
                   choices=choices, facts={"range": rng_}, **keys, ask=ask, options=sup)


UNBOUNDED = "unbounded"


def _sup_choice(rng, high: float | None, K: int, places: int, n: int) -> list[dict]:
    """The options for sup E: the supremum (or "unbounded") among n; "unbounded" last."""
    n = max(2, n)
    word = {"value": None, "word": UNBOUNDED, "correct": high is None,
            "mistake": None if high is None else
            "the loss is bounded here: the output activation keeps every output in a range "
            "where each term of the loss stays finite"}
    if high is None:
        wrong, taken = [], set()
        for v in (K / 2, float(K), 1.0, 2.0 * K, 4.0 * K):
            if len(wrong) == n - 1:
                break
            if shown(v, places) not in taken:
                taken.add(shown(v, places))
                wrong.append({"value": float(v), "correct": False,
                              "mistake": "E grows without limit as an output approaches the "
                                         "end where its term of the loss is infinite"})
        return wrong + [word]
    mistakes = {"the other convention of the squared error (a factor 2)": high * 2,
                "half the other convention's value": high / 2,
                "the bound of one unit times K": high * K}
    return distractors(rng, high, places, mistakes, n - 1) + [word]
