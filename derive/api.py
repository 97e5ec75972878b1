"""The Python API: what the `derive` command does, one import away.

    >>> import derive
    >>> derive.example().forward["o4"]
    0.33181222783183395

Every function here takes plain values, raises DeriveError for a user's mistake, and returns
a result object that holds the numbers (as dicts under DESIGN.md's names), renders itself
(to_markdown, to_latex, to_text, to_html, to_json) and displays itself in a notebook
(_repr_markdown_, _repr_latex_).  The CLI is a thin layer over exactly these functions.

This module is the public surface (`import derive` re-exports it lazily): the functions, and
the result types they return, which live in derive.results.  What is not the API lives where
it belongs: reading option text in derive.options, the files of a problem set in
derive.problem_files, writing files in derive.output, the documents in derive.documents.
"""

from __future__ import annotations

from pathlib import Path

from derive.errors import DeriveError, check_decimals
from derive.options import (MAX_VARIANTS, PAPERS, as_text, finite, network_sizes,
                            problem_kinds)
from derive.results import (Check, Derivation, Descent, Document, Example, Grades, Graph,
                            Problems, Training)

__all__ = ["load_spec", "example", "activation", "loss", "graph", "train", "descend", "check",
           "problems", "grade", "Problems", "Derivation", "Graph", "Document", "Example",
           "Training", "Descent", "Check", "Grades"]


def load_spec(path_or_dict=None):
    """A validated network spec from a TOML file, a dict of the same keys, or None (the
    lecture's example)."""
    from derive import spec

    if path_or_dict is None:
        return spec.LECTURE
    if isinstance(path_or_dict, spec.Spec):
        return path_or_dict
    if isinstance(path_or_dict, dict):
        return spec.from_dict(path_or_dict, "spec")
    if isinstance(path_or_dict, (str, Path)):
        return spec.load(path_or_dict)
    raise DeriveError(f"a spec is a TOML file's path, a dict or None, not "
                      f"{type(path_or_dict).__name__}")


def example(spec=None, activation: str | None = None, loss: str | None = None,
            lr: float | None = None, rounding: str = "exact", decimals: int = 3,
            example: int = 1) -> Example:
    """One training step on one example (the first by default), worked as on the slides.

    spec: a TOML path, a dict or None for the lecture's example; activation replaces every
    layer's; loss and lr replace the spec's; rounding "exact" or "hand" (round as one goes,
    `decimals` places, one more for error terms, gradients and the loss).
    """
    spec = load_spec(spec)
    if activation is not None:
        spec = spec.with_activation(activation)
    if loss is not None:
        spec = spec.with_loss(loss)
    if lr is not None:
        spec = spec.with_learning_rate(lr)
    check_decimals(decimals)
    if isinstance(example, bool) or not isinstance(example, int) or example < 1:
        raise DeriveError(f"example must be a whole number from 1, not {example!r}")
    if example > len(spec.examples):
        raise DeriveError(f"example {example}: the spec has only {len(spec.examples)} "
                          f"example(s)")
    return Example(spec, example - 1, rounding, decimals)


