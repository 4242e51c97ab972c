"""The spec language's third version: references into block instances and repeats, several block
inputs and outputs, collect-all repeats, recursion, alternatives, `repeat: 0`, `chain: false`,
conditional inputs and shared weights. The examples of docs/spec.md are run here with their figures
worked out by hand; the zoo's yolov8, dla34 and hrnet_w18_small prove the constructs against the real
models (tests/test_ultralytics.py, tests/test_timm.py)."""
from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app

from .conftest import ROOT

runner = CliRunner()
DOC_SPECS = {re.match(r"name: (\S+)", block).group(1): block  # type: ignore[union-attr]
             for block in re.findall(r"```yaml\n(name: .*?)```", (ROOT / "docs" / "spec.md").read_text("utf-8"), re.S)}


def test_the_docs_show_every_example_tested_here():
    assert set(DOC_SPECS) == {"tiny", "c2f_demo", "dense_demo", "ports_demo", "recursive_demo", "share_demo",
                              "dfl_demo", "attention_demo", "vit_block", "use_demo"}
    for name, text in DOC_SPECS.items():
        spec = str(ROOT / "docs" / "examples" / "use_demo.yaml") if name == "use_demo" else text  # use: by its folder
        assert cnncalc.analyze(spec).warnings == (), name  # nothing unused, nothing suspicious


def _rows(text: str, **options) -> dict[str, tuple]:
    report = cnncalc.analyze(text, **options)
    return {row.name: (row.output_shape, row.params, row.macs) for row in report.rows}


def test_c2f_concatenates_every_copy_and_is_read_inside():
    rows = _rows(DOC_SPECS["c2f_demo"])
    # cv1: 16 -> 16, 1x1: 16*16 + 16 = 272; each half 8 channels
    assert rows["block.cv1"][:2] == ((16, 32, 32), 272)
    assert rows["block.y0"][0] == rows["block.y1"][0] == (8, 32, 32)
    # m.0 and m.1: 8 -> 8, 3x3: 8*8*9 + 8 = 584 each, m.1 reading m.0
    assert rows["block.m.0"][1] == rows["block.m.1"][1] == 584
    # cat: y0, y1, m.0, m.1 = 4 * 8 = 32 channels; cv2 32 -> 8: 256 + 8 = 264
    assert rows["block.cat"][0] == (32, 32, 32) and rows["block.cv2"][1] == 264
    # side reads block.m.0: 8 -> 4, 1x1: 32 + 4 = 36
    assert rows["side"][:2] == ((4, 32, 32), 36)
    report = cnncalc.analyze(DOC_SPECS["c2f_demo"])
    assert [row.inputs for row in report.rows if row.name in ("block.cat", "side")] == \
        [("block.y0", "block.y1", "block.m.0", "block.m.1"), ("block.m.0",)]
    assert report.totals.params == 272 + 2 * 584 + 264 + 36


def test_named_and_variadic_inputs_and_several_outputs():
    report = cnncalc.analyze(DOC_SPECS["ports_demo"])
    rows = {row.name: row for row in report.rows}
    assert rows["p.proj"].inputs == ("a",)                       # x is the first input
    assert rows["p.sum"].inputs == ("p.proj", "input")           # skip is the second
    assert rows["g.cat"].inputs == ("p.sum", "p.prod", "a")      # parts*: p's two outputs, then a
    # in_count = 3: mix has 8 * 3 = 24 outputs; 24 -> 24, 1x1: 576 + 24 = 600 parameters
    assert rows["g.mix"].output_shape == (24, 16, 16) and rows["g.mix"].params == 600
    assert report.outputs == (("g.mix", (24, 16, 16)), ("p.prod", (8, 16, 16)))
    # a: 8*8*9 + 8 = 584; p.proj: 8*8 + 8 = 72
    assert report.totals.params == 584 + 72 + 600


def test_the_json_output_names_the_outputs():
    result = runner.invoke(app, ["table", "yolov8", "--format", "json"])
    assert result.exit_code == 0, result.output
    # 4 box coordinates + 80 classes at 80² + 40² + 20² = 8,400 anchors
    assert json.loads(result.stdout)["outputs"] == [{"name": "m22.y", "shape": [84, 8400]}]


