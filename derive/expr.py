"""A safe parser from user text to SymPy expressions.

SymPy's sympify and parse_expr call Python's eval, so text a user typed never goes near them.
Instead Python's own parser (``ast.parse``, which builds a tree and runs nothing) reads the text
and this module walks that tree against a whitelist: numbers, named symbols, + - * / ** and
unary minus, comparisons (only inside ``where``), and calls of whitelisted functions by plain
name.  Attribute access, subscripts, lambdas, comprehensions, strings, keywords and dunder names
are refused before anything is built.

Before that, every character must be one the grammar needs (ASCII letters, digits, _, spaces
and + - * / ^ ( ) . , < > =): ``ast.parse`` drops a ``# comment`` without a trace, so a
comment could carry any text past the whitelist walk; quotes, backslashes, control characters
and Unicode look-alikes (Python folds ``ｅｘｐ`` into ``exp``) are refused the same way.  Where
an expression is shown, it is rebuilt from its syntax tree (``canonical``), never the raw text.

Numbers folded while parsing are bounded by the size of the result (MAX_DIGITS), not by each
literal's exponent: ((9**64)**64)**64 would otherwise compute a number of 10^7 digits.
"""

from __future__ import annotations

import ast
import math
import string
from fractions import Fraction

from derive.errors import DeriveError

MAX_ARGS = 6  # of max() and min(): one branch per set of tied arguments, 2^n - 1 of them

MAX_LENGTH = 2000  # characters of expression text
MAX_DEPTH = 60  # nesting of the syntax tree
MAX_POWER = 64  # largest numeric exponent of a power of a variable (z**64)
MAX_DIGITS = 1000  # digits of a number folded while parsing (numerator or denominator)

# every character the grammar needs; anything else is refused before Python's parser runs
ALLOWED_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_ +-*/^().,<>=")

# name -> number of arguments (None: two or more)
FUNCTIONS = {
    "exp": 1, "log": 1, "sqrt": 1, "abs": 1, "sin": 1, "cos": 1, "tanh": 1, "erf": 1,
    "sigmoid": 1, "softplus": 1, "relu": 1, "max": None, "min": None, "where": 3,
}


def _sympy_functions():
    import sympy as sp

    from derive.symbolic.primitives import sigmoid, softplus, tie_extreme

    def relu(x):
        return sp.Piecewise((x, x > 0), (0, True))

    def where(cond, a, b):
        return sp.Piecewise((a, cond), (b, True))

    return {
        "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "sin": sp.sin,
        "cos": sp.cos, "tanh": sp.tanh, "erf": sp.erf, "sigmoid": sigmoid,
        "softplus": softplus, "relu": relu, "where": where,
        # Piecewise with a branch for each tie, so that a tie splits the gradient evenly
        # whatever the order of the arguments (DESIGN.md); relu'(0) = 0 is relu's own
        "max": lambda *a: tie_extreme("max", *a), "min": lambda *a: tie_extreme("min", *a),
    }


def _shown(c: str) -> str:
    """A refused character as a message can show it: itself if plain ASCII, else its code."""
    return repr(c) if c.isascii() and c.isprintable() else f"U+{ord(c):04X}"


