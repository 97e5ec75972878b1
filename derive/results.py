"""The results the API returns: each holds its numbers and renders itself.

A result holds the numbers (as dicts under DESIGN.md's names, `to_dict()` and `to_json()` give
the JSON of the command's `--format json`), renders itself through render/ (to_text,
to_markdown, to_latex, to_html) and displays itself in a notebook (_repr_markdown_; a
derivation also _repr_latex_).  The functions of derive.api make them; `import derive` exposes
both.  This module is where derive meets render for a single document (the other meeting
points are derive.problem_files for the files of a problem set and the `derive` command):
render is imported only when a result is rendered, and the documents it is given are plain
data built by derive.documents, derive.problemset, derive.marking and derive.grading.
"""

from __future__ import annotations

from derive.errors import DeriveError


class Document:
    """A result that renders itself: the base of every result the API returns.

    Subclasses set `template` (templates/<format>/<template>.j2) and provide `context()` (the
    template's variables) and `to_dict()` (the JSON of DESIGN.md).
    """

    template = ""

    def context(self, fmt: str = "text") -> dict:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    def render(self, fmt: str, **options) -> str:
        """The document in a format: text, markdown, latex, html or json."""
        from render import render, to_json

        if fmt == "json":
            return to_json(self.to_dict())
        return render(self.template, fmt, **self.context(fmt, **options))

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

    def __repr__(self) -> str:
        name = getattr(self, "template", "") or ""
        return f"<derive.{type(self).__name__} {name}>".replace(" >", ">")


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
        """The worked example as plain data (derive.documents.worked.WorkedExample), made on demand."""
        if self._doc is None:
            from derive.numeric.network import step
            from derive.documents.worked import worked_example

            # the chain shown is self.trace; only the other one is computed here
            other = step(self.spec, self.example_index,
                         "hand" if self.rounding == "exact" else "exact", self.decimals)
            traces = (self.trace, other) if self.rounding == "exact" else (other, self.trace)
            self._doc = worked_example(self.spec, self.example_index, self.rounding,
                                       self.decimals, traces=traces)
        return self._doc

    def context(self, fmt: str = "text") -> dict:
        return {"doc": self.document}

    def to_dict(self) -> dict:
        return self.trace.to_dict()

    def __repr__(self) -> str:
        o = ", ".join(f"{k}={v:.6g}" for k, v in self.trace.forward.items() if k.startswith("o"))
        return f"<derive.Example loss={self.loss:.6g} {o}>"


def _svg_url(name: str | None, svg: str) -> str:
    """Where a Markdown document finds its picture: the file written beside it, or, with no
    file (a notebook), the picture itself as a data: URI."""
    if name:
        from urllib.parse import quote

        return quote(name)
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


class Charted(Document):
    """A document with a curve: text plot in the terminal, pgfplots in LaTeX, SVG elsewhere."""

    def _document(self) -> dict:
        raise NotImplementedError

    def svg(self) -> str:
        """The picture as a standalone SVG image."""
        from render import plot

        return plot.svg(self._document()["chart"])

    def context(self, fmt: str = "text", svg_name: str | None = None) -> dict:
        from render import plot

        doc = dict(self._document())
        doc["plot"] = plot.text(doc["chart"])
        doc["pgfplots"] = plot.pgfplots(doc["chart"]) if fmt == "latex" else ""
        doc["svg_name"] = svg_name or ("loss curve" if fmt == "markdown" else None)
        doc["svg_url"] = _svg_url(svg_name, self.svg()) if fmt == "markdown" else None
        if fmt == "html":  # the page carries its picture inline
            from markupsafe import Markup

            # inline SVG needs no namespace (and the page names no URL at all)
            svg = self.svg().replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
            doc["svg_inline"] = Markup(svg[svg.index("<svg"):])  # escaped by render.plot
        return {"doc": doc}


class Training(Charted):
    """A training run (or the three modes side by side): `derive train`."""

    template = "train"

    def __init__(self, spec, runs, compare: bool, decimals: int, init, standardization):
        self.spec, self.runs, self.compare = spec, runs, compare
        self.decimals, self.init, self.standardization = decimals, init, standardization
        self._doc = None

    @property
    def run(self):
        """The run (the first one with compare_modes)."""
        return self.runs[0]

    @property
    def stopped_by(self) -> str:
        return self.run.stopped_by

    @property
    def final(self) -> dict:
        return self.run.to_dict()["final"]

    def to_dict(self) -> dict:
        from derive.numeric import train as training

        value = ({"modes": {r.mode: r.to_dict() for r in self.runs}} if self.compare
                 else self.runs[0].to_dict())
        if self.standardization is not None:
            value["standardization"] = self.standardization.to_dict()
        if self.init:
            method, seed = self.init
            value["init"] = {"method": method, "seed": seed,
                             "description": training.INIT_DESCRIPTIONS[method]}
        return value

    def _document(self) -> dict:
        if self._doc is None:
            from derive.documents.training import check_renderable, train_document

            check_renderable(self.spec)
            self._doc = train_document(self.spec, self.runs, compare=self.compare,
                                       decimals=self.decimals, init=self.init,
                                       standardization=self.standardization)
        return self._doc


