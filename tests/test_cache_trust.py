"""The derivation cache is not trusted (issue 13.3).

A record read from disk is used only if it is well formed and its digest holds; its markup
must stay inside what SymPy writes; anything else is ignored and derived afresh: never wrong
numbers, never markup in a document, never exit 70, never a RecursionError.  Each test runs
derive as a process on a cache directory of its own (the in-process caches would hide the
file), edits the record the first run wrote, and runs again.

The tests find the record inside the file as the code under test writes it (an envelope on
this branch, the bare record on main), so that each of them fails on main.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import requires_pdflatex

ROOT = Path(__file__).resolve().parents[1]


def run(cache: Path, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), DERIVE_CACHE_DIR=str(cache))
    env.pop("DERIVE_DEBUG", None)  # the CLI as a user runs it: a bug would be exit 70
    return subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """A cache with the lecture's records, and the clean outputs to compare against."""
    cache = tmp_path_factory.mktemp("cache")
    clean = {fmt: run(cache, "example", "--format", fmt) for fmt in ("json", "html", "latex")}
    assert all(r.returncode == 0 for r in clean.values())
    files = {p.name: p.read_bytes() for p in cache.iterdir() if p.suffix == ".json"}
    return cache, {k: v.stdout for k, v in clean.items()}, files


def _restore(cache: Path, files: dict):
    for p in cache.iterdir():
        p.unlink()
    for name, data in files.items():
        (cache / name).write_bytes(data)


def _record_file(cache: Path, kind: str) -> Path:
    (path,) = [p for p in cache.iterdir() if p.name.startswith(kind + "-")]
    return path


