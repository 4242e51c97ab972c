"""`cnncalc sweep`: a grid of a spec's variables and input sizes, every variant analysed (in
parallel processes), judged against the limits, ranked by an objective or cut to a Pareto front.

A variant that the spec cannot build (a shape that no longer fits) is kept with its message,
never raised. The grid, its order and every answer are the same whatever the number of processes:
each variant is computed alone, results are put back in grid order, and ties go to the earlier
variant.
"""
from __future__ import annotations

import itertools
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..core.errors import CnnCalcError, OptionError, did_you_mean
from ..core.figures import ENGINE_FIGURES, FIGURES
from ..core.numbers import decimal_text, exact_number, scientific
from ..core.shapes import Shape
from ..core.text import printable
from ..spec.graph import build
from ..spec.spec import Spec, spec_from_document
from ..spec.yamlsrc import parse_yaml
from .budget import Limit, Subject, figures_of, training_json
from .conventions import Convention
from .engine import analyze
from .memory_plan import MemoryOptions
from .report import JSON_FORMAT_VERSION

MAX_VARIANTS = 100_000  # each variant keeps its figures: about 100 MB at the limit, 6 CPU-minutes
MIN_PARALLEL = 64  # fewer variants than this run in this process: starting workers would cost more
CHUNKS_PER_JOB = 8  # work is handed out in pieces, for the progress bar and to balance the load

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"\s*({_NUMBER})\s*:\s*({_NUMBER})\s*:\s*({_NUMBER})\s*")


# ---- the grid -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """A variable and the values (as --set would be given them) it takes."""

    name: str
    values: tuple[str, ...]


def parse_axis(name: str, given: str | Sequence[Any]) -> Axis:
    """`0.5:1.5:0.05` (from, to inclusive, step: exact decimals, so 1.5 is reached), `2,3,4`, a
    single value, or a sequence of values (the Python API)."""
    what = f"--set {name}"
    if isinstance(given, (int, float, Fraction)):  # one value, as `--set width=8`
        given = str(given)
    if not isinstance(given, str):
        if not isinstance(given, Iterable):
            raise OptionError(f"{what}: values are a list, a range 'FROM:TO:STEP' or one value, got "
                              f"{printable(repr(given), 60)}")
        values = tuple(str(value) for value in given)
        if not values:
            raise OptionError(f"{what}: no values")
        return Axis(name, values)
    match = _RANGE.fullmatch(given)
    if match:
        return Axis(name, _range(what, *match.groups()))
    if ":" in given:
        raise OptionError(f"{what}={given}: a range is FROM:TO:STEP of numbers", hint="e.g. --set width=0.5:1.5:0.05")
    values = tuple(part.strip() for part in given.split(","))
    if not all(values):
        raise OptionError(f"{what}={given}: an empty value in the list", hint="e.g. --set depth=2,3,4")
    return Axis(name, values)


def _range(what: str, start_text: str, stop_text: str, step_text: str) -> tuple[str, ...]:
    shown = f"{what}={start_text}:{stop_text}:{step_text}"
    try:
        start, stop, step = (exact_number(text) for text in (start_text, stop_text, step_text))
    except ValueError as exc:
        raise OptionError(f"{shown}: {exc}") from None
    if step <= 0:
        raise OptionError(f"{shown}: the step must be more than 0")
    if stop < start:
        raise OptionError(f"{shown}: the range ends before it starts")
    count = math.floor((stop - start) / step) + 1
    if count > MAX_VARIANTS:
        raise OptionError(f"{shown}: {scientific(count) if count > 10**12 else f'{count:,}'} values, "
                          f"more than the limit of {MAX_VARIANTS:,}")
    real = any(mark in text for text in (start_text, stop_text, step_text) for mark in ".eE")
    return tuple(_decimal(start + i * step, real) for i in range(count))


def _decimal(value: Fraction, real: bool) -> str:
    """0.5 -> '0.5'; a whole value of a real axis keeps a decimal point ('1.0'), as the spec's own
    `width: 1.0` would be a float."""
    text = decimal_text(value)
    return text + ".0" if real and "." not in text else text


