"""`derive grade`: 1,000 students x 3 problems (forward, backward, update on a 3-2-2 network:
40 values per student) graded, report and 2,000 feedback pages included, as a whole process,
against a minimal PyTorch script computing one step (tests/bench/torch_step.py), measured in
the same run.

Target (issue 16): at most 2x PyTorch's time. Run with
    pytest tests/bench/bench_grade.py -o addopts="" --benchmark-only -s
The class is simulated by tests/classroom.py (mistakes of every kind, blanks, copies) and
written with a spreadsheet's quirks (semicolons, decimal commas, a byte order mark).  Each
round grades into a new directory (a teacher's first run; deleting 2,000 files just before
would time the file system's clean-up, not derive), and both sides run as an installed
package does, with Python's bytecode cache on (PYTHONDONTWRITEBYTECODE, if set, would make
derive compile its modules in every run).
On a shared machine the load changes from minute to minute, so the PyTorch script also runs
once before each round of derive's (untimed by the benchmark, timed here): the ratio printed
compares runs made side by side, in wall time and in CPU time (user + system).
"""

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import requires_torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
import classroom  # noqa: E402

STUDENTS, VARIANTS = 1000, 100
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
TORCH = [sys.executable, str(HERE / "torch_step.py")]
SIDE_BY_SIDE = {"derive": [], "torch": []}  # (wall, cpu) of each round


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env=ENV).stdout


def timed(cmd):
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    run(cmd)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


@pytest.fixture(scope="module")
def exam(tmp_path_factory):
    path = tmp_path_factory.mktemp("grade")
    run([shutil.which("derive"), "problems", "--kinds", "forward,backward,update",
         "--network", "3,2,2", "--variants", str(VARIANTS), "--seed", "7", "-o",
         str(path / "exam")])
    key = json.loads((path / "exam" / "answers.json").read_text())
    columns = (path / "exam" / "submissions.csv").read_text().splitlines()[0].split(",")[2:]
    rows = classroom.simulate(key, STUDENTS, 1)
    classroom.write_sheet(path / "class.csv", columns, rows, random.Random(2))
    run(grade_cmd(path))  # the derivation cache is filled once, as after any first run
    return path


def grade_cmd(path, out="out"):
    return [shutil.which("derive"), "grade", str(path / "exam"), str(path / "class.csv"),
            "-o", str(path / out)]


@requires_torch
@pytest.mark.benchmark(group="grade-1000-students")
def test_derive_grade_1000_students(benchmark, exam):
    rounds = iter(range(100))

    def before_each_round():
        SIDE_BY_SIDE["torch"].append(timed(TORCH))
        return (f"out-{next(rounds)}",), {}

    def grade_round(out):
        SIDE_BY_SIDE["derive"].append(timed(grade_cmd(exam, out)))

    benchmark.pedantic(grade_round, setup=before_each_round, rounds=7, warmup_rounds=1)
    last = sorted(exam.glob("out-*"), key=lambda p: int(p.name[4:]))[-1]
    lines = (last / "grades.csv").read_text().splitlines()
    assert len(lines) == STUDENTS + 1
    assert len(list((last / "feedback").iterdir())) == 2 * STUDENTS


@requires_torch
@pytest.mark.benchmark(group="grade-1000-students")
def test_pytorch_minimal_step(benchmark):
    benchmark.pedantic(run, args=(TORCH,), rounds=5, warmup_rounds=1)


@pytest.fixture(scope="module", autouse=True)
def report_ratio():
    """Print the ratio to the target (a report, never a pass/fail): medians of the rounds
    run side by side."""
    yield
    if SIDE_BY_SIDE["derive"] and SIDE_BY_SIDE["torch"]:
        d = SIDE_BY_SIDE["derive"][-7:]
        t = SIDE_BY_SIDE["torch"][-7:]
        wall = statistics.median(x for x, _ in d) / statistics.median(x for x, _ in t)
        cpu = statistics.median(c for _, c in d) / statistics.median(c for _, c in t)
        print(f"\nderive grade (1000 students x 3 problems) against PyTorch one step, "
              f"{len(d)} rounds side by side: wall {statistics.median(x for x, _ in d):.2f} s "
              f"vs {statistics.median(x for x, _ in t):.2f} s, ratio {wall:.2f}; CPU "
              f"{statistics.median(c for _, c in d):.2f} s vs "
              f"{statistics.median(c for _, c in t):.2f} s, ratio {cpu:.2f} (target <= 2)")
        for (dw, dc), (tw, tc) in zip(d, t):
            print(f"  round: derive {dw:.2f} s wall {dc:.2f} s CPU, torch {tw:.2f} s wall "
                  f"{tc:.2f} s CPU")
