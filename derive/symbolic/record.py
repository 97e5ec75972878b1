"""What a derivation record read back from the cache may hold, checked before it is used.

A record on disk is data anyone with access to the cache directory can edit, so none of it is
trusted (derive.symbolic.cache also checks its digest).  `valid(kind, record)` accepts only
the exact shape derive.symbolic.derivation produces: every key, every type, finite numbers,
printable text, expression trees made of derive.numeric.evaluate's operations with their
number of arguments and at most MAX_DEPTH deep, and markup that stays inside what SymPy's
printers write for derive's grammar:

* LaTeX: ASCII letters, digits and math punctuation; control sequences from a fixed list of
  math commands; \\begin/\\end of cases only; \\operatorname, \\text, \\mathrm, \\mathit around
  letters, digits and spaces only; balanced braces; no ^^ (TeX's character-code escape), no %,
  #, $ or ~; no < or & that could open an HTML tag or entity in a Markdown page.  \\input,
  \\write18, \\def, \\catcode, \\url and every other command are refused because they are not
  on the list, not because they are on a blacklist.
* MathML: a fixed set of presentation elements and attributes, balanced, with text that holds
  no markup (only the entities &lt; &gt; &amp; &quot; and numeric ones) and no comments,
  CDATA or processing instructions.

Anything else makes the record invalid; the cache then ignores it and derives afresh.
"""

from __future__ import annotations

import math
import re

from derive.numeric.evaluate import OPERATIONS

MAX_DEPTH = 300  # of an expression tree (a 2,000-character expression's derivative fits)
MAX_TEXT = 200_000  # characters of one text or markup field
MAX_ITEMS = 10_000  # entries of one list (steps, intervals, tree children)

# ---------------------------------------------------------------- plain values


def _text(value, newlines: bool = False) -> bool:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return False
    # no control characters (terminal escapes), no format characters (bidi overrides)
    return (value.replace("\n", "") if newlines else value).isprintable()


def _number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _opt(check):
    return lambda v: v is None or check(v)


def _list(check, length: int | None = None):
    def ok(v):
        return (isinstance(v, list) and len(v) <= MAX_ITEMS
                and (length is None or len(v) == length) and all(check(x) for x in v))
    return ok


def _dict(fields: dict):
    """Exactly these keys, each passing its check."""
    def ok(v):
        return (isinstance(v, dict) and set(v) == set(fields)
                and all(check(v[k]) for k, check in fields.items()))
    return ok


def _mapping(key, value):
    def ok(v):
        return (isinstance(v, dict) and len(v) <= MAX_ITEMS
                and all(key(k) and value(x) for k, x in v.items()))
    return ok


def _bool(v) -> bool:
    return isinstance(v, bool)


# ---------------------------------------------------------------- expression trees

_UNARY = {"inv", "sqrt", "square", "exp", "log", "abs", "sin", "cos", "tanh", "atanh", "cosh",
          "sinh", "erf", "sign", "sigmoid", "softplus", "not"}
_BINARY = {"pow", "gt", "ge", "lt", "le", "eq", "ne"}
_NARY = {"add", "mul", "and", "or"}
assert _UNARY | _BINARY | _NARY == set(OPERATIONS), "a new operation needs its arity here"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,40}")


def tree(value, depth: int = 0) -> bool:
    """A tree derive.numeric.evaluate can compile and evaluate without an error of its own."""
    if depth > MAX_DEPTH or not isinstance(value, list) or not value:
        return False
    head, args = value[0], value[1:]
    if head == "num":
        return len(args) == 1 and _number(args[0])
    if head == "sym":
        return len(args) == 1 and isinstance(args[0], str) and bool(_NAME.fullmatch(args[0]))
    if head in ("true", "false"):
        return not args
    if head == "piecewise":
        return 1 <= len(args) <= MAX_ITEMS and all(
            isinstance(p, list) and len(p) == 2 and tree(p[0], depth + 1)
            and tree(p[1], depth + 1) for p in args)
    if head in _UNARY:
        count = len(args) == 1
    elif head in _BINARY:
        count = len(args) == 2
    elif head in _NARY:
        count = 1 <= len(args) <= MAX_ITEMS
    else:
        return False
    return count and all(tree(a, depth + 1) for a in args)


# ---------------------------------------------------------------- LaTeX

