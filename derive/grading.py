"""Grading a whole class: every student's sheet marked as `derive check` marks one, then the
class's statistics (DESIGN.md, `derive grade`).

The answer key (answers.json) says, per variant, what each problem asks, the network it is
about, the values its statement gives and the intervals a right answer may fall in.  A
problem (or, with --chain, the problems that build on each other) is one hand calculation:
its values are marked together by derive.marking, errors carried forward.  Each variant's
networks are prepared once and every student of the class is marked in batches of networks
of one shape (derive.marking.Computation), so nothing the same for a variant is worked out
again per student.  Plain data only: render/ lays out the pages, derive/results.py writes them (through derive/output.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import tomllib
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from derive.errors import DeriveError, did_you_mean
from derive.marking import (CHAINS, MISTAKES, TOO_FEW_PLACES, Computation, Key, _answer,
                            _inside, mark_batch, structure)
from derive.marking import diagnosis as marking_diagnosis
from derive.spec import from_dict, read_file
from derive.submissions import Sheet, column_name

TITLES = {  # the headings of derive.problemset's kinds (importing it would load the generators)
    "activation": "An activation and its derivative", "loss": "A loss and its range",
    "forward": "Forward pass", "backward": "Backward pass", "update": "Update",
    "step": "One training step", "descent": "Gradient descent on one parameter",
    "batch": "Batch and mini-batch gradient descent", "minima": "Global and local minima"}
OTHER_MISTAKES = {
    "other_variant": "another variant's answer",
    "unreadable": "not a number",
}
UNRECOGNISED = "unrecognised"
STATUSES = ("right", "carried_forward", "wrong", "blank")
UPPER_LOWER = 0.27  # Kelley's upper and lower groups for item discrimination
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")
_CODE = re.compile(r"S(\d+)\s*-\s*V(\d+)", re.IGNORECASE)


# -- the answer key ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProblemKey:
    id: str
    kind: str
    spec: object  # derive.spec.Spec of its network, or None (a kind without one)
    answers: dict  # name -> value (the model answer)
    places: dict  # name -> places asked
    keys: dict  # name -> marking.Key (the intervals a right answer may fall in)
    givens: dict  # name -> value the statement gives
    builds_on: tuple
    names: tuple  # asked names in the order of the computation

    def columns(self) -> list[str]:
        return [column_name(self.kind, n) for n in self.names]


@dataclass(frozen=True)
class Group:
    """Problems of one variant marked together as one hand calculation."""

    problems: tuple  # ProblemKey
    spec: object  # the network (None: marked against the key alone)
    fixed: dict  # values the statements give that no problem of the group asks
    names: dict  # asked name -> column
    keys: dict  # asked name -> marking.Key
    computed: frozenset  # the names the network's step computes (marked by derive.marking)
    formulas: dict  # name -> the right formula
    shape: tuple | None  # derive.marking.structure of its network: groups of one shape batch


@dataclass(frozen=True)
class VariantKey:
    number: int
    id: str
    problems: tuple
    groups: tuple
    asked: frozenset = frozenset()  # its columns

    def columns(self) -> list[str]:
        return [c for p in self.problems for c in p.columns()]


@dataclass(frozen=True)
class SetKey:
    source: str
    seed: int
    kinds: tuple
    decimals: int
    chain: bool
    variants: tuple
    columns: tuple  # every asked column, in the order of the kinds and of the computation
    by_number: dict = field(repr=False)
    by_id: dict = field(repr=False)


def load_key(directory) -> SetKey:
    """The answer key of the problem set in `directory` (or answers.json itself)."""
    path = Path(directory)
    if path.is_dir():
        path = path / "answers.json"
        if not path.exists():
            raise DeriveError(f"'{directory}' holds no answers.json: give the directory that "
                              f"`derive problems -o DIR` wrote")
    elif not path.exists():
        raise DeriveError(f"the problem set '{directory}' does not exist")
    text = read_file(path, "answer key")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeriveError(f"{path}:{exc.lineno}: the answer key is not valid JSON: "
                          f"{exc.msg}") from None
    return parse_key(raw, str(path))


def _finite(value) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value))


def _numbers(raw, where: str, names=None) -> dict:
    if not isinstance(raw, dict):
        raise DeriveError(f"{where} must be a table of names and numbers")
    out = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise DeriveError(f"{where}: '{str(name)[:40]}' is not a quantity's name")
        if not _finite(value):
            raise DeriveError(f"{where}.{name} must be a finite number, not {value!r:.40}")
        out[name] = float(value)
    return out


def parse_key(raw, source: str = "answers.json") -> SetKey:
    """Validate answers.json (read from disk: nothing in it is trusted) into a SetKey."""
    if not isinstance(raw, dict) or not isinstance(raw.get("variants"), list) \
            or not raw["variants"]:
        raise DeriveError(f"{source}: not an answer key of `derive problems` (it needs "
                          f"\"variants\": [...])")
    seed = raw.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DeriveError(f"{source}: \"seed\" must be a whole number from 0")
    options = raw.get("options") if isinstance(raw.get("options"), dict) else {}
    decimals = options.get("decimals", 3)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 12:
        raise DeriveError(f"{source}: options.decimals must be a whole number from 0 to 12")
    chain = options.get("chain") is True
    variants, by_number, by_id = [], {}, {}
    specs: dict = {}  # the same network text is validated once
    for vi, rv in enumerate(raw["variants"]):
        where = f"{source}: variants[{vi}]"
        if not isinstance(rv, dict):
            raise DeriveError(f"{where} must be a table")
        number = rv.get("variant")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise DeriveError(f"{where}.variant must be a whole number from 1")
        if number in by_number:
            raise DeriveError(f"{where}: variant {number} appears twice")
        vid = rv.get("id", f"S{seed}-V{number:02d}")
        if not isinstance(vid, str) or not 0 < len(vid) <= 100:
            raise DeriveError(f"{where}.id must be the variant's code, such as S7-V03")
        if not isinstance(rv.get("problems"), list) or not rv["problems"]:
            raise DeriveError(f"{where}.problems must be a non-empty list")
        problems = [_problem(rp, f"{where}.problems[{pi}]", vid, pi, specs)
                    for pi, rp in enumerate(rv["problems"])]
        ids = [p.id for p in problems]
        if len(set(ids)) != len(ids) or len({p.kind for p in problems}) != len(problems):
            raise DeriveError(f"{where}: two problems share an id or a kind")
        for p in problems:
            for b in p.builds_on:
                if b not in ids[:ids.index(p.id)]:
                    raise DeriveError(f"{where}: problem {p.id} builds on '{b}', which is not "
                                      f"an earlier problem of variant {vid}")
        variant = VariantKey(number, vid, tuple(problems), _groups(problems, chain),
                             frozenset(c for p in problems for c in p.columns()))
        variants.append(variant)
        by_number[number] = variant
        by_id[vid.upper()] = variant
    kinds = _kinds(raw, variants)
    columns = _sheet_columns(kinds, [(p.kind, p.names) for v in variants for p in v.problems])
    return SetKey(source, seed, tuple(kinds), decimals,
                  chain or any(p.builds_on for v in variants for p in v.problems),
                  tuple(variants), tuple(columns), by_number, by_id)


def _kinds(raw, variants) -> list:
    kinds = [k for k in raw.get("kinds", []) if isinstance(k, str)] \
        if isinstance(raw.get("kinds"), list) else []
    for v in variants:
        kinds += [p.kind for p in v.problems if p.kind not in kinds]
    return [k for k in dict.fromkeys(kinds) if any(p.kind == k for v in variants
                                                     for p in v.problems)]


def _sheet_columns(kinds, problems) -> list[str]:
    """Every asked value's column: kinds in the set's order, within a kind the names in the
    order of the computation (the union over the variants, for kinds whose variants differ)."""
    columns = []
    for kind in kinds:
        seen = {}
        for k, names in problems:
            if k == kind:
                seen.update((column_name(kind, n), None) for n in names)
        columns += list(seen)
    return columns


def sheet_columns(raw: dict) -> list[str]:
    """The sheet's value columns for an answer key as `derive problems` makes it (before it
    is written: the empty sheet is written beside it)."""
    problems = []
    for v in raw["variants"]:
        for p in v["problems"]:
            problems.append((p["kind"], asked_order(p["answers"], p.get("spec"))))
    kinds = list(dict.fromkeys([*raw.get("kinds", []), *(k for k, _ in problems)]))
    return _sheet_columns([k for k in kinds if any(k == q for q, _ in problems)], problems)


def _shape_of(raw_spec: dict) -> str:
    """What fixes a network's plan, read from its spec as a dict (no validation: cheap)."""
    layers = [{**{k: v for k, v in layer.items() if k not in ("weights", "biases")},
               "shape": [len(layer.get("weights") or []),
                         len((layer.get("weights") or [[]])[0])]}
              for layer in raw_spec.get("layers", [])]
    return json.dumps([layers, raw_spec.get("loss")], sort_keys=True)


