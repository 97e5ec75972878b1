"""Numeric activations and losses, compiled from what SymPy derived (via the cache).

An activation here is nothing but its cached derivation record: f, f' in the net input and,
where SymPy found one, f' in the unit's output, each an expression tree compiled to NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from derive.numeric.evaluate import Function
from derive.symbolic import cache
from derive.symbolic.definitions import activation_def, loss_def


@dataclass(frozen=True)
class Activation:
    name: str
    params: tuple[tuple[str, float], ...]
    record: dict
    f: Function
    df: Function
    df_from_output: Function | None

    def __call__(self, z):
        with np.errstate(over="ignore", under="ignore"):
            return self.f(z=z, **dict(self.params))

    def derivative(self, z, a):
        """f'(z), from the output a where SymPy found that form (cheaper, as the lecture says)."""
        if self.df_from_output is not None:
            return self.df_from_output(a=a, **dict(self.params))
        return self.df(z=z, **dict(self.params))

    @property
    def has_gradient(self) -> bool:
        return self.record["has_gradient"]


@lru_cache(maxsize=None)
def activation(name: str, params: tuple = ()) -> Activation:
    defn = activation_def(name)
    record = cache.activation(defn)
    trees = record["numeric"]
    merged = tuple(sorted({**defn.defaults, **dict(params)}.items()))
    return Activation(name, merged, record, Function(trees["f"]), Function(trees["df"]),
                      Function(trees["df_from_output"]) if trees["df_from_output"] else None)


@dataclass(frozen=True)
class Loss:
    name: str
    record: dict
    E: Function
    dE_do: Function

    def per_example(self, o, t):
        """E for each example (rows of o and t)."""
        o, t = np.atleast_2d(o), np.atleast_2d(t)
        return np.sum(self.E(o=o, t=t, K=float(o.shape[1])), axis=1)

    def gradient(self, o, t):
        o, t = np.atleast_2d(o), np.atleast_2d(t)
        return self.dE_do(o=o, t=t, K=float(o.shape[1]))


@lru_cache(maxsize=None)
def loss(name: str) -> Loss:
    record = cache.loss(loss_def(name))
    return Loss(name, record, Function(record["numeric"]["E"]), Function(record["numeric"]["dE_do"]))
