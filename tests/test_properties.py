"""Property-based tests (hypothesis): random valid specs give the gradients central finite
differences give; random invalid specs (valid TOML corrupted: wrong types, shapes, names,
non-finite numbers, missing keys, broken syntax) and random invalid command-line arguments
exit 2 with one message and no traceback.

Every bad input tried is counted; the session summary prints the count (see conftest.py).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from derive.cli import main
from derive.numeric.network import Network
from derive.spec import from_dict
from derive.symbolic.definitions import ACTIVATIONS, LOSSES

BAD_INPUTS = {"tried": 0, "tracebacks": 0}  # read by the session summary in conftest.py

SMOOTH = ["sigmoid", "tanh", "linear", "softplus", "swish", "gelu", "elu"]
# output activation -> losses it pairs with (and how targets are drawn)
OUTPUTS = {"sigmoid": ["half_sse", "sse", "mse", "bce"], "linear": ["half_sse", "sse", "mse"],
           "tanh": ["half_sse", "mse"], "softmax": ["ce", "bce", "mse"]}

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
number = st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def valid_specs(draw):
    out = draw(st.sampled_from(sorted(OUTPUTS)))
    loss = draw(st.sampled_from(OUTPUTS[out]))
    sizes = [draw(st.integers(1, 3))]
    for _ in range(draw(st.integers(0, 2))):
        sizes.append(draw(st.integers(1, 3)))
    sizes.append(draw(st.integers(2, 3)) if out == "softmax" else draw(st.integers(1, 2)))
    layers = []
    for n in range(1, len(sizes)):
        act = out if n == len(sizes) - 1 else draw(st.sampled_from(SMOOTH))
        layers.append({"activation": act,
                       "weights": [[draw(number) for _ in range(sizes[n - 1])]
                                   for _ in range(sizes[n])],
                       "biases": [draw(number) for _ in range(sizes[n])]})
    examples = []
    for _ in range(draw(st.integers(1, 3))):
        x = [draw(number) for _ in range(sizes[0])]
        k = sizes[-1]
        if loss == "ce":
            hot = draw(st.integers(0, k - 1))
            t = [1.0 if j == hot else 0.0 for j in range(k)]
        elif loss == "bce" or out == "sigmoid":
            t = [draw(st.sampled_from([0.0, 0.25, 1.0])) for _ in range(k)]
        else:
            t = [draw(number) for _ in range(k)]
        examples.append({"input": x, "target": t})
    return {"loss": loss, "learning_rate": draw(st.sampled_from([0.1, 0.5, 0.9])),
            "layers": layers, "examples": examples}


def _mean_loss(spec, params, X, T):
    net = Network(spec, params)
    nets, outs = net.forward(X)
    return float(np.mean(net.losses(outs, T, nets)))


@settings(max_examples=400, **SETTINGS)
@given(valid_specs())
def test_gradients_agree_with_central_differences(raw):
    spec = from_dict(raw)
    X = np.array([e.input for e in spec.examples])
    T = np.array([e.target for e in spec.examples])
    net = Network(spec)
    nets, outs = net.forward(X)
    grads = net.mean_gradients(net.backward(nets, outs, T), outs)
    base = [(W.copy(), b.copy()) for W, b in net.params]
    h = 1e-6
    for n, (W, b) in enumerate(base):
        for arr_index, arr in ((0, W), (1, b)):
            for idx in np.ndindex(arr.shape):
                def at(delta):
                    params = [(w.copy(), c.copy()) for w, c in base]
                    params[n][arr_index][idx] += delta
                    return _mean_loss(spec, params, X, T)

                fd = (at(h) - at(-h)) / (2 * h)
                analytic = grads[n][arr_index][idx]
                assert math.isclose(analytic, fd, rel_tol=1e-4, abs_tol=1e-6), \
                    (n, arr_index, idx, analytic, fd)


# ------------------------------------------------------------------------ invalid specs

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(v)


def to_toml(raw) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in raw.items()
             if k not in ("layers", "examples")]
    for table in ("layers", "examples"):
        for item in raw.get(table, []):
            lines.append(f"\n[[{table}]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


BAD_VALUES = st.sampled_from([float("nan"), float("inf"), float("-inf"), "x", True, [], [[1]]])


@st.composite
def corrupted(draw):
    """A valid spec's dict with one change that makes it invalid (as TOML text), or TOML text
    whose syntax is broken."""
    raw = draw(valid_specs())
    kind = draw(st.sampled_from(["number", "shape", "name", "missing", "key", "lr", "empty",
                                 "syntax", "target"]))
    layer = draw(st.integers(0, len(raw["layers"]) - 1))
    ex = draw(st.integers(0, len(raw["examples"]) - 1))
    if kind == "number":
        where = draw(st.sampled_from(["weight", "bias", "input", "target", "lr"]))
        bad = draw(BAD_VALUES)
        if where == "weight":
            raw["layers"][layer]["weights"][0][0] = bad
        elif where == "bias":
            raw["layers"][layer]["biases"][0] = bad
        elif where == "input":
            raw["examples"][ex]["input"][0] = bad
        elif where == "target":
            raw["examples"][ex]["target"][0] = bad
        else:
            raw["learning_rate"] = bad
    elif kind == "shape":
        where = draw(st.sampled_from(["row", "bias", "input", "target", "rows"]))
        if where == "row":
            raw["layers"][layer]["weights"][0].append(0.5)
        elif where == "bias":
            raw["layers"][layer]["biases"].append(0.5)
        elif where == "input":
            raw["examples"][ex]["input"].append(0.5)
        elif where == "target":
            raw["examples"][ex]["target"].append(0.5)
        else:
            raw["layers"][layer]["weights"].append(list(raw["layers"][layer]["weights"][0]))
    elif kind == "name":
        where = draw(st.sampled_from(["activation", "loss"]))
        name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10))
        assume(name not in ACTIVATIONS and name not in LOSSES and name != "custom")
        if where == "activation":
            raw["layers"][layer]["activation"] = name
        else:
            raw["loss"] = name
    elif kind == "missing":
        key = draw(st.sampled_from(["input", "target", "weights", "layers", "examples"]))
        if key in ("input", "target"):
            del raw["examples"][ex][key]
        elif key == "weights":
            del raw["layers"][layer]["weights"]
        else:
            del raw[key]
    elif kind == "key":
        key = draw(st.sampled_from(["weight", "bias", "activations", "lr", "inputs", "tagret"]))
        target = draw(st.sampled_from(["top", "layer", "example"]))
        {"top": raw, "layer": raw["layers"][layer],
         "example": raw["examples"][ex]}[target][key] = 1.0
    elif kind == "lr":
        raw["learning_rate"] = draw(st.sampled_from([0.0, -0.5, -1e9, 0]))
    elif kind == "empty":
        what = draw(st.sampled_from(["input", "target", "weights", "biases"]))
        if what in ("input", "target"):
            raw["examples"][ex][what] = []
        else:
            raw["layers"][layer][what] = []
    elif kind == "target":  # impossible for the loss
        out = raw["layers"][-1]["activation"]
        if raw["loss"] == "bce":
            raw["examples"][ex]["target"][0] = draw(st.sampled_from([-0.5, 1.5, 2.0]))
        elif raw["loss"] == "ce":
            raw["examples"][ex]["target"] = [0.6] * len(raw["examples"][ex]["target"])
        elif out != "softmax":
            raw["loss"] = "ce"  # ce without a softmax output
        else:  # softmax with mse: ce, but with targets that are not a distribution
            raw["loss"] = "ce"
            raw["examples"][ex]["target"] = [0.6] * len(raw["examples"][ex]["target"])
    text = to_toml(raw)
    if kind == "syntax":
        cut = draw(st.sampled_from(["]", "=", '"', "[["]))
        assume(cut in text)
        pos = draw(st.integers(0, text.count(cut) - 1))
        parts = text.split(cut)
        text = cut.join(parts[:pos + 1]) + cut.join(parts[pos + 1:])  # drop one occurrence
    return text


def _refused(args):
    BAD_INPUTS["tried"] += 1
    result = CliRunner().invoke(main, args)
    if "Traceback" in result.output or (result.exception is not None
                                        and not isinstance(result.exception, SystemExit)):
        BAD_INPUTS["tracebacks"] += 1
    assert "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert result.exit_code == 2, (args, result.output)
    assert result.stderr.count("rror:") == 1, result.stderr
    return result


_DIR = Path(tempfile.mkdtemp(prefix="derive-props-"))


@settings(max_examples=1000, **SETTINGS)
@given(corrupted(), st.sampled_from(["example", "train", "check"]))
def test_corrupted_specs_exit_2(text, command):
    path = _DIR / "spec.toml"
    path.write_text(text, encoding="utf-8")
    answers = _DIR / "answers.toml"
    answers.write_text("loss = 0.5\n", encoding="utf-8")
    args = {"example": ["example", "--spec", str(path)],
            "train": ["train", "--mode", "batch", "--max-epochs", "1", "--spec", str(path)],
            "check": ["check", "--spec", str(path), str(answers)]}[command]
    result = _refused(args)
    assert "spec.toml" in result.stderr  # the message names the file


# ------------------------------------------------------------------ invalid arguments

junk = st.text(alphabet="abcxyz019.,:=-_ ;eE+", max_size=12)
not_positive = st.sampled_from(["0", "-1", "-0.5", "nan", "-inf", "abc", "", "1e-400x"])


def _not_number(s):
    try:
        v = float(s)
    except ValueError:
        return True
    return not math.isfinite(v)


@st.composite
def bad_arguments(draw):
    which = draw(st.integers(0, 15))
    if which == 0:
        return ["example", "--decimals", str(draw(st.one_of(st.integers(-100, -1),
                                                           st.integers(13, 10**6))))]
    if which == 1:
        return ["example", "--lr", draw(not_positive)]
    if which == 2:
        name = draw(junk)
        assume(name not in ACTIVATIONS)
        return ["example", "--activation", name]
    if which == 3:
        name = draw(junk)
        assume(name not in LOSSES)
        return ["loss", name]
    if which == 4:
        at = draw(junk)
        assume("=" not in at or any(_not_number(p.split("=", 1)[1]) for p in at.split(",")
                                    if "=" in p) or not at.strip())
        return ["graph", "x + 1", "--at", at]
    if which == 5:
        data = draw(junk)
        assume(_bad_data(data))
        return ["descend", "--model", "c*x", "--data", data, "--param", "c=1", "--lr", "0.1"]
    if which == 6:
        return ["descend", "--preset", "shekels", "--lr", draw(not_positive)]
    if which == 7:
        return ["problems", "--kinds", "forward", "--variants",
                str(draw(st.one_of(st.integers(-10**6, 0), st.integers(10_001, 10**9)))),
                "-o", str(_DIR / "never")]
    if which == 8:
        kinds = draw(junk)
        assume(not set(k.strip() for k in kinds.split(",")) <= {"forward", "backward"})
        return ["problems", "--kinds", kinds, "-o", str(_DIR / "never")]
    if which == 9:
        return ["train", "--mode", "batch", "--max-epochs",
                str(draw(st.integers(-10**6, 0)))]
    if which == 10:
        return ["descend", "--preset", "shekels", "--steps",
                str(draw(st.one_of(st.integers(-10**6, -1), st.integers(10**6 + 1, 10**12))))]
    if which == 11:
        param = draw(junk)
        assume(not _good_param(param))
        return ["descend", "--model", "c*x", "--data", "1:2", "--param", param, "--lr", "0.1"]
    if which == 12:
        expr = draw(st.text(alphabet="xz()[]._'\"{}:;!@#$%^&*lambdaimport ", min_size=1,
                            max_size=15))
        assume(_bad_expression(expr))
        return ["activation", "--expr", expr.replace("x", "z")]
    if which == 13:
        return ["train", "--mode", "minibatch", "--batch-size",
                str(draw(st.integers(-1000, 0)))]
    if which == 14:
        fmt = draw(junk)
        assume(fmt not in ("text", "markdown", "latex", "html", "json"))
        return ["example", "--format", fmt]
    start = draw(junk)
    assume(_not_number_list(start))
    return ["descend", "--function", "x**2", "--start", start, "--lr", "0.1"]


def _not_number_list(text):
    return not text.strip() or any(_not_number(p) for p in text.split(","))


def _bad_data(text):
    pairs = text.split(",")
    return not text.strip() or any(p.count(":") != 1 or any(_not_number(v)
                                                             for v in p.split(":"))
                                   for p in pairs)


def _good_param(text):
    parts = text.split(",")
    for p in parts:
        if p.count("=") != 1:
            return False
        name, value = p.split("=")
        if name.strip() != "c" or _not_number(value):
            return False
    return len(parts) == 1


def _bad_expression(text):
    from derive.errors import DeriveError
    from derive.expr import parse

    try:
        parse(text.replace("x", "z"), ["z"])
    except DeriveError:
        return True
    return False


@settings(max_examples=1000, **SETTINGS)
@given(bad_arguments())
def test_bad_arguments_exit_2(args):
    _refused(args)


def test_bad_inputs_were_tried():
    """Runs after the properties (file order): none of them produced a traceback."""
    if BAD_INPUTS["tried"]:
        assert BAD_INPUTS["tracebacks"] == 0


def _definition(x: float, places: int):
    """The rule of DESIGN.md and derive/intervals.py, written out here one Decimal step at a
    time: the decimal a value stands for (its repr; its 15 significant digits when its repr is
    longer and they reach two places past the rounding place), rounded half away from zero."""
    from decimal import ROUND_HALF_UP, Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 80
        d = Decimal(repr(x))
        if x != 0 and len(d.as_tuple().digits) > 15:
            fifteen = Decimal(f"{x:.15g}")
            if fifteen.adjusted() - 14 <= -(places + 2):
                d = fifteen
        out = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return out.copy_abs() if out.is_zero() else out


def _half_up(x: float, places: int) -> float:
    return float(_definition(x, places)) + 0.0


# values near and on decimal ties (k + 1/2 in the last place), and anything else
_ties = st.builds(lambda k, p, e: ((k + 0.5) / 10 ** p + e, p),
                  st.integers(-10 ** 9, 10 ** 9), st.integers(0, 9),
                  st.sampled_from([0.0, 1e-17, -1e-17, 1e-15, -1e-15, 1e-12, -1e-12]))
# sums whose binary noise sits just beside a tie (the 0.33864999999999995 of 0.33865)
_noisy = st.builds(lambda a, b, p: ((a / 100) ** 2 + (b / 100) ** 2) / 2 * 10 ** -p,
                   st.integers(-99, 99), st.integers(-99, 99), st.integers(0, 3)).map(
    lambda x: (x, 5))
_any = st.tuples(st.floats(-1e9, 1e9, allow_nan=False), st.integers(0, 12))


@settings(max_examples=3000, **SETTINGS)
@given(st.one_of(_ties, _noisy, _any))
def test_round_half_up_is_the_decimal_rounding(case):
    """The fast rounding (binary scaling far from a tie) agrees bit for bit with the decimal
    definition, alone and inside arrays small and large."""
    from derive.numeric.network import round_half_up

    from derive.intervals import rounded

    x, places = case
    want = _half_up(x, places)
    assert rounded(x, places) == _definition(x, places)
    assert str(rounded(x, places)) == str(_definition(x, places))  # the same digits shown
    got = round_half_up(x, places)
    assert got == want and math.copysign(1, got) == math.copysign(1, want), (x, places)
    for n in (3, 100):  # a layer (element by element) and a batch (vectorised)
        row = round_half_up(np.full(n, x), places)
        assert row.tolist() == [want] * n, (x, places, n)


@settings(max_examples=2000, **SETTINGS)
@given(st.one_of(_ties, _noisy, st.tuples(st.floats(-999999, 999999, allow_nan=False),
                                           st.integers(0, 9))))
def test_numbers_shown_are_the_decimal_rounding(case):
    """A document's number (render.filters.number, fast away from a tie) shows the digits of
    the decimal rule at its places, trailing zeros kept, -0 as 0."""
    from render.filters import number

    x, places = case
    if abs(x) >= 1e6:
        return
    want = format(_definition(x, places), "f")
    if want.startswith("-") and not want.strip("-0."):
        want = want[1:]
    assert number(x, places) == want, (x, places)
