"""What derive echoes: documents on stdout, one-line messages on stderr.

Three rules for everything the commands print (files written with -o are the formats' own
business and are not touched here):

* No control character reaches the terminal.  A title, an expression or a file name can hold
  escape sequences (ESC [2J clears the screen, ESC ]0; sets the window title, a newline in a
  file name would forge a second "derive: error" line).  In a message each is shown as its
  escape (\\x1b, \\n); in a document as \\u001b, which in JSON (the only place such a
  character can stand raw there is inside a string) is the same value.
* A stream that cannot encode a character gets its ASCII form (a Windows redirect in cp1252:
  η -> eta, ∂ -> d, − -> -, the pieces of SymPy's 2-D forms one for one, so they stay
  aligned); what has no ASCII form becomes '?'.
* Writing may fail (a full disk, a closed stdout, a reader that went away): that is one line
  and a non-zero exit status, never a traceback and never exit 0 with the output lost.
"""

from __future__ import annotations

import re
import sys
import unicodedata

from derive.errors import DeriveError

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that
# reorder what a terminal shows (the "Trojan source" characters)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(c: str) -> str:
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def sanitize(text: str, *, one_line: bool = False) -> str:
    """A message (one_line): every control character as its escape, newlines too.  A
    document: newlines and tabs kept, every other control character as \\uXXXX (json.dumps
    escapes C0 itself but leaves DEL, C1 and the bidi controls raw; \\uXXXX is their JSON
    escape, so a JSON document keeps its value, and in text it is visible)."""
    if one_line:
        return _CONTROL_LINE.sub(lambda m: _escape(m.group()), text)
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# ASCII forms of the characters derive's text uses.  The pieces of SymPy's 2-D pretty forms
# (fraction bars, big brackets, roots) map one for one, as SymPy's own ASCII printer draws
# them, so columns stay aligned.
_ASCII = {
    "─": "-", "═": "=", "│": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+",
    "┤": "+", "┬": "+", "┴": "+", "┼": "+", "╱": "/", "╲": "\\", "⎛": "/", "⎜": "|",
    "⎝": "\\", "⎞": "\\", "⎟": "|", "⎠": "/", "⎡": "[", "⎢": "[", "⎣": "[", "⎤": "]",
    "⎥": "]", "⎦": "]", "⎧": "/", "⎨": "<", "⎩": "\\", "⎪": "|", "⎫": "\\", "⎬": ">",
    "⎭": "/", "⋅": "*", "·": "*", "×": "*", "ℯ": "e", "′": "'", "″": "''", "−": "-",
    "–": "-", "—": "--", "…": "...", "“": '"', "”": '"', "‘": "'", "’": "'", "±": "+/-",
    "½": "1/2", "∂": "d", "∇": "grad ", "→": "->", "←": "<-", "⇒": "=>", "≤": "<=",
    "≥": ">=", "≠": "!=", "≈": "~=", "∞": "inf", "√": "sqrt", "∑": "sum", "Σ": "sum",
    "∏": "prod", "∈": " in ", "✓": "ok", "✗": "x", "✔": "ok", "✘": "x", "•": "*",
    "█": "#", "░": ".", "₪": "ILS ", "€": "EUR ", "°": " deg",
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu",
    "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma", "τ": "tau",
    "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma",
    "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Φ": "Phi", "Ψ": "Psi",
    "Ω": "Omega",
}
_SUPER = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ", "0123456789+-=()ni"))
_SUB = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜⱼᵢᵣᵤᵥ", "0123456789+-=()aeoxhklmnpstjiruv"))


