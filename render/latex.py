"""Compiling LaTeX to PDF: pdflatex without shell escape, reproducible, in a scratch folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


class LatexError(RuntimeError):
    """pdflatex failed; the message holds the first error lines of its log."""


INSTALL = ("install a TeX distribution with pdflatex: on Debian or Ubuntu `sudo apt-get "
           "install texlive-latex-base texlive-latex-recommended texlive-latex-extra "
           "texlive-pictures`, on macOS MacTeX (`brew install --cask mactex-no-gui`), on "
           "Windows MiKTeX or TeX Live")


def have_pdflatex() -> bool:
    return shutil.which("pdflatex") is not None


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


def compile_file(source: Path, target: Path, runs: int = 2, timeout: float = 3600) -> None:
    """Compile the LaTeX file source into the PDF target (in a scratch folder, without shell
    escape, reproducibly); two runs by default, for references such as "page 1 of 2"."""
    if not have_pdflatex():
        raise LatexError("pdflatex is not installed")
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "doc.tex"
        with open(source, "rb") as fin, open(src, "wb") as fout:
            fout.write(b"\\pdftrailerid{derive}\n")  # the same bytes from run to run
            shutil.copyfileobj(fin, fout, 1 << 20)
        for _ in range(runs):
            proc = subprocess.run(
                ["pdflatex", "-no-shell-escape", "-interaction=batchmode", "-halt-on-error",
                 "doc.tex"], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
            if proc.returncode != 0:
                log = (Path(tmp) / "doc.log")
                text = log.read_text(errors="replace") if log.exists() else ""
                errors = [line for line in text.splitlines() if line.startswith("!")]
                raise LatexError("; ".join(errors[:3]) or text[-500:] or
                                 f"pdflatex exited with status {proc.returncode}")
        shutil.copyfile(Path(tmp) / "doc.pdf", target)
