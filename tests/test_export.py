"""`cnncalc export`: the idiomatic PyTorch file (a class per block) and the flat one load the weights of
the torchvision model a zoo spec declares (strict) and reproduce its outputs; module paths in specs;
ONNX through the dynamo exporter, checked by onnx.checker and onnxruntime."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.pytorch.export import flat_source, pytorch_source
from cnncalc.spec.bundled import bundled_specs, resolve
from cnncalc.spec.graph import build
from cnncalc.spec.spec import load_spec, parse_spec

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch"),  # every test: skipped without PyTorch
              pytest.mark.filterwarnings("ignore:The default weight initialization:FutureWarning")]

runner = CliRunner()


def _declared() -> dict[str, dict]:
    found = {}
    for name, path in bundled_specs().items():
        try:
            spec = load_spec(path)
        except Exception:
            continue
        if spec.torchvision:
            found[name] = spec.torchvision
    return found


DECLARED = _declared()
# Why a torchvision model cannot take its weights (docs/export.md says the same)
UNMATCHED = {"convnext_tiny": "torchvision's CNBlock has nn.Linear pointwise layers on a channels-last tensor (weights "
                              "[out, in]) where the spec has 1x1 convs, keeps layer_scale as a bare parameter, and numbers "
                              "two Permute modules in `block`"}


def load_exported(tmp_path, name: str, source: str, meta: bool = False):
    """The model class of an exported file (the last one), built; on the meta device: no initialisation."""
    import torch

    path = tmp_path / f"{name}.py"
    path.write_text(source)
    module_spec = importlib.util.spec_from_file_location(f"exported_{name}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == module.__name__]
    with torch.device("meta" if meta else "cpu"):
        return classes[-1]().eval()  # the model's class comes last


def reference(declared: dict):
    """The torchvision model with random weights and statistics (BN's running means and variances too, so a
    wrong eps or a statistic in the wrong place shows), drawn faster than torchvision's initialisation."""
    import torch

    torchvision = pytest.importorskip("torchvision")
    builder = torchvision.models.get_model_builder(declared["model"])
    try:
        with torch.device("meta"):
            model = builder(weights=None, **declared["kwargs"])
        model = model.to_empty(device="cpu")
    except NotImplementedError:  # RegNet computes its widths with tensor.tolist(), which meta tensors refuse
        model = builder(weights=None, **declared["kwargs"])
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, value in model.state_dict(keep_vars=True).items():
            if not value.is_floating_point():
                value.zero_()  # num_batches_tracked
            elif key.endswith("running_var") or (value.dim() == 1 and key.endswith("weight")):
                value.uniform_(0.5, 1.5, generator=generator)
            elif value.dim() > 1:  # variance 1 / fan_in keeps the activations of deep nets in range
                value.uniform_(-1.0, 1.0, generator=generator).mul_((3 / value[0].numel()) ** 0.5)
            else:
                value.uniform_(-0.1, 0.1, generator=generator)
    return model.eval()


def first(output):
    if isinstance(output, dict):  # torchvision's segmentation models: {'out': scores}, the spec's output
        return output["out"]
    return output[0] if isinstance(output, tuple) else output


def assert_loads_and_agrees(model, ref, shape):
    """`model` (built on the meta device) takes `ref`'s state_dict strictly and gives its outputs to 1e-5."""
    import torch

    model.load_state_dict(ref.state_dict(), strict=True, assign=True)
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = first(ref(x)), first(model(x))
    assert expected.abs().max() > 0.1  # outputs that vanish would agree whatever the weights
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)


def computes_as_flat(tmp_path, graph, name: str, source: str) -> None:
    """The idiomatic file's model registers the flat file's modules (names and shapes), takes its weights
    strictly and computes its outputs, bit for bit."""
    import torch

    idiomatic = load_exported(tmp_path, f"{name}_i", source)
    flat = load_exported(tmp_path, f"{name}_f", flat_source(graph, name))
    shapes = {key: tuple(value.shape) for key, value in flat.state_dict().items()}
    assert {key: tuple(value.shape) for key, value in idiomatic.state_dict().items()} == shapes
    idiomatic.load_state_dict(flat.state_dict(), strict=True)
    x = torch.randn(2, *graph.input_shape)
    with torch.no_grad():
        assert torch.equal(idiomatic(x), flat(x))


FLAT_OUTPUTS = {"googlenet", "mobilenet_v2"}  # the flat file's outputs too (for the others: it loads the weights)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DECLARED))
def test_torchvision_spec_exports_as_classes_that_load_its_weights(tmp_path, name):
    """One pass per torchvision spec: the file is classes and loops (no block written out where it is used, no
    repeat copy by copy, never the flat fallback); it loads the torchvision model's state_dict strictly and
    reproduces its outputs; so does the flat file's model (the strict load for each, outputs for some)."""
    from cnncalc.pytorch.codegen import Generator
    from cnncalc.pytorch.export import idiomatic_source

    graph = build(load_spec(resolve(name)[0]))
    generator = Generator(graph)
    generator.write()  # raises NotIdiomatic where the file would be flat
    assert (generator.why, generator.written_out(), generator.unrolled) == ({}, [], set())
    ref = reference(DECLARED[name])
    model = load_exported(tmp_path, name, idiomatic_source(graph, name), meta=True)
    flat = load_exported(tmp_path, f"{name}_flat", flat_source(graph, name), meta=True)
    if name in UNMATCHED:
        for built in (model, flat):
            with pytest.raises(RuntimeError, match=r"Unexpected key\(s\) in state_dict: .*block\.3\.weight"):
                built.load_state_dict(ref.state_dict(), strict=True, assign=True)
        return
    assert_loads_and_agrees(model, ref, graph.input_shape)
    flat.load_state_dict(ref.state_dict(), strict=True, assign=True)
    if name in FLAT_OUTPUTS:
        assert_loads_and_agrees(flat, ref, graph.input_shape)


