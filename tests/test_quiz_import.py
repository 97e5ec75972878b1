"""What Moodle and Canvas do with derive's quizzes, as their import code does it.

Each rule below is our own code written after reading the platform's public source (cited at
each rule; docs/quizzes.md says what was also run by hand, through the real code):

Moodle  question/type/multianswer/questiontype.php   cloze regexes, extraction, unescaping
        question/type/numerical/question.php         tolerance interval (nominal), matching
        question/type/numerical/questiontype.php     apply_units: how a typed answer is read
        question/format/xml/format.php                <file> inside a text, @@PLUGINFILE@@
Canvas  instructure/QTIMigrationTool lib/imsqtiv1.py  every manifest <file> is carried over
        canvas-lms gems/plugins/qti_exporter           convert_files, html_helper path match,
                                                       numeric_interaction exact + margin
        canvas-lms gems/canvas_sanitize                img src: http, https or relative
        canvas-lms quizzes/quiz_question/numerical_question.rb   BigDecimal, inclusive
        canvas-lms public/javascripts/quiz_taking      a typed number becomes toFixed(4)
"""

from __future__ import annotations

import base64
import html
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from fractions import Fraction
from posixpath import dirname, join, normpath

import pytest

from derive import api, intervals
from derive.errors import DeriveError
from render import quiz

KINDS = "activation,loss,forward,backward,update,step,descent,batch,minima"
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"

# ---- Moodle's cloze parser (question/type/multianswer/questiontype.php), in Python's re:
# PCRE's (?<!\\|&|&amp;) is written as three lookbehinds (Python needs fixed widths).
_FRACTION = r"=|%(-?[0-9]+(?:[.,][0-9]*)?)%"
_ANSWER = r".+?(?<!\\)(?<!&)(?<!&amp;)(?=[~#}]|$)"
_FEEDBACK = r".*?(?<!\\)(?=[~}]|$)"
_ALT = f"({_FRACTION})?({_ANSWER})(#({_FEEDBACK}))?"
_TYPES = ("(NUMERICAL|NM)|(MULTICHOICE|MC)|(MULTICHOICE_V|MCV)|(MULTICHOICE_H|MCH)|"
          "(SHORTANSWER|SA|MW)|(SHORTANSWER_C|SAC|MWC)|"
          "(MULTICHOICE_S|MCS)|(MULTICHOICE_VS|MCVS)|(MULTICHOICE_HS|MCHS)|"
          "(MULTIRESPONSE|MR)|(MULTIRESPONSE_H|MRH)|(MULTIRESPONSE_S|MRS)|(MULTIRESPONSE_HS|MRHS)")
_BLANK = re.compile(r"\{([0-9]*):(" + _TYPES + "):(" + _ALT + "(~" + _ALT + r")*)\}", re.S)
_ALT_RE = re.compile("~?" + _ALT, re.S)
_NUMBER = r"-?(([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][-+]?[0-9]+)?)"
_NUMERICAL = re.compile("^(" + _NUMBER + ")(:" + _NUMBER + ")?$", re.S)


def moodle_unescape(text: str) -> str:
    """html_entity_decode(ENT_QUOTES), then only \\} and \\# (qtype_multianswer_extract_question)."""
    return html.unescape(text).replace("\\}", "}").replace("\\#", "#")


def moodle_cloze(text: str) -> list[dict]:
    """The blanks of a cloze text as Moodle extracts them."""
    blanks = []
    while (m := _BLANK.search(text)):
        numerical = bool(m.group(3))
        alts, rest = [], m.group(16)
        while rest and (a := _ALT_RE.match(rest)):
            fraction = 1.0 if a.group(1) == "=" else (float(a.group(2)) / 100 if a.group(2)
                                                         else 0.0)
            feedback = moodle_unescape(a.group(5)) if a.group(4) is not None else ""
            answer = a.group(3)
            if numerical and (n := _NUMERICAL.match(answer)):
                alts.append({"answer": n.group(1), "tolerance": n.group(6) or "0",
                             "fraction": fraction, "feedback": feedback})
            else:
                alts.append({"answer": moodle_unescape(answer), "fraction": fraction,
                             "feedback": feedback})
            rest = rest[a.end():]
        blanks.append({"numerical": numerical, "alternatives": alts})
        text = text[:m.start()] + f"{{#{len(blanks)}}}" + text[m.end():]
    return blanks


