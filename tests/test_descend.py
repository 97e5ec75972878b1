"""derive descend: fits against hand-derived gradients, divergence and crawling, the presets,
minimisation runs, stationary points against numpy.roots and bisection, the CLI's contract."""

from __future__ import annotations

import json
import math
import subprocess
import xml.dom.minidom

import numpy as np
import pytest
from click.testing import CliRunner

from derive.cli import main
from derive.numeric import descend as dsc


def run_json(*args):
    r = CliRunner().invoke(main, ["descend", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


# --- fitting ----------------------------------------------------------------------------------

def ref_fit_cx(xs, ys, c, lr, steps):
    """c*x by hand: L = mean (c x - y)^2, dL/dc = mean 2 (c x - y) x."""
    out = []
    for k in range(steps + 1):
        loss = sum((c * x - y) ** 2 for x, y in zip(xs, ys)) / len(xs)
        grad = sum(2 * (c * x - y) * x for x, y in zip(xs, ys)) / len(xs)
        out.append((k, c, loss, grad))
        c = c - lr * grad
    return out


def test_design_example_matches_a_hand_recomputation():
    d = run_json("--model", "c*x", "--data", "10:36.7,20:73.4", "--param", "c=3", "--lr",
                 "0.001", "--steps", "10")
    assert set(d) >= {"steps", "diverged"} and d["diverged"] is False
    ref = ref_fit_cx([10, 20], [36.7, 73.4], 3.0, 0.001, 10)
    assert len(d["steps"]) == 11 and d["steps"][0]["step"] == 0
    for s, (k, c, loss, grad) in zip(d["steps"], ref):
        assert set(s) == {"step", "params", "loss", "gradient"}
        assert s["step"] == k
        assert s["params"]["c"] == pytest.approx(c, rel=1e-13)
        assert s["loss"] == pytest.approx(loss, rel=1e-12, abs=1e-12)
        assert s["gradient"]["c"] == pytest.approx(grad, rel=1e-12, abs=1e-12)
    # and the error of c halves every step: 1 - eta * 2 * mean(x^2) = 1 - 0.001 * 500 = 0.5
    assert d["steps"][10]["params"]["c"] - 3.67 == pytest.approx((3 - 3.67) * 0.5 ** 10)


def test_two_parameter_gradient_is_the_finite_difference_of_the_loss():
    model = dsc.compile_model("a*x + b", ["a", "b"])
    xs, ys = [1.0, 2.0, 4.0], [3.0, 4.5, 9.0]
    run = dsc.fit(model, xs, ys, {"a": 0.3, "b": -0.2}, 0.01, 3)

    def loss(a, b):
        return sum((a * x + b - y) ** 2 for x, y in zip(xs, ys)) / 3

    h = 1e-6
    for s in run.steps:
        a, b = s["params"]["a"], s["params"]["b"]
        assert s["loss"] == pytest.approx(loss(a, b), rel=1e-13)
        assert s["gradient"]["a"] == pytest.approx((loss(a + h, b) - loss(a - h, b)) / (2 * h),
                                                   abs=1e-7)
        assert s["gradient"]["b"] == pytest.approx((loss(a, b + h) - loss(a, b - h)) / (2 * h),
                                                   abs=1e-7)


def test_divergence_is_detected_and_said_plainly():
    d = run_json("--model", "c*x", "--data", "10:36.7,20:73.4", "--param", "c=3", "--lr",
                 "0.02", "--steps", "10")
    assert d["diverged"] is True
    losses = [s["loss"] for s in d["steps"]]
    assert all(b > a for a, b in zip(losses, losses[1:]))  # grew every step
    r = CliRunner().invoke(main, ["descend", "--model", "c*x", "--data", "10:36.7,20:73.4",
                                  "--param", "c=3", "--lr", "0.02", "--steps", "10"])
    assert "diverges: the learning rate 0.02 is too large" in r.output
    assert "grew for 10 steps in a row" in r.output


def test_divergence_needs_three_growing_steps():
    v = dsc.verdict([5, 6, 7, 6, 5, 4], [1, 1, 1, 1, 1, 0.5], 0.1)
    assert not v.diverged and v.growth_steps == 2
    v = dsc.verdict([5, 6, 7, 8, 7], [1, 1, 1, 1, 1], 0.1)
    assert v.diverged and v.growth_steps == 3 and "3 steps in a row" in v.message


def test_non_finite_loss_stops_the_run_and_is_divergence():
    model = dsc.compile_model("c*x", ["c"])
    run = dsc.fit(model, [1e100], [1.0], {"c": 1.0}, 1.0, 50)
    assert run.verdict.diverged and "no longer a finite number" in run.verdict.message
    assert len(run.steps) < 51
    json.dumps(run.to_dict(), allow_nan=False)  # non-finite values become null


def test_crawling_is_detected_and_said_plainly():
    d = run_json("--preset", "shekels", "--lr", "0.0001")
    assert d["diverged"] is False and d["crawling"] is True
    # the error of c shrinks by 1 - 0.0001 * 500 = 0.95 a step: after 10 steps 0.95^10 = 60 %
    g = [s["gradient"]["c"] for s in d["steps"]]
    assert g[-1] / g[0] == pytest.approx(0.95 ** 10)
    assert "too small" in d["message"] and "60%" in d["message"]


def test_converging_run_is_neither_diverging_nor_crawling():
    d = run_json("--preset", "shekels")
    assert not d["diverged"] and not d["crawling"] and d["converged"]


def test_several_rates_side_by_side_with_one_picture(tmp_path):
    d = run_json("--preset", "shekels", "--lr", "0.0001,0.001,0.02")
    assert [r["lr"] for r in d["runs"]] == [0.0001, 0.001, 0.02]
    assert [(r["crawling"], r["converged"], r["diverged"]) for r in d["runs"]] == [
        (True, False, False), (False, True, False), (False, False, True)]
    out = tmp_path / "rates.md"
    r = CliRunner().invoke(main, ["descend", "--preset", "shekels", "--lr",
                                  "0.0001,0.001,0.02", "-o", str(out)])
    assert r.exit_code == 0, r.output
    svg = xml.dom.minidom.parse(str(tmp_path / "rates-descent.svg"))
    assert len(svg.getElementsByTagName("polyline")) == 3
    text = out.read_text()
    assert "(rates-descent.svg)" in text and "η = 0.02" in text


def test_presets_state_their_data_and_use_it():
    d = run_json("--preset", "shekels")
    assert d["data"] == [[10.0, 36.7], [20.0, 73.4]] and d["model"] == "c*x"
    assert "3.67" in d["preset"]["description"]
    assert d["steps"][0]["params"] == {"c": 3.0}
    for x, y in d["data"]:
        assert y / x == pytest.approx(3.67)
    m = run_json("--preset", "miles")
    assert "0.621371" in m["preset"]["description"]
    for x, y in m["data"]:
        assert y / x == pytest.approx(0.621371)
        assert x / y == pytest.approx(1.609344, rel=1e-6)  # the mile's definition
    assert m["converged"] or m["steps"][-1]["params"]["c"] == pytest.approx(0.621371, rel=0.01)
    text = CliRunner().invoke(main, ["descend", "--preset", "miles"]).output
    assert "kilometres to miles" in text and "0.621371" in text


def test_preset_values_can_be_overridden():
    d = run_json("--preset", "shekels", "--param", "c=1", "--steps", "3")
    assert d["steps"][0]["params"]["c"] == 1.0 and len(d["steps"]) == 4


# --- minimising a function; stationary points -------------------------------------------------

F = "x**4 - 3*x**2 + x"


def f(x):
    return x ** 4 - 3 * x ** 2 + x


def df(x):
    return 4 * x ** 3 - 6 * x + 1


def test_function_runs_match_a_hand_loop():
    d = run_json("--function", F, "--start", "-2,0.5,2", "--lr", "0.01", "--steps", "200")
    assert [r["start"] for r in d["runs"]] == [-2.0, 0.5, 2.0]
    for run in d["runs"]:
        x = run["start"]
        for s in run["steps"]:
            assert set(s) >= {"step", "x", "value", "gradient"}
            assert s["x"] == pytest.approx(x, abs=1e-12)
            assert s["value"] == pytest.approx(f(x), abs=1e-12)
            assert s["gradient"] == pytest.approx(df(x), abs=1e-12)
            x = x - 0.01 * df(x)
        assert run["end"] == run["steps"][-1]["x"]
        assert run["diverged"] is False


def test_stationary_points_against_numpy_roots_and_their_kinds():
    d = run_json("--function", F, "--start", "-2,0.5,2", "--lr", "0.01", "--steps", "200")
    roots = sorted(r.real for r in np.roots([4, 0, -6, 1]) if abs(r.imag) < 1e-12)
    pts = d["stationary_points"]
    assert [p["x"] for p in pts] == pytest.approx(roots, abs=1e-12)
    assert [p["value"] for p in pts] == pytest.approx([f(r) for r in roots], abs=1e-12)
    assert [p["kind"] for p in pts] == ["global_min", "local_max", "local_min"]
    # the starts find the minima they should: -2 -> the global one, 0.5 and 2 -> the local one
    ends = [r["end"] for r in d["runs"]]
    assert ends == pytest.approx([roots[0], roots[2], roots[2]], abs=1e-6)


def _bisect(g, a, b):
    for _ in range(200):
        m = (a + b) / 2
        if (g(a) < 0) == (g(m) < 0):
            a = m
        else:
            b = m
    return (a + b) / 2


@pytest.mark.parametrize("text,expect", [
    ("x**3 - 3*x", [(-1.0, "local_max"), (1.0, "local_min")]),  # unbounded: nothing global
    ("x**3", [(0.0, "saddle")]),
    ("-(x**2) + 4*x", [(2.0, "global_max")]),
    ("x**4", [(0.0, "global_min")]),
])
def test_classification_of_simple_cases(text, expect):
    d = run_json("--function", text, "--start", "0.3", "--lr", "0.01", "--steps", "5")
    got = [(p["x"], p["kind"]) for p in d["stationary_points"]]
    assert [k for _, k in got] == [k for _, k in expect]
    assert [x for x, _ in got] == pytest.approx([x for x, _ in expect], abs=1e-12)


def test_transcendental_function_found_numerically_agrees_with_bisection():
    d = run_json("--function", "sin(x) + x/5", "--start", "-1,1", "--lr", "0.1", "--steps",
                 "20")

    def g(x):
        return math.cos(x) + 0.2

    xs = [p["x"] for p in d["stationary_points"]]
    assert xs, d
    for x in xs:
        assert abs(g(x)) < 1e-9
    # every root of cos x = -0.2 in the searched interval [-6, 6] is there
    want = [_bisect(g, a, b) for a, b in ((-5, -4), (-2, -1.5), (1.5, 2), (4, 5))]
    assert xs == pytest.approx(want, abs=1e-9)
    kinds = [p["kind"] for p in d["stationary_points"]]
    assert kinds == ["local_max", "local_min", "local_max", "local_min"]


def test_function_text_and_picture():
    r = CliRunner().invoke(main, ["descend", "--function", F, "--start", "-2,0.5,2", "--lr",
                                  "0.01", "--steps", "200"])
    assert r.exit_code == 0, r.output
    assert "global minimum" in r.output and "local maximum" in r.output
    assert "From x = 0.5: 200 steps" in r.output and "stationary points" in r.output


def test_function_divergence_said_plainly():
    d = run_json("--function", F, "--start", "3", "--lr", "0.5", "--steps", "30")
    assert d["runs"][0]["diverged"] is True
    json.dumps(d, allow_nan=False)


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["--preset", "shekels", "--lr", "0.0001,0.001,0.02"],
    ["--preset", "miles"],
    ["--function", F, "--start", "-2,0.5,2", "--lr", "0.01", "--steps", "200"],
])
def test_latex_compiles_with_pdflatex(tmp_path, args):
    out = tmp_path / "d.tex"
    r = CliRunner().invoke(main, ["descend", *args, "-o", str(out)])
    assert r.exit_code == 0, r.output
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "d.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_same_input_gives_byte_identical_output():
    for fmt in ("json", "text", "markdown", "latex"):
        args = ["descend", "--function", F, "--start", "-2,2", "--lr", "0.01", "--format", fmt]
        assert CliRunner().invoke(main, args).output == CliRunner().invoke(main, args).output


