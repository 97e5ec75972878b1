"""The class sheet of a problem set: `student`, `variant`, then one column `KIND.NAME` per asked
value (DESIGN.md, `derive grade`).

`derive problems` writes the empty sheet beside answers.json; teaching assistants type it, or a
spreadsheet exports it.  Reading it takes what spreadsheets write: comma, semicolon or tab
separated, UTF-8 with or without a byte order mark, decimal commas, a Unicode minus, blank
cells, columns in any order and extra columns (ignored, with one warning).  Nothing here
judges a value: each cell's text goes on as written (decimal comma made a point), and the
marking reads the number and its places from it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from derive.errors import DeriveError, did_you_mean

MAX_BYTES = 64 * 1024 * 1024  # a class of 100,000 students with 200 values each fits
MAX_ROWS = 100_000
MAX_CELL = 1_000  # characters: an id or a number, never a page of text
FIXED = ("student", "variant")
_PLAIN = re.compile(r"-?[0-9]+[.,][0-9]+")  # most cells: at most a decimal comma to change


def column_name(kind: str, name: str) -> str:
    return f"{kind}.{name}"


def empty_sheet(columns) -> str:
    """The sheet with its header only (CSV, comma separated, UTF-8)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([*FIXED, *columns])
    return out.getvalue()


@dataclass(frozen=True)
class Row:
    line: int  # where the row starts in the file (the header is line 1 unless blank lines lead)
    student: str
    variant: str
    cells: dict  # column -> text as typed, made a number's text (decimal point, ASCII minus)
    problems: tuple[str, ...]  # what is wrong with the row as read (not with its values)


@dataclass(frozen=True)
class Sheet:
    source: str
    delimiter: str
    columns: tuple[str, ...]  # the value columns found, in the sheet's order
    missing: tuple[str, ...]  # the problem set's columns the sheet does not have
    ignored: tuple[str, ...]  # header cells that name no column of the problem set
    rows: tuple[Row, ...]
    blank_lines: tuple[int, ...]  # rows with nothing in them (spreadsheets add them)


def number_text(text: str) -> str:
    """A cell's text as a number is written in the answers: spaces out, a decimal comma made a
    point, a Unicode minus made '-', '.5' made '0.5'.  Anything else is left for the marking
    to refuse."""
    if _PLAIN.fullmatch(text):
        return text.replace(",", ".")
    t = re.sub(r"[\s\u00a0\u2009\u202f]+", "", text).replace("\u2212", "-")
    if re.fullmatch(r"[+-]?[0-9]*,[0-9]+(?:[eE][+-]?[0-9]+)?", t):
        t = t.replace(",", ".")
    t = re.sub(r"^([+-]?)\.(?=[0-9])", r"\g<1>0.", t)
    return t


