"""`interpolate`: F.interpolate as a model's forward calls it, to a size, by a scale, or to the size of a
second input (torchvision's segmentation heads: `F.interpolate(x, size=low.shape[-2:])`)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..core.formula import Step
from ..core.shapes import Shape, shape_list
from ..core.symbolic import text
from .base import Warn, register
from .memory import MemoryContext, Stage
from .resample import Upsample
from .terms import BILINEAR_MODULE, RESAMPLE_MODULE
from .torchspec import T, Torch

MODULE_TERMS = (RESAMPLE_MODULE, BILINEAR_MODULE)  # what hooks on an nn.Upsample module see


@register
class Interpolate(Upsample):
    op = "interpolate"
    known_as = ("resize_bilinear", "upsample_bilinear", "functional_interpolate")
    summary = ("F.interpolate called in forward (not an nn.Upsample module): by `scale`, to `size`, or, given "
               "a second input (`in: [x, like]`), to that input's height and width")
    example = ("- {op: conv, name: low, out: 4, kernel: 3, stride: 2}\n"
               "- {op: interpolate, in: [low, input], mode: bilinear}")
    arity = None  # one input, or two: the one it resizes and the one whose size it takes
    min_inputs = 1

    def check(self) -> None:
        if self.scale is not None and self.size is not None:
            self.fail("give at most one of 'scale' and 'size' (neither: the size of the second input)", "size")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        if len(inputs) > 2:
            self.fail(f"interpolate takes one input, or two (the second gives the size), but is given {len(inputs)}",
                      "in")
        c = self.image(inputs[0])[0]
        if len(inputs) == 1:
            if self.scale is None and self.size is None:
                self.fail("give 'scale' or 'size', or a second input whose size it takes (`in: [x, like]`)")
            return super().output_shape(inputs, warn)
        if self.scale is not None or self.size is not None:
            field = "scale" if self.scale is not None else "size"
            self.fail(f"'{field}' and a second input both give the size: keep one", field)
        if len(inputs[1]) != 3:
            self.fail(f"the second input gives the height and width, but it is {shape_list(inputs[1])}", "in")
        return (c, inputs[1][1], inputs[1][2])

    def explain_shape(self, inputs: list[Shape], output: Shape) -> list[Step]:
        if len(inputs) == 2:
            size = f"{text(output[1])} × {text(output[2])}"
            return [Step("H' × W'", None, size, "the second input's height and width")]
        return []

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """As nn.Upsample, but a function: hooks on modules (thop, ptflops' module table) never see it."""
        return {term: value for term, value in super().costs(inputs, output).items() if term not in MODULE_TERMS}

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """As nn.Upsample (upsample_*2d keeps only sizes); a second input is read for its size only: it
        lives until the call and gets no gradient."""
        stage = super().memory(inputs, output, ctx)[0]
        if len(inputs) == 1:
            return (stage,)
        backward = replace(stage.backward, grads=(*stage.backward.grads, None)) if stage.backward else None
        return (replace(stage, inputs=(0, 1), backward=backward),)

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        size: dict[str, Any] = ({"size": self.size} if self.size else
                                {"scale_factor": tuple(float(s) for s in self.scale)} if self.scale else {})
        return T("Interpolate", **size, mode=self.mode)
