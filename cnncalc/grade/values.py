"""Numbers and sizes as students write them ('1,134', '1134.4', '105M', '7.5 MB', '55x55'), and
the grading rule: the true value rounded half up, or truncated, at the precision written."""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..core.numbers import KB, round_half_up, truncate
from .columns import MACS, MEMORY, PARAMS

MAX_CELL_CHARS = 60  # a longer cell is unparseable; `given` is cut to this length
MAX_EXPONENT = 30  # 1e999999999 would take forever to compare exactly


_NUMBER = re.compile(
    r"""(?P<sign>[+-])?
        (?P<int>\d{1,3}(?P<sep>[,\u00a0\u2009\u202f' ])\d{3}(?:(?P=sep)\d{3})*|\d+)?
        (?:\.(?P<frac>\d+))?
        (?:[eE](?P<exp>[+-]?\d+))?
        \s*(?P<suffix>[^\W\d_]+)?""",
    re.X,
)
_SHAPE = re.compile(r"\(?\s*(\d+)\s*(?:[x\u00d7X*]\s*(\d+))?\s*\)?")
NOT_APPLICABLE = {"-", "\u2013", "\u2014", "n/a", "na", "none"}
_MEMORY_SUFFIX = {"b": 1, "byte": 1, "bytes": 1, "k": KB, "kb": KB, "kib": KB, "m": KB**2, "mb": KB**2,
                  "mib": KB**2, "g": KB**3, "gb": KB**3, "gib": KB**3}
_COUNT_PREFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_COUNT_WORDS = {PARAMS: ("parameters", "params", "param"),
                MACS: ("flops", "flop", "macs", "mac", "madds", "ops")}


@dataclass(frozen=True)
class Number:
    """A written number: `mantissa` × `step`, `step` (in the column's base unit: bytes, parameters,
    multiply-adds) being the precision the student wrote ('1134.4' KB: 11344 × 102.4 bytes)."""

    mantissa: int
    step: Fraction

    @property
    def value(self) -> Fraction:
        return self.mantissa * self.step


def parse_number(text: str, quantity: str, unit: int) -> Number | None:
    """'1,134' / '1134.4' / '0.6' / '37,753' / '105M' / '7.5 MB' / '1.05e8' -> Number; None if not a number.

    Thousands separators must group by three ('1,13' is not a number, nor is the European '0,6').
    A suffix gives the value's own unit: k, M, G (1000s) for counts, KB, MB, GB (1024s) for memory."""
    text = text.strip().replace("\u2212", "-")
    if len(text) > MAX_CELL_CHARS:
        return None
    match = _NUMBER.fullmatch(text)
    if not match or (match["int"] is None and match["frac"] is None):
        return None
    digits = re.sub(r"\D", "", match["int"] or "") + (match["frac"] or "")
    exponent = int(match["exp"] or 0) - len(match["frac"] or "")
    if abs(exponent) > MAX_EXPONENT:
        return None
    if match["suffix"] is not None:
        scale = _suffix_unit(match["suffix"].lower(), quantity)
        if scale is None:
            return None
    else:
        scale = unit
    mantissa = int(digits) * (-1 if match["sign"] == "-" else 1)
    return Number(mantissa, Fraction(10) ** exponent * scale)


def _suffix_unit(suffix: str, quantity: str) -> int | None:
    if quantity == MEMORY:
        return _MEMORY_SUFFIX.get(suffix)
    if quantity not in _COUNT_WORDS:
        return None
    for word in _COUNT_WORDS[quantity]:
        if suffix.endswith(word):
            suffix = suffix[: -len(word)]
            break
    else:
        if not suffix:
            return None
    return _COUNT_PREFIX.get(suffix)


def is_right(given: Number, exact: Fraction, rtol: Fraction | None = None) -> bool:
    """The grading rule. Without `rtol`: the true value rounded half up, or truncated, at the
    precision the student wrote. With `rtol`: |given - exact| <= rtol * |exact|."""
    if rtol is not None:
        return abs(given.value - exact) <= rtol * abs(exact)
    steps = Fraction(exact) / given.step
    return given.mantissa in (round_half_up(steps), truncate(steps))


def parse_hw(text: str) -> tuple[int, int] | None:
    """'55' / '55x55' / '55×55' / '17x9' -> (H, W)."""
    match = _SHAPE.fullmatch(text.strip()) if len(text) <= MAX_CELL_CHARS else None
    if not match:
        return None
    h = int(match[1])
    return h, int(match[2]) if match[2] else h


