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
    if abs(x) >= 1e6:  # a diverging run: digits past the fourth say nothing
        mantissa, exponent = f"{x:.3e}".split("e")
        return f"{mantissa}e{int(exponent)}".replace("-", minus)
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


# characters pdflatex sets with the preamble of templates/latex/_preamble.j2 (inputenc utf8,
# OT1 fonts, the newunicodechar list there): Latin-1 letters have OT1 accent macros (not
# Ð ð Þ þ, which are T1 only), the rest are the preamble's own list
_TEX_UNICODE = (set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ")
                | set("′ⁿ⁻¹²σΣηη−·×≤≥½ₖ→∂"))


# punctuation and letters OT1 has under another name
_TEX_NAMED = {"—": "---", "–": "--", "“": "``", "”": "''", "‘": "`", "’": "'", "…": r"\ldots{}",
              "Ł": r"\L{}", "ł": r"\l{}", "Œ": r"\OE{}", "œ": r"\oe{}", "ı": r"\i{}",
              "\u00a0": "~"}


def _tex_char(c: str) -> str:
    """A character pdflatex cannot set, made into one it can: its letter without the accent
    (ą -> a, ő -> o), else '?' (Hebrew, emoji, CJK) — never an error in the document."""
    import unicodedata

    if c in _TEX_NAMED:
        return _TEX_NAMED[c]
    base = "".join(ch for ch in unicodedata.normalize("NFKD", c)
                   if not unicodedata.combining(ch))
    if base and all(32 <= ord(ch) < 127 or ch in _TEX_UNICODE for ch in base):
        return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group()], base)
    return "?"


def tex_safe_unicode(text: str) -> str:
    """Only characters the LaTeX preamble can set (see _tex_char for the rest)."""
    if text.isascii():
        return "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
    return "".join(c if (32 <= ord(c) < 127 or c in "\n\t" or c in _TEX_UNICODE)
                   else (" " if not c.isprintable() else _tex_char(c)) for c in text)


def escape_tex(text) -> str:
    """User text made literal in LaTeX: every special character neutralised, and characters
    the preamble cannot set replaced (so a title in Hebrew or with an emoji still compiles)."""
    return tex_safe_unicode(_TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group()], str(text)))


# the characters that could start emphasis, code, a link, HTML, math or a table cell
_MD_RE = re.compile(r"([\\`*_\[\]<>$|])")


def escape_markdown(text) -> str:
    """User text made literal in Markdown (and so in the HTML it becomes)."""
    text = str(text).replace("&", "&amp;")
    return _MD_RE.sub(r"\\\1", text)


def code_span(text) -> Markup:
    """User text as a Markdown code span.  Backslashes do not escape inside one, so the fence
    is one backtick longer than the longest run of backticks in the text (CommonMark 6.1),
    with a space inside where the text begins or ends with one."""
    text = str(text).replace("\n", " ")
    runs = [len(r) for r in re.findall("`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


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


def svg_layout(sizes, dx: int = 170, dy: int = 80, margin: int = 40):
    """Pixel coordinates of each unit for an inline SVG, and the picture's size."""
    tallest = max(sizes)
    units = []
    for p in layout(sizes, dx=dx, dy=dy):
        units.append({**p, "x": margin + p["x"], "y": margin + (tallest - 1) * dy / 2 - p["y"]})
    return {"units": units, "width": 2 * margin + dx * (len(sizes) - 1),
            "height": 2 * margin + dy * (tallest - 1) + 20}


def svg_network(sizes, network):
    """Everything the SVG picture of a network places: units, edges with their weight labels
    (near the source end, where the edges fan out), and the bias under each unit."""
    pic = svg_layout(sizes)
    at = {p["unit"]: p for p in pic["units"]}
    edges, biases = [], []
    for layer in network:
        for unit in layer["units"]:
            b = at[unit["unit"]]
            for w in unit["weights"]:
                a = at[w["from"]]
                edges.append({"x1": a["x"], "y1": a["y"], "x2": b["x"], "y2": b["y"],
                              "lx": round(0.72 * a["x"] + 0.28 * b["x"], 1),
                              "ly": round(0.72 * a["y"] + 0.28 * b["y"] - 4, 1),
                              "label": given(w["w"], minus=MINUS)})
            biases.append({"x": b["x"], "y": b["y"] + 34, "unit": unit["unit"],
                           "label": given(unit["bias"], minus=MINUS)})
    return {**pic, "edges": edges, "biases": biases}


def _mathml_number(text: str) -> str:
    if text.startswith(("-", MINUS)):
        return f"<mo>−</mo><mn>{text[1:]}</mn>"
    return f"<mn>{text}</mn>"


def mathml_name(name: str) -> Markup:
    """i4 -> <msub><mi>i</mi><mn>4</mn></msub>; w1_4 -> w with subscript 1,4."""
    m = re.fullmatch(r"([A-Za-z]+)(\d+)(?:_(\d+))?", name)
    if not m:
        return Markup("<mi>%s</mi>") % name
    head, a, b = m.groups()
    sub = f"<mrow><mn>{a}</mn><mo>,</mo><mn>{b}</mn></mrow>" if b else f"<mn>{a}</mn>"
    return Markup(f"<msub><mi>{head}</mi>{sub}</msub>")


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
    if fmt == "html":
        def mn(x, places=3, given_value=False):
            text = given(x) if given_value else number(x, places)
            return Markup(_mathml_number(text))

        def mnp(x, places=3, given_value=False):
            """A number in MathML, in parentheses when negative (inside a sum)."""
            text = given(x) if given_value else number(x, places)
            inner = _mathml_number(text)
            return Markup(f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>" if text.startswith("-")
                          else inner)

        out.update(mathml=lambda s: Markup(s), name=mathml_name, mn=mn, mnp=mnp,
                   svg_network=svg_network, num=lambda x, places=3: number(x, places, minus=MINUS),
                   given=lambda x: given(x, minus=MINUS))
    elif fmt == "latex":
        out.update(tex=lambda s: Markup(s), name=tex_name, escape=escape_tex)
    elif fmt == "markdown":
        out.update(tex=lambda s: Markup(s), name=tex_name, escape=escape_markdown, code=code_span)
    else:
        out.update(tex=lambda s: s, name=text_name, escape=lambda s: s)
    return out
