"""The Python API (docs/api.md): what the command line itself calls.

    >>> import cnncalc
    >>> report = cnncalc.analyze("alexnet")
    >>> report.totals.params
    62378344
    >>> cnncalc.analyze("input: [3, 32, 32]\\nlayers:\\n  - {op: conv, out: 8, kernel: 3}\\n").totals.macs
    194400

A spec is a file path, the name of a bundled spec (`cnncalc specs`) or YAML text. Every problem
with the input is a `cnncalc.InputError` carrying its location (file, line, column, layer, field).
docs/api.md documents every function with examples (run as tests).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from .analysis.conventions import CONVENTIONS, Convention
from .analysis.engine import analyze as run_engine
from .analysis.report import DTYPE_BYTES, Report
from .core.errors import ErrorCollector, OptionError, SpecError, did_you_mean
from .core.figures import FIGURES
from .core.shapes import Shape
from .core.text import VALUE_CHARS, printable, printable_cut, shown
from .spec import bundled
from .spec.graph import Graph, build
from .spec.spec import Spec, load_spec, oversized, parse_spec, spec_from_document
from .spec.yamlsrc import parse_yaml, read_spec_text

if TYPE_CHECKING:  # imported by the functions that need them: `cnncalc table` starts without them
    from .analysis.budget import CheckResult, Subject
    from .analysis.compare import BlockComparison, Comparison
    from .analysis.memory_plan import MemoryOptions
    from .analysis.memory_report import MemoryReport
    from .analysis.sweep import SweepResult

SpecSource = Union[str, Path]
InputShape = Union[str, Sequence[int], None]


MAX_BATCH = (1 << 63) - 1  # a batch is a tensor dimension (docs/limits.md)


def _echo(value: Any) -> str:
    """A Python value as a message shows it: its repr, one line, cut (a 5,000-digit int has no repr)."""
    try:
        text = repr(value)
    except ValueError:
        text = f"<an integer of about {value.bit_length() * 0.30103:,.0f} digits>"
    return printable(printable_cut(text, VALUE_CHARS))


def _spec_arg(spec: Any) -> None:
    """A spec is a path, a bundled spec's name or YAML text: anything else is refused by name."""
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.strip()):
        return
    if isinstance(spec, str):
        raise OptionError("an empty spec: give a file path, a bundled spec's name or YAML text", file=repr(spec))
    raise OptionError(f"a spec is a file path, a bundled spec's name or YAML text, got {type(spec).__name__} "
                      f"{_echo(spec)}")


