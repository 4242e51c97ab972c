"""Layer types that rearrange a tensor of any rank: reshape, transpose, slice, and the mean over axes.

A spec's shapes have no batch axis ([C, H, W] per sample), but `dim`/`dims` count the axes as PyTorch
does, the batch being dim 0: `dim: 1` is the channels, `dim: 2` the height (or a sequence's length),
-1 the last axis. So `x.transpose(2, 1)` is `{op: transpose, dims: [2, 1]}`, as in the code it comes
from. A `shape` (reshape) is per sample, like `input:`.
"""
from __future__ import annotations

import math
from typing import Any

from ..core.formula import input_elements
from ..core.shapes import Shape, numel, shape_list
from ..core.symbolic import is_symbolic
from .base import RF, Cells, Layer, Warn, register
from .fields import EXPRESSION, FieldProblem, accepts, boolean, spec_field
from .memory import (
    MemoryContext,
    Stage,
    input_strides,
    mean_stage,
    narrowed,
    part_strides,
    reshaped,
    settled,
    view,
)
from .terms import WINDOW
from .torchspec import T, Torch

MAX_RANK = 6  # axes per sample (PyTorch's kernels take far more; no CNN needs them)
_DIM = {"anyOf": [{"type": "integer", "not": {"const": 0}}, EXPRESSION]}


@accepts(_DIM)
def dim_index(value: Any) -> int:
    """An axis as PyTorch numbers it: 1 is the channels (0, the batch, is not a sample's), -1 the last."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldProblem(f"must be a whole number (1 is the channels, -1 the last axis), got {value!r}")
    if value == 0:
        raise FieldProblem("dim 0 is the batch, which a spec's shapes do not have: 1 is the channels")
    return value


@accepts({"anyOf": [{"type": "array", "items": _DIM, "minItems": 1}, _DIM]})
def dim_list(value: Any) -> tuple[int, ...]:
    """`[2, 3]` (or one axis, `2`)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise FieldProblem("must name at least one axis")
    return tuple(dim_index(item) for item in items)


@accepts({"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": -1, "not": {"const": 0}},
                                                EXPRESSION]}, "minItems": 1, "maxItems": MAX_RANK})
def shape_value(value: Any) -> tuple[int, ...]:
    """A per-sample shape `[4, 16, -1]`: positive sizes, at most one -1 (the size that fits)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RANK:
        raise FieldProblem(f"must be a list of 1 to {MAX_RANK} sizes (per sample, no batch), e.g. [4, 16, -1]")
    sizes = []
    for item in value:
        if isinstance(item, bool) or not (isinstance(item, int) or is_symbolic(item)) or \
                (isinstance(item, int) and (item == 0 or item < -1)):
            raise FieldProblem(f"sizes must be positive whole numbers or -1 (the size that fits), got {item!r}")
        sizes.append(item)
    if sizes.count(-1) > 1:
        raise FieldProblem("at most one size may be -1")
    return tuple(sizes)


@accepts({"anyOf": [{"type": "integer"}, EXPRESSION]})
def whole_number(value: Any) -> int:
    """Any whole number (an index; negative ones count from the end)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldProblem(f"must be a whole number, got {value!r}")
    return value


def axis(layer: Layer, dim: int, rank: int, field: str = "dim") -> int:
    """The sample's axis (0 = channels) that PyTorch's `dim` names; fails when there is none."""
    index = dim - 1 if dim > 0 else rank + dim
    if not 0 <= index < rank:
        layer.fail(f"dim {dim} is outside an input of {rank} axes per sample (dims 1 to {rank}, or -1 to -{rank}; "
                   "0 is the batch)", field)
    return index


def _check_rank(layer: Layer, shape: Shape) -> None:
    if len(shape) > MAX_RANK:
        layer.fail(f"its output would have {len(shape)} axes; cnncalc takes at most {MAX_RANK} per sample")


@register
class Reshape(Layer):
    op = "reshape"
    aliases = ("view",)
    summary = "a new shape per sample with the same elements, `shape: [4, 16, -1]` (PyTorch's view/reshape)"
    example = "- {op: reshape, shape: [4, -1, 11]}"

    shape: tuple[int, ...] = spec_field(shape_value, doc="the shape per sample; one size may be -1")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        count = math.prod(inputs[0])
        known = math.prod(size for size in self.shape if not isinstance(size, int) or size != -1)
        if -1 in self.shape:
            if is_symbolic(count) or is_symbolic(known):
                missing = count / known
            elif known == 0 or count % known:
                self.fail(f"{shape_list(inputs[0])} ({count:,} elements) cannot be viewed as "
                          f"{shape_list(self.shape)}", "shape")
            else:
                missing = count // known
            shape = tuple(missing if size == -1 else size for size in self.shape)
        else:
            shape = self.shape
            if not is_symbolic(count) and not is_symbolic(known) and count != known:
                self.fail(f"{shape_list(inputs[0])} has {count:,} elements, {shape_list(shape)} would have "
                          f"{known:,}", "shape")
        return shape

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        """A position of the new shape is no longer a position of the image: unknown, unless the
        shape is the same."""
        return fields[0] if tuple(output) == tuple(inputs[0]) else None

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(filters=shape_list(self.shape))

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        # -1 kept (an exported model follows its input size); a list, since export writes a tuple of
        # equal sizes (3, 3) as 3, as torch's kernel sizes allow
        return T("Reshape", list(self.shape))

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """x.reshape is a view where PyTorch's view rule finds one (a contiguous input; a transposed one
        whose swapped axes it keeps apart); else a contiguous copy: of a channels-last input (after a
        LayerNorm over the channels), of a part of an axis that it merges with the axes before (attention's
        v, split along dim 2 of several heads, as a C×H×W map), of a transposed input whose axes it merges
        (area attention's rows back into a map). Either way the input's gradient is the incoming one, viewed."""
        return (reshaped("reshape", ctx, inputs[0], output),)


