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

from derive.errors import DeriveError, check_decimals


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
        """The worked example as plain data (derive.worked.WorkedExample), made on demand."""
        if self._doc is None:
            from derive.numeric.network import step
            from derive.worked import worked_example

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
    check_decimals(decimals)
    if isinstance(example, bool) or not isinstance(example, int) or example < 1:
        raise DeriveError(f"example must be a whole number from 1, not {example!r}")
    if example > len(spec.examples):
        raise DeriveError(f"example {example}: the spec has only {len(spec.examples)} "
                          f"example(s)")
    return Example(spec, example - 1, rounding, decimals)


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
            from derive.train_document import check_renderable, train_document

            check_renderable(self.spec)
            self._doc = train_document(self.spec, self.runs, compare=self.compare,
                                       decimals=self.decimals, init=self.init,
                                       standardization=self.standardization)
        return self._doc


def train(spec=None, mode: str | None = None, *, batch_size: int | None = None,
          max_epochs: int = 100, min_change: float | None = None,
          target_loss: float | None = None, max_misclassified: float | None = None,
          shuffle: bool = False, seed: int | None = None, standardize: bool = False,
          init: str | None = None, lr: float | None = None, compare_modes: bool = False,
          decimals: int = 3, progress=None) -> Training:
    """Gradient descent over epochs: mode "batch", "sgd" or "minibatch" (with batch_size),
    or compare_modes=True for all three from the same start.

    Stops at the first of max_epochs, min_change, target_loss, max_misclassified (checked at
    the end of each epoch).  init "gaussian" or "uniform" (with seed) fills layers given
    only as size = N; standardize scales each input feature to mean 0, sd 1 first.
    progress(done, total) is called as the epochs go.
    """
    import math

    from derive import spec as specs
    from derive.numeric import train as training

    check_decimals(decimals)
    if compare_modes and mode is not None:
        raise DeriveError("--compare-modes runs batch, sgd and minibatch; leave out --mode")
    if not compare_modes and mode is None:
        raise DeriveError("--mode is required: --mode batch, --mode sgd or --mode minibatch "
                          "(or --compare-modes to run all three)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise DeriveError(f"--seed must be a whole number from 0, not {seed!r}")
    if shuffle and mode == "batch":
        raise DeriveError("--shuffle changes nothing in --mode batch (every update uses all "
                          "the examples); use it with --mode sgd or minibatch")
    criteria = training.Criteria(max_epochs, min_change, target_loss,
                                 max_misclassified).check()
    initializer = training.initializer(init, seed) if init else None
    if initializer is not None:
        if not isinstance(spec, (str, Path)):
            raise DeriveError("--init needs --spec: a spec whose layers give only size = N")
        spec = specs.load(spec, initializer)
    else:
        spec = load_spec(spec)
    if lr is not None:
        spec = spec.with_learning_rate(lr)
    info = None
    if standardize:
        spec, info = training.standardize(spec)
    n = len(spec.examples)
    if compare_modes:
        plan = [("batch", None), ("sgd", None),
                ("minibatch", batch_size if batch_size is not None else max(1, math.ceil(n / 2)))]
    else:
        plan = [(mode, batch_size)]
    for m, b in plan:  # refuse impossible combinations before any work
        training.check_mode(m, b, n)
    training.check_work(plan, n, len(spec.parameter_names()), criteria.max_epochs)
    runs = []
    for k, (m, b) in enumerate(plan):
        def report(epoch, total, k=k):
            if progress is not None:
                progress(k * total + epoch, len(plan) * total)

        runs.append(training.train(spec, m, b, criteria, shuffle and m != "batch", seed,
                                   progress=report))
    return Training(spec, runs, compare_modes, decimals, (init, seed) if init else None, info)


class _quiet:
    """No progress bar (the library's default; the CLI passes one that draws on stderr)."""

    def __init__(self, label, runs, steps):
        pass

    def __enter__(self):
        return lambda i: None

    def __exit__(self, *exc):
        return False


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


def _as_text(value, join=","):
    """Accept the CLI's text or the natural Python value: 0.01 / [0.1, 0.2] / {"c": 3}."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return join.join(f"{k}={v!r}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return join.join(":".join(map(repr, v)) if isinstance(v, (list, tuple)) else repr(v)
                         for v in value)
    return repr(value)


def descend(model: str | None = None, data=None, params=None, preset: str | None = None,
            function: str | None = None, start=None, lr=None, steps: int | None = None,
            decimals: int = 4, progress=_quiet) -> Descent:
    """Fit `model` (an expression in x and its parameters) to `data` pairs by gradient descent
    on the mean squared error from `params` (e.g. {"c": 3}), one run per learning rate in
    `lr`; or a `preset` ("shekels", "miles"); or minimise `function` of x from each `start`.

    Every expression goes through the safe parser: nothing is evaluated as code.
    """
    from derive.numeric import descend as dsc

    check_decimals(decimals)
    data, lr, start = _as_text(data), _as_text(lr), _as_text(start)
    if isinstance(params, dict):
        params = [_as_text(params)]
    elif isinstance(params, str):
        params = [params]
    params = tuple(params or ())
    if steps is not None and not 0 <= steps <= dsc.MAX_STEPS:
        raise DeriveError(f"--steps must be from 0 to {dsc.MAX_STEPS:,}, not {steps}")

    if function is not None:
        if model or data or params or preset:
            raise DeriveError("--function minimises a function of x directly; leave out "
                              "--model, --data, --param and --preset")
        if start is None:
            raise DeriveError("--function needs --start A,B,... (where each run starts)")
        if lr is None:
            raise DeriveError("--function needs --lr ETA")
        rates = dsc.parse_rates(lr)
        if len(rates) != 1:
            raise DeriveError("--function takes one learning rate (several rates compare "
                              "fits of a model: use them with --model or --preset)")
        starts = dsc.parse_numbers(start, "--start")
        n = 100 if steps is None else steps
        dsc.check_work(len(starts), n, "--start")
        fn = dsc.compile_function(function)
        with progress("descending", 1, n) as bars:  # the starts go side by side
            runs = dsc.minimize_all(fn, starts, rates[0], n, bars(0))
        points = _stationary(fn, runs)
        value = {"runs": [r.to_dict() for r in runs],
                 "stationary_points": [{"x": p["x"], "value": p["value"], "kind": p["kind"]}
                                       for p in points["points"]],
                 "function": fn.expression, "derivative": fn.derivative,
                 "lr": rates[0], "method": points["method"], "omitted": points["omitted"]}

        def document():
            from derive.descend_document import minimize_document

            return minimize_document(fn, runs, points, decimals=decimals)

        return Descent(value, document)

    if start is not None:
        raise DeriveError("--start goes with --function; a model starts from --param")
    if preset is not None and preset not in dsc.PRESETS:
        from derive.errors import unknown

        raise unknown("preset", preset, dsc.PRESETS)
    chosen = dsc.PRESETS[preset] if preset else None
    if chosen is None and not (model and data and params):
        raise DeriveError("give --model, --data and --param (e.g. --model \"c*x\" --data "
                          "\"10:36.7,20:73.4\" --param c=3), a --preset (shekels, miles), "
                          "or --function")
    model_text = model if model is not None else chosen["model"]
    xs, ys = dsc.parse_data(data if data is not None else chosen["data"])
    start_params = dsc.parse_params(params or [chosen["param"]])
    if lr is None and chosen is None:
        raise DeriveError("--lr is needed: the learning rate (or several, e.g. "
                          "0.0001,0.001,0.02)")
    rates = dsc.parse_rates(lr if lr is not None else chosen["lr"])
    n = steps if steps is not None else (chosen["steps"] if chosen else 10)
    dsc.check_work(len(rates), n, "--lr")
    compiled = dsc.compile_model(model_text, list(start_params))
    with progress("descending", 1, n) as bars:  # the rates go side by side
        runs = dsc.fit_all(compiled, xs, ys, start_params, rates, n, bars(0))
    preset_doc = None
    if chosen:
        preset_doc = {"name": preset, "description": chosen["description"],
                      "overridden": [name for name, v in (("--model", model), ("--data", data),
                                                          ("--param", params), ("--lr", lr),
                                                          ("--steps", steps)) if v]}
    common = {"model": compiled.expression, "data": [[x, y] for x, y in zip(xs, ys)]}
    if preset_doc:
        common["preset"] = {"name": preset, "description": chosen["description"]}
    if len(runs) == 1:
        value = {**runs[0].to_dict(), **common}
        value = {"steps": value.pop("steps"), "diverged": value.pop("diverged"), **value}
    else:
        value = {"runs": [r.to_dict() for r in runs], **common}

    def document():
        from derive.descend_document import fit_document

        return fit_document(compiled, xs, ys, runs, preset=preset_doc, decimals=decimals)

    return Descent(value, document)


def _stationary(fn, runs) -> dict:
    """Stationary points (SymPy, in the worker, within its budget) over a range that covers
    every run's start and end."""
    import math

    from derive.symbolic import worker

    xs = [r.start for r in runs] + [r.end for r in runs if math.isfinite(r.end)]
    xs = [x for x in xs if abs(x) <= 1e3] or [0.0]
    lo, hi = min(xs), max(xs)
    pad = max(5.0, hi - lo)
    return worker.run("stationary", fn.text, lo - pad, hi + pad, user=True,
                      what=f"--function '{fn.text}'")


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


def check(answers, spec=None, decimals: int | None = None, example: int | None = None) -> Check:
    """Mark a hand calculation.

    answers: an answers TOML file (which may name its own spec, decimals and example), or a
    dict {name: value} such as {"o4": "0.332", "Err6": "0.1311"} (give values as text to keep
    the places written: 0.330 is three places, TOML and floats say 0.33).  spec overrides the
    file's; decimals (default 3) and example (from 1) likewise.
    """
    from derive import marking

    if isinstance(answers, (str, Path)):
        af = marking.load_answers(answers)
        chosen = load_spec(spec if spec is not None else af.spec_path)
        values = dict(af.answers)
        decimals = af.decimals if decimals is None else decimals
        index = af.example if example is None else example - 1
        source = af.source
    elif isinstance(answers, dict):
        chosen = load_spec(spec)
        values = {str(k): (v if isinstance(v, str) else repr(v)) for k, v in answers.items()}
        decimals = 3 if decimals is None else decimals
        index = 0 if example is None else example - 1
        source = "answers"
    else:
        raise DeriveError(f"answers are a TOML file's path or a dict, not "
                          f"{type(answers).__name__}")
    check_decimals(decimals)
    try:
        if index >= len(chosen.examples) or index < 0:
            raise DeriveError(f"{source}: example {index + 1}, but the spec has only "
                              f"{len(chosen.examples)} example(s)")
        if not values:
            raise DeriveError(f"{source}: nothing to check: give values such as o4 = 0.332 "
                              f"or Err6 = 0.1311")
        return Check(marking.check(chosen, values, decimals, index))
    except DeriveError as exc:
        if not isinstance(answers, (str, Path)):
            raise
        raise DeriveError(_answers_line(str(exc), Path(answers), source)) from None


def _answers_line(message: str, path: Path, source: str) -> str:
    """Name the answers file and the line of the value a refusal is about."""
    import re

    from derive.spec import with_line

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return message
    m = re.match(r"unknown quantity '([^']*)'", message)
    if m:  # marking names the quantity, not the file
        message = f"{source}: {m[1]}: {message}"
    return with_line(message, text, source)


PROBLEM_FORMATS = ("latex", "markdown", "moodle", "qti")
_QUIZ_FILES = {"moodle": "moodle.xml", "qti": "canvas-qti.zip"}  # beside answers.json
# every file a problem set of any format writes into its directory
PROBLEM_SET_FILES = ("problems.tex", "solutions.tex", "problems.md", "solutions.md",
                     "problems.pdf", "solutions.pdf", *_QUIZ_FILES.values(), "answers.json")


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
        from render import render_problems

        self._check_format(fmt, title)
        if fmt in _QUIZ_FILES:
            from render.quiz import check_canvas_places, moodle_xml, qti_zip, write_moodle, \
                write_qti

            if fmt == "qti":
                check_canvas_places(self.pset.options.decimals)
            if stream:
                writer = write_moodle if fmt == "moodle" else write_qti
                quiz = lambda fh: writer(self.pset, fh, title)  # noqa: E731
            else:
                quiz = moodle_xml(self.pset, title) if fmt == "moodle" else \
                    qti_zip(self.pset, title)
            from render.exam import answers_text

            pset = self.pset
            return {_QUIZ_FILES[fmt]: quiz, "answers.json": answers_text(
                pset.seed, pset.kinds, pset.options, pset.variants),
                    "submissions.csv": self.sheet()}
        rendered = render_problems(self.pset, fmt)
        ext = _DOCUMENT_EXT[fmt]
        return {f"problems.{ext}": rendered["problems"],
                f"solutions.{ext}": rendered["solutions"], "answers.json": rendered["answers"],
                "submissions.csv": self.sheet()}

    def sheet(self) -> str:
        """submissions.csv: the empty class sheet `derive grade` reads (header only)."""
        from derive.grading import sheet_columns
        from derive.submissions import empty_sheet

        return empty_sheet(sheet_columns(self.pset.answers()))

    def _check_format(self, fmt: str, title: str | None, pdf: bool = False) -> None:
        if fmt not in PROBLEM_FORMATS:
            from derive.errors import unknown

            raise unknown("problem-set format", fmt, PROBLEM_FORMATS)
        if fmt in _QUIZ_FILES:
            if self.options.chain:
                raise DeriveError("--chain links the problems of one variant on paper; a quiz "
                                  "draws each question's variant on its own: use --chain with "
                                  "--format latex or markdown")
        elif title is not None:
            raise DeriveError("--title names a quiz: use it with --format moodle or qti")
        if pdf:
            check_pdf(fmt)

    def write(self, directory, fmt: str = "latex", force: bool = False,
              title: str | None = None, pdf: bool = False) -> list:
        """Write the files into directory (created if missing), all or none.  LaTeX and
        Markdown are streamed variant by variant; pdf=True compiles the LaTeX with pdflatex
        (problems.pdf and solutions.pdf beside the .tex)."""
        from derive.output import Staged, write_files

        self._check_format(fmt, title, pdf)
        if fmt in _QUIZ_FILES:
            # with --force over an earlier set in another format, its files go: a directory
            # never holds problems.tex beside the moodle.xml of another set
            return write_files(directory, self.files(fmt, title, stream=True), force,
                               replaces=PROBLEM_SET_FILES)
        from render.exam import SetWriter

        ext = _DOCUMENT_EXT[fmt]
        asked: dict = {}  # (kind, asked names) of the problems written: the sheet's columns
        with Staged(directory, force, replaces=PROBLEM_SET_FILES) as out:
            streams = {"problems": out.open(f"problems.{ext}"),
                       "solutions": out.open(f"solutions.{ext}"),
                       "answers": out.open("answers.json")}
            writer = SetWriter(fmt, self.seed, self.kinds, self.options, streams)
            writer.begin()
            for parts, shapes in self._rendered(writer):
                writer.put(parts)
                for shape in shapes:
                    asked.setdefault(shape, None)
            writer.end()
            out.open("submissions.csv").write(_empty_sheet(self.kinds, asked))
            out.close()
            if pdf:
                from render.latex import LatexError, compile_file

                for doc in ("problems", "solutions"):
                    if self.progress is not None and hasattr(self.progress, "phase"):
                        self.progress.phase(f"compiling {doc}.pdf with pdflatex")
                    try:
                        compile_file(out.path(f"{doc}.tex"), out.reserve(f"{doc}.pdf"))
                    except LatexError as exc:
                        raise DeriveError(f"pdflatex could not compile {doc}.tex: {exc}; "
                                          f"nothing was written") from None
            return out.paths()

    def _rendered(self, writer):
        """(parts, asked shapes) of every variant in order: from the set if it is held, else
        drawn one by one, by worker processes when the set is large
        (derive.problemset.parallel); the same bytes either way."""
        fn = _Rendered(writer)
        if self._pset is not None:
            for v in self._pset.variants:
                yield fn(v)
            return
        from derive.problemset.parallel import mapped_variants

        yield from mapped_variants(self.kinds, self.count, self.seed, self.options, fn,
                                   progress=self.progress)

    def render(self, fmt: str, **options) -> str:
        files = self.files(fmt if fmt != "json" else "markdown")
        if fmt == "json":
            return files["answers.json"]
        if fmt not in ("latex", "markdown"):
            raise DeriveError(f"a problem set renders as one text in latex or markdown, not "
                              f"{fmt}; use files() or write()")
        ext = _DOCUMENT_EXT[fmt]
        return files[f"problems.{ext}"] + "\n" + files[f"solutions.{ext}"]


_DOCUMENT_EXT = {"latex": "tex", "markdown": "md"}


class _Rendered:
    """A variant as Problems.write takes it: the writer's parts (problems, solutions, its
    entry of answers.json) and each problem's asked names (in the order grade reads them) for
    the sheet written after the last variant.  A plain function of the variant, so a worker
    process of derive.problemset.parallel can compute it."""

    def __init__(self, writer):
        self.writer = writer

    def __call__(self, v) -> tuple:
        from derive.grading import asked_order

        return self.writer.parts(v), tuple((p.kind, tuple(asked_order(p.answers, p.spec)))
                                           for p in v.problems)


def _empty_sheet(kinds, asked: dict) -> str:
    """submissions.csv for the problems noted by _Rendered: what sheet() writes for a set
    held whole."""
    from derive.grading import sheet_columns
    from derive.submissions import empty_sheet

    raw = {"kinds": list(kinds), "variants": [{"problems": [
        {"kind": kind, "answers": dict.fromkeys(names)} for kind, names in asked]}]}
    return empty_sheet(sheet_columns(raw))


def check_pdf(fmt: str) -> None:
    """--pdf: LaTeX only, and pdflatex must be there (refused before any work)."""
    if fmt != "latex":
        raise DeriveError(f"--pdf compiles LaTeX: use it with --format latex, not {fmt}")
    from render.latex import INSTALL, have_pdflatex

    if not have_pdflatex():
        raise DeriveError(f"--pdf needs pdflatex, which is not installed (not on PATH); "
                          f"{INSTALL}; or leave out --pdf and compile problems.tex and "
                          f"solutions.tex yourself (twice, for the page numbers)")


def _problem_kinds(kinds) -> list[str]:
    from derive.errors import unknown
    from derive.problemset import KINDS

    names = ([k.strip() for k in kinds.split(",") if k.strip()] if isinstance(kinds, str)
             else [str(k) for k in kinds])
    if not names:
        raise DeriveError(f"--kinds is empty; choose from: {', '.join(KINDS)}")
    for name in names:
        if name not in KINDS:
            raise unknown("problem kind", name, KINDS)
    if len(set(names)) != len(names):
        raise DeriveError(f"--kinds names a kind twice: {','.join(names)}")
    return names


def _network_sizes(network) -> tuple[int, ...]:
    text = network if isinstance(network, str) else ",".join(map(str, network))
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise DeriveError(f"--network must be layer sizes like 3,2,1, not '{text}'") from None
    if len(sizes) < 2 or any(s < 1 or s > 6 for s in sizes):
        raise DeriveError(f"--network needs at least two layer sizes, each from 1 to 6 "
                          f"(worked by hand), not '{text}'")
    return sizes


MAX_VARIANTS = 10_000  # one per student: a large course (streamed, about 15 s)
PAPERS = ("letter", "a4")


def problems(kinds, variants: int = 1, seed: int = 0, *, network=(3, 2, 1),
             activation: str | None = None, loss: str | None = None, lr: float | None = None,
             decimals: int = 3, choices: int | None = None, dead_units: bool = False,
             alpha: float | None = None, chain: bool = False, paper: str = "letter",
             duplex: bool = False, progress=None) -> Problems:
    """Problem sets in seeded variants: kinds "forward,backward,update" (or a list) from
    activation, loss, forward, backward, update, step, descent, batch, minima.  Variant k is
    the same whatever `variants` is; the same seed and options give the same files.
    dead_units=True asks for networks with a dead ReLU (flat) hidden unit, whose error term
    is 0 and whose incoming weights do not change; otherwise such draws are redrawn.
    chain=True follows one network through the forward, loss, backward and update problems
    of a variant (later problems use the student's earlier answers); paper ("letter" or
    "a4") and duplex (each variant starts on an odd page) lay out the LaTeX for print.
    Nothing is drawn until the result is written or read (progress(n) after variant n)."""
    from derive.problemset import Options
    from derive.problemset.chain import check_chain
    from derive.symbolic.definitions import activation_def, loss_def

    names = _problem_kinds(kinds)
    sizes = _network_sizes(network)
    for what, value, low, high in (("--variants", variants, 1, MAX_VARIANTS),
                                   ("--seed", seed, 0, None),
                                   ("--decimals", decimals, 1, 6), ("--choices", choices, 2, 6)):
        if value is None and what == "--choices":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                high is not None and value > high):
            valid = f"from {low} to {high}" if high is not None else f"from {low}"
            raise DeriveError(f"{what} must be a whole number {valid}, not {value!r}")
    if activation is not None:
        activation_def(activation)
    if loss is not None:
        loss_def(loss)
    if dead_units:
        chosen = activation or "sigmoid"
        if chosen not in ("relu",) or len(sizes) < 3:
            raise DeriveError("--dead-units asks for a dead ReLU hidden unit: give "
                              "--activation relu and a network with a hidden layer "
                              "(e.g. --network 3,2,1)")
        if any(k not in ("forward", "backward", "update", "step") for k in names):
            raise DeriveError("--dead-units goes with the network kinds: forward, backward, "
                              "update, step")
    if lr is not None and not (0 < lr < 100):
        raise DeriveError(f"--lr must be greater than 0 (and sensible), not {lr}")
    if alpha is not None:
        alpha = _finite(alpha, "--alpha")
        if activation is None or "alpha" not in activation_def(activation).defaults:
            raise DeriveError("--alpha sets the parameter of leaky_relu or elu: give "
                              "--activation leaky_relu or --activation elu with it")
    if paper not in PAPERS:
        raise DeriveError(f"--paper must be one of {', '.join(PAPERS)}, not {paper!r}")
    if chain:
        check_chain(names)
    options = Options(network=sizes, activation=activation, loss=loss, lr=lr,
                      decimals=decimals, choices=choices, dead_units=bool(dead_units),
                      alpha=alpha, chain=bool(chain), paper=paper, duplex=bool(duplex))
    return Problems(names, variants, seed, options, progress=progress)


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