def _edit(path: Path, change):
    """Apply change(record) to the record inside the file (an envelope's or a bare one)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    record = data["record"] if isinstance(data, dict) and "record" in data else data
    change(record)
    path.write_text(json.dumps(data), encoding="utf-8")


def _step(record, kind):
    return record["steps"][0] if kind != "pairing" else record["steps"][-1]


EDITS = {
    # an edited number: on main, wrong error terms with exit 0
    "numeric value": ("activation", lambda r: r["numeric"].__setitem__("df", ["num", 0.5])),
    "tree head": ("activation", lambda r: r["numeric"].__setitem__("f", ["eval", ["num", 1]])),
    "tree arity": ("activation", lambda r: r["numeric"].__setitem__("df", ["inv"])),
    "Err tree": ("pairing", lambda r: r.__setitem__("numeric", ["num", 7.0])),
    "missing key": ("activation", lambda r: r.pop("numeric")),
    "extra key": ("loss", lambda r: r.__setitem__("extra", "x")),
    "text type": ("loss", lambda r: r.__setitem__("name", 5)),
    "terminal escape": ("activation", lambda r: r["derivative"].__setitem__(
        "text", "\x1b]0;pwned\x07\x1b[2J")),
}


@pytest.mark.slow
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edited_record_is_derived_afresh(warm, edit):
    cache, clean, files = warm
    _restore(cache, files)
    kind, change = EDITS[edit]
    _edit(_record_file(cache, kind), change)
    result = run(cache, "example", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == clean["json"]
    # and the record was written again, whole
    assert _record_file(cache, kind).read_bytes() == files[_record_file(cache, kind).name]


HOSTILE_MARKUP = {
    "latex": r"\input{/etc/passwd}",
    "mathml": "<img src=x onerror=alert(1)><svg onload=alert(1)></svg>",
}


@pytest.mark.slow
@pytest.mark.parametrize("field", sorted(HOSTILE_MARKUP))
def test_markup_from_the_cache_is_never_trusted(warm, field):
    """A latex or mathml field edited on disk reaches no document (on main: \\input in the
    .tex, and live <img>/<svg> elements in the page)."""
    cache, clean, files = warm
    _restore(cache, files)
    for kind in ("activation", "pairing"):
        _edit(_record_file(cache, kind),
              lambda r, kind=kind: _step(r, kind).__setitem__(field, HOSTILE_MARKUP[field]))
    fmt = "latex" if field == "latex" else "html"
    result = run(cache, "example", "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert "/etc/passwd" not in result.stdout
    assert "<img" not in result.stdout and "<svg onload" not in result.stdout
    assert result.stdout == clean[fmt]


def test_a_forged_digest_does_not_let_markup_in(warm):
    """Whoever recomputes the digest still cannot get markup past the check of its shape:
    \\input is no command SymPy writes."""
    from derive.symbolic import cache as c

    cache, _, files = warm
    _restore(cache, files)
    path = _record_file(cache, "activation")
    envelope = json.loads(path.read_text(encoding="utf-8"))
    envelope["record"]["steps"][0]["latex"] = r"\input{/etc/passwd}"
    envelope["digest"] = c._digest("activation", envelope["key"], envelope["record"])
    path.write_text(json.dumps(envelope), encoding="utf-8")
    assert c._read(path, "activation", envelope["key"]) is None
    envelope["record"]["steps"][0]["latex"] = r"\frac{d}{d z} z"  # SymPy's kind of LaTeX
    envelope["digest"] = c._digest("activation", envelope["key"], envelope["record"])
    path.write_text(json.dumps(envelope), encoding="utf-8")
    assert c._read(path, "activation", envelope["key"]) is not None


WRONG_SHAPES = {
    "object": "{}", "array": "[]", "null": "null", "string": '"x"', "number": "1",
    "truncated": None, "not utf-8": b"\xff\xfe\x00{", "empty": "",
    # 100,000 deep: json raised RecursionError on main (exit 70 every run after)
    "deep array": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"a":' * 100_000 + "1" + "}" * 100_000,
}


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(WRONG_SHAPES))
def test_a_record_of_the_wrong_shape_is_ignored(warm, shape):
    cache, clean, files = warm
    _restore(cache, files)
    for kind in ("activation", "loss", "pairing"):
        path = _record_file(cache, kind)
        content = WRONG_SHAPES[shape]
        if content is None:
            content = path.read_bytes()[: len(path.read_bytes()) // 2]
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run(cache, "example", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == clean["json"]


def test_an_oversized_file_is_not_read(tmp_path):
    from derive.symbolic import cache as c

    path = tmp_path / "activation-x.json"
    with open(path, "wb") as fh:
        fh.truncate(c.MAX_BYTES + 1)
    assert c._read(path, "activation", "x") is None


def test_every_fresh_record_passes_the_check():
    """What derivation writes is exactly what the check accepts (so that no record is
    derived again on every run): every registered activation, loss and pairing."""
    from derive.symbolic import derivation, record
    from derive.symbolic.definitions import ACTIVATIONS, LOSSES

    for act in ACTIVATIONS.values():
        assert record.valid("activation", derivation.derive_activation(act)), act.name
    for loss in LOSSES.values():
        assert record.valid("loss", derivation.derive_loss(loss)), loss.name
        for act in ("sigmoid", "softmax", "tanh", "linear"):
            rec = derivation.derive_pairing(loss, ACTIVATIONS[act])
            assert record.valid("pairing", rec), (loss.name, act)


@pytest.mark.parametrize("text,ok", [
    (r"\frac{e^{- z}}{\left(1 + e^{- z}\right)^{2}}", True),
    (r"\begin{cases} 1 & \text{for}\: z > 0 \\ 0 & \text{otherwise} \end{cases}", True),
    (r"\operatorname{softplus}{\left(z \right)}", True),
    (r"\input{/etc/passwd}", False),
    (r"\write18{id}", False),
    (r"^^5cinput{/etc/passwd}", False),  # TeX's own spelling of a backslash
    (r"\csname input\endcsname", False),
    (r"\operatorname{x}\def\y{z}", False),
    (r"\text{\input{x}}", False),
    (r"\begin{verbatim}", False),
    (r"\frac{1}{2", False),
    (r"z <img src=x>", False),
    (r"z &lt;", False),
    ("z % comment", False),
    ("$z$", False),
])
def test_latex_check(text, ok):
    from derive.symbolic.record import latex

    assert latex(text) is ok


@pytest.mark.parametrize("text,ok", [
    ("<mrow><mi>z</mi><mo>&gt;</mo><mn>0</mn></mrow>", True),
    ("<mfrac><mn>1</mn><mrow><mn>1</mn><mo>+</mo><msup><mi>ⅇ</mi><mi>z</mi></msup></mrow>"
     "</mfrac>", True),
    ("<mo>&#x2202;</mo>", True),
    ("<img src=x onerror=alert(1)>", False),
    ("<mi>x</mi><svg onload=alert(1)></svg>", False),
    ('<mi onclick="alert(1)">x</mi>', False),
    ('<mi mathvariant="bold" style="x">x</mi>', False),
    ("<mi>&nbsp;</mi>", False),
    ("<mi><!-- x --></mi>", False),
    ("<mi>x</mo>", False),
    ("<mrow><mi>x</mi>", False),
    ("<mi>a<b</mi>", False),
    ("<mi>\x1b[2J</mi>", False),
])
def test_mathml_check(text, ok):
    from derive.symbolic.record import mathml

    assert mathml(text) is ok


@requires_pdflatex
@pytest.mark.slow
def test_the_pdf_never_reads_the_cache_s_latex(warm, tmp_path):
    from render.latex import compile_pdf

    cache, clean, files = warm
    _restore(cache, files)
    _edit(_record_file(cache, "activation"),
          lambda r: _step(r, "activation").__setitem__("latex", r"\input{/etc/passwd}"))
    result = run(cache, "example", "--format", "latex")
    assert result.returncode == 0, result.stderr
    pdf = compile_pdf(result.stdout)
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True).stdout
    # /etc/passwd's lines name daemon and nologin (in math mode its colons and spaces go)
    assert b"daemon" not in text and b"nologin" not in text
