"""`cnncalc explain`: each layer's numbers with their formulas, in the lectures' style.

Every line prints a formula that a layer rule built: the same rule the engine evaluated, run here
in derivation mode (formula.py), and `explain` checks that each formula's value is the number in
the report, so the text and the table cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..core.errors import OptionError, did_you_mean
from ..core.formula import Formula, Q, Step, derivations, divide, output_elements, total, value_of
from ..core.numbers import KB, decimal_text, grouped
from ..core.shapes import format_shape
from ..spec.graph import Graph
from .conventions import Convention
from .report import DTYPE_BYTES, Report, Row


@dataclass(frozen=True)
class Explanation:
    layer: str
    op: str
    inputs: tuple[str, ...]
    input_shapes: tuple
    output_shape: tuple
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()


def explain(graph: Graph, report: Report, convention: Convention, names: list[str] | None = None) -> list[Explanation]:
    """Explanations for the chosen layers (all when `names` is empty), in graph order."""
    with derivations():
        return _explain(graph, report, convention, names)


def _explain(graph: Graph, report: Report, convention: Convention, names: list[str] | None) -> list[Explanation]:
    rows = {row.name: row for row in report.rows}
    wanted = _check_names(names or [], rows)
    explanations = []
    for node in graph.nodes:
        if wanted and node.name not in wanted:
            continue
        layer, inputs, output = node.layer, list(node.input_shapes), node.output_shape
        row = rows[node.name]
        steps = [*layer.explain_shape(inputs, output), Step("output", None, format_shape(output))]
        steps.append(_memory(output, report, row))
        steps += _parameters(layer.params(inputs, output), layer.buffers(inputs, output), layer.buffer_note, row)
        steps.append(_macs(layer.costs(inputs, output), convention, report.batch, row))
        if row.receptive_field is not None:
            steps.append(_field(row))
        explanations.append(Explanation(node.name, layer.op, node.inputs, node.input_shapes, output, tuple(steps),
                                        tuple(message for message, _ in node.notes)))
    return explanations


def _check_names(names: list[str], rows: dict[str, Row]) -> set[str]:
    for name in names:
        if name not in rows:
            raise OptionError(f"--layer: no layer named '{name}'",
                            hint=did_you_mean(name, rows) or f"layers: {', '.join(list(rows)[:12])}...")
    return set(names)


def _decimal(value: Any) -> str:
    """1134.375 -> '1,134.375', exactly (values over 1024 are binary fractions: they terminate)."""
    if isinstance(value, Fraction) and value.denominator != 1:
        return decimal_text(value, grouping=True)
    return grouped(value)


def _memory(output: tuple, report: Report, row: Row) -> Step:
    size = DTYPE_BYTES[report.dtype]
    formula = output_elements(output) * size
    if report.batch > 1:
        formula = formula * Q("N", report.batch)
    formula = formula / KB
    _same(formula, divide(row.memory_bytes, KB), "memory")
    return Step("KB", formula, f"{_decimal(formula.value)} KB", f"{report.dtype}: {size} bytes per element")


def _parameters(params: Any, buffers: Any, buffer_note: str, row: Row) -> list[Step]:
    _same(params, row.params, "params")
    _same(buffers, row.buffers, "buffers")
    if value_of(params) == 0:
        steps = [Step("params", None, "0", "no learnable parameters")]
    else:
        steps = [Step("params", params, grouped(value_of(params)))]
    if value_of(buffers):
        steps.append(Step("buffers", buffers, grouped(value_of(buffers)), buffer_note))
    return steps


def _macs(costs: dict, convention: Convention, batch: int, row: Row) -> Step:
    counted = []
    for term, formula in costs.items():
        weight = convention.weights.get(term, 0)
        if weight:
            counted.append(formula if weight == 1 else weight * formula)
    if not counted:
        _same(0, row.macs, "MACs")
        return Step("MACs", None, "0", f"the {convention.name} convention counts nothing for this layer")
    formula = total(counted)
    assert isinstance(formula, Formula)  # counted is not empty
    if batch > 1:
        formula = formula.bracketed() * Q("N", batch) if len(counted) > 1 else formula * Q("N", batch)
    _same(formula, row.macs, "MACs")
    return Step("MACs", formula, grouped(value_of(formula)))


def _field(row: Row) -> Step:
    axes = row.receptive_field or ()

    def both(attribute: str) -> str:
        return "×".join(_decimal(getattr(axis, attribute)) for axis in axes)

    return Step("receptive field", None, both("size"),
                f"jump {both('jump')}; the first output's field is centred on input pixel {both('start')}")


def _same(formula: Any, number: Any, what: str) -> None:
    """The explanation's formula must evaluate to the report's number."""
    if value_of(formula) != number:
        raise AssertionError(f"explain: the {what} formula gives {value_of(formula)}, the engine {number}")
