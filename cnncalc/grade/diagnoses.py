"""Systematic mistakes, each a small named rule: it looks at a graded sheet as a whole and names
the one mistake behind many wrong cells, once ("your MACs are exactly 2× throughout: you counted
FLOPs"). A rule never changes a verdict; it explains cells. Rules that need a layer's own rule
at another setting (padding, bias) copy the layer with that field changed and run the copy's
rules: nothing here knows a layer's type.

Mistake ids (the JSON contract, docs/grading.md): flops_2x, kb_1000, wrong_unit, no_bias, padding,
ceil_mode, truncation, free_pooling, swapped_columns, hwc_order.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..analysis.conventions import CONVENTIONS
from ..analysis.explain import explain
from ..analysis.report import Report
from ..core.formula import Step, value_of
from ..core.numbers import KB, decimal_text
from ..layers import Layer, LayerProblem
from ..layers.fields import FieldProblem, format_pair
from .assignment import TOTAL
from .carry import RULE_ERRORS, CarriedRow, Evaluator, cell_id, row_of_nodes
from .columns import C_OUT, HW_OUT, MACS, MEMORY, NUMERIC, PARAMS
from .results import CONSISTENT, RIGHT, WRONG, Answer, Diagnosis
from .values import Number, rounded, truncated

if TYPE_CHECKING:
    from ..spec.graph import Graph, Node

FLOPS_2X, KB_1000, WRONG_UNIT, NO_BIAS, PADDING, CEIL_MODE = \
    "flops_2x", "kb_1000", "wrong_unit", "no_bias", "padding", "ceil_mode"
TRUNCATION, FREE_POOLING, SWAPPED_COLUMNS, HWC_ORDER = "truncation", "free_pooling", "swapped_columns", "hwc_order"
MISTAKES = (FLOPS_2X, KB_1000, WRONG_UNIT, NO_BIAS, PADDING, CEIL_MODE, TRUNCATION, FREE_POOLING, SWAPPED_COLUMNS,
            HWC_ORDER)
_NOT_RIGHT = (WRONG, CONSISTENT)
_SHOWN = 3  # examples named in a message


def fits(number: Number, exact: Fraction) -> bool:
    """`exact` rounded or truncated at the precision written: the plain rule, whatever the options."""
    return rounded(number, exact) or truncated(number, exact)


class Context:
    """A graded sheet as the rules see it: its answers by cell, the truths, the carried rows, and
    the spec's layers (when the grader has the graph)."""

    def __init__(self, report: Report, graph: Graph | None, truths: dict[str, dict[str, Any]], answers: list[Answer],
                 carried: dict[str, CarriedRow]) -> None:
        self.report = report
        self.graph = graph
        self.truths = truths
        self.answers = answers
        self.carried = carried
        self.by_cell = {(a.layer, a.column.quantity): a for a in answers}
        self.evaluator = Evaluator(report)
        self._nodes: dict[str, list[Node]] | None = None
        self._steps: dict[str, list[Step]] | None = None
        self.found: list[Diagnosis] = []  # the diagnoses of the rules before

    def column(self, quantity: str, total: bool = False) -> list[Answer]:
        """The student's parsed numbers (or shapes) for one quantity, in layer order."""
        return [a for a in self.answers if a.column.quantity == quantity and a.value is not None
                and (a.layer == TOTAL) == total]

    def scaled(self, quantity: str) -> list[Answer]:
        """The column's non-zero numbers that are not right, the total's included: what a rule of
        scale (2x, 1000/1024, another unit) may explain (0 is 0 in every unit)."""
        return [a for a in self.column(quantity) + self.column(quantity, total=True) if a.verdict in _NOT_RIGHT
                and a.truth and isinstance(a.value, Number) and a.value.value]

    def nodes(self, row: str) -> list[Node]:
        """The graph's nodes that make up a report row (one, or a collapsed block's)."""
        if self.graph is None:
            return []
        if self._nodes is None:
            owner = row_of_nodes(self.graph, self.report)
            self._nodes = {}
            for node in self.graph.nodes:
                self._nodes.setdefault(owner[node.name], []).append(node)
        return self._nodes.get(row, [])

    def output_node(self, row: str) -> Node | None:
        """The row's node when the row is a single layer (None for a collapsed block)."""
        nodes = self.nodes(row)
        return nodes[0] if len(nodes) == 1 and nodes[0].name == row else None

    def steps(self, row: str) -> list[Step]:
        """`explain`'s derivation of a single-layer row: shape, output, KB, params, MACs."""
        if self.graph is None:
            return []
        if self._steps is None:
            self._steps = derivations(self.graph, self.report)
        return self._steps.get(row, [])

    def formula(self, row: str, label: str) -> str | None:
        step = next((step for step in self.steps(row) if step.label == label), None)
        return step.equation() if step is not None else None


