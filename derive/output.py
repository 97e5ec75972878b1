"""Writing results: whole files or nothing, never over a file without --force."""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
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


def _target_kind(path: Path) -> str:
    """'missing', 'file', 'dir', 'stream' (a character device or a FIFO: written in place),
    'link' (a symbolic link to nothing) or 'other' (a block device, a socket: refused)."""
    try:
        st = os.stat(path)  # through symbolic links: -o /dev/stdout is one
    except FileNotFoundError:
        return "link" if os.path.lexists(path) else "missing"
    except OSError:
        return "file" if os.path.lexists(path) else "missing"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return "stream"
    return "other"


def check_writable(path, force: bool) -> Path:
    """A path derive may write: a new file, one that exists with force, or a character
    device or FIFO (written in place, never replaced: -o /dev/null)."""
    path = Path(path)
    kind = _target_kind(path)
    if kind == "dir":
        raise DeriveError(f"-o '{path}' is a directory; give a file name")
    if kind == "other":
        raise DeriveError(f"-o '{path}' is neither a file, a character device nor a FIFO "
                          f"(a block device or a socket); derive does not write there")
    if kind == "link" and not force:
        raise DeriveError(f"'{path}' exists (a symbolic link to '{os.readlink(path)}', which "
                          f"does not exist); use --force to replace the link with a file")
    if kind == "file" and not force:
        raise DeriveError(f"'{path}' exists; use --force to overwrite it")
    return path


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _new_mode(path: Path) -> tuple[int, int | None, int | None]:
    """(mode, owner, group) the written file gets: those of the file it replaces (a chmod 600
    key stays 600, and as root its owner stays its owner); for a new file the usual mode
    (0666 less the umask), less what the directory withholds: in a directory others cannot
    enter (drwx------), a new file is not readable by them either."""
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode) & 0o777, st.st_uid, st.st_gid
    mode = 0o666 & ~_umask()
    try:
        parent = stat.S_IMODE(os.stat(path.parent).st_mode)
    except OSError:
        return mode, None, None
    if not parent & 0o001:  # others cannot reach files in it
        mode &= ~0o007
    if not parent & 0o010:  # nor can the group
        mode &= ~0o070
    return mode, None, None


# Our temporary files: ".NAME.PID.RANDOM.tmp" beside NAME (and ".tmp.old" for the link that
# keeps a replaced file until the end).  The PID tells a crashed run's leftovers (its process
# is gone) from those of a run still writing.
_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp(?:\.old)?")
_TEMP_BEFORE = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp(?:\.old)?")  # derive 0.1.0's names


def is_temporary(name: str) -> bool:
    """A temporary file derive writes (or wrote, killed before it could remove it)."""
    return bool(_TEMP.fullmatch(name) or _TEMP_BEFORE.fullmatch(name))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or unknowable): leave its files alone
    return True


