"""`derive problems --format moodle|qti`: the files parsed back and checked against the
formats' documentation and against answers.json.

Structure follows Moodle's XML format (question/format/xml/format.php: <quiz>, <question
type="category"> with <category><text>, numerical <answer fraction><tolerance>, multichoice
<answer fraction><feedback>, cloze {n:NUMERICAL:=value:tolerance}) and QTI 1.2 as Canvas
imports it (imsmanifest.xml resources -> files in the zip, <questestinterop><assessment>,
<section> groups with <selection_ordering><selection><selection_number>, items with the
question_type metadata, resprocessing with varequal / vargte / varlte).  The forward pass is
also recomputed here from the spec in plain Python, so the quiz's numbers are checked against
a second route, not only against derive's own answers.json.
"""

import base64
import json
import math
import re
import xml.etree.ElementTree as ET
import zipfile
from decimal import ROUND_HALF_UP, Decimal

import pytest
from click.testing import CliRunner

from derive.cli import main
from render.filters import escape_markdown
from derive import intervals
from test_quiz_import import moodle_cloze, visible_text
from render.quizhtml import inline, markdown_html

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
HOSTILE = "Quiz </text><evil a=\"1\"/> & 'x' \"y\" ]]> a/b <script>alert(1)</script>"


def run(tmp_path, name, *args):
    out = tmp_path / name
    result = CliRunner().invoke(main, ["problems", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def moodle(tmp_path, name="m", *args):
    out = run(tmp_path, name, "--format", "moodle", *args)
    return out, ET.parse(out / "moodle.xml").getroot(), json.loads((out / "answers.json").read_text())


def qti(tmp_path, name="q", *args):
    out = run(tmp_path, name, "--format", "qti", *args)
    zf = zipfile.ZipFile(out / "canvas-qti.zip")
    return out, zf, json.loads((out / "answers.json").read_text())


def qid(question):
    """The problem id a Moodle question's name ends with."""
    return question.findtext("name/text").split()[-1]


def by_id(key):
    return {p["id"]: p for v in key["variants"] for p in v["problems"]}


def shown(value, places):
    """The value as printed: places decimals, half up, trailing zeros kept (DESIGN.md: 0.0620,
    -0.0100), independent of render.filters."""
    q = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(q, "f")
    return text[1:] if q == 0 and text.startswith("-") else text


def right_texts(p, name):
    """The right values of an answer as the quiz must write them: the centres of its accepted
    intervals at the places asked, trailing zeros kept."""
    unit = Decimal(1).scaleb(-p["places"][name])
    return sorted(format(((Decimal(repr(lo)) + Decimal(repr(hi))) / 2).quantize(unit), "f")
                  for lo, hi in p["accept"][name])


def numeric_blanks(q):
    """(answers, tolerances) of each numeric blank of a Moodle question, as Moodle reads it."""
    if q.get("type") == "numerical":
        return [([a.findtext("text") for a in q.findall("answer")],
                 [a.findtext("tolerance") for a in q.findall("answer")])]
    return [([a["answer"] for a in b["alternatives"]], [a["tolerance"] for a in b["alternatives"]])
            for b in moodle_cloze(q.findtext("questiontext/text")) if b["numerical"]]


def asked_numbers(p):
    """What a quiz asks as a number: every answer but the yes/no and sup E (choices)."""
    return [n for n in p["answers"] if n not in p.get("words", {}) and n != "diverges"
            and not (p["kind"] == "loss" and n == "loss_max")]


def forward_by_hand(spec):
    """Net inputs and outputs, unit by unit, from the spec (sigmoid layers)."""
    x = spec["examples"][0]["input"]
    units = {j + 1: v for j, v in enumerate(x)}
    out, prev, first = {}, list(range(1, len(x) + 1)), len(x) + 1
    for layer in spec["layers"]:
        assert layer["activation"] == "sigmoid"
        here = list(range(first, first + len(layer["biases"])))
        for u, k in enumerate(here):
            i = sum(w * units[j] for w, j in zip(layer["weights"][u], prev)) + layer["biases"][u]
            units[k] = 1 / (1 + math.exp(-i))
            out[f"i{k}"], out[f"o{k}"] = i, units[k]
        prev, first = here, first + len(here)
    return out


# ---------------------------------------------------------------- Moodle XML

def test_moodle_structure_and_numbers(tmp_path):
    kinds = "forward,backward,update,activation,loss,step,descent,batch,minima"
    _, root, key = moodle(tmp_path, "m", "--kinds", kinds, "--variants", "3", "--seed", "7")
    assert root.tag == "quiz"
    answers = by_id(key)
    questions = list(root)
    # a category, then that problem's variants, for every kind in order
    cats = [k for k, q in enumerate(questions) if q.get("type") == "category"]
    assert len(cats) == len(key["kinds"]) == 9
    checked = 0
    for c, kind in zip(cats, key["kinds"]):
        path = questions[c].findtext("category/text")
        assert path.startswith("$course$/top/derive problems, seed 7/")
        members = questions[c + 1:c + 1 + 3]
        assert all(q.get("type") != "category" for q in members)
        for q, v in zip(members, key["variants"]):
            p = answers[qid(q)]
            assert p["kind"] == kind and p["id"] == v["problems"][key["kinds"].index(kind)]["id"]
            assert q.find("name/text").text.endswith(p["id"])
            assert q.find("questiontext").get("format") == "html"
            text = q.findtext("questiontext/text")
            feedback = q.findtext("generalfeedback/text")
            assert "\\(" in text and "$" not in text and "\\(" in feedback
            assert q.get("type") == "cloze"
            names = asked_numbers(p)
            blanks = numeric_blanks(q)
            assert len(blanks) == len(names)
            for (values, tols), name in zip(blanks, names):
                assert sorted(values) == right_texts(p, name)  # each right value, at its places
                assert all(Decimal(t) == Decimal(5).scaleb(-p["places"][name] - 1) for t in tols)
                assert any(lo <= p["answers"][name] <= hi for lo, hi in p["accept"][name])
                checked += 1
    assert checked > 100


def test_moodle_forward_numbers_by_a_second_route(tmp_path):
    _, root, key = moodle(tmp_path, "m", "--kinds", "forward", "--variants", "5", "--seed", "3")
    answers = by_id(key)
    for q in root.iter("question"):
        if q.get("type") != "cloze":
            continue
        p = answers[qid(q)]
        hand = forward_by_hand(p["spec"])
        blanks = numeric_blanks(q)
        assert [n for n in p["answers"]] == list(hand)
        for (values, tols), name in zip(blanks, hand):
            # the key's value first: the exact chain at 3 places, half a unit either side
            assert Decimal(values[0]) == Decimal(repr(hand[name])).quantize(
                Decimal("0.001"), rounding=ROUND_HALF_UP)
            assert tols == ["0.0005"] * len(values)


def test_moodle_multichoice_feedback_names_each_mistake(tmp_path):
    _, root, key = moodle(tmp_path, "m", "--kinds", "forward,backward,update", "--variants",
                          "4", "--seed", "11", "--choices", "4")
    answers = by_id(key)
    seen = 0
    for q in root.iter("question"):
        if q.get("type") == "category":
            continue
        assert q.get("type") == "multichoice"
        p = answers[qid(q)]
        (name, options), = p["choices"].items()
        assert q.findtext("single") == "true"
        got = q.findall("answer")
        assert len(got) == len(options) == 4
        assert sum(a.get("fraction") == "100" for a in got) == 1
        for a, c in zip(got, options):
            assert a.get("fraction") == ("100" if c["correct"] else "0")
            assert a.findtext("text") == intervals.text(c["value"], p["places"][name])
            fb = a.findtext("feedback/text")
            if c["correct"]:
                assert any(lo <= float(a.findtext("text")) <= hi
                           for lo, hi in p["accept"][name])
            else:
                import html
                assert c["mistake"] in html.unescape(fb)
            seen += 1
        assert q.findtext("generalfeedback/text")
    assert seen == 3 * 4 * 4


def test_moodle_network_picture_is_an_svg_of_the_spec(tmp_path):
    _, root, key = moodle(tmp_path, "m", "--kinds", "forward", "--variants", "2", "--seed", "5")
    answers = by_id(key)
    for q in root.iter("question"):
        if q.get("type") == "category":
            continue
        p = answers[qid(q)]
        m = re.search(r'<img src="@@PLUGINFILE@@/([^"]+)"', q.findtext("questiontext/text"))
        (f,) = [f for f in q.findall("questiontext/file") if f.get("name") == m.group(1)]
        svg = ET.fromstring(base64.b64decode(f.text))
        ns = "{http://www.w3.org/2000/svg}"
        assert svg.tag == ns + "svg"
        layers = p["spec"]["layers"]
        units = len(p["spec"]["examples"][0]["input"]) + sum(len(L["biases"]) for L in layers)
        assert len(svg.findall(ns + "circle")) == units
        weights = sorted(w for L in layers for row in L["weights"] for w in row)
        lines = svg.findall(ns + "line")
        assert len(lines) == len(weights)
        # the weight labels (drawn in the edge colour) are exactly the spec's weights
        edge = [float(t.text.replace("\u2212", "-")) for t in svg.findall(ns + "text")
                if t.get("fill") == "#036"]
        assert sorted(edge) == weights
        # a bias label is b with its unit as a subscript (tspans): b₄ = −0.4
        labels = ["".join(t.itertext()) for t in svg.findall(ns + "text")]
        biases = sorted(float(text.split("=")[1].replace("\u2212", "-"))
                        for text in labels if text.startswith("b"))
        assert biases == sorted(b for L in layers for b in L["biases"])


# ---------------------------------------------------------------- Canvas QTI

def test_qti_package_structure_and_numbers(tmp_path):
    _, zf, key = qti(tmp_path, "q", "--kinds", "forward,descent,minima", "--variants", "4",
                     "--seed", "7")
    names = zf.namelist()
    assert "imsmanifest.xml" in names
    manifest = ET.fromstring(zf.read("imsmanifest.xml"))
    assert manifest.tag == CP + "manifest"
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    idents = {r.get("identifier") for r in resources}
    for r in resources:
        for f in r.findall(CP + "file"):
            assert f.get("href") in names  # every file the manifest names is in the zip
        for d in r.findall(CP + "dependency"):
            assert d.get("identifierref") in idents
    qti_res = [r for r in resources if r.get("type") == "imsqti_xmlv1p2"]
    assert len(qti_res) == 1
    root = ET.fromstring(zf.read(qti_res[0].find(CP + "file").get("href")))
    assert root.tag == QTI + "questestinterop"
    assessment = root.find(QTI + "assessment")
    top = assessment.find(QTI + "section")
    answers = by_id(key)
    groups = top.findall(QTI + "section")
    expected = sum(len(key["variants"][0]["problems"][k]["answers"]) for k in range(3))
    assert len(groups) == expected
    checked = 0
    for g in groups:
        assert g.findtext(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_number") == "1"
        items = g.findall(QTI + "item")
        assert len(items) == 4  # one per variant
        for item in items:
            fields = {f.findtext(QTI + "fieldlabel"): f.findtext(QTI + "fieldentry")
                      for f in item.iter(QTI + "qtimetadatafield")}
            pid, name = item.get("title").split()
            p = answers[pid]
            cond = [rc for rc in item.iter(QTI + "respcondition")
                    if rc.find(QTI + "setvar") is not None]
            if name == "diverges":  # a yes/no: a choice, not a number
                assert fields["question_type"] == "multiple_choice_question"
                checked += 1
                continue
            assert fields["question_type"] == "numerical_question"
            assert item.find(f"{QTI}presentation/{QTI}response_str/{QTI}render_fib"
                             ).get("fibtype") == "Decimal"
            # one answer per right value: the value and its rounding interval
            assert len(cond) == len(p["accept"][name])
            assert all(rc.findtext(QTI + "setvar") == "100" for rc in cond)
            got = sorted((rc.findtext(f"{QTI}conditionvar/{QTI}or/{QTI}varequal"),
                          float(rc.findtext(f"{QTI}conditionvar/{QTI}or/{QTI}and/{QTI}vargte")),
                          float(rc.findtext(f"{QTI}conditionvar/{QTI}or/{QTI}and/{QTI}varlte")))
                         for rc in cond)
            assert [g[0] for g in got] == right_texts(p, name)
            assert sorted([g[1], g[2]] for g in got) == sorted(p["accept"][name])
            fb = {f.get("ident"): f for f in item.findall(QTI + "itemfeedback")}
            assert "\\(" in fb["general_fb"].findtext(f".//{QTI}mattext")
            checked += 1
    assert checked == expected * 4


def test_qti_multiple_choice(tmp_path):
    _, zf, key = qti(tmp_path, "q", "--kinds", "backward,update", "--variants", "3",
                     "--seed", "2", "--choices", "5")
    answers = by_id(key)
    xml = [n for n in zf.namelist() if n.endswith(".xml") and "/" in n
           and not n.endswith("assessment_meta.xml")]
    root = ET.fromstring(zf.read(xml[0]))
    groups = root.findall(f"{QTI}assessment/{QTI}section/{QTI}section")
    assert len(groups) == 2  # one per problem: each asks its one multiple-choice value
    for g in groups:
        for item in g.findall(QTI + "item"):
            pid, name = item.get("title").split()
            options = answers[pid]["choices"][name]
            labels = item.findall(f".//{QTI}response_label")
            assert len(labels) == len(options) == 5
            right = [rc for rc in item.iter(QTI + "respcondition")
                     if rc.find(QTI + "setvar") is not None][0]
            correct = right.findtext(f"{QTI}conditionvar/{QTI}varequal")
            fbs = {f.get("ident"): f.findtext(f".//{QTI}mattext")
                   for f in item.findall(QTI + "itemfeedback")}
            for lab, c in zip(labels, options):
                assert lab.findtext(f".//{QTI}mattext") == intervals.text(
                    c["value"], answers[pid]["places"][name])
                assert (lab.get("ident") == correct) == c["correct"]
                if not c["correct"]:
                    import html
                    assert c["mistake"] in html.unescape(fbs[lab.get("ident") + "_fb"])


def test_zip_entries_fixed_and_deterministic(tmp_path):
    args = ("--kinds", "forward,update", "--variants", "3", "--seed", "9")
    a, zf, _ = qti(tmp_path, "a", *args)
    b, _, _ = qti(tmp_path, "b", *args)
    assert (a / "canvas-qti.zip").read_bytes() == (b / "canvas-qti.zip").read_bytes()
    assert (a / "answers.json").read_bytes() == (b / "answers.json").read_bytes()
    for info in zf.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
    m1, _, _ = moodle(tmp_path, "m1", *args)
    m2, _, _ = moodle(tmp_path, "m2", *args)
    assert (m1 / "moodle.xml").read_bytes() == (m2 / "moodle.xml").read_bytes()


def test_same_numbers_in_every_format(tmp_path):
    args = ("--kinds", "forward,backward", "--variants", "3", "--seed", "4")
    md = run(tmp_path, "md", "--format", "markdown", *args)
    m, _, _ = moodle(tmp_path, "m", *args)
    q, _, _ = qti(tmp_path, "q", *args)
    key = (md / "answers.json").read_bytes()
    assert (m / "answers.json").read_bytes() == key == (q / "answers.json").read_bytes()


# ---------------------------------------------------------------- escaping

def test_hostile_title_is_escaped(tmp_path):
    _, root, _ = moodle(tmp_path, "m", "--kinds", "forward", "--variants", "2", "--title",
                        HOSTILE)
    assert root.find(".//evil") is None and root.find(".//script") is None
    path = root.find("question").findtext("category/text")
    assert path == "$course$/top/" + HOSTILE.replace("/", "//") + "/01 Forward pass"
    _, zf, _ = qti(tmp_path, "q", "--kinds", "forward", "--variants", "2", "--title", HOSTILE)
    for name in zf.namelist():
        if not name.endswith(".xml"):
            continue
        root = ET.fromstring(zf.read(name))  # well-formed despite the title
        assert root.find(".//evil") is None
    assessment = [n for n in zf.namelist() if n.count("/") and "meta" not in n
                  and n.endswith(".xml")][0]
    a = ET.fromstring(zf.read(assessment)).find(QTI + "assessment")
    assert a.get("title") == HOSTILE
    meta = ET.fromstring(zf.read([n for n in zf.namelist() if n.endswith("meta.xml")][0]))
    desc = meta.findtext("{http://canvas.instructure.com/xsd/cccv1p0}description")
    assert "<script>" not in desc and "&lt;script&gt;" in desc  # HTML-escaped inside


def test_markdown_to_html_escapes_user_text():
    text = "a <b> & \"c\" 'd' </text>"
    assert inline(escape_markdown(text)) == ("a &lt;b&gt; &amp; &quot;c&quot; &#x27;d&#x27; "
                                             "&lt;/text&gt;")
    html = markdown_html("| x | y |\n|---|---:|\n| " + escape_markdown("<i>|&") + " | $a<b$ |")
    assert "&lt;i&gt;|&amp;" in html and "\\(a&lt;b\\)" in html and "<i>" not in html
    assert markdown_html("**Name** $w_{1,2}$ and `code<`") == (
        "<p><strong>Name</strong> \\(w_{1,2}\\) and <code>code&lt;</code></p>")


# ---------------------------------------------------------------- errors, size

def test_refuses_non_empty_dir_and_title_for_paper(tmp_path):
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    for fmt in ("moodle", "qti"):
        r = CliRunner().invoke(main, ["problems", "--kinds", "forward", "--format", fmt,
                                      "-o", str(out)])
        assert r.exit_code == 2 and "--force" in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    r = CliRunner().invoke(main, ["problems", "--kinds", "forward", "--format", "moodle",
                                  "-o", str(out), "--force"])
    assert r.exit_code == 0 and (out / "moodle.xml").exists() and (out / "answers.json").exists()
    r = CliRunner().invoke(main, ["problems", "--kinds", "forward", "--title", "x",
                                  "-o", str(tmp_path / "t")])
    assert r.exit_code == 2 and "--title" in r.output


def test_thirty_variant_quiz_exports_to_both_formats(tmp_path):
    args = ("--kinds", "forward,backward,update", "--variants", "30", "--seed", "7")
    _, root, key = moodle(tmp_path, "q1", *args)
    types = [q.get("type") for q in root]
    assert types.count("category") == 3 and types.count("cloze") == 90
    _, zf, key2 = qti(tmp_path, "q2", *args)
    assert key == key2
    name = [n for n in zf.namelist() if n.count("/") and "meta" not in n
            and n.endswith(".xml")][0]
    groups = ET.fromstring(zf.read(name)).findall(f"{QTI}assessment/{QTI}section/{QTI}section")
    assert len(groups) == sum(len(p["answers"]) for p in key["variants"][0]["problems"])
    assert all(len(g.findall(QTI + "item")) == 30 for g in groups)


# ---------------------------------------------------------------- the other question shapes

def _reshaped(**change):
    """A real problem set whose problems are cut down to another shape (no kind draws a
    single-answer problem or asks two multiple-choice values today)."""
    from dataclasses import replace

    from derive.problemset import Options, generate

    pset = generate(["forward"], 2, 7, Options(choices=4 if "two_choices" in change else None))
    variants = []
    for v in pset.variants:
        (p,) = v.problems
        if "single" in change:
            p = replace(p, answers={"o6": p.answers["o6"]}, tolerance={"o6": p.tolerance["o6"]},
                        places={"o6": p.places["o6"]}, accept={"o6": p.accept["o6"]},
                        right={"o6": p.right["o6"]}, ask=("o6",))
        else:
            p = replace(p, choices={**p.choices, "o4": [
                {"value": p.answers["o4"], "correct": True, "mistake": None},
                {"value": -p.answers["o4"], "correct": False,
                 "mistake": "a } # ~ / \" \\ & < slip"}]}, ask=("o6", "o4"))
        variants.append(replace(v, problems=(p,)))
    return replace(pset, variants=tuple(variants))


def test_single_answer_is_a_numerical_question():
    from render.quiz import moodle_xml

    pset = _reshaped(single=True)
    root = ET.fromstring(moodle_xml(pset))
    qs = [q for q in root if q.get("type") != "category"]
    assert [q.get("type") for q in qs] == ["numerical", "numerical"]
    for q, v in zip(qs, pset.variants):
        (p,) = v.problems
        answers = q.findall("answer")  # one per right value, each its rounding interval
        assert [a.findtext("text") for a in answers] == [intervals.text(r, 3)
                                                         for r in p.right["o6"]]
        for a in answers:
            assert a.get("fraction") == "100" and a.get("format") == "moodle_auto_format"
            assert a.findtext("tolerance") == "0.0005"
        assert q.findtext("showunits") == "3"  # no units asked


def test_two_choice_values_are_one_cloze_with_escaped_feedback():
    from render.quiz import moodle_xml

    root = ET.fromstring(moodle_xml(_reshaped(two_choices=True)))
    qs = [q for q in root if q.get("type") != "category"]
    assert all(q.get("type") == "cloze" for q in qs)
    blanks = moodle_cloze(qs[0].findtext("questiontext/text"))
    assert len(blanks) == 2 and not any(b["numerical"] for b in blanks)
    # the feedback reads exactly as written once Moodle's parser has unescaped it
    wrong = blanks[1]["alternatives"][1]
    assert visible_text(wrong["feedback"]).endswith('a } # ~ / " \\ & < slip.')
    assert [a["fraction"] for a in blanks[1]["alternatives"]] == [1.0, 0.0]
