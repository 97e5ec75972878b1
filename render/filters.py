"""Formatting for the templates: numbers, escaping, subscripts, text tables.

Formatting only: every value arrives computed.  Shared rules, so that every document follows
them alike:

* a computed number is shown at a fixed number of places, trailing zeros kept (0.0620,
  -0.0100), as DESIGN.md asks of every number a person reads (`number`); a value the user
  gave (a weight in the spec, an input) is shown as given (`given`);
* text is measured by its display width on a terminal, not by len() (`width`): combining
  marks take no column, wide characters two; underlines and table columns use it;
* a text table fits the terminal (`table`, TABLE_WIDTH): wider ones are wrapped into
  several blocks, each repeating the first column, breaking only between column groups.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata

from markupsafe import Markup

from render import decimals  # the one rounding rule of DESIGN.md, as render states it

MINUS = "\u2212"
TABLE_WIDTH = 97  # a 100-column terminal, less the indent of 3 that the templates give tables


def number(x, places: int = 3, *, minus: str = "-") -> str:
    """x to `places` decimals, trailing zeros kept (0.0620, -0.0100); -0 shown as 0."""
    if type(x) is float and -1e6 < x < 1e6:  # the common case first (never "-0.000")
        text = decimals.text(x, places)
        return text if text[0] != "-" else text.replace("-", minus)
    if x is None:
        return "—"
    x = float(x)
    if not math.isfinite(x):
        return "∞" if x > 0 else f"{minus}∞" if x < 0 else "NaN"
    if abs(x) >= 1e6:  # a diverging run: digits past the fourth say nothing
        mantissa, exponent = f"{x:.3e}".split("e")
        return f"{mantissa}e{int(exponent)}".replace("-", minus)
    # rounded half up on the decimal the value stands for, as the answer key and its accepted
    # intervals round: binary formatting prints 0.1015 as 0.101
    text = decimals.text(x, places)
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]  # -0.000: a tiny negative shown as zero carries no sign
    return text.replace("-", minus)


def bound(x, places: int = 4, *, minus: str = "-") -> str:
    """An end of a range or an interval: a value with a short exact decimal (0, 1, −1, 0.5:
    limits that SymPy found exactly) as itself, anything else (a boundary found by bisection)
    at fixed places."""
    if x is not None and math.isfinite(float(x)):
        text = given(x, minus=minus)
        if "e" not in text and len(text.partition(".")[2]) <= places:
            return text
    return number(x, places, minus=minus)


def width(text) -> int:
    """The columns a text takes on a terminal: combining marks and zero-width characters none,
    East Asian wide and full-width characters two, everything else one."""
    total = 0
    for c in str(text):
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return total


def pad(text, size: int, align: str = "<") -> str:
    """text padded with spaces to `size` columns of display width."""
    text = str(text)
    gap = max(0, size - width(text))
    if align == ">":
        return " " * gap + text
    if align == "^":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def underline(text, char: str = "═") -> str:
    """A rule exactly as wide as the title above it."""
    return char * max(1, width(escape_control(text)))  # as the title is printed


# grade's reports format many thousands of numbers, most of them repeated (points, shares)
fixed = functools.lru_cache(maxsize=65536)(number)


@functools.lru_cache(maxsize=4096)  # the givens of a problem set come from small grids
def given(x, *, minus: str = "-") -> str:
    """A value as the user gave it (shortest form that reads back the same)."""
    x = float(x)
    text = f"{x:.12g}" if x != int(x) or abs(x) >= 1e12 else str(int(x))
    return text.replace("-", minus)


def given_at(x, places: int = 3, *, minus: str = "-") -> str:
    """A value the user gave, in a column of computed values at `places`: padded with zeros
    to those places (0.2 -> 0.200 beside a new value 0.192), never cut (0.1234 stays)."""
    text = given(x, minus=minus)
    if "e" in text:
        return text
    shown = len(text.partition(".")[2])
    return number(x, places, minus=minus) if shown < places else text


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_TEX_RE = re.compile("|".join(re.escape(c) for c in _TEX_SPECIAL))


# The non-ASCII characters derive's documents use, and how pdflatex sets them: one table for
# every LaTeX preamble (templates/latex/_unicode.j2 declares each with \DeclareUnicodeCharacter,
# which, unlike newunicodechar, redefines inputenc's own silently: no "Redefining Unicode
# character" warnings).  Each works in text and in math alike.
LATEX_UNICODE = (
    ("′", r"\ensuremath{'}"), ("ⁿ", r"\textsuperscript{n}"), ("⁻", r"\textsuperscript{-}"),
    ("¹", r"\textsuperscript{1}"), ("²", r"\textsuperscript{2}"), ("ₖ", r"\ensuremath{_{k}}"),
    ("ⱼ", r"\ensuremath{_{j}}"), ("σ", r"\ensuremath{\sigma}"), ("Σ", r"\ensuremath{\Sigma}"),
    ("α", r"\ensuremath{\alpha}"), ("η", r"\ensuremath{\eta}"), ("θ", r"\ensuremath{\theta}"),
    ("δ", r"\ensuremath{\delta}"),
    ("Φ", r"\ensuremath{\Phi}"), ("−", r"\ensuremath{-}"), ("·", r"\ensuremath{\cdot}"),
    ("×", r"\ensuremath{\times}"), ("±", r"\ensuremath{\pm}"), ("≤", r"\ensuremath{\le}"),
    ("≥", r"\ensuremath{\ge}"), ("≠", r"\ensuremath{\neq}"), ("≈", r"\ensuremath{\approx}"),
    ("½", r"\ensuremath{\tfrac12}"), ("→", r"\ensuremath{\to}"),
    ("←", r"\ensuremath{\leftarrow}"), ("∂", r"\ensuremath{\partial}"),
    ("√", r"\ensuremath{\surd}"), ("∞", r"\ensuremath{\infty}"),
    ("…", r"\dots{}"), ("—", "---"), ("–", "--"), ("₪", r"\textsf{ILS}\,"),
)

# characters pdflatex sets with those preambles (inputenc utf8, the table above): Latin-1
# letters have OT1 and T1 accent macros (not Ð ð Þ þ, which are T1 only), the rest the table's
_TEX_UNICODE = (set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ")
                | {c for c, _ in LATEX_UNICODE})


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
        if text.isprintable():  # the common case: nothing to replace
            return text
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


# C0 controls but tab and newline, DEL, C1 controls and the bidirectional overrides: in user
# text (a title, an input's name) they would drive the reader's terminal or reorder its text
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_control(text) -> str:
    """User text made inert on a terminal: each control character as its visible \\uXXXX."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))


