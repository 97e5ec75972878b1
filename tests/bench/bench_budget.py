"""The commands of issue 13 point 2 as whole processes, each from an empty derivation cache.

Target: each ends within 10 s on a two-core machine (on main they ran for 60 s to over 600 s),
with a document that says what SymPy did not finish, or one line.  The reference measured in
the same run is the same command's process start-up with a valid expression already cached
(`derive activation sigmoid`), which shows how busy the machine is. Run with
    pytest tests/bench/bench_budget.py -o addopts="" --benchmark-only
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SIX = {
    "poly64": ["activation", "--expr", "(z+1)**64*(z+2)**64"],
    "sigmoid6": ["activation", "--expr",
                 "sigmoid(sigmoid(sigmoid(sigmoid(sigmoid(sigmoid(z))))))"],
    "tanh4": ["activation", "--expr", "tanh(tanh(tanh(tanh(z))))"],
    "softplus64": ["activation", "--expr", "log(1+exp(z))**64"],
    "tower-graph": ["graph", "((((9**64)**64)**64)**64)**64*x", "--at", "x=1"],
    "tower-descend": ["descend", "--function", "((((9**64)**64)**64)**64)**64*x", "--start",
                      "1", "--lr", "0.1"],
}


def run(args, cache):
    import os

    env = dict(os.environ, DERIVE_CACHE_DIR=cache)
    proc = subprocess.run([shutil.which("derive"), *args], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def cold(args):
    """A fresh cache directory for each round, so that every round derives."""
    return (args, tempfile.mkdtemp(prefix="derive-bench-")), {}


@pytest.mark.benchmark(group="budget")
@pytest.mark.parametrize("name", sorted(SIX))
def test_issue_13_command(benchmark, name):
    benchmark.pedantic(run, setup=lambda: cold(SIX[name]), rounds=3)


@pytest.mark.benchmark(group="budget")
def test_reference_cached_activation(benchmark):
    cache = tempfile.mkdtemp(prefix="derive-bench-")
    run(["activation", "sigmoid"], cache)
    benchmark.pedantic(run, args=(["activation", "sigmoid"], cache), rounds=3)
    assert Path(cache).is_dir()
