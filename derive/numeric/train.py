"""Training runs: batch, stochastic and mini-batch gradient descent over epochs.

Everything numeric rides on derive.numeric.network.Network, which is batched over the rows of
its input: one forward pass, one backward pass and one mean gradient per update, whatever the
batch size.  The lecture's conventions (DESIGN.md):

* batch and mini-batch updates use the MEAN gradient over the batch's examples; SGD updates
  after every example; a last mini-batch shorter than the others uses the examples that remain;
* examples go in file order, or in an order drawn afresh each epoch with --shuffle --seed S
  (numpy.random.default_rng(S));
* a step's loss is the mean loss of its examples before its update;
* the stopping criteria are tested at the end of each epoch on all examples with the parameters
  after the epoch; the first to fire wins.  When several fire at the same epoch, the order is
  target_loss, max_misclassified, min_change, max_epochs (the most informative reason first).
  A run whose loss or parameters stop being finite stops with stopped_by = "diverged".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from derive.errors import DeriveError
from derive.numeric import thin
from derive.numeric.network import Network
from derive.spec import Example, Spec

MODES = ("batch", "sgd", "minibatch")
INITS = ("gaussian", "uniform")
CRITERIA = ("target_loss", "max_misclassified", "min_change", "max_epochs")
MAX_EPOCHS_LIMIT = 1_000_000
# the loss on all examples after every update is recorded when this costs little
CURVE_BUDGET = 50_000_000  # examples x parameters x updates
# Bounded work: updates over all runs (10^6 epochs of the lecture's network: minutes), and
# examples passed through a parameter (forward and backward) over all updates.
MAX_UPDATES = 1_000_000
MAX_EXAMPLE_PARAMETERS = 20_000_000_000
# What a run keeps (derive.numeric.thin): every epoch, update and curve point of a short
# run; of a long one the first, every k-th and the last.  A kept update holds two vectors
# of every parameter, so fewer are kept of a large network: at most STEP_NUMBERS numbers.
STEP_NUMBERS = 400_000


def flatten(params) -> np.ndarray:
    """Parameters (or gradients) as one vector in the order of Spec.parameter_names()."""
    return np.concatenate([np.hstack([W, b[:, None]]).ravel() for W, b in params])


def unflatten(vector, spec: Spec):
    out, start = [], 0
    for n in range(1, len(spec.layers) + 1):
        rows, cols = spec.sizes[n], spec.sizes[n - 1] + 1
        block = np.asarray(vector[start:start + rows * cols], dtype=float).reshape(rows, cols)
        out.append((block[:, :-1].copy(), block[:, -1].copy()))
        start += rows * cols
    return out


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Step:
    epoch: int
    examples: tuple[int, ...]  # numbered from 1 in file order
    loss: float  # mean loss of these examples before the update
    gradients: np.ndarray  # mean dE/dparameter, in parameter_names() order
    update: np.ndarray  # the parameters after the update
    number: int = 0  # the update's number in the run, from 1


@dataclass(frozen=True)
class EpochRow:
    epoch: int
    loss: float  # mean loss over all examples after the epoch
    misclassified: float  # percentage of all examples, after the epoch
    max_change: float  # largest absolute change of any parameter over the epoch


@dataclass(frozen=True)
class Criteria:
    max_epochs: int = 100
    min_change: float | None = None
    target_loss: float | None = None
    max_misclassified: float | None = None

    def check(self) -> Criteria:
        if isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, int) \
                or not 1 <= self.max_epochs <= MAX_EPOCHS_LIMIT:
            raise DeriveError(f"--max-epochs must be a whole number from 1 to "
                              f"{MAX_EPOCHS_LIMIT:,}, not {self.max_epochs}")
        for name, value, low, high in (("--min-change", self.min_change, 0, math.inf),
                                       ("--target-loss", self.target_loss, 0, math.inf),
                                       ("--max-misclassified", self.max_misclassified, 0, 100)):
            if value is None:
                continue
            if not math.isfinite(value) or value < low or value > high or \
                    (name == "--min-change" and value == 0):
                what = {"--min-change": "greater than 0",
                        "--target-loss": "0 or more",
                        "--max-misclassified": "a percentage from 0 to 100"}[name]
                raise DeriveError(f"{name} must be {what}, not {value}")
        return self

    def to_dict(self) -> dict:
        return {"max_epochs": self.max_epochs, "min_change": self.min_change,
                "target_loss": self.target_loss, "max_misclassified": self.max_misclassified}


@dataclass(frozen=True)
class TrainRun:
    mode: str
    batch_size: int
    learning_rate: float
    shuffle: bool
    seed: int | None
    criteria: Criteria
    spec: Spec = field(repr=False, compare=False)
    initial: np.ndarray  # the parameters before training
    initial_loss: float
    initial_misclassified: float
    steps: tuple[Step, ...]  # kept updates (all of a short run); empty if not recorded
    epochs: tuple[EpochRow, ...]  # kept epochs (all of a short run)
    stopped_by: str
    final: np.ndarray
    curve: tuple[tuple[float, float], ...]  # (epochs so far, mean loss on all examples)
    curve_per_update: bool
    n_steps: int = -1  # updates made (-1: len(steps))
    n_epochs: int = -1  # epochs run (-1: len(epochs))
    thinning: dict = field(default_factory=dict)  # list name -> how it was thinned

    @property
    def updates(self) -> int:
        return self.n_steps if self.n_steps >= 0 else len(self.steps)

    @property
    def epochs_run(self) -> int:
        return self.n_epochs if self.n_epochs >= 0 else len(self.epochs)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The parameters' names, in the order of every vector here (made when first asked:
        a large network has hundreds of thousands)."""
        return tuple(self.spec.parameter_names())

    def to_dict(self) -> dict:
        """The JSON of DESIGN.md, plus additive keys (mode, batch_size, learning_rate, initial,
        curve)."""
        names = self.names

        def params(vec):
            return {n: _finite_or_none(v) for n, v in zip(names, vec.tolist())}

        numbered = "steps" in self.thinning  # a thinned list says which update each row is

        out = {
            "steps": [{**({"step": s.number} if numbered else {}),
                       "epoch": s.epoch, "examples": list(s.examples),
                       "loss": _finite_or_none(s.loss), "gradients": params(s.gradients),
                       "update": params(s.update)} for s in self.steps],
            "epochs": [{"epoch": e.epoch, "loss": _finite_or_none(e.loss),
                        "misclassified": e.misclassified,
                        "max_change": _finite_or_none(e.max_change)} for e in self.epochs],
            "stopped_by": self.stopped_by,
            "final": params(self.final),
            "mode": self.mode,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "shuffle": self.shuffle,
            "seed": self.seed,
            "criteria": self.criteria.to_dict(),
            "initial": {"loss": _finite_or_none(self.initial_loss),
                        "misclassified": self.initial_misclassified,
                        "params": params(self.initial)},
            "curve": [{"epoch": x, "loss": _finite_or_none(y)} for x, y in self.curve],
        }
        if self.thinning:
            out["thinned"] = dict(self.thinning)
        return out


