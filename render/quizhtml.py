"""The small Markdown that derive's own templates write, as HTML for the learning platforms.

The quiz writers lay a problem out with the SAME Markdown templates as `--format markdown`
(one generator, thin writers) and turn that Markdown into HTML here.  Only what those
templates produce is understood: headings, paragraphs, pipe tables, lists, block quotes,
fenced blocks, `**strong**`, `` `code` ``, `$…$` and `$$…$$` math.  Every character of text
is HTML-escaped on the way out (Markdown's backslash escapes and entities are decoded first,
so user text that escape_markdown protected arrives literally and is escaped once, for HTML).
Math becomes `\\( … \\)` / `\\[ … \\]`, the delimiters Moodle's MathJax filter and Canvas render.
No external library: the output must be byte-identical for the same input, and this is the
whole of the grammar derive writes.
"""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^(?:[-*]|\d+\.)\s+(.*)$")
_ORDERED = re.compile(r"^\d+\.\s")
_ESCAPABLE = set("\\`*_{}[]()#+-.!<>$|&~'\"")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def inline(text: str) -> str:
    """One line (or paragraph) of Markdown -> HTML."""
    out: list[str] = []
    run: list[str] = []  # plain text not yet flushed (entities decoded on flush)

    def flush():
        if run:
            out.append(_esc(html.unescape("".join(run))))
            run.clear()

    i, n = 0, len(text)
    strong = False
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:
            flush()
            out.append(_esc(text[i + 1]))
            i += 2
        elif c == "$":
            # inline math up to the next unescaped $
            j = i + 1
            while j < n and text[j] != "$":
                j += 2 if text[j] == "\\" else 1
            if j >= n:  # no closing dollar: a literal one
                run.append(c)
                i += 1
                continue
            flush()
            out.append("\\(" + _esc(text[i + 1:j]) + "\\)")
            i = j + 1
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                run.append(c)
                i += 1
                continue
            flush()
            out.append("<code>" + _esc(text[i + 1:j]) + "</code>")
            i = j + 1
        elif text.startswith("**", i):
            flush()
            out.append("</strong>" if strong else "<strong>")
            strong = not strong
            i += 2
        else:
            run.append(c)
            i += 1
    flush()
    if strong:
        out.append("</strong>")
    return "".join(out)


def _cells(row: str) -> list[str]:
    """A pipe-table row split at the pipes that are neither escaped nor inside math."""
    row = row.strip()
    row = row.removeprefix("|")
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells, cur, math, i = [], [], False, 0
    while i < len(row):
        c = row[i]
        if c == "\\" and i + 1 < len(row):
            cur.append(row[i:i + 2])
            i += 2
            continue
        if c == "$":
            math = not math
        if c == "|" and not math:
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    cells.append("".join(cur).strip())
    return cells


def _table(lines: list[str]) -> str:
    head = _cells(lines[0])
    align = []
    body = lines[1:]
    if body and re.fullmatch(r"\|?(\s*:?-+:?\s*\|)*\s*:?-+:?\s*\|?", body[0].strip()):
        for spec in _cells(body[0]):
            align.append("right" if spec.endswith(":") else "left")
        body = body[1:]

    def cell(tag, k, text):
        a = align[k] if k < len(align) else "left"
        return f'<{tag} style="text-align:{a};padding:2px 8px">{inline(text)}</{tag}>'

    rows = ["<tr>" + "".join(cell("th", k, t) for k, t in enumerate(head)) + "</tr>"]
    for line in body:
        rows.append("<tr>" + "".join(cell("td", k, t) for k, t in enumerate(_cells(line)))
                    + "</tr>")
    return '<table style="border-collapse:collapse">\n' + "\n".join(rows) + "\n</table>"


def markdown_html(text: str, picture: str | None = None) -> str:
    """derive's Markdown -> HTML.  A ```mermaid block (the network) becomes `picture` (an
    <img> of the network) or is left out: the table of weights beside it says the same."""
    lines = text.splitlines()
    out: list[str] = []
    i, n = 0, len(lines)

    def starts_block(line: str) -> bool:
        s = line.strip()
        return (not s or s.startswith(("|", "```", "$$", ">")) or bool(_HEADING.match(s))
                or bool(_BULLET.match(s)) or s == "---")

    while i < n:
        line = lines[i]
        s = line.strip()
        if not s:
            i += 1
        elif s.startswith("```"):
            lang = s[3:].strip()
            j = i + 1
            while j < n and not lines[j].strip().startswith("```"):
                j += 1
            body = "\n".join(lines[i + 1:j])
            if lang == "mermaid":
                if picture:
                    out.append(f"<p>{picture}</p>")
            else:
                out.append(f"<pre><code>{_esc(body)}</code></pre>")
            i = j + 1
        elif s.startswith("$$"):
            j = i + 1
            while j < n and not lines[j].strip().startswith("$$"):
                j += 1
            out.append("<p>\\[\n" + _esc("\n".join(lines[i + 1:j])) + "\n\\]</p>")
            i = j + 1
        elif m := _HEADING.match(s):
            level = min(6, max(4, len(m.group(1))))
            out.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
            i += 1
        elif s == "---":
            out.append("<hr>")
            i += 1
        elif s.startswith("|"):
            j = i
            while j < n and lines[j].strip().startswith("|"):
                j += 1
            out.append(_table([x.strip() for x in lines[i:j]]))
            i = j
        elif s.startswith(">"):
            j = i
            inner = []
            while j < n and lines[j].strip().startswith(">"):
                inner.append(re.sub(r"^\s*>\s?", "", lines[j]))
                j += 1
            out.append("<blockquote>\n" + markdown_html("\n".join(inner), picture) +
                       "\n</blockquote>")
            i = j
        elif _BULLET.match(s):
            tag = "ol" if _ORDERED.match(s) else "ul"
            items: list[list[str]] = []
            j = i
            while j < n:
                t = lines[j]
                m = _BULLET.match(t.strip())
                if m and not t.startswith((" ", "\t")):
                    items.append([m.group(1)])
                elif t.strip() and t.startswith((" ", "\t")) and items:
                    items[-1].append(t.strip())
                else:
                    break
                j += 1
            out.append(f"<{tag}>\n" + "\n".join(f"<li>{inline(chr(10).join(it))}</li>"
                                                 for it in items) + f"\n</{tag}>")
            i = j
        else:
            j = i
            para = []
            while j < n and (j == i or not starts_block(lines[j])):
                para.append(lines[j].strip())
                j += 1
            out.append(f"<p>{inline(chr(10).join(para))}</p>")
            i = j
    return "\n".join(out)
