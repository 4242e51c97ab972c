from __future__ import annotations

from typing import Any

from ..core.formula import Q, Step, input_elements, output_elements
from ..core.numbers import grouped
from ..core.shapes import Shape, numel
from ..core.symbolic import is_symbolic, nonzero
from .base import RF, Cells, Layer, SameShape, Warn, register
from .fields import (
    EXPRESSION,
    POSITIVE,
    FieldProblem,
    accepts,
    boolean,
    non_negative_int,
    number,
    positive_int,
    spec_field,
)
from .memory import (
    GRAD_OUT,
    Backward,
    Forward,
    MemoryContext,
    Op,
    Stage,
    Tensor,
    elementwise,
    is_permuted,
    like,
    part_strides,
    reshaped,
    view,
)
from .tensor import axis, dim_index
from .terms import ELEMENTWISE
from .torchspec import T, Torch


@register
class Flatten(Layer):
    op = "flatten"
    summary = "C×H×W → a vector of C·H·W"

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        return (numel(inputs[0]),)

    def explain_shape(self, inputs: list[Shape], output: Shape) -> list[Step]:
        if len(inputs[0]) != 3:
            return []
        return [Step("C_out", input_elements(inputs[0]), grouped(output[0]))]

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF:
        """Every feature of the vector depends on the whole map."""
        if len(inputs[0]) != 3:
            return fields[0]
        _, h, w = inputs[0]
        return (fields[0][0].whole(h), fields[0][1].whole(w))

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.Flatten", 1)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """x.flatten(1) is x.reshape: a view of a contiguous map (or of a channels-last 1×1 one), else a copy."""
        return (reshaped("flatten", ctx, inputs[0], output),)


@register
class Dropout(SameShape):
    op = "dropout"
    known_as = ("dropout2d", "spatial_dropout")
    summary = "dropout: identity at inference; `p` in [0, 1)"
    example = "- {op: dropout, p: 0.3}"

    p: float = spec_field(number(0, 1, high_open=True), 0.5, aliases=("rate",), doc="drop probability in [0, 1)")
    inplace: bool = spec_field(boolean, False, doc="zero the dropped elements in place (nn.Dropout(inplace=True))")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.Dropout", self.p, **({"inplace": True} if self.inplace else {}))

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """In training (p > 0) eager PyTorch on the CPU draws a mask of the input's type (empty_like,
        bernoulli_, div_) and multiplies: the mask is what backward keeps. (CUDA's fused kernel keeps a
        one-byte mask instead.) At inference, or with p = 0, it returns its input."""
        if not ctx.training or self.p == 0:
            return (view("dropout"),)
        mask = Op((Tensor("mask", numel(output)),))
        backward = Backward((Op((like("grad_in", 0),)),), ("grad_in",))
        if self.inplace:
            return (Stage("dropout", (0,), Forward((mask,), output=0, writes=True, saved=("mask",)), backward),)
        forward = Forward((mask, Op((Tensor("output", numel(output)),))), saved=("mask",))
        return (Stage("dropout", (0,), forward, backward),)


@register
class DropPath(SameShape):
    op = "drop_path"
    aliases = ("stochastic_depth",)
    summary = "stochastic depth: drops a whole residual branch in training; identity at inference"
    example = "- {op: drop_path, p: 0.1}"

    p: float = spec_field(number(0, 1, high_open=True), 0.0, aliases=("rate",), doc="drop probability in [0, 1)")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("StochasticDepth", self.p)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """torchvision's stochastic depth ("row"): in training one random scale per sample (N numbers of
        the input's type), kept for backward, times the input. At inference it returns its input."""
        if not ctx.training or self.p == 0:
            return (view("stochastic_depth"),)
        forward = Forward((Op((Tensor("noise", 1),)), Op((Tensor("output", numel(output)),))), saved=("noise",))
        return (Stage("stochastic_depth", (0,), forward, Backward((Op((like("grad_in", 0),)),), ("grad_in",)),
                      layout="input"),)


@register
class Identity(SameShape):
    op = "identity"
    known_as = ("noop", "passthrough")
    summary = "passes its input through"

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.Identity")

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        return (view("identity"),)


@register
class Contiguous(SameShape):
    op = "contiguous"
    summary = "x.contiguous(): a copy of a view that is not in order (a transposed map), else its input"
    example = "- {op: transpose, dims: [2, 3]}\n- {op: contiguous}"

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Contiguous")

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """Its input itself where that is contiguous; else a copy in order (aten's clone), whose gradient is
        the incoming one (CloneBackward hands it on)."""
        if not is_permuted(ctx, inputs[0]):
            return (view("contiguous"),)
        backward = Backward(grads=(GRAD_OUT,)) if ctx.training else None
        return (Stage("contiguous", (0,), Forward((Op((Tensor("output", numel(output)),)),)), backward),)


@register
class LayerScale(SameShape):
    op = "layer_scale"
    aliases = ("layerscale",)
    summary = "a learned scale per channel (ConvNeXt): C parameters"

    init: float = spec_field(number(), 1e-6, doc="initial value of the scales")
    bare: bool = spec_field(boolean, False, doc="export the scales as a bare parameter of the enclosing module "
                            "(state_dict key: the layer's module path, shape [C]; Ultralytics' A2C2f gamma)")

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        return Q("C", inputs[0][0])

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {ELEMENTWISE: output_elements(output)}

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        spatial = len(inputs[0]) - 1
        if self.bare:
            return T("BareScale", inputs[0][0], self.init)
        return T("LayerScale", inputs[0][0], self.init, spatial) if spatial != 2 else \
            T("LayerScale", inputs[0][0], self.init)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """`x * scale`: the product keeps x (for the scale's gradient) and the scale; backward multiplies
        twice, full size (the engine then sums the scale's down to C numbers). Under autocast x is 16-bit
        and the scale float32: the product is float32, and x's gradient is cast back to 16 bits."""
        c, n = inputs[0][0], numel(output)
        backward = Backward((Op((Tensor("grad_in", n),)), Op((Tensor("grad_scale", n),))), ("grad_in",),
                            (("scale", "grad_scale"),)) if ctx.training else None
        return (Stage("layer_scale", (0,), Forward((Op((Tensor("output", n),)),), saved=(0, "param:scale")),
                      backward, (("scale", c),), promotes=True, layout="input"),)


