"""SymPy's work runs in a worker process, under a deadline.

SymPy cannot be stopped from the thread that runs it, so every derivation (a cache miss), every
descend model or function and its stationary points are computed by a separate Python process:
`python -m derive.symbolic.worker`, started on the first request and kept for the next ones
(one SymPy import per command), ended when derive exits.  Requests and answers are JSON lines
on its stdin and stdout; an answer is plain data, never code.

Deadlines:

* A user's expression (a custom activation, a descend model or function) gets the command's
  time: all of a command's SymPy work ends COMMAND_SECONDS after the command started (the CLI
  starts the clock), or REQUEST_SECONDS after the request through the library.  Inside the
  worker each optional step has its own budget (derive.symbolic.budget); what does not finish
  is left out and the document says so.  If even the essential steps do not finish, the
  worker answers that it ran out of time and the user gets one line (exit status 2).
* A registered activation or loss has no step budgets (what it prints must not depend on the
  machine's load); REGISTERED_SECONDS is only a safety net.
* A worker that does not answer by the deadline (a step stuck inside C code) is killed, and
  waited for: no process outlives its request.  The worker also limits its own CPU time and
  memory (resource limits, where the platform has them) and exits when derive's end of the
  pipe closes, so it cannot outlive derive either.

DERIVE_SYMPY_INLINE=1 runs the same work in derive's own process instead, without any budget
(for debugging SymPy with pdb; the tests use it where they watch what SymPy is called with).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from derive.errors import DeriveError

# all SymPy work of one command, from its start: with Python's start-up before the clock and
# the grace after it, a command ends within 10 s even on a busy two-core machine
COMMAND_SECONDS = 7.0
REQUEST_SECONDS = 7.0  # one request through the library, when no command started the clock
REGISTERED_SECONDS = 600.0  # a registered definition: a safety net, never reached
GRACE_SECONDS = 0.5  # past the deadline, before a worker that has not answered is killed
# kept from one request of a command for the next (an example derives the custom activation,
# then its pairing with the loss, which reuses the activation's work and needs well under 1 s)
FOLLOW_UP_SECONDS = 1.0
MEMORY_BYTES = 2 * 1024 ** 3  # the worker's address space (SymPy's and NumPy's included)

_command_deadline: float | None = None
_command_requests = 0  # a user's expressions derived since the command started


def start_command(seconds: float | None = None) -> None:
    """Start the clock of a command: its SymPy work for user expressions ends `seconds`
    (default COMMAND_SECONDS) from now; the CLI calls this as each command starts."""
    global _command_deadline, _command_requests
    _command_deadline = time.monotonic() + (COMMAND_SECONDS if seconds is None else seconds)
    _command_requests = 0


def _command() -> list[str]:
    """How the worker is started: this Python, this package's worker module."""
    return [sys.executable, "-m", "derive.symbolic.worker"]


def _inline() -> bool:
    return os.environ.get("DERIVE_SYMPY_INLINE", "") not in ("", "0") or not sys.executable


# --------------------------------------------------------------------------- derive's side

