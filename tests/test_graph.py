"""Spec language v2: named inputs, merges, blocks, repeat/first/when, variables, --depth."""
from __future__ import annotations

import pytest

from cnncalc.spec.spec import parse_spec


def names(report):
    return [row.name for row in report.rows]


def test_named_inputs_and_concat(analyze_text):
    report = analyze_text("""
input: [8, 16, 16]
layers:
  - {op: conv, name: b1, out: 4, kernel: 1}
  - {op: conv, name: b2, in: input, out: 6, kernel: 3, pad: 1}
  - {op: maxpool, name: b3, in: input, kernel: 3, stride: 1, pad: 1}
  - {op: concat, name: cat, in: [b1, b2, b3]}
""")
    cat = report.rows[-1]
    assert cat.inputs == ("b1", "b2", "b3")
    assert cat.output_shape == (4 + 6 + 8, 16, 16)
    assert cat.params == 0 and cat.macs == 0
    assert report.rows[1].inputs == ("input",)


def test_residual_add_and_se_mul(analyze_text):
    report = analyze_text("""
input: [16, 8, 8]
layers:
  - {op: conv, name: c, out: 16, kernel: 3, pad: 1}
  - {op: add, name: res, in: [c, input]}
  - {op: gap, name: squeeze}
  - {op: conv, name: fc1, out: 4, kernel: 1}
  - {op: relu}
  - {op: conv, name: fc2, out: 16, kernel: 1}
  - {op: sigmoid, name: gate}
  - {op: mul, name: scale, in: [res, gate]}
""")
    rows = {row.name: row for row in report.rows}
    assert rows["res"].output_shape == (16, 8, 8)
    assert rows["scale"].output_shape == (16, 8, 8)  # [16, 8, 8] * [16, 1, 1]
    assert rows["fc1"].params == 16 * 4 + 4 == 68
    assert rows["fc2"].params == 4 * 16 + 16 == 80


def test_block_with_projection_repeat_and_first(analyze_text):
    report = analyze_text("""
input: [8, 16, 16]
blocks:
  basic:
    params: [c, {stride: 1}, {proj: false}]
    layers:
      - {op: conv, name: conv1, out: c, kernel: 3, stride: stride, pad: 1, bias: false}
      - {op: conv, name: conv2, out: c, kernel: 3, pad: 1, bias: false}
      - {op: conv, name: down, in: input, out: c, kernel: 1, stride: stride, bias: false, when: proj}
      - {op: add, name: sum, in: [conv2, down]}
layers:
  - {op: basic, name: layer1, c: 16, repeat: 2, first: {stride: 2, proj: true}}
""")
    assert names(report) == ["layer1.0.conv1", "layer1.0.conv2", "layer1.0.down", "layer1.0.sum",
                             "layer1.1.conv1", "layer1.1.conv2", "layer1.1.sum"]
    rows = {row.name: row for row in report.rows}
    assert rows["layer1.0.conv1"].output_shape == (16, 8, 8)  # stride 2 in the first copy only
    assert rows["layer1.1.conv1"].output_shape == (16, 8, 8)
    assert rows["layer1.0.sum"].inputs == ("layer1.0.conv2", "layer1.0.down")
    assert rows["layer1.1.sum"].inputs == ("layer1.1.conv2", "layer1.0.sum")  # identity shortcut
    assert rows["layer1.0.down"].params == 16 * 8 == 128
    assert report.groups["layer1"] == ("basic", "layer1.1.sum")
    assert report.groups["layer1.0"] == ("basic", "layer1.0.sum")


def test_repeat_index_and_auto_names(analyze_text):
    report = analyze_text("""
input: [3, 32, 32]
layers:
  - {op: conv, name: c, out: 8*(i+1), kernel: 3, pad: 1, repeat: 3}
  - {op: relu}
  - {op: relu}
""")
    assert names(report) == ["c.0", "c.1", "c.2", "relu1", "relu2"]
    assert [row.output_shape[0] for row in report.rows[:3]] == [8, 16, 24]