def test_a_recursive_block_ends_where_its_when_says():
    rows = _rows(DOC_SPECS["recursive_demo"])
    leaves = [name for name in rows if name.endswith(("left", "right")) and rows[name][1]]
    assert len(leaves) == 8 and all(name.count(".") == 3 for name in leaves)  # 2³ leaves at depth 3
    # each tree(1) concatenates two 4-channel convs; tree(2) two tree(1)s; tree(3) two tree(2)s
    assert rows["t.left.left.root"][0] == (8, 16, 16)
    assert rows["t.left.root"][0] == (16, 16, 16)
    assert rows["t.root"][0] == (32, 16, 16)
    # left leaves read 8 (input, first tree(1)), 8 (a tree(1)'s root) or 16 (t.left's root) channels,
    # right leaves the 4 of their left: 3x3 convs with bias, 4 * (9 * C_in + 1)
    assert rows["t.left.left.left"][1] == 4 * (9 * 8 + 1)
    assert rows["t.right.left.left"][1] == 4 * (9 * 16 + 1)
    assert rows["t.left.left.right"][1] == 4 * (9 * 4 + 1)
    total = 3 * 4 * (9 * 8 + 1) + 4 * (9 * 16 + 1) + 4 * 4 * (9 * 4 + 1)  # = 876 + 580 + 592
    assert cnncalc.analyze(DOC_SPECS["recursive_demo"]).totals.params == total == 2048


def test_a_shared_layer_counts_its_parameters_once_and_its_work_every_time():
    rows = _rows(DOC_SPECS["share_demo"])
    # head: 8 -> 8, 3x3: 8*8*9 + 8 = 584 parameters; at 16x16: 8*8*9*256 = 147,456 MACs
    assert rows["head"][1:] == (584, 147_456)
    # head_again: the same module on the pooled 8x8 map: no parameters, 8*8*9*64 = 36,864 MACs
    assert rows["head_again"] == ((8, 8, 8), 0, 36_864)


def test_dfl_reshapes_transposes_and_convolves_with_frozen_weights():
    rows = _rows(DOC_SPECS["dfl_demo"])
    assert rows["bins"][0] == (4, 16, 6400) and rows["bins_t"][0] == (16, 4, 6400)
    # the 1x1 conv 16 -> 1 without bias: 16 parameters, 16 * 4 * 6400 = 409,600 MACs
    assert rows["dfl"] == ((1, 4, 6400), 16, 409_600)
    assert rows["dist"][0] == (4, 6400)


def test_attention_multiplies_its_queries_keys_and_values():
    rows = _rows(DOC_SPECS["attention_demo"])
    assert rows["q_t"][0] == (1, 400, 32) and rows["v"][0] == (1, 64, 400)
    assert rows["scores"] == ((1, 400, 400), 0, 400 * 32 * 400)  # n·k·m = 5,120,000
    assert rows["mixed"] == ((1, 64, 400), 0, 64 * 400 * 400)  # 10,240,000
    assert rows["out"][0] == (64, 20, 20)


def test_a_vit_encoder_block_on_tokens():
    rows = _rows(DOC_SPECS["vit_block"])
    assert rows["ln_1"] == ((197, 768), 2 * 768, 0)
    # 4·768² + 4·768 parameters; projections 4·197·768² = 464,781,312, the products 2·197²·768 = 59,610,624
    assert rows["self_attention"] == ((197, 768), 2_362_368, 464_781_312 + 59_610_624)
    assert rows["fc1"] == ((197, 3072), 768 * 3072 + 3072, 197 * 768 * 3072)
    assert rows["fc2"] == ((197, 768), 3072 * 768 + 768, 197 * 3072 * 768)
    # docs/examples/vit_block.yaml, which the docs' console example runs, is the spec shown
    assert DOC_SPECS["vit_block"] in (ROOT / "docs" / "examples" / "vit_block.yaml").read_text("utf-8")


REPEAT_ZERO = """input: [4, 8, 8]
vars: {n: 0}
layers:
  - {op: conv, name: a, out: 4, kernel: 1}
  - {op: conv, name: b, out: 4, kernel: 3, pad: 1, repeat: n}
  - {op: concat, name: cat, in: [a, b.*]}
"""


def test_repeat_zero_makes_no_copy():
    report = cnncalc.analyze(REPEAT_ZERO)
    assert [row.name for row in report.rows] == ["a", "cat"]
    assert report.rows[1].inputs == ("a",) and report.outputs == (("cat", (4, 8, 8)),)
    # with n = 2: cat reads a, b.0, b.1: 3 * 4 = 12 channels
    assert cnncalc.analyze(REPEAT_ZERO, set={"n": 2}).outputs == (("cat", (12, 8, 8)),)


