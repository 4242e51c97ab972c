"""Where each layer's torch module sits in an exported model: its module path (`module:` in the spec,
else its name), with two rules that make the paths match hand-written models such as torchvision's:

- a layer with a fused activation (`act: relu`) is two modules: the layer at its path, the activation
  next to it: at the next number when the path ends in one (AlexNet's `features.0`, `features.1`),
  else at `<name>_act`;
- the numbered modules of a container are renumbered 0, 1, 2... in the order of their numbers (ties in
  the order of the spec), so a layer that `when:` skips leaves no gap, as in a list built in Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..layers.torchspec import Torch
from ..spec.graph import Graph, Node

ACTIVATION_SUFFIX = "_act"


@dataclass(frozen=True)
class Placed:
    """A node and its torch modules at their final paths (two for a fused activation)."""

    node: Node
    modules: tuple[tuple[str, Torch], ...]


@dataclass
class _Container:
    children: dict[str, _Container] = field(default_factory=dict)
    first: int = -1  # the order (in the spec) of the first module inside
    final: dict[str, str] = field(default_factory=dict)  # segment as given -> segment in the model


class ModuleTree:
    """The exported model's module paths for a graph."""

    def __init__(self, graph: Graph) -> None:
        self.root = _Container()
        raw: list[tuple[Node, list[tuple[list[str], Torch]]]] = []
        order = 0
        for node in graph.nodes:
            description = node.layer.lowering(list(node.input_shapes), node.output_shape)
            segments = node.module.split(".")
            if description.fused:
                core, activation = description.args
                parts = [(segments, core), (_activation_path(segments), activation)]
            else:
                parts = [(segments, description)]
            for path, _ in parts:
                self._insert(path, order)
                order += 1
            raw.append((node, parts))
        self._number(self.root)
        self.placed = [Placed(node, tuple((self.final(".".join(p)), d) for p, d in parts)) for node, parts in raw]

    def _insert(self, segments: list[str], order: int) -> None:
        container = self.root
        for segment in segments:
            container = container.children.setdefault(segment, _Container())
            if container.first < 0:
                container.first = order

    def _number(self, container: _Container) -> None:
        numbered = sorted((segment for segment in container.children if _number(segment) is not None),
                          key=lambda segment: (_number(segment), container.children[segment].first))
        container.final = {segment: segment for segment in container.children}
        container.final.update({segment: str(index) for index, segment in enumerate(numbered)})
        for child in container.children.values():
            self._number(child)

    def final(self, path: str) -> str:
        """The model's path for a path the spec gave (a layer's, or a block instance's)."""
        container, out = self.root, list[str]()
        for segment in path.split("."):
            if segment not in container.children:  # a block instance whose layers were all skipped
                return ".".join([*out, segment])
            out.append(container.final[segment])
            container = container.children[segment]
        return ".".join(out)


def _activation_path(segments: list[str]) -> list[str]:
    *parent, leaf = segments
    return [*parent, f"{leaf}+"] if leaf.isdigit() else [*parent, leaf + ACTIVATION_SUFFIX]


def _number(segment: str) -> int | None:
    """A numbered segment's number; a fused activation's `N+` sorts right after N."""
    digits = segment.removesuffix("+")
    return int(digits) if digits.isdigit() else None
