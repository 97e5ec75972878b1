"""Quizzes for the learning platforms: Moodle XML and a Canvas QTI 1.2 package.

Thin writers over a derive.problemset.ProblemSet: each problem's statement and worked
solution are the SAME Markdown templates as `--format markdown` (render/quizhtml.py turns them
into HTML with \\( … \\) math), and every number comes from the problem objects, so a seed gives
the same numbers here as on paper and in answers.json.  XML is built with ElementTree, which
escapes all text and attributes; nothing user-given is ever spliced into markup by hand.

Both writers take the variants one at a time and write as they go (each question is rendered,
serialised and spooled to a temporary file, then copied into place in the platform's order),
so memory does not grow with the number of variants.

What each platform does with the file, and so what is written here, was read in its import
code (docs/quizzes.md lists the files; tests/test_quiz_import.py encodes the rules):

Moodle (moodle.xml): one category per problem kind; in it one question per variant, so a quiz
slot "random question from this category" gives each student one whole variant.
  * the right values of an answer are its accepted intervals (answers.json `accept`): one
    alternative `=value:half-unit` per right value, value at the places asked;
  * a problem with one numeric answer  -> `numerical`, one <answer> per right value;
  * several answers                    -> `cloze` (multianswer), one blank per answer;
  * a yes/no, sup E, or --choices      -> a choice (`multichoice`, or a MULTICHOICE blank);
  * the network picture is a file of the question (<file encoding="base64">, referenced as
    @@PLUGINFILE@@/name), which Moodle stores with the question: a data: URI would be removed
    by HTML cleaning on sites that clean all content.
  * text inside a cloze blank is written so that Moodle's parser, which unescapes only
    `\\}` and `\\#` after decoding HTML entities, gives back exactly the HTML meant.
  The worked solution is the <generalfeedback>.

Canvas (canvas-qti.zip): Canvas Classic Quizzes have no numeric cloze, so each asked value is
an item; one question group per problem and asked value holds that item of every variant.
  * a numeric item has one answer per right value: "exact answer with margin" (varequal
    value, vargte/varlte its rounding interval);
  * the picture is a file in the package (listed in the manifest, referenced relatively),
    which Canvas imports into the course files and links: its sanitizer keeps only http,
    https and relative image sources;
  * Canvas rewrites what a student types with toFixed(4) before marking, so values asked to
    more than 4 places cannot be marked: refused (`canvas_refusal`, which derive turns into
    its message before any work);
  * each item's feedback stays under Canvas' 5,120 characters: the key, then the part of the
    worked solution that computes that value.
"""

from __future__ import annotations

import base64
import html
import io
import re
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal

from render import PROBLEM_LABELS, decimals, render
from render.filters import tex_name
from render.quizhtml import markdown_html

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
CANVAS_NS = "http://canvas.instructure.com/xsd/cccv1p0"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

# Canvas' quiz page rewrites a numerical answer with toFixed(4) when the student leaves the
# field (canvas-lms, public/javascripts/quiz_taking: `$this.val(isNaN(val) ? "" :
# val.toFixed(4))`): 5 places typed become 4 before marking.
CANVAS_MAX_PLACES = 4
# Canvas refuses to save a question's comments (feedback) longer than this when a teacher
# edits the question; the items stay under it with room to spare.
CANVAS_FEEDBACK_LIMIT = 5120
FEEDBACK_BUDGET = 5000

# what a student types for an answer that is not a plain value
HINTS = {"batch_size": "a whole number"}


def label(name: str) -> str:
    """An answer's name as TeX (the same labels as the paper's answer key)."""
    return str(PROBLEM_LABELS[name]) if name in PROBLEM_LABELS else str(tex_name(name))


def default_title(pset) -> str:
    return f"derive problems, seed {pset.seed}"


def canvas_refusal(places: int) -> str | None:
    """Why Canvas cannot mark a set whose most places asked is `places` (error terms,
    gradients and losses are asked to one place more than --decimals), or None."""
    if places <= CANVAS_MAX_PLACES:
        return None
    return (f"Canvas rounds every number a student types to {CANVAS_MAX_PLACES} decimal places "
            f"(toFixed({CANVAS_MAX_PLACES})) before marking, so it cannot mark answers asked "
            f"to {places} places")


def picture_name(p) -> str:
    return f"{p.id}.svg"


