"""`derive activation sigmoid` as a whole process, warm derivation cache (issue 3: well under a
second). Run with
    pytest tests/bench/bench_derivations.py --benchmark-only
(tests/bench is outside the default run)."""

import json
import shutil
import subprocess

import pytest


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module", autouse=True)
def warm_cache():
    run([shutil.which("derive"), "activation", "sigmoid", "--format", "json"])


@pytest.mark.benchmark(group="derivations")
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_derive_activation_sigmoid(benchmark, fmt):
    out = benchmark.pedantic(run, args=([shutil.which("derive"), "activation", "sigmoid",
                                         "--format", fmt],), rounds=15, warmup_rounds=1)
    if fmt == "json":
        assert json.loads(out)["derivative_from_output"] == "a*(1 - a)"


@pytest.mark.benchmark(group="derivations")
def test_derive_loss_ce(benchmark):
    out = benchmark.pedantic(run, args=([shutil.which("derive"), "loss", "ce", "--format",
                                         "json"],), rounds=15, warmup_rounds=1)
    assert json.loads(out)["Err"] == "t - o"
