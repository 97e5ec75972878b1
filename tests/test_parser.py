"""User text never runs: the safe parser refuses everything outside its grammar."""

import pytest
import sympy as sp

from derive.errors import DeriveError
from derive.expr import parse

z = sp.Symbol("z", real=True)


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/derive-pwned')",
    "z.__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "(lambda: 1)()",
    "[x for x in (1, 2)]",
    "{1: 2}",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('import os')",
    "exp(z=1)",
    "exp(*[z])",
    "'text'",
    "b'bytes'",
    "1j",
    "z if z else 1",
    "z[0]",
    "z; import os",
    "9**9**9**9",
    "_x + 1",
    "__builtins__",
    "sympy.exp(z)",
    "z > 0",
    "",
    "   ",
    "1/0",
    "(" * 500 + "z" + ")" * 500,
])
def test_hostile_or_invalid_text_is_refused(text, tmp_path):
    with pytest.raises(DeriveError):
        parse(text, ["z"])


def test_nothing_ran():
    import os

    assert not os.path.exists("/tmp/derive-pwned")


@pytest.mark.parametrize("text, expected", [
    ("1/(1 + exp(-z))", 1 / (1 + sp.exp(-z))),
    ("z/(1 + abs(z))", z / (1 + sp.Abs(z))),
    ("z^2", z**2),
    ("2.5*z", sp.Rational(5, 2) * z),
    ("tanh(z) + sin(z)*cos(z)", sp.tanh(z) + sp.sin(z) * sp.cos(z)),
    ("sqrt(z**2 + 1)", sp.sqrt(z**2 + 1)),
    # a branch for the tie: its value is the mean of the tied arguments, its slope too
    ("max(0, z)", sp.Piecewise((0, z < 0), (z, z > 0), (z / 2, True))),
])
def test_valid_expressions(text, expected):
    assert sp.simplify(parse(text, ["z"]) - expected) == 0


def test_unknown_names_get_a_suggestion():
    with pytest.raises(DeriveError, match="did you mean 'exp'"):
        parse("expp(z)", ["z"])
    with pytest.raises(DeriveError, match="unknown name 'y'"):
        parse("y + 1", ["z"])
