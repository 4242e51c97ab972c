"""Error carried forward: each row recomputed from the student's own earlier answers.

The graph is walked in order with the shapes the student wrote (C_out, H'/W' of each graded row)
in place of the true ones: every layer's own rules (`output_shape`, `params`, `costs`) are run on
the student's input shapes, so a row that is wrong only because of an earlier mistake can be told
from a row that is wrong by itself. Nothing here knows a layer's type.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional, Union

from ..analysis.conventions import CONVENTIONS
from ..analysis.report import DTYPE_BYTES, Report
from ..core.formula import value_of
from ..core.shapes import Shape, numel
from ..layers import Layer, LayerProblem
from ..spec.graph import INPUT_NAME, Graph, Node
from .columns import C_OUT, HW_OUT, MACS, MEMORY, PARAMS

# what a layer rule may raise on shapes no true network has (a size of 0, a negative size)
RULE_ERRORS = (LayerProblem, ArithmeticError, ValueError, IndexError)


@dataclass(frozen=True)
class Written:
    """The shape answers a student wrote for a row (None: blank or not a number); C_out of a sequence of
    tokens is its (L, D)."""

    c_out: Union[int, tuple[int, int], None] = None
    hw: Optional[tuple[int, int]] = None


@dataclass
class CarriedRow:
    """One row recomputed from the student's own answers.

    `shape` is what the layer's rule gives for the student's input shapes (None when the rule
    cannot run on them); `values` the memory (bytes), params and MACs the rules give for the
    student's input shapes and their own output shape (and for `shape`, if that differs);
    `causes` the student's cells ("layer:column") that made the input shapes differ from the
    true ones, and `own` those of this row's shape answers that are wrong by themselves."""

    shape: Optional[Shape]
    inputs: list[Shape] = field(default_factory=list)  # the row's (output node's) input shapes, as the student had them
    values: dict[str, set[Fraction]] = field(default_factory=dict)
    causes: frozenset[str] = frozenset()
    own: frozenset[str] = frozenset()


def cell_id(layer: str, column: str) -> str:
    return f"{layer}:{column}"


def row_of_nodes(graph: Graph, report: Report) -> dict[str, str]:
    """Node name -> the report row it belongs to (itself, or its collapsed block)."""
    names = {row.name for row in report.rows}
    owner: dict[str, str] = {}
    for node in graph.nodes:
        parts = node.name.split(".")
        owner[node.name] = next((".".join(parts[:n]) for n in range(len(parts), 0, -1)
                                 if ".".join(parts[:n]) in names), node.name)
    return owner


def output_nodes(graph: Graph, report: Report, owner: Mapping[str, str]) -> dict[str, str]:
    """Report row -> the node whose output is the row's output (the last of a block, or as declared)."""
    last: dict[str, str] = {}
    for node in graph.nodes:
        last[owner[node.name]] = node.name
    return {row: report.groups.get(row, ("", name))[1] if row != name else name for row, name in last.items()}


class Evaluator:
    """Runs a layer's own rules on any shapes: output shape, memory, params, MACs (as the report counts)."""

    def __init__(self, report: Report) -> None:
        self.convention = CONVENTIONS[report.convention]
        self.bytes_per_element = DTYPE_BYTES[report.dtype]
        self.batch = report.batch

    def shape(self, layer: Layer, inputs: list[Shape]) -> Shape | None:
        try:
            return tuple(layer.output_shape(inputs, lambda *args, **kwargs: None))
        except RULE_ERRORS:
            return None

    def values(self, layer: Layer, inputs: list[Shape], output: Shape) -> dict[str, Fraction] | None:
        try:
            costs = {term: value_of(formula) for term, formula in layer.costs(inputs, output).items()}
            return {MEMORY: Fraction(numel(output) * self.bytes_per_element * self.batch),
                    PARAMS: Fraction(value_of(layer.params(inputs, output))),
                    MACS: Fraction(self.convention.count(costs) * self.batch)}
        except RULE_ERRORS:
            return None


