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


@lru_cache(maxsize=None)
def environment(fmt: str):
    from jinja2 import Environment, StrictUndefined

    options = dict(loader=_loader(), undefined=StrictUndefined, trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=True, autoescape=fmt == "html")
    if fmt == "latex":
        # braces are LaTeX's: Jinja's markers must not be
        options.update(block_start_string=r"\BLOCK{", block_end_string="}",
                       variable_start_string=r"\VAR{", variable_end_string="}",
                       comment_start_string=r"\#{", comment_end_string="}",
                       line_statement_prefix="%%", line_comment_prefix="%#")
    env = Environment(**options)
    env.finalize = filters.finalizer(fmt)
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


def render_problems(pset, fmt: str) -> dict:
    """problems, solutions (in fmt) and the answers.json text of a derive.problemset set."""
    from derive.problemset import KINDS

    titles = {name: k.title for name, k in KINDS.items()}
    data = dict(pset=pset, titles=titles, labels=PROBLEM_LABELS)
    return {"problems": render("problems", fmt, **data),
            "solutions": render("solutions", fmt, **data),
            "answers": to_json(pset.answers())}
