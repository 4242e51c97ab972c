"""Grade results (cnncalc/grade/) as a rich table, JSON (a contract, docs/grading.md) or CSV, and
the blank answer sheet / answer key for a Report. Plain data in, text out. The class's outputs
(gradebook, summary, feedback files) are in render/gradebook.py."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, Optional

from ..analysis.report import Port, Report, Row
from ..core.errors import InputError
from ..core.numbers import KB, MILLION, THOUSAND, decimal_text, round_half_up, scaled
from ..core.text import file_name, printable
from ..grade import (
    CONSISTENT,
    GRADED_COLUMNS,
    LECTURE_KEYS,
    MISSING,
    RIGHT,
    TOTAL,
    UNPARSEABLE,
    VERDICTS,
    WRONG,
    Assignment,
    Cell,
    GradeResult,
)
from ..grade.values import c_out_text, output_answers
from ..layers.fields import format_pair
from .csvout import csv_text
from .jsonout import dumps
from .lecture import from_cells, row_cells

_STYLE = {RIGHT: "green", CONSISTENT: "cyan", WRONG: "bold red", MISSING: "yellow", UNPARSEABLE: "magenta"}
_MARK = {RIGHT: "", CONSISTENT: "\u2248 ", WRONG: "\u2717 ", UNPARSEABLE: "? "}


def amount(value: Fraction) -> str:
    """A score or points: exact to two decimals, rounded half up beyond ('57.5', '9.83')."""
    return decimal_text(Fraction(round_half_up(Fraction(value) * 100), 100))


def column_title(key: str) -> str:
    return GRADED_COLUMNS[key][2]


# --- table -----------------------------------------------------------------------------------------


def _exact(text: Optional[str]) -> str:
    """An expected value with thousands separators: '4097000' -> '4,097,000'; '55×55' unchanged."""
    if text is None:
        return ""
    return decimal_text(Fraction(text), grouping=True) if re.fullmatch(r"-?\d+(\.\d+)?", text) else text


def score_text(result: GradeResult) -> str:
    text = f"{amount(result.score)}/{amount(result.max_score)}"
    if result.scale is not None:
        text += f" = {amount(result.points)}/{amount(result.max_points)} points"
    return text


def headline(result: GradeResult) -> str:
    """'bob.csv: 58/59 (54 right, 4 consistent, 1 wrong)'."""
    who = f" ({result.student})" if result.student and result.student != _stem(result.file) else ""
    parts = [f"{result.count(RIGHT)} right"]
    for verdict in (CONSISTENT, WRONG, MISSING, UNPARSEABLE):
        if result.count(verdict):
            parts.append(f"{result.count(verdict)} {verdict}")
    if result.problem_count:
        parts.append(f"{result.problem_count} problem{'s' if result.problem_count != 1 else ''}")
    return printable(f"{file_name(result.file)}{who}: {score_text(result)} ({', '.join(parts)})")


def _stem(file: str) -> str:
    from pathlib import Path

    return Path(file).stem


def _cell_text(cell: Cell):
    from rich.text import Text

    shown = "missing" if cell.verdict == MISSING else _MARK[cell.verdict] + (cell.given or "")
    return Text(shown.rstrip(), style=_STYLE[cell.verdict])


def _table():
    from rich import box
    from rich.table import Table

    return Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, collapse_padding=True)


def result_renderables(result: GradeResult) -> list:
    """One answer sheet: a headline, the grid of verdicts with per-layer scores, the cells that are
    not right with their expected values, the diagnosed mistakes, then problems and notes."""
    from rich.text import Text

    out: list = [Text(headline(result), style="bold")]
    grid = _table()
    grid.add_column("Layer", no_wrap=True)
    keys = list(dict.fromkeys(cell.column for cell in result.cells)) or [col.key for col in result.columns]
    for key in keys:
        header = next((cell.header for cell in result.cells if cell.column == key and cell.header), None)
        grid.add_column(header or column_title(key), justify="right", no_wrap=True)
    grid.add_column("Score", justify="right", no_wrap=True)
    by_cell = {(cell.layer, cell.column): cell for cell in result.cells}
    for score in result.layer_scores():
        if score.layer == TOTAL:
            grid.add_section()
        cells = [by_cell.get((score.layer, key)) for key in keys]
        grid.add_row(Text(score.layer), *[_cell_text(c) if c else Text("") for c in cells],
                     Text(f"{amount(score.score)}/{amount(score.max_score)}",
                          style="green" if score.score == score.max_score else "bold red"))
    out.append(grid)
    wrong = [cell for cell in result.cells if cell.verdict != RIGHT]
    if wrong:
        details = _table()
        for header in ("Layer", "Column", "Given", "Expected", "Verdict", "Because of"):
            details.add_column(header, justify="right" if header in ("Given", "Expected") else "left", no_wrap=True)
        for cell in wrong:
            details.add_row(Text(cell.layer), Text(cell.column), Text(cell.given if cell.given is not None else ""),
                            Text(_exact(cell.expected) if cell.expected is not None else "(none)"),
                            Text(cell.verdict, style=_STYLE[cell.verdict]), Text(because_text(cell)))
        out.append(details)
    for diagnosis in result.diagnoses:
        out.append(Text(f"mistake {diagnosis.mistake}: {diagnosis.message}", style="bold"))
    for problem in result.problems:
        out.append(Text("problem: " + printable(problem.render(file_name(result.file))), style="bold red"))
    if result.more_problems:
        out.append(Text(f"problem: {file_name(result.file)}: ... and {result.more_problems} more problems",
                        style="bold red"))
    for note in result.notes:
        out.append(Text(printable(f"note: {file_name(result.file)}: {note}")))
    return out


def because_text(cell: Cell, shown: int = 3) -> str:
    """The cells a consistent cell follows from: 'pool1:hw_out', or the first three and a count."""
    names = list(cell.because)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def summary_table(results: Sequence[GradeResult]):
    """One row per answer sheet."""
    from rich.text import Text

    table = _table()
    table.add_column("File", no_wrap=True)
    table.add_column("Student", no_wrap=True)
    for header in ("Score", "Right", "Consistent", "Wrong", "Missing", "Unparseable", "Problems"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("Mistakes", no_wrap=True)
    for result in results:
        table.add_row(Text(file_name(result.file)), Text(printable(result.student)),
                      Text(score_text(result).replace(" points", ""),
                           style="green" if result.all_right else "bold red"),
                      *[Text(str(result.count(v))) for v in (RIGHT, CONSISTENT, WRONG, MISSING, UNPARSEABLE)],
                      Text(str(result.problem_count)), Text(", ".join(d.mistake for d in result.diagnoses)))
    return table


def grade_renderables(results: Sequence[GradeResult], spec: str, details: bool = True) -> list:
    """Everything the table format prints: with several sheets a summary first, then each sheet."""
    from rich.text import Text

    out: list = [Text(f"grading against {spec}", style="bold")]
    if len(results) > 1 or not details:
        out += [summary_table(results)]
    if details:
        for result in results:
            out += result_renderables(result)
    return out


# --- JSON and CSV ----------------------------------------------------------------------------------


def _cell_dict(cell: Cell) -> dict[str, Any]:
    return {"layer": cell.layer, "column": cell.column, "given": cell.given, "expected": cell.expected,
            "verdict": cell.verdict, "header": cell.header, "weight": cell.weight, "credit": cell.credit,
            "because": list(cell.because)}


def result_dict(result: GradeResult) -> dict[str, Any]:
    return {
        "sheet": result.file,
        "file": result.file,
        "student": result.student,
        "score": result.score,
        "max_score": result.max_score,
        "points": result.points,
        "max_points": result.max_points,
        "counts": {verdict: result.count(verdict) for verdict in VERDICTS},
        "layers": [{"layer": s.layer, "score": s.score, "max_score": s.max_score} for s in result.layer_scores()],
        "cells": [_cell_dict(cell) for cell in result.cells],
        "diagnoses": [{"mistake": d.mistake, "message": d.message, "cells": list(d.cells)} for d in result.diagnoses],
        "problems": [{"line": p.line, "message": p.message, "hint": p.hint} for p in result.problems],
        "more_problems": result.more_problems,
        "notes": list(result.notes),
    }


def assignment_dict(assignment: Assignment) -> dict[str, Any]:
    return {"file": assignment.file, "rows": list(assignment.rows) if assignment.rows is not None else None,
            "columns": [{"column": col.key, "weight": assignment.weight(col.key)} for col in assignment.columns],
            "points": assignment.points}


def grade_json(results: Sequence[GradeResult], spec: str, rtol=None, errors: Sequence[InputError] = (), *,
               assignment: Assignment | None = None, carry_forward_credit: Fraction = Fraction(1),
               summary: Mapping[str, Any] | None = None) -> str:
    """The JSON contract (docs/grading.md); list items (cells, layers, ...) one per line."""
    data: dict[str, Any] = {
        "spec": spec,
        "rtol": float(rtol) if rtol is not None else None,
        "carry_forward_credit": carry_forward_credit,
        "assignment": assignment_dict(assignment) if assignment is not None else None,
        "files": [result_dict(result) for result in results],
    }
    if summary is not None:
        data["summary"] = summary
    data["errors"] = [{"file": exc.file, "message": exc.render()} for exc in errors]
    return dumps(data, rows_inline=True)


GRADE_CSV_COLUMNS = ("file", "layer", "column", "given", "expected", "verdict", "student", "weight", "credit",
                     "because")


def grade_csv(results: Sequence[GradeResult]) -> str:
    """One row per graded cell of every sheet."""
    rows: list[list] = [list(GRADE_CSV_COLUMNS)]
    for result in results:
        rows += [[result.file, cell.layer, cell.column, cell.given, cell.expected, cell.verdict, result.student,
                  amount(cell.weight), amount(cell.credit), " ".join(cell.because)] for cell in result.cells]
    return csv_text(rows)


# --- answer sheets ---------------------------------------------------------------------------------

QUESTION_HEADERS = ("Layer", "C_in", "H/W", "Filters", "K", "S", "P")


def _shape_answers(shape: tuple) -> list[str]:
    """C_out and H'/W' as the table shows them (a sequence of tokens as C_out L×D, grade/values.output_answers)."""
    c_out, hw_out = output_answers(shape)
    return [c_out_text(c_out),
            format_pair(hw_out) if hw_out is not None else ""]


def _sheet_rows(report: Report) -> list[tuple[Row, Port | None]]:
    """Each row, and after a row with several outputs one line per output (the table's `→ NAME`)."""
    return [(row, port) for row in report.rows for port in (None, *row.ports)]


def _answers(report: Report, key: bool) -> list[tuple[str, list[str]]]:
    """(layer, [C_out, H'/W', Mem (KB), Params (k), MACs (M)]) per row of _sheet_rows and the total:
    the lecture table's rounded values for a key, blanks for a template. As in the table, a row with
    several outputs gives its figures, each output (named in full) its C_out and H'/W'."""
    rows = []
    for row, port in _sheet_rows(report):
        if port is not None:
            rows.append((port.name, (_shape_answers(port.shape) if key else ["", ""]) + [""] * 3))
            continue
        shape = ["", ""] if row.ports else _shape_answers(row.output_shape)
        values = [*shape, scaled(row.memory_bytes, KB), scaled(row.params, THOUSAND), scaled(row.macs, MILLION)]
        rows.append((row.name, values if key else [""] * 5))
    totals = report.totals
    total = ["", "", scaled(totals.memory_bytes, KB), scaled(totals.params, THOUSAND), scaled(totals.macs, MILLION)]
    rows.append((TOTAL, total if key else [""] * 5))
    return rows


def answer_sheet_csv(report: Report, key: bool = False, weights: Mapping[str, Fraction] | None = None,
                     points: Fraction | None = None) -> str:
    """The lecture table as a sheet: the question columns filled in, the answer columns blank
    (or, for the key, filled with the lecture table's values); with `weights`, a `weight` row
    under the header, with `points`, a `points` row at the end."""
    sources = from_cells(report)
    headers = list(QUESTION_HEADERS) + [GRADED_COLUMNS[k][2] for k in LECTURE_KEYS]
    if sources is not None:
        headers.insert(1, "From")
    rows: list[list] = [headers]
    questions = len(headers) - len(LECTURE_KEYS)
    if weights:
        rows.append(["weight"] + [""] * (questions - 1) + [amount(weights.get(k, Fraction(1))) for k in LECTURE_KEYS])
    answers = _answers(report, key)
    index = {row.name: k for k, row in enumerate(report.rows)}
    for (row, port), (_, values) in zip(_sheet_rows(report), answers):
        if port is not None:
            rows.append([f"\u2192 {port.name.removeprefix(row.name + '.')}"] + [""] * (questions - 1) + values)
            continue
        question = row_cells(row)[:7]
        if sources is not None:
            question.insert(1, sources[index[row.name]])
        rows.append(question + values)
    rows.append([TOTAL] + [""] * (questions - 1) + answers[-1][1])
    if points is not None:
        rows.append(["points", amount(points)])
    return csv_text(rows)


_PLAIN_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _yaml_name(name: str) -> str:
    plain = _PLAIN_NAME.fullmatch(name) and name.lower() not in _YAML_WORDS
    return name if plain else json.dumps(name)


def _yaml_value(value: str) -> str:
    if not value or re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    return json.dumps(value, ensure_ascii=False)


def answer_sheet_yaml(report: Report, key: bool = False, weights: Mapping[str, Fraction] | None = None,
                      points: Fraction | None = None) -> str:
    """The same sheet as YAML: `layer: {c_out: , hw_out: , memory_kb: , params_k: , macs_m: }`,
    the question as a comment on each line."""
    what = "answer key" if key else "answer sheet"
    name = printable(report.name)  # a comment line: a newline in the name would start YAML of its own
    lines = [f"# {what} for {name}: per layer, c_out (output channels), hw_out (output H'/W'),",
             "# memory_kb (Mem, KB = 1024 bytes), params_k (Params, k = 1000), macs_m (MACs, M = 10^6).",
             "# Values such as 1,134 (quote it: \"1,134\"), 1134.4, 0.6 or 105M are understood; grade with",
             f"#   cnncalc grade {name} THIS_FILE.yaml"]
    if points is not None:
        lines.append(f"points: {amount(points)}")
    if weights:
        lines.append("weight: {" + ", ".join(f"{k}: {amount(weights.get(k, Fraction(1)))}" for k in LECTURE_KEYS)
                     + "}")
    answers = _answers(report, key)
    for (row, port), (name, values) in zip([*_sheet_rows(report), (None, None)], answers):
        shape_keys = ("c_out", "hw_out")
        asked = shape_keys if port is not None else LECTURE_KEYS if row is not None and not row.ports else \
            tuple(k for k in LECTURE_KEYS if k not in shape_keys)
        fields = ", ".join(f"{k}: {_yaml_value(v)}" for k, v in zip(LECTURE_KEYS, values) if k in asked)
        line = f"{_yaml_name(name)}: {{{fields}}}"
        if row is not None and port is None:
            cells = row_cells(row)
            question = ", ".join(f"{h} {v}" for h, v in zip(QUESTION_HEADERS[1:], cells[1:7]) if v)
            line += f"  # {question}"
        lines.append(line)
    return "\n".join(lines) + "\n"
