"""What a newcomer reads in the terminal (issue 17): one-line formulas, fixed places, layout
measured by display width, dead units named, custom activations read right, the CLI's habits
(python -m derive, shell completion, train's required --mode).

Every expected value here comes from an independent route: SymPy reading the printed formula
back, Decimal rounding of values recomputed by hand, unicodedata for widths."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner
from sympy.parsing.sympy_parser import (implicit_multiplication, parse_expr,
                                        standard_transformations)

import derive
from derive.cli import main
from derive.symbolic import cache, derivation
from derive.symbolic.definitions import ACTIVATIONS, LOSSES, activation_def, loss_def
from derive.symbolic.oneline import oneline
from render import filters, plot

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def run(*args, **kwargs):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, prog_name="derive",
                              **kwargs)


def columns(text: str) -> int:
    """Terminal columns of a line, by Unicode's own tables (independent of render.filters)."""
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


# --- 4. one line of Unicode for every formula -------------------------------------------------

_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SYMBOLS = {name: sp.Symbol(name, real=True) for name in ("z", "a", "o", "t", "i")}
_SYMBOLS.update(alpha=sp.Symbol("alpha", positive=True), S=sp.Symbol("S", positive=True),
                K=sp.Symbol("K", positive=True), e=sp.E, pi=sp.pi)


def _functions() -> dict:
    """The functions a derivation's last step writes f′ with (relu(z), softplus(z), ...):
    each activation's own definition, applied to its argument."""
    from derive.expr import parse

    out = {}
    for act_name, defn in ACTIVATIONS.items():
        f = parse(defn.expression, ["z", "alpha", "S"]).subs(
            {sp.Symbol(n, real=True): _SYMBOLS[n] for n in ("alpha", "S")})
        out[act_name] = (lambda f: (lambda x: f.subs(_SYMBOLS["z"], x)))(f)
    return out


def read_oneline(text: str):
    """The one-line form read back by SymPy's own parser, through a conversion written here:
    superscripts to **, · to *, − to -, √ to sqrt, |x| to Abs, σ to sigmoid, Greek to names;
    juxtaposition (a(1 − a), 2o) by SymPy's implicit multiplication."""
    from derive.symbolic.primitives import sigmoid

    s = text.replace("−", "-").replace("·", "*").replace("^", "**").replace("π", "pi")
    s = s.replace("α", "alpha").replace("σ(", "sigmoid(")
    s = re.sub(r"([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", lambda m: "**" + m.group(1).translate(_SUPER), s)
    s = re.sub(r"\|([^|]*)\|", r"Abs(\1)", s)
    s = re.sub(r"√\(", "sqrt(", s)
    s = re.sub(r"√(\w+)", r"sqrt(\1)", s)
    local = {**_SYMBOLS, **_functions(), "sigmoid": sigmoid}
    return parse_expr(s, local_dict=local,
                      transformations=standard_transformations + (implicit_multiplication,))


def read_record(text: str):
    from derive.symbolic.primitives import sigmoid, softplus

    return sp.sympify(text, locals={**_SYMBOLS, **_functions(), "sigmoid": sigmoid,
                                    "softplus": softplus})


def _spellings():
    """(where, spelling) for every formula the terminal shows that has no derivative and no
    piecewise branches (those are checked by their own tests below)."""
    out = []
    for name, defn in ACTIVATIONS.items():
        rec = cache.activation(defn)
        for key in ("function", "derivative", "derivative_from_output"):
            if rec[key]:
                out.append((f"{name}.{key}", rec[key]))
        out += [(f"{name}.step{n}", s) for n, s in enumerate(rec["steps"])]
    for name, defn in LOSSES.items():
        rec = cache.loss(defn)
        out += [(f"{name}.{key}", rec[key]) for key in ("loss", "dE_do", "minus_dE_do")]
        out += [(f"{name}.step{n}", s) for n, s in enumerate(rec["steps"])]
        for act in ("sigmoid", "tanh", "relu", "softplus", "swish", "gelu", "linear", "elu"):
            out.append((f"{name}+{act}.Err", cache.pairing(defn, activation_def(act))["Err"]))
    return [(w, s) for w, s in out
            if "Derivative" not in s["expression"] and "Piecewise" not in s["expression"]
            and "KroneckerDelta" not in s["expression"] and "erf" not in s["expression"]
            or ("erf" in s["expression"] and "Derivative" not in s["expression"])]