SIDE_BY_SIDE = REPEAT_ZERO.replace("{n: 0}", "{n: 2}") + """  - {op: conv, name: heads, in: cat, out: 2, kernel: 1, repeat: 2, chain: false}
  - {op: conv, name: side, in: "b.{n - 1}", out: 2, kernel: 1}
  - {op: add, name: sum, in: [a, b]}
  - {op: concat, name: all, in: [heads.*, side, sum]}
"""


def test_side_by_side_copies_and_per_copy_inputs():
    report = cnncalc.analyze(SIDE_BY_SIDE)
    rows = {row.name: row for row in report.rows}
    assert rows["heads.0"].inputs == rows["heads.1"].inputs == ("cat",)  # chain: false: both read cat
    assert rows["side"].inputs == ("b.1",)                               # "b.{n - 1}" with n = 2
    assert rows["sum"].inputs == ("a", "b.1")                            # b stands for its last copy
    assert rows["all"].output_shape == (2 + 2 + 2 + 4, 8, 8)


def test_each_copy_reads_the_copies_before_it():
    """docs/spec.md's dense_demo: `in: [input, layer.*]` inside the repeat is the copies made so far."""
    report = cnncalc.analyze(DOC_SPECS["dense_demo"])
    rows = {row.name: row for row in report.rows}
    assert rows["layer.0.cat"].inputs == ("input",)                           # torch.cat of one tensor
    assert rows["layer.2.cat"].inputs == ("input", "layer.0.conv", "layer.1.conv")
    assert rows["block"].inputs == ("input", "layer.0.conv", "layer.1.conv", "layer.2.conv")
    # the cats: 8, 8 + 4 = 12, 8 + 2 * 4 = 16 channels; the block 8 + 3 * 4 = 20
    assert [rows[f"layer.{k}.cat"].output_shape[0] for k in range(3)] == [8, 12, 16]
    assert rows["block"].output_shape == (20, 16, 16)
    # norm 2C and conv C * 4 * 3 * 3 for C = 8, 12, 16: 16 + 288 + 24 + 432 + 32 + 576
    assert report.totals.params == 1368


def test_a_copy_refers_to_an_earlier_copy_by_number():
    text = ("input: [4, 8, 8]\nlayers:\n"
            "  - {op: concat, name: c, repeat: 3, in: [input, c.0 if i > 0]}\n")
    rows = {row.name: row for row in cnncalc.analyze(text).rows}
    assert [rows[f"c.{k}"].inputs for k in range(3)] == [("input",), ("input", "c.0"), ("input", "c.0")]
    assert rows["c.2"].output_shape == (4 + 4, 8, 8)  # not chained: c.2 reads c.0, not c.1


def test_held_keeps_an_output_until_its_block_instance_returns():
    """dense_demo at inference, batch 1, float32 (its input, 8 x 16 x 16, is not counted). The peak is in the
    last layer's conv: the outputs of layer.0 and layer.1 (4 channels each, 256 positions: 2,048 floats),
    its cat of 16 channels (4,096), held by `held: true` until the layer returns, the batch norm's output
    (4,096; ReLU works in place) and the conv's output (1,024): 11,264 floats = 45,056 bytes. Without
    `held`, the cat goes after the batch norm that reads it: the peak is at that batch norm, 2,048 + 4,096
    + 4,096 = 10,240 floats = 40,960 bytes."""
    from cnncalc.analysis.memory import ACTIVATIONS, MemoryOptions, memory_schedule
    from cnncalc.api import load_graph

    for text, where, activations in ((DOC_SPECS["dense_demo"], "layer.2.conv", 45_056),
                                     (DOC_SPECS["dense_demo"].replace(", held: true", ""), "layer.2.norm", 40_960)):
        graph = load_graph(text)[0]
        schedule = memory_schedule(graph, MemoryOptions(mode="infer"))
        sample = schedule.samples[schedule.peak(1)[0]]
        assert (sample.layer, sample.bytes(1)[ACTIVATIONS]) == (where, activations)
    assert load_graph(DOC_SPECS["dense_demo"])[0].held == {f"layer.{k}.cat": f"layer.{k}" for k in range(3)}


HELD = """input: [4, 8, 8]
layers:
  - {op: conv, name: a, out: 8, kernel: 1, held: HELD}
  - {op: conv, name: b, out: 8, kernel: 1}
  - {op: conv, name: c, out: 8, kernel: 1}
  - {op: conv, name: d, out: 8, kernel: 1}
"""


