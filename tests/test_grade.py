"""derive grade: a whole class marked as `derive check` marks one student.

The class is simulated by tests/classroom.py, independently of derive's marking: students
work their variant by hand (the lecture's formulas written out again in plain Python), with
mistakes injected on purpose (each of check's mistake models, slips of one digit, blanks,
values copied from another variant), and every value's expected status, diagnosis and points
follow from the injection and the key's intervals.  The sheet is written the way spreadsheets
write it.  Every other expectation here is written out by hand.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import classroom
import derive
from derive.cli import main
from derive.errors import DeriveError
from derive.marking import MISTAKES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
requires_chromium = pytest.mark.skipif(CHROMIUM is None,
                                       reason="chromium is not installed (CI installs it)")

# the lecture's order of the computation for a 3-2-1 network (DESIGN.md, check's order)
COLUMNS_321 = (
    ["forward." + n for n in ("i4", "o4", "i5", "o5", "i6", "o6")]
    + ["backward." + n for n in ("Err6", "Err5", "Err4", "dw4_6", "dw5_6", "db6", "dw1_4",
                                 "dw2_4", "dw3_4", "db4", "dw1_5", "dw2_5", "dw3_5", "db5")]
    + ["update." + n for n in ("w4_6", "w5_6", "b6", "w1_4", "w2_4", "w3_4", "b4", "w1_5",
                               "w2_5", "w3_5", "b5")])


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def problems(out, *extra, kinds="forward,backward,update", variants=30, seed=7):
    r = cli("problems", "--kinds", kinds, "--variants", variants, "--seed", seed, "-o", out,
            *extra)
    assert r.exit_code == 0, r.output
    return json.loads((Path(out) / "answers.json").read_text())


def sheet_columns(exam) -> list[str]:
    return (Path(exam) / "submissions.csv").read_text().splitlines()[0].split(",")[2:]


def grade_json(*args):
    r = cli("grade", *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


# -- the sheet derive problems writes ---------------------------------------------------------
def test_problems_writes_the_empty_sheet(tmp_path):
    key = problems(tmp_path / "exam", variants=2)
    text = (tmp_path / "exam" / "submissions.csv").read_text()
    assert text == "student,variant," + ",".join(COLUMNS_321) + "\n"
    asked = {f"{p['kind']}.{n}" for v in key["variants"] for p in v["problems"]
             for n in p["answers"]}
    assert asked == set(COLUMNS_321)


def test_api_problem_files_include_the_sheet():
    files = derive.problems("forward,update", variants=2, seed=3).files("markdown")
    header = files["submissions.csv"].splitlines()
    assert header == ["student,variant," + ",".join(
        [c for c in COLUMNS_321 if c.startswith(("forward", "update"))])]


# -- a class of 300 -----------------------------------------------------------------------------
def run_class(tmp_path, key_dir, key, students=300, seed=7, extra=()):
    columns = sheet_columns(key_dir) if (key_dir / "submissions.csv").exists() else None
    columns = columns or [f"{p['kind']}.{n}" for p in key["variants"][0]["problems"]
                          for n in classroom.calcs_of(key)[key["variants"][0]["id"]][0]
                          .asked if n in p["answers"]]
    rows = classroom.simulate(key, students, seed)
    sheet = tmp_path / "class.csv"
    classroom.write_sheet(sheet, columns, rows, random.Random(seed))
    data = grade_json(key_dir, sheet, "-o", tmp_path / "out", *extra)
    return rows, data


def check_against_injection(rows, data, points=None, credit=1.0):
    """Every student's points and every value's status and diagnosis, as injected."""
    assert len(data["students"]) == len(rows)
    for (student, code, values, expected), got in zip(rows, data["students"]):
        assert got["student"] == student and got["variant"] == code
        assert got["points"] == pytest.approx(
            classroom.expected_points(expected, points, credit), abs=1e-9), student
        results = {r["column"]: r for r in got["results"]}
        assert set(results) == set(expected)
        for column, e in expected.items():
            r = results[column]
            assert r["status"] == e["status"], (student, column, e, r)
            if e["status"] == "wrong":
                assert r["diagnosis"]["mistake"] == e["mistake"], (student, column, e, r)
            else:
                assert r["diagnosis"] is None
            assert r["ok"] == (e["status"] in ("right", "carried_forward"))
            assert r["carried_forward"] == (e["status"] == "carried_forward")


def tallies(rows):
    columns, mistakes = {}, {}
    for _, _, _, expected in rows:
        made = Counter()
        for column, e in expected.items():
            columns.setdefault(column, Counter())[e["status"]] += 1
            if e["status"] == "wrong":
                mid = e["mistake"] or "unrecognised"
                columns[column]["mistake:" + mid] += 1
                made[mid] += 1
        for mid, times in made.items():
            entry = mistakes.setdefault(mid, {"students": 0, "times": 0})
            entry["students"] += 1
            entry["times"] += times
    return columns, mistakes


def check_report_counts(rows, data):
    columns, mistakes = tallies(rows)
    for c in data["columns"]:
        want = columns[c["column"]]
        for status in classroom_statuses():
            assert c[status] == want[status], (c["column"], status)
        assert c["mistakes"] == {k[8:]: v for k, v in want.items() if k.startswith("mistake:")}
    assert {m["mistake"]: {"students": m["students"], "times": m["times"]}
            for m in data["mistakes"]} == mistakes


def classroom_statuses():
    return ("right", "carried_forward", "wrong", "blank")


@pytest.fixture(scope="module")
def plain_class(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    key = problems(tmp / "exam")
    rows, data = run_class(tmp, tmp / "exam", key)
    return tmp, key, rows, data


def test_a_class_of_300_graded_as_injected(plain_class):
    _, _, rows, data = plain_class
    check_against_injection(rows, data)
    # every mistake model of check was injected and named, and so were slips and copies
    named = Counter(e["mistake"] for _, _, _, ex in rows for e in ex.values()
                    if e["status"] == "wrong")
    assert set(MISTAKES) <= set(named), set(MISTAKES) - set(named)
    assert named[None] >= 20 and named["other_variant"] >= 20 and named["too_few_places"] >= 5
    statuses = Counter(e["status"] for _, _, _, ex in rows for e in ex.values())
    assert min(statuses.values()) >= 100, statuses


def test_the_class_report_counts_match_the_injection(plain_class):
    tmp, _, rows, data = plain_class
    check_report_counts(rows, data)
    assert data["summary"]["students"] == 300
    scores = [classroom.expected_points(ex) for *_, ex in rows]
    assert data["summary"]["mean"] == pytest.approx(np.mean(scores))
    assert data["summary"]["median"] == pytest.approx(np.median(scores))
    assert data["summary"]["sd"] == pytest.approx(np.std(scores))
    # item analysis, worked out here from the injection: difficulty the mean score on a
    # value, discrimination the upper 27 % of the class (by score, ties in sheet order) minus
    # the lower 27 %
    score = {c: [] for c in COLUMNS_321}
    for *_, expected in rows:
        for c, e in expected.items():
            score[c].append({"right": 1.0, "carried_forward": 1.0}.get(e["status"], 0.0))
    ranked = sorted(range(len(rows)), key=lambda i: -scores[i])
    n = round(0.27 * len(rows))
    for c in data["columns"]:
        s = score[c["column"]]
        assert c["difficulty"] == pytest.approx(sum(s) / len(s))
        upper = sum(s[i] for i in ranked[:n]) / n
        lower = sum(s[i] for i in ranked[-n:]) / n
        assert c["discrimination"] == pytest.approx(upper - lower)
    # the Markdown report shows the same counts a teacher reads
    md = (tmp / "out" / "report.md").read_text()
    _, mistakes = tallies(rows)
    for mid, entry in mistakes.items():
        title = {**MISTAKES, "other_variant": "another variant's answer",
                 "too_few_places": "too few places", "unrecognised": "not recognised"}[mid]
        assert re.search(rf"^\| {re.escape(title)} \| {entry['students']} \| "
                         rf"{entry['times']} \|", md, re.M), (mid, entry)
    assert "300 student(s) graded" in md


def test_the_class_outputs(plain_class):
    tmp, key, rows, data = plain_class
    out = tmp / "out"
    grades = list(csv.reader(io.StringIO((out / "grades.csv").read_text())))
    assert grades[0] == ["student", "variant", "points", "max_points", "percent",
                         *COLUMNS_321]
    assert len(grades) == 301  # rows in = rows out, in the sheet's order
    for (student, code, _, expected), line in zip(rows, grades[1:]):
        assert line[:2] == [student, code]
        assert float(line[2]) == classroom.expected_points(expected)
        assert line[3] == "31" and float(line[4]) == pytest.approx(
            100 * classroom.expected_points(expected) / 31, abs=0.05)
        per_column = {c: line[5 + i] for i, c in enumerate(COLUMNS_321)}
        for column, e in expected.items():
            assert per_column[column] == ("1" if e["status"] in ("right", "carried_forward")
                                          else "0")
    pages = sorted(p.name for p in (out / "feedback").iterdir())
    assert len(pages) == 600 and all(p.startswith("student_") for p in pages)
    assert {p.removesuffix(".html").removesuffix(".md") for p in pages} == {
        Path(s["feedback"]).stem for s in data["students"]}
    # the one warning about the extra columns, once, at the top of the report
    md = (out / "report.md").read_text()
    top = md[:md.index("## Scores")]
    assert top.count("columns ignored") == 1 and "email" in top and "Notiz" in top
    assert sum("columns ignored" in w for w in data["warnings"]) == 1
    assert not data["problems"]  # the quirks of the sheet are no problems


def test_a_feedback_page_shows_the_students_marks(plain_class):
    tmp, key, rows, data = plain_class
    # a student with a named mistake: the page names it, with the right formula
    i, (student, code, values, expected) = next(
        (i, r) for i, r in enumerate(rows)
        if any(e["mistake"] == "sign_update" for e in r[3].values()))
    page = tmp / "out" / data["students"][i]["feedback"]
    html = page.read_text()
    md = page.with_suffix(".md").read_text()
    assert f"Feedback: {student}" in html and f"Variant {code}" in html
    assert "sign of the update" in html and "Right formula:" in html
    assert "sign of the update" in md and "Right formula:" in md
    points = classroom.expected_points(expected)
    assert f"**{points:g} of 31 points" in md


@pytest.fixture(scope="module")
def chained_class(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chain")
    plain = problems(tmp / "plain")
    key = classroom.chained_key(plain)
    (tmp / "exam").mkdir()
    (tmp / "exam" / "answers.json").write_text(json.dumps(key))
    shutil.copy(tmp / "plain" / "submissions.csv", tmp / "exam" / "submissions.csv")
    rows, data = run_class(tmp, tmp / "exam", key, seed=8)
    return tmp, key, rows, data


def test_a_chained_class_carries_errors_across_problems(chained_class):
    tmp, key, rows, data = chained_class
    check_against_injection(rows, data)
    check_report_counts(rows, data)
    # a mistake in the forward pass carried into the backward pass and the update
    crossed = Counter()
    for *_, expected in rows:
        wrong_forward = any(e["status"] == "wrong" for c, e in expected.items()
                            if c.startswith("forward."))
        if wrong_forward:
            crossed.update(c.split(".")[0] for c, e in expected.items()
                           if e["status"] == "carried_forward")
    assert crossed["backward"] >= 10 and crossed["update"] >= 10, crossed


def test_points_and_carried_forward_credit(tmp_path, plain_class):
    src, key, rows, _ = plain_class
    points = {"forward": 2.0, "backward.Err6": 3.0, "update.b4": 0.5}
    (tmp_path / "points.toml").write_text('forward = 2\n"backward.Err6" = 3\n'
                                          '[update]\nb4 = 0.5\n')
    data = grade_json(src / "exam", src / "class.csv", "-o", tmp_path / "out", "--points",
                      tmp_path / "points.toml", "--carried-forward-credit", "0.5")
    check_against_injection(rows, data, points, 0.5)
    assert data["students"][0]["max_points"] == 6 * 2 + 3 + 13 + 0.5 + 10
    grades = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert grades[1].split(",")[3] == "38.50"  # halves: points shown to 2 places


# -- bad input ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_exam(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("small")
    key = problems(tmp / "exam", variants=3, seed=5)
    return tmp / "exam", key


def right_row(key, number, student):
    v = key["variants"][number - 1]
    cells = {f"{p['kind']}.{n}": classroom.text(a, p["places"][n]) for p in v["problems"]
             for n, a in p["answers"].items()}
    return [student, v["id"], *(cells[c] for c in COLUMNS_321)]


def test_bad_rows_are_named_graded_and_kept(tmp_path, small_exam):
    exam, key = small_exam
    header = ["student", "variant", *COLUMNS_321]
    good = right_row(key, 1, "ann")
    not_number = right_row(key, 2, "bob")
    not_number[2 + COLUMNS_321.index("forward.o4")] = "abc"
    unknown = right_row(key, 1, "cid")
    unknown[1] = "S5-V09"
    other_seed = right_row(key, 1, "dan")
    other_seed[1] = "S4-V01"
    duplicate = right_row(key, 3, "ann")
    too_long = right_row(key, 2, "eve") + ["", "7"]
    nobody = right_row(key, 3, "")
    lines = [header, good, not_number, [""] * len(header), unknown, other_seed, duplicate,
             too_long, nobody]
    sheet = tmp_path / "class.csv"
    sheet.write_text("\n".join(",".join(r) for r in lines) + "\n")
    data = grade_json(exam, sheet, "-o", tmp_path / "out")
    got = {s["line"]: s for s in data["students"]}
    assert sorted(got) == [2, 3, 5, 6, 7, 8, 9]  # every row kept (line 4 is empty)
    problems_of = {p["line"]: " ".join(p["problems"]) for p in data["problems"]}
    assert "forward.o4: 'abc' is not a number" in problems_of[3]
    assert "there is no variant 9" in problems_of[5]
    assert "seed 4; this problem set is seed 5" in problems_of[6]
    assert "the same student as line 2" in problems_of[7]
    assert "35 cells but the header has 33" in problems_of[8]
    assert "no student id" in problems_of[9]
    assert set(problems_of) == {3, 5, 6, 7, 8, 9}
    # graded for what can be read
    assert got[2]["points"] == 31 and got[7]["points"] == 31 and got[8]["points"] == 31
    assert got[3]["points"] == 30
    o4 = next(r for r in got[3]["results"] if r["column"] == "forward.o4")
    assert o4["status"] == "wrong" and o4["diagnosis"]["mistake"] == "unreadable"
    assert got[5]["points"] == 0 and got[5]["results"] == []
    assert data["summary"]["students"] == 5 and data["summary"]["ungraded"] == 2
    # listed at the top of the report, with their lines
    md = (tmp_path / "out" / "report.md").read_text()
    top = md[:md.index("## Scores")]
    for line in (3, 5, 6, 7, 8, 9):
        assert f"- line {line}" in top
    assert "1 empty row(s) skipped (line 4)" in top
    grades = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert len(grades) == 1 + 7
    assert grades[3].startswith("cid,S5-V09,0,31,0.0,")


def test_a_sheet_of_another_problem_set_is_refused(tmp_path, small_exam):
    exam, key = small_exam
    sheet = tmp_path / "class.csv"
    sheet.write_text("student,variant,descent.x1,descent.x2\nann,S5-V01,0.5,0.25\n")
    r = cli("grade", exam, sheet)
    assert r.exit_code == 2 and "another problem set" in r.stderr
    assert "Traceback" not in r.output and not (exam / "grades").exists()
    rows = [",".join(right_row(key, 1, s)).replace("S5-V01", "S9-V01") for s in ("ann", "bob")]
    sheet.write_text("\n".join(["student,variant," + ",".join(COLUMNS_321), *rows]) + "\n")
    r = cli("grade", exam, sheet)
    assert r.exit_code == 2 and "another problem set" in r.stderr and "seed 9" in r.stderr


@pytest.mark.parametrize("content, message", [
    ("", "the sheet is empty"),
    ("student,variant,forward.i4\n", "nothing to grade"),
    ("name,variant,forward.i4\nann,1,0.5\n", "no 'student' column"),
    ("student,variant,forward.i4,forward.i4\nann,1,0.5,0.5\n", "appears twice"),
])
def test_unusable_sheets_exit_2(tmp_path, small_exam, content, message):
    sheet = tmp_path / "class.csv"
    sheet.write_text(content)
    r = cli("grade", small_exam[0], sheet, "-o", tmp_path / "out")
    assert r.exit_code == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.output and not (tmp_path / "out").exists()


def test_sheets_that_are_not_utf8_text_exit_2(tmp_path, small_exam):
    sheet = tmp_path / "class.csv"
    sheet.write_bytes("student;variant\nJosé;1\n".encode("utf-16"))
    r = cli("grade", small_exam[0], sheet)
    assert r.exit_code == 2 and "UTF-16" in r.stderr
    sheet.write_bytes("student;variant\nJosé;1\n".encode("latin-1"))
    r = cli("grade", small_exam[0], sheet)
    assert r.exit_code == 2 and ":2: the sheet is not UTF-8 text" in r.stderr


@pytest.mark.parametrize("change, message", [
    (lambda k: "{", "not valid JSON"),
    (lambda k: json.dumps({"seed": 1}), "not an answer key"),
    (lambda k: json.dumps({**k, "variants": [{**k["variants"][0], "problems": [
        {**k["variants"][0]["problems"][0], "accept": {"i4": [[1, 0]]}}]}]}),
     "accept.i4 must be a list of intervals"),
    (lambda k: json.dumps({**k, "variants": [{**k["variants"][0], "problems": [
        {**k["variants"][0]["problems"][0], "answers": {"i4": "NaN"}}]}]}),
     "answers.i4 must be a finite number"),
])
def test_a_broken_key_exits_2(tmp_path, small_exam, change, message):
    exam, key = small_exam
    (tmp_path / "exam").mkdir()
    (tmp_path / "exam" / "answers.json").write_text(change(key))
    sheet = tmp_path / "class.csv"
    sheet.write_text("student,variant,forward.i4\nann,1,0.5\n")
    r = cli("grade", tmp_path / "exam", sheet)
    assert r.exit_code == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.output


def test_points_file_is_checked(tmp_path, small_exam):
    exam, key = small_exam
    sheet = tmp_path / "class.csv"
    sheet.write_text("student,variant,forward.i4\nann,1,0.5\n")
    for text, message in (('"forward.04" = 2\n', "did you mean 'forward.o4'"),
                          ("forward = -1\n", "must be a number of points from 0"),
                          ("forward = 1\nforward.o4 = 2\n", "not valid TOML"),
                          ("default = 0\n", "every column is worth 0 points")):
        (tmp_path / "p.toml").write_text(text)
        r = cli("grade", exam, sheet, "--points", tmp_path / "p.toml", "-o", tmp_path / "o")
        assert r.exit_code == 2 and message in r.stderr, (text, r.stderr)
    r = cli("grade", exam, sheet, "--carried-forward-credit", "1.5", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "from 0 to 1" in r.stderr


# -- reading a sheet ------------------------------------------------------------------------------
def test_a_sheet_as_spreadsheets_write_it():
    from derive.submissions import parse

    columns = ["forward.i4", "forward.o4", "backward.Err6"]
    text = ("\ufeffStudent ; VARIANT;Forward.o4;email;forward.04;backward.Err6;\r\n"
            "ann;S5-V01; 0,332 ;a@x;;\u22120,1311;\r\n"
            "\r\n"
            "bob;2;.5;;;-,5;\r\n")
    sheet = parse(text, columns, "class.csv")
    assert sheet.delimiter == ";"
    assert sheet.columns == ("forward.o4", "backward.Err6")
    assert sheet.missing == ("forward.i4",)
    assert sheet.ignored == ("email", "forward.04 (did you mean 'forward.o4'?)")
    assert [r.line for r in sheet.rows] == [2, 4] and sheet.blank_lines == (3,)
    assert sheet.rows[0].student == "ann" and sheet.rows[0].variant == "S5-V01"
    assert sheet.rows[0].cells == {"forward.o4": "0.332", "backward.Err6": "-0.1311"}
    assert sheet.rows[1].cells == {"forward.o4": "0.5", "backward.Err6": "-0.5"}
    # comma separated, a decimal comma in quotes, a cell over two lines, tabs
    sheet = parse('student,variant,forward.o4\n"ann\nlee",1,"0,25"\nbob,2,0.5\n', columns)
    assert [(r.line, r.student, r.cells) for r in sheet.rows] == [
        (2, "ann\nlee", {"forward.o4": "0.25"}), (4, "bob", {"forward.o4": "0.5"})]
    sheet = parse("student\tvariant\tforward.o4\nann\t1\t0,5\n", columns)
    assert sheet.delimiter == "\t" and sheet.rows[0].cells == {"forward.o4": "0.5"}


# -- file names and user text ----------------------------------------------------------------------
HOSTILE = ["../../etc/passwd", "a/b\\c", "<img src=x onerror=alert(1)>", "CON", "con.txt",
           "Anna", "anna", "Anna", "", "Zoë Ünal", "Zoe_Unal", "☃", ".hidden", "-rf",
           "x" * 300, '=HYPERLINK("http://evil.example")', "*bold* [a](b) | c $x$ `d`"]


def test_file_names_are_safe_and_never_shared():
    from derive.grading import file_stems

    stems = file_stems([(s, i + 2) for i, s in enumerate(HOSTILE)])
    assert len({s.lower() for s in stems}) == len(HOSTILE)
    for s in stems:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", s) and len(s) <= 90, s
        assert s.split(".")[0].upper() not in ("CON", "PRN", "AUX", "NUL")
    assert stems[HOSTILE.index("Zoe_Unal")] == "Zoe_Unal"  # a plain id keeps its name
    assert stems[HOSTILE.index("")] == "line-10"


def test_one_value_that_is_another_variants_is_not_called_copied(tmp_path, small_exam):
    """A value another variant gives may be chance; two of one variant on a sheet are not."""
    exam, key = small_exam
    other = {f"{p['kind']}.{n}": classroom.text(a, p["places"][n])
             for p in key["variants"][1]["problems"] for n, a in p["answers"].items()}
    one = right_row(key, 1, "ann")
    two = right_row(key, 1, "bob")
    for row, columns in ((one, ["update.w4_6"]), (two, ["update.w4_6", "update.w5_6"])):
        for c in columns:
            row[2 + COLUMNS_321.index(c)] = other[c]
    sheet = tmp_path / "class.csv"
    sheet.write_text("\n".join(",".join(r) for r in (["student", "variant", *COLUMNS_321],
                                                      one, two)) + "\n")
    data = grade_json(exam, sheet, "-o", tmp_path / "out")
    ann, bob = ({r["column"]: r for r in s["results"]} for s in data["students"])
    assert ann["update.w4_6"]["status"] == "wrong"
    assert ann["update.w4_6"]["diagnosis"]["mistake"] in (None, *MISTAKES)
    for c in ("update.w4_6", "update.w5_6"):
        assert bob[c]["diagnosis"]["mistake"] == "other_variant"
        assert "S5-V02" in bob[c]["diagnosis"]["message"]


def test_user_text_is_escaped_everywhere(tmp_path, small_exam):
    exam, key = small_exam
    rows = [right_row(key, 1 + i % 3, s) for i, s in enumerate(HOSTILE)]
    sheet = tmp_path / "class.csv"
    out = io.StringIO()
    csv.writer(out).writerows([["student", "variant", *COLUMNS_321], *rows])
    sheet.write_text(out.getvalue())
    data = grade_json(exam, sheet, "-o", tmp_path / "out")
    assert len(data["students"]) == len(HOSTILE)
    files = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert len(files) == 3 + 2 * len(HOSTILE)
    assert all(p.resolve().is_relative_to((tmp_path / "out").resolve()) for p in files)
    for page in [tmp_path / "out" / "report.html",
                 *(tmp_path / "out" / "feedback").glob("*.html")]:
        assert "<img" not in page.read_text()
    feedback = {s["student"]: tmp_path / "out" / s["feedback"] for s in data["students"]}
    html = feedback["<img src=x onerror=alert(1)>"].read_text()
    assert "Feedback: &lt;img src=x onerror=alert(1)&gt;" in html
    md = feedback["*bold* [a](b) | c $x$ `d`"].with_suffix(".md").read_text()
    assert r"Feedback: \*bold\* \[a\](b) \| c \$x\$ \`d\`" in md
    grades = list(csv.reader(io.StringIO((tmp_path / "out" / "grades.csv").read_text())))
    ids = [g[0] for g in grades[1:]]
    assert "'=HYPERLINK(\"http://evil.example\")" in ids and "-rf" not in ids
    assert "'-rf" in ids


# -- writing -------------------------------------------------------------------------------------
def test_outputs_are_written_all_or_none_and_never_over_without_force(tmp_path, small_exam,
                                                                    monkeypatch):
    import os

    exam, key = small_exam
    sheet = tmp_path / "class.csv"
    sheet.write_text("student,variant," + ",".join(COLUMNS_321) + "\n"
                     + ",".join(right_row(key, 1, "ann")) + "\n")
    real, calls = os.replace, {"n": 0}

    def failing(src, dst):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    r = cli("grade", exam, sheet, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "nothing was written" in r.stderr
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(os, "replace", real)
    assert cli("grade", exam, sheet, "-o", tmp_path / "out").exit_code == 0
    r = cli("grade", exam, sheet, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "--force" in r.stderr
    assert cli("grade", exam, sheet, "-o", tmp_path / "out", "--force").exit_code == 0
    # the default OUTDIR is DIR/grades
    assert cli("grade", exam, sheet).exit_code == 0 and (exam / "grades" / "grades.csv").exists()
    shutil.rmtree(exam / "grades")


def test_same_inputs_same_bytes_and_the_api_is_the_cli(tmp_path, plain_class):
    src, *_ = plain_class
    for out in ("a", "b"):
        assert cli("grade", src / "exam", src / "class.csv", "-o", tmp_path / out).exit_code == 0

    def tree(d):
        return {p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}

    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    api = derive.grade(src / "exam", src / "class.csv")
    assert api.to_dict() == json.loads(api.to_json())
    assert api.to_dict() == grade_json(src / "exam", src / "class.csv", "-o", tmp_path / "c")
    assert api.files()["report.md"] == (tmp_path / "a" / "report.md").read_text()


@requires_chromium
def test_report_and_feedback_pages_render_in_chromium(tmp_path, plain_class):
    src, key, rows, data = plain_class
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
             "--host-resolver-rules=MAP * ~NOTFOUND"]
    report = src / "out" / "report.html"
    page = src / "out" / data["students"][0]["feedback"]
    for html in (report.read_text(), page.read_text()):  # self-contained: nothing fetched
        assert html.startswith("<!DOCTYPE html>") and "default-src 'none'" in html
        assert not re.search(r"\b(src|href)\s*=|url\((?!#)|@import|https?:", html)
    dom = subprocess.run([*flags, "--dump-dom", report.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    assert dom.count("<rect") == 10  # the histogram's bars, drawn inline
    assert "300 student(s) graded" in dom and "What the class has not understood" in dom
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    assert "<svg" in dom and "<math" in dom and rows[0][0] in dom
    shot = tmp_path / "page.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1000,2000",
                    report.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


# -- marking: grade's batch is check's ------------------------------------------------------------
def test_a_batch_marks_each_row_as_check_marks_it_alone():
    from derive.marking import Computation, check, mark, spec_key
    from derive.spec import from_dict

    rng = random.Random(4)
    specs, sheets = [], []
    for _ in range(12):
        net = {"loss": "half_sse", "learning_rate": rng.choice([0.5, 0.9]),
               "layers": [{"activation": "tanh", "weights": [[round(rng.uniform(-1, 1), 1)
                                                              for _ in range(2)]
                                                             for _ in range(2)],
                           "biases": [round(rng.uniform(-1, 1), 1) for _ in range(2)]},
                          {"activation": "tanh", "weights": [[round(rng.uniform(-1, 1), 1)
                                                              for _ in range(2)]],
                           "biases": [0.1]}],
               "examples": [{"input": [1.0, rng.choice([0.0, 1.0])], "target": [0.5]}]}
        spec = from_dict(net, "net")
        values = Computation(spec).chain({}, places=3)[1]
        answers = {}
        for name, v in values.items():
            if name.startswith("o") and int(name[1:]) <= 2 or rng.random() < 0.4:
                continue
            x = float(v[0]) + rng.choice([0, 0, 0, 0.01, -0.2])
            answers[name] = f"{x:.4f}"
        specs.append(spec)
        sheets.append(answers)
    keys = [spec_key(Computation(spec, 0, 3), answers) for spec, answers in zip(specs, sheets)]
    batch = mark(Computation(specs, 0, 3), sheets, key=keys)
    for spec, answers, results in zip(specs, sheets, batch):
        alone = check(spec, answers).results
        assert [r.to_dict() | {"chain": r.chain, "tol": r.tolerance} for r in results] == \
            [r.to_dict() | {"chain": r.chain, "tol": r.tolerance} for r in alone]


def test_rounding_whole_arrays_is_the_decimal_rounding():
    from decimal import ROUND_HALF_UP, Decimal

    from derive.marking import round_half_up_rows

    def by_hand(x, places):
        """The decimal x stands for (its 15 significant digits where its repr is longer, as
        derive.intervals reads a float), rounded half up."""
        d = Decimal(repr(x))
        if len(d.as_tuple().digits) > 15:
            d = Decimal(f"{x:.15g}")
        return float(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)) + 0.0

    rng = random.Random(0)
    for places in range(0, 7):
        xs = [rng.uniform(-3, 3) for _ in range(2000)]
        xs += [float(f"{rng.randint(-9999, 9999)}5e-{places + 1}") for _ in range(2000)]
        # ties computed in binary: a sum whose decimal is a half reads a hair below it
        xs += [(a * a + b * b) / 2 for a, b in ((rng.randint(1, 99) / 100,
                                                 rng.randint(1, 99) / 100) for _ in range(2000))]
        xs += [2.675, 1.005, -0.0005, 0.0, -0.0, 0.125, 1e8 + 0.5, 0.33864999999999995]
        got = round_half_up_rows(np.array(xs), places)
        assert got.tolist() == [by_hand(x, places) for x in xs]


# -- the key decides ------------------------------------------------------------------------------
def test_the_keys_intervals_decide_a_value_not_carried_forward(tmp_path):
    """answers.json's accept (issue 14): inside an interval is right, outside wrong, however
    wide the old tolerance; a value resting on a wrong one may still be carried forward."""
    exam = tmp_path / "exam"
    key = problems(exam, kinds="forward", variants=1, seed=1)
    p = key["variants"][0]["problems"][0]
    net = classroom.Net(p["spec"])
    U = net.inputs()
    for q in net.order()[:6]:
        U[q] = classroom.rnd(net.value(q, U), 3)
    i4 = U["i4"]
    p["accept"] = {n: [[classroom.rnd(U[n], 3) - 0.0005, classroom.rnd(U[n], 3) + 0.0005]]
                   for n in p["answers"]}
    p["accept"]["o4"] = [[U["o4"] - 0.0002, U["o4"] + 0.0002]]  # narrower than a half unit
    (exam / "answers.json").write_text(json.dumps(key))
    cid_o4 = classroom.rnd(classroom.sig(classroom.rnd(i4 + 0.1, 3)), 3)
    text = "student,variant,forward.i4,forward.o4\n"
    text += f"ann,1,{classroom.text(i4, 3)},{classroom.text(U['o4'], 3)}\n"
    text += f"bob,1,,{U['o4'] + 0.0004:.4f}\n"  # within the tolerance, outside accept
    text += f"cid,1,{classroom.text(i4 + 0.1, 3)},{classroom.text(cid_o4, 3)}\n"
    (tmp_path / "c.csv").write_text(text)
    data = grade_json(exam, tmp_path / "c.csv", "-o", tmp_path / "out")
    status = {s["student"]: {r["column"]: r["status"] for r in s["results"]}
              for s in data["students"]}
    assert status["ann"]["forward.o4"] == "right"
    assert status["bob"]["forward.o4"] == "wrong"
    assert status["cid"]["forward.i4"] == "wrong"
    assert status["cid"]["forward.o4"] == "carried_forward"


def test_kinds_without_a_network_are_marked_by_the_key(tmp_path):
    exam = tmp_path / "exam"
    key = problems(exam, kinds="activation,descent", variants=2, seed=3)
    columns = sheet_columns(exam)
    v = key["variants"][0]
    right = {f"{p['kind']}.{n}": classroom.text(a, p["places"][n]) for p in v["problems"]
             for n, a in p["answers"].items()}
    wrong = {c: classroom.text(float(t) + 1, 3) for c, t in right.items()}
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["student", "variant", *columns])
    w.writerow(["ann", v["id"], *(right.get(c, "") for c in columns)])
    w.writerow(["bob", v["id"], *(wrong.get(c, "") for c in columns)])
    (tmp_path / "c.csv").write_text(out.getvalue())
    data = grade_json(exam, tmp_path / "c.csv", "-o", tmp_path / "out")
    ann, bob = data["students"]
    assert ann["points"] == ann["max_points"] == len(right)
    assert bob["points"] == 0
    assert {r["status"] for r in bob["results"]} == {"wrong"}


def test_an_unknown_sheet_or_key_path(tmp_path, small_exam):
    r = cli("grade", tmp_path / "nowhere", tmp_path / "c.csv")
    assert r.exit_code == 2 and "does not exist" in r.stderr
    r = cli("grade", small_exam[0], tmp_path / "c.csv", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "does not exist" in r.stderr
    with pytest.raises(DeriveError, match="holds no answers.json"):
        derive.grade(tmp_path, tmp_path / "c.csv")
