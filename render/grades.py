"""What `derive grade` writes besides its pages: grades.csv for a gradebook, and the score
histogram (inline SVG for the HTML report, a bar of blocks per row for Markdown and the
terminal).  Positions and text only: every figure arrives computed (derive/grading.py).
"""

from __future__ import annotations

import csv
import io
from xml.sax.saxutils import escape

from markupsafe import Markup

from render.filters import MINUS, escape_markdown, fixed, mathml_name, tex_name

# a cell a spreadsheet would run as a formula (OWASP, "CSV injection"): shown as text instead
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """User text for a CSV cell that a teacher opens in a spreadsheet: never a formula."""
    if text.startswith(_FORMULA_START):
        try:
            float(text)
            return text  # a number such as -3 is a number, not a formula
        except ValueError:
            return "'" + text
    return text


def grades_csv(doc) -> str:
    """One row per row of the sheet, in its order: student, variant, points, max_points,
    percent, then each column's points (blank where the student's variant does not ask it)."""
    places = doc.points_places
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["student", "variant", "points", "max_points", "percent", *doc.key.columns])
    for s in doc.students:
        earned = {m.column: m.points for m in s.marks}
        w.writerow([_cell(s.student), _cell(s.variant or s.variant_text),
                    fixed(s.points, places), fixed(s.max_points, places), fixed(s.percent, 1),
                    *(fixed(earned[c], places) if c in earned else "" for c in doc.key.columns)])
    return out.getvalue()


def histogram_svg(bins, width: int = 640, height: int = 240) -> str:
    """Bars of the score distribution: bins are (low %, high %, count)."""
    left, right, top, bottom = 40, 10, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((c for _, _, c in bins), default=0) or 1
    bar = plot_w / len(bins)
    parts = [f'<svg role="img" aria-label="score distribution: number of students per 10 % '
             f'band" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
             f'y2="{top + plot_h}"/>']
    for i, (lo, hi, count) in enumerate(bins):
        h = round(plot_h * count / peak, 1)
        x = round(left + i * bar + 3, 1)
        y = round(top + plot_h - h, 1)
        parts.append(f'<rect class="bar" x="{x}" y="{y}" width="{round(bar - 6, 1)}" '
                     f'height="{h}"><title>{lo}–{hi} %: {count}</title></rect>')
        parts.append(f'<text x="{round(x + (bar - 6) / 2, 1)}" y="{round(y - 4, 1)}" '
                     f'text-anchor="middle">{count}</text>')
        parts.append(f'<text x="{round(x + (bar - 6) / 2, 1)}" y="{top + plot_h + 16}" '
                     f'text-anchor="middle">{lo}–{hi}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">'
                 f'{escape("score (% of the points)")}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def histogram_text(bins, width: int = 40) -> str:
    """The distribution as rows of blocks, for a terminal and a Markdown code block."""
    peak = max((c for _, _, c in bins), default=0) or 1
    rows = []
    for lo, hi, count in reversed(bins):
        blocks = "█" * round(width * count / peak) if count else ""
        rows.append(f"{lo:>3}–{hi:<3} % │ {blocks}{' ' if blocks else ''}{count}")
    return "\n".join(rows)


def printable(text) -> str:
    """User text for a terminal: control characters (escape sequences) shown as '?'."""
    return "".join(c if c.isprintable() else "?" for c in str(text))


class Rows:
    """The rows of the feedback tables (one per asked value: mark, name, the value written,
    the key's answer, points, a note), written here rather than by a template because a class
    has tens of thousands of them; a row is made once and reused, since students of one
    variant who wrote the same value get the same row."""

    SYMBOLS = {"right": "✓", "carried_forward": "↪", "wrong": "✗", "blank": "–"}

    def __init__(self, fmt: str, points_places: int):
        if fmt not in ("html", "markdown"):
            raise ValueError(fmt)
        self.fmt, self.pp = fmt, points_places
        self.cache: dict = {}
        self.names: dict = {}

    def _name(self, name: str) -> str:
        if name not in self.names:
            self.names[name] = (f"<math>{mathml_name(name)}</math>" if self.fmt == "html"
                                else f"${tex_name(name)}$")
        return self.names[name]

    def __call__(self, marks) -> Markup:
        """The rows of one table, one line each."""
        rows = []
        for m in marks:
            key = (m.name, m.status, m.text, m.answer, m.places, m.points, m.chain,
                   m.diagnosis["title"] if m.diagnosis else None)
            row = self.cache.get(key)
            if row is None:
                row = self.cache[key] = self._row(m)
            rows.append(row)
        return Markup("\n".join(rows))

    def _row(self, m) -> str:
        html = self.fmt == "html"
        minus = MINUS if html else "-"
        esc = escape if html else escape_markdown
        answer = fixed(m.answer, m.places, minus=minus)
        if m.status == "carried_forward":
            note = "carried forward: right from your own earlier values"
        elif m.status == "wrong":
            note = esc(m.diagnosis["title"])
        elif m.status == "right" and m.text is not None and m.chain == "hand" and \
                fixed(m.given, m.places, minus=minus) != answer:
            note = "right: rounded as you go"
        else:
            note = ""
        text = "–" if m.text is None else esc(m.text.replace("-", minus) if html else m.text)
        cells = (self.SYMBOLS[m.status], self._name(m.name), text, answer,
                 fixed(m.points, self.pp, minus=minus), note)
        if html:
            return (f'<tr class="{m.status}"><td class="mark">{cells[0]}</td><td>{cells[1]}</td>'
                    f'<td>{cells[2]}</td><td>{cells[3]}</td><td>{cells[4]}</td>'
                    f'<td class="diag">{cells[5]}</td></tr>')
        return "| " + " | ".join(cells) + " |"
