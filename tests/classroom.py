"""A simulated class for `derive grade`: students who work a problem set by hand, with
mistakes injected on purpose, and what a grader must say about every value they wrote.

Independent of derive's marking: the lecture's formulas are written out again here in plain
Python (math.exp, Decimal rounding), for the networks `derive problems` draws by default
(sigmoid units, half_sse), and so is each classic mistake.  A student computes each value
from their own earlier values, rounding as they go, so one injected mistake is carried
forward into every later value built on it.  What the grader must say follows from the
injection and from the answer key's intervals (data, read from answers.json):

* a value resting on right values is right iff it lies in the key's intervals;
* one resting on a wrong value is right (carried forward) when it follows from the student's
  own values, wrong otherwise;
* a wrong value is named by the injected mistake, which must be the first of check's models
  (in check's order) to reproduce it; a slip of one digit and a copied value are named by no
  model; a value that is the answer of another variant for the same column, as two or more of
  the sheet's unexplained values are, is named as that variant's.

A simulated value that lands near a boundary (within MARGIN units of the last place of a
competing explanation) would make the expectation a matter of tolerance, so such an injection
is drawn again: every expectation left is clear-cut.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from decimal import ROUND_HALF_UP, Decimal

# check's mistake models, in check's order (the first that reproduces a value names it)
MODELS = ["sign_error", "sign_update", "factor_2", "no_learning_rate", "bias_not_updated",
          "bias_updated_with_o", "bias_left_out", "output_fprime_left_out", "derivative_of_net",
          "updated_weights", "rounding_drift"]
MARGIN = 4  # units of the last place written: closer than this to a rival is ambiguous
DECIMALS = 3


def rnd(x: float, places: int) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def places_of(name: str) -> int:
    return DECIMALS + 1 if name.startswith(("Err", "d")) or name == "loss" else DECIMALS


def text(x: float, places: int) -> str:
    return f"{rnd(x, places):.{places}f}"


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


class Net:
    """One training step of a layered sigmoid network with half_sse, quantity by quantity."""

    def __init__(self, spec: dict):
        layers = spec["layers"]
        assert spec["loss"] == "half_sse"
        assert all(layer["activation"] == "sigmoid" for layer in layers)
        self.W = [layer["weights"] for layer in layers]
        self.b = [layer["biases"] for layer in layers]
        self.x = spec["examples"][0]["input"]
        self.t = spec["examples"][0]["target"]
        self.eta = spec["learning_rate"]
        sizes = [len(self.x)] + [len(b) for b in self.b]
        self.units, start = [], 1
        for s in sizes:
            self.units.append(list(range(start, start + s)))
            start += s
        self.L = len(sizes) - 1
        self.layer = {k: n for n, us in enumerate(self.units) for k in us}

    def pos(self, k: int) -> int:
        return self.units[self.layer[k]].index(k)

    def order(self) -> list[str]:
        """The step's quantities, each after those it is computed from."""
        out = []
        for n in range(1, self.L + 1):
            for k in self.units[n]:
                out += [f"i{k}", f"o{k}"]
        for n in range(self.L, 0, -1):
            out += [f"Err{k}" for k in reversed(self.units[n])]
        for prefix in ("d", ""):
            for n in range(self.L, 0, -1):
                for k in self.units[n]:
                    out += [f"{prefix}w{j}_{k}" for j in self.units[n - 1]]
                    out.append(f"{prefix}b{k}")
        return out

    def inputs(self) -> dict:
        return {f"o{j}": float(v) for j, v in zip(self.units[0], self.x)}

    def deps(self, name: str) -> list[str]:
        """What the right value is computed from (what carries a wrong value forward)."""
        head, k = _split(name)
        if head == "i":
            return [f"o{j}" for j in self.units[self.layer[k] - 1]]
        if head == "o":
            return [f"i{k}"]
        if head == "Err":
            n = self.layer[k]
            return [f"o{k}", *([f"Err{m}" for m in self.units[n + 1]] if n < self.L else [])]
        j, k = k
        if head in ("dw", "w"):
            return [f"Err{k}", f"o{j}"]
        return [f"Err{k}"]  # db, b

    def value(self, name: str, U: dict, model: str | None = None, par=None) -> float:
        """name computed from the values U (the student's), with one mistake if asked."""
        head, k = _split(name)
        if model == "rounding_drift":  # every value carried to par places (Err to par + 1)
            inputs = self.inputs()
            U = {d: v if d in inputs else rnd(v, par + 1 if d.startswith("Err") else par)
                 for d, v in U.items()}
            model = None
        if head == "i":
            n, u = self.layer[k], self.pos(k)
            s = sum(w * U[f"o{j}"] for w, j in zip(self.W[n - 1][u], self.units[n - 1]))
            return s if model == "bias_left_out" else s + self.b[n - 1][u]
        if head == "o":
            return sig(U[f"i{k}"])
        if head == "Err":
            n, u = self.layer[k], self.pos(k)
            o, i = U[f"o{k}"], U[f"i{k}"]
            fp = i * (1 - i) if model == "derivative_of_net" else o * (1 - o)
            if n == self.L:
                diff = (o - self.t[u]) if model == "sign_error" else (self.t[u] - o)
                if model == "output_fprime_left_out":  # Err = -dE/do, no f'(i)
                    return diff
                return diff * fp * (par if model == "factor_2" else 1.0)
            s = 0.0
            for m, km in enumerate(self.units[n + 1]):
                w = self.W[n][m][u]
                if model == "updated_weights":
                    w = w + self.eta * U[f"Err{km}"] * o
                    if par is not None:
                        w = rnd(w, par)
                s += w * U[f"Err{km}"]
            return fp * s
        j, k = k
        err = U[f"Err{k}"]
        n, u = self.layer[k], self.pos(k)
        sign = -1.0 if model == "sign_update" else 1.0
        eta = 1.0 if model == "no_learning_rate" else self.eta
        if head == "dw":
            return -sign * err * U[f"o{j}"]
        if head == "db":
            return -sign * err
        if head == "w":
            return self.W[n - 1][u][self.pos(j)] + sign * eta * err * U[f"o{j}"]
        old = self.b[n - 1][u]
        if model == "bias_not_updated":
            return old
        if model == "bias_updated_with_o":
            return old + self.eta * err * U[f"o{k}"]
        return old + sign * eta * err

    def model_values(self, name: str, U: dict):
        """(model, value) of every mistake model of check at this quantity, in check's
        order, each in every form check tries (factor 2 both ways, the updated weights
        rounded or not, rounding drift to each fewer number of places)."""
        out = []
        for m in MODELS:
            if m == "factor_2":
                out += [(m, self.value(name, U, m, 2.0)), (m, self.value(name, U, m, 0.5))]
            elif m == "updated_weights":
                out += [(m, self.value(name, U, m, None)), (m, self.value(name, U, m, DECIMALS))]
            elif m == "rounding_drift":
                out += [(m, self.value(name, U, m, p)) for p in range(DECIMALS - 1, 0, -1)]
            else:
                out.append((m, self.value(name, U, m)))
        return out


