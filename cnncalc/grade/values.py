"""Numbers and sizes as students write them ('1,134', '1 134', '1134.4', '105M', '35 k params',
'1.2 million', '1.2e6', '1.2 × 10^6', '7.5 MB', '55x55', '(55, 55)', '55×55×96', and '1134,4' with
--decimal-comma), and the grading rule: the true value rounded half up, or truncated, at the
precision written."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from ..core.numbers import KB, round_half_up, truncate
from ..core.shapes import format_shape, is_sequence
from .columns import MACS, MEMORY, PARAMS

MAX_CELL_CHARS = 60  # a longer cell is unparseable; `given` is cut to this length
MAX_EXPONENT = 30  # 1e999999999 would take forever to compare exactly

# thousands separators: a comma (a point with --decimal-comma), a space of any width, an apostrophe
_GROUPS = {False: r"[,\u00a0\u2009\u202f'\u2019 ]", True: r"[.\u00a0\u2009\u202f'\u2019 ]"}
_DECIMAL = {False: r"\.", True: ","}


def _number_pattern(decimal_comma: bool) -> re.Pattern[str]:
    return re.compile(
        rf"""(?P<sign>[+-])?
        (?P<int>\d{{1,3}}(?P<sep>{_GROUPS[decimal_comma]})\d{{3}}(?:(?P=sep)\d{{3}})*|\d+)?
        (?:{_DECIMAL[decimal_comma]}(?P<frac>\d+)?)?
        (?:[eE](?P<exp>[+-]?\d+)|\s*[x\u00d7*\u00b7\u22c5]\s*10\s*(?:\^|\*\*)\s*(?P<power>[+-]?\d+)
           |\s*[x\u00d7*\u00b7\u22c5]\s*10(?P<superscript>[\u207a\u207b]?[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+))?
        \s*(?P<suffix>[^\W\d_]+(?:\s+[^\W\d_]+)?)?""",
        re.X,
    )


_NUMBER = {flag: _number_pattern(flag) for flag in (False, True)}
_SIZE = r"(\d+)(?:\.0+)?"  # '55', or '55.0' as a spreadsheet may write it
_BY = r"\s*(?:[x\u00d7X*,;]|by)\s*"  # 55x55, 55×55, 55*55, (55, 55), 55 by 55
_SHAPE = re.compile(rf"(?P<open>[(\[])?\s*{_SIZE}(?:{_BY}{_SIZE}(?:{_BY}{_SIZE})?|\s*(?:\^2|\u00b2))?"
                    r"\s*(?P<close>[)\]])?")
_SUPERSCRIPTS = str.maketrans("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207a\u207b",
                              "0123456789+-")
# '0,6', '1134,375', '1,5k': a comma that cannot group thousands, so most likely a decimal comma
DECIMAL_COMMA_LIKE = re.compile(r"[+-]?\d+,(\d{1,2}|\d{4,})\s*[^\W\d_]*")
NOT_APPLICABLE = {"-", "\u2013", "\u2014", "n/a", "na", "none"}
_MEMORY_SUFFIX = {"b": 1, "byte": 1, "bytes": 1, "k": KB, "kb": KB, "kib": KB, "kilobyte": KB, "kilobytes": KB,
                  "m": KB**2, "mb": KB**2, "mib": KB**2, "megabyte": KB**2, "megabytes": KB**2, "g": KB**3,
                  "gb": KB**3, "gib": KB**3, "gigabyte": KB**3, "gigabytes": KB**3}
_COUNT_PREFIX = {"": 1, "k": 10**3, "thousand": 10**3, "m": 10**6, "mil": 10**6, "mio": 10**6, "million": 10**6,
                 "millions": 10**6, "g": 10**9, "b": 10**9, "billion": 10**9, "billions": 10**9}
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

    def rescaled(self, factor: Fraction) -> Number:
        """The same digits read in another unit: '1161.6' KB read as kB = 1000 bytes is × 1000/1024."""
        return Number(self.mantissa, self.step * factor)


def parse_number(text: str, quantity: str, unit: int, decimal_comma: bool = False) -> Number | None:
    """'1,134' / '1134.4' / '0.6' / '37,753' / '105M' / '7.5 MB' / '1.05e8' -> Number; None if not a number.

    Thousands separators must group by three ('1,13' is not a number, nor is the European '0,6'
    unless `decimal_comma`, where '0,6' is 0.6 and '1.134,4' is 1134.4). A suffix gives the value's
    own unit: k, M, G (1000s) for counts, KB, MB, GB (1024s) for memory."""
    text = text.strip().replace("\u2212", "-")
    if len(text) > MAX_CELL_CHARS:
        return None
    match = _NUMBER[decimal_comma].fullmatch(text)
    if not match or (match["int"] is None and match["frac"] is None):
        return None
    digits = re.sub(r"\D", "", match["int"] or "") + (match["frac"] or "")
    if not digits:
        return None  # '.'
    power = match["exp"] or match["power"] or (match["superscript"] or "").translate(_SUPERSCRIPTS) or "0"
    exponent = int(power) - len(match["frac"] or "")
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
    suffix = "".join(suffix.split())  # '35 k params', '105 M MACs'
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


def rounded(given: Number, exact: Fraction) -> bool:
    """`exact` rounded half up at the precision written is `given`."""
    return given.mantissa == round_half_up(Fraction(exact) / given.step)


def truncated(given: Number, exact: Fraction) -> bool:
    """`exact` truncated at the precision written is `given`."""
    return given.mantissa == truncate(Fraction(exact) / given.step)


def is_right(given: Number, exact: Fraction, rtol: Fraction | None = None, truncation: bool = True) -> bool:
    """The grading rule: the true value rounded half up at the precision the student wrote, or
    truncated there (unless `truncation` is off). With `rtol`, truncation gives way to a relative
    tolerance: rounded at the precision written, or |given - exact| <= rtol * |exact|, so that the
    lecture table's own rounded values ('1' for 0.63 M) are right under any tolerance."""
    if rounded(given, exact):
        return True
    if rtol is not None:
        return abs(given.value - exact) <= rtol * abs(exact)
    return truncation and truncated(given, exact)


def parse_hw(text: str, decimal_comma: bool = False) -> tuple[int, ...] | None:
    """'55' / '55x55' / '55×55' / '17x9' / '(55, 55)' / '55 by 55' / '55²' / '55.0' -> (H, W); a
    whole output shape ('55x55x96', '(96, 55, 55)') -> its three sizes, for `hw_of_shape`."""
    sizes = _written_sizes(text, decimal_comma)
    return None if sizes is None else sizes if len(sizes) > 1 else sizes * 2


def _written_sizes(text: str, decimal_comma: bool) -> tuple[int, ...] | None:
    """The one to three sizes a cell writes ('55²' is one), or None."""
    text = text.strip()
    if len(text) > MAX_CELL_CHARS:
        return None
    if decimal_comma:
        text = re.sub(r"(\d),0+(?!\d)", r"\1.0", text)  # '55,0' is 55
    match = _SHAPE.fullmatch(text)
    if not match or (match["open"] or "") + (match["close"] or "") not in ("", "()", "[]"):
        return None
    return tuple(int(size) for size in match.group(2, 3, 4) if size is not None)


def sequence_of(text: str, decimal_comma: bool = False) -> tuple[int, int] | None:
    """'197×768' / '197 x 768' / '(197, 768)' -> (197, 768): the C_out of a sequence of tokens, which the table
    writes whole (L×D); None unless the cell holds exactly two sizes."""
    sizes = _written_sizes(text, decimal_comma)
    return (sizes[0], sizes[1]) if sizes is not None and len(sizes) == 2 else None


def output_answers(shape: tuple) -> tuple[object, tuple | None]:
    """(C_out, H'/W') of an output shape as the lecture table shows them: C and (H, W) of a feature map, C of
    a vector, a sequence of tokens whole as C_out, (L, D) (core/shapes.is_sequence), with no H'/W'."""
    if not shape:
        return None, None
    if is_sequence(shape):
        return tuple(shape), None
    return shape[0], (shape[1], shape[2]) if len(shape) == 3 else None


def c_out_text(c_out: object) -> str:
    """C_out as the table writes it: a number, or a sequence's L×D whole (see output_answers)."""
    return format_shape(c_out) if isinstance(c_out, tuple) else str(c_out)


def hw_of_shape(sizes: tuple[int, ...], channels: Iterable[int | None]) -> tuple[int, ...]:
    """(H, W) of a whole output shape written for H'/W': C×H×W or H×W×C, whichever has one of
    `channels` (the layer's true C_out, or the student's own) where the channels go; the three sizes
    unchanged when neither does, or both do with different sizes (then it is not the answer)."""
    if len(sizes) != 3:
        return sizes
    known = {c for c in channels if c is not None}
    readings = {reading for reading, c in (((sizes[1], sizes[2]), sizes[0]), ((sizes[0], sizes[1]), sizes[2]))
                if c in known}
    return readings.pop() if len(readings) == 1 else sizes
