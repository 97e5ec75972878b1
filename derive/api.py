"""The Python API: what the `derive` command does, one import away.

    >>> import derive
    >>> derive.example().forward["o4"]
    0.33181222783183395

Every function here takes plain values, raises DeriveError for a user's mistake, and returns
a result object that holds the numbers (as dicts under DESIGN.md's names), renders itself
(to_markdown, to_latex, to_text, to_html, to_json) and displays itself in a notebook
(_repr_markdown_, _repr_latex_).  The CLI is a thin layer over exactly these functions.
"""

from __future__ import annotations

from pathlib import Path

from derive.errors import DeriveError


def load_spec(path_or_dict=None):
    """A validated network spec from a TOML file, a dict of the same keys, or None (the
    lecture's example)."""
    from derive import spec

    if path_or_dict is None:
        return spec.LECTURE
    if isinstance(path_or_dict, spec.Spec):
        return path_or_dict
    if isinstance(path_or_dict, dict):
        return spec.from_dict(path_or_dict, "spec")
    if isinstance(path_or_dict, (str, Path)):
        return spec.load(path_or_dict)
    raise DeriveError(f"a spec is a TOML file's path, a dict or None, not "
                      f"{type(path_or_dict).__name__}")


class Document:
    """A result that renders itself: the base of every result the API returns.

    Subclasses set `template` (templates/<format>/<template>.j2) and provide `context()` (the
    template's variables) and `to_dict()` (the JSON of DESIGN.md).
    """

    template = ""

    def context(self) -> dict:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    def render(self, fmt: str) -> str:
        from render import render, to_json

        if fmt == "json":
            return to_json(self.to_dict())
        return render(self.template, fmt, **self.context())

    def to_text(self) -> str:
        return self.render("text")

    def to_markdown(self) -> str:
        return self.render("markdown")

    def to_latex(self) -> str:
        return self.render("latex")

    def to_html(self) -> str:
        return self.render("html")

    def to_json(self) -> str:
        return self.render("json")

    # notebooks (IPython/Jupyter) show the worked document instead of a repr
    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_text()


class Example(Document):
    """One training step worked out: the numbers and the document of `derive example`."""

    template = "example"

    def __init__(self, spec, example: int = 0, rounding: str = "exact", decimals: int = 3):
        from derive.numeric.network import step

        self.spec = spec
        self.example_index = example
        self.rounding = rounding
        self.decimals = decimals
        self.trace = step(spec, example, rounding, decimals)
        self._doc = None

    @property
    def loss(self) -> float:
        return self.trace.loss

    @property
    def forward(self) -> dict:
        return dict(self.trace.forward)

    @property
    def backward(self) -> dict:
        return dict(self.trace.backward)

    @property
    def gradients(self) -> dict:
        return dict(self.trace.gradients)

    @property
    def update(self) -> dict:
        return dict(self.trace.update)

    @property
    def document(self):
        """The worked example as plain data (derive.worked.WorkedExample), made on demand."""
        if self._doc is None:
            from derive.worked import worked_example

            self._doc = worked_example(self.spec, self.example_index, self.rounding,
                                       self.decimals)
        return self._doc

    def context(self) -> dict:
        return {"doc": self.document}

    def to_dict(self) -> dict:
        return self.trace.to_dict()

    def __repr__(self) -> str:
        o = ", ".join(f"{k}={v:.6g}" for k, v in self.trace.forward.items() if k.startswith("o"))
        return f"<derive.Example loss={self.loss:.6g} {o}>"


def example(spec=None, activation: str | None = None, loss: str | None = None,
            lr: float | None = None, rounding: str = "exact", decimals: int = 3,
            example: int = 1) -> Example:
    """One training step on one example (the first by default), worked as on the slides.

    spec: a TOML path, a dict or None for the lecture's example; activation replaces every
    layer's; loss and lr replace the spec's; rounding "exact" or "hand" (round as one goes,
    `decimals` places, one more for error terms, gradients and the loss).
    """
    spec = load_spec(spec)
    if activation is not None:
        spec = spec.with_activation(activation)
    if loss is not None:
        spec = spec.with_loss(loss)
    if lr is not None:
        spec = spec.with_learning_rate(lr)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 12:
        raise DeriveError(f"decimals must be a whole number from 0 to 12, not {decimals!r}")
    if isinstance(example, bool) or not isinstance(example, int) or example < 1:
        raise DeriveError(f"example must be a whole number from 1, not {example!r}")
    if example > len(spec.examples):
        raise DeriveError(f"example {example}: the spec has only {len(spec.examples)} "
                          f"example(s)")
    return Example(spec, example - 1, rounding, decimals)