def misclassified_percent(outputs, targets) -> float:
    """Percentage of rows misclassified: one output thresholded at 0.5, several by argmax."""
    outputs, targets = np.atleast_2d(outputs), np.atleast_2d(targets)
    if outputs.shape[1] == 1:
        wrong = (outputs[:, 0] >= 0.5) != (targets[:, 0] >= 0.5)
    else:
        wrong = np.argmax(outputs, axis=1) != np.argmax(targets, axis=1)
    return 100.0 * float(np.count_nonzero(wrong)) / outputs.shape[0]


def batches(n: int, mode: str, batch_size: int | None, order) -> list[np.ndarray]:
    """The example indices (0-based) of each update of one epoch, in order."""
    order = np.asarray(order)
    if mode == "batch":
        return [order]
    size = 1 if mode == "sgd" else batch_size
    return [order[s:s + size] for s in range(0, n, size)]


def check_work(plan, n_examples: int, n_params: int, max_epochs: int) -> None:
    """Refuse, before any work, runs that would take longer than derive allows: plan is the
    (mode, batch size) of each run."""
    updates = [len(batches(n_examples, m, check_mode(m, b, n_examples), range(n_examples)))
               for m, b in plan]
    total = sum(updates) * max_epochs
    if total > MAX_UPDATES:
        each = " + ".join(f"{u:,}" for u in updates)
        raise DeriveError(f"--max-epochs {max_epochs:,} x {each} update(s) per epoch = "
                          f"{total:,} updates; derive makes at most {MAX_UPDATES:,} in all: "
                          f"lower --max-epochs (a criterion such as --target-loss still stops "
                          f"a run sooner)")
    passes = 2 * len(plan) * max_epochs * n_examples * n_params  # train, then evaluate
    if passes > MAX_EXAMPLE_PARAMETERS:
        raise DeriveError(f"--max-epochs {max_epochs:,} over {n_examples:,} examples of a "
                          f"network of {n_params:,} parameters is about {passes:.1e} "
                          f"multiply-adds; derive does at most {MAX_EXAMPLE_PARAMETERS:.0e}: "
                          f"lower --max-epochs")