def derivations(graph: Graph, report: Report) -> dict[str, list[Step]]:
    """`explain`'s steps for each row of the report that is a single layer (not a collapsed block)."""
    nodes = {node.name for node in graph.nodes}
    names = [row.name for row in report.rows if row.name in nodes]
    found = explain(graph, report, CONVENTIONS[report.convention], names) if names else []
    return {item.layer: list(item.steps) for item in found}


def variant(layer: Layer, name: str, raw: Any) -> Layer | None:
    """A copy of `layer` with field `name` set from `raw` (as a spec would write it), checked by
    the layer's own rules; None if the layer has no such field or refuses the value."""
    declared = next((f for f in type(layer).fields if f.name == name), None)
    if declared is None:
        return None
    clone = copy.copy(layer)
    try:
        setattr(clone, name, declared.parse(raw))
        clone.check()
    except (FieldProblem, LayerProblem):
        return None
    return clone


def _number(value: Fraction, unit: int = 1) -> str:
    return decimal_text(Fraction(value) / unit, grouping=True)


def _unit_name(answer: Answer) -> str:
    col = answer.written or answer.column
    return col.header


def _examples(answers: Iterable[Answer], show: Callable[[Answer], str]) -> str:
    items = list(answers)
    text = "; ".join(show(a) for a in items[:_SHOWN])
    return text + ("; ..." if len(items) > _SHOWN else "")


def _systematic(matched: list[Answer], column: list[Answer]) -> bool:
    """Enough of a column's wrong cells follow one rule to call it a habit, not chance: two or
    more, and at least half of those not right (or the only one, when there is only one)."""
    wrong = [a for a in column if a.verdict in _NOT_RIGHT and a.layer != TOTAL]
    found = [a for a in matched if a.layer != TOTAL]
    if not found:
        return False
    return (len(found) >= 2 and 2 * len(found) >= len(wrong)) or (len(found) == len(wrong) == 1 and len(column) <= 2)


def _ids(answers: Iterable[Answer]) -> tuple[str, ...]:
    return tuple(cell_id(a.layer, a.column.key) for a in answers)


# --- the rules ---------------------------------------------------------------------------------------


def flops_2x(ctx: Context) -> list[Diagnosis]:
    """Multiply-adds exactly twice the truth: FLOPs (a multiply and an add) instead of MACs."""
    column = ctx.column(MACS) + ctx.column(MACS, total=True)
    matched = [a for a in ctx.scaled(MACS) if fits(a.value, 2 * Fraction(a.truth))]
    if not _systematic(matched, column):
        return []
    first = matched[0]
    header = first.written.header if first.written is not None else ""
    flops = " (your column says FLOPs, but the lecture's 'flops' are multiply-adds)" \
        if first.written is not None and first.written.flops else ""
    unit = (first.written or first.column).unit
    example = _examples(matched, lambda a: f"{a.layer}: {a.text} = 2 × {_number(a.truth, unit)}")
    return [Diagnosis(FLOPS_2X, f"your multiply-adds are 2× the true count ({example}): you counted FLOPs, "
                                f"a multiply and an add each; {header or 'the column'} asks for multiply-adds{flops}",
                      _ids(matched))]


