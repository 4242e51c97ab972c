"""`cnncalc export`: the idiomatic PyTorch file (a class per block) and the flat one load the weights of
the torchvision model a zoo spec declares (strict) and reproduce its outputs; module paths in specs;
ONNX through the dynamo exporter, checked by onnx.checker and onnxruntime."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.spec.bundled import bundled_specs, resolve
from cnncalc.spec.graph import build
from cnncalc.spec.spec import load_spec, parse_spec

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:The default weight initialization:FutureWarning")]
torch = pytest.importorskip("torch")
from cnncalc.pytorch.export import flat_source, pytorch_source  # noqa: E402

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
UNMATCHED = {"convnext_tiny": "torchvision's CNBlock uses nn.Linear (weights [out, in]) where the spec has 1x1 "
                              "convs ([out, in, 1, 1]), and keeps layer_scale as a bare parameter"}


def load_exported(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    module_spec = importlib.util.spec_from_file_location(f"exported_{name}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == module.__name__]
    return classes[-1]().eval()  # the model's class comes last


def reference(declared: dict):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    return getattr(torchvision.models, declared["model"])(weights=None, **declared["kwargs"]).eval()


def first(output):
    return output[0] if isinstance(output, tuple) else output


def assert_loads_and_agrees(model, ref, shape):
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(1, *shape)
    with torch.no_grad():
        assert torch.allclose(first(model(x)), first(ref(x)), atol=1e-5, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DECLARED))
def test_exported_file_loads_torchvision_weights_and_agrees(tmp_path, name):
    if name in UNMATCHED:
        pytest.xfail(UNMATCHED[name])
    graph = build(load_spec(resolve(name)[0]))
    model = load_exported(tmp_path, name, pytorch_source(graph, name))
    assert_loads_and_agrees(model, reference(DECLARED[name]), graph.input_shape)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "googlenet", "densenet121"])
def test_flat_file_loads_torchvision_weights_too(tmp_path, name):
    graph = build(load_spec(resolve(name)[0]))
    model = load_exported(tmp_path, name, flat_source(graph, name))
    assert_loads_and_agrees(model, reference(DECLARED[name]), graph.input_shape)


def test_resnet18_reads_like_torchvision(tmp_path):
    source = pytorch_source(build(load_spec(resolve("resnet18")[0])), "resnet18")
    assert "class Basic(nn.Module):\n    def __init__(self, in_channels, c, stride=1, proj=False):" in source
    assert "        if proj:\n            self.downsample = nn.Sequential(" in source
    assert "self.layer2 = nn.Sequential(\n            Basic(64, c=128, stride=2, proj=True), Basic(128, c=128)\n" in source
    assert "layer1 = self.layer1(maxpool)" in source
    # 11,689,512 parameters: torchvision's resnet18. Multiply-adds (textbook convention, pooling counted):
    # convs + fc 1,814,073,344 + maxpool 64*56*56*9 = 1,806,336 + global average pool 512*7*7 = 25,088
    assert "11,689,512 parameters, 1,815,904,768 multiply-adds" in source
    imports = [line for line in source.splitlines() if line.startswith(("import", "from"))]
    assert imports == ["from torch import nn"]  # its helper (Add) needs nothing more


@pytest.mark.parametrize("name", ["alexnet", "resnet18"])
def test_golden_exported_files(golden, name):
    golden(f"{name}.export.py", pytorch_source(build(load_spec(resolve(name)[0])), name))


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("name", ["alexnet", "resnet50", "mobilenet_v2", "googlenet", "vgg16_bn", "efficientnet_b0"])
def test_ruff_format_leaves_the_exported_file_unchanged(tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text(pytorch_source(build(load_spec(resolve(name)[0])), name))
    result = subprocess.run(["ruff", "format", "--isolated", "--check", "--diff", str(path)], capture_output=True,
                            text=True)
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
    (".", "'.' is for blocks"),
])
def test_bad_module_paths_are_located_errors(tmp_path, module, message):
    path = tmp_path / "net.yaml"
    path.write_text(f"input: [3, 8, 8]\nlayers:\n  - {{op: conv, name: a, out: 4, kernel: 1}}\n"
                    f"  - {{op: conv, name: b, out: 4, kernel: 1, module: {module}}}\n")
    result = runner.invoke(app, ["export", str(path), "--to", "pytorch", "-o", str(tmp_path / "x.py")])
    assert result.exit_code == 2
    assert message in result.stderr and "net.yaml:4:" in result.stderr and "Traceback" not in result.output


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
@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "googlenet_stem"])
def test_onnx_passes_the_checker_and_onnxruntime_agrees(tmp_path, name):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from cnncalc.pytorch.export import onnx_bytes
    from cnncalc.pytorch.lowering import to_module

    target = tmp_path / f"{name}.onnx"
    result = runner.invoke(app, ["export", name, "--to", "onnx", "-o", str(target)])
    assert result.exit_code == 0, result.output
    onnx.checker.check_model(onnx.load(str(target)))
    # the same weights on both sides: export the model that torch then runs
    graph = build(load_spec(resolve(name)[0]))
    model = to_module(graph)
    target.write_bytes(onnx_bytes(graph, model))
    onnx.checker.check_model(onnx.load(str(target)))
    x = torch.randn(1, *graph.input_shape)
    with torch.no_grad():
        expected = first(model(x)).numpy()
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert abs(got - expected).max() <= 1e-4


def test_onnx_without_onnx_says_how_to_install_it(tmp_path):
    code = ("import sys; sys.modules['onnx'] = None\n"
            "from cnncalc.cli import app\n"
            f"app(['export', 'googlenet_stem', '--to', 'onnx', '-o', {str(tmp_path / 'x.onnx')!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert "ONNX export needs the onnx package" in out.stderr and "Traceback" not in out.stderr
