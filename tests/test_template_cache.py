"""Compiled templates are kept as Python keeps compiled modules (render._bytecode_cache): under
__pycache__ (here PYTHONPYCACHEPREFIX), written only when Python writes bytecode, and a damaged
or foreign file is compiled afresh: the documents are the same bytes every time."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(prefix: Path, write: bool, *args) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(prefix))
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([sys.executable, "-m", "derive", *args], capture_output=True,
                          text=True, env=env, check=True).stdout


def cached(prefix: Path) -> list[Path]:
    return sorted(prefix.rglob("*.jinja"))


def test_compiled_templates_are_kept_and_give_the_same_bytes(tmp_path):
    args = ("example", "--format", "latex")
    first = run(tmp_path / "none", False, *args)
    assert cached(tmp_path / "none") == []  # PYTHONDONTWRITEBYTECODE: nothing written
    prefix = tmp_path / "pyc"
    assert run(prefix, True, *args) == first
    files = cached(prefix)
    assert files and all(f.parent.name == "templates" for f in files)
    assert run(prefix, True, *args) == first  # read back
    for f in files:  # damaged, truncated, someone else's: compiled afresh
        f.write_bytes(f.read_bytes()[:40] + b"\x00garbage")
    assert run(prefix, False, *args) == first
    for f in files:
        f.write_bytes(b"")
    assert run(prefix, True, *args) == first
    assert run(prefix, True, "example", "--format", "markdown") == run(
        tmp_path / "none", False, "example", "--format", "markdown")


def test_the_key_holds_the_environments_options():
    from render import _bytecode_cache

    a = _bytecode_cache({"trim_blocks": True, "finalize": print})
    b = _bytecode_cache({"trim_blocks": False, "finalize": print})
    c = _bytecode_cache({"trim_blocks": True, "finalize": len})
    assert a.get_cache_key("latex/x.j2") != b.get_cache_key("latex/x.j2")
    assert a.get_cache_key("latex/x.j2") == c.get_cache_key("latex/x.j2")
