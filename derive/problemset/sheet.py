"""The fill-in answer table of a problem: one labelled cell per asked value.

The cells are the problem's answers (and those given only in words, such as an unbounded
sup E) in the order of the computation, which is the order of the `KIND.NAME` columns
`derive grade` reads (derive/grading.py, asked_order), cut into rows a student fills one
after another: a layer's net inputs and outputs (and the loss beside the outputs
it comes from), the error terms, the gradients and the new values of each unit's incoming
weights and bias.  Plain, immutable data: the templates draw the boxes (empty on the problem
sheet, filled with the key's values in the solutions).  Problems of one shape share one table.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

_NAME = re.compile(r"(i|o|Err|dw|db|w|b)(\d+)(?:_(\d+))?")

# what a cell holds, by the head of its machine name: the templates label it by this
ROLES = {"i": "net", "o": "out", "Err": "err", "dw": "grad", "db": "grad", "w": "new",
         "b": "new"}
# the group of the table a role belongs to
GROUPS = {"net": "forward", "out": "forward", "loss": "loss", "err": "errors",
          "grad": "gradients", "new": "new", "value": "values"}


class Cell(NamedTuple):
    name: str  # the answer's machine name (o4, Err6, dw1_4, w1_4 for the new value)
    column: str  # the column `derive grade` reads: KIND.NAME
    role: str  # net, out, loss, err, grad, new or value


class Group(NamedTuple):
    group: str  # forward, loss, errors, gradients, new or values
    rows: tuple  # of tuples of Cell


def column(kind: str, name: str) -> str:
    """The column `derive grade` reads for an answer (DESIGN.md): KIND.NAME."""
    return f"{kind}.{name}"


def _sizes(spec) -> tuple:
    """The layer sizes of a network spec (inputs first); () for a spec without layers."""
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not layers:
        return ()
    return (len(layers[0]["weights"][0]), *[len(layer["biases"]) for layer in layers])


def _place(kind: str, name: str, layer_of: dict) -> tuple[str, tuple]:
    """(role, row key): cells with the same row key, one after another, share a row."""
    if name == "loss" and kind != "loss":
        return "loss", ("forward", max(layer_of.values(), default=0))
    m = _NAME.fullmatch(name) if kind != "loss" else None
    if m is None:
        return "value", ("value",)
    head, a, b = m.groups()
    role = ROLES[head]
    k = int(b) if b is not None else int(a)
    if role in ("net", "out"):
        return role, ("forward", layer_of.get(k, 0))
    if role == "err":
        return role, ("errors",)
    return role, (GROUPS[role], k)


@lru_cache(maxsize=256)
def _sheet(kind: str, names: tuple, sizes: tuple) -> tuple:
    layer_of, unit = {}, 1
    for n, size in enumerate(sizes):
        for _ in range(size):
            layer_of[unit] = n
            unit += 1
    groups: list[tuple[str, list]] = []
    last_row = None
    for name in names:
        role, row = _place(kind, name, layer_of)
        group = GROUPS[role]
        if role == "loss" and groups and groups[-1][0] == "forward":
            group = "forward"  # right after the outputs it is computed from, beside them
        elif role == "loss":
            row = ("loss",)
        if not groups or groups[-1][0] != group:
            groups.append((group, []))
            last_row = None
        if row != last_row:
            groups[-1][1].append([])
            last_row = row
        groups[-1][1][-1].append(Cell(name, column(kind, name), role))
    return tuple(Group(g, tuple(tuple(r) for r in rows)) for g, rows in groups)


def answer_sheet(problem) -> tuple:
    """(Group(group, rows=((Cell(name, column, role), ...), ...)), ...) of a problem: its
    answers in the order `derive grade` reads their columns (the order of the computation:
    the output layer's gradients and new values first, as backpropagation reaches them), then
    those given only in words."""
    from derive.grading import asked_order

    names = asked_order(problem.answers, problem.spec)
    words = [n for n in problem.key_names() if n not in problem.answers]
    return _sheet(problem.kind, (*names, *words), _sizes(problem.spec))
