from __future__ import annotations

from ..conventions import ELEMENTWISE
from ..formula import Q, output_elements
from ..shapes import describe
from ..torchspec import T
from .base import Layer, register


class Merge(Layer):
    """A layer that combines two or more inputs (`in: [a, b, ...]`)."""

    arity = None

    def _shapes(self, inputs) -> str:
        return " and ".join(describe(shape) for shape in inputs)


@register
class Add(Merge):
    op = "add"
    summary = "elementwise sum of inputs of equal shape (residual connections)"

    def output_shape(self, inputs, warn):
        if any(shape != inputs[0] for shape in inputs):
            self.fail(f"add needs inputs of equal shape, got {self._shapes(inputs)}", "in")
        return inputs[0]

    def costs(self, inputs, output):
        return {ELEMENTWISE: Q("inputs - 1", len(inputs) - 1) * output_elements(output)}

    def lowering(self, inputs, output):
        return T("Add")


@register
class Mul(Merge):
    op = "mul"
    summary = "elementwise product; a [C, 1, 1] input scales each channel (squeeze-and-excitation)"

    def output_shape(self, inputs, warn):
        maps = [shape for shape in inputs if not (len(shape) == 3 and shape[1:] == (1, 1))]
        full = maps[0] if maps else inputs[0]
        for shape in inputs:
            fits = shape == full or (len(shape) == len(full) == 3 and shape == (full[0], 1, 1))
            if not fits:
                self.fail(f"mul needs equal shapes or a [C, 1, 1] gate, got {self._shapes(inputs)}", "in")
        return full

    def costs(self, inputs, output):
        return {ELEMENTWISE: Q("inputs - 1", len(inputs) - 1) * output_elements(output)}

    def lowering(self, inputs, output):
        return T("Mul")


@register
class Concat(Merge):
    op = "concat"
    aliases = ("cat",)
    summary = "concatenation along the channels (inception branches, dense connections)"

    def output_shape(self, inputs, warn):
        rest = {tuple(shape[1:]) for shape in inputs}
        if len({len(shape) for shape in inputs}) != 1 or len(rest) != 1:
            self.fail(f"concat needs the same height and width, got {self._shapes(inputs)}", "in")
        return (sum(shape[0] for shape in inputs), *inputs[0][1:])

    def lowering(self, inputs, output):
        return T("Concat")