_ORDERS: dict = {}


def asked_order(answers, raw_spec) -> list[str]:
    """The asked names in the order of the computation (the key's order where the problem
    has no network)."""
    names = list(answers)
    if not (isinstance(raw_spec, dict) and "layers" in raw_spec):
        return names
    shape = _shape_of(raw_spec)
    if shape not in _ORDERS:
        try:
            _ORDERS[shape] = plan(from_dict(raw_spec, "spec"))[0]
        except DeriveError:
            _ORDERS[shape] = []
    return list(_ordered(shape, tuple(names)))


@lru_cache(maxsize=1024)  # a problem set asks it for every problem, of a few shapes
def _ordered(shape: str, names: tuple) -> tuple:
    """The names in the order of the plan of `shape` (_ORDERS[shape], set before and never
    changed), the others after them in their own order."""
    position = {n: i for i, n in enumerate(_ORDERS[shape])}
    return tuple(sorted(names, key=lambda n: (position.get(n, len(position)), names.index(n))))


_PLANS: dict = {}  # structure -> (names in computation order, formula by name)


def plan(spec):
    """The names a network's step computes, in order, and each one's formula (the same for
    every network of one structure)."""
    shape = structure(spec)
    if shape not in _PLANS:
        comp = Computation(spec)
        _PLANS[shape] = (comp.names(), {q.name: comp.formula(q) for q in comp.order
                                         if q.kind != "input"})
    return _PLANS[shape]


