"""`derive problems`: 1,000 `step` variants with LaTeX and answers, as a whole process, against
a minimal PyTorch script computing one step (tests/bench/torch_step.py), measured in the same run;
and the peak memory of 1,000 and 10,000 variants (the files are written variant by variant, so
it must not grow with the count).

Target (issue 15): at most the time of the PyTorch script (ratio <= 1). Run with
    pytest tests/bench/bench_problems.py -o addopts="" --benchmark-only -s
(tests/bench is outside the default run).  Both commands run with their bytecode cached, as
an installed package has it (a checkout run with PYTHONDONTWRITEBYTECODE would compile every
module of derive at each start, and none of torch's).  From 200 variants derive draws and
renders with one worker process per CPU (derive/problemset/parallel.py), so its wall time
depends on the machine's cores being free; the interleaved pairs report CPU time as well.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import requires_torch

HERE = Path(__file__).parent
TIMES = {}
RSS = {}
PAIRS = {}
TIME_V = Path("/usr/bin/time")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    out = dict(os.environ, PYTHONPYCACHEPREFIX=str(tmp_path_factory.mktemp("pycache")))
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


def run(cmd, env):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout


def problems_cmd(out, variants=1000):
    return [shutil.which("derive"), "problems", "--kinds", "step", "--variants", str(variants),
            "--seed", "1", "--format", "latex", "-o", str(out), "--force"]


@pytest.fixture(scope="module")
def out(tmp_path_factory, env):
    path = tmp_path_factory.mktemp("problems")
    run(problems_cmd(path), env)  # the derivation cache is filled once, as after any first run
    return path


@pytest.mark.benchmark(group="problems-1000-step")
def test_derive_problems_1000_step_variants(benchmark, out, env):
    benchmark.pedantic(run, args=(problems_cmd(out), env), rounds=5, warmup_rounds=1)
    TIMES["derive"] = benchmark.stats.stats.mean
    key = json.loads((out / "answers.json").read_text())
    assert len(key["variants"]) == 1000
    assert (out / "problems.tex").read_text().count("\\closevariant\n") == 1000


@requires_torch
@pytest.mark.benchmark(group="problems-1000-step")
def test_pytorch_minimal_step(benchmark, env):
    benchmark.pedantic(run, args=([sys.executable, str(HERE / "torch_step.py")], env),
                       rounds=5, warmup_rounds=1)
    TIMES["torch"] = benchmark.stats.stats.mean


def peak_rss_kb(cmd, env) -> int:
    """Peak resident memory of a whole process, from /usr/bin/time -v."""
    proc = subprocess.run([str(TIME_V), "-v", *cmd], capture_output=True, text=True, env=env,
                          check=True)
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])


@pytest.mark.skipif(not TIME_V.exists(), reason="/usr/bin/time (GNU time) is not installed")
@pytest.mark.parametrize("variants", [1000, 10_000])
@pytest.mark.benchmark(group="problems-memory")
def test_memory_does_not_grow_with_the_variants(benchmark, tmp_path, env, variants):
    out = tmp_path / "set"
    RSS[variants] = benchmark.pedantic(peak_rss_kb, args=(problems_cmd(out, variants), env),
                                       rounds=1, iterations=1)
    assert (out / "solutions.tex").read_text().count("\\closevariant\n") == variants


def _timed(cmd, env) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one whole run."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run(cmd, env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


@requires_torch
@pytest.mark.benchmark(group="problems-vs-torch-interleaved")
def test_ratio_with_runs_interleaved(benchmark, out, env):
    """On a shared machine the load changes from minute to minute: derive and the PyTorch
    script are run in turns, and the ratio is taken pair by pair (the median of 7 pairs), in
    wall time and in CPU time."""
    torch_cmd = [sys.executable, str(HERE / "torch_step.py")]
    _timed(torch_cmd, env)  # warm both once
    _timed(problems_cmd(out), env)

    def pairs():
        return [(_timed(problems_cmd(out), env), _timed(torch_cmd, env)) for _ in range(7)]

    results = benchmark.pedantic(pairs, rounds=1, iterations=1)
    wall = statistics.median(d[0] / t[0] for d, t in results)
    cpu = statistics.median(d[1] / t[1] for d, t in results)
    PAIRS.update(wall=wall, cpu=cpu, derive=statistics.median(d[0] for d, _ in results),
                 torch=statistics.median(t[0] for _, t in results),
                 derive_cpu=statistics.median(d[1] for d, _ in results),
                 torch_cpu=statistics.median(t[1] for _, t in results))


@pytest.fixture(scope="module", autouse=True)
def report_ratio():
    """Print the ratio to the target when both sides ran, and the memory (a report, never a
    pass/fail)."""
    yield
    if set(TIMES) == {"derive", "torch"}:
        ratio = TIMES["derive"] / TIMES["torch"]
        print(f"\nderive problems (1000 step variants): {TIMES['derive']:.2f} s, "
              f"PyTorch one step: {TIMES['torch']:.2f} s, ratio {ratio:.2f} (target <= 1)")
    if PAIRS:
        print(f"interleaved pairs (median of 7): derive {PAIRS['derive']:.2f} s "
              f"({PAIRS['derive_cpu']:.2f} s CPU), PyTorch {PAIRS['torch']:.2f} s "
              f"({PAIRS['torch_cpu']:.2f} s CPU): ratio {PAIRS['wall']:.2f} in wall time, "
              f"{PAIRS['cpu']:.2f} in CPU time (target <= 1)")
    if RSS:
        print("peak memory: " + ", ".join(f"{n:,} variants {kb / 1024:.1f} MB"
                                          for n, kb in sorted(RSS.items())))
