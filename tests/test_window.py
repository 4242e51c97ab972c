"""The shared window arithmetic: output size, ceil mode, padding rules, stride warnings."""
from __future__ import annotations

from fractions import Fraction

import pytest

from cnncalc.fields import Padding
from cnncalc.window import WindowProblem, resolve_padding, stride_warning, sweep, sweep2d


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
    message = stride_warning(axis, "W")
    assert message == ("stride 3 does not fit along W: (7 - 3 + 2*0)/3 + 1 = 2.33; "
                       "floor gives 2, so the last input column is never read")


def test_no_warning_when_only_padding_is_left_unread():
    # GoogLeNet conv1: (224 - 7 + 2*3)/2 + 1 = 112.5 -> 112, the last unread position is padding
    axis = sweep(224, 7, 2, (3, 3))
    assert axis.out == 112 and axis.unread == 0 and stride_warning(axis, "H") is None


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
