"""Human sizes with units, as budgets and memory limits are written: `25M` parameters, `4.1e9`
multiply-adds, `24GiB` or `80GB` of memory.

Counts take the SI prefixes k, M, G, T (10^3 ... 10^12). Byte sizes need a unit that says which
base it is: KB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB powers of 1024, B is bytes; a
bare prefix (`24G`) is refused as ambiguous, and so is a byte unit on a count (`25MB` parameters).
Values are exact: `1.5GiB` is 1,610,612,736 bytes; a size that is not a whole number is refused.
"""
from __future__ import annotations

import re
from fractions import Fraction

from .errors import OptionError

COUNT_PREFIXES = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
BYTE_UNITS = {
    "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}
MAX_DIGITS = 30  # a number written with more characters is not a limit anyone means
MAX_VALUE = 10**30  # far beyond any machine

_QUANTITY = re.compile(r"\s*(?P<number>[0-9][0-9_,]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,2})?)\s*(?P<unit>[A-Za-z]*)\s*")


def _split(text: str, what: str) -> tuple[Fraction, str]:
    match = _QUANTITY.fullmatch(text)
    if match is None or len(match["number"]) > MAX_DIGITS:
        raise OptionError(f"{what}: {text!r} is not a size", hint="e.g. 25M, 4.1e9, 24GiB")
    number = match["number"].replace("_", "").replace(",", "")
    return Fraction(number), match["unit"]


def _whole(value: Fraction, text: str, what: str) -> int:
    if value > MAX_VALUE:
        raise OptionError(f"{what}: {text!r} is too large (the largest size is 10^30)")
    if value.denominator != 1:
        raise OptionError(f"{what}: {text!r} is not a whole number")
    return int(value)


def parse_count(text: str, what: str = "limit") -> int:
    """'25M' -> 25_000_000, '4.1e9' -> 4_100_000_000, '1500' -> 1500 (parameters, multiply-adds)."""
    value, unit = _split(text, what)
    if unit in BYTE_UNITS:
        raise OptionError(f"{what}: {text!r} is a number of bytes, not a count",
                          hint="counts take k, M, G, T (powers of 1000): e.g. 25M")
    if unit not in COUNT_PREFIXES:
        raise OptionError(f"{what}: unknown unit {unit!r} in {text!r}",
                          hint="counts take k, M, G, T (powers of 1000): e.g. 25M, 4G")
    return _whole(value * COUNT_PREFIXES[unit], text, what)


def parse_bytes(text: str, what: str = "limit") -> int:
    """'24GiB' -> 25_769_803_776, '80GB' -> 80_000_000_000, '512B' -> 512, '1024' -> 1024 bytes."""
    value, unit = _split(text, what)
    if unit == "":
        return _whole(value, text, what)
    if unit not in BYTE_UNITS:
        near = {"k": "KB or KiB", "K": "KB or KiB", "M": "MB or MiB", "G": "GB or GiB", "T": "TB or TiB",
                "kB": "KB or KiB", "Kb": "KB or KiB"}.get(unit)
        if near:
            raise OptionError(f"{what}: {text!r} is ambiguous: say {near.split(' or ')[0]} (powers of 1000) "
                              f"or {near.split(' or ')[1]} (powers of 1024)", hint=f"e.g. 24{near[-3:]}")
        raise OptionError(f"{what}: unknown unit {unit!r} in {text!r}",
                          hint="bytes take B, KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024)")
    return _whole(value * BYTE_UNITS[unit], text, what)
