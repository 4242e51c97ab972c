"""What grading produces: the verdict of each cell, the mistakes named, a sheet's score and points
(GradeResult), and the options that decide them. Plain data, shared by the grader, its rules
(diagnoses.py) and the renderers."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional

from .carry import cell_id
from .columns import GradedColumn

RIGHT, CONSISTENT, WRONG, MISSING, UNPARSEABLE = "right", "consistent", "wrong", "missing", "unparseable"
VERDICTS = (RIGHT, CONSISTENT, WRONG, MISSING, UNPARSEABLE)


@dataclass(frozen=True)
class Cell:
    """One graded cell. `given` is None when the cell (or its whole row or column) is blank;
    `expected` is None when the layer has no such value (H'/W' of a vector), so anything written
    there is wrong. `expected` is in the unit of the student's column (`header`), or of the
    assignment's when the student has no such column. A `consistent` cell names in `because` the
    student's cells ("layer:column") that it follows from."""

    layer: str
    column: str
    given: Optional[str]
    expected: Optional[str]
    verdict: str
    header: Optional[str] = None
    weight: Fraction = Fraction(1)
    credit: Fraction = Fraction(0)
    because: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return cell_id(self.layer, self.column)


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
class Diagnosis:
    """A systematic mistake named once: its id (flops_2x, kb_1000, ...), a message for the
    student, and the cells it explains."""

    mistake: str
    message: str
    cells: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerScore:
    layer: str
    score: Fraction
    max_score: Fraction


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
    student: str = ""
    diagnoses: tuple[Diagnosis, ...] = ()
    scale: Optional[Fraction] = None  # the assignment's points; None: the score is the points

    @property
    def score(self) -> Fraction:
        return sum((cell.weight * cell.credit for cell in self.cells), Fraction(0))

    @property
    def max_score(self) -> Fraction:
        return sum((cell.weight for cell in self.cells), Fraction(0))

    @property
    def points(self) -> Fraction:
        if self.scale is None:
            return self.score
        return self.scale * self.score / self.max_score if self.max_score else Fraction(0)

    @property
    def max_points(self) -> Fraction:
        return self.scale if self.scale is not None else self.max_score

    def count(self, verdict: str) -> int:
        return sum(1 for cell in self.cells if cell.verdict == verdict)

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.more_problems

    @property
    def all_right(self) -> bool:
        return all(cell.verdict == RIGHT for cell in self.cells) and not self.problem_count

    def layer_scores(self) -> list[LayerScore]:
        scores: dict[str, list[Fraction]] = {}
        for cell in self.cells:
            entry = scores.setdefault(cell.layer, [Fraction(0), Fraction(0)])
            entry[0] += cell.weight * cell.credit
            entry[1] += cell.weight
        return [LayerScore(layer, got, total) for layer, (got, total) in scores.items()]


@dataclass(frozen=True)
class Options:
    """How cells are judged and credited (docs/grading.md)."""

    rtol: Optional[Fraction] = None  # a relative tolerance instead of truncation
    truncation: bool = True  # truncated values are right (the slides truncate)
    decimal_comma: bool = False  # '1134,4' is 1134.4 (and '1.134' is 1134)
    carry_forward_credit: Fraction = Fraction(1)  # credit of a `consistent` cell
    only_given: bool = False  # grade only the columns (and the total row) a sheet has



@dataclass
class Answer:
    """One asked cell as the student wrote it, parsed in their column's unit."""

    layer: str
    column: GradedColumn  # the assignment's column
    written: Optional[GradedColumn]  # the student's column for the same quantity (None: absent)
    text: str  # stripped; '' when blank
    truth: Any
    value: Any = None  # Number, (h, w), or int (C_out); None when blank or unparseable
    verdict: Optional[str] = None
    because: frozenset[str] = frozenset()
    meant: Optional[Fraction] = None  # a consistent number: the exact value the student's own answers give
