"""SymPy derives: each activation's derivative, its form in the unit's output, the steps.

Everything here returns plain JSON-serialisable dicts (the records the cache stores), with
each expression in three spellings — SymPy-parsable text, LaTeX and Unicode pretty print —
and the NumPy evaluation trees of derive.symbolic.tree.  This is the only module that does
calculus; it runs on a cache miss (derive.symbolic.cache) and in the tests.
"""

from __future__ import annotations

import re
from html.entities import html5

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.str import StrPrinter

from derive.expr import parse
from derive.symbolic.definitions import ActivationDef, LossDef
from derive.symbolic.primitives import sigmoid, stable_form, textbook_form
from derive.symbolic.tree import to_tree

Z = sp.Symbol("z", real=True)
A = sp.Symbol("a", real=True)
O = sp.Symbol("o", real=True)
T = sp.Symbol("t", real=True)
K = sp.Symbol("K", positive=True)

# points at which a candidate form is checked against the derivative itself
_CHECK_POINTS = (-2.3, -0.7, -0.05, 0.0, 0.3, 1.1, 2.6)


class _TextbookOrder:
    """Print sums with their positive terms first: t - o and 1 + e^{-z}, as the lecture does."""

    def _as_ordered_terms(self, expr, order=None):
        terms = super()._as_ordered_terms(expr, order=order)
        return sorted(terms, key=lambda term: term.could_extract_minus_sign())


class _Str(_TextbookOrder, StrPrinter):
    pass


class _Latex(_TextbookOrder, LatexPrinter):
    pass


class _Pretty(_TextbookOrder, PrettyPrinter):
    pass


class _MathML(_TextbookOrder, MathMLPresentationPrinter):
    def _print_UnevaluatedExpr(self, expr):
        return self._print(expr.args[0])

    def _print_sigmoid(self, expr):
        mrow = self.dom.createElement("mrow")
        name = self.dom.createElement("mi")
        name.appendChild(self.dom.createTextNode("σ"))
        mrow.appendChild(name)
        mrow.appendChild(self._paren(expr))
        return mrow

    def _paren(self, expr):
        fenced = self.dom.createElement("mrow")
        for part in ("(", expr.args[0], ")"):
            if isinstance(part, str):
                mo = self.dom.createElement("mo")
                mo.appendChild(self.dom.createTextNode(part))
                fenced.appendChild(mo)
            else:
                fenced.appendChild(self._print(part))
        return fenced


def _mathml(expr) -> str:
    """Presentation MathML with characters instead of named entities (a page needs no DTD)."""
    text = _MathML().doprint(expr)
    return re.sub(r"&([A-Za-z]+);",
                  lambda m: m.group(0) if m.group(1) in ("lt", "gt", "amp", "quot")
                  else html5.get(m.group(1) + ";", m.group(0)), text)


def spellings(expr) -> dict:
    """The three spellings of an expression that documents and JSON carry."""
    return {
        "expression": _Str().doprint(expr),
        "latex": _Latex().doprint(expr),
        "pretty": _Pretty({"use_unicode": True}).doprint(expr),
        "mathml": _mathml(expr),  # presentation MathML, for HTML pages
    }


def _param_symbols(defn: ActivationDef):
    return {name: sp.Symbol(name, positive=True) for name, _ in defn.params}


def _numeric(expr, point: dict):
    value = expr.subs(point)
    value = value.doit() if hasattr(value, "doit") else value
    try:
        return complex(sp.N(value, 30))
    except (TypeError, ValueError):
        return None


def _agrees(candidate, derivative, f, params: dict) -> bool:
    """candidate(a = f(z)) equals f'(z) at every check point (parameters at their defaults)."""
    for z0 in _CHECK_POINTS:
        point = {Z: sp.Float(z0, 30), **params}
        a0 = _numeric(f, point)
        want = _numeric(derivative, point)
        if a0 is None or want is None or abs(a0.imag) > 1e-20:
            return False
        got = _numeric(candidate, {A: sp.Float(a0.real, 30), **params})
        if got is None or abs(got - want) > 1e-12 * max(1.0, abs(want)):
            return False
    return True


def _output_candidates(f, d):
    """Forms of f'(z) in a = f(z): by direct substitution, by inverting f, branch by branch."""
    if not d.has(Z):
        yield d
        return
    direct = d.subs(f, A)
    if not direct.has(Z):
        yield direct
    if isinstance(f, sp.Piecewise):
        pieces = []
        for expr, cond in f.args:
            dpiece = sp.diff(expr, Z)
            if not dpiece.has(Z):
                form = dpiece
            else:
                form = next(_invert_and_substitute(expr, dpiece), None)
                if form is None:
                    return
            if cond == sp.true:
                acond = sp.true
            elif not expr.has(Z):
                acond = sp.Eq(A, expr)  # a constant branch is recognised by its value
            else:
                inverse = _inverses(expr)
                if not inverse:
                    return
                acond = cond.subs(Z, inverse[0])
            pieces.append((form, acond))
        yield sp.piecewise_fold(sp.Piecewise(*pieces))
        return
    yield from _invert_and_substitute(f, d)


