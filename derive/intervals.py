"""Which written numbers are right: the one interval rule of the answer key, the quizzes,
`derive check` and `derive grade`.

A right value shown to `places` decimals stands for every number that rounds to it: its
rounding interval, half a unit of the last place either side (0.0576 at 4 places:
[0.05755, 0.05765]).  A problem's accepted intervals are the rounding intervals of its
distinct right values (the exact chain and the chain rounded by hand as one goes), never one
wide interval spanning both, so no interval takes in a value that no right chain gives.

Everything here is decimal: values are rounded half up on the digits of their shortest repr
(as a person rounds the number printed), and bounds are computed in Decimal, so a bound reads
0.05765, never 0.057649999999999996.  `within` is the same rule seen from the student's side,
as `derive check` applies it at the precision the student wrote: a given value g written to p
places is right for a chain value x when |g - x| <= half a unit of p (plus the rounding carried
from earlier steps); for g written to the places asked that is exactly "g is in x's rounding
interval" (tests/test_intervals.py checks the two agree).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache


def decimal(value, places: int | None = None) -> Decimal:
    """A float as the decimal it stands for (text as written).  To be rounded to `places`,
    binary noise far below that place is dropped first: (0.82² + 0.07²)/2 computes as
    0.33864999999999995 but is 0.33865, which rounds to 0.3387.  Its 15 significant digits
    (DESIGN.md) are used when they reach at least two places past the rounding place; a
    value too large for that keeps every digit (4e15 + 0.5 stays 4000000000000000.5)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value.strip())
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    exact = Decimal(repr(value))
    if value == 0 or len(exact.as_tuple().digits) <= 15:
        return exact
    fifteen = Decimal(f"{value:.15g}")
    if places is None or fifteen.adjusted() - 14 <= -(places + 2):
        return fifteen
    return exact


# Far from a tie, scaling in binary decides the rounding as the decimal digits do: the decimal
# a value stands for (its repr, or its 15 significant digits) is within |v|·5e-15 of it, and
# s = |v|·10^p is off from the scaled decimal by less than s·(5e-15 + 2^-52), so when the
# fraction of s is further than s·1e-14 from one half, floor(s) or floor(s) + 1 is the rounded
# integer n, and n / 10^p (two exact floats, one correctly rounded division) is the float of
# the decimal result.  Near a tie the Decimal definition below decides.  Rounding every value
# through Decimal was a fifth of the time of writing a problem set.
_SCALES = tuple(10.0 ** p for p in range(23))
TIE_MARGIN = 1e-14


def rounded_float(value: float, places: int) -> float | None:
    """value rounded half up to `places` decimals, as the float of the result, when binary
    scaling can tell (away from a tie); None when only the decimal definition can."""
    if 0 <= places < 23:  # len(_SCALES)
        scale = _SCALES[places]
        s = abs(value) * scale
        if s < 4503599627370496.0:  # 2**52; False for an infinity or a NaN
            whole = s // 1.0  # floor, as a float (exact below 2**52)
            frac = s - whole
            if abs(frac - 0.5) > s * TIE_MARGIN:
                return math.copysign(whole + 1.0 if frac > 0.5 else whole, value) / scale + 0.0
    return None


def rounded(value, places: int) -> Decimal:
    """value rounded half up to `places` decimals, on the digits a person reads (0.1245 ->
    0.125); -0 comes out as 0."""
    if isinstance(value, float) and places <= 9 and abs(value) < 1e6:
        fast = rounded_float(value, places)
        if fast is not None:  # its digits at `places` (at most 15 significant) are the result
            return Decimal(f"{fast:.{places}f}")
    with localcontext() as ctx:
        ctx.prec = 80  # quantize needs every digit of the result
        out = decimal(value, places).quantize(Decimal(1).scaleb(-places),
                                              rounding=ROUND_HALF_UP)
    return out.copy_abs() if out.is_zero() else out


def text(value, places: int) -> str:
    """The value as shown at `places` decimals, trailing zeros kept: '0.650', '-0.0100'."""
    return format(rounded(value, places), "f")


@lru_cache(maxsize=64)  # a Decimal is immutable; a key asks this for every answer
def half_unit_decimal(places: int) -> Decimal:
    """Half a unit in the last of `places` decimals, exactly: 0.0005 for 3."""
    return Decimal(5).scaleb(-(places + 1))


@lru_cache(maxsize=64)
def half_unit(places: int) -> float:
    """Half a unit in the last of `places` decimals, as the float that reads 0.0005."""
    return float(half_unit_decimal(places))


def rounding_interval(value, places: int) -> tuple[Decimal, Decimal]:
    """Every number that rounds to value's digits at `places`: [shown - h, shown + h]."""
    shown = rounded(value, places)
    h = half_unit_decimal(places)
    return shown - h, shown + h


def right_values(values, places: int) -> list[Decimal]:
    """The distinct right values at the places shown, the first value's first, the others in
    ascending order (the key's answer, then the other chains' values)."""
    out: list[Decimal] = []
    for v in values:
        r = rounded(v, places)
        if r not in out:
            out.append(r)
    return out[:1] + sorted(out[1:])


def accept(values, places: int) -> list[tuple[Decimal, Decimal]]:
    """One rounding interval per distinct right value, in ascending order."""
    h = half_unit_decimal(places)
    return [(r - h, r + h) for r in sorted(right_values(values, places))]


def as_json(intervals) -> list[list[float]]:
    """[[lo, hi], ...] as floats that print exactly as the decimal bounds (15 digits)."""
    return [[float(lo), float(hi)] for lo, hi in intervals]


def right_and_accept(values, places: int) -> tuple[list[float], list[list[float]]] | None:
    """[float(r) for r in right_values(values, places)] and as_json(accept(values, places)),
    computed on integers where binary scaling settles every value's digits; None otherwise.

    A value v rounds to the integer n = v's digits at `places` (rounded_float gives n / 10^p,
    the float nearest the decimal, which scaling back turns into n exactly for |v| < 1e6 and
    places <= 9).  The interval's ends are the decimals (10n -+ 5) / 10^(p+1), and Python's
    division of two integers is correctly rounded, as float() of a Decimal is: the same floats
    as the Decimal route, without building a Decimal (a key asks this for every answer)."""
    if not 0 <= places <= 9:
        return None
    scale = _SCALES[places]
    ns: list[int] = []
    for v in values:
        if type(v) is not float or not -1e6 < v < 1e6:
            return None
        r = rounded_float(v, places)
        if r is None:
            return None
        n = round(r * scale)
        if n not in ns:
            ns.append(n)
    ns[1:] = sorted(ns[1:])
    right = [n / scale + 0.0 for n in ns]  # + 0.0: a zero is 0.0, as float(Decimal('0.000'))
    tenth = 10 ** (places + 1)
    accept = [[(10 * n - 5) / tenth, (10 * n + 5) / tenth] for n in sorted(ns)]
    return right, accept


def accepted(given, intervals) -> bool:
    """Is the written number (text, or a float read as its shortest repr) in an interval?
    Bounds are inclusive, as Moodle and Canvas compare."""
    g = decimal(given)
    return any(decimal(lo) <= g <= decimal(hi) for lo, hi in intervals)


def within(given: float, value: float, half_width: float) -> bool:
    """check's comparison at the precision written: |given - value| <= half_width, with the
    slack of binary arithmetic (a value exactly on the bound counts, as in `accepted`)."""
    return abs(given - value) <= half_width * (1 + 1e-9) + 1e-12
