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
        suffix = Path(path).suffix if path else ""
        if suffix and from_suffix is None:
            known = ", ".join(s for s, f in SUFFIX_FORMATS.items() if f in allowed)
            raise DeriveError(f"-o '{path}': the suffix '{suffix}' names no format derive "
                              f"writes ({known}); give one of those or --format")
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


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _stage(path: Path, data) -> str:
    """Write data to a temporary file beside path (mode as a new file gets); its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):  # a writer that streams into the file (a large quiz)
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _commit(staged: list[tuple[str, Path]]) -> None:
    """Rename every staged file into place, all or none: a file that was there is kept as a
    hard link until the end, so a failure part-way puts every earlier file back as it was."""
    done = []  # (final, backup or None)
    try:
        for tmp, final in staged:
            backup = None
            if os.path.lexists(final):
                backup = f"{tmp}.old"
                os.link(final, backup)
            done.append((final, backup))
            os.replace(tmp, final)
    except BaseException:
        for final, backup in reversed(done):
            if backup is not None:
                os.replace(backup, final)
                _unlink(backup)  # rename between two links of one file leaves both there
            else:
                _unlink(final)
        for tmp, _ in staged:
            _unlink(tmp)
        raise
    for _, backup in done:
        if backup is not None:
            _unlink(backup)


def write_together(files, force: bool = False) -> list[Path]:
    """Write several files (pairs of path and data, any directories), all or none: each is
    staged to a temporary file beside it, and only when all are written are they renamed in.
    Nothing is overwritten without force."""
    pairs = [(check_writable(path, force), data) for path, data in files]
    staged: list[tuple[str, Path]] = []
    made: list[Path] = []  # directories this call created: removed again if it fails
    try:
        for folder in dict.fromkeys(path.parent for path, _ in pairs):
            missing = [d for d in (folder, *folder.parents) if not d.exists()]
            for d in reversed(missing):
                d.mkdir()
                made.append(d)
        for path, data in pairs:
            staged.append((_stage(path, data), path))
        _commit(staged)
    except OSError as exc:
        _undo(staged, made)
        where = exc.filename or (pairs[len(staged)][0] if len(staged) < len(pairs) else "")
        raise DeriveError(f"cannot write '{where}': {exc.strerror or exc}; nothing was "
                          f"written") from None
    except BaseException:
        _undo(staged, made)
        raise
    return [path for path, _ in pairs]


def _undo(staged, made) -> None:
    for tmp, _ in staged:
        _unlink(tmp)
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            pass


def write_atomic(path, data: str | bytes, force: bool = False) -> Path:
    """Write to a temporary file beside path, then rename: readers see all or nothing."""
    return write_together([(path, data)], force)[0]


def check_output_dir(directory, force: bool) -> Path:
    """A directory to write into: refused if it is a file, or not empty without force."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise DeriveError(f"-o '{out}' is a file; give a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DeriveError(f"-o '{out}' is not empty; use --force to write into it")
    return out


def write_files(directory, files: dict, force: bool = False) -> list[Path]:
    """Write several files into a directory, all or none: each goes to a temporary file
    first, and only when every one is written are they renamed into place (an earlier file
    put back as it was if a later rename fails). A non-empty directory is refused without
    force."""
    out = check_output_dir(directory, force)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeriveError(f"cannot create '{out}': {exc.strerror or exc}") from None
    try:
        return write_together([(out / name, data) for name, data in files.items()], force=True)
    except BaseException:
        if created:  # the directory this run made goes too
            try:
                out.rmdir()
            except OSError:
                pass
        raise