TWO_OUTPUTS = """
input: [3, 16, 16]
blocks:
  trunk:
    outputs: [c2, c1]
    layers:
      - {op: conv, name: c1, out: 4, kernel: 3, pad: 1, module: "#"}
      - {op: conv, name: c2, out: 8, kernel: 3, stride: 2, pad: 1, module: "#"}
layers:
  - {op: trunk, name: body}
  - {op: upsample, name: up, in: body, scale: 2}
  - {op: concat, in: [up, body.c1]}
"""


def test_a_chain_that_returns_several_outputs_is_no_sequential(tmp_path):
    """nn.Sequential's forward returns its last module's output only: a block whose numbered layers feed each
    other but that returns two of them is written out where it is used (it was `class Trunk(nn.Sequential)`,
    and `c2, c1 = self.body(x)` failed to unpack)."""
    graph = build(parse_spec(TWO_OUTPUTS, "two.yaml"))
    source = pytorch_source(graph, "two")
    assert "class Trunk(nn.Sequential)" not in source
    computes_as_flat(tmp_path, graph, "two", source)


BRANCHES = """
input: [8, 9, 9]
blocks:
  branches:                     # ASPP's shape: a numbered container of branches that all read the input
    layers:
      - {op: conv, name: a, in: input, out: 4, kernel: 1, module: convs.0}
      - {op: conv, name: b, in: input, out: 4, kernel: 3, pad: 2, dilation: 2, module: convs.1}
      - {op: concat, in: [a, b]}
      - {op: conv, name: project, out: 8, kernel: 1}
layers:
  - {op: branches, name: aspp, repeat: 2}
"""


def test_a_numbered_container_of_branches_is_called_entry_by_entry(tmp_path):
    from cnncalc.pytorch.codegen import Generator

    graph = build(parse_spec(BRANCHES, "branches.yaml"))
    generator = Generator(graph)
    generator.write()
    assert (generator.why, generator.written_out()) == ({}, [])
    source = pytorch_source(graph, "branches")
    assert "class Branches(nn.Module):" in source
    assert "        a = self.convs[0](x)\n        b = self.convs[1](x)\n" in source
    computes_as_flat(tmp_path, graph, "branches", source)


def test_resnet18_reads_like_torchvision(tmp_path):
    source = pytorch_source(build(load_spec(resolve("resnet18")[0])), "resnet18")
    assert "class Basic(nn.Module):\n    def __init__(self, in_channels, c, stride=1, proj=False):" in source
    assert "        if proj:\n            self.downsample = nn.Sequential(" in source
    assert "        add1 = bn2.add_(downsample)\n" in source  # the sum is written out (in place), not a module
    assert "self.layer1 = nn.Sequential(*[Basic(64, c=64) for _ in range(2)])" in source
    # a lone copy after a different first one is written as it is, not as a loop of one
    assert "self.layer2 = nn.Sequential(\n            Basic(64, c=128, stride=2, proj=True), Basic(128, c=128)\n" in source
    assert "layer1 = self.layer1(maxpool)" in source
    # 11,689,512 parameters: torchvision's resnet18. Multiply-adds (textbook convention, pooling counted):
    # convs + fc 1,814,073,344 + maxpool 64*56*56*9 = 1,806,336 + global average pool 512*7*7 = 25,088
    assert "11,689,512 parameters, 1,815,904,768\nmulti" in source  # the docstring wraps at 88 columns
    imports = [line for line in source.splitlines() if line.startswith(("import", "from"))]
    assert imports == ["from torch import nn"]
    assert "class Add" not in source  # no helper module is needed


