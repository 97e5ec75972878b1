"""Checking a hand calculation: each step marked, errors carried forward, mistakes named.

A student's answers (under the lecture's machine names: ``o4``, ``Err6``, ``w1_4`` for the
new value of w1_4, ``dw1_4``/``db4`` for gradients, ``loss``) are checked one by one in the
order of the computation.  Each expected value is recomputed from the student's OWN earlier
values where they gave them (o6 from their o4 and o5, Err4 from their o4 and Err6, a new
weight from their Err and o), so one early slip costs one mark; a right value that rests on a
wrong earlier one is marked ``carried_forward``.

Tolerance: half a unit in the last place the student wrote (read from the text, since TOML
drops trailing zeros) plus the rounding carried from earlier steps: each given earlier value
may stand for anything that rounds to it, each unwritten intermediate may have been rounded
to the digits shown; both propagate through the step's partial derivatives.  The exact chain
and the hand-rounded chain (every value rounded as it is computed) both count.

A wrong value is tried against mistake models (the same computation with one classic slip
made everywhere it applies) and the simplest that reproduces it is named, with the right
formula beside it.  Plain data only: render/ lays it out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derive.errors import DeriveError, did_you_mean
from derive.numeric import functions
from derive.numeric.network import Rounding
from derive.spec import Spec
from derive.symbolic.definitions import activation_def, loss_def

RESERVED = ("spec", "decimals", "example")

# The mistake models, simplest first: a wrong value matched by several is named by the first.
MISTAKES = {
    "sign_error": "sign of the error term",
    "sign_update": "sign of the update",
    "factor_2": "factor 2",
    "no_learning_rate": "learning rate not applied",
    "bias_not_updated": "bias not updated",
    "bias_updated_with_o": "bias updated with o",
    "bias_left_out": "bias left out",
    "derivative_of_net": "f′ of the net input",
    "updated_weights": "updated weights in the backward pass",
    "rounding_drift": "rounding drift",
}

_NUMBER = re.compile(r"[+-]?(?:0[xob][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.([0-9][0-9_]*))?"
                     r"(?:[eE]([+-]?[0-9][0-9_]*))?)")
_LINE = re.compile(r"""^\s*(?:"([^"\\]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=\s*(.*?)\s*(?:#.*)?$""")


MAX_PLACES = 350  # places a written value may have: 17 digits of the smallest double fit


def places_of(text: str) -> int:
    """Decimal places a number was written to: '-0.0100' -> 4, '0.4' -> 1, '1.5e-3' -> 4."""
    text = text.strip()
    m = _NUMBER.fullmatch(text)
    if not m:
        raise ValueError(text)
    frac, exp = m.group(1), m.group(2)
    places = len(frac.replace("_", "")) if frac else 0
    if exp:
        digits = exp.replace("_", "").lstrip("+-").lstrip("0")
        if len(digits) > 4000:  # int() reads at most 4,300 digits; this is past any double
            return places + (10 ** 4000 if exp.startswith("-") else -10 ** 4000)
        places -= int(exp.replace("_", ""))
    return places


def half_unit(places: int) -> float:
    """Half a unit in the last place written."""
    return 0.5 * 10.0 ** (-places)


def parse_number(text: str, where: str) -> float:
    """A number as a student types it (TOML's decimal forms); anything else is refused."""
    t = str(text).strip()
    m = _NUMBER.fullmatch(t)
    if not m or t[:3].lstrip("+-").startswith(("0x", "0o", "0b")):
        raise DeriveError(f"{where} must be a decimal number such as 0.332 or -0.0087, "
                          f"not '{t}'")
    value = float(t.replace("_", ""))
    shown = t if len(t) <= 40 else t[:37] + "..."
    if not math.isfinite(value):
        raise DeriveError(f"{where} must be a finite number, not '{shown}'")
    places = places_of(t)
    if abs(places) > MAX_PLACES:
        count = f"{places:,}" if abs(places) < 10 ** 30 else "far more than that"
        raise DeriveError(f"{where} = {shown}: derive reads values written to at most "
                          f"{MAX_PLACES} decimal places (every double fits in them); this one "
                          f"has {count}")
    if value == 0 and re.search(r"[1-9]", re.split(r"[eE]", t)[0]):
        raise DeriveError(f"{where} = {shown} is too small to be held as a number (below "
                          f"5e-324 it reads as 0); give it as 0 or with fewer places")
    return value


@dataclass(frozen=True)
class Quantity:
    """One step of the computation: how it is computed and what it is computed from."""

    name: str
    kind: str  # input net out loss err grad_w grad_b weight bias
    layer: int
    unit: int  # index in its layer
    source: int = -1  # index in the layer before (weights)
    deps: tuple[str, ...] = ()

    @property
    def model_deps(self) -> tuple[str, ...]:
        """deps, and what a mistake model reads besides (i for f′ of the net input, o for a
        bias updated with o)."""
        k = self.name.removeprefix("Err").removeprefix("b")
        extra = {"err": f"i{k}", "bias": f"o{k}"}.get(self.kind)
        return self.deps + ((extra,) if extra and extra not in self.deps else ())

    @property
    def error_like(self) -> bool:  # shown (and hand-rounded) to one place more
        return self.kind in ("loss", "err", "grad_w", "grad_b")


@dataclass(frozen=True)
class Answer:
    name: str
    value: float
    text: str  # as written
    places: int


@dataclass(frozen=True)
class Result:
    name: str
    given: float
    expected: float
    ok: bool
    carried_forward: bool
    diagnosis: dict | None  # {"mistake", "title", "message", "formula"} for a wrong value
    text: str  # the value as the student wrote it
    places: int  # places to show expected at
    tolerance: float
    chain: str | None  # which chain matched: exact, hand (None: wrong)
    formula: str  # the right formula, in the machine names

    def to_dict(self) -> dict:
        return {"name": self.name, "given": self.given, "expected": self.expected,
                "ok": self.ok, "carried_forward": self.carried_forward,
                "diagnosis": self.diagnosis}


@dataclass(frozen=True)
class CheckReport:
    ok: bool
    results: tuple[Result, ...]
    title: str
    source: str  # where the network came from
    decimals: int
    loss: str
    learning_rate: float

    @property
    def right(self) -> int:
        return sum(r.ok for r in self.results)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "results": [r.to_dict() for r in self.results]}


