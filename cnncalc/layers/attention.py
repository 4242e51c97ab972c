"""A vision transformer's layers on a sequence of [L, D] tokens: the class token put before them, the
positional embedding added to them (learned tensors that are no layer's weight), and multi-head
self-attention as nn.MultiheadAttention computes it (torchvision's ViT)."""
from __future__ import annotations

from typing import Any

from ..core.formula import Q, Step, product
from ..core.shapes import Shape, format_shape, numel, shape_list
from .base import RF, Cells, Layer, Warn, register
from .fields import number, positive_int, spec_field
from .memory import (
    FLOAT32,
    GRAD_OUT,
    Backward,
    Forward,
    MemoryContext,
    Op,
    Ref,
    Stage,
    Tensor,
    like,
    stage_output,
)
from .terms import ATTENTION, ATTENTION_SCALE, ATTENTION_SOFTMAX, BIAS, ELEMENTWISE, MAC
from .torchspec import T, Torch

# The example input [4, 9, 11] as 99 tokens of 4 features.
_TOKENS = "- {op: reshape, name: tokens, shape: [99, 4]}\n"


def tokens(layer: Layer, shape: Shape) -> tuple[Any, Any]:
    """(L, D) of an input that must be a sequence of tokens."""
    if len(shape) != 2:
        layer.fail(f"{layer.op} needs an [L, D] sequence of L tokens of D features, but its input is "
                   f"{shape_list(shape)}", hint="make tokens of a feature map with {op: reshape, shape: [C, -1]} "
                                                "and {op: transpose, dims: [1, 2]}")
    return shape[0], shape[1]


class LearnedTensor(Layer):
    """A layer that owns one learned tensor, exported as a bare parameter of the enclosing module
    (state_dict key: the layer's module path, as torchvision names `class_token`)."""

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        return None  # tokens, not positions of the image


@register
class ClassToken(LearnedTensor):
    op = "class_token"
    aliases = ("cls_token",)
    known_as = ("class_embedding", "cls", "prepend_token")
    summary = ("a learned token put before an [L, D] sequence: [L + 1, D]; D parameters, exported as a bare "
               "1×1×D parameter named by the module path (ViT's class_token)")
    example = _TOKENS + "- {op: class_token}"

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        length, features = tokens(self, inputs[0])
        return (length + 1, features)

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        return Q("D", inputs[0][1])

    def explain_shape(self, inputs: list[Shape], output: Shape) -> list[Step]:
        return [Step("L'", None, f"1 + L = 1 + {inputs[0][0]} = {output[0]} tokens")]

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(filters="+1 token")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("ClassToken", inputs[0][1])

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """token.expand(N, -1, -1) is a view; torch.cat copies and keeps nothing (under autocast it first copies
        a 16-bit input to float32, the token's type). Backward: the input's gradient is a slice of the
        incoming one, and the expand's sums the token's slice over the batch (D numbers)."""
        features = inputs[0][1]
        backward = Backward((Op((like("grad_token", "param:token"),)),), (GRAD_OUT,),
                            (("token", "grad_token"),)) if ctx.training else None
        return (Stage("cat", (0,), Forward((Op((Tensor("output", numel(output)),)),)), backward,
                      (("token", features),), autocast="float32"),)


@register
class PositionEmbedding(LearnedTensor):
    op = "pos_embedding"
    aliases = ("position_embedding", "pos_embed")
    known_as = ("positional_embedding", "positional_encoding", "position_encoding")
    summary = ("a learned [L, D] tensor added to an [L, D] sequence: L·D parameters, exported as a bare 1×L×D "
               "parameter named by the module path (ViT's encoder.pos_embedding)")
    example = _TOKENS + "- {op: pos_embedding}"

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        tokens(self, inputs[0])
        return inputs[0]

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        return Q("L", inputs[0][0]) * Q("D", inputs[0][1])

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        return {ELEMENTWISE: Q("L", inputs[0][0]) * Q("D", inputs[0][1])}

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(filters="+ [L, D]")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("PositionEmbedding", inputs[0][0], inputs[0][1])

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """x + embedding keeps nothing; backward: the input's gradient is the incoming one, the embedding's
        that summed over the batch (L·D numbers)."""
        backward = Backward((Op((like("grad_embedding", "param:embedding"),)),), (GRAD_OUT,),
                            (("embedding", "grad_embedding"),)) if ctx.training else None
        return (Stage("add", (0,), Forward((Op((Tensor("output", numel(output)),)),)), backward,
                      (("embedding", numel(output)),), promotes=True),)


