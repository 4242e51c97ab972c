from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from typing import Any

from ..core.formula import Q, bracket, deriving, output_elements
from ..core.shapes import Shape, is_sequence, numel, shape_list
from .base import Cells, Layer, SameShape, Warn, register
from .fields import boolean, number, positive_int, spec_field
from .memory import (
    GRAD_OUT,
    INT64,
    PARAM,
    Backward,
    Forward,
    MemoryContext,
    Op,
    Stage,
    Tensor,
    like,
    stage_output,
)
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

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        if len(inputs[0]) > 3:  # what nn.BatchNorm1d and nn.BatchNorm2d, its lowerings, accept
            self.fail(f"{self.op} needs a vector, a [C, L] sequence or a [C, H, W] feature map, but its input is "
                      f"{shape_list(inputs[0])}", hint="reshape it to [C, H, W] first")
        return inputs[0]

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        return 2 * Q("C", inputs[0][0]) if self.affine else 0

    def buffers(self, inputs: list[Shape], output: Shape) -> Any:
        return 2 * Q("C", inputs[0][0])

    def figures(self, inputs: list[Shape], output: Shape,
                weighed: AbstractSet[str] | None) -> tuple[Any, Any, dict[str, Any]]:
        """Layer.figures with the parameters and buffers (2·C each) computed here outside derivations()."""
        if deriving():
            return super().figures(inputs, output, weighed)
        channels = inputs[0][0]
        return 2 * channels if self.affine else 0, 2 * channels, self.costs(inputs, output)

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """At inference batch norm applies its running statistics: no mean or variance to compute."""
        if not deriving():  # the same terms, without naming the quantities
            elements = math.prod(output)
            terms: dict[str, Any] = {NORM: elements, BATCHNORM: elements}
            if self.affine:
                terms[BATCHNORM_AFFINE] = elements
                terms[PARAM_POSITIONS] = 2 * inputs[0][0]  # params()
            return terms
        terms = {NORM: output_elements(output), BATCHNORM: output_elements(output)}
        if self.affine:
            terms[BATCHNORM_AFFINE] = output_elements(output)
            terms[PARAM_POSITIONS] = self.params(inputs, output)
        return terms

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        kind = "nn.BatchNorm2d" if len(inputs[0]) == 3 else "nn.BatchNorm1d"
        return T(kind, inputs[0][0], eps=self.eps, affine=self.affine)

    def buffer_tensors(self, inputs: list[Shape], output: Shape) -> tuple[tuple[str, int, str], ...]:
        c = inputs[0][0]
        return (("running_mean", c, PARAM), ("running_var", c, PARAM), ("num_batches_tracked", 1, INT64))

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """In training native_batch_norm also returns the batch's mean and inverse standard deviation per
        channel, which its backward keeps with the input; at inference only the output. (The statistics
        are in the input's type, as PyTorch's meta kernel, which the tracker measures, makes them; the
        CPU and CUDA kernels keep float32 under autocast: 2 bytes per channel more.)"""
        c = inputs[0][0]
        params = (("weight", c), ("bias", c)) if self.affine else ()
        out = Tensor("output", numel(output))
        if not ctx.training:
            return (Stage("batch_norm", (0,), Forward((Op((out,)),)), params=params, layout="input"),)
        stats = (Tensor("save_mean", fixed=c), Tensor("save_invstd", fixed=c))
        grads = tuple(like(f"grad_{name}", f"param:{name}") for name, _ in params)
        backward = Backward((Op((like("grad_in", 0), *grads)),), ("grad_in",),
                            tuple((name, f"grad_{name}") for name, _ in params))
        return (Stage("batch_norm", (0,), Forward((Op((out, *stats)),), saved=(0, "save_mean", "save_invstd")),
                      backward, params, layout="input"),)


