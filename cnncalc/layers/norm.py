from __future__ import annotations

from typing import Any

from ..core.formula import Q, bracket, output_elements
from ..core.shapes import Shape
from .base import Cells, Layer, SameShape, Warn, register
from .fields import boolean, number, positive_int, spec_field
from .terms import BATCHNORM, BATCHNORM_AFFINE, LAYERNORM, LAYERNORM_AFFINE, LRN_WINDOW, NORM, PARAM_POSITIONS
from .terms import LRN as LRN_TERM
from .torchspec import T, Torch


@register
class BatchNorm(SameShape):
    op = "batchnorm"
    aliases = ("bn", "batchnorm2d", "batch_norm")
    known_as = ("batch_normalization", "batchnormalization")
    summary = "batch normalisation per channel: 2·C parameters (γ, β) and 2·C buffers (running mean and variance)"
    buffer_note = "running mean and variance"

    eps: float = spec_field(number(0, low_open=True), 1e-5, doc="added to the variance")
    affine: bool = spec_field(boolean, True, doc="learn a scale γ and shift β per channel")

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        return 2 * Q("C", inputs[0][0]) if self.affine else 0

    def buffers(self, inputs: list[Shape], output: Shape) -> Any:
        return 2 * Q("C", inputs[0][0])

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """At inference batch norm applies its running statistics: no mean or variance to compute."""
        terms = {NORM: output_elements(output), BATCHNORM: output_elements(output)}
        if self.affine:
            terms[BATCHNORM_AFFINE] = output_elements(output)
            terms[PARAM_POSITIONS] = self.params(inputs, output)
        return terms

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        kind = "nn.BatchNorm2d" if len(inputs[0]) == 3 else "nn.BatchNorm1d"
        return T(kind, inputs[0][0], eps=self.eps, affine=self.affine)


@register
class LayerNorm(SameShape):
    op = "layernorm"
    aliases = ("layer_norm", "ln")
    known_as = ("layer_normalization", "layernormalization")
    summary = "layer normalisation over the channels at each position (ConvNeXt): 2·C parameters"

    eps: float = spec_field(number(0, low_open=True), 1e-5, doc="added to the variance")
    affine: bool = spec_field(boolean, True, doc="learn a scale and shift per channel")

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        return 2 * Q("C", inputs[0][0]) if self.affine else 0

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """Layer norm computes a mean and a variance at every position, at inference too."""
        terms = {NORM: output_elements(output), LAYERNORM: output_elements(output)}
        if self.affine:
            terms[LAYERNORM_AFFINE] = output_elements(output)
            terms[PARAM_POSITIONS] = self.params(inputs, output)
        return terms

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        kind = "LayerNorm2d" if len(inputs[0]) == 3 else "nn.LayerNorm"
        return T(kind, inputs[0][0], eps=self.eps, elementwise_affine=self.affine)


@register
class LRN(Layer):
    op = "lrn"
    aliases = ("local_response_norm",)
    known_as = ("local_response_normalization", "localresponsenormalization")
    summary = "local response normalisation across `size` neighbouring channels (AlexNet)"
    example = "- {op: lrn, size: 3}"

    size: int = spec_field(positive_int, 5, aliases=("n",), doc="channels in the neighbourhood")
    alpha: float = spec_field(number(0), 1e-4, doc="scale")
    beta: float = spec_field(number(0), 0.75, doc="exponent")
    k: float = spec_field(number(0), 1.0, doc="additive constant")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        self.image(inputs[0])
        return inputs[0]

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """PyTorch averages the squares over n channels of the input padded with n - 1 zero channels."""
        c, h, w = self.image(inputs[0])
        window = bracket(Q("C", c) + Q("n", self.size) - 1) * Q("H", h) * Q("W", w)
        return {NORM: output_elements(output), LRN_TERM: output_elements(output), LRN_WINDOW: window}

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(kernel=str(self.size))

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("nn.LocalResponseNorm", self.size, alpha=self.alpha, beta=self.beta, k=self.k)
