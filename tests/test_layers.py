"""Worked examples for every layer type, with the arithmetic beside each expected value."""
from __future__ import annotations

import pytest

from cnncalc.layers import REGISTRY, layer_types

from .conftest import one_layer


def row(analyze_text, layer, input_shape="[3, 32, 32]"):
    report = analyze_text(one_layer(layer, input_shape))
    assert len(report.rows) == 1
    return report.rows[0]


def test_conv_basic(analyze_text):
    r = row(analyze_text, "{op: conv, out: 8, kernel: 3, stride: 1, pad: 1}")
    assert r.output_shape == (8, 32, 32)  # (32 - 3 + 2*1)/1 + 1 = 32
    assert r.params == 8 * 3 * 3 * 3 + 8 == 224
    assert r.macs == (8 * 32 * 32) * (3 * 3 * 3) == 221_184
    assert r.memory_bytes == 8 * 32 * 32 * 4 == 32_768


def test_conv_without_bias(analyze_text):
    r = row(analyze_text, "{op: conv, out: 8, kernel: 3, bias: false}")
    assert r.output_shape == (8, 30, 30)  # (32 - 3 + 0)/1 + 1 = 30
    assert r.params == 8 * 3 * 3 * 3 == 216
    assert r.macs == 8 * 30 * 30 * 3 * 9 == 194_400


