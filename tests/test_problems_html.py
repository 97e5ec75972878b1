"""`derive problems --format html`: problems.html and solutions.html, two self-contained pages.

Each page parses with the standard library's parser, holds one <section> per variant (its id
the variant's), shows every answer of answers.json in the solutions (rounded here, half up,
independently of derive's own formatting) and none that is not given in the problems; it
fetches nothing, and the same inputs write the same bytes.  answers.json and submissions.csv
are those of --format markdown.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

import derive
from derive.cli import main
from derive.problemset import KINDS

ALL = list(KINDS)
CHAINED = ["activation", "forward", "loss", "backward", "update", "step"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
requires_chromium = pytest.mark.skipif(CHROMIUM is None,
                                       reason="chromium is not installed (CI installs it)")
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}
MATH_TOKENS = {"mi", "mn", "mo", "mtext", "msub", "msup", "msubsup", "mrow", "mfrac",
               "munder", "mover", "msqrt", "mspace", "mstyle", "mpadded", "mtable", "mtr",
               "mtd"}
NUMBER = re.compile(r"−?\d+(?:\.\d+)?")


def run(*args):
    return CliRunner().invoke(main, ["problems", *args])


class Page(HTMLParser):
    """The parts of a page the tests read: the variant sections (in order), the text of each
    problem's <article> (math tokens joined, so −0.0571 reads as one number), the tags."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.sections: list[str] = []
        self.articles: dict[str, list[str]] = {}
        self.article: str | None = None
        self.tags: dict[str, int] = {}
        self.metas: list[dict] = []
        self.attrs: list[tuple] = []
        self.feed(text)
        self.close()
        assert not self.stack, f"unclosed: {self.stack}"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs += attrs
        if tag == "meta":
            self.metas.append(a)
        if tag == "section" and "variant" in (a.get("class") or "").split():
            self.sections.append(a["id"])
        if tag == "article":
            assert self.article is None, "an article inside an article"
            self.article = a["id"]
            self.articles[self.article] = []
        if self.article is not None and tag not in MATH_TOKENS:
            self.articles[self.article].append(" ")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs += attrs

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag == "article":
            self.article = None
        elif self.article is not None and tag not in MATH_TOKENS:
            self.articles[self.article].append(" ")

    def handle_data(self, data):
        if self.article is not None:
            self.articles[self.article].append(data)

    def text(self, article: str) -> str:
        return "".join(self.articles[article])

    def numbers(self, article: str) -> set:
        return set(NUMBER.findall(self.text(article)))


