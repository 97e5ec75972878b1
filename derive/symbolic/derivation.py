"""SymPy derives: each activation's derivative, its form in the unit's output, the steps.

Everything here returns plain JSON-serialisable dicts (the records the cache stores), with
each expression in three spellings — SymPy-parsable text, LaTeX and Unicode pretty print —
and the NumPy evaluation trees of derive.symbolic.tree.  This is the only module that does
calculus; it runs on a cache miss (derive.symbolic.cache) and in the tests.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.entities import html5

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.str import StrPrinter

from derive.expr import parse
from derive.symbolic import budget
from derive.symbolic.definitions import ACTIVATIONS, ActivationDef, LossDef
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
    def __init__(self, settings=None):
        super().__init__(settings)
        # SymPy writes text nodes unescaped (so that its own &#x2202; passes): a relation's <
        # or a symbol's name would reach the page as markup; escape all but entities
        raw = self.dom.createTextNode
        self.dom.createTextNode = lambda data: raw(_escape_text(data))

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


def _escape_text(data: str) -> str:
    """Text for a MathML text node: < > and a bare & escaped; an entity SymPy wrote stays."""
    data = re.sub(r"&(?!(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);)", "&amp;", data)
    return data.replace("<", "&lt;").replace(">", "&gt;")


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
    """The parameters (alpha) and context symbols (softmax's S), all positive."""
    names = [name for name, _ in defn.params] + [name for name, _ in defn.context]
    return {name: sp.Symbol(name, positive=True) for name in names}


# the value a context symbol takes when a candidate form is checked (any positive number does)
_CONTEXT_VALUE = sp.Rational(17, 10)


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
        # written as "not <=" so that a NaN (a branch SymPy left undefined) fails too
        if got is None or not abs(got - want) <= 1e-12 * max(1.0, abs(want)):
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
    if f.has(sp.Abs) and not isinstance(f, sp.Piecewise):
        # |z| as two pieces, so that each branch can be inverted on its own
        folded = sp.piecewise_fold(f.rewrite(sp.Piecewise))
        if isinstance(folded, sp.Piecewise):
            yield from _output_candidates(folded, d)
            return
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
    valid = []
    try:
        for candidate in _output_candidates(f, d):
            if _agrees(candidate, d, f, params):
                valid.append(candidate)
    except (TypeError, ValueError, NotImplementedError, ZeroDivisionError):
        pass  # SymPy gave up inverting some branch: the forms found so far (if any) stand
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
        coeff = factor.coeff(T)
        return bool(coeff.is_number and coeff < 0)
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


def _rule_step(f, Z=Z):
    """One application of a differentiation rule at the top of f, inner derivatives unevaluated."""
    D = lambda e: sp.Derivative(e, Z)  # noqa: E731
    if isinstance(f, sp.Mul) and not f.args[0].has(Z) and f.args[0] != 1 and len(
            [a for a in f.args if a.has(Z)]) == 1 and not sp.fraction(f)[1].has(Z):
        const, rest = f.as_independent(Z)
        return "constant factor: (c·u)′ = c·u′", const * D(rest)
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
    # a user's activation is named in the document's text, not in a step (a step's rule sits
    # inside the formula, where only the registry's plain names belong)
    named = defn.name if defn.name in ACTIVATIONS else "the custom activation"
    steps = [_step(f"differentiate {named}", sp.Derivative(f, Z))]
    rule = _rule_step(f)
    done = None
    if rule is None and f == sp.tanh(Z):
        # the textbook route: tanh = sinh/cosh, the quotient rule, cosh² − sinh² over cosh²
        quotient = sp.sinh(Z) / sp.cosh(Z)
        steps.append(_step("write tanh z = sinh z / cosh z", sp.Derivative(quotient, Z)))
        rule = _rule_step(quotient)
    if rule is not None:
        name, expr = rule
        steps.append(_step(name, expr))
        done = expr.doit()
        if done != expr:
            steps.append(_step("differentiate the inner terms", done))
    if done is not None and f == sp.tanh(Z):
        num, den = sp.fraction(sp.together(done))
        split = sp.Add(*[sp.Mul(t, sp.Pow(den, -1), evaluate=False)
                         for t in sp.Add.make_args(sp.expand(num))], evaluate=False)
        steps.append(_step("split the fraction: cosh²/cosh² − sinh²/cosh²", split))
    if spellings(d)["expression"] != steps[-1]["expression"]:
        steps.append(_step("simplify" if f != sp.tanh(Z) else "sinh/cosh = tanh", d))
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
        # a registered activation by its name; a user's by its symbol (f), never by the name
        # 'custom: ...', which printed as a SymPy function would reach LaTeX and MathML raw
        fname = defn.name if defn.name in ACTIVATIONS else defn.symbol
        fz = _NAMED_FUNCTIONS.get(defn.name, sp.Function(fname))(Z)
        steps.append(_step(f"write with {defn.symbol}(z) itself", form.subs(A, fz)))
    return steps


# functions SymPy should print by the lecture's symbol (σ) in the last step of a derivation
_NAMED_FUNCTIONS = {"sigmoid": sigmoid}


def _activation(defn: ActivationDef):
    """(f as written, f', f' in the output a or None, the parameters' defaults) in SymPy.

    Simplifying f' and finding its form in the output are optional steps with a time budget
    (derive.symbolic.budget); the result, and which steps were left out, are kept for the
    rest of the process, so that the pairing derived next uses the same f' and form."""
    result, omitted = _activation_kept(defn)
    budget.note_omitted(*omitted)
    return result


@lru_cache(maxsize=64)
def _activation_kept(defn: ActivationDef):
    before = len(budget.omitted())
    params = _param_symbols(defn)
    f = parse(defn.expression, ["z", *params], what=f"activation '{defn.name}'")
    f = f.subs({sp.Symbol(k, real=True): v for k, v in params.items()})
    f_text = textbook_form(f)
    raw = sp.diff(f_text, Z).subs(Z * sp.sign(Z), sp.Abs(Z))  # z·sign(z) is |z|
    d = budget.optional("simplify", lambda: _tidy(raw, keep_derived=True), raw)
    defaults = {params[k]: v for k, v in defn.params}
    defaults.update({params[k]: _CONTEXT_VALUE for k, _ in defn.context})
    form = budget.optional("output_form", lambda: output_form(f_text, d, defaults), None)
    return (f, f_text, d, form), tuple(budget.omitted()[before:])


def _is_zero(d) -> bool:
    return d == 0 or (isinstance(d, sp.Piecewise) and all(e == 0 for e, _ in d.args))


def softmax_jacobian() -> dict:
    """do_k/dz_j for softmax over all units: o_k (δ_kj − o_j), checked by SymPy on 3 units."""
    n = 3  # three units suffice to see the diagonal and the off-diagonal entries
    zs = sp.symbols(f"z1:{n + 1}", real=True)
    total = sum(sp.exp(v) for v in zs)
    outs = [sp.exp(v) / total for v in zs]
    ok, oj = sp.symbols("o_k o_j", positive=True)
    k, j = sp.symbols("k j", integer=True)
    general = ok * (sp.KroneckerDelta(k, j) - oj)
    diag = general.subs({k: 1, j: 1}).subs(oj, ok)
    off = general.subs({k: 1, j: 2})
    # the general form agrees with SymPy's derivatives of the definition, entry by entry
    for kk in range(n):
        for jj in range(n):
            want = sp.diff(outs[kk], zs[jj])
            got = general.subs({k: kk, j: jj}).subs({ok: outs[kk], oj: outs[jj]})
            assert sp.simplify(want - got) == 0, (kk, jj)
    return {"diagonal": spellings(unsign(sp.factor(diag))), "off_diagonal": spellings(off),
            "general": spellings(general)}


def derive_activation(defn: ActivationDef) -> dict:
    """Everything the documents and the numeric stage need about one activation."""
    from derive.symbolic.shape import shape

    f, f_text, d, form = _activation(defn)
    f_stable = stable_form(f)
    df_stable = stable_form(sp.diff(f_stable, Z))
    gradient_free = _is_zero(d)
    params = _param_symbols(defn)
    values = {params[k]: v for k, v in defn.params}
    values.update({params[k]: 1 for k, _ in defn.context})  # softmax: the others sum to 1
    at_defaults = {"f": to_tree(f_stable.subs(values)), "df": to_tree(df_stable.subs(values))}
    form_tree = to_tree(form.subs(values)) if form is not None else None
    measured = shape(f_text.subs(values), d.subs(values), Z, at_defaults, {}, form_tree,
                     constant=gradient_free, elementwise=defn.elementwise)
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
        "context": dict(defn.context),
        "jacobian": None if defn.elementwise else softmax_jacobian(),
        "range": measured["range"],
        "vanishing": measured["vanishing"],
        "steps": activation_steps(defn, f_text, d, form),
        "numeric": {
            "f": to_tree(f_stable),
            "df": to_tree(df_stable),
            "df_from_output": to_tree(form) if form is not None else None,
        },
        # optional steps SymPy did not finish within their budget (derive.symbolic.budget),
        # and what that means, for the documents
        "omitted": budget.omitted(),
        "omitted_notes": budget.notes(budget.omitted()),
    }