@register
class Transpose(Layer):
    op = "transpose"
    summary = "swaps two axes, `dims: [2, 1]` as in x.transpose(2, 1) (the batch is dim 0)"
    example = "- {op: transpose, dims: [1, -1]}"

    dims: tuple[int, ...] = spec_field(dim_list, doc="the two axes to swap, numbered as in PyTorch")

    def check(self) -> None:
        if len(self.dims) != 2:
            self.fail(f"transpose swaps two axes; got {len(self.dims)}", "dims")

    def _axes(self, rank: int) -> tuple[int, int]:
        return axis(self, self.dims[0], rank, "dims"), axis(self, self.dims[1], rank, "dims")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        first, second = self._axes(len(inputs[0]))
        shape = list(inputs[0])
        shape[first], shape[second] = shape[second], shape[first]
        return tuple(shape)

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        first, second = sorted(self._axes(len(inputs[0])))
        if (first, second) == (1, 2) and len(inputs[0]) == 3:  # H and W swap, and so do their fields
            return (fields[0][1], fields[0][0])
        return None  # the channels meet a spatial axis: no longer an image

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Transpose", *self.dims)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """A view with two strides swapped; its backward swaps them back on the incoming gradient."""
        strides = input_strides(ctx, 0, inputs[0])
        if strides is None:
            return (view("transpose"),)
        first, second = self._axes(len(inputs[0]))
        swapped = list(strides)
        swapped[first + 1], swapped[second + 1] = swapped[second + 1], swapped[first + 1]  # [0]: the batch
        return (view("transpose", settled(output, tuple(swapped))),)


@register
class Slice(Layer):
    op = "slice"
    known_as = ("narrow", "crop")
    summary = "the part start:end of one axis, the channels by default (x[:, start:end])"
    example = "- {op: slice, start: 1, end: -1}"

    start: int = spec_field(whole_number, 0, doc="the first index, from 0 (negative: from the end)")
    end: int | None = spec_field(whole_number, None, doc="one past the last index (default: the end)")
    dim: int = spec_field(dim_index, 1, doc="the axis, numbered as in PyTorch: 1 is the channels")

    def bounds(self, inputs: list[Shape]) -> tuple[int, int, int]:
        """(axis, start, end) within the input, as Python's slicing resolves them."""
        index = axis(self, self.dim, len(inputs[0]))
        size = inputs[0][index]
        if is_symbolic(size):
            self.fail("a slice needs a numeric size", "dim")
        start, end, _ = slice(self.start, self.end).indices(size)
        if end <= start:
            self.fail(f"{self.start}:{'' if self.end is None else self.end} of a size of {size} is empty", "end")
        return index, start, end

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        index, start, end = self.bounds(inputs)
        shape = list(inputs[0])
        shape[index] = end - start
        return tuple(shape)

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        index, start, _ = self.bounds(inputs)
        if index == 0 or len(inputs[0]) != 3:
            return fields[0]
        field = fields[0][index - 1].cropped(start)  # a crop moves the first output's centre
        return (field, fields[0][1]) if index == 1 else (fields[0][0], field)

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        _, start, end = self.bounds(inputs)
        return Cells(filters=f"{start}:{end}")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        _, start, end = self.bounds(inputs)
        return T("Slice", start, end - start, self.dim)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """x.narrow is a view; its backward writes the gradient into zeros the input's size."""
        return (narrowed("slice", part_strides(ctx, inputs[0], output)),)


@register
class Mean(Layer):
    op = "mean"
    known_as = ("reduce_mean", "average")
    summary = ("the mean over axes, `dims: [2, 3]` as in x.mean((2, 3)): global pooling written as a "
               "tensor method, which fvcore, ptflops and thop do not count")
    example = "- {op: mean, dims: [2, 3], keepdim: true}"

    dims: tuple[int, ...] = spec_field(dim_list, (2, 3), doc="the axes to average, numbered as in PyTorch")
    keepdim: bool = spec_field(boolean, False, doc="keep the averaged axes with size 1")

    def _axes(self, rank: int) -> list[int]:
        axes = sorted({axis(self, dim, rank, "dims") for dim in self.dims})
        if len(axes) != len(self.dims):
            self.fail("an axis is listed twice", "dims")
        return axes

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        axes = self._axes(len(inputs[0]))
        if self.keepdim:
            return tuple(1 if index in axes else size for index, size in enumerate(inputs[0]))
        shape = tuple(size for index, size in enumerate(inputs[0]) if index not in axes)
        if not shape:
            self.fail("the mean over every axis leaves no axis: add keepdim: true", "dims")
        return shape

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """One addition per input element, like a global pooling's window (the textbook counts it so)."""
        return {WINDOW: input_elements(inputs[0])}

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        if len(inputs[0]) != 3:
            return fields[0]
        axes = self._axes(3)
        height, width = fields[0]
        return (height.whole(inputs[0][1]) if 1 in axes else height, width.whole(inputs[0][2]) if 2 in axes else width)

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(kernel="mean")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Mean", self.dims, self.keepdim) if self.keepdim else T("Mean", self.dims)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """Like global average pooling (x.mean((2, 3)) is what `gap` runs): it keeps nothing, and its
        backward expands and divides the gradient."""
        return (mean_stage(numel(output), ctx),)
