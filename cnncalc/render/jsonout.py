"""The one JSON writer: every `--format json` goes through `dumps`.

Values are made plain first (exact fractions as ints when whole, else floats; symbolic sizes as
strings that sympy parses; tuples as lists; inf and NaN, which JSON lacks, as null; integers past
Python's 4,300 digits as strings '≈1.23457e+5000'). Strings are exact; characters that are not
printable are \\u escapes. The layout is
indented by two spaces for reading and diffing: lists of plain values (shapes) stay on one line,
and with `rows_inline` a list of flat objects (graded cells) puts one object on each line."""
from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any

from ..core.numbers import integer_text
from ..core.symbolic import as_text


def plain(value: Any) -> Any:
    """`value` with only JSON's types in it (see the module docstring)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if value.bit_length() < 14_000 else _huge(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return plain(int(value))
        try:
            return float(value)
        except OverflowError:
            return _huge(int(value))
    return as_text(value)  # sympy numbers and expressions


def _huge(n: int) -> int | str:
    """An integer JSON can carry exactly (Python prints up to 4,300 digits), or else its
    approximation as a string: '≈1.23457e+5000'."""
    text = integer_text(n)
    return n if text[0] != "\u2248" else text


def dumps(value: Any, *, rows_inline: bool = False) -> str:
    """`value` as readable JSON text, ending in a newline."""
    return _layout(plain(value), "", rows_inline) + "\n"


def _flat(item: Any) -> bool:
    """An object of plain values (a list of plain values counts as one: a shape, a few names)."""
    return isinstance(item, dict) and not any(
        isinstance(v, dict) or (isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v))
        for v in item.values())


def _layout(value: Any, indent: str, rows_inline: bool) -> str:
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{_json(key)}: {_layout(item, inner, rows_inline)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and rows_inline and all(_flat(item) for item in value):
        return "[\n" + ",\n".join(inner + _json(item) for item in value) + f"\n{indent}]"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(inner + _layout(item, inner, rows_inline) for item in value) + f"\n{indent}]"
    return _json(value)


def _json(value: Any) -> str:
    """One value as compact JSON: readable non-ASCII letters, but every character that is not
    printable (bidi overrides, zero-width spaces, lone surrogates; JSON itself escapes the control
    characters) as a \\u escape, so the text is safe on a terminal and parses back exactly."""
    text = json.dumps(value, ensure_ascii=False)
    return text if text.isprintable() else "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
