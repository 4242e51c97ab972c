"""Blocks with several inputs and outputs in the lecture table, `--depth`, JSON, CSV, explain and
receptive fields: each output of a collapsed block is listed with its shape and field, inputs name
what the table shows at that depth, and the network's outputs are marked the same everywhere."""
from __future__ import annotations

import csv
import io
import json
import random

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.render.machine import to_csv, to_json

runner = CliRunner()

# docs/spec.md's example of a block with two inputs and two outputs
PORTS = """name: ports_demo
input: [8, 16, 16]
blocks:
  pair:
    inputs: [x, skip]
    params: [c]
    outputs: [sum, prod]
    layers:
      - {op: conv, name: proj, in: x, out: c, kernel: 1}
      - {op: add, name: sum, in: [proj, skip]}
      - {op: mul, name: prod, in: [proj, skip]}
  gather:
    inputs: [parts*]
    layers:
      - {op: concat, name: cat, in: [parts.*]}
      - {op: conv, name: mix, out: 8 * in_count, kernel: 1}
layers:
  - {op: conv, name: a, out: 8, kernel: 3, pad: 1}
  - {op: pair, name: p, in: [a, input], c: 8}
  - {op: gather, name: g, in: [p.*, a]}
outputs: [g, p.prod]
"""


@pytest.fixture
def ports(tmp_path):
    path = tmp_path / "ports_demo.yaml"
    path.write_text(PORTS)
    return str(path)


def by_name(report):
    return {row.name: row for row in report.rows}


def test_a_collapsed_block_lists_every_output_and_readers_name_its_ports(ports):
    report = cnncalc.analyze(ports).collapse(1)
    rows = by_name(report)
    assert list(rows) == ["a", "p", "g"]
    p = rows["p"]
    assert [(port.name, port.layer, port.shape) for port in p.ports] == [
        ("p.sum", "p.sum", (8, 16, 16)), ("p.prod", "p.prod", (8, 16, 16))]
    assert p.inputs == ("a", "input") and p.output_shape == (8, 16, 16)
    # proj's 8·8 + 8 = 72 parameters; three 8×16×16 float32 outputs: 3 · 8 · 16 · 16 · 4 = 24,576 bytes
    assert (p.params, p.memory_bytes) == (72, 24576)
    assert rows["g"].inputs == ("p.sum", "p.prod", "a")  # not p's inner layers, and each port by name
    assert report.outputs == (("g", (24, 16, 16)), ("p.prod", (8, 16, 16)))
    assert rows["a"].ports == () and len(rows["a"].outputs) == 1


