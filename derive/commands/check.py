"""`derive check`: mark a hand calculation step by step (exit 0 all right, 1 some wrong)."""

from __future__ import annotations

import sys

import click

from derive.commands._common import (
    emit,
    format_option,
    friendly,
    output_format,
    output_options,
)
from derive.commands._terminal import Terminated, say
from derive.errors import DeriveError


def _interactive(spec, answers: dict, decimals: int, example: int):
    """Ask for each quantity in computation order and answer each at once."""
    from derive.marking import Computation, check, parse_number
    from render import render

    comp = Computation(spec, example, decimals)
    # the lecture's hand calculation: forward pass, loss, error terms, new parameters
    # (gradients dE/dθ are not part of it; give them in an answers file to check them)
    names = [q.name for q in comp.order if q.kind not in ("input", "grad_w", "grad_b")]
    say("Give each value as you worked it out (Enter skips one; Ctrl-D ends).")
    for name in names:
        if name in answers:
            continue
        while True:
            try:
                text = click.prompt(f"{name} =", default="", show_default=False,
                                    prompt_suffix=" ", err=True)
            except click.Abort as exc:  # Ctrl-D / end of input: check what was given
                if isinstance(exc.__context__, Terminated):  # SIGTERM ends the program
                    raise exc.__context__ from None
                say("")
                return answers
            text = text.strip()
            if not text:
                break
            try:
                parse_number(text, name)
            except DeriveError as exc:
                say(f"  {exc}; try again")
                continue
            answers[name] = text
            report = check(spec, answers, decimals, example)
            result = next(r for r in report.results if r.name == name)
            for line in render("_check_line", "text", r=result).rstrip().split("\n"):
                say("  " + line)
            break
    return answers


@click.command("check")
@click.argument("answers_file", metavar="[ANSWERS.toml]", required=False,
                type=click.Path(dir_okay=False))
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False),
              help="Network spec (TOML); overrides the answers file's `spec`. "
                   "Default: the lecture's 3-2-1 example.")
@click.option("--interactive", is_flag=True,
              help="Ask for each value in the order of the computation and answer at once.")
@format_option()
@output_options
@friendly
def check(answers_file, spec_path, interactive, fmt, output, force):
    """Check a hand calculation: each step marked, errors carried forward, mistakes named.

    ANSWERS.toml holds your values under the lecture's names (o4 = 0.332, Err6 = 0.1311,
    w1_4 = 0.192 for the new value of w1_4, dw1_4 for a gradient, loss) and optionally
    spec = "network.toml" and decimals = 3.  Each value is recomputed from your own earlier
    values, so one slip costs one mark.  Exit status: 0 all right, 1 some wrong, 2 unusable
    input.
    """
    from derive import api

    fmt = output_format(fmt, output, force)
    if answers_file is None and not interactive:
        raise DeriveError("give an answers file (ANSWERS.toml) or --interactive")
    if not interactive:
        result = api.check(answers_file, spec=spec_path)
    else:
        from derive import marking

        if sys.stdin is None or sys.stdin.closed:  # `derive check --interactive <&-`
            raise DeriveError("--interactive reads your values from standard input, which is "
                              "closed; give an answers file (ANSWERS.toml) instead")

        af = marking.load_answers(answers_file) if answers_file else None
        spec = api.load_spec(spec_path or (af.spec_path if af else None))
        decimals = af.decimals if af else 3
        example = af.example if af else 0
        if example >= len(spec.examples):
            raise DeriveError(f"{af.source}: example {example + 1}, but the spec has only "
                              f"{len(spec.examples)} example(s)")
        answers = dict(af.answers) if af else {}
        marking.check(spec, answers, decimals, example)  # the file's names are valid
        answers = _interactive(spec, answers, decimals, example)
        if not answers:
            raise DeriveError("nothing to check: no value was given")
        result = api.check(answers, spec=spec, decimals=decimals, example=example + 1)
    emit(result.render(fmt), output, force)
    sys.exit(result.exit_status)
