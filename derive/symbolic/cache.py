"""What SymPy derived, kept on disk so that the everyday path never imports SymPy.

Importing SymPy alone costs about 0.65 s; a derivation costs more.  Each record (a JSON dict
from derive.symbolic.derivation) is stored under a key made of the definition, the SymPy
version and a fingerprint of the derivation code, so a new SymPy or a change to the code
derives afresh.  The directory is $DERIVE_CACHE_DIR, else $XDG_CACHE_HOME/derive, else
~/.cache/derive; where it cannot be written, derive simply derives every time.
Records are JSON data only: reading one can never run code.
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

from derive.symbolic.definitions import ActivationDef, LossDef

_CODE = ("derivation.py", "oneline.py", "tree.py", "primitives.py", "definitions.py", "shape.py",
         "../expr.py",
         "../numeric/evaluate.py")


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


def _cached(kind: str, definitions: tuple, derive_fn):
    if os.environ.get("DERIVE_NO_CACHE"):
        return derive_fn(*definitions)
    path = cache_dir() / f"{kind}-{_key(kind, *definitions)}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    record = derive_fn(*definitions)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, ensure_ascii=False, sort_keys=True)
        os.replace(tmp, path)  # whole or not at all, even with several processes at once
    except OSError:
        pass
    return record


def _lazy(name: str):
    """The derivation function, importing SymPy only when it is called (a cache miss)."""

    def call(*definitions):
        from derive.symbolic import derivation

        return getattr(derivation, name)(*definitions)

    return call


@lru_cache(maxsize=None)
def _activation(defn: ActivationDef) -> dict:
    return _cached("activation", (defn,), _lazy("derive_activation"))


@lru_cache(maxsize=None)
def _loss(defn: LossDef) -> dict:
    return _cached("loss", (defn,), _lazy("derive_loss"))


@lru_cache(maxsize=None)
def _pairing(loss: LossDef, act: ActivationDef) -> dict:
    return _cached("pairing", (loss, act), _lazy("derive_pairing"))


def activation(defn: ActivationDef) -> dict:
    """The derivation record of an activation (derive.symbolic._lazy("derive_activation"))."""
    if not defn.name.startswith("custom"):
        return _activation(defn)
    # a user's expression: where SymPy itself fails, say so (exit 2), never a traceback
    from derive.errors import DeriveError

    try:
        return _activation(defn)
    except DeriveError:
        raise
    except (TypeError, ValueError, NotImplementedError, ZeroDivisionError, RecursionError,
            OverflowError, AttributeError) as exc:
        raise DeriveError(f"the custom activation '{defn.expression}' could not be derived "
                          f"({type(exc).__name__}: {exc}); try writing it another way") from None


def loss(defn: LossDef) -> dict:
    return _loss(defn)


def pairing(loss_defn: LossDef, act: ActivationDef) -> dict:
    """Err = -dE/di for this loss with this output activation."""
    return _pairing(loss_defn, act)
