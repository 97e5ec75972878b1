"""The documents are executed: every `$ derive ...` session of README.md and docs/*.md runs
from a clean directory and its output is compared with the text.

A session is a fenced code block whose first line starts with `$ `.  Each `$ ` line is run
by bash (so `; echo $?`, `&&`, `cat`, `printf ... >` work as typed), stdout and stderr
together, as a terminal shows them; the lines up to the next `$ ` are its expected output.
A line that is only `...` stands for any number of lines the document leaves out (the text
says where it abridges); everything else must match line for line (trailing spaces
ignored).  A command that prints something must show at least one line of it.

The sessions of one document run in order in one fresh directory that holds only a copy of
examples/ (what a fresh clone has at its top), with `derive` on PATH running this source
tree (`python -m derive`); each document gets its own directory.

    python tests/docs_run.py              # check every document; a diff for each difference
    python tests/docs_run.py --update     # write the real output into the documents
    python tests/docs_run.py README.md    # only these documents

--update keeps each `...` where it is and replaces the lines around it with what the command
prints now; read `git diff` afterwards, as for any change to the documentation.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ELLIPSIS = "..."
FENCE = re.compile(r"^(\s*)(```+|~~~+)(.*)$")
TIMEOUT = 600  # seconds for one command (a 30-variant exam with its PDF fits easily)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Command:
    line: int  # 1-based line of the `$ ` in the document
    text: str  # the command, without `$ `
    expected: list[str] = field(default_factory=list)
    start: int = 0  # 0-based index of the first expected line in the document's lines


@dataclass
class Session:
    path: Path
    commands: list[Command]


def sessions(path: Path, lines: list[str] | None = None) -> list[Session]:
    """The sessions of a document, and a refusal of any `$ derive` line outside one."""
    lines = path.read_text(encoding="utf-8").splitlines() if lines is None else lines
    out, n = [], 0
    while n < len(lines):
        m = FENCE.match(lines[n])
        if not m:
            n += 1
            continue
        fence = m.group(2)
        body_start = n + 1
        end = body_start
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = lines[body_start:end]
        first = next((b for b in body if b.strip()), "")
        if first.startswith("$ "):
            commands = []
            for k, text in enumerate(body, start=body_start):
                if text.startswith("$ "):
                    commands.append(Command(k + 1, text[2:], [], k + 1))
                else:
                    commands[-1].expected.append(text)
            out.append(Session(path, commands))
        else:
            for k, text in enumerate(body, start=body_start):
                if re.match(r"\s*\$ derive\b", text):
                    raise ValueError(f"{path.name}:{k + 1}: a `$ derive` line in a block that "
                                     f"is not a session (a session's first line is `$ ...`)")
        n = end + 1
    return out


def _shim(directory: Path) -> Path:
    """A `derive` on PATH that runs this source tree with this interpreter."""
    bin_dir = directory / ".bin"
    bin_dir.mkdir()
    script = bin_dir / "derive"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m derive "$@"\n')
    script.chmod(0o755)
    return bin_dir


def clean_directory() -> tuple[Path, dict]:
    """A fresh directory with a copy of examples/, and the environment the commands run in."""
    work = Path(tempfile.mkdtemp(prefix="derive-docs-"))
    shutil.copytree(ROOT / "examples", work / "examples")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DERIVE_DEBUG", "PYTEST", "_DERIVE", "COLUMNS"))}
    env.update(PATH=f"{_shim(work)}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
               PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8",
               LC_ALL="C.UTF-8", LANG="C.UTF-8")
    return work, env


def run_command(text: str, cwd: Path, env: dict) -> list[str]:
    proc = subprocess.run(["bash", "-c", text], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=TIMEOUT)
    out = proc.stdout.decode("utf-8", errors="replace").splitlines()
    while out and not out[-1].strip():
        out.pop()
    return [line.rstrip() for line in out]


def _segments(expected: list[str]) -> list[list[str] | None]:
    """The expected lines split at each `...` (None marks an ellipsis)."""
    out, current = [], []
    for line in expected:
        if line.strip() == ELLIPSIS:
            out += [current, None]
            current = []
        else:
            current.append(line.rstrip())
    out.append(current)
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line for line, each `...` standing for any number of lines (none included)."""
    expected = list(expected)
    while expected and not expected[-1].strip():
        expected.pop()
    parts = _segments(expected)
    if not any(line.strip() for part in parts if part for line in part) and actual:
        return False  # a command that prints something shows at least one line of it
    first, last = parts[0], parts[-1]
    if len(parts) == 1:
        return first == actual
    if actual[:len(first)] != first:
        return False
    pos = len(first)
    for part in parts[2:-1:2]:  # the segments between two ellipses, leftmost fit
        for start in range(pos, len(actual) - len(part) + 1):
            if actual[start:start + len(part)] == part:
                pos = start + len(part)
                break
        else:
            return False
    return len(actual) - len(last) >= pos and (not last or actual[-len(last):] == last)