@pytest.mark.parametrize("where,spelling", _spellings(), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_one_line_form_reads_back_as_the_expression(where, spelling):
    text = spelling["text"]
    assert "\n" not in text and text.strip() == text, where
    got = read_oneline(text)
    want = read_record(spelling["expression"])
    point = {_SYMBOLS["z"]: 0.37, _SYMBOLS["a"]: 0.41, _SYMBOLS["o"]: 0.63,
             _SYMBOLS["t"]: 0.8, _SYMBOLS["i"]: -0.52, _SYMBOLS["alpha"]: 0.3,
             _SYMBOLS["S"]: 1.7, _SYMBOLS["K"]: 3}
    g, w = complex(sp.N(got.subs(point))), complex(sp.N(want.subs(point)))
    assert abs(g - w) <= 1e-12 * max(1.0, abs(w)), (where, text, spelling["expression"])


def test_one_line_forms_read_as_on_the_slides():
    z, a, o, t = (_SYMBOLS[n] for n in "zaot")
    assert oneline((1 - o**2) * (t - o)) == "(1 − o²)(t − o)"
    assert oneline(a * (1 - a)) == "a(1 − a)"
    assert oneline(sp.exp(-z) / (1 + sp.exp(-z))**2) == "e^(−z)/(1 + e^(−z))²"
    assert oneline(sp.Derivative(1 + sp.exp(-z), z)) == "d/dz (1 + e^(−z))"
    assert oneline(z / (1 + sp.Abs(z))) == "z/(|z| + 1)"
    assert oneline(sp.Symbol("x", real=True)**4 - 3 * sp.Symbol("x", real=True)**2
                   + sp.Symbol("x", real=True)) == "x⁴ − 3x² + x"


# every elementwise activation with a gradient, with every loss it can be trained with
COMBINATIONS = [(act, loss) for act, d in ACTIVATIONS.items() if d.elementwise and act != "step"
                for loss in ("half_sse", "sse", "mse", "bce")
                if loss != "bce" or act in ("sigmoid",)]


@pytest.mark.parametrize("act,loss", COMBINATIONS)
def test_worked_example_writes_every_formula_on_one_line(act, loss):
    text = derive.example(activation=act, loss=loss).to_text()
    assert "see LaTeX" not in text
    # SymPy's two-dimensional drawing (fraction bars, big brackets) never reaches the terminal
    assert not re.search(r"[⎛⎜⎝⎞⎟⎠⎧⎨⎩⎪]|─{3,}\s*$", text.split("1. The network")[0] +
                         text.split("6. Update")[0].split("2. The activation")[1]), (act, loss)
    line = next(ln for ln in text.splitlines() if "output unit:" in ln)
    err = cache.pairing(loss_def(loss), activation_def(act))["Err"]["text"]
    assert line.endswith("= " + err) and err


def test_tanh_error_term_is_written_as_on_the_slides():
    r = run("example", "--activation", "tanh")
    assert "output unit:  Err = −∂E/∂o · f′(i) = (1 − o²)(t − o)" in r.output
    assert "tanh′ = 1 − a²" in r.output


def test_no_template_falls_back_to_latex():
    for path in (ROOT / "templates").rglob("*.j2"):
        assert "see LaTeX" not in path.read_text(), path


# --- 5. fixed places ----------------------------------------------------------------------

def _shown(x: float, places: int) -> str:
    q = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format(abs(q) if q == 0 else q, "f").replace("-", "−")


def test_update_table_keeps_its_places():
    """Every row of the lecture's update table, recomputed here by hand: the increment at 4
    places (0.0620, not 0.062), old and new values at 3 (0.200 -> 0.192, 0.400 -> 0.400)."""
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    x, t, eta = [1, 0, 1], 1.0, 0.9
    W1, b1 = [[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]], [-0.4, 0.2]
    W2, b2 = [-0.3, -0.2], 0.1
    h = [sig(sum(w * xi for w, xi in zip(row, x)) + b) for row, b in zip(W1, b1)]
    o = sig(sum(w * hj for w, hj in zip(W2, h)) + b2)
    err6 = (t - o) * o * (1 - o)
    errs = [hj * (1 - hj) * w * err6 for hj, w in zip(h, W2)]
    rows = []
    for k, (row, b, e) in enumerate(zip(W1, b1, errs)):
        for j, w in enumerate(row):
            rows.append((f"w{j + 1}_{k + 4}", w, eta * e * x[j]))
        rows.append((f"b{k + 4}", b, eta * e))
    for j, w in enumerate(W2):
        rows.append((f"w{j + 4}_6", w, eta * err6 * h[j]))
    rows.append(("b6", b2, eta * err6))
    text = run("example").output
    table = text.split("6. Update")[1]
    for name, old, delta in rows:
        shown = [filters.text_name(name), _shown(old, 3), _shown(delta, 4),
                 _shown(old + delta, 3)]
        assert re.search(r"\s+".join(map(re.escape, shown)), table), shown
    assert "0.0620" in table  # w5_6's increment, 0.062 to 3 places


def test_forward_pass_values_at_the_places_asked():
    text = run("example", "--decimals", "4").output
    assert "i₄ = 1×0.2 + 0×0.4 + 1×(−0.5) + (−0.4) = −0.7000" in text
    assert "o₄ = σ(−0.7000) = 0.3318" in text


@pytest.mark.parametrize("bad", ["0", "7", "-1"])
@pytest.mark.parametrize("command", [["example"], ["train", "--mode", "batch"],
                                     ["descend", "--preset", "shekels"]])
def test_decimals_from_1_to_6_only(command, bad):
    r = CliRunner().invoke(main, [*command, "--decimals", bad])
    assert r.exit_code == 2 and "1<=x<=6" in r.output
    with pytest.raises(derive.DeriveError, match="from 1 to 6"):
        derive.example(decimals=int(bad))


def test_check_shows_expected_at_the_places_its_heading_names(tmp_path):
    """Err6 given to 2 and to 6 places: the expected column shows 4, as the heading says."""
    path = tmp_path / "a.toml"
    path.write_text("o4 = 0.332\nErr6 = 0.13\nErr4 = -0.008724\n")
    out = run("check", str(path)).output
    assert "values to 3 places, error terms to 4" in out
    rows = {ln.split()[1]: ln.split() for ln in out.splitlines()
            if ln[:1] in ("✓", "✗") and ln[1:3] == "  "}  # the table's rows, not the notes
    assert rows["Err₆"][3] == "0.1312" and rows["Err₄"][3] == "−0.0087"
    assert rows["o₄"][3] == "0.332"


# --- 6. layout by display width ------------------------------------------------------------

def _underlined(text: str):
    lines = text.splitlines()
    return [(lines[n - 1], line) for n, line in enumerate(lines) if n and set(line) == {"═"}]


@pytest.mark.parametrize("args", [
    ["descend", "--preset", "shekels"],
    ["descend", "--function", "x**4 - 3*x**2 + x", "--start", "1", "--lr", "0.01",
     "--steps", "5"],
    ["example"], ["activation", "tanh"], ["loss", "bce"],
])
def test_title_underlines_are_as_wide_as_their_titles(args):
    pairs = _underlined(run(*args).output)
    assert pairs, args
    for title, rule in pairs:
        assert len(rule) == columns(title), (title, rule)


def test_underline_measures_wide_and_combining_characters(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text((ROOT / "examples" / "lecture.toml").read_text().replace(
        'title = "Will a student get a B- or better?"',
        'title = "学生 Ünïcöde\u0301 ok"'))
    out = run("example", "--spec", str(spec)).output
    title, rule = out.splitlines()[:2]
    assert title == "学生 Ünïcöde\u0301 ok" and len(rule) == columns(title) == 15


def test_descend_with_three_rates_fits_100_columns():
    out = run("descend", "--preset", "shekels", "--lr", "0.0001,0.001,0.02").output
    for line in out.splitlines():
        if "│" in line or "─" in line or re.match(r"\s+\d+\s", line):
            assert columns(line) <= 100, line
    # every run's every step is still there: 11 rows for each of the three rates
    for rate in ("0.0001", "0.001", "0.02"):
        assert f"η = {rate}" in out
    table = out.split("\n   step ", 1)[1].split("η = 0.0001:")[0]
    steps = [ln for ln in table.splitlines() if re.match(r"\s+10\s", ln)]
    assert sum(len(re.findall(r"[−\d.e]+", ln)) - 1 for ln in steps) == 9


def test_graph_trace_columns_line_up():
    out = run("graph", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5").output
    forward = out.split("Forward primal trace")[1].split("Reverse")[0].splitlines()[3:10]
    ends = {columns(line) for line in forward if line.strip()}
    assert len(ends) == 1, forward  # values right-aligned in one column
    eq = {line.rindex("=") for line in forward if line.strip()}
    assert len(eq) == 1, forward
    back = out.split("Reverse adjoint trace")[1].split("\n\n")[0].splitlines()[3:]
    assert len({columns(line) for line in back}) == 1, back
    assert len({line.rindex("=") for line in back}) == 1, back
    for value in ("0.6931", "10.0000", "−0.9589", "11.6521", "5.5000", "1.7163"):
        assert value in out


def test_plots_use_the_minus_sign_of_the_text():
    chart = {"title": "t", "xlabel": "x", "ylabel": "y", "log_y": False,
             "series": [{"label": "s", "kind": "line", "points": [[-2.6, -1.5], [3.0, 2.0]]}]}
    text, svg = plot.text(chart), plot.svg(chart)
    assert "−2.6" in text and "−1.5" in text and "-2.6" not in text and "-1.5" not in text
    labels = re.findall(r">([^<]*)</text>", svg)
    assert any(lab.startswith("−") for lab in labels)
    assert not any(re.match(r"-\d", lab) for lab in labels)


# --- 7. a dead unit is named where it happens -------------------------------------------------

def test_relu_dead_unit_is_named_in_every_format():
    ex = derive.example(activation="relu")
    assert ex.forward["o4"] == 0.0 and ex.backward["Err4"] == 0.0  # it is dead
    text = ex.to_text()
    fwd, back, upd = (text.split("3. Forward")[1].split("4. Loss")[0],
                      text.split("5. Backward")[1].split("6. Update")[0],
                      text.split("6. Update")[1])
    assert "unit 4 is dead: relu is flat at i₄ = −0.700 (relu′(i₄) = 0)" in fwd
    assert "relu′(i₄) = 0 stops whatever error comes back, so Err₄ = 0" in back
    assert "w₁,₄, w₂,₄, w₃,₄ and b₄ keep their values, and so does w₄,₆, since o₄ = 0" in upd
    assert "unit 5 is dead" not in text.lower()
    for fmt in ("markdown", "latex", "html"):
        doc = ex.render(fmt)
        assert doc.lower().count("unit 4 is dead") == 3, fmt
        assert "units can die" in doc


def test_no_dead_unit_no_note():
    text = derive.example(spec=str(ROOT / "examples" / "relu.toml")).to_text()
    assert "is dead" not in text and "units can die" not in text


# --- 9. a custom activation, read right -----------------------------------------------------

def test_custom_activation_ranges_and_output_form():
    out = run("activation", "--expr", "z/(1 + abs(z))").output
    assert "in terms of the output: −1 < a < −0.9, 0.9 < a < 1" in out  # 1 never reached
    assert "f′ = {(a − 1)² if a ≥ 0; (a + 1)² otherwise}" in out
    assert "custom" not in out.split("Derivation")[1]
    assert "write with f(z) itself" in out and "(f(z) − 1)²" in out
    data = json.loads(run("activation", "--expr", "z/(1 + abs(z))", "--format", "json").output)
    form = read_record(data["derivative_from_output"])
    # the form agrees with SymPy's own derivative, through a = f(z), on both sides of 0
    z = _SYMBOLS["z"]
    f = z / (1 + sp.Abs(z))
    for z0 in (-3.1, -0.4, 0.0, 0.5, 7.0):
        a0 = float(f.subs(z, z0))
        assert float(form.subs(_SYMBOLS["a"], a0)) == pytest.approx(
            float(sp.diff(f, z).subs(z, z0)) if z0 else 1.0, abs=1e-12)


@pytest.mark.parametrize("expression", ["where(z > 0, z, 0.01*z)",
                                        "where(z > 0, z, exp(z) - 1)", "z/(1 + abs(z))",
                                        "where(z > 1, z, z/2)", "z/(2 + abs(z))"])
def test_output_form_conditions_name_the_output_simply(expression):
    """Each branch of an output form is named by a bound on a itself (a ≥ 0, a > 1/2), never by
    the branch's condition on z rewritten through the inverse (a/(a − 1) ≤ 0)."""
    from derive.documents.derivations import custom_definition

    rec = cache.activation(custom_definition(expression))
    form = read_record(rec["derivative_from_output"]["expression"])
    assert isinstance(form, sp.Piecewise), form
    a = _SYMBOLS["a"]
    for _, cond in form.args:
        for rel in ([cond] if not isinstance(cond, sp.And) else cond.args):
            if rel == sp.true:
                continue
            assert isinstance(rel, sp.Rel) and {rel.lhs, rel.rhs} & {a}, rel
            other = rel.rhs if rel.lhs == a else rel.lhs
            assert other.is_number, (expression, rel)


# --- 10. train says that --mode is required ---------------------------------------------------

def test_train_help_says_mode_is_required():
    out = run("train", "--help").output
    assert out.startswith("Usage: derive train --mode batch|sgd|minibatch [OPTIONS]")
    assert "Required (or --compare-modes)" in " ".join(out.split())
    r = CliRunner().invoke(main, ["train"])
    assert r.exit_code == 2
    assert "--mode is required: --mode batch, --mode sgd or --mode minibatch" in r.output


# --- 3. python -m derive, shell completion ----------------------------------------------------

def test_python_m_derive_runs_the_command(tmp_path):
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "derive", "example", "--format", "json"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["forward"]["o4"] == pytest.approx(0.331812, abs=1e-6)
    r = subprocess.run([sys.executable, "-m", "derive", "--help"], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.stdout.startswith("Usage: derive ")


def _complete(args, incomplete):
    from click.shell_completion import ShellComplete

    comp = ShellComplete(main, {}, "derive", "_DERIVE_COMPLETE")
    return [c.value for c in comp.get_completions(args, incomplete)]


def test_shell_completion_knows_activations_and_losses():
    assert _complete(["example", "--activation"], "ta") == ["tanh"]
    layer = _complete(["example", "--activation"], "")
    assert "relu" in layer and "step" not in layer and "softmax" not in layer
    assert _complete(["example", "--loss"], "") == list(LOSSES)
    assert _complete(["activation"], "s") == [n for n in ACTIVATIONS if n.startswith("s")]
    assert _complete(["loss"], "b") == ["bce"]
    assert "softmax" in _complete(["loss", "ce", "--output-activation"], "so")
    assert _complete(["problems", "--activation"], "l") == ["linear", "leaky_relu"]
    # and the shell's own protocol, as `eval "$(_DERIVE_COMPLETE=bash_source derive)"` uses it
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT),
           "_DERIVE_COMPLETE": "bash_complete", "COMP_WORDS": "derive loss h", "COMP_CWORD": "2"}
    r = subprocess.run([sys.executable, "-m", "derive"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.stdout.split() == ["plain,half_sse"]
