"""The symbolic half of `derive descend`, run by the SymPy worker: a model's or a function's
derivatives, their spellings and evaluation trees, and a function's stationary points.

Each takes the user's text (checked again by the safe parser here) and returns plain data;
derive.numeric.descend compiles the trees and runs the descent without SymPy.
"""

from __future__ import annotations

import sympy as sp

from derive.errors import DeriveError
from derive.expr import canonical, parse
from derive.symbolic import budget
from derive.symbolic.oneline import oneline
from derive.symbolic.tree import to_tree

X = sp.Symbol("x", real=True)


def model(text: str, params: list) -> dict:
    """A model in x and its parameters: its spellings, its tree and one tree per d/dparam."""
    expr = parse(text, ["x", *params], what="--model")
    free = {s.name for s in expr.free_symbols}
    for p in params:
        if p not in free:
            raise DeriveError(f"--param {p}: the model '{canonical(text)}' does not use {p}, "
                              f"so descent could never change it")
    try:
        grads = [to_tree(sp.diff(expr, sp.Symbol(p, real=True))) for p in params]
        tree = to_tree(expr)
    except ValueError as exc:
        raise DeriveError(f"--model '{canonical(text)}': {exc}") from None
    return {"text": canonical(text), "expression": str(expr), "latex": sp.latex(expr),
            "oneline": oneline(expr), "tree": tree, "grads": grads}


def function(text: str) -> dict:
    """A function of x to minimise: its spellings and trees, and its derivative's."""
    expr = parse(text, ["x"], what="--function")
    if X not in expr.free_symbols:
        raise DeriveError(f"--function '{canonical(text)}' does not depend on x")
    d = sp.diff(expr, X)
    try:
        trees = to_tree(expr), to_tree(d)
    except ValueError as exc:
        raise DeriveError(f"--function '{canonical(text)}': {exc}") from None
    return {"text": canonical(text), "expression": str(expr), "latex": sp.latex(expr),
            "derivative": str(d), "derivative_latex": sp.latex(d), "oneline": oneline(expr),
            "derivative_oneline": oneline(d), "tree": trees[0], "dtree": trees[1]}


def stationary(text: str, low: float, high: float) -> dict:
    """The stationary points of a function of x (derive.symbolic.stationary); an optional
    step: where SymPy does not finish in time, none, and `omitted` says so."""
    from derive.symbolic.stationary import stationary_points

    expr = parse(text, ["x"], what="--function")
    points = budget.optional("stationary_points",
                             lambda: stationary_points(expr, X, (low, high)), None)
    if points is None:
        return {"points": [], "method": "none", "limits": {}, "omitted": ["stationary_points"]}
    return {**points, "omitted": []}
