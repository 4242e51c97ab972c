"""Vision transformers (docs/spec.md, "Vision transformers"): the attention arithmetic of torchvision's vit_b_16
written out layer by layer, with its counts proven against PyTorch, and the reference figures of the whole model,
which the bundled spec (specs/vit_b_16.yaml, its mha layers fused as torchvision's are) reproduces."""
from __future__ import annotations

import pytest

import cnncalc
from cnncalc.analysis.conventions import CONVENTIONS
from cnncalc.analysis.engine import analyze
from cnncalc.spec.graph import build
from cnncalc.spec.spec import parse_spec

# One ViT-B/16 encoder block's attention after in_proj: 197 tokens (196 patches and the class token),
# q, k and v of 768 = 12 heads of 64, given as a [C, H, W] map (a sequence, [L, D], is an input too).
ATTENTION = """
name: vit_attention_core
input: [2304, 197, 1]
vars: {heads: 12, d: 64}
layers:
  - {op: reshape, name: seq, shape: [2304, 197]}
  - {op: transpose, name: qkv, dims: [1, 2]}                 # [197, 2304]
  - {op: split, name: q, parts: 3, index: 0, dim: -1}
  - {op: split, name: k, in: qkv, parts: 3, index: 1, dim: -1}
  - {op: split, name: v, in: qkv, parts: 3, index: 2, dim: -1}
  - {op: reshape, name: qh, in: q, shape: [197, heads, d]}
  - {op: transpose, name: qt, dims: [1, 2]}                  # [12, 197, 64]
  - {op: scale, name: qs, factor: 1 / sqrt(d)}
  - {op: reshape, name: kh, in: k, shape: [197, heads, d]}
  - {op: transpose, name: kt, dims: [1, 2]}
  - {op: transpose, name: ktt, dims: [-2, -1]}               # [12, 64, 197]
  - {op: matmul, name: scores, in: [qs, ktt]}                # [12, 197, 197]
  - {op: softmax, name: attn, dim: -1}
  - {op: reshape, name: vh, in: v, shape: [197, heads, d]}
  - {op: transpose, name: vt, dims: [1, 2]}
  - {op: matmul, name: mixed, in: [attn, vt]}                # [12, 197, 64]
  - {op: transpose, name: back, dims: [1, 2]}
  - {op: reshape, name: out, shape: [197, heads * d]}
"""
# q @ kᵀ and attention @ v: 12 heads × 197 × 64 × 197 each
PRODUCT = 12 * 197 * 64 * 197  # 29,805,312
VIT_B_16_PARAMS = 86_567_656
# fvcore's count of vit_b_16 at 224²: patch conv 115,605,504 + LayerNorms 18,912,000 + Linears 16,732,895,232;
# F.scaled_dot_product_attention, 12 × 2 × PRODUCT = 715,327,488 multiply-adds, is not counted
VIT_B_16_FVCORE = 16_867_412_736
# FlopCounterMode under torch.no_grad(): nn.MultiheadAttention takes the fused fast path, which it does not
# count; 2 FLOPs per multiply-add of the MLPs 12 × 2 × 197 × 768 × 3072 = 11,154,751,488, the patch conv
# 196 × 768 × 768 = 115,605,504 and the head 768 × 1000 = 768,000
VIT_B_16_FLOP_COUNTER = 2 * (11_154_751_488 + 115_605_504 + 768_000)  # 22,542,249,984
# Off that fast path (the meta device, or with a gradient) it counts each of the 12 attention layers too, 2 FLOPs per
# multiply-add of the projections 4 × 197 × 768² = 464,781,312 and of the two products 2 × 197² × 768 = 59,610,624
VIT_B_16_FLOP_COUNTER_FULL = VIT_B_16_FLOP_COUNTER + 12 * 2 * (464_781_312 + 59_610_624)  # 35,127,656,448


def test_the_vit_b_16_spec_gives_the_reference_figures():
    assert cnncalc.analyze("vit_b_16").totals.params == VIT_B_16_PARAMS
    assert cnncalc.analyze("vit_b_16", convention=CONVENTIONS["fvcore"]).totals.macs == VIT_B_16_FVCORE
    assert cnncalc.analyze("vit_b_16", convention=CONVENTIONS["torch"]).totals.macs == VIT_B_16_FLOP_COUNTER_FULL


