"""`derive problems` on paper (issue 15): answer tables, --chain, the page budget, --pdf.

The values in the chained keys are checked by `derive check` and by a plain-Python chain
written out here (math only, rounding as a student does); page counts are read from the PDF
with pdftotext; the answer tables from the .tex and .md files themselves.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import derive
from derive.cli import main
from rounding_rule import half_up  # DESIGN.md's rule, written out
from derive.marking import check
from derive.problemset import KINDS, Options, generate, iter_variants
from derive.spec import from_dict
from render import render_problems
from render.latex import compile_file

from conftest import requires_pdflatex

ALL = list(KINDS)
LINKED = ("forward", "loss", "backward", "update")


def run(*args, env=None):
    return CliRunner().invoke(main, ["problems", *args], env=env)


def written(x: float, places: int) -> str:
    """A value as a student writes it: rounded, trailing zeros kept."""
    return f"{half_up(x, places):.{places}f}"


# ----------------------------------------------------------------------------- answer tables

def _arguments(text: str, start: int, n: int) -> list:
    """The n brace-delimited arguments of a macro whose name ends at start."""
    args, i = [], start
    for _ in range(n):
        assert text[i] == "{", text[i:i + 40]
        depth, j = 0, i
        while True:
            depth += {"{": 1, "}": -1}.get(text[j], 0) if text[j - 1] != "\\" else 0
            if depth == 0:
                break
            j += 1
        args.append(text[i + 1:j])
        i = j + 1
    return args


def latex_cells(tex: str) -> dict:
    """variant id -> [(column, value written in the box)] of a problems or solutions file."""
    out = {}
    for part in tex.split("\\startvariant{")[1:]:
        vid = part[:part.index("}")]
        cells = []
        for m in re.finditer(r"\\answercell(?=\{)", part):
            _, column, value = _arguments(part, m.end(), 3)
            cells.append((column.replace("\\_", "_"), value.strip("$")))
        out[vid] = cells
    return out


def markdown_cells(md: str) -> dict:
    out = {}
    for part in md.split("\n## Variant ")[1:]:
        vid = part[:part.index("\n")]
        rows = re.findall(r"^\|[^|\n]*\|[^|\n]*\| *([^|\n]*?) *\| `([^`]+)` \|$", part, re.M)
        out[vid] = [(col, val) for val, col in rows]
    return out


def key_columns(problem: dict) -> list:
    """The columns of a problem: its answers, then those given only in words."""
    words = [n for n in problem.get("words", {}) if n not in problem["answers"]]
    return [f"{problem['kind']}.{name}" for name in [*problem["answers"], *words]]


def shown_values(text: str) -> list:
    """The values written in a filled box: one number, 'a or b', or a word."""
    text = text.replace("\\footnotesize", "").replace("$", "").replace("*", "").strip()
    return [part.strip() for part in text.split(" or ")]


@pytest.mark.parametrize("chain", [False, True])
def test_answer_tables_are_the_keys_columns_and_the_solutions_fill_them(tmp_path, chain):
    """One cell per asked value, in the key's order, named as `derive grade` reads it: empty
    on the problem sheet; in the solutions holding the key's values at the places asked (each
    in one of its accepted intervals, the key's own value first) or its words."""
    kinds = ALL if not chain else ["activation", "forward", "loss", "backward", "update", "step"]
    for fmt, cells_of in (("latex", latex_cells), ("markdown", markdown_cells)):
        out = tmp_path / fmt
        args = ["--kinds", ",".join(kinds), "--variants", "3", "--seed", "5", "--format", fmt,
                "-o", str(out)] + (["--chain"] if chain else [])
        r = run(*args)
        assert r.exit_code == 0, r.output
        key = json.loads((out / "answers.json").read_text())
        sheet = (out / "submissions.csv").read_text().splitlines()[0].split(",")[2:]
        ext = "tex" if fmt == "latex" else "md"
        blank = cells_of((out / f"problems.{ext}").read_text())
        filled = cells_of((out / f"solutions.{ext}").read_text())
        assert list(blank) == list(filled) == [v["id"] for v in key["variants"]]
        for v in key["variants"]:
            # the columns of submissions.csv this variant asks, in that order, each problem's
            # answers given only in words after its numbers
            columns = []
            for p in v["problems"]:
                columns += [c for c in sheet if c.split(".", 1)[0] == p["kind"]
                            and c.split(".", 1)[1] in p["answers"]]
                columns += [f"{p['kind']}.{n}" for n in p.get("words", {})
                            if n not in p["answers"]]
            assert sorted(columns) == sorted(c for p in v["problems"] for c in key_columns(p))
            assert [c for c, _ in blank[v["id"]]] == columns, (fmt, v["id"])
            assert all(value == "" for _, value in blank[v["id"]])
            assert [c for c, _ in filled[v["id"]]] == columns
            problems = {p["kind"]: p for p in v["problems"]}
            for column, text in filled[v["id"]]:
                kind, name = column.split(".", 1)
                p = problems[kind]
                values = shown_values(text)
                if name in p.get("words", {}):
                    assert values == [p["words"][name]], (column, text)
                    continue
                places = p["places"][name]
                assert all(len(x.partition(".")[2]) <= places for x in values), (column, text)
                assert abs(float(values[0]) - p["answers"][name]) <= \
                    0.5 * 10.0 ** -places + 1e-12, (column, text)
                for x in values:
                    assert any(lo - 1e-12 <= float(x) <= hi + 1e-12
                               for lo, hi in p["accept"][name]), (column, x, p["accept"][name])


