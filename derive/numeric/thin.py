"""What a long run keeps of its rows: bounded, whatever the number of steps.

A run of 10^6 steps must not hold 10^6 rows (3 GB for `derive descend --steps 1000000` with
three learning rates).  A document shows a run's first and last rows and its curve; the JSON
keeps the rows a document could show, each with its real number.  So every row of a short
run is kept, and of a long one the first `first`, every k-th (about `samples` of them) and
the last `last`: k is fixed from the planned length before the run starts, so the kept rows
do not depend on where the run stops.  Whatever reads every row as it goes (a verdict, a
stopping criterion) reads them before they are dropped.
"""

from __future__ import annotations

import collections
import math

FIRST = 100
SAMPLES = 1000
LAST = 100


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st, 1,000th."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


class Kept:
    """Rows numbered base, base + 1, ... as they come; keeps a bounded selection of them."""

    def __init__(self, planned: int, *, first: int = FIRST, samples: int = SAMPLES,
                 last: int = LAST, base: int = 0):
        self.first, self.last, self.base = first, last, base
        self.every = 1 if planned <= first + samples + last else \
            math.ceil(planned / max(samples, 1))
        self._kept: list[tuple[int, object]] = []
        self._last: collections.deque = collections.deque(maxlen=last)
        self.count = 0  # rows seen

    def add(self, row) -> None:
        n = self.count
        self.count += 1
        if n < self.first or n % self.every == 0:
            self._kept.append((n, row))
        self._last.append((n, row))

    def numbered(self) -> list[tuple[int, object]]:
        """(number, row) of every kept row, in order."""
        kept = {n for n, _ in self._kept}
        rows = self._kept + [(n, row) for n, row in self._last if n not in kept]
        return [(n + self.base, row) for n, row in sorted(rows, key=lambda nr: nr[0])]

    def rows(self) -> list:
        return [row for _, row in self.numbered()]

    def thinning(self, unit: str, keeps: str | None = None) -> dict | None:
        """How the rows were thinned (None when every row was kept): for the JSON, which says
        so beside the list it thinned.  keeps: what tells the kept rows apart (default: the
        unit's number)."""
        kept = len(self.numbered())
        if kept == self.count:
            return None
        b = self.base
        return {"rows": self.count, "kept": kept, "first": self.first, "every": self.every,
                "last": self.last,
                "rule": f"{unit}s {b} to {b + self.first - 1}, every {ordinal(self.every)} "
                        f"{unit} (counted from {b}), and the last {self.last}; each kept row "
                        f"has {keeps or f'its real {unit} number'}"}