def moodle_read(typed: str) -> float | None:
    """qtype_numerical_answer_processor::apply_units without units: spaces dropped, a lone
    comma is the decimal point, then the leading number."""
    s = typed.replace(" ", "")
    s = s.replace(",", "") if "." in s or s.count(",") > 1 else s.replace(",", ".")
    m = re.match(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?", s)
    return float(m.group()) if m else None


def moodle_within(answer: str, tolerance: str, value: float) -> bool:
    """qtype_numerical_answer::get_tolerance_interval, nominal (PHP precision 14)."""
    eps = 1e-14
    a, t = float(answer), abs(float(tolerance))
    t = t + eps * max(abs(t), abs(a), eps)
    return a - t <= value <= a + t


def visible_text(html_text: str) -> str:
    """What a browser shows of HTML without tags (entities decoded)."""
    return html.unescape(re.sub(r"<[^>]*>", "", html_text))


@pytest.fixture(scope="module")
def sets():
    return {c: api.problems(KINDS, 3, 2024, choices=c) for c in (None, 4)}


def _moodle(pset) -> ET.Element:
    return ET.fromstring(quiz.moodle_xml(pset))


def _questions(root):
    return [q for q in root.iter("question") if q.get("type") != "category"]


def _blanks_of(q) -> list[dict]:
    """A Moodle question's blanks, whatever its type, as the importer sees them."""
    qtype = q.get("type")
    if qtype == "cloze":
        return moodle_cloze(q.find("questiontext/text").text)
    answers = q.findall("answer")
    if qtype == "numerical":
        return [{"numerical": True, "alternatives": [
            {"answer": a.findtext("text"), "tolerance": a.findtext("tolerance"),
             "fraction": float(a.get("fraction")) / 100} for a in answers]}]
    return [{"numerical": False, "alternatives": [
        {"answer": html.unescape(a.findtext("text")), "fraction": float(a.get("fraction")) / 100,
         "feedback": a.findtext("feedback/text")} for a in answers]}]


@pytest.mark.parametrize("choices", [None, 4])
def test_moodle_accepts_every_right_answer_and_only_those(sets, choices):
    pset = sets[choices].pset
    problems = {p.id: p for v in pset.variants for p in v.problems}
    checked = 0
    for q in _questions(_moodle(pset)):
        p = problems[q.findtext("name/text").rsplit(" ", 1)[1]]
        blanks = _blanks_of(q)
        assert len(blanks) == len(p.ask), p.id
        for n, blank in zip(p.ask, blanks):
            alts = blank["alternatives"]
            if p.quiz_choice(n):
                assert not blank["numerical"]
                right = [a["answer"] for a in alts if a["fraction"] == 1]
                want = [c for c in p.quiz_choice(n) if c["correct"]]
                assert right == [quiz._choice_text(p, n, want[0])], (p.id, n)
                continue
            assert blank["numerical"], (p.id, n)
            places = p.places[n]
            # one alternative per right value, written at the places asked, no noise
            assert [a["answer"] for a in alts] == [intervals.text(r, places)
                                                   for r in p.right[n]], (p.id, n)
            for a in alts:  # no interval wider than one right value's rounding
                assert Decimal(a["tolerance"]) == intervals.half_unit_decimal(places)
            unit = Decimal(1).scaleb(-places)
            for lo, hi in p.accept[n]:
                centre = (Decimal(repr(lo)) + Decimal(repr(hi))) / 2
                for typed in (format(centre, "f"), format(centre, "f").replace(".", ",")):
                    value = moodle_read(typed)
                    assert any(moodle_within(a["answer"], a["tolerance"], value)
                               for a in alts if a["fraction"] == 1), (p.id, n, typed)
                for off in (centre - unit, centre + unit):
                    if any(abs((Decimal(repr(l2)) + Decimal(repr(h2))) / 2 - off) < unit / 10
                           for l2, h2 in p.accept[n]):
                        continue
                    assert not any(moodle_within(a["answer"], a["tolerance"], float(off))
                                   for a in alts), (p.id, n, off)
                checked += 1
    assert checked > (100 if choices is None else -1)


def test_moodle_pictures_are_files_of_their_question(sets):
    """format.php import_text_with_files: each <file> in <questiontext> becomes a file of the
    text; @@PLUGINFILE@@/name refers to it.  No data: URI (removed by HTML cleaning)."""
    root = _moodle(sets[None].pset)
    pictures = 0
    for q in _questions(root):
        qt = q.find("questiontext")
        text = qt.findtext("text")
        assert "data:" not in text
        files = {f.get("name"): base64.b64decode(f.text) for f in qt.findall("file")}
        for f in qt.findall("file"):
            assert f.get("encoding") == "base64" and f.get("path") == "/"
        refs = re.findall(r'src="@@PLUGINFILE@@/([^"]+)"', text)
        assert sorted(refs) == sorted(files)
        for ref in refs:
            assert files[ref].lstrip().startswith(b"<svg")
            pictures += 1
    assert pictures == 12  # forward, backward, update, step x 3 variants


HOSTILE = ['a / b ~ c # d } e " f \\ g < h', "dE\\/dc", "&lt;x&gt; and <b>bold</b>",
           "braces {1:NUMERICAL:=1} \\} \\# ~~ ##", "&amp; &#35; \\", "tail\\", "{", "}"]


@pytest.mark.parametrize("label", HOSTILE)
def test_cloze_text_reads_exactly_as_written_after_moodles_parser(label):
    blank = "{1:MULTICHOICE:=" + quiz.cloze_html(label) + "#" + quiz.cloze_html(label) + \
        "~" + quiz.cloze_html("other") + "#" + quiz.cloze_html(label) + "}"
    # the question text travels in XML (xmlize decodes it as any XML parser does)
    text = ET.fromstring(ET.tostring(ET.Element("t", {}), encoding="unicode")[:-2] +
                         ">" + html.escape(f"<p>before</p>{blank}<p>after</p>") + "</t>").text
    (parsed,) = moodle_cloze(text)
    first, second = parsed["alternatives"]
    assert first["fraction"] == 1 and second["fraction"] == 0
    for shown in (first["answer"], first["feedback"], second["feedback"]):
        assert visible_text(shown) == label
    assert visible_text(second["answer"]) == "other"


def test_the_old_backslash_escaping_is_what_moodle_does_not_undo():
    """The rule the test above guards: Moodle undoes \\} and \\# only."""
    assert moodle_unescape("dE\\/dc") == "dE\\/dc"
    assert moodle_unescape("a\\}b\\#c\\~d") == "a}b#c\\~d"
    assert moodle_unescape("&lt;x&gt;") == "<x>"  # an escaped tag becomes a real one


# ---- Canvas

def to_fixed4(x: float) -> str:
    """ECMAScript Number.prototype.toFixed(4) on the double x: the n with n/10^4 - x closest to
    zero, the larger on a tie, the sign apart."""
    r = Fraction(abs(x)) * 10000
    n = int(r)
    if r - n >= Fraction(1, 2):
        n += 1
    s = f"{n // 10000}.{n % 10000:04d}"
    return "-" + s if x < 0 and n else s


def test_to_fixed4_port():
    # the double nearest 0.05765 lies below it: 5 places typed lose their tie
    assert to_fixed4(0.05765) == "0.0576" and to_fixed4(0.00005) == "0.0001"
    assert to_fixed4(-0.1234) == "-0.1234" and to_fixed4(0.5) == "0.5000"
    assert to_fixed4(-0.00001) == "0.0000" and to_fixed4(12.3) == "12.3000"


def _zip(pset) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(quiz.qti_zip(pset)))


