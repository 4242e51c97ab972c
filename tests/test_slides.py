"""The lecture tables of ../shared/seeds/002_cb292e905985b15d.txt, cell by cell.

Each layer's exact integers are derived in the comment beside them; the slide's rounded values
are the lecture-table cells, and where the slide has a slip (design.md) the test says so.
"""
from __future__ import annotations

import pytest

import cnncalc
from cnncalc.render.lecture import row_cells, total_cells

from .conftest import SPECS

# name: (C_in, H/W, C_out, H'/W', params, macs, memory_bytes)
ALEXNET_EXACT = {
    # (227 - 11 + 2*0)/4 + 1 = 55; 96*3*11*11 + 96 = 34,944; (96*55*55)*(3*11*11) = 105,415,200; 96*55*55*4
    "conv1": (3, 227, 96, 55, 34_944, 105_415_200, 1_161_600),
    # (55 - 3)/2 + 1 = 27; 96*27*27*3*3 = 629,856; 96*27*27*4 = 279,936
    "pool1": (96, 55, 96, 27, 0, 629_856, 279_936),
    # (27 - 5 + 2*2)/1 + 1 = 27; 256*96*5*5 + 256 = 614,656; 256*27*27*96*25 = 447,897,600
    "conv2": (96, 27, 256, 27, 614_656, 447_897_600, 746_496),
    # (27 - 3)/2 + 1 = 13; 256*13*13*9 = 389,376; 256*13*13*4 = 173,056
    "pool2": (256, 27, 256, 13, 0, 389_376, 173_056),
    # 384*256*9 + 384 = 885,120; 384*13*13*256*9 = 149,520,384; 384*13*13*4 = 259,584
    "conv3": (256, 13, 384, 13, 885_120, 149_520_384, 259_584),
    # 384*384*9 + 384 = 1,327,488; 384*13*13*384*9 = 224,280,576
    "conv4": (384, 13, 384, 13, 1_327_488, 224_280_576, 259_584),
    # 256*384*9 + 256 = 884,992; 256*13*13*384*9 = 149,520,384; 256*13*13*4 = 173,056
    "conv5": (384, 13, 256, 13, 884_992, 149_520_384, 173_056),
    # (13 - 3)/2 + 1 = 6; 256*6*6*9 = 82,944; 256*6*6*4 = 36,864
    "pool5": (256, 13, 256, 6, 0, 82_944, 36_864),
    # 256*6*6 = 9,216 features
    "flatten": (256, 6, 9216, None, 0, 0, 36_864),
    # 9216*4096 + 4096 = 37,752,832; 9216*4096 = 37,748,736; 4096*4 = 16,384
    "fc6": (9216, None, 4096, None, 37_752_832, 37_748_736, 16_384),
    # 4096*4096 + 4096 = 16,781,312; 4096*4096 = 16,777,216
    "fc7": (4096, None, 4096, None, 16_781_312, 16_777_216, 16_384),
    # 4096*1000 + 1000 = 4,097,000; 4096*1000 = 4,096,000; 1000*4 = 4,000
    "fc8": (4096, None, 1000, None, 4_097_000, 4_096_000, 4_000),
}

# The slide's last AlexNet table: Mem (KB), Param (k), Flops (M).
ALEXNET_SLIDE = {
    "conv1": ("1,134", "35", "105"),
    "pool1": ("273", "0", "0"),
    "conv2": ("729", "615", "448"),
    "pool2": ("169", "0", "0"),
    "conv3": ("254", "885", "150"),
    "conv4": ("254", "1,327", "224"),
    "conv5": ("169", "885", "150"),
    "pool5": ("36", "0", "0"),
    "flatten": ("36", "0", "0"),
    "fc6": ("16", "37,753", "38"),
    "fc7": ("16", "16,781", "17"),
    "fc8": ("4", "4,096", "4"),
}
# Where our correctly rounded cell differs from the slide, and why (design.md, known slips).
ALEXNET_SLIPS = {
    ("pool1", 2): "1",  # 0.629856 M rounds to 1; the slide truncates to 0
    ("pool2", 2): "0.4",  # 0.389376 M: the slide prints 0, we keep one significant digit
    ("pool5", 2): "0.08",  # 0.082944 M, likewise
    ("fc8", 1): "4,097",  # 4096*1000 + 1000 = 4,097,000: the slide prints 4,096
}

GOOGLENET_STEM_EXACT = {
    # (224 - 7 + 2*3)/2 + 1 = 112 (floor of 112.5); 64*3*7*7 + 64 = 9,472; 64*112*112*3*49 = 118,013,952
    "conv1": (3, 224, 64, 112, 9_472, 118_013_952, 3_211_264),
    # ceil((112 - 3)/2) + 1 = 56; 64*56*56*9 = 1,806,336; 64*56*56*4 = 802,816
    "pool1": (64, 112, 64, 56, 0, 1_806_336, 802_816),
    # 64*64*1*1 + 64 = 4,160; 64*56*56*64 = 12,845,056
    "conv2": (64, 56, 64, 56, 4_160, 12_845_056, 802_816),
    # 192*64*9 + 192 = 110,784; 192*56*56*64*9 = 346,816,512; 192*56*56*4 = 2,408,448
    "conv3": (64, 56, 192, 56, 110_784, 346_816_512, 2_408_448),
    # ceil((56 - 3)/2) + 1 = 28; 192*28*28*9 = 1,354,752; 192*28*28*4 = 602,112
    "pool2": (192, 56, 192, 28, 0, 1_354_752, 602_112),
}
GOOGLENET_STEM_SLIDE = {
    "conv1": ("3,136", "9", "118"),
    "pool1": ("784", "0", "2"),
    "conv2": ("784", "4", "13"),
    "conv3": ("2,352", "111", "347"),
    "pool2": ("588", "0", "1"),
}


