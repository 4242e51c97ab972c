from __future__ import annotations

from ..conventions import ACTIVATION, BIAS, MAC, RESAMPLE, WINDOW
from ..fields import (Field, FieldProblem, boolean, choice, format_pair, non_negative_int, non_negative_pair,
                      positive_int, positive_pair)
from ..shapes import numel
from .base import Cells, Layer, fused_activation_names, register


@register
class ConvTranspose(Layer):
    op = "conv_transpose"
    aliases = ("deconv", "convtranspose2d", "conv_transpose2d")
    summary = "transposed convolution: H' = (H - 1)·S - 2P + D·(K - 1) + output_pad + 1"
    fields = (
        Field("out", positive_int, aliases=("filters", "out_channels"), doc="output channels C_out"),
        Field("kernel", positive_pair, aliases=("kernel_size",), doc="K, or [K_h, K_w]"),
        Field("stride", positive_pair, (1, 1), doc="S, or [S_h, S_w]"),
        Field("pad", non_negative_pair, (0, 0), aliases=("padding",), doc="P, or [P_h, P_w]"),
        Field("output_pad", non_negative_pair, (0, 0), aliases=("output_padding",),
              doc="extra rows/columns at the end"),
        Field("dilation", positive_pair, (1, 1), doc="D, or [D_h, D_w]"),
        Field("groups", positive_int, 1, doc="channel groups"),
        Field("bias", boolean, True, doc="whether the layer adds a bias per output channel"),
        Field("act", choice(fused_activation_names), None, doc="fused activation (adds no table row)"),
    )

    def check(self) -> None:
        if self.out % self.groups:
            self.fail(f"groups={self.groups} does not divide the {self.out} output channels", "groups")
        for extra, stride, dilation in zip(self.output_pad, self.stride, self.dilation):
            if extra >= max(stride, dilation):
                self.fail(f"output_pad {extra} must be smaller than the stride or the dilation", "output_pad")

    def output_shape(self, inputs, warn):
        c, h, w = self.image(inputs[0])
        if c % self.groups:
            self.fail(f"groups={self.groups} does not divide the {c} input channels", "groups")
        size = []
        for n, k, s, p, d, extra in zip((h, w), self.kernel, self.stride, self.pad, self.dilation, self.output_pad):
            out = (n - 1) * s - 2 * p + d * (k - 1) + extra + 1
            if out < 1:
                self.fail(f"the output would be {out} wide: padding {p} is too large", "pad")
            size.append(out)
        return (self.out, size[0], size[1])

    def params(self, inputs, output):
        kh, kw = self.kernel
        return inputs[0][0] * (self.out // self.groups) * kh * kw + (self.out if self.bias else 0)

    def costs(self, inputs, output):
        kh, kw = self.kernel
        terms = {MAC: numel(inputs[0]) * (self.out // self.groups) * kh * kw}
        if self.bias:
            terms[BIAS] = numel(output)
        if self.act:
            terms[ACTIVATION] = numel(output)
        return terms

    def cells(self, inputs, output):
        return Cells(str(self.out), format_pair(self.kernel), format_pair(self.stride), format_pair(self.pad))


def _adaptive_reads(size: int, out: int) -> int:
    """Input positions read along one axis by PyTorch's adaptive windows
    [floor(i·N/n), ceil((i+1)·N/n)) for i in 0..n-1."""
    return sum(-(-((i + 1) * size) // out) - (i * size) // out for i in range(out))


class AdaptivePool(Layer):
    fields = (Field("size", positive_pair, aliases=("output_size",), doc="output size, or [H', W']"),)

    def output_shape(self, inputs, warn):
        c, _, _ = self.image(inputs[0])
        return (c, *self.size)

    def costs(self, inputs, output):
        c, h, w = inputs[0]
        return {WINDOW: c * _adaptive_reads(h, output[1]) * _adaptive_reads(w, output[2])}

    def cells(self, inputs, output):
        return Cells(kernel="adaptive")


@register
class AdaptiveAvgPool(AdaptivePool):
    op = "adaptive_avgpool"
    aliases = ("adaptive_avg_pool",)
    summary = "average pooling to a given output size (PyTorch's adaptive windows)"


@register
class AdaptiveMaxPool(AdaptivePool):
    op = "adaptive_maxpool"
    aliases = ("adaptive_max_pool",)
    summary = "max pooling to a given output size (PyTorch's adaptive windows)"


@register
class Upsample(Layer):
    op = "upsample"
    summary = "nearest or bilinear upsampling by a whole scale factor or to a size"
    fields = (
        Field("scale", positive_pair, None, aliases=("scale_factor",), doc="whole factor, or [s_h, s_w]"),
        Field("size", positive_pair, None, doc="output size, or [H', W']"),
        Field("mode", choice(["nearest", "bilinear"]), "nearest", doc="nearest or bilinear"),
    )

    def check(self) -> None:
        if (self.scale is None) == (self.size is None):
            self.fail("give exactly one of 'scale' and 'size'", "scale" if self.scale else None)

    def output_shape(self, inputs, warn):
        c, h, w = self.image(inputs[0])
        if self.size is not None:
            return (c, *self.size)
        return (c, h * self.scale[0], w * self.scale[1])

    def costs(self, inputs, output):
        return {RESAMPLE: numel(output)}

    def cells(self, inputs, output):
        return Cells(stride=f"×{format_pair(self.scale)}" if self.scale else "")


def zero_padding(value) -> tuple[int, int, int, int]:
    """`1`, `[top/bottom, left/right]` or PyTorch's `[left, right, top, bottom]`."""
    if isinstance(value, list) and len(value) == 4:
        left, right = non_negative_pair(value[0:2])
        top, bottom = non_negative_pair(value[2:4])
        return (left, right, top, bottom)
    try:
        vertical, horizontal = non_negative_pair(value)
    except FieldProblem:
        raise FieldProblem("must be a whole number >= 0, a pair [height, width] or [left, right, top, bottom]") \
            from None
    return (horizontal, horizontal, vertical, vertical)


@register
class ZeroPad(Layer):
    op = "zeropad"
    aliases = ("zero_pad", "zeropad2d")
    summary = "zero padding around the feature map, or extra all-zero channels (ResNet's option A shortcut)"
    fields = (
        Field("pad", zero_padding, (0, 0, 0, 0), aliases=("padding",),
              doc="P, [P_h, P_w] or [left, right, top, bottom]"),
        Field("channels", non_negative_int, 0, doc="zero channels appended after the input's"),
    )

    def output_shape(self, inputs, warn):
        c, h, w = self.image(inputs[0])
        left, right, top, bottom = self.pad
        return (c + self.channels, h + top + bottom, w + left + right)

    def cells(self, inputs, output):
        left, right, top, bottom = self.pad
        same = left == right == top == bottom
        return Cells(pad=str(left) if same else f"{left},{right},{top},{bottom}")
