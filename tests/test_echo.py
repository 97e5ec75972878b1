"""What derive echoes and how it ends (issue 13, point 6): one line and a non-zero status
where main crashed with exit 70 or exited 0 with the output lost; no control character of a
title, an expression or a file name reaches the terminal; a stream that cannot encode a
character gets its ASCII form; Ctrl-C and SIGTERM end quietly; a BOM is accepted; values a
double cannot hold are refused with their line."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import warnings

import pytest
from click.testing import CliRunner

from derive.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def run(args, **kw):
    return CliRunner(**kw).invoke(main, [str(a) for a in args])


def refused(result, *needles):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("derive: error: ")
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result


def process(args, env=None, **kw):
    """derive in a process of its own, as a shell runs it (no DERIVE_DEBUG)."""
    full = {k: v for k, v in os.environ.items() if k != "DERIVE_DEBUG"}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", "from derive.cli import main; main()", *args],
                          env=full, capture_output=kw.pop("capture_output", True), **kw)


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


SPEC = """\
title = "T"
learning_rate = {lr}
[[layers]]
weights = [[0.2, 0.4]]
biases = [0.1]
[[examples]]
input = [1, 0]
target = [1]
"""


# --- numbers a double cannot hold, nesting a parser cannot follow ----------------------------

@pytest.mark.parametrize("value,needle", [
    ("1" + "0" * 399, "400 digits"),
    ("-" + "9" * 400, "400 digits"),
    ("0x" + "f" * 400, "too large"),
    ("1" + "0" * 5000, "more than 4,300 digits"),
], ids=["400-digits", "negative", "hex", "5000-digits"])
def test_huge_integers_in_a_spec_are_one_line(here, value, needle):
    """A 400-digit learning rate: main raised OverflowError (exit 70)."""
    pathlib.Path("s.toml").write_text(SPEC.format(lr=value), encoding="utf-8")
    refused(run(["example", "--spec", "s.toml"]), "s.toml", needle)
    pathlib.Path("a.toml").write_text(f"o3 = {value}\n", encoding="utf-8")
    refused(run(["check", "a.toml"]), "a.toml", needle)


@pytest.mark.parametrize("depth", [33, 600, 5000])
def test_arrays_nested_too_deeply_are_one_line(here, depth):
    """main: RecursionError in the TOML parser, exit 70 (at 5,000); at 600 a message that
    depended on how deep the caller's stack was.  Now: more than 32 levels, one message."""
    pathlib.Path("s.toml").write_text("weights = " + "[" * depth + "]" * depth + "\n")
    refused(run(["example", "--spec", "s.toml"]), "s.toml", "nested too deeply")
    refused(run(["check", "s.toml"]), "s.toml", "nested too deeply")


@pytest.mark.parametrize("text,needle", [
    ("1e-99999999999999999999", "99,999,999,999,999,999,999"),
    ("1e-400", "400"),
    ("0." + "0" * 360 + "1", "361"),
    ("1e-" + "9" * 5000, "far more than that"),
], ids=["1e-10^20", "1e-400", "361-places", "5000-digit-exponent"])
def test_values_with_more_places_than_a_double_are_one_line(here, text, needle):
    """o4 = 1e-99999999999999999999 reads as 0.0 written to 10^20 places: main tried to show
    it with that many and raised ValueError (exit 70)."""
    pathlib.Path("a.toml").write_text(f"o4 = {text}\n", encoding="utf-8")
    refused(run(["check", "a.toml"]), "a.toml:1", "o4", needle, "350 decimal places")


def test_a_value_that_underflows_is_refused_and_one_that_fits_is_marked(here):
    pathlib.Path("a.toml").write_text("o4 = 1e-330\n", encoding="utf-8")
    refused(run(["check", "a.toml"]), "too small")
    pathlib.Path("a.toml").write_text("o4 = 3.3e-300\n", encoding="utf-8")
    assert run(["check", "a.toml"]).exit_code == 1  # a number, and a wrong one


