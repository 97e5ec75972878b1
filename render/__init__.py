"""Jinja renders derive's documents (plain data) as text, Markdown, LaTeX or JSON.

One environment per format, all with StrictUndefined, so a misspelt field is an error and
never an empty string.  User text is escaped for the format on its way out (`finalize`);
LaTeX that derive produced itself (SymPy's latex()) is marked trusted with the `tex` filter.
Templates only lay out: numbers reach them computed, and leave through the `num` filter.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from render import filters

FORMATS = ("text", "markdown", "latex", "html", "json")
SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".tex": "latex",
            ".json": "json",
            ".html": "html"}
EXTENSIONS = {"text": "txt", "markdown": "md", "latex": "tex", "html": "html"}


def template_dir() -> Path:
    """templates/: inside the package when installed from a wheel (pyproject.toml maps it to
    render/templates), beside the package in a source tree or an editable install."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "text").is_dir():
            return candidate
    raise FileNotFoundError(f"derive's templates are missing (looked in {here})")


def _loader():
    from jinja2 import FileSystemLoader

    return FileSystemLoader(str(template_dir()))


_DICT_ATTRIBUTES = frozenset(dir(dict))


def _environment_class():
    from jinja2 import Environment

    class DocumentEnvironment(Environment):
        """`row.unit` on a dict (the documents are dicts) looks up the key at once: Jinja's
        own order tries the attribute first, and the AttributeError it raises for every
        lookup was a tenth of rendering a problem set.  Same result: a dict has no attribute
        of that name (names of dict's own attributes, such as items, keep Jinja's order)."""

        def getattr(self, obj, attribute):
            if type(obj) is dict:
                if attribute not in _DICT_ATTRIBUTES:
                    try:
                        return obj[attribute]
                    except KeyError:
                        pass
            else:  # Environment.getattr's first try, without its call
                try:
                    return getattr(obj, attribute)
                except AttributeError:
                    pass
            return Environment.getattr(self, obj, attribute)

    return DocumentEnvironment


def _bytecode_cache(options: dict):
    """Compiled templates kept as Python keeps compiled modules: in __pycache__ beside the
    templates (or under PYTHONPYCACHEPREFIX), written only when Python writes bytecode, read
    only when the template's source is unchanged (Jinja checks it).  Compiling the templates
    of a problem set was 0.1 s of every run.  The key holds Jinja's version and the
    environment's options, which shape the compiled code; a directory that cannot be written
    just means compiling every time, as before."""
    import hashlib
    import importlib.util
    import os
    import sys

    import jinja2
    from jinja2 import FileSystemBytecodeCache

    config = jinja2.__version__ + repr(sorted(
        (k, "set" if k == "finalize" else repr(v)) for k, v in options.items()
        if k != "loader" and v is not None))

    class TemplateBytecode(FileSystemBytecodeCache):
        def get_cache_key(self, name, filename=None):
            return hashlib.sha1(f"{config}|{name}|{filename}".encode()).hexdigest()

        def load_bytecode(self, bucket):
            try:
                super().load_bytecode(bucket)
            except Exception:  # noqa: BLE001  (unreadable or damaged: compiled afresh)
                bucket.reset()

        def dump_bytecode(self, bucket):
            if sys.dont_write_bytecode:
                return
            try:
                os.makedirs(self.directory, exist_ok=True)
                super().dump_bytecode(bucket)
            except OSError:
                pass

    directory = os.path.dirname(importlib.util.cache_from_source(
        str(template_dir() / "templates.py")))
    return TemplateBytecode(directory, "%s.jinja")