def test_cells_group_a_layer_a_unit_or_the_error_terms():
    """The rows a student fills: a layer's i and o (the loss beside the outputs), the error
    terms, then each unit's incoming gradients or new values, the output layer's first (as
    backpropagation reaches them, and as derive grade's columns run)."""
    p = generate(["step"], 1, 3).variants[0].problems[0]
    rows = [[c.name for c in row] for g in p.sheet for row in g.rows]
    assert rows == [["i4", "o4", "i5", "o5"], ["i6", "o6", "loss"], ["Err6", "Err5", "Err4"],
                    ["w4_6", "w5_6", "b6"], ["w1_4", "w2_4", "w3_4", "b4"],
                    ["w1_5", "w2_5", "w3_5", "b5"]]
    assert [g.group for g in p.sheet] == ["forward", "errors", "new"]
    b = generate(["backward"], 1, 3).variants[0].problems[0]
    assert sorted(c.column for g in b.sheet for row in g.rows for c in row) == \
        sorted(f"backward.{n}" for n in b.answers)


# ------------------------------------------------------------------------------------ --chain


def test_chain_contract_in_answers_json(tmp_path):
    r = run("--kinds", "forward,loss,backward,update,activation", "--chain", "--variants", "3",
            "--seed", "7", "--paper", "a4", "--duplex", "-o", str(tmp_path / "c"))
    assert r.exit_code == 0, r.output
    key = json.loads((tmp_path / "c" / "answers.json").read_text())
    assert key["options"]["chain"] is True and key["options"]["paper"] == "a4"
    assert key["options"]["duplex"] is True
    for v in key["variants"]:
        p = {q["kind"]: q for q in v["problems"]}
        vid = v["id"]
        assert p["forward"]["spec"] == p["loss"]["spec"] == p["backward"]["spec"] == \
            p["update"]["spec"]
        assert "builds_on" not in p["forward"] and "builds_on" not in p["activation"]
        assert p["loss"]["builds_on"] == [f"{vid}-forward"]
        assert p["backward"]["builds_on"] == [f"{vid}-forward"]
        assert p["update"]["builds_on"] == [f"{vid}-forward", f"{vid}-backward"]
        for kind in LINKED:  # nothing it builds on is printed again
            assert "givens" not in p[kind], kind
    plain = tmp_path / "p"
    assert run("--kinds", "forward,backward,update", "--variants", "2", "-o",
               str(plain)).exit_code == 0
    key = json.loads((plain / "answers.json").read_text())
    assert key["options"]["chain"] is False and key["options"]["paper"] == "letter"
    assert all("builds_on" not in p for v in key["variants"] for p in v["problems"])
    specs = [json.dumps(p["spec"]) for p in key["variants"][0]["problems"]]
    assert len(set(specs)) == 3  # without --chain each problem has its own network


