"""Backpropagation against central finite differences, on many random networks."""

import numpy as np
import pytest

from derive.numeric.network import Network, step
from derive.spec import from_dict
from derive.symbolic.definitions import ACTIVATIONS, LOSSES


def trainable(name):
    from derive.numeric.functions import activation

    return ACTIVATIONS[name].elementwise and activation(name).has_gradient


ELEMENTWISE = [a for a in ACTIVATIONS if trainable(a)]
SQUARED = [loss for loss in LOSSES if loss in ("half_sse", "sse", "mse")]


def random_spec(rng, depth, activation, loss):
    sizes = [int(rng.integers(1, 4))] + [int(rng.integers(1, 4)) for _ in range(depth)]
    layers = []
    for n in range(1, len(sizes)):
        layers.append({"activation": activation,
                       "weights": rng.uniform(-1.5, 1.5, (sizes[n], sizes[n - 1])).tolist(),
                       "biases": rng.uniform(-1, 1, sizes[n]).tolist()})
    example = {"input": rng.uniform(-2, 2, sizes[0]).tolist(),
               "target": rng.uniform(0.05, 0.95, sizes[-1]).tolist()}
    return from_dict({"loss": loss, "learning_rate": 0.5, "layers": layers,
                      "examples": [example]})


def loss_at(spec, params):
    net = Network(spec, params)
    ex = spec.examples[0]
    _, outs = net.forward([ex.input])
    return float(net.losses(outs, [ex.target])[0])


@pytest.mark.parametrize("activation", ELEMENTWISE)
@pytest.mark.parametrize("loss", SQUARED)
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_gradients_match_central_differences(activation, loss, depth):
    rng = np.random.default_rng(abs(hash((activation, loss, depth))) % 2**32)
    for _ in range(4):
        spec = random_spec(rng, depth, activation, loss)
        trace = step(spec)
        base = [(np.array(layer.weights), np.array(layer.biases)) for layer in spec.layers]
        h = 1e-6
        for n, layer_spec in enumerate(spec.layers, start=1):
            for u, k in enumerate(spec.units(n)):
                for v, j in enumerate(list(spec.units(n - 1)) + [None]):
                    name = f"b{k}" if j is None else f"w{j}_{k}"
                    plus = [(W.copy(), b.copy()) for W, b in base]
                    minus = [(W.copy(), b.copy()) for W, b in base]
                    if j is None:
                        plus[n - 1][1][u] += h
                        minus[n - 1][1][u] -= h
                    else:
                        plus[n - 1][0][u, v] += h
                        minus[n - 1][0][u, v] -= h
                    fd = (loss_at(spec, plus) - loss_at(spec, minus)) / (2 * h)
                    assert trace.gradients[name] == pytest.approx(fd, rel=1e-5, abs=1e-7), name


@pytest.mark.parametrize("activation", ELEMENTWISE)
def test_update_is_gradient_descent(activation):
    rng = np.random.default_rng(7)
    spec = random_spec(rng, 2, activation, "half_sse")
    trace = step(spec)
    old = {}
    for n, layer in enumerate(spec.layers, start=1):
        for u, k in enumerate(spec.units(n)):
            for v, j in enumerate(spec.units(n - 1)):
                old[f"w{j}_{k}"] = layer.weights[u][v]
            old[f"b{k}"] = layer.biases[u]
    for name, value in old.items():
        expected = value - spec.learning_rate * trace.gradients[name]
        assert trace.update[name] == pytest.approx(expected, abs=1e-12)
