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
from ..layers import RF
from ..layers.window import PIXEL
from ..spec.graph import INPUT_NAME, Graph
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
    outputs: tuple[tuple[str, tuple], ...] = ()  # a block's outputs when it gives several: (name, shape)


def explain(graph: Graph, report: Report, convention: Convention, names: list[str] | None = None) -> list[Explanation]:
    """Explanations for the chosen layers (all when `names` is empty), in graph order. A name may
    also be a block instance or repeat (`layer1.0`, `inception3a`): its layers are explained, then
    its totals."""
    with derivations():
        return _explain(graph, report, convention, names)


def _explain(graph: Graph, report: Report, convention: Convention, names: list[str] | None) -> list[Explanation]:
    rows = {row.name: row for row in report.rows}
    wanted, groups = _check_names(names or [], rows, report, {node.name for node in graph.nodes if node.train_only})
    explanations = []
    fields: dict[str, RF] = {INPUT_NAME: (PIXEL, PIXEL)}
    for node in graph.nodes:
        if node.name not in rows:  # a training-only layer, and the report is the inference network's
            continue
        row = rows[node.name]
        fields[node.name] = row.receptive_field or (PIXEL, PIXEL)
        if wanted and node.name not in wanted:
            continue
        layer, inputs, output = node.layer, list(node.input_shapes), node.output_shape
        steps = [*layer.explain_shape(inputs, output), Step("output", None, format_shape(output))]
        steps.append(_memory(output, report, row))
        steps += _parameters(layer.params(inputs, output), layer.buffers(inputs, output), layer.buffer_note, row)
        steps.append(_macs(layer.costs(inputs, output), convention, report.batch, row))
        recorded = layer.receptive_field([_recorded(fields[ref]) for ref in node.inputs], inputs, output) \
            if row.receptive_field is not None else None
        if recorded is not None:
            steps += _field(recorded, row, len(node.inputs))
        explanations.append(Explanation(node.name, layer.op, node.inputs, node.input_shapes, output, tuple(steps),
                                        tuple(message for message, _ in node.notes)))
    return _with_group_totals(explanations, groups, report)


def _check_names(names: list[str], rows: dict[str, Row], report: Report,
                 train_only: set[str]) -> tuple[set[str], list[str]]:
    """The layers to explain and the blocks (instances or repeats) whose totals to add."""
    wanted: set[str] = set()
    groups: list[str] = []
    for name in names:
        if name not in rows and any(n == name or n.startswith(name + ".") for n in train_only):
            raise OptionError(f"--layer: '{name}' runs only in training", hint="add --mode train")
        members = [] if name in rows else [row for row in rows if row.startswith(name + ".")]
        if name not in rows and not members:
            known = [*rows, *report.groups]
            raise OptionError(f"--layer: no layer or block named '{name}'",
                              hint=did_you_mean(name, known) or f"layers: {', '.join(list(rows)[:12])}...")
        wanted.update(members or [name])
        if members and name not in groups:
            groups.append(name)
    return wanted, groups


def _with_group_totals(explanations: list[Explanation], groups: list[str], report: Report) -> list[Explanation]:
    """Each block's totals right after its last layer."""
    if not groups:
        return explanations
    out = []
    for item in explanations:
        out.append(item)
        for group in groups:
            members = [row for row in report.rows if row.name.startswith(group + ".")]
            if members[-1].name == item.layer:
                out.append(_group_totals(group, members, report))
    return out


