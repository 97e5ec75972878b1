"""The fill-in answer table of a problem: one labelled cell per asked value.

The cells are the problem's answers in the order the key holds them (the order of the
computation, and of the `KIND.NAME` columns `derive grade` reads), cut into rows a student
fills one after another: a layer's net inputs and outputs, the error terms, the gradients and
the new values of each unit's incoming weights and bias.  Plain data: the templates draw the
boxes (empty on the problem sheet, filled with the key's values in the solutions).
"""

from __future__ import annotations

import re

_NAME = re.compile(r"(i|o|Err|dw|db|w|b)(\d+)(?:_(\d+))?")

# what a cell holds, by the head of its machine name: the templates label it by this
ROLES = {"i": "net", "o": "out", "Err": "err", "dw": "grad", "db": "grad", "w": "new",
         "b": "new"}
# the group of the table a role belongs to
GROUPS = {"net": "forward", "out": "forward", "loss": "loss", "err": "errors",
          "grad": "gradients", "new": "new", "value": "values"}


def column(kind: str, name: str) -> str:
    """The column `derive grade` reads for an answer (DESIGN.md): KIND.NAME."""
    return f"{kind}.{name}"


def _layers(spec: dict) -> dict[int, int]:
    """unit number -> layer (0: inputs) of a network spec; {} for a spec without layers."""
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not layers:
        return {}
    sizes = [len(layers[0]["weights"][0])] + [len(layer["biases"]) for layer in layers]
    out, unit = {}, 1
    for n, size in enumerate(sizes):
        for _ in range(size):
            out[unit] = n
            unit += 1
    return out


def _place(kind: str, name: str, layer_of: dict) -> tuple[str, tuple]:
    """(role, row key): cells with the same row key, one after another, share a row."""
    m = _NAME.fullmatch(name) if kind != "loss" else None
    if name == "loss" and kind != "loss":
        return "loss", ("forward", max(layer_of.values(), default=0))
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


def answer_sheet(problem) -> tuple:
    """[{"group", "rows": [[{"name", "column", "role"}, ...], ...]}, ...] of a problem."""
    layer_of = _layers(problem.spec)
    groups: list[dict] = []
    last_row = None
    for name in problem.answers:
        role, row = _place(problem.kind, name, layer_of)
        cell = {"name": name, "column": column(problem.kind, name), "role": role}
        group = GROUPS[role]
        if role == "loss" and groups and groups[-1]["group"] == "forward":
            group = "forward"  # right after the outputs it is computed from, beside them
        else:
            row = ("loss",) if role == "loss" else row
        if not groups or groups[-1]["group"] != group:
            groups.append({"group": group, "rows": []})
            last_row = None
        if row != last_row:
            groups[-1]["rows"].append([])
            last_row = row
        groups[-1]["rows"][-1].append(cell)
    return tuple(groups)