@pytest.mark.parametrize(("name", "excerpts"), [
    ("resnet50", ["class Bottleneck(nn.Module):\n    def __init__(self, in_channels, planes, stride=1):\n"
                  "        super().__init__()\n        proj = stride != 1 or in_channels != 4 * planes\n"
                  "        width = int(planes * WIDTH_PER_GROUP / 64) * GROUPS\n",
                  "GROUPS = 1\nWIDTH_PER_GROUP = 64\n",
                  "            Bottleneck(64, planes=64), *[Bottleneck(256, planes=64) for _ in range(2)]\n",
                  "            Bottleneck(512, planes=256, stride=2),\n"
                  "            *[Bottleneck(1024, planes=256) for _ in range(5)],\n"]),
    ("densenet121", ["class DenseLayer(nn.Module):\n    def __init__(self, in_channels):\n",
                     "    def forward(self, *features):\n        cat = torch.cat(features, dim=1)\n",
                     "class DenseBlock(nn.Module):\n    def __init__(self, in_channels, n):\n"
                     "        super().__init__()\n        for i in range(n):\n"
                     '            self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels + i * GROWTH))\n',
                     "    def forward(self, x):\n        denselayer = []\n        for layer in self.children():\n"
                     "            denselayer.append(layer(x, *denselayer))\n"
                     "        cat = torch.cat([x, *denselayer], dim=1)\n        return cat\n",
                     "        self.features.denseblock3 = DenseBlock(256, n=24)\n"]),
    ("regnet_y_400mf", ['        self.trunk_output.block3.add_module("block3-0", YBlock(104, w=208, stride=2))\n'
                        "        for i in range(1, 6):\n"
                        '            self.trunk_output.block3.add_module(f"block3-{i}", YBlock(208, w=208))\n',
                        "                groups=w_b // GROUP_WIDTH,\n"]),
    ("vgg16_bn", ["def conv_bn(in_channels, c):\n    return [\n",
                  "def stage(in_channels, c, n):\n    layers = []\n    layers += conv_bn(in_channels, c=c)\n"
                  "    for _ in range(n - 1):\n        layers += conv_bn(c, c=c)\n"
                  "    layers.append(nn.MaxPool2d(2, stride=2))\n    return layers\n",
                  "            *stage(3, c=64, n=2),\n"]),
    ("shufflenet_v2_x1_0", ["class Branch1(nn.Sequential):\n    def __init__(self, in_channels, out, stride):\n"
                            "        super().__init__(\n",
                            "*[ShuffleUnit(232, c=232) for _ in range(7)],\n"]),
    ("mobilenet_v3_large", ["                    nn.Hardswish(inplace=True) if hs else nn.ReLU(inplace=True),\n",
                            "        if se:\n            block.append(Se(e, squeeze=make_divisible(e // 4, 8)))\n",
                            "        self.use_add = stride == 1 and in_channels == out\n",
                            "        add = block.add_(x) if self.use_add else block\n",
                            "def make_divisible(value, divisor=8, min_value=None):\n"  # the spec's guards left out
                            '    """MobileNet\'s rounding: the nearest multiple of `divisor`, not below 90% of\n'
                            '    `value`."""\n    if min_value is None:\n']),
])
def test_exported_files_read_like_hand_written_pytorch(name, excerpts):
    source = pytorch_source(build(load_spec(resolve(name)[0])), name)
    for excerpt in excerpts:
        assert excerpt in source


@pytest.mark.parametrize("name", ["alexnet", "resnet18"])
def test_golden_exported_files(golden, name):
    golden(f"{name}.export.py", pytorch_source(build(load_spec(resolve(name)[0])), name))


RUFF_FAST = {"alexnet", "resnet50", "mobilenet_v2", "googlenet", "vgg16_bn", "efficientnet_b0", "densenet121", "dla34",
             "hrnet_w18_small"}
EXPORTABLE = sorted(name for name in bundled_specs() if not name.startswith("lecture/"))  # those are symbolic


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("name", [name if name in RUFF_FAST else pytest.param(name, marks=pytest.mark.slow)
                                  for name in EXPORTABLE])
