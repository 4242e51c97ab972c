from __future__ import annotations

from ..conventions import ACTIVATION, SOFTMAX_ADDS
from ..fields import Field, number
from ..formula import Q, output_elements
from ..torchspec import T
from .base import SameShape, register


class Activation(SameShape):
    """An elementwise nonlinearity: the shape passes through, no parameters."""

    torch_class = ""  # the torch module it lowers to

    def costs(self, inputs, output):
        """Every activation counts under ACTIVATION and under its own op name (conventions.ACTIVATIONS)."""
        elements = output_elements(output)
        return {ACTIVATION: elements, self.op: elements}

    def torch_args(self) -> tuple:
        return ()

    def lowering(self, inputs, output):
        return T(self.torch_class, *self.torch_args())


@register
class ReLU(Activation):
    op = "relu"
    summary = "max(0, x)"
    torch_class = "nn.ReLU"


@register
class LeakyReLU(Activation):
    op = "leaky_relu"
    aliases = ("leakyrelu",)
    summary = "x if x > 0 else slope·x"
    fields = (Field("slope", number(0), 0.01, aliases=("negative_slope",), doc="slope for x < 0"),)
    torch_class = "nn.LeakyReLU"

    def torch_args(self) -> tuple:
        return (self.slope,)


@register
class Sigmoid(Activation):
    op = "sigmoid"
    summary = "1 / (1 + e^-x)"
    torch_class = "nn.Sigmoid"


@register
class Tanh(Activation):
    op = "tanh"
    summary = "hyperbolic tangent"
    torch_class = "nn.Tanh"


@register
class ELU(Activation):
    op = "elu"
    summary = "x if x > 0 else alpha·(e^x - 1)"
    fields = (Field("alpha", number(0), 1.0, doc="scale for x < 0"),)
    torch_class = "nn.ELU"

    def torch_args(self) -> tuple:
        return (self.alpha,)


@register
class GELU(Activation):
    op = "gelu"
    summary = "x·Φ(x)"
    torch_class = "nn.GELU"


@register
class SiLU(Activation):
    op = "silu"
    aliases = ("swish",)
    summary = "x·sigmoid(x)"
    torch_class = "nn.SiLU"


@register
class Softmax(Activation):
    op = "softmax"
    summary = "softmax over the channels (the features of a vector)"
    torch_class = "Softmax2d"

    def costs(self, inputs, output):
        """The sum of C exponentials at each position needs C - 1 additions."""
        terms = super().costs(inputs, output)
        positions = [Q(name, size) for name, size in zip(("H", "W"), output[1:])]
        adds = (Q("C", output[0]) - 1).grouped() if positions else Q("C", output[0]) - 1
        for factor in positions:
            adds = adds * factor
        terms[SOFTMAX_ADDS] = adds
        return terms


@register
class ReLU6(Activation):
    op = "relu6"
    summary = "min(max(0, x), 6)"
    torch_class = "nn.ReLU6"


@register
class Hardswish(Activation):
    op = "hardswish"
    aliases = ("hard_swish", "hswish")
    summary = "x·relu6(x + 3)/6 (MobileNetV3)"
    torch_class = "nn.Hardswish"


@register
class Hardsigmoid(Activation):
    op = "hardsigmoid"
    aliases = ("hard_sigmoid", "hsigmoid")
    summary = "relu6(x + 3)/6 (MobileNetV3's gates)"
    torch_class = "nn.Hardsigmoid"
