"""derive check: fewer places than asked, and the f'(i) factor left out (issue 12, point 5).

DESIGN.md (derive check): a value written with fewer places than asked is right only if padding
it with zeros gives the right value at the places asked; otherwise it is wrong and the diagnosis
says how many places to give (and names the mistake where one reproduces the value).  The
expected numbers are the lecture's formulas written out here in plain Python.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from derive import api
from derive.cli import main
from derive.marking import check
from derive.spec import LECTURE, from_dict


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# the lecture's network written out: input (1, 0, 1), target 1, sigmoid, half_sse, eta 0.9
O4, O5 = sig(-0.7), sig(0.1)
O6 = sig(-0.3 * O4 - 0.2 * O5 + 0.1)
ERR6 = (1 - O6) * O6 * (1 - O6)
ERR4 = O4 * (1 - O4) * (-0.3 * ERR6)
B4 = -0.4 + 0.9 * ERR4          # -0.40785...: -0.408 at the 3 places asked


def test_the_issue_case_b4_written_as_minus_0_4():
    assert f"{B4:.3f}" == "-0.408"
    report = check(LECTURE, {"b4": "-0.4"})
    (r,) = report.results
    assert not r.ok and not report.ok
    assert r.expected == pytest.approx(B4, abs=1e-12)
    d = r.diagnosis
    assert d["mistake"] == "bias_not_updated"      # -0.400 is the old bias
    assert d["places"] == {"given": 1, "asked": 3}
    assert "give 3 places" in d["message"]


def test_the_issue_case_from_the_command_line(tmp_path):
    (tmp_path / "a.toml").write_text("b4 = -0.4\n")
    r = CliRunner().invoke(main, ["check", str(tmp_path / "a.toml"), "--format", "json"])
    assert r.exit_code == 1
    result = json.loads(r.output)["results"][0]
    assert result["ok"] is False
    assert result["diagnosis"]["mistake"] == "bias_not_updated"
    assert "give 3 places" in result["diagnosis"]["message"]
    text = CliRunner().invoke(main, ["check", str(tmp_path / "a.toml")]).output
    assert "bias not updated" in text and "give 3 places" in text


def _one_weight(w: float):
    """i2 = w exactly (input 1, a linear unit, no bias)."""
    return from_dict({"layers": [{"activation": "linear", "weights": [[w]], "biases": [0.0]}],
                      "examples": [{"input": [1], "target": [0]}]})


@pytest.mark.parametrize("w, text, ok", [
    (-0.40001, "-0.4", True),     # padded -0.400: right at 3 places
    (-0.4004, "-0.4", True),      # -0.400 still
    (-0.4006, "-0.4", False),     # -0.401 at 3 places: -0.400 is wrong
    (-0.408, "-0.41", False),     # right at 2 places, wrong at the 3 asked
    (0.1, "0.1", True),
    (0.1, "0.10000", True),       # more places than asked: read at the places written
    (0.10001, "0.10000", False),
])
def test_fewer_places_are_read_padded_with_zeros(w, text, ok):
    assert check(_one_weight(w), {"i2": text}).ok is ok


def test_too_few_places_without_a_mistake():
    (r,) = check(LECTURE, {"o4": "0.33"}).results      # 0.33 for 0.332
    assert not r.ok
    assert r.diagnosis["mistake"] == "too_few_places"
    assert r.diagnosis["places"] == {"given": 2, "asked": 3}
    assert "reads as 0.330, not 0.332; give 3 places" in r.diagnosis["message"]
    # error terms are asked to one place more
    (r,) = check(LECTURE, {"Err6": "0.13"}).results     # 0.1312 at 4 places
    assert not r.ok and r.diagnosis["places"] == {"given": 2, "asked": 4}
    assert r.diagnosis["mistake"] == "too_few_places"


def test_the_lecture_table_is_still_right():
    from test_check import LECTURE_ANSWERS  # the lecture's printed values
    report = check(LECTURE, LECTURE_ANSWERS)
    assert report.ok, [(r.name, r.diagnosis) for r in report.results if not r.ok]


# -- the f'(i) factor left out of an output error term ------------------------------------------
def test_output_error_without_its_derivative_is_named():
    assert f"{1 - O6:.3f}" == "0.526"            # the issue's number: t - o
    for text in ("0.5261", "0.526"):
        (r,) = check(LECTURE, {"Err6": text}).results
        assert not r.ok
        assert r.diagnosis["mistake"] == "output_fprime_left_out", text
        assert r.diagnosis["title"] == "f′ left out of the output error term"
        assert "f′(i6)" in r.diagnosis["message"]
    # and what follows from it: the new w4_6 with Err6 = t - o
    w46 = -0.3 + 0.9 * (1 - O6) * O4
    (r,) = check(LECTURE, {"w4_6": f"{w46:.3f}"}).results
    assert r.diagnosis["mistake"] == "output_fprime_left_out"


def _err_hidden_without_fprime(spec: dict) -> dict:
    """Hidden error terms with the output's Err taken as t − o (half_sse, sigmoid output),
    written out in NumPy from the problem's spec."""
    x = np.asarray(spec["examples"][0]["input"], dtype=float)
    t = np.asarray(spec["examples"][0]["target"], dtype=float)
    (W1, b1), (W2, b2) = [(np.asarray(l["weights"]), np.asarray(l["biases"]))
                          for l in spec["layers"]]
    h = 1 / (1 + np.exp(-(W1 @ x + b1)))
    o = 1 / (1 + np.exp(-(W2 @ h + b2)))
    err_out = t - o
    return h * (1 - h) * (W2.T @ err_out), h, err_out


def test_problems_offer_it_as_a_distractor():
    found = 0
    for seed in range(6):
        p = api.problems("backward", seed=seed, choices=4).answers["variants"][0]["problems"][0]
        (name, options), = p["choices"].items()
        assert name == "Err4"
        wrong, _, _ = _err_hidden_without_fprime(p["spec"])
        for option in options:
            if option["mistake"] and option["mistake"].startswith("f′(i) left out"):
                found += 1
                assert option["value"] == pytest.approx(wrong[0], abs=1e-12)
    assert found >= 4  # offered in most variants (unless it reads like another option)


def test_only_the_right_chains_values_are_right():
    """check takes the intervals a problem set's key takes (one rounding interval per right
    value, issue 14), not half a unit widened by the rounding carried from earlier steps: with
    o6 = 0.474 given, Err6 of the lecture is 0.1312 (exact chain) or 0.1311 (from 0.474, as
    the slides round); 0.1310 and 0.1313 are neither, though each lies within 0.000161 of a
    chain (half a unit plus o6's rounding carried through dErr6/do6)."""
    o6 = 1 / (1 + math.exp(-(-0.3 * (1 / (1 + math.exp(0.7))) - 0.2 * (1 / (1 + math.exp(-0.1)))
                             + 0.1)))
    exact = (1 - o6) * o6 * (1 - o6)
    hand = (1 - 0.474) * 0.474 * (1 - 0.474)
    assert (f"{exact:.4f}", f"{hand:.4f}") == ("0.1312", "0.1311")
    given = {"o4": "0.332", "o5": "0.525", "o6": "0.474"}
    for text, ok in (("0.1312", True), ("0.1311", True), ("0.1310", False), ("0.1313", False),
                     ("0.131", False)):
        (*_, r) = check(LECTURE, {**given, "Err6": text}).results
        assert r.ok is ok, text
    (r,) = check(LECTURE, {"Err6": "0.131"}).results
    assert not r.ok and r.diagnosis["places"] == {"given": 3, "asked": 4}
