"""derive train: each mode against a plain-Python recomputation and finite differences, the
stopping criteria on constructed cases, the practical details, the CLI's contract."""

from __future__ import annotations

import io
import json
import math
import statistics
import subprocess
import xml.dom.minidom

import numpy as np
import pytest
from click.testing import CliRunner

from derive import spec as specs
from derive.cli import main
from derive.commands._progress import Progress
from derive.numeric.train import Criteria, misclassified_percent, train

FOUR = """
title = "Four examples"
learning_rate = 0.9
[[layers]]
weights = [[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]]
biases = [-0.4, 0.2]
[[layers]]
weights = [[-0.3, -0.2]]
biases = [0.1]
[[examples]]
input = [1, 0, 1]
target = [1]
[[examples]]
input = [0, 1, 1]
target = [0]
[[examples]]
input = [1, 1, 0]
target = [1]
[[examples]]
input = [0, 0, 1]
target = [0]
[[examples]]
input = [1, 1, 1]
target = [1]
"""


@pytest.fixture
def four(tmp_path):
    path = tmp_path / "four.toml"
    path.write_text(FOUR)
    return path


# --- an independent recomputation: plain Python, one loop per unit ----------------------------

def _sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def ref_params(spec):
    return [([list(r) for r in layer.weights], list(layer.biases)) for layer in spec.layers]


def ref_forward(params, x):
    outs = [list(x)]
    for W, b in params:
        prev = outs[-1]
        outs.append([_sig(sum(w * o for w, o in zip(W[k], prev)) + b[k]) for k in range(len(b))])
    return outs


def ref_loss(params, x, t):  # half_sse
    o = ref_forward(params, x)[-1]
    return sum((tk - ok) ** 2 for tk, ok in zip(t, o)) / 2


def ref_grads(params, x, t):
    """dE/dW, dE/db for one example (sigmoid everywhere, half_sse), by the chain rule."""
    outs = ref_forward(params, x)
    L = len(params)
    delta = [None] * (L + 1)  # dE/di per layer
    delta[L] = [(o - tk) * o * (1 - o) for o, tk in zip(outs[L], t)]
    for n in range(L - 1, 0, -1):
        Wn = params[n][0]
        delta[n] = [outs[n][j] * (1 - outs[n][j]) *
                    sum(Wn[k][j] * delta[n + 1][k] for k in range(len(Wn)))
                    for j in range(len(outs[n]))]
    return [([[delta[n][k] * outs[n - 1][j] for j in range(len(outs[n - 1]))]
              for k in range(len(delta[n]))], list(delta[n])) for n in range(1, L + 1)]


def ref_flat(params):
    out = []
    for W, b in params:
        for k in range(len(b)):
            out += W[k] + [b[k]]
    return out


def ref_train(spec, mode, batch_size, epochs, orders=None):
    params = ref_params(spec)
    exs = spec.examples
    n = len(exs)
    eta = spec.learning_rate
    steps = []
    for e in range(epochs):
        order = list(range(n)) if orders is None else orders[e]
        size = n if mode == "batch" else 1 if mode == "sgd" else batch_size
        for s in range(0, n, size):
            idx = order[s:s + size]
            loss = sum(ref_loss(params, exs[i].input, exs[i].target) for i in idx) / len(idx)
            total = None
            for i in idx:
                g = ref_grads(params, exs[i].input, exs[i].target)
                if total is None:
                    total = g
                else:
                    total = [([[a + c for a, c in zip(ra, rc)] for ra, rc in zip(Wa, Wc)],
                              [a + c for a, c in zip(ba, bc)])
                             for (Wa, ba), (Wc, bc) in zip(total, g)]
            mean = [([[v / len(idx) for v in row] for row in W], [v / len(idx) for v in b])
                    for W, b in total]
            params = [([[w - eta * gw for w, gw in zip(row, grow)] for row, grow in zip(W, gW)],
                       [bb - eta * gb for bb, gb in zip(b, gB)])
                      for (W, b), (gW, gB) in zip(params, mean)]
            steps.append({"epoch": e + 1, "examples": [i + 1 for i in idx], "loss": loss,
                          "gradients": ref_flat(mean), "update": ref_flat(params)})
    return steps


@pytest.mark.parametrize("mode,batch_size", [("batch", None), ("sgd", None), ("minibatch", 2),
                                             ("minibatch", 3)])
