"""The sliding-window arithmetic shared by convolution and pooling.

Output size per axis: floor((N + P_before + P_after - D*(K-1) - 1) / S) + 1, or ceil in ceil
mode (with PyTorch's rule that the last window must start inside the input or its left padding).
`same` padding follows TensorFlow: output ceil(N/S), any odd padding goes after.
"""
from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from ..core.formula import Formula, Q, Step, derivations
from ..core.symbolic import definitely, is_symbolic, to_int
from .fields import Padding


class WindowProblem(ValueError):
    """The window does not fit; `field` names the spec field to blame."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class WindowAxis(NamedTuple):
    """One axis of a window sweep, with everything needed to explain it (a named tuple: the
    engine makes two per window layer, and tuples are made five times faster than dataclasses)."""

    size: int
    kernel: int
    stride: int
    pad_before: int
    pad_after: int
    dilation: int
    ceil: bool
    out: int
    name_in: str = "W"  # the axis's name in formulas: H or W

    @property
    def span(self) -> int:
        """How many input positions one window covers (the dilated kernel)."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def exact(self) -> Fraction:
        """The output size before rounding: (N + P_b + P_a - span)/S + 1."""
        return Fraction(self.size + self.pad_before + self.pad_after - self.span, self.stride) + 1

    @property
    def geometry(self) -> tuple:
        """Everything but the axis's name: equal geometries are explained once for both axes."""
        return (self.size, self.kernel, self.stride, self.pad_before, self.pad_after, self.dilation, self.ceil)

    def formula(self) -> Formula:
        """(W - K + 2P)/S + 1 with this axis's numbers; its value is the exact fraction."""
        with derivations():
            return self._formula()

    def _formula(self) -> Formula:
        size = Q(self.name_in, self.size)
        kernel = Q("K", self.kernel)
        if self.dilation > 1:
            kernel = (Q("D", self.dilation) * (kernel - 1) + 1).bracketed()
        if self.pad_before == self.pad_after:
            padded = size - kernel + 2 * Q("P", self.pad_before)
        else:
            padded = size - kernel + Q("P_before", self.pad_before) + Q("P_after", self.pad_after)
        return padded.bracketed() / Q("S", self.stride) + 1

    def rounding(self) -> str:
        """'55', or '27.5 → floor → 27' when the division is not exact."""
        if is_symbolic(self.size):
            return str(self.out)
        exact = self.exact
        if exact.denominator == 1:
            return str(self.out)
        shown = f"{float(exact):.2f}".rstrip("0").rstrip(".")
        return f"{shown} → {'ceil' if self.ceil else 'floor'} → {self.out}"

    @property
    def unread(self) -> int:
        """Input positions (not padding) that no window ever reads at the end of the axis."""
        covered = (self.out - 1) * self.stride + self.span
        return max(0, self.size + self.pad_before - covered)