@dataclass(frozen=True)
class Point:
    """One variant to compute: the variables' values as text and the input (None: the spec's)."""

    values: tuple[tuple[str, str], ...]
    input_shape: Shape | None


def grid(axes: Sequence[Axis], inputs: Sequence[Shape]) -> list[Point]:
    """Every combination, the first axis varying slowest and the input fastest."""
    names = [axis.name for axis in axes]
    count = math.prod(len(axis.values) for axis in axes) * max(1, len(inputs))
    if count > MAX_VARIANTS:
        raise OptionError(f"the grid has {count:,} variants, more than the limit of {MAX_VARIANTS:,}",
                          hint="use coarser steps or fewer values")
    shapes: list[Shape | None] = list(inputs) or [None]
    return [Point(tuple(zip(names, values)), shape)
            for values in itertools.product(*[axis.values for axis in axes]) for shape in shapes]


# ---- one variant ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What every variant is computed with (sent once to each worker process)."""

    text: str
    file: str
    default_name: str
    convention: Convention
    dtype: str
    batch: int
    strict: bool
    variables: tuple[str, ...]  # whose evaluated values each variant reports
    figures: tuple[str, ...] = ENGINE_FIGURES  # what each variant computes (memory figures only when asked)
    training: MemoryOptions = field(default_factory=MemoryOptions)  # the training peak's optimizer and amp


@dataclass(frozen=True)
class Outcome:
    """A computed variant: its figures and variables, or the message of why it cannot be built."""

    input_shape: Shape | None
    figures: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None
    error: str | None = None


class Evaluator:
    """Computes variants of one spec, its YAML parsed once."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.document = parse_yaml(setup.text, setup.file)

    def spec(self, values: Mapping[str, str]) -> Spec:
        setup = self.setup
        return spec_from_document(self.document, setup.file, setup.default_name, dict(values))

    def run(self, point: Point) -> Outcome:
        setup = self.setup
        try:
            spec = self.spec(dict(point.values))
            graph = build(spec, point.input_shape)
            report = analyze(graph, convention=setup.convention, dtype=setup.dtype, batch=setup.batch,
                             strict=setup.strict)
            return Outcome(report.input_shape, figures_of(Subject(graph, report, setup.training), setup.figures),
                           {name: spec.variables.get(name) for name in setup.variables})
        except CnnCalcError as exc:
            return Outcome(point.input_shape, error=exc.render())
        except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:  # never crash the sweep
            return Outcome(point.input_shape, error=f"internal error: {type(exc).__name__}: {exc}")


_WORKER: list[Evaluator] = []  # the evaluator of a worker process


def _start_worker(setup: Setup) -> None:
    _WORKER[:] = [Evaluator(setup)]


def _run_points(points: list[Point]) -> list[Outcome]:
    return [_WORKER[0].run(point) for point in points]


def default_jobs() -> int:
    """The cores this process may use."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_points(setup: Setup, points: Sequence[Point], jobs: int,
               progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Every point's outcome, in order; in `jobs` worker processes when there are enough points (at most one
    per core: the work is all CPU, and `-j 100000` must not start a hundred thousand processes)."""
    total = len(points)
    jobs = min(jobs, default_jobs())
    if jobs <= 1 or total < MIN_PARALLEL:
        evaluator = Evaluator(setup)
        outcomes = []
        for done, point in enumerate(points, 1):
            outcomes.append(evaluator.run(point))
            if progress is not None and (done % 16 == 0 or done == total):
                progress(done, total)
        return outcomes
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork is the cheapest start, and safe in a process with one thread; otherwise a fresh interpreter
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() \
        and sys.platform != "darwin" else "spawn"
    size = max(1, min(256, math.ceil(total / (jobs * CHUNKS_PER_JOB))))
    pieces = [list(points[start:start + size]) for start in range(0, total, size)]
    results: list[list[Outcome] | None] = [None] * len(pieces)
    done = 0
    with ProcessPoolExecutor(max_workers=min(jobs, len(pieces)), mp_context=multiprocessing.get_context(method),
                             initializer=_start_worker, initargs=(setup,)) as pool:
        futures = {pool.submit(_run_points, piece): index for index, piece in enumerate(pieces)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                done += len(pieces[index])
                if progress is not None:
                    progress(done, total)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [outcome for piece in results for outcome in piece or ()]


# ---- the answer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One point of the grid, computed and judged."""

    number: int  # its place in the grid, from 1
    values: dict[str, str]  # the swept variables as given
    input_shape: Shape | None  # the input it was analysed with (the spec's unless --input)
    figures: dict[str, Any] | None  # None when it cannot be built
    variables: dict[str, Any]  # the swept (and objective) variables as the spec evaluated them
    error: str | None = None
    exceeded: tuple[str, ...] = ()  # the figures over their limits

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def fits(self) -> bool:
        return self.valid and not self.exceeded

    def value_of(self, name: str) -> Any:
        """A figure, or a variable's evaluated value."""
        if self.figures is not None and name in self.figures:
            return self.figures[name]
        return self.variables.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "values": dict(self.values),
                "input_shape": list(self.input_shape) if self.input_shape else None,
                "variables": dict(self.variables), "figures": self.figures, "valid": self.valid, "fits": self.fits,
                "exceeded": list(self.exceeded), "error": self.error}


