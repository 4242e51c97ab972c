"""Counting conventions: each a weight per cost term (cnncalc/conventions.py), proved against the
real tools.

- Worked examples: every convention on a small spec, layer by layer, with the arithmetic.
- Every layer type, lowered to PyTorch, counted by each tool (fvcore, ptflops, thop, torchinfo,
  PyTorch's FlopCounterMode): the tool's total equals the convention's.
- Every zoo spec that declares a torchvision model: `cnncalc table --convention X` equals what tool
  X reports for the torchvision model, exactly, at the spec's input size and at (H + 32, W + 32).
  The few pairs where the tool miscounts something the spec cannot mirror are strict xfails, each
  with its reason (docs/conventions.md, "Known peer bugs").
- `cnncalc verify` compares every layer's multiply-adds with fvcore's count of the same module.

The peers are imported inside the tests (pytest.importorskip): the static tests run without them.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import warnings

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.analysis.conventions import ACTIVATIONS, CONVENTIONS, TERMS, TEXTBOOK
from cnncalc.analysis.engine import analyze
from cnncalc.cli import app
from cnncalc.core.formula import value_of
from cnncalc.layers import REGISTRY, layer_types
from cnncalc.layers.activation import Activation
from cnncalc.spec.bundled import bundled_specs
from cnncalc.spec.graph import build
from cnncalc.spec.spec import load_spec, parse_spec

runner = CliRunner()
PEERS = ["fvcore", "ptflops", "thop", "torchinfo", "torch"]

# ---- worked examples ---------------------------------------------------------------------------

SMALL = """
name: small
input: [3, 8, 8]
layers:
  - {op: conv, name: conv, out: 4, kernel: 3, pad: 1, act: relu}   # 4x8x8 = 256 outputs
  - {op: batchnorm, name: bn}                                     # 256
  - {op: maxpool, name: pool, kernel: 2}                          # 4x4x4 = 64
  - {op: avgpool, name: avg, kernel: 2}                           # 4x2x2 = 16
  - {op: upsample, name: up, scale: 2, mode: bilinear}            # 4x4x4 = 64
  - {op: layernorm, name: ln}                                     # 64
  - {op: gap, name: gap}                                          # 4x1x1
  - {op: flatten, name: flat}                                     # 4
  - {op: fc, name: fc, out: 10}                                   # 10
  - {op: softmax, name: prob}                                     # 10