class _Texts:
    """HTML of a problem's statement and solution, and its picture (SVG), once per problem."""

    def __init__(self, pset, picture_src):
        self.pset = pset
        self.titles = pset.titles  # kind -> the heading of its problems
        self.data = dict(pset=pset, titles=self.titles, labels=PROBLEM_LABELS)
        self.picture_src = picture_src  # problem -> the src its <img> uses

    def svg(self, p) -> str | None:
        if p.kind not in self.pset.pictured or not hasattr(p.solution, "network"):
            return None
        return render("network_picture", "html", doc=p.solution)

    def statement(self, p, with_picture: bool) -> str:
        d = self.pset.options.decimals
        md = render("quiz_problem", "markdown", p=p, **self.data)
        rounding = (f"<p><em>Give net inputs, outputs and parameters to {d} decimal places, "
                    f"error terms, gradients and losses to {d + 1}.</em></p>\n")
        img = None
        if with_picture:
            src = html.escape(self.picture_src(p), quote=True)
            img = f'<img src="{src}" alt="the network with its weights and biases">'
        return rounding + markdown_html(md, img)

    def solution(self, p) -> str:
        return markdown_html(render("quiz_solution", "markdown", p=p, **self.data))


def _prompt(p, name: str) -> str:
    """'\\(o_{6}\\) (3 decimal places)' as HTML."""
    places = p.places.get(name)
    if name in p.words or p.options.get(name):
        how = ""
    else:
        how = HINTS.get(name) or (f"{places} decimal places" if places is not None else "")
    return f"\\({html.escape(label(name))}\\)" + (f" ({html.escape(how)})" if how else "")


def _choice_text(p, name, c) -> str:
    """An option as shown: its word, or its value at the places asked."""
    if c.get("word"):
        return c["word"]
    return decimals.text(c["value"], p.places.get(name, p.places.get("loss", 3)))


def _mistake_feedback(c) -> str:
    if c["correct"]:
        return "Right."
    if not c.get("mistake"):
        return "Not this one."
    return f"Not this one. The mistake it comes from: {c['mistake']}."


def _right_texts(p, name) -> list[str]:
    """The right values of a numeric answer as written at its places (key's first)."""
    return [decimals.text(v, p.places[name]) for v in p.right[name]]


def _half_unit_text(p, name) -> str:
    return format(decimals.half_unit(p.places[name]), "f")


class _Spool:
    """Text written now and copied out later, group by group, from one temporary file."""

    def __init__(self):
        self.file = tempfile.TemporaryFile(mode="w+b")
        self.chunks: dict = {}  # group -> [(offset, length)]

    def add(self, group, text: str) -> None:
        data = text.encode("utf-8")
        self.chunks.setdefault(group, []).append((self.file.tell(), len(data)))
        self.file.write(data)

    def copy(self, group, out) -> None:
        here = self.file.tell()
        for offset, length in self.chunks.get(group, ()):
            self.file.seek(offset)
            out.write(self.file.read(length))
        self.file.seek(here)

    def close(self) -> None:
        self.file.close()


def _xml(el: ET.Element, level: int) -> str:
    ET.indent(el, space="  ", level=level)
    return "  " * level + ET.tostring(el, encoding="unicode") + "\n"


# ---------------------------------------------------------------- Moodle XML

def _text(parent, tag: str, text: str, fmt: str | None = "html") -> ET.Element:
    el = ET.SubElement(parent, tag, {"format": fmt} if fmt else {})
    ET.SubElement(el, "text").text = text
    return el


# Inside a cloze blank, Moodle (question/type/multianswer/questiontype.php) ends an option at
# the first ~, # or } not preceded by a backslash (or, for #, by & or &amp;), ends feedback at
# the first ~ or } not preceded by a backslash, then html_entity_decode()s the text and
# replaces only \} and \# (no other backslash escape is undone).  So the HTML meant is written
# with these characters as numeric character references, and every & of it as &amp;: Moodle's
# decoding turns &amp; back into &, leaving HTML whose references the browser shows as the
# characters.  Nothing in the result can end the option or its feedback.
_CLOZE_CHARS = {"\\": "&#92;", "{": "&#123;", "}": "&#125;", "~": "&#126;", "#": "&#35;"}


