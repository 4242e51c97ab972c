"""Block expansions reused: a block called again with the same arguments on inputs of the same shapes
gets its first expansion's layers under its own names and module path (_Expansion)."""
from __future__ import annotations

from typing import Any

from ..core.errors import Location
from ..core.records import made
from ..layers import REGISTRY
from .buildstate import Scope
from .graphdata import Node
from .layering import BuildLayers
from .spec import Block
from .yamlsrc import YList, YMap


class BuildReuse(BuildLayers):
    def expand(self, items: YList, scope: Scope) -> str:  # graph._Builder's
        raise NotImplementedError

    def _expanded(self, block: Block, inner: Scope, args: dict[str, Any], inputs: tuple[str, ...], module: str,
                  special: bool) -> str:
        """self.expand(block.items, inner), or the layers of an earlier expansion of the block with the
        same arguments (values and types) on inputs of the same shapes, under this instance's names
        and module path (see _Expansion). Only plain blocks are remembered: layers and nothing else,
        every input a different layer, a module path of their own, no problem found, nothing
        training-only around."""
        if special or not module or self.train_only_nodes or \
                not (self.plain_blocks.get(id(block)) or self._plain_block(block)):
            return self.expand(block.items, inner)
        if len(inputs) == 1:
            shapes: tuple[Any, ...] = (self.shapes.get(inputs[0]),)
        elif len(set(inputs)) == len(inputs):
            shapes = tuple([self.shapes.get(ref) for ref in inputs])
        else:  # an input given twice
            return self.expand(block.items, inner)
        key: Any = None
        try:
            key = (id(block), *args, *args.values(), *map(type, args.values()), *shapes)
            recorded: _Expansion | None = self.expansions.get(key)
        except TypeError:  # a list among the arguments
            key = recorded = None
        if recorded is not None:
            if not recorded.usable():
                key = None
            elif self._replayed(recorded, inner, inputs, module):
                return inner.prefix + recorded.out if recorded.out_port is None else inputs[recorded.out_port]
        if key is None:
            return self.expand(block.items, inner)
        start, work, reported, errors = len(self.nodes), self.work, self.reported, len(self.problems.errors)
        out = self.expand(block.items, inner)
        if self.reported == reported and len(self.problems.errors) == errors and \
                id(block.items) in self.explicit_names:  # nothing was wrong
            self.expansions[key] = _Expansion(self.nodes[start:], inner, inputs, module, out, self.work - work)
        return out

    def _plain_block(self, block: Block) -> bool:
        """Whether a block's expansions may be remembered (see _expanded): once per block."""
        plain = self.plain_blocks.get(id(block))
        if plain is None:
            plain = block.variadic is None and not block.outputs and all(
                isinstance(item, YMap) and isinstance(item.get("op"), str) and item["op"] in REGISTRY
                and not any(key in item for key in ("repeat", "share", "train_only", "checkpoint"))
                and "#" not in str(item.get("module", "")) for item in block.items)
            self.plain_blocks[id(block)] = plain
        return plain

    def _replayed(self, recorded: _Expansion, inner: Scope, inputs: tuple[str, ...], module: str) -> bool:
        """Add a remembered expansion's layers as this instance's; False (nothing done) when the
        instance's module path is taken or the work or layer limit would be reached (then the
        expansion itself reports it where it happens)."""
        if module in self.modules or module in self.module_prefixes or \
                self.work + recorded.work > self.max_work or len(self.nodes) + len(recorded.nodes) > self.max_nodes:
            return False
        parts = module.split(".")
        if any(".".join(parts[:n]) in self.modules for n in range(1, len(parts))):
            return False
        self.work += recorded.work
        prefix, container = inner.prefix, module + "."
        # The module paths, as _number and _take_module take them: the instance's path is new (above), so
        # none of its layers' paths is taken, and they took each other's in the first instance.
        if recorded.numbered:
            pending = self.unnumbered.get(container)
            if pending is None:
                self.unnumbered[container] = list(recorded.numbered)
            else:
                pending.extend(recorded.numbered)
        containers, new = self.module_prefixes, [module]
        up = module.rpartition(".")[0]
        while up and up not in containers:
            new.append(up)
            up = up.rpartition(".")[0]
        containers.update(new)
        containers.update([container + within for within in recorded.containers])
        shapes, readers, nodes, node_by_name, modules = self.shapes, self.readers, self.nodes, self.node_by_name, \
            self.modules
        variables = inner.variables
        for node, local, refs, relative, loc in recorded.nodes:
            name = prefix + local
            ins = tuple([prefix + ref if port is None else inputs[port] for ref, port in refs])
            path = container + relative
            modules[path] = loc
            layer = node.layer
            copy = made(Node, {"layer": layer.copy_as(name, layer.loc, layer.field_locs), "inputs": ins,
                               "input_shapes": node.input_shapes, "output_shape": node.output_shape,
                               "notes": node.notes, "module": path, "variables": variables, "origin": node.origin,
                               "train_only": False})
            nodes.append(copy)
            node_by_name[name] = copy
            shapes[name] = node.output_shape
            readers.update(ins)
        inner.names.update((key, prefix + ref if port is None else inputs[port]) for key, ref, port in recorded.names)
        return True


