"""Checking a hand calculation: each step marked, errors carried forward, mistakes named.

A student's answers (under the lecture's machine names: ``o4``, ``Err6``, ``w1_4`` for the
new value of w1_4, ``dw1_4``/``db4`` for gradients, ``loss``) are checked one by one in the
order of the computation.  Each expected value is recomputed from the student's OWN earlier
values where they gave them (o6 from their o4 and o5, Err4 from their o4 and Err6, a new
weight from their Err and o), so one early slip costs one mark; a right value that rests on a
wrong earlier one is marked ``carried_forward``.

Tolerance: half a unit in the last place the student wrote (read from the text, since TOML
drops trailing zeros), or in the last place asked where fewer were written (the value is read
padded with zeros: b4 = -0.4 with 3 places asked is -0.400, right only if the answer is), plus
the rounding carried from earlier steps: each given earlier value
may stand for anything that rounds to it, each unwritten intermediate may have been rounded
to the digits shown; both propagate through the step's partial derivatives.  The exact chain
and the hand-rounded chain (every value rounded as it is computed) both count.

A wrong value is tried against mistake models (the same computation with one classic slip
made everywhere it applies) and the simplest that reproduces it is named, with the right
formula beside it.  Plain data only: render/ lays it out.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derive.errors import DeriveError, check_decimals, did_you_mean
from derive.intervals import accept, as_json, half_unit, within  # the one interval rule
from derive.numeric import functions
from derive.numeric.network import Rounding, round_half_up
from derive.spec import Spec
from derive.symbolic.definitions import activation_def, loss_def

RESERVED = ("spec", "decimals", "example")
TOO_FEW_PLACES = ("too_few_places", "too few places")  # not a model: a value read padded

# The mistake models, simplest first: a wrong value matched by several is named by the first.
MISTAKES = {
    "sign_error": "sign of the error term",
    "sign_update": "sign of the update",
    "factor_2": "factor 2",
    "no_learning_rate": "learning rate not applied",
    "bias_not_updated": "bias not updated",
    "bias_updated_with_o": "bias updated with o",
    "bias_left_out": "bias left out",
    "output_fprime_left_out": "f′ left out of the output error term",
    "derivative_of_net": "f′ of the net input",
    "updated_weights": "updated weights in the backward pass",
    "rounding_drift": "rounding drift",
}

_NUMBER = re.compile(r"[+-]?(?:0[xob][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.([0-9][0-9_]*))?"
                     r"(?:[eE]([+-]?[0-9][0-9_]*))?)")
_PLAIN = re.compile(r"-?[0-9]+\.([0-9]+)")
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
    model: float = math.nan  # the model answer: the right chain from the spec alone
    # recomputed from the student's own earlier values, where one of them was wrong and this
    # differs from the model answer at the places shown (else None)
    from_your_values: float | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "given": self.given, "expected": self.expected,
                "ok": self.ok, "carried_forward": self.carried_forward,
                "diagnosis": self.diagnosis, "model_answer": self.model,
                "from_your_values": self.from_your_values}


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


def structure(spec: Spec) -> tuple:
    """What networks must share to be marked in one batch: the layer sizes, each layer's
    activation (with its parameters) and the loss.  Weights, biases, the example and the
    learning rate may differ from row to row."""
    return (spec.sizes, tuple((layer.activation, layer.params) for layer in spec.layers),
            spec.loss)


class Computation:
    """One training step of a batch of networks of one structure (rows: one network each,
    e.g. each student's variant), unit by unit in computation order.

    Each quantity is computed by `value(q, v, model)` from the values `v` of the quantities
    before it, for every row at once (arrays of shape (rows,)); `model` (a mistake model id
    and its parameter) makes one classic slip.  A batch of one row is `derive check`; a whole
    class is `derive grade`: the same arithmetic, in the same order, so the same numbers.
    """

    def __init__(self, specs, example: int = 0, decimals: int = 3):
        specs = [specs] if isinstance(specs, Spec) else list(specs)
        spec = specs[0]
        self.spec = spec  # the structure (and the title, the loss) of the batch
        self.specs = specs
        self.rows = len(specs)
        self.decimals = decimals
        self.L = len(spec.layers)
        shape = structure(spec)
        distinct = {id(s): s for s in specs}.values()  # rows of one variant share a spec
        if any(structure(s) != shape for s in distinct):
            raise ValueError("a batch holds networks of one structure only")
        self.acts = [functions.activation(layer.activation, layer.params)
                     for layer in spec.layers]
        self.defs = [activation_def(layer.activation) for layer in spec.layers]
        self.loss = functions.loss(spec.loss)
        # each network read once (rows of one variant share one), then laid out row by row
        index = {}
        self.network_of = np.array([index.setdefault(id(s), len(index)) for s in specs],
                                   dtype=int)
        nets = list({id(s): s for s in specs}.values())
        rows = self.network_of
        self.W = [np.array([s.layers[n].weights for s in nets], dtype=float).reshape(
            len(nets), spec.sizes[n + 1], spec.sizes[n])[rows] for n in range(self.L)]
        self.b = [np.array([s.layers[n].biases for s in nets], dtype=float).reshape(
            len(nets), spec.sizes[n + 1])[rows] for n in range(self.L)]
        exs = [s.examples[example] for s in nets]
        self.x = np.array([ex.input for ex in exs], dtype=float).reshape(len(nets), -1)[rows]
        self.t = np.array([ex.target for ex in exs], dtype=float).reshape(len(nets), -1)[rows]
        self.eta = np.array([s.learning_rate for s in nets], dtype=float)[rows]
        self.example = example
        self.unit_numbers = [tuple(spec.units(n)) for n in range(self.L + 1)]
        self.order = self._plan()
        self.by_name = {q.name: q for q in self.order}
        self._formulas: dict[str, str] = {}

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

    # -- one step, every row at once ---------------------------------------------------------
    def _column(self, x) -> np.ndarray:
        """A function's value as one number per row (a constant derivative comes back as a
        scalar)."""
        return np.array(np.broadcast_to(np.asarray(x, dtype=float), (self.rows,)))

    def _fprime(self, n: int, i, o, model):
        act = self.acts[n - 1]
        if model[0] == "derivative_of_net" and act.df_from_output is not None:
            return self._column(act.df_from_output(a=i, **dict(act.params)))
        return self._column(act.derivative(i, o))

    def _outputs(self, v: dict) -> np.ndarray:
        nan = np.full(self.rows, np.nan)
        return np.stack([v.get(f"o{k}", nan) for k in self.unit_numbers[self.L]], axis=1)

    def value(self, q: Quantity, v: dict, model=(None, None), rnd: Rounding = Rounding()):
        units, n, u = self.unit_numbers, q.layer, q.unit
        mid, par = model
        if q.kind == "input":
            return self.x[:, u]
        if q.kind == "net":
            s = 0.0
            for j, k in enumerate(units[n - 1]):
                s = s + self.W[n - 1][:, u, j] * v[f"o{k}"]
            return s if mid == "bias_left_out" else s + self.b[n - 1][:, u]
        if q.kind == "out":
            act = self.acts[n - 1]
            if self.defs[n - 1].elementwise:
                return self._column(act(v[f"i{units[n][u]}"]))
            z = np.stack([v[f"i{k}"] for k in units[n]], axis=1)
            return self._column(np.asarray(act(z))[:, u])
        if q.kind == "loss":
            E = self._column(self.loss.per_example(self._outputs(v), self.t))
            return E * par if mid == "factor_2" else E
        k = units[n][u]
        if q.kind == "err":
            if n == self.L and not self.defs[n - 1].elementwise:
                # softmax couples its units: Err_k = -(o_k g_k - o_k sum_j o_j g_j), g = dE/do
                outs = self._outputs(v)
                g = np.broadcast_to(self.loss.gradient(outs, self.t), outs.shape)
                e = -np.asarray(self.acts[n - 1].backprop(None, outs, g))[:, u]
                if mid == "factor_2":
                    e = e * par
                return -e if mid == "sign_error" else e
            f1 = self._fprime(n, v[f"i{k}"], v[f"o{k}"], model)
            if n == self.L:
                outs = self._outputs(v)
                g = np.broadcast_to(self.loss.gradient(outs, self.t), outs.shape)[:, u]
                # the classic slip: Err = −∂E/∂o, the factor f′(i) left out (t − o for half_sse)
                e = -g if mid == "output_fprime_left_out" else -g * f1
                if mid == "factor_2":
                    e = e * par
                return -e if mid == "sign_error" else e
            s = 0.0
            for m, km in enumerate(units[n + 1]):
                w = self.W[n][:, m, u]
                if mid == "updated_weights":
                    w = _round(w + self.eta * v[f"Err{km}"] * v[f"o{k}"], rnd, False)
                s = s + w * v[f"Err{km}"]
            return f1 * s
        err = v[f"Err{k}"]
        o_j = v[f"o{units[n - 1][q.source]}"] if q.source >= 0 else 1.0
        sign = -1.0 if mid == "sign_update" else 1.0
        if q.kind in ("grad_w", "grad_b"):
            return self._column(-sign * err * o_j)
        eta = 1.0 if mid == "no_learning_rate" else self.eta
        if q.kind == "weight":
            return self.W[n - 1][:, u, q.source] + sign * eta * err * o_j
        old = self.b[n - 1][:, u]
        if mid == "bias_not_updated":
            return old.copy()
        if mid == "bias_updated_with_o":
            return old + self.eta * err * v[f"o{k}"]
        return old + sign * eta * err

    def rounded(self, q: Quantity, x, rnd: Rounding):
        if q.kind == "input":
            return x
        return _round(x, rnd, q.error_like)

    def chain(self, given: dict, model=(None, None), places: int | None = None):
        """(raw, expected, used): each quantity computed from the given values (name -> one
        number per row, NaN where that row gave none), else from this chain's own; expected
        is raw rounded as the chain rounds, used what the next steps were computed from."""
        rnd = Rounding(places)
        drift = model[0] == "rounding_drift"
        used, raw, expected = {}, {}, {}
        for q in self.order:
            r = self.value(q, used, model, rnd)
            raw[q.name] = r
            expected[q.name] = e = self.rounded(q, r, rnd)
            g = given.get(q.name) if q.kind != "input" else None
            if g is None:
                used[q.name] = e
            else:
                used[q.name] = np.where(np.isnan(g), e, self.rounded(q, g, rnd) if drift else g)
        return raw, expected, used

    def partial(self, q: Quantity, v: dict, dep: str, model=(None, None)):
        x = v[dep]
        h = 1e-6 * np.maximum(1.0, np.abs(x))
        up, down = dict(v), dict(v)
        up[dep], down[dep] = x + h, x - h
        return (self.value(q, up, model) - self.value(q, down, model)) / (2 * h)

    # -- formulas (plain text in the machine names) ---------------------------------------------
    def formula(self, q: Quantity) -> str:
        if q.name not in self._formulas:
            self._formulas[q.name] = self._formula(q)
        return self._formulas[q.name]

    def _formula(self, q: Quantity) -> str:
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


def round_half_up_rows(x, places: int) -> np.ndarray:
    """derive.numeric.network.round_half_up for a whole array at once, with the same result:
    the decimal digits shown, a half rounded away from zero, judged on the decimal the float
    stands for (derive.intervals.decimal: its shortest repr, or its 15 significant digits where
    the repr is longer, so 0.33864999999999995 is the half 0.33865).

    Away from a half, floor(|x|·10^p + ½) is that answer (the float error of |x|·10^p, and the
    step to 15 digits, are far below 1e-6 of a unit while it is below 1e9).  Near a half k + ½
    the half itself as a float, t = (k + ½)/10^p, decides: division of exact integers by an
    exact power of ten is correctly rounded, so t is the float the decimal half reads as, and
    two decimals of at most 15 digits never share a float; the value's decimal at 15 digits
    is at or above the half iff its float is at or above t.  Huge, infinite and NaN values take
    the decimal route itself."""
    x = np.asarray(x, dtype=float)
    scale = 10.0 ** places
    with np.errstate(invalid="ignore", over="ignore"):
        y = np.abs(x) * scale
        k = np.floor(y)
        near = np.abs(y - k - 0.5) <= 1e-6
        up = y - k >= 0.5
        if near.any():
            at15 = np.array([float(format(v, ".15g")) for v in np.abs(x[near]).tolist()])
            up = np.array(up)
            up[near] = at15 >= (k[near] + 0.5) / scale
        out = np.copysign((k + up) / scale, x) + 0.0
    slow = ~(y < 1e9)
    if slow.any():
        out = np.array(out)
        for i in zip(*np.nonzero(slow)):
            out[i] = round_half_up(float(x[i]), places)
    return out


def _round(x, rnd: Rounding, error_like: bool):
    """Rounded as the chain rounds; a value beyond any hand calculation (a wildly wrong
    answer carried on) is left as it is."""
    if rnd.places is None:
        return x
    x = np.asarray(x, dtype=float)
    keep = ~np.isfinite(x) | (np.abs(np.nan_to_num(x)) >= 1e15)
    r = round_half_up_rows(np.where(keep, 0.0, x), rnd.places + (1 if error_like else 0))
    return np.where(keep, x, r)


def _subst(expr: str, **names) -> str:
    """A SymPy-style expression string with its one-letter symbols renamed, for reading."""
    for sym, new in names.items():
        expr = re.sub(rf"\b{sym}\b", new, expr)
    return expr.replace("**", "^").replace("*", "·").replace(" - ", " − ")


def _messages(comp: Computation, q: Quantity, model, decimals: int, eta: float) -> str:
    if model[0] == "output_fprime_left_out":
        k = comp.spec.units(comp.L)[0] if q.kind != "err" or q.layer != comp.L else \
            comp.spec.units(q.layer)[q.unit]
        minus = _subst(comp.loss.record["minus_dE_do"]["expression"], o=f"o{k}", t=f"t{k}")
        own = q.kind == "err" and q.layer == comp.L
        return ((f"the factor f′(i{k}) was left out of the output's error term: "
                 if own else f"the output's error term was taken without its factor f′(i{k}), "
                             f"and this value follows from it: ")
                + f"Err{k} = −∂E/∂o{k} · f′(i{k}), not −∂E/∂o{k} = {minus} alone")
    return _message(comp.spec.loss, q.kind, model, decimals, eta)


@functools.lru_cache(maxsize=4096)
def _message(loss: str, kind: str, model, decimals: int, eta: float) -> str:
    mid, par = model
    if mid == "factor_2":
        what = "the loss" if kind == "loss" else "the error term"
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
    if mid == "sign_error" and kind not in ("err", "loss"):
        return ("sign: the step went the wrong way: either the output's error term was taken "
                "with (o − t) instead of (t − o), or the gradient was added "
                "(θ + η ∂E/∂θ) instead of subtracted; Err = −∂E/∂i and θ ← θ + η Err o")
    if mid == "sign_error":
        return ("sign: the output's error term was taken with (o − t) instead of (t − o); "
                "Err = −∂E/∂i")
    if mid == "sign_update":
        if kind.startswith("grad"):
            return "sign: the gradient is ∂E/∂θ = −Err·o (Err is −∂E/∂i), not +Err·o"
        return ("sign: the gradient was added, θ ← θ + η ∂E/∂θ, which climbs the loss; "
                "gradient descent subtracts it: θ ← θ − η ∂E/∂θ = θ + η Err o")
    if mid == "no_learning_rate":
        return f"the learning rate η = {eta:g} was not applied to the increment"
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


def _places_note(a: Answer, asked: int, expected: float) -> str:
    """What a value written with too few places reads as, and what to give instead."""
    from derive.numeric.network import round_half_up

    padded = f"{a.value:.{asked}f}".replace("-", "−")
    right = f"{float(round_half_up(expected, asked)):.{asked}f}".replace("-", "−")
    return (f"written to {a.places} place{'s' if a.places != 1 else ''} where {asked} are "
            f"asked: {a.text.replace('-', '−')} reads as {padded}, not {right}; give "
            f"{asked} places")


@functools.lru_cache(maxsize=None)
def _models(decimals: int, elementwise_output: bool = True) -> tuple:
    """(model, places of the chain) pairs to try for a wrong value, simplest first."""
    out = []
    for mid in MISTAKES:
        if mid == "output_fprime_left_out" and not elementwise_output:
            continue  # a softmax layer's error term has no single factor f′ to leave out
        if mid == "rounding_drift":
            out += [((mid, p), p) for p in range(decimals - 1, 0, -1)]
        elif mid == "factor_2":
            for par in (2.0, 0.5):
                out += [((mid, par), None), ((mid, par), decimals)]
        else:
            out += [((mid, None), None), ((mid, None), decimals)]
    return tuple(out)


def _answer(name: str, value) -> Answer:
    if isinstance(value, Answer):
        return value
    if isinstance(value, str):
        text = value.strip()
        m = _PLAIN.fullmatch(text)
        if m:  # most values: a plain decimal, its places the digits after the point
            return Answer(name, float(text), text, len(m.group(1)))
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


def _finite_sum(terms, rows: int):
    """A carried tolerance; a term made undefined by a wildly wrong earlier value adds 0."""
    total = np.zeros(rows)
    for t in terms:
        total = total + np.where(np.isfinite(t), t, 0.0)
    return total


@dataclass(frozen=True)
class Key:
    """What an answer key says about one asked value of one row: its answer and the intervals
    a right answer may fall in (answers.json's `accept`, or answer ± tolerance)."""

    answer: float
    intervals: tuple[tuple[float, float], ...]


MAX_CHECKED_PARAMETERS = 1_000  # a hand calculation; marking grows with the square of it


def check(spec: Spec, answers: dict, decimals: int = 3, example: int = 0) -> CheckReport:
    """Mark each answer (name -> number, or its text as written) against spec's step."""
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
    results = mark(comp, [answers], key=[spec_key(comp, answers)], printed_unknown=True)[0]
    return CheckReport(all(r.ok for r in results), results, spec.title, spec.source, decimals,
                       spec.loss, spec.learning_rate)


def spec_key(comp: Computation, names) -> dict:
    """The answer key of a hand calculation, from its network alone: for each name, the
    accepted intervals of the problem sets' keys (derive.intervals.accept: one rounding
    interval per distinct right value, the exact chain and the chain rounded by hand), so
    that a value resting on right values is marked as a problem set's key marks it, and
    nothing a right chain does not give is taken.  No answer of its own: the model answer is
    the chain the student followed."""
    with np.errstate(all="ignore"):  # saturated units: inf and nan are kept out below
        exact = comp.chain({})[1]
        hand = comp.chain({}, places=comp.decimals)[1]
    out = {}
    for name in names:
        q = comp.by_name[name]
        if q.kind == "input":
            continue
        places = comp.decimals + 1 if q.error_like else comp.decimals
        values = [float(exact[name][0]), float(hand[name][0])]
        if all(math.isfinite(v) for v in values):
            out[name] = Key(math.nan, tuple(map(tuple, as_json(accept(values, places)))))
    return out


@dataclass(frozen=True)
class Marked:
    """One quantity marked in every row of a batch: arrays over the rows (where `given` is
    False the row gave no value and the rest means nothing)."""

    quantity: Quantity
    given: np.ndarray  # bool
    ok: np.ndarray  # bool
    carried_forward: np.ndarray  # bool
    chain: np.ndarray  # 0 wrong, 1 exact, 2 hand, 3 the key's intervals
    expected: np.ndarray
    tolerance: np.ndarray
    model: np.ndarray  # index into _models of the mistake named, -1: none
    few_places: np.ndarray  # wrong, and written to fewer places than asked
    too_few: np.ndarray  # ... and right at the places written: the places are the mistake
    model_answer: np.ndarray  # the right chain from the spec alone (the key's answer, if any)
    # recomputed from the student's own earlier values where one of them was wrong and this
    # differs from the model answer at the places shown; NaN elsewhere
    from_yours: np.ndarray
    right_alone: np.ndarray  # bool: right whatever the earlier values (the key's intervals)


CHAINS = {0: None, 1: "exact", 2: "hand", 3: "key"}


def mark(comp: Computation, answers: list, fixed: list | None = None,
         key: list | None = None, printed_unknown: bool = False) -> list[tuple[Result, ...]]:
    """Mark the answers of every row of comp (one dict name -> number or text as written, per
    row); the results of each row in computation order.

    fixed (optional, per row, name -> number): values the problem states (a backward problem
    gives the forward pass): every chain uses them, nothing marks them, nothing rounds them.
    key (optional, per row, name -> Key): a value not carried forward is right iff it lies in
    one of its key's intervals; one resting on a wrong earlier value is also right when it
    follows from the student's own values (carried forward).  Without a key a value is right
    when it matches either chain at the precision written.  printed_unknown (check): which
    values a problem printed is not known, so a value is also right on the exact chain from
    the student's forward values alone, or from their error terms alone (what a chained
    exam's statement prints for a later problem to build on).
    """
    parsed = [{name: _answer(name, value) for name, value in row.items()} for row in answers]
    marked = mark_batch(comp, parsed, fixed, key, printed_unknown)
    out = [[] for _ in range(comp.rows)]
    for m in marked:
        q, formula = m.quantity, comp.formula(m.quantity)
        lists = [a.tolist() for a in (m.ok, m.carried_forward, m.chain, m.expected,
                                      m.tolerance, m.model_answer, m.from_yours)]
        for r in np.nonzero(m.given)[0].tolist():
            a = parsed[r][q.name]
            ok, cf, chain, expected, tol, model, yours = (x[r] for x in lists)
            out[r].append(Result(q.name, a.value, float(expected), ok, cf,
                                 None if ok else diagnosis(comp, m, r, a), a.text,
                                 shown_places(a, q, comp.decimals), tol, CHAINS[chain],
                                 formula, float(model),
                                 None if math.isnan(yours) else float(yours)))
    return [tuple(results) for results in out]


def shown_places(a: Answer, q: Quantity, decimals: int) -> int:
    """The places to show the expected value at: those asked (the column's heading says
    which), whatever the student wrote."""
    return decimals + 1 if q.error_like else decimals


def diagnosis(comp: Computation, m: Marked, row: int, a: Answer) -> dict:
    """What went wrong with row's value a of m's quantity: the mistake named (or none), why,
    the right formula, and where fewer places were written than asked, the places."""
    q, decimals = m.quantity, comp.decimals
    index = int(m.model[row])
    model = (_models(decimals, comp.defs[-1].elementwise)[index][0] if index >= 0
             else (None, None))
    out = {"mistake": model[0], "title": MISTAKES.get(model[0], "not recognised"),
           "message": _messages(comp, q, model, decimals, comp.specs[row].learning_rate),
           "formula": comp.formula(q)}
    if m.few_places[row]:
        asked = decimals + 1 if q.error_like else decimals
        if m.too_few[row]:
            out.update(mistake=TOO_FEW_PLACES[0], title=TOO_FEW_PLACES[1],
                       message=_places_note(a, asked, float(m.expected[row])))
        else:
            out["message"] += f"; and give {asked} places (this is written to {a.places})"
        out["places"] = {"given": a.places, "asked": asked}
    return out


def mark_batch(comp: Computation, answers: list, fixed: list | None = None,
               key: list | None = None, printed_unknown: bool = False) -> list[Marked]:
    """mark() for grade: the answers already read (name -> Answer, per row), the marks kept
    as arrays over the rows, one Marked per quantity some row gave."""
    if len(answers) != comp.rows:
        raise ValueError("one answers dict per row")
    with np.errstate(all="ignore"):
        return _mark(comp, answers, fixed or [{}] * comp.rows, key or [{}] * comp.rows,
                     printed_unknown)


def _per_row(rows: list, names, value, missing=np.nan) -> dict:
    """name -> array of one value per row (missing where a row has none), for the names some
    row has."""
    out = {}
    for name in names:
        if any(name in row for row in rows):
            out[name] = np.array([value(row[name]) if name in row else missing for row in rows],
                                 dtype=float)
    return out


def _mark(comp: Computation, answers: list, fixed: list, key: list,
          printed_unknown: bool = False):
    R, decimals, order = comp.rows, comp.decimals, comp.order
    parsed = answers
    names = comp.names()
    fx = _per_row(fixed, names, float)
    gv, gp = {}, {}  # each given value and the places it was written to, per row
    for r, row in enumerate(parsed):
        for name, a in row.items():
            if name not in gv:
                gv[name], gp[name] = np.full(R, np.nan), np.zeros(R)
            gv[name][r], gp[name][r] = a.value, a.places
    # what every chain starts from: the stated values, and the student's where they gave one
    cg = dict(gv)
    for name, f in fx.items():
        cg[name] = np.where(np.isnan(f), gv.get(name, np.nan), f)

    exact_raw, exact, used = comp.chain(cg)
    hand_raw, hand, _ = comp.chain(cg, places=decimals)
    # check (no key) does not know which of the values a student wrote a problem printed
    # for them: a chained exam prints the forward pass (or the error terms) that a later
    # problem builds on, and the key computes on from those printed values unrounded.  So a
    # value resting on right values is also right on the exact chain recomputed from the
    # student's forward values alone, or from their error terms alone (grade knows the key's
    # givens and does not need this)
    anchored = []
    if printed_unknown:
        for kinds in (("net", "out"), ("err",)):
            anchors = {q.name for q in order if q.kind in kinds}
            if anchors & set(gv):
                anchored.append(comp.chain({name: v for name, v in cg.items()
                                            if name in anchors or name in fx})[0])
    # the model answers (both chains, from the stated values) are the same for every row of
    # one network with the same stated values: worked out once for each, then laid out
    distinct: dict = {}
    first = [distinct.setdefault((comp.network_of[r], _frozen(fixed[r])), r) for r in range(R)]
    once = sorted(set(first))
    row_of = np.searchsorted(once, first)
    alone = Computation([comp.specs[r] for r in once], comp.example, decimals)
    fx_once = {name: f[once] for name, f in fx.items()}
    pure_exact = _laid_out(alone.chain(fx_once)[1], row_of)
    pure_hand_raw, pure_hand, _ = (_laid_out(c, row_of)
                                   for c in alone.chain(fx_once, places=decimals))
    display = Rounding(decimals)
    models = _models(decimals, comp.defs[-1].elementwise)
    drift = [i for i, (model, _) in enumerate(models) if model[0] == "rounding_drift"]
    false, zero = np.zeros(R, dtype=bool), np.zeros(R)

    # tolerance: half a unit in the last place written + the rounding carried from earlier
    # steps: a right earlier value stands for itself or the value it rounds (what was carried),
    # a wrong one for anything that rounds to it, an unwritten one for its exact value or that
    # value rounded to the digits shown; a stated value is exact.
    unc, tainted, variants, marked = {}, {}, {}, []

    for q in order:
        n = q.name
        if q.kind == "input":
            unc[n], tainted[n] = zero, false
            continue
        carried = _finite_sum((np.abs(comp.partial(q, used, d)) * unc[d] for d in q.deps), R)
        deps_tainted = false
        for d in q.deps:
            deps_tainted = deps_tainted | tainted[d]
        is_fixed = ~np.isnan(fx[n]) if n in fx else false
        is_given = (~np.isnan(gv[n]) & ~is_fixed) if n in gv else false
        unc_unwritten = np.where(is_fixed, 0.0,
                                 carried + np.abs(comp.rounded(q, exact[n], display) - exact[n]))
        taint_unwritten = deps_tainted & ~is_fixed
        if not is_given.any():
            unc[n], tainted[n] = unc_unwritten, taint_unwritten
            continue
        g, pl = gv[n], gp[n]
        # fewer places than asked: read padded with zeros (-0.4 is -0.400 when 3 are asked),
        # so it is right only where that is right (DESIGN.md, derive check)
        asked = decimals + 1 if q.error_like else decimals
        half = _half_units(np.maximum(pl, asked))  # at the places the value is read at
        tol = carried + half

        def close(x, tolerance=tol):  # the one rule (derive.intervals), every row at once
            return np.asarray(within(g, x, tolerance), dtype=bool) & np.isfinite(x)

        def close_chain(raw, rounded, places, tolerance=tol):
            """Right on a rounding chain: near the value before rounding, or the rounded value
            itself when the student wrote no more places than the chain keeps."""
            k = places + 1 if q.error_like else places
            return close(raw, tolerance) | ((pl <= k) & close(rounded, tolerance))

        c_exact = close(exact[n])
        c_hand = close_chain(hand_raw[n], hand[n], decimals)
        c_pure_exact = close(pure_exact[n])
        ok_pure = c_pure_exact | close_chain(pure_hand_raw[n], pure_hand[n], decimals)
        conditions = [c_exact, c_hand, c_pure_exact, ok_pure]
        chains = [1, 2, 1, 2]  # exact, hand
        expecteds = [exact[n], hand[n], pure_exact[n], pure_hand[n]]
        carried_values = [exact[n], hand_raw[n], pure_exact[n], pure_hand_raw[n]]
        model_pure = ok_pure  # the chains from the stated values: the model answer's
        c_anchored = false
        for a in anchored:  # the student's own values, and right ones: right, not carried
            c = close(a[n]) & ~deps_tainted
            conditions.append(c)
            chains.append(1)
            expecteds.append(a[n])
            carried_values.append(a[n])
            c_anchored = c_anchored | c
        ok_pure = ok_pure | c_anchored
        on_a_chain = c_exact | c_hand | ok_pure  # right by the chains, key or no key
        default_expected = exact[n]
        keyed_answer = None
        keyed = [row.get(n) for row in key]
        if any(k is not None for k in keyed):
            has_key = np.array([k is not None for k in keyed])
            answer = np.array([k.answer if k is not None else np.nan for k in keyed])
            width = max(len(k.intervals) for k in keyed if k is not None)
            lo, hi = np.full((R, width), np.nan), np.full((R, width), np.nan)
            for r, k in enumerate(keyed):
                if k is not None:
                    for j, (a, b) in enumerate(k.intervals):
                        lo[r, j], hi[r, j] = a, b
            slack = (1e-12 * np.maximum(1.0, np.abs(g)))[:, None]  # as _inside
            in_key = ((lo - slack <= g[:, None]) & (g[:, None] <= hi + slack)).any(axis=1)
            # a key decides a value that rests on right values; one that rests on a wrong
            # value may also follow from the student's own (carried forward)
            # a value that rests on right values written by the student (or stated by the
            # problem) is also right at the rounding of the chains recomputed from them, the
            # exact one and the one rounded by hand (DESIGN.md: "each recomputed from the
            # student's own earlier values"), at no wider an interval than the key's
            unit = 1e-9 * _half_units(asked + np.zeros(R))
            own_right = (np.abs(g - round_half_up_rows(exact[n], asked)) <= unit) | \
                (np.abs(g - round_half_up_rows(hand[n], asked)) <= unit)
            anchored_right = false  # check: from the forward pass or the error terms alone
            for a in anchored:
                anchored_right = anchored_right | \
                    (np.abs(g - round_half_up_rows(a[n], asked)) <= unit)
            anchored_right = anchored_right & ~deps_tainted
            own_right = own_right | anchored_right
            ok_keyed = np.where(deps_tainted, c_exact | c_hand | in_key, in_key | own_right)
            # the key's intervals are at the places asked; a value written to more places is
            # marked at the precision written, against the chains (DESIGN.md, derive check)
            decides = has_key & (pl <= asked)
            conditions = [np.where(decides, c & ok_keyed, c) for c in conditions]
            conditions.append(decides & ok_keyed)
            chains.append(3)  # the key
            expecteds.append(answer)
            carried_values.append(answer)
            # right whatever the earlier values: in the key, or (check) on a chain from the
            # student's right forward pass or error terms, which a statement may have printed
            ok_pure = np.where(decides, in_key | anchored_right, ok_pure)
            keyed_answer = answer
            default_expected = np.where(has_key & ~deps_tainted, answer, exact[n])
        chain = np.select(conditions, chains, 0)
        # own: matched a chain recomputed from the student's own earlier values
        own = conditions[0] | conditions[1] | c_anchored
        expected = np.select(conditions, expecteds, default_expected)
        carried_value = np.select(conditions, carried_values, np.nan)
        # the student's values lead nowhere: the model answer
        expected = np.where(np.isfinite(expected), expected, pure_exact[n])
        ok = chain > 0
        # the model answer: the key's, or the chain the student followed where it is the right
        # one (hand rounding shows the slides' digits), else the exact one
        model_answer = np.where(model_pure & ~c_pure_exact, pure_hand[n], pure_exact[n])
        if keyed_answer is not None:
            model_answer = np.where(np.isfinite(keyed_answer), keyed_answer, model_answer)
        # from the student's own earlier values, where one of them was wrong: what this value
        # comes to (the chain matched, or the exact one for a wrong value), shown where it
        # explains the mark (a wrong value, or one right from those values) and differs from
        # the model answer at the places shown
        shown = decimals + 1 if q.error_like else decimals
        yours = np.where(own, expected, exact[n])
        finite = np.isfinite(yours) & np.isfinite(model_answer)
        differs = np.zeros(R, dtype=bool)
        differs[finite] = (round_half_up_rows(yours[finite], shown)
                           != round_half_up_rows(model_answer[finite], shown))
        from_yours = np.where(deps_tainted & (own | ~ok) & differs, yours, np.nan)
        tainted[n] = np.where(is_given, ~ok_pure, taint_unwritten)
        # what was carried on: the value written, or the unrounded value it stands for, which
        # lies within the carried rounding of the value recomputed here
        unc[n] = np.where(is_given, np.where(ok, np.abs(g - carried_value) + carried, half),
                          unc_unwritten)
        found = np.full(R, -1)
        # a value the chains would take but the key's intervals do not (fewer places than
        # asked, say) has no slip in its computation for a mistake model to name
        pending = is_given & ~ok & ~on_a_chain
        for index, (model, places) in enumerate(models):
            if not pending.any():
                break
            if (model, places) not in variants:  # one chain per model serves every value
                variants[model, places] = comp.chain(cg, model, places)
            raw, exp_, vused = variants[model, places]
            # the tolerance as for a right value, through this model's own formula
            t = half + _finite_sum(
                (np.abs(comp.partial(q, vused, d, model)) * unc[d] for d in q.model_deps), R)
            match = (close(raw[n], t) if places is None
                     else close_chain(raw[n], exp_[n], places, t))
            found[pending & match] = index
            pending = pending & ~match
        # right at the places written, wrong at the places asked: say so, and name the
        # mistake too where one reproduces the value (b4 = -0.4: not updated)
        few = is_given & ~ok & (pl < asked)
        too_few = np.zeros(R, dtype=bool)
        if few.any():
            loose = carried + _half_units(pl)
            near = [close(exact[n], loose), close_chain(hand_raw[n], hand[n], decimals, loose),
                    close(pure_exact[n], loose),
                    close_chain(pure_hand_raw[n], pure_hand[n], decimals, loose)]
            value = np.select(near, [exact[n], hand[n], pure_exact[n], pure_hand[n]], np.nan)
            # right at the places written: that, not a drift of earlier roundings, is the
            # simplest account of it
            simple = (found < 0) | np.isin(found, drift)
            too_few = few & np.any(near, axis=0) & simple
            expected = np.where(too_few, value, expected)  # what it rounds to when asked
        # carried forward: right from the student's own earlier values, one of which was
        # wrong, whether or not the value happens to round like the model answer
        marked.append(Marked(q, is_given, ok, ok & own & deps_tainted, chain, expected,
                             tol, found, few, too_few, model_answer, from_yours,
                             ok & ok_pure))

    return marked


def _frozen(values: dict):
    return tuple(sorted(values.items()))


def _laid_out(chain: dict, row_of) -> dict:
    """A chain worked out once per network, given to every row of that network."""
    return {name: values[row_of] for name, values in chain.items()}


def _half_units(places) -> np.ndarray:
    """half_unit of each row's places (Python's power, digit for digit as check has it)."""
    distinct, index = np.unique(places.astype(int), return_inverse=True)
    return np.array([half_unit(int(p)) for p in distinct])[index]


def _inside(value: float, intervals) -> bool:
    """In one of the intervals, ends included (the ends are decimal numbers read as floats:
    a hair of slack for the binary noise of the value read)."""
    slack = 1e-12 * max(1.0, abs(value))
    return any(lo - slack <= value <= hi + slack for lo, hi in intervals)


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
    decimals = check_decimals(raw.get("decimals", 3), f"{source}: decimals")
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


def answers_line(message: str, path: Path, source: str) -> str:
    """A refusal about an answers file, naming the file and the line of the value it is
    about (check names the quantity, not the file)."""
    from derive.spec import with_line

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return message
    m = re.match(r"unknown quantity '([^']*)'", message)
    if m:  # marking names the quantity, not the file
        message = f"{source}: {m[1]}: {message}"
    return with_line(message, text, source)
