"""torchvision's segmentation models in the zoo (FCN, DeepLabV3, LR-ASPP) and the layer type they need,
`interpolate`: F.interpolate called in a forward, to a size, by a scale, or to the size of a second input.

The zoo's proofs against torchvision and the peer tools (parameters, output shape, every peer's count at two
sizes, export, memory) run in the zoo-wide tests, which find these specs by their `torchvision:` key."""
from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.analysis.conventions import CONVENTIONS
from cnncalc.cli import app
from cnncalc.core.errors import SpecError
from cnncalc.spec.graph import build
from cnncalc.spec.spec import parse_spec

runner = CliRunner()
SEGMENTATION = ("fcn_resnet50", "deeplabv3_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large")


def test_parameters_equal_torchvision_published_counts():
    """torchvision 0.29's weights metadata (`num_params`) describes the models with their auxiliary FCNHead
    (aux_loss=True, as the weights were trained); the specs follow the constructors' default (no aux head).
    FCNHead(C, 21): a 3x3 conv C -> C/4 without bias, BN (2 · C/4), a 1x1 conv C/4 -> 21 with bias."""
    def aux(c: int) -> int:
        return c * (c // 4) * 9 + 2 * (c // 4) + (c // 4) * 21 + 21

    assert aux(1024) == 2_359_296 + 512 + 5_376 + 21 == 2_365_205  # on layer3 of ResNet-50
    assert aux(40) == 3_600 + 20 + 210 + 21 == 3_851  # on backbone.4 of MobileNetV3-Large
    published = {"fcn_resnet50": 35_322_218 - aux(1024), "deeplabv3_resnet50": 42_004_074 - aux(1024),
                 "deeplabv3_mobilenet_v3_large": 11_029_328 - aux(40),
                 "lraspp_mobilenet_v3_large": 3_221_538}  # LR-ASPP has no aux head
    assert {name: cnncalc.analyze(name).totals.params for name in SEGMENTATION} == published


def test_scores_come_back_at_the_input_size():
    """Each model returns its 21 class scores at the input's size, whatever that is (F.interpolate to
    input.shape[-2:]), from a map 8 (dilated ResNet-50; LR-ASPP's low branch) or 16 (dilated MobileNetV3)
    times smaller."""
    for name, stride in [("fcn_resnet50", 8), ("deeplabv3_resnet50", 8), ("deeplabv3_mobilenet_v3_large", 16),
                         ("lraspp_mobilenet_v3_large", 8)]:
        for size in (520, 333):
            report = cnncalc.analyze(name, input=(3, size, size))
            assert report.outputs[0][1] == (21, size, size)
            rows = {row.name: row for row in report.rows}
            assert rows["upsample"].input_shapes[0][1] == -(-size // stride)  # ceil: every stride-2 conv pads


# ---- interpolate ----------------------------------------------------------------------------------------

WORKED = """
input: [4, 9, 11]
layers:
  - {op: conv, name: low, out: 4, kernel: 3, stride: 2}                # 4x4x5 = 80 outputs
  - {op: interpolate, name: back, in: [low, input], mode: bilinear}    # to input's 9x11: 4x9x11 = 396
  - {op: upsample, name: up, in: low, size: [9, 11], mode: bilinear}   # the same, as nn.Upsample: 396
  - {op: interpolate, name: near, in: low, scale: 2}                   # 4x8x10 = 320, nearest
outputs: [back, up, near]
"""
# low: 80 outputs × (4 · 3 · 3) = 2,880 multiply-adds, 80 bias adds; (4 · 36 + 4) · 20 positions = 2,960
EXPECTED = {
    "textbook": dict(low=2880, back=0, up=0, near=0),
    "fvcore": dict(low=2880, back=4 * 396, up=4 * 396, near=320),  # aten::upsample_bilinear2d 4 per output
    # F.interpolate's patch counts its output once; nn.Upsample adds its module hook: twice
    "ptflops": dict(low=2880 + 80, back=396, up=2 * 396, near=320),
    "thop": dict(low=2880, back=0, up=11 * 396, near=0),  # module hooks only: a function call counts 0
    "torchinfo": dict(low=2960, back=0, up=0, near=0),
    "torch": dict(low=2 * 2880, back=0, up=0, near=0),
}


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_interpolate_counts_as_each_tool_counts_a_function(analyze_text, convention):
    report = analyze_text(WORKED, convention=CONVENTIONS[convention])
    assert {row.name: row.macs for row in report.rows} == EXPECTED[convention]
    assert {row.name: row.output_shape for row in report.rows} == {
        "low": (4, 4, 5), "back": (4, 9, 11), "up": (4, 9, 11), "near": (4, 8, 10)}


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore")
def test_interpolate_worked_example_is_what_the_tools_print():
    pytest.importorskip("torch")
    from .test_conventions import COUNT, PACKAGE, PEERS, _lowered

    graph = build(parse_spec(WORKED, "worked.yaml"))
    module = _lowered(graph)
    for tool in PEERS:
        pytest.importorskip(PACKAGE[tool])
        assert COUNT[tool](module, graph.input_shape) == sum(EXPECTED[tool].values()), tool


@pytest.mark.torch
def test_interpolate_lowers_to_f_interpolate(torch):
    """Bilinear with align_corners=False (torchvision's segmentation heads), to the second input's size."""
    import torch.nn.functional as F

    from cnncalc.pytorch.lowering import to_module

    model = to_module(build(parse_spec(WORKED, "worked.yaml")))
    x = torch.randn(2, 4, 9, 11, generator=torch.Generator().manual_seed(0))
    back, up, near = model(x)
    low = model.low(x)
    assert torch.equal(back, F.interpolate(low, size=(9, 11), mode="bilinear", align_corners=False))
    assert torch.equal(up, back)
    assert torch.equal(near, F.interpolate(low, scale_factor=2.0, mode="nearest"))


def test_interpolate_explains_where_its_size_comes_from():
    result = runner.invoke(app, ["explain", "lraspp_mobilenet_v3_large", "--layer", "gated_up"])
    assert result.exit_code == 0, result.output
    assert "gated_up (interpolate): 128×33×33 + 40×65×65 → 128×65×65" in result.stdout
    assert "H' × W' = 65 × 65  (the second input's height and width)" in result.stdout


@pytest.mark.parametrize("layers, fragment", [
    ("- {op: interpolate}", "give 'scale' or 'size', or a second input whose size it takes"),
    ("- {op: interpolate, scale: 2, size: 4}", "give at most one of 'scale' and 'size'"),
    ("- {op: conv, name: a, out: 2, kernel: 1}\n  - {op: interpolate, in: [a, input], size: 4}",
     "'size' and a second input both give the size: keep one"),
    ("- {op: conv, name: a, out: 2, kernel: 1}\n  - {op: interpolate, in: [a, input, a]}",
     "interpolate takes one input, or two (the second gives the size), but is given 3"),
    ("- {op: flatten, name: v}\n  - {op: interpolate, in: [input, v]}",
     "the second input gives the height and width, but it is [36]"),
    ("- {op: flatten, name: v}\n  - {op: interpolate, scale: 2}", "interpolate needs a [C, H, W] feature map"),
    ("- {op: interpolate, scale: 2, mode: bicubic}", "'mode'"),
])
def test_interpolate_refuses_what_cannot_be_resized(analyze_text, layers, fragment):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        analyze_text(f"input: [4, 3, 3]\nlayers:\n  {layers}\n")


def test_interpolate_error_on_the_command_line_is_located(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("input: [4, 3, 3]\nlayers:\n  - {op: interpolate, scale: 2, size: 4}\n")
    result = runner.invoke(app, ["table", str(spec)])
    assert result.exit_code == 2
    assert "bad.yaml:3:" in result.stderr and "field 'size'" in result.stderr
    assert "give at most one of 'scale' and 'size'" in result.stderr
