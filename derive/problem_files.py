"""The files of a problem set, by format: what `derive problems` writes into its directory.

LaTeX, Markdown and HTML: problems, solutions, answers.json and the empty class sheet, streamed
variant by variant (render.exam) and written all or none (derive.output.Staged), with --pdf
compiled by pdflatex before anything is renamed into place.  Moodle and Canvas: the quiz
(render.quiz), answers.json and the sheet.

This is where derive meets render for a problem set, as derive.results does for a single
document: the choices a user can get wrong (a format, --chain or --title with the wrong
format, --pdf without pdflatex, places Canvas cannot mark) are refused here, with
DeriveError, before render is called; render is handed only plain data.
"""

from __future__ import annotations

from derive.errors import DeriveError

PROBLEM_FORMATS = ("latex", "markdown", "html", "moodle", "qti")
QUIZ_FILES = {"moodle": "moodle.xml", "qti": "canvas-qti.zip"}  # beside answers.json
DOCUMENT_EXT = {"latex": "tex", "markdown": "md", "html": "html"}
# every file a problem set of any format writes into its directory
PROBLEM_SET_FILES = ("problems.tex", "solutions.tex", "problems.md", "solutions.md",
                     "problems.html", "solutions.html", "problems.pdf", "solutions.pdf", *QUIZ_FILES.values(), "answers.json")


def check_format(options, fmt: str, title: str | None, pdf: bool = False) -> None:
    """Refuse, before any work, what a format cannot write (options: the set's Options)."""
    if fmt not in PROBLEM_FORMATS:
        from derive.errors import unknown

        raise unknown("problem-set format", fmt, PROBLEM_FORMATS)
    if fmt in QUIZ_FILES:
        if options.chain:
            raise DeriveError("--chain links the problems of one variant on paper; a quiz "
                              "draws each question's variant on its own: use --chain with "
                              "--format latex, markdown or html")
    elif title is not None:
        raise DeriveError("--title names a quiz: use it with --format moodle or qti")
    if pdf:
        check_pdf(fmt)
    if fmt == "qti":
        check_canvas_places(options.decimals)


def check_pdf(fmt: str) -> None:
    """--pdf: LaTeX only, and pdflatex must be there (refused before any work)."""
    if fmt != "latex":
        raise DeriveError(f"--pdf compiles LaTeX: use it with --format latex, not {fmt}")
    from render.latex import INSTALL, have_pdflatex

    if not have_pdflatex():
        raise DeriveError(f"--pdf needs pdflatex, which is not installed (not on PATH); "
                          f"{INSTALL}; or leave out --pdf and compile problems.tex and "
                          f"solutions.tex yourself (twice, for the page numbers)")


def check_canvas_places(decimals: int) -> None:
    """--format qti: Canvas marks at most 4 places (render.quiz knows the platform's rule and
    why); refused before any work, with what to use instead."""
    from render.quiz import CANVAS_MAX_PLACES, canvas_refusal

    refusal = canvas_refusal(decimals + 1)
    if refusal:
        raise DeriveError(f"--format qti: {refusal} (--decimals {decimals} asks error terms, "
                          f"gradients and losses to {decimals + 1}); use --decimals "
                          f"{CANVAS_MAX_PLACES - 1} or less for Canvas, or --format moodle")


def files(problems, fmt: str, title: str | None, stream: bool) -> dict:
    """The files of a derive.results.Problems in a format: name -> text (bytes for the
    Canvas zip); with stream, a quiz is a writer (binary file -> None) that writes it
    variant by variant."""
    from render import render_problems

    check_format(problems.options, fmt, title)
    if fmt in QUIZ_FILES:
        from render.quiz import moodle_xml, qti_zip, write_moodle, write_qti

        if stream:
            writer = write_moodle if fmt == "moodle" else write_qti
            quiz = lambda fh: writer(problems.pset, fh, title)  # noqa: E731
        else:
            quiz = moodle_xml(problems.pset, title) if fmt == "moodle" else \
                qti_zip(problems.pset, title)
        from render.exam import answers_text

        pset = problems.pset
        return {QUIZ_FILES[fmt]: quiz, "answers.json": answers_text(
            pset.seed, pset.kinds, pset.options, pset.variants),
                "submissions.csv": problems.sheet()}
    rendered = render_problems(problems.pset, fmt)
    ext = DOCUMENT_EXT[fmt]
    return {f"problems.{ext}": rendered["problems"],
            f"solutions.{ext}": rendered["solutions"], "answers.json": rendered["answers"],
            "submissions.csv": problems.sheet()}


