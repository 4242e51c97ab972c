from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.formula import Q, output_elements
from ..core.shapes import Shape, numel, shape_list
from .base import RF, Cells, Layer, Warn, register
from .fields import boolean, spec_field
from .memory import GRAD_OUT, Backward, Forward, MemoryContext, Op, Stage, Tensor, stage_output
from .tensor import axis, dim_index
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

    def pairwise(self, inputs: list[Shape], stage: Callable[[int, int, Shape], Stage]) -> tuple[Stage, ...]:
        """`result = inputs[0]; result = result OP item` for each further input: one stage per item."""
        return tuple(stage(0 if k == 1 else stage_output(k - 2), k, inputs[k]) for k in range(1, len(inputs)))


@register
class Add(Merge):
    op = "add"
    known_as = ("sum", "eltwise", "elementwise_add", "residual", "plus")
    summary = "sum of two or more inputs of equal shape (`in: [a, b]`): residual connections"
    example = _BRANCHES + "- {op: add, in: [a, b]}"
    example_outputs = "[add1, b]"

    inplace: bool = spec_field(boolean, False, doc="add into the first input's storage (`out += identity`)")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        if any(shape != inputs[0] for shape in inputs):
            self.fail(f"add needs inputs of equal shape, got {self._shapes(inputs)}", "in")
        return inputs[0]

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {ELEMENTWISE: Q("inputs - 1", len(inputs) - 1) * output_elements(output)}

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Add", **({"inplace": True} if self.inplace else {}))

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """A sum keeps nothing, and every input's gradient is the incoming one. In place (`out +=
        identity`, torchvision's residual blocks) it allocates nothing either."""
        backward = Backward(grads=(GRAD_OUT,) * len(inputs)) if ctx.training else None
        if self.inplace:
            return (Stage("add_", tuple(range(len(inputs))), Forward(output=0, writes=True), backward),)
        n = numel(output)
        pair = Backward(grads=(GRAD_OUT, GRAD_OUT)) if ctx.training else None
        return self.pairwise(inputs, lambda previous, k, shape: Stage(
            "add", (previous, k), Forward((Op((Tensor("output", n),)),)), pair))


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

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """A product keeps each factor the other's gradient needs; backward multiplies once per factor,
        full size (the engine then sums a broadcast gate's gradient down to its C numbers)."""
        n = numel(output)

        def product(previous: int, k: int, shape: Shape) -> Stage:
            needs = (any(ctx.requires_grad[:k]), ctx.requires_grad[k])
            saved = tuple(ref for ref, other in ((0, needs[1]), (1, needs[0])) if other)
            full = tuple(Op((Tensor(f"grad{ref}", n),)) for ref, needed in enumerate(needs) if needed)
            grads = tuple(f"grad{ref}" if needed else None for ref, needed in enumerate(needs))
            backward = Backward(full, grads) if ctx.training else None
            return Stage("mul", (previous, k), Forward((Op((Tensor("output", n),)),), saved=saved), backward)

        return self.pairwise(inputs, product)


@register
class Concat(Merge):
    op = "concat"
    aliases = ("cat",)
    min_inputs = 1  # torch.cat of one tensor: what `in: [rep.*]` gives for a repeat of one copy
    known_as = ("concatenate", "concatenation")
    summary = ("concatenation along the channels (or the axis `dim`); the other sizes must match (inception "
               "branches, dense blocks)")
    example = _BRANCHES + "- {op: concat, in: [a, b]}"
    example_outputs = "[concat1, b]"

    dim: int = spec_field(dim_index, 1, doc="the axis, numbered as in PyTorch: 1 is the channels")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        if len({len(shape) for shape in inputs}) != 1:
            self.fail(f"concat needs inputs of the same rank, got {self._shapes(inputs)}", "in")
        index = axis(self, self.dim, len(inputs[0]))
        rest = {tuple(size for i, size in enumerate(shape) if i != index) for shape in inputs}
        if len(rest) != 1:
            what = "height and width" if index == 0 and len(inputs[0]) == 3 else "sizes but along the axis"
            self.fail(f"concat needs the same {what}, got {self._shapes(inputs)}", "in")
        shape = list(inputs[0])
        shape[index] = sum(shape[index] for shape in inputs)
        return tuple(shape)

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        if self.dim in (1, -len(inputs[0])):
            return super().receptive_field(fields, inputs, output)
        return None  # positions of several maps side by side

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(filters=f"dim {self.dim}" if self.dim != 1 else "")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Concat", self.dim) if self.dim != 1 else T("Concat")

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """torch.cat copies; it keeps nothing, and each input's gradient is a slice of the incoming one
        (which therefore lives until the last slice is used)."""
        backward = Backward(grads=(GRAD_OUT,) * len(inputs)) if ctx.training else None
        return (Stage("cat", tuple(range(len(inputs))), Forward((Op((Tensor("output", numel(output)),)),)),
                      backward),)