def test_chain_prints_only_what_no_earlier_problem_asks():
    """forward,update: the update uses the student's outputs and is given the error terms;
    backward,update: the update uses the student's error terms and the outputs printed in
    Problem 1."""
    v = generate(["forward", "update"], 1, 4, Options(chain=True)).variants[0]
    up = v.problems[1]
    assert up.builds_on == (f"{v.id}-forward",)
    assert set(up.givens) == {"Err6", "Err5", "Err4"}
    assert up.chain["uses"] == [{"number": 1, "own": True, "what": ["o"]}]
    v = generate(["backward", "update"], 1, 4, Options(chain=True)).variants[0]
    back, up = v.problems
    assert back.builds_on is None and set(back.givens) == {"i4", "o4", "i5", "o5", "i6", "o6"}
    assert up.builds_on == (f"{v.id}-backward",) and up.givens == {}
    assert up.chain["uses"] == [{"number": 1, "own": False, "what": ["o"]},
                                {"number": 1, "own": True, "what": ["Err"]}]
    # the answers come from the printed error terms: w = w + eta * Err(printed) * o(exact)
    v2 = generate(["forward", "update"], 1, 4, Options(chain=True)).variants[0]
    f, u = v2.problems
    spec = from_dict(f.spec)
    eta = spec.learning_rate
    for k_index, k in enumerate(spec.units(1)):
        for j_index, j in enumerate(spec.units(0)):
            old = spec.layers[0].weights[k_index][j_index]
            x = spec.examples[0].input[j_index]
            assert u.answers[f"w{j}_{k}"] == pytest.approx(old + eta * u.givens[f"Err{k}"] * x,
                                                          abs=1e-12)


def _student(raw: dict, decimals: int, slip: dict) -> dict:
    """A student's chain on a sigmoid network with half_sse, written out from the lecture's
    formulas: each value rounded as it is written down and carried on rounded, with the
    values in `slip` written (and carried) instead of the right ones."""
    def keep(name, value, places):
        value = slip.get(name, half_up(value, places))
        out[name] = value
        return value

    out = {}
    x = list(raw["examples"][0]["input"])
    t = raw["examples"][0]["target"]
    layers = raw["layers"]
    ids, first = [list(range(1, len(x) + 1))], len(x) + 1
    for layer in layers:
        ids.append(list(range(first, first + len(layer["biases"]))))
        first += len(layer["biases"])
    o = {j: v for j, v in zip(ids[0], x)}
    for n, layer in enumerate(layers, start=1):
        for u, k in enumerate(ids[n]):
            i = keep(f"i{k}", sum(w * o[j] for w, j in zip(layer["weights"][u], ids[n - 1]))
                     + layer["biases"][u], decimals)
            o[k] = keep(f"o{k}", 1 / (1 + math.exp(-i)), decimals)
    keep("loss", sum((tk - o[k]) ** 2 for k, tk in zip(ids[-1], t)) / 2, decimals + 1)
    err = {}
    for u, k in enumerate(ids[-1]):
        err[k] = keep(f"Err{k}", (t[u] - o[k]) * o[k] * (1 - o[k]), decimals + 1)
    for n in range(len(layers) - 1, 0, -1):
        for u, j in enumerate(ids[n]):
            s = sum(layers[n]["weights"][v][u] * err[k] for v, k in enumerate(ids[n + 1]))
            err[j] = keep(f"Err{j}", o[j] * (1 - o[j]) * s, decimals + 1)
    eta = raw["learning_rate"]
    for n, layer in enumerate(layers, start=1):
        for u, k in enumerate(ids[n]):
            for v, j in enumerate(ids[n - 1]):
                keep(f"dw{j}_{k}", -err[k] * o[j], decimals + 1)
                keep(f"w{j}_{k}", layer["weights"][u][v] + eta * err[k] * o[j], decimals)
            keep(f"db{k}", -err[k], decimals + 1)
            keep(f"b{k}", layer["biases"][u] + eta * err[k], decimals)
    return out


