from __future__ import annotations

import math
from typing import Any

from ..core.formula import (
    Formula,
    Q,
    Step,
    bracket,
    derivations,
    divide,
    input_elements,
    kernel_factors,
    output_elements,
    product,
    value_of,
)
from ..core.shapes import Shape, numel
from ..core.symbolic import ceil_div, definitely, largest, text
from .base import RF, Cells, FusedActivation, Layer, Warn, fused_activation_names, register
from .fields import (
    EXPRESSION,
    NON_NEGATIVE,
    FieldProblem,
    accepts,
    boolean,
    choice,
    format_pair,
    non_negative_int,
    non_negative_pair,
    positive_int,
    positive_pair,
    spec_field,
)
from .memory import MemoryContext, Stage, elementwise, max_pool_stage, mean_stage, weighted
from .terms import (
    ADAPTIVE_AVERAGE,
    ADAPTIVE_INPUT,
    BIAS,
    BILINEAR,
    BILINEAR_MODULE,
    MAC,
    OUTPUT_MAC,
    PARAM_POSITIONS,
    POOL_INPUT,
    RESAMPLE,
    RESAMPLE_MODULE,
    WINDOW,
)
from .torchspec import T, Torch


@register
class ConvTranspose(FusedActivation):
    op = "conv_transpose"
    aliases = ("deconv", "convtranspose2d", "conv_transpose2d")
    known_as = ("deconvolution", "conv2d_transpose", "conv2dtranspose", "transposed_conv", "upconv")
    summary = "transposed convolution: H' = (H - 1)·S - 2P + D·(K - 1) + output_pad + 1"
    example = "- {op: conv_transpose, out: 3, kernel: 3, stride: 2, pad: 1, output_pad: 1, act: elu}"

    out: int = spec_field(positive_int, aliases=("filters", "out_channels"), doc="output channels C_out")
    kernel: tuple[int, int] = spec_field(positive_pair, aliases=("kernel_size",), doc="K, or [K_h, K_w]")
    stride: tuple[int, int] = spec_field(positive_pair, (1, 1), doc="S, or [S_h, S_w]")
    pad: tuple[int, int] = spec_field(non_negative_pair, (0, 0), aliases=("padding",), doc="P, or [P_h, P_w]")
    output_pad: tuple[int, int] = spec_field(non_negative_pair, (0, 0), aliases=("output_padding",),
                                             doc="extra rows/columns at the end")
    dilation: tuple[int, int] = spec_field(positive_pair, (1, 1), doc="D, or [D_h, D_w]")
    groups: int = spec_field(positive_int, 1, doc="channel groups")
    bias: bool = spec_field(boolean, True, doc="whether the layer adds a bias per output channel")
    act: str | None = spec_field(choice(fused_activation_names), None, doc="fused activation (adds no table row)")
    act_inplace: bool = spec_field(boolean, False, doc="the fused activation works in place (nn.ReLU(inplace=True))")

    def check(self) -> None:
        self.check_act_inplace()
        if self.out % self.groups:
            self.fail(f"groups={self.groups} does not divide the {self.out} output channels", "groups")
        for extra, stride, dilation in zip(self.output_pad, self.stride, self.dilation):
            if extra >= max(stride, dilation):
                self.fail(f"output_pad {extra} must be smaller than the stride or the dilation", "output_pad")

    def _sizes(self, inputs: list[Shape]) -> list[Formula]:
        """H' = (H - 1) × S - 2P + D × (K - 1) + output_pad + 1, per axis."""
        c, h, w = self.image(inputs[0])
        if c % self.groups:
            self.fail(f"groups={self.groups} does not divide the {c} input channels", "groups")
        sizes = []
        for name, n, k, s, p, d, extra in zip("HW", (h, w), self.kernel, self.stride, self.pad, self.dilation,
                                              self.output_pad):
            size = (Q(name, n) - 1) * Q("S", s) - 2 * Q("P", p) + Q("D", d) * (Q("K", k) - 1) \
                + Q("output_pad", extra) + 1
            if definitely(value_of(size) < 1):
                self.fail(f"the output would be {value_of(size)} wide: padding {p} is too large", "pad")
            sizes.append(size)
        return sizes

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        height, width = self._sizes(inputs)
        return (self.out, value_of(height), value_of(width))

    def explain_shape(self, inputs: list[Shape], output: Shape) -> list[Step]:
        with derivations():
            height, width = self._sizes(inputs)
        if height.numbers() == width.numbers():
            return [Step("H' = W'", width, text(width.value))]
        return [Step("H'", height, text(height.value)), Step("W'", width, text(width.value))]

    def _per_input(self) -> Formula:
        """Weights one input element scatters through: (C_out / G) × K × K."""
        c_out = Q("C_out", self.out)
        channels = c_out // Q("G", self.groups) if self.groups != 1 else c_out
        kh, kw = kernel_factors(self.kernel)
        return channels * kh * kw

    def params(self, inputs: list[Shape], output: Shape) -> Formula:
        weights = Q("C_in", inputs[0][0]) * self._per_input()
        return weights + Q("C_out", self.out) if self.bias else weights

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """Each input element scatters through (C_out / G)·K·K weights; OUTPUT_MAC counts instead
        (C_in / G)·K·K per output element, as if the layer were a conv producing its output."""
        c_in = Q("C_in", inputs[0][0])
        per_output = (c_in // Q("G", self.groups) if self.groups != 1 else c_in) * product(kernel_factors(self.kernel))
        positions = Q("H'", output[1]) * Q("W'", output[2])
        terms = {MAC: bracket(input_elements(inputs[0])) * bracket(self._per_input()),
                 OUTPUT_MAC: bracket(output_elements(output)) * bracket(per_output),
                 PARAM_POSITIONS: bracket(self.params(inputs, output)) * positions}
        if self.bias:
            terms[BIAS] = output_elements(output)
        return self.with_activation_costs(terms, output)

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(str(self.out), format_pair(self.kernel), format_pair(self.stride), format_pair(self.pad))

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF:
        """Outputs come S times closer; each reads ceil(span / S) inputs along an axis. The centre
        is kept at the input's (an approximation: it ignores the padding's shift)."""
        result = []
        for field, k, s, d in zip(fields[0], self.kernel, self.stride, self.dilation):
            span = d * (k - 1) + 1
            result.append(field.upsampled(s, -(-span // s) - 1))
        return (result[0], result[1])

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """As a conv: it keeps its input; one op computes every gradient."""
        kh, kw = self.kernel
        weight = ("weight", inputs[0][0] * (self.out // self.groups) * kh * kw)
        params = (weight, ("bias", self.out)) if self.bias else (weight,)
        stage = weighted("conv_transpose", 0, numel(output), params, ctx.training)
        return self.with_activation_memory((stage,), output, ctx)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        conv = T("nn.ConvTranspose2d", inputs[0][0], self.out, kernel_size=self.kernel, stride=self.stride,
                 padding=self.pad, output_padding=self.output_pad, groups=self.groups, bias=self.bias,
                 dilation=self.dilation)
        return self.with_activation(conv, output)


def _adaptive_reads(size: Any, out: int) -> Any:
    """Input positions read along one axis by PyTorch's adaptive windows
    [floor(i·N/n), ceil((i+1)·N/n)) for i in 0..n-1: N + n - gcd(N, n), in O(1).

    Summed, the ceilings are the floors shifted by one window plus one for each i whose bound
    (i+1)·N/n is not whole (n - gcd(N, n) of them), so the sum telescopes to N + n - gcd(N, n)."""
    if isinstance(size, int):
        return size + out - math.gcd(size, out)
    return sum(ceil_div((i + 1) * size, out) - (i * size) // out for i in range(out))  # symbolic N


def _adaptive_widest(size: Any, out: int) -> Any:
    """The widest of those windows: with i·N = q·n + r it spans ceil((r + N)/n) positions, and r
    runs over the multiples of gcd(N, n) below n, so the widest is ceil((N + n - gcd(N, n))/n)."""
    if isinstance(size, int):
        return -(-(size + out - math.gcd(size, out)) // out)
    return largest(ceil_div((i + 1) * size, out) - (i * size) // out for i in range(out))  # symbolic N


class AdaptivePool(Layer):
    size: tuple[int, int] = spec_field(positive_pair, aliases=("output_size",), doc="output size, or [H', W']")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        c, _, _ = self.image(inputs[0])
        return (c, *self.size)

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        c, h, w = inputs[0]
        rows = Q("rows read", _adaptive_reads(h, output[1]))
        columns = Q("columns read", _adaptive_reads(w, output[2]))
        return {WINDOW: Q("C", c) * rows * columns, POOL_INPUT: input_elements(inputs[0])}

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(kernel="adaptive")

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF:
        """Windows of PyTorch's adaptive pooling: exact when the size divides the input; otherwise
        the widest window, with the average step N/n."""
        result = []
        for field, size, out in zip(fields[0], inputs[0][1:], output[1:]):
            result.append(field.window(_adaptive_widest(size, out), divide(size, out), 0))
        return (result[0], result[1])


@register
class AdaptiveAvgPool(AdaptivePool):
    op = "adaptive_avgpool"
    aliases = ("adaptive_avg_pool",)
    summary = "average pooling to a given output size (PyTorch's adaptive windows)"
    example = "- {op: adaptive_avgpool, size: [3, 2]}"

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """ADAPTIVE_AVERAGE is thop's ((H/H')·(W/W') + 1) per output element, which it evaluates in
        float64 and truncates: 8 -> 7 on 512 channels gives 57,855, not 512·64 + 512·49 = 57,856."""
        c, h, w = inputs[0]
        exact = input_elements(inputs[0]) + output_elements(output)
        if all(isinstance(n, int) for n in (c, h, w, *output)):
            truncated = int(((h / output[1]) * (w / output[2]) + 1.0) * (c * output[1] * output[2]))
            if truncated != value_of(exact):
                exact = exact - Q("float64 truncation", value_of(exact) - truncated)
        return {**super().costs(inputs, output), ADAPTIVE_INPUT: input_elements(inputs[0]), ADAPTIVE_AVERAGE: exact}

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """To 1×1 PyTorch takes the mean (keeps nothing); otherwise _adaptive_avg_pool2d keeps its input,
        and copies it even when the sizes already match (VGG's 7×7 -> 7×7)."""
        if self.size == (1, 1):
            return (mean_stage(inputs[0][0], ctx),)
        return (elementwise("adaptive_avg_pool", numel(output), "input", ctx.training),)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.AdaptiveAvgPool2d", self.size)


@register
class AdaptiveMaxPool(AdaptivePool):
    op = "adaptive_maxpool"
    aliases = ("adaptive_max_pool",)
    summary = "max pooling to a given output size (PyTorch's adaptive windows)"
    example = "- {op: adaptive_maxpool, size: 5}"

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        return (max_pool_stage("adaptive_max_pool", numel(output), ctx),)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.AdaptiveMaxPool2d", self.size)


@register
class Upsample(Layer):
    op = "upsample"
    known_as = ("upsampling2d", "upsampling", "resize")
    summary = "nearest or bilinear upsampling by a whole scale factor or to a size"
    example = "- {op: upsample, scale: 2, mode: bilinear}"

    scale: tuple[int, int] | None = spec_field(positive_pair, None, aliases=("scale_factor",),
                                               doc="whole factor, or [s_h, s_w]")
    size: tuple[int, int] | None = spec_field(positive_pair, None, doc="output size, or [H', W']")
    mode: str = spec_field(choice(["nearest", "bilinear"]), "nearest", doc="nearest or bilinear")

    def check(self) -> None:
        if (self.scale is None) == (self.size is None):
            self.fail("give exactly one of 'scale' and 'size'", "scale" if self.scale else None)

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        c, h, w = self.image(inputs[0])
        if self.size is not None:
            return (c, *self.size)
        assert self.scale is not None  # check(): exactly one of them
        return (c, h * self.scale[0], w * self.scale[1])

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        terms = {RESAMPLE: output_elements(output), RESAMPLE_MODULE: output_elements(output)}
        if self.mode == "bilinear":
            terms[BILINEAR] = terms[BILINEAR_MODULE] = output_elements(output)
        return terms

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(stride=f"×{format_pair(self.scale)}" if self.scale else "")

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF:
        """Nearest reads one input per output; bilinear reads two neighbours along each axis."""
        extra = 1 if self.mode == "bilinear" else 0
        height, width = (field.upsampled(divide(out, size), extra)
                         for field, size, out in zip(fields[0], inputs[0][1:], output[1:]))
        return (height, width)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """upsample_*2d keeps only sizes; backward allocates the input's gradient."""
        return (elementwise(f"upsample_{self.mode}", numel(output), None, ctx.training),)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        size: dict[str, Any] = ({"size": self.size} if self.size else
                                {"scale_factor": tuple(float(s) for s in self.scale or ())})
        if self.mode == "bilinear":
            return T("nn.Upsample", **size, mode="bilinear", align_corners=False)
        return T("nn.Upsample", **size, mode="nearest")


@accepts({"anyOf": [non_negative_pair.json_schema,  # type: ignore[attr-defined]
                     {"type": "array", "items": {"anyOf": [NON_NEGATIVE, EXPRESSION]}, "minItems": 4, "maxItems": 4}]})
def zero_padding(value: Any) -> tuple[int, int, int, int]:
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
    known_as = ("zero_padding2d", "zeropadding", "pad", "padding")
    summary = ("zero padding: P, `[P_h, P_w]` or `[left, right, top, bottom]`; `channels` appends all-zero "
               "channels (ResNet's option A shortcut)")
    example = "- {op: zeropad, pad: [1, 2, 0, 3], channels: 2}"

    pad: tuple[int, int, int, int] = spec_field(zero_padding, (0, 0, 0, 0), aliases=("padding",),
                                                doc="P, [P_h, P_w] or [left, right, top, bottom]")
    channels: int = spec_field(non_negative_int, 0, doc="zero channels appended after the input's")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        c, h, w = self.image(inputs[0])
        left, right, top, bottom = self.pad
        return (c + self.channels, h + top + bottom, w + left + right)

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        left, right, top, bottom = self.pad
        same = left == right == top == bottom
        return Cells(pad=str(left) if same else f"{left},{right},{top},{bottom}")

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF:
        left, _, top, _ = self.pad
        return (fields[0][0].shifted(top), fields[0][1].shifted(left))

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """constant_pad_nd: a padded copy; it keeps nothing."""
        return (elementwise("pad", numel(output), None, ctx.training),)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        if self.channels:
            return T("ChannelPad", self.pad, self.channels)
        return T("nn.ZeroPad2d", self.pad)