"""

# conv: mac = 256 outputs × (3 × 3 × 3) = 6,912; bias 256; relu 256;
#       parameters 4 × 27 + 4 = 112, at 8 × 8 output positions = 7,168.
WORKED = {
    "textbook": dict(conv=6912,                # multiply-adds only
                     bn=0,
                     pool=64 * 2 * 2,          # window: outputs × K × K = 256
                     avg=16 * 2 * 2,           # 64
                     up=0, ln=0,
                     gap=4 * 4 * 4,            # global window: C × H × W = 64
                     flat=0,
                     fc=4 * 10,                # 40
                     prob=0),
    "fvcore": dict(conv=6912,                  # no bias, no activation
                   bn=256 + 256,               # 1 per element, +1 for the affine scale and shift
                   pool=0, avg=0,              # aten::max_pool2d, avg_pool2d: no handle
                   up=4 * 64,                  # upsample_bilinear2d: 4 per output
                   ln=4 * 64 + 64,             # layer_norm: 4 per element, +1 affine
                   gap=64,                     # adaptive_avg_pool2d: its input
                   flat=0,
                   fc=40,                      # aten::linear, no bias
                   prob=0),
    "ptflops": dict(conv=6912 + 256 + 2 * 256,  # + bias + ReLU counted twice (hook and F.relu)
                    bn=256 + 256,              # 1 per element, ×2 with affine
                    pool=2 * 256,              # the pool's input, twice (hook and F.max_pool2d)
                    avg=2 * 64,
                    up=2 * 64,                 # output, twice (hook and F.interpolate)
                    ln=64,                     # nn.LayerNorm has no `affine` attribute: ×1
                    gap=2 * 64,                # input, twice
                    flat=0,
                    fc=40 + 10,                # + bias
                    prob=10),                  # F.softmax: its input
    "thop": dict(conv=6912,                    # no bias; ReLU is a zero op
                 bn=2 * 256 * 2,               # 2 per element, ×2 with affine
                 pool=0,                       # max pooling: zero op
                 avg=16,                       # 1 per output
                 up=11 * 64,                   # bilinear: 11 per output
                 ln=2 * 64 * 2,                # as batch norm (nn.LayerNorm; cnncalc's LayerNorm2d gets 0)
                 gap=(16 + 1) * 4,             # (H·W adds + 1 division) per output = 68
                 flat=0,
                 fc=40,
                 prob=10 * 3 - 1),             # exp + div per element, 9 adds: 29
    "torchinfo": dict(conv=7168,               # (weights + bias) × output positions
                      bn=8,                    # γ and β: 2 × 4
                      pool=0, avg=0, up=0,
                      ln=8,
                      gap=0, flat=0,
                      fc=4 * 10 + 10,          # weights + bias, once
                      prob=0),
    "torch": dict(conv=2 * 6912, bn=0, pool=0, avg=0, up=0, ln=0, gap=0, flat=0,
                  fc=2 * 40, prob=0),          # 2 FLOPs per multiply-add
}

# A transposed conv, LRN and an adaptive pool whose windows overlap.
ODD = """
name: odd
input: [2, 3, 3]
layers:
  - {op: conv_transpose, name: up, out: 4, kernel: 3, stride: 2}   # H' = (3 - 1)·2 + 3 = 7: 4x7x7
  - {op: lrn, name: lrn, size: 3}                                  # 196 elements
  - {op: conv, name: wide, out: 512, kernel: 1, bias: false}       # 512x7x7
  - {op: zeropad, name: pad, pad: [0, 1, 0, 1]}                    # 512x8x8
  - {op: adaptive_avgpool, name: adapt, size: 7}                   # 8 -> 7: windows of 2, overlapping
