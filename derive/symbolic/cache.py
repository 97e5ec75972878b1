"""What SymPy derived, kept on disk so that the everyday path never imports SymPy.

Importing SymPy alone costs about 0.65 s; a derivation costs more.  Each record (a JSON dict
from derive.symbolic.derivation) is stored under a key made of the definition, the SymPy
version and a fingerprint of the derivation code, so a new SymPy or a change to the code
derives afresh.  The directory is $DERIVE_CACHE_DIR, else $XDG_CACHE_HOME/derive, else
~/.cache/derive; where it cannot be written, derive simply derives every time.
A cache miss is derived by the SymPy worker (derive.symbolic.worker), within its deadline.

Nothing read from the cache is trusted.  A file is used only if it is at most MAX_BYTES, is
JSON (a file nested too deeply to parse is no exception, just unusable), is an envelope
{"format", "kind", "key", "digest", "record"} for exactly this key, its digest (SHA-256 over
the code's fingerprint, the key and the record's canonical JSON) matches, and the record has
exactly the shape derivation writes, markup included (derive.symbolic.record).  Anything else
is ignored and derived afresh (and rewritten); it never stops a command.  Reading a record
can never run code: it is JSON data, its trees only name NumPy operations.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import tempfile
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from derive.symbolic.definitions import ACTIVATIONS, ActivationDef, LossDef

_CODE = ("derivation.py", "oneline.py", "tree.py", "primitives.py", "definitions.py", "shape.py",
         "../expr.py", "../numeric/evaluate.py", "budget.py", "record.py", "cache.py")
FORMAT = 2  # of the envelope; 1 was the bare record
MAX_BYTES = 8 * 1024 * 1024  # a record of the largest expression the parser takes is far less


@lru_cache(maxsize=1)
def _fingerprint() -> str:
    """SymPy's version and a hash of the code that derives, without importing SymPy."""
    spec = importlib.util.find_spec("sympy")
    version = "none"
    if spec is not None and spec.origin:
        release = Path(spec.origin).with_name("release.py")
        match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", release.read_text())
        version = match.group(1) if match else "unknown"
    here = Path(__file__).parent
    digest = hashlib.sha256(version.encode())
    for name in _CODE:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    if os.environ.get("DERIVE_CACHE_DIR"):
        return Path(os.environ["DERIVE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "derive"


def _key(kind: str, *definitions) -> str:
    payload = json.dumps([kind, _fingerprint(), *[asdict(d) for d in definitions]],
                         sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _digest(kind: str, key: str, record) -> str:
    """SHA-256 over the code's fingerprint, the key and the record in one spelling."""
    body = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)
    return hashlib.sha256(f"{_fingerprint()}\n{kind}\n{key}\n{body}".encode()).hexdigest()


def _read(path: Path, kind: str, key: str):
    """The record stored at path if it is whole, ours, unaltered and well formed; else None."""
    from derive.symbolic.record import valid

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return None
        envelope = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError, MemoryError):
        # missing, unreadable, not UTF-8, not JSON, or nested past the parser's limit
        return None
    if not (isinstance(envelope, dict) and set(envelope) == {"format", "kind", "key", "digest",
                                                              "record"}
            and envelope["format"] == FORMAT and envelope["kind"] == kind
            and envelope["key"] == key and isinstance(envelope["digest"], str)):
        return None
    record = envelope["record"]
    try:
        if envelope["digest"] != _digest(kind, key, record):
            return None
    except (ValueError, TypeError, RecursionError):  # NaN, or nesting json cannot write back
        return None
    return record if valid(kind, record) else None


def _write(path: Path, kind: str, key: str, record) -> None:
    """Store a record, whole or not at all (several processes may write at once)."""
    from derive.symbolic.record import valid

    if not valid(kind, record):
        return  # it would be refused when read back (markup outside the known set): no use
    envelope = {"format": FORMAT, "kind": kind, "key": key,
                "digest": _digest(kind, key, record), "record": record}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(envelope, fh, ensure_ascii=False, sort_keys=True, allow_nan=False)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except (OSError, ValueError):
        pass


def _is_users(defn) -> bool:
    """A user's expression (a custom activation), as opposed to a registered definition."""
    return isinstance(defn, ActivationDef) and ACTIVATIONS.get(defn.name) != defn


def _what(defn) -> str:
    if isinstance(defn, ActivationDef):
        return f"the custom activation '{defn.expression}'"
    return f"the loss '{defn.name}'"


def _cached(kind: str, definitions: tuple):
    from derive.symbolic import worker

    user = any(_is_users(d) for d in definitions)

    def derive():
        what = next((_what(d) for d in definitions if _is_users(d)), _what(definitions[-1]))
        return worker.run(kind, *[asdict(d) for d in definitions], user=user, what=what)

    if os.environ.get("DERIVE_NO_CACHE"):
        return derive()
    key = _key(kind, *definitions)
    path = cache_dir() / f"{kind}-{key}.json"
    record = _read(path, kind, key)
    if record is None:
        record = derive()
        _write(path, kind, key, record)
    return record


@lru_cache(maxsize=None)
def _activation(defn: ActivationDef) -> dict:
    return _cached("activation", (defn,))


@lru_cache(maxsize=None)
def _loss(defn: LossDef) -> dict:
    return _cached("loss", (defn,))


@lru_cache(maxsize=None)
def _pairing(loss: LossDef, act: ActivationDef) -> dict:
    return _cached("pairing", (loss, act))


def activation(defn: ActivationDef) -> dict:
    """The derivation record of an activation (derive.symbolic.derivation.derive_activation).
    A user's expression that SymPy cannot handle, or not in time, is refused in one line
    (DeriveError, exit status 2), never a traceback."""
    return _activation(defn)


def loss(defn: LossDef) -> dict:
    return _loss(defn)


def pairing(loss_defn: LossDef, act: ActivationDef) -> dict:
    """Err = -dE/di for this loss with this output activation."""
    return _pairing(loss_defn, act)