def _split(name: str):
    for head in ("Err", "dw", "db", "i", "o", "w", "b"):
        if name.startswith(head):
            rest = name[len(head):]
            if "_" in rest:
                j, k = rest.split("_")
                return head, (int(j), int(k))
            return head, (int(rest) if head in ("i", "o", "Err") else (None, int(rest)))
    raise ValueError(name)


# -- a calculation: what one hand calculation asks (a problem, or a chain of problems) ----------
class Calc:
    def __init__(self, variant: str, problems: list[dict], key_intervals):
        self.variant = variant
        self.problems = problems  # answers.json entries, marked together
        self.net = Net(problems[0]["spec"])
        asked = {n for p in problems for n in p["answers"]}
        self.asked = [n for n in self.net.order() if n in asked]
        self.column = {n: f"{p['kind']}.{n}" for p in problems for n in p["answers"]}
        self.given = {}
        for p in problems:
            self.given.update({n: v for n, v in p.get("givens", {}).items() if n not in asked})
        self.intervals = {n: key_intervals(p, n) for p in problems for n in p["answers"]}


def key_intervals(problem: dict, name: str):
    """The intervals a right answer may fall in: answers.json's accept, else answer ±
    tolerance (DESIGN.md)."""
    if "accept" in problem and name in problem["accept"]:
        return [tuple(iv) for iv in problem["accept"][name]]
    a, t = problem["answers"][name], problem["tolerance"][name]
    return [(a - t, a + t)]


def inside(x: float, intervals) -> bool:
    slack = 1e-12 * max(1.0, abs(x))
    return any(lo - slack <= x <= hi + slack for lo, hi in intervals)


def units_away(x: float, intervals, places: int) -> float:
    gap = min(0.0 if lo <= x <= hi else min(abs(x - lo), abs(x - hi)) for lo, hi in intervals)
    return gap / 10.0 ** -places


class Ambiguous(Exception):
    """This injection would leave the expectation to tolerance: draw another."""


