"""NumPy evaluates: forward pass, error terms and updates of a fully connected network.

Vectorised per layer and over the examples of a batch (rows): one matrix product per layer,
never a Python loop per unit.  The lecture's conventions (DESIGN.md):

    i_k = sum_j w_{j,k} o_j + b_k          o_k = f(i_k)
    Err_k = -dE/di_k = -dE/do_k f'(i_k)    (output units)
    Err_j = f'(i_j) sum_k w_{j,k} Err_k    (hidden units, with the weights before the update)
    w_{j,k} <- w_{j,k} + eta Err_k o_j     b_k <- b_k + eta Err_k

With rounding="hand" each quantity is rounded as it is computed, as a student does on paper
(net inputs, outputs and parameters to `decimals` places, error terms, gradients and the loss
to one place more), and the rounded value is what the next step uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

import numpy as np

from derive.errors import DeriveError
from derive.intervals import TIE_MARGIN, decimal, rounded_float
from derive.numeric import functions
from derive.spec import Spec

ROUNDINGS = ("exact", "hand")


def _round_decimal(v: float, places: int) -> float:
    """The definition: the decimal the value stands for, rounded half away from zero."""
    v = float(v)
    if not math.isfinite(v) or abs(v) >= 2.0 ** 52:  # no digits after the point to round
        return v + 0.0
    with localcontext() as ctx:
        ctx.prec = 60  # quantize needs every digit of the result (1e15 at 12 places)
        # binary noise (0.33864999999999995 for 0.33865) must not decide a tie: the
        # decimal the value stands for, as derive/intervals.py rounds it
        return float(decimal(v, places).quantize(Decimal(1).scaleb(-places),
                                                 rounding=ROUND_HALF_UP)) + 0.0


def _round_fast(v: float, places: int) -> float:
    fast = rounded_float(v, places)  # binary scaling, away from a tie (derive/intervals.py)
    return fast if fast is not None else _round_decimal(v, places)


def _round_array(a: np.ndarray, places: int) -> np.ndarray:
    if a.size <= 64:  # a layer of one example: NumPy's set-up would cost more than the loop
        return np.array([_round_fast(v, places) for v in a.ravel().tolist()],
                        dtype=float).reshape(a.shape)
    if not 0 <= places <= 22:
        return np.vectorize(lambda v: _round_decimal(float(v), places), otypes=[float])(a)
    scale = 10.0 ** places
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.abs(a) * scale
        whole = np.floor(s)
        frac = s - whole
        sure = np.isfinite(s) & (s < 2.0 ** 52) & (np.abs(frac - 0.5) > s * TIE_MARGIN)
        out = np.copysign(whole + (frac > 0.5), a) / scale + 0.0
    if not sure.all():
        for idx in zip(*np.nonzero(~sure)):
            out[idx] = _round_decimal(float(a[idx]), places)
    return out


def round_half_up(x, places: int):
    """Round as a person does, on the decimal digits shown (0.1245 -> 0.125 at 3 places)."""
    if type(x) is float:  # _round_fast, one call less (the most frequent call of a set)
        fast = rounded_float(x, places)
        return fast if fast is not None else _round_decimal(x, places)
    if isinstance(x, float):
        return _round_fast(x, places)
    if np.ndim(x):
        return _round_array(np.asarray(x, dtype=float), places)
    return _round_fast(float(x), places)


@dataclass(frozen=True)
class Rounding:
    """Which quantities are rounded, and to how many places (None: exact)."""

    places: int | None = None

    def value(self, x):  # net inputs, outputs, parameters
        return x if self.places is None else round_half_up(x, self.places)

    def error(self, x):  # error terms, gradients, the loss: one place more
        return x if self.places is None else round_half_up(x, self.places + 1)


def rounding_for(mode: str, decimals: int) -> Rounding:
    if mode not in ROUNDINGS:
        raise DeriveError(f"--rounding must be one of {', '.join(ROUNDINGS)}, not '{mode}'")
    return Rounding(decimals if mode == "hand" else None)


class Network:
    """The numeric view of a spec: weight matrices, bias vectors, compiled activations."""

    def __init__(self, spec: Spec, params=None):
        self.spec = spec
        self.acts = [functions.activation(layer.activation, layer.params) for layer in spec.layers]
        for n, act in enumerate(self.acts):
            if not act.has_gradient:
                from derive.spec import prefix_for

                raise DeriveError(prefix_for(spec, f"layers[{n}].activation",
                                             no_gradient_message(act.name, n + 1,
                                                                 len(self.acts))))
            if not act.elementwise and n != len(self.acts) - 1:
                raise DeriveError(f"layer {n + 1}: '{act.name}' is for the output layer only")
        self.loss = functions.loss(spec.loss)
        self.pairing = functions.pairing(spec.loss, spec.layers[-1].activation,
                                         spec.layers[-1].params)
        self.clipped = False  # set when a loss had to clip a log (outputs exactly 0 or 1)
        if params is None:
            params = [(np.array(layer.weights, dtype=float), np.array(layer.biases, dtype=float))
                      for layer in spec.layers]
        self.params = params

    def forward(self, X, rnd: Rounding = Rounding()):
        """Net inputs and outputs of every layer for the rows of X: (nets, outs), outs[0] = X."""
        outs = [np.atleast_2d(np.asarray(X, dtype=float))]
        nets = [None]
        for (W, b), act in zip(self.params, self.acts):
            i = rnd.value(outs[-1] @ W.T + b)
            nets.append(i)
            outs.append(rnd.value(act(i)))
        return nets, outs

    def backward(self, nets, outs, T, rnd: Rounding = Rounding()):
        """Error terms Err = -dE/di of every layer (errs[0] is None for the inputs)."""
        T = np.atleast_2d(np.asarray(T, dtype=float))
        L = len(self.params)
        errs = [None] * (L + 1)
        stable = functions.stable_error(self.spec.loss, self.spec.layers[-1].activation,
                                        nets[L], T)
        if stable is not None:
            err = stable
        elif self.pairing.Err is not None:
            # SymPy's simplified Err (t − o for bce + sigmoid, ce + softmax): no 0/0 at o = 0, 1
            err = self.pairing(outs[L], T, **dict(self.acts[-1].params))
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                g = self.loss.gradient(outs[L], T)
            err = -self.acts[-1].backprop(nets[L], outs[L], g)
        errs[L] = rnd.error(err)
        for n in range(L - 1, 0, -1):
            W_next = self.params[n][0]
            errs[n] = rnd.error(self.acts[n - 1].derivative(nets[n], outs[n])
                                * (errs[n + 1] @ W_next))
        return errs

    def mean_gradients(self, errs, outs):
        """dE/dW and dE/db averaged over the rows (the batch's mean gradient)."""
        m = outs[0].shape[0]
        return [(-(errs[n].T @ outs[n - 1]) / m, -errs[n].mean(axis=0))
                for n in range(1, len(self.params) + 1)]

    def losses(self, outs, T, nets=None):
        """E per example; from the net input (nets[-1]) where that is stable (bce, ce), else
        from the outputs, with any log of 0 clipped (and self.clipped set to say so)."""
        T = np.atleast_2d(np.asarray(T, dtype=float))
        if nets is not None:
            stable = functions.stable_loss(self.spec.loss, self.spec.layers[-1].activation,
                                           nets[-1], T)
            if stable is not None:
                return stable
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            values = self.loss.per_example(outs[-1], T)
        if not np.all(np.isfinite(values)):
            tiny = np.finfo(float).eps
            self.clipped = True
            values = self.loss.per_example(np.clip(outs[-1], tiny, 1 - tiny), T)
        return values


def no_gradient_message(name: str, layer: int, layers: int) -> str:
    """Why an activation without a gradient (step) cannot be trained by backpropagation."""
    which = "the output layer" if layer == layers else f"layer {layer}"
    return (f"{which} uses the '{name}' activation, which has no gradient: its derivative is 0 "
            f"wherever it exists (and undefined at the jump), so every error term Err from "
            f"{which} back is 0 and gradient descent would never change the weights. "
            f"Use sigmoid, tanh or relu instead (step units are trained by the perceptron "
            f"rule, not by backpropagation)")


@dataclass(frozen=True)
class StepTrace:
    """One forward/backward/update on one example, under the lecture's names."""

    loss: float
    forward: dict[str, float]
    backward: dict[str, float]
    gradients: dict[str, float]
    update: dict[str, float]
    rounding: str = "exact"
    decimals: int = 3

    def to_dict(self) -> dict:
        return {"loss": self.loss, "forward": dict(self.forward), "backward": dict(self.backward),
                "gradients": dict(self.gradients), "update": dict(self.update)}


def step(spec: Spec, example: int = 0, rounding: str = "exact", decimals: int = 3) -> StepTrace:
    """The worked example's computation: one training step of spec on one of its examples."""
    rnd = rounding_for(rounding, decimals)
    net = Network(spec)
    ex = spec.examples[example]
    nets, outs = net.forward([ex.input], rnd)
    errs = net.backward(nets, outs, [ex.target], rnd)
    eta = spec.learning_rate
    units = [spec.units(n) for n in range(len(spec.layers) + 1)]
    forward, backward, gradients, update = {}, {}, {}, {}
    for n in range(1, len(spec.layers) + 1):
        for k, i, o in zip(units[n], nets[n][0].tolist(), outs[n][0].tolist()):
            forward[f"i{k}"] = i
            forward[f"o{k}"] = o
    for n in range(len(spec.layers), 0, -1):
        for k, e in zip(reversed(units[n]), reversed(errs[n][0].tolist())):
            backward[f"Err{k}"] = e
    for n, (W, b) in enumerate(net.params, start=1):
        err, o_prev = errs[n][0], outs[n - 1][0]
        # a layer at once, each element computed as -Err_k o_j and w + (eta Err_k) o_j
        grad_w = rnd.error(-err[:, None] * o_prev[None, :]).tolist()
        new_w = rnd.value(W + (eta * err)[:, None] * o_prev[None, :]).tolist()
        grad_b = rnd.error(-err).tolist()
        new_b = rnd.value(b + eta * err).tolist()
        sources = units[n - 1]
        for u, k in enumerate(units[n]):
            for v, j in enumerate(sources):
                gradients[f"w{j}_{k}"] = grad_w[u][v]
                update[f"w{j}_{k}"] = new_w[u][v]
            gradients[f"b{k}"] = grad_b[u]
            update[f"b{k}"] = new_b[u]
    loss = float(rnd.error(net.losses(outs, [ex.target], nets)[0]))
    if not all(map(math.isfinite, (loss, *forward.values(), *backward.values(),
                                   *gradients.values(), *update.values()))):
        for part in (forward, backward, gradients, update, {"loss": loss}):
            bad = next((name for name, v in part.items() if not math.isfinite(v)), None)
            if bad is not None:
                where = f"{spec.source}: " if spec.source else ""
                raise DeriveError(f"{where}{bad} = {part[bad]}: the numbers of this step "
                                  f"overflow (an activation or the update grows beyond "
                                  f"floating point); use smaller weights, inputs or learning "
                                  f"rate")
    return StepTrace(loss, forward, backward, gradients, update, rounding, decimals)
