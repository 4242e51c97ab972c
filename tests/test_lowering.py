"""The PyTorch lowering: every layer type and every zoo spec, checked layer by layer against torch;
export to a standalone PyTorch file and to ONNX."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cnncalc.bundled import bundled_specs, resolve
from cnncalc.cli import app
from cnncalc.engine import analyze
from cnncalc.graph import build
from cnncalc.layers import layer_types
from cnncalc.spec import load_spec, parse_spec

torch = pytest.importorskip("torch")
from cnncalc.export import pytorch_source  # noqa: E402
from cnncalc.verify import verify  # noqa: E402

runner = CliRunner()

# One small spec per layer type (ops that merge read two branches of the input).
EXAMPLES = {
    "conv": "{op: conv, out: 6, kernel: [3, 5], stride: 2, pad: same, groups: 2, dilation: 1, act: relu}",
    "maxpool": "{op: maxpool, kernel: 3, stride: 2, ceil: true, pad: 1}",
    "avgpool": "{op: avgpool, kernel: 2, pad: same, stride: 2}",
    "global_avgpool": "{op: gap}",
    "global_maxpool": "{op: global_maxpool}",
    "linear": None,  # below: needs a flat input
    "flatten": "{op: flatten}",
    "dropout": "{op: dropout, p: 0.3}",
    "drop_path": "{op: drop_path, p: 0.1}",
    "identity": "{op: identity}",
    "layer_scale": "{op: layer_scale}",
    "channel_shuffle": "{op: channel_shuffle, groups: 2}",
    "channel_split": "{op: channel_split, index: 1}",
    "batchnorm": "{op: batchnorm}",
    "layernorm": "{op: layernorm}",
    "lrn": "{op: lrn, size: 3}",
    "conv_transpose": "{op: conv_transpose, out: 3, kernel: 3, stride: 2, pad: 1, output_pad: 1}",
    "adaptive_avgpool": "{op: adaptive_avgpool, size: [3, 2]}",
    "adaptive_maxpool": "{op: adaptive_maxpool, size: 5}",
    "upsample": "{op: upsample, scale: 2, mode: bilinear}",
    "zeropad": "{op: zeropad, pad: [1, 2, 0, 3], channels: 2}",
}
MERGES = {"add": "[a, b]", "mul": "[a, g]", "concat": "[a, b]"}


def example_spec(op: str) -> str:
    head = "input: [4, 9, 11]\nlayers:\n"
    if op in MERGES:
        return head + ("  - {op: conv, name: a, out: 4, kernel: 1}\n  - {op: conv, name: b, in: input, out: 4, kernel: 1}\n"
                       "  - {op: gap, name: g, in: input}\n"
                       f"  - {{op: {op}, in: {MERGES[op]}}}\noutputs: [{op}1, b, g]\n")
    if op == "linear":
        return head + "  - {op: flatten}\n  - {op: linear, out: 7, act: gelu}\n"
    if op in EXAMPLES:
        return head + f"  - {EXAMPLES[op]}\n"
    return head + f"  - {{op: {op}}}\n"  # activations


@pytest.mark.parametrize("op", sorted(cls.op for cls in layer_types()))
def test_every_layer_type_lowers_exactly(op):
    graph = build(parse_spec(example_spec(op)))
    checks = verify(graph, analyze(graph), device="cpu")
    assert [c for c in checks if not c.ok] == []
    assert op in {node.layer.op for node in graph.nodes}


@pytest.mark.parametrize("name", sorted(n for n in bundled_specs() if not n.startswith("lecture/")))
def test_every_zoo_spec_matches_pytorch_layer_by_layer(name):
    graph = build(load_spec(resolve(name)[0]))
    checks = verify(graph, analyze(graph))
    assert [c for c in checks if not c.ok] == []


def test_submodules_carry_the_spec_names():
    from cnncalc.lowering import to_module

    model = to_module(build(load_spec(resolve("resnet18")[0])))
    names = dict(model.named_modules())
    assert "layer1.0.conv1" in names and "layer2.0.downsample" in names and "fc" in names
    assert isinstance(names["layer1.0.conv1"], torch.nn.Conv2d)


def test_verify_reports_a_mismatch_and_exits_1(monkeypatch):
    from cnncalc.formula import Q
    from cnncalc.layers.conv import Conv

    original = Conv.params
    monkeypatch.setattr(Conv, "params", lambda self, i, o: original(self, i, o) + Q("wrong", 1))
    result = runner.invoke(app, ["verify", "alexnet"])
    assert result.exit_code == 1
    assert "5 of 48 checks differ from PyTorch" in result.stderr  # 12 layers: shape, params, buffers, fvcore MACs
    assert "conv1" in result.stdout and "34945" in result.stdout and "34944" in result.stdout


def test_verify_cli_success():
    result = runner.invoke(app, ["verify", "googlenet_stem", "--device", "cpu"])
    assert result.exit_code == 0
    assert "all 5 layers match PyTorch (cpu device)" in result.stdout


@pytest.mark.parametrize("name", ["alexnet", "resnet18", "googlenet", "mobilenet_v3_large", "convnext_tiny",
                                  "shufflenet_v2_x1_0"])
def test_exported_pytorch_file_builds_the_same_model(tmp_path, name):
    graph = build(load_spec(resolve(name)[0]))
    path = tmp_path / f"{name}.py"
    path.write_text(pytorch_source(graph, name))
    spec = importlib.util.spec_from_file_location(f"exported_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__
               and hasattr(v, "_add")]
    model = classes[0]().eval()
    report = analyze(graph)
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
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