class _Process:
    """A running worker: the process, and a thread that queues the lines it writes."""

    def __init__(self):
        import queue
        import subprocess
        from pathlib import Path

        root = str(Path(__file__).resolve().parents[2])  # the directory holding derive/
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        # one thread each: the worker shares a machine that may have two cores with derive
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        debug = os.environ.get("DERIVE_DEBUG", "") not in ("", "0")
        self.owner = os.getpid()
        self.proc = subprocess.Popen(
            _command(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=None if debug else subprocess.DEVNULL, env=env,
            text=True, encoding="utf-8", bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        self.ready = False  # the worker says so once SymPy is imported
        threading.Thread(target=self._read, daemon=True, name="derive-worker-reader").start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of file: the worker has gone

    def _next(self, timeout: float):
        import queue

        try:
            line = self.lines.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
        return None if line is None else json.loads(line)

    def wait_ready(self, timeout: float) -> bool:
        """Has the worker started (imported SymPy) within the time?  Its start is charged to
        the command's clock, so that a request's seconds are all the worker's to use."""
        if not self.ready:
            self.ready = self._next(timeout) == {"ready": True}
        return self.ready

    def ask(self, request: dict, timeout: float):
        """The answer to one request, or None when none came in time (or the worker died)."""
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._next(timeout)

    def stop(self):
        """End the worker now and wait for it: it holds nothing worth a clean shutdown (which
        would take SymPy's caches a second or two to free), and must not outlive derive."""
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass


_lock = threading.Lock()
_current: _Process | None = None


def _worker() -> _Process:
    global _current
    if _current is not None and (_current.owner != os.getpid() or _current.proc.poll() is not None):
        _current = None  # forked from a process that had one, or it has died
    if _current is None:
        _current = _Process()
    return _current


def _stop() -> None:
    global _current
    if _current is not None and _current.owner == os.getpid():
        _current.stop()
    _current = None


def _at_exit():
    with _lock:
        _stop()


import atexit  # noqa: E402

atexit.register(_at_exit)


def run(task: str, *args, user: bool, what: str):
    """The result of the task (a function of derive.symbolic.derivation or .descend, named in
    _task) for these plain-data arguments, computed by the worker within its deadline.

    user: a user's expression (step budgets, the command's clock) or a registered definition.
    what: names the input in a refusal ("the custom activation 'tanh(tanh(z))'").
    Raises DeriveError (one line for the user) when it cannot be done in time.
    """
    global _command_requests
    if _inline():
        return _result(_answer(task, list(args), user), what, None)
    now = time.monotonic()
    # after other expressions of the same command: their records are cached by now, so
    # running the command again goes on from there (one command may hold several)
    again = "; what SymPy finished is cached, so running the command again goes further" \
        if user and _command_deadline is not None and _command_requests else ""
    if user:
        _command_requests += 1
    if not user:
        deadline, total = now + REGISTERED_SECONDS, REGISTERED_SECONDS
    elif _command_deadline is not None:
        deadline, total = _command_deadline, COMMAND_SECONDS
    else:
        deadline, total = now + REQUEST_SECONDS, REQUEST_SECONDS
    if deadline - now < 0.5:
        raise DeriveError(f"{what}: the command's time for SymPy ({total:g} s) is spent"
                          f"{again or '; try a simpler expression'}")
    with _lock:
        try:
            worker = _worker()
            answer = None
            if worker.wait_ready(deadline + GRACE_SECONDS - time.monotonic()):
                # the worker stops itself a little before derive gives up on it
                seconds = deadline - time.monotonic() - 0.2
                if user and _command_deadline is not None and seconds > FOLLOW_UP_SECONDS + 1:
                    seconds -= FOLLOW_UP_SECONDS
                request = {"task": task, "args": list(args), "user": user, "seconds": seconds}
                answer = worker.ask(request, deadline + GRACE_SECONDS - time.monotonic()) \
                    if seconds > 0.3 else {"late": True}
        except BaseException:
            _stop()  # Ctrl-C, or a broken pipe: never leave the worker behind
            raise
        if answer is None:  # no answer in time, or the worker died
            _stop()
            if not user:
                raise RuntimeError(f"the SymPy worker stopped while deriving {what}")
            answer = {"late": True}
    return _result(answer, what, total, again)


def _result(answer: dict, what: str, total, again: str = ""):
    if "ok" in answer:
        return answer["ok"]
    if "late" in answer:
        raise DeriveError(f"{what}: SymPy did not finish within {total:g} s"
                          f"{again or '; try a simpler expression'}")
    if "refused" in answer:
        raise DeriveError(answer["refused"])
    if "failed" in answer:
        raise DeriveError(f"{what} could not be derived ({answer['failed']}); try writing it "
                          f"another way")
    raise RuntimeError(f"{answer['bug']} (in the SymPy worker)\n{answer.get('traceback', '')}")


# -------------------------------------------------------------------------- the worker's side

def _activation_def(d):
    from derive.symbolic.definitions import ActivationDef

    return ActivationDef(d["name"], d["expression"], d["description"],
                         tuple(tuple(p) for p in d["params"]), d["symbol"], d["elementwise"],
                         tuple(tuple(c) for c in d["context"]))


def _loss_def(d):
    from derive.symbolic.definitions import LossDef

    return LossDef(**d)


def _task(name: str):
    """The function a task names (imported here: the worker pays for SymPy, derive does not)."""
    from derive.symbolic import derivation, descend

    return {
        "activation": lambda d: derivation.derive_activation(_activation_def(d)),
        "loss": lambda d: derivation.derive_loss(_loss_def(d)),
        "pairing": lambda loss, act: derivation.derive_pairing(_loss_def(loss),
                                                               _activation_def(act)),
        "function": descend.function,
        "model": descend.model,
        "stationary": descend.stationary,
    }[name]


# what SymPy raises where it cannot handle an expression (a user's: said in one line)
_SYMPY_FAILURES = (TypeError, ValueError, NotImplementedError, ZeroDivisionError, RecursionError,
                   OverflowError, AttributeError)


def _answer(task: str, args: list, user: bool) -> dict:
    """The task's answer as plain data: {"ok": result}, or why there is none."""
    try:
        return {"ok": _task(task)(*args)}
    except DeriveError as exc:
        return {"refused": str(exc)}
    except _SYMPY_FAILURES as exc:
        if not user:
            raise
        return {"failed": f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"}
    except MemoryError:
        if not user:
            raise
        return {"failed": "SymPy ran out of memory"}


def _limit_resources() -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the deadline and the kill still hold
        return
    for limit, value in ((resource.RLIMIT_AS, MEMORY_BYTES), (resource.RLIMIT_CORE, 0)):
        try:
            soft, hard = resource.getrlimit(limit)
            if hard == resource.RLIM_INFINITY or hard > value:
                resource.setrlimit(limit, (value, hard))
        except (ValueError, OSError):
            pass


def _limit_cpu(seconds: float) -> None:
    """The request may use `seconds` more of CPU time; past that the kernel ends the worker
    (so that even an orphaned worker stuck in C code cannot run on)."""
    try:
        import resource
    except ImportError:
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(spent + seconds) + 2
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ValueError, OSError):
        pass


def _watch_parent() -> None:
    """End the worker as soon as derive has gone (killed without a chance to end it): its
    parent process changes then.  Checked five times a second, on platforms with getppid."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    if os.name == "posix":
        threading.Thread(target=watch, daemon=True, name="derive-parent-watch").start()


def main() -> None:
    """The worker's loop: one JSON request per line in, one JSON answer per line out."""
    from derive.symbolic import budget

    _watch_parent()

    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything printed by a library goes to stderr, never into the answers
    _limit_resources()
    budget.arm()
    _task("activation")  # import SymPy and the derivations now, before the first request
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            user = bool(request["user"])
            _limit_cpu(max(request["seconds"], 0.0) + 5)
            try:
                with budget.request(request["seconds"], steps=user):
                    answer = _answer(request["task"], request["args"], user)
            except budget.OutOfTime:
                answer = {"late": True}
            except Exception as exc:  # noqa: BLE001 - a bug: reported to derive, which raises it
                import traceback

                answer = {"bug": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc()}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    except (KeyboardInterrupt, BrokenPipeError, budget.OutOfTime):
        pass  # derive is stopping (Ctrl-C), or has gone
    out.close()
    os._exit(0)  # no clean shutdown: freeing SymPy's caches would only take time


if __name__ == "__main__":  # pragma: no cover - run as a process by run()
    main()