class Descent(Charted):
    """Gradient descent on a few numbers: a model fitted to data pairs (one run per learning
    rate), or a function of x minimised from several starts: `derive descend`."""

    template = "descend"

    def __init__(self, value: dict, document):
        self._value = value
        self._make_document = document
        self._doc = None

    def to_dict(self) -> dict:
        return self._value

    @property
    def runs(self) -> list:
        return self._value.get("runs") or [self._value]

    @property
    def diverged(self) -> bool:
        return any(run.get("diverged") for run in self.runs)

    def _document(self) -> dict:
        if self._doc is None:
            self._doc = self._make_document()
        return self._doc


class Check(Document):
    """A hand calculation marked step by step: `derive check`."""

    template = "check"

    def __init__(self, report):
        self.report = report

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def results(self) -> list[dict]:
        return self.to_dict()["results"]

    @property
    def exit_status(self) -> int:
        """The CLI's: 0 when every value is right, 1 when some are wrong."""
        return 0 if self.ok else 1

    def to_dict(self) -> dict:
        return self.report.to_dict()

    def context(self, fmt: str = "text") -> dict:
        return {"doc": self.report}


class Derivation(Document):
    """An activation's or a loss's derivation, step by step: `derive activation` and
    `derive loss`.  In a notebook it shows as Markdown, or as LaTeX math (_repr_latex_)."""

    def __init__(self, template: str, doc: dict, value: dict):
        self.template = template
        self.doc = doc
        self._value = value

    def to_dict(self) -> dict:
        return self._value

    def context(self, fmt: str = "text") -> dict:
        return {"doc": self.doc}

    def __getitem__(self, key):
        return self._value[key]

    def _repr_latex_(self) -> str:
        """The derivation as one aligned display, for notebooks that render LaTeX math."""
        steps = self._value.get("steps") or []
        lines = [s.get("latex") for s in steps if isinstance(s, dict) and s.get("latex")]
        if not lines:
            return None
        return "$$\\begin{aligned} &" + " \\\\ &= ".join(lines) + "\\end{aligned}$$"


class Graph(Document):
    """The evaluation trace of an expression as a computational graph: `derive graph`."""

    template = "graph"

    def __init__(self, doc: dict):
        self.doc = doc

    @property
    def value(self) -> float:
        return self.doc["value"]

    @property
    def gradient(self) -> dict:
        return dict(self.doc["gradient"])

    def to_dict(self) -> dict:
        doc = self.doc
        data = {k: doc[k] for k in ("value", "gradient", "trace")}
        data["trace"] = [{"node": r["node"], "expr": r["expr"], "value": r["value"],
                          "adjoint": r["adjoint"], "contributions": r["contributions"]}
                         for r in doc["trace"]]
        data.update(expression=doc["expression"], at=doc["at"], inputs=doc["inputs"])
        return data

    def context(self, fmt: str = "text") -> dict:
        return {"doc": self.doc}


class Problems(Document):
    """Seeded problem sets with worked solutions and an answer key: `derive problems`.

    The variants are drawn when they are needed: write() streams them to the files one by one
    (memory does not grow with their number); `pset`, `answers` and files() hold them all."""

    template = "problems"

    def __init__(self, kinds, variants: int, seed: int, options, progress=None):
        self.kinds, self.count, self.seed = tuple(kinds), variants, seed
        self.options = options
        self.progress = progress
        self._pset = None

    @property
    def pset(self):
        """The whole set, drawn once (derive.problemset.ProblemSet)."""
        if self._pset is None:
            from derive.problemset import generate

            self._pset = generate(self.kinds, self.count, self.seed, self.options,
                                  progress=self.progress)
        return self._pset

    def variants(self):
        """The variants in order, drawn one by one unless the set is already held."""
        if self._pset is not None:
            return iter(self._pset.variants)
        from derive.problemset import iter_variants

        return iter_variants(self.kinds, self.count, self.seed, self.options,
                             progress=self.progress)

    @property
    def answers(self) -> dict:
        """answers.json of DESIGN.md: {"seed", "variants": [{"variant", "problems": [...]}]},
        as JSON reads it back (lists, not tuples)."""
        import json

        return json.loads(json.dumps(self.pset.answers()))

    def to_dict(self) -> dict:
        return self.answers

    def files(self, fmt: str = "latex", title: str | None = None, stream: bool = False) -> dict:
        """The files of the set in a format: name -> text (bytes for the Canvas zip); with
        stream, a quiz is a writer (binary file -> None) that writes it variant by variant."""
        from derive import problem_files

        return problem_files.files(self, fmt, title, stream)

    def sheet(self) -> str:
        """submissions.csv: the empty class sheet `derive grade` reads (header only)."""
        from derive.grading import sheet_columns
        from derive.submissions import empty_sheet

        return empty_sheet(sheet_columns(self.pset.answers()))

    def write(self, directory, fmt: str = "latex", force: bool = False,
              title: str | None = None, pdf: bool = False) -> list:
        """Write the files into directory (created if missing), all or none.  LaTeX,
        Markdown and HTML are streamed variant by variant; pdf=True compiles the LaTeX with pdflatex
        (problems.pdf and solutions.pdf beside the .tex)."""
        from derive import problem_files

        return problem_files.write(self, directory, fmt, force, title, pdf)

    def render(self, fmt: str, **options) -> str:
        if fmt not in ("latex", "markdown", "json"):
            two = " (html is two pages, problems.html and solutions.html)" \
                if fmt == "html" else ""
            raise DeriveError(f"a problem set renders as one text in latex or markdown, not "
                              f"{fmt}{two}; use files() or write()")
        files = self.files(fmt if fmt != "json" else "markdown")
        if fmt == "json":
            return files["answers.json"]
        from derive.problem_files import DOCUMENT_EXT

        ext = DOCUMENT_EXT[fmt]
        return files[f"problems.{ext}"] + "\n" + files[f"solutions.{ext}"]


