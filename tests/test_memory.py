"""The memory model without PyTorch: a small network worked out by hand, the optimizers' state, modes,
autocast, checkpointing, --fit, the command line and its errors. (tests/test_memory_torch.py proves
the rules against PyTorch itself.)"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.analysis.memory import CATEGORIES, MemoryOptions, memory_schedule
from cnncalc.cli import app
from cnncalc.core.errors import OptionError, SpecError
from cnncalc.spec.graph import build
from cnncalc.spec.spec import parse_spec

runner = CliRunner()

SMALL = """
input: [3, 8, 8]
layers:
  - {op: conv, name: conv, out: 4, kernel: 3, pad: 1}
  - {op: relu, name: relu, inplace: true}
  - {op: maxpool, name: pool, kernel: 2}
  - {op: flatten, name: flat}
  - {op: fc, name: fc, out: 10}
"""
# Per sample: input 3*8*8 = 192 floats = 768 B; conv output 4*8*8 = 256 floats = 1,024 B; pool output
# 4*4*4 = 64 floats = 256 B and its int64 indices 64 * 8 = 512 B; fc output 10 floats = 40 B.
# Parameters: conv 4*3*3*3 + 4 = 112 floats = 448 B, fc 64*10 + 10 = 650 floats = 2,600 B: 3,048 B.


def test_a_small_network_worked_out_by_hand():
    """Batch 2, SGD without momentum (no state). Forward: the conv's output (2,048 B), kept by the in-place
    ReLU (its output is the same storage) and by the pool (its input), the pool's output (512) and indices
    (1,024), the fc's output (80), the loss (4). Backward, after the seed (4): fc, pool, then the ReLU's
    backward is the peak: parameters 3,048 + the fc's gradients 2,600 + the conv's output 2,048 still kept
    + the ReLU's incoming gradient 2,048 + the gradient it makes 2,048 + loss and seed 8 = 11,800 bytes."""
    report = cnncalc.memory(SMALL, batch=2, optimizer="sgd")
    assert (report.peak_phase, report.peak_layer) == ("backward", "relu")
    assert report.at_peak == {"parameters": 3_048, "buffers": 0, "gradients": 2_600, "optimizer_state": 0,
                              "activations": 2_048 + 4 + 4, "temporary": 2_048 + 2_048}
    assert report.input_bytes == 2 * 768 == 1_536
    assert report.peak_bytes == 1_536 + 11_800 == report.input_bytes + sum(report.at_peak.values())
    saved = {layer.name: (layer.saved, layer.saved_bytes) for layer in report.layers}
    assert saved == {
        "conv": (("input",), 1_536),  # the network's input: not tracked, but kept all the same
        "relu": (("output",), 2_048),  # in place: its output is the conv's output
        "pool": (("input", "indices"), 2_048 + 1_024),
        "flat": ((), 0),
        "fc": (("input",), 512),  # the flattened pool output
    }
    # the running total (input included) after each op that allocates, in order
    assert [point.bytes - 1_536 for point in report.timeline] == [
        3_048,  # parameters, before the first op
        3_048 + 2_048,  # conv
        5_096 + 512 + 1_024,  # pool: output and indices
        6_632 + 80,  # fc
        6_712 + 4,  # the loss
        6_716 - 80 + 4,  # the output goes once the loss exists; the backward seed
        6_640 + 512, 7_152 + 2_560, 9_712 + 40,  # fc: input gradient, weight gradient, bias gradient
        9_752 - 512 + 2_048,  # pool: the fc let go of the pool output it kept; its input's gradient
        11_288 - 1_024 - 512 + 2_048,  # relu: the indices and the pool's incoming gradient went; its own gradient
        11_800 - 2_048 - 2_048 + 448,  # conv: the relu let go of the conv output and its incoming gradient;
                                       # weight and bias gradients (the input needs none)
        6_100,  # step: parameters and gradients (3,048 + 3,048) and the loss (4)
    ]


def test_inference_by_hand():
    """No gradients, nothing kept: the peak is the pool, with the conv output, the pool output and its indices
    alive together: 3,048 + 2,048 + 512 + 1,024 = 6,632 bytes, plus the input 1,536."""
    report = cnncalc.memory(SMALL, batch=2, mode="infer")
    assert (report.peak_layer, report.peak_bytes) == ("pool", 6_632 + 1_536)
    assert report.optimizer is None and report.gradients_bytes == 0


