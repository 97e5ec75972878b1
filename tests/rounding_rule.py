"""The one rounding rule of DESIGN.md, written out for the tests one Decimal step at a time,
independently of derive/intervals.py and render/decimals.py: the decimal a value stands for
(its repr; its 15 significant digits when its repr is longer and they reach two places past
the rounding place: binary noise, 0.5 - 0.2795 computes as 0.22049999999999997 but is
0.2205), rounded half away from zero, -0 as 0."""

from decimal import ROUND_HALF_UP, Decimal, localcontext


def definition(x: float, places: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        d = Decimal(repr(x))
        if x != 0 and len(d.as_tuple().digits) > 15:
            fifteen = Decimal(f"{x:.15g}")
            if fifteen.adjusted() - 14 <= -(places + 2):
                d = fifteen
        out = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return out.copy_abs() if out.is_zero() else out


def half_up(x: float, places: int) -> float:
    """The rounded value as a float (0.0, never -0.0)."""
    return float(definition(x, places)) + 0.0


def written(x: float, places: int) -> str:
    """As a person writes it: trailing zeros kept ('0.650', '-0.0100')."""
    return format(definition(x, places), "f")