def kb_1000(ctx: Context) -> list[Diagnosis]:
    """Memory divided by 1000 (or 10^6) where the lecture divides by 1024 (or 1024^2)."""
    column = ctx.column(MEMORY) + ctx.column(MEMORY, total=True)
    factors = {KB: (Fraction(1000, KB),), KB**2: (Fraction(10**6, KB**2), Fraction(1000 * KB, KB**2)),
               KB**3: (Fraction(10**9, KB**3),)}
    matched: list[Answer] = []
    divisor = 1000
    for answer in ctx.scaled(MEMORY):
        unit = (answer.written or answer.column).unit
        for factor in factors.get(unit, ()):
            if fits(answer.value.rescaled(factor), Fraction(answer.truth)):
                matched.append(answer)
                divisor = int(factor * unit)
                break
    if not _systematic(matched, column):
        return []
    lecture = {1000: "KB is 1024 bytes", 10**6: "MB is 1024 × 1024 bytes", 1000 * KB: "MB is 1024 KB",
               10**9: "GB is 1024^3 bytes"}.get(divisor, "KB is 1024 bytes")
    example = _examples(matched, lambda a: f"{a.layer}: {a.text} = {_number(a.truth)} bytes / {divisor:,}")
    return [Diagnosis(KB_1000, f"your memory uses {divisor:,} where the lecture's {lecture} ({example})",
                      _ids(matched))]


_UNIT_FACTORS = (1000, 1024, 10**6, 1024**2)


def wrong_unit(ctx: Context) -> list[Diagnosis]:
    """A column off by exactly 1000 or 1024 (or their squares): the numbers of another unit."""
    found = []
    for quantity in NUMERIC:
        column = ctx.column(quantity) + ctx.column(quantity, total=True)
        for factor in (Fraction(f) for base in _UNIT_FACTORS for f in (base, Fraction(1, base))):
            matched = [a for a in ctx.scaled(quantity) if fits(a.value.rescaled(1 / factor), Fraction(a.truth))]
            if _systematic(matched, column):
                size = int(factor if factor > 1 else 1 / factor)
                how = f"{size:,} times" if factor > 1 else f"1/{size:,} of"
                example = _examples(matched, lambda a: f"{a.layer}: {a.text} for {_expected(a)}")
                found.append(Diagnosis(WRONG_UNIT, f"your {_unit_name(matched[0])} values are {how} the true ones "
                                       f"({example}): numbers of another unit", _ids(matched)))
                break
    return found


def _expected(answer: Answer) -> str:
    col = answer.written or answer.column
    return decimal_text(Fraction(answer.truth, col.unit), grouping=True) if answer.truth is not None else "-"


def _row_params(ctx: Context, row: str, change: Callable[[Layer], Layer | None]) -> Fraction | None:
    """The row's parameters with each of its layers changed (None when no layer changes)."""
    total, changed = Fraction(0), False
    for node in ctx.nodes(row):
        layer = change(node.layer) or node.layer
        changed = changed or layer is not node.layer
        try:
            total += Fraction(value_of(layer.params(list(node.input_shapes), tuple(node.output_shape))))
        except RULE_ERRORS:
            return None
    return total if changed else None


def no_bias(ctx: Context) -> list[Diagnosis]:
    """Parameters without the biases (weights only); at k precision often right by truncation
    (614 for 614.656 k), so the rows it explains are named even where the rule accepts them. Not a
    habit when rows that are right keep their bias (twice as many as the rows it explains)."""
    if ctx.graph is None:
        return []

    def unbiased(layer: Layer) -> Layer | None:
        return variant(layer, "bias", False) if getattr(layer, "bias", None) is True else None

    explained, without, against = [], {}, 0
    for answer in ctx.column(PARAMS):
        if not isinstance(answer.value, Number):
            continue
        value = _row_params(ctx, answer.layer, unbiased)
        if value is None or value == answer.truth:
            continue
        if fits(answer.value, value):
            explained.append(answer)
            without[answer.layer] = value
        elif answer.verdict == RIGHT:
            against += 1  # this row has its bias: a slip elsewhere is no habit
    wrong = [a for a in explained if a.verdict in _NOT_RIGHT]
    if not wrong or len(wrong) < 2 * against:
        return []
    totals = [a for a in ctx.column(PARAMS, total=True) if isinstance(a.value, Number) and a.verdict in _NOT_RIGHT
              and fits(a.value, Fraction(a.truth) - sum(Fraction(ctx.truths[r][PARAMS]) - v
                                                        for r, v in _all_unbiased(ctx, unbiased).items()))]

    def show(answer: Answer) -> str:
        formula = ctx.formula(answer.layer, "params")
        truth = f"{formula}" if formula else f"{_number(answer.truth)}"
        return f"{answer.layer}: {answer.text} fits the weights alone, {_number(without[answer.layer])}; {truth}"

    return [Diagnosis(NO_BIAS, "your parameter counts leave out the biases, one per output channel or unit "
                               f"({_examples(wrong, show)})", _ids(explained + totals))]