def test_block_in_channels_and_default_from_other_params(analyze_text):
    report = analyze_text("""
input: [24, 8, 8]
blocks:
  expand:
    params: [{t: 6}, {hidden: in_channels * t}]
    layers:
      - {op: conv, out: hidden, kernel: 1}
layers:
  - {op: expand}
  - {op: expand, t: 2}
""")
    assert [row.output_shape[0] for row in report.rows] == [24 * 6, 24 * 6 * 2]


def test_block_output_and_nested_blocks(analyze_text):
    report = analyze_text("""
input: [4, 8, 8]
blocks:
  inner:
    params: [c]
    output: a
    layers:
      - {op: conv, name: a, out: c, kernel: 1}
      - {op: conv, name: side, out: 1, kernel: 1}
  outer:
    params: [c]
    layers:
      - {op: inner, name: x, c: c}
      - {op: relu, name: r}
layers:
  - {op: outer, name: o, c: 5}
outputs: [o, o-side]
""".replace("o-side", "o"))
    rows = {row.name: row for row in report.rows}
    assert rows["o.r"].inputs == ("o.x.a",)  # the block's declared output, not its last layer
    assert rows["o.r"].output_shape == (5, 8, 8)
    assert [w.layer for w in report.warnings] == ["o.x.side"]  # read by nobody


def test_variables_and_set_overrides():
    text = """
input: [3, 32, 32]
vars:
  width: 1.0
  c: make_divisible(32 * width, 8)
layers:
  - {op: conv, out: c, kernel: 3}
"""
    assert parse_spec(text).variables == {"width": 1, "c": 32}
    assert parse_spec(text, overrides={"width": "0.5"}).variables == {"width": 0.5, "c": 16}
    assert parse_spec(text, overrides={"width": "3/4"}).variables == {"width": 0.75, "c": 24}


def test_depth_collapses_blocks(analyze_text):
    report = analyze_text("""
input: [8, 16, 16]
blocks:
  pair:
    params: [c]
    layers:
      - {op: conv, out: c, kernel: 3, pad: 1}
      - {op: conv, out: c, kernel: 3, pad: 1}
layers:
  - {op: conv, name: stem, out: 8, kernel: 1}
  - {op: pair, name: stage, c: 8, repeat: 2}
  - {op: gap}
""")
    one = report.collapse(1)
    assert names(one) == ["stem", "stage", "gap1"]
    stage = one.rows[1]
    inner = [row for row in report.rows if row.name.startswith("stage.")]
    assert stage.params == sum(row.params for row in inner) == 4 * (8 * 8 * 9 + 8)
    assert stage.macs == sum(row.macs for row in inner)
    assert stage.memory_bytes == 4 * 8 * 16 * 16 * 4
    assert stage.inputs == ("stem",) and stage.output_shape == (8, 16, 16) and stage.op == "pair"
    two = report.collapse(2)
    assert names(two) == ["stem", "stage.0", "stage.1", "gap1"]
    # stage.1 reads stage.0's last conv: the table at depth 2 shows that conv as the row stage.0
    assert two.rows[2].inputs == ("stage.0",)
    assert report.collapse(1).totals == report.totals == two.totals
    assert report.collapse(3).rows == report.rows


def test_when_with_expression(analyze_text):
    report = analyze_text("""
input: [8, 8, 8]
vars: {use: 0}
layers:
  - {op: conv, name: a, out: 8, kernel: 1, when: use > 0}
  - {op: relu, name: r}
""")
    assert names(report) == ["r"]
    assert report.rows[0].inputs == ("input",)


def test_strings_that_are_words_stay_words(analyze_text):
    report = analyze_text("""
input: [3, 8, 8]
vars: {mode: same, fn: relu}
layers:
  - {op: conv, out: 4, kernel: 3, pad: mode, act: fn}
  - {op: conv, out: 4, kernel: 3, pad: same}
""")
    assert [row.output_shape for row in report.rows] == [(4, 8, 8), (4, 8, 8)]


