"""Stage 4: students' answer sheets read (sheets, columns, values) and graded cell by cell
against a Report (grader). Imports core, layers, spec and analysis."""
from .columns import GRADED_COLUMNS, IGNORED, LAYER, LECTURE_KEYS, GradedColumn, classify_header, column
from .grader import (
                     MISSING,
                     RIGHT,
                     TOTAL,
                     UNPARSEABLE,
                     VERDICTS,
                     WRONG,
                     Cell,
                     GradeResult,
                     Problem,
                     expected_text,
                     grade,
                     grade_files,
                     judge,
)
from .sheets import MAX_SHEET_BYTES, Sheet, SheetRow, parse_csv_sheet, parse_yaml_sheet, read_sheet
from .values import Number, is_right, parse_hw, parse_number

__all__ = ["GRADED_COLUMNS", "IGNORED", "LAYER", "LECTURE_KEYS", "MAX_SHEET_BYTES", "MISSING", "RIGHT", "TOTAL",
           "UNPARSEABLE", "VERDICTS", "WRONG", "Cell", "GradeResult", "GradedColumn", "Number", "Problem", "Sheet",
           "SheetRow", "classify_header", "column", "expected_text", "grade", "grade_files", "is_right", "judge",
           "parse_csv_sheet", "parse_hw", "parse_number", "parse_yaml_sheet", "read_sheet"]
