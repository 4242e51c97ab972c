from __future__ import annotations

from ..conventions import ELEMENTWISE
from ..fields import Field, non_negative_int, number, positive_int
from ..formula import Q, Step, input_elements, output_elements
from ..shapes import numel
from ..symbolic import nonzero
from ..units import grouped
from ..torchspec import T
from .base import Cells, Layer, SameShape, register


@register
class Flatten(Layer):
    op = "flatten"
    summary = "C×H×W -> C·H·W vector"

    def output_shape(self, inputs, warn):
        return (numel(inputs[0]),)

    def explain_shape(self, inputs, output):
        if len(inputs[0]) != 3:
            return []
        return [Step("C_out", input_elements(inputs[0]), grouped(output[0]))]

    def receptive_field(self, fields, inputs, output):
        """Every feature of the vector depends on the whole map."""
        if len(inputs[0]) != 3:
            return fields[0]
        _, h, w = inputs[0]
        return (fields[0][0].whole(h), fields[0][1].whole(w))

    def lowering(self, inputs, output):
        return T("nn.Flatten", 1)


@register
class Dropout(SameShape):
    op = "dropout"
    summary = "dropout (identity at inference; no parameters)"
    fields = (Field("p", number(0, 1, high_open=True), 0.5, aliases=("rate",), doc="drop probability in [0, 1)"),)

    def lowering(self, inputs, output):
        return T("nn.Dropout", self.p)


@register
class DropPath(SameShape):
    op = "drop_path"
    aliases = ("stochastic_depth",)
    summary = "stochastic depth: drops a whole residual branch in training; identity at inference"
    fields = (Field("p", number(0, 1, high_open=True), 0.0, aliases=("rate",), doc="drop probability in [0, 1)"),)

    def lowering(self, inputs, output):
        return T("nn.Identity")  # stochastic depth is the identity at inference


@register
class Identity(SameShape):
    op = "identity"
    summary = "passes its input through unchanged"

    def lowering(self, inputs, output):
        return T("nn.Identity")


@register
class LayerScale(SameShape):
    op = "layer_scale"
    aliases = ("layerscale",)
    summary = "a learned scale per channel (ConvNeXt): C parameters"
    fields = (Field("init", number(), 1e-6, doc="initial value of the scales"),)

    def params(self, inputs, output):
        return Q("C", inputs[0][0])

    def costs(self, inputs, output):
        return {ELEMENTWISE: output_elements(output)}

    def lowering(self, inputs, output):
        return T("LayerScale", inputs[0][0], self.init)


@register
class ChannelShuffle(Layer):
    op = "channel_shuffle"
    aliases = ("shuffle",)
    summary = "interleaves the channels of `groups` groups (ShuffleNet)"
    fields = (Field("groups", positive_int, doc="number of channel groups"),)

    def output_shape(self, inputs, warn):
        c, _, _ = self.image(inputs[0])
        if nonzero(c % self.groups):
            self.fail(f"groups={self.groups} does not divide the {c} channels", "groups")
        return inputs[0]

    def cells(self, inputs, output):
        return Cells(filters=f"g={self.groups}")

    def lowering(self, inputs, output):
        return T("nn.ChannelShuffle", self.groups)


@register
class ChannelSplit(Layer):
    op = "channel_split"
    aliases = ("split",)
    summary = "one of `parts` equal slices of the channels (ShuffleNetV2's x.chunk(2, dim=1))"
    fields = (
        Field("index", non_negative_int, doc="which slice, from 0"),
        Field("parts", positive_int, 2, doc="number of equal slices"),
    )

    def check(self) -> None:
        if self.index >= self.parts:
            self.fail(f"index {self.index} is not below parts={self.parts}", "index")

    def output_shape(self, inputs, warn):
        c = inputs[0][0]
        if nonzero(c % self.parts):
            self.fail(f"parts={self.parts} does not divide the {c} channels", "parts")
        return (c // self.parts, *inputs[0][1:])

    def lowering(self, inputs, output):
        return T("ChannelSplit", self.index, self.parts)
