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


class Undefined(DeriveError):
    """One operation cannot be evaluated (the value) or differentiated (a partial) here."""


def _apply(op: str, xs: list[float]) -> tuple[float, tuple]:
    """The value and the partials; Undefined (with the reason) where the value is not a finite
    real number.  A partial that is infinite or undefined comes back as inf or nan: whether
    that matters depends on whether its argument is a variable (the caller decides)."""
    try:
        value, partials = _apply_unchecked(op, xs)
    except Undefined:
        raise
    except OverflowError:
        raise Undefined(f"{op} overflows") from None
    except ValueError as exc:  # math domain errors
        raise Undefined(f"{op} is not defined ({exc})") from None
    if not math.isfinite(value):
        raise Undefined(f"{op} is not finite")
    return value, partials


def _safe(f) -> float:
    """A partial derivative, inf where it divides by zero (x**0.5 at 0)."""
    try:
        return f()
    except ZeroDivisionError:
        return math.inf
    except (OverflowError, ValueError):
        return math.nan


def _apply_unchecked(op: str, xs: list[float]) -> tuple[float, tuple]:
    """The value of one elementary operation and its partial derivatives in each argument.
    At kinks the PyTorch convention: relu'(0) = 0, abs'(0) = 0, and max/min split the gradient
    evenly among the arguments that tie for the value, whatever their order (DESIGN.md)."""
    if op == "+":
        return xs[0] + xs[1], (1.0, 1.0)
    if op == "−":
        return xs[0] - xs[1], (1.0, -1.0)
    if op == "×":
        return xs[0] * xs[1], (xs[1], xs[0])
    if op == "/":
        if xs[1] == 0:
            raise Undefined("division by zero")
        return xs[0] / xs[1], (1.0 / xs[1], -xs[0] / xs[1] ** 2)
    if op == "^":
        b, e = xs
        if b < 0 and e != int(e):
            raise Undefined(f"{b:g}^{e:g} is not a real number")
        if b == 0 and e <= 0:
            raise Undefined(f"0 raised to the power {e:g} (≤ 0)")
        value = b ** e
        d_base = _safe(lambda: e * b ** (e - 1)) if e != 0 else 0.0
        # b^e = exp(e log b): in e it is differentiable only for b > 0 (0^e = 0 for e > 0)
        d_exp = value * math.log(b) if b > 0 else 0.0 if b == 0 else math.nan
        return value, (d_base, d_exp)
    if op == "neg":
        return -xs[0], (-1.0,)
    x = xs[0]
    if op == "exp":
        v = math.exp(x)
        return v, (v,)
    if op == "log":
        if x <= 0:
            raise Undefined(f"log of {x:g} (not positive)")
        return math.log(x), (1.0 / x,)
    if op == "sqrt":
        if x < 0:
            raise Undefined(f"sqrt of {x:g} (negative)")
        v = math.sqrt(x)
        return v, (0.5 / v if v > 0 else math.inf,)  # 1/(2√x): infinite at 0
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
        tied = sum(1 for x in xs if x == pick)
        return pick, tuple(1.0 / tied if x == pick else 0.0 for x in xs)
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
        # a negative constant in parentheses: (-2) ** x2, not -2 ** x2 = -(2 ** x2)
        a = [f"({t})" if isinstance(x, float) and x < 0 else t for x, t in zip(node.args, a)]
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
    # the whitelist, first; an expression undefined elsewhere (1/relu(x1) for x1 <= 0) is
    # fine: only the point asked is judged, node by node, below
    parse(text, variables, what="expression", functions=functions, defined_everywhere=False)
    tree = syntax_tree(text).body
    nodes: list[Node] = []
    uses = {v: 0 for v in variables}

    def _constant(op, args):
        try:
            return _apply(op, args)[0]
        except Undefined as exc:
            shown = node_text(Node("", op, list(args)))
            raise DeriveError(f"'{text.strip()}': its constant part {shown} is undefined: "
                              f"{exc}") from None

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
                return _constant(op, [left, right])  # constants fold: not a node
            return emit(op, [left, right])
        if isinstance(node, ast.Call):
            args = [build(a) for a in node.args]
            if all(isinstance(a, float) for a in args):
                return _constant(node.func.id, args)
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
    at = ", ".join(f"{v} = {point[v]:g}" for v in variables)
    for n in nodes:
        xs = [a if isinstance(a, float) else values[a] for a in n.args]
        # the node that fails is named with what it was given: the value or the gradient
        # is undefined at this point, though the expression may be defined elsewhere
        given = ", ".join(f"{a} = {values[a]:g}" for a in n.args
                          if not isinstance(a, float) and a not in point)
        where = (f"'{text.strip()}' at {at}: node {n.name} = {node_text(n)}"
                 f"{f' (with {given})' if given else ''}")
        try:
            n.value, n.partials = _apply(n.op, xs)
        except Undefined as exc:
            raise DeriveError(f"{where}: the value is undefined here: {exc}") from None
        for arg, partial in zip(n.args, n.partials):
            if not isinstance(arg, float) and not math.isfinite(partial):
                raise DeriveError(f"{where}: the value is {n.value:g} but the gradient is "
                                  f"undefined here: ∂{n.name}/∂{arg} is "
                                  f"{'infinite' if math.isinf(partial) else 'undefined'}")
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