@pytest.mark.parametrize("held, peak_at, live_at_d", [
    # each output is 8 x 8 x 8 floats = 2,048 bytes at batch 1. Not held, `a` goes after b reads it: two outputs
    # at most are alive (b's: a and b), 4,096 bytes; at d, c and d
    ("false", "b", 4096),
    # held until c has run: a, b and c at c, 6,144 bytes; at d only c and d again
    ("c", "c", 4096),
    # held until the network returns: a, b and c at c; a, c and d at d
    ("true", "c", 6144),
])
def test_held_until_a_later_layer_or_the_end(held, peak_at, live_at_d):
    from cnncalc.analysis.memory import ACTIVATIONS, MemoryOptions, memory_schedule
    from cnncalc.api import load_graph

    schedule = memory_schedule(load_graph(HELD.replace("HELD", held))[0], MemoryOptions(mode="infer"))
    index, _ = schedule.peak(1)
    assert schedule.samples[index].layer == peak_at
    at_d = [sample for sample in schedule.samples if sample.layer == "d"]
    assert max(sample.bytes(1)[ACTIVATIONS] for sample in at_d) == live_at_d


def test_conditional_inputs_are_read_only_when_their_condition_holds():
    text = ("input: [4, 8, 8]\nvars: {extra: false}\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 1}\n"
            "  - {op: concat, name: cat, in: [input, a, a if extra]}\n")
    assert cnncalc.analyze(text).rows[-1].output_shape == (8, 8, 8)
    assert cnncalc.analyze(text, set={"extra": True}).rows[-1].output_shape == (12, 8, 8)


def test_a_conditional_input_may_hold_braces_with_spaces():
    # each copy reads the copy before it; the first reads the input: c.0 <- input, c.1 <- c.0, c.2 <- c.1
    text = ("input: [4, 8, 8]\nlayers:\n  - {op: conv, name: c, out: 4, kernel: 1, repeat: 3,\n"
            "     in: [\"c.{i - 1} if i > 0\", \"input if i == 0\"]}\n")
    assert [row.inputs for row in cnncalc.analyze(text).rows] == [("input",), ("c.0",), ("c.1",)]


LEFT_OUT = ("input: [4, 8, 8]\nvars: {big: false}\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 1}\n"
            "  - {op: conv, name: p6, in: c6, out: 8, kernel: 1, when: big}\n")


def test_a_left_out_layer_need_not_find_its_inputs():
    # p6 reads c6, which this variant does not have; p6 is left out, so that is no error while no one reads p6
    text = LEFT_OUT + "  - {op: concat, in: [a, p6 if big]}\n"
    assert [(row.name, row.inputs, row.output_shape) for row in cnncalc.analyze(text).rows] == \
        [("a", ("input",), (4, 8, 8)), ("concat1", ("a",), (4, 8, 8))]
    # with big, c6 must exist: it does not, and that is the error
    with pytest.raises(cnncalc.SpecError, match="unknown input 'c6'"):
        cnncalc.analyze(text, set={"big": True})


