"""Quizzes for the learning platforms: Moodle XML and a Canvas QTI 1.2 package.

Thin writers over a derive.problemset.ProblemSet: each problem's statement and worked
solution are the SAME Markdown templates as `--format markdown` (render/quizhtml.py turns them
into HTML with \\( … \\) math), and every number comes from the problem objects, so a seed gives
the same numbers here as on paper and in answers.json.  XML is built with ElementTree, which
escapes all text and attributes; nothing user-given is ever spliced into markup by hand.

Moodle (moodle.xml): one category per problem kind; in it one question per variant, so a quiz
slot "random question from this category" gives each student one whole variant.
  * a problem with one numeric answer  -> `numerical`, <tolerance> from answers.json;
  * several numeric answers            -> `cloze` (multianswer) with one {n:NUMERICAL:=x:tol}
                                          blank per answer, each marked on its own;
  * --choices, one asked value         -> `multichoice`, a <feedback> per distractor naming
                                          its mistake (several asked values: cloze MULTICHOICE).
  The worked solution is the <generalfeedback>.

Canvas (canvas-qti.zip): Canvas Classic Quizzes have no numeric cloze (a numerical_question
holds one number), so each asked value is an item; one question group (a <section> with
selection_number 1) per problem and asked value holds that item of every variant.  Numeric
answers are an exact value with a margin (varequal, or vargte/varlte of value -/+ tolerance).
"""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal

from render import PROBLEM_LABELS, render
from render.filters import number, tex_name
from render.quizhtml import markdown_html

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
CANVAS_NS = "http://canvas.instructure.com/xsd/cccv1p0"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

# what a student types for an answer that is not a plain value
HINTS = {"diverges": "1 if the iteration diverges, 0 if it does not",
         "batch_size": "a whole number"}


def plain(x: float) -> str:
    """x in plain decimal notation (no exponent), the shortest that reads back as x."""
    text = repr(float(x))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    text = text.removesuffix(".0")
    return "0" if text == "-0" else text


def label(name: str) -> str:
    """An answer's name as TeX (the same labels as the paper's answer key)."""
    return str(PROBLEM_LABELS[name]) if name in PROBLEM_LABELS else str(tex_name(name))


def default_title(pset) -> str:
    return f"derive problems, seed {pset.seed}"


class _Texts:
    """HTML of each problem's statement and solution, rendered once per problem."""

    def __init__(self, pset):
        from derive.problemset import KINDS

        self.pset = pset
        self.titles = {name: k.title for name, k in KINDS.items()}
        self.data = dict(pset=pset, titles=self.titles, labels=PROBLEM_LABELS)

    def picture(self, p) -> str | None:
        from derive.problemset import KINDS

        if not KINDS[p.kind].network or not hasattr(p.solution, "network"):
            return None
        svg = render("network_picture", "html", doc=p.solution)
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
        return f'<img src="{uri}" alt="the network with its weights and biases">'

    def statement(self, p) -> str:
        d = self.pset.options.decimals
        md = render("quiz_problem", "markdown", p=p, **self.data)
        rounding = (f"<p><em>Give net inputs, outputs and parameters to {d} decimal places, "
                    f"error terms, gradients and losses to {d + 1}.</em></p>\n")
        return rounding + markdown_html(md, self.picture(p))

    def solution(self, p) -> str:
        return markdown_html(render("quiz_solution", "markdown", p=p, **self.data))


def _asked(p) -> list[str]:
    """The values a quiz question asks for: the multiple-choice ones, else every answer."""
    return list(p.choices) if p.choices else list(p.answers)


def _prompt(p, name: str) -> str:
    """'\\(o_{6}\\) (3 places)' as HTML."""
    from html import escape

    places = p.places.get(name)
    how = HINTS.get(name) or (f"{places} decimal places" if places is not None else "")
    return f"\\({escape(label(name))}\\)" + (f" ({escape(how)})" if how else "")


def _choice_text(p, name, c) -> str:
    return number(c["value"], p.places[name])


def _mistake_feedback(c) -> str:
    if c["correct"]:
        return "Right."
    return f"Not this one. The mistake it comes from: {c['mistake']}."


# ---------------------------------------------------------------- Moodle XML

def _text(parent, tag: str, text: str, fmt: str | None = "html") -> ET.Element:
    el = ET.SubElement(parent, tag, {"format": fmt} if fmt else {})
    ET.SubElement(el, "text").text = text
    return el


