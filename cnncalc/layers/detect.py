"""Detection heads' own arithmetic: YOLO's decoding of box distances at anchor points."""
from __future__ import annotations

from typing import Any

from ..core.shapes import Shape, shape_list
from .base import Layer, Warn, register
from .fields import EXPRESSION, POSITIVE, FieldProblem, accepts, positive_int, spec_field
from .memory import Backward, Forward, MemoryContext, Op, Stage, Tensor, like
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

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """One stage, as the module's forward runs it. Per feature map: two aranges shifted by 0.5 (the
        unshifted ones go at once; the shifted ones stay behind meshgrid's views until the next map's),
        the stacked points and the stride column, which the lists hold until the forward returns, as
        they hold the concatenated anchors and strides. Per sample: x1y1 and x2y2 (2·A each, locals
        until the return), their sum and its half, the size, their concatenation, and the output
        (4·A). Only the multiplication by the strides keeps something for backward: the strides (A).
        Backward: the gradient times the strides, the half of its first part, the negated second part
        for x1y1, the two sums where x1y1's and x2y2's gradients meet, the negated gradient of the
        left-top distances, and the distances' gradient (4·A): the feature maps get none."""
        anchors = int(output[1])
        ops: list[Op] = []
        shifted: tuple[str, ...] = ()
        for k, shape in enumerate(inputs[1:]):
            h, w = int(shape[1]), int(shape[2])
            ops += [Op((Tensor(f"ar_h{k}", fixed=h),)), Op((Tensor(f"ys{k}", fixed=h),), frees=(f"ar_h{k}",)),
                    Op((Tensor(f"ar_w{k}", fixed=w),)),
                    Op((Tensor(f"xs{k}", fixed=w),), frees=(f"ar_w{k}", *shifted)),
                    Op((Tensor(f"points{k}", fixed=2 * h * w),)), Op((Tensor(f"scales{k}", fixed=h * w),))]
            shifted = (f"ys{k}", f"xs{k}")
        pair = 2 * anchors
        ops += [Op((Tensor("anchors", fixed=pair),)), Op((Tensor("strides", fixed=anchors),)),
                Op((Tensor("x1y1", pair),)), Op((Tensor("x2y2", pair),)),
                Op((Tensor("sum", pair),)), Op((Tensor("centre", pair),), frees=("sum",)),
                Op((Tensor("size", pair),)), Op((Tensor("boxes", 2 * pair),), frees=("centre", "size")),
                Op((Tensor("output", 2 * pair),), frees=("boxes",))]
        forward = Forward(tuple(ops), saved=("strides",))
        if not ctx.training:
            return (Stage("dist2bbox", tuple(range(len(inputs))), forward),)
        backward = Backward((Op((Tensor("g_boxes", 2 * pair),)), Op((Tensor("g_half", pair),)),
                             Op((Tensor("g_neg", pair),)), Op((Tensor("g_x1y1", pair),), frees=("g_half", "g_neg")),
                             Op((Tensor("g_x2y2", pair),), frees=("g_boxes",)), Op((Tensor("g_lt", pair),)),
                             Op((like("grad_in", 0),), frees=("g_x1y1", "g_x2y2", "g_lt"))),
                            ("grad_in", *(None,) * (len(inputs) - 1)))
        return (Stage("dist2bbox", tuple(range(len(inputs))), forward, backward),)
