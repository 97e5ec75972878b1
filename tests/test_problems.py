"""`derive problems`: every answer recomputed by a second route, constraints, determinism.

The second routes are written out here from the lecture's formulas in plain Python (math,
no derive.numeric), with gradients and error terms by central finite differences of the loss;
they share nothing with derive's vectorised chain but the spec they read.
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from derive.cli import main
from derive.numeric.network import step
from derive.problemset import KINDS, Options, generate, generate_problem
from derive.problemset.common import shown
from derive.spec import from_dict
from derive.symbolic.definitions import ACTIVATIONS
from render import render_problems
from render.latex import compile_pdf

from conftest import requires_pdflatex

ALL = list(KINDS)
H = 1e-6

# ---------------------------------------------------------------- the second route, by hand

ACT = {"sigmoid": lambda z: 1 / (1 + math.exp(-z)), "tanh": math.tanh,
       "relu": lambda z: max(0.0, z), "linear": lambda z: z,
       # the activations of issue 3, written out with math (alpha: the spec's, else default)
       "leaky_relu": lambda z, alpha=0.01: z if z > 0 else alpha * z,
       "elu": lambda z, alpha=1.0: z if z > 0 else alpha * (math.exp(z) - 1),
       "softplus": lambda z: math.log1p(math.exp(z)),
       "swish": lambda z: z / (1 + math.exp(-z)),
       "gelu": lambda z: z * (1 + math.erf(z / math.sqrt(2))) / 2}
# f' in the unit's output a (the lecture: sigmoid a(1 - a)) and in the net input z
DACT_OUT = {"sigmoid": lambda z, a: a * (1 - a), "tanh": lambda z, a: 1 - a * a,
            "relu": lambda z, a: 1.0 if a > 0 else 0.0, "linear": lambda z, a: 1.0}
LOSS = {"half_sse": lambda o, t: sum((tk - ok) ** 2 for ok, tk in zip(o, t)) / 2,
        "sse": lambda o, t: sum((tk - ok) ** 2 for ok, tk in zip(o, t)),
        "mse": lambda o, t: sum((tk - ok) ** 2 for ok, tk in zip(o, t)) / len(o),
        "bce": lambda o, t: -sum(tk * math.log(ok) + (1 - tk) * math.log(1 - ok)
                                 for ok, tk in zip(o, t)),
        "ce": lambda o, t: -sum(tk * math.log(ok) for ok, tk in zip(o, t) if tk)}
DLOSS = {"half_sse": lambda o, t, K: -(t - o), "sse": lambda o, t, K: -2 * (t - o),
         "mse": lambda o, t, K: -2 * (t - o) / K}


def forward(raw, x, nudge=None):
    """Net inputs and outputs unit by unit; nudge = (unit, h) adds h to that net input."""
    units = {j + 1: float(v) for j, v in enumerate(x)}
    nets, first, prev = {}, len(x) + 1, list(range(1, len(x) + 1))
    for layer in raw["layers"]:
        here = list(range(first, first + len(layer["biases"])))
        for u, k in enumerate(here):
            i = sum(w * units[j] for w, j in zip(layer["weights"][u], prev)) + layer["biases"][u]
            if nudge and nudge[0] == k:
                i += nudge[1]
            nets[k] = i
            units[k] = ACT[layer["activation"]](i)
        prev, first = here, first + len(here)
    return nets, units, prev


def loss_of(raw, example, nudge=None):
    _, units, out = forward(raw, example["input"], nudge)
    return LOSS[raw["loss"]]([units[k] for k in out], example["target"])


def params(raw):
    """(name, layer, row, col) of every weight and bias; col None for a bias."""
    out, first, prev = [], len(raw["layers"][0]["weights"][0]) + 1, None
    prev = list(range(1, first))
    for n, layer in enumerate(raw["layers"]):
        here = list(range(first, first + len(layer["biases"])))
        for u, k in enumerate(here):
            out += [(f"w{j}_{k}", n, u, v) for v, j in enumerate(prev)]
            out.append((f"b{k}", n, u, None))
        prev, first = here, first + len(here)
    return out


def nudged(raw, n, u, v, h):
    copy = json.loads(json.dumps(raw))
    if v is None:
        copy["layers"][n]["biases"][u] += h
    else:
        copy["layers"][n]["weights"][u][v] += h
    return copy


def fd_gradients(raw, examples):
    """dE/dparameter of the mean loss over examples, by central differences."""
    out = {}
    for name, n, u, v in params(raw):
        plus = np.mean([loss_of(nudged(raw, n, u, v, H), ex) for ex in examples])
        minus = np.mean([loss_of(nudged(raw, n, u, v, -H), ex) for ex in examples])
        out[name] = (plus - minus) / (2 * H)
    return out


def fd_errs(raw, example):
    """Err_k = -dE/di_k, by nudging each net input."""
    nets, _, _ = forward(raw, example["input"])
    return {f"Err{k}": -(loss_of(raw, example, (k, H)) - loss_of(raw, example, (k, -H))) / (2 * H)
            for k in nets}


def exact_chain(raw):
    """The whole step from the givens: forward, loss, Err and new values, second route."""
    ex = raw["examples"][0]
    nets, units, out = forward(raw, ex["input"])
    chain = {}
    for k in nets:
        chain[f"i{k}"], chain[f"o{k}"] = nets[k], units[k]
    chain["loss"] = loss_of(raw, ex)
    chain.update(fd_errs(raw, ex))
    for name, g in fd_gradients(raw, [ex]).items():
        chain[f"d{name}"] = g
    for name, n, u, v in params(raw):
        old = raw["layers"][n]["biases"][u] if v is None else raw["layers"][n]["weights"][u][v]
        chain[name] = old - raw["learning_rate"] * chain[f"d{name}"]
    return chain


def from_printed(problem):
    """backward / update: the lecture's formulas applied to the values the statement prints."""
    raw, g = problem.spec, problem.givens
    ex = raw["examples"][0]
    units = {j + 1: x for j, x in enumerate(ex["input"])}
    units.update({int(n[1:]): v for n, v in g.items() if n.startswith("o")})
    layers = raw["layers"]
    sizes = [len(ex["input"])] + [len(layer["biases"]) for layer in layers]
    starts = np.cumsum([1] + sizes)
    ids = [list(range(starts[n], starts[n] + sizes[n])) for n in range(len(sizes))]
    errs = {}
    if problem.kind == "update":
        errs = {int(n[3:]): v for n, v in g.items() if n.startswith("Err")}
    else:
        K = sizes[-1]
        for u, k in enumerate(ids[-1]):
            o, t = units[k], ex["target"][u]
            errs[k] = -DLOSS[raw["loss"]](o, t, K) * DACT_OUT[layers[-1]["activation"]](
                g[f"i{k}"], o)
        for n in range(len(layers) - 1, 0, -1):
            for u, j in enumerate(ids[n]):
                s = sum(layers[n]["weights"][v][u] * errs[k] for v, k in enumerate(ids[n + 1]))
                errs[j] = DACT_OUT[layers[n - 1]["activation"]](g[f"i{j}"], units[j]) * s
    out = {f"Err{k}": e for k, e in errs.items()}
    for n, layer in enumerate(layers, start=1):
        for u, k in enumerate(ids[n]):
            for v, j in enumerate(ids[n - 1]):
                out[f"dw{j}_{k}"] = -errs[k] * units[j]
                out[f"w{j}_{k}"] = layer["weights"][u][v] + raw["learning_rate"] * errs[k] * units[j]
            out[f"db{k}"] = -errs[k]
            out[f"b{k}"] = layer["biases"][u] + raw["learning_rate"] * errs[k]
    return out