# check marks a value that rests on right values by the rounding intervals of the right
# chains (the network's exact and hand-rounded ones, and those recomputed from the values the
# student wrote), as a key does, never by one wide tolerance.  A chain that starts mid-way
# (backward given the printed outputs, update given the printed error terms) keys its answers
# exactly from the printed values; check does not know which values were printed, so it also
# takes the exact chain from the student's forward pass alone and from their error terms
# alone (derive.marking.mark, printed_unknown).  Every configuration below must pass.
CHAINS = [
    (("sigmoid", "half_sse", (3, 2, 1)), "forward,loss,backward,update", None),
    (("tanh", "sse", (2, 3, 2)), "forward,loss,backward,update", None),
    (("relu", "mse", (3, 2, 1)), "forward,loss,backward,update", None),
    (("sigmoid", "bce", (3, 2, 2)), "forward,loss,backward,update", None),
    (("sigmoid", "ce", (3, 2, 3)), "forward,loss,backward,update", None),
    (("elu", "half_sse", (2, 2, 2)), "forward,loss,backward,update", None),
    (("sigmoid", "half_sse", (3, 2, 1)), "forward,update", None),
    (("relu", "mse", (3, 2, 1)), "forward,update", None),
    (("relu", "mse", (3, 2, 1)), "backward,update", None),
    (("relu", "mse", (3, 2, 1)), "loss,backward", None),
    (("sigmoid", "bce", (3, 2, 2)), "forward,update", None),
    (("elu", "half_sse", (2, 2, 2)), "forward,update", None),
    (("sigmoid", "half_sse", (3, 2, 1)), "backward,update", None),
    (("tanh", "sse", (2, 3, 2)), "forward,update", None),
    (("sigmoid", "ce", (3, 2, 3)), "forward,update", None),
    (("elu", "half_sse", (2, 2, 2)), "loss,backward", None),
]


@pytest.mark.parametrize("network, kinds", [
    pytest.param(net, kinds, marks=mark or (), id=f"{net[0]}-{net[1]}-{kinds}")
    for net, kinds, mark in CHAINS])
def test_chained_keys_are_right_for_check(network, kinds):
    """Every value of a chained key, written as a student writes it (with the values the
    statements print, as derive grade takes them), is right for `derive check` on the
    variant's network, none of them carried forward."""
    activation, loss, sizes = network
    kinds = kinds.split(",")
    for v in iter_variants(kinds, 12, 11, Options(chain=True, activation=activation,
                                                  loss=loss, network=sizes)):
        values = {n: written(x, p.places[n]) for p in v.problems
                  for n, x in p.answers.items() if n not in ("loss_min", "loss_max")}
        printed = {n: x for p in v.problems for n, x in p.givens.items()}
        values.update({n: written(x, 4 if n.startswith("Err") else 3)
                       for n, x in printed.items()})
        report = check(from_dict(v.problems[0].spec), values, 3)
        assert report.ok, (kinds, v.id, [(r.name, r.given, r.expected)
                                        for r in report.results if not r.ok])
        assert not any(r.carried_forward for r in report.results if r.name not in printed)


def test_check_takes_the_printed_chain_and_nothing_wider():
    """A chained backward problem prints o4 = 0.723 and o6 = 0.367; the key's dw4_6 is
    -Err6·o4 with Err6 from the printed o6 unrounded: -0.1063.  A student who rounded Err6 to
    0.1471 first gets -0.1064.  check takes both (right, not carried forward: every value they
    rest on is right), and neither -0.1062 nor -0.1065."""
    v = next(v for v in iter_variants(["backward", "update"], 4, 11, Options(chain=True))
             if v.id == "S11-V04")
    printed = {n: written(x, 4 if n.startswith("Err") else 3)
               for p in v.problems for n, x in p.givens.items()}
    assert (printed["o4"], printed["o6"]) == ("0.723", "0.367")
    o4, o6 = 0.723, 0.367
    err6 = o6 * (1 - o6) * (v.problems[0].spec["examples"][0]["target"][0] - o6)
    assert written(-err6 * o4, 4) == "-0.1063"  # the key's, from the printed values
    assert written(-float(written(err6, 4)) * o4, 4) == "-0.1064"  # Err6 rounded first
    for dw, right in (("-0.1063", True), ("-0.1064", True), ("-0.1062", False),
                      ("-0.1065", False)):
        values = {**printed, "Err6": written(err6, 4), "dw4_6": dw}
        r = {x.name: x for x in check(from_dict(v.problems[0].spec), values, 3).results}
        assert r["dw4_6"].ok is right, dw
        assert not r["dw4_6"].carried_forward


