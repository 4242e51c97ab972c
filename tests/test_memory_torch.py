"""The memory model against PyTorch itself: every layer type's rule against what autograd keeps
(saved_tensors_hooks) and against MemTracker on the lowered module, and the zoo against MemTracker on
the torchvision models (docs/memory.md says how, and what each test costs)."""
from __future__ import annotations

import textwrap

import pytest

from cnncalc.analysis.memory import MemoryOptions, memory_schedule
from cnncalc.layers import REGISTRY, layer_types
from cnncalc.layers.base import EXAMPLE_INPUT
from cnncalc.spec.graph import build
from cnncalc.spec.spec import parse_spec

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore")]
torch = pytest.importorskip("torch")
from cnncalc.pytorch import memtrack as memtracker  # noqa: E402


def example_graph(op: str):
    """The layer type's example inside a block after a 1x1 conv, so that its input needs a gradient
    as inside a network (the block adds no module level: `module: .`)."""
    cls = REGISTRY[op]
    layers = textwrap.indent(cls.example or f"- {{op: {cls.op}}}", " " * 6)
    text = (f"input: {EXAMPLE_INPUT}\nblocks:\n  example:\n    layers:\n{layers}\n"
            "layers:\n  - {op: conv, name: pre, out: 4, kernel: 1, bias: false}\n"
            "  - {op: example, name: ex, module: .}\n")
    return build(parse_spec(text, f"{op}.yaml"))


def lowered(graph):
    from cnncalc.pytorch.lowering import to_module

    return lambda: to_module(graph)


OPS = sorted(cls.op for cls in layer_types())


@pytest.mark.parametrize("op", OPS)
def test_saved_bytes_of_every_layer_type_equal_what_autograd_keeps(op):
    graph = example_graph(op)
    schedule = memory_schedule(graph, MemoryOptions(mode="train"))
    torch.manual_seed(0)
    from cnncalc.pytorch.lowering import to_module

    model = to_module(graph)
    names = [node.name for node in graph.nodes]
    measured = memtracker.saved_per_module(model, names, torch.randn(2, *graph.input_shape))
    static = {layer.name: layer.saved_size[0] * 2 + layer.saved_size[1] for layer in schedule.layers}
    assert static == measured


@pytest.mark.parametrize("case", ["train-touched", "train-resident", "infer"])
@pytest.mark.parametrize("op", OPS)
def test_every_layer_type_step_equals_memtracker(op, case):
    graph = example_graph(op)
    mode, _, protocol = case.partition("-")
    options = MemoryOptions(mode=mode, optimizer="adamw", protocol=protocol or "resident", tracker_hooks=True)
    schedule = memory_schedule(graph, options)
    measured = memtracker.measure(lowered(graph), 2, graph.input_shape, mode, "adamw", protocol == "resident")
    index, peak = schedule.peak(2)
    assert schedule.samples[index].bytes(2) == measured
    assert peak == sum(measured)
