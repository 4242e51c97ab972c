"""A MemoryReport as a rich table with summary lines, JSON (docs/memory.md) or CSV. Plain data in, text out."""
from __future__ import annotations

from typing import Any

from ..analysis.memory_report import LayerMemory, MemoryReport
from ..core.numbers import grouped, human_bytes
from .csvout import csv_text
from .jsonout import dumps

CATEGORY_NAMES = {"parameters": "parameters", "buffers": "buffers", "gradients": "gradients",
                  "optimizer_state": "optimizer state", "activations": "activations", "temporary": "temporary"}
CSV_COLUMNS = ("layer", "op", "saved", "saved_bytes", "output_bytes", "live_after_forward", "forward_peak",
               "backward_peak", "peak_bytes")
AMP_NAMES = {"fp16": "float16", "bf16": "bfloat16"}


UNITS = (("B", 1), ("KiB", 2**10), ("MiB", 2**20))


def _unit(report: MemoryReport) -> tuple[str, int]:
    """The largest of B, KiB, MiB in which the peak is at least 10 units."""
    return [(name, size) for name, size in UNITS if report.peak_bytes >= 10 * size or size == 1][-1]


def _amount_in(value: int | None, unit: int) -> str:
    if value is None:
        return ""
    return f"{value:,}" if unit == 1 else f"{value / unit:,.1f}"


