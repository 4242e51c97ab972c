from __future__ import annotations

from ..conventions import BIAS, MAC, OUTPUT_MAC, PARAM_POSITIONS
from ..fields import Field, boolean, choice, format_pair, padding, positive_int, positive_pair
from ..symbolic import nonzero
from ..formula import Formula, Q, kernel_factors, output_elements
from ..window import WindowProblem, stride_warnings, sweep2d, window_steps
from ..torchspec import T
from .base import REGISTRY, Cells, Layer, fused_activation_names, register


@register
class Conv(Layer):
    op = "conv"
    aliases = ("conv2d",)
    summary = "2-D convolution, optionally grouped/dilated, with an optional fused activation"
    fields = (
        Field("out", positive_int, aliases=("filters", "out_channels"), doc="output channels C_out"),
        Field("kernel", positive_pair, aliases=("kernel_size",), doc="K, or [K_h, K_w]"),
        Field("stride", positive_pair, (1, 1), doc="S, or [S_h, S_w]"),
        Field("pad", padding, padding(0), aliases=("padding",), doc="P, [P_h, P_w], same or valid"),
        Field("dilation", positive_pair, (1, 1), doc="D, or [D_h, D_w]"),
        Field("groups", positive_int, 1, doc="channel groups; C_in and C_out must be multiples"),
        Field("bias", boolean, True, doc="whether the layer adds a bias per output channel"),
        Field("act", choice(fused_activation_names), None, doc="fused activation (adds no table row)"),
    )

    def check(self) -> None:
        if nonzero(self.out % self.groups):
            self.fail(f"groups={self.groups} does not divide the {self.out} output channels", "groups")

    def _axes(self, inputs):
        c, h, w = self.image(inputs[0])
        if nonzero(c % self.groups):
            self.fail(f"groups={self.groups} does not divide the {c} input channels", "groups")
        try:
            return sweep2d(h, w, self.kernel, self.stride, self.pad, self.dilation)
        except WindowProblem as exc:
            self.fail(str(exc), exc.field)

    def output_shape(self, inputs, warn):
        axes = self._axes(inputs)
        for message in stride_warnings(*axes):
            warn(message, "stride")
        return (self.out, axes[0].out, axes[1].out)

    def explain_shape(self, inputs, output):
        return window_steps(*self._axes(inputs))

    def receptive_field(self, fields, inputs, output):
        return tuple(f.window(a.kernel, a.stride, a.pad_before, a.dilation) for f, a in zip(fields[0], self._axes(inputs)))

    def _per_filter(self, inputs) -> Formula:
        """Weights one output element reads: (C_in / G) × K × K."""
        c_in = Q("C_in", inputs[0][0])
        channels = c_in // Q("G", self.groups) if self.groups != 1 else c_in
        kh, kw = kernel_factors(self.kernel)
        return channels * kh * kw

    def params(self, inputs, output):
        weights = Q("C_out", self.out) * self._per_filter(inputs)
        return weights + Q("C_out", self.out) if self.bias else weights

    def costs(self, inputs, output):
        outputs = output_elements(output)
        per_filter = self._per_filter(inputs)
        mac = outputs.grouped() * per_filter.grouped()
        weights = Q("C_out", self.out) * per_filter
        params = weights + Q("C_out", self.out) if self.bias else weights  # as params() builds them
        terms = {MAC: mac, OUTPUT_MAC: mac, PARAM_POSITIONS: params.grouped() * Q("H'", output[1]) * Q("W'", output[2])}
        if self.bias:
            terms[BIAS] = outputs
        if self.act:  # the fused activation's own terms, as a standalone layer reports them
            terms.update(REGISTRY[self.act](f"{self.name}.act").costs([output], output))
        return terms

    def lowering(self, inputs, output):
        height, width = self._axes(inputs)
        symmetric = height.pad_before == height.pad_after and width.pad_before == width.pad_after
        conv = T("nn.Conv2d", inputs[0][0], self.out, kernel_size=self.kernel, stride=self.stride,
                 padding=(height.pad_before, width.pad_before) if symmetric else 0, dilation=self.dilation,
                 groups=self.groups, bias=self.bias)
        if not symmetric:  # TensorFlow's 'same' with an odd total: pad right/bottom first
            conv = T("Padded", (width.pad_before, width.pad_after, height.pad_before, height.pad_after), 0.0, conv)
        return self.with_activation(conv, output)

    def cells(self, inputs, output):
        """Groups and dilation show only when used: `256 g2` filters, a `3 d2` kernel."""
        filters = f"{self.out} g{self.groups}" if self.groups != 1 else str(self.out)
        kernel = format_pair(self.kernel)
        if self.dilation != (1, 1):
            kernel += f" d{format_pair(self.dilation)}"
        return Cells(filters, kernel, format_pair(self.stride), str(self.pad))
