"""Time budgets for SymPy's steps, inside the worker process (derive.symbolic.worker).

A small expression can keep SymPy busy for minutes: simplify() and solve() on
tanh(tanh(tanh(tanh(z)))), the LaTeX printer on a nested sigmoid's derivative.  A SymPy call
cannot be asked to stop, so the worker's main thread is interrupted from outside: a watchdog
thread calls _thread.interrupt_main() when a step's time is up, and the worker's SIGINT handler
turns that into OutOfTime in the middle of whatever SymPy is doing (a BaseException, so that
SymPy's own `except Exception` clauses cannot swallow it; the watchdog repeats it until the
step has ended).

* An optional step (simplifying, the form in the output a, limits at ±∞, stationary points)
  runs through `optional(key, fn, fallback)`: past its budget it is left out, its key is
  recorded (`omitted()`), and the documents say what is missing and why.
* The request as a whole has a deadline: past it, OutOfTime reaches the worker's loop, which
  answers with one line for the user.  Behind that, the parent process kills a worker that does
  not answer in time (a step stuck in C code never sees the interrupt).

Budgets apply to a user's expressions only.  The registered activations and losses are derived
without step budgets: what they print must not depend on how busy the machine is (their
slowest step, tanh's form in the output, takes about 1.5 s on a busy two-core machine).

Outside the worker (the tests call the derivations directly) nothing here interrupts anything:
`optional` runs the step and returns its result.
"""

from __future__ import annotations

import _thread
import itertools
import signal
import threading
import time
from contextlib import contextmanager

STEP_SECONDS = 2.0  # the most one optional step of a user's expression may take
RESERVE_SECONDS = 2.5  # kept back from the optional steps for the essential ones after them

# what an omitted step's key means, for the documents (derive.symbolic.budget.notes); plain
# ASCII words, so that every format (LaTeX's fonts included) prints them as they are
OMITTED = {
    "simplify": "the derivative is shown as differentiated, not simplified",
    "output_form": "the derivative is not written in terms of the output a",
    "limits": "the range of outputs is not determined (it needs the limits as z goes to "
              "infinity either way)",
    "gradient_limits": "where the gradient vanishes is not determined (it needs the "
                       "derivative's limits as z goes to infinity either way)",
    "kinks": "the points where the pieces meet are not located exactly",
    "range_ends": "the range's ends are shown as not reached (SymPy did not settle whether "
                  "they are)",
    "extremes": "the smallest and largest outputs are taken from a grid, not solved for",
    "simplify_error": "the error term Err is shown as multiplied out, not simplified",
    "stationary_points": "the stationary points are not given",
}


class OutOfTime(BaseException):
    """A budget ran out (raised in the worker's main thread, between two bytecodes)."""

    def __init__(self, token):
        super().__init__(token)
        self.token = token


class _State:
    def __init__(self):
        self.armed = False  # only in the worker, whose SIGINT handler raises OutOfTime
        self.steps = False  # step budgets for this request (a user's expression)
        self.deadline = None  # the request's, on time.monotonic()
        self.omitted: list[str] = []
        # reentrant: the SIGINT handler runs in the main thread, which may hold it already
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        self.active: list[tuple[int, float]] = []  # (token, deadline) of the live budgets
        self.fired = None  # the token the watchdog last interrupted for
        self.pending = False  # an interrupt of the watchdog's not yet handled
        self.tokens = itertools.count(1)


_state = _State()


def _on_sigint(signum, frame):
    """The worker's SIGINT handler: the watchdog's interrupt becomes OutOfTime for the budget
    that ran out; a real Ctrl-C (the terminal sends it to the whole process group) ends the
    worker, as the parent is stopping too."""
    with _state.lock:
        ours, _state.pending = _state.pending, False
        token = _state.fired
        live = any(t == token for t, _ in _state.active)
    if not ours:
        raise KeyboardInterrupt
    if live:
        raise OutOfTime(token)
    # a late interrupt for a budget whose step has just ended: nothing to stop


def _watchdog():
    """Interrupt the main thread whenever a live budget is past its deadline (the earliest
    first), again every 50 ms until that budget's step has ended."""
    with _state.lock:
        while True:
            if not _state.active:
                _state.wake.wait()
                continue
            token, deadline = min(_state.active, key=lambda a: a[1])
            now = time.monotonic()
            if now < deadline:
                _state.wake.wait(deadline - now)
                continue
            _state.fired, _state.pending = token, True
            _thread.interrupt_main()
            _state.wake.wait(0.05)


def arm() -> None:
    """Make budgets real in this process (the worker's main thread calls it once)."""
    signal.signal(signal.SIGINT, _on_sigint)
    threading.Thread(target=_watchdog, name="derive-budget", daemon=True).start()
    _state.armed = True


@contextmanager
def request(seconds: float | None, steps: bool):
    """One request's deadline (None: no deadline) and whether its optional steps are
    budgeted; collects the keys of the steps left out."""
    _state.steps = steps and _state.armed
    _state.omitted = []
    _state.deadline = None if seconds is None else time.monotonic() + seconds
    try:
        if seconds is not None and _state.armed:
            with _within(_state.deadline):
                yield
        else:
            yield
    finally:
        _state.deadline = None
        _state.steps = False
        _state.omitted = []


@contextmanager
def _within(deadline: float):
    token = next(_state.tokens)
    try:
        with _state.lock:
            _state.active.append((token, deadline))
            _state.wake.notify()
        yield token
    finally:
        while True:  # an interrupt arriving now must not skip the cleanup
            try:
                with _state.lock:
                    _state.active = [a for a in _state.active if a[0] != token]
                    _state.wake.notify()
                break
            except OutOfTime:
                # for this budget (ending anyway) or an outer one: the watchdog repeats an
                # outer budget's interrupt every 50 ms while it is live, so none is lost
                continue


def omitted() -> list[str]:
    """The keys of the optional steps left out in this request, in the order they happened."""
    return list(dict.fromkeys(_state.omitted))


def note_omitted(*keys: str) -> None:
    """Record steps as left out (a memoised result that was computed without them)."""
    _state.omitted.extend(keys)


def optional(key: str, fn, fallback):
    """fn() within its budget; past it, `fallback` (and `key` is recorded as omitted).
    Without step budgets (outside the worker, or a registered definition) simply fn()."""
    if not _state.steps:
        return fn()
    seconds = STEP_SECONDS
    if _state.deadline is not None:
        seconds = min(seconds, _state.deadline - time.monotonic() - RESERVE_SECONDS)
    if seconds <= 0.05:  # the request's time is spent: leave the step out without starting it
        _state.omitted.append(key)
        return fallback
    token = None
    try:
        with _within(time.monotonic() + seconds) as token:
            return fn()
    except OutOfTime as exc:
        if exc.token != token:
            raise  # the request's own deadline, or an outer step's: not this step's business
        _state.omitted.append(key)
        return fallback


def notes(keys) -> list[str]:
    """Sentences for the documents: what was left out and why."""
    return [f"SymPy did not finish within its time budget, so {OMITTED[k]}."
            for k in keys if k in OMITTED]


def pairing_notes(keys) -> list[str]:
    """The notes of a pairing (Err): only its own step; what the activation's derivation
    left out is said where the activation is shown."""
    return notes([k for k in keys if k == "simplify_error"])
