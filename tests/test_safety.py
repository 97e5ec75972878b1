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
    # SymPy's work in this process (not in the worker), where the guards below can see it
    monkeypatch.setenv("DERIVE_SYMPY_INLINE", "1")
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


# ------------------------------------------------- markup through an expression (issue 13.1)

# Python's parser drops a comment without a trace, so the whitelist walk never saw this text;
# the raw expression then named the activation and reached LaTeX, MathML and Markdown as it was
INJECTIONS = [
    r"sigmoid(z) # } \input{/etc/passwd} <img src=x onerror=alert(1)>",
    "z # `<img src=x onerror=alert(1)>`",
    "z #",
    "tanh(z) # <svg onload=alert(1)>",
]


def _answers_entry(text, tmp_path):
    """A student's answers file naming a spec with this custom activation (derive check)."""
    spec = tmp_path / "custom.toml"
    spec.write_text('[[layers]]\nactivation = "custom"\nexpression = ' + _toml_string(text)
                    + '\nweights = [[0.5]]\nbiases = [0.0]\n\n[[examples]]\ninput = [1.0]\n'
                    'target = [0.5]\n', encoding="utf-8")
    answers = tmp_path / "answers.toml"
    answers.write_text('spec = "custom.toml"\no2 = 0.5\n', encoding="utf-8")
    return ["check", str(answers)]


@pytest.mark.parametrize("entry", [*ENTRIES, "answers-spec"])
@pytest.mark.parametrize("text", INJECTIONS)
def test_a_comment_in_an_expression_is_refused(tmp_path, monkeypatch, entry, text):
    """Every way an expression comes in refuses a comment: exit 2, one line that names the
    character, and none of the text after it echoed (it is no expression's)."""
    monkeypatch.chdir(tmp_path)
    text = text.replace("z", "x") if entry in ("graph", "descend-model", "descend-function") \
        else text
    if entry == "descend-model":
        text = text.replace("x", "c*x", 1)
    result = (CliRunner().invoke(main, _answers_entry(text, tmp_path)) if entry == "answers-spec"
              else _run_entry(entry, text, tmp_path))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "comments are not allowed" in result.stderr
    for payload in ("<img", "<svg", "passwd", "`"):
        assert payload not in result.stderr


@pytest.mark.parametrize("char", ["#", "`", "\\", "'", '"', "$", "{", "}", ";", "@", "%", "&",
                                  "|", "~", "!", "?", ":", "[", "]", "\x1b", "\n", "\t", "\x00",
                                  "\u202e", "\u00a0", "ｅ", "é", "σ"])
def test_characters_the_grammar_does_not_need_are_refused(char):
    """Only ASCII letters, digits, _, spaces and + - * / ^ ( ) . , < > = get through; the
    refusal names the character (by its code when it is not plain ASCII) and nothing more.
    (On main ｅｘｐ(z) was exp(z): Python folds Unicode look-alikes into ASCII names.)"""
    import derive
    from derive.errors import DeriveError

    for text in (f"z{char}", f"{char}z", f"exp(z){char}1"):
        with pytest.raises(DeriveError) as err:
            derive.activation(None, expr=text)
        message = str(err.value)
        assert "not part of an expression" in message or "comments are not allowed" in message
        assert (repr(char) if char.isascii() and char.isprintable()
                else f"U+{ord(char):04X}") in message
        assert "\x1b" not in message and "\u202e" not in message and "\n" not in message
    with pytest.raises(DeriveError):
        derive.activation(None, expr="ｅｘｐ(z)")


def test_the_display_name_is_rebuilt_from_the_syntax_tree():
    """However it is typed, a custom activation is named and shown in one spelling made from
    its syntax tree, never the raw text."""
    from derive.spec import from_dict
    from derive.symbolic.definitions import CUSTOM_PREFIX

    def named(expression):
        raw = {"layers": [{"activation": "custom", "expression": expression,
                           "weights": [[0.5]], "biases": [0.0]}],
               "examples": [{"input": [1.0], "target": [0.5]}]}
        return from_dict(raw).layers[0].activation

    for typed in ("z/(1+abs(z))", "z / (1 + abs( z ))", "(z)/((1)+abs(z))", "z/(1 + abs(z))"):
        assert named(typed) == CUSTOM_PREFIX + "z/(1 + abs(z))"
    assert named("where(z>0,z,0.1*z)") == CUSTOM_PREFIX + "where(z > 0, z, 0.1*z)"
    assert named("z^2 - -z") == CUSTOM_PREFIX + "z**2 - -z"


