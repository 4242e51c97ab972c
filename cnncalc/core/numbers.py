"""Rounding and number formatting shared by every renderer (and, later, the grader).

Integers print exactly while Python can print them (4,300 digits, its guard against quadratic
conversions); beyond that they print as `≈1.23457e+5000`, never as a traceback."""
from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from .symbolic import text as symbolic_text

KB = 1024  # the lectures' memory unit: KB = 1024 bytes
THOUSAND = 1000  # Params (k)
MILLION = 10**6  # MACs (M)


def round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero (253.5 -> 254, as the slides do)."""
    sign = -1 if value < 0 else 1
    return sign * int(abs(value) + Fraction(1, 2))


def integer_text(n: int, grouping: bool = False) -> str:
    """An integer in decimal, exact (with thousands separators when `grouping`); past Python's
    4,300-digit limit, six significant digits marked as approximate: '≈1.23457e+5000'."""
    try:
        return f"{n:,}" if grouping else str(n)
    except ValueError:
        return "\u2248" + scientific(n)


def scientific(n: int, digits: int = 6) -> str:
    """An integer of any size in scientific notation, its digits truncated: 123456789 -> '1.23456e+8'.
    Computed with integers: no float overflow, no conversion of all the digits."""
    sign, n = ("-" if n < 0 else ""), abs(n)
    if n == 0:
        return "0"
    exponent = int(math.log10(n))  # may be off by one for huge n: corrected below
    if 10**exponent > n:
        exponent -= 1
    elif 10 ** (exponent + 1) <= n:
        exponent += 1
    shift = exponent - digits + 1
    lead = str(n // 10**shift if shift >= 0 else n * 10**-shift)
    mantissa = (lead[0] + "." + lead[1:]).rstrip("0").rstrip(".")
    return f"{sign}{mantissa}e+{exponent}"


def float_text(value: Fraction | float, spec: str) -> str:
    """A fraction formatted as a float (`spec` as in format()), or in scientific notation when it is
    too large for a float."""
    try:
        return format(float(value), spec)
    except OverflowError:
        return "\u2248" + scientific(int(value))


def grouped(n: int) -> str:
    """1134 -> '1,134' (a symbolic expression prints as itself)."""
    return integer_text(n, grouping=True) if isinstance(n, int) else symbolic_text(n)


def scaled(value: Any, unit: int) -> str:
    """An exact count in a lecture unit, rounded half up to a whole number with thousands separators.

    A non-zero value that would round to 0 keeps one significant digit (0.39 M -> '0.4'), so that
    nothing real is ever shown as 0.
    """
    if not isinstance(value, int):  # a symbolic size: show the formula
        return symbolic_text(value / unit)
    whole = (2 * abs(value) + unit) // (2 * unit)  # round_half_up(value / unit) in integers: 4x faster
    if whole != 0:
        return grouped(-whole if value < 0 else whole)
    exact = Fraction(value, unit)
    if exact == 0:
        return "0"
    digits = 1
    while abs(exact) * 10**digits < 1:
        digits += 1
    small = Fraction(round_half_up(exact * 10**digits), 10**digits)
    return float_text(small, f".{digits}f")


def human(value: int, unit: str = "") -> str:
    """1135906176 -> '1.14 G' (powers of 1000)."""
    if not isinstance(value, int):
        return str(value)
    if abs(value) >= 10**15:
        return f"{scientific(value, 3)} {unit}".rstrip()
    for factor, prefix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value} {unit}".rstrip()


def human_bytes(value: int, digits: int = 3) -> str:
    """1161600 -> '1.11 MiB' (powers of 1024, `digits` significant digits)."""
    if not isinstance(value, int):
        return str(value)
    for factor, prefix in ((1024**4, "TiB"), (1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if abs(value) >= factor:
            number = Fraction(value, factor)  # 1,021 KiB reads '1021 KiB', not '1.02e+03 KiB'
            wide = abs(number) >= Fraction(10**digits * 10 - 5, 10)
            return f"{float_text(number, '.0f' if wide else f'.{digits}g')} {prefix}"
    return f"{value} B"


MAX_EXPONENT = 60  # a number typed by a user: exponents from -60 to 60, as the spec's expressions allow
MAX_NUMBER_TEXT = 100  # characters
_EXPONENT = re.compile(r"[eE]([-+]?[0-9]+)\s*$")


def exact_number(text: str) -> Fraction:
    """Fraction(text) ('0.05', '1e-3', '1/3') for a number typed in an option or a sheet's cell, or
    ValueError. One longer than MAX_NUMBER_TEXT characters, or whose exponent is beyond MAX_EXPONENT, is
    refused first: Fraction('1e-999999999') computes 10**999999999 before anything can look at it."""
    if len(text) > MAX_NUMBER_TEXT:
        raise ValueError(f"a number of more than {MAX_NUMBER_TEXT} characters")
    match = _EXPONENT.search(text)
    if match and abs(int(match[1])) > MAX_EXPONENT:
        raise ValueError(f"the exponent of {text!r} is beyond {MAX_EXPONENT}")
    return Fraction(text)


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
    text = integer_text(whole, grouping)
    if fraction:
        text += "." + f"{fraction:0{digits}d}".rstrip("0")
    return sign + text
