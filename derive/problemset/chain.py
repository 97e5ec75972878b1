"""--chain: the forward, loss, backward and update problems of a variant on one network.

As in the lecture's worked example, one network is followed through: the first chained
problem draws it, and each later one uses the student's own earlier answers ("use your values
from Problem 1") instead of printing them again.  Values no earlier chained problem asks for
(the error terms of an update when no backward problem is asked) are printed once, rounded, and
from then on belong to the chain: every later answer is computed from them.

The key holds each answer on the chain a student who makes no mistake follows (the exact one;
the tolerance also takes the chain rounded by hand as one goes); a problem after the first
names in `builds_on` the problems whose answers it uses, so that `derive grade` marks its
values from the student's own earlier ones, as `derive check` does.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np

from derive.errors import DeriveError
from derive.marking import Computation
from derive.numeric.network import StepTrace, step
from derive.numeric.ranges import loss_range
from derive.problemset.common import (MAX_ATTEMPTS, Problem, Redraw, answer_keys,
                                      check_distinct, check_finite, places_for)
from derive.problemset.kinds import functions as fn_kinds
from derive.problemset.kinds import network
from derive.spec import from_dict
from derive.documents.worked import worked_example

# the kinds a chain links, in the order they are computed
CHAIN_KINDS = ("forward", "loss", "backward", "update")
# what each kind takes from the chain: net inputs (i), outputs (o), the output layer's
# outputs (o_out), error terms (Err)
NEEDS = {"forward": (), "loss": ("o_out",), "backward": ("i", "o"), "update": ("o", "Err")}


def chained(kinds) -> list[str]:
    return [k for k in kinds if k in CHAIN_KINDS]


def check_chain(kinds) -> None:
    """--chain needs two kinds it links, asked in the order they are computed."""
    links = chained(kinds)
    if len(links) < 2:
        raise DeriveError(f"--chain follows one network through forward, loss, backward and "
                          f"update problems; ask for at least two of them (--kinds "
                          f"{','.join(kinds)} has {len(links) or 'none'})")
    order = sorted(links, key=CHAIN_KINDS.index)
    if links != order:
        raise DeriveError(f"--chain: a later problem builds on the answers of an earlier one, "
                          f"so ask for the kinds in the order they are computed: "
                          f"{','.join(order)} (not {','.join(links)})")


def _needed(spec, what: tuple) -> list[str]:
    L = len(spec.layers)
    names = []
    for n in range(1, L + 1):
        for k in spec.units(n):
            if "i" in what:
                names.append(f"i{k}")
            if "o" in what or ("o_out" in what and n == L):
                names.append(f"o{k}")
    if "Err" in what:
        names += [f"Err{k}" for n in range(L, 0, -1) for k in reversed(spec.units(n))]
    return names


def _family(name: str) -> str:
    return "Err" if name.startswith("Err") else name[0]


def _trace(spec, values: dict, decimals: int) -> StepTrace:
    """A step's values (marking's names) as the trace the worked document is laid out from."""
    L = len(spec.layers)
    forward = {f"{h}{k}": values[f"{h}{k}"] for n in range(1, L + 1) for k in spec.units(n)
               for h in ("i", "o")}
    backward = {f"Err{k}": values[f"Err{k}"] for n in range(L, 0, -1)
                for k in reversed(spec.units(n))}
    params = spec.parameter_names()
    return StepTrace(values["loss"], forward, backward,
                     {p: values[f"d{p}"] for p in params}, {p: values[p] for p in params},
                     "exact", decimals)


def _flat(trace: StepTrace) -> dict:
    return network._flat(trace)


def _asked(kind: str, spec, names) -> list[str]:
    if kind == "loss":
        return ["loss"]
    return network._asked(kind, spec, names)


def generate_chain(kinds, seed: int, number: int, options, variant: str, seen=()) -> dict:
    """The chained problems of one variant ({kind: Problem}), redrawn until every one of them
    is a good problem and the network is unlike the earlier variants' (`seen`)."""
    links = chained(kinds)
    numbers = {k: kinds.index(k) + 1 for k in links}
    tag = zlib.crc32(b"chain")
    last = None
    for attempt in range(MAX_ATTEMPTS):
        rng = np.random.default_rng(np.random.SeedSequence([seed, number, tag, attempt]))
        try:
            problems = _draw(rng, links, numbers, options, variant)
        except Redraw as why:
            last = why
            continue
        if fingerprint(next(iter(problems.values()))) in seen:
            last = "the same as an earlier variant"
            continue
        return problems
    if last == "the same as an earlier variant":
        raise DeriveError(f"there are not enough different networks with these options for "
                          f"{number} chained variants; ask for fewer --variants or vary more "
                          f"(leave out --activation / --loss / --lr)")
    raise DeriveError(f"could not draw a good network for the chained problems with these "
                      f"options after {MAX_ATTEMPTS} tries (last reason: {last}); try more "
                      f"--decimals or a larger --network")


def fingerprint(problem: Problem) -> str:
    """A chain is its network: two variants with the same spec would be the same."""
    return repr(problem.spec)


