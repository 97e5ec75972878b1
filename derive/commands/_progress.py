"""A progress bar on stderr for runs longer than about a second; silent when stderr is not a
terminal (pipes, files, tests), so it never mixes into output that is being captured."""

from __future__ import annotations

import sys
import time

DELAY = 1.0  # seconds before the bar appears
WIDTH = 30


class Progress:
    def __init__(self, label: str, stream=None, delay: float = DELAY, clock=time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.delay = delay
        self.clock = clock
        self.start = clock()
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or self.clock() - self.start < self.delay:
            return
        filled = int(WIDTH * done / total) if total else WIDTH
        bar = "█" * filled + "░" * (WIDTH - filled)
        self.stream.write(f"\r{self.label} {bar} {done}/{total}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * (len(self.label) + WIDTH + 24) + "\r")
            self.stream.flush()
            self.shown = False
