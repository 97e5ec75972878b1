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
from derive.symbolic.definitions import activation_def, at_params, loss_def


@dataclass(frozen=True)
class Activation:
    name: str
    params: tuple[tuple[str, float], ...]
    record: dict
    f: Function
    df: Function
    df_from_output: Function | None

    def __call__(self, z):
        if not self.elementwise:
            return softmax(z)
        with np.errstate(over="ignore", under="ignore"):
            return self.f(z=z, **dict(self.params))

    @property
    def elementwise(self) -> bool:
        return self.record.get("elementwise", True)

    def backprop(self, z, a, g):
        """dE/dz from g = dE/da, through this activation: g·f'(z) for an elementwise one; for
        softmax the Jacobian do_k/dz_j = o_k (δ_kj − o_j) gives o·g − o (o·g) row by row."""
        if self.elementwise:
            return g * self.derivative(z, a)
        a = np.atleast_2d(a)
        return a * g - a * np.sum(a * g, axis=-1, keepdims=True)

    def derivative(self, z, a):
        """f'(z), from the output a where that form holds for these parameters (cheaper, as the
        lecture says), else from the net input z (leaky_relu with alpha < 0: a > 0 on both
        sides of the kink, so a cannot tell the slopes 1 and alpha apart)."""
        with np.errstate(over="ignore", under="ignore"):  # saturation: inf or 0, as in f
            if self.df_from_output is not None:
                return self.df_from_output(a=a, **dict(self.params))
            return self.df(z=z, **dict(self.params))

    @property
    def has_gradient(self) -> bool:
        return self.record["has_gradient"]


def softmax(z):
    """Softmax over the last axis (each row of a batch; a 1-D vector stays 1-D), stable for any
    |z|: the maximum is subtracted first."""
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z):
    z = np.atleast_2d(np.asarray(z, dtype=float))
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


@lru_cache(maxsize=None)
def activation(name: str, params: tuple = ()) -> Activation:
    """The activation with these parameter values; its record is derived for them, so its
    output form is there only where it holds for them (DESIGN.md, Notation)."""
    defn = activation_def(name)
    record = cache.activation(at_params(defn, dict(params)))
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


@dataclass(frozen=True)
class Pairing:
    """Err = −dE/di of an output unit, as SymPy simplified it for this loss and activation
    (t − o for bce with sigmoid and ce with softmax: no division by o or 1 − o left)."""

    loss: str
    activation: str
    record: dict
    Err: Function | None  # in o, t (and K); None where it needs the net input or softmax's s

    def __call__(self, o, t, **params):
        o, t = np.atleast_2d(o), np.atleast_2d(t)
        return self.Err(o=o, t=t, K=float(o.shape[1]), **params)


def _symbols(tree) -> set:
    if tree[0] == "sym":
        return {tree[1]}
    out = set()
    for child in tree[1:]:
        if isinstance(child, list):
            out |= _symbols(child)
    return out


@lru_cache(maxsize=None)
def pairing(loss_name: str, activation_name: str, params: tuple = ()) -> Pairing:
    """Err of an output unit for this loss and activation (with these parameter values: where
    f' has no form in the output for them, Err needs the net input and .Err is None)."""
    defn = activation_def(activation_name)
    record = cache.pairing(loss_def(loss_name), at_params(defn, dict(params)))
    tree = record["numeric"]
    usable = record["in_output"] and _symbols(tree) <= {"o", "t", "K", *defn.defaults}
    return Pairing(loss_name, activation_name, record, Function(tree) if usable else None)


def _log_softmax_parts(z):
    """log o_k and log(1 − o_k) of a softmax, both from the net inputs (finite for any z)."""
    log_o = log_softmax(z)
    k = z.shape[1]
    others = np.where(np.eye(k, dtype=bool), -np.inf, z[:, None, :])
    peak = others.max(axis=-1, keepdims=True)
    lse_others = peak[..., 0] + np.log(np.sum(np.exp(others - peak), axis=-1))
    return log_o, lse_others - (z - log_o)  # z − log o_k is log Σ_j e^{z_j}


def stable_error(loss_name: str, activation_name: str, z, t):
    """Err = −dE/dz from the net input where the outputs alone would give 0/0 or ∞·0
    (bce with softmax: Σ_k (1 − t_k) o_k o_j /(1 − o_k) summed in log space). None otherwise."""
    if not (loss_name == "bce" and activation_name == "softmax"):
        return None
    z, t = np.atleast_2d(np.asarray(z, dtype=float)), np.atleast_2d(np.asarray(t, dtype=float))
    log_o, log_1mo = _log_softmax_parts(z)
    o = np.exp(log_o)
    # −dE/dz_j = t_j − o_j Σt − (1 − t_j) o_j + Σ_{k≠j} (1 − t_k) o_j o_k / (1 − o_k)
    ratio = log_o - log_1mo  # log(o_k / (1 − o_k)), one per k
    pair = log_o[:, :, None] + ratio[:, None, :]  # [row, j, k]
    k = z.shape[1]
    weights = np.where(np.eye(k, dtype=bool), 0.0, (1 - t)[:, None, :])
    # only the k ≠ j terms with t_k < 1 are taken: the others are never exponentiated
    cross = np.sum(weights * np.exp(np.where(weights != 0, pair, -np.inf)), axis=-1)
    return t - o * t.sum(axis=1, keepdims=True) - (1 - t) * o + cross


def stable_loss(loss_name: str, activation_name: str, z, t):
    """E per example (rows) computed from the net input z where the output activation allows,
    so that saturated units give finite losses: bce with sigmoid, ce and bce with softmax.
    None for other pairings (their losses are finite from the outputs)."""
    z, t = np.atleast_2d(np.asarray(z, dtype=float)), np.atleast_2d(np.asarray(t, dtype=float))
    if loss_name == "bce" and activation_name == "sigmoid":
        # −t log σ(z) − (1 − t) log(1 − σ(z)) = softplus(z) − t z
        return np.sum(np.logaddexp(0.0, z) - t * z, axis=1)
    if activation_name == "softmax" and loss_name in ("ce", "bce"):
        log_o, log_1mo = _log_softmax_parts(z)
        if loss_name == "ce":
            return -np.sum(np.where(t != 0, t * log_o, 0.0), axis=1)
        return -np.sum(np.where(t != 0, t * log_o, 0.0)
                       + np.where(t != 1, (1 - t) * log_1mo, 0.0), axis=1)
    return None