def _problem(rp, where: str, vid: str, index: int, specs: dict) -> ProblemKey:
    if not isinstance(rp, dict):
        raise DeriveError(f"{where} must be a table")
    kind, pid = rp.get("kind"), rp.get("id", f"{vid}-{rp.get('kind')}")
    if not isinstance(kind, str) or not _NAME.fullmatch(kind):
        raise DeriveError(f"{where}.kind must be a problem kind such as forward")
    if not isinstance(pid, str) or not 0 < len(pid) <= 120:
        raise DeriveError(f"{where}.id must be the problem's code, such as {vid}-{kind}")
    answers = _numbers(rp.get("answers"), f"{where}.answers")
    if not answers:
        raise DeriveError(f"{where}.answers is empty")
    places = rp.get("places", {})
    if not isinstance(places, dict) or set(places) != set(answers) or any(
            isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 12
            for p in places.values()):
        raise DeriveError(f"{where}.places must give the places (0 to 12) of every answer")
    tolerance = _numbers(rp.get("tolerance", {}), f"{where}.tolerance")
    accept = rp.get("accept", {})
    if not isinstance(accept, dict):
        raise DeriveError(f"{where}.accept must be a table of names and intervals")
    keys = {}
    for name, value in answers.items():
        if name in accept:
            iv = accept[name]
            if not isinstance(iv, list) or not iv or not all(
                    isinstance(x, list) and len(x) == 2 and all(map(_finite, x))
                    and x[0] <= x[1] for x in iv):
                raise DeriveError(f"{where}.accept.{name} must be a list of intervals "
                                  f"[[low, high], ...]")
            intervals = tuple((float(lo), float(hi)) for lo, hi in iv)
        elif name in tolerance and tolerance[name] >= 0:
            intervals = ((value - tolerance[name], value + tolerance[name]),)
        else:
            raise DeriveError(f"{where}: '{name}' has neither accept intervals nor a "
                              f"tolerance")
        keys[name] = Key(value, intervals)
    givens = _numbers(rp.get("givens", {}), f"{where}.givens")
    builds_on = rp.get("builds_on", [])
    if not isinstance(builds_on, list) or not all(isinstance(b, str) for b in builds_on):
        raise DeriveError(f"{where}.builds_on must be a list of problem ids")
    spec = None
    raw_spec = rp.get("spec")
    if isinstance(raw_spec, dict) and "layers" in raw_spec:
        text = json.dumps(raw_spec, sort_keys=True)
        if text not in specs:
            specs[text] = from_dict(raw_spec, f"{where}.spec")
        spec = specs[text]
    names = asked_order(answers, raw_spec if spec is not None else None)
    return ProblemKey(pid, kind, spec, answers, dict(places), keys, givens, tuple(builds_on),
                      tuple(names))


def _groups(problems, chain: bool) -> tuple:
    """The hand calculations of a variant: with a chain, the problems that build on each
    other (one network, the student's own earlier values feeding the later ones); without,
    each problem alone, with the values its statement gives."""
    parent = {p.id: p.id for p in problems}

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    by_id = {p.id: p for p in problems}
    for p in problems:
        for b in p.builds_on:
            q = by_id[b]
            if p.spec is not None and q.spec is not None and p.spec == q.spec:
                a, c = find(p.id), find(b)
                members = [x for x in problems if find(x.id) in (a, c)]
                names = [n for x in members for n in x.names]
                if len(names) == len(set(names)):  # one value, one column
                    parent[a] = c
    groups = []
    for root in dict.fromkeys(find(p.id) for p in problems):
        members = tuple(p for p in problems if find(p.id) == root)
        spec = members[0].spec
        computed = set(plan(spec)[0]) if spec is not None else set()
        names, keys = {}, {}
        for p in members:
            for n in p.names:
                names[n] = column_name(p.kind, n)
                keys[n] = p.keys[n]
        fixed = {n: v for p in members for n, v in p.givens.items()
                 if n not in names and n in computed}
        formulas = plan(spec)[1] if spec is not None else {}
        groups.append(Group(members, spec, fixed, names, keys, frozenset(computed), formulas,
                            structure(spec) if spec is not None else None))
    return tuple(groups)