@pytest.mark.parametrize("optimizer, state", [
    ("sgd", 0),
    ("momentum", 3_048),  # a momentum buffer per parameter
    ("nesterov", 3_048),
    ("adam", 2 * 3_048 + 4 * 4),  # exp_avg, exp_avg_sq and a 4-byte step for each of the 4 tensors
    ("adamw", 2 * 3_048 + 4 * 4),
    ("rmsprop", 3_048 + 4 * 4),  # square_avg and step
    ("adagrad", 3_048 + 4 * 4),  # sum and step
])
def test_optimizer_state(optimizer, state):
    report = cnncalc.memory(SMALL, batch=2, optimizer=optimizer)
    assert report.optimizer_state_bytes == state
    assert report.parameters_bytes == report.gradients_bytes == 3_048


def test_resident_state_is_in_every_sample_and_touched_only_in_the_step():
    resident = memory_schedule(build(parse_spec(SMALL)), MemoryOptions(optimizer="adamw"))
    touched = memory_schedule(build(parse_spec(SMALL)), MemoryOptions(optimizer="adamw", protocol="touched"))
    state = CATEGORIES.index("optimizer_state")
    assert all(sample.bytes(2)[state] == 6_112 for sample in resident.samples if sample.phase != "step"
               or sample.label == "step: returns")
    assert all(sample.bytes(2)[state] == 0 for sample in touched.samples if sample.phase != "step")
    assert touched.samples[-1].bytes(2)[state] == 6_112  # the tracker registers it all when step() returns


def test_peak_is_linear_per_sample_and_fit_is_the_largest_batch_that_fits():
    schedule = memory_schedule(build(parse_spec(SMALL)))
    for limit in (20_000, 123_456, 10**7):
        batch = schedule.fit(limit)
        assert schedule.input_bytes(batch) + schedule.peak(batch)[1] <= limit
        assert schedule.input_bytes(batch + 1) + schedule.peak(batch + 1)[1] > limit
    assert schedule.fit(100) == 0  # the parameters alone are 3,048 bytes