def _all_unbiased(ctx: Context, unbiased: Callable[[Layer], Layer | None]) -> dict[str, Fraction]:
    found = {}
    for row in ctx.report.rows:
        value = _row_params(ctx, row.name, unbiased)
        if value is not None:
            found[row.name] = value
    return found


def _field_mistake(ctx: Context, mistake: str, name: str, values: Callable[[Layer], Iterable[Any]],
                   describe: Callable[[Any], str]) -> list[Diagnosis]:
    """Rows whose wrong H'/W' a different value of one field reproduces (the student's inputs kept)."""
    found = []
    for answer in ctx.column(HW_OUT):
        node = ctx.output_node(answer.layer)
        carried = ctx.carried.get(answer.layer)
        if answer.verdict != WRONG or node is None or carried is None or not carried.inputs:
            continue
        current = getattr(node.layer, name, None)
        fitting = []  # (the division is not exact, how far from the layer's value, value, the changed layer)
        for order, raw in enumerate(values(node.layer)):
            changed = variant(node.layer, name, raw) if str(raw) != str(current) else None
            shape = ctx.evaluator.shape(changed, carried.inputs) if changed is not None else None
            if changed is None or shape is None or len(shape) != 3 or tuple(shape[1:3]) != answer.value:
                continue
            steps = changed.explain_shape(carried.inputs, shape)
            inexact = any(_inexact(step) for step in steps)
            fitting.append((inexact, order, raw, steps))
        if not fitting:
            continue
        _, _, raw, steps = min(fitting, key=lambda item: item[:2])
        yours = "; ".join(_short(step, label=True) for step in steps)
        truth = "; ".join(_short(step) for step in node.layer.explain_shape(carried.inputs, carried.shape)) \
            if carried.shape is not None else ""
        row_cells = [a for a in ctx.answers if a.layer == answer.layer and a.verdict == CONSISTENT]
        found.append(Diagnosis(mistake, f"{answer.layer}: your H'/W' {answer.text} is what {describe(raw)} gives: "
                               f"{yours}; the layer has {describe(current)}: {truth}", _ids([answer, *row_cells])))
    return found


def _short(step: Step, label: bool = False) -> str:
    """`H' = W' = (227 - 11 + 2·2)/4 + 1 = 56`: the numbers of a derivation, without the symbols."""
    numbers = f"{step.formula.numbers()} = " if step.formula is not None else ""
    return f"{step.label + ' = ' if label else ''}{numbers}{step.result}"


def _inexact(step: Step) -> bool:
    """A window formula whose division is not exact (the student would have had to floor it)."""
    value = value_of(step.formula) if step.formula is not None else None
    return isinstance(value, Fraction) and value.denominator != 1


def padding(ctx: Context) -> list[Diagnosis]:
    """A wrong output size that another padding reproduces: which pad the student used (the
    closest to the layer's own among those whose division is exact, as a student would compute)."""
    def pads(layer: Layer) -> list[int]:
        current = getattr(layer, "pad", None)
        amount = getattr(current, "amount", (0, 0)) or (0, 0)
        kernel = max(getattr(layer, "kernel", (3, 3)))
        return sorted(range(0, kernel + 1), key=lambda p: (abs(p - max(amount)), p))

    return _field_mistake(ctx, PADDING, "pad", pads, lambda pad: f"pad {pad}")


