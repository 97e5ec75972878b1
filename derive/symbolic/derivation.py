"""SymPy derives: each activation's derivative, its form in the unit's output, the steps.

Everything here returns plain JSON-serialisable dicts (the records the cache stores), with
each expression in four spellings — SymPy-parsable text, LaTeX, presentation MathML and one
line of Unicode for the terminal (derive.symbolic.oneline) — and the NumPy evaluation trees of derive.symbolic.tree.  This is the only module that does
calculus; it runs on a cache miss (derive.symbolic.cache) and in the tests.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.entities import html5

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from derive.expr import parse
from derive.symbolic import budget
from derive.symbolic.definitions import ActivationDef, LossDef
from derive.symbolic.oneline import oneline
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
    """LaTeX with short fractions written a/b where they would be nested, in a function's
    argument or an exponent (erf(√2 z/2), e^{-z²/2}): a fraction there is set in a small
    script size and reads cramped (GELU's derivative)."""

    def _inline(self, method, expr, *args, **kwargs):
        saved = self._settings["fold_short_frac"]
        self._settings["fold_short_frac"] = True
        try:
            return method(expr, *args, **kwargs)
        finally:
            self._settings["fold_short_frac"] = saved

    def _print_Function(self, expr, exp=None):
        return self._inline(super()._print_Function, expr, exp)

    def _print_ExpBase(self, expr, exp=None):
        return self._inline(super()._print_ExpBase, expr, exp)


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

    def _print_Derivative(self, e):
        """d/dz (1 + e^{-z}) with its parentheses, as LaTeX prints it (SymPy's MathML drops
        them, which reads as d/dz 1 + e^{-z})."""
        mrow = super()._print_Derivative(e)
        mrow.replaceChild(self.parenthesize(e.expr, PRECEDENCE["Mul"]), mrow.lastChild)
        return mrow

    def _print_Piecewise(self, expr):
        """A brace and one row per branch, 'value if condition' ('otherwise' last), as LaTeX's
        cases; SymPy's MathML writes the text "piecewise((0, o = 0), ...)"."""
        mrow = self.dom.createElement("mrow")
        brace = self.dom.createElement("mo")
        brace.appendChild(self.dom.createTextNode("{"))
        mrow.appendChild(brace)
        table = self.dom.createElement("mtable")
        table.setAttribute("columnalign", "left left")
        for value, cond in expr.args:
            tr = self.dom.createElement("mtr")
            for part in (value, cond):
                td = self.dom.createElement("mtd")
                if part is cond:
                    text = self.dom.createElement("mtext")
                    text.appendChild(self.dom.createTextNode(
                        "\u2003otherwise" if cond == sp.true else "\u2003if\u2002"))
                    td.appendChild(text)
                    if cond != sp.true:
                        td.appendChild(self._print(cond))
                else:
                    td.appendChild(self._print(part))
                tr.appendChild(td)
            table.appendChild(tr)
        mrow.appendChild(table)
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
    """Presentation MathML with characters instead of named entities (a page needs no DTD),
    and the minus sign (U+2212) that the page's numbers use, never the hyphen."""
    text = _MathML().doprint(expr)
    text = re.sub(r"&([A-Za-z]+);",
                  lambda m: m.group(0) if m.group(1) in ("lt", "gt", "amp", "quot")
                  else html5.get(m.group(1) + ";", m.group(0)), text)
    # the plain letters d and e of the rest of the page, not the double-struck ⅆ and ⅇ
    text = text.replace("ⅆ", "d").replace("ⅇ", "e")
    return text.replace("<mo>-</mo>", "<mo>\u2212</mo>")


def spellings(expr) -> dict:
    """The spellings of an expression that documents and JSON carry."""
    return {
        "expression": _Str().doprint(expr),
        "latex": _Latex().doprint(expr),
        "text": oneline(expr),  # one line of Unicode, for the terminal (plain text)
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
        pieces = _output_conditions(f, pieces)
        yield sp.piecewise_fold(sp.Piecewise(*pieces))
        return
    yield from _invert_and_substitute(f, d)


def _image(expr, zset):
    """The values a = expr(z) takes for z in the interval zset (expr is monotone there: it
    was inverted), as an Interval; None when SymPy cannot tell."""
    if not isinstance(zset, sp.Interval):
        return None
    ends = []
    for end, side, included in ((zset.inf, "+", not zset.left_open),
                                (zset.sup, "-", not zset.right_open)):
        if end.is_infinite:
            ends.append((sp.limit(expr, Z, end), False))
        else:
            ends.append((sp.limit(expr, Z, end, side), included))
    (lo, lo_in), (hi, hi_in) = ends
    if not (lo.is_extended_real and hi.is_extended_real):
        return None
    if bool(lo > hi):  # decreasing
        (lo, lo_in), (hi, hi_in) = (hi, hi_in), (lo, lo_in)
    return sp.Interval(lo, hi, not lo_in or lo.is_infinite, not hi_in or hi.is_infinite)


def _output_conditions(f, pieces):
    """Each branch's condition written as the outputs it gives (a ≥ 0), not as its condition
    on z with z replaced by the inverse (a/(a − 1) ≤ 0): the image of the branch's z-interval,
    with the bounds that every output has anyway (a < 1 when the range is (−1, 1)) left out.
    Where SymPy cannot tell an image, the pieces stay as they are."""
    try:
        images, seen = [], sp.EmptySet
        for (expr, cond), (_, acond) in zip(f.args, pieces):
            zset = sp.Complement(cond.as_set(), seen) if cond != sp.true else \
                sp.Complement(sp.Reals, seen)
            seen = sp.Union(seen, zset)
            images.append(_image(expr, sp.simplify(zset)) if expr.has(Z) else
                          sp.FiniteSet(expr))
        if any(im is None for im in images):
            return pieces
        whole = sp.Union(*images)
        lo, hi = whole.inf, whole.sup
        out = []
        for (form, acond), im in zip(pieces, images):
            if acond == sp.true or isinstance(im, sp.FiniteSet):
                out.append((form, acond))  # "otherwise", or a constant branch (a = 0)
                continue
            parts = []
            if im.inf != lo:
                parts.append(A > im.inf if im.left_open else A >= im.inf)
            if im.sup != hi:
                parts.append(A < im.sup if im.right_open else A <= im.sup)
            out.append((form, sp.And(*parts) if parts else sp.true))
        return out
    except (NotImplementedError, ValueError, TypeError):
        return pieces


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
    # a custom activation is f, as every document calls it (its name is the expression)
    what = defn.symbol if defn.name.startswith("custom") else defn.name
    steps = [_step(f"differentiate {what}", sp.Derivative(f, Z))]
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
        # a registered activation by its name (parsable again: the JSON's expressions are),
        # a custom one as f, as every document calls it (its name is the expression itself)
        fz = _NAMED_FUNCTIONS.get(defn.name, sp.Function(what))(Z)
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
    needs = _unevaluable(form) if form is not None else None
    if needs is not None:
        form = None  # e.g. erf's form needs erfinv: the activation simply has no output form
    return (f, f_text, d, form, needs), tuple(budget.omitted()[before:])


def _unevaluable(expr):
    """The name of a function in expr that has no numeric form here (erfinv), else None."""
    try:
        to_tree(expr)
    except ValueError:
        from derive.symbolic.tree import _FUNCTIONS

        known = {f.__name__ for f in _FUNCTIONS} | {"Piecewise", "Max", "Min", "Heaviside"}
        names = sorted({type(g).__name__ for g in expr.atoms(sp.Function)} - known)
        return names[0] if names else "a function"
    return None


def _no_output_form(defn: ActivationDef, f_numeric: dict, needs, gradient_free: bool):
    """Why an activation has no derivative in terms of its output (None where it has one, or
    where the question does not arise): a function that form needs has no numeric form
    (erf's needs erfinv), or two net inputs give the same output with different slopes
    (leaky_relu with alpha < 0), which proves that no such form exists; else SymPy found none."""
    from derive.symbolic.shape import output_collision

    if gradient_free or not defn.elementwise:
        return None
    if needs is not None:
        return {"reason": "no_numeric_form", "needs": needs}
    collision = output_collision(f_numeric["f"], f_numeric["df"])
    if collision is not None:
        return {"reason": "not_determined", **collision}
    return {"reason": "not_found"}


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

    f, f_text, d, form, needs = _activation(defn)
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
        # why there is none: {"reason": "not_determined", "z": [z1, z2], "a", "fprime": [..]},
        # {"reason": "no_numeric_form", "needs": "erfinv"} or {"reason": "not_found"}
        # (None too where SymPy did not finish looking for one: "omitted" says so)
        "no_output_form": (_no_output_form(defn, at_defaults, needs, gradient_free)
                           if form is None and "output_form" not in budget.omitted() else None),
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


def _critical(e) -> list:
    """Where dE/do = 0, in the target t (and K): the candidates for E's least value inside
    the outputs' range (derive.numeric.ranges; half_sse, sse, mse, bce: o = t)."""
    try:
        roots = sp.solve(sp.diff(e, O), O)
    except (NotImplementedError, ValueError, TypeError):
        return []
    return [to_tree(r) for r in roots if r.is_real is not False and not r.has(sp.I)]


def _limits(e) -> dict:
    """E as o -> -oo and o -> +oo: "inf", "-inf", a tree in t, or None where E is not real
    out there (bce, ce take logs: their outputs lie in (0, 1))."""
    out = {}
    for key, point in (("-inf", -sp.oo), ("inf", sp.oo)):
        try:
            value = sp.limit(e, O, point)
        except (NotImplementedError, ValueError, TypeError):
            value = sp.nan
        if value == sp.oo:
            out[key] = "inf"
        elif value == -sp.oo:
            out[key] = "-inf"
        elif value.is_real and value.is_finite:
            out[key] = to_tree(value)
        else:
            out[key] = None
    return out


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
        "critical": _critical(e),  # the range over an output activation's outputs comes
        "limits": _limits(e),      # from these: derive.numeric.ranges.loss_range
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
    _, _, d, form, _ = _activation(act)
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
