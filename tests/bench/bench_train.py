"""Benchmark (not in the default run): one epoch of mini-batch (100) training of a 784-256-10
sigmoid network on 1,000 random examples, derive's engine against PyTorch float64 on the CPU.

Run:  python -m pytest tests/bench/bench_train.py -o addopts="" --benchmark-group-by=param:work

Both sides do the same arithmetic: half_sse loss (mean over the batch), the mean gradient,
plain gradient descent with eta = 0.5, 10 updates.  "epoch" is the work of one epoch of
`derive train` (as train_arrays does it): the 10 updates plus the mean loss on all 1,000
examples before and after the epoch (the stopping criteria need it); "updates" is the 10
updates alone.  Setup (building arrays / tensors from the data) is outside the timing on both
sides.  A correctness check first: both end with the same parameters (to 1e-10).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no reference timing")

from derive import spec as specs  # noqa: E402
from derive.numeric.network import Network  # noqa: E402
from derive.numeric.train import Criteria, flatten, train_arrays  # noqa: E402

N, SIZES, BATCH, ETA = 1000, (784, 256, 10), 100, 0.5


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.random((N, SIZES[0]))
    T = np.eye(SIZES[2])[rng.integers(0, SIZES[2], N)]
    W1 = rng.normal(0, 1 / math.sqrt(SIZES[0]), (SIZES[1], SIZES[0]))
    W2 = rng.normal(0, 1 / math.sqrt(SIZES[1]), (SIZES[2], SIZES[1]))
    spec = specs.from_dict({
        "learning_rate": ETA, "loss": "half_sse",
        "layers": [{"weights": W1.tolist(), "biases": [0.0] * SIZES[1]},
                   {"weights": W2.tolist(), "biases": [0.0] * SIZES[2]}],
        "examples": [{"input": x, "target": t} for x, t in zip(X[:1].tolist(), T[:1].tolist())],
    })
    return spec, X, T, W1, W2


def derive_epoch(spec, net, X, T, updates_only=False):
    if updates_only:
        for s in range(0, N, BATCH):
            nets, outs = net.forward(X[s:s + BATCH])
            errs = net.backward(nets, outs, T[s:s + BATCH])
            grads = net.mean_gradients(errs, outs)
            net.params = [(W - ETA * gW, b - ETA * gb)
                          for (W, b), (gW, gb) in zip(net.params, grads)]
        return flatten(net.params)
    run = train_arrays(spec, net, X, T, "minibatch", BATCH, Criteria(max_epochs=1),
                       record_steps=False, curve="epochs")
    return run.final


def torch_setup(X, T, W1, W2):
    torch.set_default_dtype(torch.float64)
    l1, l2 = torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.Linear(SIZES[1], SIZES[2])
    with torch.no_grad():
        l1.weight.copy_(torch.from_numpy(W1))
        l1.bias.zero_()
        l2.weight.copy_(torch.from_numpy(W2))
        l2.bias.zero_()
    opt = torch.optim.SGD([*l1.parameters(), *l2.parameters()], lr=ETA)
    return torch.from_numpy(X), torch.from_numpy(T), l1, l2, opt


def torch_epoch(Xt, Tt, l1, l2, opt, updates_only=False):
    def loss_on(x, t):
        o = torch.sigmoid(l2(torch.sigmoid(l1(x))))
        return (0.5 * ((t - o) ** 2).sum(dim=1)).mean()

    if not updates_only:
        with torch.no_grad():
            loss_on(Xt, Tt)
    for s in range(0, N, BATCH):
        loss = loss_on(Xt[s:s + BATCH], Tt[s:s + BATCH])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if not updates_only:
        with torch.no_grad():
            loss_on(Xt, Tt)
    return l1, l2


def test_same_result(problem):
    spec, X, T, W1, W2 = problem
    ours = derive_epoch(spec, Network(spec), X, T)
    _, _, l1, l2, opt = args = torch_setup(X, T, W1, W2)
    torch_epoch(*args)
    theirs = flatten([(l1.weight.detach().numpy(), l1.bias.detach().numpy()),
                      (l2.weight.detach().numpy(), l2.bias.detach().numpy())])
    assert np.max(np.abs(ours - theirs)) < 1e-10


@pytest.mark.parametrize("work", ["epoch", "updates"])
def test_derive(benchmark, problem, work):
    spec, X, T, _, _ = problem
    benchmark.group = work
    benchmark.pedantic(derive_epoch, setup=lambda: ((spec, Network(spec), X, T,
                                                     work == "updates"), {}),
                       rounds=30, warmup_rounds=2)


@pytest.mark.parametrize("work", ["epoch", "updates"])
def test_torch(benchmark, problem, work):
    _, X, T, W1, W2 = problem
    benchmark.group = work
    benchmark.pedantic(torch_epoch, setup=lambda: ((*torch_setup(X, T, W1, W2),
                                                    work == "updates"), {}),
                       rounds=30, warmup_rounds=2)
