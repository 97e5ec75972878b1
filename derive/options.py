"""The options the API and the command take, read from the command's text or from the natural
Python value: "3,2,1" or (3, 2, 1), "forward,backward" or ["forward", "backward"], "0.1,0.2" or
[0.1, 0.2].  Each reader returns the value checked, or raises DeriveError naming the option as
the command spells it (--network, --kinds, --alpha), since the API's messages are the
command's.  Nothing here imports NumPy or SymPy until a reader needs a registry.
"""

from __future__ import annotations

import math

from derive.errors import DeriveError

MAX_VARIANTS = 10_000  # one per student: a large course (streamed, about 15 s)
PAPERS = ("letter", "a4")


def as_text(value, join=","):
    """Accept the CLI's text or the natural Python value: 0.01 / [0.1, 0.2] / {"c": 3}."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return join.join(f"{k}={v!r}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return join.join(":".join(map(repr, v)) if isinstance(v, (list, tuple)) else repr(v)
                         for v in value)
    return repr(value)


def finite(value, what: str) -> float:
    """A parameter value given on the command line or to the API: a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DeriveError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def problem_kinds(kinds) -> list[str]:
    """--kinds: registered problem kinds, each once, in the order given."""
    from derive.errors import unknown
    from derive.problemset import KINDS

    names = ([k.strip() for k in kinds.split(",") if k.strip()] if isinstance(kinds, str)
             else [str(k) for k in kinds])
    if not names:
        raise DeriveError(f"--kinds is empty; choose from: {', '.join(KINDS)}")
    for name in names:
        if name not in KINDS:
            raise unknown("problem kind", name, KINDS)
    if len(set(names)) != len(names):
        raise DeriveError(f"--kinds names a kind twice: {','.join(names)}")
    return names


def network_sizes(network) -> tuple[int, ...]:
    """--network: at least two layer sizes, each small enough to work by hand."""
    text = network if isinstance(network, str) else ",".join(map(str, network))
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise DeriveError(f"--network must be layer sizes like 3,2,1, not '{text}'") from None
    if len(sizes) < 2 or any(s < 1 or s > 6 for s in sizes):
        raise DeriveError(f"--network needs at least two layer sizes, each from 1 to 6 "
                          f"(worked by hand), not '{text}'")
    return sizes