def _clear_leftovers(directory: Path, names, own: bool = False) -> None:
    """Remove the temporary files that an earlier run killed (SIGKILL, power loss) left
    beside the files we are about to write: only ours, only of a process that is gone.
    own: this process's instead (a signal can land between creating one and recording it)."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        m = _TEMP.fullmatch(entry)
        if m and m["name"] in names and (int(m["pid"]) == os.getpid() if own
                                         else not _alive(int(m["pid"]))):
            _unlink(directory / entry)


def _remove_own_temporaries(paths) -> None:
    by_directory: dict[Path, set[str]] = {}
    for path in paths:
        by_directory.setdefault(path.parent, set()).add(path.name)
    for directory, names in by_directory.items():
        _clear_leftovers(directory, names, own=True)


def _stage(path: Path, data) -> str:
    """Write data to a temporary file beside path, with the mode the file is to have; its
    name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):  # a writer that streams into the file (a large quiz)
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        mode, uid, gid = _new_mode(path)
        if uid is not None and (uid, gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, uid, gid)
            except OSError:  # not ours to give away: the writer owns the new file
                pass
        os.chmod(tmp, mode)  # mkstemp makes 0600
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _write_in_place(path: Path, data) -> None:
    """A character device or a FIFO: opened and written, never replaced (as root, renaming
    over /dev/null would replace the device with a file).  A FIFO nobody reads is refused at
    once rather than waited on."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise DeriveError(f"-o '{path}' is a FIFO that no process is reading; start the "
                              f"reader first") from None
        raise
    try:
        os.set_blocking(fd, True)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class _signals_held:
    """Ctrl-C and SIGTERM wait while the files are renamed in (a handful of renames), so a
    signal never lands between them; they are delivered as soon as the renames are done."""

    SIGNALS = {signal.SIGINT, signal.SIGTERM}

    def __enter__(self):
        self.held = hasattr(signal, "pthread_sigmask")
        if self.held:
            self.before = signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
        return self

    def __exit__(self, *exc):
        if self.held:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.before)
        return False


def _commit(staged: list[tuple[str | None, Path]]) -> None:
    """Rename every staged file into place (a None stands for a file to remove), all or none:
    a file that was there is kept as a hard link until the end, so a failure part-way puts
    every earlier file back as it was."""
    done = []  # (final, backup or None)
    try:
        for tmp, final in staged:
            backup = None
            if os.path.lexists(final):
                backup = f"{tmp or _backup_name(final)}.old"
                os.link(final, backup, follow_symlinks=False)
            done.append((final, backup))
            if tmp is None:
                os.unlink(final)
            else:
                os.replace(tmp, final)
    except BaseException:
        for final, backup in reversed(done):
            if backup is not None:
                os.replace(backup, final)
                _unlink(backup)  # rename between two links of one file leaves both there
            else:
                _unlink(final)
        for tmp, _ in staged:
            if tmp is not None:
                _unlink(tmp)
        raise
    for _, backup in done:
        if backup is not None:
            _unlink(backup)


def _backup_name(final: Path) -> str:
    return str(final.parent / f".{final.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def write_together(files, force: bool = False, remove=()) -> list[Path]:
    """Write several files (pairs of path and data, any directories), all or none: each is
    staged to a temporary file beside it, and only when all are written are they renamed in
    (and the files in `remove` removed, say an earlier format's files).  Nothing is
    overwritten without force.  A character device or a FIFO is written in place."""
    pairs = [(check_writable(path, force), data) for path, data in files]
    streams = [(path, data) for path, data in pairs if _target_kind(path) == "stream"]
    regular = [(path, data) for path, data in pairs if _target_kind(path) != "stream"]
    written = {path.resolve() for path, _ in pairs}
    gone = [Path(p) for p in remove if os.path.lexists(p) and Path(p).resolve() not in written]
    staged: list[tuple[str | None, Path]] = []
    made: list[Path] = []  # directories this call created: removed again if it fails
    current = None
    try:
        for folder in dict.fromkeys(path.parent for path, _ in regular):
            missing = [d for d in (folder, *folder.parents) if not d.exists()]
            for d in reversed(missing):
                d.mkdir()
                made.append(d)
        for directory in {path.parent for path, _ in regular}:
            _clear_leftovers(directory, {path.name for path, _ in regular
                                         if path.parent == directory})
        for path, data in regular:
            current = path
            staged.append((_stage(path, data), path))
        for path, data in streams:  # after staging, so a failure there writes nothing
            current = path
            _write_in_place(path, data)
        current = None
        with _signals_held():
            _commit(staged + [(None, path) for path in gone])
    except OSError as exc:
        _undo(regular, made)
        where = exc.filename or current or ""
        raise DeriveError(f"cannot write '{where}': {exc.strerror or exc}; nothing was "
                          f"written") from None
    except BaseException:  # Ctrl-C, SIGTERM: whatever this run staged goes
        _undo(regular, made)
        raise
    return [path for path, _ in pairs]


def _undo(regular, made) -> None:
    """A failed write: this run's temporary files go, and the directories it created."""
    _remove_own_temporaries(path for path, _ in regular)
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
    if out.is_dir() and not force and any(not is_temporary(p.name) for p in out.iterdir()):
        # a killed run's temporary files do not count: the directory is still empty
        raise DeriveError(f"-o '{out}' is not empty; use --force to write into it")
    return out


def write_files(directory, files: dict, force: bool = False, replaces=()) -> list[Path]:
    """Write several files into a directory, all or none: each goes to a temporary file
    first, and only when every one is written are they renamed into place (an earlier file
    put back as it was if a later rename fails). A non-empty directory is refused without
    force.  `replaces`: names of files this set supersedes (another format's), removed in the
    same step."""
    out = check_output_dir(directory, force)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeriveError(f"cannot create '{out}': {exc.strerror or exc}") from None
    try:
        return write_together([(out / name, data) for name, data in files.items()], force=True,
                              remove=[out / name for name in replaces if name not in files])
    except BaseException:
        if created:  # the directory this run made goes too
            try:
                out.rmdir()
            except OSError:
                pass
        raise


class Staged:
    """Files of one directory written as they are produced, then put in place all or none.

        with Staged(directory, force) as out:
            out.open("problems.tex").write(...)      # streamed to a temporary file
            pdf = out.reserve("problems.pdf")        # a temporary path another tool fills
        # here every file is renamed into place (and the files in `replaces` that this set
        # does not write are removed: an earlier set's); after an error none is, and the
        # directory this run created is removed again

    Temporary files are named and cleared as write_together's are; a non-empty directory is
    refused without force; an OSError becomes one DeriveError."""

    def __init__(self, directory, force: bool = False, replaces=()):
        self.out = check_output_dir(directory, force)
        self.replaces = tuple(replaces)
        self.created = False
        self.staged: dict[str, str] = {}  # name -> temporary path
        self.names: set[str] = set()  # every name staged or being staged
        self.handles: list = []

    def __enter__(self) -> Staged:
        self.created = not self.out.exists()
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeriveError(f"cannot create '{self.out}': {exc.strerror or exc}") from None
        return self

    def reserve(self, name: str) -> Path:
        """A temporary path beside OUT/name (staged as write_together stages, empty, with the
        mode the file is to have), renamed in at the end."""
        _clear_leftovers(self.out, {name})  # an earlier run's, killed part-way
        self.names.add(name)
        self.staged[name] = _stage(self.out / name, b"")
        return Path(self.staged[name])

    def path(self, name: str) -> Path:
        """Where OUT/name is being written until it is put in place."""
        return Path(self.staged[name])

    def open(self, name: str):
        """A text stream (UTF-8, \\n line ends) to OUT/name."""
        fh = open(self.reserve(name), "w", encoding="utf-8", newline="\n")
        self.handles.append(fh)
        return fh

    def close(self) -> None:
        while self.handles:
            self.handles.pop().close()

    def paths(self) -> list[Path]:
        return [self.out / name for name in self.staged]

    def _discard(self) -> None:
        for fh in self.handles:
            try:
                fh.close()
            except OSError:
                pass
        self.handles = []
        for tmp in self.staged.values():
            _unlink(tmp)
        # and one a signal interrupted between its creation and its recording here
        _clear_leftovers(self.out, self.names, own=True)
        if self.created:  # the directory this run made goes too
            try:
                self.out.rmdir()
            except OSError:
                pass

    def _refusal(self, exc: OSError) -> DeriveError:
        where = exc.filename or self.out
        return DeriveError(f"cannot write '{where}': {exc.strerror or exc}; nothing was written")

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            try:
                self.close()
                gone = [self.out / n for n in self.replaces
                        if n not in self.staged and os.path.lexists(self.out / n)]
                with _signals_held():
                    _commit([(tmp, self.out / name) for name, tmp in self.staged.items()]
                            + [(None, path) for path in gone])
                return False
            except OSError as error:
                self._discard()
                raise self._refusal(error) from None
            except BaseException:
                self._discard()
                raise
        self._discard()
        if issubclass(kind, OSError):
            raise self._refusal(exc) from None
        return False
