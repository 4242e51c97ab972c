"""Grading students' answer sheets against a Report, cell by cell, against the assignment.

The assignment (assignment.py) says which rows and columns are asked; each asked cell is compared
with the Report row of the same name, in the unit of the student's column. The grader reads only
the plain row data and runs the layers' own rules on the student's shapes (carry.py); it never
looks at a layer's type.

The rule (docs/grading.md): a number is right when it equals the true value, in the unit the
student wrote, rounded half up or truncated at the precision the student wrote (1134 and 1134.4
for 1134.375; 0.6 and 0 for 0.63). With `rtol`, a relative tolerance replaces truncation. A cell
that is wrong, but right for the student's own earlier answers (error carried forward), is
`consistent`. Channels and spatial sizes are whole numbers and must be exact.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..analysis.report import Report
from ..core.errors import SheetError, SpecError
from ..core.numbers import decimal_text
from ..core.text import printable
from ..layers.fields import format_pair
from ..spec.graph import Graph
from .assignment import TOTAL, Assignment, find_rows, lecture_assignment
from .carry import CarriedRow, Written, carry_forward, cell_id
from .columns import C_OUT, HW_OUT, MACS, MEMORY, PARAMS, GradedColumn
from .diagnoses import diagnose
from .results import (
    CONSISTENT,
    MISSING,
    RIGHT,
    UNPARSEABLE,
    VERDICTS,
    WRONG,
    Answer,
    Cell,
    Diagnosis,
    GradeResult,
    LayerScore,
    Options,
    Problem,
)
from .sheets import MAX_MESSAGES, Sheet, SheetRow, read_sheet
from .values import (
    DECIMAL_COMMA_LIKE,
    MAX_CELL_CHARS,
    NOT_APPLICABLE,
    Number,
    c_out_text,
    hw_of_shape,
    is_right,
    output_answers,
    parse_hw,
    parse_number,
    sequence_of,
)

# --- grading ---------------------------------------------------------------------------------------


def truths(report: Report) -> dict[str, dict[str, Any]]:
    """Per layer (and 'total'): the true value of each quantity; None where there is none."""
    found: dict[str, dict[str, Any]] = {}
    for row in report.rows:
        c_out, hw_out = output_answers(row.output_shape)
        found[row.name] = {
            C_OUT: c_out,
            HW_OUT: hw_out,
            MEMORY: row.memory_bytes,
            PARAMS: row.params,
            MACS: row.macs,
        }
        for port in row.ports:  # graded where a sheet answers it: C_out and H'/W', as the table's `→ NAME` lines
            c_out, hw_out = output_answers(port.shape)
            found[port.name] = {C_OUT: c_out, HW_OUT: hw_out, MEMORY: None, PARAMS: None, MACS: None}
    totals = report.totals
    found.setdefault(TOTAL, {C_OUT: None, HW_OUT: None, MEMORY: totals.memory_bytes, PARAMS: totals.params,
                             MACS: totals.macs})
    for name, values in found.items():
        for value in values.values():
            if value is not None and not isinstance(value, (int, tuple)):
                raise SpecError(f"cannot grade a symbolic size ({value}); give the spec concrete sizes",
                                layer=name, hint="e.g. --set NAME=VALUE")
    return found


def expected_text(truth: Any, col: GradedColumn) -> str | None:
    """The true value in the column's unit, exactly: '1134.375', '34.944', '55', '17×9'."""
    if truth is None:
        return None
    if col.quantity == HW_OUT:
        return format_pair(truth)
    if col.quantity == C_OUT:
        return c_out_text(truth)  # a sequence: L×D
    return decimal_text(Fraction(truth, col.unit))


