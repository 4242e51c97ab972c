"""What a class's grading gives the course: a gradebook (one CSV row per student, for an LMS
import), the class summary (the most-missed cells, the most common mistakes) and one feedback
file per student (Markdown: each cell to look at, the right value with its formula, the mistake
named once). Plain data in, text out."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from fractions import Fraction
from statistics import median
from typing import Any

from ..core.formula import Step
from ..core.text import file_name, printable
from ..grade import CONSISTENT, GRADED_COLUMNS, MISSING, RIGHT, TOTAL, UNPARSEABLE, WRONG, Cell, GradeResult
from ..grade.columns import C_OUT, HW_OUT, MACS, MEMORY, PARAMS
from .csvout import csv_text
from .grade import _exact, _table, amount, column_title, score_text

MOST_MISSED = 10  # cells listed in the class summary
_MISSED = (WRONG, MISSING, UNPARSEABLE)


# --- gradebook -------------------------------------------------------------------------------------

GRADEBOOK_COLUMNS = ("student", "sheet", "points", "max_points", "score", "max_score", "right", "consistent",
                     "wrong", "missing", "unparseable", "problems", "mistakes")


def gradebook_csv(results: Sequence[GradeResult]) -> str:
    """One row per sheet: who, the points (scaled to the assignment's points), the score and its
    parts, the mistakes named (ids, ';' between)."""
    rows: list[list[Any]] = [list(GRADEBOOK_COLUMNS)]
    for result in results:
        rows.append([result.student, result.file, amount(result.points), amount(result.max_points),
                     amount(result.score), amount(result.max_score),
                     *[result.count(v) for v in (RIGHT, CONSISTENT, WRONG, MISSING, UNPARSEABLE)],
                     result.problem_count, ";".join(d.mistake for d in result.diagnoses)])
    return csv_text(rows)


# --- class summary ---------------------------------------------------------------------------------


def class_summary(results: Sequence[GradeResult]) -> dict[str, Any]:
    """The class at a glance: points (mean, median), the most-missed cells (wrong, missing or
    unparseable; with the most common wrong answer) and the mistakes named, by how many sheets."""
    missed: Counter[tuple[str, str]] = Counter()
    consistent: Counter[tuple[str, str]] = Counter()
    answers: dict[tuple[str, str], Counter[str]] = {}
    order: dict[tuple[str, str], int] = {}
    for result in results:
        for cell in result.cells:
            key = (cell.layer, cell.column)
            order.setdefault(key, len(order))
            if cell.verdict in _MISSED:
                missed[key] += 1
                if cell.given is not None:
                    answers.setdefault(key, Counter())[cell.given] += 1
            elif cell.verdict == CONSISTENT:
                consistent[key] += 1
    cells = []
    for key in sorted(missed, key=lambda k: (-missed[k], order[k]))[:MOST_MISSED]:
        common = answers.get(key, Counter()).most_common(1)
        cells.append({"layer": key[0], "column": key[1], "missed": missed[key], "consistent": consistent[key],
                      "common_answer": common[0][0] if common else None,
                      "common_count": common[0][1] if common else 0})
    mistakes: dict[str, list[str]] = {}
    for result in results:
        for diagnosis in result.diagnoses:
            who = mistakes.setdefault(diagnosis.mistake, [])
            if result.student not in who:
                who.append(result.student)
    points = [result.points for result in results]
    return {
        "sheets": len(results),
        "max_points": results[0].max_points if results else 0,
        "mean_points": sum(points, Fraction(0)) / len(points) if points else None,
        "median_points": median(points) if points else None,
        "all_right": sum(1 for result in results if result.all_right),
        "cells": cells,
        "mistakes": [{"mistake": name, "sheets": len(who), "students": who}
                     for name, who in sorted(mistakes.items(), key=lambda item: (-len(item[1]), item[0]))],
    }


def class_summary_renderables(summary: Mapping[str, Any]) -> list:
    """The class summary as text: a line of points, the most-missed cells, the mistakes."""
    from rich.text import Text

    out: list = []
    if summary["sheets"]:
        sheets = f"{summary['sheets']} sheet{'s' if summary['sheets'] != 1 else ''}"
        out.append(Text(f"class: {sheets}, points mean {amount(summary['mean_points'])}, median "
                        f"{amount(summary['median_points'])} of {amount(summary['max_points'])}; "
                        f"{summary['all_right']} all right", style="bold"))
    if summary["cells"]:
        table = _table()
        for header in ("Layer", "Column", "Missed", "Consistent", "Most common wrong answer"):
            table.add_column(header, justify="right" if header in ("Missed", "Consistent") else "left", no_wrap=True)
        for item in summary["cells"]:
            common = f"{item['common_answer']} ({item['common_count']}\u00d7)" if item["common_answer"] else ""
            table.add_row(Text(item["layer"]), Text(item["column"]), Text(str(item["missed"])),
                          Text(str(item["consistent"])), Text(common))
        out += [Text("most-missed cells", style="bold"), table]
    if summary["mistakes"]:
        table = _table()
        for header in ("Mistake", "Sheets", "Students"):
            table.add_column(header, justify="right" if header == "Sheets" else "left", no_wrap=True)
        for item in summary["mistakes"]:
            students = ", ".join(item["students"][:6]) + (", ..." if len(item["students"]) > 6 else "")
            table.add_row(Text(item["mistake"]), Text(str(item["sheets"])), Text(students))
        out += [Text("mistakes named", style="bold"), table]
    return out


# --- feedback --------------------------------------------------------------------------------------

_LABELS = {MEMORY: "KB", PARAMS: "params", MACS: "MACs"}  # explain's step for each quantity
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md(text: Any) -> str:
    """Untrusted text (a student's cell, a file name) as inert Markdown: printable, the characters
    that make links, HTML, emphasis, code or table cells escaped (and a leading '#')."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text, 200))
    return "\\" + escaped if escaped.startswith("#") else escaped


def _formula(steps: Sequence[Step], quantity: str) -> str | None:
    """The derivation of one quantity from `explain`'s steps: the shape lines for H'/W'."""
    if quantity == HW_OUT:
        shape = []
        for step in steps:
            if step.label == "output":
                break
            shape.append(step)
        chosen = shape or [step for step in steps if step.label == "output"]
    elif quantity == C_OUT:
        chosen = [step for step in steps if step.label == "output"]
    else:
        chosen = [step for step in steps if step.label == _LABELS.get(quantity)]
    return "; ".join(step.equation() for step in chosen) or None


def feedback_markdown(result: GradeResult, steps: Mapping[str, Sequence[Step]],
                      carry_forward_credit: Fraction = Fraction(1)) -> str:
    """One student's feedback: the score, each mistake named once (with the cells it explains),
    then every cell that is not right: what they wrote, the right value and its formula."""
    lines = [f"# {md(result.spec)}: feedback for {md(result.student)}", "",
             f"Sheet `{file_name(result.file).replace('`', chr(39))}`: {md(score_text(result))} "
             f"({result.count(RIGHT)} of {len(result.cells)} cells right"
             + (f", {result.count(CONSISTENT)} consistent with your earlier answers" if result.count(CONSISTENT)
                else "") + ").", ""]
    explained: dict[str, str] = {}
    if result.diagnoses:
        lines += ["## Mistakes", ""]
        for diagnosis in result.diagnoses:
            lines.append(f"- **{diagnosis.mistake}**: {md(diagnosis.message)}")
            for named in diagnosis.cells:
                explained.setdefault(named, diagnosis.mistake)
        lines.append("")
    to_look_at = [cell for cell in result.cells if cell.verdict != RIGHT]
    if to_look_at:
        lines += ["## Cells to look at", "", "| Layer | Column | You wrote | Right value | Verdict | Why |",
                  "|---|---|---:|---:|---|---|"]
        for cell in to_look_at:
            lines.append(f"| {md(cell.layer)} | {md(column_title(cell.column))} | {md(cell.given or '')} | "
                         f"{md(_exact(cell.expected))} | {cell.verdict} | {md(_why(cell, explained))} |")
        lines.append("")
        lines += ["## How to get them right", ""]
        for cell in to_look_at:
            if cell.verdict == CONSISTENT:
                continue
            formula = None if cell.layer == TOTAL else _formula(steps.get(cell.layer, ()),
                                                                      GRADED_COLUMNS[cell.column][0])
            how = f"`{formula}`" if formula else (
                "the sum of the column over every layer" if cell.layer == TOTAL else "see `cnncalc explain`")
            lines.append(f"- {md(cell.layer)} {md(column_title(cell.column))}: {md(_exact(cell.expected))}, "
                         f"from {how}")
        credit = "full credit" if carry_forward_credit == 1 else f"{amount(carry_forward_credit * 100)}% credit"
        if result.count(CONSISTENT):
            lines += ["", f"Cells marked consistent follow correctly from your own earlier answers ({credit}): "
                          "fix the cell they follow from and they come right too."]
    else:
        lines.append("Every cell is right.")
    for problem in result.problems:
        lines += ["", f"- problem: {md(problem.render(result.file))}"]
    return "\n".join(lines).rstrip() + "\n"


def _why(cell: Cell, explained: Mapping[str, str]) -> str:
    if cell.verdict == CONSISTENT:
        named = [f"{layer} {column_title(column)}" for layer, _, column in (c.partition(":") for c in cell.because)]
        return "follows from your " + ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
    if cell.id in explained:
        return f"mistake {explained[cell.id]} (above)"
    return {MISSING: "not answered", UNPARSEABLE: "not a number"}.get(cell.verdict, "")


MAX_NAME_BYTES = 200


def feedback_names(results: Sequence[GradeResult]) -> list[str]:
    """A file name per sheet, from the student's name, made safe and unique: 'alice.md', 'alice-2.md'."""
    names: list[str] = []
    taken: set[str] = set()
    for result in results:
        base = re.sub(r"[^\w.-]+", "_", result.student).strip("._")
        # a file name holds at most 255 bytes: room for '-1234.md' after a long (or non-ASCII) name
        base = base.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip("._") or "sheet"
        name, count = f"{base}.md", 1
        while name.lower() in taken:
            count += 1
            name = f"{base}-{count}.md"
        taken.add(name.lower())
        names.append(name)
    return names
