"""The layer registry as tables: `cnncalc ops`, and the generated tables of docs/spec.md (layer
types, fields, defaults) and docs/conventions.md (parameters and buffers of each layer type)."""
from __future__ import annotations

from typing import Any

from ..core.formula import derivations
from ..layers import Layer, layer_types
from ..layers.fields import REQUIRED, Field


def default_text(field: Field) -> str:
    """How a field's default shows: 1 for (1, 1), none, true, kernel..."""
    if field.default_text:
        return field.default_text
    value = field.default
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return str(value[0])
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def field_list(cls: type[Layer]) -> str:
    return ", ".join(f.name if f.default is REQUIRED else f"{f.name}={default_text(f)}" for f in cls.fields)


def ops_table() -> Any:
    """`cnncalc ops`: every layer type with its aliases, fields and defaults."""
    from rich.table import Table

    table = Table(box=None, show_header=True, header_style="bold")
    for header in ("op", "aliases", "fields", "what it is"):
        table.add_column(header)
    for cls in layer_types():
        table.add_row(cls.op, ", ".join(cls.aliases), field_list(cls), cls.summary)
    return table


def layer_types_markdown() -> str:
    """The table of layer types in docs/spec.md."""
    lines = ["| op | aliases | fields (default) | what it is |", "|---|---|---|---|"]
    for cls in layer_types():
        aliases = ", ".join(f"`{a}`" for a in cls.aliases) or "—"
        fields = ", ".join(f"`{f.name}`" if f.default is REQUIRED else f"`{f.name}` ({default_text(f)})"
                           for f in cls.fields) or "—"
        lines.append(f"| `{cls.op}` | {aliases} | {fields} | {cls.summary} |")
    return "\n".join(lines) + "\n"


def parameters_markdown() -> str:
    """The table of parameters and buffers in docs/conventions.md, from each layer type's own rule
    applied to its example (so the formulas are the ones the engine evaluates)."""
    from ..spec.graph import build
    from ..spec.spec import parse_spec

    lines = ["| layer | trainable parameters | buffers |", "|---|---|---|"]
    without = []
    for cls in layer_types():
        graph = build(parse_spec(cls.example_spec(), f"{cls.op}.example.yaml"))
        node = next(node for node in graph.nodes if type(node.layer) is cls)
        inputs, output = list(node.input_shapes), node.output_shape
        with derivations():
            params, buffers = node.layer.params(inputs, output), node.layer.buffers(inputs, output)
        if params == 0 and buffers == 0:
            without.append(f"`{cls.op}`")
            continue
        lines.append(f"| `{cls.op}` | {_formula(params)} | {_formula(buffers, cls.buffer_note)} |")
    lines.append(f"| {', '.join(without)} | 0 | 0 |")
    return "\n".join(lines) + "\n"


def _formula(value: Any, note: str = "") -> str:
    if value == 0:
        return "0"
    text = f"`{value.symbols()}`" if hasattr(value, "symbols") else f"`{value}`"
    return f"{text} ({note})" if note else text


__all__ = ["default_text", "field_list", "layer_types_markdown", "ops_table", "parameters_markdown"]
