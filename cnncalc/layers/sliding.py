"""What convolution and pooling share: a K_h×K_w window slid over the input with a stride,
padding and dilation. The arithmetic lives in window.py; this base class gives the layer types
their output size, stride warnings, explanation, receptive field and padded lowering once."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.formula import Step
from ..core.shapes import Shape
from .base import RF, Layer, Warn
from .fields import Padding
from .memory import MemoryContext, Stage, padding
from .torchspec import T, Torch
from .window import WindowAxis, WindowProblem, swept2d, window_steps


class SlidingWindow(Layer):
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: Padding
    dilation: tuple[int, int] = (1, 1)
    ceil: bool = False
    _axes: tuple[Shape, tuple[WindowAxis, WindowAxis], tuple[str, ...]] | None = None  # axes(): the last sweep

    groups: int = 1  # channel groups: a type with them checks its input's channels (check_channels)

    def check_channels(self, channels: Any) -> None:
        """Checks of the input's channels (a grouped conv's groups must divide them): asked when `groups`
        is not 1."""

    def axes(self, inputs: list[Shape]) -> tuple[WindowAxis, WindowAxis]:
        """The window sweep along H and W (kept with its stride warnings for the last input shape:
        the graph builder, the engine and explain all ask for it)."""
        shape = inputs[0]
        cached = self._axes
        if cached is not None and cached[0] == shape:
            return cached[1]
        c, h, w = shape if len(shape) == 3 else self.image(shape)  # image() says why it is no feature map
        if self.groups != 1:
            self.check_channels(c)
        try:
            axes, warnings = swept2d(h, w, self.kernel, self.stride, self.pad, self.dilation, self.ceil)
        except WindowProblem as exc:
            self.fail(str(exc), exc.field)
        self._axes = (shape, axes, warnings)
        return axes

    def window_shape(self, inputs: list[Shape], warn: Warn, channels: Any) -> Shape:
        """(channels, H', W'), warning when a stride leaves input rows or columns unread."""
        axes = self.axes(inputs)
        for message in self._axes[2]:  # type: ignore[index]  # axes() set it
            warn(message, "stride")
        return (channels, axes[0].out, axes[1].out)

    def explain_shape(self, inputs: list[Shape], output: Shape) -> list[Step]:
        return window_steps(*self.axes(inputs))

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF:
        cached = self._axes  # as axes() finds them (output_shape swept this input), without its call
        (height, width), (along_h, along_w) = fields[0], \
            cached[1] if cached is not None and cached[0] == inputs[0] else self.axes(inputs)
        along_height = height.window(along_h.kernel, along_h.stride, along_h.pad_before, along_h.dilation)
        # a square field through a square window (equal kernel, stride, paddings, dilation): computed once
        if (height is width or height == width) and along_h[1:6] == along_w[1:6]:
            return (along_height, along_height)
        return (along_height, width.window(along_w.kernel, along_w.stride, along_w.pad_before, along_w.dilation))

    def padded(self, inputs: list[Shape], core: Callable[[Any], Torch], pad_value: float) -> Torch:
        """`core(padding)` with symmetric padding; with TensorFlow's asymmetric 'same' (odd total:
        right/bottom first) the core gets none and an explicit pad of `pad_value` comes first."""
        height, width = self.axes(inputs)
        if height.pad_before == height.pad_after and width.pad_before == width.pad_after:
            return core((height.pad_before, width.pad_before))
        return T("Padded", (width.pad_before, width.pad_after, height.pad_before, height.pad_after), pad_value,
                 core(0))

    def padding_stages(self, inputs: list[Shape], ctx: MemoryContext) -> tuple[Stage, ...]:
        """The explicit pad `padded` puts before the window layer, if any (its memory: a padded copy)."""
        height, width = self.axes(inputs)
        if height.pad_before == height.pad_after and width.pad_before == width.pad_after:
            return ()
        c = inputs[0][0]
        rows = height.size + height.pad_before + height.pad_after
        columns = width.size + width.pad_before + width.pad_after
        return (padding(c * rows * columns, ctx.training),)
