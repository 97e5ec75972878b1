"""The error catalogue: every user-error path of every command exits 2 with one message on
stderr that names the input (the file and line, or the option) and what would be valid.

Each entry runs the real command through click's CliRunner *with* its default exception
handling, so a bug would show as an exception other than SystemExit (the conftest sets
DERIVE_DEBUG=1, so the CLI's safety net re-raises it instead of hiding it).
"""

from __future__ import annotations

import os
import pathlib

import pytest
from click.testing import CliRunner

from derive.cli import main

GOOD = """\
title = "t"
loss = "half_sse"
learning_rate = 0.5

[[layers]]
activation = "sigmoid"
weights = [[0.1, 0.2], [0.3, 0.4]]
biases = [0.0, 0.1]

[[layers]]
activation = "sigmoid"
weights = [[0.5, -0.5]]
biases = [0.2]

[[examples]]
input = [1.0, 0.0]
target = [1.0]
"""
# lines: 2 loss, 3 learning_rate, 5 [[layers]], 6 activation, 7 weights, 8 biases,
# 10 [[layers]], 11 activation, 12 weights, 13 biases, 15 [[examples]], 16 input, 17 target


def run(args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def assert_refused(result, *expected):
    """Exit 2, no traceback, exactly one error line on stderr, containing every expected text."""
    out = result.output
    assert "Traceback" not in out, out
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, (result.exit_code, out)
    errors = [line for line in result.stderr.splitlines()
              if line.startswith(("derive: error:", "Error:"))]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], (text, errors[0])
    return errors[0]


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# (id, how to change GOOD, texts the message must contain); "{f}" is the spec's file name
SPEC_CASES = [
    ("weights-row-vs-layer-before", ("weights = [[0.5, -0.5]]", "weights = [[0.5, -0.5, 1]]"),
     ["{f}:12:", "layers[1].weights[0]", "each row needs 2"]),
    ("weights-ragged", ("[[0.1, 0.2], [0.3, 0.4]]", "[[0.1, 0.2], [0.3]]"),
     ["{f}:7:", "layers[0].weights"]),
    ("biases-count", ("biases = [0.0, 0.1]", "biases = [0.0]"),
     ["{f}:8:", "layers[0]", "one bias per unit"]),
    ("input-length", ("input = [1.0, 0.0]", "input = [1.0]"),
     ["{f}:16:", "examples[0].input", "2 inputs"]),
    ("target-length", ("target = [1.0]", "target = [1.0, 0.0]"),
     ["{f}:17:", "examples[0].target", "1 units"]),
    ("unknown-activation", ('activation = "sigmoid"', 'activation = "sigmoidd"'),
     ["{f}:6:", "layers[0].activation", "did you mean 'sigmoid'", "choose one of"]),
    ("unknown-loss", ('loss = "half_sse"', 'loss = "half_sse2"'),
     ["{f}:2:", "unknown loss", "did you mean 'half_sse'"]),
    ("unknown-top-key", ("learning_rate = 0.5", "learning_rat = 0.5"),
     ["{f}:3:", "unknown key 'learning_rat'", "did you mean 'learning_rate'"]),
    ("unknown-layer-key", ("biases = [0.2]", "biasses = [0.2]"),
     ["{f}:13:", "layers[1]", "did you mean 'biases'"]),
    ("unknown-example-key", ("target = [1.0]", "targets = [1.0]"),
     ["{f}:17:", "examples[0]", "did you mean 'target'"]),
    ("lr-wrong-type", ("learning_rate = 0.5", 'learning_rate = "fast"'),
     ["{f}:3:", "learning_rate must be a number"]),
    ("lr-zero", ("learning_rate = 0.5", "learning_rate = 0"),
     ["{f}:3:", "greater than 0"]),
    ("lr-negative", ("learning_rate = 0.5", "learning_rate = -0.1"),
     ["{f}:3:", "greater than 0"]),
    ("lr-nan", ("learning_rate = 0.5", "learning_rate = nan"), ["{f}:3:", "finite"]),
    ("weight-nan", ("[[0.1, 0.2], [0.3, 0.4]]", "[[nan, 0.2], [0.3, 0.4]]"),
     ["{f}:7:", "layers[0].weights[0][0]", "finite"]),
    ("input-inf", ("input = [1.0, 0.0]", "input = [inf, 0.0]"),
     ["{f}:16:", "examples[0].input[0]", "finite"]),
    ("bias-wrong-type", ("biases = [0.2]", 'biases = ["x"]'),
     ["{f}:13:", "layers[1].biases[0] must be a number"]),
    ("weights-not-list", ("weights = [[0.5, -0.5]]", 'weights = "0.5"'),
     ["{f}:12:", "layers[1].weights must be a non-empty list"]),
    ("target-bool", ("target = [1.0]", "target = [true]"),
     ["{f}:17:", "examples[0].target[0] must be a number"]),
    ("title-wrong-type", ('title = "t"', "title = 3"), ["{f}:1:", "title must be text"]),
    ("activation-wrong-type", ('activation = "sigmoid"', "activation = 3"),
     ["{f}:6:", "must be a name"]),
    ("input-names-count", ('title = "t"', 'title = "t"\ninput_names = ["a"]'),
     ["{f}:2:", "input_names has 1 names for 2 inputs"]),
    ("empty-input", ("input = [1.0, 0.0]", "input = []"), ["{f}:16:", "is empty"]),
    ("missing-target", ("target = [1.0]\n", ""), ["{f}:15:", "examples[0] has no target"]),
    ("no-layers", (None, "no-layers"), ["no [[layers]]"]),
    ("no-examples", ("[[examples]]\ninput = [1.0, 0.0]\ntarget = [1.0]\n", ""),
     ["no [[examples]]"]),
    ("empty-layer-list", (None, "layers = []"), ["no [[layers]]"]),
    ("ce-without-softmax", ('loss = "half_sse"', 'loss = "ce"'),
     ["{f}:2:", "softmax"]),
    ("bce-target-outside", ('loss = "half_sse"', 'loss = "bce"'), None),  # filled below
    ("softmax-hidden", ('activation = "sigmoid"', 'activation = "softmax"'),
     ["{f}:5:", "layers[0]", "output layer only"]),
    ("step-output", ('activation = "sigmoid"\nweights = [[0.5', 'activation = "step"\nweights = [[0.5'),
     ["{f}:11:", "layers[1].activation", "step", "no gradient"]),
    ("size-vs-weights", ("biases = [0.2]", "biases = [0.2]\nsize = 3"),
     ["{f}:14:", "layers[1] has size = 3 but 1 weight rows"]),
    ("custom-attribute", ('activation = "sigmoid"', 'activation = "custom"\nexpression = "z.real"'),
     ["{f}:7:", "layers[0].expression", "Attribute"]),
    ("custom-without-expression", ('activation = "sigmoid"', 'activation = "custom"'),
     ["{f}:5:", "layers[0]", "expression"]),
    ("malformed-toml", ("learning_rate = 0.5", "learning_rate = [0.5"),
     ["not valid TOML"]),
    ("malformed-toml-line", ("learning_rate = 0.5", "learning_rate 0.5"),
     ["{f}:3:", "not valid TOML"]),
]