def _whole_arg(value: Any, what: str, least: int = 1, most: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{what} must be a whole number, got {type(value).__name__} {_echo(value)}")
    if value < least:
        raise OptionError(f"{what} must be at least {least}, got {value}")
    if most is not None and value > most:
        raise OptionError(f"{what} must be at most {most:,} (2**63 - 1), got {_echo(value)}")
    return value


def _mapping_arg(value: Any, what: str, example: str) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise OptionError(f"{what} must be a mapping such as {example}, got {type(value).__name__} "
                          f"{_echo(value)}")


def _common_args(spec: Any, set: Any = None, batch: Any = 1, limits: Any = None) -> None:
    """The arguments every function shares, checked before any work (each a located OptionError)."""
    _spec_arg(spec)
    _mapping_arg(set, "set", "{'width': 0.5}")
    _mapping_arg(limits, "limits", "{'params': '25M'}")
    _whole_arg(batch, "batch", 1, MAX_BATCH)


def _text_arg(value: Any, what: str, *, optional: bool = False) -> None:
    """A name option (dtype, optimizer, a figure...): a string (None where `optional`)."""
    if not (isinstance(value, str) or (optional and value is None)):
        raise OptionError(f"{what} must be a name (a string), got {type(value).__name__} {_echo(value)}")


def _inputs_arg(inputs: Any) -> Sequence[InputShape] | None:
    """None, one input size ('3,224,224') or a list of them."""
    if inputs is None or isinstance(inputs, str):
        return [inputs] if isinstance(inputs, str) else None
    if not isinstance(inputs, Iterable):
        raise OptionError(f"inputs must be a list of input sizes such as [(3, 224, 224)], got "
                          f"{type(inputs).__name__} {_echo(inputs)}")
    return list(inputs)


def _options_args(convention: Any = "textbook", dtype: Any = "float32", optimizer: Any = "momentum",
                  amp: Any = None) -> None:
    if not isinstance(convention, Convention):
        _text_arg(convention, "convention")
    _text_arg(dtype, "dtype")
    _text_arg(optimizer, "optimizer")
    _text_arg(amp, "amp", optional=True)


def _names_arg(value: Any, what: str) -> tuple[str, ...]:
    """A name or a sequence of names (a lone string is one name, not its letters)."""
    if isinstance(value, str):
        return (value,)
    names = tuple(value) if isinstance(value, Iterable) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise OptionError(f"{what} must be a name or a list of names, got {_echo(value)}")
    return names


def load_graph(spec: SpecSource, *, set: Mapping[str, Any] | None = None, input: InputShape = None,
               symbolic: bool = False) -> tuple[Graph, str]:
    """The spec's graph and the name to show for it. `set` overrides variables ({name: value or
    expression text}); `input` replaces the spec's input shape ((3, 224, 224) or '3,224,224')."""
    overrides = {name: str(value) for name, value in (set or {}).items()}
    shape = input_shape_of(input)
    problems = ErrorCollector()  # the spec's problems and its layers' are reported together
    if _is_text(spec):
        parsed, display = parse_spec(str(spec), "<spec>", overrides=overrides, symbolic=symbolic,
                                     problems=problems), "<spec>"
    else:
        path, display = bundled.resolve(str(spec))
        parsed = load_spec(path, display, overrides, symbolic=symbolic, problems=problems)
    problem = input_rank_problem(shape, parsed)
    if problem is not None:
        problems.add(problem)  # reported with the spec's other problems; its layers are checked at its own input
        shape = None
    return build(parsed, shape, problems), display


# What an input of each rank is, and how --input gives it.
INPUT_FORMS = {1: ("a vector [F]", "F"), 2: ("a sequence [L, D] of L tokens of D features", "L,D"),
               3: ("a feature map [C, H, W]", "C,H,W")}


def input_rank_problem(shape: Shape | None, spec: Spec) -> SpecError | None:
    """An --input of another rank than the spec's input, located at the spec's `input:`; None if it fits.
    Each rank is a different kind of tensor (3,224 is not an image and 197,768 is not a map): the spec's
    layers are written for its kind."""
    expected = spec.input_shape
    if shape is None or expected is None or len(shape) == len(expected):
        return None
    kind, form = INPUT_FORMS[len(expected)]
    given = ",".join(str(size) for size in shape)
    example = ",".join(str(size) for size in expected) if all(isinstance(s, int) for s in expected) else form
    return SpecError(f"--input {given} has {len(shape)} size{'s' if len(shape) > 1 else ''}, but the spec's input "
                     f"is {kind}: --input must be {form}", loc=spec.input_loc, hint=f"e.g. --input {example}")


def input_shape_of(input: InputShape) -> Shape | None:
    """'3,224,224' or (3, 224, 224) -> (3, 224, 224); None stays None (the spec's input)."""
    if input is None:
        return None
    if isinstance(input, str):
        return parse_input_option(input)
    if not isinstance(input, Sequence):
        raise OptionError(f"input must be (C, H, W), (L, D) or (F,) of positive whole numbers, got {_echo(input)}")
    shape = tuple(input)
    if len(shape) not in (1, 2, 3) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                              for n in shape):
        raise OptionError(f"input must be (C, H, W), (L, D) or (F,) of positive whole numbers, got "
                          f"{shown(repr(shape))}")
    problem = oversized(shape)
    if problem:
        raise OptionError(f"input {problem}")
    return shape


def _subject(spec: SpecSource, set: Mapping[str, Any] | None, input: InputShape, convention: str | Convention,
             batch: int, dtype: str, strict: bool, training: MemoryOptions | None = None) -> Subject:
    from .analysis.budget import Subject
    from .analysis.memory_plan import MemoryOptions

    graph, _ = load_graph(spec, set=set, input=input)
    report = run_engine(graph, convention=convention_named(convention), dtype=dtype, batch=batch, strict=strict)
    return Subject(graph, report, MemoryOptions() if training is None else training)


