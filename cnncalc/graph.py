"""The layer graph: nodes in topological order, each naming the outputs it reads."""
from __future__ import annotations

from dataclasses import dataclass

from .layers import Layer
from .shapes import Shape
from .spec import INPUT_NAME, Spec


@dataclass(frozen=True)
class Node:
    layer: Layer
    inputs: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass(frozen=True)
class Graph:
    name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    description: str = ""


def build(spec: Spec, input_shape: Shape | None = None) -> Graph:
    """The spec's layers as a graph. A layer reads the output of the layer before it."""
    nodes = []
    previous = INPUT_NAME
    for layer in spec.layers:
        nodes.append(Node(layer, (previous,)))
        previous = layer.name
    return Graph(spec.name, input_shape or spec.input_shape, tuple(nodes), spec.description)
