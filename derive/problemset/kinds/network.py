"""The network kinds: forward, backward, update and step, on a random network.

Givens are drawn on hand-friendly grids (weights and biases to one decimal, inputs mostly 0
or 1) and are exactly what the statement prints.  Answers come from derive's own chain
(derive.numeric.network.step); for backward and update the statement also prints the values
of the earlier passes, rounded, and the answers are computed from those printed values.
The right values of each answer are those of the exact chain and of the chain rounded by hand
as one goes; for backward and update the key is the exact chain from the printed values (what
the student is given) and its worked solution shows that chain, so the answer line and the
tables read the same digits; rounding by hand from them, or carrying the network's forward pass
unrounded, are right too.  Multiple-choice distractors come from re-running the
chain with one classic mistake switched on (see `chain`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

import numpy as np

from derive.numeric import functions
from derive.numeric.network import Network, Rounding, StepTrace, step
from derive.problemset.common import (Problem, answer_keys, check_distinct, check_finite,
                                    choose, distractors, grid, need, places_for)
from derive.spec import from_dict
from derive.documents.worked import worked_example
from derive.symbolic.definitions import ACTIVATIONS, activation_def

LEARNING_RATES = (0.1, 0.2, 0.25, 0.5, 0.75, 0.8, 0.9, 1.0)
WEIGHTS = np.array([w for w in grid(-1.0, 1.0, 0.1) if w != 0])
FINE_WEIGHTS = np.array([w for w in grid(-1.0, 1.0, 0.05) if w != 0])
# plain floats (the grid's values): filtering and choosing among them is done per unit, and
# a NumPy scalar is slower to take abs() of and to hash than a float
BIASES = tuple(grid(-0.5, 0.5, 0.1).tolist())
FRACTIONS = tuple(grid(0.1, 0.9, 0.1).tolist())
MISTAKES = {
    "loss_factor": "the factor 2 of the loss convention (E = Σ(t−o)² against ½Σ(t−o)²)",
    "output_fprime": "f′(i) left out of the output unit's error term (Err = −∂E/∂o)",
    "sign": "the sign of the update (w − η·Err·o)",
    "updated_weights": "the already-updated weights in the backward pass",
    "derivative_of_net": "f′ taken of the net input (i(1−i) instead of o(1−o))",
    "no_bias": "the bias forgotten in the net input",
    "no_activation": "the output unit's activation not applied (o = i)",
}


def output_range(name: str, params: dict | None = None) -> tuple[float, float]:
    """Where a unit's output lies: the range SymPy found for the activation with these
    parameters (leaky_relu with alpha < 0 gives [0, ∞): both of its sides are positive)."""
    rng = functions.activation(name, tuple(sorted((params or {}).items()))).record["range"]
    return (-math.inf if rng["low"] is None else rng["low"],
            math.inf if rng["high"] is None else rng["high"])


def _output_activation(activation: str, loss: str) -> str:
    # DESIGN.md: ce needs a softmax output layer
    if loss == "ce" and "softmax" in ACTIVATIONS:
        return "softmax"
    return activation


def draw_spec(rng: np.random.Generator, options, examples: int = 1,
              min_nonzero: int = 2) -> dict:
    """A random network spec (TOML keys) on the hand-friendly grids."""
    sizes = options.network
    activation = options.activation or "sigmoid"
    loss = options.loss or "half_sse"
    eta = options.lr if options.lr is not None else float(choose(rng, LEARNING_RATES))
    n_weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    pool = WEIGHTS if n_weights <= len(WEIGHTS) else FINE_WEIGHTS
    flat = (rng.choice(pool, size=n_weights, replace=n_weights > len(pool))).tolist()
    layers = []
    out_act = _output_activation(activation, loss)
    for n, (fan_in, size) in enumerate(zip(sizes, sizes[1:])):
        rows = [[float(flat.pop()) for _ in range(fan_in)] for _ in range(size)]
        # a bias equal to one of its unit's weights would make their updates read alike
        biases = []
        for row in rows:
            taken = {abs(w) for w in row}
            biases.append(float(choose(rng, [b for b in BIASES if abs(b) not in taken])))
        act = out_act if n == len(sizes) - 2 else activation
        layers.append({"activation": act, "weights": rows, "biases": biases,
                       **options.params_for(act)})
    lo, hi = output_range(out_act, options.params_for(out_act))
    exs = []
    for _ in range(examples):
        x = [float(v) if rng.random() < 0.8 else float(choose(rng, FRACTIONS))
             for v in rng.integers(0, 2, size=sizes[0])]
        for j in rng.permutation(len(x))[:min(min_nonzero, len(x))]:
            if x[j] == 0:  # enough inputs that are not 0, or the problem says little
                x[j] = 1.0
        if out_act == "softmax" or loss == "ce":
            t = [0.0] * sizes[-1]
            t[int(rng.integers(sizes[-1]))] = 1.0
        elif lo >= 0 and hi <= 1:
            t = [float(v) for v in rng.integers(0, 2, size=sizes[-1])]
        else:
            low, high = max(lo, -1.0), min(hi, 1.0)
            t = [float(v) for v in rng.choice(grid(low, high, 0.1), size=sizes[-1])]
        exs.append({"input": x, "target": t})
    return {"loss": loss, "learning_rate": eta, "layers": layers, "examples": exs}


def revive(raw: dict) -> dict:
    """Units whose activation is flat at their net input (a dead ReLU) get their incoming
    weights and bias negated, which mirrors the net input; the grid values stay on the grid.
    Draws for ReLU networks would otherwise almost never have every unit alive."""
    x = np.array(raw["examples"][0]["input"], dtype=float)
    last = len(raw["layers"]) - 1
    for n, layer in enumerate(raw["layers"]):
        definition = activation_def(layer["activation"])
        act = functions.activation(layer["activation"], tuple(sorted(
            (k, layer.get(k, v)) for k, v in definition.defaults.items())))
        W, b = np.array(layer["weights"]), np.array(layer["biases"])
        i = W @ x + b
        if definition.elementwise:
            dead = np.abs(np.ravel(act.df(z=i, **dict(act.params)))) < 1e-12
            flipped = dead & (np.abs(i) > 1e-9)
            if flipped.any():  # most draws have no dead unit: nothing to negate
                flip = np.where(flipped, -1.0, 1.0)
                W, b = W * flip[:, None], b * flip
                layer["weights"] = [[v + 0.0 for v in row] for row in W.tolist()]
                i = W @ x + b
            layer["biases"] = [v + 0.0 for v in b.tolist()]
        if n < last:  # the output layer's outputs feed nothing here
            x = act(i)
    return raw


def chain(spec, mistakes=frozenset(), example: int = 0) -> dict:
    """One step of spec written out again with optional classic mistakes switched on;
    flat dict under the answer names (i4, o4, loss, Err4, dw1_4, db4, w1_4, b4), or None
    where a mistake cannot be made in this network."""
    net = Network(spec)
    ex = spec.examples[example]
    T = np.array([ex.target], dtype=float)
    outs = [np.array([ex.input], dtype=float)]
    nets = [None]
    for n, ((W, b), act) in enumerate(zip(net.params, net.acts), start=1):
        i = outs[-1] @ W.T + (0.0 if "no_bias" in mistakes else b)
        nets.append(i)
        outs.append(i if "no_activation" in mistakes and n == len(net.params) else act(i))
    L = len(net.params)
    g = net.loss.gradient(outs[L], T)
    if "loss_factor" in mistakes:
        g = g * (2.0 if spec.loss == "half_sse" else 0.5)

    def fprime(n):
        act = net.acts[n - 1]
        if "derivative_of_net" in mistakes and act.df_from_output is not None:
            return act.derivative(nets[n], nets[n])
        return act.derivative(nets[n], outs[n])

    eta = spec.learning_rate
    sign = -1.0 if "sign" in mistakes else 1.0
    errs = [None] * (L + 1)
    new = [None] * (L + 1)
    if "output_fprime" in mistakes:
        if not net.acts[-1].elementwise:
            return None  # a softmax layer's error term has no single factor f′ to leave out
        errs[L] = -g  # t − o for half_sse: the factor f′(i) forgotten
    else:
        errs[L] = -g * fprime(L)
    for n in range(L, 0, -1):
        if n < L:
            W_next = new[n + 1][0] if "updated_weights" in mistakes else net.params[n][0]
            errs[n] = fprime(n) * (errs[n + 1] @ W_next)
        W, b = net.params[n - 1]
        new[n] = (W + sign * eta * errs[n].T @ outs[n - 1], b + sign * eta * errs[n][0])
    flat = {}
    for n in range(1, L + 1):
        for u, k in enumerate(spec.units(n)):
            flat[f"i{k}"] = float(nets[n][0, u])
            flat[f"o{k}"] = float(outs[n][0, u])
    # a mistaken chain can leave the loss's domain (bce's log of an output pushed past 1):
    # its loss is then NaN, which no distractor offers (common.distractors), and says nothing
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        flat["loss"] = float(net.loss.per_example(outs[L], T)[0])
    for n in range(L, 0, -1):
        for u in reversed(range(spec.sizes[n])):
            flat[f"Err{spec.units(n)[u]}"] = float(errs[n][0, u])
    for n in range(1, L + 1):
        for u, k in enumerate(spec.units(n)):
            for v, j in enumerate(spec.units(n - 1)):
                flat[f"dw{j}_{k}"] = float(-errs[n][0, u] * outs[n - 1][0, v])
                flat[f"w{j}_{k}"] = float(new[n][0][u, v])
            flat[f"db{k}"] = float(-errs[n][0, u])
            flat[f"b{k}"] = float(new[n][1][u])
    return flat


def _flat(trace) -> dict:
    out = {**trace.forward, "loss": trace.loss, **trace.backward}
    out.update({f"d{k}": v for k, v in trace.gradients.items()})
    out.update(trace.update)
    return out


def _from_printed(spec, hand: dict, decimals: int, with_errs: bool) -> dict:
    """The chain computed exactly from the values a backward or update statement prints:
    net inputs and outputs (to `decimals`) and, for update, the error terms (one more)."""
    net = Network(spec)
    ex = spec.examples[0]
    L = len(spec.layers)
    nets = [None] + [np.array([[hand[f"i{k}"] for k in spec.units(n)]]) for n in range(1, L + 1)]
    outs = [np.array([ex.input], dtype=float)] + [
        np.array([[hand[f"o{k}"] for k in spec.units(n)]]) for n in range(1, L + 1)]
    if with_errs:
        errs = [None] + [np.array([[hand[f"Err{k}"] for k in spec.units(n)]])
                         for n in range(1, L + 1)]
    else:
        errs = net.backward(nets, outs, [ex.target], Rounding())
    flat = {f"Err{k}": float(errs[n][0, u]) for n in range(L, 0, -1)
            for u, k in reversed(list(enumerate(spec.units(n))))}
    eta = spec.learning_rate
    for n, (W, b) in enumerate(net.params, start=1):
        for u, k in enumerate(spec.units(n)):
            for v, j in enumerate(spec.units(n - 1)):
                flat[f"dw{j}_{k}"] = float(-errs[n][0, u] * outs[n - 1][0, v])
                flat[f"w{j}_{k}"] = float(W[u, v] + eta * errs[n][0, u] * outs[n - 1][0, v])
            flat[f"db{k}"] = float(-errs[n][0, u])
            flat[f"b{k}"] = float(b[u] + eta * errs[n][0, u])
    return flat


def _tie_ok(a: str, b: str, values: dict) -> bool:
    """Ties the network forces: a weight's gradient equals its unit's bias gradient when the
    input is 1, is 0 when the input is 0, a weight from an input 0 keeps its value, and a
    ReLU (or linear) unit's output is its net input."""
    if {a[0], b[0]} == {"i", "o"} and a[1:] == b[1:] and values[a] == values[b]:
        return True
    if values[a] == values[b] == 0.0:
        return True  # exact zeros are forced (a dead unit, an input 0), never a coincidence
    if values[a] == values[b] and a.startswith("d") and b.startswith("d"):
        if values[a] == 0.0:
            return True
        return a.split("_")[-1].lstrip("db") == b.split("_")[-1].lstrip("db")
    return False