class Computation:
    """The network's one training step on one example, unit by unit in computation order.

    Each quantity is computed by `value(q, v, model)` from the values `v` of the quantities
    before it; `model` (a mistake model id and its parameter) makes one classic slip.
    """

    def __init__(self, spec: Spec, example: int = 0, decimals: int = 3):
        self.spec = spec
        self.decimals = decimals
        self.L = len(spec.layers)
        self.acts = [functions.activation(layer.activation, layer.params)
                     for layer in spec.layers]
        self.defs = [activation_def(layer.activation) for layer in spec.layers]
        self.loss = functions.loss(spec.loss)
        self.W = [np.array(layer.weights, dtype=float) for layer in spec.layers]
        self.b = [np.array(layer.biases, dtype=float) for layer in spec.layers]
        ex = spec.examples[example]
        self.x = [float(v) for v in ex.input]
        self.t = np.array([ex.target], dtype=float)
        self.eta = spec.learning_rate
        self.order = self._plan()
        self.by_name = {q.name: q for q in self.order}

    # -- the plan ------------------------------------------------------------------------
    def _fprime_needs_net(self, n: int) -> bool:
        return self.acts[n - 1].df_from_output is None

    def _plan(self) -> list[Quantity]:
        spec, L = self.spec, self.L
        qs = [Quantity(f"o{j}", "input", 0, v) for v, j in enumerate(spec.units(0))]
        for n in range(1, L + 1):
            prev = tuple(f"o{j}" for j in spec.units(n - 1))
            nets = [Quantity(f"i{k}", "net", n, u, deps=prev) for u, k in enumerate(spec.units(n))]
            if self.defs[n - 1].elementwise:
                for u, k in enumerate(spec.units(n)):
                    qs += [nets[u], Quantity(f"o{k}", "out", n, u, deps=(f"i{k}",))]
            else:  # every output depends on every net input of the layer (softmax)
                qs += nets
                qs += [Quantity(f"o{k}", "out", n, u, deps=tuple(q.name for q in nets))
                       for u, k in enumerate(spec.units(n))]
        qs.append(Quantity("loss", "loss", L, 0, deps=tuple(f"o{k}" for k in spec.units(L))))
        for n in range(L, 0, -1):
            for u in reversed(range(spec.sizes[n])):
                k = spec.units(n)[u]
                deps = [f"o{k}"] + ([f"i{k}"] if self._fprime_needs_net(n) else [])
                if n < L:
                    deps += [f"Err{m}" for m in spec.units(n + 1)]
                elif not self.defs[n - 1].elementwise or spec.loss not in ("half_sse", "sse",
                                                                            "mse"):
                    deps = sorted({*deps, *(f"o{m}" for m in spec.units(L))},
                                  key=[q.name for q in qs].index)
                qs.append(Quantity(f"Err{k}", "err", n, u, deps=tuple(deps)))
        for kind, prefix in (("grad", "d"), ("update", "")):
            for n in range(L, 0, -1):  # the lecture's order: the output layer's first
                for u, k in enumerate(spec.units(n)):
                    for v, j in enumerate(spec.units(n - 1)):
                        qs.append(Quantity(f"{prefix}w{j}_{k}",
                                           "grad_w" if kind == "grad" else "weight", n, u, v,
                                           deps=(f"Err{k}", f"o{j}")))
                    qs.append(Quantity(f"{prefix}b{k}", "grad_b" if kind == "grad" else "bias",
                                       n, u, deps=(f"Err{k}",)))
        return qs

    def names(self) -> list[str]:
        """The quantities a student can give, in computation order."""
        return [q.name for q in self.order if q.kind != "input"]

    # -- one step --------------------------------------------------------------------------
    def _fprime(self, n: int, i: float, o: float, model) -> float:
        act = self.acts[n - 1]
        if model[0] == "derivative_of_net" and act.df_from_output is not None:
            return float(np.asarray(act.df_from_output(a=np.array([i]), **dict(act.params)))
                         .ravel()[0])
        return float(np.asarray(act.derivative(np.array([i]), np.array([o]))).ravel()[0])

    def value(self, q: Quantity, v: dict, model=(None, None), rnd: Rounding = Rounding()) -> float:
        spec, n, u = self.spec, q.layer, q.unit
        mid, par = model
        if q.kind == "input":
            return self.x[u]
        if q.kind == "net":
            s = sum(float(self.W[n - 1][u, j]) * v[f"o{k}"]
                    for j, k in enumerate(spec.units(n - 1)))
            return s if mid == "bias_left_out" else s + float(self.b[n - 1][u])
        if q.kind == "out":
            act = self.acts[n - 1]
            if self.defs[n - 1].elementwise:
                return float(np.asarray(act(np.array([v[f"i{spec.units(n)[u]}"]]))).ravel()[0])
            z = np.array([[v[f"i{k}"] for k in spec.units(n)]])
            return float(np.asarray(act(z))[0, u])
        outs = np.array([[v.get(f"o{k}", np.nan) for k in spec.units(self.L)]])
        if q.kind == "loss":
            E = float(self.loss.per_example(outs, self.t)[0])
            return E * par if mid == "factor_2" else E
        k = spec.units(n)[u]
        if q.kind == "err":
            f1 = self._fprime(n, v[f"i{k}"], v[f"o{k}"], model)
            if n == self.L:
                g = float(self.loss.gradient(outs, self.t)[0, u])
                e = -g * f1
                if mid == "factor_2":
                    e *= par
                return -e if mid == "sign_error" else e
            s = 0.0
            for m, km in enumerate(spec.units(n + 1)):
                w = float(self.W[n][m, u])
                if mid == "updated_weights":
                    w = _round(w + self.eta * v[f"Err{km}"] * v[f"o{k}"], rnd, False)
                s += w * v[f"Err{km}"]
            return f1 * s
        err = v[f"Err{k}"]
        o_j = v[f"o{spec.units(n - 1)[q.source]}"] if q.source >= 0 else 1.0
        sign = -1.0 if mid == "sign_update" else 1.0
        if q.kind in ("grad_w", "grad_b"):
            return -sign * err * o_j
        eta = 1.0 if mid == "no_learning_rate" else self.eta
        if q.kind == "weight":
            return float(self.W[n - 1][u, q.source]) + sign * eta * err * o_j
        old = float(self.b[n - 1][u])
        if mid == "bias_not_updated":
            return old
        if mid == "bias_updated_with_o":
            return old + self.eta * err * v[f"o{k}"]
        return old + sign * eta * err

    def rounded(self, q: Quantity, x: float, rnd: Rounding) -> float:
        if q.kind == "input":
            return x
        return _round(x, rnd, q.error_like)

    def chain(self, given: dict[str, float], model=(None, None), places: int | None = None):
        """(raw, expected): each quantity computed from the student's values where given,
        else from this chain's own; expected is raw rounded as the chain rounds."""
        rnd = Rounding(places)
        used, raw, expected = {}, {}, {}
        for q in self.order:
            r = self.value(q, used, model, rnd)
            raw[q.name] = r
            expected[q.name] = e = self.rounded(q, r, rnd)
            if q.name in given and q.kind != "input":
                g = given[q.name]
                used[q.name] = self.rounded(q, g, rnd) if model[0] == "rounding_drift" else g
            else:
                used[q.name] = e
        return raw, expected, used

    def partial(self, q: Quantity, v: dict, dep: str, model=(None, None)) -> float:
        x = v[dep]
        h = 1e-6 * max(1.0, abs(x))
        up, down = dict(v), dict(v)
        up[dep], down[dep] = x + h, x - h
        return (self.value(q, up, model) - self.value(q, down, model)) / (2 * h)

    # -- formulas (plain text in the machine names) ---------------------------------------------
    def formula(self, q: Quantity) -> str:
        spec, n, u = self.spec, q.layer, q.unit
        if q.kind == "net":
            k = spec.units(n)[u]
            terms = [f"w{j}_{k}·o{j}" for j in spec.units(n - 1)]
            return f"i{k} = {' + '.join(terms)} + b{k}"
        if q.kind == "out":
            k = spec.units(n)[u]
            return f"o{k} = {self.defs[n - 1].symbol}(i{k})"
        if q.kind == "loss":
            return loss_def(spec.loss).formula or f"E = {loss_def(spec.loss).per_unit}"
        k = spec.units(n)[u]
        if q.kind == "err":
            f1 = self._fprime_text(n, k)
            if n == self.L:
                minus = _subst(self.loss.record["minus_dE_do"]["expression"], o=f"o{k}",
                               t=f"t{k}")
                return f"Err{k} = −∂E/∂o{k} · f′(i{k}) = ({minus})·{f1}"
            terms = " + ".join(f"w{k}_{m}·Err{m}" for m in spec.units(n + 1))
            return f"Err{k} = f′(i{k}) · Σ w{k}_m·Err_m = {f1}·({terms})"
        j = spec.units(n - 1)[q.source] if q.source >= 0 else None
        if q.kind == "grad_w":
            return f"dw{j}_{k} = ∂E/∂w{j}_{k} = −Err{k}·o{j}"
        if q.kind == "grad_b":
            return f"db{k} = ∂E/∂b{k} = −Err{k}"
        if q.kind == "weight":
            return f"w{j}_{k} ← w{j}_{k} + η·Err{k}·o{j}"
        return f"b{k} ← b{k} + η·Err{k}"

    def _fprime_text(self, n: int, k: int) -> str:
        rec = self.acts[n - 1].record
        if rec.get("derivative_from_output"):
            return "(" + _subst(rec["derivative_from_output"]["expression"], a=f"o{k}") + ")"
        return "(" + _subst(rec["derivative"]["expression"], z=f"i{k}") + ")"


