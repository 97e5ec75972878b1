"""A problem states every number its answers depend on (DESIGN.md, `derive problems`).

Tested by perturbation: for every kind x activation x loss, each parameter the statement does
not print is changed and the answers recomputed; if an answer changes, the statement was
missing it.  The parameters: each layer's activation parameters (alpha), the learning rate,
the loss, the output activation's parameters (loss kind), and the places asked.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from derive.errors import DeriveError
from derive.numeric import functions
from derive.numeric.network import step
from derive.problemset import KINDS, generate
from derive.problemset.common import Options
from derive.numeric.ranges import loss_range
from derive.problemset.kinds.functions import usable_activations
from derive.spec import from_dict
from render import PROBLEM_LABELS, render
from render.filters import given

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "swish", "gelu",
               "linear"]
LOSSES = ["half_sse", "sse", "mse", "bce", "ce"]
NETWORK_KINDS = ["forward", "backward", "update", "step", "batch"]


def statement(pset, p) -> str:
    titles = {name: k.title for name, k in KINDS.items()}
    md = render("quiz_problem", "markdown", p=p, pset=pset, titles=titles,
                labels=PROBLEM_LABELS)
    return md.replace("\\_", "_")  # Markdown's escaped underscore (half\_sse)


def printed(text: str, symbol: str, value: float) -> bool:
    return f"${symbol} = {given(value)}$" in text


def states_places(text: str, places: int) -> bool:
    if places == 0:
        return "a whole number" in text
    return bool(re.search(rf"\b{places}\b[^.]*places|places[^.]*\bto {places}\b", text))


def network_answers(raw: dict, names, decimals: int) -> dict:
    t = step(from_dict(raw, "perturbed"), 0, "exact", decimals)
    flat = {**t.forward, "loss": t.loss, **t.backward, **t.update,
            **{f"d{k}": v for k, v in t.gradients.items()}}
    return {n: flat[n] for n in names if n in flat}


def perturbed_alpha(raw: dict) -> dict | None:
    out, changed = dict(raw), False
    out["layers"] = []
    for layer in raw["layers"]:
        layer = dict(layer)
        params = dict(functions.activation(layer["activation"]).params)
        if "alpha" in params:
            layer["alpha"] = params["alpha"] * 1.7 + 0.3
            changed = True
        out["layers"].append(layer)
    return out if changed else None


def _sets(kinds, activation, loss):
    try:
        return generate(kinds, 1, 14, Options(activation=activation, loss=loss))
    except DeriveError:
        return None  # a combination derive refuses (e.g. bce with tanh outputs)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_network_problems_state_what_their_answers_depend_on(activation, loss):
    pset = _sets(NETWORK_KINDS, activation, loss)
    if pset is None:
        pytest.skip(f"{activation} with {loss} is refused")
    for p in pset.variants[0].problems:
        text = statement(pset, p)
        names = [n for n in p.answers if n != "batch_size"]
        raw = p.spec
        base = network_answers(raw, names, 3)
        # the learning rate and the loss
        if not printed(text, r"\eta", raw["learning_rate"]):
            other = dict(raw, learning_rate=raw["learning_rate"] * 1.5)
            assert network_answers(other, names, 3) == base, (p.id, "eta")
        assert re.search(rf"\bloss {raw['loss']}\b", text), (p.id, "the loss")
        # every activation parameter (alpha)
        alpha_raw = perturbed_alpha(raw)
        if alpha_raw is not None:
            changes = network_answers(alpha_raw, names, 3) != base
            alphas = [dict(functions.activation(layer["activation"]).params).get("alpha")
                      for layer in raw["layers"]]
            shown = all(a is None or printed(text, r"\alpha", a) for a in alphas)
            assert shown or not changes, (p.id, "alpha")
        # the places asked
        for n in p.ask:
            assert states_places(text, p.places[n]), (p.id, n, "places")


@pytest.mark.parametrize("activation", usable_activations())
def test_activation_problems_state_their_parameters(activation):
    pset = generate(["activation"], 3, 14, Options(activation=activation))
    for v in pset.variants:
        p = v.problems[0]
        text = statement(pset, p)
        act = functions.activation(activation)
        z = p.spec["z"]
        for k, value in act.params:
            other = functions.activation(activation, ((k, value * 1.7 + 0.3),))
            changes = float(np.ravel(other(np.array([z])))[0]) != p.answers["f"]
            assert printed(text, "\\" + k, value) or not changes, (p.id, k)
        for n in p.ask:
            assert states_places(text, p.places[n]), (p.id, n)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # bce over outputs outside (0, 1)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_loss_problems_state_what_their_range_depends_on(activation, loss):
    pset = _sets(["loss"], activation, loss)
    if pset is None:
        pytest.skip(f"{activation} with {loss} is refused")
    p = pset.variants[0].problems[0]
    text = statement(pset, p)
    act = p.spec["output_activation"]
    assert re.search(rf"\bloss {loss}\b", text)
    if act:
        assert f"activation {act}" in text
        for k, value in functions.activation(act).params:
            t = tuple(p.spec["targets"])
            changes = loss_range(loss, act, ((k, value * 1.7 + 0.3),), t) != \
                loss_range(loss, act, (), t)
            assert printed(text, "\\" + k, value) or not changes, (p.id, k)
    for n in ("loss",):
        assert states_places(text, p.places[n])


def test_the_perturbation_catches_a_missing_alpha():
    """Without alpha in the statement, a leaky_relu network's answers change with it."""
    pset = generate(["forward"], 1, 14, Options(activation="elu"))
    p = pset.variants[0].problems[0]
    text = statement(pset, p).replace(r"$\alpha = 1$", "")
    names = list(p.answers)
    changed = network_answers(perturbed_alpha(p.spec), names, 3) != \
        network_answers(p.spec, names, 3)
    assert changed and not printed(text, r"\alpha", 1.0)