def cloze_html(text: str) -> str:
    """Plain text as it must be written inside a cloze blank (an option or its feedback) to
    read exactly as written once Moodle has parsed the question."""
    meant = "".join(_CLOZE_CHARS.get(c) or html.escape(c, quote=True) for c in text)
    return meant.replace("&", "&amp;")


def _category_path(*parts: str) -> str:
    # Moodle's path separator is '/'; a literal slash inside a name is written '//'
    return "/".join(["$course$", "top", *(s.replace("/", "//") for s in parts)])


def _moodle_question(qtype: str, name: str, qtext: str, feedback: str, grade: int,
                     picture: tuple[str, bytes] | None) -> ET.Element:
    q = ET.Element("question", {"type": qtype})
    _text(q, "name", name, fmt=None)
    qt = _text(q, "questiontext", qtext)
    if picture is not None:
        # question/format/xml/format.php import_text_with_files: <file name path encoding>
        # inside the text's element becomes a file of that text, @@PLUGINFILE@@/name
        fname, data = picture
        f = ET.SubElement(qt, "file", {"name": fname, "path": "/", "encoding": "base64"})
        f.text = base64.b64encode(data).decode("ascii")
    _text(q, "generalfeedback", feedback)
    ET.SubElement(q, "defaultgrade").text = str(grade)
    ET.SubElement(q, "penalty").text = "0.3333333"
    ET.SubElement(q, "hidden").text = "0"
    # no <idnumber>: it must be unique in its category, so importing the file twice could clash;
    # the question's name ends with the problem id instead
    return q


def _numerical_blank(p, n) -> str:
    tol = _half_unit_text(p, n)
    return "{1:NUMERICAL:" + "~".join(f"={v}:{tol}" for v in _right_texts(p, n)) + "}"


def _choice_blank(p, n, options) -> str:
    alts = "~".join(f"{'=' if c['correct'] else ''}{cloze_html(_choice_text(p, n, c))}"
                    f"#{cloze_html(_mistake_feedback(c))}" for c in options)
    return "{1:MULTICHOICE:" + alts + "}"


def moodle_question(texts: _Texts, p, name: str) -> ET.Element:
    """One problem as one Moodle question."""
    svg = texts.svg(p)
    picture = (picture_name(p), svg.encode("utf-8")) if svg else None
    statement, solution = texts.statement(p, picture is not None), texts.solution(p)
    asked = list(p.ask)
    only = asked[0] if len(asked) == 1 else None
    if only is not None and p.quiz_choice(only):
        qtext = statement + f"\n<p><strong>Which is {_prompt(p, only)}?</strong></p>"
        q = _moodle_question("multichoice", name, qtext, solution, 1, picture)
        ET.SubElement(q, "single").text = "true"
        ET.SubElement(q, "shuffleanswers").text = "false"  # already in the paper's order
        ET.SubElement(q, "answernumbering").text = "abc"
        _text(q, "correctfeedback", "<p>Right.</p>")
        _text(q, "partiallycorrectfeedback", "")
        _text(q, "incorrectfeedback", "<p>Not right: see the worked solution.</p>")
        for c in p.quiz_choice(only):
            a = ET.SubElement(q, "answer", {"fraction": "100" if c["correct"] else "0",
                                            "format": "html"})
            ET.SubElement(a, "text").text = html.escape(_choice_text(p, only, c))
            _text(a, "feedback", f"<p>{html.escape(_mistake_feedback(c))}</p>")
        return q
    if only is not None:
        qtext = statement + f"\n<p><strong>{_prompt(p, only)} =</strong></p>"
        q = _moodle_question("numerical", name, qtext, solution, 1, picture)
        tol = _half_unit_text(p, only)
        for value in _right_texts(p, only):  # one answer per right value, each its interval
            a = ET.SubElement(q, "answer", {"fraction": "100", "format": "moodle_auto_format"})
            ET.SubElement(a, "text").text = value
            _text(a, "feedback", "")
            ET.SubElement(a, "tolerance").text = tol
        ET.SubElement(q, "unitgradingtype").text = "0"
        ET.SubElement(q, "unitpenalty").text = "0.1"
        ET.SubElement(q, "showunits").text = "3"
        ET.SubElement(q, "unitsleft").text = "0"
        return q
    rows = []
    for n in asked:
        options = p.quiz_choice(n)
        blank = _choice_blank(p, n, options) if options else _numerical_blank(p, n)
        rows.append(f"<li>{_prompt(p, n)} = {blank}</li>")
    qtext = statement + "\n<p><strong>Your answers:</strong></p>\n<ul>\n" + \
        "\n".join(rows) + "\n</ul>"
    return _moodle_question("cloze", name, qtext, solution, len(asked), picture)