def test_the_table_shows_a_line_per_output_under_its_block(ports):
    result = runner.invoke(app, ["table", ports, "--depth", "1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    block = next(index for index, line in enumerate(lines) if line.startswith(" p "))
    # the block's line: its inputs (a and the network's input, 8 + 8 channels at 16×16) and its
    # totals, no output; then one line per output with its channels and size
    assert lines[block].split() == ["p", "a,", "input", "8+8", "16", "24", "0.07", "0.02"]
    assert lines[block + 1].split() == ["\u2192", "sum", "8", "16"]
    assert lines[block + 2].split() == ["\u2192", "prod", "8", "16"]
    assert lines[block + 3].split()[:4] == ["g", "p.sum,", "p.prod,", "a"]
    assert "outputs:           g 24\u00d716\u00d716, p.prod 8\u00d716\u00d716" in lines


C2F = """input: [16, 32, 32]
blocks:
  c2f:
    params: [c, {n: 2}]
    layers:
      - {op: conv, name: cv1, out: 2 * c, kernel: 1}
      - {op: split, name: y0, index: 0}
      - {op: split, name: y1, in: cv1, index: 1}
      - {op: conv, name: m, out: c, kernel: 3, pad: 1, repeat: n}
      - {op: concat, name: cat, in: [y0, y1, m.*]}
      - {op: conv, name: cv2, out: c, kernel: 1}
layers:
  - {op: c2f, name: block, c: 8}
  - {op: conv, name: side, in: block.m.0, out: 4, kernel: 1}
outputs: [block, side]
"""


def test_a_layer_read_from_outside_a_block_is_one_of_its_outputs():
    rows = by_name(cnncalc.analyze(C2F).collapse(1))
    block = rows["block"]
    # side reads the first bottleneck inside the C2f: it becomes an output of the row, in the
    # block's order; the block's own output (cv2) is what the row's name stands for
    assert [port.name for port in block.ports] == ["block.m.0", "block.cv2"]
    # fields: m.0 = cv1's 1 + (3 - 1)·1 = 3; cv2 = m.1's 3 + 2 = 5 (the largest of the concat's), 1×1 keeps it
    assert [port.receptive_field[0].size for port in block.ports] == [3, 5]
    assert block.receptive_field[0].size == 5 and rows["side"].inputs == ("block.m.0",)
    depth2 = by_name(cnncalc.analyze(C2F).collapse(2))["block.m"]  # the repeat: each copy read after it
    assert [port.name for port in depth2.ports] == ["block.m.0", "block.m.1"]


def test_markdown_and_the_notebook_show_the_same_lines(ports):
    report = cnncalc.analyze(ports, depth=1)
    markdown = report._repr_markdown_().splitlines()
    assert "| \u2192 prod |  |  |  |  |  |  |  | 8 | 16 |  |  |  |" in markdown
    html = report._repr_html_()
    # a, p, its two outputs, g: five body rows (and the header and totals rows)
    assert html.count("<tr>") == 7 and '<td style="text-align:left">\u2192 prod</td>' in html


def test_json_and_csv_list_every_output_and_name_the_same_inputs(ports):
    report = cnncalc.analyze(ports).collapse(1)
    layers = {layer["name"]: layer for layer in json.loads(to_json(report))["layers"]}
    assert [(port["name"], port["output_shape"], port["receptive_field"]) for port in layers["p"]["outputs"]] == [
        ("p.sum", [8, 16, 16], [3, 3]), ("p.prod", [8, 16, 16], [3, 3])]  # proj reads a's 3×3 field
    assert layers["g"]["inputs"] == ["p.sum", "p.prod", "a"] and "outputs" not in layers["g"]
    assert layers["g"]["input_shapes"] == [[8, 16, 16]] * 3 and "input_shapes" not in layers["a"]
    assert json.loads(to_json(report))["outputs"] == [{"name": "g", "shape": [24, 16, 16]},
                                                      {"name": "p.prod", "shape": [8, 16, 16]}]
    rows = {row["layer"]: row for row in csv.DictReader(io.StringIO(to_csv(report)))}
    assert rows["p"]["outputs"] == "p.sum:8x16x16;p.prod:8x16x16" and rows["p"]["network_output"] == "p.prod"
    assert rows["g"]["inputs"] == "p.sum;p.prod;a" and rows["g"]["network_output"] == "g"
    assert rows["a"]["outputs"] == "" and rows["a"]["network_output"] == ""


def test_the_full_table_marks_outputs_that_are_not_the_last_row(ports):
    report = cnncalc.analyze(ports)
    rows = {row["layer"]: row for row in csv.DictReader(io.StringIO(to_csv(report)))}
    assert rows["g.mix"]["network_output"] == "g.mix" and rows["p.prod"]["network_output"] == "p.prod"
    result = runner.invoke(app, ["table", ports])
    assert "outputs:           g.mix 24\u00d716\u00d716, p.prod 8\u00d716\u00d716" in result.stdout.splitlines()
    plain = runner.invoke(app, ["table", "alexnet"])  # one output, the last row: nothing to add
    assert not any(line.startswith("outputs:") for line in plain.stdout.splitlines())


def test_explain_names_each_output_of_a_block(ports):
    result = runner.invoke(app, ["explain", ports, "--layer", "p"])
    assert result.exit_code == 0, result.output
    assert "p (pair): 8\u00d716\u00d716 + 8\u00d716\u00d716 \u2192 sum 8\u00d716\u00d716, prod 8\u00d716\u00d716" \
        in result.stdout.splitlines()
    # each output's field: a's 3×3 conv, then proj's 1×1: 3 + (1 - 1)·1 = 3, jump 1·1 = 1
    assert "  receptive field of prod = 3×3  (jump 1×1, centre 0×0)" in result.stdout.splitlines()
    resnet = runner.invoke(app, ["explain", "resnet18", "--layer", "layer1"]).stdout.splitlines()
    # a block with one output: its field, 43 = conv1's 7 + pool's 2·2 + four 3×3 convs' 4·2·4, jump 2·2 = 4
    assert "  receptive field = 43×43  (1.out's; jump 4×4, centre 0×0)" in resnet
    data = json.loads(runner.invoke(app, ["explain", ports, "--layer", "p", "--format", "json"]).stdout)
    block = next(item for item in data["layers"] if item["name"] == "p")
    assert block["outputs"] == [{"name": "p.sum", "shape": [8, 16, 16]}, {"name": "p.prod", "shape": [8, 16, 16]}]


def test_hrnet_modules_by_depth():
    report = cnncalc.analyze("hrnet_w18_small").collapse(1)
    rows = by_name(report)
    # the branches run at 224/4, /8, /16 = 56, 28, 14 pixels with 16, 32, 64 channels
    stage3 = rows["stage3"]
    assert stage3.inputs == ("transition2_0", "transition2_1", "transition2_2")
    assert [(port.name, port.shape) for port in stage3.ports] == [
        ("stage3.fuse.0", (16, 56, 56)), ("stage3.fuse.1", (32, 28, 28)), ("stage3.fuse.2", (64, 14, 14))]
    # timm's transitions read stage 2's outputs by name: branch 0 and 1 kept, branch 2 from branch 1
    assert [rows[f"transition2_{k}"].inputs for k in range(3)] == [
        ("stage2.fuse.0",), ("stage2.fuse.1",), ("stage2.fuse.1",)]
    # the head widens each branch by a bottleneck (4 copies read one by one): 4·32, 4·64, 4·128, 4·256
    assert [(port.name, port.shape[0]) for port in rows["incre"].ports] == [
        ("incre.0", 128), ("incre.1", 256), ("incre.2", 512), ("incre.3", 1024)]
    assert rows["y1"].inputs == ("incre.1", "down0")
    # at depth 2 a repeat of blocks is a row, and each copy one of its outputs
    fuse = by_name(cnncalc.analyze("hrnet_w18_small").collapse(2))["stage2.fuse"]
    assert [port.name for port in fuse.ports] == ["stage2.fuse.0", "stage2.fuse.1"]
    line = next(line for line in runner.invoke(app, ["table", "hrnet_w18_small", "-d", "1"]).stdout.splitlines()
                if line.startswith(" stage3 "))
    assert line.split()[4:6] == ["16+32+64", "56+28+14"]  # each input's channels and size


def test_yolov8_detect_reads_the_blocks_at_depth_one_in_every_format():
    report = cnncalc.analyze("yolov8").collapse(1)
    rows = {row["layer"]: row for row in csv.DictReader(io.StringIO(to_csv(report)))}
    assert rows["m22"]["inputs"] == "m15;m18;m21"  # C2f blocks, not their inner layers (m15.cv2.act)
    assert rows["m22"]["network_output"] == "m22"
    layers = {layer["name"]: layer for layer in json.loads(to_json(report))["layers"]}
    # 64, 128, 256 channels at 640/8, /16, /32 = 80, 40, 20; 8400 = 80² + 40² + 20² anchors of 4 + 80 values
    assert layers["m22"]["input_shapes"] == [[64, 80, 80], [128, 40, 40], [256, 20, 20]]
    assert layers["m22"]["output_shape"] == [84, 8400]
    line = next(line for line in runner.invoke(app, ["table", "yolov8", "-d", "1"]).stdout.splitlines()
                if line.startswith(" m22 "))
    # a tensor of two axes is shown whole under C_out, H'/W' blank (tests/test_token_tables.py)
    assert line.split()[4:7] == ["64+128+256", "80+40+20", "84×8400"]


# ---- receptive fields of each output, brute-force checked --------------------------------------

def reads(layers: list[tuple[int, int, int, int]], position: int) -> set[int]:
    """The input positions that output `position` reads through a chain of windows (K, S, P, D)."""
    positions = {position}
    for kernel, stride, pad, dilation in reversed(layers):
        positions = {p * stride - pad + t * dilation for p in positions for t in range(kernel)}
    return positions


def brute_force(layers: list[tuple[int, int, int, int]]) -> tuple[int, int, float]:
    """(size, jump, centre) of output 0's field along one axis (tests/test_receptive_field.py's)."""
    first, second = reads(layers, 0), reads(layers, 1)
    return max(first) - min(first) + 1, min(second) - min(first), (max(first) + min(first)) / 2


def random_chain(rng: random.Random, count: int, size: int) -> tuple[list[str], list[tuple], list[tuple], int]:
    """YAML layers, their windows along H and W, and the height after them: convs, pools, and crops
    along H, which read position p + start (a window K=1, S=1, P=-start): a slice `start:`, or the
    second half of a split (start = the first half's size)."""
    yaml, height, width = [], [], []
    for _ in range(count):
        if rng.random() < 0.3:
            start = rng.randint(1, 3) if rng.random() < 0.5 or size % 2 else size // 2
            yaml.append(f"{{op: slice, dim: 2, start: {start}}}" if start != size // 2 or size % 2 else
                        "{op: split, dim: 2, index: 1}")
            height.append((1, 1, -start, 1))
            size -= start
            continue
        kernel, stride, dilation = rng.choice([1, 2, 3, 5]), rng.choice([1, 1, 2]), rng.choice([1, 1, 2])
        pad = rng.randint(0, (dilation * (kernel - 1)) // 2)
        op = rng.choice(["conv", "maxpool"]) if dilation == 1 else "conv"
        extra = (", out: 2" if op == "conv" else "") + (f", dilation: {dilation}" if dilation > 1 else "")
        yaml.append(f"{{op: {op}, kernel: {kernel}, stride: {stride}, pad: {pad}{extra}}}")
        height.append((kernel, stride, pad, dilation))
        width.append((kernel, stride, pad, dilation))
        size = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    return yaml, height, width, size


@pytest.mark.parametrize("seed", range(15))
def test_each_output_of_a_block_has_its_own_brute_forced_field(seed):
    """A block with a shared trunk and three outputs, each after a branch of its own; every output's
    field at --depth 1 (and in JSON) is the one found by enumerating the input positions it reads."""
    rng = random.Random(seed)
    trunk, trunk_h, trunk_w, size = random_chain(rng, rng.randint(1, 3), 400)
    branches = [random_chain(rng, rng.randint(1, 3), size) for _ in range(3)]
    layers = [f"      - {{name: t{k}, {text[1:]}\n" for k, text in enumerate(trunk)]
    for b, (yaml, _, _, _) in enumerate(branches):
        previous = f"t{len(trunk) - 1}"
        for k, text in enumerate(yaml):
            layers.append(f"      - {{name: b{b}_{k}, in: {previous}, {text[1:]}\n")
            previous = f"b{b}_{k}"
    outputs = [f"b{b}_{len(yaml) - 1}" for b, (yaml, _, _, _) in enumerate(branches)]
    spec = ("input: [2, 400, 400]\nblocks:\n  heads:\n    outputs: [" + ", ".join(outputs) + "]\n    layers:\n"
            + "".join(layers) + "layers:\n  - {op: heads, name: h}\noutputs: [h.*]\n")
    report = cnncalc.analyze(spec).collapse(1)
    (row,) = report.rows
    assert [port.name for port in row.ports] == [f"h.{name}" for name in outputs]
    assert [port.shape[1] for port in row.ports] == [height for _, _, _, height in branches]
    dumped = json.loads(to_json(report))["layers"][0]["outputs"]
    for port, entry, (_, height, width, _) in zip(row.ports, dumped, branches):
        for axis, windows, index in ((port.receptive_field[0], trunk_h + height, 0),
                                     (port.receptive_field[1], trunk_w + width, 1)):
            size, jump, centre = brute_force(windows)
            assert (axis.size, axis.jump, axis.start) == (size, jump, centre), spec
            assert (entry["receptive_field"][index], entry["jump"][index], entry["rf_start"][index]) == \
                (size, jump, centre)


def test_a_split_along_h_or_w_is_a_crop_of_the_field():
    rows = by_name(cnncalc.analyze("""input: [1, 10, 10]
layers:
  - {op: conv, name: conv, out: 2, kernel: 3}
  - {op: split, name: lower, dim: 2, index: 1}
  - {op: split, name: right, in: conv, dim: 3, sizes: [3, 5], index: 1}
  - {op: split, name: second, in: conv, index: 1}
"""))
    # the conv: r = 3, j = 1, centre c = 0 + (3 - 1)/2 - 0 = 1; its 8×8 output
    # lower half of H: it starts at row 8/2 = 4, so the centre moves to 1 + 4·1 = 5 along H only
    height, width = rows["lower"].receptive_field
    assert (height.size, height.jump, height.start, width.start) == (3, 1, 5, 1)
    # W's part after the first 3 columns: centre 1 + 3·1 = 4 along W
    height, width = rows["right"].receptive_field
    assert (height.start, width.size, width.start) == (1, 3, 4)
    assert rows["second"].receptive_field == rows["conv"].receptive_field  # channels: the same positions


def test_fields_past_a_reshape_or_a_concat_along_positions_stay_unknown():
    # Detect's output concatenates the three levels' 80², 40², 20² anchors: no position of the image
    rows = by_name(cnncalc.analyze("yolov8").collapse(1))
    assert rows["m22"].receptive_field is None and rows["m21"].receptive_field is not None
    layer = next(layer for layer in json.loads(to_json(cnncalc.analyze("yolov8").collapse(1)))["layers"]
                 if layer["name"] == "m22")
    assert "receptive_field" not in layer


# ---- export: blocks with ports are written out where they are used ------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("text", [PORTS, "name: c2f_demo\n" + C2F, """name: recursive_demo
input: [8, 16, 16]
blocks:
  tree:
    params: [levels, c]
    layers:
      - {op: tree, name: left, levels: levels - 1, c: c, when: levels > 1}
      - {op: tree, name: right, levels: levels - 1, c: c, when: levels > 1}
      - {op: conv, name: left, out: c, kernel: 3, pad: 1, when: levels == 1}
      - {op: conv, name: right, out: c, kernel: 3, pad: 1, when: levels == 1}
      - {op: concat, name: root, in: [left, right]}
layers:
  - {op: tree, name: t, levels: 3, c: 4}
"""], ids=["ports", "collect_all", "recursive"])
def test_export_writes_blocks_with_ports_and_recursion_as_the_flat_file(tmp_path, text):
    """These used to fail with a KeyError or an AttributeError; the file now builds the flat file's
    modules and computes its outputs, every one of them."""
    torch = pytest.importorskip("torch")
    from cnncalc.api import load_graph
    from cnncalc.pytorch.export import flat_source, pytorch_source

    graph, _ = load_graph(text)
    models = []
    for kind, source in (("idiomatic", pytorch_source(graph, "spec")), ("flat", flat_source(graph, "spec"))):
        namespace: dict = {}
        path = tmp_path / f"{kind}.py"
        path.write_text(source)
        exec(compile(source, str(path), "exec"), namespace)
        classes = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, torch.nn.Module)]
        models.append(classes[-1]().eval())
    idiomatic, flat = models
    idiomatic.load_state_dict(flat.state_dict(), strict=True)
    x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, expected = idiomatic(x), flat(x)
    got, expected = (got if isinstance(got, tuple) else (got,)), (expected if isinstance(expected, tuple) else (expected,))
    assert len(got) == len(expected) == len(graph.outputs)
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
    assert [tuple(t.shape[1:]) for t in got] == [graph.shape_of(name) for name in graph.outputs]