def test_each_mode_matches_a_plain_python_recomputation(four, mode, batch_size):
    spec = specs.load(four)
    run = train(spec, mode, batch_size, Criteria(max_epochs=3))
    ref = ref_train(spec, mode, batch_size, 3)
    assert len(run.steps) == len(ref)
    for got, want in zip(run.steps, ref):
        assert got.epoch == want["epoch"]
        assert list(got.examples) == want["examples"]
        assert got.loss == pytest.approx(want["loss"], abs=1e-13)
        assert got.gradients.tolist() == pytest.approx(want["gradients"], abs=1e-13)
        assert got.update.tolist() == pytest.approx(want["update"], abs=1e-13)
    assert run.final.tolist() == pytest.approx(ref[-1]["update"], abs=1e-13)


def test_last_short_minibatch_takes_the_examples_that_remain(four):
    run = train(specs.load(four), "minibatch", 2, Criteria(max_epochs=2))
    assert [list(s.examples) for s in run.steps] == [[1, 2], [3, 4], [5]] * 2


def _mean_loss(spec, flat, idx):
    params, pos = [], 0
    for layer in spec.layers:
        W, b = [], []
        for _ in range(layer.size):
            row = flat[pos:pos + layer.fan_in + 1]
            W.append(row[:-1])
            b.append(row[-1])
            pos += layer.fan_in + 1
        params.append((W, b))
    exs = spec.examples
    return sum(ref_loss(params, exs[i].input, exs[i].target) for i in idx) / len(idx)


@pytest.mark.parametrize("mode,batch_size,step", [("batch", None, 0), ("minibatch", 2, 1),
                                                  ("minibatch", 2, 2), ("sgd", None, 3)])
def test_step_gradient_is_the_finite_difference_of_the_mean_loss(four, mode, batch_size, step):
    spec = specs.load(four)
    run = train(spec, mode, batch_size, Criteria(max_epochs=1))
    before = run.initial.tolist() if step == 0 else run.steps[step - 1].update.tolist()
    s = run.steps[step]
    idx = [i - 1 for i in s.examples]
    assert s.loss == pytest.approx(_mean_loss(spec, before, idx), abs=1e-14)
    h = 1e-6
    for p in range(len(before)):
        up, down = list(before), list(before)
        up[p] += h
        down[p] -= h
        fd = (_mean_loss(spec, up, idx) - _mean_loss(spec, down, idx)) / (2 * h)
        assert s.gradients[p] == pytest.approx(fd, abs=1e-9)


def test_first_sgd_step_is_the_lectures_worked_example():
    run = train(specs.LECTURE, "sgd", None, Criteria(max_epochs=1))
    d = run.to_dict()["steps"][0]
    assert round(d["update"]["w1_4"], 6) == 0.192148  # DESIGN.md's JSON
    assert round(d["update"]["b4"], 6) == -0.407852
    assert round(d["loss"], 6) == 0.138396


def test_epoch_rows_recomputed_independently(four):
    spec = specs.load(four)
    run = train(spec, "sgd", None, Criteria(max_epochs=3))
    prev = run.initial.tolist()
    for e in run.epochs:
        last = [s for s in run.steps if s.epoch == e.epoch][-1].update.tolist()
        assert e.loss == pytest.approx(_mean_loss(spec, last, range(5)), abs=1e-14)
        assert e.max_change == pytest.approx(max(abs(a - b) for a, b in zip(last, prev)),
                                             abs=1e-15)
        prev = last


def test_misclassified_thresholds_one_output_and_argmaxes_several():
    assert misclassified_percent([[0.49], [0.5], [0.9], [0.1]], [[1], [1], [0], [0]]) == 50.0
    assert misclassified_percent([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]],
                                 [[0, 1, 0], [0, 0, 1]]) == 50.0


# --- stopping criteria ------------------------------------------------------------------------

def test_max_epochs_fires_when_nothing_else_does(four):
    run = train(specs.load(four), "batch", None, Criteria(max_epochs=4, min_change=1e-12))
    assert run.stopped_by == "max_epochs" and len(run.epochs) == 4


def test_target_loss_fires_at_the_first_epoch_at_or_below_it(four):
    spec = specs.load(four)
    free = train(spec, "sgd", None, Criteria(max_epochs=30))
    losses = [e.loss for e in free.epochs]
    target = losses[9]
    first = next(i for i, v in enumerate(losses) if v <= target)
    run = train(spec, "sgd", None, Criteria(max_epochs=30, target_loss=target))
    assert run.stopped_by == "target_loss" and len(run.epochs) == first + 1


