"""Compiling LaTeX to PDF: pdflatex without shell escape, reproducible, in a scratch folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


class LatexError(RuntimeError):
    """pdflatex failed; the message holds the first error lines of its log."""


def compile_pdf(tex: str, runs: int = 1) -> bytes:
    """The PDF of a LaTeX document (bytes). Same source, same bytes (SOURCE_DATE_EPOCH)."""
    if shutil.which("pdflatex") is None:
        raise LatexError("pdflatex is not installed")
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "doc.tex"
        # a fixed trailer ID keeps the bytes identical from run to run
        src.write_text("\\pdftrailerid{derive}\n" + tex, encoding="utf-8")
        for _ in range(runs):
            proc = subprocess.run(
                ["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                 "doc.tex"], cwd=tmp, env=env, capture_output=True, text=True,
                errors="replace", timeout=120)
            if proc.returncode != 0:
                errors = [line for line in proc.stdout.splitlines() if line.startswith("!")]
                raise LatexError("; ".join(errors[:3]) or proc.stdout[-500:])
        return (Path(tmp) / "doc.pdf").read_bytes()
