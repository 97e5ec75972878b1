"""The wheel carries the templates: build it, install it elsewhere, run `derive example`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(dist)], check=True)
    wheel = next(dist.glob("derive-*.whl"))
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)],
                           capture_output=True, text=True, check=True).stdout
    assert "render/templates/latex/example.j2" in names
    assert "render/templates/text/example.j2" in names
    # every package of the source tree is in the wheel (pyproject.toml lists them by name)
    for init in [*ROOT.glob("derive/**/__init__.py"), *ROOT.glob("render/**/__init__.py")]:
        assert init.relative_to(ROOT).as_posix() in names, f"{init.parent} missing from wheel"
    for template in ROOT.glob("templates/*/*.j2"):
        assert f"render/{template.relative_to(ROOT).as_posix()}" in names, template

    venv = tmp_path / "venv"
    # the runtime dependencies come from this interpreter's site-packages; derive itself
    # comes only from the wheel (checked below by where it is imported from)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    py = venv / "bin" / "python"
    # a clean environment: no PYTHONPATH may point back at the source tree
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "DERIVE_CACHE_DIR": str(tmp_path / "cache")}
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, env=env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(py), "-c", "import derive, render; print(derive.__file__); "
                        "print(render.template_dir())"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(str(venv) in w for w in where), where

    out = subprocess.run([str(venv / "bin" / "derive"), "example", "--format", "json"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["forward"]["o4"] == pytest.approx(0.331812, abs=1e-6)
    text = subprocess.run([str(venv / "bin" / "derive"), "example", "--activation", "sigmoid"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert "o₄ = σ(−0.700) = 0.332" in text.stdout