def parse_answer(text: str, col: GradedColumn, decimal_comma: bool = False,
                 channels: Iterable[Any] = (), sequence: bool = False) -> Any:
    """The parsed cell: (h, w) for H'/W', an int for C_out ((L, D) where the output is a `sequence` of
    tokens and the cell writes two sizes), a Number otherwise; None if unreadable. A whole output shape
    written for H'/W' is read with `channels` (see values.hw_of_shape)."""
    if col.quantity == HW_OUT:
        sizes = parse_hw(text, decimal_comma)
        return None if sizes is None else hw_of_shape(sizes, channels)
    if sequence and col.quantity == C_OUT and (tokens := sequence_of(text, decimal_comma)) is not None:
        return tokens
    number = parse_number(text, col.quantity, col.unit, decimal_comma)
    if col.quantity == C_OUT:
        return int(number.value) if number is not None and number.value.denominator == 1 else None
    return number


def judge(text: str | None, truth: Any, col: GradedColumn, rtol: Fraction | None = None,
          truncation: bool = True, decimal_comma: bool = False, channels: Iterable[int | None] = ()) -> str | None:
    """The verdict for one cell against the truth alone, or None when there is nothing to grade
    (blank where nothing is due)."""
    written = (text or "").strip()
    if not written or written.lower() in NOT_APPLICABLE:
        if truth is None:
            return None
        return MISSING if not written else WRONG
    if truth is None:
        return WRONG  # a value where the layer has none (H'/W' of a vector, C_out of the total)
    value = parse_answer(written, col, decimal_comma, channels, isinstance(truth, tuple))
    if value is None:
        return UNPARSEABLE
    if col.quantity in (C_OUT, HW_OUT):
        return RIGHT if value == (tuple(truth) if col.quantity == HW_OUT else truth) else WRONG
    return RIGHT if is_right(value, Fraction(truth), rtol, truncation) else WRONG