"""

# up:   mac = 2·3·3 inputs × (4·3·3) = 648 (per input position); per output position 196 × 2·3·3 = 3,528;
#       parameters 2·4·9 + 4 = 76, × 49 output positions = 3,724; bias 196.
# lrn:  ptflops: input.mul(input), .mul(alpha), .add(k) = 3 × 196, and avg_pool3d over the input padded
#       with n - 1 = 2 channels: (4 + 2)·49 = 294.
# wide: 512·49 × 4 = 100,352 multiply-adds; parameters 2,048 × 49 = 100,352 as well.
# adapt: window reads 512 × 14 × 14 = 100,352 (7 windows of 2 rows, 7 of 2 columns); input 32,768;
#       thop: ((8/7)·(8/7) + 1) × 512·49 = 57,856 in exact arithmetic, 57,855 in float64 (truncated).
WORKED_ODD = {
    "textbook": dict(up=648, lrn=0, wide=100352, pad=0, adapt=100352),
    "fvcore": dict(up=648, lrn=0, wide=100352, pad=0, adapt=32768),
    "ptflops": dict(up=648 + 196, lrn=3 * 196 + 294, wide=100352, pad=0, adapt=2 * 32768),
    "thop": dict(up=3528, lrn=0, wide=100352, pad=0, adapt=57855),
    "torchinfo": dict(up=3724, lrn=0, wide=100352, pad=0, adapt=0),
    "torch": dict(up=2 * 648, lrn=0, wide=2 * 100352, pad=0, adapt=0),
}


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
@pytest.mark.parametrize("spec, expected", [(SMALL, WORKED), (ODD, WORKED_ODD)], ids=["small", "odd"])
def test_worked_examples(convention, spec, expected):
    report = analyze(build(parse_spec(spec, "worked.yaml")), convention=CONVENTIONS[convention])
    assert {row.name: row.macs for row in report.rows} == expected[convention]


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore")
def test_every_worked_example_is_a_tool_count():
    """The worked examples are not only arithmetic: the tools print the same numbers."""
    pytest.importorskip("torch")
    for spec, expected in [(SMALL, WORKED), (ODD, WORKED_ODD)]:
        graph = build(parse_spec(spec, "worked.yaml"))
        module = _lowered(graph)
        ops = {node.name: node.layer.op for node in graph.nodes}
        for tool in PEERS:
            pytest.importorskip(PACKAGE[tool])
            # the tool counts 0 for cnncalc's own LayerNorm2d and softmax modules (LOWERING_QUIRKS)
            counted = sum(v for layer, v in expected[tool].items() if (ops[layer], tool) not in LOWERING_QUIRKS)
            assert COUNT[tool](module, graph.input_shape) == counted, (graph.name, tool)


# ---- the conventions are data ------------------------------------------------------------------

def test_conventions_weigh_only_known_terms():
    for convention in CONVENTIONS.values():
        assert set(convention.weights) <= set(TERMS), convention.name
        assert all(isinstance(w, int) and w > 0 for w in convention.weights.values()), convention.name
        assert convention.description


def test_every_activation_type_has_its_own_term():
    ops = {cls.op for cls in layer_types() if issubclass(cls, Activation)}
    assert ops == set(ACTIVATIONS)


@pytest.mark.parametrize("op", sorted(cls.op for cls in layer_types()))
def test_every_term_a_layer_type_reports_is_documented(op):
    graph = build(parse_spec(REGISTRY[op].example_spec(), "example.yaml"))
    for node in graph.nodes:
        costs = node.layer.costs(list(node.input_shapes), node.output_shape)
        assert set(costs) <= set(TERMS), (op, set(costs) - set(TERMS))
        assert all(value_of(v) >= 0 for v in costs.values())


def test_textbook_is_the_default_and_unchanged():
    report = cnncalc.analyze("alexnet")
    assert report.convention == "textbook" and report.totals.macs == 1_136_358_272
    assert cnncalc.analyze("alexnet", convention=TEXTBOOK).totals.macs == 1_136_358_272


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_table_json_and_explain_for_every_convention(convention):
    expected = cnncalc.analyze("resnet18", convention=CONVENTIONS[convention])
    table = runner.invoke(app, ["table", "resnet18", "--convention", convention, "-f", "json"])
    assert table.exit_code == 0, table.output
    data = json.loads(table.stdout)
    assert data["convention"] == convention
    assert data["totals"]["macs"] == expected.totals.macs
    # explain prints the formula the engine evaluated for every layer (and checks it equals the table)
    explained = runner.invoke(app, ["explain", "resnet18", "--convention", convention, "-f", "json"])
    assert explained.exit_code == 0, explained.output
    assert json.loads(explained.stdout)["convention"] == convention
    text = runner.invoke(app, ["table", "resnet18", "--convention", convention])
    assert f"{convention} convention" in text.stdout


def test_explain_shows_the_weighted_terms():
    result = runner.invoke(app, ["explain", "alexnet", "--layer", "conv1", "--convention", "ptflops"])
    assert result.exit_code == 0, result.output
    # ptflops: multiply-adds + bias + the ReLU counted twice
    assert ("MACs = (C_out × H' × W') × (C_in × K × K) + C_out × H' × W' + 2 × C_out × H' × W' "
            "= (96 × 55 × 55) × (3 × 11 × 11) + 96 × 55 × 55 + 2 × 96 × 55 × 55 = 106,286,400") in result.stdout


# test_static_path_with_a_peer_convention_imports_no_torch: in tests/test_static_imports.py (the static commands, one process)


# ---- the tools ---------------------------------------------------------------------------------

PACKAGE = {"fvcore": "fvcore", "ptflops": "ptflops", "thop": "thop", "torchinfo": "torchinfo", "torch": "torch"}


def _device(model):
    import torch

    return next((t.device for t in [*model.parameters(), *model.buffers()]), torch.device("cpu"))


def _on_cpu(model):
    """A CPU copy of a meta-device model: fresh zeroed storage, no initialisation."""
    import copy

    import torch

    if _device(model).type == "cpu":
        return model
    model = copy.deepcopy(model).to_empty(device="cpu")
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            t.zero_()
    return model


def fvcore_count(model, shape):
    import torch

    with warnings.catch_warnings():  # fvcore's imports use torch.jit.script, deprecated in new PyTorch
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(_on_cpu(model), torch.zeros((1, *shape)))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return analysis.total()


def ptflops_count(model, shape):
    from ptflops import get_model_complexity_info

    model = _on_cpu(model)
    with contextlib.redirect_stdout(io.StringIO()):
        macs, _ = get_model_complexity_info(model, tuple(shape), as_strings=False, print_per_layer_stat=False,
                                            verbose=False, backend="pytorch")  # its default in 0.7.5
    assert macs is not None, "ptflops failed"
    _unbind(model)
    return macs


def _unbind(model) -> None:
    """ptflops leaves its methods bound to the model it counted, as attributes (a reference cycle): the
    cached CPU model (VGG's weights are 0.5 GB) would stay until a full collection once the next replaced it."""
    for module in model.modules():
        for key, value in list(vars(module).items()):
            if getattr(value, "__self__", None) is module:
                del module.__dict__[key]


def thop_count(model, shape):
    import thop
    import torch

    macs, _ = thop.profile(model, (torch.zeros((1, *shape), device=_device(model)),), verbose=False)
    assert macs == int(macs)
    return int(macs)


def torchinfo_count(model, shape):
    import torchinfo

    return torchinfo.summary(model, input_size=(1, *shape), device=_device(model), verbose=0).total_mult_adds


def torch_count(model, shape):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros((1, *shape), device=_device(model)))
    return counter.get_total_flops()


