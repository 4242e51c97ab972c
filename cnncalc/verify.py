"""`cnncalc verify`: build the graph in PyTorch, run it, and compare every layer with the static
engine: output shape, parameters and BatchNorm statistics (and multiply-adds where a convention
has a reference counter, see conventions.REFERENCE_COUNTERS)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .graph import Graph
from .lowering import require_torch, to_module
from .report import Report


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


def _shapes(torch: Any, model: Any, graph: Graph, device: str) -> dict[str, tuple]:
    shapes: dict[str, tuple] = {}
    handles = []
    for node in graph.nodes:
        module = model.get_submodule(node.name)

        def record(_module, _inputs, output, name=node.name):
            shapes[name] = tuple(output.shape[1:])

        handles.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model(torch.zeros((1, *graph.input_shape), device=device))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def verify(graph: Graph, report: Report, device: str = "meta") -> list[Check]:
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
    return checks
