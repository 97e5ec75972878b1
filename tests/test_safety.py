"""Nothing a user typed runs as code, and nothing a user typed reaches LaTeX as markup.

Expressions: every entry point (graph, descend --model / --function, activation --expr, a spec
file's custom activation) refuses __import__, attribute access, lambdas, comprehensions and
dunder names, and sympify / parse_expr / eval / exec never see the user's text.

LaTeX: hostile titles, input names and file names compile with -no-shell-escape and show up
literally in the PDF (pdftotext); Unicode the preamble cannot set is replaced, not fatal.
"""

from __future__ import annotations

import builtins
import pathlib
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from derive.cli import main
from conftest import requires_pdflatex

HOSTILE = [
    "__import__('os').system('touch PWNED')",
    "x.__class__",
    "x.real",
    "(lambda: 1)()",
    "lambda x: x",
    "[i for i in (1, 2)]",
    "{i for i in (1, 2)}",
    "(i for i in (1, 2))",
    "{1: 2}",
    "__builtins__",
    "_x + 1",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('import os')",
    "getattr(x, 'real')",
    "globals()",
    "x[0]",
    "'text'",
    "x if x else 1",
    "(y := 1)",
    "f'{x}'",
    "sympy.exp(x)",
    "exp(x, y=1)",
    "exp(*x)",
    "x; import os",
    "import os",
]

MARK = "1.2345678"  # a number only the tests' valid expressions contain


def _entry_points(text):
    """Every way an expression reaches derive from the command line; x (or z) is the variable."""
    z = text.replace("x", "z") if "x" in text else text
    return {
        "graph": ["graph", text, "--at", "x=1"],
        "descend-model": ["descend", "--model", text, "--data", "1:2", "--param", "c=1",
                          "--lr", "0.1"],
        "descend-function": ["descend", "--function", text, "--start", "1", "--lr", "0.1"],
        "activation-expr": ["activation", "--expr", z],
        "spec-custom": None,  # a file, below
    }