def check(spec: SpecSource, *, limits: Mapping[str, str | int] | None = None, set: Mapping[str, Any] | None = None,
          input: InputShape = None, convention: str | Convention = "textbook", batch: int = 1, dtype: str = "float32",
          strict: bool = False, optimizer: str = "momentum", amp: str | None = None) -> CheckResult:
    """Judge a spec against limits: the spec's `budget:` mapping, with `limits` ({figure: '25M' or
    25000000}, figures as in `cnncalc.FIGURES`) replacing its limits on the same figures. At least
    one limit must be in force. `result.ok` is whether all hold. `optimizer` and `amp` are those of
    the training step a `train_peak` limit is judged on (`cnncalc.memory`'s)."""
    from .analysis import budget as budgets

    _common_args(spec, set, batch, limits)
    _options_args(convention, dtype, optimizer, amp)
    given = budgets.limits_from(limits)  # the options' mistakes first, before the spec is read
    training = budgets.training_options(optimizer, amp)
    subject = _subject(spec, set, input, convention, batch, dtype, strict, training)
    budget = subject.graph.spec.budget if subject.graph.spec is not None else ()
    in_force = budgets.limits_from(limits, budget) if budget else given
    return budgets.check(subject, in_force)


def compare(specs: Sequence[SpecSource], *, inputs: Sequence[InputShape] | None = None,
            set: Mapping[str, Any] | None = None, convention: str | Convention = "textbook", batch: int = 1,
            dtype: str = "float32", strict: bool = False, optimizer: str = "momentum",
            amp: str | None = None) -> Comparison:
    """Every figure of each spec at each input size (the spec's own when `inputs` is empty), one row
    per (spec, size) in that order, with ratios to the first row. `set` applies to every spec. The
    memory peaks are figures only for a floating dtype; the training peak's step uses `optimizer`
    and `amp`."""
    from .analysis import budget as budgets
    from .analysis import compare as comparing

    if isinstance(specs, (str, Path)):
        specs = [specs]
    if not isinstance(specs, Iterable):
        raise OptionError(f"specs must be a list of specs, got {type(specs).__name__} {_echo(specs)}")
    specs = list(specs)
    inputs = _inputs_arg(inputs)
    for one in specs:
        _common_args(one, set, batch)
    _options_args(convention, dtype, optimizer, amp)
    training = budgets.training_options(optimizer, amp)
    names = budgets.computable(dtype)
    budgets.memory_figures_allowed(names, dtype, training)
    shapes = [input_shape_of(shape) for shape in inputs or [None]]
    subjects = [(_given_name(spec), _subject(spec, set, shape, convention, batch, dtype, strict, training))
                for spec in specs for shape in shapes]
    return comparing.compare(subjects, names)


def compare_blocks(first: SpecSource, second: SpecSource, *, input: InputShape = None,
                   set: Mapping[str, Any] | None = None, convention: str | Convention = "textbook", batch: int = 1,
                   dtype: str = "float32", strict: bool = False) -> BlockComparison:
    """Two specs' top-level blocks side by side where their names match (resnet50 and
    resnext50_32x4d: conv1, layer1 ... fc), with the second's figures over the first's."""
    from .analysis import compare as comparing

    for one in (first, second):
        _common_args(one, set, batch)
    _options_args(convention, dtype)
    pairs = [(_given_name(spec), _subject(spec, set, input, convention, batch, dtype, strict).report)
             for spec in (first, second)]
    return comparing.compare_blocks(pairs[0], pairs[1])


def _is_text(spec: SpecSource) -> bool:
    """YAML text rather than a path or a bundled spec's name: it has a line break."""
    return isinstance(spec, str) and "\n" in spec


def _given_name(spec: SpecSource) -> str:
    """How a spec is named in a comparison: as the user gave it (YAML text is '<spec>')."""
    return "<spec>" if _is_text(spec) else str(spec)


def spec_source(spec: SpecSource) -> tuple[str, str, str]:
    """(YAML text, name to show, default name) of a path, a bundled spec's name or YAML text."""
    if _is_text(spec):
        return str(spec), "<spec>", "model"
    path, display = bundled.resolve(str(spec))
    return read_spec_text(path, display), display, path.stem


