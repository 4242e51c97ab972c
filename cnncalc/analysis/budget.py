"""Budgets: limits on the figures of core/figures.py, given as options (`--max-params 25M`) or in a
spec's `budget:` mapping, judged against an analysed spec (`cnncalc check`, and the constraints of
`cnncalc sweep`). An option replaces the spec's limit on the same figure."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from ..core.errors import Note, OptionError, did_you_mean
from ..core.figures import FIGURES, Figure
from ..core.shapes import Shape
from ..spec.graph import Graph
from ..spec.spec import BudgetEntry
from .memory_plan import AMP_TYPES, FLOAT_BYTES, MemoryOptions
from .memory_report import MemoryReport, graph_memory
from .optimizers import OPTIMIZERS
from .report import JSON_FORMAT_VERSION, Report


@dataclass(frozen=True)
class Subject:
    """What the figures are read off (Figure.compute): a spec's graph and the engine's report for
    the options the command was given (convention, dtype, batch), and the training options of the
    memory figures (`training`: its optimizer and amp; its mode is the figure's)."""

    graph: Graph
    report: Report
    training: MemoryOptions = field(default_factory=MemoryOptions)
    _memory: dict[str, MemoryReport] = field(default_factory=dict, compare=False, repr=False)

    def memory(self, mode: str) -> MemoryReport:
        """The memory report of one inference pass ('infer', in the report's dtype) or training step
        ('train', with the training options) at the report's batch, computed once."""
        if mode not in self._memory:
            options = replace(self.training if mode == "train" else MemoryOptions(), mode=mode, dtype=self.report.dtype)
            self._memory[mode] = graph_memory(self.graph, options, self.report.batch)
        return self._memory[mode]


def training_options(optimizer: str = "momentum", amp: str | None = None) -> MemoryOptions:
    """The training options of `train_peak` (`--optimizer`, `--amp`), checked before any work."""
    if optimizer not in OPTIMIZERS:
        raise OptionError(f"unknown optimizer {optimizer!r}",
                          hint=did_you_mean(optimizer, OPTIMIZERS) or f"optimizers: {', '.join(OPTIMIZERS)}")
    if amp is not None and amp not in AMP_TYPES:
        raise OptionError(f"unknown --amp {amp!r}; choose from {', '.join(AMP_TYPES)}")
    return MemoryOptions(optimizer=optimizer, amp=amp)


def memory_figures_allowed(names: Sequence[str], dtype: str, training: MemoryOptions) -> None:
    """Refuse, before any work, memory figures the memory model cannot give for these options."""
    wanted = [name for name in names if FIGURES[name].memory]
    if not wanted:
        return
    if dtype not in FLOAT_BYTES:
        raise OptionError(f"{', '.join(wanted)}: the memory model needs a floating dtype, got {dtype!r}",
                          hint=f"choose --dtype from {', '.join(FLOAT_BYTES)}")
    if training.amp is not None and dtype != "float32" and "train_peak" in wanted:
        raise OptionError("--amp runs float32 parameters under autocast: leave --dtype at float32")


def computable(dtype: str) -> tuple[str, ...]:
    """The figures a comparison shows: the memory figures only for a floating dtype."""
    return tuple(name for name, figure in FIGURES.items() if not figure.memory or dtype in FLOAT_BYTES)


def figures_of(subject: Subject, names: Sequence[str] | None = None) -> dict[str, Any]:
    """{figure name: value} for the named figures (all by default), in the table's order."""
    return {name: figure.compute(subject) for name, figure in FIGURES.items() if names is None or name in names}


def figure_named(name: str, what: str) -> Figure:
    """FIGURES[name], or an OptionError that names `what` (an option) and suggests the closest."""
    if name not in FIGURES:
        raise OptionError(f"{what}: no figure '{name}'",
                          hint=did_you_mean(name, FIGURES) or f"figures: {', '.join(FIGURES)}")
    return FIGURES[name]


@dataclass(frozen=True)
class Limit:
    figure: str
    value: int  # exact, in the figure's unit
    source: str  # 'option --max-params', or where the spec's budget sets it: 'specs/x.yaml:4:11'


def limits_from(options: Mapping[str, Any] | None, budget: Sequence[BudgetEntry] = ()) -> tuple[Limit, ...]:
    """The limits in force: the spec's budget, with `options` ({figure: '25M' or 25000000})
    replacing its limits on the same figures; in the order of FIGURES."""
    limits = {entry.figure: Limit(entry.figure, entry.value, str(entry.loc)) for entry in budget}
    for name, given in (options or {}).items():
        figure = figure_named(name, "limit")
        if isinstance(given, bool) or not isinstance(given, (int, str)):
            raise OptionError(f"{figure.option}: a limit is a size such as 25M or 24GiB, got {given!r}")
        value = figure.parse_limit(str(given))
        if value <= 0:
            raise OptionError(f"{figure.option}: a limit must be more than 0, got {given}")
        limits[name] = Limit(name, value, f"option {figure.option}")
    return tuple(limits[name] for name in FIGURES if name in limits)


@dataclass(frozen=True)
class Verdict:
    """One limit judged: the figure's value against it."""

    figure: str
    limit: int
    value: Any
    source: str

    @property
    def holds(self) -> bool:
        return bool(self.value <= self.limit)

    @property
    def headroom(self) -> Fraction:
        """(limit - value) / limit: 0.1 is 10 % to spare, negative is over the limit."""
        return Fraction(self.limit - self.value, self.limit)

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "unit": FIGURES[self.figure].unit, "limit": self.limit, "value": self.value,
                "headroom_percent": round(float(self.headroom * 100), 6), "holds": self.holds, "source": self.source}


