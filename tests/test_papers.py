"""The paper variants in the zoo reproduce the published numbers, within the rounding each paper
used; where a paper misprints, the test names the misprint (and the spec's comments explain it)."""
from __future__ import annotations

import math

import pytest

import cnncalc
from cnncalc.analysis.conventions import Convention
from cnncalc.layers.terms import MAC

# Multiply-adds of convolutions and fully connected layers only, as the papers count "ops"/"FLOPs".
WEIGHTS_ONLY = Convention("weights-only", "conv and linear multiply-adds", {MAC: 1})


def in_paper_rounding(value: float, printed: float) -> bool:
    """Papers print rounded or truncated values: 73.6 may be printed as 74 or as 73."""
    return printed in (round(value), math.floor(value))


# ---- ResNet (He et al. 2015), Table 1: FLOPs 1.8, 3.6, 3.8, 7.6, 11.3 x 10^9 ------------------------
@pytest.mark.parametrize("spec,gflops", [
    ("resnet18_paper", 1.8), ("resnet34_paper", 3.6), ("resnet101_paper", 7.6), ("resnet152_paper", 11.3)])
def test_resnet_table1_flops(spec, gflops):
    macs = cnncalc.analyze(spec).totals.macs
    assert round(macs / 1e9, 1) == gflops


def test_resnet50_table1_flops_is_truncated():
    # 3,859,879,936 multiply-adds: the paper prints 3.8, which is 3.86 truncated; the 17 blocks
    # that ResNet-101 adds cost exactly 3,712 M, so no count gives both 3.8 and 7.6 when rounded.
    macs = cnncalc.analyze("resnet50_paper").totals.macs
    assert macs == 3_859_879_936
    assert math.floor(macs / 1e8) / 10 == 3.8
    assert cnncalc.analyze("resnet101_paper").totals.macs - macs == 3_712_221_184


def test_resnet_paper_bottleneck_strides_in_the_first_1x1():
    # Same parameters as torchvision's resnet50, fewer multiply-adds: the stride-2 1x1 sees 1/4 of the pixels
    paper, torchvision = cnncalc.analyze("resnet50_paper"), cnncalc.analyze("resnet50")
    assert paper.totals.params == torchvision.totals.params == 25_557_032
    assert paper.totals.macs < torchvision.totals.macs


# ---- GoogLeNet (Szegedy et al. 2014), Table 1: params (K = 1024 weights) and ops (M) per row -------
GOOGLENET_TABLE1 = {
    "conv1": (2.7, 34), "conv2": (112, 360), "inception3a": (159, 128), "inception3b": (380, 304),
    "inception4a": (364, 73), "inception4b": (437, 88), "inception4c": (463, 100), "inception4d": (580, 119),
    "inception4e": (840, 170), "inception5a": (1072, 54), "inception5b": (1388, 71), "fc": (1000, 1),
}
# Rows the paper misprints: conv1 prints 2.7 K / 34 M for 9.2 K / 118 M (34 M = 2.7 K x 112^2);
# 4c prints 463 K for 497.5 K (its 100 M ops agree with 497.5 K); 5a prints 1072 K / 54 M for
# 1018 K / 51 M (54 M = 1072 K x 7^2).
PARAMS_MISPRINTED = {"conv1", "inception4c", "inception5a"}
OPS_MISPRINTED = {"conv1", "inception5a"}


@pytest.fixture(scope="module")
def googlenet_rows():
    from cnncalc.analysis.engine import analyze
    from cnncalc.spec.bundled import resolve
    from cnncalc.spec.graph import build
    from cnncalc.spec.spec import load_spec

    graph = build(load_spec(resolve("googlenet_paper")[0]))
    return {row.name: row for row in analyze(graph, convention=WEIGHTS_ONLY).collapse(1).rows}


@pytest.mark.parametrize("row", sorted(set(GOOGLENET_TABLE1) - OPS_MISPRINTED))
def test_googlenet_table1_ops(googlenet_rows, row):
    assert in_paper_rounding(googlenet_rows[row].macs / 1e6, GOOGLENET_TABLE1[row][1])


@pytest.mark.parametrize("row", sorted(set(GOOGLENET_TABLE1) - PARAMS_MISPRINTED))
def test_googlenet_table1_params_within_the_papers_loose_rounding(googlenet_rows, row):
    # The table's K column is rounded loosely (up to 2 %: 4d prints 580 K for 591 K)
    assert googlenet_rows[row].params / 1024 == pytest.approx(GOOGLENET_TABLE1[row][0], rel=0.02)


