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

Memory stays bounded: at most WINDOW chunks of CHUNK variants are out at a time.  Workers
ignore Ctrl-C (the parent takes it) and are terminated when the parent stops, for whatever
reason; a worker whose parent is killed reads the end of its task pipe and exits.  A worker
that dies (killed by a signal, by the out-of-memory killer) takes its task with it: the parent
sees it gone, ends the others and draws the rest of the set itself.
"""

from __future__ import annotations

import os
from collections import deque

MIN_VARIANTS = 200  # below this, starting the workers costs more than it saves
CHUNK = 16  # variants per task
WINDOW = 3  # chunks out per worker (bounds memory, keeps the workers busy)

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
        return n if n > 1 and variants > 1 else 0
    if variants < MIN_VARIANTS:
        return 0
    try:
        import multiprocessing

        multiprocessing.get_context("fork")
    except (ImportError, ValueError):  # no fork on this platform
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus if cpus > 1 else 0


def _ignore_signals() -> None:
    import signal

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
    if jobs <= 1:
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
    import multiprocessing

    _job = (kinds, linked, seed, options, fn)
    chunks = ((start, min(start + CHUNK, count + 1)) for start in range(2, count + 1, CHUNK))
    pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_ignore_signals)
    workers_started = list(pool._pool)  # noqa: SLF001  (to see one die: its task is lost)
    done = 1  # the variants yielded
    try:
        out = deque(pool.apply_async(_chunk, c) for _, c in zip(range(WINDOW * jobs), chunks))
        while out:
            results = _result(out.popleft(), workers_started)
            if results is None:  # a worker was killed: the rest is drawn here
                break
            for c in chunks:  # one more out for the one back
                out.append(pool.apply_async(_chunk, c))
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
        else:
            pool.close()
            pool.join()
    finally:
        _job = None
        pool.terminate()  # on an error, Ctrl-C or a consumer that stopped: no worker stays
    for number in range(done + 1, count + 1):
        yield here(number)
        if progress is not None:
            progress(number)


def _result(pending, workers_started: list):
    """A chunk's results, or None when a worker ended without finishing (killed by a
    signal, by the out-of-memory killer): a pool never hands back the task it had."""
    import multiprocessing

    while True:
        try:
            return pending.get(timeout=0.25)
        except multiprocessing.TimeoutError:
            if any(w.exitcode is not None for w in workers_started):
                return None
