"""One line of Unicode maths for the terminal: (1 − o²)(t − o), e^(−z)/(1 + e^(−z))², |z|.

SymPy's pretty printer draws fractions and powers over several lines, which cannot stand
inside a sentence ("Err = −∂E/∂o · f′(i) = ...") or a table cell.  This printer writes every
expression on one line, in the notation of the slides: the minus sign −, juxtaposition before
a parenthesis (a(1 − a)) and · elsewhere, integer powers as superscripts, other powers as
^(...), √, |z|, σ and Greek letters, d/dz (...) with its parentheses, and a piecewise function
as {value if condition; value otherwise}.  The result is plain text (no markup): documents
escape it for their format like any other text.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.conventions import requires_partial
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter

MINUS = "\u2212"
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUBSCRIPT = dict(zip("0123456789aeijkmnot", "₀₁₂₃₄₅₆₇₈₉ₐₑᵢⱼₖₘₙₒₜ"))
_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η",
          "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ",
          "phi": "φ", "Phi": "Φ", "Sigma": "Σ", "Delta": "Δ"}
_FUNCTION_NAMES = {"sigmoid": "σ"}


def _subscripted(name: str) -> str:
    """o_k -> oₖ (when every character has a subscript form), alpha -> α."""
    head, _, sub = name.partition("_")
    head = _GREEK.get(head, head)
    if not sub:
        return head
    if all(c in _SUBSCRIPT for c in sub):
        return head + "".join(_SUBSCRIPT[c] for c in sub)
    return f"{head}_{sub}"


def _top_level(text: str, char: str) -> bool:
    """Whether char occurs in text outside every pair of parentheses and braces."""
    depth = 0
    for n, c in enumerate(text):
        if c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
        elif c == char and depth == 0:
            if text[n - 1:n] in ("d", "∂") and text[n + 1:n + 2] in ("d", "∂"):
                continue  # the d/dz of a derivative, not a fraction
            return True
    return False


class OneLinePrinter(StrPrinter):
    """SymPy's str printer, made to read like the slides, on one line."""

    printmethod = "_oneline"  # not _sympystr: sigmoid's own str form says "sigmoid(z)"

    # -- order: positive terms first (t − o, 1 + e^(−z) − 1), as the lecture writes them; a
    #    polynomial keeps its degrees (x⁴ − 3x² + x), only starting with a positive term ------
    def _as_ordered_terms(self, expr, order=None):
        terms = list(super()._as_ordered_terms(expr, order=order))
        symbols = expr.free_symbols
        if len(symbols) == 1 and expr.is_polynomial(*symbols) and sp.degree(
                expr, *symbols) >= 2:
            if terms[0].could_extract_minus_sign():
                first = next((t for t in terms if not t.could_extract_minus_sign()), None)
                if first is not None:
                    terms.remove(first)
                    terms.insert(0, first)
            return terms
        return sorted(terms, key=lambda term: term.could_extract_minus_sign())

    def parenthesize(self, item, level, strict=False):
        text = self._print(item)
        if precedence(item) < level or (not strict and precedence(item) <= level):
            return f"({text})"
        if text.startswith(MINUS) and level >= PRECEDENCE["Mul"]:
            return f"({text})"  # a factor or power of a negative: 2·(−z), (−z)²
        return text

    # -- atoms -------------------------------------------------------------------------------
    def _print_Symbol(self, expr):
        return _subscripted(expr.name)

    _print_Dummy = _print_Symbol

    def _print_Exp1(self, expr):
        return "e"

    def _print_Pi(self, expr):
        return "π"

    def _print_Infinity(self, expr):
        return "∞"

    def _print_NegativeInfinity(self, expr):
        return MINUS + "∞"

    def _print_ComplexInfinity(self, expr):
        return "∞"

    def _print_Integer(self, expr):
        return str(expr.p).replace("-", MINUS)

    def _print_Rational(self, expr):
        return f"{expr.p}/{expr.q}".replace("-", MINUS)

    def _print_Float(self, expr):
        text = repr(float(expr))
        if text.endswith(".0"):
            text = text[:-2]
        return text.replace("-", MINUS)

    def _print_UnevaluatedExpr(self, expr):
        return self._print(expr.args[0])

    # -- sums and products -------------------------------------------------------------------
    def _print_Add(self, expr, order=None):
        terms = self._as_ordered_terms(expr, order=order)
        out = []
        for n, term in enumerate(terms):
            negative = term.could_extract_minus_sign()
            body = self._print(-term) if negative else self._print(term)
            if precedence(-term if negative else term) < PRECEDENCE["Add"]:
                body = f"({body})"
            if n == 0:
                out.append((MINUS if negative else "") + body)
            else:
                out.append((f" {MINUS} " if negative else " + ") + body)
        return "".join(out)

    def _factor(self, item) -> str:
        return self.parenthesize(item, PRECEDENCE["Mul"], strict=False)

    @staticmethod
    def _join(parts: list[str]) -> str:
        """a(1 − a), 2o, (1 − o²)(t − o); a · where two names would run together."""
        out = parts[0]
        for part in parts[1:]:
            if part.startswith("(") or (out[-1].isdigit() and not part[0].isdigit()
                                        and not part.startswith(("d/", "∂/"))
                                        and out.replace(".", "").isdigit()):
                out += part
            else:
                out += "·" + part
        return out

    def _print_Mul(self, expr):
        # flattened (a derivation step may nest unevaluated products), the numbers taken out
        # as one coefficient, so that −sinh(z)²/cosh(z)² keeps its sign in front
        factors = []

        def flatten(e):
            for a in (e.as_ordered_factors() if e.is_commutative else e.args):
                if isinstance(a, sp.Mul):
                    flatten(a)
                else:
                    factors.append(a)

        flatten(expr)
        coeff = sp.Integer(1)
        rest = []
        for a in factors:
            if a.is_Rational:
                coeff *= a
            else:
                rest.append(a)
        if coeff.is_negative:
            text = self._print_Mul(sp.Mul(-coeff, *rest, evaluate=False)) if rest \
                else self._print(-coeff)
            return MINUS + text
        numer = [sp.Integer(coeff.p)] if coeff.p != 1 else []
        denom = [sp.Integer(coeff.q)] if coeff.q != 1 else []
        derivatives = []
        for a in rest:
            if isinstance(a, sp.Pow) and a.exp.is_Rational and a.exp.is_negative:
                denom.append(sp.Pow(a.base, -a.exp, evaluate=False) if a.exp != -1 else a.base)
            elif isinstance(a, sp.Derivative):
                derivatives.append(a)
            else:
                numer.append(a)
        if derivatives and (denom or not numer):
            # z/2·d/dz (1 + erf(z)), never d/dz (1 + erf(z))/2, which reads as d/dz of it all
            head = self._fraction(numer, denom)
            tail = "·".join(self._print(d) for d in derivatives)
            return tail if head == "1" else f"{head}·{tail}"
        return self._fraction(numer + derivatives, denom)

    def _fraction(self, numer, denom) -> str:
        parts = [self._factor(a) for a in numer]
        if len(parts) > 1:  # a fraction among factors is put in parentheses: (1/u)·((u − 1)/u)
            parts = [f"({p})" if _top_level(p, "/") else p for p in parts]
        top = (self._join(parts) if not any(_top_level(p, "/") for p in parts)
               else "·".join(parts)) if parts else "1"
        if any(p.startswith("(") and _top_level(p[1:-1], "/") for p in parts):
            top = "·".join(parts)
        if not denom:
            return top
        if _top_level(top, "/"):
            top = f"({top})"
        bottom = self._join([self._factor(a) for a in denom])
        if len(denom) > 1 or precedence(denom[0]) < PRECEDENCE["Pow"]:
            if not (bottom.startswith("(") and bottom.endswith(")") and len(denom) == 1):
                bottom = f"({bottom})"
        return f"{top}/{bottom}"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.base, expr.exp
        if exp == sp.Rational(1, 2):
            return "√" + self._radicand(base)
        if exp == -sp.Rational(1, 2):
            return "1/√" + self._radicand(base)
        if exp.is_Rational and exp.is_negative:
            return "1/" + self._print_Pow(sp.Pow(base, -exp, evaluate=False)) if exp != -1 \
                else "1/" + self.parenthesize(base, PRECEDENCE["Pow"], strict=True)
        if base == sp.E:
            return self._print(sp.exp(exp, evaluate=False))
        b = self.parenthesize(base, PRECEDENCE["Pow"], strict=False)
        if exp.is_Integer:
            return b + str(exp.p).translate(_SUPERSCRIPT)
        return f"{b}^{self._exponent(exp)}"

    def _radicand(self, base) -> str:
        text = self._print(base)
        return text if base.is_Atom and not text.startswith(MINUS) else f"({text})"

    def _exponent(self, exp) -> str:
        text = self._print(exp)
        return text if exp.is_Atom and not text.startswith(MINUS) else f"({text})"

    def _print_exp(self, expr):
        return "e^" + self._exponent(expr.args[0])

    # -- functions ---------------------------------------------------------------------------
    def _print_Function(self, expr):
        name = expr.func.__name__
        name = _FUNCTION_NAMES.get(name, _GREEK.get(name, name))
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_sigmoid(self, expr):
        return f"σ({self._print(expr.args[0])})"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"

    def _print_Max(self, expr):
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr):
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_KroneckerDelta(self, expr):
        subs = "".join(self._print(a) for a in expr.args)
        return _subscripted("δ_" + subs) if subs.isalnum() else f"δ({subs})"

    def _print_Derivative(self, expr):
        d = "∂" if requires_partial(expr) else "d"
        inner = expr.expr
        var = "".join(self._print(v) for v, _ in expr.variable_count)
        text = self._print(inner)
        if not (inner.is_Atom or isinstance(inner, (sp.Function, sp.Piecewise))):
            text = f"({text})"  # d/dz (1 + e^(−z)): the parentheses say what is differentiated
        return f"{d}/{d}{var} {text}"

    def _print_Piecewise(self, expr):
        parts = []
        for value, cond in expr.args:
            if cond == sp.true:
                parts.append(f"{self._print(value)} otherwise")
            else:
                parts.append(f"{self._print(value)} if {self._print(cond)}")
        return "{" + "; ".join(parts) + "}"

    # -- conditions --------------------------------------------------------------------------
    def _print_Relational(self, expr):
        ops = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}
        return f"{self._print(expr.lhs)} {ops[expr.rel_op]} {self._print(expr.rhs)}"

    def _print_And(self, expr):
        return " and ".join(self._print(a) for a in expr.args)

    def _print_Or(self, expr):
        return " or ".join(self._print(a) for a in expr.args)

    def _print_BooleanTrue(self, expr):
        return "always"

    def _print_BooleanFalse(self, expr):
        return "never"


def oneline(expr) -> str:
    """The expression on one line of Unicode, as the slides write it."""
    return OneLinePrinter({"order": None}).doprint(expr)