_Ref = tuple[str, int | None]  # a name inside a block instance (without its prefix), or None and an input


class _Expansion:
    """A block instance's layers, as another instance of the block with the same arguments on inputs
    of the same shapes gets them (_Builder._expanded): each node with its local name, its inputs
    (inside the instance, or the instance's inputs by position), its module path inside the
    instance's and where that is given; the names the instance's scope ends with; its output; the
    work units its expansion cost. Worked out from the first instance's nodes when a second one
    asks (most blocks are never called alike twice)."""

    nodes: list[tuple[Node, str, tuple[_Ref, ...], str, Location]]
    numbered: list[str]  # the module paths (inside the instance's) that take numbers (see names._number)
    containers: list[str]  # the containers on the way to them (inside the instance's)
    names: list[tuple[str, str, int | None]]
    out: str  # as a _Ref
    out_port: int | None

    def __init__(self, nodes: list[Node], inner: Scope, inputs: tuple[str, ...], module: str, out: str,
                 work: int) -> None:
        self.work = work
        self._usable = False
        self._made: tuple[list[Node], Scope, tuple[str, ...], str, str] | None = (nodes, inner, inputs, module, out)

    def usable(self) -> bool:
        """Whether it can be used: False when one of its names is neither the instance's nor an input."""
        if self._made is None:
            return self._usable
        nodes, inner, inputs, module, out = self._made
        self._made, self._usable = None, False
        prefix, container = inner.prefix, module + "."

        def ref(name: str) -> _Ref | None:
            if name.startswith(prefix):
                return name[len(prefix):], None
            return ("", inputs.index(name)) if name in inputs else None

        self.nodes = []
        for node in nodes:
            refs = [ref(name) for name in node.inputs]
            if None in refs or not node.module.startswith(container) or node.origin is None:
                return False
            item = node.origin.item
            self.nodes.append((node, node.name[len(prefix):], tuple(refs),  # type: ignore[arg-type]
                               node.module[len(container):], item.value_locs.get("module", item.loc)))
        relatives = [relative for _, _, _, relative, _ in self.nodes]
        self.numbered = [relative for relative in relatives if "." in relative or relative.isdigit()]
        self.containers = list(dict.fromkeys(relative.rsplit(".", n)[0] for relative in self.numbered
                                             for n in range(1, relative.count(".") + 1)))
        self.names = []
        for key, name in inner.names.items():
            found = ref(name)
            if found is None:
                return False
            self.names.append((key, *found))
        last = ref(out)
        if last is None:
            return False
        self.out, self.out_port = last
        self._usable = True
        return True