# ------------------------------------------------------------------------------- checks


def second_route(p):
    """{name: value} for every answer of p, by the routes above; and the chains the
    tolerance must accept (name -> list of values)."""
    d = p.places
    if p.kind in ("forward", "step"):
        ex = exact_chain(p.spec)
        hand = step(from_dict(p.spec), 0, "hand", min(d.values()))
        flat = {**hand.forward, "loss": hand.loss, **hand.backward, **hand.update}
        return ex, {n: [flat[n]] for n in p.answers}
    if p.kind in ("backward", "update"):
        ex = exact_chain(p.spec)
        decimals = min(d.values()) - (p.kind == "backward")  # backward asks d + 1 places
        hand = step(from_dict(p.spec), 0, "hand", decimals)
        flat = {**hand.backward, **{f"d{k}": v for k, v in hand.gradients.items()},
                **hand.update}
        return from_printed(p), {n: [ex[n], flat[n]] for n in p.answers}
    if p.kind == "activation":
        params = {k: p.spec[k] for k in ("alpha",) if k in p.spec}
        f = (lambda g: lambda z: g(z, **params))(ACT[p.spec["activation"]])
        z = p.spec["z"]
        # the student's route: f' written in the output, from the output rounded as shown
        out_form = dict(DACT_OUT, elu=lambda z, a: 1.0 if a > 0 else a + params["alpha"],
                        leaky_relu=lambda z, a: 1.0 if a > 0 else params["alpha"],
                        softplus=lambda z, a: 1 - math.exp(-a))
        name = p.spec["activation"]
        routes = {"fprime": [out_form[name](z, shown(f(z), p.places["f"]))]} \
            if name in out_form else {}
        return {"f": f(z), "fprime": (f(z + H) - f(z - H)) / (2 * H)}, routes
    if p.kind == "loss":
        return {"loss": LOSS[p.spec["loss"]](p.spec["outputs"], p.spec["targets"]),
                **range_by_hand(p)}, {}
    if p.kind == "descent":
        return descent_by_hand(p), descent_rounded(p)
    if p.kind == "minima":
        return minima_by_hand(p), {}
    if p.kind == "batch":
        from derive.numeric.network import Rounding
        from derive.problemset.kinds.batch import batch_step

        d = p.places["w1_4"] if "w1_4" in p.places else min(p.places.values())
        hand = batch_step(from_dict(p.spec), p.givens["batch"], Rounding(d))[0]
        return batch_by_hand(p), {n: [v] for n, v in hand.items()}
    raise AssertionError(p.kind)


