"""`derive grade`: 1,000 students x 3 problems (forward, backward, update on a 3-2-2 network:
40 values per student) graded, report and 2,000 feedback pages included, as a whole process,
against a minimal PyTorch script computing one step (tests/bench/torch_step.py), measured in
the same run.

Target (issue 16): at most 2x PyTorch's time. Run with
    pytest tests/bench/bench_grade.py -o addopts="" --benchmark-only -s
The class is simulated by tests/classroom.py (mistakes of every kind, blanks, copies) and
written with a spreadsheet's quirks (semicolons, decimal commas, a byte order mark).
"""

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import requires_torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
import classroom  # noqa: E402

TIMES = {}
STUDENTS, VARIANTS = 1000, 100


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


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
    grade_cmd(path)  # the derivation cache is filled once, as after any first run
    return path


def grade_cmd(path):
    return [shutil.which("derive"), "grade", str(path / "exam"), str(path / "class.csv"),
            "-o", str(path / "out"), "--force"]


@pytest.mark.benchmark(group="grade-1000-students")
def test_derive_grade_1000_students(benchmark, exam):
    benchmark.pedantic(run, args=(grade_cmd(exam),), rounds=5, warmup_rounds=1)
    TIMES["derive"] = benchmark.stats.stats.mean
    lines = (exam / "out" / "grades.csv").read_text().splitlines()
    assert len(lines) == STUDENTS + 1
    assert len(list((exam / "out" / "feedback").iterdir())) == 2 * STUDENTS


@requires_torch
@pytest.mark.benchmark(group="grade-1000-students")
def test_pytorch_minimal_step(benchmark):
    benchmark.pedantic(run, args=([sys.executable, str(HERE / "torch_step.py")],), rounds=5,
                       warmup_rounds=1)
    TIMES["torch"] = benchmark.stats.stats.mean


@pytest.fixture(scope="module", autouse=True)
def report_ratio():
    """Print the ratio to the target when both sides ran (a report, never a pass/fail)."""
    yield
    if set(TIMES) == {"derive", "torch"}:
        ratio = TIMES["derive"] / TIMES["torch"]
        print(f"\nderive grade (1000 students x 3 problems): {TIMES['derive']:.2f} s, "
              f"PyTorch one step: {TIMES['torch']:.2f} s, ratio {ratio:.2f} (target <= 2)")
