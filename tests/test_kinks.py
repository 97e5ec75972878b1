"""Kinks and undefined points (issue 12, points 3 and 4).

`derive graph` evaluates at the point asked and refuses only where the value or the gradient is
undefined there, naming the node; a tie in max/min splits the gradient evenly whatever the order
of the arguments, in graph, in custom activations and in the network code alike, while
relu'(0) = 0 (PyTorch's relu).  Expected values are written out by hand or are central finite
differences, which at a two-way tie of max/min give exactly the mean of the one-sided slopes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from derive.adtrace import trace
from derive.cli import main
from derive.errors import DeriveError
from derive.expr import parse
from derive.numeric import functions
from derive.numeric.network import step
from derive.spec import from_dict
from derive.symbolic.definitions import register_custom


def _graph(expr, at):
    r = CliRunner().invoke(main, ["graph", expr, "--at", at, "--format", "json"])
    return r.exit_code, r.output


# -- point 3: defined points are evaluated ------------------------------------------------------
@pytest.mark.parametrize("expr, fn, value, slope", [
    # f = 1/x1, f' = -1/x1² for x1 > 0
    ("1/relu(x1)", lambda x: 1 / max(0.0, x), 1 / 1.8, -1 / 1.8 ** 2),
    ("x1/relu(x1)", lambda x: x / max(0.0, x), 1.0, 0.0),  # f = 1 for x1 > 0
    ("x1/max(0, x1)", lambda x: x / max(0.0, x), 1.0, 0.0),
    ("x1/max(x1, 0)", lambda x: x / max(x, 0.0), 1.0, 0.0),
    ("log(relu(x1))", lambda x: np.log(max(0.0, x)), np.log(1.8), 1 / 1.8),
])
def test_graph_evaluates_points_where_the_expression_is_defined(expr, fn, value, slope):
    code, out = _graph(expr, "x1=1.8")
    assert code == 0, out
    data = json.loads(out)
    assert data["value"] == pytest.approx(value, rel=1e-12)
    assert data["gradient"]["x1"] == pytest.approx(slope, rel=1e-12, abs=1e-15)
    # and a central finite difference, an independent route
    assert data["gradient"]["x1"] == pytest.approx(_central(fn, 1.8, 1e-6), abs=1e-8)


def test_the_issue_numbers():
    code, out = _graph("1/relu(x1)", "x1=1.8")
    data = json.loads(out)
    assert f"{data['value']:.6f}" == "0.555556"
    assert f"{data['gradient']['x1']:.6f}" == "-0.308642"


@pytest.mark.parametrize("expr, at, node, what", [
    ("1/relu(x1)", "x1=-1", "v2 = 1 / v1", "value is undefined"),      # relu(-1) = 0
    ("x1/max(0, x1)", "x1=0", "v2 = x1 / v1", "value is undefined"),
    ("log(x1 - 2)", "x1=1", "v2 = log(v1)", "value is undefined"),
    ("sqrt(x1)", "x1=0", "v1 = sqrt(x1)", "gradient is undefined"),    # 1/(2√x) at 0
    ("x1^x2", "x1=-2,x2=2", "v1 = x1 ** x2", "gradient is undefined"),  # ∂/∂x2 needs log(-2)
])
def test_graph_refuses_undefined_points_naming_the_node(expr, at, node, what):
    code, out = _graph(expr, at)
    assert code == 2
    assert node in out and what in out
    assert "Traceback" not in out


def test_undefined_everywhere_is_still_refused_before_evaluating():
    # an expression with no point where it is defined at all: parse still says so elsewhere
    with pytest.raises(DeriveError):
        parse("1/(z - z)", ["z"])


# -- point 4: a tie splits the gradient evenly, whatever the order ------------------------------
def _central(f, x, h=1e-7):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("expr", ["max(x1, 0)", "max(0, x1)", "min(x1, 0)", "min(0, x1)"])
def test_graph_ties_split_evenly(expr):
    code, out = _graph(expr, "x1=0")
    assert code == 0, out
    fn = max if expr.startswith("max") else min
    # the central difference at the kink is the mean of the one-sided slopes 1 and 0
    assert json.loads(out)["gradient"]["x1"] == 0.5 == pytest.approx(
        _central(lambda x: fn(x, 0.0), 0.0))


def test_graph_three_way_tie_and_relu():
    r = trace("max(x, 1, y)", {"x": 1.0, "y": 1.0})
    assert r["gradient"] == pytest.approx({"x": 1 / 3, "y": 1 / 3})
    assert trace("relu(x)", {"x": 0.0})["gradient"]["x"] == 0.0  # relu'(0) = 0 stays


@pytest.mark.parametrize("text", ["max(0, z)", "max(z, 0)", "min(0, -z)*-1"])
def test_custom_activation_ties_split_evenly(text):
    z = sp.Symbol("z", real=True)
    d = sp.diff(parse(text, ["z"]), z)
    assert [d.subs(z, v) for v in (-1, 0, 1)] == [0, sp.Rational(1, 2), 1]
    # the compiled derivative the network code uses says the same
    defn = register_custom(text)
    act = functions.activation(defn.name)
    assert list(act.df(z=np.array([-1.0, 0.0, 1.0]))) == [0.0, 0.5, 1.0]


def test_relu_keeps_its_own_kink():
    act = functions.activation("relu")
    assert list(act.df(z=np.array([-1.0, 0.0, 1.0]))) == [0.0, 0.0, 1.0]
    assert float(act.derivative(np.array([0.0]), np.array([0.0]))[0]) == 0.0


def _spec(hidden):
    """One hidden unit whose net input is exactly 0 on the example (1·0.5 + 1·(−0.5) + 0)."""
    layer = {"activation": hidden, "weights": [[0.5, -0.5]], "biases": [0.0]}
    if hidden.startswith("max") or hidden.startswith("min"):
        layer = {**layer, "activation": "custom", "expression": hidden}
    return from_dict({"loss": "half_sse", "learning_rate": 0.5,
                      "layers": [layer, {"activation": "sigmoid", "weights": [[0.8]],
                                         "biases": [0.1]}],
                      "examples": [{"input": [1, 1], "target": [1]}]}, "tie")


@pytest.mark.parametrize("hidden, slope", [("max(0, z)", 0.5), ("max(z, 0)", 0.5),
                                           ("relu", 0.0)])
def test_network_error_term_at_a_tie(hidden, slope):
    spec = _spec(hidden)
    trace_ = step(spec)
    assert trace_.forward["i3"] == 0.0
    err4 = trace_.backward["Err4"]
    assert trace_.backward["Err3"] == pytest.approx(slope * 0.8 * err4, rel=1e-12)
    if slope:
        # dE/db3 by a central difference of the whole forward pass and loss
        def loss(b3):
            o3 = max(0.0, b3)
            o4 = 1 / (1 + np.exp(-(0.8 * o3 + 0.1)))
            return 0.5 * (1 - o4) ** 2
        assert trace_.gradients["b3"] == pytest.approx(_central(loss, 0.0, 1e-6), rel=1e-6)
