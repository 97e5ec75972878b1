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
from derive.numeric.thin import Kept

GROWTH_STEPS = 3  # the loss growing this many steps in a row is divergence
CRAWL_FRACTION = 0.1  # gradient still >= this fraction of its start: crawling
CONVERGED_FRACTION = 1e-3  # gradient below this fraction of its start: converged
GROWTH_TOLERANCE = 1e-12  # relative: smaller increases are rounding noise
MAX_STEPS = 1_000_000
MAX_RUNS = 50  # starts or learning rates side by side: more paths than a chart can show
MAX_WORK = 3_000_000  # steps over all runs (starts x steps, rates x steps): a minute or two
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


def check_work(runs: int, steps: int, what: str) -> None:
    """Refuse, before any work, more runs or more steps in all than derive will do."""
    if runs > MAX_RUNS:
        raise DeriveError(f"{what}: {runs} runs side by side; derive draws at most "
                          f"{MAX_RUNS} (more paths than one chart can show)")
    if runs * steps > MAX_WORK:
        raise DeriveError(f"{what}: {runs} runs x --steps {steps:,} = {runs * steps:,} steps; "
                          f"derive takes at most {MAX_WORK:,} in all: give fewer runs or "
                          f"fewer steps")


class StepLog(Kept):
    """The rows a run keeps (derive.numeric.thin): all of a run up to 1,200 steps; of a
    longer one steps 0-99, every k-th step (k = steps / 1,000, rounded up) and the last 100,
    each row with its step."""

    def __init__(self, planned_steps: int, make=None):
        super().__init__(planned_steps)
        self.make = make  # a kept row as the run's dict, from what add() was given

    def rows(self) -> tuple[dict, ...]:
        rows = super().rows()
        return tuple(map(self.make, rows) if self.make else rows)

    def thinning(self, unit: str = "step") -> dict | None:
        how = super().thinning(unit)
        return {"steps": how} if how else None


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


class Watch:
    """What the verdict needs, read step by step (nothing of the run is kept): the longest
    run of growing steps and where it started, the first step that is not finite, whether the
    value only fell, the first and last value and gradient size."""

    def __init__(self):
        self.steps = -1
        self.longest, self.start, self._run = 0, None, 0
        self.nonfinite = None
        self.falling = True
        self.first = self.last = None
        self.g0 = self.gk = None

    def add(self, value: float, grad_norm: float) -> None:
        self.steps += 1
        k, a, b = self.steps, self.last, float(value)
        if a is not None:
            # growth by more than rounding noise (a converged run jitters in the last digits)
            grew = math.isfinite(a) and math.isfinite(b) \
                and b - a > GROWTH_TOLERANCE * max(1.0, abs(a), abs(b))
            self._run = self._run + 1 if grew else 0
            if self._run > self.longest:
                self.longest, self.start = self._run, k - self._run
            if not b - a <= GROWTH_TOLERANCE * max(1.0, abs(a), abs(b)):
                self.falling = False
        if self.nonfinite is None and not math.isfinite(b):
            self.nonfinite = k
        if self.first is None:
            self.first, self.g0 = b, grad_norm
        self.last, self.gk = b, grad_norm


def verdict(losses, grad_norms, lr: float, what: str = "loss") -> Verdict:
    """Divergence, crawling, convergence, oscillation: read off the losses and gradients."""
    watch = Watch()
    for value, norm in zip(losses, grad_norms):
        watch.add(value, norm)
    return judge(watch, lr, what)


def judge(w: Watch, lr: float, what: str = "loss") -> Verdict:
    """The verdict on a run watched step by step."""
    longest, start, steps = w.longest, w.start, w.steps
    if w.nonfinite is not None:
        msg = (f"diverges: the learning rate {lr:g} is too large; the {what} grew until it "
               f"was no longer a finite number at step {w.nonfinite}")
        return Verdict(True, False, False, False, longest, start, msg)
    if longest >= GROWTH_STEPS:
        msg = (f"diverges: the learning rate {lr:g} is too large; the {what} grew for "
               f"{longest} steps in a row (from step {start} to step {start + longest})")
        return Verdict(True, False, False, False, longest, start, msg)
    g0, gk = w.g0, w.gk
    if steps == 0 or g0 == 0:
        return Verdict(False, False, g0 == 0, False, longest, start,
                       "starts at a stationary point: the gradient is 0" if g0 == 0
                       else "no steps taken")
    ratio = gk / g0
    if ratio <= CONVERGED_FRACTION:
        where = ("exactly 0 (a stationary point)" if gk == 0
                 else f"{ratio:.2g} of its starting size")
        return Verdict(False, False, True, False, longest, start,
                       f"converges: after {steps} steps the gradient is {where}")
    falling = w.falling
    if ratio >= CRAWL_FRACTION and falling and w.last < w.first:
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
    steps: tuple[dict, ...]  # the kept rows {"step", "params", "loss", "gradient"}: StepLog
    verdict: Verdict
    taken: int = -1  # steps taken (-1: len(steps) - 1, every row kept)
    thinning: dict | None = None  # {"steps": how the rows were thinned} (StepLog.thinning)

    @property
    def steps_taken(self) -> int:
        return self.taken if self.taken >= 0 else len(self.steps) - 1

    def row(self, step: int) -> dict | None:
        """The kept row of that step, or None."""
        return _row(self.steps, step)

    def to_dict(self) -> dict:
        v = self.verdict
        out = {"lr": self.lr,
               "steps": [{"step": s["step"],
                          "params": {k: _finite_or_none(x) for k, x in s["params"].items()},
                          "loss": _finite_or_none(s["loss"]),
                          "gradient": {k: _finite_or_none(x) for k, x in s["gradient"].items()}}
                         for s in self.steps],
               "diverged": v.diverged, "crawling": v.crawling, "converged": v.converged,
               "message": v.message}
        if self.thinning:
            out["thinned"] = self.thinning
        return out