def _loss(defn: LossDef):
    e = parse(defn.per_unit, ["o", "t", "K"], what=f"loss '{defn.name}'")
    return e.subs(sp.Symbol("K", real=True), K)


S_OG = sp.Symbol("s", real=True)  # softmax: s = Σ_k o_k ∂E/∂o_k over the output units


def _chain(quantity, rule, expr):
    return {"quantity": quantity, **_step(rule, expr)}


def _loss_range(e, domain=None):
    """Where E is smallest and largest for a target t = 1 (and t = 0 for bce), over the outputs
    o in `domain`: by default (0, 1) where E takes logs (bce, ce need such outputs), else every
    real o.  Candidates: the critical points inside and the one-sided limits at the ends."""
    if domain is None:
        domain = (0.0, 1.0) if e.has(sp.log) else (None, None)
    lo, hi = domain
    rows = []
    targets = (1, 0) if e.subs(T, 0).has(O) else (1,)
    for t0 in targets:
        et = e.subs(T, t0)
        candidates = []
        for root in sp.solve(sp.diff(et, O), O):
            if root.is_real and (lo is None or root > lo) and (hi is None or root < hi):
                candidates.append((sp.simplify(et.subs(O, root)), root, True))
        for end, side in ((lo, "+"), (hi, "-")):
            point = (-sp.oo if side == "+" else sp.oo) if end is None else sp.nsimplify(end)
            # one-sided at a finite end of the domain (o → 0⁺, o → 1⁻), plain at ±∞
            value = sp.limit(et, O, point, side) if end is not None else sp.limit(et, O, point)
            candidates.append((value, point, False))
        finite = [c for c in candidates if c[0].is_finite]
        low = min(finite, key=lambda c: float(c[0])) if finite else None
        top = max(candidates, key=lambda c: float("inf") if not c[0].is_finite else float(c[0]))
        rows.append({
            "target": t0,
            "minimum": float(low[0]) if low else None,
            "minimum_at": sp.sstr(low[1]) if low else None,
            "minimum_attained": bool(low[2]) if low else False,
            "maximum": float(top[0]) if top[0].is_finite else None,
            "maximum_at": sp.sstr(top[1]),
        })
    return {"domain": [lo, hi], "by_target": rows}


