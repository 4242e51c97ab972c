"""The shared window arithmetic: output size, ceil mode, padding rules, stride warnings."""
from __future__ import annotations

from fractions import Fraction

import pytest

from cnncalc.layers.fields import Padding
from cnncalc.layers.window import WindowProblem, resolve_padding, stride_warnings, sweep, sweep2d


def test_output_size_formula():
    axis = sweep(227, 11, 4, (0, 0))
    assert axis.out == 55  # (227 - 11 + 0)/4 + 1
    assert axis.exact == 55


def test_slides_stride_that_does_not_fit():
    # The slides' example: 7x7 input, 3x3 filter, stride 3: (7 - 3)/3 + 1 = 2.33
    axis = sweep(7, 3, 3, (0, 0))
    assert axis.exact == Fraction(7, 3)
    assert axis.out == 2
    assert axis.unread == 1  # windows cover rows 0..5; row 6 is never read
    assert stride_warnings(axis, axis) == ["stride 3 does not fit along H and W: (7 - 3 + 2*0)/3 + 1 = 2.33; "
                                           "floor gives 2, so the last input row and column are never read"]
    tall = sweep(9, 3, 3, (0, 0))  # (9 - 3)/3 + 1 = 3 exactly: only W warns
    assert stride_warnings(tall, axis) == ["stride 3 does not fit along W: (7 - 3 + 2*0)/3 + 1 = 2.33; "
                                           "floor gives 2, so the last input column is never read"]


def test_unread_count_and_dilation_in_the_warning():
    # (10 - 5 + 0)/2 + 1 = 3.5 -> 3 with a 3-kernel dilated by 2 (span 5): windows cover 0..8, 9 unread
    axis = sweep(10, 3, 2, (0, 0), dilation=2)
    assert stride_warnings(axis, axis) == [
        "stride 2 does not fit along H and W: (10 - 5 + 2*0)/2 + 1 = 3.5 (kernel 3 dilated by 2); "
        "floor gives 3, so the last input row and column are never read"]
    wide = sweep(11, 2, 4, (0, 0))  # (11 - 2)/4 + 1 = 3.25 -> 3: covers 0..9, 1 unread
    assert wide.unread == 1
    wider = sweep(12, 2, 5, (0, 0))  # (12 - 2)/5 + 1 = 3: exact, covers 0..11
    assert wider.unread == 0
    gap = sweep(13, 2, 5, (0, 0))  # (13 - 2)/5 + 1 = 3.2 -> 3: covers 0..11, 1 unread
    assert gap.unread == 1
    big = sweep(14, 2, 6, (0, 0))  # (14 - 2)/6 + 1 = 3: exact
    assert big.unread == 0
    three = sweep(15, 3, 6, (0, 0))  # (15 - 3)/6 + 1 = 3: exact... covers 0..14
    assert three.unread == 0
    assert sweep(16, 3, 6, (0, 0)).unread == 1  # (16 - 3)/6 + 1 = 3.17 -> 3: covers 0..14, 15 unread
    assert sweep(17, 3, 6, (0, 0)).unread == 2  # covers 0..14, 15 and 16 unread


def test_no_warning_when_only_padding_is_left_unread():
    # GoogLeNet conv1: (224 - 7 + 2*3)/2 + 1 = 112.5 -> 112, the last unread position is padding
    axis = sweep(224, 7, 2, (3, 3))
    assert axis.out == 112 and axis.unread == 0 and stride_warnings(axis, axis) == []


def test_ceil_mode():
    assert sweep(112, 3, 2, (0, 0), ceil=True).out == 56  # ceil(109/2) + 1
    assert sweep(112, 3, 2, (0, 0), ceil=False).out == 55  # floor(109/2) + 1
    # PyTorch drops a last window that would start in the right padding:
    # N=5, K=2, S=2, P=1: ceil((5 + 2 - 2)/2) + 1 = 4, but window 4 starts at 6 >= 5 + 1 -> 3
    assert sweep(5, 2, 2, (1, 1), ceil=True).out == 3


def test_dilation():
    axis = sweep(16, 3, 1, (0, 0), dilation=2)
    assert axis.span == 5 and axis.out == 12  # (16 - 2*(3-1) - 1)/1 + 1


def test_kernel_larger_than_padded_input():
    with pytest.raises(WindowProblem, match=r"kernel 7 is larger than the padded input along W: 5 \+ 0 \+ 0 = 5"):
        sweep(5, 7, 1, (0, 0))
    assert sweep(5, 7, 1, (1, 1)).out == 1  # 5 + 2 = 7 fits exactly


def test_same_padding_follows_tensorflow():
    assert resolve_padding(Padding("same"), 9, 3, 1, 1) == (1, 1)
    assert resolve_padding(Padding("same"), 10, 3, 2, 1) == (0, 1)  # total (5-1)*2 + 3 - 10 = 1, after
    assert resolve_padding(Padding("valid"), 10, 3, 2, 1) == (0, 0)
    h, w = sweep2d(10, 10, (3, 3), (2, 2), Padding("same"))
    assert (h.out, w.out) == (5, 5)  # ceil(10/2)


def test_no_warning_when_the_window_is_narrower_than_the_stride():
    # ResNet's 1x1 stride-2 shortcut on 56: (56 - 1)/2 + 1 = 28.5 -> 28, every other row is skipped anyway
    axis = sweep(56, 1, 2, (0, 0))
    assert axis.unread == 1 and stride_warnings(axis, axis) == []


def test_a_geometry_is_swept_once_and_warns_as_the_sweep_does():
    from cnncalc.layers.window import swept2d

    axes, warnings = swept2d(7, 7, (3, 3), (3, 3), Padding("explicit"))
    assert axes == sweep2d(7, 7, (3, 3), (3, 3), Padding("explicit"))
    assert warnings == tuple(stride_warnings(*axes)) and len(warnings) == 1  # (7 - 3)/3 + 1 = 2.33
    assert swept2d(7, 7, (3, 3), (3, 3), Padding("explicit")) is swept2d(7, 7, (3, 3), (3, 3), Padding("explicit"))
    tall = swept2d(9, 7, (3, 3), (3, 3), Padding("explicit"))[0]  # another geometry: swept again
    assert (tall[0].size, tall[0].out, tall[1].out) == (9, 3, 2)  # (9 - 3)/3 + 1 = 3, (7 - 3)/3 + 1 = 2.33 -> 2


def test_layers_that_slide_alike_share_one_sweep_and_keep_their_own_warnings():
    import cnncalc

    report = cnncalc.analyze("input: [3, 7, 7]\nlayers:\n  - {op: conv, out: 4, kernel: 3, stride: 3}\n"
                             "  - {op: conv, out: 5, kernel: 1}\n  - {op: conv, out: 6, kernel: 1}\n")
    assert [row.output_shape for row in report.rows] == [(4, 2, 2), (5, 2, 2), (6, 2, 2)]  # (7 - 3)/3 + 1 = 2
    assert [note.layer for note in report.warnings] == ["conv1"]  # only the 3×3 stride-3 conv leaves a row unread