@dataclass(frozen=True)
class Objective:
    name: str  # a figure or a variable
    maximize: bool

    def describe(self) -> str:
        return f"{'maximize' if self.maximize else 'minimize'} {self.name}"


@dataclass(frozen=True)
class SweepResult:
    spec: str
    name: str
    convention: str
    dtype: str
    batch: int
    axes: tuple[Axis, ...]
    inputs: tuple[Shape, ...]  # empty: the spec's own input
    limits: tuple[Limit, ...]
    objective: Objective | None
    pareto: tuple[str, ...]  # figures whose Pareto front is kept (all minimized); empty: no front
    variants: tuple[Variant, ...]  # in grid order
    ranked: tuple[int, ...] = field(default=())  # numbers of the variants that fit (or of the front), best first
    figures: tuple[str, ...] = ENGINE_FIGURES  # the figures each variant has (memory figures only when asked)
    training: MemoryOptions | None = None  # the training peak's optimizer and amp, when it is computed

    @property
    def best(self) -> Variant | None:
        """The best variant that fits (with an objective), else None."""
        return self.variants[self.ranked[0] - 1] if self.objective is not None and self.ranked else None

    @property
    def fitting(self) -> tuple[Variant, ...]:
        return tuple(variant for variant in self.variants if variant.fits)

    @property
    def invalid(self) -> tuple[Variant, ...]:
        return tuple(variant for variant in self.variants if not variant.valid)

    def describe(self) -> str:
        """'101 variants: 49 within the limits, 52 over them, 0 invalid'."""
        valid = [variant for variant in self.variants if variant.valid]
        over = sum(1 for variant in valid if variant.exceeded)
        fits = "within the limits" if self.limits else "valid"
        text = f"{len(self.variants):,} variant{'s' if len(self.variants) != 1 else ''}: " \
               f"{len(valid) - over:,} {fits}"
        if self.limits:
            text += f", {over:,} over them"
        return text + f", {len(self.variants) - len(valid):,} invalid"

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "format_version": JSON_FORMAT_VERSION, "spec": self.spec, "name": self.name,
            "convention": self.convention, "dtype": self.dtype, "batch": self.batch,
            **training_json(self.training), "figures": list(self.figures),
            "axes": {axis.name: list(axis.values) for axis in self.axes},
            "inputs": [list(shape) for shape in self.inputs],
            "limits": [{"figure": limit.figure, "limit": limit.value, "source": limit.source} for limit in self.limits],
            "objective": {"name": self.objective.name, "maximize": self.objective.maximize} if self.objective else None,
            "pareto": list(self.pareto),
            "best": best.number if best is not None else None,
            "ranked": list(self.ranked),
            "variants": [variant.to_dict() for variant in self.variants],
        }


def judge_outcomes(points: Sequence[Point], outcomes: Sequence[Outcome], limits: Sequence[Limit]) -> list[Variant]:
    variants = []
    for number, (point, outcome) in enumerate(zip(points, outcomes), 1):
        figures = outcome.figures
        exceeded = () if figures is None else tuple(limit.figure for limit in limits
                                                    if figures[limit.figure] > limit.value)
        variants.append(Variant(number, dict(point.values), outcome.input_shape, figures, outcome.variables or {},
                                outcome.error, exceeded))
    return variants