def _draw(rng, links: list[str], numbers: dict, options, variant: str) -> dict:
    raw = network.draw_spec(rng, options)
    if not options.dead_units:
        raw = network.revive(raw)
    spec = from_dict(raw, "generated network")
    d = options.decimals
    exact_t = step(spec, 0, "exact", d)
    hand_t = step(spec, 0, "hand", d)
    exact, hand = _flat(exact_t), _flat(hand_t)
    check_finite(exact)
    network._check_network(spec, exact, d, options.dead_units)

    # who gives each value a problem needs: an earlier problem that asks it (the student's
    # own value) or prints it; what nobody gave yet, the problem prints itself
    source: dict[str, str] = {}  # name -> kind of the problem that asks or prints it
    asked_by: dict[str, list[str]] = {}
    printed: dict[str, dict] = {}
    plan = {}
    for kind in links:
        needs = _needed(spec, NEEDS[kind])
        givens = {n: hand[n] for n in needs if n not in source}
        uses: dict[tuple, list] = {}  # (kind, the student's own?) -> names
        for n in needs:
            if n in source:
                k = source[n]
                uses.setdefault((k, n in asked_by[k]), []).append(n)
        for n in givens:
            source[n] = kind
        printed[kind] = givens
        asked = _asked(kind, spec, exact)
        asked_by[kind] = asked
        for n in asked:
            source.setdefault(n, kind)
        plan[kind] = (givens, uses)

    # every answer on the chain through the printed values (the exact one when none is printed)
    fixed = {n: v for g in printed.values() for n, v in g.items()}
    if fixed:
        # marking's computation (a batch of one network): each value from the printed ones
        comp = Computation(spec, 0, d)
        given = {n: np.array([v]) for n, v in fixed.items()}

        def row(values: dict) -> dict:
            return {n: float(np.ravel(x)[0]) for n, x in values.items()}

        on_chain = row(comp.chain(given)[2])
        on_hand = row(comp.chain(given, places=d)[2])
        traces = (_trace(spec, on_chain, d), _trace(spec, on_hand, d))
    else:
        traces = (exact_t, hand_t)
    values, values_hand = _flat(traces[0]), _flat(traces[1])
    check_finite(values)
    doc = worked_example(spec, 0, "exact", d, traces=traces)
    key_spec = spec.to_dict()

    problems = {}
    first = links[0]
    for kind in links:
        givens, uses = plan[kind]
        names = asked_by[kind]
        answers = {n: values[n] for n in names}
        places = {n: places_for(n, d) for n in names}
        facts, solution = {}, None
        if kind == "loss":
            answers, places, facts, solution = _loss_parts(spec, answers, places, values, doc)
        # the other right route: rounding by hand as one goes (from the printed values)
        keys = answer_keys(answers, places, {n: [values_hand[n]] for n in answers
                                             if n in values_hand})
        if kind == "loss" and facts["range"]["high"] is None:
            keys["words"]["loss_max"] = "unbounded"
        check_distinct(answers, places, lambda a, b: network._tie_ok(a, b, answers))
        if kind == "loss":
            choices = fn_kinds.loss_choices(rng, spec.loss, answers["loss"], len(solution[
                "loss_terms"]), places["loss"], options.choices)
        else:
            choices = network.multiple_choice(kind, spec, answers, givens, places, rng, options)
            solution = replace(doc, differences=tuple(
                x for x in doc.differences if x["name"].removeprefix("new ") in answers))
        refs = [{"number": numbers[k], "own": own,
                 "what": list(dict.fromkeys(_family(x) for x in n))}
                for (k, own), n in uses.items()]
        builds = list(dict.fromkeys(k for (k, own) in uses if own))
        problems[kind] = Problem(
            kind=kind, id=f"{variant}-{kind}", spec=key_spec, answers=answers, places=places,
            givens=givens, solution=solution, choices=choices, facts=facts, **keys,
            ask=tuple(choices) if choices else tuple(answers),
            builds_on=None if kind == first else tuple(f"{variant}-{k}" for k in builds),
            chain={"network": numbers[first], "first": kind == first, "uses": refs,
                   "learning_rate": spec.learning_rate})
    return problems


def _loss_parts(spec, answers, places, values, doc):
    """The loss problem on the chain's network: its value from the outputs, and its range over
    the outputs the output layer can give (with its parameters), for this example's targets:
    the same function as the loss kind's and `derive loss`."""
    L = len(spec.layers)
    units = list(spec.units(L))
    layer = spec.layers[-1]
    act_name, params = layer.activation, dict(layer.params)
    targets = np.array(spec.examples[0].target, dtype=float)
    full = loss_range(spec.loss, act_name, tuple(sorted(params.items())), tuple(targets))
    range_ = {k: full[k] for k in ("low", "low_reached", "high", "high_reached")}
    answers = {"loss": answers["loss"], "loss_min": range_["low"]}
    if range_["high"] is not None:
        answers["loss_max"] = range_["high"]
    places = {n: places["loss"] for n in answers}
    solution = fn_kinds.loss_solution(spec.loss, answers["loss"], range_,
                                      [values[f"o{k}"] for k in units], targets, units,
                                      act_name, params)
    solution["worked"] = doc  # the network, drawn when the loss problem comes first
    return answers, places, {"range": range_}, solution
