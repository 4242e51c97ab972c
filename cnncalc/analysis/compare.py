"""`cnncalc compare`: several specs (and input sizes) side by side, every figure of core/figures.py
also as a ratio to the first row; and two specs' top-level blocks side by side (`--by block`)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..core.errors import OptionError
from ..core.figures import FIGURES
from ..core.shapes import Shape
from .budget import Subject, figures_of, training_json
from .memory_plan import MemoryOptions
from .report import JSON_FORMAT_VERSION, Report


def ratio(value: Any, base: Any) -> Fraction | None:
    """value / base, exact; None when the base is 0 (nothing to compare with)."""
    if not isinstance(value, int) or not isinstance(base, int) or base == 0:
        return None
    return Fraction(value, base)


def _ratio_json(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 6)


@dataclass(frozen=True)
class Compared:
    """One (spec, input size) of a comparison."""

    spec: str  # as the user named it
    name: str  # the spec's own name
    input_shape: Shape
    figures: dict[str, Any]
    ratios: dict[str, Fraction | None]  # each figure over the first row's

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "name": self.name, "input_shape": list(self.input_shape),
                **{name: value for name, value in self.figures.items()},
                "ratios": {name: _ratio_json(value) for name, value in self.ratios.items()}}


@dataclass(frozen=True)
class Comparison:
    convention: str
    dtype: str
    batch: int
    figures: tuple[str, ...]  # the columns, in the order of FIGURES
    rows: tuple[Compared, ...]
    training: MemoryOptions | None = None  # the training peak's optimizer and amp, when it is a column

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": JSON_FORMAT_VERSION, "convention": self.convention, "dtype": self.dtype,
                "batch": self.batch, **training_json(self.training), "figures": list(self.figures),
                "rows": [row.to_dict() for row in self.rows]}


def compare(subjects: Sequence[tuple[str, Subject]], names: Sequence[str] | None = None) -> Comparison:
    """Rows in the order given ((name as given, subject) pairs, at least one), with the named
    figures (all by default)."""
    if not subjects:
        raise OptionError("compare needs at least one spec")
    rows: list[Compared] = []
    for given, subject in subjects:
        figures = figures_of(subject, names)
        base = rows[0].figures if rows else figures
        rows.append(Compared(given, subject.report.name, subject.report.input_shape, figures,
                             {name: ratio(value, base[name]) for name, value in figures.items()}))
    first = subjects[0][1]
    report = first.report
    training = first.training if "train_peak" in rows[0].figures else None
    return Comparison(report.convention, report.dtype, report.batch, tuple(rows[0].figures), tuple(rows), training)


# ---- block by block ------------------------------------------------------------------------------

BLOCK_FIGURES = tuple(name for name, figure in FIGURES.items() if figure.of_row is not None)


@dataclass(frozen=True)
class BlockPair:
    """One top-level block (or layer) name and its figures in each spec (None where it has none)."""

    block: str
    ops: tuple[str | None, str | None]
    figures: tuple[dict[str, Any] | None, dict[str, Any] | None]

    def ratio(self, name: str) -> Fraction | None:
        first, second = self.figures
        return ratio(second[name], first[name]) if first is not None and second is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"block": self.block, "ops": list(self.ops), "figures": list(self.figures),
                "ratios": {name: _ratio_json(self.ratio(name)) for name in BLOCK_FIGURES}}


@dataclass(frozen=True)
class BlockComparison:
    """Two specs' top-level blocks side by side, matched by name; ratios are the second over the first."""

    specs: tuple[str, str]
    input_shapes: tuple[Shape, Shape]
    convention: str
    dtype: str
    batch: int
    figures: tuple[str, ...]
    pairs: tuple[BlockPair, ...]
    totals: tuple[dict[str, Any], dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": JSON_FORMAT_VERSION, "specs": list(self.specs),
                "input_shapes": [list(shape) for shape in self.input_shapes], "convention": self.convention,
                "dtype": self.dtype, "batch": self.batch, "figures": list(self.figures),
                "blocks": [pair.to_dict() for pair in self.pairs], "totals": list(self.totals)}


def _blocks(report: Report) -> dict[str, tuple[str, dict[str, Any]]]:
    """Top-level name -> (its op or block type, its figures summed over its layers)."""
    return {row.name: (row.op, {name: FIGURES[name].of_row(row) for name in BLOCK_FIGURES})  # type: ignore[misc]
            for row in report.collapse(1).rows}


def compare_blocks(first: tuple[str, Report], second: tuple[str, Report]) -> BlockComparison:
    """The blocks of both specs by name, in the first spec's order, then those only the second has.
    Refused when no name is common to both (nothing would stand side by side)."""
    (first_name, a), (second_name, b) = first, second
    blocks_a, blocks_b = _blocks(a), _blocks(b)
    if not set(blocks_a) & set(blocks_b):
        raise OptionError(f"--by block: {first_name} and {second_name} have no top-level block name in common",
                          hint="--by block compares specs built alike (resnet50 and resnext50_32x4d); "
                               "compare them without it")
    pairs = []
    for block in [*blocks_a, *[name for name in blocks_b if name not in blocks_a]]:
        op_a, figures_a = blocks_a.get(block, (None, None))
        op_b, figures_b = blocks_b.get(block, (None, None))
        pairs.append(BlockPair(block, (op_a, op_b), (figures_a, figures_b)))
    totals = tuple({name: sum(FIGURES[name].of_row(row) for row in report.rows)  # type: ignore[misc]
                    for name in BLOCK_FIGURES} for report in (a, b))
    return BlockComparison((first_name, second_name), (a.input_shape, b.input_shape), a.convention, a.dtype,
                           a.batch, BLOCK_FIGURES, tuple(pairs), (totals[0], totals[1]))
