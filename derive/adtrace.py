"""Evaluation traces: an expression as a computational graph, forward primal and reverse adjoint.

The expression is split into elementary operations v1, v2, … in the order Python's parser reads
it (the chain x = f(w), y = f(x), z = f(y) of the slides), each evaluated once (the forward
primal trace); then the adjoints v̄ = ∂value/∂v are accumulated from the last node back (the
reverse adjoint trace), each as the sum of the chain-rule products of the nodes that use it, so a
variable used twice gets both contributions.  This is the two-column table of the automatic
differentiation survey the lecture cites (Baydin et al., 2018).

The text is first checked by derive.expr.parse (the whitelist: nothing a user types is ever
evaluated); only a tree that passed is walked here, and evaluation is plain float arithmetic.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

from derive.errors import DeriveError

FUNCTIONS = ("exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "erf", "sigmoid", "softplus",
             "relu", "max", "min")
_OPS = {ast.Add: "+", ast.Sub: "−", ast.Mult: "×", ast.Div: "/", ast.Pow: "^"}


@dataclass
class Node:
    name: str
    op: str  # "+", "−", "×", "/", "^", "neg", or a function name
    args: list  # names of nodes / variables, or float constants
    value: float = 0.0
    adjoint: float = 0.0
    partials: tuple = ()  # ∂node/∂arg for each argument


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _apply(op: str, xs: list[float]) -> tuple[float, tuple]:
    try:
        value, partials = _apply_unchecked(op, xs)
    except OverflowError:
        raise DeriveError(f"{op} overflows at the given point") from None
    except ZeroDivisionError:  # e.g. the derivative of x**0.5 at 0
        raise DeriveError(f"{op} has no finite derivative at the given point (it divides "
                          f"by zero there)") from None
    except ValueError as exc:  # math domain errors
        raise DeriveError(f"{op} is not defined at the given point ({exc})") from None
    if not math.isfinite(value) or not all(math.isfinite(p) for p in partials):
        raise DeriveError(f"{op} is not finite at the given point")
    return value, partials


def _apply_unchecked(op: str, xs: list[float]) -> tuple[float, tuple]:
    """The value of one elementary operation and its partial derivatives in each argument.
    At kinks the PyTorch convention: relu'(0) = 0, abs'(0) = 0, max/min to the first argument
    that attains the value."""
    if op == "+":
        return xs[0] + xs[1], (1.0, 1.0)
    if op == "−":
        return xs[0] - xs[1], (1.0, -1.0)
    if op == "×":
        return xs[0] * xs[1], (xs[1], xs[0])
    if op == "/":
        if xs[1] == 0:
            raise DeriveError("division by zero at the given point")
        return xs[0] / xs[1], (1.0 / xs[1], -xs[0] / xs[1] ** 2)
    if op == "^":
        b, e = xs
        if b < 0 and e != int(e):
            raise DeriveError(f"{b}^{e} is not a real number")
        if b == 0 and e <= 0:
            raise DeriveError("0 raised to a power ≤ 0 at the given point")
        value = b ** e
        d_base = e * b ** (e - 1) if e != 0 else 0.0
        d_exp = value * math.log(b) if b > 0 else 0.0
        return value, (d_base, d_exp)
    if op == "neg":
        return -xs[0], (-1.0,)
    x = xs[0]
    if op == "exp":
        v = math.exp(x)
        return v, (v,)
    if op == "log":
        if x <= 0:
            raise DeriveError(f"log of {x} (not positive) at the given point")
        return math.log(x), (1.0 / x,)
    if op == "sqrt":
        if x <= 0:
            raise DeriveError(f"sqrt of {x} at the given point: its derivative needs x > 0")
        v = math.sqrt(x)
        return v, (0.5 / v,)
    if op == "abs":
        return abs(x), (1.0 if x > 0 else -1.0 if x < 0 else 0.0,)
    if op == "sin":
        return math.sin(x), (math.cos(x),)
    if op == "cos":
        return math.cos(x), (-math.sin(x),)
    if op == "tanh":
        v = math.tanh(x)
        return v, (1.0 - v * v,)
    if op == "erf":
        return math.erf(x), (2.0 / math.sqrt(math.pi) * math.exp(-x * x),)
    if op == "sigmoid":
        v = _sigmoid(x)
        return v, (v * (1.0 - v),)
    if op == "softplus":
        return _softplus(x), (_sigmoid(x),)
    if op == "relu":
        return (x if x > 0 else 0.0), (1.0 if x > 0 else 0.0,)
    if op in ("max", "min"):
        pick = max(xs) if op == "max" else min(xs)
        first = xs.index(pick)
        return pick, tuple(1.0 if i == first else 0.0 for i in range(len(xs)))
    raise DeriveError(f"'{op}' cannot be traced")  # pragma: no cover - parse() refused it


def _label(arg) -> str:
    if isinstance(arg, float):
        return f"{arg:g}"
    return arg


def node_text(node: Node) -> str:
    """The node's definition in the expression grammar: log(x1), v1 + v2, -v3."""
    a = [_label(x) for x in node.args]
    if node.op == "neg":
        return f"-{a[0]}"
    if node.op in _OPS.values():
        ascii_op = {"−": "-", "×": "*", "^": "**"}.get(node.op, node.op)
        return f"{a[0]} {ascii_op} {a[1]}"
    return f"{node.op}({', '.join(a)})"


