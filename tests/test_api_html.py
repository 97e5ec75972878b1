"""The Python API and the standalone HTML page (checked in headless Chromium)."""

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

import derive
from derive.cli import main
from derive.errors import DeriveError

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
requires_chromium = pytest.mark.skipif(CHROMIUM is None,
                                       reason="chromium is not installed (CI installs it)")


def cli_json(*args):
    r = CliRunner().invoke(main, ["example", "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.mark.parametrize("kwargs, args", [
    ({}, []),
    ({"rounding": "hand"}, ["--rounding", "hand"]),
    ({"activation": "tanh", "loss": "sse", "lr": 0.1},
     ["--activation", "tanh", "--loss", "sse", "--lr", "0.1"]),
])
def test_api_results_equal_the_cli_json(kwargs, args):
    result = derive.example(**kwargs)
    data = cli_json(*args)
    assert result.loss == data["loss"]
    assert result.forward == data["forward"] and result.backward == data["backward"]
    assert result.gradients == data["gradients"] and result.update == data["update"]
    assert json.loads(result.to_json()) == data


def test_the_issue_one_liner():
    out = subprocess.run(["python", "-c", "import derive; print(derive.example().forward['o4'])"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("0.3318")


def test_notebook_display_shows_the_worked_example():
    md = derive.example()._repr_markdown_()
    assert "$o_{4} = \\mathrm{sigmoid}(-0.700) = 0.332$" in md and "0.1312" in md


def test_load_spec_from_dict_and_errors():
    spec = derive.load_spec({"layers": [{"weights": [[0.5]], "biases": [0.0]}],
                             "examples": [{"input": [1], "target": [1]}]})
    assert derive.example(spec).forward["i2"] == 0.5
    with pytest.raises(DeriveError):
        derive.load_spec(42)
    with pytest.raises(DeriveError, match="did you mean"):
        derive.example(activation="sigmod")


def test_html_page_is_self_contained():
    page = derive.example().to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"\b(src|href)\s*=|url\((?!#)|@import|https?:", page)
    assert "default-src 'none'" in page  # the page may not fetch anything, even if asked
    assert "<svg" in page and page.count("<math") > 20


def test_html_escapes_user_text():
    spec = derive.load_spec(None)
    spec = spec.__class__(**{**spec.__dict__, "title": "<script>alert(1)</script>"})
    page = derive.example(spec).to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page


@requires_chromium
def test_page_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "page.html"
    r = CliRunner().invoke(main, ["example", "--format", "html", "-o", str(page)])
    assert r.exit_code == 0
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
             "--host-resolver-rules=MAP * ~NOTFOUND"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    # the DOM Chromium built holds the math elements and the worked numbers
    assert dom.count("<math") > 20 and "<mfrac>" in dom
    for shown in ("0.332", "0.525", "0.474", "0.1312", "0.192", "−0.408"):
        assert shown in dom, shown
    shot = tmp_path / "page.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=412,2400", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


def _cli(*args):
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code in (0, 1), r.output
    return json.loads(r.output)


def test_api_train_equals_cli_json():
    result = derive.train(mode="minibatch", batch_size=1, max_epochs=3, shuffle=True, seed=4)
    assert result.to_dict() == _cli("train", "--mode", "minibatch", "--batch-size", "1",
                                    "--max-epochs", "3", "--shuffle", "--seed", "4",
                                    "--format", "json")
    assert "Epoch" in result.to_markdown() or "epoch" in result.to_markdown()


def test_api_descend_equals_cli_json():
    fit = derive.descend(model="c*x", data=[(10, 36.7), (20, 73.4)], params={"c": 3},
                         lr=0.001, steps=5)
    assert fit.to_dict() == _cli("descend", "--model", "c*x", "--data", "10:36.7,20:73.4",
                                 "--param", "c=3", "--lr", "0.001", "--steps", "5",
                                 "--format", "json")
    minima = derive.descend(function="x**4 - 3*x**2 + x", start=[-2, 0.5, 2], lr=0.01,
                            steps=50)
    assert minima.to_dict() == _cli("descend", "--function", "x**4 - 3*x**2 + x", "--start",
                                    "-2,0.5,2", "--lr", "0.01", "--steps", "50", "--format",
                                    "json")


def test_api_check_equals_cli_json(tmp_path):
    answers = tmp_path / "a.toml"
    answers.write_text("o4 = 0.332\nErr6 = 0.2622\nw1_4 = 0.192\n")
    result = derive.check(answers)
    assert result.to_dict() == _cli("check", str(answers), "--format", "json")
    assert not result.ok and result.exit_status == 1
    same = derive.check({"o4": "0.332", "Err6": "0.2622", "w1_4": "0.192"})
    assert same.to_dict() == result.to_dict()


def test_api_problems_equal_the_cli_files(tmp_path):
    out = tmp_path / "exam"
    r = CliRunner().invoke(main, ["problems", "--kinds", "forward,update", "--variants", "3",
                                  "--seed", "11", "--format", "markdown", "-o", str(out)])
    assert r.exit_code == 0, r.output
    result = derive.problems("forward,update", variants=3, seed=11)
    files = result.files("markdown")
    for name, text in files.items():
        assert (out / name).read_text() == text, name
    assert json.loads(files["answers.json"]) == result.answers
    assert result.answers["seed"] == 11 and len(result.answers["variants"]) == 3


def test_multi_file_writes_are_all_or_nothing(tmp_path, monkeypatch):
    import os

    from derive.output import write_files

    calls = {"n": 0}
    real = os.replace

    def failing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 1:  # fail while writing: nothing may be left behind
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(DeriveError, match="No space left"):
        write_files(tmp_path / "out", {"a.txt": "1", "b.txt": "2"})
    assert not (tmp_path / "out").exists()  # the directory the failed run made goes too


@pytest.mark.parametrize("call, args", [
    (lambda: derive.activation("tanh"), ["activation", "tanh"]),
    (lambda: derive.activation(expr="z/(1 + abs(z))"), ["activation", "--expr", "z/(1 + abs(z))"]),
    (lambda: derive.loss("ce", output_activation="softmax"),
     ["loss", "ce", "--output-activation", "softmax"]),
    (lambda: derive.graph("log(x1) + x1*x2 - sin(x2)", x1=2, x2=5),
     ["graph", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5"]),
])
def test_api_derivations_equal_the_cli_json(call, args):
    assert call().to_dict() == _cli(*args, "--format", "json")


def test_graph_matches_the_survey_example():
    # Baydin et al. (the survey the lecture cites): f(2, 5) = 11.652, df/dx1 = 5.5
    g = derive.graph("log(x1) + x1*x2 - sin(x2)", x1=2, x2=5)
    import math
    assert g.value == pytest.approx(math.log(2) + 10 - math.sin(5), abs=1e-12)
    assert g.gradient["x1"] == pytest.approx(1 / 2 + 5, abs=1e-12)
    assert g.gradient["x2"] == pytest.approx(2 - math.cos(5), abs=1e-12)


def test_derivation_shows_as_latex_in_a_notebook():
    latex = derive.activation("sigmoid")._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and "\\sigma" in latex


HTML_COMMANDS = [
    (["example"], ("0.332", "0.1312")),
    (["activation", "sigmoid"], ("σ",)),
    (["loss", "ce", "--output-activation", "softmax"], ("softmax",)),
    (["graph", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5"], ("11.652", "5.5")),
    (["train", "--mode", "sgd", "--max-epochs", "5"], ("Per epoch", "<polyline")),
    (["descend", "--preset", "shekels"], ("3.6693", "<polyline")),
    (["descend", "--function", "x**4 - 3*x**2 + x", "--start", "-2,2", "--lr", "0.01"],
     ("global minimum", "−1.3008")),
]


@pytest.mark.parametrize("args, shown", HTML_COMMANDS)
def test_every_document_command_writes_a_self_contained_page(args, shown, tmp_path):
    page = tmp_path / "page.html"
    r = CliRunner().invoke(main, [*args, "-o", str(page)])
    assert r.exit_code == 0, r.output
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "default-src 'none'" in html
    assert not re.search(r"\b(src|href)\s*=|url\((?!#)|@import|https?:", html)
    for text in shown:
        assert text in html, text


@requires_chromium
def test_training_page_renders_in_chromium(tmp_path):
    page = tmp_path / "train.html"
    assert CliRunner().invoke(main, ["train", "--mode", "batch", "--max-epochs", "10", "-o",
                                     str(page)]).exit_code == 0
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-background-networking", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "<svg" in dom and "<polyline" in dom and "Per epoch" in dom


def test_ipython_displays_the_worked_example():
    """What a notebook shows: IPython's own display formatter picks up the Markdown."""
    formatters = pytest.importorskip("IPython.core.formatters")
    data, _ = formatters.DisplayFormatter().format(derive.example())
    md = data["text/markdown"]
    assert "$o_{4} = \\mathrm{sigmoid}(-0.700) = 0.332$" in md
    assert "| $b_{4}$ | -0.400 | -0.0079 | -0.408 |" in md
    data, _ = formatters.DisplayFormatter().format(derive.activation("sigmoid"))
    assert "text/latex" in data and "text/markdown" in data


# --- the network picture and the page's maths (issue 17) --------------------------------------

def _svg_of(page: str) -> str:
    return page[page.index("<svg"):page.index("</svg>")]


@pytest.mark.parametrize("page", [
    lambda: derive.example().to_html(),
    lambda: derive.example(spec=str(__import__("pathlib").Path(__file__).resolve().parent.parent
                                     / "examples" / "softmax.toml")).to_html(),
    lambda: __import__("render").render("network_picture", "html",
                                        doc=derive.example().document),
], ids=["lecture", "softmax", "quiz picture"])
def test_edges_stop_at_the_circles_with_arrowheads(page):
    svg = _svg_of(page())
    circles = [(float(x), float(y), float(r)) for x, y, r in
               re.findall(r'<circle[^>]*cx="([\d.]+)" cy="([\d.]+)" r="([\d.]+)"', svg)]
    lines = re.findall(r'<line[^>]*x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"'
                       r'[^>]*marker-end="url\(#arrowhead\)"', svg)
    assert circles and lines and len(lines) == svg.count("<line")
    assert re.search(r'<marker id="arrowhead"[^>]*orient="auto"', svg)
    arrow = float(re.search(r'markerWidth="([\d.]+)"', svg).group(1))
    for x1, y1, x2, y2 in lines:
        for (px, py), gap in (((float(x1), float(y1)), 0.0), ((float(x2), float(y2)), arrow)):
            # the nearest circle: the edge ends on its rim (the head's tip on the target's)
            cx, cy, r = min(circles, key=lambda c: (c[0] - px) ** 2 + (c[1] - py) ** 2)
            assert abs(((cx - px) ** 2 + (cy - py) ** 2) ** 0.5 - (r + gap)) < 0.2
        # and crosses no other circle on its way
        for cx, cy, r in circles:
            ax, ay, bx, by = map(float, (x1, y1, x2, y2))
            t = max(0.0, min(1.0, ((cx - ax) * (bx - ax) + (cy - ay) * (by - ay))
                             / ((bx - ax) ** 2 + (by - ay) ** 2)))
            qx, qy = ax + t * (bx - ax), ay + t * (by - ay)
            assert ((cx - qx) ** 2 + (cy - qy) ** 2) ** 0.5 >= r - 0.2


def test_bias_labels_are_b_with_a_subscript():
    svg = _svg_of(derive.example().to_html())
    for k in (4, 5, 6):
        assert (f'<tspan font-style="italic">b</tspan><tspan dy="4" font-size="10">{k}'
                f'</tspan>') in svg
    assert not re.search(r">b\d", svg)


def test_numbers_line_up_in_their_columns():
    """Numbers right-aligned at fixed places (so decimal points line up), text to the left."""
    page = derive.example().to_html()
    css = " ".join(page.split())
    assert "font-variant-numeric: tabular-nums" in css
    assert "td.text { text-align: left; }" in css
    update = page[page.index("<h2>6. Update"):]
    rows = re.findall(r"<tr><td><math>.*?</math></td><td>([^<]*)</td><td>([^<]*)</td>"
                      r"<td>([^<]*)</td></tr>", update)
    assert len(rows) == 11
    for column, places in ((0, 3), (1, 4), (2, 3)):
        assert {len(r[column].split(".")[1]) for r in rows} == {places}, column
    network = page[page.index("<h2>1. The network"):page.index("<h2>2.")]
    assert network.count('<td class="text">') >= 9  # layer, activation, weights: text


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "elu", "gelu", "softmax"])
def test_mathml_uses_the_minus_sign(name):
    pages = [derive.activation(name).to_html(), derive.loss("bce").to_html(),
             derive.graph("log(x1) + x1*x2 - sin(x2) - x1/x2", x1=2, x2=5).to_html()]
    if name not in ("softmax",):
        pages.append(derive.example(activation=name).to_html())
    for page in pages:
        assert "<mo>-</mo>" not in page and "<mn>-" not in page
        assert not re.search(r"<mo>[ⅆⅇ]|<mi>ⅇ", page)


def test_a_derivative_keeps_its_parentheses():
    page = derive.activation("sigmoid").to_html()
    d_dz = ('<mfrac><mrow><mo>d</mo></mrow><mrow><mo>d</mo><mi>z</mi></mrow></mfrac>'
            '<mrow><mo>(</mo><mrow><mn>1</mn><mo>+</mo>')
    assert d_dz in page  # d/dz (1 + e^{-z}), not d/dz 1 + e^{-z}


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "step"])
def test_piecewise_functions_are_cases_not_text(name):
    """SymPy's MathML writes a piecewise function as the text piecewise((0, o = 0), ...)."""
    pages = [derive.activation(name).to_html()]
    if name != "step":
        pages.append(derive.example(activation=name).to_html())
    for page in pages:
        assert "piecewise" not in page.lower().replace("differentiate each piece", "")
        assert "<mtable" in page and "otherwise</mtext>" in page