def _inverses(f):
    try:
        return sp.solve(sp.Eq(A, f.rewrite(sp.exp)), Z)
    except (NotImplementedError, ValueError, TypeError):
        return []


def _invert_and_substitute(f, d):
    for inverse in _inverses(f):
        form = sp.simplify(d.rewrite(sp.exp).subs(Z, inverse))
        if not form.has(Z):
            yield sp.factor(form) if form.is_polynomial(A) else form


def output_form(f, d, params: dict):
    """The derivative written in the unit's output a, found by SymPy; None where none exists."""
    valid = [c for c in _output_candidates(f, d) if _agrees(c, d, f, params)]
    if not valid:
        return None
    best = min(valid, key=sp.count_ops)
    if best.is_polynomial(A) and not isinstance(best, sp.Piecewise):
        best = _tidy(sp.factor(best))  # textbook form: a(1 - a), 1 - a**2
    return best


def _backwards(factor) -> bool:
    """A linear factor written against the lecture's habit: o - 1 (not 1 - o), o - t (not t - o)."""
    if not isinstance(factor, sp.Add):
        return False
    if not all(factor.is_polynomial(s) and sp.degree(factor, s) <= 1
               for s in factor.free_symbols):
        return False
    const, _ = factor.as_coeff_Add()
    if const != 0:
        return const < 0
    if T in factor.free_symbols:
        return factor.coeff(T) < 0
    return False


def unsign(expr):
    """o*(o - 1)*(o - t) -> o*(1 - o)*(t - o) and -a*(a - 1) -> a*(1 - a).

    Linear factors written backwards are flipped in pairs (the product is unchanged); a lone
    one is flipped only to absorb a leading minus sign.
    """
    if not isinstance(expr, sp.Mul):
        return expr
    coeff, factors = expr.as_coeff_mul()
    back = [i for i, fac in enumerate(factors) if _backwards(fac)]
    if len(back) % 2 and coeff > 0:
        back = back[:-1]
    if not back:
        return expr
    flipped = [sp.Add(*[-t for t in fac.args]) if i in back else fac
               for i, fac in enumerate(factors)]
    sign = -1 if len(back) % 2 else 1
    return sp.Mul(sign * coeff, *flipped)


def _tidy(expr, keep_derived=False):
    """The shortest of a few equivalent forms, never trading exp for cosh and the like.

    With keep_derived the form as derived (the slide's e^{-z}/(1 + e^{-z})^2) stays unless
    another is much shorter.
    """
    kinds = {type(f) for f in expr.atoms(sp.Function)}
    options = [unsign(o) for o in
               (expr, sp.together(expr), sp.factor(expr), sp.expand(expr), sp.simplify(expr))]
    options = [o for o in options if {type(f) for f in o.atoms(sp.Function)} <= kinds]
    best = min(options, key=sp.count_ops)
    if keep_derived and sp.count_ops(best) > 0.6 * sp.count_ops(options[0]):
        return options[0]
    return best


def _rule_step(f):
    """One application of a differentiation rule at the top of f, inner derivatives unevaluated."""
    D = lambda e: sp.Derivative(e, Z)  # noqa: E731
    if isinstance(f, sp.Pow) and f.base.has(Z) and not f.exp.has(Z) and f.base != Z:
        n = f.exp
        return "chain rule: d/dz uⁿ = n uⁿ⁻¹ u′", n * f.base ** (n - 1) * D(f.base)
    if isinstance(f, sp.Mul):
        num, den = sp.fraction(f)
        if den != 1 and den.has(Z):
            return ("quotient rule: (p/q)′ = (p′q − pq′)/q²",
                    (D(num) * den - num * D(den)) / den ** 2)
        factors = [fac for fac in f.args if fac.has(Z)]
        if len(factors) > 1:
            const = sp.Mul(*[fac for fac in f.args if not fac.has(Z)])
            terms = []
            for i in range(len(factors)):
                rest = sp.Mul(*[g for j, g in enumerate(factors) if j != i])
                terms.append(rest * D(factors[i]))
            return "product rule: (uv)′ = u′v + uv′", const * sp.Add(*terms)
    if isinstance(f, sp.Add):
        return "sum rule: differentiate term by term", sp.Add(*[D(t) for t in f.args])
    if isinstance(f, sp.Piecewise):
        return ("differentiate each piece (at the kink, PyTorch's convention)",
                sp.Piecewise(*[(D(e), c) for e, c in f.args]))
    if isinstance(f, sp.Function) and len(f.args) == 1 and f.args[0] != Z:
        u = f.args[0]
        return "chain rule: d/dz g(u) = g′(u) u′", sp.diff(f.func(Z), Z).subs(Z, u) * D(u)
    return None


def _step(rule, expr):
    return {"rule": rule, **spellings(expr)}