def range_by_hand(p):
    """Sigmoid outputs in (0, 1), targets 0/1: each unit's squared error lies in [0, 1)."""
    K = len(p.spec["targets"])
    assert p.spec["output_activation"] == "sigmoid"
    per_unit_max = {"half_sse": 0.5, "sse": 1.0, "mse": 1.0 / K}.get(p.spec["loss"])
    out = {"loss_min": 0.0}
    if per_unit_max is not None:
        out["loss_max"] = K * per_unit_max
    return out


def descent_by_hand(p):
    data, c, eta = p.spec["data"], p.spec["start"], p.spec["learning_rate"]

    def E(c):
        return sum((c * x - y) ** 2 for x, y in data) / len(data)

    out = {"grad0": (E(c + H) - E(c - H)) / (2 * H)}
    for k in range(1, 4):
        c = c - eta * (E(c + H) - E(c - H)) / (2 * H)
        out[f"c{k}"] = c
    # the largest convergent learning rate, found by running descent just below and above it
    curvature = (E(1 + 1e-3) - 2 * E(1) + E(1 - 1e-3)) / 1e-6
    out["eta_max"] = 2 / curvature
    out["diverges"] = 1.0 if eta * curvature > 2 else 0.0
    return out


def descent_rounded(p):
    """The iterates rounded as one goes: the gradient to one place more than c."""
    data, c, eta, d = p.spec["data"], p.spec["start"], p.spec["learning_rate"], p.places["c1"]
    out = {}
    for k in range(1, 4):
        g = shown(2 / len(data) * sum((c * x - y) * x for x, y in data), d + 1)
        c = shown(c - eta * g, d)
        out[f"c{k}"] = [c]
    return out


