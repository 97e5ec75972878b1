"""The one interval rule (derive/intervals.py): the key's accepted intervals, the quizzes and
`derive check` agree on which written numbers are right."""

from __future__ import annotations

import math

import random
from decimal import Decimal

import pytest

from derive import intervals
from derive.problemset import generate
from derive.problemset.common import Options


def test_rounding_is_half_up_on_the_digits_a_person_reads():
    assert intervals.text(0.05765, 4) == "0.0577"  # a tie rounds up, as by hand
    assert intervals.text(-0.05765, 4) == "-0.0577"
    assert intervals.text(-0.01, 4) == "-0.0100"  # trailing zeros kept
    assert intervals.text(-0.00004, 4) == "0.0000"  # no minus zero
    # (0.82² + 0.07²)/2 = 0.33865 exactly; the double reads 0.33864999999999995
    assert (0.82 ** 2 + 0.07 ** 2) / 2 != 0.33865
    assert intervals.text((0.82 ** 2 + 0.07 ** 2) / 2, 4) == "0.3387"


def test_accept_is_one_rounding_interval_per_distinct_right_value():
    acc = intervals.accept([0.057646, 0.05766, 0.0576001], 4)
    assert acc == [(Decimal("0.05755"), Decimal("0.05765")),
                   (Decimal("0.05765"), Decimal("0.05775"))]
    assert intervals.as_json(acc) == [[0.05755, 0.05765], [0.05765, 0.05775]]
    assert [repr(x) for x in intervals.as_json(acc)[0]] == ["0.05755", "0.05765"]  # no noise
    # the key's value first, the others after it
    assert intervals.right_values([0.05766, 0.057646], 4) == [Decimal("0.0577"),
                                                               Decimal("0.0576")]
    assert intervals.accepted("0.0576", acc) and intervals.accepted("0.0577", acc)
    assert not intervals.accepted("0.0578", acc) and not intervals.accepted("0.0575", acc)


def test_right_and_accept_on_integers_is_the_decimal_route():
    """The key's right values and intervals computed on integers (right_and_accept) are the
    very floats of right_values, accept and as_json: ties, near-ties, zeros, both signs."""
    rng = random.Random(15)
    checked = 0
    for _ in range(20_000):
        places = rng.randint(0, 9)
        if rng.random() < 0.4:  # decimals one place past the rounding place: exact ties
            values = [round(rng.uniform(-50, 50), places + 1) for _ in range(rng.randint(1, 3))]
        else:
            scale = 10 ** rng.uniform(-8, 5.9)
            values = [rng.choice((-1, 1)) * scale * rng.random()
                      for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.1:
            values[0] = rng.choice((0.0, -0.0, 1e-300, -1e-300))
        fast = intervals.right_and_accept(values, places)
        if fast is None:
            continue
        checked += 1
        right = [float(r) for r in intervals.right_values(values, places)]
        assert [repr(r) for r in fast[0]] == [repr(r) for r in right], (values, places)
        assert fast[1] == intervals.as_json(intervals.accept(values, places)), (values, places)
    assert checked > 15_000
    assert intervals.right_and_accept([1e7], 3) is None  # beyond binary scaling: Decimal's


def test_check_and_the_key_are_the_same_rule_seen_from_both_sides():
    """A number written to the places asked is right for a chain value x exactly when it is in
    x's rounding interval (the key's side) and when |g - x| <= half a unit (check's side)."""
    rng = random.Random(14)
    for _ in range(3000):
        places = rng.randint(0, 6)
        x = rng.uniform(-50, 50)
        unit = Decimal(1).scaleb(-places)
        g = intervals.rounded(x, places)
        if abs(abs(Decimal(repr(x)) - g) - unit / 2) < unit / 1000:
            continue  # (a tie: both sides take it, each at its end of the interval)
        acc = intervals.accept([x], places)
        for written, right in ((g, True), (g + unit, False), (g - unit, False)):
            assert intervals.accepted(str(written), acc) is right
            assert intervals.within(float(written), x, intervals.half_unit(places)) is right


def test_marking_uses_the_shared_rule(monkeypatch):
    """derive check compares through derive.intervals.within, not a copy of the rule."""
    from derive import marking
    from derive.spec import LECTURE

    assert marking.check(LECTURE, {"o4": "0.332"}).ok
    assert marking.check(LECTURE, {"o4": "0.33181"}).ok  # more places: the precision written
    monkeypatch.setattr(marking, "within", lambda *a, **k: False)
    assert not marking.check(LECTURE, {"o4": "0.33181"}).ok
    # at the places asked, the intervals of a problem set's key decide: accept() of the
    # network's exact and hand-rounded values (o4 = sigmoid(-0.7), 0.332 either way)
    key = marking.spec_key(marking.Computation(LECTURE, 0, 3), ["o4", "Err6"])
    assert key["o4"].intervals == tuple(map(tuple, intervals.as_json(intervals.accept(
        [1 / (1 + math.exp(0.7)), 0.332], 3)))) == ((0.3315, 0.3325),)
    assert key["Err6"].intervals == ((0.13105, 0.13115), (0.13115, 0.13125))


def test_every_value_the_key_accepts_check_accepts():
    """For forward and step problems (a network and one example), each right value of the
    key, written at its places, is marked right by derive check on the same network."""
    from derive import marking
    from derive.spec import from_dict

    pset = generate(["forward", "step"], 6, 14, Options())
    for v in pset.variants:
        for p in v.problems:
            spec = from_dict(p.spec, "problem")
            for name, acc in p.accept.items():
                for lo, hi in acc:
                    written = intervals.text((Decimal(repr(lo)) + Decimal(repr(hi))) / 2,
                                             p.places[name])
                    report = marking.check(spec, {name: written}, decimals=3)
                    assert report.ok, (p.id, name, written)
