"""Grading students' answer sheets against a Report, cell by cell.

An answer sheet (CSV or YAML, untrusted) gives, per layer, some of the lecture table's output
columns: C_out, H'/W', Mem (KB), Params (k), MACs (M) (or exact params, macs, memory_bytes).
Each cell is compared with the Report row of the same name; the grader reads only the plain row
data (output shape, params, MACs, memory) and never looks at a layer's type.

The rule (docs/grading.md): a number is right when it equals the true value, in the unit the
student wrote, rounded half up or truncated at the precision the student wrote (1134 and 1134.4
for 1134.375; 0.6 and 0 for 0.63). With `rtol`, a relative tolerance replaces it. Channels and
spatial sizes are whole numbers and must be exact.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

from ..analysis.report import Report
from ..core.errors import SheetError, SpecError, did_you_mean
from ..core.numbers import decimal_text
from ..core.text import printable
from ..layers.fields import format_pair
from .columns import C_OUT, HW_OUT, MACS, MEMORY, PARAMS, GradedColumn
from .sheets import MAX_MESSAGES, Sheet, SheetRow, read_sheet
from .values import MAX_CELL_CHARS, NOT_APPLICABLE, is_right, parse_hw, parse_number

RIGHT, WRONG, MISSING, UNPARSEABLE = "right", "wrong", "missing", "unparseable"
VERDICTS = (RIGHT, WRONG, MISSING, UNPARSEABLE)
TOTAL = "total"


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One graded cell. `given` is None when the cell (or its whole row) is blank; `expected` is
    None when the layer has no such value (H'/W' of a vector), so anything written there is wrong."""

    layer: str
    column: str
    given: Optional[str]
    expected: Optional[str]
    verdict: str


@dataclass(frozen=True)
class Problem:
    """A row that could not be graded: unknown layer name, duplicate, no name. Not right."""

    message: str
    line: Optional[int] = None
    hint: Optional[str] = None

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}: " if self.line else f"{file}: "
        return where + self.message + (f" ({self.hint})" if self.hint else "")


@dataclass(frozen=True)
class LayerScore:
    layer: str
    score: int
    max_score: int


@dataclass(frozen=True)
class GradeResult:
    """The verdicts for one answer sheet."""

    file: str
    spec: str
    columns: tuple[GradedColumn, ...]
    cells: tuple[Cell, ...]
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()  # harmless: columns that are not graded, cells beyond the header
    more_problems: int = 0  # problems not listed (beyond MAX_MESSAGES)

    @property
    def score(self) -> int:
        return self.count(RIGHT)

    @property
    def max_score(self) -> int:
        return len(self.cells)

    def count(self, verdict: str) -> int:
        return sum(1 for cell in self.cells if cell.verdict == verdict)

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.more_problems

    @property
    def all_right(self) -> bool:
        return self.score == self.max_score and not self.problem_count

    def layer_scores(self) -> list[LayerScore]:
        scores: dict[str, list[int]] = {}
        for cell in self.cells:
            entry = scores.setdefault(cell.layer, [0, 0])
            entry[0] += cell.verdict == RIGHT
            entry[1] += 1
        return [LayerScore(layer, right, total) for layer, (right, total) in scores.items()]


# --- grading ---------------------------------------------------------------------------------------


def _truths(report: Report) -> dict[str, dict[str, Any]]:
    """Per layer (and 'total'): the true value of each quantity; None where there is none."""
    truths: dict[str, dict[str, Any]] = {}
    for row in report.rows:
        shape = row.output_shape
        truths[row.name] = {
            C_OUT: shape[0] if shape else None,
            HW_OUT: (shape[1], shape[2]) if len(shape) == 3 else None,
            MEMORY: row.memory_bytes,
            PARAMS: row.params,
            MACS: row.macs,
        }
    totals = report.totals
    truths.setdefault(TOTAL, {C_OUT: None, HW_OUT: None, MEMORY: totals.memory_bytes, PARAMS: totals.params,
                              MACS: totals.macs})
    for name, values in truths.items():
        for value in values.values():
            if value is not None and not isinstance(value, (int, tuple)):
                raise SpecError(f"cannot grade a symbolic size ({value}); give the spec concrete sizes",
                                layer=name, hint="e.g. --set NAME=VALUE")
    return truths