# -- points -------------------------------------------------------------------------------------
def load_points(path, key: SetKey) -> dict:
    """column -> points from a POINTS.toml: `"forward.o4" = 2`, per kind `forward = 1` (or a
    `[forward]` table), `default = 1` for the rest."""
    text = read_file(path, "points file")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeriveError(f"{path}: not valid TOML: {exc} (a column's name goes in quotes: "
                          f"\"forward.o4\" = 2)") from None
    return points_table(key, raw, str(path))


def points_table(key: SetKey, raw: dict | None = None, source: str = "points") -> dict:
    raw = dict(raw or {})
    kinds = {c.split(".", 1)[0] for c in key.columns}
    per_kind, per_column, default = {}, {}, 1.0

    def amount(value, where):
        if not _finite(value) or value < 0 or value > 1e6:
            raise DeriveError(f"{source}: {where} must be a number of points from 0, not "
                              f"{value!r:.40}")
        return float(value)

    valid = ["default", *sorted(kinds), *key.columns]
    for name, value in raw.items():
        if name == "default":
            default = amount(value, name)
        elif name in kinds and isinstance(value, dict):
            for sub, v in value.items():
                col = column_name(name, sub)
                if col not in key.columns:
                    raise DeriveError(f"{source}: '{col}' is not a column of this problem "
                                      f"set{did_you_mean(col, key.columns)}")
                per_column[col] = amount(v, col)
        elif name in kinds:
            per_kind[name] = amount(value, name)
        elif name in key.columns:
            per_column[name] = amount(value, name)
        else:
            raise DeriveError(f"{source}: '{name}' is neither a kind nor a column of this "
                              f"problem set{did_you_mean(name, valid)}; give a kind "
                              f"(forward = 1) or a column (\"forward.o4\" = 2)")
    table = {c: per_column.get(c, per_kind.get(c.split(".", 1)[0], default))
             for c in key.columns}
    if not any(table.values()):
        raise DeriveError(f"{source}: every column is worth 0 points")
    return table


# -- the class ----------------------------------------------------------------------------------
class Mark(NamedTuple):
    """One column of one student's sheet, marked.  (Immutable like the frozen dataclasses
    elsewhere, and a tenth of their cost to make: a class has tens of thousands.)"""

    column: str
    problem: str  # the problem's id
    name: str
    status: str  # right, carried_forward, wrong, blank
    given: float | None
    text: str | None  # as typed (a number's text), None when blank
    expected: float  # what check expects: from the student's own values where they lead
    answer: float  # the key's model answer
    places: int  # to show expected at
    carried_forward: bool
    diagnosis: dict | None
    formula: str | None
    points: float
    max_points: float
    chain: str | None  # exact, hand, key: which right chain it matched

    @property
    def ok(self) -> bool:
        return self.status in ("right", "carried_forward")

    def to_dict(self) -> dict:
        return {"column": self.column, "given": self.given, "expected": _json(self.expected),
                "answer": _json(self.answer),
                "ok": self.ok, "carried_forward": self.carried_forward,
                "diagnosis": self.diagnosis, "points": _json(self.points),
                "status": self.status, "text": self.text}


@dataclass(frozen=True)
class Section:
    """One problem of a student's variant, for the feedback page."""

    id: str
    kind: str
    title: str
    network: dict | None
    givens: tuple  # (name, value, places) the statement gives
    builds_on: tuple
    marks: tuple

    @property
    def wrong(self) -> list:
        return [m for m in self.marks if m.status == "wrong"]


@dataclass(frozen=True)
class Student:
    line: int
    student: str
    variant: str | None  # the variant's code, None when unknown
    variant_text: str  # as typed
    points: float
    max_points: float
    percent: float
    graded: bool  # False: the variant is unknown, nothing could be marked
    problems: tuple  # what is wrong with the row, each a sentence
    sections: tuple
    feedback: str  # file stem of feedback/STUDENT.html and .md

    @property
    def marks(self):
        return [m for s in self.sections for m in s.marks]

    def to_dict(self) -> dict:
        return {"student": self.student, "variant": self.variant or self.variant_text,
                "points": _json(self.points), "max_points": _json(self.max_points),
                "percent": _json(self.percent), "line": self.line,
                "feedback": f"feedback/{self.feedback}.html", "problems": list(self.problems),
                "results": [m.to_dict() for m in self.marks]}


@dataclass(frozen=True)
class ColumnStats:
    column: str
    asked: int
    right: int
    carried_forward: int
    wrong: int
    blank: int
    mistakes: dict  # mistake -> count, most frequent first
    difficulty: float | None
    discrimination: float | None
    points: float

    def share(self, status: str) -> float:
        return 100.0 * getattr(self, status) / self.asked if self.asked else 0.0

    def to_dict(self) -> dict:
        return {"column": self.column, "right": self.right,
                "carried_forward": self.carried_forward, "wrong": self.wrong,
                "blank": self.blank, "mistakes": dict(self.mistakes),
                "difficulty": _json(self.difficulty),
                "discrimination": _json(self.discrimination),
                "asked": self.asked, "points": _json(self.points)}


