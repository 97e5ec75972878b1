"""`derive problems`: seeded problem sets with worked solutions and a JSON answer key."""

from __future__ import annotations

import click

from derive.commands._common import complete_layer_activation, complete_loss, friendly
from derive.commands._terminal import say
from derive.errors import DECIMALS, DeriveError
from derive.problem_files import PROBLEM_FORMATS as FORMATS
from derive.problem_files import QUIZ_FILES, check_canvas_places, check_pdf


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

    def phase(self, text: str):
        """A step after the variants (compiling the PDFs): said on its own line."""
        if self.on:
            self.close()
            click.echo(f"{text} ...", err=True)

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command()
@click.option("--kinds", "kinds_text", required=True, metavar="K1,K2,...",
              help="Problem kinds: activation, loss, forward, backward, update, step, descent, "
                   "batch, minima.")
@click.option("--variants", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="How many variants (one per student; up to 10,000, written one by one).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed: the same seed and options give byte-identical files.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="latex", show_default=True,
              help="latex/markdown/html: problems + solutions (html: two self-contained "
                   "pages); moodle: DIR/moodle.xml (a question bank); qti: DIR/canvas-qti.zip "
                   "(Canvas); always with DIR/answers.json.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory for problems, solutions and answers.json (created if missing).")
@click.option("--force", is_flag=True, help="Write into a non-empty directory.")
@click.option("--network", "network_text", default="3,2,1", show_default=True,
              help="Layer sizes of the networks drawn, inputs first.")
@click.option("--activation", metavar="NAME", shell_complete=complete_layer_activation,
              help="Activation of every layer (default sigmoid; the activation kind: a random "
                   "one).")
@click.option("--loss", metavar="NAME", shell_complete=complete_loss,
              help="Loss (default half_sse; the loss kind: a random one).")
@click.option("--lr", type=float, help="Learning rate η (default: drawn per problem).")
@click.option("--decimals", type=click.IntRange(*DECIMALS), default=3, show_default=True,
              help="Places shown for net inputs, outputs and parameters (one more for error "
                   "terms, gradients and losses).")
@click.option("--choices", type=click.IntRange(2, 6), default=None,
              help="Multiple choice: this many options per question (e.g. 4).")
@click.option("--alpha", type=float, metavar="A",
              help="alpha of leaky_relu or elu (with --activation): any real number; every "
                   "problem states it, and where f' has no form in the output for it (alpha "
                   "< 0) the solutions say why and use f'(i).")
@click.option("--dead-units", is_flag=True,
              help="Networks with a dead ReLU hidden unit (its error term is 0, its weights "
                   "never change): the slide's 'units can die'. Needs --activation relu.")
@click.option("--chain", is_flag=True,
              help="One network per variant: the forward, loss, backward and update problems "
                   "follow it, later ones using the student's own earlier answers.")
@click.option("--paper", type=click.Choice(("letter", "a4")), default="letter",
              show_default=True, help="LaTeX: the paper size the exam is laid out for.")
@click.option("--duplex", is_flag=True,
              help="LaTeX: each variant starts on an odd page (for two-sided printing).")
@click.option("--pdf", is_flag=True,
              help="LaTeX: compile problems.tex and solutions.tex with pdflatex (no shell "
                   "escape) and write the PDFs beside them.")
@click.option("--title", metavar="TEXT",
              help="moodle/qti: the question bank's top category / the quiz's title "
                   "(default 'derive problems, seed N').")
@friendly
def problems(kinds_text, variants, seed, fmt, output, force, network_text, activation, loss,
             lr, decimals, choices, alpha, dead_units, chain, paper, duplex, pdf, title):
    """Exam problems in seeded variants, with worked solutions and a JSON answer key.

    Writes DIR/problems.tex and DIR/solutions.tex (or .md, or .html: two self-contained
    pages) and DIR/answers.json (with --pdf also problems.pdf and solutions.pdf); --format
    moodle writes DIR/moodle.xml, --format qti DIR/canvas-qti.zip (with answers.json).
    """
    from derive import api

    if title is not None:
        if fmt not in QUIZ_FILES:
            raise DeriveError("--title names a quiz: use it with --format moodle or qti")
        if not title.strip() or len(title) > 200 or any(ord(c) < 32 for c in title):
            raise DeriveError("--title must be one line of 1 to 200 characters")
    from derive.output import check_output_dir

    for flag, given in (("--paper", paper != "letter"), ("--duplex", duplex)):
        if given and fmt != "latex":
            raise DeriveError(f"{flag} lays out the LaTeX for print: use it with --format "
                              f"latex, not {fmt}")
    if pdf:
        check_pdf(fmt)
    check_output_dir(output, force)  # refuse before any work
    if fmt == "qti":
        check_canvas_places(decimals)  # Canvas marks at most 4 places: say so before any work
    result = api.problems(kinds_text, variants, seed, network=network_text,
                          activation=activation, loss=loss, lr=lr, decimals=decimals,
                          choices=choices, dead_units=dead_units, alpha=alpha, chain=chain,
                          paper=paper, duplex=duplex)
    bar = _Progress(variants)
    result.progress = bar
    try:
        written = result.write(output, fmt, force=True, title=title, pdf=pdf)
    finally:
        bar.close()
    for path in written:
        say(f"wrote {path}")