def minima_by_hand(p):
    coeffs = [0.0] * 5
    for c, k in p.spec["terms"]:
        coeffs[4 - k] = c
    f = np.poly1d(coeffs)
    stationary = sorted(float(r.real) for r in f.deriv().roots)
    minima = [x for x in stationary if f.deriv(2)(x) > 0]
    maxima = [x for x in stationary if f.deriv(2)(x) < 0]
    glob = min(minima, key=f)
    loc = max(minima, key=f)
    slope = [float(c) for c in f.deriv().coeffs]
    x = p.spec["start"]
    for _ in range(20000):
        g = 0.0
        for c in slope:  # Horner
            g = g * x + c
        x -= 1e-3 * g
    return {"x_global": glob, "x_local": loc, "x_max": maxima[0], "f_global": f(glob),
            "f_local": f(loc), "end": x}


def batch_by_hand(p):
    raw = p.spec
    batch = raw["examples"][:p.givens["batch"]]
    g = fd_gradients(raw, batch)
    out = {f"d{n}": v for n, v in g.items()}
    for name, n, u, v in params(raw):
        old = raw["layers"][n]["biases"][u] if v is None else raw["layers"][n]["weights"][u][v]
        out[name] = old - raw["learning_rate"] * g[name]
    out["loss"] = float(np.mean([loss_of(raw, ex) for ex in batch]))
    out["batch_size"] = p.givens["examples"] / p.givens["updates_per_epoch"]
    return out


def check_problem(p):
    ref, chains = second_route(p)
    assert set(p.answers) <= set(ref) | {"diverges"}, p.kind
    for name, value in p.answers.items():
        tol = p.tolerance[name]
        close = 2e-4 if p.kind == "minima" and name == "end" else 1e-5
        assert value == pytest.approx(ref[name], abs=close), (p.id, name)
        assert abs(value - ref[name]) <= tol, (p.id, name)
        # accept holds one rounding interval per distinct right value at the places shown (the
        # key's chain and the others): each exactly one unit of the last place wide, centred
        # on a chain's rounded value, and every chain's rounded value in one of them
        if name == "diverges":
            assert tol == 0 and p.accept[name] == [[value, value]]
            continue
        unit = 10.0 ** -p.places[name]
        # (a finite-difference value is good to ~1e-9: rounded there first, so that an
        # exact tie such as 0.0895 is not read as 0.08949999999)
        rights = {shown(round(v, 9), p.places[name]) for v in [value, *chains.get(name, [])]}
        assert len(p.accept[name]) == len(rights), (p.id, name)
        for lo, hi in p.accept[name]:
            assert hi - lo == pytest.approx(unit, abs=1e-12), (p.id, name)
            assert any(abs((lo + hi) / 2 - r) < 1e-9 for r in rights), (p.id, name)
        assert tol == pytest.approx(unit / 2, abs=1e-15)


@pytest.mark.parametrize("kind", ALL)
def test_every_answer_by_a_second_route(kind):
    pset = generate([kind], 12, 2024, Options(choices=4))
    for v in pset.variants:
        for p in v.problems:
            check_problem(p)


@pytest.mark.parametrize("loss", ["half_sse", "sse", "mse"])
def test_losses_and_their_ranges(loss):
    pset = generate(["loss", "step", "backward"], 8, 5, Options(loss=loss))
    for v in pset.variants:
        for p in v.problems:
            check_problem(p)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_other_activations(activation):
    pset = generate(["forward", "backward", "update", "step", "activation"], 8, 11,
                    Options(activation=activation, network=(2, 3, 2)))
    for v in pset.variants:
        for p in v.problems:
            check_problem(p)
            if p.kind == "activation":
                continue
            if activation == "relu":  # no dead ReLU: every unit passes gradient
                assert all(row["net"] > 0 for row in p.solution.forward)