def updated(expected: list[str], actual: list[str]) -> list[str]:
    """The expected lines rewritten from the actual output, keeping every `...`: each shown
    stretch becomes the actual lines aligned with it (difflib), lines added inside it
    included; a stretch that aligns with nothing is kept as it was."""
    if not any(line.strip() == ELLIPSIS for line in expected):
        return list(actual)
    sentinel = "\0ellipsis"
    marked = [sentinel if line.strip() == ELLIPSIS else line.rstrip() for line in expected]
    where = {}  # expected index -> actual indices aligned with it
    inserted = {}  # expected index before which actual lines were inserted -> indices
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, marked, actual,
                                                       autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                where[i1 + k] = [j1 + k]
        elif tag == "replace":
            real = [i for i in range(i1, i2) if marked[i] != sentinel]
            js = list(range(j1, j2))
            for n, i in enumerate(real):  # spread the new lines over the old ones
                lo = n * len(js) // len(real)
                hi = (n + 1) * len(js) // len(real)
                where[i] = js[lo:hi]
        elif tag == "insert":
            inserted[i1] = list(range(j1, j2))
    out, start = [], 0
    for n, line in enumerate(marked + [sentinel]):
        if line != sentinel:
            continue
        stretch = range(start, n)
        js = [j for i in stretch for j in where.get(i, [])]
        js += [j for i in stretch if i != start for j in inserted.get(i, [])]
        if stretch and js:
            out += actual[min(js):max(js) + 1]
        else:
            out += [marked[i] for i in stretch]
        if n < len(marked):
            out.append(expected[n])
        start = n + 1
    return out


@dataclass
class Outcome:
    command: Command
    actual: list[str]

    @property
    def ok(self) -> bool:
        return matches(self.command.expected, self.actual)

    def diff(self, path: Path) -> str:
        head = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:" \
               f"{self.command.line}: $ {self.command.text}"
        lines = difflib.unified_diff(self.command.expected, self.actual, "documented",
                                     "printed now", lineterm="", n=2)
        return head + "\n" + "\n".join(lines)


def run_document(path: Path, lines: list[str] | None = None) -> list[Outcome]:
    """Run every session of a document, in order, in one fresh directory."""
    work, env = clean_directory()
    try:
        return [Outcome(c, run_command(c.text, work, env))
                for s in sessions(path, lines) for c in s.commands]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def update_document(path: Path) -> int:
    """Write the real output into the document; the number of commands whose text changed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    outcomes = run_document(path, lines)
    changed = 0
    for outcome in reversed(outcomes):  # from the end, so that earlier indices stay valid
        c = outcome.command
        if outcome.ok:
            continue
        new = updated(c.expected, outcome.actual)
        lines[c.start:c.start + len(c.expected)] = new
        changed += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    update = "--update" in argv
    names = [a for a in argv if not a.startswith("--")]
    paths = [ROOT / n for n in names] if names else documents()
    failed = 0
    for path in paths:
        if update:
            n = update_document(path)
            print(f"{path.relative_to(ROOT)}: {n} command(s) updated")
        for outcome in run_document(path):
            if not outcome.ok:
                failed += 1
                print(outcome.diff(path), end="\n\n")
    print(f"{failed} command(s) differ from their documents" if failed else
          "every documented command prints what its document shows")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