def write_moodle(pset, out, title: str | None = None) -> None:
    """The Moodle XML question bank of a problem set, written to the binary file `out`."""
    texts = _Texts(pset, lambda p: f"@@PLUGINFILE@@/{picture_name(p)}")
    title = title or default_title(pset)
    spool = _Spool()
    count = 0
    try:
        for v in pset.variants:
            count += 1
            for k, p in enumerate(v.problems):
                q = moodle_question(texts, p, f"{texts.titles[p.kind]} {p.id}")
                spool.add(k, _xml(q, 1))
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n')
        for k, kind in enumerate(pset.kinds):
            cat = ET.Element("question", {"type": "category"})
            _text(cat, "category", _category_path(title, f"{k + 1:02d} {texts.titles[kind]}"),
                  fmt=None)
            _text(cat, "info", f"<p>{html.escape(texts.titles[kind])}: {count} variants of "
                               f"one problem; draw one at random per student.</p>")
            out.write(_xml(cat, 1).encode("utf-8"))
            spool.copy(k, out)
        out.write(b"</quiz>\n")
    finally:
        spool.close()


def moodle_xml(pset, title: str | None = None) -> str:
    """The Moodle XML question bank as text (for the API; the CLI streams to the file)."""
    buf = io.BytesIO()
    write_moodle(pset, buf, title)
    return buf.getvalue().decode("utf-8")


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


# which section of a network problem's worked solution computes a value (its #### heading)
_SECTION = (("Err", "Backward pass"), ("dw", "Backward pass"), ("db", "Backward pass"),
            ("loss", "Loss"), ("i", "Forward pass"), ("o", "Forward pass"),
            ("w", "Update"), ("b", "Update"))
_HEADING = re.compile(r"^<h4>(.*?)</h4>", re.M)


def split_solution(solution: str) -> tuple[str, list[tuple[str, str]]]:
    """The solution's HTML as (its head: the key, [(heading, section HTML), ...])."""
    cuts = [m.start() for m in _HEADING.finditer(solution)]
    if not cuts:
        return solution, []
    head = solution[:cuts[0]]
    sections = []
    for a, b in zip(cuts, cuts[1:] + [len(solution)]):
        part = solution[a:b]
        sections.append((_HEADING.match(part).group(1), part))
    return head, sections


def item_feedback(solution: str, name: str, budget: int = FEEDBACK_BUDGET) -> str:
    """The feedback of the item asking `name`: the key, then the part of the worked solution
    that computes it, within Canvas' limit (the whole solution when it fits)."""
    if len(solution) <= budget:
        return solution
    head, sections = split_solution(solution)
    want = next((title for prefix, title in _SECTION if name.startswith(prefix)), None)
    chosen = [part for title, part in sections if title == want]
    note = ("<p><em>The other steps of this worked solution are in the feedback of this "
            "problem's other questions.</em></p>")
    text = head + "".join(chosen) + ("\n" + note if sections else "")
    if len(text) <= budget:
        return text
    # a section still too long: cut it at a block boundary
    blocks = re.split(r"(?<=>)\n", head + "".join(chosen))  # a newline after a tag
    short = ("<p><em>This worked step is too long for Canvas' feedback: the whole worked "
             "solution is in solutions.md of `derive problems --format markdown` with the "
             "same seed.</em></p>")
    kept = ""
    for block in blocks:
        if len(kept) + len(block) + len(short) + 1 > budget:
            break
        kept += block + "\n"
    return kept + short


