"""Problem sets on paper: problems, solutions and answers.json, written variant by variant.

A set of 10,000 variants is never held whole: each variant is rendered (its problems, its
solutions, its entry of the key) and written out before the next is drawn, so memory does not
grow with the number of variants.  The documents are the templates under
templates/<format>/exam/: a beginning, one block per variant, an end.  answers.json has one
line per problem (a variant's problems under it), and reads back as the set's answers().
"""

from __future__ import annotations

import json
from functools import lru_cache

from markupsafe import Markup

from render import environment, filters

# the headings of the groups of an answer table (derive.problemset.sheet)
SHEET_GROUPS = {"forward": "Forward pass", "loss": "Loss", "errors": "Error terms",
                "gradients": "Gradients", "new": "After the update", "values": "Answers"}
CELLS_PER_ROW = {"latex": 4, "markdown": 1, "html": 1}  # boxes side by side; else one per line
DOCUMENTS = ("problems", "solutions")


def _label(cell, fmt: str) -> Markup:
    """How a cell of the answer table is labelled: $o_{4}$, new $w_{1,4}$, dE/dw_{1,4}."""
    from render import PROBLEM_LABELS

    if fmt == "html":
        return _label_html(cell)
    if cell.role == "new":
        return Markup(f"new ${filters.tex_name(cell.name)}$")
    if cell.role == "grad":
        return Markup(f"$\\partial E/\\partial {filters.tex_name(cell.name[1:])}$")
    if cell.name in PROBLEM_LABELS:
        return Markup(f"${PROBLEM_LABELS[cell.name]}$")
    return Markup(f"${filters.tex_name(cell.name)}$")


def _label_html(cell) -> Markup:
    """The same labels in MathML: o4, new w1,4, ∂E/∂w1,4, f′(z)."""
    from render import PROBLEM_MATHML

    if cell.role == "new":
        return Markup("new <math>%s</math>") % filters.mathml_name(cell.name)
    if cell.role == "grad":
        return Markup("<math><mi>∂</mi><mi>E</mi><mo>/</mo><mi>∂</mi>%s</math>") \
            % filters.mathml_name(cell.name[1:])
    if cell.name in PROBLEM_MATHML:
        return Markup(f"<math>{PROBLEM_MATHML[cell.name]}</math>")
    return Markup("<math>%s</math>") % filters.mathml_name(cell.name)


@lru_cache(maxsize=256)
def sheet_layout(sheet: tuple, fmt: str) -> tuple:
    """The rows of an answer table as laid out: (group heading or "", ((label, column, name),
    ...)); a group's heading on its first row only.  Tables of one shape are laid out once."""
    from markupsafe import escape as escape_html

    escape = {"latex": filters.escape_tex, "html": escape_html}.get(fmt, filters.escape_markdown)
    per_row = CELLS_PER_ROW[fmt]
    rows = []
    for group in sheet:
        heading = SHEET_GROUPS[group.group]
        for row in group.rows:
            for start in range(0, len(row), per_row):
                cells = tuple((_label(c, fmt), Markup(escape(c.column)) if fmt != "markdown"
                               else Markup(c.column), c.name) for c in row[start:start + per_row])
                rows.append((Markup(escape(heading)) if heading else Markup(""), cells))
                heading = ""
    return tuple(rows)


def _json(value) -> str:
    """One line of JSON (the C encoder: the indenting one is pure Python, and was a tenth of
    the time of writing 1,000 variants)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _answers_head(seed: int, kinds, options: dict) -> str:
    """answers.json up to its list of variants."""
    return (f'{{\n  "seed": {_json(seed)},\n  "kinds": {_json(list(kinds))},\n'
            f'  "options": {_json(options)},\n  "variants": [')


def _answers_entry(variant) -> str:
    """A variant's entry of answers.json: one line per problem (each problem's key as derive
    gives it, every number at 15 significant digits)."""
    problems = ",\n".join("      " + _json(p.key()) for p in variant.problems)
    return (f'    {{"variant": {variant.number}, "id": {_json(variant.id)}, "problems": [\n'
            f'{problems}\n    ]}}')


def answers_text(seed: int, kinds, options, variants) -> str:
    """answers.json of a set held whole, laid out as SetWriter streams it."""
    entries = ",\n".join(_answers_entry(v) for v in variants)
    return _answers_head(seed, kinds, options.to_dict()) + "\n" + entries + "\n  ]\n}\n"


class SetWriter:
    """Writes a problem set in latex, markdown or html to three open text streams (problems,
    solutions, answers): begin(), variant(v) for each variant in order, end()."""

    def __init__(self, fmt: str, seed: int, kinds, options, streams: dict, titles: dict):
        from render import PROBLEM_LABELS, PROBLEM_MATHML

        self.fmt = fmt
        self.streams = streams
        self.seed, self.kinds, self.options = seed, tuple(kinds), options
        env = environment(fmt)
        self.templates = {(doc, part): env.get_template(f"{fmt}/exam/{doc}_{part}.j2")
                          for doc in DOCUMENTS for part in ("begin", "variant")}
        self.end_template = env.get_template(f"{fmt}/exam/end.j2")
        self.context = dict(seed=seed, kinds=self.kinds, options=options,
                            titles=titles,
                            labels=PROBLEM_MATHML if fmt == "html" else PROBLEM_LABELS,
                            sheet_layout=self.layout,
                            blank_sheet=self.blank_sheet)
        self.sheet_template = env.get_template(f"{fmt}/exam/_sheet.j2")
        self.blanks: dict = {}
        self.count = 0

    def layout(self, p) -> tuple:
        return sheet_layout(p.sheet, self.fmt)

    def blank_sheet(self, p) -> Markup:
        """The empty answer table of a problem (rendered once for every problem of its shape:
        the sheet is most of a problem's page, and the same in every variant)."""
        sheet = p.sheet
        if sheet not in self.blanks:
            self.blanks[sheet] = Markup(self.sheet_template.render(
                p=p, filled=False, **self.context))
        return self.blanks[sheet]

    def begin(self) -> None:
        for doc in DOCUMENTS:
            self.streams[doc].write(self.templates[doc, "begin"].render(**self.context))
        self.streams["answers"].write(_answers_head(self.seed, self.kinds,
                                                    self.options.to_dict()))

    def parts(self, v) -> tuple[str, ...]:
        """A variant as written: its problems, its solutions, its entry of answers.json (what
        a worker process of derive.problemset.parallel hands back)."""
        return (*(self.templates[doc, "variant"].render(v=v, **self.context)
                  for doc in DOCUMENTS), _answers_entry(v))

    def put(self, parts) -> None:
        """A variant's parts (from parts()) written after the ones before."""
        *docs, entry = parts
        for doc, text in zip(DOCUMENTS, docs):
            self.streams[doc].write(text)
        self.streams["answers"].write(("\n" if self.count == 0 else ",\n") + entry)
        self.count += 1

    def variant(self, v) -> None:
        self.put(self.parts(v))

    def end(self) -> None:
        for doc in DOCUMENTS:
            self.streams[doc].write(self.end_template.render(**self.context))
        self.streams["answers"].write("\n  ]\n}\n")


def write_set(fmt: str, seed: int, kinds, options, variants, streams: dict,
              titles: dict) -> int:
    """The whole set to the streams (titles: each kind's heading); the number of variants
    written."""
    writer = SetWriter(fmt, seed, kinds, options, streams, titles)
    writer.begin()
    for v in variants:
        writer.variant(v)
    writer.end()
    return writer.count