def _cloze_escape(text: str) -> str:
    """Text inside a {…} cloze sub-question: its special characters backslash-escaped."""
    return re.sub(r'([}#~/"\\])', r"\\\1", text)


def _category_path(*parts: str) -> str:
    # Moodle's path separator is '/'; a literal slash inside a name is written '//'
    return "/".join(["$course$", "top", *(s.replace("/", "//") for s in parts)])


def _moodle_question(quiz, qtype: str, name: str, qtext: str, feedback: str,
                     grade: int) -> ET.Element:
    q = ET.SubElement(quiz, "question", {"type": qtype})
    _text(q, "name", name, fmt=None)
    _text(q, "questiontext", qtext)
    _text(q, "generalfeedback", feedback)
    ET.SubElement(q, "defaultgrade").text = str(grade)
    ET.SubElement(q, "penalty").text = "0.3333333"
    ET.SubElement(q, "hidden").text = "0"
    # no <idnumber>: it must be unique in its category, so importing the file twice could clash;
    # the question's name ends with the problem id instead
    return q


def moodle_xml(pset, title: str | None = None) -> str:
    """The Moodle XML question bank of a problem set (UTF-8 text)."""
    texts = _Texts(pset)
    title = title or default_title(pset)
    quiz = ET.Element("quiz")
    for k, kind in enumerate(pset.kinds):
        cat = ET.SubElement(quiz, "question", {"type": "category"})
        _text(cat, "category", _category_path(title, f"{k + 1:02d} {texts.titles[kind]}"),
              fmt=None)
        _text(cat, "info", f"<p>{_esc(texts.titles[kind])}: {len(pset.variants)} variants of "
                           f"one problem; draw one at random per student.</p>")
        for v in pset.variants:
            p = v.problems[k]
            _moodle_problem(quiz, texts, p, f"{texts.titles[kind]} {p.id}")
    ET.indent(quiz, space="  ")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(quiz, encoding="unicode") + "\n")


def _moodle_problem(quiz, texts, p, name):
    statement, solution = texts.statement(p), texts.solution(p)
    asked = _asked(p)
    if p.choices and len(asked) == 1:
        (n,) = asked
        qtext = statement + f"\n<p><strong>Which is {_prompt(p, n)}?</strong></p>"
        q = _moodle_question(quiz, "multichoice", name, qtext, solution, 1)
        ET.SubElement(q, "single").text = "true"
        ET.SubElement(q, "shuffleanswers").text = "false"  # already in the paper's order
        ET.SubElement(q, "answernumbering").text = "abc"
        _text(q, "correctfeedback", "<p>Right.</p>")
        _text(q, "partiallycorrectfeedback", "")
        _text(q, "incorrectfeedback", "<p>Not right: see the worked solution.</p>")
        for c in p.choices[n]:
            a = ET.SubElement(q, "answer", {"fraction": "100" if c["correct"] else "0",
                                            "format": "html"})
            ET.SubElement(a, "text").text = _choice_text(p, n, c)
            _text(a, "feedback", f"<p>{_esc(_mistake_feedback(c))}</p>")
    elif not p.choices and len(asked) == 1:
        (n,) = asked
        qtext = statement + f"\n<p><strong>{_prompt(p, n)} =</strong></p>"
        q = _moodle_question(quiz, "numerical", name, qtext, solution, 1)
        a = ET.SubElement(q, "answer", {"fraction": "100", "format": "moodle_auto_format"})
        ET.SubElement(a, "text").text = plain(p.answers[n])
        _text(a, "feedback", "")
        ET.SubElement(a, "tolerance").text = plain(p.tolerance[n])
        ET.SubElement(q, "unitgradingtype").text = "0"
        ET.SubElement(q, "unitpenalty").text = "0.1"
        ET.SubElement(q, "showunits").text = "3"
        ET.SubElement(q, "unitsleft").text = "0"
    else:
        rows = []
        for n in asked:
            if p.choices:
                options = "~".join(
                    f"%{100 if c['correct'] else 0}%{_cloze_escape(_choice_text(p, n, c))}"
                    f"#{_cloze_escape(_esc(_mistake_feedback(c), quote=False))}" for c in p.choices[n])
                blank = "{1:MULTICHOICE:" + options + "}"
            else:
                blank = f"{{1:NUMERICAL:={plain(p.answers[n])}:{plain(p.tolerance[n])}}}"
            rows.append(f"<li>{_prompt(p, n)} = {blank}</li>")
        qtext = statement + "\n<p><strong>Your answers:</strong></p>\n<ul>\n" + \
            "\n".join(rows) + "\n</ul>"
        q = _moodle_question(quiz, "cloze", name, qtext, solution, len(asked))