COUNT = {"fvcore": fvcore_count, "ptflops": ptflops_count, "thop": thop_count, "torchinfo": torchinfo_count,
         "torch": torch_count}


def _lowered(graph):
    import torch

    from cnncalc.pytorch.lowering import to_module

    with torch.device("cpu"):
        return to_module(graph)


# ---- every layer type, lowered, against every tool ----------------------------------------------

# cnncalc's lowering uses a module the tool's table misses where the usual torch module is counted:
# the convention follows the usual module (what a model written in PyTorch contains).
LOWERING_QUIRKS = {
    ("layernorm", "ptflops"): "LayerNorm2d (cnncalc's and torchvision's) subclasses nn.LayerNorm; ptflops looks "
                              "modules up by exact type and counts it as 0",
    ("layernorm", "thop"): "LayerNorm2d subclasses nn.LayerNorm; thop looks modules up by exact type: 0",
    ("softmax", "ptflops"): "cnncalc lowers softmax to torch.softmax; ptflops counts only F.softmax (nn.Softmax)",
    ("softmax", "thop"): "cnncalc lowers softmax to torch.softmax; thop counts only the nn.Softmax module",
    ("mha", "ptflops"): "cnncalc lowers mha to SelfAttention, a subclass of nn.MultiheadAttention whose forward takes "
                        "one input; ptflops looks modules up by exact type and counts it as 0",
    ("mha", "torch"): "on the CPU under torch.no_grad() nn.MultiheadAttention takes its fused fast path "
                      "(torch._native_multi_head_attention), which FlopCounterMode does not count: 0",
}