def train(spec=None, mode: str | None = None, *, batch_size: int | None = None,
          max_epochs: int = 100, min_change: float | None = None,
          target_loss: float | None = None, max_misclassified: float | None = None,
          shuffle: bool = False, seed: int | None = None, standardize: bool = False,
          init: str | None = None, lr: float | None = None, compare_modes: bool = False,
          decimals: int = 3, progress=None) -> Training:
    """Gradient descent over epochs: mode "batch", "sgd" or "minibatch" (with batch_size),
    or compare_modes=True for all three from the same start.

    Stops at the first of max_epochs, min_change, target_loss, max_misclassified (checked at
    the end of each epoch).  init "gaussian" or "uniform" (with seed) fills layers given
    only as size = N; standardize scales each input feature to mean 0, sd 1 first.
    progress(done, total) is called as the epochs go.
    """
    import math

    from derive import spec as specs
    from derive.numeric import train as training

    check_decimals(decimals)
    if compare_modes and mode is not None:
        raise DeriveError("--compare-modes runs batch, sgd and minibatch; leave out --mode")
    if not compare_modes and mode is None:
        raise DeriveError("--mode is required: --mode batch, --mode sgd or --mode minibatch "
                          "(or --compare-modes to run all three)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise DeriveError(f"--seed must be a whole number from 0, not {seed!r}")
    if shuffle and mode == "batch":
        raise DeriveError("--shuffle changes nothing in --mode batch (every update uses all "
                          "the examples); use it with --mode sgd or minibatch")
    criteria = training.Criteria(max_epochs, min_change, target_loss,
                                 max_misclassified).check()
    initializer = training.initializer(init, seed) if init else None
    if initializer is not None:
        if not isinstance(spec, (str, Path)):
            raise DeriveError("--init needs --spec: a spec whose layers give only size = N")
        spec = specs.load(spec, initializer)
    else:
        spec = load_spec(spec)
    if lr is not None:
        spec = spec.with_learning_rate(lr)
    info = None
    if standardize:
        spec, info = training.standardize(spec)
    n = len(spec.examples)
    if compare_modes:
        plan = [("batch", None), ("sgd", None),
                ("minibatch", batch_size if batch_size is not None else max(1, math.ceil(n / 2)))]
    else:
        plan = [(mode, batch_size)]
    for m, b in plan:  # refuse impossible combinations before any work
        training.check_mode(m, b, n)
    training.check_work(plan, n, len(spec.parameter_names()), criteria.max_epochs)
    runs = []
    for k, (m, b) in enumerate(plan):
        def report(epoch, total, k=k):
            if progress is not None:
                progress(k * total + epoch, len(plan) * total)

        runs.append(training.train(spec, m, b, criteria, shuffle and m != "batch", seed,
                                   progress=report))
    return Training(spec, runs, compare_modes, decimals, (init, seed) if init else None, info)


class _quiet:
    """No progress bar (the library's default; the CLI passes one that draws on stderr)."""

    def __init__(self, label, runs, steps):
        pass

    def __enter__(self):
        return lambda i: None

    def __exit__(self, *exc):
        return False


def descend(model: str | None = None, data=None, params=None, preset: str | None = None,
            function: str | None = None, start=None, lr=None, steps: int | None = None,
            decimals: int = 4, progress=_quiet) -> Descent:
    """Fit `model` (an expression in x and its parameters) to `data` pairs by gradient descent
    on the mean squared error from `params` (e.g. {"c": 3}), one run per learning rate in
    `lr`; or a `preset` ("shekels", "miles"); or minimise `function` of x from each `start`.

    Every expression goes through the safe parser: nothing is evaluated as code.
    """
    from derive.numeric import descend as dsc

    check_decimals(decimals)
    data, lr, start = as_text(data), as_text(lr), as_text(start)
    if isinstance(params, dict):
        params = [as_text(params)]
    elif isinstance(params, str):
        params = [params]
    params = tuple(params or ())
    if steps is not None and not 0 <= steps <= dsc.MAX_STEPS:
        raise DeriveError(f"--steps must be from 0 to {dsc.MAX_STEPS:,}, not {steps}")

    if function is not None:
        if model or data or params or preset:
            raise DeriveError("--function minimises a function of x directly; leave out "
                              "--model, --data, --param and --preset")
        if start is None:
            raise DeriveError("--function needs --start A,B,... (where each run starts)")
        if lr is None:
            raise DeriveError("--function needs --lr ETA")
        rates = dsc.parse_rates(lr)
        if len(rates) != 1:
            raise DeriveError("--function takes one learning rate (several rates compare "
                              "fits of a model: use them with --model or --preset)")
        starts = dsc.parse_numbers(start, "--start")
        n = 100 if steps is None else steps
        dsc.check_work(len(starts), n, "--start")
        fn = dsc.compile_function(function)
        with progress("descending", 1, n) as bars:  # the starts go side by side
            runs = dsc.minimize_all(fn, starts, rates[0], n, bars(0))
        points = dsc.stationary_points(fn, runs)
        value = {"runs": [r.to_dict() for r in runs],
                 "stationary_points": [{"x": p["x"], "value": p["value"], "kind": p["kind"]}
                                       for p in points["points"]],
                 "function": fn.expression, "derivative": fn.derivative,
                 "lr": rates[0], "method": points["method"], "omitted": points["omitted"]}

        def document():
            from derive.documents.descent import minimize_document

            return minimize_document(fn, runs, points, decimals=decimals)

        return Descent(value, document)

    if start is not None:
        raise DeriveError("--start goes with --function; a model starts from --param")
    if preset is not None and preset not in dsc.PRESETS:
        from derive.errors import unknown

        raise unknown("preset", preset, dsc.PRESETS)
    chosen = dsc.PRESETS[preset] if preset else None
    if chosen is None and not (model and data and params):
        raise DeriveError("give --model, --data and --param (e.g. --model \"c*x\" --data "
                          "\"10:36.7,20:73.4\" --param c=3), a --preset (shekels, miles), "
                          "or --function")
    model_text = model if model is not None else chosen["model"]
    xs, ys = dsc.parse_data(data if data is not None else chosen["data"])
    start_params = dsc.parse_params(params or [chosen["param"]])
    if lr is None and chosen is None:
        raise DeriveError("--lr is needed: the learning rate (or several, e.g. "
                          "0.0001,0.001,0.02)")
    rates = dsc.parse_rates(lr if lr is not None else chosen["lr"])
    n = steps if steps is not None else (chosen["steps"] if chosen else 10)
    dsc.check_work(len(rates), n, "--lr")
    compiled = dsc.compile_model(model_text, list(start_params))
    with progress("descending", 1, n) as bars:  # the rates go side by side
        runs = dsc.fit_all(compiled, xs, ys, start_params, rates, n, bars(0))
    preset_doc = None
    if chosen:
        preset_doc = {"name": preset, "description": chosen["description"],
                      "overridden": [name for name, v in (("--model", model), ("--data", data),
                                                          ("--param", params), ("--lr", lr),
                                                          ("--steps", steps)) if v]}
    common = {"model": compiled.expression, "data": [[x, y] for x, y in zip(xs, ys)]}
    if preset_doc:
        common["preset"] = {"name": preset, "description": chosen["description"]}
    if len(runs) == 1:
        value = {**runs[0].to_dict(), **common}
        value = {"steps": value.pop("steps"), "diverged": value.pop("diverged"), **value}
    else:
        value = {"runs": [r.to_dict() for r in runs], **common}

    def document():
        from derive.documents.descent import fit_document

        return fit_document(compiled, xs, ys, runs, preset=preset_doc, decimals=decimals)

    return Descent(value, document)


def check(answers, spec=None, decimals: int | None = None, example: int | None = None) -> Check:
    """Mark a hand calculation.

    answers: an answers TOML file (which may name its own spec, decimals and example), or a
    dict {name: value} such as {"o4": "0.332", "Err6": "0.1311"} (give values as text to keep
    the places written: 0.330 is three places, TOML and floats say 0.33).  spec overrides the
    file's; decimals (default 3) and example (from 1) likewise.
    """
    from derive import marking

    if isinstance(answers, (str, Path)):
        af = marking.load_answers(answers)
        chosen = load_spec(spec if spec is not None else af.spec_path)
        values = dict(af.answers)
        decimals = af.decimals if decimals is None else decimals
        index = af.example if example is None else example - 1
        source = af.source
    elif isinstance(answers, dict):
        chosen = load_spec(spec)
        values = {str(k): (v if isinstance(v, str) else repr(v)) for k, v in answers.items()}
        decimals = 3 if decimals is None else decimals
        index = 0 if example is None else example - 1
        source = "answers"
    else:
        raise DeriveError(f"answers are a TOML file's path or a dict, not "
                          f"{type(answers).__name__}")
    check_decimals(decimals)
    try:
        if index >= len(chosen.examples) or index < 0:
            raise DeriveError(f"{source}: example {index + 1}, but the spec has only "
                              f"{len(chosen.examples)} example(s)")
        if not values:
            raise DeriveError(f"{source}: nothing to check: give values such as o4 = 0.332 "
                              f"or Err6 = 0.1311")
        return Check(marking.check(chosen, values, decimals, index))
    except DeriveError as exc:
        if not isinstance(answers, (str, Path)):
            raise
        raise DeriveError(marking.answers_line(str(exc), Path(answers), source)) from None


def problems(kinds, variants: int = 1, seed: int = 0, *, network=(3, 2, 1),
             activation: str | None = None, loss: str | None = None, lr: float | None = None,
             decimals: int = 3, choices: int | None = None, dead_units: bool = False,
             alpha: float | None = None, chain: bool = False, paper: str = "letter",
             duplex: bool = False, progress=None) -> Problems:
    """Problem sets in seeded variants: kinds "forward,backward,update" (or a list) from
    activation, loss, forward, backward, update, step, descent, batch, minima.  Variant k is
    the same whatever `variants` is; the same seed and options give the same files.
    dead_units=True asks for networks with a dead ReLU (flat) hidden unit, whose error term
    is 0 and whose incoming weights do not change; otherwise such draws are redrawn.
    chain=True follows one network through the forward, loss, backward and update problems
    of a variant (later problems use the student's earlier answers); paper ("letter" or
    "a4") and duplex (each variant starts on an odd page) lay out the LaTeX for print.
    Nothing is drawn until the result is written or read (progress(n) after variant n)."""
    from derive.problemset import Options
    from derive.problemset.chain import check_chain
    from derive.symbolic.definitions import activation_def, loss_def

    names = problem_kinds(kinds)
    sizes = network_sizes(network)
    for what, value, low, high in (("--variants", variants, 1, MAX_VARIANTS),
                                   ("--seed", seed, 0, None),
                                   ("--decimals", decimals, 1, 6), ("--choices", choices, 2, 6)):
        if value is None and what == "--choices":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                high is not None and value > high):
            valid = f"from {low} to {high}" if high is not None else f"from {low}"
            raise DeriveError(f"{what} must be a whole number {valid}, not {value!r}")
    if activation is not None:
        activation_def(activation)
    if loss is not None:
        loss_def(loss)
    if dead_units:
        chosen = activation or "sigmoid"
        if chosen not in ("relu",) or len(sizes) < 3:
            raise DeriveError("--dead-units asks for a dead ReLU hidden unit: give "
                              "--activation relu and a network with a hidden layer "
                              "(e.g. --network 3,2,1)")
        if any(k not in ("forward", "backward", "update", "step") for k in names):
            raise DeriveError("--dead-units goes with the network kinds: forward, backward, "
                              "update, step")
    if lr is not None and not (0 < lr < 100):
        raise DeriveError(f"--lr must be greater than 0 (and sensible), not {lr}")
    if alpha is not None:
        alpha = finite(alpha, "--alpha")
        if activation is None or "alpha" not in activation_def(activation).defaults:
            raise DeriveError("--alpha sets the parameter of leaky_relu or elu: give "
                              "--activation leaky_relu or --activation elu with it")
    if paper not in PAPERS:
        raise DeriveError(f"--paper must be one of {', '.join(PAPERS)}, not {paper!r}")
    if chain:
        check_chain(names)
    options = Options(network=sizes, activation=activation, loss=loss, lr=lr,
                      decimals=decimals, choices=choices, dead_units=bool(dead_units),
                      alpha=alpha, chain=bool(chain), paper=paper, duplex=bool(duplex))
    return Problems(names, variants, seed, options, progress=progress)


