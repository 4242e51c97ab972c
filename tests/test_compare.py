"""`cnncalc compare`: specs and input sizes side by side, ratios to the first row, and two specs'
blocks side by side (`--by block`)."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app

from .test_cli_errors import assert_bad_input

runner = CliRunner()
# torchvision's parameter counts: sum(p.numel() for p in model.parameters())
PARAMS = {"resnet50": 25_557_032, "efficientnet_b0": 5_288_548, "convnext_tiny": 28_589_128,
          "resnext50_32x4d": 25_028_904}
DONE_WHEN = ["resnet50", "efficientnet_b0", "convnext_tiny", "--input", "3,224,224", "--input", "3,320,320"]


def compare(*args: str):
    return runner.invoke(app, ["compare", *args])


def test_three_specs_at_two_sizes_print_six_rows():
    result = compare(*DONE_WHEN)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] and line.split()[0] in PARAMS]
    assert [(row[0], row[1]) for row in rows] == [(spec, size) for spec in ("resnet50", "efficientnet_b0",
                                                                          "convnext_tiny")
                                                  for size in ("3×224×224", "3×320×320")]
    assert [row[2] for row in rows] == [f"{PARAMS[row[0]]:,}" for row in rows]
    assert rows[0][3::2] == ["1.00"] * 5  # the first row is the base of every ratio: params ... training peak


def test_every_figure_equals_the_engine_and_every_ratio_is_exact():
    result = cnncalc.compare(["resnet50", "efficientnet_b0"], inputs=["3,224,224", (3, 320, 320)])
    assert [(row.spec, row.input_shape) for row in result.rows] == [
        ("resnet50", (3, 224, 224)), ("resnet50", (3, 320, 320)),
        ("efficientnet_b0", (3, 224, 224)), ("efficientnet_b0", (3, 320, 320))]
    base = result.rows[0].figures
    for row in result.rows:
        totals = cnncalc.analyze(row.spec, input=row.input_shape).totals
        peaks = [cnncalc.memory(row.spec, input=row.input_shape, mode=mode).peak_bytes for mode in ("infer", "train")]
        assert row.figures == {"params": totals.params, "macs": totals.macs, "activations": totals.memory_bytes,
                               "peak": peaks[0], "train_peak": peaks[1]}
        assert row.ratios == {name: Fraction(value, base[name]) for name, value in row.figures.items()}
    assert result.rows[2].figures["params"] == PARAMS["efficientnet_b0"]


def test_markdown_csv_and_json():
    markdown = compare("resnet50", "efficientnet_b0", "-f", "markdown").stdout
    assert markdown.splitlines()[0] == ("| Spec | Input | params | × | MACs | × | activations (B) | × | "
                                        "inference peak (B) | × | training peak (B) | × |")
    assert "| efficientnet_b0 | 3×224×224 | 5,288,548 | 0.21 |" in markdown  # 5,288,548 / 25,557,032 = 0.2069
    rows = list(csv.reader(io.StringIO(compare("resnet50", "efficientnet_b0", "-f", "csv").stdout)))
    assert rows[0] == ["spec", "name", "c", "h", "w", "params", "macs", "activations", "peak", "train_peak",
                       "params_ratio", "macs_ratio", "activations_ratio", "peak_ratio", "train_peak_ratio"]
    assert rows[2][:6] == ["efficientnet_b0", "efficientnet_b0", "3", "224", "224", "5288548"]
    assert rows[2][10] == str(round(5_288_548 / 25_557_032, 6))
    data = json.loads(compare("resnet50", "efficientnet_b0", "-f", "json").stdout)
    assert data["figures"] == ["params", "macs", "activations", "peak", "train_peak"]
    assert data["optimizer"] == "momentum" and data["amp"] is None
    assert data["rows"][1]["params"] == 5_288_548 and data["rows"][1]["ratios"]["params"] == 0.206931


def test_the_training_peak_follows_the_optimizer_and_amp():
    result = cnncalc.compare(["resnet18", "mobilenet_v2"], batch=4, optimizer="adamw", amp="bf16")
    for row in result.rows:
        assert row.figures["train_peak"] == cnncalc.memory(row.spec, batch=4, optimizer="adamw", amp="bf16").peak_bytes
        assert row.figures["peak"] == cnncalc.memory(row.spec, batch=4, mode="infer").peak_bytes
    table = compare("resnet18", "--optimizer", "adamw", "--amp", "bf16").stdout
    assert "float32, batch 1, textbook convention, training with adamw, bf16 autocast;" in table


def test_an_integer_dtype_has_no_memory_peaks():
    result = compare("alexnet", "--dtype", "int8", "-f", "markdown")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "| Spec | Input | params | × | MACs | × | activations (B) | × |"
    assert "no peak, train_peak: the memory model needs a floating dtype" in result.stdout
    assert "| 790,952 |" in result.stdout  # AlexNet's 790,952 output elements, one byte each


def test_one_spec_compares_its_sizes():
    result = cnncalc.compare("mobilenet_v2", inputs=["3,224,224", "3,112,112"])
    # the spatial sizes halve: MACs of convolutions fall about 4x (not exactly: 7x7 -> 4x4 at the end)
    assert result.rows[1].ratios["params"] == 1 and result.rows[1].ratios["macs"] < Fraction(1, 3)


def test_by_block_puts_resnet50_and_resnext50_side_by_side():
    result = cnncalc.compare_blocks("resnet50", "resnext50_32x4d")
    assert [pair.block for pair in result.pairs] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                                                     "layer4", "avgpool", "flatten1", "fc"]
    layer1 = next(pair for pair in result.pairs if pair.block == "layer1")
    assert layer1.ops == ("bottleneck", "bottleneck")
    first, second = cnncalc.analyze("resnet50", depth=1), cnncalc.analyze("resnext50_32x4d", depth=1)
    row_a, row_b = (next(row for row in report.rows if row.name == "layer1") for report in (first, second))
    assert layer1.figures == ({"params": row_a.params, "macs": row_a.macs, "activations": row_a.memory_bytes},
                              {"params": row_b.params, "macs": row_b.macs, "activations": row_b.memory_bytes})
    assert layer1.ratio("params") == Fraction(row_b.params, row_a.params)
    assert result.totals[0]["params"] == PARAMS["resnet50"] and result.totals[1]["params"] == PARAMS["resnext50_32x4d"]


def test_by_block_table_and_formats():
    result = compare("resnet50", "resnext50_32x4d", "--by", "block")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("A = resnet50, B = resnext50_32x4d: input 3×224×224")
    total = next(line for line in result.stdout.splitlines() if line.strip().startswith("total")).split()
    assert total[1:4] == ["25,557,032", "25,028,904", "0.98"]  # 25,028,904 / 25,557,032 = 0.979
    data = json.loads(compare("resnet50", "resnext50_32x4d", "--by", "block", "-f", "json").stdout)
    assert data["specs"] == ["resnet50", "resnext50_32x4d"] and len(data["blocks"]) == 11
    assert compare("resnet50", "resnext50_32x4d", "--by", "block", "-f", "markdown").stdout.startswith("| Block |")
    rows = list(csv.reader(io.StringIO(compare("resnet50", "resnext50_32x4d", "--by", "block", "-f", "csv").stdout)))
    assert rows[0][:6] == ["block", "op_a", "op_b", "params_a", "params_b", "params_ratio"]


def test_by_block_shows_blocks_only_one_spec_has():
    result = cnncalc.compare_blocks("resnet18", "resnet50")
    assert [pair.block for pair in result.pairs if None in pair.ops] == []  # the same stages
    mixed = cnncalc.compare_blocks("mobilenet_v2", "mobilenet_v3_large")
    only_second = [pair for pair in mixed.pairs if pair.figures[0] is None]
    assert only_second and all(pair.ratio("params") is None for pair in only_second)


@pytest.mark.parametrize("args, message", [
    (["resnet50", "resnext50_32x4d", "alexnet", "--by", "block"], "--by block compares two specs, got 3"),
    (["resnet50", "resnext50_32x4d", "--by", "block", "--input", "3,224,224", "--input", "3,320,320"],
     "--by block takes at most one --input"),
    (["lenet5", "resnet50", "--by", "block"], "have no top-level block name in common"),
    (["resnet50", "resnet_50"], "no such file, and no bundled spec of that name"),
    (["resnet50", "--input", "3,0,224"], "--input must be C,H,W"),
    (["lenet5", "--input", "3,8,8"], "kernel 5 is larger than the padded input"),
    (["lenet5", "--optimizer", "adma"], "unknown optimizer 'adma'"),
    (["lenet5", "--amp", "bf16", "--dtype", "float16"], "--amp runs float32 parameters under autocast"),
])
def test_bad_input_exits_2(args, message):
    assert_bad_input(compare(*args), message)


# ---- --plot ---------------------------------------------------------------------------------------

def test_the_plotted_rows_and_their_front(tmp_path, monkeypatch):
    import cnncalc.render.plot as plot
    from cnncalc.render.budget import compare_plot

    drawn = {}
    monkeypatch.setattr(plot, "scatter", lambda points, x, y, path, **kwargs: drawn.update(points=points, **kwargs))
    result = cnncalc.compare(["resnet50", "efficientnet_b0", "convnext_tiny"], inputs=["3,224,224"])
    assert compare_plot(result, "params", "macs", tmp_path / "c.png") == \
        "3 points, 1 on the Pareto front of params and macs"
    assert [(p["label"], p["params"]) for p in drawn["points"]] == [
        ("resnet50", PARAMS["resnet50"]), ("efficientnet_b0", PARAMS["efficientnet_b0"]),
        ("convnext_tiny", PARAMS["convnext_tiny"])]
    # efficientnet_b0 has the fewest parameters and the fewest MACs (388,184,000 against 4,091,090,944
    # and 4,455,568,896): it alone is on the front
    assert drawn["front"] == [1] and drawn["points"][1]["macs"] == 388_184_000


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib (the plot extra) is not installed")
def test_compare_plot_writes_the_rows_named_with_the_front(tmp_path):
    path = tmp_path / "c.svg"
    result = compare("resnet50", "mobilenet_v2", "--input", "3,224,224", "--input", "3,160,160", "--plot", str(path),
                     "-f", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["rows"]) == 4  # the note goes to stderr, never into the JSON
    assert f"wrote {path} (4 points, 1 on the Pareto front of params and macs)" in result.stderr
    svg = path.read_text(encoding="utf-8")
    assert "mobilenet_v2, 3×160×160" in svg and "resnet50, 3×224×224" in svg  # every row in the legend


@pytest.mark.parametrize("args, message", [
    (["resnet50", "resnext50_32x4d", "--by", "block", "--plot", "c.png"], "--by block has none to draw"),
    (["resnet50", "--plot-axes", "params,macs"], "--plot-axes says what --plot draws: give --plot FILE too"),
])
def test_bad_compare_plot_options_exit_2(tmp_path, monkeypatch, args, message):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert_bad_input(compare(*args), message)
    assert list(tmp_path.iterdir()) == []