class Grader:
    """Grades sheets against one spec and one assignment (the lecture table's columns for every
    layer and the total, unless a template says otherwise)."""

    def __init__(self, report: Report, graph: Graph | None = None, assignment: Assignment | None = None,
                 options: Options | None = None) -> None:
        self.report = report
        self.graph = graph
        self.assignment = assignment or lecture_assignment()
        self.options = options or Options()
        self.truths = truths(report)
        self.order = {name: index for index, name in enumerate(lecture_assignment().row_names(report))}
        self.ported = {row.name for row in report.rows if row.ports}  # their outputs are on `→ NAME` rows

    def right(self, number: Number, exact: Fraction) -> bool:
        return is_right(number, Fraction(exact), self.options.rtol, self.options.truncation)

    def grade(self, sheet: Sheet) -> GradeResult:
        found, found_problems = find_rows(sheet.rows, self.report)
        problems = [Problem(message, line, hint) for line, message, hint in found_problems]
        answers = self._answers(sheet, found)
        carried = self._carry(answers)
        for answer in answers:
            if answer.layer != TOTAL:
                self._judge(answer, carried.get(answer.layer))
        self._judge_totals(answers)
        diagnoses = diagnose(self.report, self.graph, self.truths, answers, carried)
        cells = tuple(self._cell(answer) for answer in answers if answer.verdict is not None)
        notes = list(sheet.notes)
        if not self.options.decimal_comma and any(
                a.verdict == UNPARSEABLE and DECIMAL_COMMA_LIKE.fullmatch(a.text) for a in answers):
            notes.append("cells such as '0,6' look like decimal commas: grade with --decimal-comma")
        return GradeResult(sheet.file, self.report.name, tuple(a for a, _ in self._columns(sheet)), cells,
                           tuple(problems[:MAX_MESSAGES]), tuple(notes), max(0, len(problems) - MAX_MESSAGES),
                           sheet.student or Path(sheet.file).stem, tuple(diagnoses), self.assignment.points)

    # --- which cells ---------------------------------------------------------------------------

    def _columns(self, sheet: Sheet) -> list[tuple[GradedColumn, GradedColumn | None]]:
        """(asked column, the student's column for its quantity or None)."""
        if self.options.only_given:
            asked = {col.quantity for col in self.assignment.columns}
            return [(col, col) for col in sheet.columns if col.quantity in asked]
        return [(col, sheet.column_for(col.quantity)) for col in self.assignment.columns]

    def _rows(self, found: dict[str, SheetRow]) -> list[str]:
        rows = self.assignment.row_names(self.report)
        if self.options.only_given:
            rows = [name for name in rows if name != TOTAL or TOTAL in found]
        return rows

    def _answers(self, sheet: Sheet, found: dict[str, SheetRow]) -> list[Answer]:
        answers = []
        own_c_out = sheet.column_for(C_OUT)
        for name in self._rows(found):
            row = found.get(name)
            sequence = isinstance(self.truths[name][C_OUT], tuple)
            channels = (self.truths[name][C_OUT],
                        parse_answer(row.values.get(own_c_out.key, ""), own_c_out, self.options.decimal_comma,
                                     sequence=sequence)
                        if row is not None and own_c_out is not None else None)
            for col, written in self._columns(sheet):
                text = (row.values.get(written.key, "") if row is not None and written is not None else "").strip()
                truth = self.truths[name][col.quantity]
                answer = Answer(name, col, written, text, truth)
                unit_col = written or col
                answer.verdict = judge(text, truth, unit_col, self.options.rtol, self.options.truncation,
                                       self.options.decimal_comma, channels)
                if not text and name in self.ported and col.quantity in (C_OUT, HW_OUT):
                    answer.verdict = None  # blank as in the table; a value there is the output the name stands for
                if text and text.lower() not in NOT_APPLICABLE:
                    answer.value = parse_answer(text, unit_col, self.options.decimal_comma, channels, sequence)
                answers.append(answer)
        return answers

    # --- error carried forward ------------------------------------------------------------------

    def _carry(self, answers: list[Answer]) -> dict[str, CarriedRow]:
        if self.graph is None:
            return {}
        shapes: dict[str, dict[str, Any]] = {}
        for answer in answers:
            if answer.column.quantity in (C_OUT, HW_OUT) and answer.layer != TOTAL \
                    and not (isinstance(answer.value, tuple) and len(answer.value) != 2):  # a shape not read as H×W
                shapes.setdefault(answer.layer, {})[answer.column.quantity] = answer.value
        written = {layer: Written(parts.get(C_OUT), parts.get(HW_OUT)) for layer, parts in shapes.items()}
        return carry_forward(self.graph, self.report, written)

    def _judge(self, answer: Answer, carried: CarriedRow | None) -> None:
        """A wrong cell that is right for the student's own earlier answers becomes consistent."""
        if answer.verdict != WRONG or carried is None or answer.value is None:
            return
        quantity = answer.column.quantity
        if quantity in (C_OUT, HW_OUT):
            if carried.shape is None:
                return
            c_out, hw_out = output_answers(carried.shape)
            expected = c_out if quantity == C_OUT else hw_out
            if expected is not None and answer.value == expected and carried.causes:
                answer.verdict, answer.because = CONSISTENT, carried.causes
            return
        causes = carried.causes | carried.own
        meant = next((value for value in sorted(carried.values.get(quantity, ())) if self.right(answer.value, value)),
                     None)
        if causes and meant is not None:
            answer.verdict, answer.because, answer.meant = CONSISTENT, causes, meant

    def _judge_totals(self, answers: list[Answer]) -> None:
        """A total is right when it is the true total, or the sum of the student's own values in that
        column when all of those are right (rounded values summed); consistent when it is the sum of
        what the student meant (the true value of right and blank cells, the exact value their own
        answers give for consistent ones, their number for wrong ones, give or take its last digit)."""
        by_quantity: dict[str, list[Answer]] = {}
        for answer in answers:
            if answer.layer != TOTAL:
                by_quantity.setdefault(answer.column.quantity, []).append(answer)
        for total in answers:
            if total.layer != TOTAL or total.verdict != WRONG or not isinstance(total.value, Number):
                continue
            column = by_quantity.get(total.column.quantity, [])
            as_written, as_meant, slack = self._sums(column, total.column.quantity)
            if all(answer.verdict == RIGHT for answer in column) and self.right(total.value, as_written):
                total.verdict = RIGHT
                continue
            causes: set[str] = set()
            for answer in column:
                if answer.verdict == WRONG:
                    causes.add(cell_id(answer.layer, answer.column.key))
                elif answer.verdict == CONSISTENT:
                    causes |= answer.because
            near = abs(total.value.value - as_meant) <= slack + total.value.step
            if causes and (near or any(self.right(total.value, value) for value in (as_written, as_meant))):
                total.verdict, total.because = CONSISTENT, frozenset(causes)

    def _sums(self, column: list[Answer], quantity: str) -> tuple[Fraction, Fraction, Fraction]:
        """(the sum of the numbers as written, the sum of what the student meant, how far the latter
        may be off: a step of each wrong number). Rows not asked count their truth."""
        given = {answer.layer: answer for answer in column}
        as_written = as_meant = slack = Fraction(0)
        for row in self.report.rows:
            truth = Fraction(self.truths[row.name][quantity])
            answer = given.get(row.name)
            number = answer.value if answer is not None and isinstance(answer.value, Number) else None
            as_written += number.value if number is not None else (truth if answer is None else 0)
            if answer is not None and answer.meant is not None:
                as_meant += answer.meant
            elif number is not None and answer is not None and answer.verdict == WRONG:
                as_meant += number.value
                slack += number.step
            else:
                as_meant += truth
        return as_written, as_meant, slack

    def _cell(self, answer: Answer) -> Cell:
        shown = answer.written or answer.column
        verdict = answer.verdict or MISSING
        credit = {RIGHT: Fraction(1), CONSISTENT: Fraction(self.options.carry_forward_credit)}.get(verdict, Fraction(0))
        return Cell(answer.layer, answer.column.key, _clean(answer.text) if answer.text else None,
                    expected_text(answer.truth, shown), verdict,
                    _clean(answer.written.header) if answer.written is not None else None,
                    self.assignment.weight(answer.column.key), credit,
                    tuple(sorted(answer.because, key=lambda cell: (self.order.get(cell.rpartition(":")[0], 0), cell))))

    # --- files ----------------------------------------------------------------------------------

    def grade_files(self, paths: Iterable[Path], progress: Callable[[int, int], None] | None = None
                    ) -> tuple[list[GradeResult], list[SheetError]]:
        """Grade each file; a file that cannot be read is a SheetError in the second list, not a stop.
        `progress(done, total)` is called after each file."""
        results, errors = [], []
        paths = list(paths)
        for done, path in enumerate(paths, start=1):
            try:
                results.append(self.grade(read_sheet(Path(path), str(path))))
            except SheetError as exc:
                if exc.file is None and exc.loc is None:
                    exc = SheetError(exc.message, file=str(path), layer=exc.layer, field=exc.field, hint=exc.hint)
                errors.append(exc)
            if progress is not None:
                progress(done, len(paths))
        return results, errors


