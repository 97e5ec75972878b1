"""The batch kind: a small dataset, the (mini-)batch mean gradient and one update, and the
slide's question of which kind of gradient descent a training run used.

One unit (inputs 1..n, unit n+1) and four examples; the first batch is the first B examples
(B = 4: batch gradient descent, B = 2: mini-batch).  The lecture: batch and mini-batch
gradient descent use the mean gradient over the examples of the batch.
"""

from __future__ import annotations

import numpy as np

from derive.numeric import functions
from derive.numeric.network import Network, Rounding
from derive.problemset.common import (Options, Problem, check_distinct, check_finite, choose,
                                    distractors, need, places_for, answer_keys)
from derive.problemset.kinds.network import _tie_ok, draw_spec, revive
from derive.spec import from_dict

EXAMPLES = 4
GD_KINDS = {1: "batch", EXAMPLES: "stochastic"}


def gd_kind(updates_per_epoch: int) -> str:
    return GD_KINDS.get(updates_per_epoch, "mini-batch")


def batch_step(spec, batch: int, rnd: Rounding = Rounding(), mistake: str | None = None):
    """Mean gradient over the first `batch` examples and the parameters after one update."""
    net = Network(spec)
    X = np.array([ex.input for ex in spec.examples[:batch]], dtype=float)
    T = np.array([ex.target for ex in spec.examples[:batch]], dtype=float)
    nets, outs = net.forward(X, rnd)
    errs = net.backward(nets, outs, T, rnd)
    (gW, gb), = net.mean_gradients(errs, outs)
    if mistake == "sum":
        gW, gb = gW * batch, gb * batch
    elif mistake == "first":
        gW, gb = -(errs[1][:1].T @ outs[0][:1]), -errs[1][0]
    elif mistake == "loss_factor":
        f = 2.0 if spec.loss == "half_sse" else 0.5
        gW, gb = gW * f, gb * f
    gW, gb = rnd.error(gW), rnd.error(gb)
    W, b = net.params[0]
    sign = -1.0 if mistake == "sign" else 1.0
    newW, newb = rnd.value(W - sign * spec.learning_rate * gW), \
        rnd.value(b - sign * spec.learning_rate * gb)
    k = spec.units(1)[0]
    flat = {}
    for v, j in enumerate(spec.units(0)):
        flat[f"dw{j}_{k}"] = float(gW[0, v])
    flat[f"db{k}"] = float(gb[0])
    for v, j in enumerate(spec.units(0)):
        flat[f"w{j}_{k}"] = float(newW[0, v])
    flat[f"b{k}"] = float(newb[0])
    flat["loss"] = float(rnd.error(np.mean(net.losses(outs, T))))
    rows = [{"example": e + 1, "input": X[e].tolist(), "target": T[e].tolist(),
             "net": float(nets[1][e, 0]), "out": float(outs[1][e, 0]),
             "Err": float(errs[1][e, 0])} for e in range(batch)]
    return flat, rows, nets, errs


def generate_batch(rng, options, pid: str) -> Problem:
    n_in = min(options.network[0], 3)
    sub = Options(network=(n_in, 1), activation=options.activation, loss=options.loss,
                  lr=options.lr, decimals=options.decimals, alpha=options.alpha)
    spec = from_dict(revive(draw_spec(rng, sub, examples=EXAMPLES, min_nonzero=1)),
                     "generated dataset")
    need(len({ex.input for ex in spec.examples}) == EXAMPLES, "repeated example")
    batch = int(choose(rng, [2, EXAMPLES]))
    d = options.decimals
    exact, rows, nets, errs = batch_step(spec, batch)
    hand, _, _, _ = batch_step(spec, batch, Rounding(d))
    check_finite(exact)
    need(bool(np.all(np.abs(nets[1]) <= 3)), "saturated")
    need(bool(np.all(np.abs(errs[1]) >= 0.001)), "vanishing error term")
    places = {n: places_for(n, d) for n in exact}
    check_distinct(exact, places, lambda a, b: _tie_ok(a, b, exact))
    answers = dict(exact)
    updates = int(choose(rng, [1, 2, EXAMPLES]))
    answers["batch_size"] = float(EXAMPLES // updates)  # a whole number: places 0
    places["batch_size"] = 0
    keys = answer_keys(answers, places, {n: [hand[n]] for n in exact})
    choices = {}
    if options.choices:
        name = f"dw1_{spec.units(1)[0]}"
        labels = {"sum": "the sum over the batch instead of the mean",
                  "first": "the first example's gradient only (stochastic)",
                  "loss_factor": "the factor 2 of the loss convention",
                  "sign": "the sign of the gradient"}
        mistakes = {}
        for m, label in labels.items():
            if m != "sign":
                mistakes[label] = batch_step(spec, batch, mistake=m)[0][name]
        mistakes["the sign of the gradient"] = -exact[name]
        choices[name] = distractors(rng, exact[name], places[name], mistakes, options.choices)
    givens = {"batch": batch, "updates_per_epoch": updates, "examples": EXAMPLES}
    layer = spec.layers[0]
    params = dict(functions.activation(layer.activation, layer.params).params)
    solution = {"rows": rows, "batch": batch, "spec": spec.to_dict(), "answers": exact,
                "params": params,
                "unit": spec.units(1)[0], "inputs": list(spec.units(0)),
                "updates": updates, "batch_size": EXAMPLES // updates,
                "gd_kind": gd_kind(updates)}
    return Problem("batch", pid, spec.to_dict(), answers, places=places, givens=givens,
                   solution=solution, choices=choices, **keys,
                   ask=tuple(choices) if choices else tuple(answers),
                   facts={"gd_kind": gd_kind(updates), "batch": list(range(1, batch + 1))})
