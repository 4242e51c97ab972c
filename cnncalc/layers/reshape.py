from __future__ import annotations

from typing import Any

from ..core.formula import Q, Step, input_elements, output_elements
from ..core.numbers import grouped
from ..core.shapes import Shape, numel
from ..core.symbolic import nonzero
from .base import RF, Cells, Layer, SameShape, Warn, register
from .fields import non_negative_int, number, positive_int, spec_field
from .terms import ELEMENTWISE
from .torchspec import T, Torch


@register
class Flatten(Layer):
    op = "flatten"
    known_as = ("reshape", "view")
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


@register
class Dropout(SameShape):
    op = "dropout"
    known_as = ("dropout2d", "spatial_dropout")
    summary = "dropout: identity at inference; `p` in [0, 1)"
    example = "- {op: dropout, p: 0.3}"

    p: float = spec_field(number(0, 1, high_open=True), 0.5, aliases=("rate",), doc="drop probability in [0, 1)")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.Dropout", self.p)


@register
class DropPath(SameShape):
    op = "drop_path"
    aliases = ("stochastic_depth",)
    summary = "stochastic depth: drops a whole residual branch in training; identity at inference"
    example = "- {op: drop_path, p: 0.1}"

    p: float = spec_field(number(0, 1, high_open=True), 0.0, aliases=("rate",), doc="drop probability in [0, 1)")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.Identity")  # stochastic depth is the identity at inference


@register
class Identity(SameShape):
    op = "identity"
    known_as = ("noop", "passthrough")
    summary = "passes its input through"

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.Identity")


@register
class LayerScale(SameShape):
    op = "layer_scale"
    aliases = ("layerscale",)
    summary = "a learned scale per channel (ConvNeXt): C parameters"

    init: float = spec_field(number(), 1e-6, doc="initial value of the scales")

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        return Q("C", inputs[0][0])

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {ELEMENTWISE: output_elements(output)}

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        spatial = len(inputs[0]) - 1
        return T("LayerScale", inputs[0][0], self.init, spatial) if spatial != 2 else \
            T("LayerScale", inputs[0][0], self.init)


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


@register
class ChannelSplit(Layer):
    op = "channel_split"
    aliases = ("split",)
    summary = "one of `parts` equal slices of the channels (ShuffleNetV2's x.chunk(2, dim=1))"
    example = "- {op: channel_split, index: 1}"

    index: int = spec_field(non_negative_int, doc="which slice, from 0")
    parts: int = spec_field(positive_int, 2, doc="number of equal slices")

    def check(self) -> None:
        if self.index >= self.parts:
            self.fail(f"index {self.index} is not below parts={self.parts}", "index")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        c = inputs[0][0]
        if nonzero(c % self.parts):
            self.fail(f"parts={self.parts} does not divide the {c} channels", "parts")
        return (c // self.parts, *inputs[0][1:])

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("ChannelSplit", self.index, self.parts)
