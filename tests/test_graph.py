"""derive graph: evaluation traces against sympy.diff and central finite differences on
hypothesis-generated expressions; the survey's example; injection attempts refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.cli import main
from derive.errors import DeriveError
from derive.expr import parse
from derive.adtrace import parse_point, trace

VARS = ("x", "y")

leaves = st.one_of(st.sampled_from(VARS),
                   st.sampled_from(["0.5", "2", "1.5", "3"]))


def _extend(children):
    unary = st.tuples(st.sampled_from(["sin", "cos", "tanh", "sigmoid", "softplus", "erf",
                                       "neg", "expt", "sq", "cube", "logsq", "hyp"]),
                      children)
    binary = st.tuples(st.sampled_from(["+", "-", "*", "/"]), children, children)
    return st.one_of(unary.map(_unary), binary.map(_binary))


def _unary(pair):
    f, e = pair
    if f == "neg":
        return f"-({e})"
    if f == "expt":
        return f"exp(tanh({e}))"  # bounded: no overflow
    if f == "sq":
        return f"({e})**2"
    if f == "cube":
        return f"({e})^3"
    if f == "logsq":
        return f"log(1 + ({e})**2)"  # log and sqrt of something positive
    if f == "hyp":
        return f"sqrt(1 + ({e})^2)"
    return f"{f}({e})"


def _binary(triple):
    op, a, b = triple
    if op == "/":
        return f"({a})/(2 + tanh({b}))"  # the denominator stays in (1, 3)
    return f"({a}) {op} ({b})"


expressions = st.recursive(leaves, _extend, max_leaves=8)
points = st.tuples(st.floats(-2, 2), st.floats(-2, 2))


def _sympy_gradient(text, point):
    from derive.symbolic.primitives import textbook_form

    expr = textbook_form(parse(text, VARS))  # sigmoid, softplus as exp and log
    syms = {v: sp.Symbol(v, real=True) for v in VARS}
    at = {syms[v]: point[v] for v in VARS}
    def number(e):
        value = complex(sp.N(e.subs(at), 30))
        assert abs(value.imag) < 1e-20
        return value.real

    return number(expr), {v: number(sp.diff(expr, syms[v])) for v in VARS}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, points)
def test_gradient_matches_sympy_and_finite_differences(text, xy):
    point = dict(zip(VARS, map(float, xy)))
    result = trace(text, point)
    value, grad = _sympy_gradient(text, point)
    assert result["value"] == pytest.approx(value, rel=1e-9, abs=1e-12)
    h = 1e-6
    for v in VARS:
        assert result["gradient"][v] == pytest.approx(grad[v], rel=1e-8, abs=1e-10)
        up = trace(text, {**point, v: point[v] + h})["value"]
        down = trace(text, {**point, v: point[v] - h})["value"]
        assert result["gradient"][v] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-6)
    # the adjoint of every variable is the sum of its contributions, one per use
    for x in result["inputs"]:
        assert x["adjoint"] == pytest.approx(sum(c["term"] for c in x["contributions"]))
        assert len(x["contributions"]) == x["uses"]


def test_the_survey_example():
    """Baydin et al. (2018), table 2/3: f = ln(x1) + x1 x2 − sin(x2) at (2, 5)."""
    r = trace("log(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0})
    assert r["value"] == pytest.approx(11.652, abs=5e-4)
    assert r["gradient"]["x1"] == pytest.approx(5.5)
    assert r["gradient"]["x2"] == pytest.approx(1.716, abs=5e-4)
    assert [n["expr"] for n in r["trace"]] == ["log(x1)", "x1 * x2", "v1 + v2", "sin(x2)",
                                             "v3 - v4"]
    # x1 is used twice: 1/x1 from log and x2 from the product
    terms = sorted(c["term"] for c in r["inputs"][0]["contributions"])
    assert terms == pytest.approx([0.5, 5.0])


def test_kinks_follow_pytorch():
    assert trace("relu(x)", {"x": 0.0})["gradient"]["x"] == 0.0
    assert trace("abs(x)", {"x": 0.0})["gradient"]["x"] == 0.0
    # a tie splits the gradient evenly (torch.maximum gives 0.5 each, torch.amax over
    # [x, y, x] gives x 2/3 and y 1/3), whatever the order of the arguments
    assert trace("max(x, y)", {"x": 1.0, "y": 1.0})["gradient"] == {"x": 0.5, "y": 0.5}
    assert trace("max(y, x)", {"x": 1.0, "y": 1.0})["gradient"] == {"x": 0.5, "y": 0.5}
    assert trace("max(x, y, x)", {"x": 1.0, "y": 1.0})["gradient"] == pytest.approx(
        {"x": 2 / 3, "y": 1 / 3})
    assert trace("min(x, y)", {"x": 1.0, "y": 2.0})["gradient"] == {"x": 1.0, "y": 0.0}


def test_the_chain_of_the_slides():
    # x = f(w), y = f(x), z = f(y): dz/dw = f'(y) f'(x) f'(w)
    r = trace("sin(sin(sin(w)))", {"w": 0.7})
    x = math.sin(0.7)
    y = math.sin(x)
    assert r["gradient"]["w"] == pytest.approx(math.cos(y) * math.cos(x) * math.cos(0.7))
    assert len(r["trace"]) == 3


@pytest.mark.parametrize("text", ["log(x)", "sqrt(x)", "1/x"])
def test_undefined_points_are_refused(text):
    with pytest.raises(DeriveError):
        trace(text, {"x": 0.0})


def test_point_parsing():
    assert parse_point("x1=2, x2=-5.5") == {"x1": 2.0, "x2": -5.5}
    for bad in ("x1", "x1=", "=3", "x=nan", "x=inf", "x=1,x=2", "__class__=1", "exp=1",
                "x=__import__('os')"):
        with pytest.raises(DeriveError):
            parse_point(bad)


def _run(args):
    return CliRunner().invoke(main, args)


def test_cli_json():
    r = _run(["graph", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert list(data)[:3] == ["value", "gradient", "trace"]
    assert set(data["trace"][0]) >= {"node", "expr", "value", "adjoint"}
    assert data["trace"][0] == {**data["trace"][0], "node": "v1", "expr": "log(x1)"}


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_cli_documents(fmt):
    r = _run(["graph", "x*y + sin(x)", "--at", "x=1,y=2", "--format", fmt])
    assert r.exit_code == 0, r.output
    assert "2.8415" in r.output  # f = x y + sin x = 2 + sin 1 at (1, 2)
    assert "2.5403" in r.output  # ∂f/∂x = y + cos x


INJECTIONS = [
    "__import__('os').system('touch {marker}')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "(lambda: open('{marker}', 'w'))()",
    "exec('open(\"{marker}\", \"w\")')",
    "eval('1')",
    "open('{marker}', 'w')",
    "[x for x in (1,)]",
    "'text'",
    "x if x else x",
    "x; import os",
    "getattr(x, 'real')",
    "x.real",
    "x[0]",
]


@pytest.fixture
def no_eval(monkeypatch):
    """SymPy's eval-based parsers must never be reached with user text."""
    import sympy
    import sympy.parsing.sympy_parser as sp_parser

    def refuse(*args, **kwargs):
        raise AssertionError("sympify/parse_expr called")

    monkeypatch.setattr(sympy, "sympify", refuse)
    monkeypatch.setattr(sp_parser, "parse_expr", refuse)


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_through_graph_refused(template, tmp_path, no_eval):
    marker = tmp_path / "pwned"
    r = _run(["graph", template.format(marker=marker), "--at", "x=1"])
    assert r.exit_code == 2, r.output
    assert "error" in r.output
    assert "Traceback" not in r.output
    assert not marker.exists()


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_through_activation_expr_refused(template, tmp_path, no_eval):
    marker = tmp_path / "pwned"
    import re

    text = re.sub(r"\bx\b", "z", template.format(marker=marker))  # the variable is z here
    r = _run(["activation", "--expr", text])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert not marker.exists()


def test_injection_through_at_refused(tmp_path):
    r = _run(["graph", "x", "--at", f"x=__import__('os').system('touch {tmp_path}/p')"])
    assert r.exit_code == 2
    assert not Path(tmp_path, "p").exists()


@pytest.mark.slow
@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="no pdflatex")
@pytest.mark.parametrize("text,at", [("log(x1) + x1*x2 - sin(x2)", "x1=2,x2=5"),
                                     ("sqrt(x**2 + y^2)/abs(x) + max(x, y) - -x "
                                      "+ sigmoid(y)*erf(x) + 2**x + relu(y)", "x=1.5,y=-2")])
def test_latex_compiles(text, at, tmp_path):
    import subprocess

    tex = tmp_path / "graph.tex"
    assert _run(["graph", text, "--at", at, "-o", str(tex)]).exit_code == 0
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