@pytest.fixture
def no_eval(monkeypatch, tmp_path):
    """Make every way of running text as code fail loudly, and start from an empty cache so
    that the derivations really run."""
    import importlib

    import sympy
    import sympy.parsing.sympy_parser as parser

    sympify_module = importlib.import_module("sympy.core.sympify")

    monkeypatch.setenv("DERIVE_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    real_sympify = sympify_module.sympify

    def guarded_sympify(a, *args, **kwargs):
        # SymPy sympifies its own constant strings inside (e.g. 'yotta'); never a user's text
        if isinstance(a, str) and any(h in a for h in ("PWNED", MARK, "passwd", "__")):
            calls.append(("sympify", a))
            raise AssertionError(f"sympify called on text {a!r}")
        return real_sympify(a, *args, **kwargs)

    real_parse_expr = parser.parse_expr

    def guarded_parse_expr(s, *args, **kwargs):
        # SymPy parses its own names while importing sympy.physics.units; never a user's text
        if isinstance(s, str) and any(h in s for h in ("PWNED", MARK, "passwd", "__")):
            calls.append(("parse_expr", s))
            raise AssertionError("parse_expr on user text")
        return real_parse_expr(s, *args, **kwargs)

    real_eval = builtins.eval

    def guarded_eval(source, *args, **kwargs):
        # Python itself may eval its own strings (dataclasses, typing); never a user's text
        if isinstance(source, str) and any(h in source for h in ("PWNED", MARK, "passwd")):
            calls.append(("eval", source))
            raise AssertionError("eval on user text")
        return real_eval(source, *args, **kwargs)

    monkeypatch.setattr(sympy, "sympify", guarded_sympify)
    monkeypatch.setattr(sympify_module, "sympify", guarded_sympify)
    monkeypatch.setattr(parser, "parse_expr", guarded_parse_expr)
    monkeypatch.setattr(builtins, "eval", guarded_eval)
    return calls


def _run_entry(name, text, tmp_path):
    if name == "spec-custom":
        spec = tmp_path / "custom.toml"
        z = text.replace("x", "z")
        spec.write_text(
            '[[layers]]\nactivation = "custom"\nexpression = ' + _toml_string(z) +
            '\nweights = [[0.5]]\nbiases = [0.0]\n\n[[examples]]\ninput = [1.0]\n'
            'target = [0.5]\n', encoding="utf-8")
        args = ["example", "--spec", str(spec), "--format", "json"]
    else:
        args = _entry_points(text)[name]
    return CliRunner().invoke(main, args)


def _toml_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


ENTRIES = ["graph", "descend-model", "descend-function", "activation-expr", "spec-custom"]


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_expressions_are_refused(no_eval, tmp_path, monkeypatch, entry, text):
    monkeypatch.chdir(tmp_path)
    result = _run_entry(entry, text, tmp_path)
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("derive: error:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not pathlib.Path("PWNED").exists()
    assert no_eval == []


@pytest.mark.parametrize("entry", ENTRIES)
def test_valid_expressions_never_reach_eval(no_eval, tmp_path, monkeypatch, entry):
    """The guarded functions are really in place: valid expressions with the marker work
    (so the derivation ran, through the safe parser) and none of them was called."""
    monkeypatch.chdir(tmp_path)
    text = {"graph": f"x*{MARK} + exp(x)", "descend-model": f"c*x*{MARK}",
            "descend-function": f"(x - {MARK})**2", "activation-expr": f"tanh(z)*{MARK}",
            "spec-custom": f"sigmoid(x)*{MARK}/2"}[entry]
    result = _run_entry(entry, text, tmp_path)
    assert result.exit_code == 0, result.output
    assert no_eval == []


def test_the_guard_catches_a_call(no_eval):
    """The fixture would notice a sympify of text (so the tests above can fail)."""
    import sympy

    import sympy.parsing.sympy_parser as parser

    with pytest.raises(AssertionError):
        sympy.sympify(f"x*{MARK}")
    with pytest.raises(AssertionError):
        parser.parse_expr(f"x*{MARK}")
    with pytest.raises(AssertionError):
        eval(f"{MARK}")
    assert len(no_eval) == 3


def test_api_entry_points_refuse_too(no_eval):
    """The library API (which the commands are layers over) refuses the same texts."""
    import derive
    from derive.errors import DeriveError

    for text in HOSTILE[:8]:
        with pytest.raises(DeriveError):
            derive.graph(text, at="x=1")
        with pytest.raises(DeriveError):
            derive.activation(None, expr=text.replace("x", "z"))
        with pytest.raises(DeriveError):
            derive.descend(function=text, start="1", lr="0.1")
    assert no_eval == []


# --------------------------------------------------------------------------------- LaTeX

HOSTILE_TITLES = [
    r"\input{/etc/passwd}",
    r"\write18{touch /tmp/pwned-derive}",
    r"% & # _ ^ ~ { } $",
    r"\immediate\write18{id} \catcode`\%=11 \def\x{y} \\ end",
]


def _pdf_text(tex: str) -> str:
    from render.latex import compile_pdf

    pdf = compile_pdf(tex)
    proc = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True)
    return proc.stdout.decode("utf-8")


def _squash(text: str) -> str:
    """Text compared as the PDF shows it: no spaces, and no underscores (pdflatex's OT1 _ is
    a rule that pdftotext reads as a space); ^ ~ ` as their glyphs ˆ ˜ ‘ read back."""
    text = text.replace("ˆ", "^").replace("˜", "~").replace("‘", "`").replace("_", "")
    return "".join(text.split())


def _spec_with(title: str, names=("in_1%", "b&c", "d#e")) -> str:
    title_t = _toml_string(title)
    names_t = ", ".join(_toml_string(n) for n in names)
    return (f"title = {title_t}\ninput_names = [{names_t}]\n"
            "[[layers]]\nweights = [[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]]\nbiases = [-0.4, 0.2]\n"
            "[[layers]]\nweights = [[-0.3, -0.2]]\nbiases = [0.1]\n"
            "[[examples]]\ninput = [1, 0, 1]\ntarget = [1]\n")


pdf_tools = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext")


@requires_pdflatex
@pdf_tools
@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_are_literal_in_the_example_and_check_pdfs(tmp_path, monkeypatch, title):
    monkeypatch.chdir(tmp_path)
    pwned = pathlib.Path("/tmp/pwned-derive")
    pwned.unlink(missing_ok=True)
    spec = pathlib.Path("net_%&#.toml")
    spec.write_text(_spec_with(title), encoding="utf-8")
    answers = pathlib.Path("answers_%&#$~^{x}.toml")  # a hostile answers-file name too
    answers.write_text(f'spec = "{spec}"\no4 = 0.332\n', encoding="utf-8")
    for args in (["example", "--spec", str(spec), "--format", "latex"],
                 ["check", str(answers), "--format", "latex"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code in (0, 1), result.output
        text = _pdf_text(result.stdout)
        assert _squash(title) in _squash(text), (title, text[:400])
        assert "root:" not in text  # /etc/passwd was not read in
        if args[0] == "example":
            for name in ("in_1%", "b&c", "d#e"):
                assert _squash(name) in _squash(text)
        else:
            assert _squash("net_%&#.toml") in _squash(text)
    assert not pwned.exists()


@requires_pdflatex
@pdf_tools
def test_unicode_titles_compile(tmp_path, monkeypatch):
    """é and ü are set as themselves; Hebrew and emoji (which pdflatex's fonts do not have)
    are replaced by '?' instead of stopping the document."""
    monkeypatch.chdir(tmp_path)
    title = "Café über naïve — שלום 🎉 Łódź"
    pathlib.Path("net.toml").write_text(_spec_with(title, ("é", "ü", "א")), encoding="utf-8")
    result = CliRunner().invoke(main, ["example", "--spec", "net.toml", "--format", "latex"])
    assert result.exit_code == 0, result.output
    import unicodedata

    text = unicodedata.normalize("NFC", _pdf_text(result.stdout))
    assert "Café über" in text
    assert "ódz" in text  # Ł set as \L; ź (no OT1 accent) as z
    assert "???? ?" in text  # Hebrew and the emoji


def test_escape_tex_maps_what_the_preamble_cannot_set():
    from render.filters import escape_tex

    assert escape_tex("é ü ß") == "é ü ß"
    assert escape_tex("ąő") == "ao"
    assert escape_tex("שלום🎉") == "?????"
    assert escape_tex("a\x00b\x1bc") == "a b c"
    assert escape_tex("η ∂") == "η ∂"


@requires_pdflatex
def test_latex_is_compiled_without_shell_escape(monkeypatch):
    import render.latex as latex

    seen = []
    real = subprocess.run

    def spy(cmd, *a, **k):
        seen.append(cmd)
        return real(cmd, *a, **k)

    monkeypatch.setattr(latex.subprocess, "run", spy)
    latex.compile_pdf("\\documentclass{article}\\begin{document}x\\end{document}")
    assert seen and all("-no-shell-escape" in cmd for cmd in seen)


@requires_pdflatex
@pdf_tools
def test_problem_sets_compile_without_shell_escape(tmp_path):
    out = tmp_path / "p"
    result = CliRunner().invoke(main, ["problems", "--kinds", "forward,backward", "-o",
                                       str(out)])
    assert result.exit_code == 0, result.output
    for name in ("problems.tex", "solutions.tex"):
        assert _pdf_text((out / name).read_text(encoding="utf-8")).strip()


def test_hostile_text_in_html_and_markdown_is_inert(tmp_path, monkeypatch):
    """The same user strings in the HTML page and in Markdown: escaped, never markup."""
    monkeypatch.chdir(tmp_path)
    title = "<script>alert(1)</script> & <b>x</b>"
    pathlib.Path("x.toml").write_text(
        _spec_with(title, ("<img src=x onerror=alert(1)>", "b", "c")), encoding="utf-8")
    page = CliRunner().invoke(main, ["example", "--spec", "x.toml", "--format", "html"]).stdout
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    md = CliRunner().invoke(main, ["example", "--spec", "x.toml", "--format", "markdown"]).stdout
    for tag in ("<script", "<img", "<b"):  # every < of the user's text is escaped: \<
        assert md.count(tag) == md.count("\\" + tag) > 0, tag
