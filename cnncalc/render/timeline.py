"""The memory-over-time panel as plain data: the live memory after every op of one training step (or
inference pass) from a MemoryReport, the phases it goes through, the peak, and a takeaway computed
from the numbers (docs/report.md). Drawing is render/plot.py's job.

The takeaway says where the peak is and what makes it up, split in two by what the batch changes:
the model's side (parameters, buffers, gradients, optimizer state: the same at any batch) and the
batch's side (activations, temporaries, the input). Whichever is larger is named with its share:
'The peak, 151 MiB, is in the backward pass at layer3.0.conv1: parameters, buffers, gradients and
optimizer state are 86.2% of it'.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..analysis.memory_report import MemoryReport, TimelinePoint
from ..core.numbers import grouped, human_bytes
from .memory import memory_title
from .panels import TIMELINE, Takeaway, percent

PHASE_NAMES = {"forward": "forward", "backward": "backward", "step": "optimizer step"}
PHASE_PHRASES = {"forward": "the forward pass", "backward": "the backward pass", "step": "the optimizer step"}
MODEL_SIDE = (("parameters", "parameters"), ("buffers", "buffers"), ("gradients", "gradients"),
              ("optimizer_state", "optimizer state"))
BATCH_SIDE = (("activations", "activations"), ("temporary", "temporaries"))
BYTE_UNITS = ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"), (1, "bytes"))
MAX_BUCKETS = 120  # the report's SVG draws at most this many stretches of the timeline (min and max of each)


@dataclass(frozen=True)
class PhaseSpan:
    phase: str  # forward, backward, step
    first: int  # its first and last point
    last: int

    @property
    def name(self) -> str:
        return PHASE_NAMES[self.phase]


@dataclass(frozen=True)
class TimelinePanel:
    key: str  # "timeline"
    title: str  # the axis title with its unit, "Live memory (MiB)"
    unit: int  # heights are bytes / unit
    unit_name: str
    name: str  # the network's
    setting: str  # what the step is: "training step, batch 1, momentum, float32"
    mode: str  # train or infer
    points: tuple[TimelinePoint, ...]  # the report's timeline, every op in order
    phases: tuple[PhaseSpan, ...]  # in order
    peak: int  # the index of the peak's point
    takeaway: Takeaway

    @property
    def peak_point(self) -> TimelinePoint:
        return self.points[self.peak]

    def heights(self) -> list[float]:
        return [point.bytes / self.unit for point in self.points]

    def steps_name(self) -> str:
        return "one training step" if self.mode == "train" else "one inference pass"


def byte_unit(largest: int) -> tuple[int, str]:
    """The largest of GiB, MiB, KiB in which `largest` is at least 1, else bytes."""
    return next((size, name) for size, name in BYTE_UNITS if largest >= size or size == 1)


def point_text(point: TimelinePoint) -> str:
    """'backward, layer3.0.conv1: conv': where a point is (the op alone where no layer runs it)."""
    where = f"{point.layer}: {point.op}" if point.layer else point.op
    return f"{PHASE_NAMES[point.phase]}, {where}"


def bytes_text(value: int) -> str:
    """'158,260,616 bytes (151 MiB)'."""
    return f"{grouped(value)} bytes ({human_bytes(value)})"


def timeline_panel(report: MemoryReport) -> TimelinePanel:
    points = report.timeline
    peak = next(i for i, p in enumerate(points)
                if (p.phase, p.layer, p.op, p.bytes) == (report.peak_phase, report.peak_layer, report.peak_op,
                                                         report.peak_bytes))
    unit, unit_name = byte_unit(report.peak_bytes)
    setting = memory_title(report)[len(report.name) + 2:]  # without "name: "
    return TimelinePanel(TIMELINE, f"Live memory ({unit_name})", unit, unit_name, report.name, setting, report.mode,
                         points, phase_spans(points), peak, peak_takeaway(report))


def phase_spans(points: Sequence[TimelinePoint]) -> tuple[PhaseSpan, ...]:
    spans: list[PhaseSpan] = []
    for index, point in enumerate(points):
        if spans and spans[-1].phase == point.phase:
            spans[-1] = PhaseSpan(point.phase, spans[-1].first, index)
        else:
            spans.append(PhaseSpan(point.phase, index, index))
    return tuple(spans)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def peak_takeaway(report: MemoryReport) -> Takeaway:
    """Where the peak is, and the larger of its two sides with its share (the batch's side wins a tie)."""
    model = [(name, report.at_peak[key]) for key, name in MODEL_SIDE if report.at_peak[key]]
    batch = [(name, report.at_peak[key]) for key, name in BATCH_SIDE if report.at_peak[key]]
    if report.input_bytes:
        batch.append(("the input", report.input_bytes))
    model_bytes, batch_bytes = sum(size for _, size in model), sum(size for _, size in batch)
    side = batch if batch_bytes >= model_bytes else model
    share = Fraction(max(model_bytes, batch_bytes), report.peak_bytes)
    names = [name for name, _ in side]
    verb = "is" if names == ["the input"] else "are"
    where = f"at {report.peak_layer}" if report.peak_layer else f"({report.peak_op})"
    text = (f"The peak, {human_bytes(report.peak_bytes)}, is in {PHASE_PHRASES[report.peak_phase]} {where}: "
            f"{_listed(names)} {verb} {percent(share)} of it")
    return Takeaway(text, share, (report.peak_layer,) if report.peak_layer else ())


def buckets(count: int, limit: int = MAX_BUCKETS) -> list[range]:
    """`count` points cut into at most `limit` runs of consecutive points, as even as can be."""
    parts = min(count, limit)
    return [range(k * count // parts, (k + 1) * count // parts) for k in range(parts)]


def drawn_points(panel: TimelinePanel, limit: int = MAX_BUCKETS) -> list[int]:
    """The indices of the points a drawing keeps: every point when there are at most `limit`;
    else, of each bucket, its lowest and highest point (the first of equals), and always the peak,
    the first point and the last."""
    values = [point.bytes for point in panel.points]
    kept = {panel.peak, 0, len(values) - 1}
    for part in buckets(len(values), limit):
        kept.add(min(part, key=lambda i: values[i]))
        kept.add(max(part, key=lambda i: values[i]))
    return sorted(kept)