def activation(name: str | None = None, *, expr: str | None = None,
               alpha: float | None = None) -> Derivation:
    """An activation's derivative step by step, its form in the unit's output, its range and
    where its gradient vanishes: a registered name (sigmoid, tanh, relu, ...) or a custom
    expression in z (expr="z/(1 + abs(z))"), read by the safe parser, never evaluated.
    alpha sets the parameter of leaky_relu and elu (any real number; the form in the output
    holds only for alpha >= 0, and the document says why not below)."""
    from derive.documents import derivations
    from derive.symbolic.definitions import ACTIVATIONS, activation_def

    if expr is not None and name is not None:
        raise DeriveError("give either an activation NAME or --expr, not both")
    if expr is None and name is None:
        raise DeriveError(f"give an activation NAME ({', '.join(ACTIVATIONS)}) or --expr "
                          f"\"EXPRESSION in z\"")
    defn = derivations.custom_definition(expr) if expr is not None else activation_def(name)
    params = {}
    if alpha is not None:
        if "alpha" not in defn.defaults:
            raise DeriveError(f"--alpha: the activation '{defn.name}' has no parameter alpha "
                              f"(leaky_relu and elu have)")
        params["alpha"] = finite(alpha, "--alpha")
    doc = derivations.activation_document(defn, params)
    return Derivation("activation", doc, derivations.activation_json(doc))