def memory_table(report: MemoryReport) -> Any:
    """Per layer: what it keeps for backward, its output, and the live memory over the schedule. Laid
    out here rather than by rich's Table, which takes about a millisecond a row (ResNet-152 has 515)."""
    from rich.text import Text

    training = report.mode == "train"
    unit, size = _unit(report)
    headers = ["Layer", "Op", f"Output\n({unit})"]
    if training:
        headers += ["Keeps for backward", f"Kept\n({unit})"]
    headers += [f"Live after\nforward ({unit})", f"Forward\npeak ({unit})"]
    if training:
        headers.append(f"Backward\npeak ({unit})")
    left = {0, 1, 3} if training else {0, 1}
    rows = [_cells(layer, training, size) for layer in report.layers]
    head = [h.split("\n") for h in headers]
    depth = max(len(lines) for lines in head)
    head = [[""] * (depth - len(lines)) + lines for lines in head]
    widths = [max(len(cell) for cell in [*lines, *(row[i] for row in rows)]) for i, lines in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()

    text = Text(memory_title(report) + "\n\n")
    text.append("\n".join(line([lines[k] for lines in head]) for k in range(depth)) + "\n", style="bold")
    text.append("  ".join("─" * w for w in widths) + "\n")
    text.append("\n".join(line(row) for row in rows) + "\n")
    return text


def _cells(layer: LayerMemory, training: bool, unit: int) -> list[str]:
    cells = [layer.name, layer.op, _amount_in(layer.output_bytes, unit)]
    if training:
        cells += [", ".join(layer.saved), _amount_in(layer.saved_bytes, unit) if layer.saved else ""]
    cells += [_amount_in(layer.live_after_forward, unit), _amount_in(layer.forward_peak, unit)]
    if training:
        cells.append(_amount_in(layer.backward_peak, unit))
    return cells


def memory_title(report: MemoryReport) -> str:
    what = "training step" if report.mode == "train" else "inference (no_grad, eval)"
    parts = [f"{report.name}: {what}", f"batch {report.batch}"]
    if report.optimizer:
        parts.append(report.optimizer + (" (foreach)" if report.foreach else ""))
    parts.append(f"{AMP_NAMES[report.amp]} autocast" if report.amp else report.dtype)
    if report.checkpoint:
        parts.append("checkpointed: " + ", ".join(report.checkpoint))
    return ", ".join(parts)


def _apart(value: int, limit: str) -> str:
    """`value` in binary units with enough digits not to read as the limit beside it: a peak of
    25,739,324,464 bytes next to 'fits in 24 GiB' reads '23.97 GiB', not '24 GiB'."""
    text = human_bytes(value)
    for digits in range(4, 7):
        if text != limit:
            break
        text = human_bytes(value, digits)
    return text


def _amount(value: int) -> str:
    return f"{grouped(value)} bytes ({human_bytes(value)})"


def memory_summary_lines(report: MemoryReport) -> list[str]:
    """The peak, where it is, its categories, the phases' peaks and what stays resident."""
    where = f"{report.peak_phase}, {report.peak_layer + ': ' if report.peak_layer else ''}{report.peak_op}"
    lines = [f"peak:              {_amount(report.peak_bytes)} in {where}"]
    width = max(len(name) for name in CATEGORY_NAMES.values())
    for key, name in CATEGORY_NAMES.items():
        lines.append(f"  {name:<{width}}  {grouped(report.at_peak[key]):>16} bytes")
    made = "step" if report.mode == "train" else "pass"
    lines.append(f"  {'input':<{width}}  {grouped(report.input_bytes):>16} bytes  (made before the {made})")
    phases = ", ".join(f"{phase} {human_bytes(value)}" for phase, value in report.phase_peaks.items())
    lines.append(f"largest per phase: {phases}")
    held = [f"parameters {human_bytes(report.parameters_bytes)} ({grouped(report.parameter_count)})",
            f"buffers {human_bytes(report.buffers_bytes)}"]
    if report.mode == "train":
        held += [f"gradients {human_bytes(report.gradients_bytes)}",
                 f"{report.optimizer} state {human_bytes(report.optimizer_state_bytes)}"]
    lines.append("resident:          " + ", ".join(held))
    if report.fit is not None:
        fit = report.fit
        limit = human_bytes(fit.limit_bytes)
        peak = f"{grouped(fit.peak_bytes)} bytes ({_apart(fit.peak_bytes, limit)})"
        if fit.batch:
            lines.append(f"fits in {limit}: batch {grouped(fit.batch)} at most (peak {peak}); "
                         "the table is for that batch")
        else:
            lines.append(f"does not fit in {limit}: one sample already needs {peak}")
    if report.training_only:
        lines.append(f"training only:     {', '.join(report.training_only)} left out (they run only in training)")
    protocol = "" if report.mode != "train" else (
        "optimizer state counted as it exists (MemTracker with track_external); " if report.protocol == "resident"
        else "optimizer state counted once step() touches it (MemTracker's default); ")
    lines.append(f"eager PyTorch as MemTracker counts it: every storage once, no allocator rounding; {protocol}"
                 "KiB = 2^10 bytes, MiB = 2^20 (docs/memory.md)")
    return lines


def memory_renderables(report: MemoryReport) -> list[Any]:
    return [memory_table(report), *memory_summary_lines(report)]


def memory_json(report: MemoryReport) -> str:
    return dumps(report.to_dict())


def memory_csv(report: MemoryReport) -> str:
    """A row per layer, then the peak (where: phase, layer and op), its categories, the batch and (with --fit)
    the limit, each in the last column."""
    rows: list[list[Any]] = [list(CSV_COLUMNS)]
    for layer in report.layers:
        rows.append([layer.name, layer.op, ";".join(layer.saved), layer.saved_bytes, layer.output_bytes,
                     layer.live_after_forward, layer.forward_peak, layer.backward_peak, None])
    rows.append(["peak", report.peak_op, f"{report.peak_phase}: {report.peak_layer}", *[None] * 5, report.peak_bytes])
    for key, value in [*report.at_peak.items(), ("input", report.input_bytes)]:
        rows.append([f"peak: {CATEGORY_NAMES.get(key, key)}", *[None] * 7, value])
    rows.append(["batch", *[None] * 7, report.batch])  # the batch every figure is for (--fit's answer)
    if report.fit is not None:
        rows.append(["fit: limit", *[None] * 7, report.fit.limit_bytes])
    return csv_text(rows)


__all__ = ["memory_csv", "memory_json", "memory_renderables", "memory_summary_lines", "memory_table", "memory_title"]
