"""`cnncalc profile`: run the lowered network on a device and time every layer next to the static
prediction of analysis/roofline.py (docs/profile.md). torch is imported only inside the functions
that run something."""
from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional

from ..analysis.report import DTYPE_BYTES, Report
from ..analysis.roofline import Kernel, Measured, Peak, Profile, Spread, above_peak, layer_bytes
from ..core.errors import InputError, OptionError
from ..spec.graph import Graph

DEVICES = ("auto", "cpu", "cuda")
PROFILE_DTYPES = ("float32", "float16", "bfloat16")

# Peak measurement. The compute peak is the faster of two kernels in the profiled dtype, a square matmul
# and a 3x3 convolution (a CPU's BLAS and its convolution library can differ twofold: MKL's sgemm runs
# at half the rate of oneDNN's convolutions on AMD Zen). Each kernel starts small and doubles its size
# up to its cap; it stops earlier only once a call takes TARGET_S and the rate has stopped growing
# (by SATURATED), or a call takes MAX_CALL_S, so a slow kernel (float16 on most CPUs) stays cheap. A
# single slow size does not stop it: on a busy machine the small sizes are the ones whose timings a
# scheduler's pause inflates most (one such run reported 1527% of the peak). Each size is timed best
# of at least MIN_REPEATS within GROW_BUDGET_S, a quick one at the end within BUDGET_S, and the best
# rate at any size counts. When a layer or the model still runs faster than the peak, the peak is
# measured again with RECHECK times the budgets, and what still exceeds it is reported as a warning.
# The bandwidth is a copy of COPY_BYTES, well beyond the last-level cache (CPU L3, GPU L2).
MATMUL_N = {"cpu": (128, 1024), "cuda": (1024, 8192)}  # n: first, cap
CONV_CHANNELS = {"cpu": (32, 512), "cuda": (128, 1024)}  # C -> C channels: first, cap
CONV_INPUT = {"cpu": (1, 14), "cuda": (32, 56)}  # batch, H = W
TARGET_S = 0.02
MAX_CALL_S = 0.5
SATURATED = 1.1
COPY_BYTES = {"cpu": 128 * 2**20, "cuda": 2**30}
MIN_REPEATS = 5
MAX_REPEATS = 200
BUDGET_S = 0.08
GROW_BUDGET_S = 0.03
RECHECK = 4

Progress = Callable[[str, int, int], None]  # (what is running, steps done, steps in all)



