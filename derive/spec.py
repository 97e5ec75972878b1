"""The network spec: TOML (or a dict) in, validated immutable values out.

Every check names the input it refused (the file, the key, the layer) and what would be
valid, and raises DeriveError; nothing here evaluates text.  The lecture's worked example is
the built-in default (LECTURE).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from derive.errors import DeriveError, did_you_mean
from derive.symbolic.definitions import (ACTIVATIONS, CUSTOM_PREFIX, LOSSES, activation_def,
                                         check_params, loss_def, register_custom)

MAX_PARAMETERS = 250_000  # weights and biases of a spec's network (784-256-10 has 203,530)
_TOP_KEYS = ("title", "loss", "learning_rate", "input_names", "layers", "examples")
_LAYER_KEYS = ("activation", "weights", "biases", "alpha", "size", "expression")
_EXAMPLE_KEYS = ("input", "target")


@dataclass(frozen=True)
class Layer:
    activation: str
    weights: tuple[tuple[float, ...], ...]  # row k: incoming weights of unit k
    biases: tuple[float, ...]
    params: tuple[tuple[str, float], ...] = ()  # activation parameters, e.g. (("alpha", 0.01),)

    @property
    def size(self) -> int:
        return len(self.biases)

    @property
    def fan_in(self) -> int:
        return len(self.weights[0]) if self.weights else 0

    def to_dict(self) -> dict:
        out = {"activation": self.activation, "weights": [list(r) for r in self.weights],
               "biases": list(self.biases)}
        if self.activation.startswith(CUSTOM_PREFIX):
            out.update(activation="custom", expression=activation_def(self.activation).expression)
        out.update(dict(self.params))
        return out


@dataclass(frozen=True)
class Example:
    input: tuple[float, ...]
    target: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"input": list(self.input), "target": list(self.target)}


@dataclass(frozen=True)
class Spec:
    layers: tuple[Layer, ...]
    examples: tuple[Example, ...]
    loss: str = "half_sse"
    learning_rate: float = 0.9
    title: str = ""
    input_names: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # where it came from, for messages

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.layers[0].fan_in, *[layer.size for layer in self.layers])

    @property
    def n_inputs(self) -> int:
        return self.sizes[0]

    def units(self, layer: int) -> range:
        """Unit numbers (the lecture's, from 1) of layer 0 (inputs) .. len(layers)."""
        sizes = self.sizes
        start = 1 + sum(sizes[:layer])
        return range(start, start + sizes[layer])

    def parameter_names(self) -> list[str]:
        """w{j}_{k} and b{k} for every unit k, layer by layer, in the order of DESIGN.md."""
        names = []
        for n in range(1, len(self.layers) + 1):
            for k in self.units(n):
                names += [f"w{j}_{k}" for j in self.units(n - 1)]
                names.append(f"b{k}")
        return names

    def with_activation(self, name: str) -> Spec:
        activation_def(name)
        return validate_combination(replace(self, layers=tuple(
            replace(layer, activation=name, params=()) for layer in self.layers)))

    def with_loss(self, name: str) -> Spec:
        loss_def(name)
        return validate_combination(replace(self, loss=name))

    def with_learning_rate(self, eta: float) -> Spec:
        return replace(self, learning_rate=_learning_rate(eta, "--lr"))

    def to_dict(self) -> dict:
        out: dict = {}
        if self.title:
            out["title"] = self.title
        out["loss"] = self.loss
        out["learning_rate"] = self.learning_rate
        if self.input_names:
            out["input_names"] = list(self.input_names)
        out["layers"] = [layer.to_dict() for layer in self.layers]
        out["examples"] = [ex.to_dict() for ex in self.examples]
        return out


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DeriveError(f"{where} must be a number, not {_show(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise DeriveError(f"{where} must be a finite number, not {value}")
    return value


def _show(value) -> str:
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


def _vector(value, where: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise DeriveError(f"{where} must be a list of numbers, not {_show(value)}")
    if not value:
        raise DeriveError(f"{where} is empty")
    return tuple(_number(v, f"{where}[{i}]") for i, v in enumerate(value))


def _learning_rate(value, where: str) -> float:
    eta = _number(value, where)
    if eta <= 0:
        raise DeriveError(f"{where} must be greater than 0, not {value}")
    return eta


def _check_keys(table: dict, allowed, where: str) -> None:
    for key in table:
        if key not in allowed:
            raise DeriveError(f"{where}: unknown key '{key}'{did_you_mean(key, allowed)}; "
                              f"valid keys: {', '.join(allowed)}")


def _size(raw, here: str) -> int | None:
    if "size" not in raw:
        return None
    size = raw["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DeriveError(f"{here}.size must be a whole number of units (1 or more), "
                          f"not {_show(size)}")
    return size


def _layer(raw, n: int, fan_in: int, where: str, init=None) -> Layer:
    here = f"{where}layers[{n}]"
    if not isinstance(raw, dict):
        raise DeriveError(f"{here} must be a table ([[layers]])")
    _check_keys(raw, _LAYER_KEYS, here)
    name = raw.get("activation", "sigmoid")
    if not isinstance(name, str):
        raise DeriveError(f"{here}.activation must be a name, not {_show(name)}")
    if name == "custom" or "expression" in raw:
        if name != "custom":
            raise DeriveError(f"{here}.expression is only for activation = \"custom\" "
                              f"(this layer's activation is '{name}')")
        if not isinstance(raw.get("expression"), str):
            raise DeriveError(f"{here}: activation = \"custom\" needs expression = \"...\", "
                              f"a function of z such as \"z/(1 + abs(z))\"")
        defn = register_custom(raw["expression"], what=f"{here}.expression")
        name = defn.name
    else:
        defn = activation_def(name) if name in ACTIVATIONS else None
    if defn is None:
        raise DeriveError(f"{here}.activation: unknown activation '{name}'"
                          f"{did_you_mean(name, ACTIVATIONS)}; choose one of: "
                          f"{', '.join(n for n in ACTIVATIONS if not n.startswith(CUSTOM_PREFIX))}"
                          f", or custom (with expression = \"...\" in z)")
    params = {k: _number(raw[k], f"{here}.{k}") for k in ("alpha",) if k in raw}
    try:
        params = check_params(defn, params)
    except DeriveError as exc:
        raise DeriveError(f"{here}: {exc}") from None
    size = _size(raw, here)
    if "weights" not in raw:
        if size is None:
            raise DeriveError(f"{here} has no weights: give weights (and biases), or only "
                              f"size = N together with --init gaussian|uniform --seed S")
        if init is None:
            raise DeriveError(f"{here} gives only its size ({size} units): random weights "
                              f"need --init gaussian|uniform --seed S")
        if not fan_in:
            raise DeriveError(f"{here}: the number of inputs is unknown (give [[examples]] "
                              f"with an input list)")
        weights = tuple(tuple(float(w) for w in row) for row in init(n, size, fan_in))
        biases = _vector(raw["biases"], f"{here}.biases") if "biases" in raw \
            else tuple(0.0 for _ in weights)
        if len(biases) != size:
            raise DeriveError(f"{here} has size = {size} but {len(biases)} biases")
        return Layer(name, weights, biases, tuple(sorted(params.items())))
    rows = raw["weights"]
    if not isinstance(rows, list) or not rows:
        raise DeriveError(f"{here}.weights must be a non-empty list of rows "
                          f"(one row of incoming weights per unit)")
    weights = tuple(_vector(r, f"{here}.weights[{k}]") for k, r in enumerate(rows))
    for k, row in enumerate(weights):
        if fan_in and len(row) != fan_in:
            raise DeriveError(f"{here}.weights[{k}] has {len(row)} weights, but the layer "
                              f"before has {fan_in} units: each row needs {fan_in}")
        if len(row) != len(weights[0]):
            raise DeriveError(f"{here}.weights rows differ in length "
                              f"({len(weights[0])} and {len(row)})")
    if size is not None and size != len(weights):
        raise DeriveError(f"{here} has size = {size} but {len(weights)} weight rows (units)")
    biases = _vector(raw["biases"], f"{here}.biases") if "biases" in raw \
        else tuple(0.0 for _ in weights)
    if len(biases) != len(weights):
        raise DeriveError(f"{here} has {len(weights)} weight rows (units) but "
                          f"{len(biases)} biases: give one bias per unit")
    return Layer(name, weights, biases, tuple(sorted(params.items())))


def _planned_parameters(raw, fan_in: int) -> int:
    """Weights and biases a layer will have, read before it is built (0 if unknown yet)."""
    if not isinstance(raw, dict):
        return 0
    rows = raw.get("weights")
    if isinstance(rows, list):
        return sum(len(r) + 1 if isinstance(r, list) else 1 for r in rows)
    size = raw.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size * (fan_in + 1)
    return 0


def _first_input_size(raw: dict) -> int:
    """How many inputs the examples give (for a first layer given only by its size)."""
    examples = raw.get("examples")
    if isinstance(examples, list) and examples and isinstance(examples[0], dict):
        x = examples[0].get("input")
        if isinstance(x, list):
            return len(x)
    return 0


def from_dict(raw: dict, source: str = "", init=None) -> Spec:
    """Validate a spec given as a dict (the parsed TOML); raises DeriveError.

    A layer may give only `size = N` instead of weights when `init` is given: a callable
    init(layer_index, size, fan_in) -> rows of weights (biases default to 0).  The first
    layer's fan-in is then the length of the examples' inputs.
    """
    where = f"{source}: " if source else ""
    if not isinstance(raw, dict):
        raise DeriveError(f"{where}a spec must be a table of keys")
    _check_keys(raw, _TOP_KEYS, source or "spec")
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise DeriveError(f"{where}title must be text")
    loss = raw.get("loss", "half_sse")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise DeriveError(f"{where}loss: unknown loss '{loss}'{did_you_mean(loss, LOSSES)}; "
                          f"choose one of: {', '.join(LOSSES)}")
    eta = _learning_rate(raw.get("learning_rate", 0.9), f"{where}learning_rate")
    layers_raw = raw.get("layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        raise DeriveError(f"{where}the spec has no [[layers]]: give at least the output layer")
    layers = []
    fan_in = 0
    lacking = [n for n, lr in enumerate(layers_raw)
               if isinstance(lr, dict) and "weights" not in lr]
    if init is not None and not lacking:
        raise DeriveError(f"{where}--init was given, but every layer of the spec has its "
                          f"weights: --init fills layers that give only size = N")
    if layers_raw and isinstance(layers_raw[0], dict) and "weights" not in layers_raw[0]:
        fan_in = _first_input_size(raw)
    total = 0
    for n, layer_raw in enumerate(layers_raw):
        total += _planned_parameters(layer_raw, fan_in)  # before --init draws them
        if total > MAX_PARAMETERS:
            raise DeriveError(f"{where}layers[{n}]: the network has more than "
                              f"{MAX_PARAMETERS:,} weights and biases by this layer; derive "
                              f"works with networks up to that size")
        layer = _layer(layer_raw, n, fan_in, where, init)
        layers.append(layer)
        fan_in = layer.size
    examples_raw = raw.get("examples")
    if not isinstance(examples_raw, list) or not examples_raw:
        raise DeriveError(f"{where}the spec has no [[examples]]: give at least one input and "
                          f"target")
    examples = []
    n_in, n_out = layers[0].fan_in, layers[-1].size
    for e, ex in enumerate(examples_raw):
        here = f"{where}examples[{e}]"
        if not isinstance(ex, dict):
            raise DeriveError(f"{here} must be a table ([[examples]])")
        _check_keys(ex, _EXAMPLE_KEYS, here)
        for key in _EXAMPLE_KEYS:
            if key not in ex:
                raise DeriveError(f"{here} has no {key}")
        x = _vector(ex["input"], f"{here}.input")
        t = _vector(ex["target"], f"{here}.target")
        if len(x) != n_in:
            raise DeriveError(f"{here}.input has {len(x)} values but the first layer's weights "
                              f"take {n_in} inputs")
        if len(t) != n_out:
            raise DeriveError(f"{here}.target has {len(t)} values but the output layer has "
                              f"{n_out} units")
        examples.append(Example(x, t))
    names = raw.get("input_names", [])
    if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
        raise DeriveError(f"{where}input_names must be a list of text")
    if names and len(names) != n_in:
        raise DeriveError(f"{where}input_names has {len(names)} names for {n_in} inputs")
    spec = Spec(tuple(layers), tuple(examples), loss, eta, title, tuple(names), source)
    return validate_combination(spec)


def _outputs_in_unit_interval(name: str) -> bool:
    """Does this activation's computed range lie inside [0, 1] (sigmoid, softmax)?"""
    from derive.symbolic import cache

    rng = cache.activation(activation_def(name))["range"]
    return (rng["values"] is None and rng["low"] is not None and rng["high"] is not None
            and rng["low"] >= 0 and rng["high"] <= 1)


def check_pairing(loss: str, activation: str) -> None:
    """A loss that needs a particular output activation: ce needs softmax, bce outputs in (0, 1)."""
    if loss == "ce" and activation_def(activation).elementwise:
        raise DeriveError(f"loss 'ce' needs a softmax output layer (its outputs are "
                          f"probabilities that sum to 1), not '{activation}'; use 'bce' for "
                          f"independent outputs in (0, 1)")
    if loss == "bce" and not _outputs_in_unit_interval(activation):
        raise DeriveError(f"loss 'bce' takes log o and log(1 − o), so the outputs must lie in "
                          f"(0, 1); the '{activation}' output layer does not give that: use "
                          f"sigmoid (or softmax)")


def validate_combination(spec: Spec) -> Spec:
    """Combinations that cannot be trained: refused with the reason."""
    where = f"{spec.source}: " if spec.source else ""
    last = len(spec.layers) - 1
    for n, layer in enumerate(spec.layers):
        if not activation_def(layer.activation).elementwise:
            if n != last:
                raise DeriveError(f"{where}layers[{n}]: '{layer.activation}' is for the output "
                                  f"layer only (its outputs are normalised across the layer); "
                                  f"use sigmoid, tanh or relu in hidden layers (--activation "
                                  f"sets every layer: name softmax for the output layer in a "
                                  f"spec file instead)")
            if layer.size < 2:
                raise DeriveError(f"{where}layers[{n}]: a '{layer.activation}' layer of one unit "
                                  f"always outputs 1, so nothing could be learnt; give it two or "
                                  f"more units, or use sigmoid for a single output")
    out = spec.layers[-1].activation
    try:
        check_pairing(spec.loss, out)
    except DeriveError as exc:
        from derive.symbolic import cache

        if not cache.activation(activation_def(out))["has_gradient"]:
            from derive.numeric.network import no_gradient_message

            n = len(spec.layers)
            raise DeriveError(f"{where}{no_gradient_message(out, n, n)}") from None
        raise DeriveError(f"{where}{exc}") from None
    for e, ex in enumerate(spec.examples):
        here = f"{where}examples[{e}].target"
        if spec.loss == "ce":
            if any(t < 0 for t in ex.target) or abs(sum(ex.target) - 1) > 1e-9:
                raise DeriveError(f"{here} = {list(ex.target)}: the 'ce' loss needs targets "
                                  f"that are non-negative and sum to 1 (a probability "
                                  f"distribution, e.g. one-hot [0, 1, 0])")
        if spec.loss == "bce" and any(not 0 <= t <= 1 for t in ex.target):
            raise DeriveError(f"{here} = {list(ex.target)}: the 'bce' loss needs targets "
                              f"in [0, 1]")
    return spec


MAX_INPUT_BYTES = 5_000_000  # a spec or answers file: a 784-256-10 network written out is 4.4 MB
INPUT_WAIT_SECONDS = 10.0  # a pipe, FIFO or terminal that sends nothing this long is refused


def read_file(path, what: str) -> str:
    """A user's input file as text; every way it can fail is a DeriveError naming it.

    At most MAX_INPUT_BYTES are read, whatever the file is (/dev/zero never ends); a pipe or
    FIFO is read without blocking, and refused when nothing arrives for INPUT_WAIT_SECONDS (a
    FIFO that no process writes to would otherwise block forever).  A byte order mark at the
    start (a spreadsheet's or Notepad's UTF-8) is dropped."""
    path = Path(path)
    try:
        data = _read_bounded(path, what)
    except FileNotFoundError:
        raise DeriveError(f"{what} '{path}' does not exist") from None
    except IsADirectoryError:
        raise DeriveError(f"{what} '{path}' is a directory, not a TOML file") from None
    except OSError as exc:
        raise DeriveError(f"{what} '{path}' cannot be read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DeriveError(not_utf8(what, path, exc)) from None


def _too_large(what: str, path, size: str) -> DeriveError:
    return DeriveError(f"{what} '{path}' is {size}: derive reads files of up to "
                       f"{MAX_INPUT_BYTES:,} bytes")


def _read_bounded(path: Path, what: str) -> bytes:
    import os
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if stat.S_ISREG(st.st_mode):
            if st.st_size > MAX_INPUT_BYTES:
                raise _too_large(what, path, f"{st.st_size:,} bytes")
            os.set_blocking(fd, True)
            chunks, size = _read_upto(fd)
        else:  # a pipe, a FIFO, a device
            chunks, size = _read_stream(fd, path, what)
        if size > MAX_INPUT_BYTES:
            raise _too_large(what, path, f"more than {MAX_INPUT_BYTES:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_upto(fd: int) -> tuple[list[bytes], int]:
    """Read a blocking file to its end, MAX_INPUT_BYTES + 1 bytes at most (one more than
    allowed, so that a file too large is seen to be)."""
    import os

    chunks, size = [], 0
    while size <= MAX_INPUT_BYTES:
        chunk = os.read(fd, MAX_INPUT_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return chunks, size


def _read_stream(fd: int, path: Path, what: str) -> tuple[list[bytes], int]:
    """Read a non-regular file until its end, MAX_INPUT_BYTES + 1 at most, waiting at most
    INPUT_WAIT_SECONDS for each piece.  A FIFO that no process has opened for writing reads
    as nothing (and poll() never reports it ready): such a wait times out with a message."""
    import os
    import select

    if not hasattr(select, "poll"):  # no poll (Windows): a plain, bounded read
        return _read_upto(fd)
    chunks, size = [], 0
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    while size <= MAX_INPUT_BYTES:
        if not poller.poll(INPUT_WAIT_SECONDS * 1000):
            raise DeriveError(f"{what} '{path}' sent nothing for {INPUT_WAIT_SECONDS:g} s (a "
                              f"FIFO that no process writes to?); give a file, or start the "
                              f"writer first")
        try:
            chunk = os.read(fd, min(65536, MAX_INPUT_BYTES + 1 - size))
        except BlockingIOError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return chunks, size


def load(path, init=None) -> Spec:
    """Read and validate a TOML spec file (init: see from_dict)."""
    return loads(read_file(path, "spec file"), str(path), init)


def not_utf8(what: str, path, exc: UnicodeDecodeError) -> str:
    """'x.toml:3: the spec file is not UTF-8 text (byte 0xe9); save it as UTF-8'."""
    line = exc.object[:exc.start].count(b"\n") + 1
    return (f"{path}:{line}: the {what} is not UTF-8 text (byte "
            f"0x{exc.object[exc.start]:02x}); save it as UTF-8")


def loads(text: str, source: str = "spec", init=None) -> Spec:
    raw = parse_toml(text, source)
    try:
        return from_dict(raw, source, init)
    except DeriveError as exc:
        raise DeriveError(with_line(str(exc), text, source)) from None


def parse_toml(text: str, source: str) -> dict:
    """TOML text (a spec or an answers file) as a dict; whatever is wrong with it is a
    DeriveError naming the file and, where it can be found, the line.

    Beyond TOML's own syntax: a leading byte order mark is accepted; arrays nested deeper than
    the parser can follow, and whole numbers too large for a float (400 digits; TOML allows
    any length) are refused, not left to fail later."""
    text = text.removeprefix("\ufeff")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"{source}:{toml_error_line(exc)}" if toml_error_line(exc) else source
        raise DeriveError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise _too_deep(source) from None
    except ValueError:  # int() reads at most 4,300 digits
        raise DeriveError(f"{source}: a whole number has more than 4,300 digits; numbers must "
                          f"lie within ±1.8e308") from None
    _refuse_huge_integers(raw, text, source)
    return raw


MAX_NESTING = 32  # arrays and tables within each other; a spec needs 3 (layers, weights, row)


def _too_deep(source: str) -> DeriveError:
    return DeriveError(f"{source}: arrays are nested too deeply to read (more than "
                       f"{MAX_NESTING} levels; a spec needs weights = [[...], [...]])")


def _refuse_huge_integers(raw: dict, text: str, source: str) -> None:
    """Every whole number must fit a float (|n| < 2**1024, about 1.8e308): the first one that
    does not is refused with its key and line.  Nesting deeper than MAX_NESTING is refused
    too, whatever depth the parser happened to reach (that depends on the caller's stack).
    The walk is iterative, so no depth can exhaust the stack."""
    pending = [(raw, "", 0)]
    while pending:
        value, where, depth = pending.pop()
        if depth > MAX_NESTING:
            raise _too_deep(source)
        if isinstance(value, dict):
            pending += [(v, f"{where}.{k}" if where else str(k), depth + 1)
                        for k, v in value.items()]
        elif isinstance(value, list):
            tables = value and all(isinstance(v, dict) for v in value)
            pending += [(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)] \
                if tables else [(v, where, depth + 1) for v in value]
        elif isinstance(value, int) and not isinstance(value, bool) and _overflows(value):
            digits = len(str(abs(value))) if value.bit_length() < 14000 else "thousands of"
            message = with_line(f"{source}: {where}: a whole number of {digits} digits is too "
                                f"large (numbers must lie within ±1.8e308)", text, source)
            raise DeriveError(message)


def _overflows(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False


def toml_error_line(exc) -> int | None:
    """The line a TOMLDecodeError points at (its lineno, or '(at line N, ...' in its text)."""
    line = getattr(exc, "lineno", None)
    if line is None:
        m = re.search(r"\(at line (\d+)", str(exc))
        line = int(m[1]) if m else None
    if line is None and "end of document" in str(exc):
        doc = getattr(exc, "doc", None)
        line = max(1, doc.count("\n") + (not doc.endswith("\n"))) if doc else None
    return line


_PATH = re.compile(r"(?P<table>[A-Za-z_]\w*)\[(?P<index>\d+)\](?:\.(?P<key>[A-Za-z_]\w*))?")
_UNKNOWN_KEY = re.compile(r"unknown key '(?P<key>[^']*)'")


def with_line(message: str, text: str, source: str) -> str:
    """'spec.toml: layers[1].weights ...' -> 'spec.toml:12: layers[1].weights ...': the line of
    the TOML text that holds the key (or the [[table]]) the message is about, when it can be
    found; the message unchanged otherwise."""
    prefix = f"{source}: "
    if not message.startswith(prefix):
        return message
    rest = message[len(prefix):]
    line = None
    m = _PATH.match(rest)
    unknown = _UNKNOWN_KEY.search(rest)
    if m:
        key = m["key"] or (unknown["key"] if unknown else None)
        if key is None and m["table"] == "layers":  # 'layers[0] has 2 weight rows but 1 biases'
            key = next((k for k, said in (("biases", " biases"), ("size", "size =")) if said in rest),
                       None)
        line = locate(text, m["table"], int(m["index"]), key)
    else:
        first = re.match(r"[A-Za-z_]\w*", rest)
        key = unknown["key"] if unknown else (first[0] if first else None)
        if key:
            line = locate(text, None, None, key)
    return f"{source}:{line}: {rest}" if line else message


def prefix_for(spec: Spec, key_path: str, message: str) -> str:
    """message prefixed with the spec file and line of key_path (e.g. 'layers[1].activation')
    when the spec came from a file that is still there; unchanged otherwise."""
    source = spec.source
    if not source or not Path(source).is_file():
        return message
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return f"{source}: {message}"
    return with_line(f"{source}: {key_path}: {message}", text, source)


def locate(text: str, table: str | None, index: int | None, key: str | None) -> int | None:
    """The 1-based line of `key` in the index-th [[table]] (or at the top level when table is
    None); the table's header line when the key is not there; None when nothing fits."""
    current, count, header = None, {}, None
    key_re = re.compile(rf"\s*(?:\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*="
                        ) if key else None
    for number, line in enumerate(text.splitlines(), 1):
        head = re.match(r"\s*\[\[\s*([^\]]+?)\s*\]\]", line) or re.match(r"\s*\[\s*([^\]]+?)\s*\]",
                                                                           line)
        if head and not re.match(r"\s*\w+\s*=", line):
            name = head[1]
            count[name] = count.get(name, -1) + 1
            current = (name, count[name])
            if table is not None and current == (table, index):
                header = number
            continue
        if key_re and key_re.match(line):
            if table is None and current is None:
                return number
            if table is not None and current == (table, index):
                return number
    if header is not None:
        return header
    if table is not None:  # inline tables: the line that starts the array
        return locate(text, None, None, table)
    return None


LECTURE = from_dict({
    "title": "Will a student get a B- or better?",
    "loss": "half_sse",
    "learning_rate": 0.9,
    "input_names": ["assignments", "readings", "lectures"],
    "layers": [
        {"activation": "sigmoid", "weights": [[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]],
         "biases": [-0.4, 0.2]},
        {"activation": "sigmoid", "weights": [[-0.3, -0.2]], "biases": [0.1]},
    ],
    "examples": [{"input": [1, 0, 1], "target": [1]}],
}, "the lecture's example")