def _spec_text(change):
    old, new = change
    if old is None:
        if new == "no-layers":
            return GOOD.split("[[layers]]")[0] + "[[examples]]\ninput = [1.0]\ntarget = [1.0]\n"
        return 'loss = "half_sse"\n' + new + '\n[[examples]]\ninput = [1.0]\ntarget = [1.0]\n'
    if change[0] == 'loss = "half_sse"' and new == 'loss = "bce"':
        return edit(edit(GOOD, old, new), "target = [1.0]", "target = [2.0]")
    return edit(GOOD, old, new)


SPEC_CASES = [(i, c, e if e is not None else ["{f}:17:", "examples[0].target", "[0, 1]"])
              for i, c, e in SPEC_CASES]

SPEC_COMMANDS = {
    "example": lambda f: ["example", "--spec", f],
    "train": lambda f: ["train", "--mode", "batch", "--max-epochs", "2", "--spec", f],
    "check": lambda f: ["check", "--spec", f, f.parent / "answers.toml"],
}


@pytest.mark.parametrize("command", list(SPEC_COMMANDS))
@pytest.mark.parametrize("case_id,change,expected", SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_spec_file_errors(tmp_path, monkeypatch, command, case_id, change, expected):
    if command == "check" and case_id == "step-output":
        pytest.skip("check marks a step network's forward pass: no gradient is needed there")
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "net.toml"
    spec.write_text(_spec_text(change), encoding="utf-8")
    (tmp_path / "answers.toml").write_text("o3 = 0.5\n", encoding="utf-8")
    f = pathlib.Path("net.toml")
    args = SPEC_COMMANDS[command](f)
    assert_refused(run(args), *[e.format(f=f) for e in expected])


# unreadable files, for every command that reads one
FILE_COMMANDS = {
    "example": lambda f: ["example", "--spec", f],
    "train": lambda f: ["train", "--mode", "batch", "--spec", f],
    "check-spec": lambda f: ["check", "--spec", f, "answers.toml"],
    "check-answers": lambda f: ["check", f],
}


@pytest.mark.parametrize("command", list(FILE_COMMANDS))
@pytest.mark.parametrize("problem", ["missing", "directory", "not-utf8", "permission", "binary"])
def test_unreadable_files(tmp_path, monkeypatch, command, problem):
    monkeypatch.chdir(tmp_path)
    pathlib.Path("answers.toml").write_text("o4 = 0.3\n", encoding="utf-8")
    f = pathlib.Path("input.toml")
    expected = ["input.toml"]
    if problem == "missing":
        expected.append("does not exist")
    elif problem == "directory":
        f.mkdir()
        expected.append("directory")
    elif problem == "not-utf8":
        f.write_bytes(b"o4 = 0.3\ntitle = \"caf\xe9\"\n")
        expected += ["input.toml:2:", "not UTF-8", "0xe9"]
    elif problem == "binary":
        f.write_bytes(b"\x00\x01\x02PK\x03\x04")
    else:
        f.write_text(GOOD, encoding="utf-8")
        real = os.open

        def denied(path, *a, **k):  # tests may run as root, where chmod 000 still reads
            if pathlib.Path(path).name == "input.toml":
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, *a, **k)

        monkeypatch.setattr(os, "open", denied)
        expected.append("Permission denied")
    assert_refused(run(FILE_COMMANDS[command](f)), *expected)


