"""The PyTorch lowering: every layer type and every zoo spec, checked layer by layer against torch;
export to a standalone PyTorch file and to ONNX."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.engine import analyze
from cnncalc.cli import app
from cnncalc.layers import REGISTRY, layer_types
from cnncalc.pytorch.export import pytorch_source
from cnncalc.pytorch.verify import verify
from cnncalc.spec.bundled import bundled_specs, resolve
from cnncalc.spec.graph import build
from cnncalc.spec.spec import load_spec, parse_spec

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch")]  # every test: skipped without PyTorch

runner = CliRunner()



@pytest.mark.parametrize("op", sorted(cls.op for cls in layer_types()))
def test_every_layer_type_lowers_exactly(op):
    graph = build(parse_spec(REGISTRY[op].example_spec()))
    checks = verify(graph, analyze(graph), device="cpu")
    assert [c for c in checks if not c.ok] == []
    assert op in {node.layer.op for node in graph.nodes}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n in bundled_specs() if not n.startswith("lecture/")))
def test_every_zoo_spec_matches_pytorch_layer_by_layer(name):
    graph = build(load_spec(resolve(name)[0]))
    checks = verify(graph, analyze(graph))
    assert [c for c in checks if not c.ok] == []


@pytest.mark.parametrize("layer", ["{op: maxpool, kernel: 2, stride: 2, pad: same}",
                                   "{op: avgpool, kernel: 4, stride: 2, pad: same}",
                                   "{op: conv, out: 2, kernel: 2, stride: 2, pad: same}"])
def test_asymmetric_same_padding_lowers_exactly(layer):
    # On a 9x11 input, 'same' with stride 2 pads one row/column more after: a Padded wrapper in torch
    graph = build(parse_spec(f"input: [4, 9, 11]\nlayers:\n  - {layer}\n"))
    assert [c for c in verify(graph, analyze(graph), device="cpu") if not c.ok] == []
    assert "Padded" in graph.nodes[0].layer.lowering(list(graph.nodes[0].input_shapes), graph.nodes[0].output_shape).source()


def test_submodules_carry_the_spec_names(torch):
    from cnncalc.pytorch.lowering import to_module

    model = to_module(build(load_spec(resolve("resnet18")[0])))
    names = dict(model.named_modules())
    assert "layer1.0.conv1" in names and "layer2.0.downsample" in names and "fc" in names
    assert isinstance(names["layer1.0.conv1"], torch.nn.Conv2d)


def test_verify_reports_a_mismatch_and_exits_1(monkeypatch):
    from cnncalc.core.formula import Q
    from cnncalc.layers.conv import Conv

    original = Conv.params  # the rule, and what the engine asks (figures, outside explain's derivations)
    monkeypatch.setattr(Conv, "params", lambda self, i, o: original(self, i, o) + Q("wrong", 1))
    figures = Conv.figures
    monkeypatch.setattr(Conv, "figures", lambda self, i, o, w: (figures(self, i, o, w)[0] + 1, *figures(self, i, o, w)[1:]))
    result = runner.invoke(app, ["verify", "alexnet"])
    assert result.exit_code == 1
    assert "5 of 48 checks differ from PyTorch" in result.stderr  # 12 layers: shape, params, buffers, fvcore MACs
    assert "conv1" in result.stdout and "34945" in result.stdout and "34944" in result.stdout


def test_verify_cli_success():
    result = runner.invoke(app, ["verify", "googlenet_stem", "--device", "cpu"])
    assert result.exit_code == 0
    assert "all 5 layers match PyTorch (cpu device)" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "resnet18", "googlenet", "mobilenet_v3_large", "convnext_tiny",
                                  "shufflenet_v2_x1_0"])
@pytest.mark.parametrize("flat", [False, True], ids=["idiomatic", "flat"])
def test_exported_pytorch_file_builds_the_same_model(torch, tmp_path, name, flat):
    from cnncalc.pytorch.codegen import class_name

    graph = build(load_spec(resolve(name)[0]))
    path = tmp_path / f"{name}.py"
    path.write_text(pytorch_source(graph, name, flat=flat))
    spec = importlib.util.spec_from_file_location(f"exported_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(module, class_name(graph.name))().eval()
    report = analyze(graph)
    # the exported module holds the training-only layers too (GoogLeNet's aux1 and aux2: 13,004,888 parameters)
    assert sum(p.numel() for p in model.parameters()) == analyze(graph, mode="train").totals.params
    with torch.no_grad():
        output = model(torch.zeros(1, *graph.input_shape))
    output = output[0] if isinstance(output, tuple) else output
    assert tuple(output.shape[1:]) == report.outputs[0][1]


def test_export_cli_refuses_to_overwrite(tmp_path):
    target = tmp_path / "net.py"
    assert runner.invoke(app, ["export", "alexnet", "--to", "pytorch", "-o", str(target)]).exit_code == 0
    again = runner.invoke(app, ["export", "alexnet", "--to", "pytorch", "-o", str(target)])
    assert again.exit_code == 2 and "the file exists; add --force to replace it" in again.stderr
    assert runner.invoke(app, ["export", "alexnet", "--to", "pytorch", "-o", str(target), "--force"]).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]


@pytest.mark.slow  # the ONNX exporter: about 10 s
def test_onnx_export_passes_the_checker(tmp_path):
    onnx = pytest.importorskip("onnx")
    target = tmp_path / "stem.onnx"
    result = runner.invoke(app, ["export", "googlenet_stem", "--to", "onnx", "-o", str(target)])
    assert result.exit_code == 0, result.output
    model = onnx.load(str(target))
    onnx.checker.check_model(model)
    assert [o.name for o in model.graph.output] == ["pool2"]


def test_without_torch_the_commands_say_how_to_install_it():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from cnncalc.cli import app\n"
            "app(['verify', 'alexnet'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert "error: this command needs PyTorch, which is not installed" in out.stderr
    assert "pip install 'cnncalc[torch]'" in out.stderr
