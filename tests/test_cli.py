"""The `derive example` command through click's CliRunner."""

import json

import pytest
from click.testing import CliRunner

from derive.cli import main

LECTURE_TOML = """
title = "Will a student get a B- or better?"
loss = "half_sse"
learning_rate = 0.9

[[layers]]
activation = "sigmoid"
weights = [[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]]
biases = [-0.4, 0.2]

[[layers]]
activation = "sigmoid"
weights = [[-0.3, -0.2]]
biases = [0.1]

[[examples]]
input = [1, 0, 1]
target = [1]
"""


def run(*args, **kwargs):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, **kwargs)
    return result


def test_default_text_prints_the_worked_example():
    r = run("example", "--activation", "sigmoid")
    assert r.exit_code == 0
    for shown in ("i₄ = 1×0.2 + 0×0.4 + 1×(−0.5) + (−0.4) = −0.700", "o₄ = σ(−0.700) = 0.332",
                  "o₆ = σ(−0.105) = 0.474", "Err₆", "0.1312", "b₄", "−0.408"):
        assert shown in r.output, shown
    assert "hand-rounded 0.1311" in r.output  # the note on the slides' rounding


def test_json_shape_and_values():
    r = run("example", "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert list(data) == ["loss", "forward", "backward", "gradients", "update"]
    assert list(data["forward"]) == ["i4", "o4", "i5", "o5", "i6", "o6"]
    assert list(data["backward"]) == ["Err6", "Err5", "Err4"]
    names = ["w1_4", "w2_4", "w3_4", "b4", "w1_5", "w2_5", "w3_5", "b5", "w4_6", "w5_6", "b6"]
    assert list(data["gradients"]) == names and list(data["update"]) == names
    assert data["forward"]["o4"] == pytest.approx(0.331812, abs=1e-6)
    assert data["update"]["b4"] == pytest.approx(-0.407852, abs=1e-6)


def test_hand_rounding_json_is_the_lecture_table():
    data = json.loads(run("example", "--rounding", "hand", "--format", "json").output)
    assert data["backward"] == {"Err6": 0.1311, "Err5": -0.0065, "Err4": -0.0087}
    assert data["update"]["w4_6"] == -0.261 and data["update"]["b4"] == -0.408


def test_spec_file_and_overrides(tmp_path):
    spec = tmp_path / "net.toml"
    spec.write_text(LECTURE_TOML)
    same = json.loads(run("example", "--spec", str(spec), "--format", "json").output)
    default = json.loads(run("example", "--format", "json").output)
    assert same == default
    tanh = json.loads(run("example", "--spec", str(spec), "--activation", "tanh", "--lr", "0.1",
                          "--loss", "sse", "--format", "json").output)
    import math
    assert tanh["forward"]["o4"] == pytest.approx(math.tanh(-0.7), abs=1e-12)


def test_any_fully_connected_network(tmp_path):
    spec = tmp_path / "deep.toml"
    spec.write_text("""
loss = "mse"
learning_rate = 0.5
[[layers]]
activation = "relu"
weights = [[0.5, -0.25], [0.75, 0.1], [-0.3, 0.2]]
biases = [0.1, 0.0, -0.1]
[[layers]]
activation = "tanh"
weights = [[0.3, -0.6, 0.9], [0.2, 0.4, -0.1]]
biases = [0.05, -0.05]
[[layers]]
activation = "linear"
weights = [[1.0, -1.0]]
biases = [0.0]
[[examples]]
input = [2.0, 1.0]
target = [0.5]
""")
    r = run("example", "--spec", str(spec), "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert list(data["forward"])[-1] == "o8" and "Err3" in data["backward"]
    text = run("example", "--spec", str(spec))
    assert text.exit_code == 0 and "i₈" in text.output


@pytest.mark.parametrize("args, message", [
    (["--activation", "sigmod"], "did you mean 'sigmoid'"),
    (["--loss", "half-sse"], "did you mean 'half_sse'"),
    (["--spec", "no-such-file.toml"], "does not exist"),
    (["--lr", "0"], "greater than 0"),
    (["--lr", "-1"], "greater than 0"),
    (["--example", "2"], "only 1 example"),
    (["--format", "json", "-o", "x.tex"], "does not match"),
])
def test_bad_input_exits_2_with_one_clear_message(args, message):
    r = CliRunner().invoke(main, ["example", *args])
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception,
                                                                            SystemExit)


@pytest.mark.parametrize("content, message", [
    ("this is = not [toml", "not valid TOML"),
    ("[[layers]]\nweights = [[1, 2]]\nbiases = [0]\n", "no [[examples]]"),
    ("[[layers]]\nweights = [[1, 2]]\nbiases = [0, 1]\n[[examples]]\ninput=[1,2]\ntarget=[1]",
     "1 weight rows (units) but 2 biases"),
    ("[[layers]]\nweights = [[1, 2]]\n[[examples]]\ninput=[1]\ntarget=[1]",
     "input has 1 values"),
    ("[[layers]]\nweights = [[1, 'a']]\n[[examples]]\ninput=[1,2]\ntarget=[1]",
     "must be a number"),
    ("[[layers]]\nactivation='sigmoid'\nweights=[[1, 2]]\nbiasses=[0]\n[[examples]]\n"
     "input=[1,2]\ntarget=[1]", "did you mean 'biases'"),
    ("[[layers]]\nweights = [[1, nan]]\n[[examples]]\ninput=[1,2]\ntarget=[1]", "finite"),
])
def test_malformed_spec_files(tmp_path, content, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(content)
    r = CliRunner().invoke(main, ["example", "--spec", str(spec)])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_unreadable_spec(tmp_path):
    d = tmp_path / "dir.toml"
    d.mkdir()
    r = CliRunner().invoke(main, ["example", "--spec", str(d)])
    assert r.exit_code == 2


def test_output_suffix_picks_format_and_force_is_needed(tmp_path):
    out = tmp_path / "x.md"
    assert run("example", "-o", str(out)).exit_code == 0
    assert out.read_text().startswith("# Will a student")
    again = CliRunner().invoke(main, ["example", "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    assert run("example", "-o", str(out), "--force").exit_code == 0
    tex = tmp_path / "x.tex"
    assert run("example", "-o", str(tex)).exit_code == 0
    assert tex.read_text().startswith("\\documentclass")


def test_same_inputs_give_identical_output():
    assert run("example", "--format", "latex").output == run("example", "--format",
                                                             "latex").output