def test_a_slip_in_problem_1_costs_one_mark_in_the_chain():
    """A student who gets o4 wrong in Problem 1 and carries it on rightly: check (as grade
    does for --chain) marks o4 wrong and every later value right, carried forward."""
    v = generate(["forward", "loss", "backward", "update"], 3, 7, Options(chain=True))
    for variant in v.variants:
        raw = variant.problems[0].spec
        key = {n: x for p in variant.problems for n, x in p.answers.items()}
        wrong_o4 = half_up(key["o4"], 3) + 0.05
        student = _student(raw, 3, {"o4": wrong_o4})
        asked = {n for p in variant.problems for n in p.answers} - {"loss_min", "loss_max"}
        texts = {n: f"{x:.{4 if n.startswith(('Err', 'd', 'loss')) else 3}f}"
                 for n, x in student.items() if n in asked}
        report = {r.name: r for r in check(from_dict(raw), texts, 3).results}
        assert not report["o4"].ok
        for name in ("i4", "i5", "o5"):  # computed before o4 or without it
            assert report[name].ok and not report[name].carried_forward, (variant.id, name)
        later = [n for n in texts if n not in ("o4", "i4", "i5", "o5")]
        for name in later:  # everything after o4 follows from it: right, from the slip
            assert report[name].ok, (variant.id, name, texts[name], report[name].expected)
            places = 4 if name.startswith(("Err", "d", "loss")) else 3
            if abs(float(texts[name]) - key[name]) > 3 * 10.0 ** -places:
                # too far from every right chain to be right on its own: carried forward
                assert report[name].carried_forward, (variant.id, name)
        assert report["i6"].carried_forward  # moves by w4_6 * 0.05 >= 0.005


@pytest.mark.parametrize("args, message", [
    (["--kinds", "update,forward", "--chain"], "forward,update"),
    (["--kinds", "forward,step", "--chain"], "at least two"),
    (["--kinds", "forward,backward", "--chain", "--format", "moodle"], "quiz"),
    (["--kinds", "forward", "--paper", "a4", "--format", "markdown"], "--paper"),
    (["--kinds", "forward", "--duplex", "--format", "markdown"], "--duplex"),
    (["--kinds", "forward", "--pdf", "--format", "markdown"], "--pdf"),
    (["--kinds", "forward", "--paper", "a5"], "a5"),
])
def test_print_options_refused_where_they_mean_nothing(tmp_path, args, message):
    r = run(*args, "-o", str(tmp_path / "x"))
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------------- layout


def test_markdown_names_the_network_before_drawing_it(tmp_path):
    r = run("--kinds", "forward,backward,update", "--chain", "--variants", "2", "--format",
            "markdown", "-o", str(tmp_path / "m"))
    assert r.exit_code == 0, r.output
    md = (tmp_path / "m" / "problems.md").read_text()
    for part in md.split("\n## Variant ")[1:]:
        assert part.count("```mermaid") == 1  # one network per variant, drawn once
        assert part.index("#### The network") < part.index("```mermaid") < part.index(
            "| unit | layer |")
        assert "**Student ID:**" in part and "Use your outputs $o_k$ from Problem 1" in part
    plain = tmp_path / "p"
    assert run("--kinds", "forward,backward", "--variants", "2", "--format", "markdown",
               "-o", str(plain)).exit_code == 0
    md = (plain / "problems.md").read_text()
    assert md.count("```mermaid") == 4 and md.count("#### The network") == 4


def test_streamed_files_are_the_whole_set(tmp_path):
    """Written variant by variant, the files are those of the set held whole, and
    answers.json reads back as its answers()."""
    r = run("--kinds", "forward,loss,backward,update,descent", "--chain", "--variants", "4",
            "--seed", "3", "--choices", "4", "-o", str(tmp_path / "s"))
    assert r.exit_code == 0, r.output
    pset = generate(["forward", "loss", "backward", "update", "descent"], 4, 3,
                    Options(chain=True, choices=4))
    whole = render_problems(pset, "latex")
    for name, text in (("problems.tex", whole["problems"]),
                       ("solutions.tex", whole["solutions"])):
        assert (tmp_path / "s" / name).read_text() == text
    assert json.loads((tmp_path / "s" / "answers.json").read_text()) == \
        json.loads(json.dumps(pset.answers()))
    # the class sheet, from the names noted as the variants went by, is the whole set's
    from derive.grading import sheet_columns
    from derive.submissions import empty_sheet

    assert (tmp_path / "s" / "submissions.csv").read_text() == \
        empty_sheet(sheet_columns(pset.answers()))


