"""`derive problems`: seeded problem sets with worked solutions and a JSON answer key."""

from __future__ import annotations

import click

from derive.commands._common import friendly
from derive.errors import DeriveError, unknown

FORMATS = ("latex", "markdown")
SUFFIX = {"latex": "tex", "markdown": "md"}


def _kinds(text: str) -> list[str]:
    from derive.problemset import KINDS

    names = [k.strip() for k in text.split(",") if k.strip()]
    if not names:
        raise DeriveError(f"--kinds is empty; choose from: {', '.join(KINDS)}")
    for name in names:
        if name not in KINDS:
            raise unknown("problem kind", name, KINDS)
    if len(set(names)) != len(names):
        raise DeriveError(f"--kinds names a kind twice: {text}")
    return names


def _network(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise DeriveError(f"--network must be layer sizes like 3,2,1, not '{text}'") from None
    if len(sizes) < 2 or any(s < 1 or s > 6 for s in sizes):
        raise DeriveError(f"--network needs at least two layer sizes, each from 1 to 6 "
                          f"(worked by hand), not '{text}'")
    return sizes


def _check_output_dir(path, force: bool):
    from pathlib import Path

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise DeriveError(f"-o '{out}' is a file; give a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DeriveError(f"-o '{out}' is not empty; use --force to write into it")
    return out


class _Progress:
    """A bar on stderr for long runs; silent when stderr is not a terminal."""

    def __init__(self, total: int):
        import sys

        self.total = total
        self.on = sys.stderr.isatty() and total >= 20
        self.bar = None
        if self.on:
            self.bar = click.progressbar(length=total, label="generating", file=sys.stderr)
            self.bar.__enter__()

    def __call__(self, done: int):
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command()
@click.option("--kinds", "kinds_text", required=True, metavar="K1,K2,...",
              help="Problem kinds: activation, loss, forward, backward, update, step, descent, "
                   "batch, minima.")
@click.option("--variants", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many variants (one per student).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed: the same seed and options give byte-identical files.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="latex", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory for problems, solutions and answers.json (created if missing).")
@click.option("--force", is_flag=True, help="Write into a non-empty directory.")
@click.option("--network", "network_text", default="3,2,1", show_default=True,
              help="Layer sizes of the networks drawn, inputs first.")
@click.option("--activation", metavar="NAME", help="Activation of every layer (default sigmoid; "
                                                   "the activation kind: a random one).")
@click.option("--loss", metavar="NAME", help="Loss (default half_sse; the loss kind: a random "
                                             "one).")
@click.option("--lr", type=float, help="Learning rate η (default: drawn per problem).")
@click.option("--decimals", type=click.IntRange(1, 6), default=3, show_default=True,
              help="Places shown for net inputs, outputs and parameters (one more for error "
                   "terms, gradients and losses).")
@click.option("--choices", type=click.IntRange(2, 6), default=None,
              help="Multiple choice: this many options per question (e.g. 4).")
@friendly
def problems(kinds_text, variants, seed, fmt, output, force, network_text, activation, loss,
             lr, decimals, choices):
    """Exam problems in seeded variants, with worked solutions and a JSON answer key.

    Writes DIR/problems.tex and DIR/solutions.tex (or .md) and DIR/answers.json.
    """
    from derive.symbolic.definitions import activation_def, loss_def

    kinds = _kinds(kinds_text)
    sizes = _network(network_text)
    if activation is not None:
        activation_def(activation)
    if loss is not None:
        loss_def(loss)
    if lr is not None and not (0 < lr < 100):
        raise DeriveError(f"--lr must be greater than 0 (and sensible), not {lr}")
    out = _check_output_dir(output, force)

    from derive.output import write_atomic
    from derive.problemset import Options, generate
    from render import render_problems

    options = Options(network=sizes, activation=activation, loss=loss, lr=lr,
                      decimals=decimals, choices=choices)
    bar = _Progress(variants)
    try:
        pset = generate(kinds, variants, seed, options, progress=bar)
    finally:
        bar.close()
    files = render_problems(pset, fmt)
    ext = SUFFIX[fmt]
    for name, text in ((f"problems.{ext}", files["problems"]),
                       (f"solutions.{ext}", files["solutions"]),
                       ("answers.json", files["answers"])):
        write_atomic(out / name, text, force=True)
        click.echo(f"wrote {out / name}", err=True)
