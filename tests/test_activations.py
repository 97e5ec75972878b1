"""Activations: every derivative against sympy.diff and central finite differences, every form
in the output a substituted back, every derivation step equal to the one before, and the
computed range and vanishing-gradient intervals against independent closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from derive.expr import parse
from derive.numeric import functions
from derive.symbolic.definitions import ACTIVATIONS, ActivationDef
from derive.symbolic.derivation import derive_activation
from derive.symbolic.primitives import sigmoid, softplus

Z, A = sp.Symbol("z", real=True), sp.Symbol("a", real=True)
POINTS = (-3.1, -1.2, -0.4, 0.35, 0.9, 2.7)  # away from the kink at 0


def _params(defn):
    out = {sp.Symbol(k, positive=True): sp.Float(v) for k, v in defn.params}
    out.update({sp.Symbol(k, positive=True): sp.Rational(17, 10) for k, _ in defn.context})
    return out


def _definition(defn):
    names = ["z", *[k for k, _ in defn.params], *[k for k, _ in defn.context]]
    f = parse(defn.expression, names)
    return f.subs({sp.Symbol(k, real=True): sp.Symbol(k, positive=True) for k in names[1:]})


def _sym(text, defn, f):
    """Our own printed output back into SymPy (never user text)."""
    local = {"z": Z, "a": A, "sigmoid": sigmoid, "softplus": softplus,
             defn.name: sp.Lambda(Z, f)}
    for k, _ in (*defn.params, *defn.context):
        local[k] = sp.Symbol(k, positive=True)
    return sp.sympify(text, locals=local)


def _value(expr, point):
    return complex(sp.N(expr.doit().subs(point), 30))


@pytest.fixture(scope="module", params=list(ACTIVATIONS))
def case(request):
    defn = ACTIVATIONS[request.param]
    return defn, derive_activation(defn), _definition(defn)


def test_derivative_is_sympy_diff(case):
    defn, rec, f = case
    d = _sym(rec["derivative"]["expression"], defn, f)
    want = sp.diff(f, Z)
    p = _params(defn)
    for z0 in POINTS:
        assert abs(_value(d, {Z: z0, **p}) - _value(want, {Z: z0, **p})) < 1e-12


def test_derivative_matches_central_finite_differences(case):
    defn, rec, f = case
    act = functions.activation(defn.name)
    env = dict(act.params)
    if not defn.elementwise:
        env["S"] = 1.7
    z = np.array(POINTS)
    h = 1e-6
    fd = (act.f(z=z + h, **env) - act.f(z=z - h, **env)) / (2 * h)
    assert np.allclose(act.df(z=z, **env), fd, rtol=1e-7, atol=1e-9)
    # the derivative the network uses (from the output where there is such a form)
    if defn.elementwise:
        a = act(z)
        assert np.allclose(act.derivative(z, a), fd, rtol=1e-7, atol=1e-9)


def test_output_form_substituted_back_equals_the_derivative(case):
    defn, rec, f = case
    form = rec["derivative_from_output"]
    if form is None:
        assert defn.name in ("swish", "gelu")  # not invertible: no form in a exists
        return
    g = _sym(form["expression"], defn, f)
    d = sp.diff(f, Z)
    p = _params(defn)
    for z0 in POINTS:
        a0 = _value(f, {Z: z0, **p}).real
        assert abs(_value(g, {A: a0, **p}) - _value(d, {Z: z0, **p})) < 1e-12


def test_each_step_equals_the_one_before(case):
    defn, rec, f = case
    steps = [_sym(s["expression"], defn, f) for s in rec["steps"]]
    assert len(steps) >= 2
    p = _params(defn)
    first = steps[0].doit()
    for before, after in zip(steps, steps[1:]):
        diff = sp.simplify((before.doit() - after.doit()).subs(p))
        if diff != 0:  # piecewise forms SymPy cannot simplify: equal at every check point
            for z0 in POINTS:
                assert abs(_value(before, {Z: z0, **p}) - _value(after, {Z: z0, **p})) < 1e-12
    assert sp.simplify((first - sp.diff(f, Z)).subs(p)) == 0 or all(
        abs(_value(first, {Z: z0, **p}) - _value(sp.diff(f, Z), {Z: z0, **p})) < 1e-12
        for z0 in POINTS)


def test_textbook_forms():
    forms = {n: derive_activation(ACTIVATIONS[n])["derivative_from_output"]
             for n in ("sigmoid", "tanh", "softmax", "relu", "linear", "elu", "softplus")}
    assert forms["sigmoid"]["expression"] == "a*(1 - a)"
    assert forms["tanh"]["expression"] == "1 - a**2"
    assert forms["softmax"]["expression"] == "a*(1 - a)"  # the diagonal of the Jacobian
    assert forms["linear"]["expression"] == "1"
    assert forms["softplus"]["expression"] == "1 - exp(-a)"
    assert "a + alpha" in forms["elu"]["expression"]


def test_relu_kink_follows_pytorch():
    act = functions.activation("relu")
    assert act.df(z=np.array([0.0]))[0] == 0.0
    assert act.derivative(np.array([0.0]), np.array([0.0]))[0] == 0.0


def test_step_has_no_gradient_and_the_others_do():
    for name in ACTIVATIONS:
        assert derive_activation(ACTIVATIONS[name])["has_gradient"] == (name != "step")


def test_softmax_jacobian():
    rec = derive_activation(ACTIVATIONS["softmax"])
    assert rec["jacobian"]["general"]["expression"] == "o_k*(KroneckerDelta(j, k) - o_j)"
    assert rec["jacobian"]["off_diagonal"]["expression"] == "-o_j*o_k"
    # against finite differences of the numeric softmax
    z = np.array([0.4, -1.0, 1.3])
    o = functions.softmax(z)
    J = np.diag(o) - np.outer(o, o)
    h = 1e-6
    for j in range(3):
        dz = np.zeros(3)
        dz[j] = h
        fd = (functions.softmax(z + dz) - functions.softmax(z - dz)) / (2 * h)
        assert np.allclose(J[:, j], fd, atol=1e-9)


# ---- the computed range and where the gradient vanishes, against closed forms -----------

def _record(name):
    return derive_activation(ACTIVATIONS[name])


def test_ranges():
    r = {n: _record(n)["range"] for n in ACTIVATIONS}
    assert r["sigmoid"]["text"] == "(0, 1)"
    assert r["tanh"]["text"] == "(−1, 1)"
    assert r["relu"]["text"] == "[0, ∞)"
    assert r["linear"]["text"] == "(−∞, ∞)"
    assert r["leaky_relu"]["text"] == "(−∞, ∞)"
    assert r["elu"]["text"] == "(−1, ∞)"  # −alpha, alpha = 1
    assert r["softplus"]["text"] == "(0, ∞)"
    assert r["softmax"]["text"] == "(0, 1)"
    assert r["step"]["values"] == [0.0, 1.0]
    # gelu's and swish's minima: where f'(z) = 0, found independently with mpmath
    import mpmath as mp
    zg = mp.findroot(lambda x: (1 + mp.erf(x / mp.sqrt(2))) / 2
                     + x * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi), -0.75)
    assert r["gelu"]["low"] == pytest.approx(float(zg * (1 + mp.erf(zg / mp.sqrt(2))) / 2),
                                             abs=1e-12)
    assert r["gelu"]["low_closed"]
    zs = mp.findroot(lambda x: 1 / (1 + mp.exp(-x)) + x * mp.exp(-x) / (1 + mp.exp(-x)) ** 2,
                     -1.3)
    assert r["swish"]["low"] == pytest.approx(float(zs / (1 + mp.exp(-zs))), abs=1e-12)


def test_vanishing_sigmoid_and_tanh_match_closed_forms():
    # σ'(z) = σ(1 − σ) = 0.01  <=>  σ = (1 − √0.96)/2, z = log(σ/(1 − σ))
    s = (1 - math.sqrt(0.96)) / 2
    z_sig = -math.log(s / (1 - s))
    iv = _record("sigmoid")["vanishing"]["in_input"]
    assert [i["high"] for i in iv][0] == pytest.approx(-z_sig, abs=1e-9)
    assert iv[1]["low"] == pytest.approx(z_sig, abs=1e-9)
    assert iv[0]["low"] is None and iv[1]["high"] is None
    assert not iv[0]["high_closed"] and not iv[0]["zero"]
    out = _record("sigmoid")["vanishing"]["in_output"]
    assert out[0]["high"] == pytest.approx(s, abs=1e-9)
    assert out[1]["low"] == pytest.approx(1 - s, abs=1e-9)
    # tanh'(z) = 1 − tanh² = 0.01  <=>  |z| = atanh(√0.99)
    iv = _record("tanh")["vanishing"]["in_input"]
    assert iv[1]["low"] == pytest.approx(math.atanh(math.sqrt(0.99)), abs=1e-9)
    # elu, softplus: e^z = 0.01 and σ(z) = 0.01
    assert _record("elu")["vanishing"]["in_input"][0]["high"] == pytest.approx(
        math.log(0.01), abs=1e-9)
    assert _record("softplus")["vanishing"]["in_input"][0]["high"] == pytest.approx(
        math.log(0.01 / 0.99), abs=1e-9)


def test_relu_dies_and_leaky_relu_does_not():
    iv = _record("relu")["vanishing"]["in_input"]
    assert len(iv) == 1 and iv[0]["low"] is None and iv[0]["high"] == 0.0
    assert iv[0]["high_closed"] and iv[0]["zero"]  # relu'(0) = 0 (PyTorch), a dead unit
    assert _record("leaky_relu")["vanishing"]["in_input"] == []  # slope 0.01, never below
    assert _record("linear")["vanishing"]["in_input"] == []
    step = _record("step")["vanishing"]["in_input"]
    assert step[0]["low"] is None and step[0]["high"] is None and step[0]["zero"]


def test_swish_and_gelu_flat_near_their_minimum():
    for name in ("swish", "gelu"):
        ivs = _record(name)["vanishing"]["in_input"]
        assert len(ivs) == 2
        lo, hi = ivs[1]["low"], ivs[1]["high"]
        act = functions.activation(name)
        assert abs(act.df(z=np.array([lo]))[0]) == pytest.approx(0.01, abs=1e-9)
        assert abs(act.df(z=np.array([hi]))[0]) == pytest.approx(0.01, abs=1e-9)
        assert abs(act.df(z=np.array([(lo + hi) / 2]))[0]) < 0.01


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS])
def test_large_inputs_are_finite_without_warnings(name):
    import warnings

    act = functions.activation(name)
    z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = act(z)
        d = act.derivative(z, a) if act.elementwise else act.backprop(z, a, np.ones_like(z))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))


def test_custom_expression_is_derived():
    rec = derive_activation(ActivationDef("custom", "z/(1 + abs(z))", "custom"))
    f = parse("z/(1 + abs(z))", ["z"])
    d = _sym(rec["derivative"]["expression"], ActivationDef("custom", "z", ""), f)
    for z0 in POINTS:
        assert abs(_value(d, {Z: z0}) - _value(sp.diff(f, Z), {Z: z0})) < 1e-12
    assert rec["range"]["text"] == "(−1, 1)"
    # |z| is split into two pieces, each inverted: f′ = (1 − |a|)² written in a
    g = _sym(rec["derivative_from_output"]["expression"], ActivationDef("custom", "z", ""), f)
    for z0 in POINTS:
        a0 = _value(f, {Z: z0}).real
        assert abs(_value(g, {A: a0}) - _value(sp.diff(f, Z), {Z: z0})) < 1e-12


# ---- the command line -----------------------------------------------------------------------

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from click.testing import CliRunner  # noqa: E402

from derive.cli import main  # noqa: E402


def _run(args):
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_cli_json_has_the_design_keys(name):
    r = _run(["activation", name, "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert list(data)[:6] == ["name", "expression", "derivative", "derivative_from_output",
                              "steps", "latex"]
    assert data["name"] == name
    # expression and derivative are SymPy-parsable in z, and agree with sympy.diff
    defn = ACTIVATIONS[name]
    f = _definition(defn)
    p = _params(defn)
    e = _sym(data["expression"], defn, f)
    d = _sym(data["derivative"], defn, f)
    for z0 in POINTS:
        assert abs(_value(sp.diff(e, Z), {Z: z0, **p}) - _value(d, {Z: z0, **p})) < 1e-12


def test_cli_sigmoid_and_tanh_forms():
    sig = json.loads(_run(["activation", "sigmoid", "--format", "json"]).output)
    tanh = json.loads(_run(["activation", "tanh", "--format", "json"]).output)
    assert sig["derivative_from_output"] == "a*(1 - a)"
    assert tanh["derivative_from_output"] == "1 - a**2"


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_cli_documents(name, fmt):
    r = _run(["activation", name, "--format", fmt])
    assert r.exit_code == 0, r.output
    if name == "step":
        assert "no gradient" in r.output.lower()


def test_step_explains_and_example_refuses_it():
    r = _run(["activation", "step"])
    assert r.exit_code == 0
    assert "weights" in r.output and "no gradient" in r.output.lower()
    r = _run(["example", "--activation", "step"])
    assert r.exit_code == 2
    assert "no gradient" in r.output and "never change the weights" in r.output
    assert "Traceback" not in r.output


def test_custom_expression_cli():
    r = _run(["activation", "--expr", "z/(1 + abs(z))", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["name"] == "custom"
    assert data["range"]["text"] == "(−1, 1)"


@pytest.mark.parametrize("args,msg", [
    (["activation"], "give an activation NAME"),
    (["activation", "sigmoid", "--expr", "z"], "not both"),
    (["activation", "sigmoud"], "did you mean 'sigmoid'"),
    (["activation", "--expr", "x + 1"], "unknown name 'x'"),
    (["activation", "--expr", "foo(z)"], "unknown function"),
])
def test_cli_bad_input(args, msg):
    r = _run(args)
    assert r.exit_code == 2
    assert msg in r.output
    assert "Traceback" not in r.output


def test_cli_never_overwrites(tmp_path):
    out = tmp_path / "sig.md"
    assert _run(["activation", "sigmoid", "-o", str(out)]).exit_code == 0
    first = out.read_text()
    r = _run(["activation", "tanh", "-o", str(out)])
    assert r.exit_code == 2 and out.read_text() == first
    assert _run(["activation", "tanh", "-o", str(out), "--force"]).exit_code == 0
    assert out.read_text() != first


def test_cached_path_does_not_import_sympy(tmp_path):
    env = {**os.environ, "DERIVE_CACHE_DIR": str(tmp_path)}
    code = ("import sys; from derive.cli import main\n"
            "try:\n    main(['activation', 'sigmoid', '--format', 'json'])\n"
            "except SystemExit:\n    pass\n"
            "print('SYMPY' if 'sympy' in sys.modules else 'NO-SYMPY', file=sys.stderr)")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    second = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                            capture_output=True, text=True)
    assert "NO-SYMPY" in second.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("args", [["activation", n] for n in ACTIVATIONS]
                         + [["activation", "--expr", "z/(1 + abs(z))"]])
def test_latex_compiles(args, tmp_path):
    tex = tmp_path / "doc.tex"
    assert _run([*args, "-o", str(tex)]).exit_code == 0
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


@pytest.mark.parametrize("args", [["activation", "sigmoid"], ["activation", "softmax"],
                                  ["activation", "step"], ["loss", "ce"],
                                  ["loss", "bce", "--output-activation", "softmax"],
                                  ["graph", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5"],
                                  ["activation", "--expr", "where(z < 0, z/2, z) & 1"[:-4]]])
def test_cli_html_is_one_self_contained_page(args):
    from html.parser import HTMLParser

    r = _run([*args, "--format", "html"])
    assert r.exit_code == 0, r.output
    HTMLParser().feed(r.output)
    assert r.output.startswith("<!DOCTYPE html>") and "<math" in r.output
    assert "http://" not in r.output and "https://" not in r.output and "<script" not in r.output
    # user text is escaped: the expression's < never opens a tag
    assert "z < 0" not in r.output


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_custom_expression_with_special_characters_is_escaped(fmt, tmp_path):
    out = tmp_path / ("doc.md" if fmt == "markdown" else "doc.tex")
    r = _run(["activation", "--expr", "where(z < 0, z^2/2, min(z, 1))", "-o", str(out)])
    assert r.exit_code == 0, r.output
    if fmt == "latex":
        c = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert c.returncode == 0, c.stdout[-2000:]


def test_kinks_decide_their_own_endpoints():
    """f = z²/2 below 0, min(z, 1) above: f′ = z (small near 0⁻), 1 at 0, 1/2 at the tie
    z = 1 (min splits the gradient evenly), 0 beyond."""
    rec = derive_activation(ActivationDef("custom", "where(z < 0, z^2/2, min(z, 1))", ""))
    near, flat = rec["vanishing"]["in_input"]
    assert near["low"] == pytest.approx(-0.01, abs=1e-9) and not near["low_closed"]
    assert near["high"] == 0.0 and not near["high_closed"]  # f′(0) = 1: 0 is not in it
    assert flat["low"] == 1.0 and not flat["low_closed"] and flat["high"] is None
    assert flat["zero"]
    assert rec["range"]["text"] == "[0, ∞)"