def _round(x: float, rnd: Rounding, error_like: bool) -> float:
    """Rounded as the chain rounds; a value beyond any hand calculation (a wildly wrong
    answer carried on) is left as it is."""
    if rnd.places is None or not math.isfinite(x) or abs(x) >= 1e15:
        return float(x)
    return float(rnd.error(x) if error_like else rnd.value(x))


def _subst(expr: str, **names) -> str:
    """A SymPy-style expression string with its one-letter symbols renamed, for reading."""
    for sym, new in names.items():
        expr = re.sub(rf"\b{sym}\b", new, expr)
    return expr.replace("**", "^").replace("*", "·").replace(" - ", " − ")


def _messages(comp: Computation, q: Quantity, model, decimals: int) -> str:
    mid, par = model
    loss = comp.spec.loss
    if mid == "factor_2":
        what = "the loss" if q.kind == "loss" else "the error term"
        if loss == "half_sse" and par == 2.0:
            why = ("this is the value for sse, E = Σ(t − o)², whose derivative is the slide's "
                   "−2(t − o); this network's loss is half_sse, E = ½Σ(t − o)², so "
                   "−∂E/∂o = t − o")
        elif loss == "sse" and par == 0.5:
            why = ("this is the value for half_sse, E = ½Σ(t − o)²; this network's loss is "
                   "sse, E = Σ(t − o)², so −∂E/∂o = 2(t − o)")
        else:
            why = f"{'twice' if par == 2.0 else 'half'} the right value of {what}"
        return f"factor 2 in {what}: {why}"
    if mid == "sign_error" and q.kind not in ("err", "loss"):
        return ("sign: the step went the wrong way: either the output's error term was taken "
                "with (o − t) instead of (t − o), or the gradient was added "
                "(θ + η ∂E/∂θ) instead of subtracted; Err = −∂E/∂i and θ ← θ + η Err o")
    if mid == "sign_error":
        return ("sign: the output's error term was taken with (o − t) instead of (t − o); "
                "Err = −∂E/∂i")
    if mid == "sign_update":
        if q.kind.startswith("grad"):
            return "sign: the gradient is ∂E/∂θ = −Err·o (Err is −∂E/∂i), not +Err·o"
        return ("sign: the gradient was added, θ ← θ + η ∂E/∂θ, which climbs the loss; "
                "gradient descent subtracts it: θ ← θ − η ∂E/∂θ = θ + η Err o")
    if mid == "no_learning_rate":
        return f"the learning rate η = {comp.eta:g} was not applied to the increment"
    if mid == "bias_not_updated":
        return "the bias was left at its old value; it is updated too: b ← b + η Err"
    if mid == "bias_updated_with_o":
        return ("the bias was updated like a weight, with the unit's output o; a bias's "
                "input is 1: b ← b + η Err")
    if mid == "bias_left_out":
        return "the bias was left out of the net input i = Σ w o + b"
    if mid == "derivative_of_net":
        return ("the derivative was taken of the net input i instead of the output o "
                "(for the sigmoid: i(1 − i) instead of o(1 − o))")
    if mid == "updated_weights":
        return ("the backward pass used weights already updated; the error terms use the "
                "weights from before the update")
    if mid == "rounding_drift":
        return (f"rounding drift: earlier values were carried to {par} places (error terms "
                f"{par + 1}); carry at least {decimals} ({decimals + 1} for error terms and "
                f"gradients) to get this value at the digits written")
    return "no known mistake reproduces this value; compare with the formula"