def _fits(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    except LookupError:
        return True
    return True


def _plain(c: str, encoding: str) -> str:
    form = _ASCII.get(c)
    if form is None:  # é -> e, ﬁ -> fi; what has no such form is '?'
        form = "".join(ch for ch in unicodedata.normalize("NFKD", c)
                       if not unicodedata.combining(ch))
    return form if form and _fits(form, encoding) else "?"


def fit_encoding(text: str, encoding: str | None) -> str:
    """text as it can be written in encoding: each character the encoding lacks replaced by
    its ASCII form (superscripts as ^2 or ^(n-1), subscripts as plain digits: w₁,₄ -> w1,4)."""
    encoding = encoding or "utf-8"
    if _fits(text, encoding):
        return text
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if _fits(c, encoding) and not (c in _SUPER and _run_needs_forms(text, i, encoding)):
            out.append(c)
            i += 1
            continue
        for table, mark in ((_SUPER, "^"), (_SUB, "_")):
            if c in table:  # the whole run, even characters of it the encoding has (uⁿ⁻¹)
                j = i
                while j < len(text) and text[j] in table:
                    j += 1
                run = "".join(table[ch] for ch in text[i:j])
                if mark == "^":
                    out.append("^" + (run if len(run) == 1 else f"({run})"))
                else:  # after Σ it names the index (sum_j); after a name it is its number
                    out.append(("_" if i and text[i - 1] in "Σ∑" else "") + run)
                i = j
                break
        else:
            out.append(_plain(c, encoding))
            i += 1
    return "".join(out)


def _json_escapes(text: str, encoding: str | None) -> str:
    encoding = encoding or "utf-8"
    if _fits(text, encoding):
        return text
    return "".join(c if _fits(c, encoding) else
                   "".join(f"\\u{u:04x}" for u in _utf16(c)) for c in text)


def _utf16(c: str) -> list[int]:
    """The UTF-16 code units of a character (a JSON escape names those: emoji take two)."""
    data = c.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def _run_needs_forms(text: str, i: int, encoding: str) -> bool:
    """Does the run of superscripts at i hold a character the encoding lacks?"""
    j = i
    while j < len(text) and text[j] in _SUPER:
        if not _fits(text[j], encoding):
            return True
        j += 1
    return False


def _encoding(stream) -> str | None:
    return getattr(stream, "encoding", None)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C (derive.cli installs the handler):
    every write in progress cleans up after itself (derive.output removes its temporary
    files on any exception)."""


def write_document(text: str, json: bool | None = None) -> None:
    """A document on stdout, whole, or a DeriveError saying why it could not be written.
    JSON (json=None: a text that starts with { or [) keeps every character it cannot encode
    as its \\uXXXX escape: the same JSON value."""
    stream = sys.stdout
    if stream is None or getattr(stream, "closed", False):
        raise DeriveError("standard output is closed, so the output would be lost; "
                          "give -o FILE, or run derive with its output open")
    if json is None:
        json = text.lstrip().startswith(("{", "["))
    text = sanitize(text)
    encoding = _encoding(stream)
    text = _json_escapes(text, encoding) if json else fit_encoding(text, encoding)
    if not text.endswith("\n"):
        text += "\n"
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        quiet_exit_after_broken_pipe()
    except OSError as exc:
        raise DeriveError(f"cannot write to standard output: {exc.strerror or exc}; the "
                          f"output is incomplete") from None
    except ValueError:  # a closed stream
        raise DeriveError("standard output is closed, so the output would be lost; "
                          "give -o FILE") from None


def quiet_exit_after_broken_pipe() -> None:
    """The reader of our stdout went away (| head): stop quietly, as a program killed by
    SIGPIPE would (status 141), and keep Python from complaining at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    sys.exit(141)


def say(line: str) -> None:
    """One line on stderr (a message, 'wrote PATH'): control characters escaped, so it stays
    one line, and fitted to the stream's encoding."""
    stream = sys.stderr
    if stream is None:
        return
    text = fit_encoding(sanitize(line.rstrip("\n"), one_line=True), _encoding(stream)) + "\n"
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):  # nowhere left to say it; the exit status still tells
        pass


def say_block(text: str) -> None:
    """Several lines of derive's own on stderr (click's usage errors): each line sanitised."""
    for line in text.rstrip("\n").split("\n"):
        say(line)