def test_lecture_network_shape_and_answer_names():
    pset = generate(["step"], 1, 1)
    p = pset.variants[0].problems[0]
    assert list(p.answers)[:6] == ["i4", "o4", "i5", "o5", "i6", "o6"]
    assert {"loss", "Err6", "Err5", "Err4", "w1_4", "b4", "w4_6", "b6"} <= set(p.answers)
    b = generate(["backward"], 1, 1).variants[0].problems[0]
    assert {"Err4", "dw1_4", "db4", "dw4_6"} <= set(b.answers)


# ------------------------------------------------------------------ constraints, stress


def constraints(p):
    d = p.places
    if p.kind in ("forward", "backward", "update", "step"):
        for row in p.solution.forward:
            assert abs(row["net"]) <= 3
        for row in p.solution.backward:
            assert abs(row["Err"]) >= 0.0009  # hand-rounded chain; the exact one is >= 0.001
            assert row["fprime"] != 0  # no dead unit
        for values in ([ex["input"] for ex in p.spec["examples"]]
                       + [w for layer in p.spec["layers"] for w in layer["weights"]]):
            assert all(round(x, 2) == x for x in values)
    # no two answers read alike unless the network forces it (see network._tie_ok)
    names = [n for n in p.answers if n not in ("diverges", "batch_size", "end")]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if shown(p.answers[a], d[a]) == shown(p.answers[b], d[b]):
                assert p.answers[a] == p.answers[b], (p.id, a, b)
                assert a[0] == b[0] or (a[1:] == b[1:] and {a[0], b[0]} == {"i", "o"})
    for name, options in p.choices.items():
        texts = [shown(c["value"], d[name]) for c in options]
        assert len(set(texts)) == len(texts), (p.id, texts)
        right = [c for c in options if c["correct"]]
        assert len(right) == 1 and right[0]["value"] == p.answers[name]
        assert sum(t == shown(p.answers[name], d[name]) for t in texts) == 1


def test_stress_all_kinds_200_seeds():
    for seed in range(200):
        pset = generate(ALL, 1, seed, Options(choices=4 if seed % 2 else None))
        for p in pset.variants[0].problems:
            constraints(p)
        files = {fmt: render_problems(pset, fmt) for fmt in ("latex", "markdown")}
        for fmt, out in files.items():
            assert pset.variants[0].id in out["problems"] and pset.variants[0].id in out["solutions"]
        json.loads(files["latex"]["answers"])


def test_variants_are_unlike_and_independent_of_how_many():
    few = generate(ALL, 3, 99, Options(choices=4)).answers()
    many = generate(ALL, 12, 99, Options(choices=4)).answers()
    assert many["variants"][:3] == few["variants"]
    for k, kind in enumerate(ALL):
        specs = [json.dumps(v["problems"][k]["spec"], sort_keys=True) for v in many["variants"]]
        assert len(set(specs)) == len(specs), kind
    # one kind's problem does not depend on which other kinds are asked for
    alone = generate(["step"], 3, 99, Options(choices=4)).answers()
    assert [v["problems"][0] for v in alone["variants"]] == \
        [v["problems"][ALL.index("step")] for v in few["variants"]]


def test_a_problem_is_its_seed_and_number():
    a = generate_problem("backward", 5, 3, Options())
    b = generate_problem("backward", 5, 3, Options())
    assert a.key() == b.key()


@requires_pdflatex
@pytest.mark.slow
def test_every_kind_compiles_in_latex():
    pset = generate(ALL, 2, 8, Options(choices=4))
    out = render_problems(pset, "latex")
    for doc in ("problems", "solutions"):
        assert compile_pdf(out[doc]).startswith(b"%PDF")
        assert out[doc].count("\\closevariant\n") == 2  # each variant ends on its own page


