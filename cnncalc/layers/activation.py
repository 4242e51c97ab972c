from __future__ import annotations

from typing import Any, ClassVar

from ..core.formula import Formula, Q, axis_names, output_elements
from ..core.shapes import Shape
from .base import SameShape, register
from .fields import number, spec_field
from .tensor import axis, dim_index
from .terms import ACTIVATION, SOFTMAX_ADDS
from .torchspec import T, Torch


class Activation(SameShape):
    """An elementwise nonlinearity: the shape passes through, no parameters. Usable standalone or
    as a conv's or linear's fused `act:`."""

    is_activation = True
    torch_class: ClassVar[str] = ""  # the torch module it lowers to
    term: ClassVar[str]  # its own cost term, named after its op: the peer tools weigh activations apart

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "op" in vars(cls):
            cls.term = cls.op

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """Every activation counts under ACTIVATION and under its own term."""
        elements = output_elements(output)
        return {ACTIVATION: elements, self.term: elements}

    def torch_args(self) -> tuple[Any, ...]:
        return ()

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T(self.torch_class, *self.torch_args())


@register
class ReLU(Activation):
    op = "relu"
    known_as = ("rectifier", "rectified_linear")
    summary = "max(0, x)"
    torch_class = "nn.ReLU"


@register
class LeakyReLU(Activation):
    op = "leaky_relu"
    aliases = ("leakyrelu",)
    summary = "x if x > 0 else slope·x"
    torch_class = "nn.LeakyReLU"

    slope: float = spec_field(number(0), 0.01, aliases=("negative_slope",), doc="slope for x < 0")

    def torch_args(self) -> tuple[Any, ...]:
        return (self.slope,)


@register
class Sigmoid(Activation):
    op = "sigmoid"
    known_as = ("logistic",)
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
    torch_class = "nn.ELU"

    alpha: float = spec_field(number(0), 1.0, doc="scale for x < 0")

    def torch_args(self) -> tuple[Any, ...]:
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
    summary = "softmax over the channels (the features of a vector), or over the axis `dim`"
    torch_class = "Softmax2d"

    dim: int = spec_field(dim_index, 1, doc="the axis, numbered as in PyTorch: 1 is the channels")

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """The sum of N exponentials along the axis needs N - 1 additions at each other position."""
        terms = super().costs(inputs, output)
        index = axis(self, self.dim, len(output))
        names = axis_names(len(output))
        along = Q(names[index], output[index]) - 1
        others = [Q(name, size) for i, (name, size) in enumerate(zip(names, output)) if i != index]
        adds: Formula = along.bracketed() if others else along
        for factor in others:
            adds = adds * factor
        terms[SOFTMAX_ADDS] = adds
        return terms

    def torch_args(self) -> tuple[Any, ...]:
        return (self.dim,) if self.dim != 1 else ()


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
