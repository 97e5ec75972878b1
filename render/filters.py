"""Formatting for the templates: numbers, escaping, subscripts, text tables.

Formatting only: every value arrives computed.  Numbers are shown at a fixed number of places
with trailing zeros dropped, as the lecture prints them (0.4, -0.7, 0.332, -0.0065).
"""

from __future__ import annotations

import math
import re

from markupsafe import Markup

MINUS = "\u2212"


def number(x, places: int = 3, *, minus: str = "-") -> str:
    """x to `places` decimals, trailing zeros dropped; -0 shown as 0."""
    if x is None:
        return "—"
    x = float(x)
    if not math.isfinite(x):
        return "∞" if x > 0 else f"{minus}∞" if x < 0 else "NaN"
    text = f"{x:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace("-", minus)


def given(x, *, minus: str = "-") -> str:
    """A value as the user gave it (shortest form that reads back the same)."""
    x = float(x)
    text = f"{x:.12g}" if x != int(x) or abs(x) >= 1e12 else str(int(x))
    return text.replace("-", minus)


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_TEX_RE = re.compile("|".join(re.escape(c) for c in _TEX_SPECIAL))


def escape_tex(text) -> str:
    """User text made literal in LaTeX: every special character neutralised."""
    return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group()], str(text))


# the characters that could start emphasis, code, a link, HTML, math or a table cell
_MD_RE = re.compile(r"([\\`*_\[\]<>$|])")


def escape_markdown(text) -> str:
    """User text made literal in Markdown (and so in the HTML it becomes)."""
    text = str(text).replace("&", "&amp;")
    return _MD_RE.sub(r"\\\1", text)


def finalizer(fmt: str):
    """Escape every plain string a template prints; Markup (our own markup) passes."""
    escape = {"latex": escape_tex, "markdown": escape_markdown}.get(fmt)

    def finalize(value):
        if escape is not None and isinstance(value, str) and not isinstance(value, Markup):
            return escape(value)
        return value

    return finalize


_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscript(text) -> str:
    return str(text).translate(_SUB)


def text_name(name: str) -> str:
    """i4 -> i₄, w1_4 -> w₁,₄, Err6 -> Err₆ (for the terminal)."""
    m = re.fullmatch(r"([A-Za-z]+)(\d+)(?:_(\d+))?", name)
    if not m:
        return name
    head, a, b = m.groups()
    return head + subscript(a) + ("," + subscript(b) if b else "")


def tex_name(name: str) -> Markup:
    """i4 -> i_{4}, w1_4 -> w_{1,4}, Err6 -> \\mathit{Err}_{6}."""
    m = re.fullmatch(r"([A-Za-z]+)(\d+)(?:_(\d+))?", name)
    if not m:
        return Markup(escape_tex(name))
    head, a, b = m.groups()
    head = r"\mathit{Err}" if head == "Err" else head
    return Markup(f"{head}_{{{a}{',' + b if b else ''}}}")


def table(rows, headers, align=None) -> str:
    """A plain-text table with aligned columns (numbers to the right)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or ["<"] + [">"] * (len(headers) - 1)
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("─" * w for w in widths))
    return "\n".join(lines)


def indent_block(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else line for line in str(text).splitlines())


def layout(sizes, dx: float = 4.5, dy: float = 1.8):
    """TikZ coordinates of each unit: layers left to right, units centred top to bottom."""
    out = []
    unit = 1
    for n, size in enumerate(sizes):
        for u in range(size):
            out.append({"unit": unit, "layer": n, "x": round(n * dx, 3),
                        "y": round(((size - 1) / 2 - u) * dy, 3)})
            unit += 1
    return out


def for_format(fmt: str) -> dict:
    minus = MINUS if fmt == "text" else "-"

    def num(x, places=3):
        return Markup(number(x, places, minus=minus))

    def giv(x):
        return Markup(given(x, minus=minus))

    def paren(text):
        """(−0.5) for a negative number inside a sum or product."""
        text = str(text)
        return Markup(f"({text})" if text.startswith(("-", MINUS)) else text)

    out = {"num": num, "given": giv, "paren": paren, "table": table, "indent": indent_block,
           "layout": layout}
    if fmt == "latex":
        out.update(tex=lambda s: Markup(s), name=tex_name, escape=escape_tex)
    elif fmt == "markdown":
        out.update(tex=lambda s: Markup(s), name=tex_name, escape=escape_markdown)
    else:
        out.update(tex=lambda s: s, name=text_name, escape=lambda s: s)
    return out