def test_min_change_fires_when_every_change_is_small(four):
    spec = specs.load(four)
    free = train(spec, "batch", None, Criteria(max_epochs=10))
    changes = [e.max_change for e in free.epochs]
    eps = (changes[4] + changes[3]) / 2 if changes[4] < changes[3] else changes[4] * 1.0001
    first = next(i for i, c in enumerate(changes) if c < eps)
    run = train(spec, "batch", None, Criteria(max_epochs=10, min_change=eps))
    assert run.stopped_by == "min_change" and len(run.epochs) == first + 1


def test_max_misclassified_fires_on_a_separable_case(tmp_path):
    # one sigmoid unit, AND of two inputs: separable, so training reaches 0 % misclassified
    path = tmp_path / "and.toml"
    path.write_text("learning_rate = 2.0\n[[layers]]\nweights = [[0.0, 0.0]]\nbiases = [0.0]\n"
                    + "".join(f"[[examples]]\ninput = [{a}, {b}]\ntarget = [{a & b}]\n"
                              for a in (0, 1) for b in (0, 1)))
    spec = specs.load(path)
    run = train(spec, "batch", None, Criteria(max_epochs=500, max_misclassified=0))
    assert run.stopped_by == "max_misclassified"
    assert run.epochs[-1].misclassified == 0.0
    assert all(e.misclassified > 0 for e in run.epochs[:-1])
    # the last epoch's parameters really classify all four examples
    w1, w2, b = run.final.tolist()
    for a in (0, 1):
        for c in (0, 1):
            assert (_sig(w1 * a + w2 * c + b) >= 0.5) == bool(a & c)


def test_several_criteria_at_once_target_loss_wins_over_max_epochs(four):
    run = train(specs.load(four), "batch", None, Criteria(max_epochs=1, target_loss=10.0))
    assert run.stopped_by == "target_loss"


def test_divergence_stops_the_run_and_json_stays_valid(tmp_path):
    path = tmp_path / "lin.toml"
    path.write_text("learning_rate = 50.0\n[[layers]]\nactivation = \"linear\"\n"
                    "weights = [[1.0]]\nbiases = [0.0]\n"
                    "[[examples]]\ninput = [10.0]\ntarget = [1.0]\n")
    run = train(specs.load(path), "batch", None, Criteria(max_epochs=1000))
    assert run.stopped_by == "diverged" and len(run.epochs) < 1000
    json.dumps(run.to_dict(), allow_nan=False)


# --- shuffling, standardising, initialising ---------------------------------------------------

def test_shuffle_uses_a_fresh_permutation_each_epoch_from_the_seed(four):
    spec = specs.load(four)
    run = train(spec, "sgd", None, Criteria(max_epochs=3), shuffle=True, seed=7)
    rng = np.random.default_rng(7)
    orders = [rng.permutation(5).tolist() for _ in range(3)]
    assert [s.examples[0] - 1 for s in run.steps] == sum(orders, [])
    ref = ref_train(spec, "sgd", None, 3, orders)
    assert run.final.tolist() == pytest.approx(ref[-1]["update"], abs=1e-13)


def test_same_seed_gives_byte_identical_output(four):
    args = ["train", "--spec", str(four), "--mode", "sgd", "--shuffle", "--seed", "3",
            "--max-epochs", "5"]
    for fmt in ("json", "text", "markdown", "latex"):
        a = CliRunner().invoke(main, args + ["--format", fmt])
        b = CliRunner().invoke(main, args + ["--format", fmt])
        assert a.exit_code == 0, a.output
        assert a.output == b.output
    three = CliRunner().invoke(main, args + ["--format", "json"]).output
    four_ = CliRunner().invoke(main, args[:-3] + ["4", "--max-epochs", "5", "--format", "json"])
    assert four_.exit_code == 0 and four_.output != three  # another seed, another order


