"""The worked example as a document: plain data that the templates lay out.

Everything a reader sees is gathered here already computed: each net input with the terms of
its sum, each error term with the factors that make it, each update with its increment, and
where the exact and the hand-rounded chains differ at the digits shown.  No formatting here:
render/ and templates/ decide how it looks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from derive.errors import DeriveError
from derive.numeric import functions
from derive.numeric.network import round_half_up, step
from derive.spec import Spec
from derive.symbolic import cache
from derive.symbolic.definitions import activation_def, at_params, loss_def


@dataclass(frozen=True)
class WorkedExample:
    title: str
    rounding: str
    decimals: int
    learning_rate: float
    sizes: tuple
    input_names: tuple
    example: dict
    spec: dict
    activations: tuple  # derivation records of the activations used, in layer order
    loss: dict  # the loss's derivation record
    output_error: dict  # Err = -dE/di for the output layer's activation and this loss
    network: tuple  # layers -> units with incoming weights and bias
    forward: tuple
    loss_value: float
    loss_terms: tuple
    backward: tuple
    updates: tuple
    differences: tuple  # (name, exact, hand) that differ at the digits shown
    result: dict  # the JSON of DESIGN.md
    # units whose activation is flat at their net input (a ReLU with i ≤ 0): f′(i) = 0, so
    # their error term is 0 and their incoming weights and bias do not change ("dead"); each
    # {"unit", "symbol", "net", "out", "incoming": names kept, "outgoing": names kept because
    # the unit's output is 0}
    dead_units: tuple = ()

    def to_dict(self) -> dict:
        return asdict(self)


def _places(name: str, decimals: int) -> int:
    return decimals + 1 if name.startswith(("Err", "d")) or name == "loss" else decimals


def differences(exact: dict, hand: dict, decimals: int) -> tuple:
    """Names whose exact value, rounded to the digits shown, is not the hand-chain value."""
    out = []
    for name, h in hand.items():
        places = _places(name, decimals)
        e = round_half_up(exact[name], places)
        if round_half_up(h, places) != e:
            out.append({"name": name, "exact": exact[name], "hand": h, "places": places})
    return tuple(out)


def _flat(trace) -> dict:
    flat = {"loss": trace.loss, **trace.forward, **trace.backward}
    flat.update({f"new {k}": v for k, v in trace.update.items()})
    return flat


MAX_WORKED_PARAMETERS = 1_000  # every sum and update written out: beyond this, JSON only


def worked_example(spec: Spec, example: int = 0, rounding: str = "exact",
                   decimals: int = 3, traces: tuple | None = None) -> WorkedExample:
    """One training step of spec on one example, as a document.  traces: the (exact, hand)
    StepTraces of this very step when the caller has computed them already."""
    n = sum(layer.size * (layer.fan_in + 1) for layer in spec.layers)
    if n > MAX_WORKED_PARAMETERS:
        raise DeriveError(f"the network {'-'.join(map(str, spec.sizes))} has {n:,} weights and "
                          f"biases: a worked example writes out every sum and update, too long "
                          f"to read beyond {MAX_WORKED_PARAMETERS:,}; use --format json, which "
                          f"works for any size")
    if traces is None:
        traces = (step(spec, example, "exact", decimals), step(spec, example, "hand", decimals))
    exact, hand = traces
    trace, other = (exact, hand) if rounding == "exact" else (hand, exact)
    diffs = differences(_flat(exact), _flat(hand), decimals)
    for d in diffs:
        d["places"] = _places(d["name"].removeprefix("new "), decimals)

    ex = spec.examples[example]
    sizes = spec.sizes
    # each layer's unit numbers, once (spec.units computes them afresh at every call)
    all_units = [spec.units(n) for n in range(len(sizes))]
    values = {**trace.forward}
    for j, x in zip(all_units[0], ex.input):
        values[f"o{j}"] = float(x)

    network, forward = [], []
    for n, layer in enumerate(spec.layers, start=1):
        act = functions.activation(layer.activation, layer.params)
        units = []
        symbol = activation_def(layer.activation).symbol
        for u, k in enumerate(all_units[n]):
            incoming = [{"from": j, "w": layer.weights[u][v]}
                        for v, j in enumerate(all_units[n - 1])]
            units.append({"unit": k, "activation": layer.activation, "weights": incoming,
                          "bias": layer.biases[u], "params": dict(act.params)})
            forward.append({
                "unit": k, "layer": n, "activation": layer.activation,
                "symbol": symbol,
                "output_layer": n == len(spec.layers),
                "terms": [{"from": j, "o": values[f"o{j}"], "w": layer.weights[u][v],
                           "given": n == 1} for v, j in enumerate(all_units[n - 1])],
                "bias": layer.biases[u], "net": trace.forward[f"i{k}"],
                "out": trace.forward[f"o{k}"],
            })
        network.append({"layer": n, "activation": layer.activation, "units": units,
                        "params": dict(act.params), "output_layer": n == len(spec.layers)})

    # the factors of each error term, evaluated on the chain being shown
    L = len(spec.layers)
    backward = []
    loss_fn = functions.loss(spec.loss)
    # -dE/do of the output units: one call for the layer (each unit reads its own entry)
    outs = np.array([[trace.forward[f"o{m}"] for m in all_units[L]]])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        grads = loss_fn.gradient(outs, np.array([ex.target]))
    for n in range(L, 0, -1):
        layer = spec.layers[n - 1]
        act = functions.activation(layer.activation, layer.params)
        symbol = activation_def(layer.activation).symbol
        units = all_units[n]
        # f' of the whole layer at once (one call, not one per unit)
        fprimes = np.ravel(act.derivative(
            np.array([trace.forward[f"i{k}"] for k in units]),
            np.array([trace.forward[f"o{k}"] for k in units]))) if act.elementwise else None
        for u in reversed(range(sizes[n])):  # the lecture's order: Err6, Err5, Err4
            k = units[u]
            i_k, o_k = trace.forward[f"i{k}"], trace.forward[f"o{k}"]
            fprime = float(fprimes[u]) if act.elementwise else None
            # softmax couples the units: no single f′ per unit, Err comes from the Jacobian
            coupled = not act.elementwise
            row = {"unit": k, "layer": n, "output_layer": n == L, "activation": layer.activation,
                   "symbol": symbol, "coupled": coupled,
                   "net": i_k, "out": o_k, "fprime": None if coupled else fprime,
                   "Err": trace.backward[f"Err{k}"]}
            if n == L:
                g = grads[0, u]
                clipped = not np.isfinite(g)
                if clipped:  # o is exactly 0 or 1 (saturated, or rounded): log clipped to ε
                    tiny = np.finfo(float).eps
                    g = loss_fn.gradient(np.clip(outs, tiny, 1 - tiny),
                                         np.array([ex.target]))[0, u]
                row.update(target=ex.target[u], minus_dE_do=float(-g), clipped=bool(clipped))
            else:
                row["clipped"] = False
                nxt = spec.layers[n]
                row["sum"] = [{"to": m, "w": nxt.weights[v][u], "Err": trace.backward[f"Err{m}"]}
                              for v, m in enumerate(all_units[n + 1])]
            backward.append(row)

    # a dead unit: f′(i) is exactly 0 where it sits (not softmax, not a unit without gradient)
    dead = {row["unit"] for row in backward
            if row["fprime"] == 0.0 and activation_def(row["activation"]).elementwise}
    for row in backward:
        row["dead"] = row["unit"] in dead
    for row in forward:
        row["dead"] = row["unit"] in dead

    updates = []
    eta = spec.learning_rate
    for n, layer in enumerate(spec.layers, start=1):
        for u, k in enumerate(all_units[n]):
            err = trace.backward[f"Err{k}"]
            for v, j in enumerate(all_units[n - 1]):
                name = f"w{j}_{k}"
                o_j = values[f"o{j}"]
                updates.append({"name": name, "kind": "w", "from": j, "to": k,
                                "old": layer.weights[u][v], "Err": err, "o": o_j,
                                "delta": float(eta * err * o_j),
                                "gradient": trace.gradients[name], "new": trace.update[name],
                                "dead": k in dead})
            updates.append({"name": f"b{k}", "kind": "b", "from": None, "to": k,
                            "old": layer.biases[u], "Err": err, "o": 1.0,
                            "delta": float(eta * err), "gradient": trace.gradients[f"b{k}"],
                            "new": trace.update[f"b{k}"], "dead": k in dead})

    dead_units = []
    for row in forward:
        if row["dead"]:
            k = row["unit"]
            dead_units.append({
                "unit": k, "symbol": row["symbol"], "net": row["net"], "out": row["out"],
                "incoming": [u["name"] for u in updates if u["to"] == k],
                "outgoing": [u["name"] for u in updates
                             if u["from"] == k and row["out"] == 0.0]})

    # each activation with the parameters its layers give it (alpha): whether f' has a form in
    # the output, and why not, depends on them
    used, seen = [], set()
    for layer in spec.layers:
        if (layer.activation, layer.params) not in seen:
            seen.add((layer.activation, layer.params))
            used.append(cache.activation(at_params(activation_def(layer.activation),
                                                   dict(layer.params))))
    out_act = at_params(activation_def(spec.layers[-1].activation), dict(spec.layers[-1].params))
    loss_terms = tuple({"unit": k, "target": t, "out": trace.forward[f"o{k}"]}
                       for k, t in zip(all_units[L], ex.target))
    return WorkedExample(
        title=spec.title, rounding=rounding, decimals=decimals, learning_rate=eta,
        sizes=sizes, input_names=spec.input_names,
        example={"number": example + 1, "input": list(ex.input), "target": list(ex.target)},
        spec=spec.to_dict(), activations=tuple(used),
        loss=cache.loss(loss_def(spec.loss)),
        output_error=cache.pairing(loss_def(spec.loss), out_act),
        network=tuple(network), forward=tuple(forward), loss_value=trace.loss,
        loss_terms=loss_terms, backward=tuple(backward), updates=tuple(updates),
        differences=diffs, result=trace.to_dict(), dead_units=tuple(dead_units),
    )