def _check_network(spec, exact: dict, decimals: int, dead_units: bool = False) -> None:
    """No saturated units, no vanishing error terms and no dead units; with dead_units (the
    problem is about them) exactly the dead hidden units are let through, and there must be
    at least one."""
    dead = 0
    for n in range(1, len(spec.layers) + 1):
        act = functions.activation(spec.layers[n - 1].activation, spec.layers[n - 1].params)
        units = spec.units(n)
        fps = np.ravel(act.derivative(np.array([exact[f"i{k}"] for k in units]),
                                      np.array([exact[f"o{k}"] for k in units])))
        for u, k in enumerate(units):
            need(abs(exact[f"i{k}"]) <= 3, "saturated")
            flat = abs(float(fps[u] if fps.size == len(units) else fps[0])) <= 1e-12
            if dead_units and flat and n < len(spec.layers):
                dead += 1
                continue  # its error term is 0: that is the point of the problem
            need(not flat, "dead unit")
            need(abs(exact[f"Err{k}"]) >= 0.001, "vanishing error term")
    if dead_units:
        need(dead > 0, "no dead unit")


ASKED = {
    "forward": ("i", "o"),
    "backward": ("Err", "dw", "db"),
    "update": ("w", "b"),
    "step": ("i", "o", "loss", "Err", "w", "b"),
}