@dataclass(frozen=True)
class ClassGrades:
    key: SetKey
    sheet_source: str
    students: tuple
    columns: tuple  # ColumnStats
    summary: dict
    histogram: tuple  # (low %, high %, count)
    mistakes: tuple  # ranked: {"mistake", "title", "students", "times", "columns"}
    warnings: tuple  # about the sheet as a whole
    credit: float
    points_places: int  # places points are shown to (0 when every amount is whole)

    @property
    def flagged(self):
        """Rows with something to look at (line, student, what), in sheet order."""
        return [s for s in self.students if s.problems]

    def to_dict(self) -> dict:
        return {"students": [s.to_dict() for s in self.students],
                "columns": [c.to_dict() for c in self.columns],
                "summary": {k: _json(v) for k, v in self.summary.items()},
                "mistakes": [dict(m) for m in self.mistakes],
                "warnings": list(self.warnings),
                "problems": [{"line": s.line, "student": s.student, "problems": list(s.problems)}
                             for s in self.flagged]}


def _json(x):
    """A float as JSON shows it: 15 significant digits, so binary noise never shows."""
    if x is None or isinstance(x, (int, str)) or not math.isfinite(x):
        return x if x is None or isinstance(x, (int, str)) else None
    return float(f"{x:.15g}")


def find_variant(key: SetKey, text: str):
    """(variant, None) or (None, why not) for the variant cell as typed: the code printed on
    the paper (S7-V03) or its number (3)."""
    t = text.strip()
    if not t:
        return None, "no variant given"
    if t.upper() in key.by_id:
        return key.by_id[t.upper()], None
    m = _CODE.fullmatch(t)
    if m:
        seed, number = int(m[1]), int(m[2])
        if seed != key.seed:
            return None, (f"variant '{t}' is of seed {seed}; this problem set is seed "
                          f"{key.seed}")
    else:
        number_text = t.replace(",", ".")
        if not re.fullmatch(r"[0-9]{1,6}(?:\.0*)?", number_text):
            return None, (f"variant '{t}' is neither a variant's code (such as "
                          f"{key.variants[0].id}) nor its number")
        number = int(float(number_text))
    if number not in key.by_number:
        numbers = sorted(key.by_number)
        return None, (f"there is no variant {number} in this problem set (variants "
                      f"{numbers[0]} to {numbers[-1]})")
    return key.by_number[number], None


_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
             *(f"LPT{i}" for i in range(10))}


def file_stems(rows) -> list[str]:
    """A file name (without suffix) for each (student, line): letters, digits, '.', '_' and
    '-' only; an id that is not already such a name gets a hash of the id, so that two ids
    never share a file, not even on a file system that ignores case."""
    stems = []
    for student, line in rows:
        if not student:
            stems.append(f"line-{line}")
            continue
        plain = unicodedata.normalize("NFKD", student).encode("ascii", "ignore").decode()
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", plain).strip("._-")[:60].rstrip("._-")
        reserved = safe.split(".")[0].upper() in _RESERVED  # CON, con.txt: devices on Windows
        if safe != student or reserved:
            digest = hashlib.sha256(student.encode("utf-8")).hexdigest()[:10]
            safe = f"{(safe.replace('.', '_') if reserved else safe) or 'student'}-{digest}"
        stems.append(safe)
    # the same id twice, and ids that differ only in case (one file on macOS and Windows),
    # still get files of their own: a later one is told apart by its line
    taken, out = set(), []
    for (student, line), stem in zip(rows, stems):
        while stem.lower() in taken:
            stem = f"{stem}-line-{line}"
        taken.add(stem.lower())
        out.append(stem)
    return out


def network_data(spec) -> dict:
    """What the feedback page draws of a problem's network (plain data)."""
    network = []
    for n, layer in enumerate(spec.layers, start=1):
        units = []
        for u, k in enumerate(spec.units(n)):
            units.append({"unit": k, "bias": layer.biases[u], "activation": layer.activation,
                          "weights": [{"from": j, "w": layer.weights[u][v]}
                                      for v, j in enumerate(spec.units(n - 1))]})
        network.append({"layer": n, "activation": layer.activation, "units": units,
                        "output_layer": n == len(spec.layers)})
    ex = spec.examples[0]
    return {"sizes": spec.sizes, "network": network, "input": list(ex.input),
            "target": list(ex.target), "loss": spec.loss, "learning_rate": spec.learning_rate,
            "input_names": list(spec.input_names)}