def _qti_item(p, n, statement, solution) -> ET.Element:
    ident = _ident(p.id, n)
    item = ET.Element("item", {"ident": ident, "title": f"{p.id} {n}"})
    meta = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    options = p.quiz_choice(n)
    mc = bool(options)
    _field(meta, "question_type", "multiple_choice_question" if mc else "numerical_question")
    _field(meta, "points_possible", "1.0")
    choice_ids = [f"{ident}_c{j + 1}" for j in range(len(options or []))]
    right_ids = [f"{ident}_a{j + 1}" for j in range(0 if mc else len(p.right[n]))]
    _field(meta, "original_answer_ids", ",".join(choice_ids if mc else right_ids))
    _field(meta, "assessment_question_identifierref", f"{ident}_ref")
    pres = ET.SubElement(item, "presentation")
    if mc:
        _mattext(pres, statement + f"\n<p><strong>Which is {_prompt(p, n)}?</strong></p>")
        lid = ET.SubElement(pres, "response_lid", {"ident": "response1",
                                                   "rcardinality": "Single"})
        rc = ET.SubElement(lid, "render_choice")
        for cid, c in zip(choice_ids, options):
            lab = ET.SubElement(rc, "response_label", {"ident": cid})
            _mattext(lab, html.escape(_choice_text(p, n, c)))
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
        for cid, c in zip(choice_ids, options):
            def eq(cv, cid=cid):
                ET.SubElement(cv, "varequal", {"respident": "response1"}).text = cid
            _condition(res, eq, feedback=f"{cid}_fb", cont="Yes")
        right = choice_ids[[c["correct"] for c in options].index(True)]

        def correct(cv):
            ET.SubElement(cv, "varequal", {"respident": "response1"}).text = right
        _condition(res, correct, score="100")
    else:
        # one "exact answer with margin" per right value: the value at the places asked and
        # its rounding interval (Canvas: gems/plugins/qti_exporter numeric_interaction.rb
        # reads <or><varequal/><and><vargte/><varlte/></and></or> as exact + margin)
        h = decimals.half_unit(p.places[n])
        for value in _right_texts(p, n):
            centre = Decimal(value)

            def within(cv, value=value, lo=centre - h, hi=centre + h):
                either = ET.SubElement(cv, "or")
                ET.SubElement(either, "varequal", {"respident": "response1"}).text = value
                both = ET.SubElement(either, "and")
                ET.SubElement(both, "vargte", {"respident": "response1"}).text = format(lo, "f")
                ET.SubElement(both, "varlte", {"respident": "response1"}).text = format(hi, "f")
            _condition(res, within, score="100")
    _feedback(item, "general_fb", item_feedback(solution, n))
    if mc:
        for cid, c in zip(choice_ids, options):
            _feedback(item, f"{cid}_fb", f"<p>{html.escape(_mistake_feedback(c))}</p>")
    return item


def _group_title(titles, kind, name) -> str:
    return f"{titles[kind]}: {name}"


def write_qti(pset, out, title: str | None = None) -> None:
    """The Canvas QTI 1.2 package, written to the binary file `out`: byte-identical for the
    same problem set and title.  Pictures are files of the package (pictures/ID.svg beside
    the assessment), listed in the manifest and referenced relatively."""
    refusal = canvas_refusal(pset.options.decimals + 1)
    if refusal:  # derive refuses first, with the options to use instead
        raise ValueError(refusal)
    title = title or default_title(pset)
    aid = _ident("quiz", f"seed{pset.seed}")
    base = f"{aid}/"
    texts = _Texts(pset, lambda p: f"pictures/{picture_name(p)}")
    spool = _Spool()
    groups: dict = {}  # (k, name) -> number of items, in first-seen order
    pictures: list[str] = []
    try:
        with zipfile.ZipFile(out, "w") as zf:
            for v in pset.variants:
                for k, p in enumerate(v.problems):
                    svg = texts.svg(p)
                    if svg:
                        path = f"{base}pictures/{picture_name(p)}"
                        _zip_write(zf, path, svg.encode("utf-8"))
                        pictures.append(path)
                    statement, solution = texts.statement(p, bool(svg)), texts.solution(p)
                    for n in p.ask:
                        item = _qti_item(p, n, statement, solution)
                        spool.add((k, n), _xml(item, 3))
                        groups[(k, n)] = groups.get((k, n), 0) + 1
            variants = max(groups.values(), default=0)
            for (k, n), count in groups.items():
                if count != variants:  # every group must hold every variant
                    raise AssertionError(f"question group {pset.kinds[k]}: {n} holds {count} "
                                         f"of {variants} variants")
            files = {"assessment": f"{base}{aid}.xml", "meta": f"{base}assessment_meta.xml"}
            info = _zip_info(files["assessment"])
            with zf.open(info, "w") as fh:
                fh.write(_qti_head(title, aid).encode("utf-8"))
                for k, kind in enumerate(pset.kinds):
                    for (kk, n) in groups:
                        if kk != k:
                            continue
                        fh.write(_qti_group_open(texts.titles, kind, n).encode("utf-8"))
                        spool.copy((k, n), fh)
                        fh.write(b"      </section>\n")
                fh.write(b"    </section>\n  </assessment>\n</questestinterop>\n")
            _zip_write(zf, files["meta"], qti_meta(pset, title, aid, len(groups)).encode())
            _zip_write(zf, "imsmanifest.xml",
                       qti_manifest(title, aid, files, pictures).encode("utf-8"))
    finally:
        spool.close()


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3
    return info