def check_mode(mode: str, batch_size: int | None, n_examples: int) -> int:
    """The batch size the mode uses; a clear refusal for impossible combinations."""
    if mode not in MODES:
        raise DeriveError(f"--mode must be one of {', '.join(MODES)}, not '{mode}'")
    if mode == "minibatch":
        if batch_size is None:
            raise DeriveError("--mode minibatch needs --batch-size B (the examples per update)")
        if batch_size < 1:
            raise DeriveError(f"--batch-size must be 1 or more, not {batch_size}")
        if batch_size > n_examples:
            raise DeriveError(f"--batch-size {batch_size} is larger than the {n_examples} "
                              f"example(s) of the spec; use --mode batch for all of them")
        return batch_size
    if batch_size is not None:
        raise DeriveError(f"--batch-size applies to --mode minibatch, not --mode {mode}")
    return n_examples if mode == "batch" else 1


def train(spec: Spec, mode: str, batch_size: int | None = None,
          criteria: Criteria = Criteria(), shuffle: bool = False, seed: int | None = None,
          record_steps: bool = True, curve: str = "auto", progress=None) -> TrainRun:
    """Train spec's network on its examples; returns the whole run.

    curve: "updates" records the mean loss on all examples after every update (the picture
    shows how much the updates bounce), "epochs" only after each epoch, "auto" chooses
    "updates" when that costs little.  progress(epoch, max_epochs) is called after each epoch.
    """
    X = np.array([ex.input for ex in spec.examples], dtype=float)
    T = np.array([ex.target for ex in spec.examples], dtype=float)
    return train_arrays(spec, Network(spec), X, T, mode, batch_size, criteria, shuffle, seed,
                        record_steps, curve, progress)


def train_arrays(spec: Spec, net: Network, X, T, mode: str, batch_size: int | None = None,
                 criteria: Criteria = Criteria(), shuffle: bool = False,
                 seed: int | None = None, record_steps: bool = True, curve: str = "auto",
                 progress=None) -> TrainRun:
    """train() on data already in arrays (rows of X and T: the spec's examples) and a
    Network whose params are the starting point (at the end net.params holds the trained
    ones; the starting arrays themselves are never modified)."""
    # a learning rate too large sends the weights to infinity: that is detected and reported
    # as stopped_by "diverged", so NumPy's overflow warnings would only repeat it as noise
    with np.errstate(over="ignore", invalid="ignore"):
        return _train_arrays(spec, net, X, T, mode, batch_size, criteria, shuffle, seed,
                             record_steps, curve, progress)