_LATEX_WORDS = frozenset("""
    frac dfrac tfrac left right cdot times sqrt log ln exp sin cos tan sinh cosh tanh coth sech
    csch sec csc cot arcsin arccos arctan operatorname text mathrm mathit begin end geq leq neq
    ne ge le partial pi infty alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta
    iota kappa lambda mu nu xi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta
    Lambda Xi Pi Sigma Phi Psi Omega quad qquad max min wedge vee neg lnot sum prod limits
    overline tilde hat dots ldots cdots mid lvert rvert vert Re Im arg sign
""".split())
_LATEX_SYMBOLS = frozenset(":\\,;! {}|")  # \: \\ \, \; \! \  \{ \} \|
_LATEX_ENVIRONMENTS = frozenset({"cases", "matrix", "smallmatrix", "pmatrix", "bmatrix"})
_LATEX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                         " \n&(){}[]+-*/=<>,.;:!'|^_\\")
_LATEX_TOKEN = re.compile(r"\\([A-Za-z]+)|\\(.)", re.S)
_LATEX_ARGUMENT = re.compile(r"\\(operatorname|text|mathrm|mathit|begin|end)\s*\{([^{}]*)\}")


def latex(value) -> bool:
    """LaTeX as SymPy's printer writes it for derive's expressions, and nothing else."""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return False
    if not set(value) <= _LATEX_CHARS or "^^" in value:
        return False
    if re.search(r"<[A-Za-z/!?]|&[A-Za-z#]", value):  # a tag or an entity, in Markdown
        return False
    for word, symbol in _LATEX_TOKEN.findall(value):
        if word and word not in _LATEX_WORDS:
            return False
        if symbol and symbol not in _LATEX_SYMBOLS:
            return False
    for command, argument in _LATEX_ARGUMENT.findall(value):
        if command in ("begin", "end"):
            if argument not in _LATEX_ENVIRONMENTS:
                return False
        elif not re.fullmatch(r"[A-Za-z0-9 ]*", argument):
            return False
    for command in ("operatorname", "text", "mathrm", "mathit", "begin", "end"):
        # each of these only with a plain argument in braces (checked just above)
        if len(re.findall(r"\\" + command + r"(?![A-Za-z])", value)) != \
                len(re.findall(r"\\" + command + r"\s*\{[^{}]*\}", value)):
            return False
    depth = 0
    for c in _LATEX_TOKEN.sub("", value):  # \{ and \} are escaped braces, not groups
        depth += (c == "{") - (c == "}")
        if depth < 0:
            return False
    return depth == 0


# ---------------------------------------------------------------- MathML

_MATHML_ELEMENTS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "mfrac", "msqrt", "mroot", "msub", "msup", "msubsup",
    "mtable", "mtr", "mtd", "mtext", "mspace", "mstyle", "mfenced", "munder", "mover",
    "munderover", "mpadded", "mphantom", "menclose"})
_MATHML_ATTRIBUTES = frozenset({
    "open", "close", "separators", "mathvariant", "columnalign", "linethickness", "stretchy",
    "fence", "form", "displaystyle", "scriptlevel", "lspace", "rspace", "width", "accent",
    "notation"})
_MATHML_TAG = re.compile(r"<(/?)([A-Za-z]+)((?:\s+[A-Za-z]+=\"[^\"<>&]*\")*)\s*(/?)>")
_MATHML_ATTRIBUTE = re.compile(r"([A-Za-z]+)=\"([^\"]*)\"")
_MATHML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});")


_INVISIBLE = dict.fromkeys(map(ord, "\u2061\u2062\u2063\u2064"))


def _mathml_text(text: str) -> bool:
    if "<" in text or ">" in text:
        return False
    if "&" in _MATHML_ENTITY.sub("", text):
        return False
    # MathML's invisible operators (function application, times, separator, plus) aside
    return text.translate(_INVISIBLE).isprintable()


def mathml(value) -> bool:
    """Presentation MathML as SymPy's printer writes it, and nothing else."""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return False
    stack, pos, texts = [], 0, []
    for match in _MATHML_TAG.finditer(value):
        texts.append(value[pos:match.start()])
        pos = match.end()
        closing, name, attributes, empty = match.groups()
        if name not in _MATHML_ELEMENTS:
            return False
        for attribute, text in _MATHML_ATTRIBUTE.findall(attributes):
            if attribute not in _MATHML_ATTRIBUTES or not re.fullmatch(
                    r"[A-Za-z0-9 .,:;()|\[\]{}+\-−]*", text):
                return False
        if closing:
            if attributes or empty or not stack or stack.pop() != name:
                return False
        elif not empty:
            stack.append(name)
            if len(stack) > MAX_DEPTH:
                return False
    texts.append(value[pos:])
    # the text between the tags, checked at once; U+2063 (allowed, no part of an entity)
    # keeps an entity from being made of two pieces
    return not stack and _mathml_text("\u2063".join(texts))


