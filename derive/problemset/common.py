"""What every problem kind shares: options, the problem record, tolerances, constraints.

A kind draws its givens with a numpy Generator, rounds them to what will be printed, and only
then computes its answers, so what a student reads is exactly what the key was computed from.
Each answer carries the number of places it is shown to, its right values at those places (the
exact chain's and the hand-rounded chain's, where they differ) and their rounding intervals
(`accept`, derive/intervals.py); `tolerance` is the half-width of the interval around the
answer itself.  Yes/no answers are 1/0 with tolerance 0 and their word in `words`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from derive import intervals
from derive.errors import DeriveError
from derive.numeric.network import round_half_up

MAX_ATTEMPTS = 400


class Redraw(Exception):
    """The drawn numbers make a poor problem (saturated unit, tie, ...): draw again."""


@dataclass(frozen=True)
class Options:
    network: tuple[int, ...] = (3, 2, 1)
    activation: str | None = None
    loss: str | None = None
    lr: float | None = None
    decimals: int = 3
    choices: int | None = None
    dead_units: bool = False  # asked for: a hidden unit that is dead (flat), and what follows
    alpha: float | None = None  # leaky_relu's or elu's alpha, for every layer that takes one
    chain: bool = False  # one network per variant: later problems build on earlier answers
    paper: str = "letter"  # print layout (LaTeX): letter or a4
    duplex: bool = False  # print layout (LaTeX): each variant starts on an odd page

    def to_dict(self) -> dict:
        """The options as answers.json has them (numbers at 15 significant digits)."""
        from derive.problemset import fifteen

        out = asdict(self)
        if out["alpha"] is None:
            del out["alpha"]  # answers.json unchanged where no alpha was chosen
        return fifteen(out)

    def params_for(self, activation: str) -> dict:
        """The parameters a layer with this activation gets: the chosen alpha where it has
        one (leaky_relu, elu), else its defaults (stated in every problem all the same)."""
        from derive.symbolic.definitions import activation_def

        defaults = activation_def(activation).defaults
        if self.alpha is not None and "alpha" in defaults:
            return {**defaults, "alpha": float(self.alpha)}
        return defaults


@dataclass(frozen=True)
class Problem:
    kind: str
    id: str
    spec: dict  # the network spec (TOML keys) or, for kinds without a network, their givens
    answers: dict  # name -> full-precision value
    tolerance: dict  # name -> absolute tolerance
    places: dict  # name -> decimals the answer is shown to
    givens: dict = field(default_factory=dict)  # extra values the statement shows
    solution: object = None  # the document the solution templates lay out
    choices: dict = field(default_factory=dict)  # name -> [{"value", "correct", "mistake"}]
    facts: dict = field(default_factory=dict)  # non-numeric answers (a range, a kind of GD)
    accept: dict = field(default_factory=dict)  # name -> [[lo, hi], ...] (derive/intervals.py)
    right: dict = field(default_factory=dict)  # name -> right values at its places, key's first
    words: dict = field(default_factory=dict)  # name -> the answer in words (yes, no, unbounded)
    options: dict = field(default_factory=dict)  # name -> choices a quiz offers (yes/no, sup E)
    ask: tuple = ()  # what a quiz asks, in order (names in choices or options as a choice)
    # --chain: the ids of the earlier problems of the variant whose answers this one uses
    # (None: not a chained problem after the first), and what its statement refers to
    builds_on: tuple | None = None
    chain: dict | None = None  # {"network": number, "uses": [{"number", "own", "what"}]}

    @property
    def sheet(self) -> tuple:
        """The fill-in answer table: every asked value once, in the order of the computation."""
        from derive.problemset.sheet import answer_sheet

        return answer_sheet(self)

    def key(self) -> dict:
        """The entry of answers.json (DESIGN.md), extended with the variant-free extras, every
        number at 15 significant digits."""
        from derive.problemset import fifteen

        out = {"kind": self.kind, "id": self.id, "spec": self.spec, "answers": self.answers,
               "tolerance": self.tolerance, "places": self.places, "accept": self.accept}
        if self.builds_on is not None:
            out["builds_on"] = list(self.builds_on)
        if self.words:
            out["words"] = self.words
        if self.givens:
            out["givens"] = self.givens
        if self.facts:
            out["facts"] = self.facts
        if self.choices:
            out["choices"] = self.choices
        return fifteen(out)

    def quiz_choice(self, name: str) -> list[dict] | None:
        """The options a quiz offers for `name`, or None when it asks for a number."""
        return self.choices.get(name) or self.options.get(name)

    def alternatives(self) -> bool:
        """Does some answer have more than one right value at its places?"""
        return any(len(r) > 1 for r in self.right.values())

    def key_names(self) -> list[str]:
        """The names the answer key shows: every answer, then answers given only in words."""
        return [*self.answers, *(n for n in self.words if n not in self.answers)]


def places_for(name: str, decimals: int) -> int:
    """Net inputs, outputs and parameters: decimals; error terms, gradients, the loss: one more."""
    if name.startswith(("Err", "dw", "db", "loss", "fprime", "grad")):
        return decimals + 1
    return decimals


def shown(value: float, places: int) -> float:
    return float(round_half_up(value, places))


def answer_keys(answers: dict, places: dict, routes: dict | None = None,
                yes_no=()) -> dict:
    """tolerance, accept and right of each answer (the Problem fields): routes[name] holds
    the values the other right chains give for it (the hand-rounded chain's).  A yes/no answer
    (1 or 0) is accepted exactly, and said in words."""
    routes = routes or {}
    tol, acc, right, words = {}, {}, {}, {}
    for n, v in answers.items():
        if n in yes_no:
            tol[n], acc[n], right[n] = 0.0, [[float(v), float(v)]], [float(v)]
            words[n] = "yes" if v else "no"
            continue
        values = [v, *routes.get(n, ())]
        tol[n] = intervals.half_unit(places[n])
        fast = intervals.right_and_accept(values, places[n])
        if fast is not None:  # the usual case, on integers
            right[n], acc[n] = fast
            continue
        # intervals.accept, from the right values rounded once
        shown = intervals.right_values(values, places[n])
        h = intervals.half_unit_decimal(places[n])
        acc[n] = intervals.as_json([(r - h, r + h) for r in sorted(shown)])
        right[n] = [float(r) for r in shown]
    return {"tolerance": tol, "accept": acc, "right": right, "words": words}


def check_finite(values: dict) -> None:
    for v in values.values():
        if not math.isfinite(v):
            raise Redraw("non-finite")


def check_distinct(answers: dict, places: dict, tie_ok=lambda a, b: False) -> None:
    """No two answers may read the same at the digits shown unless tie_ok says they must."""
    seen: dict = {}
    for name, value in answers.items():
        seen.setdefault(shown(value, places[name]), []).append(name)
    for names in seen.values():
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if not tie_ok(a, b):
                    raise Redraw(f"{a} and {b} read the same")


def choose(rng: np.random.Generator, values):
    values = list(values)
    return values[int(rng.integers(len(values)))]


def grid(low: float, high: float, step: float) -> np.ndarray:
    n = int(round((high - low) / step))
    return np.round(low + step * np.arange(n + 1), 2)


def distractors(rng: np.random.Generator, answer: float, places: int, mistakes: dict,
                n: int) -> list[dict]:
    """n - 1 wrong values from the classic mistakes (label -> value), then the answer,
    shuffled by rng.  None of them reads like the answer or like each other at `places`."""
    # the classic mistakes first; if they are too few or too alike, slips of the hand
    # (a sign, a step in the last places, a factor of ten)
    unit = 10.0 ** -places
    slips = [("sign slip", -answer)]
    slips += [("arithmetic slip", answer + k * unit * 10) for k in (1, -1, 2, -2, 3, -3)]
    slips += [("decimal slip", answer * 10), ("decimal slip", answer / 10)]
    taken = {shown(answer, places)}
    wrong = []
    for label, value in [*mistakes.items(), *slips]:
        if len(wrong) == n - 1:
            break
        if value is None or not math.isfinite(value):
            continue
        s = shown(value, places)
        if s in taken:
            continue
        taken.add(s)
        wrong.append({"value": float(value), "correct": False, "mistake": label})
    options = wrong + [{"value": float(answer), "correct": True, "mistake": None}]
    order = rng.permutation(len(options))
    return [options[int(i)] for i in order]


def yes_no_choice(yes: bool) -> list[dict]:
    """A yes/no question as a choice (a quiz never asks it as a number): yes = 1, no = 0."""
    return [{"value": 1.0, "word": "yes", "correct": yes, "mistake": None},
            {"value": 0.0, "word": "no", "correct": not yes, "mistake": None}]


def need(condition: bool, why: str) -> None:
    if not condition:
        raise Redraw(why)


def refuse(message: str) -> DeriveError:
    return DeriveError(message)
