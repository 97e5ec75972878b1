"""Every real alpha for leaky_relu and elu (issue 12, point 1; DESIGN.md, Notation).

The derivative "in terms of the output" of leaky_relu and elu (1 for a > 0, alpha or a + alpha
otherwise) holds only for alpha >= 0: below, a > 0 on both sides of the kink.  Each number
here is checked against an independent route: the network written out again in NumPy with the
activations typed in from their definitions, and its gradients by central finite differences
of the loss, for `example`, `train` and `problems`.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from derive import api
from derive.cli import main
from derive.numeric import functions

ALPHAS = (-2.0, -0.5, 0.0, 0.01, 1.0, 2.0)
ACTIVATIONS = ("leaky_relu", "elu")


def f(name, alpha, z):
    """The activations typed in from their definitions (not from derive's records)."""
    z = np.asarray(z, dtype=float)
    if name == "leaky_relu":
        return np.where(z > 0, z, alpha * z)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def _forward(spec: dict, x):
    o = np.asarray(x, dtype=float)
    for layer in spec["layers"]:
        i = np.asarray(layer["weights"], dtype=float) @ o + np.asarray(layer["biases"])
        o = f(layer["activation"], layer["alpha"], i)
    return o


def _loss(spec: dict, examples) -> float:
    """half_sse, the mean over the examples given."""
    return float(np.mean([0.5 * np.sum((np.asarray(ex["target"]) - _forward(spec, ex["input"]))
                                       ** 2) for ex in examples]))


def _fd_gradients(spec: dict, examples, h: float = 1e-6) -> dict:
    """dE/dθ for every weight and bias by central differences, under the lecture's names."""
    out = {}
    first = len(spec["layers"][0]["weights"][0]) + 1
    units = [list(range(1, first))]
    for layer in spec["layers"]:
        start = units[-1][-1] + 1
        units.append(list(range(start, start + len(layer["biases"]))))
    for n, layer in enumerate(spec["layers"]):
        for u, k in enumerate(units[n + 1]):
            for v, j in enumerate(units[n]):
                out[f"w{j}_{k}"] = _fd(spec, examples, n, ("weights", u, v), h)
            out[f"b{k}"] = _fd(spec, examples, n, ("biases", u), h)
    return out


def _fd(spec, examples, n, where, h):
    def at(delta):
        s = json.loads(json.dumps(spec))
        target = s["layers"][n][where[0]]
        if len(where) == 3:
            target[where[1]][where[2]] += delta
        else:
            target[where[1]] += delta
        return _loss(s, examples)
    return (at(h) - at(-h)) / (2 * h)


def _spec(name: str, alpha: float) -> dict:
    """2-2-1 with net inputs of both signs, none near the kink (the differences stay clean)."""
    return {"loss": "half_sse", "learning_rate": 0.5,
            "layers": [{"activation": name, "alpha": alpha,
                        "weights": [[0.3, -0.8], [-0.6, 0.4]], "biases": [0.15, -0.25]},
                       {"activation": name, "alpha": alpha,
                        "weights": [[0.7, -0.9]], "biases": [-0.35]}],
            "examples": [{"input": [1.0, 0.5], "target": [0.2]},
                         {"input": [-1.0, 1.0], "target": [0.9]},
                         {"input": [0.5, -1.0], "target": [-0.4]}]}


def _nets(spec, x):
    o, nets = np.asarray(x, dtype=float), []
    for layer in spec["layers"]:
        i = np.asarray(layer["weights"]) @ o + np.asarray(layer["biases"])
        nets.append(i)
        o = f(layer["activation"], layer["alpha"], i)
    return np.concatenate(nets)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_example_gradients_match_finite_differences(name, alpha):
    spec = _spec(name, alpha)
    for e, ex in enumerate(spec["examples"]):
        assert np.all(np.abs(_nets(spec, ex["input"])) > 1e-3)  # away from the kink
        got = api.example(spec, example=e + 1).gradients
        want = _fd_gradients(spec, [ex])
        assert got == pytest.approx(want, abs=1e-8), (name, alpha, e)
    # at least one hidden unit sits on the alpha side in these examples
    assert any(np.any(_nets(spec, ex["input"])[:2] < 0) for ex in spec["examples"])


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_train_gradients_match_finite_differences(name, alpha):
    spec = _spec(name, alpha)
    run = api.train(spec, "batch", max_epochs=1).to_dict()
    assert run["steps"][0]["gradients"] == pytest.approx(
        _fd_gradients(spec, spec["examples"]), abs=1e-8)
    # sgd: each step's gradient is that of its own example, at the parameters of that moment
    run = api.train(spec, "sgd", max_epochs=1).to_dict()
    current = json.loads(json.dumps(spec))
    for s in run["steps"]:
        ex = spec["examples"][s["examples"][0] - 1]
        assert s["gradients"] == pytest.approx(_fd_gradients(current, [ex]), rel=1e-6, abs=1e-8)
        _set(current, s["update"])


def _set(spec, params):
    first = len(spec["layers"][0]["weights"][0]) + 1
    units = [list(range(1, first))]
    for layer in spec["layers"]:
        start = units[-1][-1] + 1
        units.append(list(range(start, start + len(layer["biases"]))))
    for n, layer in enumerate(spec["layers"]):
        for u, k in enumerate(units[n + 1]):
            for v, j in enumerate(units[n]):
                layer["weights"][u][v] = params[f"w{j}_{k}"]
            layer["biases"][u] = params[f"b{k}"]


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_problems_answers_match_finite_differences(name, alpha):
    pset = api.problems("step,activation", variants=2, seed=3, activation=name, alpha=alpha)
    for variant in pset.answers["variants"]:
        step_, act = variant["problems"]
        spec, answers = step_["spec"], step_["answers"]
        assert all(layer["alpha"] == alpha for layer in spec["layers"])
        ex = spec["examples"][0]
        grads = _fd_gradients(spec, [ex])
        eta = spec["learning_rate"]
        old = _flat_params(spec)
        for p, g in grads.items():  # new value = old − η dE/dθ
            assert answers[p] == pytest.approx(old[p] - eta * g, abs=1e-7), (p, alpha)
        # the activation kind: f(z) and f'(z) at the z it states, f' by a central difference
        z = act["spec"]["z"]
        assert act["spec"]["alpha"] == alpha
        assert act["answers"]["f"] == pytest.approx(float(f(name, alpha, z)), abs=1e-12)
        h = 1e-6
        fd = (f(name, alpha, z + h) - f(name, alpha, z - h)) / (2 * h)
        assert act["answers"]["fprime"] == pytest.approx(float(fd), abs=1e-7)


def _flat_params(spec):
    out = {}
    first = len(spec["layers"][0]["weights"][0]) + 1
    units = [list(range(1, first))]
    for layer in spec["layers"]:
        start = units[-1][-1] + 1
        units.append(list(range(start, start + len(layer["biases"]))))
    for n, layer in enumerate(spec["layers"]):
        for u, k in enumerate(units[n + 1]):
            for v, j in enumerate(units[n]):
                out[f"w{j}_{k}"] = layer["weights"][u][v]
            out[f"b{k}"] = layer["biases"][u]
    return out


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_output_form_offered_only_where_it_holds(name, alpha):
    act = functions.activation(name, (("alpha", alpha),))
    holds = act.df_from_output is not None
    assert holds == (alpha >= 0)
    z = np.linspace(-4, 4, 801)
    z = z[np.abs(z) > 1e-9]
    a = f(name, alpha, z)
    slope = np.where(z > 0, 1.0, alpha if name == "leaky_relu" else alpha * np.exp(z))
    # what the backward pass uses is f'(i) wherever the form does not hold
    assert act.derivative(z, a) == pytest.approx(slope, abs=1e-12)
    if not holds:
        why = act.record["no_output_form"]
        assert why["reason"] == "not_determined"
        (z1, z2), (d1, d2) = why["z"], why["fprime"]
        # two net inputs, the same output, two slopes: typed in, not read from derive
        assert f(name, alpha, z1) == pytest.approx(f(name, alpha, z2), abs=1e-12)
        assert abs(d1 - d2) > 1e-6


def test_documents_say_why():
    spec = _spec("leaky_relu", -0.5)
    for fmt in ("text", "markdown", "latex", "html"):
        doc = api.example(spec).render(fmt)
        assert "No form in terms of the unit's output" in doc, fmt
        assert "0.5" in doc
    r = CliRunner().invoke(main, ["activation", "leaky_relu", "--alpha", "-0.5"])
    assert r.exit_code == 0, r.output
    assert "No form in terms of the unit's output a with α = −0.5" in r.output
    assert "lrelu(−1) = lrelu(0.5) = 0.5" in r.output
    data = json.loads(CliRunner().invoke(main, ["activation", "leaky_relu", "--alpha", "-0.5",
                                                "--format", "json"]).output)
    assert data["derivative_from_output"] is None
    assert data["no_output_form"]["reason"] == "not_determined"
    ok = json.loads(CliRunner().invoke(main, ["activation", "leaky_relu", "--alpha", "0.2",
                                              "--format", "json"]).output)
    assert ok["derivative_from_output"] == "Piecewise((1, a > 0), (alpha, True))"


def test_problems_state_alpha():
    files = api.problems("forward,activation", seed=1, activation="elu", alpha=-1.0) \
        .files("markdown")
    statement = files["problems.md"]
    assert statement.count(r"$\alpha = -1$") >= 2


def test_alpha_refused_where_it_means_nothing():
    r = CliRunner().invoke(main, ["activation", "sigmoid", "--alpha", "1"])
    assert r.exit_code == 2 and "no parameter alpha" in r.output
    with pytest.raises(Exception, match="--alpha"):
        api.problems("forward", alpha=0.5)


def test_erf_has_no_output_form_and_is_not_refused():
    """derive activation --expr "erf(z)": its form in the output would need erfinv, which has
    no numeric form; that means derivative_from_output is null, not a refusal."""
    import math

    import sympy as sp

    r = CliRunner().invoke(main, ["activation", "--expr", "erf(z)", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["derivative_from_output"] is None
    assert data["no_output_form"] == {"reason": "no_numeric_form", "needs": "erfinv"}
    z = sp.Symbol("z", real=True)
    assert sp.simplify(sp.sympify(data["derivative"], locals={"z": z})
                       - sp.diff(sp.erf(z), z)) == 0
    assert data["range"]["text"] == "(−1, 1)"  # erf never reaches ±1 (erf(6) is 1.0 in floats)
    text = CliRunner().invoke(main, ["activation", "--expr", "erf(z)"]).output
    assert "needs erfinv" in text
    # and a network with erf units trains with f'(i) = 2/√π e^{-i²}
    spec = {"loss": "half_sse", "learning_rate": 0.5,
            "layers": [{"activation": "custom", "expression": "erf(z)",
                        "weights": [[0.3, -0.8]], "biases": [0.15]},
                       {"activation": "sigmoid", "weights": [[0.7]], "biases": [-0.35]}],
            "examples": [{"input": [1.0, 0.5], "target": [0.2]}]}
    got = api.example(spec).gradients
    i3 = 0.3 - 0.4 + 0.15
    o3 = math.erf(i3)
    o4 = 1 / (1 + math.exp(-(0.7 * o3 - 0.35)))
    err4 = (0.2 - o4) * o4 * (1 - o4)
    err3 = 2 / math.sqrt(math.pi) * math.exp(-i3 ** 2) * 0.7 * err4
    assert got["b3"] == pytest.approx(-err3, rel=1e-12)
    assert got["w1_3"] == pytest.approx(-err3 * 1.0, rel=1e-12)
