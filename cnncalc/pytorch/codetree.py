"""Which blocks of a graph become classes or functions in an exported file, and what each scope (the model,
a class, a function) holds: its nodes and uses aligned over the instances, repeats as loops."""
from __future__ import annotations

from itertools import pairwise
from typing import Any

from ..spec.graph import Call, Graph, Node
from ..spec.spec import INPUT_NAME
from .codeparts import (
    Loop,
    Member,
    NotIdiomatic,
    Signature,
    Texts,
    Values,
    activation_path,
    class_name,
    constant_name,
    function_name,
)
from .naming import ModuleTree
from .pyexpr import same


class Tree:
    """What the exported file is made of: which blocks are classes or functions, what each scope holds."""

    def __init__(self, graph: Graph) -> None:
        if graph.spec is None:
            raise ValueError("the graph was not built from a spec")
        self.graph, self.spec = graph, graph.spec
        self.tree = ModuleTree(graph)
        self.placed = {p.node.name: p for p in self.tree.placed}
        self.calls = {call.name: call for call in graph.calls}
        self.uses: dict[str, list[Call]] = {}
        for use in graph.calls:
            self.uses.setdefault(use.block, []).append(use)
        self.shapes = {node.name: node.output_shape for node in graph.nodes}
        self.order: dict[str, int] = {}
        for index, node in enumerate(graph.nodes):
            parts = node.name.split(".")
            for n in range(1, len(parts) + 1):
                self.order.setdefault(".".join(parts[:n]), index)
        self.layer_paths = {node.module for node in graph.nodes}
        self.wrappers = {name for name, block in self.spec.blocks.items() if _wraps(block, self.spec.blocks)}
        self.why: dict[str, str] = {}  # blocks written out, and why
        opened = self._opened()
        self.why.update(opened)
        self.classes = {block for block, calls in self.uses.items()
                        if block not in opened and self._own_modules(calls)}
        self._runs: dict[tuple[str, bool], tuple[str, list[int]]] = {}
        self.functions = {block for block, calls in self.uses.items() if block not in opened
                          and block not in self.classes and all(self._in_container(c) for c in calls)}
        for block, calls in self.uses.items():
            if block not in self.classes and block not in self.functions and block not in self.why:
                self.why[block] = self._not_own(calls) or "its modules are not numbered entries of one container"
        names = {name: constant_name(name) for name in self.spec.variables}
        clashes = {c for c in names.values() if list(names.values()).count(c) > 1}
        self.constants = {name: c for name, c in names.items() if c not in clashes and c.isidentifier()}
        self.constant_values = {self.constants[n]: v for n, v in self.spec.variables.items() if n in self.constants}
        self.used_constants: set[str] = set()
        self.signatures: dict[str, Signature] = {}
        self.unrolled: set[str] = set()  # copies of repeats written one by one (not as a loop)

    def _opened(self) -> dict[str, str]:
        """Blocks a use of which gives a layer read from outside it that is none of its outputs (a layer after
        a C2f reading its first bottleneck): a call returns only its outputs, so such a block is written out."""
        opened: dict[str, str] = {}
        readers = [(node.name, ref) for node in self.graph.nodes for ref in node.inputs]
        readers += [("", ref) for ref in self.graph.outputs]
        for reader, ref in readers:
            parts = ref.split(".")
            for n in range(len(parts) - 1, 0, -1):
                use = self.calls.get(".".join(parts[:n]))
                if use is None or reader.startswith(use.name + "."):
                    continue
                if ref not in (use.outputs or (use.output,)):
                    opened.setdefault(use.block, f"{reader or 'the network'} reads {ref}, inside {use.name}")
        return opened

    def in_channels(self, use: Call) -> Any:
        """What the exported class takes as `in_channels`: the channels of its input, or for a block given only
        a list of inputs (`inputs: [features*]`, its forward `*features`), of all of them together."""
        block = self.spec.blocks[use.block]
        if block.variadic is None or len(block.ports) != 1:
            return use.variables["in_channels"]
        shapes = [self.graph.input_shape if ref == INPUT_NAME else self.shapes[ref] for ref in use.inputs]
        return sum(shape[0] for shape in shapes)

    def _own_modules(self, calls: list[Call]) -> bool:
        return self._not_own(calls) is None

    def _not_own(self, calls: list[Call]) -> str | None:
        """Why a block's uses do not each have a module of their own (None when they do): a class needs one."""
        seen: dict[str, str] = {}
        for use in calls:
            if not use.module:
                return f"{use.name} has no module path"
            if use.module in seen:
                return f"{seen[use.module]} and {use.name} share the module path '{use.module}'"
            seen[use.module] = use.name
            parent = self._parent(use)
            if use.module == parent.module and parent.block not in self.wrappers:
                return f"{use.name} has the module path of {parent.name}, the block around it"
            if use.module in self.layer_paths:  # `module: .` layer
                return f"{use.name}'s module path '{use.module}' is a layer's"
        return None

    def _parent(self, use: Call) -> Call:
        parts = use.name.split(".")
        for n in range(len(parts) - 1, 0, -1):
            parent = self.calls.get(".".join(parts[:n]))
            if parent is not None:
                return parent
        return Call("", "", {}, {}, "", "", "")

    def owner(self, name: str) -> str:
        """The innermost use of a class or function holding a node or call ('' for the model)."""
        parts = name.split(".")
        for n in range(len(parts) - 1, 0, -1):
            use = self.calls.get(".".join(parts[:n]))
            if use is not None and (use.block in self.classes or use.block in self.functions):
                return use.name
        return ""

    def _in_container(self, use: Call) -> bool:
        """Whether a use's modules (those not inside a class) are numbered entries of its module path."""
        if not use.module:
            return False
        container, numbers = self.run(use, final=True)
        return container == self.tree.final(use.module) and bool(numbers)

    def run(self, use: Call, final: bool) -> tuple[str, list[int]]:
        """The container of a function use's modules and their numbers there (('', []) if they are in several
        or not numbered)."""
        key = (use.name, final)
        if key not in self._runs:
            paths: list[str] = []
            things: list[Node | Call] = [*self.graph.nodes, *self.graph.calls]
            for thing in things:
                if not thing.name.startswith(use.name + ".") or self._in_class(use, thing.name):
                    continue
                if isinstance(thing, Node):
                    paths += [path for path, _ in self._parts(thing, final)]
                elif thing.block in self.classes:
                    paths.append(self.tree.final(thing.module) if final else thing.module)
            containers = {path.rpartition(".")[0] for path in paths}
            segments = [path.rpartition(".")[2].removesuffix("+") for path in paths]
            ok = len(containers) == 1 and all(s.isdigit() for s in segments)
            self._runs[key] = (containers.pop(), sorted({int(s) for s in segments})) if ok else ("", [])
        return self._runs[key]

    def _in_class(self, use: Call, name: str) -> bool:
        """Whether `name` (under `use`) sits inside a use of a class nested in `use` (itself excluded)."""
        parts = name.split(".")
        for n in range(len(parts) - 1, use.name.count(".") + 1, -1):
            inner = self.calls.get(".".join(parts[:n]))
            if inner is not None and inner.block in self.classes:
                return True
        return False

    def is_function(self, description: Any) -> bool:
        return isinstance(description, Call) and description.block in self.functions

    def written_out(self) -> list[str]:
        """The blocks the file writes out where they are used (no class, no function)."""
        return [block for block in self.uses if block not in self.classes and block not in self.functions]

    # ---- members -----------------------------------------------------------------------------
    def members(self, owners: list[str], bases: list[str], final: bool, items: dict[int, int] | None = None) \
            -> list[Member]:
        """The nodes and class or function uses directly in each owner, aligned by their name inside it; a
        repeat of modules in one container becomes one Loop. `items`: a function's (its items' positions),
        whose modules go in order, wherever each use starts in its container."""
        count = len(owners)
        found: dict[str, Member] = {}
        collected: dict[str, dict[int, dict[int, Any]]] = {}  # key -> part -> owner's index -> module
        index_of = {owner: i for i, owner in enumerate(owners)}
        units = self.classes | self.functions
        things: list[Node | Call] = [*self.graph.nodes, *(c for c in self.graph.calls if c.block in units)]
        for thing in things:
            owner = self.owner(thing.name)
            if owner not in index_of or thing.name == owner:
                continue
            i = index_of[owner]
            key = thing.name.removeprefix(owner + "." if owner else "")
            member = found.setdefault(key, Member(key, thing.origin.item if thing.origin else None, [None] * count))
            member.things[i] = thing
            parts = self._parts(thing, final)
            relative = [p.removeprefix(bases[i] + "." if bases[i] else "").split(".") for p, _ in parts]
            if items is not None and thing.origin is not None:  # a function's: in the order of its items
                order = items[id(thing.origin.item)] * 100_000 + (thing.origin.copy or 0) * 10
                relative = [[str(order + part)] for part in range(len(parts))]
            member.paths = _aligned(member.paths, relative, key) if member.paths else relative
            by_instance = collected.setdefault(key, {})
            for part, (_, module) in enumerate(parts):
                by_instance.setdefault(part, {})[i] = module
        for key, member in found.items():  # per part, in the order of the owners (a recursive block's uses
            # are not built in that order)
            member.modules = [[modules[i] for i in sorted(modules)] for _, modules in sorted(collected[key].items())]
        members = self._loops(list(found.values()), owners, final)
        last = len(self.graph.nodes)
        return sorted(members, key=lambda m: min(self.order.get(t.name, last) for t in m.things if t is not None))

    def _parts(self, thing: Node | Call, final: bool) -> list[tuple[str, Any]]:
        if isinstance(thing, Call) and thing.block in self.functions:
            container, numbers = self.run(thing, final)
            return [(f"{container}.{numbers[0]}" if container else str(numbers[0]), thing)]
        if isinstance(thing, Call):
            return [(self.tree.final(thing.module) if final else thing.module, thing)]
        if final:
            return list(self.placed[thing.name].modules)
        described = [d for _, d in self.placed[thing.name].modules]
        paths = [thing.module] + ([activation_path(thing.module)] if len(described) == 2 else [])
        return list(zip(paths, described))

    def _loops(self, members: list[Member], owners: list[str], final: bool) -> list[Member]:
        repeats: dict[int, list[Member]] = {}
        for member in members:
            if member.shared:  # its copies call one module: written one by one in forward
                continue
            origins = [t.origin for t in member.things if t is not None]
            if all(o is not None and o.copy is not None and member.key == f"{o.local}.{o.copy}" for o in origins):
                repeats.setdefault(id(member.item), []).append(member)
        grouped = {id(m) for group in repeats.values() for m in group}
        out = [m for m in members if id(m) not in grouped]
        for group in repeats.values():
            loop = self._loop(group, owners, final)
            out += [loop] if loop is not None else group
        return out

    def _loop(self, group: list[Member], owners: list[str], final: bool) -> Loop | None:
        group.sort(key=lambda m: int(m.key.rsplit(".", 1)[1]))
        if len({len(m.paths) for m in group}) != 1:
            return None
        containers = {tuple(path[:-1]) for m in group for path in m.paths}
        if len(containers) != 1 or (not owners[0] and not next(iter(containers))):
            return None  # copies in several containers, or straight in the model
        copies: list[list[Node | Call]] = []
        descriptions, segments = [], []
        for i in range(len(owners)):
            present = [m.things[i] is not None for m in group]
            if present != sorted(present, reverse=True) or not present[0]:
                return None  # a copy skipped by `when:`
            copies.append([t for m in group if (t := m.things[i]) is not None])
            descriptions.append([[part[m.present.index(i)] for part in m.modules] for m in group
                                 if m.things[i] is not None])
            segments.append([m.paths[0][-1] for m in group if m.things[i] is not None])
        numbered = all(s.removesuffix("+").isdigit() for row in segments for s in row)
        if (numbered and any(int(b) <= int(a) for row in segments for a, b in pairwise(row))) or \
                (not numbered and len(group[0].paths) > 1):
            return None
        first = group[0]
        key = first.key.rsplit(".", 1)[0]
        path = [*next(iter(containers)), segments[0][0]]
        things: list[Node | Call | None] = [row[0] for row in copies]
        return Loop(key, first.item, things, [path], [], copies, descriptions, segments, numbered)

    def call_code(self, calls: list[Call], values: Values, texts: Texts) -> str:
        """`Bottleneck(256, planes=128, stride=2)`: the class (or function) with the uses' in_channels and
        arguments."""
        if len({c.block for c in calls}) > 1:  # `op: "C3k if c3k else Bottleneck"`
            raise NotIdiomatic(f"{calls[0].name}: its uses are uses of different blocks")
        block = self.spec.blocks[calls[0].block]
        name = function_name(block.name) if block.name in self.functions else class_name(block.name)
        if name in values.names:
            raise NotIdiomatic(f"{name} is also a parameter's name")
        signature = self.signatures[block.name]
        args = []
        if signature.in_channels:
            args.append(values.code([self.in_channels(c) for c in calls], texts.inputs, calls[0].name,
                                    texts.others))
        for param, kind in signature.params:
            given = [c.args[param] for c in calls]
            if kind == "default" and all(same(v, signature.defaults[param]) for v in given):
                continue
            if kind == "computed" and not any(c.name in signature.overridden[param] for c in calls):
                continue
            code = values.code(given, texts.fields.get(param, []), calls[0].name, [*texts.inputs, *texts.others])
            args.append(f"{param}={code}")
        return f"{name}({', '.join(args)})"