def grade(key: SetKey, sheet: Sheet, points: dict | None = None,
          credit: float = 1.0) -> ClassGrades:
    """Mark every row of the sheet against the key; the class's results and statistics."""
    if not (_finite(credit) and 0 <= credit <= 1):
        raise DeriveError(f"--carried-forward-credit must be a number from 0 to 1, not "
                          f"{credit!r}")
    points = points or points_table(key)
    warnings = _sheet_warnings(sheet)
    if not sheet.rows:
        raise DeriveError(f"{sheet.source}: nothing to grade: the sheet has its header but no "
                          f"row of values")

    # each row: its variant, its readable values, what is wrong with it
    rows, seen = [], {}
    for row in sheet.rows:
        problems = list(row.problems)
        if not row.student:
            problems.append("no student id")
        elif row.student in seen:
            problems.append(f"the same student as line {seen[row.student]}")
        else:
            seen[row.student] = row.line
        variant, why = find_variant(key, row.variant)
        if why:
            problems.append(why + "; nothing on this row could be marked")
        values, unreadable = {}, {}
        for column, text in row.cells.items():
            if variant and column not in variant.asked:
                problems.append(f"{column} is not asked in variant {variant.id}; its value "
                                f"'{text}' is ignored")
                continue
            try:
                values[column] = _answer(column.split(".", 1)[1], text)
            except DeriveError:
                unreadable[column] = text
                problems.append(f"{column}: '{text}' is not a number (marked wrong)")
        if variant and not values and not unreadable:
            problems.append("no value given (absent?)")
        rows.append((row, variant, values, unreadable, problems))
    if not any(v for _, v, _, _, _ in rows):
        reasons = Counter(p for _, _, _, _, ps in rows for p in ps if "nothing on this" in p)
        raise DeriveError(f"{sheet.source}: no row names a variant of this problem set "
                          f"({key.variants[0].id} to {key.variants[-1].id}); for example "
                          f"line {sheet.rows[0].line}: {reasons.most_common(1)[0][0]}. Is it "
                          f"the sheet of another problem set?")

    results = _mark_all(key, rows)
    others = _other_variants(key)
    max_points = {v.id: sum(points[c] for c in v.asked) for v in key.variants}
    plans: dict = {}  # what each problem's marks share, once per problem
    stems = file_stems([(row.student, row.line) for row, *_ in rows])
    networks: dict = {}  # problem id -> its picture's data: once per variant, not per student
    students = []
    for i, (row, variant, values, unreadable, problems) in enumerate(rows):
        sections = []
        for group in (variant.groups if variant else ()):
            marked = results.get((i, id(group)))
            for p in group.problems:
                if p.id not in plans:
                    plans[p.id] = [(name, group.names[name], p.keys[name], p.places[name],
                                    group.formulas.get(name), points[group.names[name]])
                                   for name in p.names]
                marks = [_one_mark(p.id, plan, values, unreadable, marked, credit)
                         for plan in plans[p.id]]
                if p.id not in networks:
                    networks[p.id] = network_data(p.spec) if p.spec is not None else None
                sections.append(Section(
                    p.id, p.kind, TITLES.get(p.kind, p.kind), networks[p.id],
                    tuple((n, v, p.places.get(n, _places_of_given(n, key.decimals)))
                          for n, v in p.givens.items() if n in group.fixed),
                    p.builds_on, tuple(marks)))
        if variant is not None:
            sections = _copied(sections, variant, others, problems)
        most = max_points[variant.id] if variant else max(max_points.values())
        earned = sum(m.points for s in sections for m in s.marks)
        students.append(Student(row.line, row.student, variant.id if variant else None,
                                row.variant, earned, most,
                                100.0 * earned / most if most else 0.0,
                                variant is not None, tuple(problems), tuple(sections),
                                stems[i]))
    places = 0 if all(float(p).is_integer() and float(p * credit).is_integer()
                      for p in points.values()) else 2
    return _statistics(key, sheet, tuple(students), points, credit, warnings, places)


def _places_of_given(name: str, decimals: int) -> int:
    return decimals + 1 if name.startswith(("Err", "d")) or name == "loss" else decimals


def _sheet_warnings(sheet: Sheet) -> list[str]:
    out = []
    if sheet.ignored:
        out.append(f"columns ignored (not asked by this problem set): "
                   f"{', '.join(sheet.ignored)}")
    if sheet.missing:
        shown = ", ".join(sheet.missing[:8]) + (", ..." if len(sheet.missing) > 8 else "")
        out.append(f"{len(sheet.missing)} column(s) of the problem set are not in the sheet and "
                   f"count as blank: {shown}")
    if sheet.blank_lines:
        lines = sheet.blank_lines
        shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
        out.append(f"{len(lines)} empty row(s) skipped (line {shown})")
    return out


def _mark_all(key: SetKey, rows) -> dict:
    """(row index, group) -> (comp, {name: Marked}, row in the batch): every network group of
    every row, in batches of one network shape; the variant's networks and chains are worked
    out once per batch, every student's values marked against them."""
    batches = defaultdict(list)
    for i, (row, variant, values, _, _) in enumerate(rows):
        for group in (variant.groups if variant else ()):
            if group.spec is None:
                continue
            answers = {name: values[col] for name, col in group.names.items()
                       if col in values and name in group.computed}
            batches[group.shape].append((i, group, answers))
    out = {}
    for items in batches.values():
        comp = Computation([g.spec for _, g, _ in items], 0, key.decimals)
        marked = mark_batch(comp, [a for _, _, a in items], [g.fixed for _, g, _ in items],
                            [g.keys for _, g, _ in items])
        columns = {m.quantity.name: _Columns(m, key.decimals) for m in marked}
        for r, (i, group, _) in enumerate(items):
            out[i, id(group)] = (comp, columns, r)
    return out