def test_ruff_format_leaves_the_exported_file_unchanged_and_lines_fit_88_columns(tmp_path, name):
    """Every zoo spec's file is as ruff format writes it, and ruff's E501 at 88 columns (black's line length)
    passes: docstrings and the helper classes copied in included."""
    path = tmp_path / f"{name}.py"
    path.write_text(pytorch_source(build(load_spec(resolve(name)[0])), name))
    for command in (["format", "--isolated", "--check", "--diff"],
                    ["check", "--isolated", "--select", "E501", "--line-length", "88", "--output-format", "concise"]):
        result = subprocess.run([sys.executable, "-m", "ruff", *command, str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_export_cli_flat_and_idiomatic(tmp_path):
    idiomatic, flat = tmp_path / "a.py", tmp_path / "b.py"
    assert runner.invoke(app, ["export", "resnet18", "--to", "pytorch", "-o", str(idiomatic)]).exit_code == 0
    assert runner.invoke(app, ["export", "resnet18", "--to", "pytorch", "--flat", "-o", str(flat)]).exit_code == 0
    assert "class Basic(nn.Module)" in idiomatic.read_text()
    assert "self._add('layer2.0.downsample.0', nn.Conv2d(" in flat.read_text()


# ---- module paths ----------------------------------------------------------------------------------------
def _paths(text: str) -> dict[str, str]:
    from cnncalc.pytorch.naming import ModuleTree

    return {p.node.name: [path for path, _ in p.modules] for p in ModuleTree(build(parse_spec(text))).placed}


def test_module_paths_number_fused_activations_and_close_gaps():
    text = """input: [3, 8, 8]
blocks:
  unit:
    params: [c, {expand: true}]
    layers:
      - {op: conv, name: a, out: c, kernel: 1, module: body.0, when: expand}
      - {op: conv, name: b, out: c, kernel: 1, act: relu, module: body.1}
layers:
  - {op: conv, name: stem, out: 4, kernel: 3, act: relu, module: "features.#"}
  - {op: unit, name: u, c: 4, expand: false, repeat: 2, module: "features.#"}
  - {op: conv, name: head, out: 2, kernel: 1, module: "head{1 + 1}"}
"""
    assert _paths(text) == {
        "stem": ["features.0", "features.1"],          # the fused ReLU takes the next number
        "u.0.b": ["features.2.body.0", "features.2.body.1"],  # body.0 skipped: body.1 becomes body.0
        "u.1.b": ["features.3.body.0", "features.3.body.1"],  # '#' gives each copy its own number
        "head": ["head2"],
    }


@pytest.mark.parametrize(("module", "message"), [
    ("a", "module path 'a' is taken"),
    ("a.x", "module path 'a.x' collides with 'a'"),
    ("a.x.y", "module path 'a.x.y' collides with 'a'"),
    ("'x..y'", "'x..y' is not a module path"),
    ('"{nope}"', "in '{nope}': unknown variable 'nope'"),
    (".", "a layer of the model needs a name here"),  # a block's layer may: it is then the block's module
])
def test_bad_module_paths_are_located_errors(tmp_path, module, message):
    path = tmp_path / "net.yaml"
    path.write_text(f"input: [3, 8, 8]\nlayers:\n  - {{op: conv, name: a, out: 4, kernel: 1}}\n"
                    f"  - {{op: conv, name: b, out: 4, kernel: 1, module: {module}}}\n")
    result = runner.invoke(app, ["export", str(path), "--to", "pytorch", "-o", str(tmp_path / "x.py")])
    assert result.exit_code == 2
    assert message in result.stderr and "net.yaml:4:" in result.stderr and "Traceback" not in result.output


ONE_OR_SEQUENTIAL = """input: [4, 8, 8]
blocks:
  down:                      # timm's `nn.Identity() if ... else nn.Sequential(conv, bn)`
    params: [c]
    layers:
      - {op: identity, name: same, when: c == in_channels, module: .}
      - {op: conv, name: conv, out: c, kernel: 1, when: c != in_channels, module: 0}
      - {op: bn, name: bn, when: c != in_channels, module: 1}
layers:
  - {op: down, name: d0, c: 4, module: ds.0}
  - {op: down, name: d1, c: 8, module: ds.1}
  - {op: down, name: d2, c: 8, module: ds.2}
"""


def test_a_layer_with_module_dot_is_its_blocks_module(torch, tmp_path):
    # the identity holds its slot in `ds`, so the next entry keeps number 1 (no gap to close)
    assert _paths(ONE_OR_SEQUENTIAL) == {"d0.same": ["ds.0"], "d1.conv": ["ds.1.0"], "d1.bn": ["ds.1.1"],
                                         "d2.same": ["ds.2"]}
    graph = build(parse_spec(ONE_OR_SEQUENTIAL))
    model = load_exported(tmp_path, "one_or_sequential", pytorch_source(graph, "one_or_sequential"))
    assert [key for key in model.state_dict() if key.endswith("weight")] == ["ds.1.0.weight", "ds.1.1.weight"]
    assert isinstance(model.ds[0], torch.nn.Identity) and isinstance(model.ds[2], torch.nn.Identity)
    both = ONE_OR_SEQUENTIAL.replace("when: c == in_channels, ", "")  # then the identity and the conv collide
    with pytest.raises(cnncalc.InputError, match=re.escape("module path 'ds.1.0' collides with 'ds.1'")):
        cnncalc.analyze(both)


@pytest.mark.parametrize(("first", "second", "message"), [
    ("f.0", "f", "module path 'f' is taken"),  # a container of an earlier layer
    ("f.0", "f.0.1", "module path 'f.0.1' collides with 'f.0'"),
    ("f.0.1", "f.0.1", "module path 'f.0.1' is taken"),  # f.0 is a known container: the quick check
])
def test_a_layer_cannot_take_a_container_or_sit_in_a_layer(first, second, message):
    text = (f"input: [3, 8, 8]\nlayers:\n  - {{op: conv, name: a, out: 4, kernel: 1, module: {first}}}\n"
            f"  - {{op: conv, name: b, out: 4, kernel: 1, module: {second}}}\n")
    with pytest.raises(cnncalc.InputError, match=re.escape(message)):
        cnncalc.analyze(text)


# ---- ONNX ------------------------------------------------------------------------------------------------
def onnx_agrees_with_torch(proto_bytes: bytes, model, shape) -> list:
    """The ONNX model passes onnx.checker and onnxruntime gives torch's output to 1e-4; its nodes."""
    import torch

    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    proto = onnx.load_from_string(proto_bytes)
    onnx.checker.check_model(proto)
    x = torch.randn(1, *shape)
    with torch.no_grad():
        expected = first(model(x)).numpy()
    session = ort.InferenceSession(proto_bytes, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert abs(got - expected).max() <= 1e-4
    return list(proto.graph.node)


@pytest.mark.slow
def test_onnx_passes_the_checker_agrees_with_torch_and_names_nodes_by_layer():
    pytest.importorskip("onnxscript")  # the dynamo exporter; the TorchScript one names layers by their leaf only
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from cnncalc.pytorch.export import onnx_bytes
    from cnncalc.pytorch.lowering import to_module

    graph = build(load_spec(resolve("resnet18")[0]))
    model = to_module(graph)
    data = onnx_bytes(graph, model)
    nodes = onnx_agrees_with_torch(data, model, graph.input_shape)
    names = [node.name for node in nodes]
    assert names[:5] == ["/conv1/Conv", "/bn1/BatchNormalization", "/relu/Relu", "/maxpool/MaxPool",
                         "/layer1.0.conv1/Conv"]
    assert "/layer2.0.downsample_bn/BatchNormalization" in names and len(set(names)) == len(names)
    # batch norm is not folded into the convs: 20 of each, as in the spec (and in torchvision's resnet18)
    ops = [node.op_type for node in nodes]
    assert ops.count("Conv") == ops.count("BatchNormalization") == 20
    # the initializers are the model's own weights under its state_dict names
    weights = {item.name: numpy_helper.to_array(item) for item in onnx.load_from_string(data).graph.initializer}
    for key, value in model.state_dict().items():
        if key in weights:
            assert (weights[key] == value.numpy()).all(), key
    assert "layer4.1.bn2.running_var" in weights and "layer1.0.conv1.weight" in weights


SMALL = """input: [3, 16, 16]
layers:
  - {op: conv, name: conv, out: 8, kernel: 3, pad: 1, bias: false}
  - {op: bn, name: bn}
  - {op: relu, name: relu}
  - {op: gap, name: pool}
  - {op: flatten}
  - {op: fc, name: fc, out: 4}
"""


def test_onnx_without_onnxscript_uses_the_torchscript_exporter(monkeypatch):
    """The fallback keeps working: a valid graph that onnxruntime runs, batch norm folded into the conv."""
    from cnncalc.pytorch.export import onnx_bytes
    from cnncalc.pytorch.lowering import to_module

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # `import onnxscript` raises ImportError
    graph = build(parse_spec(SMALL))
    model = to_module(graph).eval()
    ops = [node.op_type for node in onnx_agrees_with_torch(onnx_bytes(graph, model), model, graph.input_shape)]
    assert "Conv" in ops and "BatchNormalization" not in ops


def test_onnx_without_onnx_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    result = runner.invoke(app, ["export", "googlenet_stem", "--to", "onnx", "-o", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2
    assert "ONNX export needs the onnx package" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "x.onnx").exists()


# ---- the idiomatic form builds the flat form's model ------------------------------------------------------
FEATURES = """name: features
input: [3, 16, 16]
vars: {growth: 4}
blocks:
  unit:                      # a repeat inside a class, each copy reading the one before; an optional BN
    params: [c, {n: 2}, {gate: false}, {wide: 2 * c}]
    layers:
      - {op: conv, name: conv, out: c + i * growth, kernel: 3, pad: 1, repeat: n, first: {stride: 2},
         module: "convs.{i}"}
      - {op: bn, name: bn, when: gate}
      - {op: conv, name: expand, out: wide, kernel: 1}
      - {op: relu, name: act}
  head:                      # numbered from 0 in each use, a layer skipped in one
    params: [c, {norm: true}]
    layers:
      - {op: conv, name: a, out: c, kernel: 1, module: "#"}
      - {op: bn, name: b, module: "#", when: norm}
      - {op: relu, name: r, module: "#"}
  stage:                     # layers in the enclosing container: a function
    params: [c]
    layers:
      - {op: conv, name: conv, out: c, kernel: 3, pad: 1, act: relu, repeat: 2, module: "#"}
      - {op: maxpool, name: pool, kernel: 2, module: "#"}
  stack:                     # a repeat straight in the block: an nn.Sequential subclass
    params: [n]
    layers:
      - {op: unit, name: layer, c: in_channels, n: 1, repeat: n, module: "layer{i + 1}"}
  gather:                    # given a list of inputs: forward(self, *parts), in_channels all their channels
    inputs: [parts*]
    layers:
      - {op: concat, name: cat, in: [parts.*]}
      - {op: conv, name: conv, out: growth, kernel: 1}
  dense_block:               # copies reading the copies before them: their outputs kept in a list
    params: [n]
    layers:
      - {op: gather, name: g, repeat: n, in: [input, g.*], module: "g{i}"}
      - {op: concat, name: out, in: [input, g.*]}
  odd:                       # a condition no parameter can say: written out where it is used
    layers:
      - {op: conv, name: conv, out: 4, kernel: 1}
      - {op: relu, name: relu, when: in_height > 4}
layers:
  - {op: unit, name: u1, c: 8, n: 3}
  - {op: odd, name: o1}
  - {op: unit, name: u2, c: 16, n: 2, gate: true, wide: 24}
  - {op: odd, name: o2}
  - {op: head, name: h1, c: 4, module: "tail.#"}
  - {op: head, name: h2, c: 4, norm: false, module: "tail.#"}
  - {op: stage, name: s1, c: 8, module: features}
  - {op: stage, name: s2, c: 8, module: features}
  - {op: stack, name: d, n: 2}
  - {op: dense_block, name: dn, n: 3}
  - {op: conv, name: last, out: 4, kernel: 1, act: relu, repeat: 3, module: "out.#"}
"""


def test_idiomatic_file_builds_the_flat_files_model(torch, tmp_path):
    """Every form the generator writes (loops with a different first copy, copies reading the copy before,
    parameters computed unless given, functions, nn.Sequential subclasses, lists built under conditions, a
    block given a list of inputs, copies reading every copy before them, a block written out) registers the
    same modules as the flat file and computes the same outputs."""
    from cnncalc.pytorch.codegen import Generator

    graph = build(parse_spec(FEATURES))
    source = pytorch_source(graph, "features")
    for excerpt in ["    def __init__(self, in_channels, c, n=2, gate=False, wide=None):\n        super().__init__()\n"
                    "        if wide is None:\n            wide = 2 * c\n",
                    "                    c + (i - 1) * GROWTH, c + i * GROWTH, kernel_size=3, padding=1\n"
                    "                )\n                for i in range(1, n)\n",
                    "        self.expand = nn.Conv2d(c + (n - 1) * GROWTH, wide, kernel_size=1)\n",
                    "        self.u2 = Unit(4, c=16, gate=True, wide=24)\n",
                    "        layers = []\n        layers.append(nn.Conv2d(in_channels, c, kernel_size=1))\n"
                    "        if norm:\n            layers.append(nn.BatchNorm2d(c))\n",
                    "def stage(in_channels, c):\n    return [\n        nn.Conv2d(in_channels, c, kernel_size=3, "
                    "padding=1),\n        nn.ReLU(),\n        nn.Conv2d(c, c, kernel_size=3, padding=1),\n",
                    "        self.features = nn.Sequential(*stage(4, c=8), *stage(8, c=8))\n",
                    "class Stack(nn.Sequential):\n",  # a later copy's name in a loop is an f-string
                    "        for i in range(1, n):\n            self.add_module(f\"layer{i + 1}\", Unit(",
                    "        for _ in range(2):\n            out += [nn.Conv2d(4, 4, kernel_size=1), nn.ReLU()]\n",
                    "    def forward(self, *parts):\n        cat = torch.cat(parts, dim=1)\n",
                    '            self.add_module(f"g{i}", Gather(in_channels + i * GROWTH))\n',
                    "        g = []\n        for layer in self.children():\n            g.append(layer(x, *g))\n"
                    "        out = torch.cat([x, *g], dim=1)\n"]:
        assert excerpt in source
    generator = Generator(graph)
    generator.write()
    assert generator.written_out() == ["odd"] and "in_height" not in source
    computes_as_flat(tmp_path, graph, "features", source)


WRITTEN_OUT_FUNCTIONS = """name: written_out_functions
input: [3, 8, 8]
blocks:
  unit:                      # a function: its modules sit in the container it is used in
    params: [c]
    layers:
      - {op: conv, name: conv, out: c, kernel: 3, pad: 1, module: "#"}
      - {op: bn, name: bn, module: "#"}
      - {op: relu, name: relu, module: "#"}
  rep:                       # channels no parameter gives: written out where it is used
    params: [c, n]
    layers:
      - {op: unit, name: unit, repeat: n, c: "[c, 3, 5][i]", module: .}
  blk:
    params: [c, n]
    layers:
      - {op: rep, name: rep, c: c, n: n}
      - {op: conv, name: skip, in: input, out: "[c, 3, 5][n - 1]", kernel: 1}
      - {op: add, name: add, in: [rep, skip]}
layers:
  - {op: blk, name: b1, c: 4, n: 2}
  - {op: blk, name: b2, c: 2, n: 3}
"""


def test_a_written_out_use_of_a_function_calls_all_its_modules(torch, tmp_path):
    """The model's forward calls every module of a function's use, not only its first."""
    from cnncalc.pytorch.codegen import Generator

    graph = build(parse_spec(WRITTEN_OUT_FUNCTIONS))
    generator = Generator(graph)
    generator.write()
    assert sorted(generator.written_out()) == ["blk", "rep"] and generator.functions == {"unit"}
    source = pytorch_source(graph, "written_out_functions")
    # the function's modules feed each other in order in `b1.rep`: the container is called as a whole
    assert "rep = self.b1.rep(x)\n        skip = self.b1.skip(x)\n" in source
    computes_as_flat(tmp_path, graph, "written_out_functions", source)


def test_docs_excerpts_are_what_export_writes():
    """docs/export.md's excerpts (each after `<!-- export excerpt: SPEC -->`; `...` skips lines) are parts of
    the files `cnncalc export` writes, in order."""
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "export.md").read_text()
    excerpts = re.findall(r"<!-- export excerpt: (\w+) -->\n```python\n(.*?)```", text, re.S)
    assert len(excerpts) >= 6
    for name, excerpt in excerpts:
        source = pytorch_source(build(load_spec(resolve(name)[0])), name)
        position = 0
        for chunk in re.split(r"^\.\.\.\n", excerpt, flags=re.M):
            found = source.find(chunk, position)
            assert found >= 0, f"{name}: not in the exported file:\n{chunk}"
            position = found + len(chunk)


NAMES = """name: names
input: [3, 16, 16]
blocks:
  layers:                    # a function named like the list a function builds
    params: [c]
    layers:
      - {op: conv, name: conv, out: c, kernel: 3, pad: 1, act: relu, module: "#"}
  stage:
    params: [c, n]
    layers:
      - {op: layers, name: convs, c: c, repeat: n, module: .}
      - {op: maxpool, name: pool, kernel: 2, module: "#"}
  Se:                        # a class named like a container built as a list
    layers:
      - {op: conv, name: conv, out: in_channels, kernel: 1}
  unit:
    params: [{wide: false}]
    layers:
      - {op: conv, name: conv, out: 4, kernel: 1, module: "Se.#", when: wide}
      - {op: Se, name: se, module: "Se.#"}
layers:
  - {op: stage, name: s1, c: 8, n: 2, module: features}
  - {op: stage, name: s2, c: 8, n: 1, module: features}
  - {op: unit, name: u1, wide: true}
  - {op: unit, name: u2}
"""


def test_local_lists_hide_no_function_or_class(torch, tmp_path):
    """A list built in __init__ or a function takes a name of its own (`layers_2`), not that of a function or
    class it calls; a repeat's later copies read the copy before (`c`), not a number that fits both uses."""
    graph = build(parse_spec(NAMES))
    source = pytorch_source(graph, "names")
    for excerpt in ["    layers_2 = []\n    layers_2 += layers(in_channels, c=c)\n    for _ in range(n - 1):\n"
                    "        layers_2 += layers(c, c=c)\n",
                    "        Se_2 = []\n        if wide:\n", "        Se_2.append(Se(4))\n"]:
        assert excerpt in source
    computes_as_flat(tmp_path, graph, "names", source)  # `layers = []` made `layers(...)` a TypeError


PORTS = """name: ports
input: [4, 8, 8]
blocks:
  pair:                      # two inputs, two outputs: forward(self, a, b) returns both
    inputs: [a, b]
    outputs: [left, right]
    params: [c]
    layers:
      - {op: conv, name: left, in: a, out: c, kernel: 1}
      - {op: conv, name: right, in: b, out: c, kernel: 1}
  twice:                     # a pair inside a class, unpacked; a ReLU called twice
    params: [c]
    layers:
      - {op: conv, name: conv, out: c, kernel: 1}
      - {op: pair, name: p, in: [input, conv], c: c}
      - {op: add, name: sum, in: [p.left, p.right]}
      - {op: relu, name: act}
      - {op: relu, name: act_again, share: act}
  pools:                     # one max pool applied three times (SPPF)
    layers:
      - {op: maxpool, name: m, kernel: 3, stride: 1, pad: 1}
      - {op: maxpool, name: m_again, share: m, repeat: 2}
      - {op: concat, name: cat, in: [m, m_again.*]}
layers:
  - {op: twice, name: t, c: 4}
  - {op: pair, name: q, in: [t, t], c: 4}
  - {op: add, name: out, in: [q.left, q.right]}
  - {op: pools, name: pool}
  - {op: twice, name: t2, c: 8}
"""


def test_blocks_of_several_inputs_and_outputs_and_shared_modules_are_classes(torch, tmp_path):
    """A block of named inputs takes one argument per input; one of several outputs returns them and its
    caller unpacks them (in the model and in a class); a layer that shares a module (`share:`, one or
    repeated) calls its owner's, so the file registers what the flat one does and computes the same."""
    from cnncalc.pytorch.codegen import Generator

    graph = build(parse_spec(PORTS))
    generator = Generator(graph)
    generator.write()
    assert generator.written_out() == [] and sorted(generator.classes) == ["pair", "pools", "twice"]
    source = pytorch_source(graph, "ports")
    for excerpt in ["    def forward(self, a, b):\n        left = self.left(a)\n        right = self.right(b)\n"
                    "        return left, right\n",
                    "        left, right = self.p(x, conv)\n        sum_ = left + right\n",
                    "        act = self.act(sum_)\n        act_again = self.act(act)\n",
                    "        m = self.m(x)\n        m_again = self.m(m)\n        m_again_2 = self.m(m_again)\n"
                    "        cat = torch.cat([m, m_again, m_again_2], dim=1)\n",
                    "        left, right = self.q(t, t)\n        out = left + right\n"]:
        assert excerpt in source
    assert "act_again = nn" not in source and "m_again = nn" not in source  # one module each, as in the spec
    computes_as_flat(tmp_path, graph, "ports", source)


@pytest.mark.parametrize("flat", [False, True], ids=["classes", "flat"])
def test_spec_text_in_the_docstring_never_runs(torch, tmp_path, flat):
    """A description or file name that would close the docstring (\"\"\"), a backslash, a control character:
    the exported file imports without running any of it, its docstring holds the text as written."""
    import json

    description = 'a """ + str(__import__("os").getpid()) + """ \\ end'
    spec = f"name: evil\ndescription: {json.dumps(description)}\ninput: [3, 8, 8]\nlayers:\n" \
           "  - {op: conv, out: 4, kernel: 1}\n"
    graph = build(parse_spec(spec))
    assert graph.description == description
    source = (flat_source if flat else pytorch_source)(graph, 'x"""y\x07.yaml')  # a control character too
    path = tmp_path / "evil.py"
    path.write_text(source)
    module_spec = importlib.util.spec_from_file_location("evil", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    assert module.__doc__.startswith(f"evil: {description}.") and 'from x"""y\x07.yaml' in module.__doc__


C2F = """name: c2f
input: [4, 8, 8]
blocks:
  unit:
    layers:
      - {op: conv, name: conv, out: in_channels, kernel: 3, pad: 1}
      - {op: relu, name: act}
  c2f:                       # every copy's output kept: Ultralytics' y.extend(m(y[-1]) for m in self.m)
    params: [c, n]
    layers:
      - {op: conv, name: cv1, out: 2 * c, kernel: 1}
      - {op: split, name: y0, index: 0}
      - {op: split, name: y1, in: cv1, index: 1}
      - {op: unit, name: m, repeat: n}
      - {op: concat, name: cat, in: [y0, y1, m.*]}
      - {op: conv, name: cv2, out: c, kernel: 1}
layers:
  - {op: c2f, name: a, c: 4, n: 2}
  - {op: c2f, name: b, c: 8, n: 3}
"""


def test_a_repeat_read_whole_keeps_every_copys_output_and_a_concatenation_sums_its_channels(torch, tmp_path):
    """Ultralytics' C2f: the copies of a chain whose outputs are all read later (`m.*`) are kept in a list;
    the conv after the concatenation reads the sum of its inputs' channels, each term a text of the block
    (`c + c + n * c`); past the split in halves of `2 * c`, `c`. The net is named like its block: the
    model's class takes another name."""
    graph = build(parse_spec(C2F))
    source = pytorch_source(graph, "c2f")
    for excerpt in ["        self.m = nn.Sequential(*[Unit(c) for _ in range(n)])\n"
                    "        self.cv2 = nn.Conv2d(c + c + n * c, c, kernel_size=1)\n",
                    "        m = [y1]\n        for layer in self.m:\n            m.append(layer(m[-1]))\n"
                    "        cat = torch.cat([y0, y1, *m[1:]], dim=1)\n",
                    "class C2fModel(nn.Module):", "    model = C2fModel().eval()"]:
        assert excerpt in source
    computes_as_flat(tmp_path, graph, "c2f", source)


@pytest.mark.parametrize(("name", "classes", "written_out"), [
    ("yolov8", ["Bottleneck", "C2f", "Conv", "SPPF", "box_branch", "cbs", "cls_branch"], ["Detect"]),
    # C3k2's repeat is a C3k or a Bottleneck by a condition; Detect's branches read maps of different channels
    ("yolo11", ["Attention", "Bottleneck", "C2PSA", "C3k", "Conv", "PSABlock", "SPPF", "box_branch", "cbs",
                "cls_branch"], ["C3k2", "Detect"]),
])
def test_which_ultralytics_blocks_are_classes(name, classes, written_out):
    """What docs/export.md says of the YOLO files: Conv a subclass of Cbs, SPPF's shared max pool, C2f's list."""
    import cnncalc.api
    from cnncalc.pytorch.codegen import Generator

    graph, _ = cnncalc.api.load_graph(name)
    generator = Generator(graph)
    generator.write()
    assert sorted(generator.classes | generator.functions) == classes
    assert sorted(generator.written_out()) == written_out
    source = pytorch_source(graph, name)
    assert "class Conv(Cbs):\n    def __init__(self, in_channels, c, k=1, s=1):\n" \
           "        super().__init__(in_channels, c2=c, k=k, s=s)\n" in source
    assert "        m = self.m(cv1)\n        m_again = self.m(m)\n        m_again_2 = self.m(m_again)\n" in source


@pytest.mark.slow
def test_the_exported_yolov8_follows_its_input_size(torch, tmp_path):
    """The file exported at the spec's 640x640 computes, at 640 and at 320, what the flat file written for
    that size computes: its reshapes keep the spec's -1 (`Reshape([64, -1])`), not the 640 input's 8,400."""
    import cnncalc.api

    source = pytorch_source(*cnncalc.api.load_graph("yolov8"))
    assert "Reshape([64, -1])" in source and "8400" not in source
    model = load_exported(tmp_path, "yolov8_i", source)
    for size, anchors in ((640, 8400), (320, 2100)):  # (size / 8)² + (size / 16)² + (size / 32)²
        graph, _ = cnncalc.api.load_graph("yolov8", input=(3, size, size))
        flat = load_exported(tmp_path, f"yolov8_f{size}", flat_source(graph, "yolov8"))
        model.load_state_dict(flat.state_dict(), strict=True)
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(size))
        with torch.no_grad():
            got, expected = model(x), flat(x)
        assert got.shape == expected.shape == (1, 84, anchors)  # 4 box coordinates + 80 class scores
        assert torch.equal(got, expected)


def test_an_in_place_sum_is_the_first_inputs_method_once_per_other_input():
    from cnncalc.pytorch.codescope import inline_code

    assert inline_code(".add_({})", ["a", "b", "c"]) == "a.add_(b).add_(c)"  # torchvision's out += identity
    assert inline_code(" + ", ["a", "b", "c"]) == "a + b + c"


@pytest.mark.parametrize("suffix, start", [(".py", b'"""googlenet_stem'),
                                           pytest.param(".ONNX", b"\x08", marks=pytest.mark.slow)])
def test_the_output_suffix_picks_the_format(tmp_path, suffix, start):
    target = tmp_path / f"stem{suffix}"
    result = runner.invoke(app, ["export", "googlenet_stem", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(start)  # the Python file's docstring; ONNX's ir_version field (tag 1)


def test_export_says_which_blocks_are_written_out_and_why(tmp_path):
    # HRNet's fusion: a `fuse` use takes its stage's module path (stage2.fuse.0 is `stage2.0.fuse_layers.0`
    # in timm), so it cannot be a class of its own; each such block is named on stderr with its reason
    result = runner.invoke(app, ["export", "hrnet_w18_small", "-o", str(tmp_path / "hrnet.py")])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert [line.split("'")[1] for line in notes] == ["fuse_term", "fuse", "hr_module"]
    assert "note: block 'fuse' is written out where it is used, not as a class: stage2.fuse.0 has the module " \
        "path of stage2, the block around it" in notes
    # a spec whose every block is a class says nothing more; --flat asks for no classes
    for arguments in (["resnet50"], ["hrnet_w18_small", "--flat"]):
        result = runner.invoke(app, ["export", *arguments, "-o", str(tmp_path / "x.py"), "--force"])
        assert result.exit_code == 0 and result.stderr == "", result.output


def test_export_says_why_a_file_is_flat(monkeypatch, tmp_path):
    from cnncalc.pytorch import codegen

    def refuse(self):
        raise codegen.NotIdiomatic("a module tree the classes cannot build")

    monkeypatch.setattr(codegen.Generator, "write", refuse)
    result = runner.invoke(app, ["export", "resnet18", "-o", str(tmp_path / "x.py")])
    assert result.exit_code == 0, result.output
    assert result.stderr == "note: the file is flat (one class registering every layer by its module path, no " \
        "class per block): a module tree the classes cannot build\n"