def shown(value: float, places: int) -> str:
    """A key's value as a page shows it: half up at `places`, a true minus, no −0.000."""
    text = str(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]
    return text.replace("-", "−")


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Three variants of every kind, and a chained set, in html and in markdown."""
    out = {}
    for name, kinds, extra in (("all", ALL, []), ("chain", CHAINED, ["--chain"])):
        for fmt in ("html", "markdown"):
            d = tmp_path_factory.mktemp(f"{name}-{fmt}")
            r = run("--kinds", ",".join(kinds), "--variants", "3", "--seed", "11", "--format",
                    fmt, "-o", str(d), "--force", *extra)
            assert r.exit_code == 0, r.output
            out[name, fmt] = d
    return out


@pytest.mark.parametrize("name", ["all", "chain"])
def test_the_files_and_the_key_are_those_of_markdown(sets, name):
    html, md = sets[name, "html"], sets[name, "markdown"]
    assert sorted(p.name for p in html.iterdir()) == \
        ["answers.json", "problems.html", "solutions.html", "submissions.csv"]
    for f in ("answers.json", "submissions.csv"):
        assert (html / f).read_bytes() == (md / f).read_bytes(), f


@pytest.mark.parametrize("name", ["all", "chain"])
@pytest.mark.parametrize("doc", ["problems", "solutions"])
def test_pages_parse_one_section_per_variant_and_fetch_nothing(sets, name, doc):
    d = sets[name, "html"]
    text = (d / f"{doc}.html").read_text()
    key = json.loads((d / "answers.json").read_text())
    page = Page(text)
    ids = [v["id"] for v in key["variants"]]
    assert page.sections == ids
    assert sorted(page.articles) == sorted(p["id"] for v in key["variants"]
                                           for p in v["problems"])
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")
    csp = [m for m in page.metas if m.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1 and "default-src 'none'" in csp[0]["content"]
    lowered = text.lower()
    for fetch in ("http://", "https://", "<script", "<link", "<img", "@import", "src="):
        assert fetch not in lowered, fetch
    assert "break-before: page" in text
    assert page.tags["math"] > 10 * len(ids)
    if "forward" in key["kinds"] and doc == "problems":
        assert page.tags["svg"] >= len(ids)  # the network of each variant, drawn inline
    # ids are unique (the arrowheads of the network pictures too)
    all_ids = [v for k, v in page.attrs if k == "id"]
    assert len(all_ids) == len(set(all_ids))


@pytest.mark.parametrize("name", ["all", "chain"])
def test_solutions_show_every_answer_at_its_places(sets, name):
    d = sets[name, "html"]
    key = json.loads((d / "answers.json").read_text())
    page = Page((d / "solutions.html").read_text())
    checked = 0
    for v in key["variants"]:
        for p in v["problems"]:
            numbers, text = page.numbers(p["id"]), page.text(p["id"])
            for n, value in p["answers"].items():
                if n in p.get("words", {}):
                    continue
                assert shown(value, p["places"][n]) in numbers, (p["id"], n, value)
                checked += 1
            for n, word in p.get("words", {}).items():
                assert word in text, (p["id"], n, word)
    assert checked > 100


def test_problems_do_not_show_the_answers(sets):
    """Spot checks: what a problem asks is not on the problem sheet (its givens are)."""
    d = sets["all", "html"]
    key = json.loads((d / "answers.json").read_text())
    page = Page((d / "problems.html").read_text())
    for v in key["variants"]:
        p = {q["kind"]: q for q in v["problems"]}
        for kind, names in (("forward", ["o6", "i6", "o4"]), ("backward", ["Err6", "Err4"]),
                            ("update", ["w4_6", "b6"]), ("step", ["loss", "o6"]),
                            ("activation", ["f", "fprime"]), ("descent", ["c1", "c3"])):
            numbers = page.numbers(p[kind]["id"])
            for n in names:
                assert shown(p[kind]["answers"][n], p[kind]["places"][n]) not in numbers, \
                    (kind, n)
        # and the backward problem prints the forward pass it is given
        back = p["backward"]
        for n, value in back.get("givens", {}).items():
            assert shown(value, back["places"].get(n, 3)) in page.numbers(back["id"]), n


def test_chained_problems_say_whose_values_to_use(sets):
    page = Page((sets["chain", "html"] / "problems.html").read_text())
    texts = [page.text(a) for a in page.articles if a.endswith("-update")]
    assert texts and all("your" in t and "from Problem" in t for t in texts)


def test_byte_identical_for_the_same_inputs(tmp_path):
    args = ["--kinds", "forward,step,batch,minima", "--variants", "2", "--seed", "3",
            "--format", "html"]
    assert run(*args, "-o", str(tmp_path / "a")).exit_code == 0
    assert run(*args, "-o", str(tmp_path / "b")).exit_code == 0
    for f in ("problems.html", "solutions.html", "answers.json", "submissions.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


@pytest.mark.parametrize("flags, says", [
    (["--pdf"], "--pdf compiles LaTeX"),
    (["--paper", "a4"], "--paper lays out the LaTeX"),
    (["--duplex"], "--duplex lays out the LaTeX"),
    (["--title", "Quiz"], "--title names a quiz"),
])
def test_latex_and_quiz_options_are_refused(tmp_path, flags, says):
    r = run("--kinds", "forward", "--format", "html", "-o", str(tmp_path / "x"), *flags)
    assert r.exit_code == 2 and says in r.output, r.output
    assert not (tmp_path / "x").exists()


def test_force_rules_and_a_set_in_another_format_is_replaced(tmp_path):
    d = tmp_path / "set"
    assert run("--kinds", "forward", "--format", "markdown", "-o", str(d)).exit_code == 0
    r = run("--kinds", "forward", "--format", "html", "-o", str(d))
    assert r.exit_code == 2 and "--force" in r.output
    assert run("--kinds", "forward", "--format", "html", "-o", str(d), "--force").exit_code == 0
    assert sorted(p.name for p in d.iterdir()) == \
        ["answers.json", "problems.html", "solutions.html", "submissions.csv"]


def test_a_failure_part_way_leaves_nothing(tmp_path, monkeypatch):
    import derive.problemset as ps

    real = ps.generate_problem

    def failing(name, seed, number, *a, **k):
        if number == 3:
            raise derive.DeriveError("no good problem for variant 3")
        return real(name, seed, number, *a, **k)

    monkeypatch.setattr(ps, "generate_problem", failing)
    r = run("--kinds", "forward", "--variants", "4", "--format", "html", "-o",
            str(tmp_path / "new"))
    assert r.exit_code == 2 and "variant 3" in r.output
    assert not (tmp_path / "new").exists()


def test_the_api_writes_and_holds_the_same_files(tmp_path):
    result = derive.problems("forward,backward", variants=2, seed=4)
    files = result.files("html")
    assert sorted(files) == ["answers.json", "problems.html", "solutions.html",
                             "submissions.csv"]
    written = result.write(tmp_path / "w", "html")
    assert sorted(p.name for p in map(type(tmp_path), written)) == sorted(files)
    for name, text in files.items():
        assert (tmp_path / "w" / name).read_text() == text, name
    with pytest.raises(derive.DeriveError, match="two pages"):
        result.render("html")


@requires_chromium
def test_pages_render_in_headless_chromium(sets, tmp_path):
    d = sets["all", "html"]
    key = json.loads((d / "answers.json").read_text())
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
             "--host-resolver-rules=MAP * ~NOTFOUND"]
    doms = {}
    for doc in ("problems", "solutions"):
        doms[doc] = subprocess.run([*flags, "--dump-dom", (d / f"{doc}.html").as_uri()],
                                   capture_output=True, text=True, timeout=120).stdout
    v = key["variants"][0]
    p = {q["kind"]: q for q in v["problems"]}
    for doc, dom in doms.items():
        # the DOM Chromium built: one section per variant, MathML, the network drawn inline
        assert dom.count('<section class="variant"') == len(key["variants"]), doc
        assert dom.count("<math") > 100 and "<msub>" in dom and "<mfrac>" in dom, doc
        assert "<svg" in dom and "<circle" in dom, doc
    forward = p["forward"]
    for n in ("i4", "o4", "o6"):
        assert shown(forward["answers"][n], 3) in doms["solutions"], n
        assert f"forward.{n}" in doms["problems"]
    step = p["step"]
    assert shown(step["answers"]["loss"], step["places"]["loss"]) in doms["solutions"]
    shot = tmp_path / "solutions.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1000,1400",
                    (d / "solutions.html").as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