def test_a_custom_activation_is_written_f_in_the_formulas():
    """The step 'write with f(z) itself' and the forward pass use the symbol f: the name
    'custom: ...' is shown only as text (escaped), never inside LaTeX or MathML."""
    from derive.symbolic.definitions import register_custom
    from derive.symbolic.derivation import derive_activation

    rec = derive_activation(register_custom("where(z > 0, z, 0.1*z)"))
    for step in rec["steps"]:
        assert "custom" not in step["latex"] and "custom" not in step["mathml"], step
    assert any(r"f{\left(z \right)}" in s["latex"] for s in rec["steps"])


def test_mathml_text_is_escaped():
    """SymPy writes MathML text nodes raw: a relation's < reached the page as <mo><</mo>."""
    import sympy as sp

    from derive.symbolic.derivation import Z, spellings

    mathml = spellings(sp.Piecewise((Z, Z < 0), (0, True)))["mathml"]
    assert "<mo>&lt;</mo>" in mathml and "<mo><</mo>" not in mathml
    assert spellings(sp.Function("a<b>&c")(Z))["mathml"].count("<mi>a&lt;b&gt;&amp;c</mi>") == 1


def test_markdown_code_spans_cannot_be_closed_from_inside():
    """A code span's fence is longer than any run of backticks in the text (CommonMark)."""
    from render.filters import code_span

    assert code_span("x + 1") == "`x + 1`"
    assert code_span("a ` b") == "``a ` b``"
    assert code_span("x ``<img>`` y") == "```x ``<img>`` y```"
    assert code_span("`x`") == "`` `x` ``"


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html", "text"])
def test_a_custom_activation_with_relations_in_every_format(tmp_path, fmt):
    """where(z > 0, ...) in a spec: the forward pass writes f(0.5), the name reaches the
    page only as escaped text, and no raw < or > of the user's reaches HTML or Markdown."""
    spec = tmp_path / "w.toml"
    spec.write_text('[[layers]]\nactivation = "custom"\nexpression = "where(z>0, z, 0.1*z)"\n'
                    'weights = [[0.1, 0.2]]\nbiases = [0.0]\n[[examples]]\ninput = [1.0, 2.0]\n'
                    'target = [1.0]\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["example", "--spec", str(spec), "--format", fmt])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "operatorname{custom" not in out and "<mi>custom" not in out
    if fmt in ("markdown", "latex"):
        import re

        assert re.search(r"o_\{3\} &?= f\(0\.50*\) = 0\.50*", out), out
        assert r"\mathrm{custom" not in out
    if fmt == "html":
        assert "custom: where(z &gt; 0, z, 0.1*z)" in out
    if fmt == "markdown":
        assert r"custom: where(z \> 0, z, 0.1\*z)" in out


@requires_pdflatex
@pdf_tools
def test_the_injection_reaches_no_pdf(tmp_path):
    """The issue's spec is refused; the same spec without the comment compiles, and its PDF
    holds nothing of /etc/passwd."""
    spec = tmp_path / "s.toml"
    body = ('\nweights = [[0.1, 0.2]]\nbiases = [0.0]\n[[examples]]\ninput = [1.0, 2.0]\n'
            'target = [1.0]\n')
    spec.write_text('[[layers]]\nactivation = "custom"\nexpression = '
                    + _toml_string(INJECTIONS[0]) + body, encoding="utf-8")
    refused = CliRunner().invoke(main, ["example", "--spec", str(spec), "--format", "latex"])
    assert refused.exit_code == 2 and refused.stdout == ""
    spec.write_text('[[layers]]\nactivation = "custom"\nexpression = "sigmoid(z)"' + body,
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["example", "--spec", str(spec), "--format", "latex"])
    assert result.exit_code == 0, result.output
    text = _pdf_text(result.stdout)
    assert "daemon" not in text and "nologin" not in text  # /etc/passwd's lines
    assert "custom: sigmoid(z)" in text