def _models(comp: Computation, q: Quantity, decimals: int):
    """(model, places of the chain) pairs to try for a wrong value, simplest first."""
    out = []
    for mid in MISTAKES:
        if mid == "rounding_drift":
            out += [((mid, p), p) for p in range(decimals - 1, 0, -1)]
        elif mid == "factor_2":
            for par in (2.0, 0.5):
                out += [((mid, par), None), ((mid, par), decimals)]
        else:
            out += [((mid, None), None), ((mid, None), decimals)]
    return out


def _answer(name: str, value) -> Answer:
    if isinstance(value, str):
        text = value.strip()
        num = parse_number(text, name)
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DeriveError(f"{name} must be a number, not {value!r}")
        try:
            num = float(value)
        except OverflowError:
            num = math.inf
        if not math.isfinite(num):
            raise DeriveError(f"{name} must be a finite number, not {_short(value)}")
        text = repr(value)
    return Answer(name, num, text, places_of(text))


def _short(value) -> str:
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 1000 else \
        f"a whole number of about {int(value.bit_length() * 0.30103)} digits"
    return text if len(text) <= 40 else text[:37] + "..."


def _finite_sum(terms) -> float:
    """A carried tolerance; a term made undefined by a wildly wrong earlier value adds 0."""
    return sum(t for t in terms if math.isfinite(t))