def finalizer(fmt: str):
    """Escape every plain string a template prints; Markup (our own markup) passes."""
    escape = {"latex": escape_tex, "text": escape_control, "html": escape_control,
              "markdown": lambda t: escape_markdown(escape_control(t))}.get(fmt)

    def finalize(value):
        kind = type(value)  # the exact types first: called for every value a template prints
        if kind is Markup or kind is int:
            return value
        if escape is not None and isinstance(value, str) and not isinstance(value, Markup):
            return escape(value)
        return value

    return finalize


_SUB = str.maketrans("0123456789jkm", "₀₁₂₃₄₅₆₇₈₉ⱼₖₘ")
# a machine name: i4, o4, w1_4, Err6, dw1_4, db4, and in formulas the summation index of the
# next layer's units: w5_m, Err_m
_NAME = re.compile(r"([A-Za-z]+?)_?(\d+|[jkm])(?:_(\d+|[jkm]))?")
_NAME_IN_TEXT = re.compile(r"(?<![\w])(Err|dw|db|[iotwb])_?(\d+|[jkm])(?:_(\d+|[jkm]))?(?![\w])")


def subscript(text) -> str:
    return str(text).translate(_SUB)


def _parts(name: str):
    m = _NAME.fullmatch(name)
    return m.groups() if m else None


