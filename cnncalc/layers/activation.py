from __future__ import annotations

from typing import Any, ClassVar

from ..core.formula import Formula, Q, axis_names, bracket, output_elements
from ..core.shapes import Shape, numel
from .base import SameShape, register
from .fields import boolean, number, spec_field
from .memory import Backward, Forward, MemoryContext, Op, Stage, Tensor, elementwise, like
from .tensor import axis, dim_index
from .terms import ACTIVATION, SOFTMAX_ADDS
from .torchspec import T, Torch


class Activation(SameShape):
    """An elementwise nonlinearity: the shape passes through, no parameters. Usable standalone or
    as a conv's or linear's fused `act:`."""

    is_activation = True
    torch_class: ClassVar[str] = ""  # the torch module it lowers to
    term: ClassVar[str]  # its own cost term, named after its op: the peer tools weigh activations apart
    saves: ClassVar[str] = "input"  # what its backward needs (PyTorch's derivatives.yaml): "input" or "output"
    inplace: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "op" in vars(cls):
            cls.term = cls.op
            if "cost_terms" not in vars(cls):  # what costs() reports (FusedActivation leaves them out unweighed)
                cls.cost_terms = (ACTIVATION, cls.op)

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """Every activation counts under ACTIVATION and under its own term."""
        elements = output_elements(output)
        return {ACTIVATION: elements, self.term: elements}

    def torch_args(self) -> tuple[Any, ...]:
        return ()

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T(self.torch_class, *self.torch_args(), **({"inplace": True} if self.inplace else {}))

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """Out of place: its output, keeping its input or its output. In place see InPlaceActivation."""
        return (elementwise(self.op, numel(output), self.saves, ctx.training),)


class InPlaceActivation(Activation):
    """An activation torch can run in place (`inplace: true`, torchvision's habit). ReLU, LeakyReLU
    and ELU then keep their output, which is their input's storage: nothing new. The others' backward
    needs the input, which the in-place op overwrites, so autograd clones it first (`original_self`):
    in training an in-place ReLU6, SiLU, Hardswish or Hardsigmoid costs as much as an out-of-place one."""

    clones: ClassVar[bool] = True  # in training, in place it keeps a clone of its input
    inplace: bool = spec_field(boolean, False, doc="work in place on its input (nn.ReLU(inplace=True))")

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        if not self.inplace:
            return super().memory(inputs, output, ctx)
        backward = Backward((Op((like("grad_in", 0),)),), ("grad_in",)) if ctx.training else None
        if ctx.training and self.clones and ctx.requires_grad[0]:
            clone = Forward((Op((Tensor("original", numel(output)),)),), output=0, writes=True, saved=("original",))
            return (Stage(self.op, (0,), clone, backward, layout="input"),)
        return (Stage(self.op, (0,), Forward(output=0, writes=True, saved=(0,)), backward, layout="input"),)


@register
class ReLU(InPlaceActivation):
    op = "relu"
    known_as = ("rectifier", "rectified_linear")
    summary = "max(0, x)"
    torch_class = "nn.ReLU"
    saves = "output"
    clones = False


@register
class LeakyReLU(InPlaceActivation):
    op = "leaky_relu"
    aliases = ("leakyrelu",)
    summary = "x if x > 0 else slope·x"
    torch_class = "nn.LeakyReLU"
    clones = False  # in place its backward reads the output (LeakyReluBackward1)

    slope: float = spec_field(number(0), 0.01, aliases=("negative_slope",), doc="slope for x < 0")

    def torch_args(self) -> tuple[Any, ...]:
        return (self.slope,)


@register
class Sigmoid(Activation):
    op = "sigmoid"
    known_as = ("logistic",)
    summary = "1 / (1 + e^-x)"
    torch_class = "nn.Sigmoid"
    saves = "output"


@register
class Tanh(Activation):
    op = "tanh"
    summary = "hyperbolic tangent"
    torch_class = "nn.Tanh"
    saves = "output"


@register
class ELU(InPlaceActivation):
    op = "elu"
    summary = "x if x > 0 else alpha·(e^x - 1)"
    torch_class = "nn.ELU"
    clones = False  # in place its backward reads the output (EluBackward1)

    alpha: float = spec_field(number(0), 1.0, doc="scale for x < 0")

    def torch_args(self) -> tuple[Any, ...]:
        return (self.alpha,)


@register
class GELU(Activation):
    op = "gelu"
    summary = "x·Φ(x)"
    torch_class = "nn.GELU"


@register
class SiLU(InPlaceActivation):
    op = "silu"
    aliases = ("swish",)
    summary = "x·sigmoid(x)"
    torch_class = "nn.SiLU"


@register
class Softmax(Activation):
    op = "softmax"
    summary = "softmax over the channels (the features of a vector), or over the axis `dim`"
    torch_class = "Softmax2d"
    saves = "output"
    cost_terms = (ACTIVATION, "softmax", SOFTMAX_ADDS)

    dim: int = spec_field(dim_index, 1, doc="the axis, numbered as in PyTorch: 1 is the channels")

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """The sum of N exponentials along the axis needs N - 1 additions at each other position."""
        terms = super().costs(inputs, output)
        index = axis(self, self.dim, len(output))
        names = axis_names(len(output))
        along = Q(names[index], output[index]) - 1
        others = [Q(name, size) for i, (name, size) in enumerate(zip(names, output)) if i != index]
        adds: Formula = bracket(along) if others else along
        for factor in others:
            adds = adds * factor
        terms[SOFTMAX_ADDS] = adds
        return terms

    def torch_args(self) -> tuple[Any, ...]:
        return (self.dim,) if self.dim != 1 else ()


@register
class ReLU6(InPlaceActivation):
    op = "relu6"
    summary = "min(max(0, x), 6)"
    torch_class = "nn.ReLU6"


@register
class Hardswish(InPlaceActivation):
    op = "hardswish"
    aliases = ("hard_swish", "hswish")
    summary = "x·relu6(x + 3)/6 (MobileNetV3)"
    torch_class = "nn.Hardswish"


@register
class Hardsigmoid(InPlaceActivation):
    op = "hardsigmoid"
    aliases = ("hard_sigmoid", "hsigmoid")
    summary = "relu6(x + 3)/6 (MobileNetV3's gates)"
    torch_class = "nn.Hardsigmoid"