def _wraps(block: Any, blocks: dict[str, Any]) -> bool:
    """Whether a block is one use of another at its own module path (`module: .`), as Ultralytics' Conv
    row is its Conv module: the class is a subclass of the other's, computing its arguments."""
    if len(block.items) != 1 or block.inputs or block.outputs:
        return False
    item = block.items[0]
    return item.get("op") in blocks and str(item.get("module", "")) == "." and not any(
        key in item for key in ("repeat", "when", "in", "inputs", "from", "share"))


def _aligned(paths: list[list[str]], other: list[list[str]], key: str) -> list[list[str]]:
    """One module path for a member whose uses number it differently (`#` gives no number to a layer that
    `when:` skips, so the layers after it come earlier): the highest number, where nothing was skipped.
    Only the order of a numbered container's entries matters; its list is built by appending."""
    if paths == other:
        return paths
    if [len(p) for p in paths] != [len(p) for p in other] or any(
            a != b and not (a.removesuffix("+").isdigit() and b.removesuffix("+").isdigit())
            for p, q in zip(paths, other) for a, b in zip(p, q)):
        raise NotIdiomatic(f"{key}: its uses put it at different module paths")
    return [[max(a, b, key=lambda s: int(s.removesuffix("+"))) if a != b else a for a, b in zip(p, q)]
            for p, q in zip(paths, other)]