GRADE_FORMATS = ("text", "markdown", "html", "json")


class Grades(Document):
    """A class graded from its sheet: `derive grade`.  As a document it is the class report
    (text, markdown, html; json is DESIGN.md's); files() holds everything OUTDIR gets."""

    template = "grade_report"

    def __init__(self, grades):
        self.grades = grades

    @property
    def students(self) -> list[dict]:
        return [s.to_dict() for s in self.grades.students]

    @property
    def columns(self) -> list[dict]:
        return [c.to_dict() for c in self.grades.columns]

    @property
    def summary(self) -> dict:
        return self.to_dict()["summary"]

    def to_dict(self) -> dict:
        return self.grades.to_dict()

    def _common(self) -> dict:
        g = self.grades
        c = g.credit
        credit = ("all of its points" if c == 1 else "no points" if c == 0
                  else f"{c:g} of its points")
        return {"pp": g.points_places, "credit_text": credit,
                "title": f"problem set seed {g.key.seed}"}

    def context(self, fmt: str = "text") -> dict:
        from markupsafe import Markup

        from derive.grading import mistake_titles
        from render import grades as gr

        if fmt not in GRADE_FORMATS:
            raise DeriveError(f"a class report renders as {', '.join(GRADE_FORMATS)}, "
                              f"not {fmt}")
        histogram = (Markup(gr.histogram_svg(self.grades.histogram)) if fmt == "html"
                     else gr.histogram_text(self.grades.histogram))
        titles = mistake_titles()
        return {"doc": self.grades, "histogram": histogram, "titles": titles,
                "printable": gr.printable, **self._common()}

    def feedback(self, student, fmt: str = "html") -> str:
        """One student's marked sheet (a derive.grading.Student, or its index)."""
        return self._feedback(student, fmt, *self._parts(fmt))

    def _statements(self, fmt: str) -> dict:
        """What each problem gives (its network drawn, the values it states), made once per
        problem: the same for every student of its variant."""
        from markupsafe import Markup

        from render import render

        out = {}
        for student in self.grades.students:  # the variants some student has, each once
            for section in student.sections:
                if section.id not in out:
                    out[section.id] = Markup(render("_grade_problem", fmt,
                                                    sec=section).strip("\n"))
        return out

    def _parts(self, fmt: str):
        """What every feedback page of the class shares: its template, the problems'
        statements, the rows already made."""
        from render import environment
        from render.grades import Rows

        template = environment(fmt).get_template(f"{fmt}/grade_feedback.j2")
        return template, self._statements(fmt), Rows(fmt, self.grades.points_places)

    def _feedback(self, student, fmt: str, template, statements: dict, rows) -> str:
        if isinstance(student, int):
            student = self.grades.students[student]
        return template.render(s=student, key=self.grades.key, statements=statements,
                               rows=rows, **self._common())

    def files(self) -> dict:
        """Everything OUTDIR gets: path inside it -> text."""
        from render import grades as gr

        out = {"grades.csv": gr.grades_csv(self.grades),
               "report.html": self.render("html"), "report.md": self.render("markdown")}
        for fmt, ext in (("html", "html"), ("markdown", "md")):
            parts = self._parts(fmt)
            for s in self.grades.students:
                out[f"feedback/{s.feedback}.{ext}"] = self._feedback(s, fmt, *parts)
        return out

    def write(self, directory, force: bool = False) -> list:
        """Write every file into directory (created if missing), all or none."""
        from derive.output import write_files

        return write_files(directory, self.files(), force)
