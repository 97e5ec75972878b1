"""Outputs are whole or absent: nothing overwritten without --force (the SVG beside a Markdown
page included), every write goes through a temporary file and a rename, and a run that fails
part-way leaves the directory exactly as it was."""

from __future__ import annotations

import os
import pathlib

import pytest
from click.testing import CliRunner

from derive import output
from derive.cli import main

SINGLE = {
    "example": ["example"],
    "train": ["train", "--mode", "batch", "--max-epochs", "2"],
    "descend": ["descend", "--preset", "shekels", "--steps", "3"],
    "graph": ["graph", "x*y", "--at", "x=1,y=2"],
    "activation": ["activation", "relu"],
    "loss": ["loss", "mse"],
    "check": ["check", "answers.toml"],
}
WITH_SVG = {"train": "loss", "descend": "descent"}


def run(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def listing(directory="."):
    return sorted((p.name, p.read_bytes()) for p in pathlib.Path(directory).iterdir())


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pathlib.Path("answers.toml").write_text("o4 = 0.332\n", encoding="utf-8")
    return tmp_path


def _ok(result):
    assert result.exit_code in (0, 1), result.output  # check exits 1 for a wrong value
    return result


@pytest.mark.parametrize("command", list(SINGLE))
@pytest.mark.parametrize("suffix", ["txt", "md", "tex", "json"])
def test_no_overwrite_without_force(here, command, suffix):
    target = pathlib.Path(f"out.{suffix}")
    target.write_text("precious", encoding="utf-8")
    before = listing()
    result = run(SINGLE[command] + ["-o", target])
    assert result.exit_code == 2 and "--force" in result.stderr
    assert listing() == before
    _ok(run(SINGLE[command] + ["-o", target, "--force"]))
    assert target.read_text(encoding="utf-8") != "precious"
    assert not [p for p in os.listdir() if p.endswith(".tmp")]


@pytest.mark.parametrize("command", list(WITH_SVG))
def test_the_svg_beside_markdown_is_not_overwritten_either(here, command):
    svg = pathlib.Path(f"report-{WITH_SVG[command]}.svg")
    svg.write_text("precious", encoding="utf-8")
    before = listing()
    result = run(SINGLE[command] + ["-o", "report.md"])
    assert result.exit_code == 2 and str(svg) in result.stderr and "--force" in result.stderr
    assert listing() == before  # report.md not written either
    _ok(run(SINGLE[command] + ["-o", "report.md", "--force"]))
    assert svg.read_text(encoding="utf-8").startswith("<")
    assert pathlib.Path("report.md").exists()


class Fail:
    """os.replace that fails on its n-th call (1-based), like a full disk."""

    def __init__(self, n, exc=None):
        self.n, self.calls, self.exc = n, 0, exc or OSError(28, "No space left on device")
        self.real = os.replace

    def __call__(self, src, dst, *a, **k):
        self.calls += 1
        if self.calls == self.n and str(src).endswith(".tmp"):
            raise self.exc
        return self.real(src, dst, *a, **k)


@pytest.mark.parametrize("command", list(SINGLE))
def test_a_failed_write_leaves_nothing(here, monkeypatch, command):
    before = listing()
    monkeypatch.setattr(output.os, "replace", Fail(1))
    result = run(SINGLE[command] + ["-o", "out.txt"])
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.stderr and "Traceback" not in result.output
    assert listing() == before  # no out.txt, no temporary file


@pytest.mark.parametrize("command", list(WITH_SVG))
@pytest.mark.parametrize("force", [False, True])
def test_page_and_image_are_written_together_or_not_at_all(here, monkeypatch, command, force):
    if force:  # an earlier run's files must survive a failed --force run unchanged
        _ok(run(SINGLE[command] + ["-o", "report.md"]))
    before = listing()
    monkeypatch.setattr(output.os, "replace", Fail(2))  # the SVG is in place, the page fails
    result = run(SINGLE[command] + ["-o", "report.md"] + (["--force"] if force else []))
    assert result.exit_code == 2, result.output
    assert listing() == before


@pytest.mark.parametrize("fmt", ["latex", "markdown", "moodle"])
@pytest.mark.parametrize("existing", [False, True])
def test_problem_sets_are_all_or_nothing(here, monkeypatch, fmt, existing):
    args = ["problems", "--kinds", "forward", "--format", fmt, "-o", "set"]
    if existing:
        _ok(run(args))
        before = listing("set")
    monkeypatch.setattr(output.os, "replace", Fail(2))
    result = run(args + (["--force"] if existing else []))
    assert result.exit_code == 2, result.output
    if existing:
        assert listing("set") == before
    else:
        assert not pathlib.Path("set").exists()


def test_interrupted_write_leaves_nothing(here, monkeypatch):
    """Ctrl-C while the temporary file is written: it goes, nothing else appears."""
    before = listing()
    real = os.fdopen

    class Broken:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise KeyboardInterrupt

    monkeypatch.setattr(output.os, "fdopen", lambda fd, mode: Broken(real(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        output.write_atomic("out.txt", "data")
    assert listing() == before


def test_write_together_rolls_back_and_restores(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "sub" / "c.txt"
    a.write_text("old a")
    monkeypatch.setattr(output.os, "replace", Fail(3))
    with pytest.raises(output.DeriveError, match="nothing was written"):
        output.write_together([(a, "new a"), (b, "new b"), (c, "new c")], force=True)
    assert a.read_text() == "old a" and not b.exists() and not c.exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.txt"]
    monkeypatch.undo()
    output.write_together([(a, "new a"), (b, "new b"), (c, "new c")], force=True)
    assert (a.read_text(), b.read_text(), c.read_text()) == ("new a", "new b", "new c")


def test_written_files_have_the_usual_mode(tmp_path):
    path = output.write_atomic(tmp_path / "x.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
