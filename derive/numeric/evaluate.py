"""Compile a JSON expression tree (derive.symbolic.tree) into a NumPy function.

Compilation builds closures over NumPy ufuncs: no Python source is generated and nothing is
passed to eval, so a tree read from the on-disk cache can do no more than arithmetic.
Overflow-prone operations have stable forms: sigmoid and softplus never exponentiate a large
positive number, and each branch of a piecewise function is evaluated only where it is taken.
"""

from __future__ import annotations

import math

import numpy as np

_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(x):
    # e = exp(-|x|) never overflows; the two branches are the same function
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _erf_array(x):
    return np.asarray(_erf(x), dtype=float) if np.ndim(x) else math.erf(float(x))


def _prod(values):
    out = values[0]
    for v in values[1:]:
        out = out * v
    return out


def _sum(values):
    out = values[0]
    for v in values[1:]:
        out = out + v
    return out


OPERATIONS = {
    "add": _sum,
    "mul": _prod,
    "inv": lambda v: 1.0 / v[0],
    "sqrt": lambda v: np.sqrt(v[0]),
    "square": lambda v: v[0] * v[0],
    "pow": lambda v: np.power(v[0], v[1]),
    "exp": lambda v: np.exp(v[0]),
    "log": lambda v: np.log(v[0]),
    "abs": lambda v: np.abs(v[0]),
    "sin": lambda v: np.sin(v[0]),
    "cos": lambda v: np.cos(v[0]),
    "tanh": lambda v: np.tanh(v[0]),
    "atanh": lambda v: np.arctanh(v[0]),
    "cosh": lambda v: np.cosh(v[0]),
    "sinh": lambda v: np.sinh(v[0]),
    "erf": lambda v: _erf_array(v[0]),
    "sign": lambda v: np.sign(v[0]),
    "sigmoid": lambda v: _sigmoid(v[0]),
    "softplus": lambda v: _softplus(v[0]),
    "gt": lambda v: v[0] > v[1],
    "ge": lambda v: v[0] >= v[1],
    "lt": lambda v: v[0] < v[1],
    "le": lambda v: v[0] <= v[1],
    "eq": lambda v: v[0] == v[1],
    "ne": lambda v: v[0] != v[1],
    "and": lambda v: np.logical_and.reduce(v),
    "or": lambda v: np.logical_or.reduce(v),
    "not": lambda v: np.logical_not(v[0]),
}


def compile_tree(tree):
    """Return f(env) -> value for the tree; env maps symbol names to floats or arrays."""
    head = tree[0]
    if head == "num":
        value = float(tree[1])
        return lambda env: value
    if head == "sym":
        name = tree[1]
        return lambda env: env[name]
    if head == "true":
        return lambda env: True
    if head == "false":
        return lambda env: False
    if head == "piecewise":
        return _compile_piecewise(tree[1:])
    op = OPERATIONS.get(head)
    if op is None:
        raise ValueError(f"unknown operation '{head}' in expression tree")
    children = [compile_tree(child) for child in tree[1:]]
    return lambda env: op([c(env) for c in children])


def _compile_piecewise(pairs):
    branches = [(compile_tree(e), compile_tree(c)) for e, c in pairs]

    def evaluate(env):
        arrays = {k: v for k, v in env.items() if np.ndim(v)}
        if not arrays:  # scalars: take the first branch whose condition holds
            for expr, cond in branches:
                if bool(cond(env)):
                    return expr(env)
            return float("nan")
        shape = np.broadcast_shapes(*[np.shape(v) for v in arrays.values()])
        full = {k: (np.broadcast_to(v, shape) if np.ndim(v) else v) for k, v in env.items()}
        out = np.full(shape, np.nan)
        remaining = np.ones(shape, dtype=bool)
        for expr, cond in branches:
            taken = remaining & np.broadcast_to(cond(full), shape)
            if taken.any():
                # evaluate the branch only where it applies: no overflow from untaken branches
                sub = {k: (v[taken] if np.ndim(v) else v) for k, v in full.items()}
                out[taken] = expr(sub)
            remaining &= ~taken
            if not remaining.any():
                break
        return out

    return evaluate


class Function:
    """A compiled tree, called with its symbols as keywords: ``f(z=array, alpha=0.01)``.

    The result has the broadcast shape of the arguments, even where the expression ignores
    some of them (a constant derivative still gives one value per unit).
    """

    __slots__ = ("tree", "_f")

    def __init__(self, tree):
        self.tree = tree
        self._f = compile_tree(tree)

    def __call__(self, **env):
        value = self._f(env)
        shapes = [s for s in (v.shape if type(v) is np.ndarray else np.shape(v)
                              for v in env.values()) if s]
        if not shapes:
            return float(value)
        # one array argument (the usual call) needs no broadcasting of shapes
        shape = shapes[0] if len(shapes) == 1 else np.broadcast_shapes(*shapes)
        value = np.asarray(value, dtype=float)
        return value if value.shape == shape else np.broadcast_to(value, shape).copy()
