"""`cnncalc verify`: build the graph in PyTorch, run it, and compare every layer with the static
engine: output shape, parameters and BatchNorm statistics, and multiply-adds where the report's
convention has a reference counter (REFERENCE_COUNTERS: fvcore's FlopCountAnalysis for the fvcore
convention, PyTorch's FlopCounterMode for the torch convention), layer by layer."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..analysis.report import Report
from ..core.errors import SpecError
from ..spec.graph import Graph
from .lowering import require_torch, to_module


@dataclass(frozen=True)
class Check:
    layer: str
    quantity: str  # "shape", "params", "buffers" or "macs (<convention>)"
    static: Any
    measured: Any

    @property
    def ok(self) -> bool:
        return self.static == self.measured


def run_model(graph: Graph, device: str = "meta") -> tuple[Any, dict[str, tuple]]:
    """The lowered model and each layer's output shape (per sample) from a forward pass.

    On the meta device nothing is computed or allocated: only shapes flow. A layer without a meta
    kernel falls back to a batch of one zero image on the CPU."""
    torch = require_torch()
    try:
        with torch.device(device):
            model = to_module(graph)
            return model, _shapes(torch, model, graph, device)
    except NotImplementedError:
        if device == "cpu":
            raise
        return run_model(graph, "cpu")


@contextmanager
def located_failures(graph: Graph, model: Any, what: str = "PyTorch") -> Iterator[None]:
    """A forward pass (or a tool's trace) that fails inside a layer's module becomes a SpecError
    located at that layer of the spec, not a traceback: the static engine accepted the layer and
    PyTorch did not, which is worth a clear message (and a bug report, see the hint)."""
    nodes = {node.name: node for node in graph.nodes}
    running: list[str] = []
    handles = [model.get_submodule(name).register_forward_pre_hook(
        lambda _module, _inputs, name=name: running.append(name)) for name in nodes]
    try:
        yield
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        if not running or isinstance(exc, NotImplementedError):  # no meta kernel: run_model tries the CPU
            raise
        layer = nodes[running[-1]].layer
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SpecError(f"{what} cannot run this {layer.op} layer: {message}", loc=layer.loc, layer=layer.name,
                        hint="cnncalc's static engine accepts it: please report this with the spec "
                             "(https://github.com/cnncalc/cnncalc/issues)") from None
    finally:
        for handle in handles:
            handle.remove()


def _shapes(torch: Any, model: Any, graph: Graph, device: str) -> dict[str, tuple]:
    shapes: dict[str, tuple] = {}
    handles = []
    for node in graph.nodes:
        module = model.get_submodule(node.name)

        def record(_module, _inputs, output, name=node.name):
            shapes[name] = tuple(output.shape[1:])

        handles.append(module.register_forward_hook(record))
    try:
        with torch.no_grad(), located_failures(graph, model):
            model(torch.zeros((1, *graph.input_shape), device=device))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def verify(graph: Graph, report: Report, device: str = "meta") -> list[Check]:
    """Shape, parameter and buffer checks for every layer, and a multiply-add check per layer when
    the report's convention has a reference counter (REFERENCE_COUNTERS). The model is the network of
    the report's mode (at inference, without the layers marked train_only)."""
    graph = graph.for_mode(report.mode)
    model, shapes = run_model(graph, device)
    checks = []
    for row in report.rows:
        module = model.get_submodule(row.name)
        params = sum(p.numel() for p in module.parameters())
        statistics = sum(b.numel() for key, b in module.named_buffers() if not key.endswith("num_batches_tracked"))
        checks += [
            Check(row.name, "shape", tuple(row.output_shape), shapes.get(row.name)),
            Check(row.name, "params", row.params, params),
            Check(row.name, "buffers", row.buffers, statistics),
        ]
    counter = REFERENCE_COUNTERS.get(report.convention)
    if counter is not None:
        measured = counter(graph, model)
        quantity = f"macs ({report.convention})"
        checks += [Check(row.name, quantity, row.macs, measured.get(row.name, 0) * report.batch)
                   for row in report.rows]
    return checks


MEMORY_BATCH = 2


def memory_checks(graph: Graph, batch: int = MEMORY_BATCH) -> list[Check]:
    """The memory model against PyTorch on the lowered module, under fake tensors (no memory, no
    arithmetic): per layer, the bytes autograd keeps for backward (saved_tensors_hooks); for the
    whole network, MemTracker's peak of a training step (SGD with momentum) and of an inference pass,
    category by category. The lowered module runs every layer from one forward and calls each merge as a
    module (with MemTracker's hooks on its inputs): the static model is run the same way (docs/memory.md)."""
    require_torch()
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from ..analysis.memory import CATEGORIES, MemoryOptions, memory_schedule
    from .memtrack import measure, saved_per_module

    checks = []
    train = graph.for_mode("train")
    schedule = memory_schedule(train, MemoryOptions(mode="train", flat=True, tracker_hooks=True))
    with FakeTensorMode():
        model = to_module(train)
        measured = saved_per_module(model, [node.name for node in train.nodes], torch.randn(batch, *train.input_shape))
    for layer in schedule.layers:
        checks.append(Check(layer.name, "memory: kept for backward (bytes)",
                            layer.saved_size[0] * batch + layer.saved_size[1], measured[layer.name]))
    for mode, network in (("train", train), ("infer", graph.for_mode("infer"))):
        schedule = memory_schedule(network, MemoryOptions(mode=mode, flat=True, tracker_hooks=True))
        tracker = measure(partial(to_module, network), batch, network.input_shape, mode, resident=True)
        static = schedule.samples[schedule.peak(batch)[0]].bytes(batch)
        for name, mine, theirs in zip(CATEGORIES, static, tracker):
            checks.append(Check(f"({mode} peak)", f"memory: {name} (bytes, batch {batch})", mine, theirs))
    return checks


def _on_cpu(torch: Any, graph: Graph, model: Any) -> tuple[Any, Any]:
    """The model with real (zero) tensors on the CPU, and a batch of one zero input. A model built on
    the meta device gets fresh CPU storage without running any initialisation."""
    tensors = [*model.parameters(), *model.buffers()]
    if any(t.device.type != "cpu" for t in tensors):
        model = model.to_empty(device="cpu")
        with torch.no_grad():
            for t in [*model.parameters(), *model.buffers()]:
                t.zero_()
    return model, torch.zeros((1, *graph.input_shape))


def fvcore_macs(graph: Graph, model: Any) -> dict[str, int]:
    """fvcore's FlopCountAnalysis per submodule, i.e. per spec layer (it traces on the CPU)."""
    import warnings

    torch = require_torch()
    try:
        with warnings.catch_warnings():  # its imports use torch.jit.script, deprecated in new PyTorch
            warnings.simplefilter("ignore", FutureWarning)
            from fvcore.nn import FlopCountAnalysis
    except ImportError:
        from ..core.errors import OptionError

        raise OptionError("the fvcore convention's check needs fvcore, which is not installed",
                        hint="pip install fvcore (or use --convention textbook)") from None
    model, x = _on_cpu(torch, graph, model)
    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    with warnings.catch_warnings(), located_failures(graph, model, "fvcore"):
        warnings.simplefilter("ignore")
        counts = analysis.by_module()
    return {node.name: int(counts.get(node.name, 0)) for node in graph.nodes}


def torch_flops(graph: Graph, model: Any) -> dict[str, int]:
    """PyTorch's FlopCounterMode per submodule (it runs on the meta device as well)."""
    torch = require_torch()
    from torch.utils.flop_counter import FlopCounterMode

    device = next((t.device for t in [*model.parameters(), *model.buffers()]), torch.device("cpu"))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), located_failures(graph, model, "FlopCounterMode"):
        model(torch.zeros((1, *graph.input_shape), device=device))
    prefix = f"{type(model).__name__}."
    counts = {name.removeprefix(prefix): sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return {node.name: int(counts.get(node.name, 0)) for node in graph.nodes}


# Conventions whose tool can count each layer of the lowered module (keyed by convention name).
REFERENCE_COUNTERS: dict[str, Callable[[Graph, Any], dict[str, int]]] = {
    "fvcore": fvcore_macs,
    "torch": torch_flops,
}
