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
from functools import lru_cache

import numpy as np

from derive.errors import DeriveError

from derive.numeric import functions
from derive.numeric.ranges import loss_range, output_interval
from derive.problemset.common import (Problem, check_distinct, check_finite, choose, distractors,
                                    grid, need, places_for, shown, answer_keys)
from derive.symbolic import cache
from derive.symbolic.definitions import ACTIVATIONS, LOSSES, activation_def, at_params, loss_def

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
    params = options.params_for(name)
    record = cache.activation(at_params(defn, params))  # the output form only where it holds
    if not defn.elementwise or not record["has_gradient"]:
        raise DeriveError(f"--activation {name}: the activation kind needs an elementwise "
                          f"activation with a gradient; choose one of: "
                          f"{', '.join(usable_activations())}")
    act = functions.activation(name, tuple(sorted(params.items())))
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
    params = [{"name": k, "tex": _symbol_latex(k), "value": v} for k, v in act.params]
    solution = {"activations": [record], "z": z, "f": f, "fprime": fp, "name": name,
                "params": params}
    return Problem("activation", pid, spec, answers, places=places, solution=solution,
                   choices=choices, facts=facts, **keys,
                   ask=tuple(choices) if choices else tuple(answers))


@lru_cache(maxsize=None)
def _symbol_latex(name: str) -> str:
    """A parameter's name in LaTeX (alpha -> \\alpha).  SymPy is imported here, when a
    parameter is stated, not with the module: importing it takes longer than writing a
    thousand problems that need none."""
    import sympy

    return sympy.latex(sympy.Symbol(name))


def _outputs(rng, act: str, K: int, params: dict):
    """Predictions and targets the loss is defined for (DESIGN.md's valid combinations): a
    softmax layer's outputs are probabilities that sum to 1 with a one-hot target; other
    outputs are drawn inside the output activation's range (for its parameters)."""
    if not activation_def(act).elementwise:
        cuts = np.sort(rng.choice(np.arange(5, 96, 5), size=K - 1, replace=False))
        o = np.diff(np.concatenate([[0], cuts, [100]])) / 100.0
        t = np.zeros(K)
        t[int(rng.integers(K))] = 1.0
        return act, o, t
    iv = output_interval(act, params)
    lo = -math.inf if iv["low"] is None else iv["low"]
    hi = math.inf if iv["high"] is None else iv["high"]
    if lo >= 0 and hi <= 1:
        o = rng.choice(grid(0.05, 0.95, 0.01), size=K)
        t = rng.integers(0, 2, size=K).astype(float)
    else:
        low, high = max(lo + 0.1, -1.5), min(hi - 0.1, 1.5)
        o = rng.choice(grid(low, high, 0.01), size=K)
        t = rng.choice(grid(max(lo, -1.0), min(hi, 1.0), 0.1), size=K)
    return act, np.round(o, 2), np.round(t, 2)


def _valid_with(loss: str, activation: str | None) -> bool:
    """DESIGN.md's valid combinations (ce takes its own softmax layer; bce needs outputs in
    (0, 1)): a loss problem never asks for the loss of outputs the loss is not defined for."""
    from derive.spec import check_pairing

    try:
        check_pairing(loss, "softmax" if loss == "ce" else activation or "sigmoid")
    except DeriveError:
        return False
    return True


def loss_choices(rng, name: str, value: float, K: int, places: int, n: int | None) -> dict:
    """--choices for a loss value: distractors from the convention's factor 2, the mean for the
    sum (or the sum for the mean) and the sign."""
    if not n:
        return {}
    half = 2.0 if name == "half_sse" else 0.5
    mistakes = {"the factor 2 of the loss convention": value * half,
                "the mean over the units instead of the sum" if name != "mse" else
                "the sum over the units instead of the mean": value / K if name != "mse"
                else value * K,
                "the sign": -value}
    return {"loss": distractors(rng, value, places, mistakes, n)}


def loss_solution(name: str, value: float, range_: dict, outputs, targets, units,
                  act_name: str | None, params: dict) -> dict:
    """The document the loss solution templates lay out."""
    return {"loss": cache.loss(loss_def(name)), "loss_value": value, "range": range_,
            "loss_terms": [{"unit": k, "target": float(t), "out": float(o)}
                           for k, o, t in zip(units, outputs, targets)],
            "K": len(units), "output_activation": act_name, "output_params": params}


def generate_loss(rng, options, pid: str) -> Problem:
    if options.loss is not None and not _valid_with(options.loss, options.activation):
        from derive.spec import check_pairing

        check_pairing(options.loss, options.activation)  # refused, with the reason
    name = options.loss or choose(rng, [n for n in LOSSES
                                        if _valid_with(n, options.activation)])
    loss_fn = functions.loss(name)
    K = int(rng.integers(2, 4)) if options.network[-1] == 1 else options.network[-1]
    act_name = "softmax" if name == "ce" else options.activation or "sigmoid"
    params = options.params_for(act_name)  # alpha where the output activation takes one
    act_name, o, t = _outputs(rng, act_name, K, params)
    d = options.decimals
    value = float(loss_fn.per_example(o[None, :], t[None, :])[0])
    # the range over the outputs this layer can produce: the same function as `derive loss`
    full = loss_range(name, act_name, tuple(sorted(params.items())), tuple(t))
    rng_ = {k: full[k] for k in ("low", "low_reached", "high", "high_reached")}
    answers = {"loss": value, "loss_min": rng_["low"]}
    if rng_["high"] is not None:
        answers["loss_max"] = rng_["high"]
    check_finite(answers)
    places = {n: places_for("loss", d) for n in answers}
    keys = answer_keys(answers, places)
    check_distinct(answers, places)
    choices = loss_choices(rng, name, value, K, places["loss"], options.choices)
    # sup E is asked of every variant, bounded or not, as a choice that offers "unbounded"
    # (a quiz's question group must hold the same question for every variant)
    sup = {"loss_max": _sup_choice(rng, rng_["high"], K, places["loss"], options.choices or 4)}
    if rng_["high"] is None:
        keys["words"]["loss_max"] = "unbounded"
    ask = ("loss", "loss_max") if options.choices else ("loss", "loss_min", "loss_max")
    spec = {"loss": name, "output_activation": act_name, **params, "outputs": o.tolist(),
            "targets": t.tolist()}
    solution = loss_solution(name, value, rng_, o, t, range(1, K + 1), act_name, params)
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
