"""The documents of `derive activation` and `derive loss`: plain data from the cached derivations.

Everything here comes from the derivation records (derive.symbolic.cache), so `derive activation
sigmoid` never imports SymPy once the record is cached; the loss table is evaluated with the
compiled NumPy functions.  No formatting: the templates lay these dicts out, and the JSON of
DESIGN.md is a selection of their keys.
"""

from __future__ import annotations

import numpy as np

from derive.errors import DeriveError
from derive.symbolic import cache
from derive.symbolic.definitions import (ACTIVATIONS, ActivationDef, activation_def,
                                         loss_def)

# outputs for the "confidently wrong costs more" table: target 1, from right to wrong
TABLE_OUTPUTS = (0.99, 0.9, 0.7, 0.5, 0.3, 0.1, 0.01, 0.001)


def custom_definition(expression: str, name: str = "custom") -> ActivationDef:
    """A user's activation: checked against the whitelist grammar here, derived on demand."""
    from derive.expr import canonical, parse

    parse(expression, ["z"], what="--expr")  # refuses anything outside the grammar, runs nothing
    text = canonical(expression, "--expr")  # rebuilt from the syntax tree: what is shown
    return ActivationDef(name, text, f"the custom activation {text}", symbol="f")


def no_gradient_note(record: dict) -> str | None:
    if record["has_gradient"]:
        return None
    return ("This activation has no gradient: its derivative is 0 wherever it exists (and "
            "undefined at the jump), so every error term Err that passes through it is 0 and "
            "gradient descent would never change the weights. It is the perceptron's unit, "
            "trained by the perceptron rule; derive example, train and problems refuse it.")


def activation_document(defn: ActivationDef, params: dict | None = None) -> dict:
    """The derivation of an activation; with params (alpha = -0.5) its output form, range and
    vanishing gradient are those for these values (the derivation itself is symbolic)."""
    from derive.symbolic.definitions import at_params

    record = cache.activation(at_params(defn, params or {}))
    return {
        "name": defn.name,
        "symbol": defn.symbol,
        "description": defn.description,
        "definition": defn.expression,
        "params": record["params"],
        "defaults": defn.defaults,
        "context": record.get("context", {}),
        "elementwise": record["elementwise"],
        "function": record["function"],
        "derivative": record["derivative"],
        "derivative_from_output": record["derivative_from_output"],
        "no_output_form": record.get("no_output_form"),
        "steps": record["steps"],
        "has_gradient": record["has_gradient"],
        "no_gradient": no_gradient_note(record),
        "jacobian": record.get("jacobian"),
        "range": record["range"],
        "vanishing": record["vanishing"],
        "omitted": record["omitted"],
        "omitted_notes": record["omitted_notes"],
    }


def activation_json(doc: dict) -> dict:
    """DESIGN.md's {"name", "expression", "derivative", "derivative_from_output", "steps",
    "latex"} and, after those, the computed extras."""
    form = doc["derivative_from_output"]
    return {
        "name": doc["name"],
        "expression": doc["function"]["expression"],
        "derivative": doc["derivative"]["expression"],
        "derivative_from_output": form["expression"] if form else None,
        "steps": [{"rule": s["rule"], "expression": s["expression"], "latex": s["latex"]}
                  for s in doc["steps"]],
        "latex": {"expression": doc["function"]["latex"],
                  "derivative": doc["derivative"]["latex"],
                  "derivative_from_output": form["latex"] if form else None},
        "has_gradient": doc["has_gradient"],
        "no_gradient": doc["no_gradient"],
        "no_output_form": doc["no_output_form"],
        "params": doc["params"],
        "range": doc["range"],
        "vanishing": doc["vanishing"],
        "jacobian": ({k: v["expression"] for k, v in doc["jacobian"].items()}
                     if doc["jacobian"] else None),
        # the optional steps SymPy did not finish in time (derive.symbolic.budget.OMITTED)
        "omitted": doc["omitted"],
    }


def default_output_activation(loss_name: str) -> str:
    return "softmax" if loss_name == "ce" else "sigmoid"


