"""Problem sets on paper: problems, solutions and answers.json, written variant by variant.

A set of 10,000 variants is never held whole: each variant is rendered (its problems, its
solutions, its entry of the key) and written out before the next is drawn, so memory does not
grow with the number of variants.  The documents are the templates under
templates/<format>/exam/: a beginning, one block per variant, an end.
"""

from __future__ import annotations

import json
import textwrap

from render import environment

# the headings of the groups of an answer table (derive.problemset.sheet)
SHEET_GROUPS = {"forward": "Forward pass", "loss": "Loss", "errors": "Error terms",
                "gradients": "Gradients", "new": "After the update", "values": "Answers"}
DOCUMENTS = ("problems", "solutions")


def _answers_head(seed: int, kinds, options: dict) -> str:
    """answers.json up to its list of variants, laid out as render.to_json lays out the whole."""
    head = json.dumps({"seed": seed, "kinds": list(kinds), "options": options}, indent=2,
                      ensure_ascii=False, allow_nan=False)
    return head[:-2] + ',\n  "variants": ['


def _answers_entry(variant) -> str:
    entry = {"variant": variant.number, "id": variant.id,
             "problems": [p.key() for p in variant.problems]}
    return textwrap.indent(json.dumps(entry, indent=2, ensure_ascii=False, allow_nan=False),
                           "    ")


class SetWriter:
    """Writes a problem set in latex or markdown to three open text streams (problems,
    solutions, answers): begin(), variant(v) for each variant in order, end()."""

    def __init__(self, fmt: str, seed: int, kinds, options, streams: dict):
        from derive.problemset import KINDS
        from render import PROBLEM_LABELS

        self.fmt = fmt
        self.streams = streams
        self.seed, self.kinds, self.options = seed, tuple(kinds), options
        env = environment(fmt)
        self.templates = {(doc, part): env.get_template(f"{fmt}/exam/{doc}_{part}.j2")
                          for doc in DOCUMENTS for part in ("begin", "variant")}
        self.end_template = env.get_template(f"{fmt}/exam/end.j2")
        self.context = dict(seed=seed, kinds=self.kinds, options=options,
                            titles={name: k.title for name, k in KINDS.items()},
                            labels=PROBLEM_LABELS, sheet_groups=SHEET_GROUPS)
        self.count = 0

    def begin(self) -> None:
        for doc in DOCUMENTS:
            self.streams[doc].write(self.templates[doc, "begin"].render(**self.context))
        self.streams["answers"].write(_answers_head(self.seed, self.kinds,
                                                    self.options.to_dict()))

    def variant(self, v) -> None:
        for doc in DOCUMENTS:
            self.streams[doc].write(self.templates[doc, "variant"].render(v=v, **self.context))
        self.streams["answers"].write(("\n" if self.count == 0 else ",\n") + _answers_entry(v))
        self.count += 1

    def end(self) -> None:
        for doc in DOCUMENTS:
            self.streams[doc].write(self.end_template.render(**self.context))
        self.streams["answers"].write("\n  ]\n}\n")


def write_set(fmt: str, seed: int, kinds, options, variants, streams: dict) -> int:
    """The whole set to the streams; the number of variants written."""
    writer = SetWriter(fmt, seed, kinds, options, streams)
    writer.begin()
    for v in variants:
        writer.variant(v)
    writer.end()
    return writer.count