def sweep(spec: SpecSource, *, set: Mapping[str, str | Sequence[Any]] | None = None,
          inputs: Sequence[InputShape] | None = None, limits: Mapping[str, str | int] | None = None,
          maximize: str | None = None, minimize: str | None = None, pareto: str | Sequence[str] | None = None,
          figures: Sequence[str] = (), convention: str | Convention = "textbook", batch: int = 1,
          dtype: str = "float32", strict: bool = False, optimizer: str = "momentum", amp: str | None = None,
          jobs: int | None = None, progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Analyse every combination of variable values (`set`: {name: '0.5:1.5:0.05' (from, to, step),
    '2,3,4', a single value, or a list}) and input sizes (`inputs`), judge each against the limits
    (the spec's `budget:` and `limits`, as `check`), and rank the variants that fit by an objective
    (`maximize` or `minimize` a figure or a variable) or keep their Pareto front (`pareto`: figures,
    all minimized). The memory peaks (`peak`, `train_peak`, the latter with `optimizer` and `amp`)
    are computed only when a limit, the objective, the front or `figures` names them. `jobs`
    processes (all cores by default); `progress(done, total)` is called as variants finish.
    Variants the spec cannot build are in the result with their message."""
    from .analysis import budget as budgets
    from .analysis import sweep as sweeping

    _common_args(spec, set, batch, limits)
    _options_args(convention, dtype, optimizer, amp)
    inputs = _inputs_arg(inputs)
    for name, value in (("maximize", maximize), ("minimize", minimize)):
        _text_arg(value, name, optional=True)
    if pareto is not None and not isinstance(pareto, str):
        _names_arg(pareto, "pareto")
    figures = _names_arg(figures if figures is not None else (), "figures")
    if jobs is not None:
        _whole_arg(jobs, "jobs")
    text, display, default_name = spec_source(spec)
    axes = [sweeping.parse_axis(name, values) for name, values in (set or {}).items()]
    shapes = [shape for shape in (input_shape_of(given) for given in inputs or []) if shape is not None]
    points = sweeping.grid(axes, shapes)
    chosen = convention_named(convention)
    given_limits = budgets.limits_from(limits)
    pareto_names = sweeping.pareto_from(pareto)
    training = budgets.training_options(optimizer, amp)
    extra = sweeping.figures_from(figures)
    if dtype not in DTYPE_BYTES:  # here, not in every variant
        raise OptionError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPE_BYTES)}")
    document = parse_yaml(text, display)
    first = {axis.name: axis.values[0] for axis in axes}  # symbols of a symbolic spec need a value too
    default = spec_from_document(document, display, default_name, overrides=first)
    for shape in shapes:
        problem = input_rank_problem(shape, default)
        if problem is not None:
            raise problem
    for axis in axes:  # each value, before any work: an unknown variable or a value out of range is refused
        for value in dict.fromkeys(axis.values[1:]):
            spec_from_document(document, display, default_name, overrides={**first, axis.name: value})
    objective = sweeping.objective_from(maximize, minimize, default.variables)
    wanted = [axis.name for axis in axes]  # the variables each variant reports
    if objective is not None and objective.name in default.variables and objective.name not in wanted:
        wanted.append(objective.name)
    in_force = budgets.limits_from(limits, default.budget) if default.budget else given_limits
    named = {*extra, *pareto_names, *(limit.figure for limit in in_force), *([objective.name] if objective else [])}
    computed = tuple(name for name, figure in FIGURES.items() if not figure.memory or name in named)
    budgets.memory_figures_allowed(computed, dtype, training)
    setup = sweeping.Setup(text, display, default_name, chosen, dtype, batch, strict, tuple(wanted), computed,
                           training)
    outcomes = sweeping.run_points(setup, points, jobs if jobs is not None else sweeping.default_jobs(), progress)
    return sweeping.conclude(display, default.name, setup, axes, shapes, in_force, objective, pareto_names, points,
                             outcomes)


def analyze(spec: SpecSource, *, set: Mapping[str, Any] | None = None, input: InputShape = None,
            convention: str | Convention = "textbook", batch: int = 1, dtype: str = "float32", strict: bool = False,
            symbolic: bool = False, depth: int | None = None, mode: str = "infer") -> Report:
    """Load a spec and count every layer: shapes, parameters, multiply-adds under `convention` (a
    name or a Convention), activation memory in `dtype` for `batch` samples, receptive fields.
    `strict` turns warnings into errors; `depth` collapses blocks below that depth into one row each.
    `mode` 'infer' (the default) counts the network that runs at inference; 'train' adds the layers
    marked `train_only:` (auxiliary classifiers). `report.training_only` says what they add."""
    _common_args(spec, set, batch)
    _options_args(convention, dtype)
    if depth is not None:
        _whole_arg(depth, "depth")
    if not isinstance(mode, str) or mode not in ("infer", "train"):
        raise OptionError(f"unknown mode {_echo(mode)}; choose from infer, train")
    graph, _ = load_graph(spec, set=set, input=input, symbolic=symbolic)
    report = run_engine(graph, convention=convention_named(convention), dtype=dtype, batch=batch, strict=strict,
                        mode=mode)
    return report.collapse(depth) if depth is not None else report


def memory(spec: SpecSource, *, mode: str = "train", batch: int = 1, optimizer: str = "momentum",
           amp: str | None = None, dtype: str = "float32", set: Mapping[str, Any] | None = None,
           input: InputShape = None, checkpoint: Sequence[str] = (), foreach: bool = False,
           fit: int | str | None = None, protocol: str = "resident") -> MemoryReport:
    """The memory of one training step (`mode` 'train': forward, backward and the optimizer's step)
    or one inference forward pass ('infer') in eager PyTorch, from the spec alone (docs/memory.md):
    the peak, where it happens, what each layer keeps for backward. `amp` 'fp16' or 'bf16' runs it
    under autocast; `checkpoint` names block instances to run under activation checkpointing;
    `foreach` uses the optimizers' foreach implementation (CUDA's default). `fit` ('24GiB', or bytes)
    reports at the largest batch whose peak fits instead of at `batch`."""
    from .analysis.memory_plan import MemoryOptions
    from .analysis.memory_report import graph_memory
    from .core.quantities import parse_bytes

    _common_args(spec, set, batch)
    _options_args(dtype=dtype, optimizer=optimizer, amp=amp)
    _text_arg(mode, "mode")
    _text_arg(protocol, "protocol")
    if fit is not None and not isinstance(fit, str):
        _whole_arg(fit, "fit (bytes)", 1)
    checkpoint = _names_arg(checkpoint, "checkpoint")
    graph, _ = load_graph(spec, set=set, input=input)
    options = MemoryOptions(mode=mode, optimizer=optimizer, amp=amp, dtype=dtype, checkpoint=tuple(checkpoint),
                            foreach=foreach, protocol=protocol)
    return graph_memory(graph, options, batch, parse_bytes(fit, "--fit") if isinstance(fit, str) else fit)


def convention_named(convention: str | Convention) -> Convention:
    if isinstance(convention, Convention):
        return convention
    if convention not in CONVENTIONS:
        raise OptionError(f"unknown convention {convention!r}",
                          hint=did_you_mean(convention, CONVENTIONS) or f"conventions: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[convention]


def parse_input_option(text: str) -> Shape:
    """'3,224,224' or '3x224x224' -> (3, 224, 224), '197,768' -> (197, 768): ASCII digits only (str.isdigit
    also accepts '²' and other digits that int() refuses), and a shape a tensor can have. Whether its rank
    is the spec's input's is input_rank_problem's question."""
    parts = [p for p in re.split(r"[,x×\s]+", text.strip()) if p]
    if len(parts) not in (1, 2, 3) or not all(re.fullmatch(r"[0-9]{1,30}", p) and int(p) > 0 for p in parts):
        raise OptionError(f"--input must be C,H,W (L,D for a sequence of tokens, F for a vector) of positive "
                          f"whole numbers, got {shown(text)}", hint="e.g. --input 3,224,224")
    shape = tuple(int(p) for p in parts)
    problem = oversized(shape)
    if problem:
        raise OptionError(f"--input {problem}")
    return shape


def parse_set_options(items: Sequence[str]) -> dict[str, str]:
    """['width=0.5', 'c=32'] -> {'width': '0.5', 'c': '32'}."""
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise OptionError(f"--set expects NAME=VALUE, got {item!r}", hint="e.g. --set width=0.5")
        values[name.strip()] = value.strip()
    return values
