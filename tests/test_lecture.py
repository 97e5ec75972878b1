"""The lecture's worked example, number for number (DESIGN.md's table)."""

import math

import pytest

from derive.numeric.network import round_half_up, step
from derive.spec import LECTURE


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def reference_step():
    """The slides' computation written out by hand, independently of derive's engine."""
    x1, x2, x3, t, eta = 1.0, 0.0, 1.0, 1.0, 0.9
    w = {"w1_4": 0.2, "w2_4": 0.4, "w3_4": -0.5, "w1_5": -0.3, "w2_5": 0.1, "w3_5": 0.2,
         "w4_6": -0.3, "w5_6": -0.2}
    b = {"b4": -0.4, "b5": 0.2, "b6": 0.1}
    i4 = x1 * w["w1_4"] + x2 * w["w2_4"] + x3 * w["w3_4"] + b["b4"]
    i5 = x1 * w["w1_5"] + x2 * w["w2_5"] + x3 * w["w3_5"] + b["b5"]
    o4, o5 = sigmoid(i4), sigmoid(i5)
    i6 = o4 * w["w4_6"] + o5 * w["w5_6"] + b["b6"]
    o6 = sigmoid(i6)
    err6 = o6 * (1 - o6) * (t - o6)
    err5 = o5 * (1 - o5) * err6 * w["w5_6"]
    err4 = o4 * (1 - o4) * err6 * w["w4_6"]
    o = {"o1": x1, "o2": x2, "o3": x3, "o4": o4, "o5": o5}
    err = {"4": err4, "5": err5, "6": err6}
    new = {}
    for name, value in w.items():
        j, k = name[1:].split("_")
        new[name] = value + eta * err[k] * o[f"o{j}"]
    for name, value in b.items():
        new[name] = value + eta * err[name[1:]]
    forward = {"i4": i4, "o4": o4, "i5": i5, "o5": o5, "i6": i6, "o6": o6}
    backward = {"Err6": err6, "Err5": err5, "Err4": err4}
    return 0.5 * (t - o6) ** 2, forward, backward, new


def test_exact_chain_matches_an_independent_computation():
    loss, forward, backward, new = reference_step()
    trace = step(LECTURE)
    assert trace.loss == pytest.approx(loss, abs=1e-12)
    for name, value in {**forward, **backward}.items():
        got = trace.forward.get(name, trace.backward.get(name))
        assert got == pytest.approx(value, abs=1e-12), name
    for name, value in new.items():
        assert trace.update[name] == pytest.approx(value, abs=1e-12), name


def test_exact_chain_matches_design_json_figures():
    # DESIGN.md prints six places (some truncated, e.g. i6 = -0.1045395... as -0.104539)
    trace = step(LECTURE)

    def r6(x):
        return pytest.approx(x, abs=1e-6)

    printed = {"o4": 0.331812, "o5": 0.524979, "i6": -0.104539, "o6": 0.473889}
    for name, value in printed.items():
        assert trace.forward[name] == r6(value)
    assert trace.backward["Err6"] == r6(0.131169)
    assert trace.backward["Err5"] == r6(-0.006542)
    assert trace.backward["Err4"] == r6(-0.008724)
    assert trace.loss == r6(0.138396)
    assert trace.gradients["w1_4"] == r6(0.008724)
    assert trace.update["w1_4"] == r6(0.192148)
    assert trace.update["b4"] == r6(-0.407852)


# DESIGN.md's table of the lecture's printed values, digit for digit
LECTURE_TABLE = {
    "i4": -0.7, "o4": 0.332, "i5": 0.1, "o5": 0.525, "i6": -0.105, "o6": 0.474,
    "Err6": 0.1311, "Err5": -0.0065, "Err4": -0.0087,
    "new w4_6": -0.261, "new w5_6": -0.138, "new w1_4": 0.192, "new w1_5": -0.306,
    "new w2_4": 0.4, "new w2_5": 0.1, "new w3_4": -0.508, "new w3_5": 0.194,
    "new b6": 0.218, "new b5": 0.194, "new b4": -0.408,
}


def test_hand_rounding_reproduces_the_printed_table():
    trace = step(LECTURE, rounding="hand", decimals=3)
    values = {**trace.forward, **trace.backward,
              **{f"new {k}": v for k, v in trace.update.items()}}
    for name, printed in LECTURE_TABLE.items():
        assert values[name] == printed, name


def test_exact_err6_prints_differently_from_the_slides():
    # carried exactly Err6 = 0.131169 shows as 0.1312; the slides' 0.1311 comes from hand rounding
    assert round_half_up(step(LECTURE).backward["Err6"], 4) == 0.1312


def test_round_half_up_is_the_decimal_rule():
    assert round_half_up(0.1245, 3) == 0.125
    assert round_half_up(-0.1245, 3) == -0.125
    assert round_half_up(2.675, 2) == 2.68  # binary 2.67499999... but written 2.675
    assert round_half_up(0.0, 3) == 0.0
