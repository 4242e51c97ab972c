from __future__ import annotations

from ..fields import Field, number
from ..shapes import numel
from .base import Layer, register


@register
class Flatten(Layer):
    op = "flatten"
    summary = "C×H×W -> C·H·W vector"

    def output_shape(self, inputs, warn):
        return (numel(inputs[0]),)


@register
class Dropout(Layer):
    op = "dropout"
    summary = "dropout (identity at inference; no parameters)"
    fields = (Field("p", number(0, 1, high_open=True), 0.5, aliases=("rate",), doc="drop probability in [0, 1)"),)

    def output_shape(self, inputs, warn):
        return inputs[0]
