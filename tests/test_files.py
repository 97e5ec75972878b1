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
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o755)  # pytest's tmp_path is private (0700): see the next tests
    path = output.write_atomic(open_dir / "x.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------ issue 13, point 5: modes, devices, signals

def _mode(path) -> int:
    return pathlib.Path(path).stat().st_mode & 0o777


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_force_keeps_the_mode_of_the_file_it_replaces(here, mode):
    """A chmod 600 answer key stays 600 when --force writes it again (it became 0644)."""
    here.chmod(0o755)
    _ok(run(["example", "--format", "json", "-o", "key.json"]))
    os.chmod("key.json", mode)
    _ok(run(["example", "--format", "json", "--lr", "0.5", "-o", "key.json", "--force"]))
    assert _mode("key.json") == mode
    assert '"loss"' in pathlib.Path("key.json").read_text(encoding="utf-8")


def test_a_problem_set_keeps_its_key_private(here):
    here.chmod(0o755)
    _ok(run(["problems", "--kinds", "forward", "-o", "set"]))
    os.chmod("set/answers.json", 0o600)
    _ok(run(["problems", "--kinds", "forward", "--seed", "3", "-o", "set", "--force"]))
    assert _mode("set/answers.json") == 0o600
    assert _mode("set/problems.tex") != 0o600  # the others keep theirs


def test_new_files_in_a_private_directory_are_private(here):
    """A directory others cannot enter (drwx------): a new key in it is not world-readable
    (it was 0644 whatever the directory)."""
    os.mkdir("private", 0o700)
    os.chmod("private", 0o700)
    os.mkdir("shared", 0o750)
    os.chmod("shared", 0o750)
    _ok(run(["example", "-o", "private/key.json"]))
    _ok(run(["example", "-o", "shared/key.json"]))
    _ok(run(["problems", "--kinds", "forward", "-o", "private/set"]))
    assert _mode("private/key.json") & 0o077 == 0
    assert _mode("shared/key.json") & 0o007 == 0
    assert _mode("private/set/answers.json") & 0o077 == 0 or \
        _mode("private/set") & 0o007  # the set's own new directory is the one that counts


def test_a_fifo_is_written_in_place(here):
    """-o FIFO: the data goes to the reader and the FIFO stays a FIFO (a rename replaced it
    with a regular file, and as root -o /dev/null --force replaced the device)."""
    import stat

    os.mkfifo("out.fifo")
    reader = os.open("out.fifo", os.O_RDONLY | os.O_NONBLOCK)  # the page fits the pipe's buffer
    try:
        result = run(["example", "--format", "json", "-o", "out.fifo", "--force"])
        assert result.exit_code == 0, result.output
        got = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat("out.fifo").st_mode)
    assert b'"loss"' in got
    assert not [p for p in os.listdir() if p.endswith(".tmp")]


def test_a_fifo_nobody_reads_is_refused_at_once(here):
    os.mkfifo("out.fifo")
    result = run(["example", "--format", "text", "-o", "out.fifo", "--force"])
    assert result.exit_code == 2 and "no process is reading" in result.stderr


def _null_device(here) -> str:
    """A character device to write to.  As root, a private copy of /dev/null made with mknod:
    a regression (rename over the device) must never replace the machine's /dev/null, which
    it did for the probe of issue 13.  Others cannot rename in /dev: the real one is safe."""
    import stat

    if os.geteuid() != 0:
        return "/dev/null"
    node = str(here / "null")
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError:
        pytest.skip("cannot make a device node here (no CAP_MKNOD)")
    return node


def test_a_character_device_stays_a_device(here):
    import stat

    device = _null_device(here)
    result = run(["example", "--format", "text", "-o", device, "--force"])
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    result = run(["example", "--format", "text", "-o", device])  # no --force: none replaced
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_a_dangling_symlink_is_not_replaced_without_force(here):
    os.symlink("nowhere.txt", "out.txt")
    result = run(["example", "-o", "out.txt"])
    assert result.exit_code == 2 and "--force" in result.stderr and "nowhere.txt" in result.stderr
    assert os.path.islink("out.txt")
    _ok(run(["example", "-o", "out.txt", "--force"]))
    assert not os.path.islink("out.txt") and pathlib.Path("out.txt").stat().st_size > 0
    assert not os.path.exists("nowhere.txt")