def test_fit_in_the_api_and_on_the_command_line():
    report = cnncalc.memory("resnet18", fit="4GiB")
    assert report.fit is not None and report.fit.limit_bytes == 4 * 2**30
    assert report.batch == report.fit.batch and report.peak_bytes == report.fit.peak_bytes <= 4 * 2**30
    assert cnncalc.memory("resnet18", batch=report.batch + 1).peak_bytes > 4 * 2**30
    result = runner.invoke(app, ["memory", "resnet18", "--fit", "4GiB", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fit"] == {"limit_bytes": 4 * 2**30, "batch": report.batch, "peak_bytes": report.peak_bytes}
    csv_lines = runner.invoke(app, ["memory", "resnet18", "--fit", "4GiB", "-f", "csv"]).stdout.splitlines()
    assert csv_lines[-2:] == [f"batch,,,,,,,,{report.batch}", f"fit: limit,,,,,,,,{4 * 2**30}"]
    too_small = runner.invoke(app, ["memory", "resnet18", "--fit", "100MB"])
    assert too_small.exit_code == 1 and "does not fit in 95.4 MiB" in too_small.stdout
    assert "not even one sample fits in 100MB" in too_small.stderr


def test_the_fitted_peak_never_reads_as_the_limit():
    result = runner.invoke(app, ["memory", "resnet50", "--optimizer", "adamw", "--amp", "bf16", "--fit", "24GiB"])
    assert result.exit_code == 0, result.output
    # 25,739,324,464 bytes / 2**30 = 23.971 GiB: three digits would print '24 GiB' beside 'fits in 24 GiB'
    assert ("fits in 24 GiB: batch 567 at most (peak 25,739,324,464 bytes (23.97 GiB))"
            in " ".join(result.stdout.split()))


def test_autocast_and_dtype():
    fp32 = cnncalc.memory("resnet18", batch=8)
    bf16 = cnncalc.memory("resnet18", batch=8, amp="bf16")
    fp16 = cnncalc.memory("resnet18", batch=8, amp="fp16")
    half = cnncalc.memory("resnet18", batch=8, dtype="float16")
    assert bf16.peak_bytes == fp16.peak_bytes < fp32.peak_bytes  # bf16 and fp16 have the same sizes
    assert bf16.parameters_bytes == fp32.parameters_bytes == 4 * 11_689_512  # autocast keeps float32 weights
    assert half.parameters_bytes == 2 * 11_689_512
    assert half.input_bytes * 2 == fp32.input_bytes == bf16.input_bytes  # autocast's input is float32


def test_inference_leaves_out_train_only_layers():
    train = cnncalc.memory("googlenet", batch=2)
    infer = cnncalc.memory("googlenet", batch=2, mode="infer")
    # torchvision's GoogLeNet: 6,624,904 parameters at inference, 13,004,888 with aux1 and aux2
    assert infer.parameters_bytes == 4 * 6_624_904 and train.parameters_bytes == 4 * 13_004_888
    assert infer.training_only == ("aux1", "aux2") and train.training_only == ()


def test_checkpointing_a_stage_trades_memory_for_a_second_forward_pass():
    plain = cnncalc.memory("resnet50", batch=32)
    checkpointed = cnncalc.memory("resnet50", batch=32, checkpoint=["layer1", "layer2", "layer3"])
    assert checkpointed.peak_bytes < plain.peak_bytes
    assert checkpointed.checkpoint == ("layer1", "layer2", "layer3")
    assert any("recomputed" in point.op for point in checkpointed.timeline)
    by_name = {layer.name: layer for layer in checkpointed.layers}
    assert by_name["layer2.0.conv1"].saved == () and by_name["layer4.0.conv1"].saved == ("input",)
    with pytest.raises(OptionError, match="no block instance, layer or module named 'layer9'"):
        cnncalc.memory("resnet50", checkpoint=["layer9"])


def test_an_unknown_checkpoint_hints_what_exists():
    with pytest.raises(OptionError) as blocks:
        cnncalc.memory("resnet50", checkpoint=["foo"])
    assert blocks.value.hint.startswith("blocks: layer1.0, layer1.1,") and blocks.value.hint.endswith(", ...")
    with pytest.raises(OptionError) as layers:  # AlexNet has no blocks: its layers, not an empty list
        cnncalc.memory("alexnet", checkpoint=["foo"])
    assert layers.value.hint == ("the net has no blocks; a layer: conv1, pool1, conv2, pool2, conv3, conv4, conv5, "
                                 "pool5, flatten, fc6, fc7, fc8")


def test_checkpoint_in_the_spec():
    text = SMALL.replace("{op: conv, name: conv,", "{op: conv, name: conv, checkpoint: true,")
    report = cnncalc.memory(text, batch=2)
    assert report.checkpoint == ("conv",)
    assert any(point.op == "conv (recomputed)" for point in report.timeline)


@pytest.mark.parametrize("text, field, message", [
    ("input: [4, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 1}\n"
     "  - {op: relu, name: r, inplace: true}\n  - {op: add, in: [r, a]}\n",
     "inplace", "works in place on its input, which 'add1' reads later"),
    ("input: [4, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 1}\n  - {op: sigmoid, name: s}\n"
     "  - {op: relu, name: r, inplace: true}\n",
     "inplace", "works in place on a tensor that 's' keeps for its backward pass"),
    ("input: [4, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 1}\n  - {op: relu, name: r}\n"
     "  - {op: conv, name: b, out: 4, kernel: 1, act: relu, act_inplace: true, in: a}\n"
     "  - {op: add, in: [r, b], inplace: true}\n",
     "inplace", "works in place on a tensor that 'r' keeps for its backward pass"),
])
def test_in_place_layers_that_would_break_pytorch_are_located_errors(text, field, message):
    with pytest.raises(SpecError, match=message) as caught:
        cnncalc.memory(text)
    assert caught.value.field == field and caught.value.loc is not None


def test_an_in_place_layer_that_is_fine_at_inference():
    """Only training keeps the sigmoid's output: an in-place ReLU after it is fine at inference."""
    text = ("input: [4, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 1}\n  - {op: sigmoid, name: s}\n"
            "  - {op: relu, name: r, inplace: true}\n")
    assert cnncalc.memory(text, mode="infer").peak_bytes > 0


@pytest.mark.parametrize("args, message", [
    (["--fit", "24G"], "ambiguous"),
    (["--fit", "lots"], "is not a size"),
    (["--fit", "1GiB", "--batch", "4"], "give --batch or --fit, not both"),
    (["--checkpoint", "layer9"], "no block instance, layer or module named 'layer9'"),
    (["--amp", "bf16", "--dtype", "float16"], "leave --dtype at float32"),
    (["--amp", "int4"], "unknown amp 'int4'"),
    (["--optimizer", "lion"], "unknown optimizer 'lion'"),
    (["--dtype", "int8"], "unknown dtype 'int8'"),
    (["--mode", "eval"], "unknown mode 'eval'"),
    (["--batch", "0"], "--batch"),
])
def test_bad_options_exit_2_with_a_message(args, message):
    result = runner.invoke(app, ["memory", "resnet18", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_symbolic_spec_is_refused():
    result = runner.invoke(app, ["memory", "specs/lecture/basic_block.yaml", "--set", "C=64", "--set", "H=56",
                                 "--set", "W=56"])
    assert result.exit_code == 0, result.output  # with values it works
    result = runner.invoke(app, ["memory", "specs/lecture/basic_block.yaml"])
    assert result.exit_code == 2 and "symbol" in result.output


def test_the_table_json_and_csv_agree():
    table = runner.invoke(app, ["memory", "resnet50", "--batch", "64", "--optimizer", "adamw", "--amp", "bf16"])
    assert table.exit_code == 0, table.output
    data = json.loads(runner.invoke(app, ["memory", "resnet50", "--batch", "64", "--optimizer", "adamw", "--amp",
                                          "bf16", "-f", "json"]).stdout)
    assert data["peak_bytes"] == data["input_bytes"] + sum(data["at_peak"].values())
    assert set(data["at_peak"]) == set(CATEGORIES)
    assert {"mode", "batch", "optimizer", "amp", "input_bytes", "peak_bytes", "peak_at", "at_peak", "layers"} <= set(data)
    assert (data["mode"], data["batch"], data["optimizer"], data["amp"]) == ("train", 64, "adamw", "bf16")
    assert f"peak:              {data['peak_bytes']:,} bytes" in table.stdout
    assert "layer1.0.conv1" in table.stdout and "Keeps for backward" in table.stdout
    csv_lines = runner.invoke(app, ["memory", "resnet50", "--batch", "64", "--optimizer", "adamw", "--amp", "bf16",
                                    "-f", "csv"]).stdout.splitlines()
    assert csv_lines[0] == "layer,op,saved,saved_bytes,output_bytes,live_after_forward,forward_peak,backward_peak," \
                           "peak_bytes"
    assert f"peak,{data['peak_at']['op']},{data['peak_at']['phase']}: {data['peak_at']['layer']},,,,,,"\
           f"{data['peak_bytes']}" in csv_lines
    assert len(data["layers"]) == len(csv_lines) - 1 - 1 - 7 - 1  # header, peak, 6 categories, the input, batch
    assert csv_lines[-1] == "batch,,,,,,,,64"


def test_the_memory_command_imports_no_torch():
    code = ("import sys, cnncalc.cli; cnncalc.cli.app(['memory', 'resnet18', '--fit', '8GiB', '-f', 'json'], "
            "standalone_mode=False); print([m for m in ('torch', 'numpy', 'sympy') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_api_is_exposed_lazily():
    assert cnncalc.memory is cnncalc.api.memory  # type: ignore[attr-defined]
    assert "memory" in cnncalc.__all__ and "MemoryReport" in cnncalc.__all__


def test_graph_memory_is_the_api_on_a_loaded_graph():
    """The entry point budgets use on a graph they already hold: the same report as cnncalc.memory."""
    from cnncalc.analysis.memory_plan import MemoryOptions
    from cnncalc.analysis.memory_report import graph_memory

    graph, _ = cnncalc.load_graph("googlenet")  # type: ignore[attr-defined]
    infer = graph_memory(graph, MemoryOptions(mode="infer"), batch=4)
    assert infer == cnncalc.memory("googlenet", mode="infer", batch=4)
    assert infer.training_only == ("aux1", "aux2")
    train = graph_memory(graph, MemoryOptions(optimizer="adamw"), fit=2**30)
    assert train == cnncalc.memory("googlenet", optimizer="adamw", fit="1GiB")
    assert train.fit is not None and train.peak_bytes <= 2**30


HEADS = """
input: [{c}, 4, 4]
layers:
  - {{op: conv, name: qkv, out: {c}, kernel: 1}}
  - {{op: reshape, name: heads, shape: [{h}, {r}, -1]}}
  - {{op: split, name: v, sizes: [{half}, {half}], index: 1, dim: 2}}
  - {{op: reshape, name: v_map, shape: [{v}, 4, 4]}}
  - {{op: conv, name: pe, out: 4, kernel: 1}}
"""


@pytest.mark.parametrize("heads, copies", [(1, False), (2, True)])
def test_reshaping_a_part_of_an_axis_copies_when_it_merges_across_the_gap(heads, copies):
    """Attention's v.reshape(B, C, H, W): v is the second half of each head's rows (a view whose storage
    jumps between heads). With one head the leading axis has size 1 and the view merges; with two it
    cannot, and PyTorch copies: the conv then keeps the copy (2 heads x 4 rows x 16 positions = 128
    floats, 512 B per sample) instead of the qkv output's storage (16 channels x 16 = 256 floats, 1,024 B)."""
    rows = 16 // heads
    text = HEADS.format(c=16, h=heads, r=rows, half=rows // 2, v=8)
    report = cnncalc.memory(text, batch=1, optimizer="sgd")
    saved = {layer.name: layer.saved_bytes for layer in report.layers}
    assert saved["pe"] == (512 if copies else 1_024)
