"""`derive example --format json` as a whole process against a minimal PyTorch script.

Target (issue 2): at most half PyTorch's time. Run with
    pytest tests/bench/bench_example.py --benchmark-only
(tests/bench is outside the default run). Both are measured in the same run.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import requires_torch

HERE = Path(__file__).parent


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module", autouse=True)
def warm_cache():
    # the derivation cache is filled once, as on any machine after its first run
    run([shutil.which("derive"), "example", "--format", "json"])


@pytest.mark.benchmark(group="example-step")
def test_derive_example_json(benchmark):
    out = benchmark.pedantic(run, args=([shutil.which("derive"), "example", "--format", "json"],),
                             rounds=15, warmup_rounds=1)
    assert json.loads(out)["forward"]["o4"] == pytest.approx(0.331812, abs=1e-6)


@requires_torch
@pytest.mark.benchmark(group="example-step")
def test_pytorch_minimal_step(benchmark):
    out = benchmark.pedantic(run, args=([sys.executable, str(HERE / "torch_step.py")],),
                             rounds=15, warmup_rounds=1)
    data = json.loads(out)
    # the same step: PyTorch's new w1_4 equals derive's (a second implementation)
    derive = json.loads(run([shutil.which("derive"), "example", "--format", "json"]))
    assert data["update"][0][0][0] == pytest.approx(derive["update"]["w1_4"], abs=1e-12)
