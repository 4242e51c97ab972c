"""A Profile (cnncalc/profile.py) as a rich table with summary lines, or as JSON (docs/profile.md).
Plain data in, text out; no torch."""
from __future__ import annotations

import math
from typing import Any, Optional

from ..analysis.roofline import Measured, Peak, Profile
from ..core.numbers import MILLION, human_bytes, scaled
from .jsonout import dumps


def _headers(unit: str) -> tuple[str, ...]:
    return ("Layer", "Op", "MACs\n(M)", "Bytes\n(MB)", "FLOP/\nbyte", "Bound", "Roofline\n(µs)", "Median\n(µs)",
            "IQR\n(µs)", unit, "% of\npeak", "% of\nroofline")


def rate_unit(result: Profile) -> tuple[str, float]:
    """TFLOP/s on a device whose peak reaches 1 TFLOP/s, else GFLOP/s (a CPU), with its factor."""
    return ("TFLOP/s", 1e12) if result.peak.flops_per_s >= 1e12 else ("GFLOP/s", 1e9)


def _sig(value: Optional[float], digits: int = 3) -> str:
    """A float to about `digits` significant digits, without exponent: 1234.5 -> '1,235', 0.0123 -> '0.0123'."""
    if value is None or not math.isfinite(value):
        return ""
    if value == 0:
        return "0"
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{places}f}"


def _percent(share: Optional[float]) -> str:
    if share is None:
        return ""
    value = 100 * share
    return f"{value:.0f}" if value >= 10 else _sig(value, 2)


def _cells(item: Measured, op: str, rate: float) -> list[str]:
    return [item.name, op, scaled(item.macs, MILLION), scaled(item.nbytes, MILLION), _sig(item.intensity),
            item.bound, _sig(item.roofline_s * 1e6), _sig(item.time.median * 1e6), _sig(item.time.iqr * 1e6, 2),
            _sig(item.achieved_flops_per_s / rate), _percent(item.peak_share), _percent(item.roofline_share)]


def profile_table(result: Profile):
    """The per-layer table; the total row is the whole model timed without hooks."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=result.spec, box=box.SIMPLE_HEAD, title_justify="left", header_style="bold",
                  pad_edge=False, collapse_padding=True)
    unit, rate = rate_unit(result)
    for i, header in enumerate(_headers(unit)):
        table.add_column(header, justify="left" if i < 2 or header == "Bound" else "right", no_wrap=True)
    for layer in result.layers:
        cells = _cells(layer, layer.op, rate)
        table.add_row(*cells[:5], Text(cells[5], style="cyan" if layer.bound == "compute" else ""), *cells[6:])
    table.add_section()
    table.add_row(*[Text(cell, style="bold") for cell in _cells(result.model, "", rate)])
    return table


def profile_summary_lines(result: Profile) -> list[str]:
    peak, model = result.peak, result.model
    unit, rate = rate_unit(result)
    layout = "channels-last (NHWC)" if result.channels_last else "contiguous (NCHW)"
    where = result.device_name + (f", {result.threads} threads" if result.device == "cpu" else "")
    shape = "×".join(str(size) for size in result.input_shape)
    lines = [
        f"{result.device} ({where}), PyTorch {result.torch_version}; input {shape}, {result.dtype}, "
        f"batch {result.batch}, {layout}",
        f"peak (measured): {_sig(peak.flops_per_s / rate)} {unit} ({peak.compute_kernel.what}, {peak.dtype}"
        f"{', TF32 allowed' if peak.tf32 else ''}; {_other(peak, rate)}), "
        f"{_sig(peak.bytes_per_s / 1e9)} GB/s ({human_bytes(peak.copy_bytes)} copy); "
        f"ridge point {_sig(peak.ridge)} FLOP/byte",
        f"whole model: median {_sig(model.time.median * 1e3)} ms (IQR {_sig(model.time.iqr * 1e3, 2)} ms, "
        f"min {_sig(model.time.min * 1e3)}, max {_sig(model.time.max * 1e3)}; {result.iters} iterations "
        f"after {result.warmup} warm-up), {_sig(result.throughput)} images/s, "
        f"{_sig(model.achieved_flops_per_s / rate)} {unit}",
        f"per layer (forward hooks): sum of medians {_sig(result.layer_time_sum * 1e3)} ms; roofline prediction "
        f"(sum over layers) {_sig(model.roofline_s * 1e3)} ms",
    ]
    if result.peak_memory_bytes is not None:
        lines.append(f"peak allocated memory: {human_bytes(result.peak_memory_bytes)} "
                     f"({human_bytes(result.resident_memory_bytes or 0)} before the forward passes: "
                     f"weights, buffers, input)")
    lines.append("MB = 10^6 bytes; bytes = (batch × (inputs + output) + params + buffers) × bytes per element; "
                 "FLOP = 2 × MACs; µs are medians over the iterations, IQR = q3 − q1")
    lines += [f"warning: {warning}" for warning in result.warnings]
    return lines


def _other(peak: Peak, rate: float) -> str:
    """The slower compute kernel and its rate, for the summary."""
    other = peak.conv if peak.compute_kernel is peak.matmul else peak.matmul
    return f"{other.what}: {_sig(other.flops_per_s / rate)}"


def profile_renderables(result: Profile) -> list[Any]:
    return [profile_table(result), *profile_summary_lines(result)]


def profile_json(result: Profile) -> str:
    return dumps(result.to_dict())


__all__ = ["profile_json", "profile_renderables", "profile_summary_lines", "profile_table"]