# option values, command by command: (args, texts the message must contain)
OPTION_CASES = [
    # example
    (["example", "--decimals", "-1"], ["--decimals", "1<=x<=6"]),
    (["example", "--decimals", "0"], ["--decimals", "1<=x<=6"]),
    (["example", "--decimals", "7"], ["--decimals", "1<=x<=6"]),
    (["example", "--activation", "sigmoidd"], ["did you mean 'sigmoid'"]),
    (["example", "--activation", "step"], ["step", "no gradient"]),
    (["example", "--activation", "softmax"], ["softmax"]),
    (["example", "--loss", "msee"], ["unknown loss", "did you mean 'mse'"]),
    (["example", "--loss", "ce"], ["softmax"]),
    (["example", "--loss", "bce", "--activation", "relu"], ["bce", "sigmoid"]),
    (["example", "--lr", "0"], ["--lr", "greater than 0"]),
    (["example", "--lr", "-0.5"], ["--lr", "greater than 0"]),
    (["example", "--lr", "nan"], ["--lr", "finite"]),
    (["example", "--lr", "inf"], ["--lr", "finite"]),
    (["example", "--lr", "fast"], ["--lr", "not a valid float"]),
    (["example", "--example", "0"], ["--example"]),
    (["example", "--example", "5"], ["example 5", "only 1"]),
    (["example", "--format", "pdf"], ["--format", "'pdf' is not one of"]),
    (["example", "--format", "json", "-o", "out.md"], ["--format json", "out.md"]),
    (["example", "--rounding", "exactly"], ["--rounding"]),
    (["example", "-o", "out.pdf"], ["out.pdf", "'.pdf'", ".tex"]),
    (["train", "--mode", "batch", "-o", "out.docx"], ["out.docx", ".md"]),
    (["example", "--lr", "1e308", "--activation", "linear", "--loss", "sse"], None),
    (["example", "--bogus"], ["No such option", "--bogus"]),
    (["exampel"], ["No such command", "example"]),
    # train
    (["train"], ["--mode is required", "--compare-modes"]),
    (["train", "--mode", "batch", "--compare-modes"], ["--compare-modes", "leave out --mode"]),
    (["train", "--mode", "full"], ["--mode", "'full' is not one of"]),
    (["train", "--mode", "minibatch"], ["--batch-size"]),
    (["train", "--mode", "minibatch", "--batch-size", "0"], ["--batch-size must be 1 or more"]),
    (["train", "--mode", "minibatch", "--batch-size", "5"], ["--batch-size 5 is larger"]),
    (["train", "--mode", "sgd", "--batch-size", "1"], ["--batch-size applies to"]),
    (["train", "--mode", "batch", "--max-epochs", "0"], ["--max-epochs"]),
    (["train", "--mode", "batch", "--max-epochs", "-3"], ["--max-epochs"]),
    (["train", "--mode", "batch", "--min-change", "-1"], ["--min-change"]),
    (["train", "--mode", "batch", "--target-loss", "nan"], ["--target-loss"]),
    (["train", "--mode", "batch", "--max-misclassified", "200"], ["--max-misclassified"]),
    (["train", "--mode", "sgd", "--shuffle"], ["--shuffle needs --seed"]),
    (["train", "--mode", "batch", "--shuffle", "--seed", "1"], ["--shuffle", "batch"]),
    (["train", "--mode", "sgd", "--shuffle", "--seed", "-1"], ["--seed"]),
    (["train", "--mode", "batch", "--init", "gaussian", "--seed", "1"], ["--init needs --spec"]),
    (["train", "--mode", "batch", "--lr", "0"], ["--lr", "greater than 0"]),
    (["train", "--mode", "batch", "--lr", "nan"], ["--lr", "finite"]),
    (["train", "--mode", "batch", "--decimals", "-1"], ["--decimals"]),
    (["train", "--mode", "batch", "--decimals", "0"], ["--decimals", "1<=x<=6"]),
    (["train", "--mode", "batch", "--format", "docx"], ["--format"]),
    # descend
    (["descend"], ["give --model, --data and --param"]),
    (["descend", "--preset", "shekel"], ["--preset", "'shekel' is not one of"]),
    (["descend", "--preset", "shekels", "--lr", "0"], ["--lr"]),
    (["descend", "--preset", "shekels", "--lr", "-1"], ["--lr"]),
    (["descend", "--preset", "shekels", "--lr", "abc"], ["--lr"]),
    (["descend", "--preset", "shekels", "--lr", "1,,2"], ["--lr"]),
    (["descend", "--preset", "shekels", "--lr", "nan"], ["--lr"]),
    (["descend", "--preset", "shekels", "--steps", "-1"], ["--steps must be from 0"]),
    (["descend", "--preset", "shekels", "--lr", ""], ["--lr", "got ''"]),
    (["descend", "--preset", "shekels", "--data", ""], ["--data is empty"]),
    (["descend", "--preset", "shekels", "--model", ""], ["--model is empty"]),
    (["descend", "--preset", "shekels", "--steps", "100000000"], ["--steps must be from 0"]),
    (["descend", "--preset", "shekels", "--decimals", "-1"], ["--decimals"]),
    (["descend", "--preset", "shekels", "--decimals", "0"], ["--decimals", "1<=x<=6"]),
    (["descend", "--model", "c*x", "--data", "1:2,3", "--param", "c=1", "--lr", "0.1"],
     ["--data"]),
    (["descend", "--model", "c*x", "--data", "a:b", "--param", "c=1", "--lr", "0.1"],
     ["--data"]),
    (["descend", "--model", "c*x", "--data", "1:inf", "--param", "c=1", "--lr", "0.1"],
     ["--data"]),
    (["descend", "--model", "c*x", "--data", "", "--param", "c=1", "--lr", "0.1"],
     ["--data"]),
    (["descend", "--model", "c*x", "--data", "1:2", "--param", "c", "--lr", "0.1"],
     ["--param"]),
    (["descend", "--model", "c*x", "--data", "1:2", "--param", "c=nan", "--lr", "0.1"],
     ["--param"]),
    (["descend", "--model", "c*x", "--data", "1:2", "--param", "d=1", "--lr", "0.1"],
     ["'c'"]),
    (["descend", "--model", "c*y", "--data", "1:2", "--param", "c=1", "--lr", "0.1"],
     ["unknown name 'y'"]),
    (["descend", "--model", "c*x", "--data", "1:2", "--param", "c=1"], ["--lr is needed"]),
    (["descend", "--model", "1/c", "--data", "1:1", "--param", "c=0", "--lr", "1"],
     ["--param c=0", "not a finite number"]),
    (["descend", "--function", "x**2"], ["--function needs --start"]),
    (["descend", "--function", "x**2", "--start", "1"], ["--function needs --lr"]),
    (["descend", "--function", "x**2", "--start", "a", "--lr", "0.1"], ["--start"]),
    (["descend", "--function", "x**2", "--start", "1", "--lr", "0.1,0.2"],
     ["one learning rate"]),
    (["descend", "--function", "x**2", "--model", "c*x", "--start", "1", "--lr", "0.1"],
     ["leave out"]),
    (["descend", "--preset", "shekels", "--start", "1"], ["--start goes with --function"]),
    (["descend", "--function", "1/x", "--start", "0", "--lr", "0.1"],
     ["--start 0", "finite"]),
    (["descend", "--function", "log(x)", "--start", "-1", "--lr", "0.1"],
     ["--start -1", "finite"]),
    (["descend", "--function", "exp(x)", "--start", "1000", "--lr", "0.1"],
     ["--start 1000", "finite"]),
    (["descend", "--function", "lgo(x)", "--start", "1", "--lr", "0.1"],
     ["unknown function 'lgo'", "did you mean 'log'"]),
    # graph
    (["graph", "x+y"], ["--at"]),
    (["graph", "x+y", "--at", "x=1"], ["unknown name 'y'"]),
    (["graph", "x+y", "--at", "x=1,y"], ["--at", "name=value"]),
    (["graph", "x+y", "--at", "x=1,y=a"], ["--at y=a", "not a number"]),
    (["graph", "x+y", "--at", "x=1,y=nan"], ["--at y=nan", "finite"]),
    (["graph", "x", "--at", ""], ["--at is empty"]),
    (["graph", "x", "--at", "x=1,x=2"], ["--at gives 'x' twice"]),
    (["graph", "", "--at", "x=1"], ["expression is empty"]),
    (["graph", "log(x)", "--at", "x=-1"], ["log of -1"]),
    (["graph", "1/x", "--at", "x=0"], ["division by zero"]),
    (["graph", "exp(x)", "--at", "x=1000"], ["overflows"]),
    (["graph", "x**y", "--at", "x=-1,y=0.5"], ["not a real number"]),
    (["graph", "sigmod(x)", "--at", "x=1"], ["did you mean 'sigmoid'"]),
    (["graph", "x**0.5", "--at", "x=0"], ["v1 = x ** 0.5", "gradient is undefined"]),
    (["graph", "x**0.5", "--at", "x=-0.0"], ["v1 = x ** 0.5", "gradient is undefined"]),
    (["graph", "x", "--at", "x=1", "--format", "pdf"], ["--format"]),
    # activation
    (["activation"], ["give an activation NAME"]),
    (["activation", "sigmoidd"], ["unknown activation", "did you mean 'sigmoid'"]),
    (["activation", "sigmoid", "--expr", "z"], ["not both"]),
    (["activation", "--expr", "x"], ["--expr", "unknown name 'x'", "z"]),
    (["activation", "--expr", "z +"], ["--expr", "not a valid expression"]),
    (["activation", "--expr", "tnah(z)"], ["did you mean 'tanh'"]),
    (["activation", "sigmoid", "--format", "rtf"], ["--format"]),
    # loss
    (["loss", "cee"], ["unknown loss", "did you mean 'ce'"]),
    (["loss", "ce", "--output-activation", "sigmoid"], ["softmax"]),
    (["loss", "bce", "--output-activation", "relu"], ["bce"]),
    (["loss", "half_sse", "--output-activation", "tahn"], ["did you mean 'tanh'"]),
    (["loss", "ce", "--output-activation", "step"], ["step", "no gradient"]),
    # check
    (["check"], ["give an answers file"]),
    # problems
    (["problems", "--kinds", "forwrd", "-o", "p"], ["unknown problem kind 'forwrd'",
                                                    "did you mean 'forward'"]),
    (["problems", "--kinds", "", "-o", "p"], ["--kinds is empty"]),
    (["problems", "--kinds", "forward,forward", "-o", "p"], ["twice"]),
    (["problems", "--kinds", "forward"], ["-o"]),
    (["problems", "--kinds", "forward", "--variants", "0", "-o", "p"], ["--variants"]),
    (["problems", "--kinds", "forward", "--variants", "10001", "-o", "p"], ["--variants"]),
    (["problems", "--kinds", "forward", "--seed", "-1", "-o", "p"], ["--seed"]),
    (["problems", "--kinds", "forward", "--network", "3,a,1", "-o", "p"], ["--network"]),
    (["problems", "--kinds", "forward", "--network", "0,1", "-o", "p"], ["--network"]),
    (["problems", "--kinds", "forward", "--network", "3", "-o", "p"], ["--network"]),
    (["problems", "--kinds", "forward", "--network", "100000,100000,1", "-o", "p"],
     ["--network"]),
    (["problems", "--kinds", "forward", "--lr", "0", "-o", "p"], ["--lr"]),
    (["problems", "--kinds", "forward", "--lr", "nan", "-o", "p"], ["--lr"]),
    (["problems", "--kinds", "forward", "--activation", "sigmoidd", "-o", "p"],
     ["did you mean 'sigmoid'"]),
    (["problems", "--kinds", "forward", "--loss", "bcee", "-o", "p"], ["did you mean 'bce'"]),
    (["problems", "--kinds", "backward", "--activation", "step", "-o", "p"], ["no gradient"]),
    (["problems", "--kinds", "forward", "--decimals", "0", "-o", "p"], ["--decimals"]),
    (["problems", "--kinds", "forward", "--choices", "1", "-o", "p"], ["--choices"]),
    (["problems", "--kinds", "forward", "--format", "docx", "-o", "p"], ["--format"]),
    (["problems", "--kinds", "forward", "--title", "quiz", "-o", "p"],
     ["--title", "moodle or qti"]),
    (["problems", "--kinds", "forward", "--format", "moodle", "--title", " ", "-o", "p"],
     ["--title"]),
]


