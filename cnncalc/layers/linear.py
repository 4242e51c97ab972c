from __future__ import annotations

from ..conventions import BIAS, MAC, OUTPUT_MAC, PARAM_POSITIONS
from ..fields import Field, boolean, choice, positive_int
from ..formula import Q
from ..shapes import describe
from ..torchspec import T
from .base import REGISTRY, Cells, Layer, fused_activation_names, register


@register
class Linear(Layer):
    op = "linear"
    aliases = ("fc", "dense")
    summary = "fully connected layer on a flat vector, with an optional fused activation"
    fields = (
        Field("out", positive_int, aliases=("out_features", "units"), doc="output features"),
        Field("bias", boolean, True, doc="whether the layer adds a bias per output"),
        Field("act", choice(fused_activation_names), None, doc="fused activation (adds no table row)"),
    )

    def output_shape(self, inputs, warn):
        if len(inputs[0]) != 1:
            self.fail(f"{self.op} needs a flat vector, but its input is {describe(inputs[0])}",
                      hint="add '- op: flatten' (or a global pooling and a flatten) before it")
        return (self.out,)

    def params(self, inputs, output):
        weights = Q("C_in", inputs[0][0]) * Q("C_out", self.out)
        return weights + Q("C_out", self.out) if self.bias else weights

    def costs(self, inputs, output):
        mac = Q("C_in", inputs[0][0]) * Q("C_out", self.out)
        terms = {MAC: mac, OUTPUT_MAC: mac, PARAM_POSITIONS: self.params(inputs, output)}
        if self.bias:
            terms[BIAS] = Q("C_out", self.out)
        if self.act:  # the fused activation's own terms, as a standalone layer reports them
            terms.update(REGISTRY[self.act](f"{self.name}.act").costs([output], output))
        return terms

    def lowering(self, inputs, output):
        return self.with_activation(T("nn.Linear", inputs[0][0], self.out, bias=self.bias), output)

    def cells(self, inputs, output):
        return Cells(filters=str(self.out))
