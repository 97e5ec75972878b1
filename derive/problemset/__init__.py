"""Problem sets: seeded variants of exam problems with their answers and worked solutions.

A kind is one entry of KINDS: a function (rng, options, id) -> Problem.  Variant k of a seed
is drawn from its own generator, SeedSequence([seed, k, kind]), so it is the same whatever
--variants is and whichever other kinds are asked for.  Drawn numbers that make a poor
problem (a saturated unit, two answers that read the same, ...) are drawn again.
No formatting here: render/ and templates/ lay the problems out.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from derive.errors import DeriveError, unknown
from derive.problemset.common import MAX_ATTEMPTS, Options, Problem, Redraw


@dataclass(frozen=True)
class Kind:
    name: str
    title: str  # the heading of its problems
    description: str
    generate: Callable  # (rng, options, id) -> Problem
    network: bool = True  # does its statement draw a network?


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def kind_titles() -> dict[str, str]:
    """Each kind's heading, as data for render (which imports nothing from derive)."""
    return {name: k.title for name, k in KINDS.items()}


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise unknown("problem kind", name, KINDS) from None


@dataclass(frozen=True)
class Variant:
    number: int
    id: str
    problems: tuple[Problem, ...]

    @property
    def losses(self) -> tuple[dict, ...]:
        """The derivation records of the losses its problems use (the instructions state
        each convention), in the order they first appear."""
        from derive.symbolic import cache
        from derive.symbolic.definitions import loss_def

        names = dict.fromkeys(p.spec["loss"] for p in self.problems
                              if isinstance(p.spec.get("loss"), str))
        return tuple(cache.loss(loss_def(name)) for name in names)

    @property
    def backpropagates(self) -> bool:
        """Does a problem compute error terms from the weights (backward, step, batch)?"""
        return any(p.kind in ("backward", "step", "batch") for p in self.problems)

    @property
    def chained(self) -> tuple[int, ...]:
        """--chain: the numbers of the problems that follow one network (empty without)."""
        return tuple(n for n, p in enumerate(self.problems, start=1) if p.chain is not None)


@dataclass(frozen=True)
class ProblemSet:
    seed: int
    kinds: tuple[str, ...]
    options: Options
    variants: tuple[Variant, ...]

    @property
    def titles(self) -> dict[str, str]:
        """Each kind's heading (the documents' and quizzes' problem titles)."""
        return kind_titles()

    @property
    def pictured(self) -> frozenset[str]:
        """The kinds whose statements draw the network."""
        return frozenset(name for name, k in KINDS.items() if k.network)

    def answers(self) -> dict:
        """answers.json (DESIGN.md): the seed, then per variant its problems' keys, every
        number at 15 significant digits."""
        # Options.to_dict() and Problem.key() give their numbers at 15 digits already
        return {"seed": self.seed, "kinds": list(self.kinds),
                "options": self.options.to_dict(),
                "variants": [{"variant": v.number, "id": v.id,
                              "problems": [p.key() for p in v.problems]}
                             for v in self.variants]}


