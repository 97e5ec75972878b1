"""A large problem set on every core: variants drawn and rendered in forked worker processes,
handed back in order, so the files are byte for byte those of one process.

Variant k depends on the earlier variants only through the fingerprints of their problems (a
problem like an earlier one is drawn again: derive.problemset.draw_variant).  A worker draws
its variants with empty fingerprint sets and returns, with each variant's rendered parts, the
digests the variant added; the parent, taking the variants in order, keeps the real sets.  When
none of a variant's digests is in them, the variant is the one a single process draws (the
first good draw of each problem is not like an earlier variant's, so a single process takes
it too) and its parts are written as they came; otherwise (rare: two variants alike) the parent
draws and renders that variant itself, with the sets.  A worker's failure is handled the same
way, so an error is raised by the parent, at the variant where one process raises it.

Memory stays bounded: at most WINDOW chunks of CHUNK variants are out per worker.  Each
worker is a plain fork with a pipe for its tasks and one for its results, and shares no lock
with the parent: multiprocessing.Pool's terminate() can wait forever on a queue lock that an
idle worker holds (its _help_stuff_finish), which made Ctrl-C hang now and then on a busy
machine.  Workers ignore Ctrl-C (the parent takes it); whenever the parent stops, for whatever
reason, it kills its workers and waits for them, so none outlives it; a worker whose parent is
killed reads the end of its task pipe and exits.  A worker that dies (killed by a signal, by
the out-of-memory killer) closes its result pipe: the parent sees the end, ends the others and
draws the rest of the set itself.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections import deque

MIN_VARIANTS = 200  # below this, starting the workers costs more than it saves
CHUNK = 16  # variants per task
WINDOW = 3  # chunks out per worker (bounds memory, keeps the workers busy)
MAX_JOBS = 32  # DERIVE_JOBS is bounded like every other piece of work

_job = None  # (kinds, linked, seed, options, fn): set before the fork, read by the workers


def workers(variants: int) -> int:
    """How many worker processes for a set of `variants` (0: draw them in this process).
    DERIVE_JOBS=N sets the number of processes (1: this process only)."""
    wanted = os.environ.get("DERIVE_JOBS", "").strip()
    if wanted:
        try:
            n = int(wanted)
        except ValueError:
            n = 1
        return min(n, MAX_JOBS) if n > 1 and variants > 1 else 0
    if variants < MIN_VARIANTS or not hasattr(os, "fork"):
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus if cpus > 1 else 0


def _ignore_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # parent handles it, and ends the workers


def _chunk(start: int, stop: int) -> list:
    """Variants start..stop-1 drawn with empty fingerprint sets: (number, digests added,
    fn(variant)); (number, None, None) for one that failed (the parent draws it again)."""
    from derive.problemset import draw_variant, new_seen

    kinds, linked, seed, options, fn = _job
    out = []
    for number in range(start, stop):
        try:
            variant, added = draw_variant(kinds, linked, seed, number, options,
                                          new_seen(kinds))
            out.append((number, added, fn(variant)))
        except Exception:  # noqa: BLE001  (the parent raises it, at its place in the order)
            out.append((number, None, None))
    return out


def mapped_variants(kinds, count: int, seed: int, options, fn, progress=None, jobs=None):
    """fn(variant) for the variants 1..count of a set, in order (progress(n) after variant
    n): the values fn gives on iter_variants' variants, computed by `jobs` forked workers
    (default: workers(count); 0 or 1: in this process).  fn's values travel by pickle."""
    global _job
    from derive.problemset import draw_variant, iter_variants, new_seen, prepare

    jobs = workers(count) if jobs is None else jobs
    if jobs <= 1 or not hasattr(os, "fork"):
        for v in iter_variants(kinds, count, seed, options, progress):
            yield fn(v)
        return
    kinds, linked = prepare(kinds, count, options)
    seen = new_seen(kinds)

    def here(number: int):
        """A variant drawn and mapped in this process, with the real sets: the definition."""
        return fn(draw_variant(kinds, linked, seed, number, options, seen)[0])

    # the first variant here: what every variant needs once (derivations read from the
    # cache, templates compiled, modules imported) is done before the fork, not per worker
    yield here(1)
    if progress is not None:
        progress(1)
    if count == 1:
        return
    _job = (kinds, linked, seed, options, fn)
    chunks = ((start, min(start + CHUNK, count + 1)) for start in range(2, count + 1, CHUNK))
    team: list[_Worker] = []
    done = 1  # the variants yielded
    try:
        for _ in range(jobs):
            team.append(_Worker(team))
        out: deque = deque()  # (worker, chunk) in the order of the chunks
        for (w, c) in zip([w for _ in range(WINDOW) for w in team], chunks):
            w.send(c)
            out.append(w)
        while out:
            w = out.popleft()
            results = w.receive()
            if results is None:  # a worker died: the rest is drawn here
                break
            for c in chunks:  # one more out for the one back, to the same worker
                w.send(c)
                out.append(w)
                break
            for number, added, value in results:
                if added is None or any(d in seen[key].digests for key, d in added):
                    value = here(number)
                else:
                    for key, d in added:
                        seen[key].digests.add(d)
                yield value
                done = number
                if progress is not None:
                    progress(number)
    finally:
        _job = None
        for w in team:  # on an error, Ctrl-C, a consumer that stopped, or the end
            w.stop()
    for number in range(done + 1, count + 1):
        yield here(number)
        if progress is not None:
            progress(number)


class _Worker:
    """A forked process that draws the chunks sent down its task pipe and sends back each
    chunk's results, in the order sent, pickled down its result pipe."""

    def __init__(self, team: list):
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            os.close(task_w)
            os.close(result_r)
            for other in team:  # so that a parent's death closes every task pipe
                other.close_fds()
            _serve(task_r, result_w)
        self.pid = pid
        os.close(task_r)
        os.close(result_w)
        self.tasks = os.fdopen(task_w, "wb")
        self.results = os.fdopen(result_r, "rb")

    def send(self, chunk) -> None:
        pickle.dump(chunk, self.tasks)
        self.tasks.flush()

    def receive(self):
        """The next chunk's results, or None when the worker has ended without them."""
        try:
            return pickle.load(self.results)
        except (EOFError, OSError, pickle.UnpicklingError):
            return None

    def close_fds(self) -> None:
        for f in (self.tasks, self.results):
            try:
                os.close(f.fileno())
            except (OSError, ValueError):
                pass

    def stop(self) -> None:
        """Kill the worker and reap it: nothing it holds is needed any more."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        for f in (self.tasks, self.results):
            try:
                f.close()
            except OSError:  # a broken pipe on flushing: the worker is gone
                pass


def _serve(task_r: int, result_w: int) -> None:
    """A worker's life: chunks in, results out, until the task pipe ends; then _exit (no
    atexit handlers, no flushing of the parent's buffers)."""
    status = 0
    try:
        _ignore_signals()
        tasks = os.fdopen(task_r, "rb")
        results = os.fdopen(result_w, "wb")
        while True:
            try:
                start, stop = pickle.load(tasks)
            except EOFError:
                break
            pickle.dump(_chunk(start, stop), results, protocol=pickle.HIGHEST_PROTOCOL)
            results.flush()
    except BaseException:  # noqa: BLE001  (the parent sees the pipe end and carries on)
        status = 1
    finally:
        os._exit(status)