@pytest.mark.parametrize("tail, where", [
    ("  - {op: relu, in: p6}\n", "6:20"),  # read by name
    ("  - {op: relu}\n", "6:5"),  # read as the layer above
    ("", "5:30"),  # the network's output: its last layer
])
def test_reading_a_left_out_layer_whose_inputs_name_nothing_is_the_error(tmp_path, tail, where):
    path = tmp_path / "net.yaml"
    path.write_text(LEFT_OUT + tail, encoding="utf-8")
    result = runner.invoke(app, ["table", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{where}: error: " in result.output
    assert "'p6' is left out ('when' is false) and stands for its input, but its inputs name no layer here " \
           "(line 5): unknown input 'c6'" in result.output


def test_a_left_out_layer_is_still_checked_field_by_field():
    with pytest.raises(cnncalc.SpecError, match="field 'out': must be a positive whole number, got -4"):
        cnncalc.analyze(LEFT_OUT.replace("out: 8", "out: -4") + "  - {op: relu, in: a}\n")


def test_a_table_by_depth_names_the_blocks_a_multi_input_block_reads():
    result = runner.invoke(app, ["table", "yolov8", "--depth", "1"])
    assert result.exit_code == 0, result.output
    detect = next(line for line in result.stdout.splitlines() if line.startswith(" m22 "))
    # Detect reads the outputs of C2f m15, m18, m21: 256, 512, 1024 channels × width 0.25 = 64, 128, 256
    assert detect.split()[:5] == ["m22", "m15,", "m18,", "m21", "64+128+256"]
    # at 80, 40, 20 pixels (640 / 8, 16, 32); 84 outputs (4 + 80 classes) at 8400 anchors (a tensor of two
    # axes, shown whole: tests/test_token_tables.py) and all of Detect's 897,664 parameters (0.898 M) in one row
    assert detect.split()[5:7] == ["80+40+20", "84×8400"] and " 898 " in detect


# ---- bad input: located, exit code 2 -----------------------------------------------------------

PAIR = """input: [8, 16, 16]
blocks:
  pair:
    inputs: [x, skip]
    outputs: [sum, prod]
    layers:
      - {op: add, name: sum, in: [x, skip]}
      - {op: mul, name: prod, in: [x, skip]}
layers:
  - {op: conv, name: a, out: 8, kernel: 1}
"""


@pytest.mark.parametrize("text, line, fragment", [
    (PAIR + "  - {op: pair, name: p}\n", 11, "block 'pair' takes 2 inputs (x, skip), but is given 1"),
    (PAIR + "  - {op: pair, name: p, in: [a, input, a]}\n", 11, "block 'pair' takes 2 inputs (x, skip), but is given 3"),
    (PAIR + "  - {op: relu, name: r, in: [a.*]}\n", 11, "'a' is one layer; '.*' takes the copies of a repeat"),
    (PAIR + "  - {op: add, name: r, in: [a if false, input if 1 > 2]}\n", 11, "names no layer here"),
    (PAIR + "  - {op: add, name: r, in: [a if 3, input]}\n", 11, "the condition of 'a if 3' must be true or false"),
    (PAIR + "  - {op: pair, name: p, in: [a, input]}\n  - {op: relu, in: p.zzz}\n", 12, "unknown input 'p.zzz'"),
    (PAIR + "  - {op: relu, in: p.sum}\n  - {op: pair, name: p, in: [a, input]}\n", 11, "'p.sum' is not defined yet"),
    (PAIR + "  - {op: maxpool, name: m, kernel: 2}\n  - {op: conv, name: r, share: m}\n", 12,
     "'m' is a maxpool layer; a layer sharing its weights must be one too"),
    (PAIR + "  - {op: conv, name: r, share: a, out: 4}\n", 11, "takes its fields from it: remove 'out'"),
    (PAIR + "  - {op: conv, name: c, in: input, out: 4, kernel: 1}\n  - {op: conv, name: r, share: c}\n", 12,
     "a shared module must fit every input it is used on"),
    (PAIR + "  - {op: conv, name: c, out: 8, kernel: 1, train_only: true}\n  - {op: conv, name: r, in: a, share: c}\n",
     12, "uses 'c', which runs only in training (train_only), but runs at inference"),
    (PAIR + "  - {op: relu, name: r, repeat: 2, chain: maybe}\n", 11, "field 'chain': must be true or false"),
    (PAIR + "  - {op: concat, name: r, repeat: 2, in: [a, r.1]}\n", 11,
     "'r.1' is not defined yet: a copy of a repeat can only read the copies before it"),
    (PAIR + "  - {op: concat, name: r, repeat: 2, in: [a, r]}\n", 11, "'r' is not defined yet"),
    (PAIR + "  - {op: relu, name: r, held: 2}\n", 11, "'held' must be true, false or the name of a later layer"),
    (PAIR + "  - {op: relu, name: r, held: a}\n", 11, "'held' must be true, false or the name of a later layer"),
    (PAIR.replace("inputs: [x, skip]", "inputs: [x*, skip]"), 4, "only the last input may take the rest ('x*')"),
    (PAIR.replace("inputs: [x, skip]", "inputs: [input, skip]"), 4, "'input' names the first input already"),
    (PAIR.replace("inputs: [x, skip]", "inputs: [x, x]"), 4, "input 'x' is listed twice"),
    (PAIR.replace("inputs: [x, skip]", "inputs: 3"), 4, "'inputs' must be a list of input names"),
    (PAIR.replace("inputs: [x, skip]", "inputs: [x, skip]\n    params: [x]"), 4, "'x' is both an input and a parameter"),
    (PAIR.replace("outputs: [sum, prod]", "outputs: [sum, prod]\n    output: sum"), 5,
     "give 'output' (one) or 'outputs' (several), not both"),
    (PAIR.replace("outputs: [sum, prod]", "outputs: [zzz.*]") + "  - {op: pair, name: p, in: [a, input]}\n", 5,
     "unknown input 'zzz'"),
    (PAIR.replace("outputs: [sum, prod]", "outputs: [sum, prod]\n    params: [{n: 0}]").replace(
        "name: prod, in: [x, skip]}", "name: prod, in: [x, skip], repeat: n}").replace("[sum, prod]", "[prod.*]")
     + "  - {op: pair, name: p, in: [a, input]}\n", 5, "the outputs of block 'pair' (prod.*) name no layer"),
])
def test_v3_mistakes_are_located(text, line, fragment, tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["table", str(path)])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr, result.stderr
    assert result.stderr.startswith(f"{path}:{line}:"), result.stderr
    assert "Traceback" not in result.output


# ---- the lowering builds the same network --------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("name", ["c2f_demo", "dense_demo", "ports_demo", "recursive_demo", "share_demo", "dfl_demo",
                                  "attention_demo", "vit_block"])