def fifteen(value):
    """Every float of a JSON-shaped value at 15 significant digits (DESIGN.md: JSON numbers
    never show binary noise: -1.7, not -1.7000000000000002); a double read from 15 digits
    prints back as exactly those digits."""
    kind = type(value)  # the exact types first: a key has some 200 values per problem
    if kind is float or isinstance(value, float):  # + 0.0: -0.0 is written 0.0
        return float(f"{value:.15g}") + 0.0 if math.isfinite(value) else value
    if kind in _PLAIN:
        return value
    # a float or a plain value inside without a call (most of a key's values)
    if kind is dict or isinstance(value, dict):
        return {k: float(f"{v:.15g}") + 0.0 if type(v) is float and _isfinite(v)
                else v if type(v) in _PLAIN else fifteen(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [float(f"{v:.15g}") + 0.0 if type(v) is float and _isfinite(v)
                else v if type(v) in _PLAIN else fifteen(v) for v in value]
    return value


_PLAIN = frozenset((str, int, bool, type(None)))
_isfinite = math.isfinite


def variant_id(seed: int, number: int) -> str:
    return f"S{seed}-V{number:02d}"


def _fingerprint(problem: Problem) -> str:
    """What makes two problems of a kind alike: their givens (a kind builds its spec's keys
    in one order, so repr is as good as sorted JSON, and quicker)."""
    return repr((problem.kind, problem.spec))


def generate_problem(name: str, seed: int, number: int, options: Options, seen=()) -> Problem:
    """Problem `name` of variant `number`: redrawn until it is a good one, and unlike `seen`."""
    k = kind(name)
    tag = zlib.crc32(name.encode())
    pid = f"{variant_id(seed, number)}-{name}"
    last = None
    for attempt in range(MAX_ATTEMPTS):
        rng = np.random.default_rng(np.random.SeedSequence([seed, number, tag, attempt]))
        try:
            problem = k.generate(rng, options, pid)
        except Redraw as why:
            last = why
            continue
        if _fingerprint(problem) in seen:
            last = "the same as an earlier variant"
            continue
        return problem
    if last == "the same as an earlier variant":
        raise DeriveError(f"there are not enough different '{name}' problems with these "
                          f"options for {number} variants; ask for fewer --variants or vary "
                          f"more (leave out --activation / --loss / --lr)")
    raise DeriveError(f"could not draw a good '{name}' problem with these options after "
                      f"{MAX_ATTEMPTS} tries (last reason: {last}); try more --decimals or a "
                      f"larger --network")


def _digest(text: str) -> bytes:
    """A short stand-in for a fingerprint: the set of them stays small for 10,000 variants."""
    return hashlib.blake2b(text.encode(), digest_size=12).digest()


class _Seen:
    """The fingerprints of the problems drawn so far, kept as short digests."""

    def __init__(self):
        self.digests: set[bytes] = set()

    def __contains__(self, text: str) -> bool:
        return _digest(text) in self.digests

    def add(self, text: str) -> None:
        self.digests.add(_digest(text))


def prepare(kinds, variants: int, options: Options) -> tuple[tuple[str, ...], list]:
    """The kinds checked (and the chained ones, with options.chain), before any drawing."""
    from derive.problemset import chain

    kinds = tuple(kinds)
    for name in kinds:
        kind(name)
    if variants < 1:
        raise DeriveError(f"--variants must be at least 1, not {variants}")
    linked = chain.chained(kinds) if options.chain else []
    if options.chain:
        chain.check_chain(kinds)
    return kinds, linked


def new_seen(kinds) -> dict:
    """Empty fingerprint sets: one per kind, and the chain's."""
    return {name: _Seen() for name in (*kinds, "chain")}


def draw_variant(kinds, linked, seed: int, number: int, options: Options, seen: dict):
    """Variant `number`, unlike the problems whose fingerprints are in `seen` (which gets
    this variant's), and the digests it added: [(set, digest), ...].  A variant depends on
    the earlier ones only through `seen`: drawn with empty sets it is the same variant
    whenever none of the digests it added was in the sets of the earlier variants
    (derive.problemset.parallel draws variants so, in other processes)."""
    from derive.problemset import chain

    added = []

    def note(key, text):
        digest = _digest(text)
        seen[key].digests.add(digest)
        added.append((key, digest))

    group = {}
    if linked:
        group = chain.generate_chain(kinds, seed, number, options, variant_id(seed, number),
                                     seen["chain"])
        note("chain", chain.fingerprint(next(iter(group.values()))))
    problems = []
    for name in kinds:
        if name in group:
            p = group[name]
        else:
            p = generate_problem(name, seed, number, options, seen[name])
            note(name, _fingerprint(p))
        problems.append(p)
    return Variant(number, variant_id(seed, number), tuple(problems)), added


def iter_variants(kinds, variants: int, seed: int, options: Options = Options(),
                  progress=None):
    """The variants one by one (each with one problem of every kind in `kinds`), so that a
    writer can stream them: memory does not grow with their number.  With options.chain the
    forward, loss, backward and update problems of a variant share one network."""
    kinds, linked = prepare(kinds, variants, options)
    seen = new_seen(kinds)
    for number in range(1, variants + 1):
        yield draw_variant(kinds, linked, seed, number, options, seen)[0]
        if progress is not None:
            progress(number)


def generate(kinds, variants: int, seed: int, options: Options = Options(),
             progress=None) -> ProblemSet:
    """`variants` variants, each with one problem of every kind in `kinds`, held together."""
    kinds = tuple(kinds)
    out = tuple(iter_variants(kinds, variants, seed, options, progress))
    return ProblemSet(seed, kinds, options, out)


from derive.problemset import kinds as _kinds  # noqa: E402,F401  (registers the kinds)