def resolve_device(torch: Any, device: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; 'cuda' without one is an error."""
    if device not in DEVICES:
        raise OptionError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    has_cuda = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if device == "cuda" and not has_cuda:
        why = ("this PyTorch is built without CUDA" if torch.version.cuda is None
               else f"no CUDA GPU is visible to PyTorch {torch.__version__}")
        raise OptionError(f"--device cuda: CUDA is not available ({why})",
                        hint="use --device cpu, or --device auto to take a GPU when there is one")
    return device


def device_name(torch: Any, device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


class _Clock:
    """Time a callable: CUDA events (synchronised) on the GPU, perf_counter on the CPU."""

    def __init__(self, torch: Any, device: str) -> None:
        self.torch = torch
        self.cuda = device == "cuda"

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def time(self, fn: Callable[[], Any]) -> float:
        if self.cuda:
            start = self.torch.cuda.Event(enable_timing=True)
            end = self.torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        began = time.perf_counter()
        fn()
        return time.perf_counter() - began

    def best(self, fn: Callable[[], Any], budget: float = BUDGET_S) -> float:
        """Best of MIN_REPEATS or more (about `budget` seconds in all), after one untimed run."""
        fn()
        self.sync()
        times: list[float] = []
        while len(times) < MIN_REPEATS or (sum(times) < budget and len(times) < MAX_REPEATS):
            times.append(self.time(fn))
        return min(times)


def _fastest(clock: _Clock, sizes: Sequence[Any], setup: Callable[[Any], tuple[Callable[[], Any], int, str, tuple]],
             scale: float = 1) -> Kernel:
    """Time a kernel at growing sizes (see TARGET_S above); the size with the best rate. `scale`
    multiplies the time budgets (a second, longer measurement)."""
    best: Optional[Kernel] = None
    for i, size in enumerate(sizes):
        run, flops, what, shape = setup(size)
        seconds = clock.best(run, budget=GROW_BUDGET_S * scale)
        kernel = Kernel(what, shape, flops, seconds)
        growing = best is None or kernel.flops_per_s > SATURATED * best.flops_per_s
        last = i == len(sizes) - 1 or seconds >= MAX_CALL_S or (seconds >= TARGET_S and not growing)
        if last and seconds < TARGET_S:  # the cap, and still quick: time it longer
            kernel = Kernel(what, shape, flops, min(seconds, clock.best(run, budget=BUDGET_S * scale)))
        if best is None or kernel.flops_per_s > best.flops_per_s:
            best = kernel
        del run
        if last:
            break
    assert best is not None
    return best


def _doubling(first: int, cap: int) -> list[int]:
    sizes = [first]
    while sizes[-1] * 2 <= cap:
        sizes.append(sizes[-1] * 2)
    return sizes


_PEAKS: dict[tuple, Peak] = {}  # measured once per process and (device, dtype, TF32 setting, layout)


def measure_peak(torch: Any, device: str, dtype: str, channels_last: bool = False, again: bool = False) -> Peak:
    """The device's peak FLOP/s (the faster of a square matmul and a 3x3 conv, in `dtype`, the conv
    in NHWC with `channels_last`) and bytes/s (a large copy), measured now. `again`: measure once
    more with RECHECK times the budgets, and keep the better of the two measurements."""
    tf32 = device == "cuda" and dtype == "float32" and bool(torch.backends.cudnn.allow_tf32)
    key = (device, dtype, tf32, channels_last)
    if key in _PEAKS and not again:
        return _PEAKS[key]
    scale = RECHECK if again else 1
    clock = _Clock(torch, device)
    torch_dtype = getattr(torch, dtype)

    def matmul(n: int):
        a = torch.ones(n, n, device=device, dtype=torch_dtype)
        b = torch.ones(n, n, device=device, dtype=torch_dtype)
        return (lambda: a @ b), 2 * n ** 3, f"{n}×{n} matmul", (n,)

    batch, hw = CONV_INPUT[device]

    def conv(channels: int):
        layer = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False, device=device, dtype=torch_dtype)
        x = torch.ones(batch, channels, hw, hw, device=device, dtype=torch_dtype)
        if channels_last:
            layer = layer.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        flops = 2 * batch * channels * channels * 9 * hw * hw
        what = f"3×3 conv {channels}→{channels} on {batch}×{channels}×{hw}×{hw}{' NHWC' if channels_last else ''}"
        return (lambda: layer(x)), flops, what, (batch, channels, hw)

    matmul_tf32 = torch.backends.cuda.matmul.allow_tf32
    try:
        # convolutions in float32 on CUDA use TF32 when cuDNN allows it (the default): so may the matmul
        torch.backends.cuda.matmul.allow_tf32 = tf32 or matmul_tf32
        with torch.inference_mode():
            matmul_kernel = _fastest(clock, _doubling(*MATMUL_N[device]), matmul, scale)
            conv_kernel = _fastest(clock, _doubling(*CONV_CHANNELS[device]), conv, scale)
            src = torch.ones(COPY_BYTES[device] // DTYPE_BYTES[dtype], device=device, dtype=torch_dtype)
            dst = torch.empty_like(src)
            copy_s = clock.best(lambda: dst.copy_(src), budget=BUDGET_S * scale)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
    peak = Peak(dtype=dtype, matmul=matmul_kernel, conv=conv_kernel, copy_bytes=COPY_BYTES[device], copy_s=copy_s,
                tf32=tf32, channels_last=channels_last)
    if again and key in _PEAKS:
        peak = peak.better(_PEAKS[key])
    _PEAKS[key] = peak
    return peak


class _Hooks:
    """Forward pre/post hooks on every layer's module. In 'check' mode they only note which layer is
    running (to name it in an error); in 'time' mode they time each layer: perf_counter on the CPU,
    a pair of CUDA events per layer on the GPU (read after one synchronisation per iteration)."""

    def __init__(self, torch: Any, model: Any, names: Sequence[str], device: str) -> None:
        self.torch = torch
        self.cuda = device == "cuda"
        self.names = list(names)
        self.mode = "check"
        self.current: Optional[str] = None
        self.samples: dict[str, list[float]] = {name: [] for name in names}
        self._started: dict[str, float] = {}
        if self.cuda:
            self._events = {name: (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                            for name in names}
        self._handles = []
        for name in names:
            module = model.get_submodule(name)
            self._handles.append(module.register_forward_pre_hook(self._pre(name)))
            self._handles.append(module.register_forward_hook(self._post(name)))

    def _pre(self, name: str) -> Callable:
        def hook(_module, _inputs):
            self.current = name
            if self.mode == "time":
                if self.cuda:
                    self._events[name][0].record()
                else:
                    self._started[name] = time.perf_counter()
        return hook

    def _post(self, name: str) -> Callable:
        def hook(_module, _inputs, _output):
            if self.mode == "time":
                if self.cuda:
                    self._events[name][1].record()
                else:
                    self.samples[name].append(time.perf_counter() - self._started[name])
        return hook

    def end_iteration(self) -> None:
        """CUDA: wait for the iteration once, then read every layer's event pair."""
        if self.mode == "time" and self.cuda:
            self.torch.cuda.synchronize()
            for name in self.names:
                start, end = self._events[name]
                self.samples[name].append(start.elapsed_time(end) / 1e3)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def steps(warmup: int, iters: int) -> int:
    """Progress steps of one profile: the peak, the check pass, warm-up, model and per-layer passes."""
    return 1 + 1 + warmup + 2 * iters


