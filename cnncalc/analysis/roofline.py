"""The roofline model of `cnncalc profile` and its results, as plain data (docs/profile.md): bytes a
layer moves, arithmetic intensity, roofline bound and time, and the dataclasses that hold a
measured profile. No torch: pytorch/profile.py measures, render/profile.py prints.

Definitions (one place; docs/profile.md repeats them):

- FLOPs = 2 x MACs, MACs under the textbook convention (the table's), times the batch.
- bytes = (batch x (input elements + output elements) + parameters + buffers) x bytes per element:
  every input read once, the output written once, the weights and BatchNorm statistics read once
  per forward pass (not once per image). A model of the minimum traffic, not a measurement.
- arithmetic intensity = FLOPs / bytes (FLOP per byte).
- roofline: attainable FLOP/s = min(peak FLOP/s, intensity x peak bytes/s); a layer is compute
  bound when its intensity is above the ridge point peak FLOP/s / peak bytes/s, else memory bound;
  its roofline time is max(FLOPs / peak FLOP/s, bytes / peak bytes/s).
- the peaks are measured at start, in the profiled dtype: FLOP/s is the faster of a square matmul
  (2n^3 FLOPs) and a 3x3 convolution; bytes/s a large tensor copy (2 x its size: read once, written
  once); the best of a few repetitions each.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Optional

from .report import DTYPE_BYTES, Row

COMPUTE, MEMORY = "compute", "memory"
FORMAT_VERSION = 1



def _elements(shape: Sequence[int]) -> int:
    return math.prod(int(size) for size in shape)


def layer_bytes(row: Row, bytes_per_element: int, batch: int) -> int:
    """Bytes a layer reads and writes at least: batch x (inputs + output) + parameters + buffers,
    in elements, times bytes per element (the module docstring says why)."""
    activations = sum(_elements(shape) for shape in row.input_shapes) + _elements(row.output_shape)
    return (batch * activations + int(row.params) + int(row.buffers)) * bytes_per_element


def arithmetic_intensity(flops: int, nbytes: int) -> float:
    """FLOP per byte moved."""
    return flops / nbytes if nbytes else 0.0


def ridge_point(peak_flops: float, peak_bytes_per_s: float) -> float:
    """The intensity (FLOP/byte) where the roofline's slope meets its flat top."""
    return peak_flops / peak_bytes_per_s


def roofline_bound(intensity: float, peak_flops: float, peak_bytes_per_s: float) -> str:
    """'compute' when the intensity is above the ridge point, else 'memory'."""
    return COMPUTE if intensity > ridge_point(peak_flops, peak_bytes_per_s) else MEMORY


def roofline_time(flops: int, nbytes: int, peak_flops: float, peak_bytes_per_s: float) -> float:
    """Seconds the roofline predicts: the slower of computing and moving the bytes."""
    return max(flops / peak_flops, nbytes / peak_bytes_per_s)


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Seconds over the timed iterations: median, quartiles (inclusive method; the IQR is q3 - q1),
    min and max."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        if len(ordered) == 1:
            q1 = q3 = ordered[0]
        else:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        return cls(statistics.median(ordered), q1, q3, ordered[0], ordered[-1], len(ordered))

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def to_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "q1_s": self.q1, "q3_s": self.q3, "iqr_s": self.iqr,
                "min_s": self.min, "max_s": self.max, "samples": self.n}


@dataclass(frozen=True)
class Kernel:
    """A benchmark kernel at the size that ran fastest: what it is, its FLOPs and its best time."""

    what: str  # "1024x1024 matmul", "3x3 conv 256->256 on 32x256x56x56"
    size: tuple[int, ...]  # (n,) for a matmul; (batch, channels, H=W) for a conv
    flops: int
    best_s: float

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.best_s

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "size": list(self.size), "flops": self.flops, "best_s": self.best_s,
                "flops_per_s": self.flops_per_s}


@dataclass(frozen=True)
class Peak:
    """The device's measured ceilings: FLOP/s (the faster of `matmul` and `conv`) and bytes/s (a copy)."""

    dtype: str
    matmul: Kernel
    conv: Kernel
    copy_bytes: int  # size of the tensor copied; the copy reads and writes it, 2 x copy_bytes moved
    copy_s: float  # its best time
    tf32: bool = False  # CUDA float32: TF32 tensor cores allowed for the matmul, as cuDNN allows them for convs
    channels_last: bool = False  # the conv ran in NHWC, as the profiled model does with --channels-last

    @property
    def flops_per_s(self) -> float:
        return max(self.matmul.flops_per_s, self.conv.flops_per_s)

    @property
    def compute_kernel(self) -> Kernel:
        return max((self.matmul, self.conv), key=lambda kernel: kernel.flops_per_s)

    @property
    def bytes_per_s(self) -> float:
        return 2 * self.copy_bytes / self.copy_s

    @property
    def ridge(self) -> float:
        return ridge_point(self.flops_per_s, self.bytes_per_s)

    def better(self, other: Peak) -> Peak:
        """The higher ceilings of two measurements of the same device: each kernel's faster run,
        the faster copy."""
        def faster(a: Kernel, b: Kernel) -> Kernel:
            return a if a.flops_per_s >= b.flops_per_s else b

        return replace(self, matmul=faster(self.matmul, other.matmul), conv=faster(self.conv, other.conv),
                       copy_s=min(self.copy_s, other.copy_s))

    def to_dict(self) -> dict[str, Any]:
        return {"flops_per_s": self.flops_per_s, "bytes_per_s": self.bytes_per_s,
                "ridge_flops_per_byte": self.ridge, "dtype": self.dtype, "tf32": self.tf32,
                "channels_last": self.channels_last,
                "matmul": self.matmul.to_dict(), "conv": self.conv.to_dict(),
                "copy": {"bytes": self.copy_bytes, "bytes_moved": 2 * self.copy_bytes, "best_s": self.copy_s}}