def derive_loss(defn: LossDef) -> dict:
    """One output unit's loss term, its derivative in the output o."""
    e = _loss(defn)
    de = sp.diff(e, O)
    de_nice = _tidy(de)
    steps = [_chain("dE_do", f"differentiate {defn.name} in o", sp.Derivative(e, O))]
    expr = e
    for _ in range(3):  # peel constant factors, then one rule at the top
        rule = _rule_step(expr, O)
        if rule is None:
            break
        name, stepped = rule
        steps.append(_chain("dE_do", name, stepped))
        if not name.startswith("constant"):
            break
        expr = stepped.args[1] if isinstance(stepped, sp.Mul) else stepped
        expr = [a for a in sp.Mul.make_args(stepped) if isinstance(a, sp.Derivative)][0].expr
        const = sp.Mul(*[a for a in sp.Mul.make_args(stepped) if not isinstance(a, sp.Derivative)])
        rule = _rule_step(expr, O)
        if rule is None:
            break
        name, inner = rule
        steps.append(_chain("dE_do", name, const * inner))
        break
    steps.append(_chain("dE_do", "differentiate the inner terms", de))
    if spellings(de_nice)["expression"] != steps[-1]["expression"]:
        steps.append(_chain("dE_do", "simplify", de_nice))
    return {
        "name": defn.name,
        "definition": defn.per_unit,
        "description": defn.description,
        "formula": defn.formula,
        "loss": spellings(e),
        "dE_do": spellings(de_nice),
        "minus_dE_do": spellings(_tidy(-de)),
        "steps": steps,
        "range": _loss_range(e),
        "numeric": {"E": to_tree(e), "dE_do": to_tree(de)},
    }