@register
class MultiheadAttention(Layer):
    op = "mha"
    aliases = ("multihead_attention", "self_attention")
    known_as = ("multiheadattention", "attention", "msa", "mhsa")
    summary = ("multi-head self-attention on an [L, D] sequence, as nn.MultiheadAttention(D, heads, "
               "batch_first=True) computes it: 4·D² + 4·D parameters (in_proj_weight, in_proj_bias, out_proj)")
    example = _TOKENS + "- {op: mha, heads: 2}"
    weight_layer = True

    heads: int = spec_field(positive_int, aliases=("num_heads",), doc="attention heads; they divide D")
    dropout: float = spec_field(number(0, 1, high_open=True), 0.0, aliases=("attention_dropout", "attn_drop"),
                                doc="dropout on the attention weights in training, in [0, 1) (nn.MultiheadAttention's)")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        _, features = tokens(self, inputs[0])
        if isinstance(features, int) and features % self.heads:
            self.fail(f"heads={self.heads} does not divide the {features} features of each token", "heads",
                      hint="nn.MultiheadAttention splits D into heads of D / heads features")
        return inputs[0]

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        """in_proj: 3D × D weights and 3D biases; out_proj: D × D and D."""
        d = Q("D", inputs[0][1])
        return 4 * d * d + 4 * d

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """The projections are weighted multiply-adds (q, k and v: 3·L·D·D; out: L·D·D); the fused attention
        multiplies q by kᵀ and the weights by v (L·L·D each, over the heads), after a softmax per row."""
        length, features = inputs[0]
        big_l, d = Q("L", length), Q("D", features)
        return {MAC: 4 * big_l * d * d, BIAS: 4 * big_l * d, ATTENTION: 2 * big_l * big_l * d,
                ATTENTION_SCALE: big_l * d, ATTENTION_SOFTMAX: product([Q("heads", self.heads), big_l, big_l])}

    def explain_shape(self, inputs: list[Shape], output: Shape) -> list[Step]:
        features = inputs[0][1]
        return [Step("heads", None, f"{self.heads} heads of D / heads = {features} / {self.heads} = "
                                    f"{features // self.heads} features; {format_shape(output)} out")]

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        return None  # each token mixes every other

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells(filters=f"{self.heads} heads")

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("SelfAttention", inputs[0][1], self.heads, **({"dropout": self.dropout} if self.dropout else {}))

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """At inference nn.MultiheadAttention takes its fused fast path where its input has its parameters' type
        (float32; under autocast the op then casts query, key and value to 16 bits, three copies of the input)
        and its heads are even in number: one op, which allocates the output. Otherwise (training, an odd number
        of heads, or a 16-bit input under autocast)
        F.multi_head_attention_forward, op by op: the in-projection copies the input transposed to [L, N, D]
        (kept for its weight's gradient, else freed after the product) and adds the bias to the product
        (3·L·D); q, k and v are made contiguous in one [3, L, N, D] copy and taken from it as views (backward
        scatters each view's gradient into zeros of that size, and autograd sums them); the fused attention
        gives L·D and a float32 log-sum-exp per head and query (freed at once without a gradient), keeping
        q, k, v and both; its three gradients are each copied twice back through the heads' views; the
        out-projection reads the attention's output as it is, and its output, transposed back to [N, L, D],
        is a view. In training with dropout on the attention weights the attention is the math path
        (_math_path)."""
        length, features = inputs[0]
        n = length * features
        training = ctx.training
        out_params = (("out_proj.weight", features * features), ("out_proj.bias", features))
        if not training and self.heads % 2 == 0 and not (ctx.autocast and ctx.low and ctx.low[0]):
            # under autocast the fused op casts query, key and value to 16 bits one by one: three copies
            return (Stage("attention", (0, 0, 0) if ctx.autocast else (0,), Forward((Op((Tensor("output", n),)),)),
                          params=(("in_proj_weight", 3 * features * features), ("in_proj_bias", 3 * features),
                                  *out_params), autocast="lower"),)

        def grad(name: str) -> Tensor:
            return like(f"grad_{name}", f"param:{name}")

        def when_training(backward: Backward) -> Backward | None:
            return backward if training else None

        in_proj = Stage(
            "in_proj", (0,), Forward((Op((Tensor("x_copy", n),)),
                                      Op((Tensor("mm", 3 * n),), () if training else ("x_copy",)),
                                      Op((Tensor("output", 3 * n),), ("mm",))),
                                     saved=("x_copy", "param:in_proj_weight")),
            when_training(Backward((Op((grad("in_proj_bias"),)), Op((grad("in_proj_weight"),)),
                                    Op((Tensor("g_x", n),)), Op((like("grad_in", 0),), ("g_x",))), ("grad_in",),
                                   (("in_proj_bias", "grad_in_proj_bias"), ("in_proj_weight", "grad_in_proj_weight")))),
            (("in_proj_weight", 3 * features * features), ("in_proj_bias", 3 * features)), autocast="lower")
        qkv = Stage("qkv", (stage_output(0),), Forward((Op((Tensor("output", 3 * n),)),)),
                    when_training(Backward((Op((like("grad_in", 0),)),), ("grad_in",))))

        def out_projection(source: int) -> Stage:
            return Stage("out_proj", (stage_output(source),), Forward((Op((Tensor("output", n),)),),
                                                                      saved=(0, "param:out_proj.weight")),
                         when_training(Backward((Op((Tensor("grad_in", n),)), Op((grad("out_proj.weight"),)),
                                                 Op((grad("out_proj.bias"),))), ("grad_in",),
                                                tuple((name, f"grad_{name}") for name, _ in out_params))),
                         out_params, autocast="lower")

        if training and self.dropout:
            return (in_proj, qkv, *self._math_path(length, n), out_projection(11))
        views = tuple(Stage(part, (stage_output(1),), Forward(output=0, part=n),
                            when_training(Backward((Op((Tensor("copy1", n),)), Op((Tensor("copy2", n),), ("copy1",)),
                                                    Op((like("grad_in", 0),), ("copy2",))), ("grad_in",))),
                            layout="input")
                      for part in ("q", "k", "v"))
        attention = Stage(
            "attention", (stage_output(2), stage_output(3), stage_output(4)),
            Forward((Op((Tensor("output", n), Tensor("lse", self.heads * length, dtype=FLOAT32)),
                        () if training else ("lse",)),), saved=(0, 1, 2, "output", "lse")),
            when_training(Backward((Op((Tensor("gq", n), Tensor("gk", n), Tensor("gv", n))),), ("gq", "gk", "gv"))),
            autocast="lower")
        return (in_proj, qkv, *views, attention, out_projection(5))

    def _math_path(self, length: int, n: int) -> tuple[Stage, ...]:
        """Training with dropout on the attention weights: F.scaled_dot_product_attention takes its math path
        (the CPU's fused kernel has no dropout), op by op. q and kᵀ are each multiplied by the square root of
        the scale (copies, kept for the product's gradient); q·kᵀ gives heads·L·L scores per sample, freed once
        the softmax has its weights (kept); dropout draws a mask of their size (kept) and multiplies (the
        dropped weights, kept for the second product, with v); the product is L·D, in heads' order, which
        a contiguous copy puts back in the tokens' order for the out-projection (unless L is 1). Backward: v's
        gradient, the dropped weights' (then the weights', then the scores', each freeing the one before),
        kᵀ's and q's, each times the scale; q's and v's, in the heads' order, are copied once more to be
        viewed as the in-projection's rows (with several heads and tokens), k's is a view."""
        weights = self.heads * length * length
        copies = 1 if self.heads > 1 and length > 1 else 0
        views = tuple(Stage(part, (stage_output(1),), Forward(output=0, part=n),
                            Backward((*(Op((Tensor("copy", n),)),) * (copies if part != "k" else 0),
                                      Op((like("grad_in", 0),), ("copy",) if copies and part != "k" else ())),
                                     ("grad_in",)),
                            layout="input")
                      for part in ("q", "k", "v"))

        def step(label: str, inputs: tuple[int, ...], new: tuple[Tensor, ...], saved: tuple[Ref, ...],
                 grads: tuple[Tensor, ...]) -> Stage:
            """One autograd node of the math path, in float32 under autocast (which casts q, k and v)."""
            return Stage(label, inputs, Forward(tuple(Op((tensor,)) for tensor in new), saved=saved),
                         Backward(tuple(Op((grad,)) for grad in grads), tuple(grad.name for grad in grads)),
                         autocast="float32")

        first = 5  # the stage index of q * scale: after in_proj, qkv and the q, k and v views
        math = (step("q_scale", (stage_output(2),), (Tensor("output", n),), (), (Tensor("grad_in", n),)),
                step("k_scale", (stage_output(3),), (Tensor("output", n),), (), (Tensor("grad_in", n),)),
                # bmm's gradients: the second input's first
                Stage("scores", (stage_output(first), stage_output(first + 1)),
                      Forward((Op((Tensor("output", weights),)),), saved=(0, 1)),
                      Backward((Op((Tensor("grad_k", n),)), Op((Tensor("grad_q", n),))), ("grad_q", "grad_k")),
                      autocast="float32"),
                step("softmax", (stage_output(first + 2),), (Tensor("output", weights),), ("output",),
                     (Tensor("grad_in", weights),)),
                Stage("dropout", (stage_output(first + 3),),
                      Forward((Op((Tensor("mask", weights),)), Op((Tensor("output", weights),))), saved=("mask",)),
                      Backward((Op((Tensor("grad_in", weights),)),), ("grad_in",)), autocast="float32"),
                Stage("product", (stage_output(first + 4), stage_output(4)),
                      Forward((Op((Tensor("output", n),)),), saved=(0, 1)),
                      Backward((Op((Tensor("grad_v", n),)), Op((Tensor("grad_weights", weights),))),
                               ("grad_weights", "grad_v")), autocast="float32"))
        merged = Stage("heads", (stage_output(first + 5),),
                       Forward((Op((Tensor("output", n),)),) if length > 1 else (),
                               output="output" if length > 1 else 0),
                       Backward(grads=(GRAD_OUT,)), layout="contiguous")
        return (*views, *math, merged)
