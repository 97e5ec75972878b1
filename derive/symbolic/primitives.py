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
