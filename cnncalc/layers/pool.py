from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from ..core.formula import bracket, input_elements, kernel_factors, output_elements
from ..core.shapes import Shape, numel
from .base import RF, Cells, Layer, Warn, register
from .fields import Padding, boolean, format_pair, padding, positive_pair, spec_field
from .memory import MemoryContext, Stage, elementwise, max_pool_stage, mean_stage, stage_output
from .sliding import SlidingWindow
from .terms import ADAPTIVE_AVERAGE, ADAPTIVE_INPUT, AVERAGE, POOL_INPUT, WINDOW
from .torchspec import T, Torch


class Pool(SlidingWindow):
    """Max or average pooling over K_h×K_w windows; the stride defaults to the kernel."""

    torch_class: ClassVar[str]
    pad_value: ClassVar[float]  # what fills an asymmetric padding before the window

    kernel: tuple[int, int] = spec_field(positive_pair, aliases=("kernel_size",), doc="K, or [K_h, K_w]")
    stride: tuple[int, int] = spec_field(positive_pair, None, doc="S, or [S_h, S_w]; defaults to the kernel",
                                         default_text="kernel")
    pad: Padding = spec_field(padding, padding(0), aliases=("padding",), doc="P, [P_h, P_w], same or valid")
    ceil: bool = spec_field(boolean, False, aliases=("ceil_mode",),
                            doc="round the output size up (Caffe, PyTorch ceil_mode)")

    def check(self) -> None:
        if self.stride is None:
            self.stride = self.kernel
        if self.pad.mode == "explicit" and any(2 * p > k for p, k in zip(self.pad.amount, self.kernel)):
            self.fail(f"padding {self.pad} is more than half the kernel {format_pair(self.kernel)}", "pad")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        return self.window_shape(inputs, warn, inputs[0][0])

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return self.padded(inputs, lambda pad: T(self.torch_class, self.kernel, stride=self.stride, padding=pad,
                                                 ceil_mode=self.ceil), self.pad_value)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        pad = self.padding_stages(inputs, ctx)
        stage = self.pool_stage(numel(output), ctx)
        return (*pad, replace(stage, inputs=(stage_output(0),))) if pad else (stage,)

    def pool_stage(self, elements: int, ctx: MemoryContext) -> Stage:
        raise NotImplementedError

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        kh, kw = kernel_factors(self.kernel)
        window = bracket(output_elements(output)) * bracket(kh * kw)
        return {WINDOW: window, POOL_INPUT: input_elements(inputs[0])}

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells("", format_pair(self.kernel), format_pair(self.stride), self.pad.text)


@register
class MaxPool(Pool):
    op = "maxpool"
    aliases = ("max_pool", "maxpool2d")
    known_as = ("max_pooling2d", "maxpooling", "pooling", "pool")
    summary = "max pooling; `ceil: true` rounds the output size up (Caffe, PyTorch `ceil_mode`)"
    example = "- {op: maxpool, kernel: 3, stride: 2, ceil: true, pad: 1}"
    torch_class = "nn.MaxPool2d"
    pad_value = float("-inf")

    def pool_stage(self, elements: int, ctx: MemoryContext) -> Stage:
        return max_pool_stage("max_pool", elements, ctx)


@register
class AvgPool(Pool):
    op = "avgpool"
    aliases = ("avg_pool", "avgpool2d")
    known_as = ("average_pooling2d", "averagepooling", "avg_pooling", "average_pool")
    summary = "average pooling (padding counts as zeros, as in PyTorch)"
    example = "- {op: avgpool, kernel: 3, stride: 2, pad: 1}"
    torch_class = "nn.AvgPool2d"
    pad_value = 0.0

    def pool_stage(self, elements: int, ctx: MemoryContext) -> Stage:
        """avg_pool2d keeps its input."""
        return elementwise("avg_pool", elements, "input", ctx.training)

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {**super().costs(inputs, output), AVERAGE: output_elements(output)}


class GlobalPool(Layer):
    """Pooling over the whole feature map: C×H×W -> C×1×1."""

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        c, _, _ = self.image(inputs[0])
        return (c, 1, 1)

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {WINDOW: input_elements(inputs[0]), POOL_INPUT: input_elements(inputs[0])}

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        _, h, w = inputs[0]
        return Cells("", format_pair((h, w)), "1", "0")

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF:
        _, h, w = inputs[0]
        return (fields[0][0].whole(h), fields[0][1].whole(w))


@register
class GlobalAvgPool(GlobalPool):
    op = "global_avgpool"
    aliases = ("gap", "global_avg_pool")
    known_as = ("global_average_pooling2d", "globalaveragepooling")
    summary = "global average pooling: C×H×W → C×1×1"
    example = "- {op: gap}"

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """thop: H·W adds and one division per output element (C·H·W + C)."""
        return {**super().costs(inputs, output), ADAPTIVE_INPUT: input_elements(inputs[0]),
                ADAPTIVE_AVERAGE: input_elements(inputs[0]) + output_elements(output)}

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        return (mean_stage(inputs[0][0], ctx),)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.AdaptiveAvgPool2d", 1)


@register
class GlobalMaxPool(GlobalPool):
    op = "global_maxpool"
    aliases = ("global_max_pool",)
    known_as = ("global_max_pooling2d", "globalmaxpooling")
    summary = "global max pooling: C×H×W → C×1×1"

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        return (max_pool_stage("adaptive_max_pool", numel(output), ctx),)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.AdaptiveMaxPool2d", 1)