def profile(graph: Graph, report: Report, spec: str, *, device: str = "auto", dtype: str = "float32",
            warmup: int = 3, iters: int = 10, channels_last: bool = False,
            progress: Optional[Progress] = None) -> Profile:
    """Run `graph` (lowered to torch) on `device` and time it, whole and per layer.

    `report` is the static analysis of the same graph at the same dtype and batch (its MACs are
    already multiplied by the batch). Order: measure the peaks; one untimed pass with hooks that
    checks every layer runs in `dtype` on the device; `warmup` passes; `iters` timed passes of the
    whole model without hooks (total, throughput, CUDA peak memory); `iters` timed passes with the
    per-layer hooks."""
    from .lowering import require_torch, to_module

    torch = require_torch()
    if dtype not in PROFILE_DTYPES:
        raise OptionError(f"--dtype {dtype}: profile runs {', '.join(PROFILE_DTYPES)}")
    if warmup < 0 or iters < 1:
        raise OptionError("--warmup must be 0 or more and --iters 1 or more")
    if len(report.rows) != len(graph.nodes):
        raise ValueError("profile needs the report of the whole graph, not a collapsed one")
    device = resolve_device(torch, device)
    batch = report.batch
    if channels_last and len(graph.input_shape) != 3:
        raise OptionError(f"--channels-last needs an image input (C,H,W), not {list(graph.input_shape)}")
    total = steps(warmup, iters)
    done = 0

    def begin(what: str) -> None:
        """Report the step about to run (`done` steps are finished)."""
        if progress is not None:
            progress(what, done, total)

    begin("measuring the device's peak (matmul, conv, copy)")
    try:
        peak = measure_peak(torch, device, dtype, channels_last)
    except RuntimeError as exc:
        raise _run_error(torch, exc, None, dtype, device, batch) from None
    done += 1

    torch_dtype = getattr(torch, dtype)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    names = [node.name for node in graph.nodes]
    clock = _Clock(torch, device)
    hooks = None
    try:
        begin("building the model, a first pass")
        with torch.device(device):
            model = to_module(graph)
        model = model.to(dtype=torch_dtype)
        if channels_last:
            model = model.to(memory_format=memory_format)
        generator = torch.Generator().manual_seed(0)
        x = torch.randn((batch, *graph.input_shape), generator=generator).to(device=device, dtype=torch_dtype)
        if channels_last:
            x = x.contiguous(memory_format=memory_format)

        def forward() -> None:
            model(x)

        hooks = _Hooks(torch, model, names, device)
        with torch.inference_mode():
            try:
                forward()  # the check pass: every layer runs in this dtype on this device
                clock.sync()
            except RuntimeError as exc:  # also torch.cuda.OutOfMemoryError
                raise _run_error(torch, exc, hooks.current, dtype, device, batch) from None
            hooks.remove()
            done += 1
            for i in range(warmup):
                begin(f"warming up ({i + 1}/{warmup})")
                forward()
                done += 1
            clock.sync()

            resident = None
            if device == "cuda":
                resident = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
            model_times = []
            for i in range(iters):
                begin(f"timing the model ({i + 1}/{iters})")
                model_times.append(clock.time(forward))
                done += 1
            peak_memory = torch.cuda.max_memory_allocated() if device == "cuda" else None

            hooks = _Hooks(torch, model, names, device)
            hooks.mode = "time"
            for i in range(iters):
                begin(f"timing each layer ({i + 1}/{iters})")
                forward()
                hooks.end_iteration()
                done += 1
            clock.sync()
            begin("done")
    except RuntimeError as exc:
        raise _run_error(torch, exc, None, dtype, device, batch) from None
    finally:
        if hooks is not None:
            hooks.remove()

    bytes_per_element = DTYPE_BYTES[dtype]

    def measured(peak: Peak) -> tuple[tuple[Measured, ...], Measured]:
        layers = tuple(Measured(row.name, row.op, int(row.macs), layer_bytes(row, bytes_per_element, batch),
                                Spread.of(hooks.samples[row.name]), peak) for row in report.rows)
        whole = Measured("total", "", sum(layer.macs for layer in layers), sum(layer.nbytes for layer in layers),
                         Spread.of(model_times), peak, parts=layers)
        return layers, whole

    layers, whole = measured(peak)
    if above_peak(layers, whole):  # faster than the peak: measure the peak again, longer
        begin("a timing ran above the peak: measuring the peak again")
        peak = measure_peak(torch, device, dtype, channels_last, again=True)
        layers, whole = measured(peak)
    return Profile(spec=spec, input_shape=tuple(graph.input_shape), device=device,
                   device_name=device_name(torch, device), threads=torch.get_num_threads(),
                   torch_version=torch.__version__, dtype=dtype, batch=batch, channels_last=channels_last,
                   warmup=warmup, iters=iters, peak=peak, layers=layers, model=whole,
                   peak_memory_bytes=peak_memory, resident_memory_bytes=resident,
                   warnings=tuple(above_peak(layers, whole)))


def _run_error(torch: Any, exc: RuntimeError, layer: Optional[str], dtype: str, device: str,
               batch: int) -> InputError:
    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, getattr(torch.cuda, "OutOfMemoryError", ())) or "out of memory" in message.lower():
        return InputError(f"out of memory on {device} at batch {batch}: {message}", layer=layer,
                         hint="try a smaller --batch or --input")
    hint = "try --dtype float32" if dtype != "float32" else None
    if device == "cpu" and dtype == "float16":
        hint = "PyTorch's CPU kernels cover float16 only in part; try --dtype bfloat16 or float32 on the CPU"
    return InputError(f"cannot run in {dtype} on {device} with PyTorch {torch.__version__}: {message}",
                     layer=layer, hint=hint)
