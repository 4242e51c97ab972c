"""Products of activations: the matrix product of two inputs (attention's `q @ k`) and the product of
one input by a constant (attention's `q * scale`). Neither has parameters."""
from __future__ import annotations

import math
from typing import Any

from ..core.formula import Q, Step, output_elements, product
from ..core.shapes import Shape, numel, shape_list
from .base import RF, Cells, Layer, SameShape, Warn, register
from .fields import EXPRESSION, FieldProblem, accepts, spec_field
from .memory import Backward, Forward, MemoryContext, Op, Ref, Stage, Tensor, batched_copies, elementwise, like
from .terms import ELEMENTWISE, MATMUL
from .torchspec import T, Torch


@register
class MatMul(Layer):
    op = "matmul"
    aliases = ("bmm",)
    known_as = ("matrix_multiply", "matrix_product", "einsum", "attention_scores")
    summary = ("matrix product of two inputs over their last two axes, batched over the axes before "
               "(`in: [q, k]`, PyTorch's q @ k): [..., n, k] @ [..., k, m] → [..., n, m]; no parameters")
    example = ("- {op: reshape, name: rows, shape: [4, 99]}\n"
               "- {op: conv, name: keys, in: input, out: 4, kernel: 1}\n"
               "- {op: reshape, name: key_rows, shape: [4, 99]}\n"
               "- {op: transpose, name: key_cols, dims: [-2, -1]}\n"
               "- {op: matmul, in: [rows, key_cols]}")
    arity = 2

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        left, right = inputs
        if len(left) < 2 or len(right) < 2:
            self.fail(f"matmul multiplies matrices: each input needs at least 2 axes per sample, got "
                      f"{shape_list(left)} and {shape_list(right)}", "in",
                      hint="reshape a feature map first, e.g. {op: reshape, shape: [C, -1]}")
        if len(left) != len(right) or tuple(left[:-2]) != tuple(right[:-2]):
            self.fail(f"matmul needs the same axes before the last two (no broadcasting), got "
                      f"{shape_list(left)} and {shape_list(right)}", "in")
        if left[-1] != right[-2]:
            self.fail(f"[..., n, k] @ [..., k, m]: the first input's last axis ({left[-1]}) must equal the "
                      f"second's last but one ({right[-2]}), got {shape_list(left)} and {shape_list(right)}", "in",
                      hint="transpose one input ({op: transpose, dims: [-2, -1]})")
        return (*left[:-1], right[-1])

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """n·k·m multiply-adds per matrix, times the matrices (the batch axes): fvcore's matmul rule."""
        left, right = inputs
        factors = [Q(f"B{i + 1}" if len(left) > 3 else "B", size) for i, size in enumerate(left[:-2])]
        factors += [Q("n", left[-2]), Q("k", left[-1]), Q("m", right[-1])]
        return {MATMUL: product(factors)}

    def explain_shape(self, inputs: list[Shape], output: Shape) -> list[Step]:
        left, right = inputs
        return [Step("shape", None, f"{shape_list(left)} @ {shape_list(right)} → {shape_list(output)}")]

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        """Each output mixes whole rows and columns: no longer positions of the image."""
        return None

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(kernel="@")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("MatMul")

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """a @ b: torch.matmul views the inputs as batches of matrices (merging the batch axes, which
        attention's inputs allow without a copy; where the batch axes are not one run of storage, as area
        attention's, x.reshape copies the input first) and calls bmm, which keeps each input (or its copy)
        the other's gradient needs and allocates the output. Backward: one bmm per gradient, the first
        input's first. Autocast runs it in 16 bits (the inputs' 16-bit copies are kept)."""
        needs = ctx.requires_grad
        copies = batched_copies(ctx, inputs)
        refs: list[Ref] = [f"copy{k}" if copies[k] else k for k in (0, 1)]
        saved = tuple(refs[k] for k, other in ((0, needs[1]), (1, needs[0])) if other)
        dropped = tuple(str(ref) for ref in refs if isinstance(ref, str) and ref not in saved)
        made = tuple(Op((Tensor(f"copy{k}", numel(inputs[k])),)) for k in (0, 1) if copies[k])
        forward = Forward((*made, Op((Tensor("output", numel(output)),), frees=dropped)), saved=saved)
        backward = None
        if ctx.training:
            ops = tuple(Op((like(f"grad{k}", k),)) for k in (0, 1) if needs[k])
            backward = Backward(ops, tuple(f"grad{k}" if needs[k] else None for k in (0, 1)))
        return (Stage("matmul", (0, 1), forward, backward, autocast="lower"),)


@accepts({"anyOf": [{"type": "number"}, EXPRESSION]})
def finite_number(value: Any) -> float:
    """Any finite number (a factor)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FieldProblem(f"must be a finite number, got {value!r}")
    return value


@register
class Scale(SameShape):
    op = "scale"
    known_as = ("multiply_constant", "mul_scalar", "rescale")
    summary = ("its input times a constant `factor` (attention's q * key_dim ** -0.5); no parameters "
               "(a learned scale is `layer_scale`)")
    example = "- {op: scale, factor: 0.25}"

    factor: float = spec_field(finite_number, doc="the constant, e.g. 1 / sqrt(key_dim)")

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {ELEMENTWISE: output_elements(output)}

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(filters=f"×{self.factor:g}")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Scale", self.factor)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """x * factor keeps nothing (the factor is a number); backward multiplies the gradient by it."""
        return (elementwise("scale", numel(output), None, ctx.training),)