def _esc(text: str, quote: bool = True) -> str:
    from html import escape

    return escape(str(text), quote=quote)


# ---------------------------------------------------------------- Canvas QTI 1.2

def _ident(*parts: str) -> str:
    return "derive_" + "_".join(re.sub(r"[^A-Za-z0-9]+", "_", str(s)) for s in parts)


def _field(meta, label_: str, entry: str):
    f = ET.SubElement(meta, "qtimetadatafield")
    ET.SubElement(f, "fieldlabel").text = label_
    ET.SubElement(f, "fieldentry").text = entry


def _mattext(parent, text: str):
    mat = ET.SubElement(parent, "material")
    ET.SubElement(mat, "mattext", {"texttype": "text/html"}).text = text


def _feedback(item, ident: str, text: str):
    fb = ET.SubElement(item, "itemfeedback", {"ident": ident})
    _mattext(ET.SubElement(fb, "flow_mat"), text)


def _condition(res, cond_builder, score=None, feedback=None, cont="No"):
    rc = ET.SubElement(res, "respcondition", {"continue": cont})
    cond_builder(ET.SubElement(rc, "conditionvar"))
    if score is not None:
        ET.SubElement(rc, "setvar", {"action": "Set", "varname": "SCORE"}).text = score
    if feedback is not None:
        ET.SubElement(rc, "displayfeedback", {"feedbacktype": "Response",
                                              "linkrefid": feedback})
    return rc


def _qti_item(section, p, n, statement, solution):
    ident = _ident(p.id, n)
    item = ET.SubElement(section, "item", {"ident": ident, "title": f"{p.id} {n}"})
    meta = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    mc = bool(p.choices)
    _field(meta, "question_type", "multiple_choice_question" if mc else "numerical_question")
    _field(meta, "points_possible", "1.0")
    choice_ids = [f"{ident}_c{j + 1}" for j in range(len(p.choices.get(n, [])))]
    _field(meta, "original_answer_ids", ",".join(choice_ids) if mc else f"{ident}_answer")
    _field(meta, "assessment_question_identifierref", f"{ident}_ref")
    pres = ET.SubElement(item, "presentation")
    if mc:
        _mattext(pres, statement + f"\n<p><strong>Which is {_prompt(p, n)}?</strong></p>")
        lid = ET.SubElement(pres, "response_lid", {"ident": "response1",
                                                   "rcardinality": "Single"})
        rc = ET.SubElement(lid, "render_choice")
        for cid, c in zip(choice_ids, p.choices[n]):
            lab = ET.SubElement(rc, "response_label", {"ident": cid})
            _mattext(lab, _esc(_choice_text(p, n, c)))
    else:
        _mattext(pres, statement + f"\n<p><strong>{_prompt(p, n)} =</strong></p>")
        rs = ET.SubElement(pres, "response_str", {"ident": "response1",
                                                  "rcardinality": "Single"})
        ET.SubElement(ET.SubElement(rs, "render_fib", {"fibtype": "Decimal"}),
                      "response_label", {"ident": "answer1"})
    res = ET.SubElement(item, "resprocessing")
    out = ET.SubElement(res, "outcomes")
    ET.SubElement(out, "decvar", {"maxvalue": "100", "minvalue": "0", "varname": "SCORE",
                                  "vartype": "Decimal"})

    def other(cv):
        ET.SubElement(cv, "other")

    _condition(res, other, feedback="general_fb", cont="Yes")
    if mc:
        for cid, c in zip(choice_ids, p.choices[n]):
            def eq(cv, cid=cid):
                ET.SubElement(cv, "varequal", {"respident": "response1"}).text = cid
            _condition(res, eq, feedback=f"{cid}_fb", cont="Yes")
        right = choice_ids[[c["correct"] for c in p.choices[n]].index(True)]

        def correct(cv):
            ET.SubElement(cv, "varequal", {"respident": "response1"}).text = right
        _condition(res, correct, score="100")
    else:
        value, tol = p.answers[n], p.tolerance[n]

        def within(cv):
            either = ET.SubElement(cv, "or")
            ET.SubElement(either, "varequal", {"respident": "response1"}).text = plain(value)
            both = ET.SubElement(either, "and")
            ET.SubElement(both, "vargte", {"respident": "response1"}).text = plain(value - tol)
            ET.SubElement(both, "varlte", {"respident": "response1"}).text = plain(value + tol)
        _condition(res, within, score="100")
    _feedback(item, "general_fb", solution)
    if mc:
        for cid, c in zip(choice_ids, p.choices[n]):
            _feedback(item, f"{cid}_fb", f"<p>{_esc(_mistake_feedback(c))}</p>")