def pareto_front(variants: Sequence[Variant], names: Sequence[str]) -> list[Variant]:
    """The variants no other one beats on the named figures (all minimized). In grid order."""
    ordered = sorted(variants, key=lambda variant: variant.number)
    return [ordered[i] for i in pareto_indices([tuple(v.value_of(name) for name in names) for v in ordered])]


def pareto_indices(points: Sequence[tuple[Any, ...]]) -> list[int]:
    """The indices of the points no other one beats: none has every value at most theirs and one
    below (all minimized). Equal points all stay. In the order given."""
    front: list[int] = []
    for i in sorted(range(len(points)), key=lambda i: (points[i], i)):  # a point that beats another sorts first
        if not any(points[j] != points[i] and all(a <= b for a, b in zip(points[j], points[i])) for j in front):
            front.append(i)
    return sorted(front)


def rank(variants: Sequence[Variant], objective: Objective | None) -> list[Variant]:
    """Best first by the objective (ties: grid order); without one, grid order."""
    if objective is None:
        return list(variants)
    def score(variant: Variant) -> Any:
        value = variant.value_of(objective.name)
        return -value if objective.maximize else value

    return sorted(variants, key=lambda variant: (score(variant), variant.number))


def conclude(spec: str, name: str, setup: Setup, axes: Sequence[Axis], inputs: Sequence[Shape],
             limits: Sequence[Limit], objective: Objective | None, pareto: Sequence[str],
             points: Sequence[Point], outcomes: Sequence[Outcome]) -> SweepResult:
    variants = judge_outcomes(points, outcomes, limits)
    candidates: list[Variant] = [variant for variant in variants if variant.fits]
    if pareto:
        candidates = pareto_front(candidates, pareto)
    ranked = rank(candidates, objective)
    training = setup.training if "train_peak" in setup.figures else None
    return SweepResult(spec, name, setup.convention.name, setup.dtype, setup.batch, tuple(axes), tuple(inputs),
                       tuple(limits), objective, tuple(pareto), tuple(variants),
                       tuple(variant.number for variant in ranked), setup.figures, training)


def objective_from(maximize: str | None, minimize: str | None, variables: Mapping[str, Any]) -> Objective | None:
    """--maximize NAME or --minimize NAME (not both): a figure or a variable of the spec with a
    numeric value."""
    if maximize is not None and minimize is not None:
        raise OptionError("give --maximize or --minimize, not both")
    name = maximize if maximize is not None else minimize
    if name is None:
        return None
    option = "--maximize" if maximize is not None else "--minimize"
    if name not in FIGURES:
        if name not in variables:
            raise OptionError(f"{option} {name}: neither a figure nor a variable of the spec",
                              hint=did_you_mean(name, [*FIGURES, *variables])
                              or f"figures: {', '.join(FIGURES)}; variables: {', '.join(variables) or 'none'}")
        value = variables[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
            raise OptionError(f"{option} {name}: the variable's value {value!r} is not a number")
    return Objective(name, maximize is not None)


def named_figures(names: Sequence[str], option: str) -> tuple[str, ...]:
    """Figures as given to `option` (`--pareto`, `--figures`, `--plot-axes`): each one of FIGURES;
    blanks dropped, each once, in order."""
    out = [name.strip() for name in names if name.strip()]
    for name in out:
        if name not in FIGURES:
            raise OptionError(f"{option}: no figure '{name}'",
                              hint=did_you_mean(name, FIGURES) or f"figures: {', '.join(FIGURES)}")
    return tuple(dict.fromkeys(out))


def figures_from(names: Sequence[str]) -> tuple[str, ...]:
    """--figures peak,train_peak: figures every variant computes besides those always computed."""
    return named_figures(names, "--figures")


def pareto_from(option: str | Sequence[str] | None) -> tuple[str, ...]:
    """--pareto params,macs: two or more figures, all minimized."""
    if option is None:
        return ()
    names = named_figures(option.split(",") if isinstance(option, str) else option, "--pareto")
    if len(names) < 2:
        raise OptionError("--pareto needs two or more different figures, e.g. --pareto params,macs")
    return names