def judge(figures: Mapping[str, Any], limits: Sequence[Limit]) -> tuple[Verdict, ...]:
    return tuple(Verdict(limit.figure, limit.value, figures[limit.figure], limit.source) for limit in limits)


@dataclass(frozen=True)
class CheckResult:
    """`cnncalc check`: every limit in force, judged. `ok` when all hold."""

    name: str
    input_shape: Shape
    convention: str
    dtype: str
    batch: int
    verdicts: tuple[Verdict, ...]
    warnings: tuple[Note, ...] = ()
    training: MemoryOptions | None = None  # the optimizer and amp of a train_peak limit

    @property
    def training_text(self) -> str:
        """'AdamW, bf16 autocast' for the title; '' without a train_peak limit."""
        return training_text(self.training)

    @property
    def ok(self) -> bool:
        return all(verdict.holds for verdict in self.verdicts)

    @property
    def exceeded(self) -> tuple[Verdict, ...]:
        return tuple(verdict for verdict in self.verdicts if not verdict.holds)

    def describe(self) -> str:
        """'resnet50: 1 of 2 limits exceeded (params)', or 'resnet50: all 2 limits hold'."""
        count = len(self.verdicts)
        if self.ok:
            return f"{self.name}: {'the limit holds' if count == 1 else f'all {count} limits hold'}"
        names = ", ".join(verdict.figure for verdict in self.exceeded)
        if count == 1:
            return f"{self.name}: the limit is exceeded ({names})"
        return f"{self.name}: {len(self.exceeded)} of {count} limits exceeded ({names})"

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": JSON_FORMAT_VERSION, "name": self.name, "input_shape": list(self.input_shape),
                "convention": self.convention, "dtype": self.dtype, "batch": self.batch,
                **training_json(self.training), "ok": self.ok,
                "limits": [verdict.to_dict() for verdict in self.verdicts]}


def check(subject: Subject, limits: Sequence[Limit]) -> CheckResult:
    """Judge the limits (at least one) against the subject's figures."""
    if not limits:
        raise OptionError("no limits to check: the spec has no 'budget:' and no limit option was given",
                          hint="e.g. --max-params 25M --max-macs 4G, or 'budget: {params: 25M}' in the spec")
    report = subject.report
    names = [limit.figure for limit in limits]
    memory_figures_allowed(names, report.dtype, subject.training)
    figures = figures_of(subject, names)
    training = subject.training if "train_peak" in names else None
    return CheckResult(report.name, report.input_shape, report.convention, report.dtype, report.batch,
                       judge(figures, limits), report.warnings, training)



def training_text(training: MemoryOptions | None) -> str:
    """'training with momentum' or 'training with adamw, bf16 autocast'; '' for None."""
    if training is None:
        return ""
    return f"training with {training.optimizer}" + (f", {training.amp} autocast" if training.amp else "")


def training_json(training: MemoryOptions | None) -> dict[str, Any]:
    """The optimizer and amp of a training peak, for the JSON; nothing without one."""
    return {} if training is None else {"optimizer": training.optimizer, "amp": training.amp}
