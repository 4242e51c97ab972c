"""Every spec that declares `timm: MODEL` equals timm.create_model(MODEL, pretrained=False) exactly:
parameters, BatchNorm statistics, the output's shape at two input sizes, and fvcore's count there.
timm is in the test extra; without it (or torch, or fvcore) these tests skip."""
from __future__ import annotations

import functools
import warnings

import pytest

import cnncalc
from cnncalc.core.errors import SpecError
from cnncalc.spec.bundled import bundled_specs
from cnncalc.spec.spec import load_spec

pytestmark = [pytest.mark.torch, pytest.mark.peers]

# A second size each model accepts (docs: DLA needs ceil(H/2) % 16 == 0, HRNet ceil(ceil(H/2)/2) % 8 == 0).
SECOND = {"cspdarknet53": 224, "dla34": 256, "hrnet_w18_small": 256, "legacy_xception": 224}


def _declared() -> dict[str, dict]:
    found = {}
    for name, path in bundled_specs().items():
        try:
            spec = load_spec(path)
        except SpecError:  # the symbolic lecture specs need --symbolic; tests/test_zoo.py loads them all
            continue
        if spec.timm:
            found[name] = {**spec.timm, "input": spec.input_shape}
    return found


DECLARED = _declared()


@functools.lru_cache(maxsize=1)
def _model(timm, name: str):
    reference = DECLARED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return timm.create_model(reference["model"], pretrained=False, **reference["kwargs"]).eval()


def test_the_zoo_declares_the_timm_models_it_promises():
    assert set(DECLARED) >= {"cspdarknet53", "dla34", "hrnet_w18_small", "legacy_xception"}
    assert set(SECOND) >= set(DECLARED)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_parameters_and_buffers_equal_timm(timm, name):
    model = _model(timm, name)
    report = cnncalc.analyze(name)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    statistics = sum(b.numel() for key, b in model.named_buffers() if not key.endswith("num_batches_tracked"))
    assert report.totals.buffers == statistics


@pytest.mark.slow
@pytest.mark.parametrize("second", [False, True], ids=["spec-size", "second-size"])
@pytest.mark.parametrize("name", sorted(DECLARED))
def test_output_shape_and_fvcore_equal_timm(torch, timm, name, second):
    pytest.importorskip("fvcore")
    from .test_conventions import fvcore_count

    shape = (3, SECOND[name], SECOND[name]) if second else DECLARED[name]["input"]
    model = _model(timm, name)
    with torch.no_grad():
        output = model(torch.zeros((1, *shape)))
    report = cnncalc.analyze(name, input=shape, convention="fvcore")
    assert report.outputs[0][1] == tuple(output.shape[1:])
    assert report.totals.macs == fvcore_count(model, shape)


def test_published_figures():
    # measured on timm 1.0.31 (fvcore 0.1.5): parameters and fvcore's total at the default input size
    expected = {"cspdarknet53": (27_642_184, 6_567_337_984), "dla34": (15_742_104, 3_070_104_064),
                "hrnet_w18_small": (13_187_464, 1_613_429_856), "legacy_xception": (22_855_952, 8_399_882_600)}
    for name, (params, macs) in expected.items():
        report = cnncalc.analyze(name, convention="fvcore")
        assert (report.totals.params, report.totals.macs) == (params, macs), name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DECLARED))
def test_the_exported_file_loads_timms_weights_and_agrees(torch, timm, tmp_path, name):
    """Every timm spec names its modules as timm does (docs/export.md): the exported file's model takes
    timm's state_dict strictly and computes its outputs (HRNet's: the classifier's 1000 logits)."""
    import copy
    import importlib.util

    from cnncalc.api import load_graph
    from cnncalc.pytorch.export import pytorch_source

    path = tmp_path / f"{name}.py"
    path.write_text(pytorch_source(*load_graph(name)))
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    classes = [value for value in vars(module).values()
               if isinstance(value, type) and issubclass(value, torch.nn.Module) and value.__module__ == name]
    reference = copy.deepcopy(_model(timm, name))  # the cached model stays as timm made it
    torch.manual_seed(0)
    for buffer_name, buffer in reference.named_buffers():  # statistics other than 0 and 1, so a misplaced one shows
        if buffer_name.endswith(("running_mean", "running_var")):
            buffer.copy_(torch.rand_like(buffer) + 0.5)
    model = classes[-1]().eval()  # the model's class comes last, after its blocks
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, *DECLARED[name]["input"])
    with torch.no_grad():
        output, expected = model(x), reference(x)
    assert output.shape == expected.shape == (1, 1000)  # allclose alone would broadcast
    assert torch.allclose(output, expected, atol=1e-5, rtol=0)


@pytest.mark.usefixtures("torch")  # the generator reads the lowering's torch modules
def test_how_each_exported_file_is_written():
    """What docs/export.md says of each file: the blocks that are classes or functions, those written out
    in the model."""
    from cnncalc.api import load_graph
    from cnncalc.pytorch.codegen import Generator

    expected = {"cspdarknet53": (["cna", "cross_stage", "dark"], []),
                "hrnet_w18_small": (["basic", "bottleneck", "branch", "cbr"], ["fuse", "fuse_term", "hr_module"]),
                "legacy_xception": (["rep", "sep", "unit", "xblock"], []),
                # DlaBasic is a class of two inputs calling its ReLU twice (`share:`); DlaTree's root reads
                # the channels of all its children, no expression of the tree's parameters
                "dla34": (["basic", "cbr", "root"], ["tree"])}
    for name, (units, written_out) in expected.items():
        generator = Generator(load_graph(name)[0])
        generator.write()
        assert sorted(generator.classes | generator.functions) == units, name
        assert sorted(generator.written_out()) == written_out, name