@register
class LayerNorm(SameShape):
    op = "layernorm"
    aliases = ("layer_norm", "ln")
    known_as = ("layer_normalization", "layernormalization")
    summary = ("layer normalisation over the channels at each position (ConvNeXt), or over the last axis of an "
               "[L, D] sequence (a transformer's tokens): 2·C (2·D) parameters")

    eps: float = spec_field(number(0, low_open=True), 1e-5, doc="added to the variance")
    affine: bool = spec_field(boolean, True, doc="learn a scale and shift per channel")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        if len(inputs[0]) not in (1, 2, 3):  # nn.LayerNorm(C) on a vector or tokens, LayerNorm2d on a map
            self.fail(f"{self.op} normalises the features of a vector, the last axis of an [L, D] sequence or the "
                      f"channels of a [C, H, W] feature map, but its input is {shape_list(inputs[0])}",
                      hint="reshape to [L, D] to normalise the last axis, or to [C, H, W] for the channels")
        return inputs[0]

    @staticmethod
    def features(shape: Shape) -> Any:
        """The size of the axis it normalises: the channels of a map, else the last axis."""
        return shape[0] if len(shape) == 3 else shape[-1]

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        return 2 * Q("D" if is_sequence(inputs[0]) else "C", self.features(inputs[0])) if self.affine else 0

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """Layer norm computes a mean and a variance at every position, at inference too."""
        terms = {NORM: output_elements(output), LAYERNORM: output_elements(output)}
        if self.affine:
            terms[LAYERNORM_AFFINE] = output_elements(output)
            terms[PARAM_POSITIONS] = self.params(inputs, output)
        return terms

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        kind = "LayerNorm2d" if len(inputs[0]) == 3 else "nn.LayerNorm"
        return T(kind, self.features(inputs[0]), eps=self.eps, elementwise_affine=self.affine)

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """native_layer_norm returns a mean and a reciprocal standard deviation per position (per sample
        for a vector), also at inference (freed at once there). On a map it runs on the permuted
        channels-last view, so its output, permuted back, is channels-last in memory."""
        c = self.features(inputs[0])
        positions = numel(inputs[0]) // c
        params = (("weight", c), ("bias", c)) if self.affine else ()
        layout = "channels_last" if len(inputs[0]) == 3 else "contiguous"
        new = (Tensor("output", numel(output)), Tensor("mean", positions), Tensor("rstd", positions))
        if not ctx.training:
            return (Stage("layer_norm", (0,), Forward((Op(new, frees=("mean", "rstd")),)), params=params,
                          layout=layout),)
        grads = tuple(like(f"grad_{name}", f"param:{name}") for name, _ in params)
        backward = Backward((Op((like("grad_in", 0), *grads)),), ("grad_in",),
                            tuple((name, f"grad_{name}") for name, _ in params))
        return (Stage("layer_norm", (0,), Forward((Op(new),), saved=(0, "mean", "rstd")), backward, params,
                      layout=layout),)


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

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """F.local_response_norm is seven ops: x·x, a pad of the squares by n - 1 channels, avg_pool3d
        over n channels (float32 under autocast), ·alpha, +k, ^beta, and x divided by that. Training keeps
        x, the padded squares, the pow's base and its result. `div = div.mul(alpha).add(k).pow(beta)`
        holds the pooled squares until the pow has run."""
        c, h, w = self.image(inputs[0])
        n = c * h * w
        train = ctx.training

        def grad(*ops: Op, grads: tuple = ("grad_in",)) -> Backward | None:
            return Backward(ops, grads) if train else None

        one = (Op((like("grad_in", 0),)),)
        return (
            Stage("square", (0, 0), Forward((Op((Tensor("output", n),)),), saved=(0, 1)),
                  grad(Op((like("grad_a", 0),)), Op((like("grad_b", 1),)), grads=("grad_a", "grad_b"))),
            Stage("pad", (stage_output(0),), Forward((Op((Tensor("output", (c + self.size - 1) * h * w),)),)),
                  grad(*one)),
            Stage("avg_pool3d", (stage_output(1),), Forward((Op((Tensor("output", n),)),), saved=(0,)), grad(*one),
                  autocast="float32", keep_until=5),
            Stage("mul", (stage_output(2),), Forward((Op((Tensor("output", n),)),)), grad(*one)),
            Stage("add", (stage_output(3),), Forward((Op((Tensor("output", n),)),)), grad(grads=(GRAD_OUT,))),
            Stage("pow", (stage_output(4),), Forward((Op((Tensor("output", n),)),), saved=(0,)),
                  grad(Op((Tensor("t1", n),)), Op((Tensor("t2", n),)), Op((like("grad_in", 0),), frees=("t1", "t2")))),
            Stage("div", (0, stage_output(5)), Forward((Op((Tensor("output", n),)),), saved=(0, 1)),
                  grad(Op((Tensor("t1", n),)), Op((Tensor("t2", n),)), Op((Tensor("t3", n),)),
                       Op((like("grad_b", 1),), frees=("t1", "t2", "t3")), Op((Tensor("grad_a", n),)),
                       grads=("grad_a", "grad_b"))),
        )
