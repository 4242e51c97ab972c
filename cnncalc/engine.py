"""The engine: propagate shapes through the graph and count params, MACs and memory per layer.

It asks each layer type for its rules and never looks at which type it is.
"""
from __future__ import annotations

from .conventions import TEXTBOOK, Convention
from .errors import SpecError
from .graph import Graph
from .layers import LayerProblem
from .report import DTYPE_BYTES, Note, Report, Row
from .shapes import Shape, numel
from .spec import INPUT_NAME


def analyze(graph: Graph, *, convention: Convention = TEXTBOOK, dtype: str = "float32", batch: int = 1,
            strict: bool = False) -> Report:
    """One Row per node, in order. `strict` turns warnings (a stride that does not fit) into errors."""
    if dtype not in DTYPE_BYTES:
        raise SpecError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPE_BYTES)}")
    if batch < 1:
        raise SpecError(f"batch must be at least 1, got {batch}")
    bytes_per_element = DTYPE_BYTES[dtype]
    shapes: dict[str, Shape] = {INPUT_NAME: tuple(graph.input_shape)}
    rows: list[Row] = []
    notes: list[Note] = []
    for node in graph.nodes:
        layer = node.layer
        inputs = [shapes[name] for name in node.inputs]
        layer_notes: list[tuple[str, str | None]] = []

        def warn(message: str, field: str | None = None) -> None:
            layer_notes.append((message, field))

        try:
            output = tuple(layer.output_shape(inputs, warn))
            params = layer.params(inputs, output)
            buffers = layer.buffers(inputs, output)
            macs = convention.count(layer.costs(inputs, output))
            cells = layer.cells(inputs, output)
        except LayerProblem as exc:
            raise layer.error(exc.message, exc.field, exc.hint) from None
        for message, field in layer_notes:
            if strict:
                raise layer.error(message, field, hint="without --strict this is a warning")
            notes.append(Note(layer.name, message, layer.field_locs.get(field, layer.loc)))
        shapes[layer.name] = output
        rows.append(Row(
            name=layer.name,
            op=layer.op,
            inputs=node.inputs,
            input_shapes=tuple(inputs),
            output_shape=output,
            params=params,
            buffers=buffers,
            macs=macs * batch,
            memory_bytes=numel(output) * bytes_per_element * batch,
            cells=cells,
        ))
    return Report(graph.name, tuple(graph.input_shape), dtype, batch, convention.name, tuple(rows),
                  tuple(notes), graph.description)