def write(problems, directory, fmt: str, force: bool, title: str | None, pdf: bool) -> list:
    """Write the files of a derive.results.Problems into directory (created if missing), all
    or none.  LaTeX, Markdown and HTML are streamed variant by variant; pdf=True compiles the LaTeX
    with pdflatex (problems.pdf and solutions.pdf beside the .tex)."""
    from derive.output import Staged, write_files

    check_format(problems.options, fmt, title, pdf)
    if fmt in QUIZ_FILES:
        # with --force over an earlier set in another format, its files go: a directory
        # never holds problems.tex beside the moodle.xml of another set
        return write_files(directory, files(problems, fmt, title, stream=True), force,
                           replaces=PROBLEM_SET_FILES)
    from derive.problemset import kind_titles
    from render.exam import SetWriter

    ext = DOCUMENT_EXT[fmt]
    asked: dict = {}  # (kind, asked names) of the problems written: the sheet's columns
    with Staged(directory, force, replaces=PROBLEM_SET_FILES) as out:
        streams = {"problems": out.open(f"problems.{ext}"),
                   "solutions": out.open(f"solutions.{ext}"),
                   "answers": out.open("answers.json")}
        writer = SetWriter(fmt, problems.seed, problems.kinds, problems.options, streams,
                           kind_titles())
        writer.begin()
        for parts, shapes in _rendered(problems, writer):
            writer.put(parts)
            for shape in shapes:
                asked.setdefault(shape, None)
        writer.end()
        out.open("submissions.csv").write(_empty_sheet(problems.kinds, asked))
        out.close()
        if pdf:
            from render.latex import LatexError, compile_file

            progress = problems.progress
            for doc in ("problems", "solutions"):
                if progress is not None and hasattr(progress, "phase"):
                    progress.phase(f"compiling {doc}.pdf with pdflatex")
                try:
                    compile_file(out.path(f"{doc}.tex"), out.reserve(f"{doc}.pdf"))
                except LatexError as exc:
                    raise DeriveError(f"pdflatex could not compile {doc}.tex: {exc}; "
                                      f"nothing was written") from None
        return out.paths()


def _rendered(problems, writer):
    """(parts, asked shapes) of every variant in order: from the set if it is held, else
    drawn one by one, by worker processes when the set is large
    (derive.problemset.parallel); the same bytes either way."""
    fn = _Rendered(writer)
    if problems._pset is not None:  # noqa: SLF001  (a set already drawn is not drawn again)
        for v in problems._pset.variants:  # noqa: SLF001
            yield fn(v)
        return
    from derive.problemset.parallel import mapped_variants

    yield from mapped_variants(problems.kinds, problems.count, problems.seed,
                               problems.options, fn, progress=problems.progress)


class _Rendered:
    """A variant as write() takes it: the writer's parts (problems, solutions, its entry of
    answers.json) and each problem's asked names (in the order grade reads them) for the
    sheet written after the last variant.  Problems of one shape share their names, so the
    sheet's columns stay as few as the set's distinct shapes.  A plain function of the
    variant, so a worker process of derive.problemset.parallel can compute it."""

    def __init__(self, writer):
        self.writer = writer

    def __call__(self, v) -> tuple:
        from derive.grading import asked_order

        return self.writer.parts(v), tuple((p.kind, tuple(asked_order(p.answers, p.spec)))
                                           for p in v.problems)


def _empty_sheet(kinds, asked: dict) -> str:
    """submissions.csv for the problems noted by _Rendered: what Problems.sheet() writes
    for a set held whole."""
    from derive.grading import sheet_columns
    from derive.submissions import empty_sheet

    raw = {"kinds": list(kinds), "variants": [{"problems": [
        {"kind": kind, "answers": dict.fromkeys(names)} for kind, names in asked]}]}
    return empty_sheet(sheet_columns(raw))