def _row(rows, step: int) -> dict | None:
    """Binary search of rows in step order."""
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[mid]["step"] < step:
            lo = mid + 1
        else:
            hi = mid
    return rows[lo] if lo < len(rows) and rows[lo]["step"] == step else None


def fit(model: Model, xs, ys, start: dict[str, float], lr: float, steps: int,
        progress=None) -> FitRun:
    """Gradient descent on the mean squared error of model over the (x, y) pairs.

    progress(step, steps), if given, is called every PROGRESS_EVERY steps."""
    return fit_all(model, xs, ys, start, [lr], steps, progress)[0]


def _check_steps(steps: int) -> None:
    if not 0 <= steps <= MAX_STEPS:
        raise DeriveError(f"--steps must be from 0 to {MAX_STEPS:,}, not {steps}")


def _on(shape, value):
    value = np.asarray(value, dtype=float)
    return value if value.shape == shape else np.broadcast_to(value, shape)


def fit_all(model: Model, xs, ys, start: dict[str, float], rates, steps: int,
            progress=None) -> list[FitRun]:
    """fit() for several learning rates side by side: the runs are the rows of one array, so
    each step evaluates the model once for all of them; a run that stops (its loss no longer
    finite) leaves the others going.  The numbers are those of fit() run by run."""
    _check_steps(steps)
    x = np.asarray(xs, dtype=float)[None, :]
    y = np.asarray(ys, dtype=float)[None, :]
    rates = np.asarray(rates, dtype=float)
    names = model.params
    p = {name: np.full(len(rates), float(start[name])) for name in names}

    def make(row):  # (step, params, loss, gradient) -> the row's dict
        k, values, loss, gradient = row
        return {"step": k, "params": dict(zip(names, values)), "loss": loss,
                "gradient": dict(zip(names, gradient))}

    logs = [StepLog(steps, make) for _ in rates]
    watches = [Watch() for _ in rates]
    active = np.arange(len(rates))  # the runs still going
    with np.errstate(all="ignore"):  # 1/0 -> inf, overflow -> inf: the verdict reads them
        for k in range(steps + 1):
            q = {name: v[active][:, None] for name, v in p.items()}
            shape = (len(active), x.shape[1])
            resid = _on(shape, model.f(x=x, **q)) - y
            loss = (np.add.reduce(resid * resid, axis=1) / shape[1]).tolist()  # np.mean
            grad = [np.add.reduce(2.0 * resid * _on(shape, g(x=x, **q)), axis=1) / shape[1]
                    for g in model.grads]
            rows_grad = list(zip(*(g.tolist() for g in grad)))
            rows_p = list(zip(*(p[name][active].tolist() for name in names)))
            going = []
            for i, r in enumerate(active.tolist()):
                row_loss, row_grad = loss[i], rows_grad[i]
                finite_grad = all(map(math.isfinite, row_grad))
                finite = finite_grad and math.isfinite(row_loss)
                if k == 0 and not finite:
                    shown = ", ".join(f"{name}={v:g}" for name, v in zip(names, rows_p[i]))
                    raise DeriveError(f"--param {shown}: the loss or its gradient is not a "
                                      f"finite number at the start (loss {row_loss}); start "
                                      f"from values where the model is defined and its "
                                      f"squared errors do not overflow")
                logs[r].add((k, rows_p[i], row_loss, row_grad))
                watches[r].add(row_loss, math.sqrt(sum(v * v for v in row_grad))
                               if finite_grad else math.inf)
                if finite and k < steps:
                    going.append(i)
            if not going:
                break
            if progress is not None and k % PROGRESS_EVERY == 0:
                progress(k, steps)
            moving = active[going]
            for name, g in zip(names, grad):
                p[name][moving] = p[name][moving] - rates[moving] * g[going]
            active = moving
    return [FitRun(float(lr), model.params, log.rows(), judge(watch, float(lr)),
                   log.count - 1, log.thinning())
            for lr, log, watch in zip(rates, logs, watches)]