@register
class ChannelShuffle(Layer):
    op = "channel_shuffle"
    aliases = ("shuffle",)
    summary = "interleaves the channels of `groups` groups (ShuffleNet)"
    example = "- {op: channel_shuffle, groups: 2}"

    groups: int = spec_field(positive_int, doc="number of channel groups")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        c, _, _ = self.image(inputs[0])
        if nonzero(c % self.groups):
            self.fail(f"groups={self.groups} does not divide the {c} channels", "groups")
        return inputs[0]

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(filters=f"g={self.groups}")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.ChannelShuffle", self.groups)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """A shuffled copy; it keeps nothing, and backward shuffles the gradient back (a copy)."""
        return (elementwise("channel_shuffle", numel(output), None, ctx.training),)


@accepts({"type": "array", "items": {"anyOf": [POSITIVE, EXPRESSION]}, "minItems": 2})
def split_sizes(value: Any) -> tuple[int, ...]:
    """`[64, 64, 128]`: the sizes of the parts, in order."""
    if not isinstance(value, list) or len(value) < 2:
        raise FieldProblem("must be a list of two or more sizes, e.g. [16, 48]")
    return tuple(positive_int(size) for size in value)


@register
class ChannelSplit(Layer):
    op = "channel_split"
    aliases = ("split",)
    summary = ("one part of the channels (or of the axis `dim`): of `parts` equal ones (ShuffleNetV2's "
               "x.chunk(2, dim=1)) or of the `sizes` given (x.split([16, 48], dim=1))")
    example = "- {op: channel_split, index: 1}\n- {op: split, sizes: [5, 6], index: 0, dim: -1}"

    index: int = spec_field(non_negative_int, doc="which part, from 0")
    parts: int | None = spec_field(positive_int, None, doc="number of equal parts (2 unless `sizes` is given)",
                                   default_text="2")
    sizes: tuple[int, ...] | None = spec_field(split_sizes, None, doc="the sizes of unequal parts")
    dim: int = spec_field(dim_index, 1, doc="the axis, numbered as in PyTorch: 1 is the channels")

    def check(self) -> None:
        if self.parts is not None and self.sizes is not None:
            self.fail("give 'parts' (equal parts) or 'sizes', not both", "sizes")
        count = len(self.sizes) if self.sizes is not None else self.parts or 2
        if self.index >= count:
            self.fail(f"index {self.index} is not below the {count} parts", "index")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        index = axis(self, self.dim, len(inputs[0]))
        size = inputs[0][index]
        shape = list(inputs[0])
        if self.sizes is not None:
            if not is_symbolic(size) and sum(self.sizes) != size:
                self.fail(f"the sizes {list(self.sizes)} add up to {sum(self.sizes)}, not to the {size} of the input",
                          "sizes")
            shape[index] = self.sizes[self.index]
            return tuple(shape)
        parts = self.parts or 2
        if nonzero(size % parts):
            self.fail(f"parts={parts} does not divide the {size} {'channels' if index == 0 else 'positions'}",
                      "parts")
        shape[index] = size // parts
        return tuple(shape)

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        """The channels' parts keep the field; a part along H or W is a crop: its first position is
        the input's `start` (the sizes of the parts before it), and the centre moves with it."""
        index = axis(self, self.dim, len(inputs[0]))
        if index == 0:
            return fields[0]
        start = sum(self.sizes[:self.index]) if self.sizes is not None else output[index] * self.index
        if len(inputs[0]) != 3 or is_symbolic(start):
            return None
        field = fields[0][index - 1].cropped(start)
        return (field, fields[0][1]) if index == 1 else (fields[0][0], field)

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        count = len(self.sizes) if self.sizes is not None else self.parts or 2
        return Cells(filters=f"{self.index + 1}/{count}")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        extra: dict[str, Any] = {"dim": self.dim} if self.dim != 1 else {}
        if self.sizes is not None:
            return T("ChannelSplit", self.index, sizes=self.sizes, **extra)
        return T("ChannelSplit", self.index, self.parts or 2, **extra)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """`x.chunk(parts)[index]` (or `x.split(sizes)[index]`) is a view. Its backward fills the other
        parts' gradients with zeros and concatenates: a gradient of the whole input."""
        index = axis(self, self.dim, len(inputs[0]))
        sizes = self.sizes or (inputs[0][index] // (self.parts or 2),) * (self.parts or 2)
        others = [numel(inputs[0]) // inputs[0][index] * size for k, size in enumerate(sizes) if k != self.index]
        zeros = tuple(f"zeros{k}" for k in range(len(others)))
        ops = (*(Op((Tensor(name, part),)) for name, part in zip(zeros, others)),
               Op((like("grad_in", 0),), frees=zeros))
        return (Stage("split", (0,), Forward(output=0), Backward(ops, ("grad_in",)) if ctx.training else None,
                      strides=part_strides(ctx, inputs[0], output)),)
