"""The PyTorch side never shows a traceback: a layer PyTorch cannot run is located in the spec,
an exporter that fails or is missing says so (exit code 2)."""
from __future__ import annotations

import builtins

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.layers import reshape
from cnncalc.layers.torchspec import T

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch")]  # every test: skipped without PyTorch
runner = CliRunner()

VECTOR_SCALE = "input: [52]\nlayers:\n  - {op: layer_scale, name: scale}\n  - {op: bn, name: norm}\n"


@pytest.mark.parametrize("options", [[], ["--device", "cpu"], ["--convention", "torch"]])
def test_layer_scale_on_a_vector_then_batchnorm_verifies(tmp_path, options):
    # the scale is a vector of C = 52 on a vector input (C x 1 x 1 would broadcast (N, 52) to (52, N, 52))
    spec = tmp_path / "scale.yaml"
    spec.write_text(VECTOR_SCALE)
    result = runner.invoke(app, ["verify", str(spec), *options])
    assert result.exit_code == 0, result.output
    assert "all 2 layers match PyTorch" in result.stdout


def test_a_layer_pytorch_cannot_run_is_located(tmp_path, monkeypatch):
    # the old lowering of layer_scale (a C x 1 x 1 scale whatever the input): BatchNorm then fails
    monkeypatch.setattr(reshape.LayerScale, "lowering",
                        lambda self, inputs, output: T("LayerScale", inputs[0][0], self.init))
    spec = tmp_path / "scale.yaml"
    spec.write_text(VECTOR_SCALE)
    for options in ([], ["--device", "cpu"], ["--convention", "torch"]):
        result = runner.invoke(app, ["verify", str(spec), *options])
        assert result.exit_code == 2, result.output
        assert (f"{spec}:4:5: error: layer 'norm': PyTorch cannot run this batchnorm layer: "
                "running_mean should contain 1 elements not 52") in result.stderr, result.stderr
        assert "Traceback" not in result.output


def test_onnx_export_without_onnx_is_a_clear_error(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def without_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_onnx)
    result = runner.invoke(app, ["export", "lenet5", "--to", "onnx", "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2, result.output
    assert "error: ONNX export needs the onnx package, which is not installed" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_an_exporter_failure_is_a_clear_error(torch, tmp_path, monkeypatch):
    pytest.importorskip("onnx")

    def failing(*args, **kwargs):
        raise torch.onnx.errors.OnnxExporterError("Failed to export the model with torch.export.\n(details)")

    monkeypatch.setattr(torch.onnx, "export", failing)
    result = runner.invoke(app, ["export", "lenet5", "--to", "onnx", "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2, result.output
    assert "error: the ONNX export failed: Failed to export the model with torch.export." in result.stderr
    assert "(details)" not in result.stderr and "Traceback" not in result.output