def _layer_cases():
    for op in sorted(cls.op for cls in layer_types()):
        for tool in PEERS:
            reason = LOWERING_QUIRKS.get((op, tool))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            yield pytest.param(op, tool, marks=marks, id=f"{op}-{tool}")


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("op, tool", list(_layer_cases()))
def test_every_layer_type_counts_as_the_tool_does(op, tool):
    pytest.importorskip("torch")
    pytest.importorskip(PACKAGE[tool])
    graph = build(parse_spec(REGISTRY[op].example_spec(), "example.yaml"))
    report = analyze(graph, convention=CONVENTIONS[tool])
    assert COUNT[tool](_lowered(graph), graph.input_shape) == report.totals.macs


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("tool", PEERS)
def test_the_usual_modules_count_as_the_convention_says(tool):
    """Where cnncalc's lowering uses its own module (LOWERING_QUIRKS), the convention follows the
    module a PyTorch model usually has: nn.Softmax(dim=1), and nn.LayerNorm (cnncalc lowers a
    vector's layer norm to it)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip(PACKAGE[tool])
    softmax = analyze(build(parse_spec(REGISTRY["softmax"].example_spec(), "softmax.yaml")), convention=CONVENTIONS[tool])
    assert COUNT[tool](torch.nn.Sequential(torch.nn.Softmax(dim=1)).eval(), (4, 9, 11)) == softmax.totals.macs
    graph = build(parse_spec("input: [4, 9, 11]\nlayers:\n  - {op: flatten}\n  - {op: layernorm}\n", "ln.yaml"))
    assert COUNT[tool](_lowered(graph), graph.input_shape) == analyze(graph, convention=CONVENTIONS[tool]).totals.macs


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("tool", PEERS)
@pytest.mark.parametrize("dropout", [0.0, 0.25])
def test_nn_multihead_attention_counts_as_the_convention_says(tool, dropout):
    """mha's example as torchvision calls nn.MultiheadAttention (its exact type, which ptflops looks up), and for
    FlopCounterMode on the meta device, where the fused inference fast path (LOWERING_QUIRKS) is not taken: what
    the tools count for torchvision's ViT blocks, and what verify (on the meta device) counts per layer. With
    dropout on the attention weights, in train mode (where it runs: F.scaled_dot_product_attention's math path,
    its mask drawn and multiplied), no tool counts the dropout: fvcore leaves the attention out as before,
    ptflops' hook for nn.MultiheadAttention has no dropout term, thop and torchinfo count 0, FlopCounterMode counts
    the math path's two bmm as it counted the fused attention (and neither the mask nor its product). So no
    convention counts mha's `dropout`."""
    torch = pytest.importorskip("torch")
    pytest.importorskip(PACKAGE[tool])
    text = REGISTRY["mha"].example_spec().replace("heads: 2}", f"heads: 2, dropout: {dropout}}}")
    graph = build(parse_spec(text, "mha.yaml"))
    assert graph.nodes[-1].layer.dropout == dropout

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = torch.nn.MultiheadAttention(4, 2, batch_first=True, dropout=dropout)

        def forward(self, x):
            x = x.reshape(x.shape[0], 99, 4)
            return self.attention(x, x, x, need_weights=False)[0]

    with torch.device("meta" if tool == "torch" else "cpu"):
        model = Model().train(dropout > 0)
    expected = analyze(graph, convention=CONVENTIONS[tool]).totals.macs
    assert COUNT[tool](model, graph.input_shape) == expected
    # 99 tokens of 4 features in 2 heads: projections 4·99·4·4 = 6,336 multiply-adds, the attention's two products
    # 2·99·99·4 = 78,408; ptflops adds the biases 4·99·4 = 1,584, q scaled 99·4 = 396, softmax 2·99·99 = 19,602
    assert expected == {"fvcore": 6336, "ptflops": 6336 + 78408 + 1584 + 396 + 19602, "thop": 0, "torchinfo": 0,
                        "torch": 2 * (6336 + 78408)}[tool]


# ---- the zoo against the torchvision models ------------------------------------------------------

def _declared() -> dict[str, dict]:
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

_FUNCTIONAL = ("torchvision calls F.relu / F.avg_pool2d / F.adaptive_avg_pool2d where the spec's layer is a "
               "module; ptflops counts a functional call once but an nn.ReLU or pooling module twice "
               "(its module hook and its patched functional)")