def _table(loss_name: str, act_name: str) -> list[dict]:
    """E and Err for target 1 as the output goes from right to confidently wrong."""
    from derive.numeric import functions

    lf = functions.loss(loss_name)
    act = functions.activation(act_name)
    rows = []
    for o1 in TABLE_OUTPUTS:
        if act.elementwise:
            o, t = np.array([[o1]]), np.array([[1.0]])
        else:  # softmax over two units: the other unit gets the rest, target one-hot
            o, t = np.array([[o1, 1 - o1]]), np.array([[1.0, 0.0]])
        E = float(lf.per_example(o, t)[0])
        pair = functions.pairing(loss_name, act_name)
        if pair.Err is not None:
            err = float(pair(o, t, **dict(act.params))[0, 0])
        elif not act.elementwise:
            err = float(-act.backprop(None, o, lf.gradient(o, t))[0, 0])
        else:
            err = None  # Err needs the net input, not only the output
        rows.append({"target": 1.0, "output": o1, "loss": E, "Err": err})
    return rows


def _range(loss_name: str, act_name: str) -> dict:
    """E's range for one output unit with target 1 and with target 0, over the outputs the
    output activation can produce (derive.numeric.ranges.loss_range: the same function the
    loss problems use).  A target for which E does not depend on o (ce, t = 0) is left out."""
    from derive.numeric.ranges import loss_range, output_interval

    rows = []
    for t in (1.0, 0.0):
        r = loss_range(loss_name, act_name, targets=(t,))
        if r["low"] == r["high"]:
            continue
        rows.append({"target": t, "minimum": r["low"], "minimum_attained": r["low_reached"],
                     "minimum_at": r["low_at"][0], "maximum": r["high"],
                     "maximum_attained": r["high_reached"], "maximum_at": r["high_at"][0]})
    outputs = output_interval(act_name)
    return {"outputs": outputs, "domain": [outputs["low"], outputs["high"]], "by_target": rows}


def loss_document(loss_name: str, output_activation: str | None = None) -> dict:
    from derive.spec import check_pairing

    defn = loss_def(loss_name)
    act_name = output_activation or default_output_activation(loss_name)
    act = activation_def(act_name)
    act_record = cache.activation(act)
    if not act_record["has_gradient"]:
        raise DeriveError(f"--output-activation {act_name}: {no_gradient_note(act_record)}")
    check_pairing(loss_name, act_name)
    record = cache.loss(defn)
    pairing = cache.pairing(defn, act)
    return {
        "name": defn.name,
        "description": defn.description,
        "formula": defn.formula,
        "output_activation": act_name,
        "output_activation_chosen": output_activation is not None,
        "activation_symbol": act.symbol,
        "activation_derivative_from_output": act_record["derivative_from_output"],
        "activation_derivative": act_record["derivative"],
        "loss": record["loss"],
        "dE_do": record["dE_do"],
        "Err": pairing["Err"],
        "Err_in_output": pairing["in_output"],
        "Err_context": pairing.get("context", {}),
        "steps": record["steps"] + pairing["steps"],
        "range": _range(loss_name, act_name),
        "table": _table(loss_name, act_name),
    }


def loss_json(doc: dict) -> dict:
    return {
        "name": doc["name"],
        "loss": doc["loss"]["expression"],
        "dE_do": doc["dE_do"]["expression"],
        "Err": doc["Err"]["expression"],
        "steps": [{"quantity": s["quantity"], "rule": s["rule"], "expression": s["expression"],
                   "latex": s["latex"]} for s in doc["steps"]],
        "latex": {"loss": doc["loss"]["latex"], "dE_do": doc["dE_do"]["latex"],
                  "Err": doc["Err"]["latex"]},
        "output_activation": doc["output_activation"],
        "Err_in_output": doc["Err_in_output"],
        "context": doc["Err_context"],
        "range": doc["range"],
        "table": doc["table"],
    }


__all__ = ["ACTIVATIONS", "activation_document", "activation_json", "custom_definition",
           "loss_document", "loss_json"]
