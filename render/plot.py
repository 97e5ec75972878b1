"""Line charts drawn three ways: an SVG image, a pgfplots picture, a compact text plot.

A chart is plain data, computed in derive/ (nothing here computes a value, only positions):

    {"title": str, "xlabel": str, "ylabel": str, "log_y": bool,
     "xlim": [lo, hi] or None, "ylim": [lo, hi] or None,
     "series": [{"label": str, "kind": "line" | "path" | "points",
                 "points": [[x, y], ...], "labels": [str, ...] (points only)}]}

"line" is a curve, "path" a line with a mark at every point (the iterates of a descent),
"points" marks alone, each optionally labelled.  Points that are not finite, or that fall
outside xlim / ylim, are left out; on a log axis, points at or below 0 are left out.
No third-party plotting library: the SVG and the TikZ are written here, deterministically.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape as _xml_escape

from render.filters import MINUS, escape_tex

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
          "#e377c2")
PGF_COLORS = ("blue", "red", "green!60!black", "violet", "orange", "cyan!70!black", "brown",
              "magenta")
GLYPHS = ("*", "o", "+", "x", "#", "@", "%", "&")
MAX_POINTS = 1500  # per series in SVG and pgfplots; longer series are thinned evenly


def _fmt(v: float) -> str:
    text = f"{v:.6g}"
    return text.replace("e+", "e").replace("e0", "e").replace("e-0", "e-")


def _label(v: float) -> str:
    """A number a person reads on an axis: with the minus sign the text beside it uses
    (−2.6, not -2.6); _fmt stays ASCII for the coordinates pgfplots parses."""
    return _fmt(v).replace("-", MINUS)


def _visible(chart, series):
    xlim, ylim, log_y = chart.get("xlim"), chart.get("ylim"), chart.get("log_y", False)
    out, labels = [], []
    names = series.get("labels") or [None] * len(series["points"])
    for (x, y), name in zip(series["points"], names):
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            continue
        if xlim and not xlim[0] <= x <= xlim[1]:
            continue
        if ylim and not ylim[0] <= y <= ylim[1]:
            continue
        if log_y and y <= 0:
            continue
        out.append((float(x), float(y)))
        labels.append(name)
    return out, labels


def _thin(points, labels, limit=MAX_POINTS):
    if len(points) <= limit:
        return points, labels
    stride = math.ceil(len(points) / limit)
    keep = list(range(0, len(points), stride))
    if keep[-1] != len(points) - 1:
        keep.append(len(points) - 1)
    return [points[i] for i in keep], [labels[i] for i in keep]


def _ranges(chart):
    xs, ys = [], []
    for s in chart["series"]:
        pts, _ = _visible(chart, s)
        xs += [p[0] for p in pts]
        ys += [p[1] for p in pts]
    if chart.get("xlim"):
        x0, x1 = chart["xlim"]
    else:
        x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if chart.get("ylim"):
        y0, y1 = chart["ylim"]
    else:
        y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
    log_y = chart.get("log_y", False)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if log_y:
        y0, y1 = math.log10(y0) if y0 > 0 else 0.0, math.log10(y1) if y1 > 0 else 1.0
    if y1 <= y0:
        pad = abs(y0) * 0.1 or 0.5
        y0, y1 = y0 - pad, y1 + pad
    return x0, x1, y0, y1


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    span = hi - lo
    raw = span / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12) + 0.0)
        t += step
    return ticks


# --- SVG --------------------------------------------------------------------------------------

def svg(chart, width: int = 720, height: int = 420) -> str:
    """A self-contained SVG image of the chart."""
    left, right, top, bottom = 78, 170, 40, 56
    pw, ph = width - left - right, height - top - bottom
    x0, x1, y0, y1 = _ranges(chart)
    log_y = chart.get("log_y", False)

    def X(x):
        return left + (x - x0) / (x1 - x0) * pw

    def Y(y):
        v = math.log10(y) if log_y else y
        return top + ph - (v - y0) / (y1 - y0) * ph

    e = _xml_escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2:.1f}" y="22" text-anchor="middle" font-size="14">'
           f'{e(chart.get("title", ""))}</text>']
    # grid and ticks
    for t in nice_ticks(x0, x1):
        px = X(t)
        out.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + ph}" '
                   f'stroke="#e5e5e5"/>')
        out.append(f'<text x="{px:.1f}" y="{top + ph + 16}" text-anchor="middle">'
                   f'{e(_label(t))}</text>')
    if log_y:
        yt = [10.0 ** k for k in range(math.ceil(y0 - 1e-9), math.floor(y1 + 1e-9) + 1)]
        if len(yt) > 8:
            stride = math.ceil(len(yt) / 8)
            yt = yt[::stride]
    else:
        yt = nice_ticks(y0, y1)
    for t in yt:
        py = Y(t)
        out.append(f'<line x1="{left}" y1="{py:.1f}" x2="{left + pw}" y2="{py:.1f}" '
                   f'stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">'
                   f'{e(_label(t))}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               f'stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 14}" text-anchor="middle">'
               f'{e(chart.get("xlabel", ""))}</text>')
    out.append(f'<text x="18" y="{top + ph / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 18 {top + ph / 2:.1f})">'
               f'{e(chart.get("ylabel", "") + (" (log scale)" if log_y else ""))}</text>')
    out.append(f'<clipPath id="plot"><rect x="{left}" y="{top}" width="{pw}" '
               f'height="{ph}"/></clipPath>')
    for n, s in enumerate(chart["series"]):
        color = s.get("color_index", n)
        color = COLORS[color % len(COLORS)]
        pts, labels = _thin(*_visible(chart, s))
        coords = " ".join(f"{X(x):.2f},{Y(y):.2f}" for x, y in pts)
        out.append('<g clip-path="url(#plot)">')
        if s["kind"] in ("line", "path") and len(pts) > 1:
            out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                       f'stroke-width="{1.8 if s["kind"] == "line" else 1.2}"/>')
        if s["kind"] in ("path", "points"):
            r = 2.2 if s["kind"] == "path" else 5
            for x, y in pts:
                out.append(f'<circle cx="{X(x):.2f}" cy="{Y(y):.2f}" r="{r}" fill="{color}"/>')
        out.append('</g>')
        if s["kind"] == "points":
            for (x, y), label in zip(pts, labels):
                if label:
                    out.append(f'<text x="{X(x):.2f}" y="{Y(y) - 9:.2f}" text-anchor="middle" '
                               f'fill="{color}">{e(label)}</text>')
        ly = top + 14 + 18 * n
        out.append(f'<line x1="{left + pw + 12}" y1="{ly - 4}" x2="{left + pw + 34}" '
                   f'y2="{ly - 4}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 40}" y="{ly}">{e(s["label"])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --- pgfplots ---------------------------------------------------------------------------------

def pgfplots(chart, width: str = "12cm", height: str = "7cm") -> str:
    """A tikzpicture with a pgfplots axis (needs \\usepackage{pgfplots})."""
    x0, x1, y0, y1 = _ranges(chart)
    log_y = chart.get("log_y", False)
    opts = [f"width={width}", f"height={height}", "grid=major",
            f"xlabel={{{escape_tex(chart.get('xlabel', ''))}}}",
            f"ylabel={{{escape_tex(chart.get('ylabel', ''))}}}",
            "legend pos=outer north east", "legend cell align=left",
            f"xmin={_fmt(x0)}", f"xmax={_fmt(x1)}",
            "scaled ticks=false", "tick label style={font=\\small}",
            "xticklabel style={/pgf/number format/.cd, fixed, precision=4}"]
    if log_y:
        opts += ["ymode=log", f"ymin={_fmt(10 ** y0)}", f"ymax={_fmt(10 ** y1)}"]
    else:
        opts += [f"ymin={_fmt(y0)}", f"ymax={_fmt(y1)}",
                 "yticklabel style={/pgf/number format/.cd, fixed, precision=4}"]
    lines = ["\\begin{tikzpicture}", "\\begin{axis}[" + ", ".join(opts) + "]"]
    for n, s in enumerate(chart["series"]):
        color = PGF_COLORS[s.get("color_index", n) % len(PGF_COLORS)]
        pts, labels = _thin(*_visible(chart, s))
        if not pts:
            continue
        if s["kind"] == "line":
            style = f"color={color}, thick, mark=none"
        elif s["kind"] == "path":
            style = f"color={color}, mark=*, mark size=0.8pt"
        else:
            style = (f"color={color}, only marks, mark=*, mark size=2.5pt, "
                     "nodes near coords, point meta=explicit symbolic, "
                     "every node near coord/.append style={font=\\footnotesize}")
        if s["kind"] == "points":
            coords = " ".join(f"({_fmt(x)},{_fmt(y)}) [{escape_tex(label or '')}]"
                              for (x, y), label in zip(pts, labels))
        else:
            coords = " ".join(f"({_fmt(x)},{_fmt(y)})" for x, y in pts)
        lines.append(f"\\addplot[{style}] coordinates {{{coords}}};")
        lines.append(f"\\addlegendentry{{{escape_tex(s['label'])}}}")
    lines += ["\\end{axis}", "\\end{tikzpicture}"]
    return "\n".join(lines)


# --- text -------------------------------------------------------------------------------------

def text(chart, width: int = 60, height: int = 14) -> str:
    """A compact plot for the terminal: one glyph per series, a legend underneath."""
    x0, x1, y0, y1 = _ranges(chart)
    log_y = chart.get("log_y", False)
    grid = [[" "] * width for _ in range(height)]

    def col(x):
        return min(width - 1, max(0, round((x - x0) / (x1 - x0) * (width - 1))))

    def row(y):
        v = math.log10(y) if log_y else y
        return min(height - 1, max(0, round((y1 - v) / (y1 - y0) * (height - 1))))

    legend = []
    mixed = len({s["kind"] for s in chart["series"]}) > 1
    for n, s in enumerate(chart["series"]):
        # a curve drawn under paths and points is a faint dotted line
        glyph = "·" if s["kind"] == "line" and mixed else GLYPHS[n % len(GLYPHS)]
        pts, labels = _visible(chart, s)
        if s["kind"] == "line" and len(pts) > 1:
            # one mark per column the curve passes, so a line reads as a line
            for (xa, ya), (xb, yb) in zip(pts, pts[1:]):
                ca, cb = col(xa), col(xb)
                for c in range(min(ca, cb), max(ca, cb) + 1):
                    t = 0.0 if cb == ca else (c - ca) / (cb - ca)
                    if log_y:
                        v = 10 ** (math.log10(ya) + t * (math.log10(yb) - math.log10(ya)))
                    else:
                        v = ya + t * (yb - ya)
                    grid[row(v)][c] = glyph
        for x, y in pts:
            grid[row(y)][col(x)] = glyph
        legend.append(f"{glyph} {s['label']}")
    top = _label(10 ** y1 if log_y else y1)
    bottom = _label(10 ** y0 if log_y else y0)
    pad = max(len(top), len(bottom))
    lines = []
    for r, cells in enumerate(grid):
        label = top if r == 0 else bottom if r == height - 1 else ""
        lines.append(f"{label:>{pad}} │" + "".join(cells).rstrip())
    lines.append(" " * pad + " └" + "─" * width)
    left, right = _label(x0), _label(x1)
    lines.append(" " * (pad + 2) + left + " " * max(1, width - len(left) - len(right)) + right)
    axis = chart.get("xlabel", "")
    ylabel = chart.get("ylabel", "") + (", log scale" if log_y else "")
    lines.append(" " * (pad + 2) + f"x: {axis} · y: {ylabel}")
    lines.append(" " * (pad + 2) + "   ".join(legend))
    return "\n".join(lines)