# ------------------------------------------------------------------------------- the CLI


def run(*args):
    return CliRunner().invoke(main, ["problems", *args], catch_exceptions=False)


def test_cli_writes_its_files_and_answers_json_shape(tmp_path):
    out = tmp_path / "exam"
    r = run("--kinds", "forward,backward,update", "--variants", "3", "--seed", "7",
            "--format", "latex", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "generating" not in r.output  # no progress bar when stderr is not a terminal
    assert sorted(p.name for p in out.iterdir()) == ["answers.json", "problems.tex",
                                                      "solutions.tex", "submissions.csv"]
    key = json.loads((out / "answers.json").read_text())
    assert key["seed"] == 7 and [v["variant"] for v in key["variants"]] == [1, 2, 3]
    p = key["variants"][0]["problems"][0]
    assert {"kind", "spec", "answers", "tolerance"} <= set(p)
    assert set(p["answers"]) == set(p["tolerance"])
    from_dict(p["spec"])  # the spec is a valid network spec (same keys as the TOML)
    tex = (out / "problems.tex").read_text()
    assert tex.count("\\closevariant\n") == 3 and "S7-V03" in tex and "tikzpicture" in tex


def test_cli_markdown_has_mermaid(tmp_path):
    r = run("--kinds", "step", "--variants", "2", "--seed", "1", "--format", "markdown",
            "-o", str(tmp_path / "md"))
    assert r.exit_code == 0
    md = (tmp_path / "md" / "problems.md").read_text()
    assert "```mermaid" in md and "S1-V02" in md
    assert (tmp_path / "md" / "solutions.md").exists()


def test_cli_is_byte_identical(tmp_path):
    for name in ("a", "b"):
        assert run("--kinds", ",".join(ALL), "--variants", "4", "--seed", "3", "--choices",
                   "4", "-o", str(tmp_path / name)).exit_code == 0
    for f in ("problems.tex", "solutions.tex", "answers.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_cli_refuses_non_empty_directory_without_force(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    r = run("--kinds", "forward", "-o", str(tmp_path))
    assert r.exit_code == 2 and "not empty" in r.output and "--force" in r.output
    assert run("--kinds", "forward", "-o", str(tmp_path), "--force").exit_code == 0
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("args, message", [
    (["--kinds", "forward", "--variants", "0"], "--variants"),
    (["--kinds", "forwrd"], "did you mean 'forward'"),
    (["--kinds", "forward", "--decimals", "-1"], "--decimals"),
    (["--kinds", "forward", "--network", "3,x"], "--network"),
    (["--kinds", "forward", "--activation", "sigmod"], "did you mean 'sigmoid'"),
    (["--kinds", "forward", "--loss", "hinge"], "unknown loss"),
    (["--kinds", "forward", "--lr", "0"], "--lr"),
    pytest.param(["--kinds", "step", "--activation", "step"], "no gradient",
                 marks=pytest.mark.skipif("step" not in ACTIVATIONS,
                                          reason="the step activation is not registered")),
])
def test_cli_bad_options_exit_2(tmp_path, args, message):
    r = CliRunner().invoke(main, ["problems", *args, "-o", str(tmp_path / "x")])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_a_newly_registered_loss_works_and_its_range_is_unbounded():
    """Kinds read the registries: a loss added by registration needs no change here."""
    from derive.symbolic.definitions import LOSSES, LossDef, register_loss

    register_loss(LossDef("test_log_loss", "-t*log(o)", "a log loss, for this test"))
    try:
        for v in generate(["loss"], 4, 3, Options(loss="test_log_loss")).variants:
            p = v.problems[0]
            o, t = p.spec["outputs"], p.spec["targets"]
            assert p.answers["loss"] == pytest.approx(
                -sum(tk * math.log(ok) for ok, tk in zip(o, t)), abs=1e-12)
            assert p.answers["loss_min"] == 0 and "loss_max" not in p.answers
            assert p.facts["range"]["high"] is None
    finally:
        del LOSSES["test_log_loss"]


def test_linear_outputs_reach_the_minimum_and_are_unbounded():
    p = generate(["loss"], 1, 4, Options(loss="half_sse", activation="linear")).variants[0] \
        .problems[0]
    assert p.facts["range"] == {"low": 0.0, "low_reached": True, "high": None,
                                "high_reached": False}


def test_dead_units_only_when_asked(tmp_path):
    """--dead-units: every variant has a dead ReLU hidden unit (output 0, error term 0, its
    incoming weights unchanged); without it, no unit is dead (the slide's 'units can die')."""
    import json as _json

    from click.testing import CliRunner as _Runner

    from derive.cli import main as _main
    from derive.spec import from_dict as _from_dict

    out = tmp_path / "dead"
    r = _Runner().invoke(_main, ["problems", "--kinds", "step", "--activation", "relu",
                                 "--dead-units", "--variants", "6", "--seed", "5", "--format",
                                 "markdown", "-o", str(out)])
    assert r.exit_code == 0, r.output
    key = _json.loads((out / "answers.json").read_text())
    for variant in key["variants"]:
        problem = variant["problems"][0]
        spec = _from_dict(problem["spec"])
        a = problem["answers"]
        hidden = list(spec.units(1))
        dead = [k for k in hidden if a[f"o{k}"] == 0.0]
        assert dead, variant["id"]
        for k in dead:
            # independent route: relu'(i) = 0 for i <= 0, so Err_k = 0 and no weight into k moves
            assert a[f"i{k}"] <= 0 and a[f"Err{k}"] == 0.0
            u = hidden.index(k)
            for v, j in enumerate(spec.units(0)):
                assert a[f"w{j}_{k}"] == spec.layers[0].weights[u][v]
    plain = derive_problems_answers(tmp_path / "alive")
    for variant in plain["variants"]:
        a = variant["problems"][0]["answers"]
        assert all(a[k] != 0.0 for k in a if k.startswith("o"))


def derive_problems_answers(out):
    import json as _json

    from click.testing import CliRunner as _Runner

    from derive.cli import main as _main

    r = _Runner().invoke(_main, ["problems", "--kinds", "step", "--activation", "relu",
                                 "--variants", "6", "--seed", "5", "--format", "markdown", "-o",
                                 str(out)])
    assert r.exit_code == 0, r.output
    return _json.loads((out / "answers.json").read_text())


@pytest.mark.parametrize("args", [
    ["--kinds", "step", "--dead-units"],  # sigmoid units do not die
    ["--kinds", "step", "--activation", "relu", "--network", "3,1", "--dead-units"],
    ["--kinds", "loss", "--activation", "relu", "--dead-units"],
])
def test_dead_units_refused_where_they_cannot_be(args, tmp_path):
    from click.testing import CliRunner as _Runner

    from derive.cli import main as _main

    r = _Runner().invoke(_main, ["problems", *args, "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--dead-units" in r.output


def test_distractors_outside_the_loss_domain_print_no_warning():
    """--choices with bce: the 'activation left out' distractor pushes an output past 1, where
    bce's log is undefined; that chain's loss is NaN (no distractor offers it) and nothing is
    printed, not a NumPy RuntimeWarning (found by hand: seed 3, 10 variants)."""
    import warnings

    import derive

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = derive.problems("step", variants=10, seed=3, loss="bce", choices=4)
        key = p.answers
    for v in key["variants"]:
        for prob in v["problems"]:
            for options in prob["choices"].values():
                assert all(math.isfinite(o["value"]) for o in options)
                assert sum(o["correct"] for o in options) == 1
