"""The Python API (docs/api.md): what the command line itself calls.

    >>> import cnncalc
    >>> report = cnncalc.analyze("alexnet")
    >>> report.totals.params
    62378344
    >>> cnncalc.analyze("input: [3, 32, 32]\\nlayers:\\n  - {op: conv, out: 8, kernel: 3}\\n").totals.macs
    194400

A spec is a file path, the name of a bundled spec (`cnncalc specs`) or YAML text. Every problem
with the input is a `cnncalc.InputError` carrying its location (file, line, column, layer, field).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

from .analysis.conventions import CONVENTIONS, Convention
from .analysis.engine import analyze as run_engine
from .analysis.memory_plan import MemoryOptions
from .analysis.memory_report import MemoryReport, graph_memory
from .analysis.report import Report
from .core.errors import ErrorCollector, OptionError, did_you_mean
from .core.shapes import Shape
from .core.text import shown
from .spec import bundled
from .spec.graph import Graph, build
from .spec.spec import load_spec, oversized, parse_spec

SpecSource = Union[str, Path]
InputShape = Union[str, Sequence[int], None]


def load_graph(spec: SpecSource, *, set: Mapping[str, Any] | None = None, input: InputShape = None,
               symbolic: bool = False) -> tuple[Graph, str]:
    """The spec's graph and the name to show for it. `set` overrides variables ({name: value or
    expression text}); `input` replaces the spec's input shape ((3, 224, 224) or '3,224,224')."""
    overrides = {name: str(value) for name, value in (set or {}).items()}
    shape = parse_input_option(input) if isinstance(input, str) else (tuple(input) if input is not None else None)
    problems = ErrorCollector()  # the spec's problems and its layers' are reported together
    if isinstance(spec, str) and "\n" in spec:
        return build(parse_spec(spec, "<spec>", overrides=overrides, symbolic=symbolic, problems=problems), shape,
                     problems), "<spec>"
    path, display = bundled.resolve(str(spec))
    return build(load_spec(path, display, overrides, symbolic=symbolic, problems=problems), shape, problems), display


def analyze(spec: SpecSource, *, set: Mapping[str, Any] | None = None, input: InputShape = None,
            convention: str | Convention = "textbook", batch: int = 1, dtype: str = "float32", strict: bool = False,
            symbolic: bool = False, depth: int | None = None, mode: str = "infer") -> Report:
    """Load a spec and count every layer: shapes, parameters, multiply-adds under `convention` (a
    name or a Convention), activation memory in `dtype` for `batch` samples, receptive fields.
    `strict` turns warnings into errors; `depth` collapses blocks below that depth into one row each.
    `mode` 'infer' (the default) counts the network that runs at inference; 'train' adds the layers
    marked `train_only:` (auxiliary classifiers). `report.training_only` says what they add."""
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
    from .core.quantities import parse_bytes

    if batch < 1:
        raise OptionError(f"batch must be at least 1, got {batch}")
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
    """'3,224,224' or '3x224x224' -> (3, 224, 224): ASCII digits only (str.isdigit also accepts
    '²' and other digits that int() refuses), and a shape a tensor can have."""
    parts = [p for p in re.split(r"[,x×\s]+", text.strip()) if p]
    if len(parts) not in (1, 3) or not all(re.fullmatch(r"[0-9]{1,30}", p) and int(p) > 0 for p in parts):
        raise OptionError(f"--input must be C,H,W (or F) of positive whole numbers, got {shown(text)}",
                          hint="e.g. --input 3,224,224")
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
