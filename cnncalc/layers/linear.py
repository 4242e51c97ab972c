from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..core.formula import Formula, Q, product
from ..core.shapes import Shape, is_sequence, numel, shape_list
from .base import Cells, FusedActivation, Warn, fused_activation_names, register
from .fields import boolean, choice, positive_int, spec_field
from .memory import Forward, MemoryContext, Op, Stage, Tensor, is_permuted, weighted
from .terms import BIAS, MAC, OUTPUT_MAC, PARAM_POSITIONS
from .torchspec import T, Torch


@register
class Linear(FusedActivation):
    op = "linear"
    aliases = ("fc", "dense")
    known_as = ("fully_connected", "fullyconnected", "inner_product", "innerproduct", "gemm")
    summary = ("fully connected, on a vector (flatten first) or at every position of an [L, D] sequence "
               "(nn.Linear on tokens); `act:` fuses an activation")
    example = "- {op: flatten}\n- {op: linear, out: 7, act: gelu}\n- {op: batchnorm, affine: false}"

    out: int = spec_field(positive_int, aliases=("out_features", "units"), doc="output features")
    bias: bool = spec_field(boolean, True, doc="whether the layer adds a bias per output")
    act: str | None = spec_field(choice(fused_activation_names), None, doc="fused activation (adds no table row)")
    act_inplace: bool = spec_field(boolean, False, doc="the fused activation works in place (nn.ReLU(inplace=True))")

    def check(self) -> None:
        self.check_act_inplace()

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        if len(inputs[0]) not in (1, 2):
            self.fail(f"{self.op} needs a flat vector or an [L, D] sequence, but its input is {shape_list(inputs[0])}",
                      hint="add '- op: flatten' (or a global pooling and a flatten) before it")
        return (*inputs[0][:-1], self.out)

    @staticmethod
    def _features(inputs: list[Shape]) -> tuple[str, str]:
        """The names of the features in and out: C_in and C_out of a vector, D and D' of a sequence's tokens."""
        return ("D", "D'") if is_sequence(inputs[0]) else ("C_in", "C_out")

    def params(self, inputs: list[Shape], output: Shape) -> Formula:
        features_in, features_out = self._features(inputs)
        weights = Q(features_in, inputs[0][-1]) * Q(features_out, self.out)
        return weights + Q(features_out, self.out) if self.bias else weights

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """On a sequence, the vector's work at each of its L positions; torchinfo counts the parameters once."""
        positions = [Q("L", inputs[0][0])] if is_sequence(inputs[0]) else []
        features_in, features_out = self._features(inputs)
        mac = product([*positions, Q(features_in, inputs[0][-1]), Q(features_out, self.out)])
        terms = {MAC: mac, OUTPUT_MAC: mac, PARAM_POSITIONS: self.params(inputs, output)}
        if self.bias:
            terms[BIAS] = product([*positions, Q(features_out, self.out)])
        return self.with_activation_costs(terms, output)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return self.with_activation(T("nn.Linear", inputs[0][-1], self.out, bias=self.bias), output)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """addmm (mm without a bias) keeps its input (a sequence viewed as [N·L, D]); backward: one op per
        gradient (mm, mm, sum). A sequence that is not contiguous (a transposed map) cannot be viewed so:
        torch.matmul copies it (the copy is kept for the weight's gradient, else freed after the product) and
        the bias is added to the product out of place."""
        params = (("weight", inputs[0][-1] * self.out), *((("bias", self.out),) if self.bias else ()))
        stage = weighted("linear", 0, numel(output), params, ctx.training, separate_grads=True, layout="contiguous")
        if len(inputs[0]) == 2 and is_permuted(ctx, inputs[0]):
            copy = Op((Tensor("copy", numel(inputs[0])),))
            product = Op((Tensor("mm", numel(output)),), () if ctx.training else ("copy",))
            ops = (copy, product, Op((Tensor("output", numel(output)),), ("mm",))) if self.bias else \
                (copy, Op((Tensor("output", numel(output)),), () if ctx.training else ("copy",)))
            stage = replace(stage, forward=Forward(ops, saved=("copy", "param:weight")))
        return self.with_activation_memory((stage,), output, ctx)

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(filters=str(self.out))