def ceil_mode(ctx: Context) -> list[Diagnosis]:
    """A wrong output size that the other rounding (floor or ceil) of the window formula reproduces."""
    return _field_mistake(ctx, CEIL_MODE, "ceil", lambda layer: (True, False),
                          lambda ceil: "rounding up (ceil mode)" if ceil else "rounding down (floor)")


def _rounding_habit(ctx: Context, skip: set[str]) -> tuple[list[Answer], list[Answer]]:
    """(cells right only when rounded, cells right only when truncated), outside `skip`."""
    only_rounded, only_truncated = [], []
    for quantity in NUMERIC:
        for answer in ctx.column(quantity):
            if not isinstance(answer.value, Number) or not answer.truth or cell_id(answer.layer, answer.column.key) \
                    in skip:
                continue
            up, down = rounded(answer.value, Fraction(answer.truth)), truncated(answer.value, Fraction(answer.truth))
            if up and not down:
                only_rounded.append(answer)
            elif down and not up:
                only_truncated.append(answer)
    return only_rounded, only_truncated


def _free_zeros(ctx: Context) -> list[Answer]:
    """0 multiply-adds written for every layer without weights that costs some."""
    weightless = [a for a in ctx.column(MACS) if a.truth and not ctx.truths[a.layer][PARAMS]
                  and isinstance(a.value, Number)]
    zeros = [a for a in weightless if isinstance(a.value, Number) and a.value.value == 0]
    return zeros if zeros and len(zeros) == len(weightless) else []


def free_pooling(ctx: Context) -> list[Diagnosis]:
    """0 MACs for every layer that has no weights (pooling): when some zero is wrong, or the
    student rounds everywhere else (so the zeros are not truncation)."""
    zeros = _free_zeros(ctx)
    if not zeros or any(found.mistake == SWAPPED_COLUMNS for found in ctx.found):
        return []
    only_rounded, only_truncated = _rounding_habit(ctx, set(_ids(zeros)))
    wrong = [a for a in zeros if a.verdict == WRONG]
    if not wrong and not (only_rounded and not only_truncated):
        return []
    formula = next((f for a in zeros if (f := ctx.formula(a.layer, "MACs"))), None)
    cost = f" ({zeros[0].layer}: {formula})" if formula else f" ({zeros[0].layer}: {_expected(zeros[0])} M)"
    accepted = "" if wrong else "; accepted as truncation here, but your other answers round"
    names = ", ".join(a.layer for a in zeros[:6]) + (", ..." if len(zeros) > 6 else "")
    return [Diagnosis(FREE_POOLING, f"you wrote 0 multiply-adds for {names}, which have no weights: sliding their "
                                    f"window still costs one operation per output element and window position{cost}"
                                    f"{accepted}", _ids(zeros))]


def truncation(ctx: Context) -> list[Diagnosis]:
    """Truncated values: accepted by the rule (the slides truncate) and named, or wrong under
    --rtol / --no-truncation and named as the reason."""
    refused = [a for q in NUMERIC for a in ctx.column(q) + ctx.column(q, total=True)
               if a.verdict == WRONG and isinstance(a.value, Number) and a.truth
               and truncated(a.value, Fraction(a.truth))]
    show = lambda a: f"{a.layer}: {a.text} for {_expected(a)}"  # noqa: E731
    if refused:
        return [Diagnosis(TRUNCATION, f"these values are truncated, not rounded ({_examples(refused, show)}); "
                                      "this grading accepts rounded values only", _ids(refused))]
    only_rounded, only_truncated = _rounding_habit(ctx, set(_ids(_free_zeros(ctx))))
    if only_truncated and not only_rounded:
        return [Diagnosis(TRUNCATION, f"you truncate where the lecture rounds ({_examples(only_truncated, show)}): "
                                      "accepted, but round half up (0.45 → 0.5)", _ids(only_truncated))]
    return []


