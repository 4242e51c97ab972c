"""The memory of one step at one batch size, as plain data (what `cnncalc memory` prints, its JSON and
CSV, and what budgets and plots read): the peak and where it happens, the categories at the peak,
each layer's saved tensors and live memory, and the whole timeline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..spec.graph import Graph
from .memory import CATEGORIES, PHASES, Schedule, memory_schedule
from .memory_plan import MemoryOptions
from .optimizers import OPTIMIZERS

MAX_BATCH = 1 << 31  # `fit` searches no further


@dataclass(frozen=True)
class LayerMemory:
    name: str
    op: str
    saved: tuple[str, ...]  # what it keeps for backward: input, output, indices, mask, save_mean...
    saved_bytes: int  # those storages, each once
    output_bytes: int
    live_after_forward: int  # everything resident when its forward is done (the input included)
    forward_peak: int  # the largest total during its forward ops
    backward_peak: int | None  # the largest total during its backward ops (None: no backward, or inference)
    train_only: bool = False


@dataclass(frozen=True)
class TimelinePoint:
    """The running total after one op that allocates (the input included), in order."""

    phase: str  # forward, backward, step
    layer: str
    op: str
    bytes: int


@dataclass(frozen=True)
class Fit:
    limit_bytes: int
    batch: int  # the largest batch whose peak fits; 0 when even one sample does not
    peak_bytes: int  # the peak at that batch (at batch 1 when none fits)


@dataclass(frozen=True)
class MemoryReport:
    name: str
    mode: str
    batch: int
    optimizer: str | None  # None at inference
    amp: str | None
    dtype: str
    foreach: bool
    protocol: str
    checkpoint: tuple[str, ...]
    input_bytes: int
    peak_bytes: int  # input_bytes + the sum of at_peak
    peak_phase: str
    peak_layer: str
    peak_op: str
    at_peak: dict[str, int]  # bytes per category at the peak (CATEGORIES)
    phase_peaks: dict[str, int]  # the largest total in each phase (the input included)
    parameters_bytes: int
    buffers_bytes: int
    gradients_bytes: int  # every gradient, once the backward pass is done
    optimizer_state_bytes: int
    parameter_count: int
    layers: tuple[LayerMemory, ...]
    timeline: tuple[TimelinePoint, ...]
    training_only: tuple[str, ...] = ()  # layers marked train_only that inference leaves out
    fit: Fit | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (docs/memory.md)."""
        return {
            "name": self.name,
            "mode": self.mode,
            "batch": self.batch,
            "optimizer": self.optimizer,
            "amp": self.amp,
            "dtype": self.dtype,
            "foreach": self.foreach,
            "protocol": self.protocol,
            "checkpoint": list(self.checkpoint),
            "input_bytes": self.input_bytes,
            "peak_bytes": self.peak_bytes,
            "peak_at": {"layer": self.peak_layer, "phase": self.peak_phase, "op": self.peak_op},
            "at_peak": dict(self.at_peak),
            "phase_peaks": dict(self.phase_peaks),
            "totals": {"parameters": self.parameters_bytes, "buffers": self.buffers_bytes,
                       "gradients": self.gradients_bytes, "optimizer_state": self.optimizer_state_bytes,
                       "parameter_count": self.parameter_count},
            "training_only": list(self.training_only),
            "layers": [{"name": layer.name, "op": layer.op, "saved": list(layer.saved),
                        "saved_bytes": layer.saved_bytes, "output_bytes": layer.output_bytes,
                        "live_after_forward": layer.live_after_forward, "forward_peak": layer.forward_peak,
                        "backward_peak": layer.backward_peak}
                       for layer in self.layers],
            "timeline": [{"phase": p.phase, "layer": p.layer, "op": p.op, "bytes": p.bytes} for p in self.timeline],
            **({"fit": {"limit_bytes": self.fit.limit_bytes, "batch": self.fit.batch,
                        "peak_bytes": self.fit.peak_bytes}} if self.fit is not None else {}),
        }


def graph_memory(graph: Graph, options: MemoryOptions = MemoryOptions(), batch: int = 1,
                 fit: int | None = None) -> MemoryReport:
    """The memory of `graph` at `batch`, or with `fit` (bytes) at the largest batch whose peak fits:
    what `cnncalc.memory` returns, for a graph already loaded (budgets read its `peak_bytes`)."""
    schedule = memory_schedule(graph, options)
    left_out = graph.train_only if options.mode == "infer" else ()
    if fit is None:
        return report_at(schedule, batch, left_out)
    found = fit_batch(schedule, fit)
    return report_at(schedule, max(found.batch, 1), left_out, found)


def report_at(schedule: Schedule, batch: int, training_only: tuple[str, ...] = (),
              fit: Fit | None = None) -> MemoryReport:
    """The schedule evaluated at `batch` samples."""
    options = schedule.options
    index, _ = schedule.peak(batch)
    peak = schedule.samples[index]
    at_peak = dict(zip(CATEGORIES, peak.bytes(batch)))
    input_bytes = schedule.input_bytes(batch)
    totals = [input_bytes + sample.total(batch) for sample in schedule.samples]
    phase_peaks = {phase: max((t for t, s in zip(totals, schedule.samples) if s.phase == phase), default=0)
                   for phase in PHASES if any(s.phase == phase for s in schedule.samples)}
    layers = tuple(_layer(layer, totals, input_bytes, batch) for layer in schedule.layers)
    return MemoryReport(
        name=schedule.name, mode=options.mode, batch=batch,
        optimizer=options.optimizer if options.mode == "train" else None, amp=options.amp, dtype=options.dtype,
        foreach=options.foreach, protocol=options.protocol, checkpoint=schedule.checkpointed,
        input_bytes=input_bytes, peak_bytes=input_bytes + sum(at_peak.values()),
        peak_phase=peak.phase, peak_layer=peak.layer, peak_op=peak.label, at_peak=at_peak, phase_peaks=phase_peaks,
        parameters_bytes=_at(schedule.parameters, batch), buffers_bytes=_at(schedule.buffers, batch),
        gradients_bytes=_at(schedule.gradients, batch), optimizer_state_bytes=_at(schedule.optimizer_state, batch),
        parameter_count=schedule.parameter_count, layers=layers,
        timeline=tuple(TimelinePoint(s.phase, s.layer, s.label, total) for s, total in zip(schedule.samples, totals)),
        training_only=training_only if options.mode == "infer" else (), fit=fit)


def fit_batch(schedule: Schedule, limit: int) -> Fit:
    """The largest batch whose peak (the input included) fits in `limit` bytes."""
    batch = schedule.fit(limit, MAX_BATCH)
    at = max(batch, 1)
    return Fit(limit, batch, schedule.input_bytes(at) + schedule.peak(at)[1])


def optimizer_summary(name: str) -> str:
    return OPTIMIZERS[name].summary


def _layer(layer: Any, totals: list[int], input_bytes: int, batch: int) -> LayerMemory:
    first, end = layer.forward
    back_first, back_end = layer.backward
    return LayerMemory(
        name=layer.name, op=layer.op, saved=layer.saved, saved_bytes=_at(layer.saved_size, batch),
        output_bytes=_at(layer.output_size, batch),
        live_after_forward=input_bytes + sum(a * batch + b for a, b in layer.after_forward),
        forward_peak=max(totals[first:end], default=input_bytes + sum(a * batch + b for a, b in layer.after_forward)),
        backward_peak=max(totals[back_first:back_end]) if back_end > back_first else None,
        train_only=layer.train_only)


def _at(size: tuple[int, int], batch: int) -> int:
    return size[0] * batch + size[1]
