"""`cnncalc explain`: the slides' worked examples, golden outputs, and formulas that equal the table."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.conventions import TEXTBOOK
from cnncalc.analysis.engine import analyze
from cnncalc.analysis.explain import explain
from cnncalc.cli import app
from cnncalc.spec.bundled import bundled_specs, resolve
from cnncalc.spec.graph import build
from cnncalc.spec.spec import load_spec

from .conftest import needs_sympy

runner = CliRunner()


def lines(*args: str) -> list[str]:
    result = runner.invoke(app, ["explain", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_alexnet_conv1_as_on_the_slide():
    text = lines("alexnet", "--layer", "conv1")
    assert text[0] == "conv1 (conv): 3×227×227 → 96×55×55"
    assert "  H' = W' = (W - K + 2P)/S + 1 = (227 - 11 + 2·0)/4 + 1 = 55" in text
    assert ("  KB = C_out × H' × W' × 4/1024 = 96 × 55 × 55 × 4/1024 = 1,134.375 KB"
            "  (float32: 4 bytes per element)") in text
    assert "  params = C_out × C_in × K × K + C_out = 96 × 3 × 11 × 11 + 96 = 34,944" in text
    assert "  MACs = (C_out × H' × W') × (C_in × K × K) = (96 × 55 × 55) × (3 × 11 × 11) = 105,415,200" in text


def test_pooling_shows_the_floor_and_ceil():
    assert "  H' = W' = (W - K + 2P)/S + 1 = (55 - 3 + 2·0)/2 + 1 = 27" in lines("alexnet", "-l", "pool1")
    # GoogLeNet stem: (112 - 3)/2 + 1 = 55.5, rounded up in ceil mode
    assert "  H' = W' = (W - K + 2P)/S + 1 = (112 - 3 + 2·0)/2 + 1 = 55.5 → ceil → 56" in \
        lines("googlenet_stem", "-l", "pool1")
    # AlexNet with the slide's printed pad 2 on a 56 input would floor 27.5: the slide's own example
    assert "  H' = W' = (W - K + 2P)/S + 1 = (56 - 3 + 2·0)/2 + 1 = 27.5 → floor → 27" in \
        lines("alexnet", "-l", "pool1", "--input", "3,231,231")


def test_flatten_and_fully_connected_as_on_the_slide():
    assert "  C_out = C_in × H × W = 256 × 6 × 6 = 9,216" in lines("alexnet", "-l", "flatten")
    fc6 = lines("alexnet", "-l", "fc6")
    assert "  params = C_in × C_out + C_out = 9216 × 4096 + 4096 = 37,752,832" in fc6
    assert "  MACs = C_in × C_out = 9216 × 4096 = 37,748,736" in fc6


def test_groups_and_dilation_appear_in_the_formulas(tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text("input: [8, 16, 16]\nlayers:\n  - {op: conv, name: c, out: 16, kernel: 3, dilation: 2, "
                    "pad: 2, groups: 4}\n")
    text = lines(str(spec))
    assert "  H' = W' = (W - (D × (K - 1) + 1) + 2P)/S + 1 = (16 - (2 × (3 - 1) + 1) + 2·2)/1 + 1 = 16" in text
    assert "  params = C_out × C_in/G × K × K + C_out = 16 × 8/4 × 3 × 3 + 16 = 304" in text


def test_batch_and_dtype_in_the_memory_formula():
    text = lines("alexnet", "-l", "conv1", "--batch", "2", "--dtype", "float16")
    assert "  KB = C_out × H' × W' × 2 × N/1024 = 96 × 55 × 55 × 2 × 2/1024 = 1,134.375 KB" \
        "  (float16: 2 bytes per element)" in text
    assert "  MACs = (C_out × H' × W') × (C_in × K × K) × N = (96 × 55 × 55) × (3 × 11 × 11) × 2 = 210,830,400" \
        in text


@pytest.mark.parametrize("spec", ["alexnet", "googlenet_stem"])
def test_golden_explain(golden, spec):
    result = runner.invoke(app, ["explain", spec])
    assert result.exit_code == 0
    golden(f"{spec}.explain.txt", result.stdout)
    golden(f"{spec}.explain.md", runner.invoke(app, ["explain", spec, "-f", "markdown"]).stdout)


def test_json_format():
    data = json.loads(runner.invoke(app, ["explain", "alexnet", "-l", "conv1", "-f", "json"]).stdout)
    step = data["layers"][0]["steps"][0]
    assert step == {"label": "H' = W'", "formula": "(W - K + 2P)/S + 1", "substituted": "(227 - 11 + 2·0)/4 + 1",
                    "result": "55", "note": ""}


def test_unknown_layer_is_bad_input():
    result = runner.invoke(app, ["explain", "alexnet", "-l", "conv9"])
    assert result.exit_code == 2
    assert "--layer: no layer or block named 'conv9'" in result.stderr and "did you mean 'conv5'" in result.stderr


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_every_formula_equals_the_table_for_every_zoo_spec(name):
    # explain() raises if a printed formula does not evaluate to the report's number
    if name.startswith("lecture/"):
        pytest.importorskip("sympy")
    graph = build(load_spec(resolve(name)[0], symbolic=name.startswith("lecture/")))
    report = analyze(graph, batch=3)
    items = explain(graph, report, TEXTBOOK)
    assert [item.layer for item in items] == [row.name for row in report.rows]


def test_receptive_field_recurrence_with_values():
    # AlexNet conv1 (K 11, S 4, P 0) on the input pixel: r = 1 + 10·1 = 11, j = 1·4 = 4, c = 0 + 5·1 = 5
    conv1 = lines("alexnet", "-l", "conv1")
    assert "  receptive field r_out = r_in + (K - 1) × j_in = 1 + (11 - 1) × 1 = 11  (input pixels)" in conv1
    assert "  jump j_out = j_in × S = 1 × 4 = 4  (input pixels between neighbouring outputs' fields)" in conv1
    assert ("  centre c_out = c_in + ((K - 1)/2 - P) × j_in = 0 + ((11 - 1)/2 - 0) × 1 = 5  "
            "(input pixel on which the first output's field is centred)") in conv1
    # pool1 (K 3, S 2) after it: r = 11 + 2·4 = 19, j = 4·2 = 8, c = 5 + 1·4 = 9
    pool1 = lines("alexnet", "-l", "pool1")
    assert "  receptive field r_out = r_in + (K - 1) × j_in = 11 + (3 - 1) × 4 = 19  (input pixels)" in pool1
    assert "  jump j_out = j_in × S = 4 × 2 = 8  (input pixels between neighbouring outputs' fields)" in pool1
    # a pointwise layer keeps its input's field
    assert "  receptive field = 355×355  (unchanged, as its input's; jump 192×192, centre 113×113)" in \
        lines("alexnet", "-l", "fc6")


def test_receptive_field_recurrence_per_axis_dilation_and_upsampling(tmp_path):
    spec = tmp_path / "rf.yaml"
    spec.write_text("input: [3, 32, 40]\nlayers:\n"
                    "  - {op: conv, name: c, out: 4, kernel: [3, 5], stride: [1, 2], pad: [1, 0]}\n"
                    "  - {op: conv, name: d, out: 4, kernel: 3, dilation: 2, pad: 2}\n"
                    "  - {op: upsample, name: up, scale: 2, mode: bilinear}\n")
    text = lines(str(spec))
    assert "  receptive field r_out (H) = r_in + (K - 1) × j_in = 1 + (3 - 1) × 1 = 3  (input pixels)" in text
    assert "  receptive field r_out (W) = r_in + (K - 1) × j_in = 1 + (5 - 1) × 1 = 5  (input pixels)" in text
    # d, dilated: r = r_in + D·(K - 1)·j_in: H 3 + 2·2·1 = 7, W 5 + 2·2·2 = 13
    assert "  receptive field r_out (W) = r_in + D × (K - 1) × j_in = 5 + 2 × (3 - 1) × 2 = 13  (input pixels)" \
        in text
    # bilinear upsampling by 2: each output reads one more input, j = j_in/2: W 13 + 1·2 = 15, 2/2 = 1
    assert "  receptive field r_out (W) = r_in + extra × j_in = 13 + 1 × 2 = 15  (input pixels)" in text
    assert "  jump j_out (H) = j_in/U = 1/2 = 0.5  (input pixels between neighbouring outputs' fields)" in text


def test_explain_a_block_instance():
    text = lines("resnet18", "--layer", "layer1.0")
    names = [line.split(" (")[0] for line in text if line and not line.startswith(" ")]
    assert names == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu", "layer1.0.conv2", "layer1.0.bn2",
                     "layer1.0.add1", "layer1.0.out", "layer1.0"]
    assert "layer1.0 (basic): 64×56×56 → 64×56×56" in text
    # two 3x3 convs 64 -> 64 (36,864 weights each) and two BNs (128 parameters each)
    assert "  params = conv1 + bn1 + conv2 + bn2 = 36,864 + 128 + 36,864 + 128 = 73,984" in text
    assert "  buffers = bn1 + bn2 = 128 + 128 = 256" in text
    # each conv: 64 x 56 x 56 outputs x 64 x 3 x 3 = 115,605,504
    assert "  MACs = conv1 + conv2 = 115,605,504 + 115,605,504 = 231,211,008" in text
    # seven outputs of 64 x 56 x 56 float32: 7 x 802,816 bytes = 5,488 KB
    assert text[-6].endswith("= 5,488 KB  (the outputs of its layers)")
    # its output's field: conv1 7 + pool 2·2 = 11 (jump 4), two 3×3 convs: 11 + 2·2·4 = 27
    assert text[-2] == "  receptive field = 27×27  (out's; jump 4×4, centre 0×0)"


def test_explain_a_block_matches_the_collapsed_table():
    report = analyze(build(load_spec(*resolve("googlenet"))))
    collapsed = {row.name: row for row in report.collapse(1).rows}
    text = lines("googlenet", "-l", "inception3a")
    # torchvision's inception 3a: convs 12,288 + 18,432 + 110,592 + 3,072 + 4,608 + 6,144 = 155,136,
    # BatchNorms 2 x (64 + 96 + 128 + 16 + 32 + 32) = 736
    assert collapsed["inception3a"].params == 155_872
    assert text[-5].endswith(" = 155,872") and text[-3].endswith(f" = {collapsed['inception3a'].macs:,}")


def test_explain_a_repeat_and_json():
    data = json.loads(runner.invoke(app, ["explain", "resnet50", "-l", "layer2", "-f", "json"]).stdout)
    assert data["layers"][-1]["name"] == "layer2"
    members = [layer["name"] for layer in data["layers"][:-1]]
    # 4 bottlenecks of 10 layers (3 convs, 3 BNs, 2 ReLUs, the add, the ReLU after it), and the first
    # block's downsampling conv and BN
    assert all(name.startswith("layer2.") for name in members) and len(members) == 4 * 10 + 2


@needs_sympy
def test_symbolic_explain_in_json():
    result = runner.invoke(app, ["explain", "lecture/basic_block", "--symbolic", "-f", "json"])
    assert result.exit_code == 0, result.output
    steps = {step["label"]: step for step in json.loads(result.stdout)["layers"][0]["steps"]}
    assert steps["params"]["result"] == "9*C**2"