def grade(report: Report, sheet: Sheet, rtol: Fraction | float | None = None, *, graph: Graph | None = None,
          assignment: Assignment | None = None, options: Options | None = None) -> GradeResult:
    """Grade one sheet (see Grader). Without `graph`, no error is carried forward."""
    if rtol is not None:
        rtol = Fraction(str(rtol)) if isinstance(rtol, float) else Fraction(rtol)
        options = Options(**{**(options or Options()).__dict__, "rtol": rtol})
    return Grader(report, graph, assignment, options).grade(sheet)


def grade_files(report: Report, paths: Iterable[Path], rtol: Any = None, *, graph: Graph | None = None,
                assignment: Assignment | None = None,
                options: Options | None = None) -> tuple[list[GradeResult], list[SheetError]]:
    """Grade each file (see Grader.grade_files)."""
    if rtol is not None:
        options = Options(**{**(options or Options()).__dict__, "rtol": Fraction(str(rtol))})
    return Grader(report, graph, assignment, options).grade_files(paths)


def _clean(text: Any) -> str:
    return printable(text, MAX_CELL_CHARS)


__all__ = ["CONSISTENT", "MISSING", "RIGHT", "UNPARSEABLE", "VERDICTS", "WRONG", "Answer", "Cell", "Diagnosis",
           "GradeResult", "Grader", "LayerScore", "Options", "Problem", "expected_text", "grade", "grade_files",
           "judge", "parse_answer", "truths"]