def test_memory_does_not_grow_with_the_variants():
    """Writing 40 or 400 variants keeps the same few variants in memory at a time."""
    import io
    import tracemalloc

    from derive.problemset import kind_titles
    from render.exam import write_set

    def peak(n):
        streams = {k: _Discard() for k in ("problems", "solutions", "answers")}
        tracemalloc.start()
        write_set("latex", 1, ["forward"], Options(),
                  iter_variants(["forward"], n, 1, Options()), streams, kind_titles())
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    class _Discard(io.StringIO):
        def write(self, text):
            return len(text)

    small, large = peak(40), peak(400)
    assert large < small + 1_000_000, (small, large)


def test_progress_is_told_each_variant(tmp_path):
    seen = []
    result = derive.problems("forward,backward", variants=5, seed=2, chain=True,
                             progress=seen.append)
    result.write(tmp_path / "p")
    assert seen == [1, 2, 3, 4, 5]


def test_a_failure_part_way_leaves_nothing(tmp_path, monkeypatch):
    """An error at the 4th variant (after three were written to the temporary files):
    neither the directory nor any file appears, and an existing set is kept as it was."""
    import derive.problemset as ps

    real = ps.generate_problem

    def failing(name, seed, number, *a, **k):
        if number == 4:
            raise derive.DeriveError("no good problem for variant 4")
        return real(name, seed, number, *a, **k)

    monkeypatch.setattr(ps, "generate_problem", failing)
    r = run("--kinds", "forward", "--variants", "6", "-o", str(tmp_path / "new"))
    assert r.exit_code == 2 and "variant 4" in r.output
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    assert run("--kinds", "forward", "--variants", "2", "-o", str(tmp_path / "old")).exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir()}
    monkeypatch.setattr(ps, "generate_problem", failing)
    r = run("--kinds", "forward", "--variants", "6", "-o", str(tmp_path / "old"), "--force")
    assert r.exit_code == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir()} == before


# ------------------------------------------------------------------------- PDF, pages, --pdf

FOOTER = re.compile(r"(S\d+-V\d+) · (?:solutions, )?page (\d+) of (\d+|\?\?)")


