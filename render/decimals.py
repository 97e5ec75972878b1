"""Numbers as a person reads them: a value rounded half up, on the decimal it stands for, to
the places its kind is asked to, trailing zeros kept.

This is render's own statement of the one rounding rule of DESIGN.md (the rule derive's answer
keys and accepted intervals use, derive/intervals.py): render is handed plain data and imports
nothing from derive, so it formats with this module, and tests/test_render_decimals.py checks on
many values, ties and binary noise included, that both give the same digits.

The decimal a float stands for is the one a person would have written: its shortest repr, or,
when that has more than 15 significant digits (binary noise: (0.82² + 0.07²)/2 computes as
0.33864999999999995), its 15 significant digits (0.33865), provided they reach at least two
places past the rounding place.  Binary formatting alone would print 0.1015 as 0.101.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, localcontext

_POWERS = tuple(10.0 ** p for p in range(10))


def stands_for(value, places: int) -> Decimal:
    """The decimal a number stands for, when it is to be rounded to `places`."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value.strip())
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    written = Decimal(repr(value))
    if value == 0 or len(written.as_tuple().digits) <= 15:
        return written
    short = Decimal(f"{value:.15g}")
    # its last digit two places or more past the rounding place: the noise is below it
    return short if short.adjusted() - 14 <= -(places + 2) else written


def _by_scaling(value: float, places: int) -> str | None:
    """The digits when binary scaling settles them: away from a tie, floor(|v|·10^p) or one
    more is the rounded integer (the decimal a value stands for is within |v|·5e-15 of it, the
    scaled product off by less than s·(5e-15 + 2^-52)); None near a tie."""
    if not (0 <= places < len(_POWERS) and abs(value) < 1e6):
        return None
    scale = _POWERS[places]
    s = abs(value) * scale
    whole = math.floor(s)
    frac = s - whole
    if abs(frac - 0.5) <= s * 1e-14:
        return None
    n = whole + 1 if frac > 0.5 else whole
    # n / 10^p is the float nearest the decimal result, which has at most 15 significant
    # digits here, so printing it at `places` gives those digits back
    text = f"{n / scale:.{places}f}"
    return f"-{text}" if value < 0 and n else text


def rounded(value, places: int) -> Decimal:
    """value rounded half up to `places` decimals; -0 comes out as 0."""
    with localcontext() as ctx:
        ctx.prec = 200
        out = stands_for(value, places).quantize(Decimal(1).scaleb(-places),
                                                 rounding=ROUND_HALF_UP)
    return out.copy_abs() if out.is_zero() else out


def text(value, places: int) -> str:
    """The value at `places` decimals, trailing zeros kept: '0.650', '-0.0100', never '-0.000'."""
    if type(value) is float or (isinstance(value, (float, int))
                                and not isinstance(value, bool)):
        fast = _by_scaling(float(value), places)  # None also for an infinity or a NaN
        if fast is not None:
            return fast
    return format(rounded(value, places), "f")


def half_unit(places: int) -> Decimal:
    """Half a unit in the last of `places` decimals, exactly: 0.0005 for 3."""
    return Decimal(5).scaleb(-(places + 1))
