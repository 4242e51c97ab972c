"""The figures that budgets, `compare` and `sweep` speak of: one entry per figure, each with its
unit and how to read it off an analysed spec.

A figure's name is its key everywhere: the `--max-NAME` option of `check` and `sweep`, the key of a
spec's `budget:` mapping, a column of `compare`, an objective of `sweep` (`--minimize macs`). Its
unit says how limits are written (`count`: 25M, 4.1e9; `bytes`: 24GiB, 80GB, never a bare 24G,
see quantities.py) and printed. `compute` reads the figure off a `Subject` (analysis/budget.py):
`.report` (the engine's Report) and `.graph`, for the options the command was given (convention,
dtype, batch); `of_row`, for a figure that sums the report's rows, reads one row (`compare --by
block` compares blocks with it). It lives in core because the spec language (`budget:`), its JSON Schema, the
analysis and the command line all name these figures.

The memory model's figures (`peak`, `train_peak`; docs/memory.md) are read off `Subject.memory(mode)`,
the memory report of the subject's graph at its batch and dtype with its training options
(optimizer, amp). They are `memory` figures: they need a floating dtype, and each costs several
times what the engine does, so a sweep computes them only when a limit, the objective, the front,
the plot or `--figures` names them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .numbers import decimal_text, grouped
from .quantities import BYTE_UNITS, COUNT_PREFIXES, parse_bytes, parse_count

COUNT = "count"
BYTES = "bytes"


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str  # COUNT or BYTES
    label: str  # what a table's header calls it
    description: str  # one line for --help and the docs
    compute: Callable[[Any], Any]  # Subject -> the figure (an exact int)
    # For a figure that is a sum over the report's rows: its value for one row (compare --by block)
    of_row: Callable[[Any], Any] | None = None
    memory: bool = False  # read off the memory model: a floating dtype only, and computed only when asked

    @property
    def option(self) -> str:
        """The limit option of `check` and `sweep`: --max-params, --max-train-peak."""
        return "--max-" + self.name.replace("_", "-")

    def parse_limit(self, text: str, what: str | None = None) -> int:
        """A limit as written ('25M', '24GiB') -> its exact value; an OptionError naming `what`."""
        parse = parse_bytes if self.unit == BYTES else parse_count
        return parse(text, what or self.option)

    def exact(self, value: Any) -> str:
        """25557032 -> '25,557,032'; bytes get a 'B'."""
        return f"{grouped(value)} B" if self.unit == BYTES else grouped(value)

    def short(self, value: Any) -> str:
        """A limit as a person writes it, exactly: '25 M', '4.1 G', '24 GiB', '80 GB'."""
        return short_bytes(value) if self.unit == BYTES else short_count(value)


def _shortest(value: int, units: dict[str, int]) -> str | None:
    """value in the largest unit not above it, if that shows it exactly with at most 3 decimals."""
    fitting = [(factor, unit) for unit, factor in units.items() if 1 < factor <= abs(value)]
    if not fitting:
        return None
    factor, unit = max(fitting)
    scaled = Fraction(value, factor)
    return f"{decimal_text(scaled, grouping=True)} {unit}" if (scaled * 1000).denominator == 1 else None


def short_count(value: Any) -> str:
    """25_000_000 -> '25 M'; 4_100_000_000 -> '4.1 G'; 25_557_032 -> '25,557,032'."""
    if not isinstance(value, int):
        return str(value)
    prefixes = {prefix: factor for prefix, factor in COUNT_PREFIXES.items() if prefix != "K"}
    return _shortest(value, prefixes) or grouped(value)


def short_bytes(value: Any) -> str:
    """24 * 2**30 -> '24 GiB'; 80 * 10**9 -> '80 GB'; 1000 -> '1 KB'; 999 -> '999 B'."""
    if not isinstance(value, int):
        return str(value)
    binary = {unit: factor for unit, factor in BYTE_UNITS.items() if unit.endswith("iB")}
    decimal = {unit: factor for unit, factor in BYTE_UNITS.items() if unit.endswith("B") and "i" not in unit}
    return _shortest(value, binary) or _shortest(value, decimal) or f"{grouped(value)} B"


FIGURES: dict[str, Figure] = {figure.name: figure for figure in (
    Figure("params", COUNT, "params", "trainable parameters",
           lambda subject: subject.report.totals.params, lambda row: row.params),
    Figure("macs", COUNT, "MACs", "multiply-adds under the convention (--convention), times the batch",
           lambda subject: subject.report.totals.macs, lambda row: row.macs),
    Figure("activations", BYTES, "activations",
           "activation memory: every layer's output in the dtype, times the batch (a sum, not a peak)",
           lambda subject: subject.report.totals.memory_bytes, lambda row: row.memory_bytes),
    Figure("peak", BYTES, "inference peak",
           "the inference peak: the most memory one no_grad forward pass holds (docs/memory.md)",
           lambda subject: subject.memory("infer").peak_bytes, memory=True),
    Figure("train_peak", BYTES, "training peak",
           "the training peak: the most memory one training step holds, with --optimizer and --amp (docs/memory.md)",
           lambda subject: subject.memory("train").peak_bytes, memory=True),
)}


ENGINE_FIGURES = tuple(name for name, figure in FIGURES.items() if not figure.memory)  # what every sweep computes

__all__ = ["BYTES", "COUNT", "ENGINE_FIGURES", "FIGURES", "Figure", "short_bytes", "short_count"]