def pdf_pages(pdf: Path) -> list:
    """Per page of the PDF: (variant, page, of) from its footer, or None (a blank page)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    out = []
    for page in text.split("\f")[:-1]:
        found = FOOTER.findall(page)
        out.append(found[-1] if found else None)
    return out


def per_variant(pages) -> dict:
    counts: dict = {}
    for footer in pages:
        if footer is not None:
            counts[footer[0]] = counts.get(footer[0], 0) + 1
    return counts


def compiled(tmp_path, kinds, variants, options, runs=1) -> Path:
    tex = render_problems(generate(kinds, variants, 2024, options), "latex")["problems"]
    src = tmp_path / "p.tex"
    src.write_text(tex)
    compile_file(src, tmp_path / "p.pdf", runs=runs)
    return tmp_path / "p.pdf"


# pages per variant of the problem sheet, by kinds asked, as (letter, a4) without and with
# --chain.  The budget of issue 15: forward, backward and update on 2 pages with --chain,
# 3 without, on both papers; the others as measured when it was met (a problem is never
# split, so a mix takes whole problems per page)
BUDGET = {
    ("forward", "backward", "update"): {False: (3, 3), True: (2, 2)},
    ("forward", "loss", "backward", "update"): {False: (4, 3), True: (2, 2)},
    ("activation", "forward", "backward", "update", "step"): {False: (4, 4), True: (3, 3)},
    ("activation", "forward", "loss", "backward", "update", "step", "descent", "batch",
     "minima"): {False: (7, 7), True: (5, 5)},
}
SINGLE = {kind: 1 for kind in ALL}  # every kind alone fits one page, header included


@requires_pdflatex
@pytest.mark.slow
@pytest.mark.parametrize("paper", ["letter", "a4"])
@pytest.mark.parametrize("kinds", list(BUDGET))
def test_page_budget_of_each_kind_mix(tmp_path, paper, kinds):
    for chain, pages in BUDGET[kinds].items():
        want = pages[paper == "a4"]
        pdf = compiled(tmp_path, list(kinds), 3, Options(chain=chain, paper=paper))
        counts = per_variant(pdf_pages(pdf))
        assert len(counts) == 3
        assert set(counts.values()) == {want}, (paper, kinds, chain, counts)


@requires_pdflatex
@pytest.mark.slow
@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_page_budget_of_each_kind_alone(tmp_path, paper):
    for kind, want in SINGLE.items():
        pdf = compiled(tmp_path, [kind], 2, Options(paper=paper))
        counts = per_variant(pdf_pages(pdf))
        assert set(counts.values()) == {want}, (paper, kind, counts)


@requires_pdflatex
@pytest.mark.slow
def test_each_variant_numbers_its_pages_and_starts_on_an_odd_page_with_duplex(tmp_path):
    for chain, n in ((True, 2), (False, 3)):
        pdf = compiled(tmp_path, ["forward", "backward", "update"], 3,
                       Options(chain=chain, duplex=True), runs=2)
        pages = pdf_pages(pdf)
        numbered = [p for p in pages if p is not None]
        assert [int(p[1]) for p in numbered] == list(range(1, n + 1)) * 3
        assert all(p[2] == str(n) for p in numbered)
        firsts = [i + 1 for i, p in enumerate(pages) if p is not None and p[1] == "1"]
        assert all(page % 2 == 1 for page in firsts), (chain, firsts)
        # an odd count is padded with one unnumbered page: each variant is whole sheets
        assert len(pages) == 3 * (n + n % 2)
        assert pages.count(None) == 3 * (n % 2)


@requires_pdflatex
@pytest.mark.slow
def test_pdf_written_beside_the_tex(tmp_path):
    out = tmp_path / "exam"
    r = run("--kinds", "forward,backward,update", "--chain", "--variants", "2", "--seed", "7",
            "--pdf", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "answers.json", "problems.pdf", "problems.tex", "solutions.pdf", "solutions.tex",
        "submissions.csv"]
    pages = pdf_pages(out / "problems.pdf")
    assert [(p[0], p[1], p[2]) for p in pages] == [("S7-V01", "1", "2"), ("S7-V01", "2", "2"),
                                                    ("S7-V02", "1", "2"), ("S7-V02", "2", "2")]
    solutions = pdf_pages(out / "solutions.pdf")
    assert all(p is not None and p[2] != "??" for p in solutions)
    text = subprocess.run(["pdftotext", str(out / "problems.pdf"), "-"], capture_output=True,
                          text=True).stdout
    assert "Student ID" in text and "Use your outputs" in text


def test_pdf_without_pdflatex_is_refused_before_anything(tmp_path, monkeypatch):
    """No pdflatex on PATH: one message saying how to install it, exit 2, nothing written
    (not even the .tex files)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("pdflatex") is None
    r = run("--kinds", "forward", "--pdf", "-o", str(tmp_path / "exam"))
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "pdflatex" in lines[0] and "apt-get install" in lines[0]
    assert not (tmp_path / "exam").exists()


def test_pdflatex_failing_leaves_nothing(tmp_path, monkeypatch):
    import render.latex as latex

    def broken(source, target, runs=2, timeout=0):
        raise latex.LatexError("! Emergency stop.")

    monkeypatch.setattr(latex, "compile_file", broken)
    monkeypatch.setattr(latex, "have_pdflatex", lambda: True)
    r = run("--kinds", "forward", "--pdf", "-o", str(tmp_path / "exam"))
    assert r.exit_code == 2 and "Emergency stop" in r.output
    assert not (tmp_path / "exam").exists()


def test_a_new_set_over_an_old_one_leaves_no_pdf_of_the_old(tmp_path):
    """--force over a set written with --pdf, now without: the old PDFs go with the old .tex
    (they would show another exam than the files beside them)."""
    out = tmp_path / "exam"
    assert run("--kinds", "forward", "--seed", "1", "-o", str(out)).exit_code == 0
    for name in ("problems.pdf", "solutions.pdf"):
        (out / name).write_bytes(b"%PDF-1.5 an earlier exam")
    (out / "notes.txt").write_text("mine")
    r = run("--kinds", "forward", "--seed", "2", "-o", str(out), "--force")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "answers.json", "notes.txt", "problems.tex", "solutions.tex", "submissions.csv"]
    assert "S2-V01" in (out / "problems.tex").read_text()


def test_answers_json_never_writes_minus_zero():
    """A value that computes as -0.0 (an update of 0 to a negative weight's gradient, a
    rounded tiny negative) is the number 0: answers.json writes 0.0, never -0.0."""
    import math

    from derive.problemset import fifteen

    assert math.copysign(1.0, fifteen(-0.0)) == 1.0
    assert json.dumps(fifteen({"a": [-0.0, -1e-300 * 1e-300]})) == '{"a": [0.0, 0.0]}'
