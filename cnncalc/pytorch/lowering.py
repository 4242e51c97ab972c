"""The PyTorch lowering: a Graph becomes an nn.Module whose submodules carry the spec's layer names.

Each layer type says which torch module it is (`Layer.lowering`, returning a `Torch` description:
a class name and its arguments). The same description builds the live module here and prints the
source of `cnncalc export --to pytorch`, so the two cannot drift apart. torch is imported only
inside the functions that need it.
"""
from __future__ import annotations

from typing import Any

from ..core.errors import OptionError
from ..layers.torchspec import Torch
from ..spec.graph import INPUT_NAME, Graph

INSTALL_HINT = "install the PyTorch extra: pip install 'cnncalc[torch]'"


def require_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise OptionError("this command needs PyTorch, which is not installed", hint=INSTALL_HINT) from None
    return torch


def build(description: Torch) -> Any:
    """The live module a description stands for: a torch.nn class or one of pytorch/modules.py."""
    import torch.nn as nn

    from . import modules

    namespace = nn if description.cls.startswith("nn.") else modules
    factory = getattr(namespace, description.cls.removeprefix("nn."))
    args = [build(value) if isinstance(value, Torch) else value for value in description.args]
    kwargs = {key: build(value) if isinstance(value, Torch) else value for key, value in description.kwargs}
    module = factory(*args, **kwargs)
    return module.requires_grad_(False) if description.frozen else module


def descriptions(graph: Graph) -> list[tuple[str, tuple[str, ...], Torch]]:
    """(layer name, inputs, torch description) for every node, in order."""
    return [(node.name, node.inputs, node.layer.lowering(list(node.input_shapes), node.output_shape))
            for node in graph.nodes]


def to_module(graph: Graph) -> Any:
    """The graph as a live torch.nn.Module in eval mode; submodule names are the spec's layer names."""
    require_torch()
    from torch import nn

    last_use = {ref: index for index, node in enumerate(graph.nodes) for ref in node.inputs}

    class CnnCalcNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            steps = []
            built: dict[str, Any] = {}
            for index, (node, (name, inputs, torch_description)) in enumerate(zip(graph.nodes, descriptions(graph))):
                if node.layer.shares:  # `share: LAYER`: that layer's module, called again
                    from .modules import Shared

                    module = Shared(built[node.layer.shares])
                else:
                    module = built[name] = build(torch_description)
                put(self, name, module)
                done = tuple(ref for ref in dict.fromkeys((*inputs, name))
                             if last_use.get(ref, index) == index and ref not in graph.outputs)
                steps.append((name, inputs, module, done))
            self._steps = steps  # a plain list: the modules are registered once, by name, above
            self._outputs = graph.outputs

        def forward(self, x):
            values = {INPUT_NAME: x}
            for name, inputs, module, done in self._steps:
                values[name] = module(*[values[ref] for ref in inputs])
                for ref in done:  # as eager code does: a tensor goes once its last reader has run
                    del values[ref]
            outputs = tuple(values[name] for name in self._outputs)
            return outputs[0] if len(outputs) == 1 else outputs

    model = CnnCalcNet()
    model.__class__.__name__ = _class_name(graph.name)
    return model.eval()  # inference: dropout and stochastic depth are the identity, BN uses its statistics


def put(root: Any, dotted: str, module: Any) -> None:
    """Register `module` at a dotted path, creating empty containers on the way (`layer1.0.conv1`)."""
    from torch import nn

    *parents, leaf = dotted.split(".")
    node = root
    for part in parents:
        if part not in node._modules:
            node.add_module(part, nn.Module())
        node = node._modules[part]
    node.add_module(leaf, module)


def _class_name(name: str) -> str:
    words = [w for w in "".join(c if c.isalnum() else " " for c in name).split() if w]
    title = "".join(w[:1].upper() + w[1:] for w in words) or "Net"
    return title if title[0].isalpha() else f"Net{title}"