def test_standardize_gives_mean_0_sd_1(four):
    r = CliRunner().invoke(main, ["train", "--spec", str(four), "--mode", "batch",
                                  "--standardize", "--max-epochs", "1", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    spec = specs.load(four)
    cols = list(zip(*[ex.input for ex in spec.examples]))
    for f, col in zip(d["standardization"]["features"], cols):
        assert f["mean_before"] == pytest.approx(statistics.fmean(col))
        assert f["sd_before"] == pytest.approx(statistics.pstdev(col))
        assert f["mean_after"] == pytest.approx(0, abs=1e-12)
        assert f["sd_after"] == pytest.approx(1)
    text = CliRunner().invoke(main, ["train", "--spec", str(four), "--mode", "batch",
                                     "--standardize", "--max-epochs", "1"]).output
    assert "Standardized inputs" in text and "sd before" in text


SIZES = """
learning_rate = 0.5
[[layers]]
size = 3
[[layers]]
size = 1
[[examples]]
input = [0.5, 1.0]
target = [1]
[[examples]]
input = [1.5, -1.0]
target = [0]
"""


@pytest.mark.parametrize("method", ["gaussian", "uniform"])
def test_init_draws_weights_from_the_seed_and_zero_biases(tmp_path, method):
    path = tmp_path / "sizes.toml"
    path.write_text(SIZES)
    r = CliRunner().invoke(main, ["train", "--spec", str(path), "--mode", "batch", "--init",
                                  method, "--seed", "11", "--max-epochs", "1",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    initial = json.loads(r.output)["initial"]["params"]
    rng = np.random.default_rng(11)
    if method == "gaussian":
        W1 = rng.normal(0, 1 / math.sqrt(2), (3, 2))
        W2 = rng.normal(0, 1 / math.sqrt(3), (1, 3))
    else:
        W1 = rng.uniform(-1 / math.sqrt(2), 1 / math.sqrt(2), (3, 2))
        W2 = rng.uniform(-1 / math.sqrt(3), 1 / math.sqrt(3), (1, 3))
    for k in range(3):
        for j in range(2):
            assert initial[f"w{j + 1}_{k + 3}"] == W1[k, j]
        assert initial[f"b{k + 3}"] == 0.0
    assert [initial[f"w{j}_6"] for j in (3, 4, 5)] == W2[0].tolist()
    assert initial["b6"] == 0.0


def test_sizes_only_spec_without_init_is_refused(tmp_path):
    path = tmp_path / "sizes.toml"
    path.write_text(SIZES)
    r = CliRunner().invoke(main, ["train", "--spec", str(path), "--mode", "batch"])
    assert r.exit_code == 2 and "--init" in r.output


# --- the command's contract -------------------------------------------------------------------

def test_json_has_the_design_keys(four):
    r = CliRunner().invoke(main, ["train", "--spec", str(four), "--mode", "minibatch",
                                  "--batch-size", "2", "--max-epochs", "2", "--format", "json"])
    d = json.loads(r.output)
    assert {"steps", "epochs", "stopped_by", "final"} <= set(d)
    assert set(d["steps"][0]) == {"epoch", "examples", "loss", "gradients", "update"}
    assert set(d["epochs"][0]) == {"epoch", "loss", "misclassified", "max_change"}
    names = specs.load(four).parameter_names()
    assert list(d["final"]) == names and list(d["steps"][0]["gradients"]) == names
    assert d["stopped_by"] == "max_epochs"


def test_compare_modes_start_from_the_same_parameters(four):
    r = CliRunner().invoke(main, ["train", "--spec", str(four), "--compare-modes",
                                  "--max-epochs", "3", "--format", "json"])
    d = json.loads(r.output)["modes"]
    assert list(d) == ["batch", "sgd", "minibatch"]
    assert d["batch"]["initial"] == d["sgd"]["initial"] == d["minibatch"]["initial"]
    assert len(d["sgd"]["steps"]) == 15 and len(d["batch"]["steps"]) == 3
    assert d["minibatch"]["batch_size"] == 3


@pytest.mark.parametrize("args,needle", [
    (["--mode", "minibatch"], "--batch-size"),
    (["--mode", "minibatch", "--batch-size", "9"], "larger than"),
    (["--mode", "sgd", "--batch-size", "2"], "applies to --mode minibatch"),
    (["--mode", "sgd", "--shuffle"], "--seed"),
    ([], "--mode is required"),
    (["--mode", "batch", "--min-change", "-1"], "--min-change"),
    (["--mode", "batch", "--max-misclassified", "150"], "--max-misclassified"),
    (["--mode", "batch", "--max-epochs", "0"], "--max-epochs"),
    (["--mode", "batch", "--lr", "0"], "--lr"),
    (["--mode", "batch", "--init", "gaussian", "--seed", "1"], "--init"),
    (["--mode", "fast"], "fast"),
])
def test_bad_input_exits_2_with_one_message(four, args, needle):
    r = CliRunner().invoke(main, ["train", "--spec", str(four), *args])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output


def test_missing_spec_file_exits_2(tmp_path):
    r = CliRunner().invoke(main, ["train", "--spec", str(tmp_path / "nope.toml"), "--mode",
                                  "batch"])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_huge_network_refused_for_tables_but_json_works(tmp_path):
    rows = [[0.01] * 30 for _ in range(10)]
    path = tmp_path / "big.toml"
    path.write_text(f"[[layers]]\nweights = {rows}\n[[layers]]\nweights = [{[0.1] * 10}]\n"
                    f"[[examples]]\ninput = {[0.5] * 30}\ntarget = [1]\n")
    r = CliRunner().invoke(main, ["train", "--spec", str(path), "--mode", "batch",
                                  "--max-epochs", "2"])
    assert r.exit_code == 2 and "321 parameters" in r.output and "--format json" in r.output
    r = CliRunner().invoke(main, ["train", "--spec", str(path), "--mode", "batch",
                                  "--max-epochs", "2", "--format", "json"])
    assert r.exit_code == 0 and len(json.loads(r.output)["final"]) == 321


def test_text_shows_steps_epochs_and_a_plot(four):
    r = CliRunner().invoke(main, ["train", "--spec", str(four), "--mode", "sgd",
                                  "--max-epochs", "2"])
    assert r.exit_code == 0, r.output
    assert "Step 10 (epoch 2, example 5)" in r.output
    assert "Per epoch" in r.output and "Stopped: finished the pre-specified 2 epochs" in r.output
    assert "└" in r.output  # the text plot's axis


def test_markdown_writes_an_svg_beside_it_and_never_overwrites(four, tmp_path):
    out = tmp_path / "run.md"
    args = ["train", "--spec", str(four), "--compare-modes", "--max-epochs", "5", "-o",
            str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    svg = tmp_path / "run-loss.svg"
    assert "![Loss during training" in out.read_text() and "(run-loss.svg)" in out.read_text()
    doc = xml.dom.minidom.parse(str(svg))
    assert len(doc.getElementsByTagName("polyline")) == 3
    out.unlink()
    r = CliRunner().invoke(main, args)  # the SVG exists: refused, nothing written
    assert r.exit_code == 2 and "--force" in r.output and not out.exists()
    assert CliRunner().invoke(main, args + ["--force"]).exit_code == 0


@pytest.mark.slow
def test_latex_compiles_with_pdflatex(four, tmp_path):
    out = tmp_path / "run.tex"
    r = CliRunner().invoke(main, ["train", "--spec", str(four), "--compare-modes",
                                  "--standardize", "--max-epochs", "4", "-o", str(out)])
    assert r.exit_code == 0, r.output
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           out.name], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "run.pdf").exists()


def test_progress_bar_only_on_a_terminal_after_a_second():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    t = [0.0]
    quiet = io.StringIO()
    p = Progress("training", stream=quiet, clock=lambda: t[0])
    t[0] = 5.0
    p(1, 2)
    assert quiet.getvalue() == ""
    tty = Tty()
    p = Progress("training", stream=tty, clock=lambda: t[0])
    p(1, 10)
    assert tty.getvalue() == ""  # not yet a second
    t[0] = 7.0
    p(5, 10)
    assert "5/10" in tty.getvalue()
    p.close()
    assert tty.getvalue().endswith("\r")


def test_reference_is_not_numpy():
    # the recomputation above must stay independent of the engine: plain floats only
    spec = specs.LECTURE
    g = ref_grads(ref_params(spec), spec.examples[0].input, spec.examples[0].target)
    assert isinstance(g[0][0][0][0], float)


@pytest.mark.parametrize("layer,needle", [
    ("size = 0", "size must be a whole number"),
    ("size = 2.5", "size must be a whole number"),
    ("size = 3\nweights = [[0.1], [0.2]]", "size = 3 but 2 weight rows"),
    ("activation = \"sigmoid\"", "has no weights"),
])
def test_size_key_is_validated(tmp_path, layer, needle):
    path = tmp_path / "s.toml"
    path.write_text(f"[[layers]]\n{layer}\n[[examples]]\ninput = [1.0]\ntarget = [1.0]\n")
    init = [] if "weights" in layer else ["--init", "uniform", "--seed", "1"]
    r = CliRunner().invoke(main, ["train", "--spec", str(path), "--mode", "batch", *init])
    assert r.exit_code == 2 and needle in r.output, r.output


def test_size_and_weights_together_load_as_before(four):
    text = FOUR.replace("biases = [0.1]", "biases = [0.1]\nsize = 1")
    assert specs.loads(text) == specs.load(four)