def _check_exact(report, expected):
    assert [row.name for row in report.rows] == list(expected)
    for row in report.rows:
        c_in, hw_in, c_out, hw_out, params, macs, memory = expected[row.name]
        assert row.input_shape[0] == c_in, row.name
        assert (row.input_shape[1:] or (None,))[0] == hw_in, row.name
        assert row.output_shape[0] == c_out, row.name
        assert (row.output_shape[1:] or (None,))[0] == hw_out, row.name
        assert (row.params, row.macs, row.memory_bytes) == (params, macs, memory), row.name


def test_alexnet_exact_numbers():
    _check_exact(cnncalc.analyze(SPECS / "alexnet.yaml"), ALEXNET_EXACT)


def test_alexnet_slide_cells():
    report = cnncalc.analyze(SPECS / "alexnet.yaml")
    for row in report.rows:
        ours = row_cells(row)[-3:]
        slide = list(ALEXNET_SLIDE[row.name])
        for column, value in enumerate(ours):
            expected = ALEXNET_SLIPS.get((row.name, column), slide[column])
            assert value == expected, (row.name, column, value, slide[column])


def test_alexnet_slide_layout_cells():
    # Filters, K, S, P of the slide (conv1's P follows its numbers: 0, see specs/alexnet.yaml).
    report = cnncalc.analyze(SPECS / "alexnet.yaml")
    cells = {row.name: row_cells(row)[3:7] for row in report.rows}
    assert cells["conv1"] == ["96", "11", "4", "0"]
    assert cells["pool1"] == ["", "3", "2", "0"]
    assert cells["conv2"] == ["256", "5", "1", "2"]
    assert cells["conv4"] == ["384", "3", "1", "1"]
    assert cells["fc6"] == ["4096", "", "", ""]


def test_alexnet_totals():
    totals = cnncalc.analyze(SPECS / "alexnet.yaml").totals
    assert totals.params == sum(v[4] for v in ALEXNET_EXACT.values()) == 62_378_344
    assert totals.macs == sum(v[5] for v in ALEXNET_EXACT.values()) == 1_136_358_272
    assert totals.memory_bytes == sum(v[6] for v in ALEXNET_EXACT.values()) == 3_163_808


def test_alexnet_conv1_pad_slip():
    # The slide prints pad 2 for conv1; with it the output would be (227 - 11 + 2*2)/4 + 1 = 56.
    report = cnncalc.analyze(SPECS / "alexnet.yaml")
    assert report.rows[0].output_shape == (96, 55, 55)
    text = (SPECS / "alexnet.yaml").read_text().replace("pad: 0, act", "pad: 2, act")
    from cnncalc.analysis.engine import analyze
    from cnncalc.spec.graph import build
    from cnncalc.spec.spec import parse_spec

    assert analyze(build(parse_spec(text))).rows[0].output_shape == (96, 56, 56)


def test_googlenet_stem_exact_numbers():
    _check_exact(cnncalc.analyze(SPECS / "googlenet_stem.yaml"), GOOGLENET_STEM_EXACT)


def test_googlenet_stem_slide_cells():
    report = cnncalc.analyze(SPECS / "googlenet_stem.yaml")
    for row in report.rows:
        assert row_cells(row)[-3:] == list(GOOGLENET_STEM_SLIDE[row.name]), row.name


def test_googlenet_stem_totals_and_the_418_slip():
    report = cnncalc.analyze(SPECS / "googlenet_stem.yaml")
    totals = report.totals
    # 3,136 + 784 + 784 + 2,352 + 588 = 7,644 KB = 7.46 MB: the slide's "Memory: 7.5 MB"
    assert totals.memory_bytes == 7_644 * 1024
    # 9,472 + 4,160 + 110,784 = 124,416: the slide's "Params: 124K"
    assert totals.params == 124_416
    # 118 + 2 + 13 + 347 + 1 = 481: the slide's total says 418 (a slip)
    assert totals.macs == 480_836_608
    assert total_cells(report)[-3:] == ["7,644", "124", "481"]


def test_googlenet_stem_pools_need_ceil_mode():
    text = (SPECS / "googlenet_stem.yaml").read_text().replace("ceil: true", "ceil: false")
    from cnncalc.analysis.engine import analyze
    from cnncalc.spec.graph import build
    from cnncalc.spec.spec import parse_spec

    rows = analyze(build(parse_spec(text))).rows
    # floor((112 - 3)/2) + 1 = 55, not the slide's 56
    assert rows[1].output_shape == (64, 55, 55)


@pytest.mark.parametrize("spec", ["alexnet", "googlenet_stem"])
def test_reference_specs_give_no_warnings(spec):
    assert cnncalc.analyze(spec).warnings == ()