def resolve_padding(pad: Padding, size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """(before, after) padding for one axis."""
    if pad.mode == "valid":
        return 0, 0
    if pad.mode == "same":
        span = dilation * (kernel - 1) + 1
        total = max((-(-size // stride) - 1) * stride + span - size, 0)
        return total // 2, total - total // 2
    raise AssertionError("explicit padding is given per axis")


def sweep(size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int = 1,
          ceil: bool = False, axis: str = "W") -> WindowAxis:
    """The window sweep along one axis; raises WindowProblem when the window cannot fit."""
    before, after = pad
    span = dilation * (kernel - 1) + 1
    padded = size + before + after
    if definitely(span > padded):
        dilated = f" (dilated to {span})" if dilation > 1 else ""
        raise WindowProblem(
            f"kernel {kernel}{dilated} is larger than the padded input along {axis}: "
            f"{size} + {before} + {after} = {padded}",
            field="kernel",
        )
    if ceil:
        out = -(-(padded - span) // stride) + 1
        if definitely((out - 1) * stride >= size + before):  # the last window would start in the right padding
            out -= 1
    else:
        out = (padded - span) // stride + 1
    return WindowAxis(size, kernel, stride, before, after, dilation, ceil, to_int(out), axis)


def sweep2d(height: int, width: int, kernel: tuple[int, int], stride: tuple[int, int], pad: Padding,
            dilation: tuple[int, int] = (1, 1), ceil: bool = False) -> tuple[WindowAxis, WindowAxis]:
    """Both axes of a 2-D window sweep."""
    axes = []
    for axis, size, k, s, d, p in zip(("H", "W"), (height, width), kernel, stride, dilation, pad.amount):
        pads = (p, p) if pad.mode == "explicit" else resolve_padding(pad, size, k, s, d)
        axes.append(sweep(size, k, s, pads, d, ceil, axis))
    return axes[0], axes[1]


def stride_warnings(height: WindowAxis, width: WindowAxis) -> list[str]:
    """The slides' '(7 - 3)/3 + 1 = 2.33' case: a stride that leaves input rows/columns unread.

    Padding left unread is no loss and gets no warning; nor does a window narrower than its
    stride (ResNet's 1×1 stride-2 shortcut), which skips rows everywhere by design.
    Equal axes share one message.
    """
    if is_symbolic(height.size) or is_symbolic(width.size):
        return []  # which rows go unread depends on the sizes
    if height.unread == 0 and width.unread == 0:
        return []
    same = height.geometry == width.geometry
    axes = [("H and W", height)] if same else [("H", height), ("W", width)]
    messages = []
    for name, axis in axes:
        if axis.unread == 0 or axis.span < axis.stride:
            continue
        if axis.pad_before == axis.pad_after:
            pad = f"2*{axis.pad_before}"
        else:
            pad = f"{axis.pad_before} + {axis.pad_after}"
        exact = f"{float(axis.exact):.2f}".rstrip("0").rstrip(".")
        dilated = f" (kernel {axis.kernel} dilated by {axis.dilation})" if axis.dilation > 1 else ""
        what = {"H": "row", "W": "column", "H and W": "row and column"}[name]
        plural = {"row": "rows", "column": "columns", "row and column": "rows and columns"}[what]
        if axis.unread > 1:
            unread = f"{axis.unread} input {plural} are"
        else:
            unread = f"input {what} {'are' if same else 'is'}"
        messages.append(
            f"stride {axis.stride} does not fit along {name}: "
            f"({axis.size} - {axis.span} + {pad})/{axis.stride} + 1 = {exact}{dilated}; "
            f"floor gives {axis.out}, so the last {unread} never read"
        )
    return messages


class RFAxis(NamedTuple):
    """The receptive field of one output position along one axis, in input pixels: its size, the
    distance between neighbouring outputs' fields (jump), and the centre of the first output's
    field (start, 0 being the centre of input pixel 0). A named tuple, as WindowAxis."""

    size: int | Fraction
    jump: int | Fraction
    start: int | Fraction

    def window(self, kernel: int, stride: int | Fraction, pad_before: int, dilation: int = 1) -> RFAxis:
        span = dilation * (kernel - 1) + 1
        if not isinstance(span, int):
            half = (span - 1) / 2  # symbolic
        else:  # ints where possible: Fractions cost 10x more, and most fields stay whole
            half = (span - 1) // 2 if span % 2 else Fraction(span - 1, 2)
        return RFAxis(self.size + (span - 1) * self.jump, self.jump * stride,
                     self.start + (half - pad_before) * self.jump)

    def whole(self, size: int) -> RFAxis:
        """A window over the whole axis (global pooling, flatten)."""
        return self.window(size, size, 0)

    def shifted(self, pad_before: int) -> RFAxis:
        return RFAxis(self.size, self.jump, self.start - pad_before * self.jump)

    def upsampled(self, factor: int | Fraction, extra_reads: int = 0) -> RFAxis:
        """Upsampling: outputs come `factor` times closer; each reads `extra_reads` more inputs."""
        jump = Fraction(self.jump) / factor  # exact: int / int would be a float
        return RFAxis(self.size + extra_reads * self.jump, int(jump) if jump.denominator == 1 else jump, self.start)


PIXEL = RFAxis(1, 1, 0)


def window_steps(height: WindowAxis, width: WindowAxis) -> list[Step]:
    """The output-size lines of `explain`: `W' = (W - K + 2P)/S + 1 = (227 - 11 + 2 × 0)/4 + 1 = 55`."""
    if height.geometry == width.geometry:
        return [Step("H' = W'", width.formula(), width.rounding())]
    return [Step("H'", height.formula(), height.rounding()), Step("W'", width.formula(), width.rounding())]