@pytest.mark.parametrize("layer,shape,params,macs", [
    # conv_transpose: (8 - 1)*2 - 2*1 + (4 - 1) + 0 + 1 = 16; params 8*4*4*4 + 4; MACs 8*8*8 * 4*4*4
    ("{op: conv_transpose, out: 4, kernel: 4, stride: 2, pad: 1}", (4, 16, 16), 8 * 4 * 16 + 4, 8 * 64 * 64),
    # output_pad adds one row: (8 - 1)*2 - 2*1 + 2 + 1 + 1 = 16
    ("{op: deconv, out: 2, kernel: 3, stride: 2, pad: 1, output_pad: 1, bias: false}", (2, 16, 16),
     8 * 2 * 9, 8 * 64 * 2 * 9),
    # adaptive 8 -> 3: windows [0,3) [2,6) [5,8): 3 + 4 + 3 = 10 reads per axis; 8 * 10 * 10
    ("{op: adaptive_avgpool, size: 3}", (8, 3, 3), 0, 8 * 10 * 10),
    ("{op: adaptive_maxpool, size: [1, 2]}", (8, 1, 2), 0, 8 * 8 * 8),  # 8 rows; [0,4) [4,8): 8 columns
    ("{op: upsample, scale: 2}", (8, 16, 16), 0, 0),
    ("{op: upsample, size: [10, 12], mode: bilinear}", (8, 10, 12), 0, 0),
    ("{op: zeropad, pad: [1, 2, 3, 4]}", (8, 15, 11), 0, 0),  # H 8+3+4, W 8+1+2
    ("{op: zeropad, pad: 1}", (8, 10, 10), 0, 0),
    ("{op: zeropad, channels: 8}", (16, 8, 8), 0, 0),  # ResNet option A: 8 zero channels appended
    ("{op: layernorm}", (8, 8, 8), 16, 0),
    ("{op: layer_scale}", (8, 8, 8), 8, 0),
    ("{op: channel_shuffle, groups: 2}", (8, 8, 8), 0, 0),
    ("{op: channel_split, index: 1}", (4, 8, 8), 0, 0),
    ("{op: identity}", (8, 8, 8), 0, 0),
    ("{op: drop_path, p: 0.2}", (8, 8, 8), 0, 0),
    ("{op: relu6}", (8, 8, 8), 0, 0),
    ("{op: hardswish}", (8, 8, 8), 0, 0),
    ("{op: hardsigmoid}", (8, 8, 8), 0, 0),
])
def test_v2_layer_types(analyze_text, layer, shape, params, macs):
    row = analyze_text(f"input: [8, 8, 8]\nlayers:\n  - {layer}\n").rows[0]
    assert (row.output_shape, row.params, row.macs) == (shape, params, macs)


def test_adaptive_reads_match_pytorch_windows():
    from cnncalc.layers.resample import _adaptive_reads

    # PyTorch: start = floor(i*N/n), end = ceil((i+1)*N/n); 7 -> 3: [0,3) [2,5) [4,7) = 9 reads
    assert _adaptive_reads(7, 3) == 9
    assert _adaptive_reads(224, 7) == 224  # divides evenly: every position once
    assert _adaptive_reads(6, 6) == 6
    # 5 -> 7 overlaps: [0,1) [0,2) [1,3) [2,3) [2,4) [3,5) [4,5) = 1+2+2+1+2+2+1 = 11 reads
    assert _adaptive_reads(5, 7) == 11


def test_when_skips_a_merge_which_then_stands_for_its_first_input(analyze_text):
    report = analyze_text("""
input: [8, 8, 8]
blocks:
  maybe_res:
    params: [c]
    layers:
      - {op: conv, name: conv, out: c, kernel: 1}
      - {op: add, name: res, in: [conv, input], when: in_channels == c}
      - {op: relu, name: out}
layers:
  - {op: maybe_res, name: a, c: 8}
  - {op: maybe_res, name: b, c: 16}
""")
    rows = {row.name: row for row in report.rows}
    assert rows["a.res"].inputs == ("a.conv", "input")
    assert "b.res" not in rows and rows["b.out"].inputs == ("b.conv",)