def work(calc: Calc, event: dict, rng: random.Random, exact_style: bool = False,
         copy_from: dict | None = None):
    """What the student writes (name -> value or None) and what the grader must say about
    each asked value: {"status", "mistake", "value"}."""
    net = calc.net
    U = {**net.inputs(), **calc.given}
    written, expect, tainted = {}, {}, {n: False for n in U}
    for q in calc.asked:
        pl = places_of(q)
        unit = 10.0 ** -pl
        own = net.value(q, U)  # from the student's own values
        value = own if exact_style else rnd(own, pl)
        mistake = None
        if event.get("at") == q and event["kind"] == "model":
            m, par = event["model"], event.get("par")
            value = rnd(net.value(q, U, m, par), pl)
            mistake = m
        elif event.get("at") == q and event["kind"] == "slip":
            value = _slip(rnd(own, pl), pl, rng)
        elif event.get("at") == q and event["kind"] == "short":
            value = _short(calc, q, U, own, pl)
            written[q], U[q], tainted[q] = value, float(value), \
                not inside(float(value), calc.intervals[q])
            expect[q] = {"status": "wrong" if tainted[q] else "right",
                         "mistake": "too_few_places" if tainted[q] else None}
            continue
        elif event["kind"] == "copy" and calc.column[q] in event["columns"]:
            value = rnd(copy_from[calc.column[q]], pl)
        deps = net.deps(q)
        deps_tainted = any(tainted.get(d, False) for d in deps)
        if q in event.get("blank", ()):
            written[q] = None
            U[q] = value
            tainted[q] = deps_tainted
            expect[q] = {"status": "blank", "mistake": None}
            continue
        w = rnd(value, pl)
        written[q] = w
        in_key = inside(w, calc.intervals[q])
        own_e, own_h = own, rnd(own, pl)
        d_own = min(abs(w - own_e), abs(w - own_h)) / unit
        if not deps_tainted:
            if in_key:
                status = "right"
            elif units_away(w, calc.intervals[q], pl) > MARGIN and d_own > MARGIN:
                status = "wrong"
            else:
                raise Ambiguous(q)
        elif in_key:
            status = "right"
        elif d_own <= 0.5 + 1e-6:
            status = "carried_forward"
        elif d_own > MARGIN:
            status = "wrong"
        else:
            raise Ambiguous(q)
        if status == "wrong":
            found = None
            for m, mv in net.model_values(q, U):
                if found is None and abs(w - mv) / unit <= MARGIN:
                    if m != mistake or abs(w - mv) / unit > 0.5 + 1e-6:
                        raise Ambiguous(f"{q}: {m}")  # an earlier model, or not clearly it
                    found = m
            if mistake is not None and found != mistake:
                raise Ambiguous(f"{q}: {mistake} not reproduced")
            mistake = found
        elif mistake is not None:
            raise Ambiguous(f"{q}: the injected {mistake} gives a right value")
        expect[q] = {"status": status, "mistake": mistake}
        U[q] = value if exact_style else w
        tainted[q] = not in_key
    return written, expect


def _short(calc: Calc, q: str, U: dict, own: float, places: int) -> str:
    """The right value written to one place fewer than asked (0.41 for 0.408), as text: read
    padded with zeros it is right only if the padded value is (DESIGN.md, derive check),
    and a wrong one is named "too few places" unless a mistake model (other than rounding
    drift, which too few places explains better) gives the padded value."""
    short = places - 1
    w = rnd(own, short)
    unit = 10.0 ** -places
    if inside(w, calc.intervals[q]):
        return f"{w:.{short}f}"
    if min(abs(w - own), abs(w - rnd(own, places))) / unit <= 0.5 + 1e-6:
        raise Ambiguous(q)  # right at the places asked, yet outside the key
    for m, mv in calc.net.model_values(q, U):
        if m != "rounding_drift" and mv != own and abs(w - mv) / unit <= MARGIN:
            raise Ambiguous(f"{q}: {m}")
    return f"{w:.{short}f}"


def _slip(x: float, places: int, rng: random.Random) -> float:
    """One digit of x (as written) changed."""
    t = f"{x:.{places}f}"
    positions = [i for i, c in enumerate(t) if c.isdigit()]
    i = rng.choice(positions)
    new = rng.choice([d for d in "0123456789" if d != t[i]])
    return float(t[:i] + new + t[i + 1:])