def qti_assessment(pset, title: str, aid: str) -> str:
    texts = _Texts(pset)
    root = ET.Element("questestinterop", {"xmlns": QTI_NS})
    test = ET.SubElement(root, "assessment", {"ident": aid, "title": title})
    meta = ET.SubElement(test, "qtimetadata")
    _field(meta, "cc_maxattempts", "1")
    top = ET.SubElement(test, "section", {"ident": "root_section"})
    for k, kind in enumerate(pset.kinds):
        asked = {v.number: _asked(v.problems[k]) for v in pset.variants}
        html = {v.number: (texts.statement(v.problems[k]), texts.solution(v.problems[k]))
                for v in pset.variants}
        for j in range(max(len(a) for a in asked.values())):
            names = {a[j] for a in asked.values() if len(a) > j}
            what = names.pop() if len(names) == 1 else f"value {j + 1}"
            group = ET.SubElement(top, "section", {"ident": _ident("group", kind, j + 1),
                                                   "title": f"{texts.titles[kind]}: {what}"})
            sel = ET.SubElement(ET.SubElement(group, "selection_ordering"), "selection")
            ET.SubElement(sel, "selection_number").text = "1"
            ET.SubElement(ET.SubElement(sel, "selection_extension"),
                          "points_per_item").text = "1.0"
            for v in pset.variants:
                if len(asked[v.number]) > j:
                    statement, solution = html[v.number]
                    _qti_item(group, v.problems[k], asked[v.number][j], statement,
                              solution)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _group_count(pset) -> int:
    return sum(max(len(_asked(v.problems[k])) for v in pset.variants)
               for k in range(len(pset.kinds)))


def qti_meta(pset, title: str, aid: str) -> str:
    root = ET.Element("quiz", {"identifier": aid, "xmlns": CANVAS_NS})
    points = f"{float(_group_count(pset)):.1f}"
    for tag, text in (("title", title),
                      ("description", f"<p>{_esc(title)}: one variant of each question "
                                      f"per student (derive, seed {pset.seed}).</p>"),
                      ("shuffle_answers", "false"), ("scoring_policy", "keep_highest"),
                      ("hide_results", ""), ("quiz_type", "assignment"),
                      ("points_possible", points), ("show_correct_answers", "true"),
                      ("allowed_attempts", "1"), ("one_question_at_a_time", "false"),
                      ("cant_go_back", "false"), ("available", "false")):
        ET.SubElement(root, tag).text = text
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def qti_manifest(title: str, aid: str, files: dict) -> str:
    root = ET.Element("manifest", {"identifier": f"{aid}_manifest", "xmlns": CP_NS})
    md = ET.SubElement(root, "metadata")
    ET.SubElement(md, "schema").text = "IMS Content"
    ET.SubElement(md, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    res = ET.SubElement(root, "resources")
    r = ET.SubElement(res, "resource", {"identifier": aid, "type": "imsqti_xmlv1p2"})
    ET.SubElement(r, "file", {"href": files["assessment"]})
    ET.SubElement(r, "dependency", {"identifierref": f"{aid}_meta"})
    m = ET.SubElement(res, "resource", {
        "identifier": f"{aid}_meta",
        "type": "associatedcontent/imscc_xmlv1p1/learning-application-resource",
        "href": files["meta"]})
    ET.SubElement(m, "file", {"href": files["meta"]})
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def qti_zip(pset, title: str | None = None) -> bytes:
    """The Canvas QTI 1.2 package: byte-identical for the same problem set and title."""
    title = title or default_title(pset)
    aid = _ident("quiz", f"seed{pset.seed}")
    files = {"assessment": f"{aid}/{aid}.xml", "meta": f"{aid}/assessment_meta.xml"}
    entries = {"imsmanifest.xml": qti_manifest(title, aid, files),
               files["assessment"]: qti_assessment(pset, title, aid),
               files["meta"]: qti_meta(pset, title, aid)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, entries[name].encode("utf-8"), compresslevel=9)
    return buf.getvalue()