def _asked(kind: str, spec, names) -> list[str]:
    return list(_asked_names(kind, tuple(names)))


@lru_cache(maxsize=256)  # the same few networks' names, problem after problem
def _asked_names(kind: str, names: tuple) -> tuple:
    prefixes = ASKED[kind]
    return tuple(name for name in names
                 if "".join(c for c in name if not c.isdigit() and c != "_") in prefixes)


def _headline(kind: str, spec) -> str:
    L = len(spec.layers)
    if kind == "forward":
        return f"o{spec.units(L)[0]}"
    if kind == "backward":
        return f"Err{spec.units(L - 1)[0]}" if L > 1 else f"Err{spec.units(L)[0]}"
    if kind == "update" and L > 1:
        return f"w{spec.units(L - 1)[0]}_{spec.units(L)[0]}"
    return f"w{spec.units(0)[0]}_{spec.units(1)[0]}"


def generate(kind: str, rng: np.random.Generator, options, pid: str) -> Problem:
    raw = draw_spec(rng, options)
    if not options.dead_units:
        raw = revive(raw)
    spec = from_dict(raw, "generated network")
    d = options.decimals
    exact_t = step(spec, 0, "exact", d)
    exact = _flat(exact_t)
    check_finite(exact)
    _check_network(spec, exact, d, options.dead_units)
    names = _asked(kind, spec, exact)
    places = {n: places_for(n, d) for n in names}
    if kind not in ("backward", "update"):  # answers from the givens alone: check them early
        check_distinct({n: exact[n] for n in names}, places, lambda a, b: _tie_ok(a, b, exact))
    hand_t = step(spec, 0, "hand", d)
    hand = _flat(hand_t)
    shown_t = exact_t
    if kind in ("backward", "update"):
        # the student starts from the printed (hand-rounded) earlier values: the exact chain
        # is the one computed exactly from them, and the worked solution shows that chain
        printed = _from_printed(spec, hand, d, with_errs=(kind == "update"))
        answers_all = {**exact, **printed}
        shown_t = _printed_trace(hand_t, printed, d)
    else:
        answers_all = exact
    answers = {n: answers_all[n] for n in names}
    # right routes besides the key's: rounding by hand as one goes and, for backward and
    # update, the network's own exact chain (the forward pass carried unrounded)
    others = [hand, exact] if kind in ("backward", "update") else [hand]
    keys = answer_keys(answers, places, {n: [c[n] for c in others] for n in names})
    if kind in ("backward", "update"):  # the others' answers were checked above, as they are
        check_distinct(answers, places, lambda a, b: _tie_ok(a, b, answers))
    givens = {}
    if kind == "backward":
        givens = {n: hand[n] for n in hand if n[0] in "io"}
    elif kind == "update":
        givens = {n: hand[n] for n in hand if n[0] == "o" or n.startswith("Err")}
    choices = multiple_choice(kind, spec, answers, givens, places, rng, options)
    doc = worked_example(spec, 0, "exact", d, traces=(shown_t, hand_t))
    # the rounding note speaks only of what this problem asks for
    doc = replace(doc, differences=tuple(x for x in doc.differences
                                         if x["name"].removeprefix("new ") in answers))
    return Problem(kind=kind, id=pid, spec=spec.to_dict(), answers=answers, places=places,
                   givens=givens, solution=doc, choices=choices, **keys,
                   ask=tuple(choices) if choices else tuple(answers))


