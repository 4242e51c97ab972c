"""Every spec that declares `torchvision: MODEL` equals that torchvision model exactly:
parameter count, BatchNorm statistics and output shape, at the spec's input size and a second one.

Models are built on PyTorch's meta device: no memory for weights, no time for initialisation,
and a forward pass that only propagates shapes.
"""
from __future__ import annotations

import pytest

import cnncalc
from cnncalc.spec.bundled import bundled_specs
from cnncalc.spec.spec import load_spec

pytestmark = [pytest.mark.filterwarnings("ignore:The default weight initialization:FutureWarning"), pytest.mark.torch,
              pytest.mark.slow]


def _declared() -> dict[str, dict]:
    """Bundled specs that declare a torchvision model (a spec that does not load fails in test_zoo)."""
    found = {}
    for name, path in bundled_specs().items():
        try:
            spec = load_spec(path)
        except Exception:
            continue
        if spec.torchvision:
            found[name] = {**spec.torchvision, "input": spec.input_shape}
    return found


DECLARED = _declared()


# torchvision models built for one input size (ViT's positional embedding has a row per patch): the
# constructor's argument that sets it
SIZED = {"vit_b_16": "image_size"}


def _model(reference: dict, shape: tuple | None = None):
    """On the meta device where the constructor allows it (RegNet computes its widths with
    tensor.tolist(), which meta tensors refuse: it is built on the CPU); for `shape` where the
    model is built for one size."""
    import torch
    import torchvision

    builder = torchvision.models.get_model_builder(reference["model"])
    kwargs = dict(reference["kwargs"])
    if shape is not None and reference["model"] in SIZED:
        kwargs[SIZED[reference["model"]]] = shape[1]
    try:
        with torch.device("meta"):
            return builder(weights=None, **kwargs).eval()
    except NotImplementedError:
        return builder(weights=None, **kwargs).eval()


def _second_size(shape: tuple) -> tuple:
    channels, height, width = shape
    return (channels, height + 32, width + 32)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_parameters_and_buffers_equal_torchvision(torchvision, name):
    """The whole model torchvision builds (auxiliary classifiers too: --mode train)."""
    model = _model(DECLARED[name])
    report = cnncalc.analyze(name, mode="train")
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    statistics = sum(b.numel() for key, b in model.named_buffers() if not key.endswith("num_batches_tracked"))
    assert report.totals.buffers == statistics


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_the_inference_network_leaves_out_the_auxiliary_classifiers(torchvision, name):
    """By default cnncalc counts the network that runs at inference: torchvision's model without its
    auxiliary classifiers (aux_logits=False), which is what its published weights hold for GoogLeNet."""
    model = _model({**DECLARED[name], "kwargs": {**DECLARED[name]["kwargs"], "aux_logits": False}})
    report = cnncalc.analyze(name)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    statistics = sum(b.numel() for key, b in model.named_buffers() if not key.endswith("num_batches_tracked"))
    assert report.totals.buffers == statistics
    assert report.training_only is not None and not report.training_only.included


@pytest.mark.parametrize("second", [False, True], ids=["spec-size", "second-size"])
@pytest.mark.parametrize("name", sorted(DECLARED))
def test_output_shape_equals_torchvision(torch, torchvision, name, second):
    reference = DECLARED[name]
    shape = _second_size(reference["input"]) if second else reference["input"]
    model = _model(reference, shape)
    device = next(model.parameters()).device
    with torch.no_grad():
        output = model(torch.zeros((1, *shape), device=device))
    if isinstance(output, dict):  # the segmentation models return {'out': scores}: the spec's output
        output = output["out"]
    report = cnncalc.analyze(name, input=shape)
    assert report.outputs[0][1] == tuple(output.shape[1:])


def test_zoo_declares_the_torchvision_models_it_promises():
    promised = {"alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
                "googlenet", "inception_v3", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                "resnext50_32x4d", "wide_resnet50_2", "densenet121", "mobilenet_v2", "mobilenet_v3_large",
                "shufflenet_v2_x1_0", "squeezenet1_0", "squeezenet1_1", "efficientnet_b0", "mnasnet1_0",
                "convnext_tiny", "regnet_y_400mf", "mobilenet_v3_small", "efficientnet_v2_s", "regnet_x_400mf",
                "fcn_resnet50", "deeplabv3_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large",
                "vit_b_16"}
    assert promised <= {reference["model"] for reference in DECLARED.values()}
