"""Losses: derivatives and cancellations checked by SymPy; the whole network's backward pass
checked against central finite differences for every activation/loss pairing; stable numerics."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import sympy as sp

from derive import spec as specmod
from derive.errors import DeriveError
from derive.numeric import functions
from derive.numeric.network import Network
from derive.symbolic.definitions import ACTIVATIONS, LOSSES
from derive.symbolic.derivation import derive_loss, derive_pairing

O, T, K = sp.Symbol("o", real=True), sp.Symbol("t", real=True), sp.Symbol("K", positive=True)
S = sp.Symbol("s", real=True)
NS = {"o": O, "t": T, "K": K, "s": S}

TRAINABLE = [name for name in ACTIVATIONS if name != "step"]


def _sym(text):
    return sp.sympify(text, locals=NS)  # our own output, never user text


def output_for(loss: str, act: str) -> str:
    if loss == "ce":
        return "softmax"
    if loss == "bce":
        return act if act in ("sigmoid", "softmax") else "sigmoid"
    return act


def random_spec(rng, hidden_act, out_act, loss, depth):
    sizes = [int(rng.integers(1, 4))] + [int(rng.integers(1, 4)) for _ in range(depth - 1)]
    n_out = int(rng.integers(2, 4)) if out_act == "softmax" else int(rng.integers(1, 3))
    sizes.append(n_out)
    layers = []
    for n in range(1, len(sizes)):
        act = out_act if n == len(sizes) - 1 else hidden_act
        layers.append({"activation": act,
                       "weights": rng.normal(0, 0.8, (sizes[n], sizes[n - 1])).tolist(),
                       "biases": rng.normal(0, 0.5, sizes[n]).tolist()})
    examples = []
    for _ in range(3):
        x = rng.normal(0, 1, sizes[0]).tolist()
        if loss == "ce":
            t = np.zeros(n_out)
            t[rng.integers(n_out)] = 1.0
        elif loss == "bce":
            t = rng.uniform(0, 1, n_out)
        else:
            t = rng.normal(0, 1, n_out)
        examples.append({"input": x, "target": t.tolist()})
    return specmod.from_dict({"loss": loss, "learning_rate": 0.1, "layers": layers,
                              "examples": examples})


def _mean_loss(net, X, Tm):
    nets, outs = net.forward(X)
    return float(np.mean(net.losses(outs, Tm, nets)))


@pytest.mark.parametrize("act,loss", list(itertools.product(TRAINABLE, LOSSES)))
def test_backward_matches_finite_differences(act, loss):
    rng = np.random.default_rng(abs(hash((act, loss))) % 2**32 if False else
                                 TRAINABLE.index(act) * 10 + list(LOSSES).index(loss))
    hidden = "tanh" if act == "softmax" else act
    for depth in (1, 2, 3):
        spec = random_spec(rng, hidden, output_for(loss, act), loss, depth)
        net = Network(spec)
        X = np.array([e.input for e in spec.examples])
        Tm = np.array([e.target for e in spec.examples])
        nets, outs = net.forward(X)
        grads = net.mean_gradients(net.backward(nets, outs, Tm), outs)
        h = 1e-6
        for layer, (W, b) in enumerate(net.params):
            for arr, g in ((W, grads[layer][0]), (b, grads[layer][1])):
                for idx in np.ndindex(arr.shape):
                    old = arr[idx]
                    arr[idx] = old + h
                    up = _mean_loss(net, X, Tm)
                    arr[idx] = old - h
                    down = _mean_loss(net, X, Tm)
                    arr[idx] = old
                    fd = (up - down) / (2 * h)
                    assert g[idx] == pytest.approx(fd, rel=1e-4, abs=1e-6), (depth, layer, idx)


@pytest.mark.parametrize("name", list(LOSSES))
def test_dE_do_is_sympy_diff(name):
    rec = derive_loss(LOSSES[name])
    e = _sym(rec["loss"]["expression"])
    assert sp.simplify(_sym(rec["dE_do"]["expression"]) - sp.diff(e, O)) == 0
    # and central finite differences at a few points
    for o0, t0 in ((0.3, 1.0), (0.7, 0.2), (0.55, 0.0)):
        f = sp.lambdify((O, T, K), e)
        fd = (f(o0 + 1e-6, t0, 2) - f(o0 - 1e-6, t0, 2)) / 2e-6
        got = float(_sym(rec["dE_do"]["expression"]).subs({O: o0, T: t0, K: 2}))
        assert got == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_steps_each_equal_the_one_before(name):
    rec = derive_loss(LOSSES[name])
    steps = [_sym(s["expression"]).doit() for s in rec["steps"]]
    for before, after in zip(steps, steps[1:]):
        assert sp.simplify(before - after) == 0


@pytest.mark.parametrize("loss,act", [("bce", "sigmoid"), ("ce", "softmax")])
def test_cancellations_give_t_minus_o(loss, act):
    rec = derive_pairing(LOSSES[loss], ACTIVATIONS[act])
    assert rec["Err"]["expression"] == "t - o"
    assert rec["in_output"] and not rec["context"]


def test_half_sse_sigmoid_is_the_lecture_form():
    rec = derive_pairing(LOSSES["half_sse"], ACTIVATIONS["sigmoid"])
    assert sp.simplify(_sym(rec["Err"]["expression"]) - (T - O) * O * (1 - O)) == 0


def _valid(loss, act):
    try:
        specmod.check_pairing(loss, act)
    except DeriveError:
        return False
    return True


@pytest.mark.parametrize("loss,act", [(l, a) for l in LOSSES for a in TRAINABLE
                                      if a != "softmax" and _valid(l, a)])
def test_pairing_is_minus_dE_do_times_fprime(loss, act):
    """Err in o (and t) equals −dE/do · f′ evaluated through z, at several points."""
    rec = derive_pairing(LOSSES[loss], ACTIVATIONS[act])
    f = functions.activation(act)
    lf = functions.loss(loss)
    pair = functions.pairing(loss, act)
    z = np.array([[-1.3, -0.2, 0.4, 1.7]])
    o = f(z)
    t = np.array([[0.0, 1.0, 0.3, 0.8]])
    want = -lf.gradient(o, t) * f.df(z=z, **dict(f.params))
    if pair.Err is None:
        assert not rec["in_output"]
        return
    assert np.allclose(pair(o, t, **dict(f.params)), want, rtol=1e-9, atol=1e-12)


def test_softmax_backprop_is_the_jacobian_product():
    act = functions.activation("softmax")
    z = np.array([[0.3, -1.2, 2.0, 0.1]])
    o = act(z)
    g = np.array([[0.5, -0.1, 0.7, 1.1]])
    J = np.diag(o[0]) - np.outer(o[0], o[0])  # J[k, j] = o_k (δ_kj − o_j)
    assert np.allclose(act.backprop(z, o, g)[0], J.T @ g[0])


@pytest.mark.parametrize("loss,out", [("bce", "sigmoid"), ("ce", "softmax"),
                                      ("bce", "softmax"), ("half_sse", "sigmoid")])
def test_saturated_units_give_finite_loss_and_error_without_warnings(loss, out):
    n_out = 1 if out == "sigmoid" else 3
    target = [1.0] + [0.0] * (n_out - 1)
    for big in (1000.0, -1000.0):
        raw = {"loss": loss, "layers": [{"activation": out, "weights": [[big]] * n_out if
                                         out == "sigmoid" else [[big], [-big], [0.0]],
                                         "biases": [0.0] * n_out}],
               "examples": [{"input": [1.0], "target": target}]}
        spec = specmod.from_dict(raw)
        net = Network(spec)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                nets, outs = net.forward([[1.0]])
                errs = net.backward(nets, outs, [target])
                E = net.losses(outs, [target], nets)
        assert np.all(np.isfinite(E)) and np.all(np.isfinite(errs[1]))
        assert not net.clipped


def test_bce_stable_loss_matches_the_definition():
    for z0, t0 in ((-3.0, 1.0), (0.5, 0.2), (4.0, 0.0)):
        o = 1 / (1 + np.exp(-z0))
        want = -(t0 * np.log(o) + (1 - t0) * np.log(1 - o))
        got = functions.stable_loss("bce", "sigmoid", [[z0]], [[t0]])[0]
        assert got == pytest.approx(want, rel=1e-12)
    z = np.array([[0.2, -1.0, 1.5]])
    o = np.exp(z) / np.exp(z).sum()
    t = np.array([[0.0, 1.0, 0.0]])
    assert functions.stable_loss("ce", "softmax", z, t)[0] == pytest.approx(-np.log(o[0, 1]))
    want = -np.sum(t * np.log(o) + (1 - t) * np.log(1 - o))
    assert functions.stable_loss("bce", "softmax", z, t)[0] == pytest.approx(want)


@pytest.mark.parametrize("loss,act,msg", [
    ("ce", "sigmoid", "needs a softmax output layer"),
    ("bce", "tanh", "must lie in (0, 1)"),
    ("bce", "relu", "must lie in (0, 1)"),
])
def test_invalid_pairings_refused(loss, act, msg):
    with pytest.raises(DeriveError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        specmod.LECTURE.with_activation(act).with_loss(loss)


def test_targets_checked():
    raw = {"loss": "ce", "layers": [{"activation": "softmax", "weights": [[1.0], [2.0]]}],
           "examples": [{"input": [1.0], "target": [0.5, 0.6]}]}
    with pytest.raises(DeriveError, match="sum to 1"):
        specmod.from_dict(raw)
    raw = {"loss": "bce", "layers": [{"activation": "sigmoid", "weights": [[1.0]]}],
           "examples": [{"input": [1.0], "target": [1.5]}]}
    with pytest.raises(DeriveError, match=r"in \[0, 1\]"):
        specmod.from_dict(raw)


def test_softmax_refused_in_hidden_layers_and_alone():
    with pytest.raises(DeriveError, match="output layer only"):
        specmod.LECTURE.with_activation("softmax")
    raw = {"layers": [{"activation": "softmax", "weights": [[1.0]]}],
           "examples": [{"input": [1.0], "target": [1.0]}]}
    with pytest.raises(DeriveError, match="always outputs 1"):
        specmod.from_dict(raw)


# ---- the command line -----------------------------------------------------------------------

import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

from click.testing import CliRunner  # noqa: E402

from derive.cli import main  # noqa: E402


def _run(args):
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("name", list(LOSSES))
def test_cli_json_has_the_design_keys(name):
    r = _run(["loss", name, "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert list(data)[:6] == ["name", "loss", "dE_do", "Err", "steps", "latex"]
    assert sp.simplify(_sym(data["dE_do"]) - sp.diff(_sym(data["loss"]), O)) == 0
    # the table: more confidently wrong costs more (target 1, output falling)
    losses = [row["loss"] for row in data["table"]]
    assert losses == sorted(losses) and losses[-1] > 10 * losses[0]
    for row in data["range"]["by_target"]:
        assert row["minimum"] == 0.0


@pytest.mark.parametrize("loss,act", [("ce", None), ("ce", "softmax"), ("bce", "sigmoid"),
                                      ("bce", None)])
def test_cli_cancellation(loss, act):
    args = ["loss", loss, "--format", "json"] + (["--output-activation", act] if act else [])
    data = json.loads(_run(args).output)
    assert data["Err"] == "t - o"


def test_cli_half_sse_with_sigmoid_is_the_lecture_form():
    data = json.loads(_run(["loss", "half_sse", "--output-activation", "sigmoid",
                            "--format", "json"]).output)
    assert sp.simplify(_sym(data["Err"]) - (T - O) * O * (1 - O)) == 0


def test_cli_loss_table_values():
    data = json.loads(_run(["loss", "bce", "--format", "json"]).output)
    for row in data["table"]:
        assert row["loss"] == pytest.approx(-math.log(row["output"]))
        assert row["Err"] == pytest.approx(1 - row["output"])


@pytest.mark.parametrize("args,msg", [
    (["loss", "ce", "--output-activation", "sigmoid"], "needs a softmax output layer"),
    (["loss", "bce", "--output-activation", "tanh"], "(0, 1)"),
    (["loss", "half_sse", "--output-activation", "step"], "no gradient"),
    (["loss", "crossentropy"], "unknown loss"),
    (["loss", "mse", "--output-activation", "sigmod"], "did you mean 'sigmoid'"),
])
def test_cli_bad_pairings(args, msg):
    r = _run(args)
    assert r.exit_code == 2
    assert msg in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_cli_documents(name, fmt):
    r = _run(["loss", name, "--format", fmt])
    assert r.exit_code == 0, r.output


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("args", [["loss", n] for n in LOSSES]
                         + [["loss", "half_sse", "--output-activation", "softmax"],
                            ["loss", "mse", "--output-activation", "gelu"]])
def test_latex_compiles(args, tmp_path):
    tex = tmp_path / "doc.tex"
    assert _run([*args, "-o", str(tex)]).exit_code == 0
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]


# ---- every activation and loss through `derive example` -------------------------------------

SOFTMAX_SPEC = """
loss = "{loss}"
learning_rate = 0.5
[[layers]]
activation = "tanh"
weights = [[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]]
biases = [-0.4, 0.2]
[[layers]]
activation = "softmax"
weights = [[-0.3, -0.2], [0.5, 0.1], [0.2, -0.4]]
biases = [0.1, 0.0, -0.1]
[[examples]]
input = [1, 0, 1]
target = [0, 1, 0]
"""


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("act,loss", list(itertools.product(TRAINABLE, LOSSES)))
def test_every_pairing_runs_through_example(act, loss, fmt, tmp_path):
    if act == "softmax":
        spec = tmp_path / "spec.toml"
        spec.write_text(SOFTMAX_SPEC.format(loss=loss))
        args = ["example", "--spec", str(spec), "--format", fmt]
    else:
        args = ["example", "--activation", act, "--loss", loss, "--format", fmt]
    r = _run(args)
    if act != "softmax" and not _valid(loss, act):
        assert r.exit_code == 2 and "Traceback" not in r.output
        return
    assert r.exit_code == 0, r.output
    if fmt == "json":
        data = json.loads(r.output)
        assert all(math.isfinite(v) for v in data["backward"].values())


# ---- a custom activation named in a spec file -----------------------------------------------

CUSTOM = {"loss": "half_sse", "learning_rate": 0.9,
          "layers": [{"activation": "custom", "expression": "z/(1 + abs(z))",
                      "weights": [[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]], "biases": [-0.4, 0.2]},
                     {"activation": "sigmoid", "weights": [[-0.3, -0.2]], "biases": [0.1]}],
          "examples": [{"input": [1, 0, 1], "target": [1]}]}


def test_custom_activation_in_a_spec():
    spec = specmod.from_dict(CUSTOM)
    assert spec.layers[0].activation == "custom: z/(1 + abs(z))"
    assert spec.to_dict()["layers"][0]["activation"] == "custom"
    assert specmod.from_dict(spec.to_dict()) == spec  # the round trip
    net = Network(spec)
    X, Tm = np.array([[1.0, 0.0, 1.0]]), np.array([[1.0]])
    nets, outs = net.forward(X)
    assert outs[1][0, 0] == pytest.approx(-0.7 / 1.7)  # f(−0.7) = −0.7/(1 + 0.7)
    grads = net.mean_gradients(net.backward(nets, outs, Tm), outs)
    W = net.params[0][0]
    h = 1e-6
    for idx in np.ndindex(W.shape):
        old = W[idx]
        W[idx] = old + h
        up = _mean_loss(net, X, Tm)
        W[idx] = old - h
        down = _mean_loss(net, X, Tm)
        W[idx] = old
        assert grads[0][0][idx] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("layer,msg", [
    ({"activation": "custom"}, "needs expression"),
    ({"activation": "custom", "expression": "__import__('os')"}, "not part of an expression"),
    ({"activation": "custom", "expression": "__import__(os)"}, "unknown function"),
    ({"activation": "custom", "expression": "x + 1"}, "unknown name 'x'"),
    ({"activation": "tanh", "expression": "z"}, "only for activation"),
])
def test_custom_activation_refused(layer, msg):
    raw = {**CUSTOM, "layers": [{**CUSTOM["layers"][0], **layer}] + CUSTOM["layers"][1:]}
    if "expression" not in layer:
        raw["layers"][0].pop("expression")
    with pytest.raises(DeriveError, match=msg):
        specmod.from_dict(raw)


def test_custom_activation_through_example(tmp_path):
    spec = tmp_path / "custom.toml"
    spec.write_text('loss = "half_sse"\n[[layers]]\nactivation = "custom"\n'
                    'expression = "z/(1 + abs(z))"\nweights = [[0.5, -0.5]]\n'
                    '[[examples]]\ninput = [1, 2]\ntarget = [0.3]\n')
    r = _run(["example", "--spec", str(spec), "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    # o3 = f(−0.5) = −1/3, Err3 = (t − o) f′(i) = (0.3 + 1/3) / (1 + 0.5)²
    assert data["forward"]["o3"] == pytest.approx(-1 / 3)
    assert data["backward"]["Err3"] == pytest.approx((0.3 + 1 / 3) / 1.5 ** 2)


@pytest.mark.parametrize("act", ["leaky_relu", "elu"])
def test_per_layer_alpha_is_used_forward_and_backward(act):
    raw = {"loss": "half_sse",
           "layers": [{"activation": act, "alpha": 0.2, "weights": [[-1.0, 0.5]],
                       "biases": [-0.3]},
                      {"activation": "linear", "weights": [[0.7]], "biases": [0.1]}],
           "examples": [{"input": [1.0, 0.4], "target": [0.5]}]}
    net = Network(specmod.from_dict(raw))
    X, Tm = np.array([[1.0, 0.4]]), np.array([[0.5]])
    nets, outs = net.forward(X)
    z = -1.0 + 0.2 - 0.3
    want = 0.2 * z if act == "leaky_relu" else 0.2 * (math.exp(z) - 1)
    assert outs[1][0, 0] == pytest.approx(want)
    grads = net.mean_gradients(net.backward(nets, outs, Tm), outs)
    W = net.params[0][0]
    h = 1e-6
    old = W[0, 0]
    W[0, 0] = old + h
    up = _mean_loss(net, X, Tm)
    W[0, 0] = old - h
    down = _mean_loss(net, X, Tm)
    W[0, 0] = old
    assert grads[0][0][0, 0] == pytest.approx((up - down) / (2 * h), rel=1e-6)


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_softmax_output_rows_in_the_documents(fmt, tmp_path):
    """The output layer's rows say that softmax couples the units, with no missing f′ (—)."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SOFTMAX_SPEC.format(loss="ce"))
    r = _run(["example", "--spec", str(spec), "--format", fmt])
    assert r.exit_code == 0, r.output
    assert "—" not in r.output
    assert "couples" in r.output


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("act", [a for a in TRAINABLE])
def test_example_latex_compiles_for_every_activation(act, tmp_path):
    if act == "softmax":
        spec = tmp_path / "spec.toml"
        spec.write_text(SOFTMAX_SPEC.format(loss="ce"))
        args = ["example", "--spec", str(spec)]
    else:
        args = ["example", "--activation", act]
    tex = tmp_path / "doc.tex"
    assert _run([*args, "-o", str(tex)]).exit_code == 0
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
