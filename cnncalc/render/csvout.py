"""The one CSV writer: every `--format csv` and CSV answer sheet goes through `csv_text`."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.numbers import integer_text
from ..core.text import printable

_FORMULA_START = "=+@\t\r"


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula ('=HYPERLINK(...)', '-cmd|...') gets a
    leading apostrophe; numbers and plain text pass unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in _FORMULA_START or (value[0] == "-" and re.search(r"[A-Za-z(]", value)):
        return "'" + value
    return value


def _cell(cell: Any) -> Any:
    """A cell as the csv module should write it: text safe to print and safe in a spreadsheet,
    integers exact (or approximate past 4,300 digits)."""
    if cell is None:
        return ""
    if isinstance(cell, int) and not isinstance(cell, bool):
        return integer_text(cell)
    return spreadsheet_safe(printable(cell) if isinstance(cell, str) else cell)


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows (the header first) as CSV text with '\\n' line ends; None is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(cell) for cell in row])
    return buffer.getvalue()
