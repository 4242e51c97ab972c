"""The sliding-window arithmetic shared by convolution and pooling.

Output size per axis: floor((N + P_before + P_after - D*(K-1) - 1) / S) + 1, or ceil in ceil
mode (with PyTorch's rule that the last window must start inside the input or its left padding).
`same` padding follows TensorFlow: output ceil(N/S), any odd padding goes after.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, NamedTuple

from ..core.formula import Formula, Q, Step, derivations, divide
from ..core.symbolic import ceil_div, definitely, is_symbolic, largest, simplified, text, to_int
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
            return text(self.out)
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
        total = largest([(ceil_div(size, stride) - 1) * stride + span - size, 0])
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
        out = ceil_div(padded - span, stride) + 1
        if definitely((out - 1) * stride >= size + before):  # the last window would start in the right padding
            out -= 1
    else:
        out = (padded - span) // stride + 1
    return WindowAxis(size, kernel, stride, before, after, dilation, ceil, to_int(simplified(out)), axis)


Sweep = tuple[tuple[WindowAxis, WindowAxis], tuple[str, ...]]  # both axes, and their stride warnings
_SWEEPS: dict[tuple, Sweep] = {}
_MOST_SWEEPS = 4096  # a sweep of widths meets few geometries; a bound keeps a long session's memory flat


def swept2d(height: int, width: int, kernel: tuple[int, int], stride: tuple[int, int], pad: Padding,
            dilation: tuple[int, int] = (1, 1), ceil: bool = False) -> Sweep:
    """sweep2d's axes and their stride_warnings, computed once per geometry: most convolutions of a
    network (every 3×3, stride 1, pad 1 on a 56×56 map, whatever its channels) slide alike."""
    if type(height) is int and type(width) is int:  # the common case; the types tell 32 from sympy's 32
        key: tuple = (height, width, kernel, stride, pad.mode, pad.amount, dilation, ceil)
    else:
        key = (height, width, kernel, stride, pad.mode, pad.amount, dilation, ceil, type(height), type(width))
    found = _SWEEPS.get(key)
    if found is None:
        axes = sweep2d(height, width, kernel, stride, pad, dilation, ceil)
        if len(_SWEEPS) >= _MOST_SWEEPS:
            _SWEEPS.clear()
        found = _SWEEPS[key] = (axes, tuple(stride_warnings(*axes)))
    return found


def sweep2d(height: int, width: int, kernel: tuple[int, int], stride: tuple[int, int], pad: Padding,
            dilation: tuple[int, int] = (1, 1), ceil: bool = False) -> tuple[WindowAxis, WindowAxis]:
    """Both axes of a 2-D window sweep."""
    along_h = _swept(height, kernel[0], stride[0], pad, pad.amount[0], dilation[0], ceil, "H")
    if height == width and kernel[0] == kernel[1] and stride[0] == stride[1] and dilation[0] == dilation[1] \
            and pad.amount[0] == pad.amount[1]:  # a square window on a square map: W is swept as H
        return along_h, tuple.__new__(WindowAxis, (*along_h[:-1], "W"))
    return along_h, _swept(width, kernel[1], stride[1], pad, pad.amount[1], dilation[1], ceil, "W")


def _swept(size: int, k: int, s: int, pad: Padding, p: int, d: int, ceil: bool, axis: str) -> WindowAxis:
    """One axis of sweep2d (`p`: its explicit padding)."""
    pads = (p, p) if pad.mode == "explicit" else resolve_padding(pad, size, k, s, d)
    swept = sweep(size, k, s, pads, d, ceil, axis)
    if pad.mode == "same" and is_symbolic(size):  # ceil(N/S) by definition; sympy cannot see it through Max
        swept = swept._replace(out=ceil_div(size, s))
    return swept


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
    field (start, 0 being the centre of input pixel 0). A named tuple, as WindowAxis.

    The rules below are the recurrence of the receptive field. Applied to a `recorded()` field,
    whose values are named quantities (core/formula.py), the same rules build the formulas that
    `explain` prints with their values: r = r_in + (K - 1) × j_in = 1 + (11 - 1) × 1 = 11."""

    size: Any  # int | Fraction, a sympy expression, or a Formula when recorded
    jump: Any
    start: Any

    def recorded(self) -> RFAxis:
        """The same field with named values: r_in, j_in, c_in."""
        return RFAxis(Q("r_in", self.size), Q("j_in", self.jump), Q("c_in", self.start))

    def _named(self, name: str, value: Any) -> Any:
        return Q(name, value) if isinstance(self.size, Formula) else value

    def window(self, kernel: int, stride: int | Fraction, pad_before: int, dilation: int = 1) -> RFAxis:
        """A window of K (dilated by D) moved by S over an input padded by P before:
        r = r_in + D·(K - 1)·j_in, j = j_in·S, c = c_in + (D·(K - 1)/2 - P)·j_in."""
        size, jump, start = self
        if not isinstance(size, Formula):  # plain values (every layer but explain's): nothing to name
            # a 1×1 conv: the field of its input (as the arithmetic gives it when all are ints)
            if kernel == 1 and stride == 1 and pad_before == 0 and \
                    type(kernel) is type(stride) is type(pad_before) is type(jump) is int:
                return self
            reach = kernel - 1 if dilation == 1 else dilation * (kernel - 1)
            if type(start) is int and type(reach) is int and type(pad_before) is int and type(jump) is int \
                    and not reach & 1:  # _centre's commonest case, without its call
                centre = start + (reach // 2 - pad_before) * jump
            else:
                centre = _centre(start, reach, pad_before, jump)
            return tuple.__new__(RFAxis, (size + reach * jump, jump * stride, centre))
        named = self._named
        reach = named("K", kernel) - 1  # the window's span minus one
        if dilation != 1:
            reach = named("D", dilation) * reach
        return RFAxis(self.size + reach * self.jump, self.jump * named("S", stride),
                      self.start + (_half(reach) - named("P", pad_before)) * self.jump)

    def whole(self, size: int) -> RFAxis:
        """A window over the whole axis (global pooling, flatten)."""
        return self.window(size, size, 0)

    def shifted(self, pad_before: int) -> RFAxis:
        """Padding before the axis: the centre moves, c = c_in - P·j_in."""
        return RFAxis(self.size, self.jump, self.start - self._named("P", pad_before) * self.jump)

    def cropped(self, start: int) -> RFAxis:
        """A crop from position `start` (a slice, a split's later part): c = c_in + start·j_in."""
        return RFAxis(self.size, self.jump, self.start + self._named("start", start) * self.jump)

    def upsampled(self, factor: int | Fraction, extra_reads: int = 0) -> RFAxis:
        """Upsampling by U: outputs come U times closer, j = j_in/U; each reads `extra` more inputs
        (bilinear: 1), r = r_in + extra·j_in."""
        size = self.size + self._named("extra", extra_reads) * self.jump if extra_reads else self.size
        return RFAxis(size, divide(self.jump, self._named("U", factor)), self.start)


def _centre(start: Any, reach: Any, pad_before: Any, jump: Any) -> Any:
    """start + (reach/2 - pad_before)·jump, exact, with the type the arithmetic of ints and Fractions
    gives (an int only when start is one and reach is even). Centres are often half-pixels (a
    kernel of even size, a 2×2 pool): they are computed doubled, in integers, because Fraction's
    arithmetic costs 10 to 50 times more than an int's."""
    if type(reach) is int and type(pad_before) is int and type(jump) is int:
        if type(start) is int:
            if not reach & 1:
                return start + (reach // 2 - pad_before) * jump
            return Fraction(2 * start + (reach - 2 * pad_before) * jump, 2)
        if type(start) is Fraction and start.denominator <= 2:
            return Fraction(start.numerator * (2 // start.denominator) + (reach - 2 * pad_before) * jump, 2)
    return start + (_half(reach) - pad_before) * jump


def _half(reach: Any) -> Any:
    """reach/2, exact: an int where possible (Fractions cost 10x more, and most fields stay whole)."""
    if isinstance(reach, int):
        return reach // 2 if reach % 2 == 0 else Fraction(reach, 2)
    return reach / 2  # a Formula (exact by its value) or a symbolic size


PIXEL = RFAxis(1, 1, 0)


def window_steps(height: WindowAxis, width: WindowAxis) -> list[Step]:
    """The output-size lines of `explain`: `W' = (W - K + 2P)/S + 1 = (227 - 11 + 2 × 0)/4 + 1 = 55`."""
    if is_symbolic(height.pad_before) or is_symbolic(width.pad_before):  # 'same' padding of a symbolic size
        note = "'same' padding: H' = ceil(H/S), W' = ceil(W/S); the padding depends on the size modulo S"
        return [Step("H'", None, text(height.out), note), Step("W'", None, text(width.out))]
    if height.geometry == width.geometry:
        return [Step("H' = W'", width.formula(), width.rounding())]
    return [Step("H'", height.formula(), height.rounding()), Step("W'", width.formula(), width.rounding())]