def activation_steps(defn: ActivationDef, f, d, form):
    """The derivation as (rule, expression) steps, each equal to the one before."""
    steps = [_step(f"differentiate {defn.name}", sp.Derivative(f, Z))]
    rule = _rule_step(f)
    if rule is not None:
        name, expr = rule
        steps.append(_step(name, expr))
        done = expr.doit()
        if done != expr:
            steps.append(_step("differentiate the inner terms", done))
    if sp.sstr(d) != steps[-1]["expression"]:
        steps.append(_step("simplify", d))
    if form is None or not d.has(Z) or not form.has(A):
        return steps
    direct = d.subs(f, A)
    if direct.has(Z) and form.is_polynomial(A) and isinstance(form, sp.Mul):
        # the slide's rewriting: each factor linear in a, over f's denominator
        num, den = sp.fraction(f)
        factors = []
        for fac in form.args:
            c0, c1 = fac.subs(A, 0), sp.diff(fac, A)
            if fac.is_polynomial(A) and sp.degree(fac, A) <= 1 and den != 1:
                # 1 - a = (1 + e^{-z} - 1)/(1 + e^{-z}): written out, not yet cancelled
                top = (sp.Add(*sp.Add.make_args(sp.expand(c0 * den)), c1 * num, evaluate=False)
                       if c0 != 0 else c1 * num)
                factor = (sp.Pow(den, -1, evaluate=False) if top == 1 else
                          sp.Mul(top, sp.Pow(den, -1, evaluate=False), evaluate=False))
                factors.append(sp.UnevaluatedExpr(factor))
            else:
                factors.append(sp.UnevaluatedExpr(fac.subs(A, f)))
        steps.append(_step("split into factors of the function itself",
                           sp.Mul(*factors, evaluate=False)))
    if direct.has(Z):  # f' is not yet written in f itself (it is for tanh: 1 - tanh²)
        fz = _NAMED_FUNCTIONS.get(defn.name, sp.Function(defn.name))(Z)
        steps.append(_step(f"write with {defn.symbol}(z) itself", form.subs(A, fz)))
    return steps


# functions SymPy should print by the lecture's symbol (σ) in the last step of a derivation
_NAMED_FUNCTIONS = {"sigmoid": sigmoid}


def _activation(defn: ActivationDef):
    """(f as written, f', f' in the output a or None, the parameters' defaults) in SymPy."""
    params = _param_symbols(defn)
    f = parse(defn.expression, ["z", *params], what=f"activation '{defn.name}'")
    f = f.subs({sp.Symbol(k, real=True): v for k, v in params.items()})
    f_text = textbook_form(f)
    d = _tidy(sp.diff(f_text, Z), keep_derived=True)
    defaults = {params[k]: v for k, v in defn.params}
    return f, f_text, d, output_form(f_text, d, defaults)


def derive_activation(defn: ActivationDef) -> dict:
    """Everything the documents and the numeric stage need about one activation."""
    f, f_text, d, form = _activation(defn)
    f_stable = stable_form(f)
    df_stable = stable_form(sp.diff(f_stable, Z))
    gradient_free = d == 0 or (isinstance(d, sp.Piecewise) and all(e == 0 for e, _ in d.args))
    return {
        "name": defn.name,
        "definition": defn.expression,
        "description": defn.description,
        "symbol": defn.symbol,
        "params": dict(defn.params),
        "elementwise": defn.elementwise,
        "function": spellings(f_text),
        "derivative": spellings(d),
        "derivative_from_output": spellings(form) if form is not None else None,
        "has_gradient": not gradient_free,
        "steps": activation_steps(defn, f_text, d, form),
        "numeric": {
            "f": to_tree(f_stable),
            "df": to_tree(df_stable),
            "df_from_output": to_tree(form) if form is not None else None,
        },
    }


def _loss(defn: LossDef):
    e = parse(defn.per_unit, ["o", "t", "K"], what=f"loss '{defn.name}'")
    return e.subs(sp.Symbol("K", real=True), K)


def derive_loss(defn: LossDef) -> dict:
    """One output unit's loss term, its derivative in the output o."""
    e = _loss(defn)
    de = sp.diff(e, O)
    de_nice = _tidy(de)
    return {
        "name": defn.name,
        "definition": defn.per_unit,
        "description": defn.description,
        "formula": defn.formula,
        "loss": spellings(e),
        "dE_do": spellings(de_nice),
        "minus_dE_do": spellings(_tidy(-de)),
        "numeric": {"E": to_tree(e), "dE_do": to_tree(de)},
    }


def derive_pairing(loss: LossDef, act: ActivationDef) -> dict:
    """Err = -dE/di for an output unit with this activation: in o and t where f' has a form in
    the output (the lecture's (t - o) o (1 - o)), else in o, t and the net input i."""
    de = sp.diff(_loss(loss), O)
    _, _, d, form = _activation(act)
    if form is not None:
        err, in_output = _tidy(-de * form.subs(A, O)), True
    else:
        err, in_output = _tidy(-de * d.subs(Z, sp.Symbol("i", real=True))), False
    return {"loss": loss.name, "activation": act.name, "in_output": in_output,
            "Err": spellings(err), "numeric": to_tree(stable_form(err))}
