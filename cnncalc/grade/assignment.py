"""What a class is asked: the rows and columns to grade, each column's weight and what the whole
sheet is worth. Read from the template or key the TA handed out, or the lecture table by default."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

from ..analysis.report import Report
from ..core.errors import Location, SheetError, did_you_mean
from ..core.text import printable
from .columns import LECTURE_KEYS, GradedColumn, column
from .sheets import MAX_MESSAGES, Sheet, SheetRow

TOTAL = "total"


@dataclass(frozen=True)
class Assignment:
    """The cells every sheet is graded on. `rows` None: every layer of the spec and the total."""

    columns: tuple[GradedColumn, ...]
    rows: Optional[tuple[str, ...]] = None
    weights: Mapping[str, Fraction] = field(default_factory=dict)  # column key -> points per cell (default 1)
    points: Optional[Fraction] = None  # the whole sheet's worth; None: one point per unit of weight
    file: Optional[str] = None  # the template or key it was read from

    def weight(self, key: str) -> Fraction:
        return Fraction(self.weights.get(key, 1))

    def row_names(self, report: Report) -> list[str]:
        """The rows asked: every layer, each output of a row that gives several (as the table's `→ NAME`
        lines), and the total, unless the template says which."""
        if self.rows is not None:
            return list(self.rows)
        return [*(name for row in report.rows for name in (row.name, *(port.name for port in row.ports))), TOTAL]

    def with_settings(self, weights: Mapping[str, Fraction] | None = None,
                      points: Fraction | None = None) -> Assignment:
        """The same cells with weights (merged over the template's) and points from the command line."""
        merged = {**self.weights, **(weights or {})}
        return Assignment(self.columns, self.rows, merged, points if points is not None else self.points, self.file)


def lecture_assignment() -> Assignment:
    """The lecture table's answer columns (C_out, H'/W', Mem (KB), Params (k), MACs (M)) for every
    layer and the total row: what a sheet is graded on when no template is given."""
    return Assignment(tuple(column(key) for key in LECTURE_KEYS))


def assignment_from_sheet(sheet: Sheet, report: Report) -> Assignment:
    """A template or key as the assignment: its rows (each must name a layer, or be the total), its
    columns, its `weight` and `points`. The values it holds are not used: the spec gives the truth."""
    rows: list[str] = []
    block = None
    for row in sheet.rows:
        name = match_row(row.layer, report, block)
        block = name if name is not None and not _is_port(row.layer) else block
        if name is None:
            if not row.layer.strip():
                continue
            raise SheetError(f"the assignment names no layer {printable(row.layer, 60)!r} of {report.name}",
                             loc=Location(sheet.file, row.line, 1) if row.line else None, file=sheet.file,
                             hint=did_you_mean(row.layer, [r.name for r in report.rows]))
        if name not in rows:
            rows.append(name)
    unknown = set(sheet.weights) - {col.key for col in sheet.columns}
    if unknown:
        raise SheetError(f"the assignment weighs columns it does not ask for: {', '.join(sorted(unknown))}",
                         file=sheet.file)
    return Assignment(sheet.columns, tuple(rows), dict(sheet.weights), sheet.points, sheet.file)


PORT_MARKS = ("\u2192", "->")  # `→ sum`: an output of the row above, as the table shows it


def _is_port(written: str) -> bool:
    return written.strip().startswith(PORT_MARKS)


_TOTAL_WORDS = {"sum", "\u03c3", "grand total", "overall"}  # what a sheet's last row may say instead of 'total'


def match_row(written: str, report: Report, block: str | None = None) -> str | None:
    """The report row a sheet's row names: exactly, or ignoring case and a trailing colon ('CONV1',
    'conv1:', 'Totals', 'Sum' -> total, when no layer is so named); or
    an output of a row with several, by its name (`p.sum`) or, as the table shows it, `→ sum` under
    the row `p` (`block`, the row above)."""
    text = written.strip()
    ports = [port.name for row in report.rows for port in row.ports]
    if _is_port(text):
        short = text.removeprefix(PORT_MARKS[0]).removeprefix(PORT_MARKS[1]).strip()
        for name in ([f"{block}.{short}"] if block else []) + [short]:
            if name in ports:
                return name
        return None
    names = [row.name for row in report.rows] + ports
    if text in names or text == TOTAL:
        return text
    folded = [name for name in [*names, TOTAL] if name.casefold() == text.casefold()]
    if text.casefold() == "totals":
        folded = [TOTAL]
    if not folded and text.endswith(":"):  # 'conv1:', 'Total:'
        return match_row(text.rstrip(":"), report, block) if text.rstrip(":").strip() else None
    if not folded and text.casefold() in _TOTAL_WORDS:
        folded = [TOTAL]
    return folded[0] if len(folded) == 1 else None


def find_rows(sheet_rows: tuple[SheetRow, ...], report: Report) -> tuple[dict[str, SheetRow], list]:
    """(report row -> the sheet's row for it, [(line, message, hint)] for rows that name none)."""
    names = [row.name for row in report.rows]
    found: dict[str, SheetRow] = {}
    problems: list[tuple[int | None, str, str | None]] = []
    block = None
    for row in sheet_rows:
        written = row.layer.strip()
        if not written:
            if any(value.strip() for value in row.values.values()):
                problems.append((row.line, "a row with answers but no layer name", None))
            continue
        target = match_row(written, report, block)
        block = target if target is not None and not _is_port(written) else block
        if target is None:
            near = did_you_mean(written, [*names, TOTAL]) if len(problems) < MAX_MESSAGES else None  # the rest: counted
            problems.append((row.line, f"no layer {printable(written, 60)!r} in {report.name}", near))
            continue
        if target in found:
            first = found[target].line
            problems.append((row.line, f"duplicate row for {target!r}" + (f" (first at line {first})" if first else "")
                             + "; only the first is graded", None))
            continue
        found[target] = row
    return found, problems