def _train_arrays(spec, net, X, T, mode, batch_size, criteria, shuffle, seed, record_steps,
                  curve, progress) -> TrainRun:
    criteria.check()
    n = X.shape[0]
    size = check_mode(mode, batch_size, n)
    if shuffle and seed is None:
        raise DeriveError("--shuffle needs --seed S, so that the run can be repeated exactly")
    eta = spec.learning_rate
    n_params = sum(W.size + b.size for W, b in net.params)
    rng = np.random.default_rng(seed) if shuffle else None

    def evaluate():
        nets, outs = net.forward(X)
        with np.errstate(all="ignore"):
            loss = float(np.mean(net.losses(outs, T, nets)))  # from the net input: stable
        return loss, misclassified_percent(outs[-1], T)

    updates_per_epoch = len(batches(n, mode, size, np.arange(n)))
    if curve == "auto":
        cost = n * n_params * updates_per_epoch * criteria.max_epochs
        curve = "updates" if cost <= CURVE_BUDGET else "epochs"
    per_update = curve == "updates"

    initial = flatten(net.params)
    loss0, miss0 = evaluate()
    planned = updates_per_epoch * criteria.max_epochs
    rows = max(2, min(thin.FIRST + thin.SAMPLES + thin.LAST, STEP_NUMBERS // (2 * n_params)))
    end = max(1, rows // 12)
    steps = thin.Kept(planned, first=end, samples=rows - 2 * end, last=end, base=1)
    epochs = thin.Kept(criteria.max_epochs, base=1)
    points = thin.Kept(planned if per_update else criteria.max_epochs)
    points.add((0.0, loss0))
    number = 0
    stopped_by = "max_epochs"
    current = initial
    for epoch in range(1, criteria.max_epochs + 1):
        start = current
        order = rng.permutation(n) if rng is not None else np.arange(n)
        diverged = False
        for u, idx in enumerate(batches(n, mode, size, order), start=1):
            with np.errstate(all="ignore"):
                nets, outs = net.forward(X[idx])
                batch_loss = float(np.mean(net.losses(outs, T[idx], nets)))
                errs = net.backward(nets, outs, T[idx])
                grads = net.mean_gradients(errs, outs)
                net.params = [(W - eta * gW, b - eta * gb)
                              for (W, b), (gW, gb) in zip(net.params, grads)]
            number += 1
            if record_steps:
                current = flatten(net.params)
                steps.add(Step(epoch, tuple(int(i) + 1 for i in idx), batch_loss,
                               flatten(grads), current, number))
            if per_update:
                points.add((epoch - 1 + u / updates_per_epoch, evaluate()[0]))
            if not (math.isfinite(batch_loss) and all(np.isfinite(W).all() and
                                                       np.isfinite(b).all()
                                                       for W, b in net.params)):
                diverged = True
                break
        current = flatten(net.params)
        loss, miss = evaluate()
        with np.errstate(all="ignore"):
            change = float(np.max(np.abs(current - start)))
        epochs.add(EpochRow(epoch, loss, miss, change))
        if not per_update:
            points.add((float(epoch), loss))
        if progress is not None:
            progress(epoch, criteria.max_epochs)
        if diverged or not math.isfinite(loss) or not math.isfinite(change):
            stopped_by = "diverged"
            break
        fired = _fired(criteria, loss, miss, change, epoch)
        if fired:
            stopped_by = fired
            break
    thinning = {name: how for name, how in (("steps", steps.thinning("update")),
                                            ("epochs", epochs.thinning("epoch")),
                                            ("curve", points.thinning("point", "its epoch")))
                if how}
    return TrainRun(mode, size, eta, shuffle, seed, criteria, spec, initial, loss0, miss0,
                    tuple(steps.rows()), tuple(epochs.rows()), stopped_by, current,
                    tuple(points.rows()), per_update, number, epochs.count, thinning)


def _fired(c: Criteria, loss: float, miss: float, change: float, epoch: int) -> str | None:
    if c.target_loss is not None and loss <= c.target_loss:
        return "target_loss"
    if c.max_misclassified is not None and miss <= c.max_misclassified:
        return "max_misclassified"
    if c.min_change is not None and change < c.min_change:
        return "min_change"
    if epoch >= c.max_epochs:
        return "max_epochs"
    return None


# --- practical details: standardised inputs, random initial weights -------------------------

@dataclass(frozen=True)
class Standardization:
    names: tuple[str, ...]  # the input features
    mean_before: tuple[float, ...]
    sd_before: tuple[float, ...]  # population standard deviation (divide by n)
    mean_after: tuple[float, ...]
    sd_after: tuple[float, ...]
    constant: tuple[str, ...]  # features with sd 0: centred only
    before: tuple[tuple[float, ...], ...]  # the examples' inputs
    after: tuple[tuple[float, ...], ...]

    def to_dict(self) -> dict:
        return {"features": [{"name": n, "mean_before": a, "sd_before": b, "mean_after": c,
                              "sd_after": d} for n, a, b, c, d in
                             zip(self.names, self.mean_before, self.sd_before,
                                 self.mean_after, self.sd_after)],
                "constant": list(self.constant)}


def standardize(spec: Spec) -> tuple[Spec, Standardization]:
    """Each input feature to mean 0 and standard deviation 1 (population sd, as the slide)."""
    X = np.array([ex.input for ex in spec.examples], dtype=float)
    mean = X.mean(axis=0)
    sd = X.std(axis=0)
    names = tuple(spec.input_names) or tuple(f"x{j}" for j in spec.units(0))
    constant = tuple(name for name, s in zip(names, sd) if s == 0)
    Z = (X - mean) / np.where(sd == 0, 1.0, sd)
    Z = Z + 0.0  # no -0.0
    examples = tuple(Example(tuple(float(v) for v in row), ex.target)
                     for row, ex in zip(Z, spec.examples))
    info = Standardization(names, tuple(mean.tolist()), tuple(sd.tolist()),
                           tuple(Z.mean(axis=0).tolist()), tuple(Z.std(axis=0).tolist()),
                           constant, tuple(tuple(r) for r in X.tolist()),
                           tuple(tuple(r) for r in Z.tolist()))
    return replace(spec, examples=examples), info


def initializer(method: str, seed: int | None):
    """init(layer_index, size, fan_in) -> weights for a layer given only by its size.

    gaussian: normal with mean 0 and sd 1/sqrt(fan_in); uniform: on [-1/sqrt(fan_in),
    1/sqrt(fan_in)] (PyTorch's default range for a linear layer).  One generator,
    numpy.random.default_rng(seed), draws the layers in order, each row by row.  Biases are 0.
    """
    if method not in INITS:
        raise DeriveError(f"--init must be one of {', '.join(INITS)}, not '{method}'")
    if seed is None:
        raise DeriveError("--init needs --seed S, so that the random weights can be repeated")
    rng = np.random.default_rng(seed)

    def init(layer: int, size: int, fan_in: int):
        scale = 1.0 / math.sqrt(fan_in)
        if method == "gaussian":
            W = rng.normal(0.0, scale, size=(size, fan_in))
        else:
            W = rng.uniform(-scale, scale, size=(size, fan_in))
        return W.tolist()

    return init


INIT_DESCRIPTIONS = {
    "gaussian": "normal, mean 0, standard deviation 1/√(fan-in); biases 0",
    "uniform": "uniform on [−1/√(fan-in), 1/√(fan-in)]; biases 0",
}