def swapped_columns(ctx: Context) -> list[Diagnosis]:
    """Two numeric columns holding each other's answers."""
    found = []
    pairs = [(a, b) for i, a in enumerate(NUMERIC) for b in NUMERIC[i + 1:]]
    for first, second in pairs:
        matched = []
        for answer in ctx.column(first):
            other = ctx.by_cell.get((answer.layer, second))
            if other is None or not isinstance(other.value, Number) or not isinstance(answer.value, Number):
                continue
            if answer.verdict not in _NOT_RIGHT or other.verdict not in _NOT_RIGHT:
                continue
            unit_a, unit_b = (answer.written or answer.column).unit, (other.written or other.column).unit
            if other.truth and answer.truth and fits(answer.value.rescaled(Fraction(unit_b, unit_a)),
                                                     Fraction(other.truth)) \
                    and fits(other.value.rescaled(Fraction(unit_a, unit_b)), Fraction(answer.truth)):
                matched += [answer, other]
        if len({a.layer for a in matched}) >= 2:
            a, b = matched[0], matched[1]
            found.append(Diagnosis(SWAPPED_COLUMNS, f"your {_unit_name(a)} and {_unit_name(b)} columns hold each "
                                   f"other's answers ({a.layer}: {a.text} under {_unit_name(a)} is its "
                                   f"{_unit_name(b)}, {b.text} under {_unit_name(b)} its {_unit_name(a)})",
                                   _ids(matched)))
    return found


_THREE = re.compile(r"\s*\(?\s*(\d+)\s*[x×X*,]\s*(\d+)\s*[x×X*,]\s*(\d+)\s*\)?\s*")


def hwc_order(ctx: Context) -> list[Diagnosis]:
    """Shapes in H × W × C order: a three-part H'/W' ending in the channels, or C_out and H'/W'
    holding each other's numbers."""
    matched = []
    for answer in (a for a in ctx.answers if a.column.quantity == HW_OUT and a.truth is not None and a.text):
        c = ctx.truths[answer.layer][C_OUT]
        h, w = answer.truth
        three = _THREE.fullmatch(answer.text)
        if three and tuple(int(x) for x in three.groups()) == (h, w, c) and c not in (h, w):
            matched.append(answer)
            continue
        c_answer = ctx.by_cell.get((answer.layer, C_OUT))
        if c_answer is not None and c != h and c_answer.value == h and answer.value == (c, c):
            matched += [c_answer, answer]
    if not matched:
        return []
    example = matched[0]
    shape = "×".join(map(str, (*ctx.truths[example.layer][HW_OUT], ctx.truths[example.layer][C_OUT])))
    truth = ctx.truths[example.layer]
    return [Diagnosis(HWC_ORDER, f"you wrote shapes in H × W × C order ({example.layer}: {shape}); the lecture's "
                                 f"order is C × H × W: C_out {truth[C_OUT]}, H'/W' {format_pair(truth[HW_OUT])}",
                      _ids(matched))]


RULES: tuple[Callable[[Context], list[Diagnosis]], ...] = (
    swapped_columns, hwc_order, flops_2x, kb_1000, wrong_unit, no_bias, padding, ceil_mode, free_pooling, truncation)


def diagnose(report: Report, graph: Graph | None, truths: dict[str, dict[str, Any]], answers: list[Answer],
             carried: dict[str, CarriedRow]) -> list[Diagnosis]:
    """Every rule's diagnoses, in the order of RULES; a cell is explained by the first rule that names it."""
    ctx = Context(report, graph, truths, answers, carried)
    found: list[Diagnosis] = []
    named: set[str] = set()
    for rule in RULES:
        for item in rule(ctx):
            cells = tuple(cell for cell in item.cells if cell not in named)
            if item.cells and not cells:
                continue
            named |= set(cells)
            found.append(Diagnosis(item.mistake, item.message, cells))
            ctx.found = found
    return found


__all__ = ["MISTAKES", "RULES", "Context", "derivations", "diagnose", "fits", "variant"]
