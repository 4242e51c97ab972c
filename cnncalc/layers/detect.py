"""Detection heads' own arithmetic: YOLO's decoding of box distances at anchor points."""
from __future__ import annotations

from typing import Any

from ..core.shapes import Shape, shape_list
from .base import Layer, Warn, register
from .fields import EXPRESSION, POSITIVE, FieldProblem, accepts, positive_int, spec_field
from .torchspec import T, Torch


@accepts({"type": "array", "items": {"anyOf": [POSITIVE, EXPRESSION]}, "minItems": 1})
def strides_value(value: Any) -> tuple[int, ...]:
    """`[8, 16, 32]`: one stride per feature map."""
    if not isinstance(value, list) or not value:
        raise FieldProblem("must be a list of strides, one per feature map, e.g. [8, 16, 32]")
    return tuple(positive_int(stride) for stride in value)


@register
class Dist2BBox(Layer):
    op = "dist2bbox"
    known_as = ("box_decode", "decode_bboxes", "make_anchors")
    summary = ("YOLOv8's box decoding: [4, A] distances (left, top, right, bottom) from the anchor points of "
               "the feature maps that follow it in `in:` to boxes (x, y, w, h) × `strides`; no parameters")
    example = ("- {op: conv, name: dist, out: 4, kernel: 1}\n- {op: reshape, shape: [4, -1]}\n"
               "- {op: dist2bbox, in: [reshape1, dist], strides: [8]}")
    arity = None
    min_inputs = 2  # the distances and at least one feature map

    strides: tuple[int, ...] = spec_field(strides_value, doc="the stride of each feature map, in input pixels")

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        distances, maps = inputs[0], inputs[1:]
        if len(maps) != len(self.strides):
            self.fail(f"{len(self.strides)} strides for {len(maps)} feature maps: give one per map", "strides")
        if len(distances) != 2 or distances[0] != 4:
            self.fail(f"the distances must be [4, A] (left, top, right, bottom per anchor), got "
                      f"{shape_list(distances)}", "in")
        anchors = 0
        for shape in maps:
            if len(shape) != 3:
                self.fail(f"the anchors come from [C, H, W] feature maps, got {shape_list(shape)}", "in")
            anchors += shape[1] * shape[2]
        if anchors != distances[1]:
            self.fail(f"the feature maps have {anchors} anchor points, the distances {distances[1]}", "in")
        return distances

    def receptive_field(self, fields: list, inputs: list[Shape], output: Shape) -> None:
        return None

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        return T("Dist2BBox", self.strides)