def _softmax_pairing(de):
    """Err_j = −Σ_k ∂E/∂o_k · o_k (δ_kj − o_j) = o_j (s − ∂E/∂o_j), s = Σ_k o_k ∂E/∂o_k;
    where o·∂E/∂o depends on the target alone (ce: −t) s follows from Σ_k t_k = 1."""
    g = sp.Symbol("g", real=True)  # ∂E/∂o_j
    steps = [_chain("Err", "softmax couples the units: Err_j = −Σ_k ∂E/∂o_k · o_k(δ_kj − o_j)"
                    " = −(o_j g_j − o_j s), with g = ∂E/∂o and s = Σ_k o_k g_k",
                    -(O * g - O * S_OG))]
    err = -(O * de - O * S_OG)
    steps.append(_chain("Err", "substitute g = ∂E/∂o", err))
    og = sp.simplify(O * de)
    closed = False
    if not og.has(O) and og.is_polynomial(T) and sp.degree(og, T) <= 1:
        # Σ_k (c t_k + d) = c Σ_k t_k + d K = c + d K, since the targets sum to 1
        s_value = og.coeff(T) + og.subs(T, 0) * K
        steps.append(_chain("Err", f"s = Σ_k o_k ∂E/∂o_k = Σ_k ({sp.sstr(og)}) = "
                            f"{sp.sstr(s_value)}, because the targets sum to 1",
                            err.subs(S_OG, s_value)))
        err, closed = err.subs(S_OG, s_value), True
    tidy = _tidy(sp.expand(err))
    if spellings(tidy)["expression"] != steps[-1]["expression"]:
        steps.append(_chain("Err", "simplify", tidy))
    return tidy, steps, closed


def derive_pairing(loss: LossDef, act: ActivationDef) -> dict:
    """Err = -dE/di for an output unit with this activation: in o and t where f' has a form in
    the output (the lecture's (t - o) o (1 - o)), else in o, t and the net input i."""
    de = sp.diff(_loss(loss), O)
    de_nice = _tidy(de)
    _, _, d, form = _activation(act)
    context = {}
    if not act.elementwise:
        err, steps, closed = _softmax_pairing(de)
        in_output = True
        if not closed:
            context["s"] = "Σ_k o_k ∂E/∂o_k, summed over the output units"
    else:
        fprime = form.subs(A, O) if form is not None else d.subs(Z, sp.Symbol("i", real=True))
        in_output = form is not None
        product = sp.Mul(-1, de_nice, fprime, evaluate=False)
        steps = [_chain("Err", "Err = −∂E/∂o · f′(i)" + (", with f′ written in the output o"
                                                         if in_output else ""),
                        sp.Mul(-1, sp.Derivative(_loss(loss), O), fprime, evaluate=False)),
                 _chain("Err", "substitute ∂E/∂o", product)]
        err = budget.optional("simplify_error", lambda: _tidy(-de * fprime), -de * fprime)
        if spellings(err)["expression"] != steps[-1]["expression"]:
            steps.append(_chain("Err", "simplify (the cancellation)", err))
    return {"loss": loss.name, "activation": act.name, "in_output": in_output,
            "elementwise": act.elementwise, "context": context, "steps": steps,
            "Err": spellings(err), "numeric": to_tree(stable_form(err)),
            "omitted": budget.omitted(),
            "omitted_notes": budget.pairing_notes(budget.omitted())}