def text_name(name: str) -> str:
    """i4 -> i₄, w1_4 -> w₁,₄, Err6 -> Err₆, w5_m -> w₅,ₘ (for the terminal)."""
    parts = _parts(name)
    if not parts:
        return name
    head, a, b = parts
    return head + subscript(a) + ("," + subscript(b) if b else "")


@functools.lru_cache(maxsize=4096)
def tex_name(name: str) -> Markup:
    """i4 -> i_{4}, w1_4 -> w_{1,4}, Err6 -> \\mathit{Err}_{6}."""
    parts = _parts(name)
    if not parts:
        return Markup(escape_tex(name))
    head, a, b = parts
    head = r"\mathit{Err}" if head == "Err" else head
    return Markup(f"{head}_{{{a}{',' + b if b else ''}}}")


def named(text: str, name, escape) -> Markup:
    """A formula in machine names (marking's "Err5 = f′(i5) · Σ w5_m·Err_m"), with each name
    in its format's math form (name) and everything else escaped for the format (escape)."""
    out, at = [], 0
    for m in _NAME_IN_TEXT.finditer(str(text)):
        out.append(str(escape(text[at:m.start()])))
        out.append(str(name(m.group(0))))
        at = m.end()
    out.append(str(escape(text[at:])))
    return Markup("".join(out))


def table(rows, headers=None, align=None, groups=None, titles=None,
          fit: int | None = TABLE_WIDTH) -> str:
    """A plain-text table with aligned columns (numbers to the right), measured by display
    width.  headers None: no header row.  groups: the sizes of the column groups after the
    first column (default: one column each); titles: a title over each group.  A table wider
    than `fit` is wrapped into blocks that repeat the first column, breaking only between
    groups, so it reads on a 100-column terminal."""
    n = len(headers) if headers is not None else max((len(r) for r in rows), default=0)
    cells = [[str(c) for c in row] for row in rows]
    head = [str(c) for c in headers] if headers is not None else None
    groups = list(groups) if groups else [1] * (n - 1)
    if sum(groups) != n - 1:
        raise ValueError(f"column groups {groups} do not cover {n - 1} columns")
    widths = [max([width(r[i]) for r in cells] + ([width(head[i])] if head else [0]))
              for i in range(n)]
    align = list(align or ["<"] + [">"] * (n - 1))
    spans, start = [], 1
    for size in groups:
        spans.append(list(range(start, start + size)))
        start += size
    if titles:  # a group as wide as its title
        for cols, title in zip(spans, titles):
            short = width(title) - (sum(widths[c] for c in cols) + 2 * (len(cols) - 1))
            if short > 0:
                widths[cols[-1]] += short

    def span_width(cols):
        return sum(widths[c] for c in cols) + 2 * (len(cols) - 1)

    blocks, current = [], []
    for g, cols in enumerate(spans):
        trial = [0] + [c for k in current for c in spans[k]] + cols
        if current and fit is not None and span_width(trial) > fit:
            blocks.append(current)
            current = []
        current.append(g)
    if current or not blocks:
        blocks.append(current)

    out = []
    for block in blocks:
        cols = [0] + [c for g in block for c in spans[g]]
        lines = []
        if titles:
            parts = [pad("", widths[0])] + [pad(titles[g], span_width(spans[g])) for g in block]
            lines.append("  ".join(parts).rstrip())
        if head is not None:
            lines.append("  ".join(pad(head[c], widths[c], align[c]) for c in cols).rstrip())
            lines.append("  ".join("─" * widths[c] for c in cols))
        for row in cells:
            lines.append("  ".join(pad(row[c] if c < len(row) else "", widths[c], align[c])
                                   for c in cols).rstrip())
        out.append("\n".join(lines))
    return "\n\n".join(out)


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


UNIT_RADIUS = 16  # px, the circles of the SVG picture
ARROW = 7  # px, the length of an arrowhead


