"""What SymPy derived, checked against SymPy itself and against numbers."""

import math
import warnings

import numpy as np
import pytest
import sympy as sp

from derive.expr import parse
from derive.numeric.functions import activation
from derive.symbolic import cache, derivation
from derive.symbolic.definitions import ACTIVATIONS, LOSSES

z, a = sp.Symbol("z", real=True), sp.Symbol("a", real=True)


def read(text, names):
    """Read back a record's expression with SymPy's own parser (trusted text in tests)."""
    from derive.symbolic.primitives import sigmoid, softplus

    local = {n: sp.Symbol(n, real=True) for n in names}
    local.update(sigmoid=sigmoid, softplus=softplus)
    for n in ("alpha", "S"):  # parameters, and softmax's S (the other units' sum)
        local[n] = sp.Symbol(n, positive=True)
    # the last step of a derivation writes f' with the function itself, e.g. relu(z)
    for act_name, defn in ACTIVATIONS.items():
        if act_name not in local:
            f = parse(defn.expression, ["z", "alpha", "S"]).subs(
                {sp.Symbol(n, real=True): sp.Symbol(n, positive=True) for n in ("alpha", "S")})
            local[act_name] = (lambda f: (lambda x: f.subs(z, x)))(f)
    return sp.sympify(text, locals=local)


# elementwise ones: softmax couples a layer's units (tests/test_activations.py checks it)
NAMES = [name for name, defn in ACTIVATIONS.items() if defn.elementwise]


@pytest.mark.parametrize("name", NAMES)
def test_derivative_equals_sympy_diff(name):
    rec = derivation.derive_activation(ACTIVATIONS[name])
    f = read(rec["function"]["expression"], ["z"])
    d = read(rec["derivative"]["expression"], ["z"])
    for z0 in (-2.1, -0.4, 0.3, 1.7):
        defaults = {sp.Symbol(k, positive=True): v for k, v in rec["params"].items()}
        want = sp.diff(f, z).subs(defaults).subs(z, z0)
        assert float(d.subs(defaults).subs(z, z0)) == pytest.approx(float(want), abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_central_differences(name):
    act = activation(name)
    zs = np.array([-2.3, -0.7, 0.2, 0.9, 2.8])
    h = 1e-6
    fd = (act(zs + h) - act(zs - h)) / (2 * h)
    assert act.derivative(zs, act(zs)) == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert act.df(z=zs, **dict(act.params)) == pytest.approx(fd, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_output_form_substituted_back_equals_derivative(name):
    rec = derivation.derive_activation(ACTIVATIONS[name])
    if rec["derivative_from_output"] is None:
        pytest.skip(f"{name} has no form in its output")
    act = activation(name)
    zs = np.linspace(-3, 3, 13)
    g = act.df_from_output(a=act(zs), **dict(act.params))
    assert g == pytest.approx(act.df(z=zs, **dict(act.params)), abs=1e-12)


def test_textbook_forms_found_by_sympy():
    assert cache.activation(ACTIVATIONS["sigmoid"])["derivative_from_output"]["expression"] \
        == "a*(1 - a)"
    assert cache.activation(ACTIVATIONS["tanh"])["derivative_from_output"]["expression"] \
        == "1 - a**2"
    form = read(cache.activation(ACTIVATIONS["sigmoid"])["derivative_from_output"]["expression"],
                ["a"])
    assert sp.expand(form - a * (1 - a)) == 0


@pytest.mark.parametrize("name", NAMES)
def test_each_step_equals_the_one_before(name):
    rec = derivation.derive_activation(ACTIVATIONS[name])
    steps = [read(s["expression"], ["z"]).doit() for s in rec["steps"]]
    defaults = {sp.Symbol(k, positive=True): v for k, v in rec["params"].items()}
    for before, after in zip(steps, steps[1:]):
        for z0 in (-1.3, -0.2, 0.6, 2.2):
            x = complex(sp.N(before.subs(defaults).subs(z, z0).doit()))
            y = complex(sp.N(after.subs(defaults).subs(z, z0).doit()))
            assert abs(x - y) < 1e-12, (name, before, after)


def test_sigmoid_derivation_follows_the_slide():
    rec = cache.activation(ACTIVATIONS["sigmoid"])
    texts = [s["expression"] for s in rec["steps"]]
    assert "exp(-z)/(1 + exp(-z))**2" in texts
    assert "1/(1 + exp(-z))*((1 + exp(-z) - 1)/(1 + exp(-z)))" in texts
    assert texts[-1] == "(1 - sigmoid(z))*sigmoid(z)"


@pytest.mark.parametrize("name", NAMES)
def test_cache_equals_live_derivation(name, tmp_path, monkeypatch):
    monkeypatch.setenv("DERIVE_CACHE_DIR", str(tmp_path))
    cache._activation.cache_clear()
    try:
        first = cache.activation(ACTIVATIONS[name])  # derives and writes
        assert list(tmp_path.iterdir()), "nothing was cached"
        cache._activation.cache_clear()
        second = cache.activation(ACTIVATIONS[name])  # reads back from disk
    finally:
        cache._activation.cache_clear()
    live = derivation.derive_activation(ACTIVATIONS[name])
    assert first == live and second == live


@pytest.mark.parametrize("name", LOSSES)
def test_loss_derivative_equals_sympy_diff(name):
    rec = derivation.derive_loss(LOSSES[name])
    o, t = sp.Symbol("o", real=True), sp.Symbol("t", real=True)
    K = sp.Symbol("K", positive=True)
    e = sp.sympify(rec["loss"]["expression"], locals={"o": o, "t": t, "K": K})
    de = sp.sympify(rec["dE_do"]["expression"], locals={"o": o, "t": t, "K": K})
    assert sp.simplify(sp.diff(e, o) - de) == 0


def test_slide_forms_of_the_squared_losses():
    assert cache.loss(LOSSES["sse"])["dE_do"]["expression"] == "2*(o - t)"  # -2(t - o)
    assert cache.loss(LOSSES["half_sse"])["minus_dE_do"]["expression"] == "t - o"
    pair = cache.pairing(LOSSES["half_sse"], ACTIVATIONS["sigmoid"])
    assert pair["Err"]["expression"] == "o*(1 - o)*(t - o)"


@pytest.mark.parametrize("name", [n for n in NAMES if ACTIVATIONS[n].elementwise])
def test_no_overflow_for_large_inputs(name):
    act = activation(name)
    zs = np.array([-1000.0, -700.0, -50.0, 0.0, 50.0, 700.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = act(zs)
        grad = act.derivative(zs, out)
        grad_z = act.df(z=zs, **dict(act.params))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad)) and np.all(np.isfinite(grad_z))


def test_sigmoid_values_at_the_extremes():
    act = activation("sigmoid")
    assert act(np.array([-1000.0]))[0] == 0.0
    assert act(np.array([1000.0]))[0] == 1.0
    assert act(np.array([-0.7]))[0] == pytest.approx(1 / (1 + math.exp(0.7)), abs=1e-15)


def test_relu_kink_follows_pytorch():
    act = activation("relu")
    assert act.derivative(np.array([0.0]), np.array([0.0]))[0] == 0.0
    assert act.df(z=np.array([0.0]))[0] == 0.0


def test_parsed_definitions_are_the_registered_ones():
    assert parse(ACTIVATIONS["sigmoid"].expression, ["z"]) == 1 / (1 + sp.exp(-z))