def test_a_byte_order_mark_is_accepted(here):
    """A spreadsheet's UTF-8 export starts with a BOM: main said 'Invalid statement'."""
    pathlib.Path("s.toml").write_text(SPEC.format(lr=0.5), encoding="utf-8-sig")
    pathlib.Path("plain.toml").write_text(SPEC.format(lr=0.5), encoding="utf-8")
    with_bom = run(["example", "--spec", "s.toml", "--format", "json"])
    assert with_bom.exit_code == 0, with_bom.output
    assert with_bom.output == run(["example", "--spec", "plain.toml", "--format", "json"]).output
    pathlib.Path("a.toml").write_text("o4 = 0.332\no5 = 0.525\n", encoding="utf-8-sig")
    result = run(["check", "a.toml", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output)["ok"] is True


# --- output that cannot be written -----------------------------------------------------------

def test_a_full_disk_on_stdout_is_one_line(here):
    """derive example > /dev/full: main exit 70 (OSError ENOSPC)."""
    with open("/dev/full", "w") as full:
        proc = process(["example"], stdout=full, stderr=subprocess.PIPE, capture_output=False,
                       text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "derive: error: cannot write to standard output: No space left on device; the output "
        "is incomplete"]


def test_a_closed_stdout_is_an_error_not_exit_0(here):
    """derive example >&-: main exited 0 with the whole output lost."""
    proc = process(["example"], preexec_fn=lambda: os.close(1), text=True)
    assert proc.returncode == 2 and "standard output is closed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = process(["example", "-o", "out.txt"], preexec_fn=lambda: os.close(1), text=True)
    assert proc.returncode == 0 and pathlib.Path("out.txt").stat().st_size > 0


def test_check_interactive_with_stdin_closed_is_one_line(here):
    """derive check --interactive <&-: main raised RuntimeError 'lost sys.stdin' (exit 70)."""
    proc = process(["check", "--interactive"], preexec_fn=lambda: os.close(0), text=True)
    assert proc.returncode == 2 and "standard input, which is closed" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_reader_that_goes_away_ends_quietly(here):
    proc = subprocess.Popen([sys.executable, "-c", "from derive.cli import main; main()",
                             "train", "--mode", "batch", "--max-epochs", "300"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**{k: v for k, v in os.environ.items() if k != "DERIVE_DEBUG"},
                                 "PYTHONPATH": str(ROOT)})
    proc.stdout.read(10)
    proc.stdout.close()  # | head -c 10
    err = proc.stderr.read().decode()
    assert proc.wait() in (0, 141) and err == ""


# --- encodings that lack characters ----------------------------------------------------------

COMMANDS = [["example"], ["example", "--rounding", "hand"], ["activation", "sigmoid"],
            ["activation", "tanh"], ["loss", "bce"], ["graph", "log(x1)*x2", "--at", "x1=2,x2=5"],
            ["descend", "--preset", "shekels"], ["descend", "--function", "x**4 - 3*x**2 + x",
                                                 "--start", "-2,2", "--lr", "0.01"],
            ["train", "--mode", "batch", "--max-epochs", "5"], ["check", "a.toml"]]


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", "latin-1", "cp437"])
@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_a_stream_without_unicode_gets_ascii_forms(here, encoding, args):
    """PYTHONIOENCODING=cp1252 derive example (a Windows redirect): main raised
    UnicodeEncodeError (exit 70).  Now every document is written, its numbers intact."""
    pathlib.Path("a.toml").write_text("o4 = 0.332\nErr6 = 0.1311\n", encoding="utf-8")
    result = run(args, charset=encoding)
    assert result.exit_code in (0, 1), (result.output, result.exception)
    reference = run(args)
    numbers = re.findall(r"\d+\.\d+", reference.output)
    assert re.findall(r"\d+\.\d+", result.output) == numbers


def test_ascii_forms_read_as_the_lecture_writes_them(here):
    text = run(["example"], charset="cp1252").output
    assert "learning rate eta = 0.9" in text and "w1,4 = 0.2" in text
    assert "sigma(z) =" in text and "-0.7" in text
    assert text.count("?") == run(["example"]).output.count("?")  # no character lost


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_json_in_any_encoding_is_the_same_json(here, encoding):
    pathlib.Path("s.toml").write_text(
        'title = "Ünïcødé η → 😀"\n' + SPEC.format(lr=0.5).split("\n", 1)[1], encoding="utf-8")
    utf8 = run(["example", "--spec", "s.toml", "--format", "json"])
    other = run(["example", "--spec", "s.toml", "--format", "json"], charset=encoding)
    assert other.exit_code == 0
    assert json.loads(other.output) == json.loads(utf8.output)


def test_in_a_real_process_too(here):
    proc = process(["example"], env={"PYTHONIOENCODING": "cp1252"})
    assert proc.returncode == 0, proc.stderr
    assert b"eta = 0.9" in proc.stdout
    proc = process(["example", "--activation", "nope"], env={"PYTHONIOENCODING": "ascii"},
                   text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


# --- control characters ----------------------------------------------------------------------

HOSTILE = "A\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eB\r\x00"


def test_escape_sequences_in_a_title_do_not_reach_the_terminal(here):
    pathlib.Path("s.toml").write_text(
        f"title = {json.dumps(HOSTILE)}\n" + SPEC.format(lr=0.5).split("\n", 1)[1],
        encoding="utf-8")
    for fmt in ("text", "markdown", "latex", "html", "json"):
        result = run(["example", "--spec", "s.toml", "--format", fmt])
        assert result.exit_code == 0, result.output
        assert not CONTROL.search(result.output), (fmt, repr(result.output[:200]))
    text = run(["example", "--spec", "s.toml"]).output
    assert text.startswith("A\\u001b[2J\\u001b]0;pwned\\u0007\\u009b31m\\u202eB\\u000d\\u0000")
    data = json.loads(run(["example", "--spec", "s.toml", "--format", "json"]).output)
    assert run(["example", "--spec", "s.toml", "-o", "x.json"]).exit_code == 0
    assert data == json.loads(pathlib.Path("x.json").read_text(encoding="utf-8"))


def test_escape_sequences_in_a_title_do_not_reach_a_written_file(here):
    """-o x.txt is the terminal's text, to be read with cat or less: the title's controls are
    escaped by the format itself (render's finalizer), not only on the way to stdout."""
    pathlib.Path("s.toml").write_text(
        f"title = {json.dumps(HOSTILE)}\n" + SPEC.format(lr=0.5).split("\n", 1)[1],
        encoding="utf-8")
    for name in ("x.txt", "x.md", "x.html", "x.tex"):
        assert run(["example", "--spec", "s.toml", "-o", name]).exit_code == 0
        written = pathlib.Path(name).read_text(encoding="utf-8")
        assert not CONTROL.search(written.replace("\r\n", "\n")), (name, repr(written[:200]))
    assert pathlib.Path("x.txt").read_text(encoding="utf-8").startswith("A\\u001b[2J")


# click strips ESC [ ... sequences (CSI) when stdout is not a terminal, but not when it is,
# and never OSC (ESC ] 0; sets the window title) or the 8-bit CSI (\x9b)
OSC = "\x1b]0;pwned\x07\x9b2J"


@pytest.mark.parametrize("args", [
    ["graph", f"x{OSC} + y", "--at", "x=1,y=2"],
    ["activation", "--expr", f"z{OSC}"],
    ["descend", "--function", f"x{OSC}", "--start", "1", "--lr", "0.1"],
    ["example", "--activation", f"sig{OSC}moid"],
    ["example", "--spec", "no\nderive: error: forged"],
    ["example", "--decimals", OSC],
    [f"--no-such-option{OSC}"],
], ids=["graph", "activation-expr", "function", "activation-name", "file-name", "decimals",
        "option"])
def test_escape_sequences_and_newlines_in_what_is_echoed_stay_one_harmless_line(here, args):
    """An expression or file name is echoed in the message: its escape sequences were
    written raw, and a newline in a file name forged a second 'derive: error' line."""
    result = run(args)
    assert result.exit_code == 2
    assert not CONTROL.search(result.stderr.rstrip("\n")), repr(result.stderr)
    if "Usage:" not in result.stderr:
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("derive: error")


# --- signals ---------------------------------------------------------------------------------

def test_ctrl_c_while_loading_prints_no_traceback():
    """Ctrl-C in the first 50 ms (while click, SymPy are imported): main printed a
    KeyboardInterrupt traceback.  The signal is sent from inside the import of click."""
    code = ("import os, signal, sys\n"
            "class Hook:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'click':\n"
            "            os.kill(os.getpid(), signal.SIGINT)\n"
            "        return None\n"
            "sys.meta_path.insert(0, Hook())\n"
            "from derive.cli import main\n"
            "main()\n")
    env = {k: v for k, v in os.environ.items() if k != "DERIVE_DEBUG"}
    proc = subprocess.run([sys.executable, "-c", code, "example"], capture_output=True,
                          text=True, env={**env, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip() == "derive: interrupted"


def test_ctrl_c_between_loading_and_running_prints_no_traceback():
    """The `derive` script still has lines to run after the import (pip's wrapper)."""
    code = ("import os, signal, sys\n"
            "sys.modules['__main__'].__file__ = '/usr/local/bin/derive'\n"
            "from derive.cli import main\n"
            "os.kill(os.getpid(), signal.SIGINT)\n"
            "for _ in range(10 ** 6): pass\n"
            "main()\n")
    env = {k: v for k, v in os.environ.items() if k != "DERIVE_DEBUG"}
    proc = subprocess.run([sys.executable, "-c", code, "example"], capture_output=True,
                          text=True, env={**env, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr


def test_importing_derive_cli_leaves_ctrl_c_to_the_program():
    code = ("import signal\nimport derive.cli\n"
            "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("sig,status,said", [(signal.SIGINT, 130, "derive: interrupted"),
                                             (signal.SIGTERM, 143, "derive: terminated")])
def test_signals_while_a_command_runs(here, monkeypatch, sig, status, said):
    from derive import api

    real = api.example

    def example(*a, **k):
        os.kill(os.getpid(), sig)
        return real(*a, **k)

    monkeypatch.setattr(api, "example", example)
    result = run(["example", "-o", "out.txt"])
    assert result.exit_code == status and result.stderr.strip() == said
    assert os.listdir() == []


# --- warnings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("function,start", [("sqrt(x)", "0.5"), ("log(x)", "2"),
                                            ("x**0.5 + 1/x", "1"), ("acosh(x)", "3")])
def test_no_numpy_warning_outside_a_functions_domain(function, start):
    """descend --function sqrt(x) --start 0.5: main printed a NumPy RuntimeWarning (the
    stationary-point search samples x < 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run(["descend", "--function", function, "--start", start, "--lr", "0.1",
                      "--steps", "20"])
    assert result.exit_code in (0, 2), result.output
    assert "Warning" not in result.output


def test_sigterm_at_an_interactive_prompt_ends_the_program():
    """Ctrl-D at a prompt checks what was given; SIGTERM ends the program (it was taken for
    the end of input)."""
    env = {k: v for k, v in os.environ.items() if k != "DERIVE_DEBUG"}
    proc = subprocess.Popen([sys.executable, "-c", "from derive.cli import main; main()",
                             "check", "--interactive"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**env, "PYTHONPATH": str(ROOT)})
    proc.stdin.write(b"-0.7\n")
    proc.stdin.flush()
    seen = b""
    while b"o4 =" not in seen:  # the second prompt: derive is waiting for input
        seen += proc.stderr.read1(4096)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and b"derive: terminated" in err and out == b""
