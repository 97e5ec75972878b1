"""The range of a loss takes the output activation into account (issue 12, point 2).

One function (derive.numeric.ranges.loss_range) gives it to `derive loss` and to the loss
problems.  The expected ranges are written out by hand from each activation's outputs (sigmoid
(0, 1), tanh (-1, 1), relu [0, ∞), ...), then checked again by brute force: E evaluated on a
dense grid of net inputs (or of softmax logits), which must stay inside the range and come as
close to its ends as the grid allows.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from derive import api
from derive.cli import main
from derive.numeric.ranges import loss_range
from derive.symbolic.definitions import LOSSES

INF = None
# (loss, activation, target): (low, low reached, high, high reached) for one output unit,
# written out: E = ½(t − o)², (t − o)², (t − o)²/K with K = 1, −[t log o + (1 − t) log(1 − o)]
# over the outputs o the activation gives
EXPECTED = {
    ("half_sse", "sigmoid", 1): (0, False, 0.5, False),   # o in (0, 1): o → 1, o → 0
    ("half_sse", "sigmoid", 0): (0, False, 0.5, False),
    ("sse", "sigmoid", 1): (0, False, 1, False),
    ("mse", "sigmoid", 0): (0, False, 1, False),
    ("half_sse", "tanh", 1): (0, False, 2, False),        # o in (−1, 1): (1 − (−1))²/2
    ("half_sse", "tanh", 0): (0, True, 0.5, False),       # o = 0 is reached
    ("sse", "tanh", 1): (0, False, 4, False),
    ("sse", "tanh", 0): (0, True, 1, False),
    ("half_sse", "relu", 1): (0, True, INF, False),       # o in [0, ∞)
    ("half_sse", "relu", 0): (0, True, INF, False),       # o = 0 for every z ≤ 0
    ("sse", "linear", 1): (0, True, INF, False),
    ("sse", "softplus", 0): (0, False, INF, False),       # softplus > 0 everywhere
    ("sse", "softplus", 1): (0, True, INF, False),
    ("sse", "elu", 1): (0, True, INF, False),
    ("sse", "swish", 0): (0, True, INF, False),           # swish(0) = 0
    ("sse", "softmax", 1): (0, False, 1, False),          # one unit of a softmax layer
    ("bce", "sigmoid", 1): (0, False, INF, False),
    ("bce", "sigmoid", 0): (0, False, INF, False),
    ("bce", "softmax", 1): (0, False, INF, False),
    ("ce", "softmax", 1): (0, False, INF, False),
}

FUNCTIONS = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0), "linear": lambda z: z,
    "softplus": lambda z: np.logaddexp(0.0, z), "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
    "swish": lambda z: z / (1 + np.exp(-z)), "softmax": lambda z: 1 / (1 + np.exp(-z)),
}
LOSS = {
    "half_sse": lambda o, t: (t - o) ** 2 / 2, "sse": lambda o, t: (t - o) ** 2,
    "mse": lambda o, t: (t - o) ** 2,  # K = 1
    "bce": lambda o, t: -(t * np.log(o) + (1 - t) * np.log1p(-o)),
    "ce": lambda o, t: -t * np.log(o),
}


@pytest.mark.parametrize("key", list(EXPECTED), ids=["-".join(map(str, k)) for k in EXPECTED])
def test_one_unit(key):
    loss, act, t = key
    low, low_reached, high, high_reached = EXPECTED[key]
    r = loss_range(loss, act, targets=(float(t),))
    assert r["low"] == pytest.approx(low, abs=1e-12) and r["low_reached"] is low_reached
    if high is INF:
        assert r["high"] is None and r["high_reached"] is False
    else:
        assert r["high"] == pytest.approx(high, abs=1e-12)
        assert r["high_reached"] is high_reached
    # brute force: E over a dense grid of net inputs stays inside and nears both ends
    z = np.linspace(-12, 12, 240001)
    with np.errstate(all="ignore"):
        E = LOSS[loss](FUNCTIONS[act](z), float(t))
    E = E[np.isfinite(E)]
    assert E.min() >= low - 1e-12 and E.min() <= low + 1e-4
    if high is not INF:
        assert E.max() <= high + 1e-12 and E.max() >= high - 1e-4
    else:
        assert E.max() > 10  # and it keeps growing as the grid widens: no upper bound


@pytest.mark.parametrize("loss, targets, low, low_reached, high", [
    ("sse", (1, 0, 0), 0.0, False, 2.0),          # a corner o = e_j, j ≠ 1: 1 + 1
    ("half_sse", (0, 1, 0), 0.0, False, 1.0),
    ("mse", (0, 0, 1), 0.0, False, 2 / 3),        # (1 + 1)/K
    ("ce", (0, 1, 0), 0.0, False, INF),
    ("bce", (1, 0), 0.0, False, INF),
    ("sse", (1, 1), 0.5, True, 1.0),              # (1 − p)² + p², least at p = ½
    ("ce", (0.5, 0.5), math.log(2), True, INF),   # the entropy, at o = t
])
def test_softmax_layer_is_coupled(loss, targets, low, low_reached, high):
    r = loss_range(loss, "softmax", targets=targets)
    assert r["coupled"]
    assert r["low"] == pytest.approx(low, abs=1e-9) and r["low_reached"] is low_reached
    assert (r["high"] is None) if high is INF else r["high"] == pytest.approx(high, abs=1e-12)
    assert r["high_reached"] is False
    # brute force over random logits: E stays inside the range
    rng = np.random.default_rng(0)
    z = rng.normal(scale=6, size=(200000, len(targets)))
    o = np.exp(z - z.max(axis=1, keepdims=True))
    o /= o.sum(axis=1, keepdims=True)
    t = np.asarray(targets, dtype=float)
    with np.errstate(all="ignore"):
        per = {"half_sse": (t - o) ** 2 / 2, "sse": (t - o) ** 2,
               "mse": (t - o) ** 2 / len(t),
               "bce": -(np.where(t > 0, t * np.log(o), 0) + np.where(t < 1, (1 - t) *
                                                                     np.log1p(-o), 0)),
               "ce": -np.where(t > 0, t * np.log(o), 0)}[loss]
    E = per.sum(axis=1)
    E = E[np.isfinite(E)]
    assert E.min() >= low - 1e-9 and E.min() <= low + 1e-2
    if high is not INF:
        assert E.max() <= high + 1e-12


def test_the_issue_case_in_every_format():
    """derive loss half_sse --output-activation sigmoid: E in (0, ½), neither end reached."""
    data = json.loads(CliRunner().invoke(main, ["loss", "half_sse", "--output-activation",
                                                "sigmoid", "--format", "json"]).output)
    for row in data["range"]["by_target"]:
        assert row["minimum"] == 0 and row["minimum_attained"] is False
        assert row["maximum"] == 0.5 and row["maximum_attained"] is False
    doc = api.loss("half_sse", "sigmoid")
    assert "E < 0.5" in doc.render("text") and "grows without bound" not in doc.render("text")
    assert "$E < 0.5$" in doc.render("markdown") and "$E < 0.5$" in doc.render("latex")
    assert "E &lt; 0.5" in doc.render("html")
    tanh = api.loss("sse", "tanh").render("text")
    assert "E < 4" in tanh and "least value 0, at o = 0" in tanh
    relu = api.loss("sse", "relu").render("text")
    assert "output o lies in [0, ∞)" in relu and "least value 0, at o = 0" in relu


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "linear", "softmax", "elu",
                                 "leaky_relu", "softplus", "swish", "gelu"])
def test_derive_loss_and_problems_share_one_function(loss, act):
    """Every loss × output activation: the document's rows are loss_range's, and a loss
    problem drawn for the pair has loss_range's values in its key."""
    try:
        doc = api.loss(loss, act).to_dict()
    except Exception as exc:  # an invalid pairing (ce without softmax, bce outside (0, 1))
        assert "loss '" in str(exc)
        return
    for row in doc["range"]["by_target"]:
        r = loss_range(loss, act, targets=(row["target"],))
        assert (row["minimum"], row["minimum_attained"], row["maximum"],
                row["maximum_attained"]) == (r["low"], r["low_reached"], r["high"],
                                             r["high_reached"])
    pset = api.problems("loss", variants=2, seed=5, activation=act, loss=loss)
    for v in pset.answers["variants"]:
        p = v["problems"][0]
        r = loss_range(loss, p["spec"]["output_activation"], targets=tuple(p["spec"]["targets"]))
        assert p["facts"]["range"] == {k: r[k] for k in ("low", "low_reached", "high",
                                                         "high_reached")}
        assert p["answers"]["loss_min"] == r["low"]
        if act == "softmax" or loss == "ce":
            assert sum(p["spec"]["outputs"]) == pytest.approx(1.0)  # a softmax layer's


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_is_convex_in_its_output(loss):
    """What the softmax corners rest on: ∂²E/∂o² ≥ 0 for o in (0, 1), t in [0, 1]."""
    o, t, K = sp.symbols("o t K", positive=True)
    from derive.expr import parse
    e = parse(LOSSES[loss].per_unit, ["o", "t", "K"]).subs(
        {sp.Symbol("o", real=True): o, sp.Symbol("t", real=True): t,
         sp.Symbol("K", real=True): K})
    second = sp.lambdify((o, t, K), sp.diff(e, o, 2))
    grid = np.linspace(0.001, 0.999, 200)
    for tv in (0.0, 0.3, 1.0):
        assert np.all(np.asarray(second(grid, tv, 3.0)) >= 0)


def test_loss_problems_keep_to_valid_combinations():
    """bce needs outputs in (0, 1): with leaky_relu outputs it is never drawn, and asked for
    it is refused with the reason (it used to give a problem, and a range, for any outputs)."""
    pset = api.problems("loss", variants=12, seed=2, activation="leaky_relu", alpha=-0.5)
    drawn = {v["problems"][0]["spec"]["loss"] for v in pset.answers["variants"]}
    assert "bce" not in drawn and drawn
    for v in pset.answers["variants"]:
        p = v["problems"][0]
        if p["spec"]["output_activation"] == "leaky_relu":  # (ce takes a softmax layer)
            assert p["spec"]["alpha"] == -0.5
            assert min(p["spec"]["outputs"]) >= 0  # leaky_relu with alpha < 0: [0, ∞)
            assert p["facts"]["range"]["low_reached"] is True
    r = CliRunner().invoke(main, ["problems", "--kinds", "loss", "--activation", "leaky_relu",
                                  "--loss", "bce", "-o", "unused-dir"])
    assert r.exit_code == 2 and "bce" in r.output