def _assessment(zf):
    name = next(n for n in zf.namelist() if n.endswith(".xml") and "/" in n
                and not n.endswith("assessment_meta.xml"))
    return name, ET.fromstring(zf.read(name))


@pytest.mark.parametrize("choices", [None, 4])
def test_canvas_marks_every_right_answer_after_tofixed4(sets, choices):
    pset = sets[choices].pset
    problems = {p.id: p for v in pset.variants for p in v.problems}
    _, root = _assessment(_zip(pset))
    numeric = 0
    for item in root.iter(f"{QTI}item"):
        pid, n = item.get("title").split(" ")
        p = problems[pid]
        answers = []
        for rc in item.iter(f"{QTI}respcondition"):
            either = rc.find(f"{QTI}conditionvar/{QTI}or")
            if either is None:
                continue
            # numeric_interaction.rb: exact from the equality, margin = upper - exact (BigDecimal)
            exact = either.findtext(f"{QTI}varequal")
            assert either.find(f"{QTI}and/{QTI}vargt") is None  # else read as a precision answer
            upper = either.findtext(f"{QTI}and/{QTI}varlte")
            answers.append((Decimal(repr(float(exact))),
                            Decimal(repr(float(Decimal(upper) - Decimal(exact))))))
        if p.quiz_choice(n):
            assert not answers
            continue
        numeric += 1
        places = p.places[n]
        assert places <= quiz.CANVAS_MAX_PLACES
        assert [e for e, _ in answers] == [Decimal(intervals.text(r, places))
                                           for r in p.right[n]]
        for _, m in answers:  # no interval wider than one right value's rounding
            assert m == intervals.half_unit_decimal(places)
        unit = Decimal(1).scaleb(-places)
        for lo, hi in p.accept[n]:
            centre = (Decimal(repr(lo)) + Decimal(repr(hi))) / 2
            sent = Decimal(to_fixed4(float(format(centre, "f"))))  # what the quiz page sends
            assert any(e - m <= sent <= e + m for e, m in answers), (pid, n, centre)
            for off in (centre - unit, centre + unit):
                if any(abs((Decimal(repr(a)) + Decimal(repr(b))) / 2 - off) < unit / 10
                       for a, b in p.accept[n]):
                    continue
                sent = Decimal(to_fixed4(float(off)))
                assert not any(e - m <= sent <= e + m for e, m in answers), (pid, n, off)
    assert numeric > (100 if choices is None else -1)