@pytest.mark.parametrize("first,second,gone", [
    ("latex", "moodle", ["problems.tex", "solutions.tex"]),
    ("moodle", "markdown", ["moodle.xml"]),
    ("markdown", "qti", ["problems.md", "solutions.md"]),
])
def test_switching_format_with_force_removes_the_old_formats_files(here, first, second, gone):
    _ok(run(["problems", "--kinds", "forward", "--format", first, "-o", "set"]))
    pathlib.Path("set/notes.txt").write_text("mine", encoding="utf-8")  # not ours: stays
    _ok(run(["problems", "--kinds", "forward", "--format", second, "-o", "set", "--force"]))
    names = set(os.listdir("set"))
    assert not names & set(gone), names
    assert "answers.json" in names and "notes.txt" in names


def test_a_failed_format_switch_leaves_the_old_set(here, monkeypatch):
    _ok(run(["problems", "--kinds", "forward", "--format", "latex", "-o", "set"]))
    before = listing("set")
    monkeypatch.setattr(output.os, "replace", Fail(2))
    result = run(["problems", "--kinds", "forward", "--format", "moodle", "-o", "set",
                  "--force"])
    assert result.exit_code == 2, result.output
    assert listing("set") == before


def test_leftover_temporary_files_do_not_make_a_directory_not_empty(here):
    """A run killed with SIGKILL leaves its .NAME.PID.XXXX.tmp files; the next run into that
    directory is not refused for them, and removes those of a process that is gone."""
    os.mkdir("set")
    dead = 2 ** 22 + 12345  # above Linux's pid_max unless raised: no such process
    stale = f".answers.json.{dead}.abcd1234.tmp"
    pathlib.Path("set", stale).write_text("half", encoding="utf-8")
    pathlib.Path("set", ".problems.tex.x1y2z3w4.tmp").write_text("old", encoding="utf-8")
    result = run(["problems", "--kinds", "forward", "-o", "set"])
    assert result.exit_code == 0, result.output
    assert not pathlib.Path("set", stale).exists()
    assert pathlib.Path("set", "answers.json").exists()


def _sigterm_script(tmp_path, after_stages: int) -> str:
    """derive problems in a process that sends itself SIGTERM once `after_stages` files are
    staged (the write is then half done)."""
    return (
        "import os, signal, sys\n"
        "from derive import output\n"
        "real = output._stage\n"
        "count = [0]\n"
        "def stage(path, data):\n"
        "    tmp = real(path, data)\n"
        "    count[0] += 1\n"
        f"    if count[0] == {after_stages}:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return tmp\n"
        "output._stage = stage\n"
        "sys.modules['__main__'].__file__ = '/usr/bin/derive'\n"
        "from derive.cli import main\n"
        "sys.argv = ['derive', 'problems', '--kinds', 'forward', '--variants', '3', '-o', "
        f"{str(tmp_path / 'set')!r}] + sys.argv[1:]\n"
        "main()\n")


@pytest.mark.parametrize("force", [False, True])
def test_sigterm_mid_write_leaves_no_temporary_files(tmp_path, force):
    """SIGTERM is handled like Ctrl-C: the staged files go, one line, status 143; the
    directory is as it was, and the next run is not refused."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DERIVE_DEBUG"}
    env["PYTHONPATH"] = str(pathlib.Path(__file__).resolve().parents[1])
    if force:
        subprocess.run([sys.executable, "-c", _sigterm_script(tmp_path, 0)], env=env,
                       check=True, capture_output=True)
        before = listing(tmp_path / "set")
    extra = ["--seed", "5", "--force"] if force else []
    proc = subprocess.run([sys.executable, "-c", _sigterm_script(tmp_path, 2), *extra],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 143, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["derive: terminated"]
    if force:
        assert listing(tmp_path / "set") == before
    else:
        assert not (tmp_path / "set").exists() or not os.listdir(tmp_path / "set")
    proc = subprocess.run([sys.executable, "-c", _sigterm_script(tmp_path, 0), *extra],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not [p for p in os.listdir(tmp_path / "set") if p.endswith(".tmp")]