@pytest.mark.parametrize("args,expected", OPTION_CASES,
                         ids=[" ".join(a)[:60] for a, _ in OPTION_CASES])
def test_option_errors(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    if expected is None:  # not an error: must work (a crash fixed here)
        result = run(args)
        assert result.exit_code == 0, result.output
        return
    assert_refused(run(args), *expected)
    assert not pathlib.Path("p").exists()  # problems: refused before writing anything


ANSWERS_CASES = [
    ("o4 = 0.3\no5 = \"a\"\n", ["answers.toml:2:", "o5 must be a number"]),
    ("o4 = 0.3\no5 = nan\n", ["answers.toml:2:", "finite"]),
    ("o4 = 0.3\no44 = 0.1\n", ["answers.toml:2:", "unknown quantity 'o44'",
                               "did you mean 'o4'"]),
    ("o4 = 0.3\ndecimals = -1\n", ["answers.toml:2:", "decimals"]),
    ("o4 = 0.3\ndecimals = 0\n", ["answers.toml:2:", "decimals", "from 1 to 6"]),
    ("o4 = 0.3\nexample = 5\n", ["answers.toml:2:", "example 5"]),
    ("o4 = 0.3\nexample = 0\n", ["answers.toml:2:", "example must be"]),
    ("o4 = 0.3\nspec = 3\n", ["answers.toml:2:", "spec must be"]),
    ("o4 = 0.3\nspec = \"nowhere.toml\"\n", ["nowhere.toml", "does not exist"]),
    ("o4 = [0.3\n", ["answers.toml", "not valid TOML"]),
    ("o4 0.3\n", ["answers.toml:1:", "not valid TOML"]),
    ("", ["nothing to check"]),
    ("[section]\no4 = 1\n", ["answers.toml", "section"]),
]


@pytest.mark.parametrize("text,expected", ANSWERS_CASES, ids=[t[:20] for t, _ in ANSWERS_CASES])
def test_answers_file_errors(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    pathlib.Path("answers.toml").write_text(text, encoding="utf-8")
    assert_refused(run(["check", "answers.toml"]), *expected)


def test_output_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pathlib.Path("there.txt").write_text("keep", encoding="utf-8")
    pathlib.Path("adir").mkdir()
    for cmd in (["example"], ["train", "--mode", "batch", "--max-epochs", "1"],
                ["descend", "--preset", "shekels"], ["graph", "x", "--at", "x=1"],
                ["activation", "relu"], ["loss", "mse"]):
        assert_refused(run(cmd + ["-o", "there.txt"]), "there.txt", "--force")
        assert pathlib.Path("there.txt").read_text() == "keep"
        assert_refused(run(cmd + ["-o", "adir"]), "adir")
    assert_refused(run(["problems", "--kinds", "forward", "-o", "there.txt"]), "there.txt")
    pathlib.Path("full").mkdir()
    pathlib.Path("full/x").write_text("x")
    assert_refused(run(["problems", "--kinds", "forward", "-o", "full"]), "full", "--force")


def test_internal_error_is_one_line_and_exit_70(monkeypatch):
    """The safety net: an unexpected exception is one line asking for a report, exit 70."""
    from derive import api

    def broken(*a, **k):
        raise KeyError("boom")

    monkeypatch.setattr(api, "graph", broken)
    monkeypatch.delenv("DERIVE_DEBUG")
    result = run(["graph", "x", "--at", "x=1"])
    assert result.exit_code == 70
    assert "Traceback" not in result.output
    assert "internal error" in result.stderr and "report" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    monkeypatch.setenv("DERIVE_DEBUG", "1")  # ... and the bug is not hidden from a developer
    result = run(["graph", "x", "--at", "x=1"])
    assert isinstance(result.exception, KeyError)


def test_internal_error_in_a_real_process(tmp_path):
    """The same through `python -m derive.cli`: no traceback on the terminal."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DERIVE_DEBUG"}
    env["PYTHONPATH"] = str(pathlib.Path(__file__).resolve().parents[1])
    code = ("import derive.api as a; a.graph = lambda *x, **k: 1/0; "
            "from derive.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, "graph", "x", "--at", "x=1"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 70
    assert "Traceback" not in proc.stderr and "internal error" in proc.stderr


def test_overflowing_custom_activation_is_refused(tmp_path, monkeypatch):
    """Bug fixed: exp(exp(exp(z))) at z = 1000 printed NumPy overflow warnings and inf."""
    import warnings

    monkeypatch.chdir(tmp_path)
    pathlib.Path("c.toml").write_text(
        '[[layers]]\nactivation = "custom"\nexpression = "exp(exp(exp(z)))"\n'
        'weights = [[1000.0]]\nbiases = [0.0]\n[[examples]]\ninput = [1.0]\n'
        'target = [0.5]\n', encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_refused(run(["example", "--spec", "c.toml"]), "c.toml", "o2 = inf", "overflow")
