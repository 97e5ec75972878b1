"""render states the rounding rule on its own (render/decimals.py: render imports nothing from
derive), so the digits a document prints must be the digits the answer key accepts: checked
against derive.intervals on many values, the hard cases first (ties, binary noise near a tie,
negatives, zero, large and tiny values), then random ones, at every places 0..9."""

import math
import random
from decimal import Decimal

import pytest

from derive import intervals
from render import decimals
from render.filters import number
from rounding_rule import written as by_hand  # the rule written out a third time

HARD = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.0125, -0.0125, 2.675, 1.005, 0.1015, 0.1245,
        0.33864999999999995, 0.0005, -0.0005, 0.00049999999999999, 0.00050000000000001,
        1e-12, -1e-12, 123456.78949999999, 999999.9995, 0.9995, 0.99949999999, -0.9995,
        1 / 3, 2 / 3, -2 / 3, 0.1 + 0.2, 4.35, 8.345, 1.0000000000000002, 5e-324, 1e-300,
        0.045, 0.055, 0.065, 0.075, 0.085, 0.095]


def cases():
    rng = random.Random(20261202)
    for v in HARD:
        yield v
        yield -v
    for _ in range(6000):
        places = rng.randrange(10)
        # values on a tie at some places, just off it, and anywhere
        tie = (rng.randrange(-10 ** 7, 10 ** 7) + 0.5) / 10 ** places
        yield tie
        yield math.nextafter(tie, math.inf)
        yield math.nextafter(tie, -math.inf)
        yield rng.uniform(-3, 3)
        yield rng.uniform(-1, 1) * 10 ** rng.randrange(-12, 6)
        # a sum of rounded values, as a hand chain makes (binary noise)
        yield round(rng.uniform(-1, 1), 3) * round(rng.uniform(-1, 1), 3) + round(
            rng.uniform(-1, 1), 4)


def test_render_rounds_as_the_answer_key_does():
    checked = 0
    for v in cases():
        for places in range(10):
            want = intervals.text(v, places)
            got = decimals.text(v, places)
            assert got == want, (v, places, got, want)
            assert got == by_hand(v, places), (v, places)
            checked += 1
    assert checked > 300_000


@pytest.mark.parametrize("value,places,shown", [
    (0.1015, 3, "0.102"), (2.675, 2, "2.68"), (0.33864999999999995, 4, "0.3387"),
    (-0.0004, 3, "0.000"), (-0.0005, 3, "-0.001"), (-0.0125, 3, "-0.013"), (0.0, 4, "0.0000"),
    (1 / 3, 9, "0.333333333")])
def test_published_roundings(value, places, shown):
    """Values a person rounds by hand: half up on the digits as written."""
    assert decimals.text(value, places) == shown
    assert number(value, places) == shown


def test_half_unit_is_exact():
    assert decimals.half_unit(3) == Decimal("0.0005")
    assert format(decimals.half_unit(4), "f") == "0.00005"
    assert decimals.half_unit(3) == intervals.half_unit_decimal(3)


def test_decimals_and_strings_are_taken_as_written():
    assert decimals.text(Decimal("0.1245"), 3) == "0.125"
    assert decimals.text("2.675", 2) == "2.68"
