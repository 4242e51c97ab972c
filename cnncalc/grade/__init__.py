"""Stage 5: students' answer sheets read (sheets, columns, values), graded cell by cell against a
Report and the assignment (assignment, grader, results), errors carried forward (carry) and systematic
mistakes named (diagnoses). Imports core, layers, spec, analysis and api."""
from .assignment import TOTAL, Assignment, assignment_from_sheet, lecture_assignment
from .columns import GRADED_COLUMNS, IGNORED, LAYER, LECTURE_KEYS, GradedColumn, classify_header, column
from .grader import Grader, expected_text, grade, grade_files, judge
from .results import (
    CONSISTENT,
    MISSING,
    RIGHT,
    UNPARSEABLE,
    VERDICTS,
    WRONG,
    Cell,
    Diagnosis,
    GradeResult,
    Options,
    Problem,
)
from .sheets import MAX_SHEET_BYTES, Sheet, SheetRow, parse_csv_sheet, parse_yaml_sheet, read_sheet
from .values import Number, is_right, parse_hw, parse_number

__all__ = ["CONSISTENT", "GRADED_COLUMNS", "IGNORED", "LAYER", "LECTURE_KEYS", "MAX_SHEET_BYTES", "MISSING", "RIGHT",
           "TOTAL", "UNPARSEABLE", "VERDICTS", "WRONG", "Assignment", "Cell", "Diagnosis", "GradeResult",
           "GradedColumn", "Grader", "Number", "Options", "Problem", "Sheet", "SheetRow", "assignment_from_sheet",
           "classify_header", "column", "expected_text", "grade", "grade_files", "is_right", "judge",
           "lecture_assignment", "parse_csv_sheet", "parse_hw", "parse_number", "parse_yaml_sheet", "read_sheet"]
