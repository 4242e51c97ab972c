"""Rounding and number formatting shared by every renderer (and, later, the grader)."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

KB = 1024  # the lectures' memory unit: KB = 1024 bytes
THOUSAND = 1000  # Params (k)
MILLION = 10**6  # MACs (M)


def round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero (253.5 -> 254, as the slides do)."""
    sign = -1 if value < 0 else 1
    return sign * int(abs(value) + Fraction(1, 2))


def grouped(n: int) -> str:
    """1134 -> '1,134' (a symbolic expression prints as itself)."""
    return f"{n:,}" if isinstance(n, int) else str(n)


def scaled(value: Any, unit: int) -> str:
    """An exact count in a lecture unit, rounded half up to a whole number with thousands separators.

    A non-zero value that would round to 0 keeps one significant digit (0.39 M -> '0.4'), so that
    nothing real is ever shown as 0.
    """
    if not isinstance(value, int):  # a symbolic size: show the formula
        return str(value / unit)
    exact = Fraction(value, unit)
    whole = round_half_up(exact)
    if whole != 0 or exact == 0:
        return grouped(whole)
    digits = 1
    while abs(exact) * 10**digits < 1:
        digits += 1
    small = Fraction(round_half_up(exact * 10**digits), 10**digits)
    return f"{float(small):.{digits}f}"


def human(value: int, unit: str = "") -> str:
    """1135906176 -> '1.14 G' (powers of 1000)."""
    if not isinstance(value, int):
        return str(value)
    for factor, prefix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value} {unit}".rstrip()


def human_bytes(value: int) -> str:
    """1161600 -> '1.11 MiB' (powers of 1024)."""
    if not isinstance(value, int):
        return str(value)
    for factor, prefix in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if abs(value) >= factor:
            number = value / factor
            return f"{number:.3g} {prefix}" if abs(number) < 999.5 else f"{number:.0f} {prefix}"  # not 1.02e+03
    return f"{value} B"


def truncate(value: Fraction) -> int:
    """Drop the fraction, toward zero (0.63 -> 0, as the slides' pool rows do)."""
    return int(value)


def decimal_text(value: Fraction, grouping: bool = False) -> str:
    """An exact count in a lecture unit as a decimal: Fraction(1161600, 1024) -> '1134.375'.

    Every lecture unit (1024, 1000, 10**6) gives a terminating decimal; anything else is cut at
    12 decimals (rounded half up). `grouping` adds thousands separators ('1,134.375').
    """
    sign = "-" if value < 0 else ""
    value = abs(Fraction(value))
    digits = 0
    while (value * 10**digits).denominator != 1 and digits < 12:
        digits += 1
    scaled_value = round_half_up(value * 10**digits)
    whole, fraction = divmod(scaled_value, 10**digits)
    if scaled_value == 0:
        sign = ""
    text = grouped(whole) if grouping else str(whole)
    if fraction:
        text += "." + f"{fraction:0{digits}d}".rstrip("0")
    return sign + text