def check(spec: Spec, answers: dict, decimals: int = 3, example: int = 0) -> CheckReport:
    """Mark each answer (name -> number, or its text as written) against spec's step."""
    with np.errstate(all="ignore"):
        return _check(spec, answers, decimals, example)


MAX_CHECKED_PARAMETERS = 1_000  # a hand calculation; marking grows with the square of it


def _check(spec: Spec, answers: dict, decimals: int, example: int) -> CheckReport:
    n = len(spec.parameter_names())
    if n > MAX_CHECKED_PARAMETERS:
        raise DeriveError(f"{spec.source + ': ' if spec.source else ''}the network "
                          f"{'-'.join(map(str, spec.sizes))} has {n:,} weights and "
                          f"biases: derive checks hand calculations of networks up to "
                          f"{MAX_CHECKED_PARAMETERS:,}")
    comp = Computation(spec, example, decimals)
    valid = comp.names()
    for name in answers:
        if name not in comp.by_name or name not in valid:
            shown = ", ".join(valid[:40]) + (f", ... ({len(valid) - 40:,} more)"
                                              if len(valid) > 40 else "")  # one readable line
            raise DeriveError(f"unknown quantity '{name if len(name) <= 40 else name[:37] + '...'}'"
                              f"{did_you_mean(name, valid)}; "
                              f"valid names for this network: {shown}")
    given = {name: _answer(name, value) for name, value in answers.items()}
    gv = {name: a.value for name, a in given.items()}

    exact_raw, exact, used = comp.chain(gv)
    hand_raw, hand, _ = comp.chain(gv, places=decimals)
    pure_exact = comp.chain({})[1]
    pure_hand_raw, pure_hand, _ = comp.chain({}, places=decimals)
    display = Rounding(decimals)

    # tolerance: half a unit in the last place written + the rounding carried from earlier
    # steps: a right earlier value stands for itself or the value it rounds (what was carried),
    # a wrong one for anything that rounds to it, an unwritten one for its exact value or that
    # value rounded to the digits shown.
    unc, tol, tainted, results, variants = {}, {}, {}, [], {}

    def close(name, *values, tolerance=None):
        t = (tol[name] if tolerance is None else tolerance) * (1 + 1e-9) + 1e-12
        return any(abs(gv[name] - x) <= t for x in values)

    def close_chain(name, raw, rounded, places, tolerance=None):
        """Right on a rounding chain: near the value before rounding, or the rounded value
        itself when the student wrote no more places than the chain keeps."""
        q = comp.by_name[name]
        keeps = places + 1 if q.error_like else places
        return (close(name, raw, tolerance=tolerance)
                or (given[name].places <= keeps and close(name, rounded, tolerance=tolerance)))

    for q in comp.order:
        n = q.name
        if q.kind == "input":
            unc[n], tainted[n] = 0.0, False
            continue
        carried = _finite_sum(abs(comp.partial(q, used, d)) * unc[d] for d in q.deps)
        deps_tainted = any(tainted[d] for d in q.deps)
        if n not in given:
            x = exact[n]
            unc[n] = carried + abs(comp.rounded(q, x, display) - x)
            tainted[n] = deps_tainted
            continue
        a = given[n]
        tol[n] = carried + half_unit(a.places)
        ok_pure = (close(n, pure_exact[n])
                   or close_chain(n, pure_hand_raw[n], pure_hand[n], decimals))
        if close(n, exact[n]):
            chain, expected, carried_value = "exact", exact[n], exact[n]
        elif close_chain(n, hand_raw[n], hand[n], decimals):
            chain, expected, carried_value = "hand", hand[n], hand_raw[n]
        elif close(n, pure_exact[n]):
            chain, expected, carried_value = "exact", pure_exact[n], pure_exact[n]
        elif ok_pure:
            chain, expected, carried_value = "hand", pure_hand[n], pure_hand_raw[n]
        else:
            chain, expected, carried_value = None, exact[n], None
        if not math.isfinite(expected):  # the student's values lead nowhere: the model answer
            expected = pure_exact[n]
        ok = chain is not None
        tainted[n] = not ok_pure
        # what was carried on: the value written, or the unrounded value it stands for, which
        # lies within the carried rounding of the value recomputed here
        unc[n] = abs(a.value - carried_value) + carried if ok else half_unit(a.places)
        diagnosis = None
        if not ok:
            found = (None, None)
            for model, places in _models(comp, q, decimals):
                if (model, places) not in variants:  # one chain per model serves every value
                    variants[model, places] = comp.chain(gv, model, places)
                raw, exp_, vused = variants[model, places]
                # the tolerance as for a right value, through this model's own formula
                t = half_unit(a.places) + _finite_sum(
                    abs(comp.partial(q, vused, d, model)) * unc[d] for d in q.model_deps)
                if (close(n, raw[n], tolerance=t) if places is None
                        else close_chain(n, raw[n], exp_[n], places, tolerance=t)):
                    found = model
                    break
            diagnosis = {"mistake": found[0],
                         "title": MISTAKES.get(found[0], "not recognised"),
                         "message": _messages(comp, q, found, decimals),
                         "formula": comp.formula(q)}
        shown = max(a.places, decimals + 1 if q.error_like else decimals)
        results.append(Result(n, a.value, float(expected), ok,
                              ok and not ok_pure and deps_tainted, diagnosis, a.text, shown,
                              tol[n], chain, comp.formula(q)))
    return CheckReport(all(r.ok for r in results), tuple(results), spec.title,
                       spec.source, decimals, spec.loss, spec.learning_rate)


