"""`derive problems`: 1,000 `step` variants with LaTeX and answers, as a whole process, against
a minimal PyTorch script computing one step (tests/bench/torch_step.py), measured in the same run.

Target (issue 5): at most 3x PyTorch's time. Run with
    pytest tests/bench/bench_problems.py --benchmark-only -s
(tests/bench is outside the default run).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import requires_torch

HERE = Path(__file__).parent
TIMES = {}


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def problems_cmd(out):
    return [shutil.which("derive"), "problems", "--kinds", "step", "--variants", "1000",
            "--seed", "1", "--format", "latex", "-o", str(out), "--force"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    path = tmp_path_factory.mktemp("problems")
    run(problems_cmd(path))  # the derivation cache is filled once, as after any first run
    return path


@pytest.mark.benchmark(group="problems-1000-step")
def test_derive_problems_1000_step_variants(benchmark, out):
    benchmark.pedantic(run, args=(problems_cmd(out),), rounds=5, warmup_rounds=1)
    TIMES["derive"] = benchmark.stats.stats.mean
    key = json.loads((out / "answers.json").read_text())
    assert len(key["variants"]) == 1000
    assert (out / "problems.tex").read_text().count("\\closevariant\n") == 1000


@requires_torch
@pytest.mark.benchmark(group="problems-1000-step")
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
        print(f"\nderive problems (1000 step variants): {TIMES['derive']:.2f} s, "
              f"PyTorch one step: {TIMES['torch']:.2f} s, ratio {ratio:.2f} (target <= 3)")
