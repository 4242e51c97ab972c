from __future__ import annotations

from typing import Any

from ..core.formula import Q, output_elements
from ..core.shapes import Shape, shape_list
from .base import Layer, Warn, register
from .terms import ELEMENTWISE
from .torchspec import T, Torch

# Two branches of the example input (and, for mul, a C×1×1 gate); a layer whose output is never
# used would be dropped by fvcore's trace, so both branches are outputs.
_BRANCHES = "- {op: conv, name: a, out: 4, kernel: 1}\n- {op: conv, name: b, in: input, out: 4, kernel: 1}\n"


class Merge(Layer):
    """A layer that combines two or more inputs (`in: [a, b, ...]`)."""

    arity = None

    def _shapes(self, inputs: list[Shape]) -> str:
        return " and ".join(shape_list(shape) for shape in inputs)


@register
class Add(Merge):
    op = "add"
    known_as = ("sum", "eltwise", "elementwise_add", "residual", "plus")
    summary = "sum of two or more inputs of equal shape (`in: [a, b]`): residual connections"
    example = _BRANCHES + "- {op: add, in: [a, b]}"
    example_outputs = "[add1, b]"

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        if any(shape != inputs[0] for shape in inputs):
            self.fail(f"add needs inputs of equal shape, got {self._shapes(inputs)}", "in")
        return inputs[0]

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {ELEMENTWISE: Q("inputs - 1", len(inputs) - 1) * output_elements(output)}

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Add")


@register
class Mul(Merge):
    op = "mul"
    known_as = ("multiply", "elementwise_mul", "product")
    summary = "product of inputs of equal shape, or a `[C, 1, 1]` gate times a `[C, H, W]` map (squeeze-and-excitation)"
    example = _BRANCHES + "- {op: gap, name: g, in: input}\n- {op: mul, in: [a, g]}"
    example_outputs = "[mul1, b]"

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        maps = [shape for shape in inputs if not (len(shape) == 3 and shape[1:] == (1, 1))]
        full = maps[0] if maps else inputs[0]
        for shape in inputs:
            fits = shape == full or (len(shape) == len(full) == 3 and shape == (full[0], 1, 1))
            if not fits:
                self.fail(f"mul needs equal shapes or a [C, 1, 1] gate, got {self._shapes(inputs)}", "in")
        return full

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {ELEMENTWISE: Q("inputs - 1", len(inputs) - 1) * output_elements(output)}

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Mul")


@register
class Concat(Merge):
    op = "concat"
    aliases = ("cat",)
    known_as = ("concatenate", "concatenation")
    summary = "concatenation along the channels; heights and widths must match (inception branches, dense blocks)"
    example = _BRANCHES + "- {op: concat, in: [a, b]}"
    example_outputs = "[concat1, b]"

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        rest = {tuple(shape[1:]) for shape in inputs}
        if len({len(shape) for shape in inputs}) != 1 or len(rest) != 1:
            self.fail(f"concat needs the same height and width, got {self._shapes(inputs)}", "in")
        return (sum(shape[0] for shape in inputs), *inputs[0][1:])

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Concat")
