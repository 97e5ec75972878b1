"""SymPy functions that stand for numerically stable primitives.

The textbook forms (1/(1 + e^{-z}), log(1 + e^{z})) are what a student reads, but evaluated as
written they overflow for large |z|.  `stable_form` rewrites them into these functions, whose
numeric counterparts (derive.numeric.evaluate) are computed stably, and whose derivatives SymPy
knows through fdiff: sigma' = sigma (1 - sigma), softplus' = sigma.
"""

from __future__ import annotations

import sympy as sp


class sigmoid(sp.Function):  # noqa: N801 - named as the maths names it
    """The logistic function 1/(1 + e^{-x})."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_evalf(self, prec):  # numbers at a point, through the textbook definition
        return self._eval_rewrite_as_exp(*self.args)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        power = "^{%s}" % exp if exp is not None else ""
        return r"\sigma%s\left(%s\right)" % (power, printer._print(self.args[0]))

    def _sympystr(self, printer):
        return "sigmoid(%s)" % printer._print(self.args[0])


class softplus(sp.Function):  # noqa: N801
    """log(1 + e^{x})."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_evalf(self, prec):
        return self._eval_rewrite_as_exp(*self.args)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


def textbook_form(expr):
    """Replace the stable primitives by their textbook definitions (only them: a blanket
    rewrite(exp) would also turn z**2 into exp(2 log z), undefined for z < 0)."""
    if not expr.has(sigmoid, softplus):
        return expr
    return expr.replace(lambda e: isinstance(e, (sigmoid, softplus)),
                        lambda e: e._eval_rewrite_as_exp(*e.args))


def stable_form(expr):
    """Rewrite overflow-prone subexpressions into the stable primitives."""
    w = sp.Wild("w")
    expr = expr.replace(1 / (1 + sp.exp(-w)), sigmoid(w))
    expr = expr.replace(sp.exp(w) / (1 + sp.exp(w)), sigmoid(w))
    expr = expr.replace(sp.log(1 + sp.exp(w)), softplus(w))
    return expr



MAX_ARGS = 6  # max(a, b, ...) and min(...) take at most this many arguments (2^n - 1 branches)


def tie_extreme(kind: str, *args):
    """max(args) (kind "max") or min(args) as a Piecewise whose derivative splits the gradient
    evenly where arguments tie, whatever their order (DESIGN.md; torch.maximum's 1/2 each).

    One branch per set of arguments that attain the extreme together, smallest sets first:
    where exactly the arguments in S tie for it, the value is their mean (equal to each of
    them there), so the derivative taken branch by branch is the mean of their derivatives.
    max(0, z) is 0 for z < 0, z for z > 0 and z/2 (= 0) at z = 0, with slope 1/2 there."""
    from itertools import combinations

    args = [sp.sympify(a) for a in args]
    beats = (lambda a, b: a > b) if kind == "max" else (lambda a, b: a < b)
    numbers = [a for a in args if a.is_number]
    if numbers:  # of the constants only the extreme one (and its equals) can attain the value
        best = (max if kind == "max" else min)(numbers)
        args = [a for a in args if not a.is_number or a == best]
    if len(args) == 1:
        return args[0]
    pieces = []
    for size in range(1, len(args) + 1):
        for tied in combinations(range(len(args)), size):
            inside = [args[i] for i in tied]
            outside = [a for i, a in enumerate(args) if i not in tied]
            cond = sp.And(*[sp.Eq(inside[0], a) for a in inside[1:]],
                          *[beats(inside[0], a) for a in outside])
            value = inside[0] if size == 1 else sp.Add(*inside) / size
            pieces.append((value, sp.true if size == len(args) else cond))
    return sp.Piecewise(*pieces)