def parse_point(text: str, variables=None) -> dict[str, float]:
    """'x1=2,x2=5' -> {'x1': 2.0, 'x2': 5.0}, names checked, values finite numbers."""
    point: dict[str, float] = {}
    if not text or not text.strip():
        raise DeriveError("--at is empty: give the point as name=value pairs, e.g. x1=2,x2=5")
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise DeriveError(f"--at '{part.strip()}': write name=value (e.g. x1=2)")
        if not name.isidentifier() or name.startswith("_"):
            raise DeriveError(f"--at: '{name}' is not a variable name")
        if name in FUNCTIONS or name in ("pi", "e", "where"):
            raise DeriveError(f"--at: '{name}' is a function or constant, not a variable")
        if name in point:
            raise DeriveError(f"--at gives '{name}' twice")
        try:
            number = float(value)
        except ValueError:
            raise DeriveError(f"--at {name}={value}: not a number") from None
        if not math.isfinite(number):
            raise DeriveError(f"--at {name}={value}: must be a finite number")
        point[name] = number
    return point


def trace(text: str, point: dict[str, float]) -> dict:
    """The evaluation trace of `text` at `point`: value, gradient, one row per operation."""
    from derive.expr import canonical, parse, syntax_tree

    variables = list(point)
    functions = [f for f in FUNCTIONS]
    parse(text, variables, what="expression", functions=functions)  # the whitelist, first
    tree = syntax_tree(text).body
    nodes: list[Node] = []
    uses = {v: 0 for v in variables}

    def build(node):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in point:
                uses[node.id] += 1
                return node.id
            return math.pi if node.id == "pi" else math.e
        if isinstance(node, ast.UnaryOp):
            inner = build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return inner
            if isinstance(inner, float):
                return -inner
            return emit("neg", [inner])
        if isinstance(node, ast.BinOp):
            left, right = build(node.left), build(node.right)
            op = _OPS[type(node.op)]
            if isinstance(left, float) and isinstance(right, float):
                return _apply(op, [left, right])[0]  # constants fold: not a node
            return emit(op, [left, right])
        if isinstance(node, ast.Call):
            args = [build(a) for a in node.args]
            if all(isinstance(a, float) for a in args):
                return _apply(node.func.id, args)[0]
            return emit(node.func.id, args)
        raise DeriveError(f"'{type(node).__name__}' cannot be traced")  # pragma: no cover

    def emit(op, args):
        n = Node(f"v{len(nodes) + 1}", op, args)
        nodes.append(n)
        return n.name

    top = build(tree)
    if isinstance(top, float) or top in point:
        # a constant or a bare variable: make it one identity node so the trace is not empty
        top = emit("+", [top, 0.0])
    values = dict(point)
    for n in nodes:
        xs = [a if isinstance(a, float) else values[a] for a in n.args]
        n.value, n.partials = _apply(n.op, xs)
        if not math.isfinite(n.value):
            raise DeriveError(f"{node_text(n)} overflows at the given point")
        values[n.name] = n.value

    adjoint = {name: 0.0 for name in [*variables, *[n.name for n in nodes]]}
    contributions: dict[str, list] = {name: [] for name in adjoint}
    adjoint[top] = 1.0
    for n in reversed(nodes):
        for arg, partial in zip(n.args, n.partials):
            if isinstance(arg, float):
                continue
            term = adjoint[n.name] * partial
            adjoint[arg] += term
            contributions[arg].append({"from": n.name, "partial": partial,
                                       "adjoint_from": adjoint[n.name], "term": term})
        n.adjoint = adjoint[n.name]

    rows = [{"node": n.name, "expr": node_text(n), "op": n.op,
             "args": [_label(a) for a in n.args], "value": n.value,
             "adjoint": adjoint[n.name], "contributions": contributions[n.name]}
            for n in nodes]
    inputs = [{"name": v, "value": point[v], "adjoint": adjoint[v], "uses": uses[v],
               "contributions": contributions[v]} for v in variables]
    return {"expression": canonical(text), "at": dict(point), "value": values[top],
            "gradient": {v: adjoint[v] for v in variables}, "trace": rows, "inputs": inputs}