# (spec, tool): why the tool's count of the torchvision model cannot equal any spec's count.
KNOWN = {
    ("convnext_tiny", "ptflops"): "torchvision's LayerNorm2d (stem, downsampling, head) is a subclass of "
                                  "nn.LayerNorm, which ptflops counts as 0; the blocks' nn.LayerNorm counts",
    ("convnext_tiny", "thop"): "torchvision's LayerNorm2d is a subclass of nn.LayerNorm, which thop counts as 0; "
                               "the blocks' nn.LayerNorm counts",
    ("convnext_tiny", "torchinfo"): "torchvision's blocks apply nn.Linear to N×H×W×C tensors; torchinfo counts "
                                    "a Linear's parameters once, not at each of the H×W positions",
    ("densenet121", "ptflops"): _FUNCTIONAL,
    ("densenet121", "thop"): "torchvision's final pooling is F.adaptive_avg_pool2d, which thop (module hooks "
                             "only) does not see",
    ("googlenet", "ptflops"): _FUNCTIONAL,
    ("inception_v3", "ptflops"): _FUNCTIONAL,
    ("inception_v3", "thop"): "torchvision's inception blocks pool with F.avg_pool2d, which thop (module hooks "
                              "only) does not see",
    ("mobilenet_v2", "ptflops"): _FUNCTIONAL,
    ("mobilenet_v2", "thop"): "torchvision's global pooling is nn.functional.adaptive_avg_pool2d, which thop "
                              "(module hooks only) does not see",
}


# torchvision models built for one input size (ViT's positional embedding has a row per patch): the
# constructor's argument that sets it, given the second size's height for the second size
SIZED = {"vit_b_16": "image_size"}


def sized_kwargs(name: str, shape: tuple) -> dict:
    """The declared constructor arguments, and the input size for a model built for one (SIZED)."""
    reference = DECLARED[name]
    kwargs = dict(reference["kwargs"])
    if reference["model"] in SIZED and tuple(shape) != tuple(reference["input"]):
        kwargs[SIZED[reference["model"]]] = shape[1]
    return kwargs


@functools.cache
def _meta_model(name: str, shape: tuple | None = None):
    """Built on the meta device (no memory, no initialisation) where the constructor allows it;
    RegNet computes its widths with tensor.tolist() and is built on the CPU."""
    import torch
    import torchvision

    reference = DECLARED[name]
    builder = torchvision.models.get_model_builder(reference["model"])
    kwargs = sized_kwargs(name, shape or reference["input"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with torch.device("meta"):
                return builder(weights=None, **kwargs).eval()
        except NotImplementedError:
            return builder(weights=None, **kwargs).eval()


@functools.lru_cache(maxsize=1)
def _cpu_model(name: str, shape: tuple | None = None):
    """One CPU model at a time (VGG's weights are 0.5 GB); the cases run spec by spec."""
    return _on_cpu(_meta_model(name, shape))


# fvcore traces with torch.jit, which needs real tensors; ptflops on the meta device counts every
# nn.Linear twice (the meta kernel of linear runs through Python's torch.matmul, which ptflops patches).
NEEDS_CPU = {"fvcore", "ptflops"}


def _model(name: str, tool: str, shape: tuple):
    """The model for the input `shape` (another model only for those built for one size: SIZED)."""
    size = tuple(shape) if DECLARED[name]["model"] in SIZED else None
    return _cpu_model(name, size) if tool in NEEDS_CPU else _meta_model(name, size)


def _second_size(shape: tuple) -> tuple:
    channels, height, width = shape
    return (channels, height + 32, width + 32)


def _zoo_cases():
    for name in sorted(DECLARED):
        for second in (False, True):
            for tool in PEERS:
                reason = KNOWN.get((name, tool))
                marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
                yield pytest.param(name, tool, second, marks=marks,
                                   id=f"{name}-{tool}-{'second-size' if second else 'spec-size'}")


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name, tool, second", list(_zoo_cases()))
def test_zoo_total_equals_the_tool_on_the_torchvision_model(name, tool, second):
    pytest.importorskip("torchvision")
    pytest.importorskip(PACKAGE[tool])
    shape = _second_size(DECLARED[name]["input"]) if second else DECLARED[name]["input"]
    # the tools run the eval-mode model: the inference network, which cnncalc counts by default (GoogLeNet's
    # and Inception v3's auxiliary classifiers are marked train_only)
    report = cnncalc.analyze(name, input=shape, convention=CONVENTIONS[tool])
    assert report.totals.macs == COUNT[tool](_model(name, tool, shape), shape)


def test_the_cli_table_total_is_the_compared_total():
    """For single-output specs the compared number is the table's printed total."""
    result = runner.invoke(app, ["table", "resnet50", "--convention", "fvcore", "-f", "json"])
    report = cnncalc.analyze("resnet50", convention=CONVENTIONS["fvcore"])
    assert json.loads(result.stdout)["totals"]["macs"] == report.totals.macs == 4_111_512_576


# ---- verify: per layer against fvcore -----------------------------------------------------------

@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", ["alexnet_paper", "resnet18", "googlenet", "convnext_tiny", "mobilenet_v3_large",
                                  "shufflenet_v2_x1_0", "vgg_a_lrn", "lraspp_mobilenet_v3_large", "vit_b_16"])
