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
    assert "--layer: no layer named 'conv9'" in result.stderr and "did you mean 'conv5'" in result.stderr


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_every_formula_equals_the_table_for_every_zoo_spec(name):
    # explain() raises if a printed formula does not evaluate to the report's number
    if name.startswith("lecture/"):
        pytest.importorskip("sympy")
    graph = build(load_spec(resolve(name)[0], symbolic=name.startswith("lecture/")))
    report = analyze(graph, batch=3)
    items = explain(graph, report, TEXTBOOK)
    assert [item.layer for item in items] == [row.name for row in report.rows]
