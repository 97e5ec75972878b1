"""The one-parameter intuition examples: fit a model by gradient descent, minimise a function.

Fitting (the lecture's dollars -> shekels and kilometres -> miles): the loss is the mean over
the data of (model(x) - y)^2, its gradient the mean of 2 (model(x) - y) d model/d p, and each
step is p <- p - eta dL/dp.  Step 0 is the starting point.

A run DIVERGES when the loss grows for 3 steps in a row or stops being finite (then it stops);
it CRAWLS when, at the end, the loss has only been falling, yet the gradient is still at least
a tenth of its starting size (the learning rate is too small for the number of steps).

The user's text goes through derive.expr.parse (the safe whitelist parser) and SymPy's diff;
the numbers come from the expression trees compiled to NumPy closures (no eval, no lambdify).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from derive.errors import DeriveError
from derive.numeric.evaluate import Function

GROWTH_STEPS = 3  # the loss growing this many steps in a row is divergence
CRAWL_FRACTION = 0.1  # gradient still >= this fraction of its start: crawling
CONVERGED_FRACTION = 1e-3  # gradient below this fraction of its start: converged
GROWTH_TOLERANCE = 1e-12  # relative: smaller increases are rounding noise
MAX_STEPS = 1_000_000
PROGRESS_EVERY = 1000

PRESETS = {
    "shekels": {
        "model": "c*x", "data": "10:36.7,20:73.4", "param": "c=3", "lr": "0.001", "steps": 10,
        "description": "US dollars to Israeli shekels: shekels = dollars × c, from $10 → "
                       "₪36.70 and $20 → ₪73.40 (1 USD = 3.67 ILS, an illustrative rate; it "
                       "changes daily); the first guess is c = 3",
    },
    "miles": {
        "model": "c*x", "data": "10:6.21371,20:12.42742,50:31.06855", "param": "c=0.5",
        "lr": "0.0002", "steps": 20,
        "description": "kilometres to miles: miles = kilometres × c, from 10, 20 and 50 km "
                       "(1 km = 0.621371 mi exactly to six places, since 1 mi = 1.609344 km); "
                       "the first guess is c = 0.5",
    },
}


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


# --- reading the user's input -----------------------------------------------------------------

def parse_number(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except (ValueError, AttributeError):
        raise DeriveError(f"{what}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise DeriveError(f"{what}: '{text}' is not a finite number")
    return value


def parse_numbers(text: str, what: str) -> list[float]:
    parts = [p for p in str(text).split(",")]
    if not text or not text.strip() or any(not p.strip() for p in parts):
        raise DeriveError(f"{what} must be numbers separated by commas, e.g. -2,0.5,2; "
                          f"got '{text}'")
    return [parse_number(p, what) for p in parts]


def parse_rates(text: str) -> list[float]:
    rates = parse_numbers(text, "--lr")
    for r in rates:
        if r <= 0:
            raise DeriveError(f"--lr must be greater than 0, not {r:g}")
    if len(set(rates)) != len(rates):
        raise DeriveError(f"--lr '{text}' repeats a learning rate")
    return rates


def parse_data(text: str) -> tuple[list[float], list[float]]:
    """'10:36.7,20:73.4' -> ([10, 20], [36.7, 73.4])."""
    if not text or not text.strip():
        raise DeriveError("--data is empty; give x:y pairs, e.g. 10:36.7,20:73.4")
    xs, ys = [], []
    for pair in text.split(","):
        if pair.count(":") != 1:
            raise DeriveError(f"--data: '{pair.strip()}' is not an x:y pair "
                              f"(write pairs as 10:36.7,20:73.4)")
        x, y = pair.split(":")
        xs.append(parse_number(x, "--data"))
        ys.append(parse_number(y, "--data"))
    return xs, ys


def parse_params(items) -> dict[str, float]:
    """('c=3', 'a=1,b=0') -> {'c': 3.0, 'a': 1.0, 'b': 0.0}."""
    out: dict[str, float] = {}
    for item in items:
        for part in str(item).split(","):
            if part.count("=") != 1:
                raise DeriveError(f"--param: '{part.strip()}' is not name=value (e.g. c=3)")
            name, value = (s.strip() for s in part.split("="))
            if not name.isidentifier() or name.startswith("_") or name == "x":
                raise DeriveError(f"--param: '{name}' cannot be a parameter name (use a plain "
                                  f"name other than x, e.g. c)")
            if name in out:
                raise DeriveError(f"--param: '{name}' is given twice")
            out[name] = parse_number(value, f"--param {name}")
    if not out:
        raise DeriveError("--param is needed: the parameters and their starting values, "
                          "e.g. --param c=3")
    return out


# --- compiled expressions ---------------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    text: str  # rebuilt from the syntax tree (derive.expr.canonical), never the raw text
    params: tuple[str, ...]
    f: Function
    grads: tuple[Function, ...]  # d model / d param, in params order
    expression: str  # SymPy's spelling
    latex: str
    oneline: str  # one line of Unicode, for the terminal: c·x


def compile_model(text: str, params) -> Model:
    """Parse the model (safe parser) and differentiate it in each parameter (SymPy, in the
    worker: derive.symbolic.descend.model)."""
    from derive.expr import syntax_tree
    from derive.symbolic import worker

    syntax_tree(text, "--model")  # characters and syntax: checked before any process starts
    params = tuple(params)
    got = worker.run("model", text, list(params), user=True, what=f"--model '{text}'")
    return Model(got["text"], params, Function(got["tree"]),
                 tuple(Function(g) for g in got["grads"]), got["expression"], got["latex"],
                 got["oneline"])


@dataclass(frozen=True)
class Function1:
    text: str  # rebuilt from the syntax tree, as Model.text
    f: Function
    df: Function
    expression: str
    latex: str
    derivative: str
    derivative_latex: str
    oneline: str = ""  # f and f′ on one line of Unicode, for the terminal: x⁴ − 3x² + x
    derivative_oneline: str = ""


def compile_function(text: str) -> Function1:
    """Parse the function and differentiate it (SymPy, in the worker)."""
    from derive.expr import syntax_tree
    from derive.symbolic import worker

    syntax_tree(text, "--function")
    got = worker.run("function", text, user=True, what=f"--function '{text}'")
    return Function1(got["text"], Function(got["tree"]), Function(got["dtree"]),
                     got["expression"], got["latex"], got["derivative"],
                     got["derivative_latex"], got["oneline"], got["derivative_oneline"])


# --- runs -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    diverged: bool
    crawling: bool
    converged: bool
    oscillating: bool
    growth_steps: int  # the longest run of steps in which the loss grew
    growth_from: int | None  # the step that run started from
    message: str


def verdict(losses, grad_norms, lr: float, what: str = "loss") -> Verdict:
    """Divergence, crawling, convergence, oscillation: read off the losses and gradients."""
    losses = [float(v) for v in losses]
    longest, start, run = 0, None, 0
    for k in range(1, len(losses)):
        a, b = losses[k - 1], losses[k]
        # growth by more than rounding noise (a converged run jitters in the last digits)
        grew = math.isfinite(a) and math.isfinite(b) \
            and b - a > GROWTH_TOLERANCE * max(1.0, abs(a), abs(b))
        run = run + 1 if grew else 0
        if run > longest:
            longest, start = run, k - run
    nonfinite = next((k for k, v in enumerate(losses) if not math.isfinite(v)), None)
    steps = len(losses) - 1
    if nonfinite is not None:
        msg = (f"diverges: the learning rate {lr:g} is too large; the {what} grew until it "
               f"was no longer a finite number at step {nonfinite}")
        return Verdict(True, False, False, False, longest, start, msg)
    if longest >= GROWTH_STEPS:
        msg = (f"diverges: the learning rate {lr:g} is too large; the {what} grew for "
               f"{longest} steps in a row (from step {start} to step {start + longest})")
        return Verdict(True, False, False, False, longest, start, msg)
    g0, gk = grad_norms[0], grad_norms[-1]
    if steps == 0 or g0 == 0:
        return Verdict(False, False, g0 == 0, False, longest, start,
                       "starts at a stationary point: the gradient is 0" if g0 == 0
                       else "no steps taken")
    ratio = gk / g0
    if ratio <= CONVERGED_FRACTION:
        return Verdict(False, False, True, False, longest, start,
                       f"converges: after {steps} steps the gradient is {ratio:.2g} of its "
                       f"starting size")
    falling = all(b - a <= GROWTH_TOLERANCE * max(1.0, abs(a), abs(b))
                  for a, b in zip(losses, losses[1:]))
    if ratio >= CRAWL_FRACTION and falling and losses[-1] < losses[0]:
        rate = ratio ** (1 / steps)
        more = ""
        if 0 < rate < 1:
            need = math.ceil(math.log(0.01) / math.log(rate))
            more = f"; at this pace it needs about {need} steps to bring it to 1% of its start"
        return Verdict(False, True, False, False, longest, start,
                       f"crawls: the learning rate {lr:g} is too small; after {steps} steps "
                       f"the gradient is still {100 * ratio:.0f}% of its starting size{more}")
    if not falling:
        return Verdict(False, False, False, True, longest, start,
                       f"bounces: the {what} went up and down (the learning rate {lr:g} is "
                       f"close to too large), but did not grow {GROWTH_STEPS} steps in a row")
    return Verdict(False, False, False, False, longest, start,
                   f"still improving: after {steps} steps the gradient is {100 * ratio:.1f}% "
                   f"of its starting size")


@dataclass(frozen=True)
class FitRun:
    lr: float
    params: tuple[str, ...]
    steps: tuple[dict, ...]  # {"step", "params", "loss", "gradient"}
    verdict: Verdict

    def to_dict(self) -> dict:
        v = self.verdict
        return {"lr": self.lr,
                "steps": [{"step": s["step"],
                           "params": {k: _finite_or_none(x) for k, x in s["params"].items()},
                           "loss": _finite_or_none(s["loss"]),
                           "gradient": {k: _finite_or_none(x) for k, x in s["gradient"].items()}}
                          for s in self.steps],
                "diverged": v.diverged, "crawling": v.crawling, "converged": v.converged,
                "message": v.message}


def fit(model: Model, xs, ys, start: dict[str, float], lr: float, steps: int,
        progress=None) -> FitRun:
    """Gradient descent on the mean squared error of model over the (x, y) pairs.

    progress(step, steps), if given, is called every PROGRESS_EVERY steps."""
    if not 0 <= steps <= MAX_STEPS:
        raise DeriveError(f"--steps must be from 0 to {MAX_STEPS:,}, not {steps}")
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    p = {k: float(start[k]) for k in model.params}
    rows, losses, norms = [], [], []
    for k in range(steps + 1):
        with np.errstate(all="ignore"):
            q = {name: np.float64(v) for name, v in p.items()}  # 1/0 -> inf, not an exception
            pred = np.broadcast_to(np.asarray(model.f(x=x, **q), dtype=float), x.shape)
            resid = pred - y
            loss = float(np.mean(resid * resid))
            grad = {}
            for name, g in zip(model.params, model.grads):
                dg = np.broadcast_to(np.asarray(g(x=x, **q), dtype=float), x.shape)
                grad[name] = float(np.mean(2.0 * resid * dg))
        if k == 0 and not (math.isfinite(loss) and all(math.isfinite(v) for v in grad.values())):
            shown = ", ".join(f"{name}={v:g}" for name, v in p.items())
            raise DeriveError(f"--param {shown}: the loss or its gradient is not a finite number "
                              f"at the start (loss {loss}); start from values where the model "
                              f"is defined and its squared errors do not overflow")
        rows.append({"step": k, "params": dict(p), "loss": loss, "gradient": grad})
        losses.append(loss)
        norms.append(math.sqrt(sum(v * v for v in grad.values())) if all(
            math.isfinite(v) for v in grad.values()) else math.inf)
        finite = math.isfinite(loss) and all(math.isfinite(v) for v in grad.values())
        if not finite or k == steps:
            break
        if progress is not None and k % PROGRESS_EVERY == 0:
            progress(k, steps)
        p = {name: p[name] - lr * grad[name] for name in model.params}
    return FitRun(lr, model.params, tuple(rows), verdict(losses, norms, lr))


@dataclass(frozen=True)
class MinimizeRun:
    start: float
    lr: float
    steps: tuple[dict, ...]  # {"step", "x", "value", "gradient"}
    verdict: Verdict

    @property
    def end(self) -> float:
        return self.steps[-1]["x"]

    def to_dict(self) -> dict:
        return {"start": self.start,
                "steps": [{k: (_finite_or_none(v) if k != "step" else v) for k, v in s.items()}
                          for s in self.steps],
                "end": _finite_or_none(self.end), "diverged": self.verdict.diverged,
                "message": self.verdict.message}


def _at(f, x: float) -> float:
    """f at x as a float: NaN where it is undefined (1/0, log of a negative)."""
    with np.errstate(all="ignore"):
        try:
            return float(f(x=np.float64(x)))
        except (ArithmeticError, ValueError):
            return math.nan


def minimize(fn: Function1, start: float, lr: float, steps: int,
             progress=None) -> MinimizeRun:
    """x <- x - eta f'(x) from start, steps times (stopping early if it stops being finite);
    progress(step, steps), if given, is called every PROGRESS_EVERY steps."""
    if not 0 <= steps <= MAX_STEPS:
        raise DeriveError(f"--steps must be from 0 to {MAX_STEPS:,}, not {steps}")
    x = float(start)
    rows = []
    for k in range(steps + 1):
        value, grad = _at(fn.f, x), _at(fn.df, x)
        if k == 0 and not (math.isfinite(value) and math.isfinite(grad)):
            raise DeriveError(f"--start {start:g}: f(x) = {value} and f′(x) = {grad} there; "
                              f"start where both are finite numbers (inside the domain of f)")
        rows.append({"step": k, "x": x, "value": value, "gradient": grad})
        if not (math.isfinite(value) and math.isfinite(grad)) or k == steps:
            break
        if progress is not None and k % PROGRESS_EVERY == 0:
            progress(k, steps)
        x = x - lr * grad
    values = [r["value"] for r in rows]
    norms = [abs(r["gradient"]) if math.isfinite(r["gradient"]) else math.inf for r in rows]
    return MinimizeRun(float(start), lr, tuple(rows), verdict(values, norms, lr, "value"))