# -- the answers file ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswersFile:
    answers: dict  # name -> text as written
    spec_path: Path | None
    decimals: int
    example: int  # from 0
    source: str


def value_texts(text: str) -> dict[str, str]:
    """The text of each top-level `key = value` line (TOML drops trailing zeros)."""
    out = {}
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            break
        m = _LINE.match(line)
        if m:
            key = next(g for g in m.groups()[:3] if g is not None)
            out[key] = m.group(4)
    return out


def parse_answers(text: str, source: str = "answers", base: Path | None = None) -> AnswersFile:
    """Read an answers file's text; a refusal names the file and the line of the key."""
    from derive.spec import with_line

    try:
        return _parse_answers(text, source, base)
    except DeriveError as exc:
        raise DeriveError(with_line(str(exc), text, source)) from None


def _parse_answers(text: str, source: str, base: Path | None) -> AnswersFile:
    from derive.spec import parse_toml

    text = text.removeprefix("\ufeff")
    raw = parse_toml(text, source)
    texts = value_texts(text)
    spec_path = None
    if "spec" in raw:
        if not isinstance(raw["spec"], str) or not raw["spec"].strip():
            raise DeriveError(f"{source}: spec must be the name of a TOML spec file")
        spec_path = (base or Path(".")) / raw["spec"]
    decimals = raw.get("decimals", 3)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 12:
        raise DeriveError(f"{source}: decimals must be a whole number from 0 to 12, "
                          f"not {decimals!r}")
    example = raw.get("example", 1)
    if isinstance(example, bool) or not isinstance(example, int) or example < 1:
        raise DeriveError(f"{source}: example must be a whole number from 1, not {example!r}")
    answers = {}
    for key, value in raw.items():
        if key in RESERVED:
            continue
        where = f"{source}: {key}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DeriveError(f"{where} must be a number (such as 0.332), not {_short(value)}")
        if not math.isfinite(value):
            raise DeriveError(f"{where} must be a finite number, not {value!r}")
        written = texts.get(key)
        if written is not None and _NUMBER.fullmatch(written.strip()):
            answers[key] = written.strip()
        else:
            answers[key] = repr(float(value)) if isinstance(value, float) else str(value)
        parse_number(answers[key], where)  # places a report can show, no underflow
    return AnswersFile(answers, spec_path, decimals, example - 1, source)


def load_answers(path) -> AnswersFile:
    from derive.spec import read_file

    path = Path(path)
    return parse_answers(read_file(path, "answers file"), str(path), path.parent)