def test_the_examples_lower_to_pytorch_with_the_same_params_and_shapes(name):
    torch = pytest.importorskip("torch")
    from cnncalc.api import load_graph
    from cnncalc.pytorch.lowering import to_module

    graph, _ = load_graph(DOC_SPECS[name])
    report = cnncalc.analyze(DOC_SPECS[name])
    module = to_module(graph).eval()
    assert sum(p.numel() for p in module.parameters()) == report.totals.params
    with torch.no_grad():
        out = module(torch.zeros((1, *graph.input_shape)))
    outs = out if isinstance(out, (tuple, list)) else (out,)
    assert [tuple(o.shape[1:]) for o in outs] == [shape for _, shape in report.outputs]


@pytest.mark.torch
@pytest.mark.peers
@pytest.mark.parametrize("name", ["c2f_demo", "dense_demo", "ports_demo", "recursive_demo", "share_demo", "dfl_demo",
                                  "attention_demo", "vit_block"])
def test_verify_matches_every_layer_of_the_examples(name, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    path = tmp_path / f"{name}.yaml"
    path.write_text(DOC_SPECS[name], encoding="utf-8")
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "layers match PyTorch" in result.stdout


@pytest.mark.torch
def test_an_exported_shared_module_is_registered_once(tmp_path):
    torch = pytest.importorskip("torch")
    import importlib.util

    spec_path, target = tmp_path / "share_demo.yaml", tmp_path / "share_demo.py"
    spec_path.write_text(DOC_SPECS["share_demo"], encoding="utf-8")
    result = runner.invoke(app, ["export", str(spec_path), "--to", "pytorch", "-o", str(target)])
    assert result.exit_code == 0, result.output
    source = target.read_text(encoding="utf-8")
    # one module, registered once, called twice (by head and by head_again)
    assert source.count("self.head = nn.Conv2d(8, 8, kernel_size=3, padding=1)") == 1
    assert "head_again = self.head(down)" in source and source.count("self.head(") == 2
    module_spec = importlib.util.spec_from_file_location("share_demo", target)
    loaded = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    module_spec.loader.exec_module(loaded)  # type: ignore[union-attr]
    model = loaded.ShareDemo().eval()
    assert sum(p.numel() for p in model.parameters()) == 584  # head's 8*8*9 + 8, once
    assert tuple(model(torch.zeros(1, 8, 16, 16)).shape) == (1, 8, 8, 8)


def test_the_table_writes_a_dense_block_compactly():
    """densenet121 piped: each layer's cat reads the block's input and the copies before it; four or more equal
    channel counts are written once (256 + 24 × 32 = 1,024), a run of three or more copies as a range."""
    result = runner.invoke(app, ["table", "densenet121"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith(" ") and line.split()}
    assert rows["denseblock3.cat"].split()[1:5] == ["transition2.pool,", "denselayer.0-23.conv2", "256+24×32", "14"]
    assert rows["denseblock1.denselayer.1.cat"].split()[1:4] == ["pool0,", "denselayer.0.conv2", "64+32"]
    # two copies are named one by one, three make a range; three equal channel counts stay written out
    assert rows["denseblock1.denselayer.2.cat"].split()[1:5] == ["pool0,", "denselayer.0.conv2,",
                                                                "denselayer.1.conv2", "64+32+32"]
    assert rows["denseblock1.denselayer.3.cat"].split()[1:4] == ["pool0,", "denselayer.0-2.conv2", "64+32+32+32"]
    assert rows["denseblock1.denselayer.4.cat"].split()[3] == "64+4×32"
    explained = runner.invoke(app, ["explain", "densenet121", "-l", "denseblock4.cat"])
    assert "denseblock4.cat (concat): 512×7×7 + 16 × (32×7×7) → 1024×7×7" in explained.stdout
