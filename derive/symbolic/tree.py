"""SymPy expression -> a JSON tree that derive.numeric.evaluate turns into NumPy code.

The tree is plain data (nested lists), so the derivation cache can store it and the everyday
path can evaluate it without importing SymPy and without generating or executing Python source.
Forms: ["num", float] | ["sym", name] | [head, child, ...] where head is one of the names in
derive.numeric.evaluate.OPERATIONS, and ["piecewise", [expr, cond], ...].
"""

from __future__ import annotations

import sympy as sp

from derive.symbolic.primitives import sigmoid, softplus

_FUNCTIONS = {
    sp.exp: "exp", sp.log: "log", sp.Abs: "abs", sp.sin: "sin", sp.cos: "cos",
    sp.tanh: "tanh", sp.erf: "erf", sp.sign: "sign", sigmoid: "sigmoid", softplus: "softplus",
    sp.atanh: "atanh", sp.cosh: "cosh", sp.sinh: "sinh",
}
_RELATIONS = {
    sp.StrictGreaterThan: "gt", sp.GreaterThan: "ge", sp.StrictLessThan: "lt",
    sp.LessThan: "le", sp.Eq: "eq", sp.Ne: "ne",
}


def to_tree(expr):
    """Serialise a SymPy expression (or boolean condition) into the JSON tree."""
    if expr is sp.true or expr == sp.true:
        return ["true"]
    if expr is sp.false or expr == sp.false:
        return ["false"]
    if isinstance(expr, sp.Symbol):
        return ["sym", expr.name]
    if expr.is_Number or expr in (sp.pi, sp.E):
        value = float(expr)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot evaluate a non-finite constant {expr}")
        return ["num", value]
    if isinstance(expr, sp.Add):
        return ["add", *[to_tree(a) for a in expr.args]]
    if isinstance(expr, sp.Mul):
        return ["mul", *[to_tree(a) for a in expr.args]]
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        if exponent == -1:
            return ["inv", to_tree(base)]
        if exponent == sp.Rational(1, 2):
            return ["sqrt", to_tree(base)]
        if exponent == 2:
            return ["square", to_tree(base)]
        return ["pow", to_tree(base), to_tree(exponent)]
    if isinstance(expr, sp.Piecewise):
        return ["piecewise", *[[to_tree(e), to_tree(c)] for e, c in expr.args]]
    if isinstance(expr, sp.Heaviside):
        # PyTorch's convention at the kink: the step's value at 0 is 0
        return ["piecewise", [["num", 1.0], ["gt", to_tree(expr.args[0]), ["num", 0.0]]],
                [["num", 0.0], ["true"]]]
    if isinstance(expr, (sp.Max, sp.Min)):
        return to_tree(expr.rewrite(sp.Piecewise))
    for cls, name in _RELATIONS.items():
        if isinstance(expr, cls):
            return [name, to_tree(expr.lhs), to_tree(expr.rhs)]
    if isinstance(expr, sp.And):
        return ["and", *[to_tree(a) for a in expr.args]]
    if isinstance(expr, sp.Or):
        return ["or", *[to_tree(a) for a in expr.args]]
    if isinstance(expr, sp.Not):
        return ["not", to_tree(expr.args[0])]
    for cls, name in _FUNCTIONS.items():
        if isinstance(expr, cls):
            return [name, *[to_tree(a) for a in expr.args]]
    raise ValueError(f"no numeric form for {type(expr).__name__}: {expr}")