def expected_text(truth: Any, col: GradedColumn) -> str | None:
    """The true value in the column's unit, exactly: '1134.375', '34.944', '55', '17×9'."""
    if truth is None:
        return None
    if col.quantity == HW_OUT:
        return format_pair(truth)
    if col.quantity == C_OUT:
        return str(truth)
    return decimal_text(Fraction(truth, col.unit))


def judge(text: str | None, truth: Any, col: GradedColumn, rtol: Fraction | None = None) -> str | None:
    """The verdict for one cell, or None when there is nothing to grade (blank where nothing is due)."""
    written = (text or "").strip()
    if not written or written.lower() in NOT_APPLICABLE:
        if truth is None:
            return None
        return MISSING if not written else WRONG
    if truth is None:
        return WRONG  # a value where the layer has none (H'/W' of a vector, C_out of the total)
    if col.quantity == HW_OUT:
        shape = parse_hw(written)
        return UNPARSEABLE if shape is None else (RIGHT if shape == tuple(truth) else WRONG)
    number = parse_number(written, col.quantity, col.unit)
    if number is None:
        return UNPARSEABLE
    if col.quantity == C_OUT:
        return RIGHT if number.value == truth else WRONG
    return RIGHT if is_right(number, Fraction(truth), rtol) else WRONG


def grade(report: Report, sheet: Sheet, rtol: Fraction | float | None = None) -> GradeResult:
    """Compare every cell of `sheet` with `report`: each layer of the report, for each graded
    column the sheet has (a blank cell or an absent row is `missing`), and the `total` row when
    the sheet gives one. Unknown, duplicate and nameless rows are Problems."""
    if rtol is not None:
        rtol = Fraction(str(rtol)) if isinstance(rtol, float) else Fraction(rtol)
    truths = _truths(report)
    names = [row.name for row in report.rows]
    folded: dict[str, list[str]] = {}
    for name in [*names, TOTAL]:
        folded.setdefault(name.casefold(), []).append(name)

    problems: list[Problem] = []
    more = 0
    found: dict[str, SheetRow] = {}

    def problem(item: Problem) -> None:
        nonlocal more
        if len(problems) < MAX_MESSAGES:
            problems.append(item)
        else:
            more += 1

    for row in sheet.rows:
        written = row.layer.strip()
        if not written:
            if any(value.strip() for value in row.values.values()):
                problem(Problem("a row with answers but no layer name", row.line))
            continue
        target = written if written in truths else None
        if target is None:
            matches = folded.get(written.casefold(), [])
            if written.casefold() == "totals":
                matches = [TOTAL]
            target = matches[0] if len(matches) == 1 else None
        if target is None:
            problem(Problem(f"no layer {_clean(written)!r} in {report.name}", row.line,
                            did_you_mean(written, [*names, TOTAL])))
            continue
        if target in found:
            first = found[target].line
            problem(Problem(f"duplicate row for {target!r}" + (f" (first at line {first})" if first else "")
                            + "; only the first is graded", row.line))
            continue
        found[target] = row

    graded_layers = names + ([TOTAL] if TOTAL in found and TOTAL not in names else [])
    cells: list[Cell] = []
    for name in graded_layers:
        found_row = found.get(name)
        for col in sheet.columns:
            truth = truths[name][col.quantity]
            text = found_row.values.get(col.key) if found_row is not None else None
            verdict = judge(text, truth, col, rtol)
            if verdict is None:
                continue
            given = _clean(text.strip()) if text is not None and text.strip() else None
            cells.append(Cell(name, col.key, given, expected_text(truth, col), verdict))
    return GradeResult(sheet.file, report.name, sheet.columns, tuple(cells), tuple(problems), sheet.notes, more)


def grade_files(report: Report, paths: Iterable[Path], rtol: Any = None) -> tuple[list[GradeResult], list[SheetError]]:
    """Grade each file; a file that cannot be read is a SheetError in the second list, not a stop."""
    _truths(report)  # a symbolic spec cannot be graded: say so once, not once per file
    results, errors = [], []
    for path in paths:
        try:
            results.append(grade(report, read_sheet(Path(path), str(path)), rtol))
        except SheetError as exc:
            if exc.file is None and exc.loc is None:
                exc = SheetError(exc.message, file=str(path), layer=exc.layer, field=exc.field, hint=exc.hint)
            errors.append(exc)
    return results, errors


def _clean(text: Any) -> str:
    return printable(text, MAX_CELL_CHARS)
