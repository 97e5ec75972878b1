"""Writing results: whole files or nothing, never over a file without --force."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from derive.errors import DeriveError

SUFFIX_FORMATS = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".tex": "latex",
                  ".json": "json", ".html": "html", ".htm": "html"}


def choose_format(fmt: str | None, path: str | None, allowed) -> str:
    """--format if given, else from -o's suffix, else text; refused when they disagree."""
    from_suffix = SUFFIX_FORMATS.get(Path(path).suffix.lower()) if path else None
    if fmt is None:
        fmt = from_suffix or "text"
    elif from_suffix and from_suffix != fmt and path:
        raise DeriveError(f"--format {fmt} does not match the suffix of -o '{path}' "
                          f"(which means {from_suffix}); change one of them")
    if fmt not in allowed:
        raise DeriveError(f"format '{fmt}' is not available here; choose one of: "
                          f"{', '.join(allowed)}")
    return fmt


def check_writable(path, force: bool) -> Path:
    path = Path(path)
    if path.is_dir():
        raise DeriveError(f"-o '{path}' is a directory; give a file name")
    if path.exists() and not force:
        raise DeriveError(f"'{path}' exists; use --force to overwrite it")
    return path


def write_atomic(path, data: str | bytes, force: bool = False) -> Path:
    """Write to a temporary file beside path, then rename: readers see all or nothing."""
    path = check_writable(path, force)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise DeriveError(f"cannot write '{path}': {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
