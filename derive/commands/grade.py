"""`derive grade`: mark a whole class's sheet against a problem set's key."""

from __future__ import annotations

from pathlib import Path

import click

from derive.commands._common import friendly
from derive.errors import DeriveError


@click.command("grade")
@click.argument("problem_set", metavar="DIR", type=click.Path())
@click.argument("submissions", metavar="SUBMISSIONS.csv", type=click.Path())
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False),
              help="Directory for grades.csv, feedback/ and the reports (default: DIR/grades).")
@click.option("--force", is_flag=True, help="Write into a directory that is not empty.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="What to print: the class report's summary, or every mark as JSON.")
@click.option("--points", "points", type=click.Path(dir_okay=False), metavar="POINTS.toml",
              help='Points per column or kind ("forward.o4" = 2, forward = 1, default = 1); '
                   "default: one per asked value.")
@click.option("--carried-forward-credit", "credit", type=float, default=1.0,
              show_default=True,
              help="Share of its points a value earns that is right only from the student's "
                   "own wrong earlier values (0 to 1).")
@friendly
def grade(problem_set, submissions, outdir, force, fmt, points, credit):
    """Grade a class: every student's values marked as `derive check` marks them.

    DIR is the problem set `derive problems` wrote (its answers.json); SUBMISSIONS.csv has a
    row per student: student, variant (S7-V03 or 3), then one column per asked value named
    KIND.NAME (forward.o4, backward.Err6, update.w1_4) as in DIR/submissions.csv.  Comma or
    semicolon separated, decimal commas and blank cells are fine.  Writes grades.csv,
    feedback/STUDENT.html and .md and report.html and report.md into OUTDIR, all or none.
    """
    from derive import api
    from derive.output import check_output_dir

    out = Path(outdir) if outdir else Path(problem_set) / "grades"
    if Path(problem_set).is_file() and not outdir:
        out = Path(problem_set).parent / "grades"
    check_output_dir(out, force)  # refuse before any work
    if not 0 <= credit <= 1:
        raise DeriveError(f"--carried-forward-credit must be from 0 to 1, not {credit:g}")
    result = api.grade(problem_set, submissions, points=points,
                       carried_forward_credit=credit)
    stale = _stale(out, result)
    result.write(out, force)
    click.echo(f"wrote {out / 'grades.csv'}, {out / 'report.html'}, {out / 'report.md'} and "
               f"{len(result.grades.students)} feedback pages in {out / 'feedback'} (.html and "
               f".md)", err=True)
    if stale:
        click.echo(f"note: {out / 'feedback'} also holds {len(stale)} page(s) this run did not "
                   f"write (from an earlier sheet?), e.g. {stale[0]}", err=True)
    click.echo(result.render(fmt), nl=False)


def _stale(out: Path, result) -> list[str]:
    """Feedback pages already in OUTDIR that this run does not write (kept, never deleted)."""
    folder = out / "feedback"
    if not folder.is_dir():
        return []
    written = {f"{s.feedback}.{ext}" for s in result.grades.students for ext in ("html", "md")}
    return sorted(p.name for p in folder.iterdir()
                  if p.suffix in (".html", ".md") and p.name not in written)