@dataclass(frozen=True)
class MinimizeRun:
    start: float
    lr: float
    steps: tuple[dict, ...]  # the kept rows {"step", "x", "value", "gradient"}: StepLog
    verdict: Verdict
    taken: int = -1  # steps taken (-1: len(steps) - 1, every row kept)
    thinning: dict | None = None

    @property
    def steps_taken(self) -> int:
        return self.taken if self.taken >= 0 else len(self.steps) - 1

    @property
    def end(self) -> float:
        return self.steps[-1]["x"]

    def row(self, step: int) -> dict | None:
        return _row(self.steps, step)

    def to_dict(self) -> dict:
        out = {"start": self.start,
               "steps": [{k: (_finite_or_none(v) if k != "step" else v) for k, v in s.items()}
                         for s in self.steps],
               "end": _finite_or_none(self.end), "diverged": self.verdict.diverged,
               "message": self.verdict.message}
        if self.thinning:
            out["thinned"] = self.thinning
        return out


def _at(f, x: float) -> float:
    """f at x as a float: NaN where it is undefined (1/0, log of a negative); called inside
    np.errstate(all="ignore")."""
    try:
        return float(f(x=np.float64(x)))
    except (ArithmeticError, ValueError):
        return math.nan


def _at_all(f, xs: np.ndarray) -> np.ndarray:
    """f at each of xs: NaN where it is undefined."""
    try:
        return _on(xs.shape, f(x=xs))
    except (ArithmeticError, ValueError):  # one point is enough to stop the whole array
        return np.array([_at(f, float(v)) for v in xs])


def minimize(fn: Function1, start: float, lr: float, steps: int,
             progress=None) -> MinimizeRun:
    """x <- x - eta f'(x) from start, steps times (stopping early if it stops being finite);
    progress(step, steps), if given, is called every PROGRESS_EVERY steps."""
    return minimize_all(fn, [start], lr, steps, progress)[0]


def minimize_all(fn: Function1, starts, lr: float, steps: int,
                 progress=None) -> list[MinimizeRun]:
    """minimize() from several starts side by side (one evaluation of f and f' per step for
    all of them); a run that stops leaves the others going."""
    _check_steps(steps)
    starts = [float(s) for s in starts]
    x = np.asarray(starts, dtype=float)
    def make(row):  # (step, x, value, gradient) -> the row's dict
        return dict(zip(("step", "x", "value", "gradient"), row))

    logs = [StepLog(steps, make) for _ in starts]
    watches = [Watch() for _ in starts]
    active = np.arange(len(starts))
    with np.errstate(all="ignore"):  # outside f's domain: NaN, which the verdict reads
        for k in range(steps + 1):
            xs = x[active]
            values, grads = _at_all(fn.f, xs), _at_all(fn.df, xs)
            going = []
            for i, (r, at, value, grad) in enumerate(zip(active.tolist(), xs.tolist(),
                                                         values.tolist(), grads.tolist())):
                finite = math.isfinite(value) and math.isfinite(grad)
                if k == 0 and not finite:
                    raise DeriveError(f"--start {starts[r]:g}: f(x) = {value} and f′(x) = "
                                      f"{grad} there; start where both are finite numbers "
                                      f"(inside the domain of f)")
                logs[r].add((k, at, value, grad))
                watches[r].add(value, abs(grad) if math.isfinite(grad) else math.inf)
                if finite and k < steps:
                    going.append(i)
            if not going:
                break
            if progress is not None and k % PROGRESS_EVERY == 0:
                progress(k, steps)
            moving = active[going]
            x[moving] = xs[going] - lr * grads[going]
            active = moving
    return [MinimizeRun(s, lr, log.rows(), judge(watch, lr, "value"), log.count - 1,
                        log.thinning())
            for s, log, watch in zip(starts, logs, watches)]


def stationary_points(fn: Function1, runs) -> dict:
    """Stationary points (SymPy, in the worker, within its budget) over a range that covers
    every run's start and end."""
    from derive.symbolic import worker

    xs = [r.start for r in runs] + [r.end for r in runs if math.isfinite(r.end)]
    xs = [x for x in xs if abs(x) <= 1e3] or [0.0]
    lo, hi = min(xs), max(xs)
    pad = max(5.0, hi - lo)
    return worker.run("stationary", fn.text, lo - pad, hi + pad, user=True,
                      what=f"--function '{fn.text}'")