def _group_totals(name: str, members: list[Row], report: Report) -> Explanation:
    """A block's totals: the sums of its layers' memory, parameters, buffers and multiply-adds."""
    # as `--depth` shows it: its inputs name the rows and ports of that table
    row = next(row for row in report.collapse(name.count(".") + 1).rows if row.name == name)

    def step(label: str, attribute: str, total_value: Any, scale: int = 1, note: str = "") -> Step:
        terms = [Q(member.name.removeprefix(name + "."), getattr(member, attribute))
                 for member in members if getattr(member, attribute)]
        if not terms:
            return Step(label, None, "0", note)
        formula = terms[0]
        for term in terms[1:]:
            formula = formula + term
        if scale != 1:
            formula = (formula.bracketed() if len(terms) > 1 else formula) / scale
        _same(formula, total_value, f"{name} {label}")
        return Step(label, formula, f"{_decimal(value_of(formula))}{' KB' if scale == KB else ''}", note)

    steps = [step("KB", "memory_bytes", divide(row.memory_bytes, KB), KB, "the outputs of its layers"),
             step("params", "params", row.params)]
    if row.buffers:
        steps.append(step("buffers", "buffers", row.buffers))
    steps.append(step("MACs", "macs", row.macs))
    for port in row.outputs:  # each output's field, as its layer's steps above derive it
        if port.receptive_field is not None:
            label = "receptive field" + (f" of {port.name.removeprefix(name + '.')}" if row.ports else "")
            height, width = port.receptive_field
            layer = port.layer if row.ports else report.groups.get(name, ("", members[-1].name))[1]
            whose = layer.removeprefix(name + ".")
            steps.append(Step(label, None, f"{_decimal(height.size)}×{_decimal(width.size)}",
                              ("" if label.endswith(" " + whose) else f"{whose}'s; ") +
                              f"jump {_decimal(height.jump)}×{_decimal(width.jump)}, "
                              f"centre {_decimal(height.start)}×{_decimal(width.start)}"))
    layers = ", ".join(member.name.removeprefix(name + ".") for member in members)
    return Explanation(name, row.op, row.inputs, row.input_shapes, row.output_shape, tuple(steps),
                       (f"the totals of its {len(members)} layers: {layers}",),
                       tuple((port.name, port.shape) for port in row.ports))


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


def _recorded(field: RF) -> RF:
    return (field[0].recorded(), field[1].recorded())


def _field(recorded: RF, row: Row, inputs: int) -> list[Step]:
    """The receptive field's recurrence with its values, from the layer's own rule applied to its
    input's field with named values (layers/window.py RFAxis): r, j and the centre c."""
    height, width = recorded
    for axis, number in zip(recorded, row.receptive_field or ()):
        _same(axis.size, number.size, "receptive field")
        _same(axis.jump, number.jump, "jump")
        _same(axis.start, number.start, "receptive field's centre")
    if all(_unchanged(getattr(axis, part)) for axis in recorded for part in ("size", "jump", "start")):
        how = "the largest of its inputs' fields" if inputs > 1 else "unchanged, as its input's"
        both = "×".join(_decimal(axis.size.value) for axis in recorded)
        jump = "×".join(_decimal(axis.jump.value) for axis in recorded)
        centre = "×".join(_decimal(axis.start.value) for axis in recorded)
        return [Step("receptive field", None, both, f"{how}; jump {jump}, centre {centre}")]
    parts = (("size", "receptive field r_out", "input pixels"),
             ("jump", "jump j_out", "input pixels between neighbouring outputs' fields"),
             ("start", "centre c_out", "input pixel on which the first output's field is centred"))
    steps = []
    same = all(_text(getattr(height, part)) == _text(getattr(width, part)) for part, _, _ in parts)
    for part, label, note in parts:
        for axis_name, axis in [("", height)] if same else [(" (H)", height), (" (W)", width)]:
            formula = getattr(axis, part)
            steps.append(Step(label + axis_name, formula, _decimal(formula.value), note))
    return steps


def _unchanged(formula: Formula) -> bool:
    """The recorded value came through as it was (r_in, j_in, c_in): the layer keeps its input's field."""
    return formula.op == "atom" and formula.name in ("r_in", "j_in", "c_in")


def _text(formula: Formula) -> tuple[str, str]:
    return formula.symbols(), formula.numbers()


def _same(formula: Any, number: Any, what: str) -> None:
    """The explanation's formula must evaluate to the report's number."""
    if value_of(formula) != number:
        raise AssertionError(f"explain: the {what} formula gives {value_of(formula)}, the engine {number}")
