"""`cnncalc profile`: the static model (bytes, intensity, roofline) as pure functions, the JSON
fields and their consistency with `cnncalc table`, the CPU run end to end, and the exit codes.
Small inputs and few iterations, so the whole file runs in seconds on the CPU."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.roofline import (
    COMPUTE,
    MEMORY,
    Spread,
    arithmetic_intensity,
    layer_bytes,
    ridge_point,
    roofline_bound,
    roofline_time,
)
from cnncalc.cli import app

from .conftest import ROOT, one_layer

runner = CliRunner()
TINY = ["googlenet_stem", "--input", "3,64,64", "--device", "cpu", "--iters", "2", "--warmup", "1"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


# --- the static model, without torch ---------------------------------------------------------------


def test_bytes_of_one_layer_by_arithmetic(analyze_text):
    report = analyze_text(one_layer("{op: conv, name: c, out: 8, kernel: 3, pad: 1}", "[3, 16, 16]"), batch=4)
    row = report.rows[0]
    inputs, outputs, params = 3 * 16 * 16, 8 * 16 * 16, 8 * 3 * 3 * 3 + 8
    assert layer_bytes(row, 4, 4) == (4 * (inputs + outputs) + params) * 4 == 45_952
    assert layer_bytes(row, 2, 1) == (inputs + outputs + params) * 2


def test_bytes_count_every_input_and_the_buffers(analyze_text):
    text = ("input: [4, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 1}\n"
            "  - {op: batchnorm, name: bn}\n  - {op: add, name: sum, in: [a, bn]}\n")
    rows = {row.name: row for row in analyze_text(text).rows}
    assert layer_bytes(rows["sum"], 4, 1) == (3 * 4 * 8 * 8) * 4  # two inputs and one output
    assert layer_bytes(rows["bn"], 4, 1) == (2 * 4 * 8 * 8 + 8 + 8) * 4  # weight, bias, running mean, var


def test_roofline_with_a_synthetic_peak():
    peak_flops, peak_bandwidth = 100e12, 2e12  # ridge point 50 FLOP/byte
    assert ridge_point(peak_flops, peak_bandwidth) == 50
    assert roofline_bound(50.5, peak_flops, peak_bandwidth) == COMPUTE
    assert roofline_bound(50.0, peak_flops, peak_bandwidth) == MEMORY  # on the ridge: not above it
    assert roofline_bound(0.0, peak_flops, peak_bandwidth) == MEMORY
    assert arithmetic_intensity(1000, 10) == 100
    assert roofline_time(10**12, 10**9, peak_flops, peak_bandwidth) == pytest.approx(0.01)  # compute: 1e12/1e14
    assert roofline_time(10**9, 10**12, peak_flops, peak_bandwidth) == pytest.approx(0.5)  # memory: 1e12/2e12


@pytest.mark.slow  # runs the network in PyTorch
def test_spread_is_median_quartiles_min_max():
    spread = Spread.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (spread.median, spread.q1, spread.q3, spread.min, spread.max, spread.n) == (3.0, 2.0, 4.0, 1.0, 5.0, 5)
    assert spread.iqr == 2.0
    assert Spread.of([7.0]).iqr == 0.0


# --- a real run on the CPU -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_json():
    pytest.importorskip("torch")
    result = invoke("profile", *TINY, "--batch", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.torch
def test_json_fields(tiny_json):
    data = tiny_json
    assert data["format_version"] == 1 and data["spec"] == "googlenet_stem"
    assert (data["dtype"], data["bytes_per_element"], data["batch"]) == ("float32", 4, 2)
    assert (data["warmup"], data["iters"], data["channels_last"]) == (1, 2, False)
    assert data["device"]["type"] == "cpu" and data["device"]["threads"] >= 1
    assert data["peak"]["flops_per_s"] > 0 and data["peak"]["bytes_per_s"] > 0
    layer_keys = {"name", "op", "macs", "flops", "bytes", "arithmetic_intensity", "bound", "roofline_time_s",
                  "time", "achieved_flops_per_s", "achieved_tflops", "achieved_bytes_per_s", "peak_share",
                  "roofline_share"}
    assert all(layer_keys <= set(layer) for layer in data["layers"])
    assert {"throughput_images_per_s", "peak_memory_bytes", "layer_time_median_sum_s"} <= set(data["total"])
    assert data["total"]["peak_memory_bytes"] is None  # CUDA only


@pytest.mark.torch
def test_static_figures_match_the_table(tiny_json):
    table = json.loads(invoke("table", "googlenet_stem", "--input", "3,64,64", "--batch", "2",
                              "--format", "json").stdout)
    assert [layer["name"] for layer in tiny_json["layers"]] == [layer["name"] for layer in table["layers"]]
    assert [layer["macs"] for layer in tiny_json["layers"]] == [layer["macs"] for layer in table["layers"]]
    assert tiny_json["total"]["macs"] == table["totals"]["macs"]
    conv1 = tiny_json["layers"][0]
    assert conv1["bytes"] == (2 * (3 * 64 * 64 + 64 * 32 * 32) + 9472) * 4


@pytest.mark.torch
def test_derived_figures_are_consistent(tiny_json):
    peak = tiny_json["peak"]
    assert peak["ridge_flops_per_byte"] == pytest.approx(peak["flops_per_s"] / peak["bytes_per_s"])
    for layer in [*tiny_json["layers"], tiny_json["total"]]:
        assert layer["flops"] == 2 * layer["macs"]
        assert layer["arithmetic_intensity"] == pytest.approx(2 * layer["macs"] / layer["bytes"])
        assert layer["bound"] == roofline_bound(layer["arithmetic_intensity"], peak["flops_per_s"],
                                                peak["bytes_per_s"])
        time = layer["time"]
        assert time["samples"] == 2
        assert 0 < time["min_s"] <= time["q1_s"] <= time["median_s"] <= time["q3_s"] <= time["max_s"]
        assert layer["achieved_flops_per_s"] == pytest.approx(layer["flops"] / time["median_s"])
        assert layer["peak_share"] == pytest.approx(layer["achieved_flops_per_s"] / peak["flops_per_s"])
        assert layer["roofline_share"] == pytest.approx(layer["roofline_time_s"] / time["median_s"])
    total = tiny_json["total"]
    assert total["bytes"] == sum(layer["bytes"] for layer in tiny_json["layers"])
    assert total["roofline_time_s"] == pytest.approx(sum(layer["roofline_time_s"] for layer in tiny_json["layers"]))
    assert total["throughput_images_per_s"] == pytest.approx(2 / total["time"]["median_s"])
    assert total["layer_time_median_sum_s"] == pytest.approx(
        sum(layer["time"]["median_s"] for layer in tiny_json["layers"]))


@pytest.mark.slow  # runs the network in PyTorch
@pytest.mark.torch
def test_resnet18_table_and_output_file(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "profile.txt"
    result = invoke("profile", "resnet18", "--input", "3,32,32", "--device", "cpu", "--iters", "2", "--warmup", "0",
                    "--channels-last", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    text = out.read_text(encoding="utf-8")
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert lines[0] == "resnet18"
    assert any(line.split()[:2] == ["layer4.1.conv2", "conv"] for line in lines)
    assert any(line.split()[:1] == ["total"] for line in lines)
    assert "images/s" in text and "channels-last (NHWC)" in text and "ridge point" in text


@pytest.mark.slow  # runs the network in PyTorch
@pytest.mark.torch
def test_library_call_reports_progress():
    torch = pytest.importorskip("torch")
    from cnncalc.analysis.engine import analyze
    from cnncalc.pytorch.profile import profile, steps
    from cnncalc.spec.bundled import resolve
    from cnncalc.spec.graph import build
    from cnncalc.spec.spec import load_spec

    graph = build(load_spec(*resolve("lenet5")))
    seen = []
    result = profile(graph, analyze(graph, dtype="bfloat16"), "lenet5", device="auto", dtype="bfloat16", warmup=1,
                     iters=2, progress=lambda what, done, total: seen.append((done, total)))
    assert seen[0] == (0, steps(1, 2)) and seen[-1] == (steps(1, 2), steps(1, 2))
    assert result.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert [layer.name for layer in result.layers] == [node.name for node in graph.nodes]
    assert all(math.isfinite(layer.intensity) for layer in result.layers)


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.slow  # runs the network in PyTorch
@pytest.mark.torch
def test_cuda_without_cuda_is_exit_2():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = invoke("profile", "lenet5", "--device", "cuda")
    assert result.exit_code == 2
    assert "CUDA is not available" in result.stderr and "hint: use --device cpu" in result.stderr


@pytest.mark.parametrize("dtype", ["float64", "int8", "half"])
def test_bad_dtype_is_exit_2(dtype):
    result = invoke("profile", "lenet5", "--dtype", dtype)
    assert result.exit_code == 2
    assert "--dtype" in result.stderr


@pytest.mark.slow  # runs the network in PyTorch
@pytest.mark.torch
def test_dtype_a_kernel_lacks_is_a_clear_error(monkeypatch):
    torch = pytest.importorskip("torch")

    def no_kernel(self, input):
        raise RuntimeError('"avg_pool2d" not implemented for \'BFloat16\'')

    monkeypatch.setattr(torch.nn.AvgPool2d, "forward", no_kernel)
    result = invoke("profile", "lenet5", "--device", "cpu", "--dtype", "bfloat16", "--iters", "1", "--warmup", "0")
    assert result.exit_code == 2
    assert "layer 's2'" in result.stderr and "cannot run in bfloat16 on cpu" in result.stderr
    assert "not implemented for 'BFloat16'" in result.stderr and "hint: try --dtype float32" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.slow  # runs the network in PyTorch
@pytest.mark.torch
def test_channels_last_needs_an_image_input(tmp_path):
    pytest.importorskip("torch")
    spec = tmp_path / "mlp.yaml"
    spec.write_text("input: [16]\nlayers:\n  - {op: linear, out: 4}\n", encoding="utf-8")
    result = invoke("profile", str(spec), "--device", "cpu", "--channels-last")
    assert result.exit_code == 2 and "--channels-last needs an image input" in result.stderr


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_without_torch_exit_2_with_the_install_hint():
    out = _fresh_python("import sys; sys.modules['torch'] = None\nfrom cnncalc.cli import app\n"
                        "app(['profile', 'lenet5', '--device', 'cpu'])")
    assert out.returncode == 2
    assert "needs PyTorch" in out.stderr and "pip install 'cnncalc[torch]'" in out.stderr


# test_static_path_and_help_import_no_torch: in tests/test_static_imports.py (the static commands, one process)


@pytest.mark.slow  # runs the network in PyTorch
@pytest.mark.torch
def test_cuda_timing_logic_with_fake_events(monkeypatch):
    """The CUDA branch of the clock and the hooks (event pairs, one synchronisation per iteration),
    exercised on the CPU with events that read perf_counter."""
    torch = pytest.importorskip("torch")
    import time as clock_time

    from cnncalc.pytorch.profile import _Clock, _Hooks

    class FakeEvent:
        def __init__(self, enable_timing=False):
            assert enable_timing
            self.at = None

        def record(self):
            self.at = clock_time.perf_counter()

        def synchronize(self):
            pass

        def elapsed_time(self, end):  # milliseconds, as CUDA events give them
            return (end.at - self.at) * 1e3

    syncs = []
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: syncs.append(1))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    hooks = _Hooks(torch, model, ["0", "1"], "cuda")
    hooks.mode = "time"
    with torch.inference_mode():
        for _ in range(3):
            model(torch.zeros(1, 3, 8, 8))
            hooks.end_iteration()
    hooks.remove()
    assert len(syncs) == 3
    assert all(len(samples) == 3 and all(0 <= s < 1 for s in samples) for samples in hooks.samples.values())
    assert 0 <= _Clock(torch, "cuda").time(lambda: model(torch.zeros(1, 3, 8, 8))) < 1


# --- the peak: measured robustly, and a warning when a timing beats it -----------------------------


class _ScriptedClock:
    """A clock whose best time for each size is given: what a busy machine does to small kernels."""

    def __init__(self, seconds: dict[int, float]) -> None:
        self.seconds = seconds
        self.current = 0

    def best(self, run, budget: float = 0.0) -> float:
        run()
        return self.seconds[self.current]


def _setup(clock: _ScriptedClock):
    def setup(n: int):
        clock.current = n
        return (lambda: None), 2 * n**3, f"{n}×{n} matmul", (n,)
    return setup


def test_a_slow_first_size_does_not_stop_the_peak_search():
    from cnncalc.pytorch.profile import _fastest

    # 128: a scheduler pause made it 40 ms (0.1 GFLOP/s); 256 runs at 98.7, 512 at 99.4, 1024 at 93.4 GFLOP/s
    clock = _ScriptedClock({128: 0.040, 256: 0.00034, 512: 0.0027, 1024: 0.0230})
    best = _fastest(clock, [128, 256, 512, 1024], _setup(clock))
    assert best.size == (512,)  # 2 x 512^3 / 2.7 ms = 99.4 GFLOP/s, the best rate
    assert round(best.flops_per_s / 1e9, 1) == 99.4


def test_the_peak_search_stops_once_the_rate_stops_growing():
    from cnncalc.pytorch.profile import _fastest

    # a slow kernel (float16 on a CPU): 0.5 GFLOP/s at every size; 128 takes 8.4 ms, 256 takes 67 ms
    rate = 0.5e9
    clock = _ScriptedClock({n: 2 * n**3 / rate for n in (128, 256, 512, 1024)})
    seen = []
    setup = _setup(clock)
    _fastest(clock, [128, 256, 512, 1024], lambda n: (seen.append(n), setup(n))[1])
    assert seen == [128, 256]  # 256 took over TARGET_S and was no faster: 512 and 1024 are not run


def _peak(flops_per_s: float):
    from cnncalc.analysis.roofline import Kernel, Peak

    kernel = Kernel("1×1 matmul", (1,), 2, 2 / flops_per_s)
    return Peak(dtype="float32", matmul=kernel, conv=kernel, copy_bytes=10**6, copy_s=10**-4)


@pytest.mark.slow  # runs the network in PyTorch
@pytest.mark.torch
@pytest.mark.parametrize("second", [1e15, 1e3])
def test_a_timing_above_the_peak_measures_it_again_then_warns(monkeypatch, second):
    pytest.importorskip("torch")
    import cnncalc.pytorch.profile as module

    calls = []

    def fake_peak(torch, device, dtype, channels_last=False, again=False):
        calls.append(again)
        return _peak(second if again else 1e3)  # 1 kFLOP/s: every layer beats it

    monkeypatch.setattr(module, "measure_peak", fake_peak)
    result = invoke("profile", *TINY, "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert calls == [False, True]
    if second > 1e12:  # the second measurement is sound: no warning, and its peak is the one reported
        assert data["warnings"] == [] and data["peak"]["flops_per_s"] == pytest.approx(1e15)
    else:
        assert data["warnings"][0].startswith(f"{len(data['layers']) + 1} of {len(data['layers']) + 1} timings "
                                              "ran above the measured peak (")
        table = invoke("profile", *TINY)
        assert "warning: " in table.stdout and "read the shares of peak as upper bounds" in table.stdout


def test_peaks_combine_to_the_better_of_two():
    from cnncalc.analysis.roofline import Kernel

    first, second = _peak(1e9), _peak(3e9)
    second = second.__class__(dtype="float32", matmul=second.matmul, conv=Kernel("c", (1,), 2, 1.0),
                              copy_bytes=10**6, copy_s=10**-3)
    better = first.better(second)
    assert better.matmul is second.matmul and better.conv is first.conv and better.copy_s == 10**-4