@pytest.mark.parametrize("args,needle", [
    ([], "--model"),
    (["--model", "c*x", "--data", "10:36.7", "--param", "c=3"], "--lr"),
    (["--model", "c*x", "--data", "10:36.7", "--param", "c=3", "--lr", "-1"], "--lr"),
    (["--model", "c*x", "--data", "10-36.7", "--param", "c=3", "--lr", "0.1"], "x:y"),
    (["--model", "c*x", "--data", "10:abc", "--param", "c=3", "--lr", "0.1"], "not a number"),
    (["--model", "c*x", "--data", "10:1", "--param", "c", "--lr", "0.1"], "name=value"),
    (["--model", "c*x + d", "--data", "10:1", "--param", "c=1", "--lr", "0.1"], "unknown name"),
    (["--model", "c*x", "--data", "10:1", "--param", "c=1,k=2", "--lr", "0.1"], "does not use"),
    (["--model", "__import__('os')", "--data", "10:1", "--param", "c=1", "--lr", "0.1"],
     "not part of an expression"),  # the quote is refused before any name is looked at
    (["--model", "__import__(os)", "--data", "10:1", "--param", "c=1", "--lr", "0.1"],
     "unknown function"),
    (["--model", "c.real*x", "--data", "10:1", "--param", "c=1", "--lr", "0.1"], "--model"),
    (["--preset", "shekels", "--steps", "-1"], "--steps"),
    (["--preset", "yen"], "yen"),
    (["--function", "x**2"], "--start"),
    (["--function", "x**2", "--start", "1,,2", "--lr", "0.1"], "--start"),
    (["--function", "x**2", "--start", "1", "--lr", "0.1,0.2"], "one learning rate"),
    (["--function", "x**2", "--start", "1", "--lr", "0.1", "--preset", "miles"], "--preset"),
    (["--function", "y**2", "--start", "1", "--lr", "0.1"], "unknown name"),
    (["--function", "3", "--start", "1", "--lr", "0.1"], "does not depend on x"),
    (["--model", "c*x", "--data", "1:1", "--param", "c=1", "--lr", "0.1", "--start", "1"],
     "--start"),
])
def test_bad_input_exits_2_with_one_message(args, needle):
    r = CliRunner().invoke(main, ["descend", *args])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output