# ---------------------------------------------------------------- records

_SPELLINGS = ("expression", "latex", "mathml", "text")


def _spelling(v) -> bool:
    # "text" is one line of Unicode for the terminal: printable, no line break
    return _dict({"expression": _text, "latex": latex, "mathml": mathml, "text": _text})(v)


def _step(extra: dict):
    fields = {"rule": _text, **extra}

    def ok(v):
        return (isinstance(v, dict) and set(v) == set(fields) | set(_SPELLINGS)
                and all(check(v[k]) for k, check in fields.items())
                and _spelling({k: v[k] for k in _SPELLINGS}))
    return ok


def _no_output_form(v) -> bool:
    """Why an activation has no form in its output (derivation._no_output_form), or None."""
    if v is None:
        return True
    if not isinstance(v, dict):
        return False
    reason = v.get("reason")
    if reason == "not_found":
        return set(v) == {"reason"}
    if reason == "no_numeric_form":
        return set(v) == {"reason", "needs"} and _text(v["needs"]) and len(v["needs"]) <= 40
    if reason == "not_determined":
        return _dict({"reason": _text, "z": _list(_number, 2), "a": _number,
                      "fprime": _list(_number, 2)})(v)
    return False


def _loss_limit(v) -> bool:
    """E as o goes to -oo or +oo: "inf", "-inf", a tree in t, or None (derivation._limits)."""
    return v is None or v in ("inf", "-inf") or tree(v)


def _omitted(v) -> bool:
    from derive.symbolic.budget import OMITTED

    return isinstance(v, list) and all(isinstance(k, str) and k in OMITTED for k in v)


def _notes_agree(kind: str, record) -> bool:
    """The notes are exactly the ones derive writes for the omitted steps, not any text."""
    from derive.symbolic.budget import notes, pairing_notes

    return record["omitted_notes"] == (pairing_notes if kind == "pairing" else notes)(
        record["omitted"])


_INTERVAL = _dict({"low": _opt(_number), "high": _opt(_number), "low_closed": _bool,
                   "high_closed": _bool, "zero": _bool, "text": _text})

_ACTIVATION = _dict({
    "name": _text, "definition": _text, "description": _text, "symbol": _text,
    "params": _mapping(_text, _number), "elementwise": _bool,
    "function": _spelling, "derivative": _spelling, "derivative_from_output": _opt(_spelling),
    "no_output_form": _no_output_form,
    "has_gradient": _bool, "context": _mapping(_text, _text),
    "jacobian": _opt(_dict({"diagonal": _spelling, "off_diagonal": _spelling,
                            "general": _spelling})),
    "range": _dict({"values": _opt(_list(_number)), "low": _opt(_number),
                    "high": _opt(_number), "low_closed": _bool, "high_closed": _bool,
                    "text": _text}),
    "vanishing": _dict({"threshold": _number, "in_input": _opt(_list(_INTERVAL)),
                        "in_output": _opt(_list(_INTERVAL))}),
    "steps": _list(_step({})),
    "numeric": _dict({"f": tree, "df": tree, "df_from_output": _opt(tree)}),
    "omitted": _omitted, "omitted_notes": _list(_text),
})

_LOSS = _dict({
    "name": _text, "definition": _text, "description": _text, "formula": _text,
    "loss": _spelling, "dE_do": _spelling, "minus_dE_do": _spelling,
    "steps": _list(_step({"quantity": _text})),
    "critical": _list(tree), "limits": _dict({"-inf": _loss_limit, "inf": _loss_limit}),
    "numeric": _dict({"E": tree, "dE_do": tree}),
})

_PAIRING = _dict({
    "loss": _text, "activation": _text, "in_output": _bool, "elementwise": _bool,
    "context": _mapping(_text, _text), "steps": _list(_step({"quantity": _text})),
    "Err": _spelling, "numeric": tree, "omitted": _omitted, "omitted_notes": _list(_text),
})

SCHEMAS = {"activation": _ACTIVATION, "loss": _LOSS, "pairing": _PAIRING}


def valid(kind: str, record) -> bool:
    """Is this exactly the shape of a `kind` record, with safe text, markup and trees?"""
    try:
        return SCHEMAS[kind](record) and (kind == "loss" or _notes_agree(kind, record))
    except RecursionError:  # nested deeper than any record derive writes
        return False