def _apply(shape: Shape, written: Written | None) -> Shape:
    """`shape` with the student's C_out and H'/W' in place of its own (where they wrote them)."""
    if written is None:
        return shape
    out = list(shape)
    if isinstance(written.c_out, tuple):  # a sequence's L×D
        if len(out) == 2:
            out[:] = written.c_out
    elif written.c_out is not None and out:
        out[0] = written.c_out
    if written.hw is not None and len(out) == 3:
        out[1:3] = written.hw
    return tuple(out)


def carry_forward(graph: Graph, report: Report, written: Mapping[str, Written]) -> dict[str, CarriedRow]:
    """Per report row, the row recomputed from the student's answers (see CarriedRow). `written`
    holds the shape answers of the rows that are graded; other rows carry the recomputed shapes."""
    evaluator = Evaluator(report)
    owner = row_of_nodes(graph, report)
    outputs = output_nodes(graph, report, owner)
    shapes: dict[str, Shape] = {INPUT_NAME: tuple(graph.input_shape)}
    causes: dict[str, frozenset[str]] = {INPUT_NAME: frozenset()}
    rows: dict[str, CarriedRow] = {}
    sums: dict[str, list[dict[str, set[Fraction]]]] = {}
    for node in graph.nodes:
        inputs = [shapes.get(ref, node.input_shapes[i]) for i, ref in enumerate(node.inputs)]
        upstream = frozenset().union(*(causes.get(ref, frozenset()) for ref in node.inputs))
        own_inputs = list(node.input_shapes) == inputs
        expected = tuple(node.output_shape) if own_inputs else evaluator.shape(node.layer, inputs)
        row = owner[node.name]
        if expected is None:  # the student's shapes break the rule: carry the truth from here on
            shapes[node.name], causes[node.name] = tuple(node.output_shape), frozenset()
            rows.setdefault(row, CarriedRow(None))
            continue
        mine = written.get(row) if outputs.get(row) == node.name else None
        student = _apply(expected, mine)
        own, carried = _deviations(row, tuple(node.output_shape), expected, student)
        shapes[node.name], causes[node.name] = student, own | (upstream if carried else frozenset())
        if outputs.get(row) == node.name:
            rows[row] = CarriedRow(expected, inputs, causes=upstream, own=own)
        sums.setdefault(row, []).append(_candidates(evaluator, node, inputs, {student, expected}))
    for row, parts in sums.items():
        rows.setdefault(row, CarriedRow(None)).values = _sum_candidates(parts)
    return rows


def _deviations(row: str, truth: Shape, expected: Shape, student: Shape) -> tuple[frozenset[str], bool]:
    """How the student's shape differs from the truth: (the cells that are their own mistakes,
    whether some part follows from their input shapes instead, carrying those inputs' causes)."""
    own, carried = set(), False
    parts = [(C_OUT, slice(0, 2 if len(truth) == 2 else 1))] + ([(HW_OUT, slice(1, 3))] if len(truth) == 3 else [])
    for quantity, part in parts:
        if student[part] == truth[part]:
            continue
        if student[part] == expected[part]:
            carried = True
        else:
            own.add(cell_id(row, quantity))
    return frozenset(own), carried


def _candidates(evaluator: Evaluator, node: Node, inputs: list[Shape], outputs: set[Shape]) -> dict[str, set[Fraction]]:
    found: dict[str, set[Fraction]] = {MEMORY: set(), PARAMS: set(), MACS: set()}
    for output in outputs:
        values = evaluator.values(node.layer, inputs, output)
        for quantity, value in (values or {}).items():
            found[quantity].add(value)
    return found


def _sum_candidates(parts: list[dict[str, set[Fraction]]]) -> dict[str, set[Fraction]]:
    """A collapsed row's candidates: the sums of its members' (each member's first and last candidate)."""
    result: dict[str, set[Fraction]] = {}
    for quantity in (MEMORY, PARAMS, MACS):
        if any(not part[quantity] for part in parts):
            result[quantity] = set()
            continue
        low = sum((min(part[quantity]) for part in parts), Fraction(0))
        high = sum((max(part[quantity]) for part in parts), Fraction(0))
        result[quantity] = {low, high}
    return result


def shape_answers(values: Mapping[str, Any]) -> Written:
    """A Written from parsed cells: {c_out: int | None, hw_out: (h, w) | None}."""
    return Written(values.get(C_OUT), values.get(HW_OUT))