def test_periodic_function_extrema_are_global():
    # sin oscillates between -1 and 1 at +-oo (SymPy: AccumBounds), so every minimum is global
    d = run_json("--function", "sin(x)", "--start", "1", "--lr", "0.1", "--steps", "5")
    pts = d["stationary_points"]
    assert pts and all(abs(math.cos(p["x"])) < 1e-9 for p in pts)
    assert all(p["kind"] == ("global_max" if p["value"] > 0 else "global_min") for p in pts)


def test_progress_is_reported_on_long_runs():
    calls = []
    model = dsc.compile_model("c*x", ["c"])
    dsc.fit(model, [1.0], [2.0], {"c": 0.0}, 0.1, 2500, lambda k, n: calls.append((k, n)))
    assert calls == [(0, 2500), (1000, 2500), (2000, 2500)]


def test_a_gradient_that_reaches_zero_is_said_to_be_zero():
    """x² from 1 with η = 0.5 lands on 0 in one step (x - 0.5·2x = 0): the gradient is then
    exactly 0, which is a stationary point, not "0 of its starting size"."""
    import derive

    run = derive.descend(function="x**2", start=[1.0], lr=0.5, steps=3).runs[0]
    assert run["end"] == 0.0
    text = derive.descend(function="x**2", start=[1.0], lr=0.5, steps=3).to_text()
    assert "the gradient is exactly 0 (a stationary point)" in text
    assert "0 of its starting size" not in text
