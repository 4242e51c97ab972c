from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any

from ..core.formula import Formula, Q, bracket, deriving, kernel_factors, output_elements
from ..core.shapes import Shape, numel
from ..core.symbolic import nonzero
from .base import Cells, FusedActivation, Warn, fused_activation_names, register
from .fields import Padding, boolean, choice, format_pair, padding, positive_int, positive_pair, spec_field
from .memory import MemoryContext, Stage, stage_output, weighted
from .sliding import SlidingWindow
from .terms import BIAS, MAC, OUTPUT_MAC, PARAM_POSITIONS
from .torchspec import T, Torch


@register
class Conv(SlidingWindow, FusedActivation):
    op = "conv"
    aliases = ("conv2d",)
    known_as = ("convolution", "convolution2d")
    summary = "2-D convolution; `groups: C` is depthwise; `act:` fuses an activation that adds no table row"
    example = "- {op: conv, out: 6, kernel: [3, 5], stride: 2, pad: same, groups: 2, dilation: 1, act: relu}"

    out: int = spec_field(positive_int, aliases=("filters", "out_channels"), doc="output channels C_out")
    kernel: tuple[int, int] = spec_field(positive_pair, aliases=("kernel_size",), doc="K, or [K_h, K_w]")
    stride: tuple[int, int] = spec_field(positive_pair, (1, 1), doc="S, or [S_h, S_w]")
    pad: Padding = spec_field(padding, padding(0), aliases=("padding",), doc="P, [P_h, P_w], same or valid")
    dilation: tuple[int, int] = spec_field(positive_pair, (1, 1), doc="D, or [D_h, D_w]")
    groups: int = spec_field(positive_int, 1, doc="channel groups; C_in and C_out must be multiples")
    bias: bool = spec_field(boolean, True, doc="whether the layer adds a bias per output channel")
    act: str | None = spec_field(choice(fused_activation_names), None, doc="fused activation (adds no table row)")
    frozen: bool = spec_field(boolean, False, doc="its weights take no gradient (YOLO's DFL): still parameters")
    act_inplace: bool = spec_field(boolean, False, doc="the fused activation works in place (nn.ReLU(inplace=True))")

    def check(self) -> None:
        if self.groups != 1 and nonzero(self.out % self.groups):
            self.fail(f"groups={self.groups} does not divide the {self.out} output channels", "groups")
        if self.act_inplace:  # check_act_inplace, called only when it has something to check
            self.check_act_inplace()

    def check_channels(self, channels: Any) -> None:
        if self.groups != 1 and nonzero(channels % self.groups):
            self.fail(f"groups={self.groups} does not divide the {channels} input channels", "groups")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        return self.window_shape(inputs, warn, self.out)

    def _per_filter(self, inputs: list[Shape]) -> Formula:
        """Weights one output element reads: (C_in / G) × K × K."""
        c_in = Q("C_in", inputs[0][0])
        channels = c_in // Q("G", self.groups) if self.groups != 1 else c_in
        kh, kw = kernel_factors(self.kernel)
        return channels * kh * kw

    def params(self, inputs: list[Shape], output: Shape) -> Formula:
        if not deriving():
            return self._plain_counts(inputs)[1]
        return self._params(self._per_filter(inputs))

    def _plain_counts(self, inputs: list[Shape]) -> tuple[Any, Any]:
        """The weights one output element reads and the parameters, as _per_filter and _params compute
        them (the same operations in the same order), without naming the quantities: the engine's path."""
        c_in = inputs[0][0]
        kh, kw = self.kernel
        per_filter = (c_in // self.groups if self.groups != 1 else c_in) * kh * kw
        c_out = self.out
        return per_filter, (c_out * per_filter + c_out if self.bias else c_out * per_filter)

    def _params(self, per_filter: Formula) -> Formula:
        c_out = Q("C_out", self.out)
        return c_out * per_filter + c_out if self.bias else c_out * per_filter

    def figures(self, inputs: list[Shape], output: Shape,
                weighed: AbstractSet[str] | None) -> tuple[Any, Any, dict[str, Any]]:
        """Layer.figures, the parameters computed once for them and for the cost terms."""
        if deriving():
            return super().figures(inputs, output, weighed)
        per_filter, params = self._plain_counts(inputs)
        outputs: Any = math.prod(output)
        mac = outputs * per_filter
        terms = {MAC: mac, OUTPUT_MAC: mac, PARAM_POSITIONS: params * output[1] * output[2]}
        if self.bias:
            terms[BIAS] = outputs
        if self.act is not None:
            self.with_activation_costs(terms, output, weighed)
        return params, 0, terms

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        if not deriving():
            return self.figures(inputs, output, None)[2]
        outputs = output_elements(output)
        per_filter = self._per_filter(inputs)
        mac = bracket(outputs) * bracket(per_filter)
        positions = bracket(self._params(per_filter)) * Q("H'", output[1]) * Q("W'", output[2])
        terms = {MAC: mac, OUTPUT_MAC: mac, PARAM_POSITIONS: positions}
        if self.bias:
            terms[BIAS] = outputs
        return self.with_activation_costs(terms, output)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        conv = self.padded(inputs, lambda pad: T("nn.Conv2d", inputs[0][0], self.out, kernel_size=self.kernel,
                                                 stride=self.stride, padding=pad, dilation=self.dilation,
                                                 groups=self.groups, bias=self.bias), 0.0)
        return self.with_activation(replace(conv, frozen=True) if self.frozen else conv, output)

    def param_tensors(self, inputs: list[Shape]) -> tuple[tuple[str, int], ...]:
        c_in, (kh, kw) = inputs[0][0], self.kernel
        weight = ("weight", self.out * (c_in // self.groups) * kh * kw)
        return (weight, ("bias", self.out)) if self.bias else (weight,)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """It keeps its input (the padded copy after an explicit pad). A conv on a channels-last input
        (after a LayerNorm over the channels) gives a channels-last weight gradient, which AccumulateGrad
        copies into the weight's layout when the weight has several input channels and a K > 1 kernel."""
        pad = self.padding_stages(inputs, ctx)
        kh, kw = self.kernel
        clone = ctx.channels_last[0] and inputs[0][0] // self.groups > 1 and kh * kw > 1
        conv = weighted("conv", stage_output(0) if pad else 0, numel(output), self.param_tensors(inputs),
                        ctx.training, clone_weight_grad=clone, frozen=self.frozen)
        return self.with_activation_memory((*pad, conv), output, ctx)

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        """Groups and dilation show only when used: `256 g2` filters, a `3 d2` kernel."""
        filters = f"{self.out} g{self.groups}" if self.groups != 1 else str(self.out)
        kernel = format_pair(self.kernel)
        if self.dilation != (1, 1):
            kernel += f" d{format_pair(self.dilation)}"
        return Cells(filters, kernel, format_pair(self.stride), self.pad.text)