def syntax_tree(text, what: str = "expression") -> ast.Expression:
    """Python's syntax tree of the text, after the checks that need no tree: not empty, not
    too long, and only characters the grammar needs (a comment is refused here, because
    ast.parse would drop it silently).  Raises DeriveError naming ``what``."""
    if not isinstance(text, str) or not text.strip():
        raise DeriveError(f"{what} is empty")
    if len(text) > MAX_LENGTH:
        raise DeriveError(f"{what} is longer than {MAX_LENGTH} characters")
    for i, c in enumerate(text, start=1):
        if c not in ALLOWED_CHARACTERS:
            why = ("comments are not allowed in an expression" if c == "#" else
                   "it is not part of an expression")
            # the text itself is not repeated: it holds a character that is no expression's
            raise DeriveError(f"{what}: character {i}, {_shown(c)}: {why}; use letters, digits, "
                              f"spaces and _ + - * / ^ ( ) . , < > = only")
    try:
        return ast.parse(text.strip().replace("^", "**"), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        msg = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise DeriveError(f"{what} '{text}' is not a valid expression: {msg}") from None


# how tightly each node binds, for canonical(): comparison < + - < * / < unary < ** < atom
_PRECEDENCE = {ast.Add: 2, ast.Sub: 2, ast.Mult: 3, ast.Div: 3, ast.Pow: 5}


def _unparse(node) -> tuple[str, int]:
    """(text, precedence) of a node of an expression parse() accepted."""
    if isinstance(node, ast.Constant):
        return (repr(node.value) if isinstance(node.value, float) else str(node.value)), 6
    if isinstance(node, ast.Name):
        return node.id, 6
    if isinstance(node, ast.Call):
        return f"{node.func.id}({', '.join(_unparse(a)[0] for a in node.args)})", 6
    if isinstance(node, ast.UnaryOp):
        inner, p = _unparse(node.operand)
        sign = "-" if isinstance(node.op, ast.USub) else "+"
        return sign + (inner if p >= 4 else f"({inner})"), 4
    if isinstance(node, ast.BinOp):
        prec = _PRECEDENCE[type(node.op)]
        left, lp = _unparse(node.left)
        right, rp = _unparse(node.right)
        if lp < prec or (lp == prec and prec == 5):  # ** groups to the right
            left = f"({left})"
        if rp < prec or (rp == prec and prec != 5):  # a - (b - c), a/(b*c): the tree as given
            right = f"({right})"
        op = {ast.Add: " + ", ast.Sub: " - ", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
        return left + op[type(node.op)] + right, prec
    if isinstance(node, ast.Compare):
        ops = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
        left, _ = _unparse(node.left)
        right, _ = _unparse(node.comparators[0])
        return f"{left} {ops[type(node.ops[0])]} {right}", 1
    raise DeriveError(f"'{type(node).__name__}' is not allowed")  # parse() refused it first


def canonical(text: str, what: str = "expression") -> str:
    """The expression rebuilt from its syntax tree, in one spelling: spaces around + and -,
    none around * / **, parentheses only where needed ('z/(1 + abs(z))').  This, never the
    raw text, is what names and shows an expression.  Call it on text parse() accepted."""
    return _unparse(syntax_tree(text, what).body)[0]


def _digits(value) -> float:
    """Decimal digits of a rational number's numerator or denominator, whichever is longer
    (log10, so that 2**3000 counts 903, not 3000)."""
    p, q = value.as_numer_denom()
    return math.log10(max(abs(int(p)), abs(int(q)), 1))


def parse(text: str, variables, *, what: str = "expression", functions=None,
          defined_everywhere: bool = True):
    """Parse ``text`` into a SymPy expression in the given variable names (real symbols).

    ``variables`` is an iterable of allowed symbol names; ``functions`` optionally narrows the
    whitelist.  Raises DeriveError naming ``what`` for anything outside the grammar.  With
    defined_everywhere=False an expression undefined somewhere (1/relu(x), infinite for
    x <= 0) passes: `derive graph` evaluates at one point and judges that point itself.
    """
    tree = syntax_tree(text, what)
    allowed = set(functions if functions is not None else FUNCTIONS)
    variables = list(variables)

    import sympy as sp

    symbols = {name: sp.Symbol(name, real=True) for name in variables}
    constants = {"pi": sp.pi, "e": sp.E}
    funcs = _sympy_functions()

    def fail(node, why):
        raise DeriveError(f"{what} '{text}': {why}")

    def number(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(None, f"only numbers are allowed as literals, not {value!r}")
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                fail(None, "numbers must be finite")
            frac = Fraction(repr(value))  # the decimal the user wrote, exactly
            return sp.Rational(frac.numerator, frac.denominator)
        return sp.Integer(value)

    def folded(value):
        """A number computed while parsing, refused when it has grown past MAX_DIGITS."""
        if value.is_Rational and _digits(value) > MAX_DIGITS:
            fail(None, f"a number in it has more than {MAX_DIGITS} digits")
        return value

    def power(left, right):
        if right.is_number and not right.is_real:
            fail(None, "exponents must be real numbers")
        if left == 0 and right.is_number and right < 0:
            fail(None, "division by zero")
        if left.is_Rational and right.is_Rational:
            # a number folded: bounded by the size of the result, estimated before computing
            # it (|exponent| x the base's digits), so 2**100 is fine and 9**64**64 refused
            if float(abs(right)) * _digits(left) > MAX_DIGITS:
                fail(None, f"a number in it would have more than {MAX_DIGITS} digits")
            return folded(left ** right)
        if right.is_number and abs(right) > MAX_POWER:
            fail(None, f"exponents are limited to ±{MAX_POWER}")
        result = folded(left ** right)
        if isinstance(result, sp.Pow) and result.exp.is_number and abs(result.exp) > MAX_POWER:
            # (z**64)**64 is z**4096: each exponent within the limit, their product not
            fail(None, f"exponents are limited to ±{MAX_POWER} (here {result.exp})")
        return result

    def walk(node, depth, in_where=False):
        if depth > MAX_DEPTH:
            fail(node, "nested too deeply")
        if isinstance(node, ast.Expression):
            return walk(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            return folded(number(node.value))
        if isinstance(node, ast.Name):
            name = node.id
            if name.startswith("_"):
                fail(node, f"names starting with '_' are not allowed ('{name}')")
            if name in symbols:
                return symbols[name]
            if name in constants:
                return constants[name]
            known = ", ".join(variables) or "none"
            from derive.errors import did_you_mean

            fail(node, f"unknown name '{name}'{did_you_mean(name, variables + list(allowed))}; "
                       f"variables allowed here: {known}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = walk(node.operand, depth + 1)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            left = walk(node.left, depth + 1)
            right = walk(node.right, depth + 1)
            op = node.op
            if isinstance(op, ast.Add):
                return folded(left + right)
            if isinstance(op, ast.Sub):
                return folded(left - right)
            if isinstance(op, ast.Mult):
                return folded(left * right)
            if isinstance(op, ast.Div):
                if right == 0:
                    fail(node, "division by zero")
                return folded(left / right)
            if isinstance(op, ast.Pow):
                return power(left, right)
            fail(node, f"operator '{type(op).__name__}' is not allowed; use + - * / **")
        if isinstance(node, ast.Compare):
            if not in_where:
                fail(node, "comparisons are allowed only as the first argument of where()")
            if len(node.ops) != 1:
                fail(node, "chained comparisons are not allowed")
            left = walk(node.left, depth + 1)
            right = walk(node.comparators[0], depth + 1)
            ops = {ast.Gt: sp.StrictGreaterThan, ast.GtE: sp.GreaterThan,
                   ast.Lt: sp.StrictLessThan, ast.LtE: sp.LessThan}
            rel = ops.get(type(node.ops[0]))
            if rel is None:
                fail(node, "only <, <=, > and >= are allowed in a condition")
            return rel(left, right)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                fail(node, "only plain function names may be called (no attribute access)")
            name = node.func.id
            if name.startswith("_") or name not in allowed:
                from derive.errors import did_you_mean

                fail(node, f"unknown function '{name}'{did_you_mean(name, sorted(allowed))}; "
                           f"allowed: {', '.join(sorted(allowed))}")
            if node.keywords:
                fail(node, f"{name}() takes no keyword arguments")
            if any(isinstance(a, ast.Starred) for a in node.args):
                fail(node, f"{name}() takes no * arguments")
            arity = FUNCTIONS[name]
            if arity is None and len(node.args) < 2:
                fail(node, f"{name}() needs at least two arguments")
            if arity is None and len(node.args) > MAX_ARGS:
                fail(node, f"{name}() takes at most {MAX_ARGS} arguments")
            if arity is not None and len(node.args) != arity:
                fail(node, f"{name}() takes {arity} argument{'s' if arity > 1 else ''}")
            args = [walk(a, depth + 1, in_where=(name == "where" and i == 0))
                    for i, a in enumerate(node.args)]
            return funcs[name](*args)
        kind = type(node).__name__
        fail(node, f"'{kind}' is not allowed; use numbers, variables, + - * / ** and "
                   f"the functions {', '.join(sorted(allowed))}")

    try:
        expr = walk(tree, 0)
    except RecursionError:
        raise DeriveError(f"{what} is nested too deeply") from None
    if defined_everywhere and expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise DeriveError(f"{what} '{text}' is undefined (division by zero or infinity)")
    return expr