def _graph():
    return build(parse_spec(ATTENTION, "vit_attention_core.yaml"))


SCORES = 12 * 197 * 197  # 465,708 attention weights: ptflops counts the softmax once per weight, thop an exp
SOFTMAX_ADDS = 12 * 197 * 196  # and a division per weight and the 196 additions of each row's sum


@pytest.mark.parametrize("convention, expected", [("textbook", 2 * PRODUCT), ("fvcore", 2 * PRODUCT),
                                                  ("torch", 2 * 2 * PRODUCT),  # FLOPs: 2 per multiply-add
                                                  ("ptflops", SCORES), ("thop", 2 * SCORES + SOFTMAX_ADDS), ("torchinfo", 0)])
def test_attention_core_counts_the_two_products(convention, expected):
    report = analyze(_graph(), convention=CONVENTIONS[convention])
    assert report.totals.macs == expected == sum(row.macs for row in report.rows)
    assert report.outputs[0][1] == (197, 768)
    assert report.totals.params == 0


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("convention", ["fvcore", "torch"])
def test_attention_core_equals_pytorch_layer_by_layer(torch, convention):
    pytest.importorskip("fvcore")
    from cnncalc.pytorch.verify import verify

    graph = _graph()
    checks = verify(graph, analyze(graph, convention=CONVENTIONS[convention]))
    assert [c for c in checks if not c.ok] == []
    flops_per_mac = 2 if convention == "torch" else 1  # FlopCounterMode counts FLOPs
    assert sum(c.measured for c in checks if c.quantity.startswith("macs")) == flops_per_mac * 2 * PRODUCT


@pytest.mark.torch
@pytest.mark.peers
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_vit_b_16_reference_figures(torch, torchvision):
    """The figures docs/spec.md quotes: torchvision's parameters, fvcore leaving the fused attention out, and
    FlopCounterMode leaving the whole fast-path attention out on the CPU, counting it on the meta device."""
    fvcore = pytest.importorskip("fvcore.nn")
    model = torchvision.models.vit_b_16(weights=None).eval()
    assert sum(p.numel() for p in model.parameters()) == VIT_B_16_PARAMS
    counter = fvcore.FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))
    counter.unsupported_ops_warnings(False)
    counter.uncalled_modules_warnings(False)
    assert counter.total() == VIT_B_16_FVCORE
    assert counter.unsupported_ops()["aten::scaled_dot_product_attention"] == 12
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as flop_counter, torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    assert flop_counter.get_total_flops() == VIT_B_16_FLOP_COUNTER
    with torch.device("meta"):
        meta = torchvision.models.vit_b_16(weights=None).eval()
    with FlopCounterMode(display=False) as flop_counter, torch.no_grad():
        meta(torch.zeros(1, 3, 224, 224, device="meta"))
    assert flop_counter.get_total_flops() == VIT_B_16_FLOP_COUNTER_FULL


ATTENTION_DROPOUT = "input: [12, 10]\nlayers:\n  - {op: mha, name: attention, heads: 2, dropout: 0.25}\n"


@pytest.mark.torch
def test_attention_dropout_is_lowered_and_exported(torch, tmp_path):
    """`dropout` is nn.MultiheadAttention's, in the lowered module and in the exported file; it changes no count
    (tests/test_conventions.py: no peer counts it) and no parameter."""
    from cnncalc.pytorch.export import pytorch_source
    from cnncalc.pytorch.lowering import to_module

    from .test_export import load_exported

    graph = build(parse_spec(ATTENTION_DROPOUT, "attention_dropout.yaml"))
    plain = build(parse_spec(ATTENTION_DROPOUT.replace(", dropout: 0.25", ""), "attention.yaml"))
    for convention in CONVENTIONS.values():
        assert analyze(graph, convention=convention).totals == analyze(plain, convention=convention).totals
    lowered = to_module(graph)
    assert type(lowered.attention).__name__ == "SelfAttention"
    assert lowered.attention.dropout == 0.25 and to_module(plain).attention.dropout == 0.0
    exported = load_exported(tmp_path, "attention_dropout", pytorch_source(graph, "AttentionDropout"))
    attention = next(m for m in exported.modules() if isinstance(m, torch.nn.MultiheadAttention))
    assert attention.dropout == 0.25
    assert sum(p.numel() for p in exported.parameters()) == 4 * 10 * 10 + 4 * 10  # 4·D² + 4·D = 440
