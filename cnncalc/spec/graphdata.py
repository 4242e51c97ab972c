"""The layer graph the builder makes (graph.py): its nodes, block instances (calls) and the Graph."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..core.errors import Note
from ..core.shapes import Shape
from ..layers import Layer
from .spec import CONTROL_KEYS, INPUT_KEYS, INPUT_NAME, Spec
from .yamlsrc import YMap

# CONTROL_KEYS and INPUT_KEYS are defined with the spec's other key lists (spec.py) and used from here
__all__ = ["CONTROL_KEYS", "INPUT_KEYS", "MODES", "Call", "Graph", "Node", "Origin"]
MODES = ("infer", "train")


@dataclass(frozen=True)
class Origin:
    """The spec item a node or block instance comes from: its local name and repeat copy."""

    item: YMap
    local: str
    copy: int | None = None


@dataclass(frozen=True)
class Node:
    layer: Layer
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    notes: tuple[tuple[str, str | None], ...] = ()
    module: str = ""  # its module path in PyTorch (`module:` in the spec); its name when not given
    variables: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # what its fields saw
    origin: Origin | None = field(default=None, compare=False, repr=False)  # the spec item it comes from
    train_only: bool = False  # runs only in training (`train_only:` on it or on a block around it)

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass(frozen=True)
class Call:
    """One use of a block: the instance `name` (its layers are `name.<local>`), the block's
    parameters as resolved, the variables its layers see, and where it sits."""

    name: str
    block: str
    args: dict[str, Any]
    variables: dict[str, Any]
    input: str
    output: str
    module: str  # its module path in PyTorch
    origin: Origin | None = field(default=None, compare=False, repr=False)
    inputs: tuple[str, ...] = ()  # every input (named inputs: `inputs:`), the first being `input`
    outputs: tuple[str, ...] = ()  # every output (`outputs:`), the first being `output`


@dataclass(frozen=True)
class Graph:
    name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    description: str = ""
    outputs: tuple[str, ...] = ()
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # block instance or repeat -> (op, output)
    group_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # instances with several outputs
    notes: tuple[Note, ...] = ()  # warnings about the graph itself (unused outputs, a channels-last input)
    calls: tuple[Call, ...] = ()  # every block instance, in the order they were built
    spec: Spec | None = field(default=None, compare=False, repr=False)  # what it was built from (export)
    train_only: tuple[str, ...] = ()  # the items marked `train_only:` (layer or block instance names)
    checkpoints: tuple[str, ...] = ()  # the items marked `checkpoint:` (activation checkpointing)
    # `held:` outputs -> the block instance ('': the whole forward) or layer until whose end a variable holds them
    held: dict[str, str] = field(default_factory=dict)

    def shape_of(self, ref: str) -> Shape:
        if ref == INPUT_NAME:
            return self.input_shape
        return next(node.output_shape for node in reversed(self.nodes) if node.layer.name == ref)  # names are unique

    def for_mode(self, mode: str) -> Graph:
        """The network that runs in `mode`: 'train' is the whole graph, 'infer' leaves out the layers
        that run only in training (auxiliary classifiers) and the outputs they give."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "train" or not self.train_only:
            return self
        dropped = {node.name for node in self.nodes if node.train_only}
        return replace(
            self,
            nodes=tuple(node for node in self.nodes if not node.train_only),
            outputs=tuple(name for name in self.outputs if name not in dropped),
            groups={key: value for key, value in self.groups.items() if value[1] not in dropped},
            group_outputs={key: value for key, value in self.group_outputs.items()
                           if not any(name in dropped for name in value)},
            notes=tuple(note for note in self.notes if note.layer not in dropped),
            calls=tuple(call for call in self.calls if call.output not in dropped),
            held={name: until for name, until in self.held.items() if name not in dropped},
            checkpoints=tuple(name for name in self.checkpoints
                              if not (name in dropped or self.groups.get(name, ("", ""))[1] in dropped)),
        )