def test_canvas_refuses_places_it_cannot_mark():
    four = api.problems("forward", 1, 1, decimals=4)
    # the API refuses before any work, saying what to use instead
    with pytest.raises(DeriveError, match=r"toFixed\(4\).*--decimals 3 or less"):
        four.files("qti")
    # render's writer will not write it either (a plain ValueError: render knows no DeriveError)
    with pytest.raises(ValueError, match=r"toFixed\(4\).*5 places"):
        quiz.qti_zip(four.pset)
    quiz.qti_zip(api.problems("forward", 1, 1, decimals=3).pset)


def test_canvas_pictures_are_package_files_linked_relatively(sets):
    """QTIMigrationTool carries every <file> of the manifest into the package it converts;
    Canvas (qti.rb convert_files) makes each one a course file and (html_helper.rb) links an
    src that names one, exactly or as the end of its path; its sanitizer keeps an img src only
    if it is http, https or relative."""
    zf = _zip(sets[None].pset)
    manifest = ET.fromstring(zf.read("imsmanifest.xml"))
    resource_hrefs = {r.get("href") for r in manifest.iter(f"{CP}resource")}
    files = [f.get("href") for f in manifest.iter(f"{CP}file")
             if f.get("href") not in resource_hrefs]
    assert set(files) <= set(zf.namelist())
    name, root = _assessment(zf)
    linked = 0
    for mattext in root.iter(f"{QTI}mattext"):
        for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', mattext.text or ""):
            src = html.unescape(src)
            assert not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", src)  # relative: kept
            assert normpath(join(dirname(name), src)) in zf.namelist()  # resolves in the zip
            assert any(f == src or f.endswith(src) for f in files)  # Canvas links it
            linked += 1
    assert linked == 156  # every item of forward, backward, update, step: each its picture


def test_every_canvas_group_holds_every_variant():
    """loss_max is asked of every variant (bounded ones and unbounded ones alike)."""
    pset = api.problems("loss,descent", 8, 3).pset
    ranges = {p.facts["range"]["high"] is None for v in pset.variants for p in v.problems
              if p.kind == "loss"}
    assert ranges == {True, False}  # both kinds of variant are in the set
    _, root = _assessment(_zip(pset))
    groups = [s for s in root.iter(f"{QTI}section") if s.find(f"{QTI}item") is not None]
    assert groups and all(len(g.findall(f"{QTI}item")) == 8 for g in groups)
    assert any(g.get("title").endswith("loss_max") for g in groups)


def test_canvas_feedback_stays_under_its_limit():
    pset = api.problems("step,backward", 2, 5, network="3,3,3,2").pset
    full = max(len(quiz._Texts(pset, lambda p: "").solution(p))
               for v in pset.variants for p in v.problems)
    assert full > quiz.CANVAS_FEEDBACK_LIMIT  # the whole worked solution would not fit
    _, root = _assessment(_zip(pset))
    for fb in root.iter(f"{QTI}itemfeedback"):
        if fb.get("ident") == "general_fb":
            text = fb.findtext(f"{QTI}flow_mat/{QTI}material/{QTI}mattext")
            assert len(text) < quiz.CANVAS_FEEDBACK_LIMIT
            assert "Answers:" in text  # the key is always there


def test_quizzes_take_the_variants_one_at_a_time(sets):
    """The writers need no list of variants (they stream): a generator gives the same files."""
    from dataclasses import replace

    pset = sets[None].pset
    once = replace(pset, variants=(v for v in pset.variants))
    assert quiz.moodle_xml(once) == quiz.moodle_xml(pset)
    once = replace(pset, variants=(v for v in pset.variants))
    assert quiz.qti_zip(once) == quiz.qti_zip(pset)