class _Columns:
    """A Marked read row by row (plain lists: one conversion per quantity, not per value)."""

    def __init__(self, m, decimals: int):
        self.marked = m
        self.ok, self.cf, self.chain, self.expected, self.alone = (a.tolist() for a in (
            m.ok, m.carried_forward, m.chain, m.expected, m.right_alone))
        self.shown = decimals + 1 if m.quantity.error_like else decimals  # as check shows


def _other_variants(key: SetKey) -> dict:
    """column -> (variant codes, lows, highs): every variant's accepted intervals for the
    column, where a wrong value may be another variant's right one."""
    out = defaultdict(lambda: ([], [], []))
    for v in key.variants:
        for p in v.problems:
            for n in p.names:
                codes, lows, highs = out[column_name(p.kind, n)]
                for lo, hi in p.keys[n].intervals:
                    codes.append(v.id)
                    lows.append(lo)
                    highs.append(hi)
    return {c: (codes, np.array(lows), np.array(highs)) for c, (codes, lows, highs)
            in out.items()}


def _copied(sections, variant, others, problems):
    """Wrong values no mistake explains that are another variant's answers: named so when
    at least two of the sheet's values are that same variant's (one alone may be chance),
    and the row flagged when most of its values are."""
    candidates = [(si, mi, m) for si, section in enumerate(sections)
                  for mi, m in enumerate(section.marks)
                  if m.status == "wrong" and m.given is not None and not m.diagnosis["mistake"]]
    if not candidates:
        return sections
    matches = {}
    for si, mi, m in candidates:
        codes, lows, highs = others[m.column]
        slack = 1e-12 * max(1.0, abs(m.given))
        hit = np.nonzero((lows - slack <= m.given) & (m.given <= highs + slack))[0]
        found = [codes[j] for j in hit.tolist() if codes[j] != variant.id]
        if found:
            matches[si, mi] = list(dict.fromkeys(found))
    counts = Counter(code for found in matches.values() for code in found)
    named = defaultdict(dict)  # section -> {mark index: the variant its value is from}
    for (si, mi), found in matches.items():
        code = max(found, key=lambda c: (counts[c], -found.index(c)))
        if counts[code] >= 2:
            named[si][mi] = code
    sections = list(sections)
    for si, codes in named.items():
        marks = list(sections[si].marks)
        for mi, code in codes.items():
            m = marks[mi]
            marks[mi] = m._replace(diagnosis={
                "mistake": "other_variant", "title": OTHER_MISTAKES["other_variant"],
                "message": f"this is variant {code}'s answer to {m.column}; this sheet is "
                           f"variant {variant.id}",
                "formula": m.formula, "variant": code})
        sections[si] = replace(sections[si], marks=tuple(marks))
    given = sum(1 for s in sections for m in s.marks if m.text is not None)
    copied = Counter(m.diagnosis["variant"] for s in sections for m in s.marks
                     if m.diagnosis and m.diagnosis["mistake"] == "other_variant")
    if copied and given >= 3:
        code, count = copied.most_common(1)[0]
        if count * 2 > given:
            problems.append(f"{count} of its {given} values are variant {code}'s answers: is "
                            f"the variant on the sheet ({variant.id}) right?")
    return sections


def _one_mark(problem: str, plan, values, unreadable, marked, credit) -> Mark:
    """One column of one sheet: blank, unreadable, marked by the key alone, or as check marked
    it in the batch (plan: the column's name, key, places, formula and points)."""
    name, column, k, asked, formula, points = plan
    a = values.get(column)
    if a is None:
        if column in unreadable:
            text = unreadable[column]
            return Mark(column, problem, name, "wrong", None, text, k.answer, k.answer, asked,
                        False, {"mistake": "unreadable", "title": OTHER_MISTAKES["unreadable"],
                                "message": f"'{text}' is not a number; write a decimal number "
                                           f"such as 0.332 or -0.0087", "formula": formula},
                        formula, 0.0, points, None)
        return Mark(column, problem, name, "blank", None, None, k.answer, k.answer, asked,
                    False, None, formula, 0.0, points, None)
    comp, columns, row = marked if marked else (None, {}, None)
    c = columns.get(name)
    if c is None:  # a value the network's step does not compute: the key alone marks it
        ok = _inside(a.value, k.intervals)
        diagnosis = None if ok else {"mistake": None, "title": "not recognised",
                                     "message": "this value is outside the answer key's "
                                                "accepted interval", "formula": formula}
        expected, cf, shown, chain = k.answer, False, max(a.places, asked), \
            ("key" if ok else None)
    else:
        ok, cf, expected = c.ok[row], c.cf[row], c.expected[row]
        # a value the key takes is right whatever came before: it earns all its points even
        # where check tags it as following from the student's own (wrong) earlier values
        cf = cf and not c.alone[row]
        diagnosis = None if ok else marking_diagnosis(comp, c.marked, row, a)
        shown = max(a.places, c.shown, asked)
        chain = CHAINS[c.chain[row]]
    status = ("carried_forward" if cf else "right") if ok else "wrong"
    earned = points if status == "right" else points * credit if cf else 0.0
    return Mark(column, problem, name, status, a.value, a.text, expected, k.answer, shown, cf,
                diagnosis, formula, earned, points, chain)