def _printed_trace(hand_t: StepTrace, printed: dict, decimals: int) -> StepTrace:
    """The step as computed exactly from the printed values: the hand chain's forward pass
    (what is printed), then error terms, gradients and updates from `printed`."""
    backward = {n: printed[n] for n in hand_t.backward}
    gradients = {n: printed.get(f"d{n}", hand_t.gradients[n]) for n in hand_t.gradients}
    update = {n: printed.get(n, hand_t.update[n]) for n in hand_t.update}
    return StepTrace(hand_t.loss, dict(hand_t.forward), backward, gradients, update, "exact",
                     decimals)


def multiple_choice(kind: str, spec, answers: dict, givens: dict, places: dict, rng,
                    options) -> dict:
    """--choices: the headline answer's options, its distractors from the classic mistakes."""
    if not options.choices:
        return {}
    name = _headline(kind, spec)
    mistakes = {}
    for m, label in MISTAKES.items():
        if kind == "update" and m not in ("sign",) and any(n.startswith("Err") for n in givens):
            continue  # the error terms are given: only the update itself can go wrong
        wrong = chain(spec, frozenset([m]))
        mistakes[label] = None if wrong is None else wrong[name]
    if kind == "update":
        j = int(name[1:].split("_")[0])
        mistakes["η forgotten"] = answers[name] + (answers[name] - spec_param(spec, name)) \
            * (1 / spec.learning_rate - 1)
        if f"Err{j}" in givens:
            mistakes["the error term of the wrong unit"] = spec_param(spec, name) + \
                spec.learning_rate * givens[f"Err{j}"] * givens.get(f"o{j}", 1.0)
    return {name: distractors(rng, answers[name], places[name], mistakes, options.choices)}


def spec_param(spec, name: str) -> float:
    """The value before the update of w{j}_{k} or b{k}."""
    if name.startswith("b"):
        k = int(name[1:])
        for n in range(1, len(spec.layers) + 1):
            if k in spec.units(n):
                return spec.layers[n - 1].biases[list(spec.units(n)).index(k)]
    j, k = (int(x) for x in name[1:].split("_"))
    for n in range(1, len(spec.layers) + 1):
        if k in spec.units(n):
            return spec.layers[n - 1].weights[list(spec.units(n)).index(k)][
                list(spec.units(n - 1)).index(j)]
    raise KeyError(name)