# -- the class --------------------------------------------------------------------------------
APPLIES = {  # where a model can show in a calculation that asks these names
    "sign_error": ("Err",), "factor_2": ("Err",), "derivative_of_net": ("Err",),
    "updated_weights": ("Err",), "output_fprime_left_out": ("Err",),
    "sign_update": ("dw", "db", "w", "b"),
    "no_learning_rate": ("w", "b"), "bias_not_updated": ("b",),
    "bias_updated_with_o": ("b",), "bias_left_out": ("i",), "rounding_drift": ("o", "i", "Err",
                                                                               "dw", "w")}


def calcs_of(key: dict) -> dict:
    """variant code -> its hand calculations (with a chain, problems that build on each other
    are one)."""
    out = {}
    for v in key["variants"]:
        problems = v["problems"]
        groups, where = [], {}
        for p in problems:
            joined = next((where[b] for b in p.get("builds_on", []) if b in where), None)
            if joined is None:
                groups.append([p])
                where[p["id"]] = len(groups) - 1
            else:
                groups[joined].append(p)
                where[p["id"]] = joined
        out[v["id"]] = [Calc(v["id"], g, key_intervals) for g in groups]
    return out


def draw_event(calc: Calc, rng: random.Random, kind: str, used=None) -> dict:
    if kind == "model":  # the models injected least so far first: every one gets its turn
        used = used if used is not None else {}
        m = min(MODELS, key=lambda m: (used.get(m, 0), rng.random()))
        heads = APPLIES[m]
        where = [n for n in calc.asked if _split(n)[0] in heads]
        if m == "bias_not_updated" or m == "bias_updated_with_o":
            where = [n for n in where if n.startswith("b")]
        if not where:
            return {}
        par = {"factor_2": 2.0, "rounding_drift": rng.choice([2, 1])}.get(m)
        if m == "updated_weights":
            par = rng.choice([None, DECIMALS])
        return {"kind": "model", "model": m, "par": par, "at": rng.choice(where)}
    if kind == "slip":
        return {"kind": "slip", "at": rng.choice(calc.asked)}
    if kind == "short":
        return {"kind": "short", "at": rng.choice(calc.asked)}
    if kind == "blank":
        if rng.random() < 0.5:  # ran out of time: the last values left blank
            return {"kind": "blank", "blank": calc.asked[-rng.randint(1, 4):]}
        return {"kind": "blank", "blank": rng.sample(calc.asked, rng.randint(1, 3))}
    return {"kind": kind}


def simulate(key: dict, students: int, seed: int, kinds=("model", "model", "slip", "short",
                                                          "blank", "copy", "none", "none")):
    """students rows: (student id, variant code, {column: value or None}, {column: expected})."""
    rng = random.Random(seed)
    calcs = calcs_of(key)
    codes = [v["id"] for v in key["variants"]]
    answers_by_variant = {v["id"]: {f"{p['kind']}.{n}": a for p in v["problems"]
                                    for n, a in p["answers"].items()} for v in key["variants"]}
    rows, used = [], {}
    for s in range(students):
        code = rng.choice(codes)
        values, expected = {}, {}
        for calc in calcs[code]:
            for _ in range(200):
                kind = rng.choice(kinds)
                event = draw_event(calc, rng, kind, used)
                if not event:
                    continue
                copy_from = None
                if kind == "copy":
                    other = rng.choice([c for c in codes if c != code])
                    copy_from = answers_by_variant[other]
                    problem = rng.choice(calc.problems)
                    event.update({"from": other, "columns": {f"{problem['kind']}.{n}"
                                                             for n in problem["answers"]}})
                exact = kind in ("none", "blank") and rng.random() < 0.3
                try:
                    written, expect = work(calc, event, rng, exact, copy_from)
                except Ambiguous:
                    continue
                if kind == "copy" and not any(e["status"] == "wrong" for e in expect.values()):
                    continue
                if kind == "slip" and _anothers(key, code, calc.column[event["at"]],
                                                written[event["at"]]):
                    continue  # a slip that lands on another variant's answer: draw again
                break
            else:
                raise RuntimeError("no clear-cut event found")
            if event.get("model"):
                used[event["model"]] = used.get(event["model"], 0) + 1
            for n in calc.asked:
                col = calc.column[n]
                values[col] = written[n]
                expected[col] = {**expect[n], "event": event["kind"]}
        _name_copies(key, code, values, expected)
        rows.append((f"student {s:03d}", code, values, expected))
    return rows


def _anothers(key, code, column, value) -> bool:
    """Is value another variant's right answer for column?"""
    kind, name = column.split(".", 1)
    return any(inside(value, key_intervals(p, name)) for v in key["variants"] if v["id"] != code
               for p in v["problems"] if p["kind"] == kind and name in p["answers"])