def svg_network(sizes, network):
    """Everything the SVG picture of a network places: units, edges that start and stop at
    the circles (the arrowhead's tip on the target's circle), their weight labels (near the
    source end, where the edges fan out), and the bias under each unit."""
    pic = svg_layout(sizes)
    at = {p["unit"]: p for p in pic["units"]}
    edges, biases = [], []
    for layer in network:
        for unit in layer["units"]:
            b = at[unit["unit"]]
            for w in unit["weights"]:
                a = at[w["from"]]
                dx, dy = b["x"] - a["x"], b["y"] - a["y"]
                length = math.hypot(dx, dy) or 1.0
                ux, uy = dx / length, dy / length
                # the line ends where the arrowhead begins; the marker draws the head on
                stop = UNIT_RADIUS + ARROW
                edges.append({"x1": round(a["x"] + UNIT_RADIUS * ux, 1),
                              "y1": round(a["y"] + UNIT_RADIUS * uy, 1),
                              "x2": round(b["x"] - stop * ux, 1),
                              "y2": round(b["y"] - stop * uy, 1),
                              "lx": round(0.72 * a["x"] + 0.28 * b["x"], 1),
                              "ly": round(0.72 * a["y"] + 0.28 * b["y"] - 4, 1),
                              "label": given(w["w"], minus=MINUS)})
            biases.append({"x": b["x"], "y": b["y"] + 34, "unit": unit["unit"],
                           "label": given(unit["bias"], minus=MINUS)})
    return {**pic, "edges": edges, "biases": biases, "radius": UNIT_RADIUS, "arrow": ARROW}


def _mathml_number(text: str) -> str:
    if text.startswith(("-", MINUS)):
        return f"<mo>−</mo><mn>{text[1:]}</mn>"
    return f"<mn>{text}</mn>"


def mathml_name(name: str) -> Markup:
    """i4 -> <msub><mi>i</mi><mn>4</mn></msub>; w1_4 -> w with subscript 1,4; w5_m likewise."""
    parts = _parts(name)
    if not parts:
        return Markup("<mi>%s</mi>") % name

    def index(x):
        return f"<mn>{x}</mn>" if x.isdigit() else f"<mi>{x}</mi>"

    head, a, b = parts
    sub = f"<mrow>{index(a)}<mo>,</mo>{index(b)}</mrow>" if b else index(a)
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

    def bnd(x, places=4):
        return Markup(bound(x, places, minus=minus))

    def giv_at(x, places=3):
        return Markup(given_at(x, places, minus=minus))

    def fix(x, places=3):
        return Markup(fixed(x, places, minus=minus))

    out = {"num": num, "given": giv, "paren": paren, "table": table, "indent": indent_block,
           "layout": layout, "bound": bnd, "given_at": giv_at, "width": width,
           "underline": underline, "fixed": fix}
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

        from markupsafe import escape

        out.update(mathml=lambda s: Markup(s), name=mathml_name, mn=mn, mnp=mnp,
                   svg_network=svg_network, num=lambda x, places=3: number(x, places, minus=MINUS),
                   fixed=lambda x, places=3: fixed(x, places, minus=MINUS),
                   given=lambda x: given(x, minus=MINUS),
                   bound=lambda x, places=4: bound(x, places, minus=MINUS),
                   given_at=lambda x, places=3: given_at(x, places, minus=MINUS),
                   formula=lambda t: named(t, lambda n: Markup("<math>%s</math>")
                                           % mathml_name(n), escape))
    elif fmt == "latex":
        out.update(tex=lambda s: Markup(s), name=tex_name, escape=escape_tex,
                   codepoint=lambda c: f"{ord(c):04X}",
                   formula=lambda t: named(t, lambda n: "\\ensuremath{%s}" % tex_name(n),
                                           escape_tex))
    elif fmt == "markdown":
        out.update(tex=lambda s: Markup(s), name=tex_name, escape=escape_markdown,
                   code=code_span, formula=lambda t: named(t, lambda n: "$%s$" % tex_name(n), escape_markdown))
    else:
        out.update(tex=lambda s: s, name=text_name, escape=lambda s: s,
                   formula=lambda t: named(t, text_name, str))
    return out