def _statistics(key, sheet, students, points, credit, warnings, places) -> ClassGrades:
    graded = [s for s in students if s.graded]
    scores = [s.points for s in graded]
    percents = [s.percent for s in graded]
    summary = {"students": len(graded), "rows": len(students),
               "ungraded": len(students) - len(graded),
               "mean": statistics.fmean(scores) if scores else None,
               "median": statistics.median(scores) if scores else None,
               "sd": statistics.pstdev(scores) if scores else None,
               "mean_percent": statistics.fmean(percents) if percents else None,
               "median_percent": statistics.median(percents) if percents else None,
               "sd_percent": statistics.pstdev(percents) if percents else None,
               "max_points": (graded[0].max_points if graded and len({s.max_points
                                                                        for s in graded}) == 1
                              else None)}
    edges = [10 * i for i in range(11)]
    counts = [0] * 10
    for pct in percents:
        counts[min(9, int(pct // 10))] += 1
    histogram = tuple((edges[i], edges[i + 1], counts[i]) for i in range(10))

    # item analysis: each column's score per student (1 right, credit carried forward, else
    # 0), difficulty its mean, discrimination the upper 27 % group's mean minus the lower's
    index = {c: i for i, c in enumerate(key.columns)}
    score = np.full((len(graded), len(key.columns)), np.nan)
    status = defaultdict(Counter)
    mistakes = defaultdict(Counter)
    by_mistake = defaultdict(lambda: {"students": set(), "times": 0, "columns": Counter()})
    for si, s in enumerate(graded):
        for m in s.marks:
            score[si, index[m.column]] = (1.0 if m.status == "right" else
                                          credit if m.status == "carried_forward" else 0.0)
            status[m.column][m.status] += 1
            if m.status == "wrong":
                mid = (m.diagnosis or {}).get("mistake") or UNRECOGNISED
                mistakes[m.column][mid] += 1
                entry = by_mistake[mid]
                entry["students"].add(si)
                entry["times"] += 1
                entry["columns"][m.column] += 1
    ranked = sorted(range(len(graded)), key=lambda i: -graded[i].percent)  # stable: sheet order
    n = round(UPPER_LOWER * len(graded)) if len(graded) >= 2 else 0
    n = max(n, 1) if len(graded) >= 2 else 0
    upper, lower = ranked[:n], ranked[len(ranked) - n:]
    columns = []
    for c in key.columns:
        col = score[:, index[c]]
        asked = ~np.isnan(col)
        difficulty = float(np.mean(col[asked])) if asked.any() else None
        discrimination = None
        if n:
            up, low = col[upper], col[lower]
            up, low = up[~np.isnan(up)], low[~np.isnan(low)]
            if len(up) and len(low):
                discrimination = float(np.mean(up) - np.mean(low))
        st = status[c]
        order = sorted(mistakes[c].items(), key=lambda kv: (-kv[1], _mistake_rank(kv[0])))
        columns.append(ColumnStats(c, int(asked.sum()), st["right"], st["carried_forward"],
                                   st["wrong"], st["blank"], dict(order), difficulty,
                                   discrimination, points[c]))
    ranking = []
    for mid, entry in by_mistake.items():
        ranking.append({"mistake": mid, "title": _mistake_title(mid),
                        "students": len(entry["students"]), "times": entry["times"],
                        "columns": dict(sorted(entry["columns"].items(),
                                               key=lambda kv: (-kv[1], index[kv[0]])))})
    ranking.sort(key=lambda m: (m["mistake"] in (UNRECOGNISED, "unreadable"), -m["students"],
                                -m["times"], _mistake_rank(m["mistake"])))
    return ClassGrades(key, sheet.source, students, tuple(columns), summary, histogram,
                       tuple(ranking), tuple(warnings), credit, places)


def mistake_titles() -> dict:
    """Every name a wrong value's diagnosis may carry, in the order of ranking ties, with the
    words shown for it: check's models, too few places, then grade's own."""
    return {**MISTAKES, TOO_FEW_PLACES[0]: TOO_FEW_PLACES[1], **OTHER_MISTAKES,
            UNRECOGNISED: "not recognised"}


def _mistake_rank(mid: str) -> int:
    order = list(mistake_titles())
    return order.index(mid) if mid in order else len(order)


def _mistake_title(mid: str) -> str:
    return mistake_titles().get(mid, mid)