@dataclass(frozen=True)
class Measured:
    """A layer (or the whole model) with its static prediction and its measured time."""

    name: str
    op: str
    macs: int
    nbytes: int
    time: Spread
    peak: Peak
    parts: tuple[Measured, ...] = ()  # the whole model: its layers

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def intensity(self) -> float:
        return arithmetic_intensity(self.flops, self.nbytes)

    @property
    def bound(self) -> str:
        return roofline_bound(self.intensity, self.peak.flops_per_s, self.peak.bytes_per_s)

    @property
    def roofline_s(self) -> float:
        """The whole model's is the sum of its layers' (they run one after another)."""
        if self.parts:
            return sum(part.roofline_s for part in self.parts)
        return roofline_time(self.flops, self.nbytes, self.peak.flops_per_s, self.peak.bytes_per_s)

    @property
    def achieved_flops_per_s(self) -> float:
        return self.flops / self.time.median if self.time.median > 0 else 0.0

    @property
    def achieved_bytes_per_s(self) -> float:
        return self.nbytes / self.time.median if self.time.median > 0 else 0.0

    @property
    def peak_share(self) -> float:
        """Achieved FLOP/s over the measured peak FLOP/s."""
        return self.achieved_flops_per_s / self.peak.flops_per_s

    @property
    def roofline_share(self) -> Optional[float]:
        """Roofline time over measured time: 1.0 means the layer runs at its roofline."""
        return self.roofline_s / self.time.median if self.time.median > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "macs": self.macs, "flops": self.flops, "bytes": self.nbytes,
                "arithmetic_intensity": self.intensity, "bound": self.bound, "roofline_time_s": self.roofline_s,
                "time": self.time.to_dict(), "achieved_flops_per_s": self.achieved_flops_per_s,
                "achieved_tflops": self.achieved_flops_per_s / 1e12,
                "achieved_bytes_per_s": self.achieved_bytes_per_s,
                "peak_share": self.peak_share, "roofline_share": self.roofline_share}


@dataclass(frozen=True)
class Profile:
    spec: str
    input_shape: tuple[int, ...]
    device: str  # "cpu" or "cuda"
    device_name: str
    threads: int  # torch's intra-op threads (CPU)
    torch_version: str
    dtype: str
    batch: int
    channels_last: bool
    warmup: int
    iters: int
    peak: Peak
    layers: tuple[Measured, ...]  # per-layer times, from forward hooks
    model: Measured  # the whole forward pass, timed without hooks; MACs and bytes summed over layers
    peak_memory_bytes: Optional[int] = None  # CUDA: torch.cuda.max_memory_allocated over the timed passes
    resident_memory_bytes: Optional[int] = None  # CUDA: allocated before them (weights, buffers, input)
    warnings: tuple[str, ...] = ()  # figures not to trust (see above_peak)

    @property
    def throughput(self) -> float:
        """Images per second at the median whole-model time."""
        return self.batch / self.model.time.median if self.model.time.median > 0 else 0.0

    @property
    def layer_time_sum(self) -> float:
        return sum(layer.time.median for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "spec": self.spec,
            "input_shape": list(self.input_shape),
            "device": {"type": self.device, "name": self.device_name, "threads": self.threads,
                       "torch": self.torch_version},
            "dtype": self.dtype,
            "bytes_per_element": DTYPE_BYTES[self.dtype],
            "batch": self.batch,
            "channels_last": self.channels_last,
            "warmup": self.warmup,
            "iters": self.iters,
            "peak": self.peak.to_dict(),
            "total": {**{k: v for k, v in self.model.to_dict().items() if k not in ("name", "op")},
                      "throughput_images_per_s": self.throughput,
                      "layer_time_median_sum_s": self.layer_time_sum,
                      "peak_memory_bytes": self.peak_memory_bytes,
                      "resident_memory_bytes": self.resident_memory_bytes},
            "layers": [layer.to_dict() for layer in self.layers],
            "warnings": list(self.warnings),
        }


def above_peak(layers: Sequence[Measured], model: Measured, limit: int = 3) -> list[str]:
    """Warnings for the layers (and the model) that ran faster than the measured peak FLOP/s, which
    a sound peak makes impossible unless the kernel does fewer FLOPs than counted."""
    over = sorted((item for item in (model, *layers) if item.flops and item.peak_share > 1),
                  key=lambda item: -item.peak_share)
    if not over:
        return []
    named = ", ".join(f"{item.name} {100 * item.peak_share:.0f}%" for item in over[:limit])
    more = f" and {len(over) - limit} more" if len(over) > limit else ""
    return [f"{len(over)} of {len(layers) + 1} timings ran above the measured peak ({named}{more}): the peak was "
            "probably measured while other work slowed the machine, or a kernel does fewer FLOPs than counted "
            "(Winograd or FFT convolutions); read the shares of peak as upper bounds, and profile again on an "
            "idle machine"]


# --- measurement -----------------------------------------------------------------------------------