def _zip_write(zf, name: str, data: bytes) -> None:
    zf.writestr(_zip_info(name), data, compresslevel=9)


def _qti_head(title: str, aid: str) -> str:
    root = ET.Element("questestinterop", {"xmlns": QTI_NS})
    test = ET.SubElement(root, "assessment", {"ident": aid, "title": title})
    meta = ET.SubElement(test, "qtimetadata")
    _field(meta, "cc_maxattempts", "1")
    ET.indent(root, space="  ")
    text = ET.tostring(root, "unicode")
    # everything up to the end of the metadata, then the root section opened
    head = text[:text.index("</assessment>")]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + head.rstrip() + "\n"
            '    <section ident="root_section">\n')


def _qti_group_open(titles, kind: str, name: str) -> str:
    group = ET.Element("section", {"ident": _ident("group", kind, name),
                                   "title": _group_title(titles, kind, name)})
    sel = ET.SubElement(ET.SubElement(group, "selection_ordering"), "selection")
    ET.SubElement(sel, "selection_number").text = "1"
    ET.SubElement(ET.SubElement(sel, "selection_extension"), "points_per_item").text = "1.0"
    text = _xml(group, 3)
    return text[:text.rindex("</section>")].rstrip() + "\n"


def qti_meta(pset, title: str, aid: str, groups: int) -> str:
    root = ET.Element("quiz", {"identifier": aid, "xmlns": CANVAS_NS})
    points = f"{float(groups):.1f}"
    for tag, text in (("title", title),
                      ("description", f"<p>{html.escape(title)}: one variant of each question "
                                      f"per student (derive, seed {pset.seed}).</p>"),
                      ("shuffle_answers", "false"), ("scoring_policy", "keep_highest"),
                      ("hide_results", ""), ("quiz_type", "assignment"),
                      ("points_possible", points), ("show_correct_answers", "true"),
                      ("allowed_attempts", "1"), ("one_question_at_a_time", "false"),
                      ("cant_go_back", "false"), ("available", "false")):
        ET.SubElement(root, tag).text = text
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def qti_manifest(title: str, aid: str, files: dict, pictures=()) -> str:
    """The package's manifest: the assessment, its settings, and the pictures as one
    webcontent resource (QTIMigrationTool copies every <file> of the manifest into the
    package it converts; Canvas imports those files into the course files and links each
    relative src that names one)."""
    root = ET.Element("manifest", {"identifier": f"{aid}_manifest", "xmlns": CP_NS})
    md = ET.SubElement(root, "metadata")
    ET.SubElement(md, "schema").text = "IMS Content"
    ET.SubElement(md, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    res = ET.SubElement(root, "resources")
    r = ET.SubElement(res, "resource", {"identifier": aid, "type": "imsqti_xmlv1p2"})
    ET.SubElement(r, "file", {"href": files["assessment"]})
    ET.SubElement(r, "dependency", {"identifierref": f"{aid}_meta"})
    if pictures:
        ET.SubElement(r, "dependency", {"identifierref": f"{aid}_pictures"})
    m = ET.SubElement(res, "resource", {
        "identifier": f"{aid}_meta",
        "type": "associatedcontent/imscc_xmlv1p1/learning-application-resource",
        "href": files["meta"]})
    ET.SubElement(m, "file", {"href": files["meta"]})
    if pictures:
        w = ET.SubElement(res, "resource", {"identifier": f"{aid}_pictures",
                                            "type": "webcontent"})
        for path in pictures:
            ET.SubElement(w, "file", {"href": path})
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def qti_zip(pset, title: str | None = None) -> bytes:
    """The Canvas QTI 1.2 package as bytes (for the API; the CLI streams to the file)."""
    buf = io.BytesIO()
    write_qti(pset, buf, title)
    return buf.getvalue()