def _finite(value, what: str) -> float:
    """A parameter value given on the command line or to the API: a finite real number."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DeriveError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def activation(name: str | None = None, *, expr: str | None = None,
               alpha: float | None = None) -> Derivation:
    """An activation's derivative step by step, its form in the unit's output, its range and
    where its gradient vanishes: a registered name (sigmoid, tanh, relu, ...) or a custom
    expression in z (expr="z/(1 + abs(z))"), read by the safe parser, never evaluated.
    alpha sets the parameter of leaky_relu and elu (any real number; the form in the output
    holds only for alpha >= 0, and the document says why not below)."""
    from derive import explain
    from derive.symbolic.definitions import ACTIVATIONS, activation_def

    if expr is not None and name is not None:
        raise DeriveError("give either an activation NAME or --expr, not both")
    if expr is None and name is None:
        raise DeriveError(f"give an activation NAME ({', '.join(ACTIVATIONS)}) or --expr "
                          f"\"EXPRESSION in z\"")
    defn = explain.custom_definition(expr) if expr is not None else activation_def(name)
    params = {}
    if alpha is not None:
        if "alpha" not in defn.defaults:
            raise DeriveError(f"--alpha: the activation '{defn.name}' has no parameter alpha "
                              f"(leaky_relu and elu have)")
        params["alpha"] = _finite(alpha, "--alpha")
    doc = explain.activation_document(defn, params)
    return Derivation("activation", doc, explain.activation_json(doc))


def loss(name: str, output_activation: str | None = None) -> Derivation:
    """A loss's dE/do and its error term Err = -dE/di for an output activation (the
    cancellations of bce + sigmoid and ce + softmax to t - o), its range, and how much
    confidently wrong predictions cost."""
    from derive import explain

    doc = explain.loss_document(name, output_activation)
    return Derivation("loss", doc, explain.loss_json(doc))


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


def graph(expr: str, at: str | None = None, **values) -> Graph:
    """Forward primal and reverse adjoint trace of expr at a point, given as keywords
    (graph("log(x1) + x1*x2 - sin(x2)", x1=2, x2=5)) or as the CLI's text at="x1=2,x2=5"."""
    from derive.adtrace import parse_point, trace

    if at is not None and values:
        raise DeriveError("give the point either as at=\"x1=2,x2=5\" or as keywords, not both")
    point = parse_point(at) if at is not None else \
        parse_point(",".join(f"{k}={float(v)!r}" for k, v in values.items()))
    return Graph(trace(expr, point))


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


