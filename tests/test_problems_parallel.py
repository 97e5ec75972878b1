"""derive.problemset.parallel: a large set drawn by forked workers is byte for byte the set of
one process, in every case the parent has to draw a variant itself (two variants alike, a
worker's failure), and no worker outlives the run."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from derive import api
from derive.errors import DeriveError
from derive.problemset import Options, iter_variants, parallel

ROOT = Path(__file__).resolve().parents[1]
fork_only = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                               reason="no fork on this platform")


def files(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@fork_only
@pytest.mark.parametrize("fmt,kinds,options", [
    ("latex", "forward,backward,update,step,descent,batch,loss", {}),
    ("markdown", "forward,loss,backward,update,step", {"chain": True}),
    ("latex", "activation,minima,step", {"decimals": 4}),
])
def test_workers_write_the_bytes_of_one_process(tmp_path, monkeypatch, fmt, kinds, options,
                                               no_worker_left):
    got = {}
    for jobs in (1, 2, 3):
        monkeypatch.setenv("DERIVE_JOBS", str(jobs))
        out = tmp_path / f"jobs{jobs}"
        api.problems(kinds, 41, 5, **options).write(out, fmt)
        got[jobs] = files(out)
    assert got[2] == got[1] and got[3] == got[1]


def _values(jobs, kinds="step,loss", count=40, seed=2, options=Options()):
    fn = lambda v: (v.id, [repr(p.spec) for p in v.problems], [p.key() for p in v.problems])  # noqa: E731
    return list(parallel.mapped_variants(kinds.split(","), count, seed, options, fn, jobs=jobs))


@fork_only
def test_variants_alike_are_drawn_again_by_the_parent(monkeypatch, no_worker_left):
    """With coarse fingerprints, many variants a worker draws (with empty sets) are like an
    earlier one: the parent draws those itself, and the set is one process's."""
    from derive import problemset

    real = problemset._digest
    monkeypatch.setattr(problemset, "_digest", lambda text: bytes([real(text)[0] % 48]))
    drawn = []
    real_draw = problemset.draw_variant

    def draw(*args):
        drawn.append((os.getpid(), args[3]))
        return real_draw(*args)

    monkeypatch.setattr(problemset, "draw_variant", draw)
    one = _values(1)
    drawn.clear()
    assert _values(2) == one
    again = [n for pid, n in drawn if pid == os.getpid()]
    assert len(again) > 1  # the first variant, and the ones drawn again


@fork_only
def test_a_failure_is_raised_at_its_place_in_the_order(monkeypatch, no_worker_left):
    from derive import problemset

    real = problemset.generate_problem

    def generate_problem(name, seed, number, *rest):
        if number == 23:
            raise DeriveError("variant 23 cannot be drawn")
        return real(name, seed, number, *rest)

    monkeypatch.setattr(problemset, "generate_problem", generate_problem)
    got = []
    with pytest.raises(DeriveError, match="variant 23"):
        for value in parallel.mapped_variants(["step"], 60, 1, Options(), lambda v: v.number,
                                              jobs=2):
            got.append(value)
    assert got == list(range(1, 23))


def _dies_in_a_worker(parent: int):
    def fn(v):
        if v.number == 40 and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # the out-of-memory killer, say
        return v.number, v.problems[0].key()["answers"]
    return fn


@fork_only
def test_a_killed_worker_does_not_hang_the_set(monkeypatch, no_worker_left):
    """A worker that died never sends its chunk: the parent sees its result pipe end, ends
    the others and draws the rest itself; the set is still one process's."""
    fn = _dies_in_a_worker(os.getpid())
    one = list(parallel.mapped_variants(["step"], 90, 4, Options(), fn, jobs=0))
    assert list(parallel.mapped_variants(["step"], 90, 4, Options(), fn, jobs=2)) == one


@fork_only
def test_a_consumer_that_stops_leaves_no_worker(no_worker_left):
    values = parallel.mapped_variants(["step"], 300, 1, Options(), lambda v: v.number, jobs=2)
    assert [next(values) for _ in range(20)] == list(range(1, 21))
    values.close()


def test_progress_is_reported_in_order_whichever_the_path():
    for jobs in (0, 2):
        seen = []
        list(parallel.mapped_variants(["forward"], 35, 1, Options(), lambda v: v.number,
                                      progress=seen.append, jobs=jobs))
        assert seen == list(range(1, 36))


def test_how_many_workers(monkeypatch):
    monkeypatch.delenv("DERIVE_JOBS", raising=False)
    assert parallel.workers(parallel.MIN_VARIANTS - 1) == 0
    monkeypatch.setenv("DERIVE_JOBS", "1")
    assert parallel.workers(10_000) == 0
    monkeypatch.setenv("DERIVE_JOBS", "3")
    assert parallel.workers(10) == 3 and parallel.workers(1) == 0
    monkeypatch.setenv("DERIVE_JOBS", "100000")
    assert parallel.workers(10_000) == parallel.MAX_JOBS


def _child_set() -> set[str]:
    """This process's children as ps lists them (pid, state, command), but the ps itself."""
    out = subprocess.run(["ps", "-o", "pid=,stat=,comm=", "--ppid", str(os.getpid())],
                         capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.split()[2] != "ps"}


@pytest.fixture
def no_worker_left():
    """After the test, no child of this process that was not there before it: forked
    workers that outlived the run, zombies (not reaped) included.  (Other tests may have
    left processes of their own, such as the SymPy worker.)"""
    before = _child_set()
    yield
    assert not _child_set() - before


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


@fork_only
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs ps and /proc")
@pytest.mark.parametrize("sig,status,said", [(signal.SIGINT, 130, "derive: interrupted"),
                                             (signal.SIGTERM, 143, "derive: terminated")])
def test_ctrl_c_ends_the_workers_and_writes_nothing(tmp_path, sig, status, said):
    env = {k: v for k, v in os.environ.items() if k != "DERIVE_DEBUG"}
    env.update(PYTHONPATH=str(ROOT), DERIVE_JOBS="2")
    out = tmp_path / "set"
    proc = subprocess.Popen([sys.executable, "-m", "derive", "problems", "--kinds", "step",
                             "--variants", "10000", "-o", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = []
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:  # the pool is running
        time.sleep(0.05)
        workers = [p for p in _children(proc.pid) if "symbolic" not in _cmdline(p)]
    assert len(workers) >= 2
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status and err.strip() == said, err
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # ended and waited for
    assert not out.exists() or os.listdir(out) == []
