"""The engine: propagate shapes through the graph and count params, MACs and memory per layer.

It asks each layer type for its rules and never looks at which type it is.
"""
from __future__ import annotations

from math import prod  # numel
from typing import Any

from ..core.errors import Note, OptionError
from ..core.gcpause import paused_gc
from ..layers import RF, LayerProblem
from ..layers.window import PIXEL
from ..spec.graph import INPUT_NAME, MODES, Graph
from .conventions import TEXTBOOK, Convention
from .report import DTYPE_BYTES, CellsWhenAsked, Report, Row


def analyze(graph: Graph, *, convention: Convention = TEXTBOOK, dtype: str = "float32", batch: int = 1,
            strict: bool = False, mode: str = "infer") -> Report:
    """One Row per node of the network that runs in `mode` (see _analyze)."""
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    with paused_gc():
        report = _analyze(graph, convention=convention, dtype=dtype, batch=batch, strict=strict)
    return report.for_mode(mode, graph.train_only)


def _analyze(graph: Graph, *, convention: Convention = TEXTBOOK, dtype: str = "float32", batch: int = 1,
            strict: bool = False) -> Report:
    """One Row per node, in order. `strict` turns warnings (a stride that does not fit) into errors."""
    if dtype not in DTYPE_BYTES:
        raise OptionError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPE_BYTES)}")
    if batch < 1:
        raise OptionError(f"batch must be at least 1, got {batch}")
    bytes_per_element = DTYPE_BYTES[dtype]
    rows: list[Row] = []
    notes: list[Note] = list(graph.notes)
    fields: dict[str, RF | None] = {INPUT_NAME: (PIXEL, PIXEL)}
    # by (prototype, input shapes), which also give the output (see Layer.copy_as)
    counted: dict[Any, tuple[Any, Any, Any, Any, CellsWhenAsked]] = {}
    row, add, count, weighed = Row.of, rows.append, convention.count, convention.terms
    for node in graph.nodes:
        layer, refs, shapes, output = node.layer, node.inputs, node.input_shapes, node.output_shape
        inputs = list(shapes)
        try:
            # a position of a reshaped tensor is no position of the image: its field is not known (None)
            if len(refs) == 1:
                known = fields[refs[0]]
                field = known if known is None or layer.keeps_field else layer.receptive_field([known], inputs, output)
            else:
                given = [field for field in (fields[ref] for ref in refs) if field is not None]
                field = layer.receptive_field(given, inputs, output) if len(given) == len(refs) else None
            key = (layer._prototype or layer, shapes)  # layer.prototype
            counts = counted.get(key)
            if counts is None:
                params, buffers, terms = layer.figures(inputs, output, weighed)
                memory = prod(output) * bytes_per_element * batch  # numel(output)
                counts = counted[key] = (params, buffers, count(terms) * batch, memory,
                                         CellsWhenAsked(layer, inputs, output))
            params, buffers, macs, memory, cells = counts
        except LayerProblem as exc:
            raise layer.error(exc.message, exc.field, exc.hint) from None
        fields[layer.name] = field
        for message, blamed in node.notes:
            if strict:
                raise layer.error(message, blamed, hint="without --strict this is a warning")
            notes.append(Note(layer.name, message, layer.field_locs.get(blamed, layer.loc) if blamed else layer.loc))
        add(row(layer.name, layer.op, refs, shapes, output, params, buffers, macs, memory, cells, field,
                node.train_only))
    return Report(graph.name, tuple(graph.input_shape), dtype, batch, convention.name, tuple(rows),
                  tuple(notes), graph.description,
                  outputs=tuple((name, graph.shape_of(name)) for name in graph.outputs),
                  groups=dict(graph.groups), group_outputs=dict(graph.group_outputs))