def grade(problem_set, submissions, *, points=None,
          carried_forward_credit: float = 1.0) -> Grades:
    """Mark a whole class: problem_set is the directory `derive problems` wrote (or its
    answers.json), submissions the class sheet (CSV: student, variant, then KIND.NAME
    columns).  points: a POINTS.toml path or a dict ({"forward.o4": 2, "forward": 1,
    "default": 1}); carried_forward_credit: the share of its points a value right only from
    the student's own wrong earlier values earns (0 to 1).  Each value is marked as
    `derive check` marks it."""
    from derive import grading, submissions as sheets

    key = grading.load_key(problem_set)
    if points is None:
        table = grading.points_table(key)
    elif isinstance(points, dict):
        table = grading.points_table(key, points, "points")
    elif isinstance(points, (str, Path)):
        table = grading.load_points(points, key)
    else:
        raise DeriveError(f"points are a POINTS.toml path or a dict, not "
                          f"{type(points).__name__}")
    if isinstance(carried_forward_credit, bool) or not isinstance(carried_forward_credit,
                                                                   (int, float)):
        raise DeriveError(f"carried_forward_credit must be a number from 0 to 1, not "
                          f"{carried_forward_credit!r}")
    if not isinstance(submissions, (str, Path)):
        raise DeriveError(f"submissions is the class sheet's path (CSV), not "
                          f"{type(submissions).__name__}")
    sheet = sheets.read(submissions, key.columns)
    return Grades(grading.grade(key, sheet, table, float(carried_forward_credit)))