def _decode(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DeriveError(f"{source}: the sheet is UTF-16 text (a spreadsheet's 'Unicode "
                          f"text'); save it as 'CSV UTF-8' (comma or semicolon separated)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DeriveError(f"{source}:{line}: the sheet is not UTF-8 text (byte "
                          f"0x{data[exc.start]:02x}); save it as 'CSV UTF-8'") from None
    if "\x00" in text:
        raise DeriveError(f"{source}: the sheet holds NUL characters: it is not a CSV file")
    return text


def _delimiter(header: str) -> str:
    """The separator of the header line, outside quotes: the header has no decimal commas, so
    a semicolon there means a semicolon sheet (decimal commas in its cells)."""
    outside = re.sub(r'"[^"]*"', "", header)
    for d in (";", "\t", ","):
        if d in outside:
            return d
    return ","


def _records(text: str, delimiter: str):
    """(line, cells) of each record, line where the record starts (quoted cells may hold line
    breaks)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DeriveError(f"line {reader.line_num}: not readable as CSV: {exc}") from None


def _header_key(cell: str) -> str:
    return re.sub(r"\s+", "", cell.replace("\ufeff", ""))


def read(path, columns, source: str | None = None) -> Sheet:
    """Read a class sheet; `columns` are the problem set's value columns (KIND.NAME)."""
    path = Path(path)
    source = source or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DeriveError(f"{source}: {size:,} bytes; a class sheet is at most "
                              f"{MAX_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise DeriveError(f"the class sheet '{source}' does not exist") from None
    except IsADirectoryError:
        raise DeriveError(f"the class sheet '{source}' is a directory, not a CSV file") from None
    except OSError as exc:
        raise DeriveError(f"the class sheet '{source}' cannot be read: "
                          f"{exc.strerror or exc}") from None
    return parse(_decode(data, source), columns, source)


def parse(text: str, columns, source: str = "sheet") -> Sheet:
    columns = list(columns)
    lines = re.split(r"\r\n|\r|\n", text)
    first = next((i for i, line in enumerate(lines) if line.strip(" ,;\t")), None)
    if first is None:
        raise DeriveError(f"{source}: the sheet is empty; it needs a header row: "
                          f"{', '.join([*FIXED, *columns[:3]])}, ...")
    delimiter = _delimiter(lines[first])
    try:
        records = list(_records(text, delimiter))
    except DeriveError as exc:
        raise DeriveError(f"{source}:{exc}") from None
    records = [(line, cells) for line, cells in records if line > first]  # blank lines before
    header_line, header = records[0]
    body = records[1:]
    if len(body) > MAX_ROWS:
        raise DeriveError(f"{source}: {len(body):,} rows; a sheet has at most {MAX_ROWS:,}")

    # the header: student, variant (any case), then the value columns (kind in any case)
    by_key = {}
    for c in columns:
        kind, _, name = c.partition(".")
        by_key[f"{kind.lower()}.{name}"] = c
    index, ignored, seen = {}, [], {}
    for i, cell in enumerate(header):
        key = _header_key(cell)
        if len(cell) > MAX_CELL:
            raise DeriveError(f"{source}:{header_line}: a header cell of {len(cell):,} "
                              f"characters")
        if key.lower() in FIXED:
            key = key.lower()
        else:
            kind, dot, name = key.partition(".")
            key = by_key.get(f"{kind.lower()}{dot}{name}", key)
        if not key:
            if any(i < len(cells) and cells[i].strip() for _, cells in body):
                ignored.append(f"column {i + 1} (no header)")
            continue
        if key in seen:
            raise DeriveError(f"{source}:{header_line}: the column '{key}' appears twice "
                              f"(columns {seen[key] + 1} and {i + 1}); which one holds the "
                              f"values?")
        seen[key] = i
        if key in FIXED or key in columns:
            index[key] = i
        else:
            ignored.append(cell.strip() + did_you_mean(key, columns))
    for name in FIXED:
        if name not in index:
            raise DeriveError(f"{source}:{header_line}: the sheet has no '{name}' column; its "
                              f"header must start like the sheet `derive problems` wrote: "
                              f"student, variant, {', '.join(columns[:3])}, ...")
    found = [c for c in sorted(index, key=index.get) if c not in FIXED]
    if not found:
        shown = ", ".join(header[i].strip() for i in range(len(header))
                          if _header_key(header[i]).lower() not in FIXED)[:300]
        raise DeriveError(f"{source}:{header_line}: none of the sheet's columns ({shown or 'none'})"
                          f" is asked by this problem set, whose columns are "
                          f"{', '.join(columns[:6])}{', ...' if len(columns) > 6 else ''}: is "
                          f"it the sheet of another problem set?")

    rows, blank = [], []
    width = len(header)
    for line, cells in body:
        if not any(c.strip() for c in cells):
            blank.append(line)
            continue
        problems = []
        for c in cells:
            if len(c) > MAX_CELL:
                raise DeriveError(f"{source}:{line}: a cell of {len(c):,} characters; a "
                                  f"sheet's cells hold an id or a number")
        if len(cells) > width:
            extra = [c for c in cells[width:] if c.strip()]
            if extra:
                hint = (" (a decimal comma in a comma-separated sheet? separate with "
                        "semicolons, or quote such cells)" if delimiter == "," else "")
                problems.append(f"{len(cells)} cells but the header has {width}; the cells "
                                f"past column {width} are ignored{hint}")

        def cell(name):
            i = index[name]
            return cells[i] if i < len(cells) else ""

        values = {}
        for c in found:
            t = cell(c).strip()
            if t:
                values[c] = number_text(t)
        rows.append(Row(line, cell("student").strip(), cell("variant").strip(), values,
                        tuple(problems)))
    return Sheet(source, delimiter, tuple(found), tuple(c for c in columns if c not in index),
                 tuple(ignored), tuple(rows), tuple(blank))