def test_googlenet_inception3a_worked_example(googlenet_rows):
    # 1x1: 192*64; 3x3 reduce: 192*96; 3x3: 96*9*128; 5x5 reduce: 192*16; 5x5: 16*25*32; pool proj: 192*32
    weights = 192 * 64 + 192 * 96 + 96 * 9 * 128 + 192 * 16 + 16 * 25 * 32 + 192 * 32
    assert weights == 163_328  # = 159.5 K, printed 159K
    biases = 64 + 96 + 128 + 16 + 32 + 32
    assert googlenet_rows["inception3a"].params == weights + biases
    assert round(googlenet_rows["inception3a"].macs / 1e6) == 128  # 28*28 * 163,328 = 128.05 M


def test_googlenet_paper_misprints_are_what_the_spec_says(googlenet_rows):
    assert round(googlenet_rows["conv1"].macs / 1e6) == 118  # printed 34M
    assert round(googlenet_rows["inception4c"].params / 1024) == 498  # printed 463K
    assert round(googlenet_rows["inception5a"].macs / 1e6) == 51  # printed 54M


# ---- VGG (Simonyan & Zisserman 2014), Table 2: 133, 133, 134, 138, 144 million parameters ---------
@pytest.mark.parametrize("spec,millions", [
    ("vgg_a", 133), ("vgg_a_lrn", 133), ("vgg_b", 133), ("vgg_c", 134), ("vgg_d", 138), ("vgg_e", 144)])
def test_vgg_table2_parameters(spec, millions):
    assert round(cnncalc.analyze(spec).totals.params / 1e6) == millions


def test_vgg_d_is_torchvision_vgg16():
    # conv: 1,792 + 36,928 + 73,856 + 147,584 + 295,168 + 2*590,080 + 1,180,160 + 5*2,359,808 = 14,714,688
    # fc: 25,088*4096 + 4096 + 4096*4096 + 4096 + 4096*1000 + 1000 = 123,642,856
    assert cnncalc.analyze("vgg_d").totals.params == 14_714_688 + 123_642_856 == 138_357_544


# ---- AlexNet (Krizhevsky et al. 2012): 60,965,224 parameters, the slides' "61M" ----------------------
def test_alexnet_paper_parameters():
    # conv1 96*3*121 + 96; conv2 256*48*25 + 256 (2 groups); conv3 384*256*9 + 384; conv4 384*192*9 + 384;
    # conv5 256*192*9 + 256; fc6 9216*4096 + 4096; fc7 4096*4096 + 4096; fc8 4096*1000 + 1000
    expected = (34_944 + 307_456 + 885_120 + 663_936 + 442_624
                + 37_752_832 + 16_781_312 + 4_097_000)
    assert cnncalc.analyze("alexnet_paper").totals.params == expected == 60_965_224


# ---- LeNet-5 (LeCun et al. 1998): "60,000 trainable parameters" ---------------------------------------
def test_lenet5_parameters():
    # C1 6*25 + 6 = 156; C3 fully connected 16*6*25 + 16 = 2,416 (the paper's sparse table: 1,516);
    # C5 120*16*25 + 120 = 48,120; F6 84*120 + 84 = 10,164; output 10*84 + 10 = 850 (the paper: RBF units)
    assert cnncalc.analyze("lenet5").totals.params == 156 + 2_416 + 48_120 + 10_164 + 850 == 61_706


# ---- The lecture's "Compare VGG-16" (002_cb292e905985b15d.txt): 42.9 MB, 1.1M, 7485 MFLOP -----------
def test_vgg16_to_28_comparison_with_the_googlenet_stem():
    rows = {row.name: row for row in cnncalc.analyze("vgg16_to_28").rows}
    # The slide's totals are the first six convs (conv1_1 .. conv3_2), without conv3_3 and the pools:
    counted = [rows[name] for name in ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2")]
    memory_kb = sum(row.memory_bytes for row in counted) / 1024
    assert memory_kb == 12_544 * 2 + 6_272 * 2 + 3_136 * 2 == 43_904  # = 42.875 MB -> 42.9 MB
    assert round(memory_kb / 1024, 1) == 42.9
    assert sum(row.params for row in counted) == 1_145_408  # -> 1.1 M
    assert round(sum(row.macs for row in counted) / 1e6) == 7485
