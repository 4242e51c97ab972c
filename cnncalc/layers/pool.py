from __future__ import annotations

from ..conventions import ADAPTIVE_AVERAGE, ADAPTIVE_INPUT, AVERAGE, POOL_INPUT, WINDOW
from ..fields import Field, boolean, format_pair, padding, positive_pair
from ..formula import input_elements, kernel_factors, output_elements
from ..window import WindowProblem, stride_warnings, sweep2d, window_steps
from ..torchspec import T
from .base import Cells, Layer, register


class Pool(Layer):
    """Max or average pooling over K_h×K_w windows; the stride defaults to the kernel."""

    fields = (
        Field("kernel", positive_pair, aliases=("kernel_size",), doc="K, or [K_h, K_w]"),
        Field("stride", positive_pair, None, doc="S, or [S_h, S_w]; defaults to the kernel",
              default_text="kernel"),
        Field("pad", padding, padding(0), aliases=("padding",), doc="P, [P_h, P_w], same or valid"),
        Field("ceil", boolean, False, aliases=("ceil_mode",), doc="round the output size up (Caffe, PyTorch ceil_mode)"),
    )
    dilation = (1, 1)

    def check(self) -> None:
        if self.stride is None:
            self.stride = self.kernel
        if self.pad.mode == "explicit" and any(2 * p > k for p, k in zip(self.pad.amount, self.kernel)):
            self.fail(f"padding {self.pad} is more than half the kernel {format_pair(self.kernel)}", "pad")

    def _axes(self, inputs):
        _, h, w = self.image(inputs[0])
        try:
            return sweep2d(h, w, self.kernel, self.stride, self.pad, self.dilation, self.ceil)
        except WindowProblem as exc:
            self.fail(str(exc), exc.field)

    def output_shape(self, inputs, warn):
        axes = self._axes(inputs)
        for message in stride_warnings(*axes):
            warn(message, "stride")
        return (inputs[0][0], axes[0].out, axes[1].out)

    def explain_shape(self, inputs, output):
        return window_steps(*self._axes(inputs))

    def receptive_field(self, fields, inputs, output):
        return tuple(f.window(a.kernel, a.stride, a.pad_before) for f, a in zip(fields[0], self._axes(inputs)))

    def lowering(self, inputs, output):
        height, width = self._axes(inputs)
        symmetric = height.pad_before == height.pad_after and width.pad_before == width.pad_after
        pool = T(self.torch_class, self.kernel, stride=self.stride,
                 padding=(height.pad_before, width.pad_before) if symmetric else 0, ceil_mode=self.ceil)
        if symmetric:
            return pool
        return T("Padded", (width.pad_before, width.pad_after, height.pad_before, height.pad_after),
                 self.pad_value, pool)

    def costs(self, inputs, output):
        kh, kw = kernel_factors(self.kernel)
        return {WINDOW: output_elements(output).grouped() * (kh * kw).grouped(), POOL_INPUT: input_elements(inputs[0])}

    def cells(self, inputs, output):
        return Cells("", format_pair(self.kernel), format_pair(self.stride), str(self.pad))


@register
class MaxPool(Pool):
    op = "maxpool"
    aliases = ("max_pool", "maxpool2d")
    summary = "max pooling"
    torch_class = "nn.MaxPool2d"
    pad_value = float("-inf")


@register
class AvgPool(Pool):
    op = "avgpool"
    aliases = ("avg_pool", "avgpool2d")
    summary = "average pooling"
    torch_class = "nn.AvgPool2d"
    pad_value = 0.0

    def costs(self, inputs, output):
        return {**super().costs(inputs, output), AVERAGE: output_elements(output)}


class GlobalPool(Layer):
    """Pooling over the whole feature map: C×H×W -> C×1×1."""

    def output_shape(self, inputs, warn):
        c, _, _ = self.image(inputs[0])
        return (c, 1, 1)

    def costs(self, inputs, output):
        return {WINDOW: input_elements(inputs[0]), POOL_INPUT: input_elements(inputs[0])}

    def cells(self, inputs, output):
        _, h, w = inputs[0]
        return Cells("", format_pair((h, w)), "1", "0")

    def receptive_field(self, fields, inputs, output):
        _, h, w = inputs[0]
        return (fields[0][0].whole(h), fields[0][1].whole(w))


@register
class GlobalAvgPool(GlobalPool):
    op = "global_avgpool"
    aliases = ("gap", "global_avg_pool")
    summary = "global average pooling (C×H×W -> C×1×1)"

    def costs(self, inputs, output):
        """thop: H·W adds and one division per output element (C·H·W + C)."""
        return {**super().costs(inputs, output), ADAPTIVE_INPUT: input_elements(inputs[0]),
                ADAPTIVE_AVERAGE: input_elements(inputs[0]) + output_elements(output)}

    def lowering(self, inputs, output):
        return T("nn.AdaptiveAvgPool2d", 1)


@register
class GlobalMaxPool(GlobalPool):
    op = "global_maxpool"
    aliases = ("global_max_pool",)
    summary = "global max pooling (C×H×W -> C×1×1)"

    def lowering(self, inputs, output):
        return T("nn.AdaptiveMaxPool2d", 1)