@lru_cache(maxsize=None)
def environment(fmt: str):
    from jinja2 import StrictUndefined

    # auto_reload off: templates do not change while derive runs (no stat per include)
    options = dict(loader=_loader(), undefined=StrictUndefined, trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=True, autoescape=fmt == "html",
                   auto_reload=False)
    if fmt == "latex":
        # braces are LaTeX's: Jinja's markers must not be
        options.update(block_start_string=r"\BLOCK{", block_end_string="}",
                       variable_start_string=r"\VAR{", variable_end_string="}",
                       comment_start_string=r"\#{", comment_end_string="}",
                       line_statement_prefix="%%", line_comment_prefix="%#")
    options.update(finalize=filters.finalizer(fmt))  # a finalizer shapes the compiled code
    env = _environment_class()(**options, bytecode_cache=_bytecode_cache(options))
    env.filters.update(filters.for_format(fmt))
    env.globals.update(fmt=fmt)
    if fmt == "latex":  # the characters every preamble declares (templates/latex/_unicode.j2)
        env.globals.update(unicode_table=filters.LATEX_UNICODE)
    return env


def render(template: str, fmt: str, **data) -> str:
    """Render templates/<fmt>/<template>.j2 with the document's data."""
    if fmt == "json":
        raise ValueError("JSON is written with to_json, not a template")
    return environment(fmt).get_template(f"{fmt}/{template}.j2").render(**data)


def to_json(value) -> str:
    """JSON with full-precision floats, keys in the order derive produced them."""
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# how answers that are not unit or parameter names are written (LaTeX math, both formats)
PROBLEM_LABELS = {"f": "f(z)", "fprime": "f'(z)", "loss": "E", "loss_min": r"\inf E",
                  "loss_max": r"\sup E", "grad0": r"\mathrm{d}E/\mathrm{d}c\,(c_0)",
                  "eta_max": r"\eta_{\max}", "diverges": r"\text{diverges}",
                  "x_global": r"x_{\text{global min}}", "x_local": r"x_{\text{local min}}",
                  "x_max": r"x_{\max}", "f_global": r"f(x_{\text{global min}})",
                  "f_local": r"f(x_{\text{local min}})", "end": r"x_{\text{end}}",
                  "batch_size": r"\text{batch size}"}
# the same labels in MathML (the html problem sets), inside <math>
PROBLEM_MATHML = {
    "f": "<mi>f</mi><mo>(</mo><mi>z</mi><mo>)</mo>",
    "fprime": "<msup><mi>f</mi><mo>′</mo></msup><mo>(</mo><mi>z</mi><mo>)</mo>",
    "loss": "<mi>E</mi>", "loss_min": "<mo>inf</mo><mi>E</mi>", "loss_max": "<mo>sup</mo><mi>E</mi>",
    "grad0": "<mi mathvariant=\"normal\">d</mi><mi>E</mi><mo>/</mo><mi mathvariant=\"normal\">d</mi>"
             "<mi>c</mi><mspace width=\"0.17em\"/><mo>(</mo><msub><mi>c</mi><mn>0</mn></msub><mo>)</mo>",
    "eta_max": "<msub><mi>η</mi><mo>max</mo></msub>", "diverges": "<mtext>diverges</mtext>",
    "x_global": "<msub><mi>x</mi><mtext>global min</mtext></msub>",
    "x_local": "<msub><mi>x</mi><mtext>local min</mtext></msub>",
    "x_max": "<msub><mi>x</mi><mo>max</mo></msub>",
    "f_global": "<mi>f</mi><mo>(</mo><msub><mi>x</mi><mtext>global min</mtext></msub><mo>)</mo>",
    "f_local": "<mi>f</mi><mo>(</mo><msub><mi>x</mi><mtext>local min</mtext></msub><mo>)</mo>",
    "end": "<msub><mi>x</mi><mtext>end</mtext></msub>", "batch_size": "<mtext>batch size</mtext>"}


def render_problems(pset, fmt: str) -> dict:
    """problems, solutions (in fmt) and the answers.json text of a derive.problemset set."""
    import io

    from render.exam import write_set

    streams = {name: io.StringIO() for name in ("problems", "solutions", "answers")}
    write_set(fmt, pset.seed, pset.kinds, pset.options, pset.variants, streams, pset.titles)
    return {name: s.getvalue() for name, s in streams.items()}
