"""The registered problem kinds (one module each; network kinds share one module)."""

from functools import partial

from derive.problemset import Kind, register_kind
from derive.problemset.kinds import network

for _name, _title, _text in (
        ("forward", "Forward pass", "the forward pass: every net input and output"),
        ("backward", "Backward pass", "the backward pass: every error term and gradient, the forward pass given"),
        ("update", "Update", "the update: every new weight and bias, the error terms given"),
        ("step", "One training step", "one whole training step: forward pass, loss, error terms and updates")):
    register_kind(Kind(_name, _title, _text, partial(network.generate, _name)))

from derive.problemset.kinds import functions as _functions  # noqa: E402

register_kind(Kind("activation", "An activation and its derivative",
                   "derive f' and write it in terms of the output; evaluate both",
                   _functions.generate_activation, network=False))
register_kind(Kind("loss", "A loss and its range",
                   "the loss of given predictions, and the range it can take",
                   _functions.generate_loss, network=False))

from derive.problemset.kinds import descent as _descent  # noqa: E402

register_kind(Kind("descent", "Gradient descent on one parameter",
                   "iterations of one-parameter gradient descent; the learning rate too small "
                   "or too large", _descent.generate_descent, network=False))
register_kind(Kind("minima", "Global and local minima",
                   "a polynomial with two minima: which is global, where descent ends",
                   _descent.generate_minima, network=False))

from derive.problemset.kinds import batch as _batch  # noqa: E402

register_kind(Kind("batch", "Batch and mini-batch gradient descent",
                   "a small dataset: the (mini-)batch mean gradient and one update; which kind "
                   "of gradient descent", _batch.generate_batch, network=False))
