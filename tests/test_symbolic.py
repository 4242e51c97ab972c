"""Symbolic mode: the lecture's comparisons as formulas, and JSON that sympy parses back."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

sympy = pytest.importorskip("sympy")
C, H, W, G, c = sympy.symbols("C H W G c", integer=True, positive=True)
runner = CliRunner()


def totals(spec: str, *options: str) -> dict:
    result = runner.invoke(app, ["table", spec, "--symbolic", "-f", "json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rows(spec: str, *options: str) -> dict:
    return {layer["name"]: layer for layer in totals(spec, *options)["layers"]}


def same(text: str, expected) -> bool:
    return sympy.simplify(sympy.sympify(text, locals={"C": C, "H": H, "W": W, "G": G, "c": c}) - expected) == 0


def test_one_5x5_against_two_3x3():
    groups = rows("lecture/conv5x5_vs_two_3x3", "--depth", "1")
    assert same(groups["one_5x5"]["params"], 25 * C**2) and same(groups["two_3x3"]["params"], 18 * C**2)
    assert same(groups["one_5x5"]["macs"], 25 * C**2 * H * W) and same(groups["two_3x3"]["macs"], 18 * C**2 * H * W)
    assert groups["one_5x5"]["receptive_field"] == groups["two_3x3"]["receptive_field"] == [5, 5]


def test_vgg_stage_keeps_the_multiply_adds():
    layers = rows("lecture/vgg_stage")
    # C x 2H x 2W, C -> C: C*2H*2W * C*9 = 36HWC^2; 2C x H x W, 2C -> 2C: 2C*H*W * 2C*9 = 36HWC^2
    assert same(layers["conv_a"]["macs"], 36 * H * W * C**2) and same(layers["conv_b"]["macs"], 36 * H * W * C**2)
    assert same(layers["conv_a"]["params"], 9 * C**2) and same(layers["conv_b"]["params"], 36 * C**2)
    assert same(layers["conv_a"]["memory_bytes"], 4 * C * 2 * H * 2 * W)  # twice conv_b's
    assert same(layers["conv_b"]["memory_bytes"], 4 * 2 * C * H * W)


def test_basic_block_against_bottleneck():
    assert same(totals("lecture/basic_block")["totals"]["macs"], 18 * H * W * C**2)
    assert same(totals("lecture/bottleneck_block")["totals"]["macs"], 17 * H * W * C**2)  # 4 + 9 + 4


def test_resnext_block():
    assert same(totals("lecture/resnext_block")["totals"]["macs"],
                G * (4 * H * W * c * C + 9 * H * W * c**2 + 4 * H * W * c * C))


def test_depthwise_separable():
    groups = rows("lecture/depthwise_separable", "--depth", "1")
    assert same(groups["standard"]["macs"], 9 * C**2 * H * W)
    assert same(groups["separable"]["macs"], (9 * C + C**2) * H * W)


def test_numeric_spec_read_symbolically():
    # AlexNet's conv1 on C x H x W: 96 filters of C x 11 x 11, output floor((H - 11)/4) + 1
    conv1 = rows("alexnet")["conv1"]
    assert conv1["input_shape"] == ["C", "H", "W"]
    assert same(conv1["params"], 96 * 121 * C + 96)


def test_symbols_can_be_given_values():
    result = runner.invoke(app, ["table", "lecture/basic_block", "-f", "json", "--set", "C=64", "--set", "H=56",
                                 "--set", "W=56"])
    assert json.loads(result.stdout)["totals"]["macs"] == 18 * 56 * 56 * 64**2  # 18HWC^2 = 231,211,008


def test_symbolic_spec_without_the_flag_is_bad_input():
    result = runner.invoke(app, ["table", "lecture/basic_block"])
    assert result.exit_code == 2
    assert "'C' is a symbol: the spec is meant to be read with --symbolic" in result.stderr
    assert "hint: run with --symbolic, or give it a value with --set C=..." in result.stderr


def test_explain_prints_symbolic_formulas():
    result = runner.invoke(app, ["explain", "lecture/resnext_block", "--symbolic", "-l", "conv"])
    assert "  params = C_out × C_in/G × K × K = G*c × G*c/G × 3 × 3 = 9*G*c**2" in result.stdout.splitlines()


# test_sympy_is_imported_only_in_symbolic_mode: in tests/test_static_imports.py (the static commands, one process)


def test_nested_floors_are_merged_and_stay_equal():
    from cnncalc.core.symbolic import simplified

    expressions = [sympy.floor(sympy.floor(H / 2) / 2), sympy.floor((sympy.floor(H / 2) - 3) / 2),
                   sympy.floor((sympy.floor((H - 5) / 3) + 4) / 2), sympy.ceiling((sympy.ceiling(H / 3) - 1) / 2)]
    assert simplified(expressions[0]) == sympy.floor(H / 4)
    for expression in expressions:
        merged = simplified(expression)
        assert merged.count(sympy.floor) + merged.count(sympy.ceiling) == 1
        for value in range(1, 200):
            assert merged.subs(H, value) == expression.subs(H, value)


def test_symbolic_shapes_print_with_parentheses():
    text = runner.invoke(app, ["explain", "lenet5", "--symbolic", "-l", "s4"]).stdout
    # s4 pools (floor(H/2) - 6) by 2: floor((floor(H/2) - 8)/2) + 1 = floor(H/4) - 3
    assert text.splitlines()[0] == "s4 (avgpool): 16×(floor(H/2) - 6)×(floor(W/2) - 6) → 16×(floor(H/4) - 3)×(floor(W/4) - 3)"


@pytest.mark.parametrize("layer, output", [
    ("{op: adaptive_avgpool, size: 2}", ["C", 2, 2]),
    ("{op: adaptive_maxpool, size: [2, 3]}", ["C", 2, 3]),
    ("{op: upsample, scale: 2}", ["C", "2*H", "2*W"]),
    ("{op: upsample, size: 7}", ["C", 7, 7]),
    ("{op: conv, out: 8, kernel: 3, stride: 2, pad: same}", [8, "ceiling(H/2)", "ceiling(W/2)"]),
    ("{op: maxpool, kernel: 3, stride: 2, pad: same}", ["C", "ceiling(H/2)", "ceiling(W/2)"]),
    ("{op: conv_transpose, out: 8, kernel: 3, stride: 2, pad: 2}", [8, "2*H - 3", "2*W - 3"]),
    ("{op: maxpool, kernel: 3, stride: 2, ceil: true}", ["C", "ceiling(H/2 - 3/2) + 1", "ceiling(W/2 - 3/2) + 1"]),
])
def test_layers_that_raised_type_errors_in_symbolic_mode(tmp_path, layer, output):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"input: [3, 32, 32]\nlayers:\n  - {layer}\n")
    for command in (["table"], ["table", "-f", "json"], ["explain"], ["explain", "-f", "json"]):
        result = runner.invoke(app, [*command, str(spec), "--symbolic"])
        assert result.exit_code == 0, (command, result.output)
    data = json.loads(runner.invoke(app, ["table", str(spec), "--symbolic", "-f", "json"]).stdout)
    assert data["layers"][0]["output_shape"] == output
    for size in (31, 32, 33):  # the formulas give what the numeric engine gives
        numeric = json.loads(runner.invoke(app, ["table", str(spec), "-f", "json", "--input", f"3,{size},{size}"]).stdout)
        values = {C: 3, H: size, W: size}
        for key in ("params", "macs", "memory_bytes"):
            assert sympy.sympify(str(data["layers"][0][key]), locals={"C": C, "H": H, "W": W}).subs(values) == \
                numeric["layers"][0][key], (key, size)
        assert [sympy.sympify(str(d), locals={"C": C, "H": H, "W": W}).subs(values) for d in output] == \
            numeric["layers"][0]["output_shape"]


def test_receptive_field_columns_of_symbolic_sizes(tmp_path):
    spec = tmp_path / "rf.yaml"
    spec.write_text("input: [3, 32, 32]\nlayers:\n  - {op: maxpool, kernel: 3, stride: 3}\n"
                    "  - {op: conv_transpose, out: 4, kernel: 3, stride: 2}\n  - {op: upsample, scale: 3}\n")
    result = runner.invoke(app, ["table", str(spec), "--symbolic", "--columns", "+rf,jump,rf_start"])
    assert result.exit_code == 0, result.output
    # jump: 3 after the pool, 3/2 after the transposed conv, 1/2 after upsampling by 3
    # (the last is the formula 3/2 x (2*floor(H/3) + 1)/(6*floor(H/3) + 3), which prints as 1/2)
    assert [line.split()[-2] for line in result.stdout.splitlines()[5:8]] == ["3", "1.5", "1/2"]


def test_a_merge_takes_the_receptive_field_provably_largest(tmp_path):
    # table --symbolic on efficientnet_b0 raised sympy's TypeError: its SE gate (global pooling, whose
    # field is the whole H x W image) against the 7 x 7 branch cannot be ordered for every H and W
    spec = tmp_path / "merge.yaml"
    spec.write_text("input: [8, 32, 32]\nlayers:\n  - {op: conv, name: c3, out: 8, kernel: 3, pad: 1}\n"
                    "  - {op: conv, name: c5, out: 8, kernel: 5, pad: 2, in: input}\n"
                    "  - {op: add, name: sum, in: [c3, c5]}\n  - {op: gap, name: g, in: c5}\n"
                    "  - {op: mul, name: gated, in: [sum, g]}\n")
    fields = {name: row.get("receptive_field") for name, row in rows(str(spec)).items()}
    assert fields["sum"] == [5, 5]  # 3*3 < 5*5 for every size: decided
    assert fields["g"] == ["H + 4", "W + 4"] and fields["gated"] is None  # 5*5 against (H+4)*(W+4): not known
    numeric = json.loads(runner.invoke(app, ["table", str(spec), "-f", "json"]).stdout)
    # 32 x 32: the gate's field is 32 + 4 = 36 (the 5 x 5 conv's pad 2 on each side), larger than 5
    assert [row["receptive_field"] for row in numeric["layers"]][2:] == [[5, 5], [36, 36], [36, 36]]
    assert runner.invoke(app, ["table", "efficientnet_b0", "--symbolic"]).exit_code == 0