def test_conv_grouped(analyze_text):
    r = row(analyze_text, "{op: conv, out: 16, kernel: 3, pad: 1, groups: 4}", "[8, 10, 10]")
    # weights: C_out * C_in/groups * K*K = 16 * 2 * 9 = 288, + 16 biases
    assert r.params == 16 * (8 // 4) * 9 + 16 == 304
    assert r.macs == 16 * 10 * 10 * (8 // 4) * 9 == 28_800
    assert r.cells.filters == "16 g4"


def test_conv_depthwise(analyze_text):
    r = row(analyze_text, "{op: conv, out: 32, kernel: 3, pad: 1, groups: 32, bias: false}", "[32, 56, 56]")
    assert r.params == 32 * 1 * 9 == 288
    assert r.macs == 32 * 56 * 56 * 9 == 903_168


def test_conv_dilated(analyze_text):
    r = row(analyze_text, "{op: conv, out: 4, kernel: 3, dilation: 2}", "[1, 16, 16]")
    # effective kernel 2*(3-1)+1 = 5: (16 - 5)/1 + 1 = 12
    assert r.output_shape == (4, 12, 12)
    assert r.macs == 4 * 12 * 12 * 1 * 9 == 5_184
    assert r.cells.kernel == "3 d2"


def test_conv_asymmetric_kernel_stride_and_pad(analyze_text):
    r = row(analyze_text, "{op: conv, out: 6, kernel: [1, 7], stride: [1, 2], pad: [0, 3]}", "[4, 17, 17]")
    # H: (17 - 1 + 0)/1 + 1 = 17; W: (17 - 7 + 6)/2 + 1 = 9
    assert r.output_shape == (6, 17, 9)
    assert r.params == 6 * 4 * 1 * 7 + 6 == 174
    assert r.macs == 6 * 17 * 9 * 4 * 7 == 25_704
    assert (r.cells.kernel, r.cells.stride, r.cells.pad) == ("1×7", "1×2", "0×3")


def test_conv_same_and_valid_padding(analyze_text):
    same = row(analyze_text, "{op: conv, out: 2, kernel: 5, pad: same}", "[1, 9, 9]")
    assert same.output_shape == (2, 9, 9)  # same, stride 1: output = input
    strided = row(analyze_text, "{op: conv, out: 2, kernel: 3, stride: 2, pad: same}", "[1, 9, 9]")
    assert strided.output_shape == (2, 5, 5)  # ceil(9/2) = 5
    valid = row(analyze_text, "{op: conv, out: 2, kernel: 5, pad: valid}", "[1, 9, 9]")
    assert valid.output_shape == (2, 5, 5)  # (9 - 5)/1 + 1 = 5


def test_conv_fused_activation_adds_no_row_and_no_macs(analyze_text):
    plain = row(analyze_text, "{op: conv, out: 8, kernel: 3}")
    fused = row(analyze_text, "{op: conv, out: 8, kernel: 3, act: relu}")
    assert (fused.params, fused.macs, fused.memory_bytes) == (plain.params, plain.macs, plain.memory_bytes)


def test_maxpool_stride_defaults_to_kernel(analyze_text):
    r = row(analyze_text, "{op: maxpool, kernel: 2}", "[16, 32, 32]")
    assert r.output_shape == (16, 16, 16)  # (32 - 2)/2 + 1 = 16
    assert r.params == 0
    assert r.macs == 16 * 16 * 16 * 2 * 2 == 16_384  # window reads, as the slides count pool1
    assert r.cells.stride == "2"


def test_avgpool_with_padding(analyze_text):
    r = row(analyze_text, "{op: avgpool, kernel: 3, stride: 1, pad: 1}", "[4, 8, 8]")
    assert r.output_shape == (4, 8, 8)  # (8 - 3 + 2)/1 + 1 = 8
    assert r.macs == 4 * 8 * 8 * 9 == 2_304


def test_pool_ceil_mode(analyze_text):
    r = row(analyze_text, "{op: maxpool, kernel: 3, stride: 2, ceil: true}", "[64, 112, 112]")
    assert r.output_shape == (64, 56, 56)  # ceil((112 - 3)/2) + 1 = ceil(54.5) + 1 = 56


def test_global_average_pool(analyze_text):
    # The slide's GoogLeNet head: avg-pool 7x7 on 1024x7x7 -> 1024x1x1, 4 KB, 0 params
    r = row(analyze_text, "{op: gap}", "[1024, 7, 7]")
    assert r.output_shape == (1024, 1, 1)
    assert r.memory_bytes == 1024 * 4 == 4_096
    assert r.macs == 1024 * 7 * 7 == 50_176  # each output reads the whole 7x7 map
    assert (r.cells.kernel, r.cells.stride, r.cells.pad) == ("7", "1", "0")


def test_global_max_pool_non_square(analyze_text):
    r = row(analyze_text, "{op: global_maxpool}", "[8, 3, 5]")
    assert r.output_shape == (8, 1, 1)
    assert r.cells.kernel == "3×5"


def test_linear_googlenet_head(analyze_text):
    # The slide's GoogLeNet fc: 1024 -> 1000, params 1024*1000 + 1000 = 1,025,000 ("1025 k")
    r = row(analyze_text, "{op: fc, out: 1000}", "[1024]")
    assert r.params == 1_025_000
    assert r.macs == 1024 * 1000 == 1_024_000
    assert r.memory_bytes == 1000 * 4 == 4_000


def test_linear_without_bias(analyze_text):
    r = row(analyze_text, "{op: linear, out: 10, bias: false}", "[20]")
    assert r.params == 200


# ViT-B/16's layers on its 197 tokens of 768 features (torchvision's vit_b_16: the zoo tests prove the whole)
def test_linear_at_every_token(analyze_text):
    r = row(analyze_text, "{op: linear, out: 3072}", "[197, 768]")  # ViT-B/16's mlp.0
    assert r.output_shape == (197, 3072)
    assert r.params == 768 * 3072 + 3072 == 2_362_368  # weights [out, in] and a bias, as on a vector
    assert r.macs == 197 * 768 * 3072 == 464_781_312  # the vector's work at each token


def test_layernorm_over_the_last_axis_of_tokens(analyze_text):
    r = row(analyze_text, "{op: layernorm, eps: 1.0e-6}", "[197, 768]")
    assert r.output_shape == (197, 768)
    assert r.params == 2 * 768  # a scale and a shift per feature (nn.LayerNorm(768))


def test_multihead_attention(analyze_text):
    r = row(analyze_text, "{op: mha, heads: 12}", "[197, 768]")
    assert r.output_shape == (197, 768)
    assert r.params == 4 * 768 * 768 + 4 * 768 == 2_362_368  # in_proj 3D×D + 3D, out_proj D×D + D
    # projections 4·197·768·768 = 464,781,312; q·kᵀ and weights·v 2·197·197·768 = 59,610,624
    assert r.macs == 464_781_312 + 59_610_624


def test_class_token_and_position_embedding(analyze_text):
    token = row(analyze_text, "{op: class_token}", "[196, 768]")
    assert token.output_shape == (197, 768) and token.params == 768 and token.macs == 0  # 1 + 196 tokens
    embedding = row(analyze_text, "{op: pos_embedding}", "[197, 768]")
    assert embedding.output_shape == (197, 768) and embedding.params == 197 * 768 == 151_296
    assert embedding.macs == 0  # an addition: no multiply-adds in the textbook


def test_flatten(analyze_text):
    r = row(analyze_text, "{op: flatten}", "[256, 6, 6]")
    assert r.output_shape == (9216,)  # 256*6*6
    assert (r.params, r.macs, r.memory_bytes) == (0, 0, 9216 * 4)


@pytest.mark.parametrize("op", ["relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "silu", "softmax"])
def test_activations_keep_shape_and_cost_nothing_in_the_textbook(analyze_text, op):
    r = row(analyze_text, f"{{op: {op}}}", "[8, 4, 4]")
    assert r.output_shape == (8, 4, 4)
    assert (r.params, r.macs) == (0, 0)
    assert r.memory_bytes == 8 * 4 * 4 * 4 == 512


def test_batchnorm_params_and_buffers(analyze_text):
    r = row(analyze_text, "{op: batchnorm}", "[64, 8, 8]")
    assert r.params == 2 * 64 == 128  # gamma and beta
    assert r.buffers == 2 * 64 == 128  # running mean and variance
    assert r.macs == 0
    assert row(analyze_text, "{op: bn, affine: false}", "[64, 8, 8]").params == 0


def test_batchnorm_on_vectors(analyze_text):
    assert row(analyze_text, "{op: batchnorm}", "[100]").params == 200


def test_lrn_and_dropout(analyze_text):
    lrn = row(analyze_text, "{op: lrn, size: 5, alpha: 0.0001, beta: 0.75, k: 2}", "[96, 55, 55]")
    assert (lrn.output_shape, lrn.params, lrn.macs) == ((96, 55, 55), 0, 0)
    drop = row(analyze_text, "{op: dropout, p: 0.5}", "[4096]")
    assert (drop.output_shape, drop.params, drop.macs) == ((4096,), 0, 0)


def test_batch_scales_macs_and_memory_not_params(analyze_text):
    one = row(analyze_text, "{op: conv, out: 8, kernel: 3}")
    report = analyze_text(one_layer("{op: conv, out: 8, kernel: 3}"), batch=32)
    many = report.rows[0]
    assert many.params == one.params
    assert many.macs == 32 * one.macs
    assert many.memory_bytes == 32 * one.memory_bytes


@pytest.mark.parametrize("dtype,size", [("float32", 4), ("float16", 2), ("bfloat16", 2), ("float64", 8), ("int8", 1)])
def test_dtype_sets_bytes_per_element(analyze_text, dtype, size):
    report = analyze_text(one_layer("{op: conv, out: 8, kernel: 3}"), dtype=dtype)
    assert report.rows[0].memory_bytes == 8 * 30 * 30 * size


def test_interpolate_to_the_size_of_a_second_input(analyze_text):
    """F.interpolate(x, size=low.shape[-2:]): the channels of the first input, the height and width of the
    second (torchvision's LR-ASPP head)."""
    report = analyze_text("input: [3, 32, 32]\nlayers:\n"
                          "  - {op: conv, name: low, out: 8, kernel: 3, stride: 2, pad: 1}\n"   # (32 + 2 - 3)//2 + 1 = 16
                          "  - {op: conv, name: high, out: 16, kernel: 1, stride: 2}\n"        # (16 - 1)//2 + 1 = 8
                          "  - {op: interpolate, name: up, in: [high, low], mode: bilinear}\n"
                          "  - {op: concat, in: [up, low]}\n")
    up = {r.name: r for r in report.rows}["up"]
    assert up.output_shape == (16, 16, 16)
    assert (up.params, up.macs) == (0, 0)  # textbook: a resize is no multiply-add
    assert up.memory_bytes == 16 * 16 * 16 * 4 == 16_384


def test_every_layer_type_is_covered_by_a_worked_example():
    from pathlib import Path

    here = Path(__file__).parent
    examples = (here / "test_layers.py").read_text() + (here / "test_graph.py").read_text()
    def covered(cls) -> bool:  # `op: NAME` in a spec, or "NAME" in a parametrised list of ops
        return any(f"op: {name}}}" in examples or f"op: {name}," in examples for name in (cls.op, *cls.aliases)) \
            or f'"{cls.op}"' in examples

    missing = [cls.op for cls in layer_types() if not covered(cls)]
    assert missing == []


def test_registry_refuses_duplicate_names():
    from cnncalc.layers import Layer, register

    class Clash(Layer):
        op = "conv"

    with pytest.raises(RuntimeError, match="taken"):
        register(Clash)
    assert REGISTRY["conv"].__name__ == "Conv"


def test_every_layer_type_documents_itself():
    for cls in layer_types():
        assert cls.summary, cls.op
        names = cls.field_names()
        assert len(names) == len(set(names)), cls.op


def test_rules_run_on_symbolic_sizes():
    # The arithmetic has no type checks on values: sympy symbols go through params and costs.
    sympy = pytest.importorskip("sympy")
    from cnncalc.analysis.conventions import TEXTBOOK
    from cnncalc.core.formula import value_of
    from cnncalc.layers.conv import Conv
    from cnncalc.layers.linear import Linear

    C, H, W = sympy.symbols("C H W", integer=True, positive=True)
    conv = Conv("c", {"out": 64, "kernel": 3, "pad": 1})
    assert sympy.simplify(value_of(conv.params([(C, H, W)], (64, H, W))) - (576 * C + 64)) == 0
    costs = {term: value_of(f) for term, f in conv.costs([(C, H, W)], (64, H, W)).items()}
    assert sympy.simplify(TEXTBOOK.count(costs) - 576 * C * H * W) == 0
    fc = Linear("f", {"out": 10})
    assert sympy.simplify(value_of(fc.params([(C,)], (10,))) - (10 * C + 10)) == 0


# ---- tensors of any rank (spec v3) ------------------------------------------------------------

def test_reshape_with_a_size_that_fits(analyze_text):
    r = row(analyze_text, "{op: reshape, shape: [4, 16, -1]}", "[64, 20, 20]")
    assert r.output_shape == (4, 16, 400)  # 64·20·20 = 25,600 elements = 4·16·400
    assert (r.params, r.macs, r.memory_bytes) == (0, 0, 25_600 * 4)
    assert r.receptive_field is None  # a position of the new shape is no position of the image


def test_transpose_counts_axes_as_pytorch(analyze_text):
    # x.transpose(2, 1) on a (B, 4, 16, A) tensor: the sample's axes 0 and 1 swap
    r = row(analyze_text, "{op: transpose, dims: [2, 1]}", "[4, 16, 400]")
    assert r.output_shape == (16, 4, 400)
    assert row(analyze_text, "{op: transpose, dims: [-1, -2]}", "[3, 5, 7]").output_shape == (3, 7, 5)


def test_slice_of_the_channels_and_of_another_axis(analyze_text):
    r = row(analyze_text, "{op: slice, end: 16}", "[64, 8, 8]")  # DPN's x[:, :16]
    assert r.output_shape == (16, 8, 8)
    assert r.cells.filters == "0:16"
    assert row(analyze_text, "{op: slice, start: -3, dim: 3}", "[4, 8, 10]").output_shape == (4, 8, 3)  # 7:10


def test_mean_is_global_pooling_as_a_tensor_method(analyze_text):
    r = row(analyze_text, "{op: mean}", "[1024, 7, 7]")  # x.mean([2, 3])
    assert r.output_shape == (1024,)
    assert r.macs == 1024 * 7 * 7 == 50_176  # textbook: one addition per element, as global pooling
    assert r.receptive_field[0].size == 7
    assert row(analyze_text, "{op: mean, dims: [2, 3], keepdim: true}", "[8, 4, 4]").output_shape == (8, 1, 1)


def test_split_of_unequal_sizes_and_along_an_axis(analyze_text):
    r = row(analyze_text, "{op: split, sizes: [32, 32, 64], index: 2, dim: 2}", "[2, 128, 400]")
    assert r.output_shape == (2, 64, 400)  # Attention's q, k, v split of (nh, 2·kd + hd, N)
    assert row(analyze_text, "{op: split, index: 1}", "[8, 4, 4]").output_shape == (4, 4, 4)  # chunk(2)[1]


def test_concat_along_another_axis(analyze_text):
    report = analyze_text("""input: [3, 8, 8]
layers:
  - {op: conv, name: a, out: 64, kernel: 1}
  - {op: reshape, name: fa, shape: [64, -1]}
  - {op: maxpool, name: p, in: a, kernel: 2}
  - {op: reshape, name: fp, shape: [64, -1]}
  - {op: concat, name: cat, in: [fa, fp], dim: 2}
""")
    assert report.rows[-1].output_shape == (64, 64 + 16)  # torch.cat([...view(b, 64, -1)], 2): 8·8 + 4·4 anchors


def test_softmax_over_an_axis_counts_its_additions(analyze_text):
    from cnncalc.analysis.conventions import THOP

    # DFL: softmax over the 16 bins of (16, 4, A): 15 additions at each of the 4·A positions
    r = analyze_text(one_layer("{op: softmax, dim: 1}", "[16, 4, 100]"), convention=THOP).rows[0]
    assert r.macs == 2 * 16 * 4 * 100 + 15 * 4 * 100  # thop: exp and division per element, then the adds
    r = analyze_text(one_layer("{op: softmax, dim: -1}", "[16, 4, 100]"), convention=THOP).rows[0]
    assert r.macs == 2 * 16 * 4 * 100 + 99 * 16 * 4


ATTENTION_SCORES = """input: [96, 4, 5]
layers:
  - {op: reshape, name: heads, shape: [2, 48, -1]}          # 2 heads, 48 rows, 4·5 = 20 positions
  - {op: split, name: q, sizes: [16, 16, 16], index: 0, dim: 2}
  - {op: split, name: k, in: heads, sizes: [16, 16, 16], index: 1, dim: 2}
  - {op: scale, name: q_scaled, in: q, factor: "1 / sqrt(16)"}
  - {op: transpose, name: q_t, dims: [-2, -1]}
  - {op: matmul, name: scores, in: [q_t, k]}
  - {op: softmax, name: attn, dim: -1}
"""


def test_matmul_multiplies_matrices_batched_over_the_leading_axes(analyze_text):
    from cnncalc.analysis.conventions import CONVENTIONS

    report = analyze_text(ATTENTION_SCORES)
    rows = {r.name: r for r in report.rows}
    assert rows["q_scaled"].output_shape == (2, 16, 20)
    assert (rows["q_scaled"].params, rows["q_scaled"].macs) == (0, 0)  # a constant factor: no parameters, no MACs
    assert rows["scores"].output_shape == (2, 20, 20)  # [2, 20, 16] @ [2, 16, 20]
    assert rows["scores"].params == 0
    assert rows["scores"].macs == 2 * 20 * 16 * 20 == 12_800  # B·n·k·m
    counted = {name: analyze_text(ATTENTION_SCORES, convention=c).rows[5].macs for name, c in CONVENTIONS.items()}
    # fvcore's aten::matmul rule; FlopCounterMode's 2 FLOPs per multiply-add; `@` escapes ptflops, thop, torchinfo
    assert counted == {"textbook": 12_800, "fvcore": 12_800, "torch": 25_600, "ptflops": 0, "thop": 0, "torchinfo": 0}
    assert rows["scores"].receptive_field is None  # every output mixes whole rows and columns


@pytest.mark.parametrize("left, right, fragment", [
    ("[4, 18]", "[9, 8]", "the first input's last axis (18) must equal the second's last but one (9)"),
    ("[2, 4, 9]", "[4, 9, 2]", "the same axes before the last two"),
    ("[8, 9]", "[2, 9, 4]", "the same axes before the last two"),
    ("[72]", "[8, 9]", "each input needs at least 2 axes per sample"),
])
def test_matmul_refuses_shapes_that_do_not_multiply(analyze_text, left, right, fragment):
    import re

    from cnncalc.core.errors import SpecError

    text = (f"input: [72]\nlayers:\n  - {{op: reshape, name: a, shape: {left}}}\n"
            f"  - {{op: reshape, name: b, in: input, shape: {right}}}\n  - {{op: matmul, in: [a, b]}}\n")
    with pytest.raises(SpecError, match=re.escape(fragment)):
        analyze_text(text)


def test_scale_needs_a_finite_factor(analyze_text):
    from cnncalc.core.errors import SpecError

    r = row(analyze_text, "{op: scale, factor: 0.125}")
    assert (r.output_shape, r.params, r.macs) == ((3, 32, 32), 0, 0)
    with pytest.raises(SpecError, match="must be a finite number"):
        analyze_text(one_layer("{op: scale, factor: big}"))
    with pytest.raises(SpecError, match="'factor' is required"):
        analyze_text(one_layer("{op: scale}"))


def test_dist2bbox_decodes_at_the_anchors_of_its_maps(analyze_text):
    report = analyze_text("""input: [3, 16, 16]
layers:
  - {op: conv, name: p3, out: 8, kernel: 3, stride: 2, pad: 1}
  - {op: conv, name: p4, out: 8, kernel: 3, stride: 2, pad: 1}
  - {op: conv, name: d3, in: p3, out: 4, kernel: 1}
  - {op: reshape, name: f3, shape: [4, -1]}
  - {op: conv, name: d4, in: p4, out: 4, kernel: 1}
  - {op: reshape, name: f4, shape: [4, -1]}
  - {op: concat, name: dist, in: [f3, f4], dim: 2}
  - {op: dist2bbox, name: boxes, in: [dist, p3, p4], strides: [2, 4]}
""")
    boxes = report.rows[-1]
    assert boxes.output_shape == (4, 8 * 8 + 4 * 4)  # A = 64 + 16 anchor points
    assert (boxes.params, boxes.macs) == (0, 0)


def test_frozen_conv_still_has_parameters(analyze_text):
    r = row(analyze_text, "{op: conv, out: 1, kernel: 1, bias: false, frozen: true}", "[16, 4, 100]")
    assert r.params == 16  # YOLO's DFL: 16 weights fixed at 0..15, counted by model.parameters()
    assert r.macs == 16 * 4 * 100  # 1 × 4 × 100 outputs × 16 inputs


def test_contiguous_copies_a_view_out_of_order_and_passes_anything_else():
    """x.contiguous() after x.transpose(2, 3) copies (the per-type MemTracker test proves it on the example);
    after a conv it returns x itself. Either way no parameters and no multiply-adds."""
    from cnncalc import analyze
    from cnncalc.layers.memory import MemoryContext, contiguous_strides

    report = analyze("input: [4, 6, 5]\nlayers:\n  - {op: conv, name: c, out: 4, kernel: 1}\n"
                             "  - {op: transpose, name: t, dims: [2, 3]}\n  - {op: contiguous, name: copy}\n")
    copy = report.rows[-1]
    assert (copy.output_shape, copy.params, copy.macs) == ((4, 5, 6), 0, 0)
    layer = REGISTRY["contiguous"]("copy")
    plain = MemoryContext(True, (True,), (False,))
    assert layer.memory([(4, 5, 6)], (4, 5, 6), plain)[0].forward.ops == ()  # a view: x itself
    # a transposed 4x6x5 map: strides (120, 30, 1, 5), the batch's first
    swapped = MemoryContext(True, (True,), (False,), ((120, 30, 1, 5),))
    assert contiguous_strides((4, 5, 6)) == (120, 30, 6, 1)
    (stage,) = layer.memory([(4, 5, 6)], (4, 5, 6), swapped)
    assert [tensor.per_sample for op in stage.forward.ops for tensor in op.new] == [4 * 5 * 6]  # a copy