def loss(name: str, output_activation: str | None = None) -> Derivation:
    """A loss's dE/do and its error term Err = -dE/di for an output activation (the
    cancellations of bce + sigmoid and ce + softmax to t - o), its range, and how much
    confidently wrong predictions cost."""
    from derive.documents import derivations

    doc = derivations.loss_document(name, output_activation)
    return Derivation("loss", doc, derivations.loss_json(doc))


def graph(expr: str, at: str | None = None, **values) -> Graph:
    """Forward primal and reverse adjoint trace of expr at a point, given as keywords
    (graph("log(x1) + x1*x2 - sin(x2)", x1=2, x2=5)) or as the CLI's text at="x1=2,x2=5"."""
    from derive.adtrace import parse_point, trace

    if at is not None and values:
        raise DeriveError("give the point either as at=\"x1=2,x2=5\" or as keywords, not both")
    point = parse_point(at) if at is not None else \
        parse_point(",".join(f"{k}={float(v)!r}" for k, v in values.items()))
    return Graph(trace(expr, point))


def grade(problem_set, submissions, *, points=None,
          carried_forward_credit: float = 1.0) -> Grades:
    """Mark a whole class: problem_set is the directory `derive problems` wrote (or its
    answers.json), submissions the class sheet (CSV: student, variant, then KIND.NAME
    columns).  points: a POINTS.toml path or a dict ({"forward.o4": 2, "forward": 1,
    "default": 1}); carried_forward_credit: the share of its points a value right only from
    the student's own wrong earlier values earns (0 to 1).  Each value is marked as
    `derive check` marks it."""
    from derive import grading, submissions as sheets

    key = grading.load_key(problem_set)
    if points is None:
        table = grading.points_table(key)
    elif isinstance(points, dict):
        table = grading.points_table(key, points, "points")
    elif isinstance(points, (str, Path)):
        table = grading.load_points(points, key)
    else:
        raise DeriveError(f"points are a POINTS.toml path or a dict, not "
                          f"{type(points).__name__}")
    if isinstance(carried_forward_credit, bool) or not isinstance(carried_forward_credit,
                                                                   (int, float)):
        raise DeriveError(f"carried_forward_credit must be a number from 0 to 1, not "
                          f"{carried_forward_credit!r}")
    if not isinstance(submissions, (str, Path)):
        raise DeriveError(f"submissions is the class sheet's path (CSV), not "
                          f"{type(submissions).__name__}")
    sheet = sheets.read(submissions, key.columns)
    return Grades(grading.grade(key, sheet, table, float(carried_forward_credit)))
