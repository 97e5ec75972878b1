"""The registries of activations and losses: one entry each, written as an expression.

Each definition is text in the safe expression grammar of derive.expr, so the everyday path
can look a definition up (and find its cached derivation) without importing SymPy.  Everything
else — derivative, form in the unit's output, derivation steps, numeric functions, CLI
choices, documentation — follows from the expression.  Adding one is adding one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from derive.errors import DeriveError, unknown


@dataclass(frozen=True)
class ActivationDef:
    name: str
    expression: str  # in the net input z and the parameters below
    description: str
    params: tuple[tuple[str, float], ...] = ()  # (name, default)
    symbol: str = "f"  # how the lecture writes the function
    elementwise: bool = True  # False: the output depends on every unit of the layer (softmax)
    # other symbols the expression uses, with their meaning (softmax: S, the other units' sum)
    context: tuple[tuple[str, str], ...] = ()

    @property
    def defaults(self) -> dict[str, float]:
        return dict(self.params)


@dataclass(frozen=True)
class LossDef:
    name: str
    per_unit: str  # E's term for one output unit, in o (output) and t (target); K = #outputs
    description: str
    formula: str = ""  # a one-line statement for the terminal


ACTIVATIONS: dict[str, ActivationDef] = {}
LOSSES: dict[str, LossDef] = {}


def register_activation(defn: ActivationDef) -> ActivationDef:
    ACTIVATIONS[defn.name] = defn
    return defn


def register_loss(defn: LossDef) -> LossDef:
    LOSSES[defn.name] = defn
    return defn


register_activation(ActivationDef(
    "sigmoid", "1/(1 + exp(-z))", "the logistic function; outputs in (0, 1)", symbol="σ"))
register_activation(ActivationDef(
    "tanh", "tanh(z)", "the hyperbolic tangent; outputs in (-1, 1)", symbol="tanh"))
# written with where, not max(0, z): max splits the gradient evenly at a tie (0.5 at z = 0), as
# torch.maximum does, while relu'(0) = 0 (PyTorch's relu); the function is the same
register_activation(ActivationDef(
    "relu", "where(z <= 0, 0, z)", "the rectified linear unit; 0 for z ≤ 0", symbol="relu"))
register_activation(ActivationDef(
    "linear", "z", "the identity; for regression outputs", symbol="f"))
register_activation(ActivationDef(
    "leaky_relu", "where(z > 0, z, alpha*z)",
    "relu with a small slope alpha for z ≤ 0, so units never die", (("alpha", 0.01),),
    symbol="lrelu"))
register_activation(ActivationDef(
    "elu", "where(z > 0, z, alpha*(exp(z) - 1))",
    "the exponential linear unit: z for z > 0, alpha (e^z − 1) below", (("alpha", 1.0),),
    symbol="elu"))
register_activation(ActivationDef(
    "softplus", "log(1 + exp(z))", "a smooth relu: log(1 + e^z)", symbol="softplus"))
register_activation(ActivationDef(
    "swish", "z/(1 + exp(-z))", "z times its own sigmoid, z·σ(z) (also called SiLU)",
    symbol="swish"))
register_activation(ActivationDef(
    "gelu", "z*(1 + erf(z/sqrt(2)))/2",
    "the Gaussian error linear unit, exact form z·Φ(z) = z (1 + erf(z/√2))/2", symbol="gelu"))
register_activation(ActivationDef(
    "softmax", "exp(z)/(exp(z) + S)",
    "the output layer's probabilities: o_k = e^{z_k} / Σ_j e^{z_j} (output layer only)",
    symbol="softmax", elementwise=False,
    context=(("S", "the sum of e^{z_j} over the layer's other units j ≠ k"),)))
register_activation(ActivationDef(
    "step", "where(z >= 0, 1, 0)",
    "the perceptron's threshold: 1 for z ≥ 0, else 0", symbol="step"))

register_loss(LossDef(
    "half_sse", "(t - o)**2/2", "half the sum of squared errors (the worked example's)",
    "E = ½ Σₖ (tₖ − oₖ)²"))
register_loss(LossDef(
    "sse", "(t - o)**2", "the sum of squared errors (the slide's −2(t − o) form)",
    "E = Σₖ (tₖ − oₖ)²"))
register_loss(LossDef(
    "mse", "(t - o)**2/K", "the mean over the K output units of the squared error",
    "E = (1/K) Σₖ (tₖ − oₖ)²"))
register_loss(LossDef(
    "bce", "-(t*log(o) + (1 - t)*log(1 - o))",
    "binary cross-entropy; outputs in (0, 1) (sigmoid or softmax), targets in [0, 1]",
    "E = −Σₖ [tₖ log oₖ + (1 − tₖ) log(1 − oₖ)]"))
register_loss(LossDef(
    "ce", "-t*log(o)",
    "cross-entropy with a softmax output layer; targets ≥ 0 that sum to 1",
    "E = −Σₖ tₖ log oₖ"))


CUSTOM_PREFIX = "custom: "
# activations named in spec files, kept apart from the registry: they are no CLI choices and
# never drawn for problems, but every stage finds them by name through activation_def
CUSTOM: dict[str, ActivationDef] = {}


def register_custom(expression: str, what: str = "expression") -> ActivationDef:
    """A spec's own activation (activation = "custom", expression = "z/(1 + abs(z))"): checked
    against the safe grammar (nothing is evaluated), then kept under the name
    'custom: <expression>' so that every stage finds it by name like the built-in ones.
    The expression is rebuilt from its syntax tree (derive.expr.canonical): the name and
    everything shown carry that, never the text as typed."""
    from derive.expr import canonical, parse

    parse(expression, ["z"], what=what)
    text = canonical(expression, what)
    name = CUSTOM_PREFIX + text
    if name not in CUSTOM:
        CUSTOM[name] = ActivationDef(name, text, f"the custom activation {text}")
    return CUSTOM[name]


def activation_def(name: str) -> ActivationDef:
    try:
        return ACTIVATIONS[name] if name in ACTIVATIONS else CUSTOM[name]
    except KeyError:
        raise unknown("activation", name, ACTIVATIONS) from None


def loss_def(name: str) -> LossDef:
    try:
        return LOSSES[name]
    except KeyError:
        raise unknown("loss", name, LOSSES) from None


def at_params(defn: ActivationDef, params=()) -> ActivationDef:
    """The definition with its parameters set to these values (unknown names refused).

    Its derivation record (derive.symbolic.cache) is then derived for these very values: the
    form of f' in the unit's output is offered only where it holds for them (leaky_relu's
    holds for alpha >= 0, not below), and the range is the range for them.  With the defaults
    it is the definition itself, so the everyday path finds the same record."""
    values = check_params(defn, dict(params))
    if values == defn.defaults:
        return defn
    return replace(defn, params=tuple((name, values[name]) for name, _ in defn.params))


def check_params(defn: ActivationDef, params: dict) -> dict[str, float]:
    """The activation's parameters: defaults overridden by ``params``; unknown names refused."""
    out = defn.defaults
    for key, value in params.items():
        if key not in out:
            allowed = ", ".join(out) or "none"
            raise DeriveError(f"activation '{defn.name}' has no parameter '{key}' "
                              f"(its parameters: {allowed})")
        out[key] = float(value)
    return out