def _name_copies(key, code, values, expected):
    """Wrong values no model explains that are another variant's answers, as two or more of
    the sheet's such values are that same variant's, are named as copied from it."""
    intervals = {}
    for v in key["variants"]:
        for p in v["problems"]:
            for n in p["answers"]:
                intervals.setdefault(f"{p['kind']}.{n}", []).append(
                    (v["id"], key_intervals(p, n)))
    matches = {}
    for col, e in expected.items():
        if e["status"] == "wrong" and e["mistake"] is None and values[col] is not None:
            found = [c for c, iv in intervals[col] if c != code and inside(values[col], iv)]
            if found:
                matches[col] = found
    counts = {}
    for found in matches.values():
        for c in set(found):
            counts[c] = counts.get(c, 0) + 1
    for col, found in matches.items():
        best = max(found, key=lambda c: (counts[c], -found.index(c)))
        if counts[best] >= 2:
            expected[col]["mistake"] = "other_variant"


def expected_points(expected: dict, points=None, credit: float = 1.0) -> float:
    total = 0.0
    for col, e in expected.items():
        p = (points or {}).get(col, (points or {}).get(col.split(".")[0], 1.0))
        total += p if e["status"] == "right" else p * credit if e["status"] == \
            "carried_forward" else 0.0
    return total


def write_sheet(path, columns, rows, rng: random.Random, quirks: bool = True) -> None:
    """The class sheet as a spreadsheet exports it: with quirks, semicolons, decimal commas, a
    byte order mark, shuffled and extra columns, codes in any case or as numbers, a Unicode
    minus here and there, spaces around cells and an empty row at the end."""
    header = ["student", "variant", *columns]
    extra = ["email", "Notiz"]
    if quirks:
        header = header + extra
        rng.shuffle(header)
    out = io.StringIO()
    w = csv.writer(out, delimiter=";" if quirks else ",", lineterminator="\r\n" if quirks
                   else "\n")
    w.writerow(header)
    for student, code, values, _ in rows:
        cells = {"student": student, "email": f"{student.replace(' ', '.')}@example.org",
                 "Notiz": "nachgereicht" if rng.random() < 0.1 else ""}
        number = int(code.split("-V")[1])
        cells["variant"] = (code if not quirks else rng.choice([code, code.lower(), str(number),
                                                                f" {code} "]))
        for col in columns:
            v = values.get(col)
            if v is None:
                cells[col] = ""
                continue
            t = v if isinstance(v, str) else f"{v:.{places_of(col.split('.', 1)[1])}f}"
            if quirks:
                t = t.replace(".", ",")
                if t.startswith("-") and rng.random() < 0.1:
                    t = "\u2212" + t[1:]
                if rng.random() < 0.05:
                    t = f" {t} "
            cells[col] = t
        w.writerow([cells[h] for h in header])
    if quirks:
        w.writerow([""] * len(header))
    data = out.getvalue()
    with open(path, "w", encoding="utf-8-sig" if quirks else "utf-8", newline="") as fh:
        fh.write(data)


def chained_key(key: dict) -> dict:
    """The key a --chain problem set has (DESIGN.md, issue 15's contract), made from a plain
    one: each variant's forward, backward and update on the forward problem's network, later
    problems building on the earlier ones, no values given, answers and accept intervals from
    this module's own step (the exact chain and the chain rounded by hand)."""
    out = json.loads(json.dumps(key))
    out.setdefault("options", {})["chain"] = True
    for v in out["variants"]:
        spec = next(p for p in v["problems"] if p["kind"] == "forward")["spec"]
        net = Net(spec)
        exact, hand = dict(net.inputs()), dict(net.inputs())
        for q in net.order():
            exact[q] = net.value(q, exact)
            hand[q] = rnd(net.value(q, hand), places_of(q))
        earlier = []
        for p in v["problems"]:
            p["spec"] = spec
            p.pop("givens", None)
            names = list(p["answers"])
            p["answers"] = {n: exact[n] for n in names}
            p["places"] = {n: places_of(n) for n in names}
            accept, tol = {}, {}
            for n in names:
                pl = places_of(n)
                half = 0.5 * 10.0 ** -pl
                shown = sorted({rnd(exact[n], pl), rnd(hand[n], pl)})
                accept[n] = [[float(f"{s - half:.12g}"), float(f"{s + half:.12g}")]
                             for s in shown]
                tol[n] = max(abs(exact[n] - lo) for iv in accept[n] for lo in iv)
            p["accept"], p["tolerance"] = accept, tol
            if earlier:
                p["builds_on"] = list(earlier)
            earlier.append(p["id"])
    return out