def test_verify_compares_every_layer_with_fvcore(name):
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    from cnncalc.pytorch.verify import verify
    from cnncalc.spec.bundled import resolve

    graph = build(load_spec(resolve(name)[0]))
    checks = verify(graph, analyze(graph, convention=CONVENTIONS["fvcore"]))
    macs = [c for c in checks if c.quantity == "macs (fvcore)"]
    assert len(macs) == len(graph.for_mode("infer").nodes)
    assert sum(c.measured for c in macs) > 0
    assert [c for c in checks if not c.ok] == []


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("op", sorted(cls.op for cls in layer_types()))
def test_verify_with_fvcore_on_every_layer_type(op):
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    from cnncalc.pytorch.verify import verify

    graph = build(parse_spec(REGISTRY[op].example_spec(), "example.yaml"))
    checks = verify(graph, analyze(graph, convention=CONVENTIONS["fvcore"]), device="cpu")
    assert [c for c in checks if not c.ok] == []


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore")
def test_verify_cli_checks_fvcore_by_default():
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    result = runner.invoke(app, ["verify", "resnet18"])
    assert result.exit_code == 0, result.output
    assert "all 69 layers match PyTorch (meta device)" in result.stdout
    assert "multiply-adds (fvcore)" in result.stdout
    data = json.loads(runner.invoke(app, ["verify", "resnet18", "-f", "json", "--convention", "torch"]).stdout)
    assert data["convention"] == "torch" and data["mismatches"] == [] and data["checks"] == 4 * 69


@pytest.mark.peers
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore")
def test_verify_fails_when_a_rule_disagrees_with_fvcore(monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    from cnncalc.layers.norm import BatchNorm
    from cnncalc.layers.terms import BATCHNORM

    # a wrong rule: batch norm reported as 2 per element, where fvcore counts 1 (+1 affine)
    original = BatchNorm.costs
    monkeypatch.setattr(BatchNorm, "costs",
                        lambda self, i, o: {**original(self, i, o), BATCHNORM: 2 * original(self, i, o)[BATCHNORM]})
    result = runner.invoke(app, ["verify", "resnet18", "--convention", "fvcore"])
    assert result.exit_code == 1
    assert "20 of 276 checks differ from PyTorch" in result.stderr
    # bn1: 64 × 112 × 112 = 802,816 elements: 3 × 802,816 static, 2 × 802,816 by fvcore
    assert "bn1" in result.stdout and "2408448" in result.stdout and "1605632" in result.stdout


@pytest.mark.torch
def test_verify_without_a_reference_counter_checks_no_macs():
    pytest.importorskip("torch")
    result = runner.invoke(app, ["verify", "resnet18", "--convention", "textbook", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checks"] == 3 * 69
