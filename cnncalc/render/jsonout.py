"""The one JSON writer: every `--format json` goes through `dumps`.

Values are made plain first (exact fractions as ints when whole, else floats; symbolic sizes as
strings that sympy parses; tuples as lists; inf and NaN, which JSON lacks, as null). The layout is
indented by two spaces for reading and diffing: lists of plain values (shapes) stay on one line,
and with `rows_inline` a list of flat objects (graded cells) puts one object on each line."""
from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any

from ..core.symbolic import as_text


def plain(value: Any) -> Any:
    """`value` with only JSON's types in it (see the module docstring)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    return as_text(value)  # sympy numbers and expressions


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
        items = [f"{inner}{json.dumps(key, ensure_ascii=False)}: {_layout(item, inner, rows_inline)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and rows_inline and all(_flat(item) for item in value):
        return "[\n" + ",\n".join(inner + json.dumps(item, ensure_ascii=False) for item in value) + f"\n{indent}]"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(inner + _layout(item, inner, rows_inline) for item in value) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)
