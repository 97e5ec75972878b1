"""The registered problem kinds (one module each; network kinds share one module)."""

from functools import partial

from derive.problems import Kind, register_kind
from derive.problems.kinds import network

for _name, _title, _text in (
        ("forward", "Forward pass", "the forward pass: every net input and output"),
        ("backward", "Backward pass", "the backward pass: every error term and gradient, the forward pass given"),
        ("update", "Update", "the update: every new weight and bias, the error terms given"),
        ("step", "One training step", "one whole training step: forward pass, loss, error terms and updates")):
    register_kind(Kind(_name, _title, _text, partial(network.generate, _name)))
