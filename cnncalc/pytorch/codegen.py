"""`cnncalc export --to pytorch`: the graph as PyTorch code a person would keep. One nn.Module class per
spec block (its parameters are the constructor's arguments, `when:` becomes `if`), containers built as
nn.Sequential and called once where their layers feed each other in order, module paths those of
naming.py, so a reference model's weights load.

A block becomes a class when every use of it has a module path of its own and every argument of its
layers can be written with its parameters: each value is checked against every use of the block (a
spec expression that gives them all, else a constant they share). A block that cannot be is written
out, with constants, where it is used; so is everything at the top level.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ..layers.fields import REQUIRED
from ..layers.torchspec import Torch
from ..spec.expr import FUNCTIONS, ExprError, evaluate, is_expression, tokenize
from ..spec.graph import INPUT_KEYS, Call, Graph, Node
from ..spec.spec import INPUT_NAME
from .naming import ACTIVATION_SUFFIX, ModuleTree

PYTHON_FUNCTIONS = {"min", "max", "round", "int", "abs"}  # the spec's functions that Python has as they are


class NotIdiomatic(Exception):
    """Why a block cannot be one class (it is then written out where it is used)."""


def class_name(name: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    title = "".join(w[:1].upper() + w[1:] for w in words) or "Net"
    return title if title[0].isalpha() else f"Net{title}"


def attribute(path: str) -> str:
    """`self.layer1[0].conv1` for the module path `layer1.0.conv1`."""
    out = "self"
    for part in path.split("."):
        if part.isdigit():
            out += f"[{part}]"
        elif part.isidentifier() and not keyword.iskeyword(part):
            out += f".{part}"
        else:
            out += f".get_submodule({part!r})"
    return out


def variable(name: str) -> str:
    base = re.sub(r"\W", "_", name)
    return f"x_{base}" if base[0].isdigit() or keyword.iskeyword(base) else base


# ---- values as code -----------------------------------------------------------------------------------
def _free_names(text: str) -> set[str] | None:
    """The variables an expression reads; None when it is no expression we can write in Python."""
    try:
        tokens = tokenize(text)
    except ExprError:
        return None
    names = set()
    for index, (kind, value, _) in enumerate(tokens):
        if kind != "name" or value in ("if", "else", "and", "or", "not", "true", "false"):
            continue
        if tokens[index + 1][1] == "(":
            if value not in PYTHON_FUNCTIONS:
                return None
            continue
        names.add(value)
    return names


def python_expr(text: str) -> str:
    return re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", " ".join(text.split())))


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _gives(text: str, env: dict[str, Any], value: Any) -> bool:
    try:
        got = evaluate(text, env)
    except ExprError:
        return False
    if isinstance(value, tuple) and len(value) == 2 and _same(value[0], value[1]):
        value = value[0]  # torch takes 3 for (3, 3)
    if re.search(r"(?<!/)/(?!/)", text) and isinstance(value, int):
        return False  # Python's / gives a float where the spec's gives a whole number
    if isinstance(got, list):
        got = tuple(got)
    return _same(got, value)


def literal(value: Any) -> str:
    if isinstance(value, Torch):
        return value.source()
    if isinstance(value, float) and value == float("-inf"):
        return 'float("-inf")'
    if isinstance(value, tuple) and len(value) == 2 and _same(value[0], value[1]) and isinstance(value[0], int):
        return repr(value[0])
    return repr(value)


@dataclass
class Values:
    """Writes values that differ between a block's uses as expressions of its parameters."""

    envs: list[dict[str, Any]]
    names: set[str]  # what the class's code can read: its parameters and in_channels
    channel_candidates: list[str] = field(default_factory=list)  # expressions for a layer's input channels

    def code(self, values: list[Any], candidates: list[str], what: str) -> str:
        for text in candidates:
            text = self._constants_inlined(text)
            free = _free_names(text)
            if free is not None and free <= self.names and all(_gives(text, e, v) for e, v in zip(self.envs, values)):
                return python_expr(text)
        if all(_same(v, values[0]) for v in values):
            return literal(values[0])
        raise NotIdiomatic(f"{what}: {values!r} is no expression of the block's parameters")

    def _constants_inlined(self, text: str) -> str:
        """The spec's variables that are the same number in every use (EfficientNet's `sd_prob`) written as
        that number, so that `sd_prob * id / blocks` becomes `0.2 * id / 16`."""
        free = _free_names(text) or set()
        for name in sorted(free - self.names):
            values = [env.get(name) for env in self.envs]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) and _same(v, values[0]) for v in values):
                text = re.sub(rf"\b{re.escape(name)}\b", repr(values[0]), text)
        return text

    def torch(self, descriptions: list[Torch], named: dict[str, list[str]], positional: list[str], what: str) -> str:
        first = descriptions[0]
        if any(d.cls != first.cls or len(d.args) != len(first.args) or [k for k, _ in d.kwargs] !=
               [k for k, _ in first.kwargs] for d in descriptions):
            raise NotIdiomatic(f"{what}: the uses lower to different modules")
        out = []
        for index in range(len(first.args)):
            values = [d.args[index] for d in descriptions]
            out.append(self.torch(values, named, positional, what) if isinstance(values[0], Torch)
                       else self.code(values, positional, what))
        for index, (key, _) in enumerate(first.kwargs):
            values = [d.kwargs[index][1] for d in descriptions]
            if isinstance(values[0], Torch):
                out.append(f"{key}={self.torch(values, named, positional, what)}")
                continue
            fields = [text for name, texts in named.items() if key.startswith(name) or name.startswith(key)
                      for text in texts]
            out.append(f"{key}={self.code(values, fields + positional, what)}")
        return f"{first.cls}({', '.join(_without_defaults(first.cls, out))})"


def torch_source(description: Torch) -> str:
    """A description's code with 3 for (3, 3) and torch's defaults left out."""
    args = [torch_source(v) if isinstance(v, Torch) else literal(v) for v in description.args]
    args += [f"{k}={torch_source(v) if isinstance(v, Torch) else literal(v)}" for k, v in description.kwargs]
    return f"{description.cls}({', '.join(_without_defaults(description.cls, args))})"


def _without_defaults(cls: str, args: list[str]) -> list[str]:
    import inspect

    from torch import nn

    from . import modules

    factory = getattr(nn if cls.startswith("nn.") else modules, cls.removeprefix("nn."))
    defaults = {name: literal(p.default) for name, p in inspect.signature(factory).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return [a for a in args if "=" not in a or defaults.get(a.split("=", 1)[0]) != a.split("=", 1)[1]]


def field_sources(item: Any) -> dict[str, list[str]]:
    """The item's fields written as expressions or names: {field: [text]}."""
    out: dict[str, list[str]] = {}
    for key, value in (item or {}).items():
        if key in ("op", "name", *INPUT_KEYS, "repeat", "first", "when", "module"):
            continue
        if isinstance(value, str) and (is_expression(value) or value.strip().isidentifier()):
            out[str(key)] = [value]
    return out


# ---- the module tree of a scope --------------------------------------------------------------------------
@dataclass
class Member:
    """One item of a scope, over its instances: the node or block call it is in each (None: skipped)."""

    key: str
    item: Any
    things: list[Node | Call | None]
    paths: list[list[str]] = field(default_factory=list)  # module path segments of its parts
    modules: list[list[Any]] = field(default_factory=list)  # per part, per present instance: Torch or Call
    condition: str | None = None

    @property
    def present(self) -> list[int]:
        return [i for i, t in enumerate(self.things) if t is not None]


@dataclass
class Slot:
    members: list[tuple[Member, int]] = field(default_factory=list)  # (member, part) that may fill it
    children: dict[str, Slot] = field(default_factory=dict)
    first: int = 0


def _ordered(slot: Slot) -> list[tuple[str, Slot]]:
    def key(item: tuple[str, Slot]) -> tuple[int, int]:
        digits = item[0].removesuffix("+")
        return (int(digits) if digits.isdigit() else 0, item[1].first)
    return sorted(slot.children.items(), key=key)


def _numbered(slot: Slot) -> bool:
    return all(name.removesuffix("+").isdigit() for name in slot.children)


class Generator:
    def __init__(self, graph: Graph) -> None:
        if graph.spec is None:
            raise ValueError("the graph was not built from a spec")
        self.graph, self.spec = graph, graph.spec
        self.tree = ModuleTree(graph)
        self.placed = {p.node.name: p for p in self.tree.placed}
        self.calls = {call.name: call for call in graph.calls}
        self.uses: dict[str, list[Call]] = {}
        for call in graph.calls:
            self.uses.setdefault(call.block, []).append(call)
        self.order = {node.name: index for index, node in enumerate(graph.nodes)}
        self.classes = {block for block, calls in self.uses.items() if self._own_modules(calls)}
        self.why: dict[str, str] = {}  # blocks written out, and why

    def _own_modules(self, calls: list[Call]) -> bool:
        paths = [call.module for call in calls]
        return all(paths) and len(set(paths)) == len(paths) and all(
            call.module != self._parent(call)[1] for call in calls)

    def _parent(self, call: Call) -> tuple[str, str]:
        parts = call.name.split(".")
        for n in range(len(parts) - 1, 0, -1):
            parent = self.calls.get(".".join(parts[:n]))
            if parent is not None:
                return parent.name, parent.module
        return "", ""

    def owner(self, name: str) -> str:
        """The innermost use of a class holding a node or call ('' for the model)."""
        parts = name.split(".")
        for n in range(len(parts) - 1, 0, -1):
            call = self.calls.get(".".join(parts[:n]))
            if call is not None and call.block in self.classes:
                return call.name
        return ""

    def write(self) -> tuple[list[tuple[str, list[str], list[str], list[str]]], list[str], list[str]]:
        """Each class (name, signature, __init__ body, forward body), innermost first; the model's bodies."""
        while True:
            try:
                blocks = sorted(self.classes, key=lambda b: -max(c.name.count(".") for c in self.uses[b]))
                classes = [self.block_class(block) for block in blocks]
                init, forward = ModelWriter(self).write()
                return classes, init, forward
            except NotIdiomatic as exc:
                if len(exc.args) != 2:
                    raise
                block, reason = exc.args
                self.classes.discard(block)
                self.why[block] = reason

    # ---- members -----------------------------------------------------------------------------
    def members(self, owners: list[str], bases: list[str], final: bool) -> list[Member]:
        """The nodes and class uses directly in each owner, aligned by their name inside it."""
        count = len(owners)
        found: dict[str, Member] = {}
        index_of = {owner: i for i, owner in enumerate(owners)}
        things: list[Node | Call] = [*self.graph.nodes, *(c for c in self.graph.calls if c.block in self.classes)]
        for thing in things:
            owner = self.owner(thing.name)
            if owner not in index_of or thing.name == owner:
                continue
            i = index_of[owner]
            key = thing.name.removeprefix(owner + "." if owner else "")
            member = found.setdefault(key, Member(key, thing.origin.item if thing.origin else None, [None] * count))
            member.things[i] = thing
            if isinstance(thing, Call):
                parts: list[tuple[str, Any]] = [(self.tree.final(thing.module) if final else thing.module, thing)]
            elif final:
                parts = list(self.placed[thing.name].modules)
            else:
                described = [d for _, d in self.placed[thing.name].modules]
                paths = [thing.module] + ([_activation(thing.module)] if len(described) == 2 else [])
                parts = list(zip(paths, described))
            relative = [p.removeprefix(bases[i] + "." if bases[i] else "").split(".") for p, _ in parts]
            if member.paths and member.paths != relative:
                raise NotIdiomatic(f"{key}: its uses put it at different module paths")
            member.paths = relative
            if not member.modules:
                member.modules = [[] for _ in parts]
            for part, (_, module) in enumerate(parts):
                member.modules[part].append(module)
        return sorted(found.values(), key=lambda m: min(self._first(t) for t in m.things if t is not None))

    def _first(self, thing: Node | Call) -> int:
        if isinstance(thing, Node):
            return self.order[thing.name]
        return min(self.order[n.name] for n in self.graph.nodes if n.name.startswith(thing.name + "."))

    # ---- a class per block ---------------------------------------------------------------------
    def block_class(self, block_name: str) -> tuple[str, list[str], list[str], list[str]]:
        calls = self.uses[block_name]
        try:
            return BlockWriter(self, self.spec.blocks[block_name], calls).write()
        except NotIdiomatic as exc:
            raise NotIdiomatic(block_name, str(exc)) from None

    def call_code(self, call: Call, values: Values | None = None, calls: list[Call] | None = None) -> str:
        """`Bottleneck(256, planes=128, stride=2)`: the class with the use's in_channels and arguments."""
        block = self.spec.blocks[call.block]
        calls = calls or [call]
        item = call.origin.item if call.origin else {}
        given = [p for p in block.params if block.params[p] is REQUIRED or not _is_literal(block.params[p])
                 or any(not _same(c.args[p], block.params[p]) for c in calls)]
        if values is None:
            args = [literal(call.variables["in_channels"])]
            args += [f"{p}={literal(call.args[p])}" for p in given]
        else:
            sources = field_sources(item)
            args = [values.code([c.variables["in_channels"] for c in calls], values.channel_candidates, call.name)]
            args += [f"{p}={values.code([c.args[p] for c in calls], sources.get(p, []), call.name)}" for p in given]
        return f"{class_name(call.block)}({', '.join(args)})"


def _is_literal(value: Any) -> bool:
    return isinstance(value, (int, float, bool)) or (isinstance(value, str) and not is_expression(value)
                                                        and not value.isidentifier())


def _activation(path: str) -> str:
    *parent, leaf = path.split(".")
    return ".".join([*parent, f"{leaf}+" if leaf.isdigit() else leaf + ACTIVATION_SUFFIX])


# ---- writing a scope ------------------------------------------------------------------------------------
class ScopeWriter:
    def __init__(self, gen: Generator, members: list[Member], envs: list[dict[str, Any]]) -> None:
        self.gen, self.members, self.envs = gen, members, envs
        self.root = Slot()
        for order, member in enumerate(members):
            for part, segments in enumerate(member.paths):
                slot = self.root
                for segment in segments:
                    slot = slot.children.setdefault(segment, Slot(first=order * 2 + part))
                slot.members.append((member, part))
            member.condition = self.condition(member)

    def condition(self, member: Member) -> str | None:
        present = [t is not None for t in member.things]
        if all(present):
            return None
        when = member.item.get("when") if member.item is not None else None
        if isinstance(when, str) and all(_gives(when, env, flag) for env, flag in zip(self.envs, present)):
            return python_expr(when)
        raise NotIdiomatic(f"{member.key}: its uses differ in a way 'when' does not say")

    def module_code(self, member: Member, part: int) -> str:
        raise NotImplementedError

    def slot_code(self, slot: Slot) -> tuple[str, str | None]:
        """(code building the slot's module, the condition under which it exists)."""
        if slot.members:
            if slot.children:
                raise NotIdiomatic("a layer's module path is also a container")
            options = [(self.module_code(m, part), m.condition) for m, part in slot.members]
            if len(options) == 1:
                return options[0]
            if len(options) == 2 and options[0][1] and options[1][1]:
                (a, ca), (b, cb) = options
                return f"{a} if {ca} else {b}", f"{ca} or {cb}"
            raise NotIdiomatic("several layers share a module path")
        if not _numbered(slot):
            raise NotIdiomatic("a container with names inside a numbered one")
        codes = [self.slot_code(child) for _, child in _ordered(slot)]
        conditions = {c for _, c in codes}
        if len(conditions) != 1:
            raise NotIdiomatic("entries of a container exist under different conditions")
        return "nn.Sequential(" + ", ".join(code for code, _ in codes) + ")", conditions.pop()

    def init_lines(self) -> list[str]:
        lines = []
        for name, slot in sorted(self.root.children.items(), key=lambda kv: kv[1].first):
            target = attribute(name)
            if slot.members or _numbered(slot):
                try:
                    code, condition = self.slot_code(slot)
                except NotIdiomatic:
                    if slot.members:
                        raise
                    lines += self._list_lines(name, slot)
                    continue
                lines += [f"{target} = None", f"if {condition}:", f"    {target} = {code}"] if condition \
                    else [f"{target} = {code}"]
            else:  # named children: a Sequential whose modules are set by name, in order
                lines.append(f"{target} = nn.Sequential()")
                for child_name, child in _ordered(slot):
                    code, condition = self.slot_code(child)
                    line = f"{target}.{child_name} = {code}"
                    lines += [f"if {condition}:", "    " + line] if condition else [line]
        return lines

    def _list_lines(self, name: str, slot: Slot) -> list[str]:
        """A numbered container whose entries exist under different conditions: built as a list."""
        local = variable(name)
        lines = [f"{local} = []"]
        for _, child in _ordered(slot):
            code, condition = self.slot_code(child)
            line = f"{local}.append({code})"
            lines += [f"if {condition}:", "    " + line] if condition else [line]
        return lines + [f"{attribute(name)} = nn.Sequential(*{local})"]

    def containers(self) -> dict[str, list[Member]]:
        """Members grouped by the container at the top of the scope that holds them."""
        groups: dict[str, list[Member]] = {}
        for member in self.members:
            top = member.paths[0][0]
            if self.root.children[top].children:
                groups.setdefault(top, []).append(member)
        return groups

    def in_order(self, slot: Slot) -> list[Member]:
        """The members of a container in the order its Sequential calls them."""
        out: list[Member] = []
        for _, child in _ordered(slot):
            for member, part in child.members:
                if part == 0:
                    out.append(member)
            out += [m for m in self.in_order(child) if m not in out]
        return out


class ModelWriter(ScopeWriter):
    """The model: one instance, every value a constant; its forward follows the graph."""

    def __init__(self, gen: Generator) -> None:
        super().__init__(gen, gen.members([""], [""], final=True), [dict(gen.spec.variables)])

    def module_code(self, member: Member, part: int) -> str:
        module = member.modules[part][0]
        return self.gen.call_code(module) if isinstance(module, Call) else torch_source(module)

    def write(self) -> tuple[list[str], list[str]]:
        return self.init_lines(), self.forward_lines()

    def forward_lines(self) -> list[str]:
        names = _Names()
        value = {INPUT_NAME: names.new("x")}
        groups = {top: members for top, members in self.containers().items()
                  if self.in_order(self.root.children[top]) == members and _chain(members, self.members)}
        lines: list[str] = []
        done: set[str] = set()
        for member in self.members:
            if member.key in done:
                continue
            group = groups.get(member.paths[0][0])
            if group is not None:
                done.update(m.key for m in group)
                out = names.new(variable(member.paths[0][0]))
                lines.append(f"{out} = {attribute(member.paths[0][0])}({value[_inputs(group[0])[0]]})")
                value[_output(group[-1])] = out
                continue
            code = ", ".join(value[ref] for ref in _inputs(member))
            for segments in member.paths:
                code = f"{attribute('.'.join(segments))}({code})"
            out = names.new(variable(member.key.split(".")[-1]))
            lines.append(f"{out} = {code}")
            value[_output(member)] = out
        lines.append(f"return {', '.join(value[ref] for ref in self.gen.graph.outputs)}")
        return lines


def _inputs(member: Member) -> tuple[str, ...]:
    thing = member.things[0]
    assert thing is not None
    return (thing.input,) if isinstance(thing, Call) else thing.inputs


def _output(member: Member) -> str:
    thing = member.things[0]
    assert thing is not None
    return thing.output if isinstance(thing, Call) else thing.name


def _chain(group: list[Member], members: list[Member]) -> bool:
    """Whether a container's members feed each other in order and only the last is read outside."""
    if len(_inputs(group[0])) != 1 or any(_inputs(b) != (_output(a),) for a, b in pairwise(group)):
        return False
    inner = {_output(m) for m in group[:-1]}
    keys = {m.key for m in group}
    return not any(set(_inputs(m)) & inner for m in members if m.key not in keys)


class _Names:
    def __init__(self) -> None:
        self.taken: set[str] = {"self", "torch", "nn", "F"}

    def new(self, base: str) -> str:
        name, count = base, 1
        while name in self.taken:
            count += 1
            name = f"{base}_{count}"
        self.taken.add(name)
        return name


class BlockWriter(ScopeWriter):
    """A block's class: one body for all its uses; its forward follows the block's items."""

    def __init__(self, gen: Generator, block: Any, calls: list[Call]) -> None:
        self.block, self.calls = block, calls
        members = gen.members([c.name for c in calls], [c.module for c in calls], final=False)
        position = {id(item): index for index, item in enumerate(block.items)}
        members.sort(key=lambda m: position.get(id(m.item), len(position)))
        for member in members:
            if "." in member.key or any(t is not None and t.origin is not None and t.origin.copy is not None
                                        for t in member.things):
                raise NotIdiomatic(f"{member.key}: repeats and written-out blocks inside a class")
        envs = [c.variables for c in calls]
        super().__init__(gen, members, envs)
        self.values = Values(envs, {"in_channels", *block.params})
        self.values.channel_candidates = [
            "in_channels", *(t for m in members for texts in field_sources(m.item).values()
                                                          for t in texts)]

    def module_code(self, member: Member, part: int) -> str:
        modules = member.modules[part]
        values = Values([self.envs[i] for i in member.present], self.values.names, self.values.channel_candidates)
        if isinstance(modules[0], Call):
            return self.gen.call_code(modules[0], values, modules)
        named = field_sources(member.item)
        own = [t for texts in named.values() for t in texts]
        return values.torch(modules, named, [*values.channel_candidates, *own], member.key)

    def write(self) -> tuple[str, list[str], list[str], list[str]]:
        params = []
        for name, default in self.block.params.items():
            params.append(name if default is REQUIRED or not _is_literal(default) else f"{name}={literal(default)}")
        required = [p for p in params if "=" not in p]
        optional = [p for p in params if "=" in p]
        signature = ["in_channels", *required, *optional]
        return class_name(self.block.name), signature, self.init_lines(), self.forward_lines()

    def forward_lines(self) -> list[str]:
        by_item = {id(m.item): m for m in self.members}
        groups = self.containers()
        names = _Names()
        value = {INPUT_NAME: names.new("x")}
        lines: list[str] = []
        previous = INPUT_NAME
        done: set[str] = set()  # members called through their container
        items = list(self.block.items)
        locals_ = [self._local(item, m) for item, m in ((i, by_item.get(id(i))) for i in items)]
        for item, local in zip(items, locals_):
            inputs = _item_inputs(item, previous)
            member = by_item.get(id(item))
            previous = local
            if member is None:  # skipped by every use: it stands for its first input
                value[local] = value[inputs[0]]
                continue
            if member.key in done:
                continue
            top = member.paths[0][0]
            group = groups.get(top)
            if group is not None:
                if group[0] is not member or not self._spec_chain(group, items, locals_, by_item):
                    raise NotIdiomatic(f"{top}: its layers do not feed each other in order")
                done.update(m.key for m in group)
                code = f"{attribute(top)}({value[inputs[0]]})"
                out = names.new(variable(top))
                conditions = {m.condition for m in group}
                lines += _optional(out, code, attribute(top), value[inputs[0]],
                                   None not in conditions and len(conditions) == 1)
                last = group[-1]
                value[self._local_of(last, items, locals_)] = out
                for m in group[:-1]:
                    value.pop(self._local_of(m, items, locals_), None)
                continue
            code = ", ".join(value[name] for name in inputs)
            for segments in member.paths:
                code = f"{attribute('.'.join(segments))}({code})"
            out = names.new(variable(local))
            lines += _optional(out, code, attribute(".".join(member.paths[0])), value[inputs[0]],
                               member.condition is not None)
            value[local] = out
        output = self.block.output or locals_[-1]
        lines.append(f"return {value[output]}")
        return lines

    def _local(self, item: Any, member: Member | None) -> str:
        if "name" in item:
            return str(item["name"])
        if member is not None:
            return member.key
        return f"_skipped{id(item)}"

    def _local_of(self, member: Member, items: list[Any], locals_: list[str]) -> str:
        return next(local for item, local in zip(items, locals_) if item is member.item)

    def _spec_chain(self, group: list[Member], items: list[Any], locals_: list[str], by_item: dict) -> bool:
        """In the spec: each member of the container reads the one before; only the last is read after."""
        order = {id(item): index for index, item in enumerate(items)}
        positions = [order[id(m.item)] for m in group]
        if positions != list(range(positions[0], positions[0] + len(group))):
            return False
        if self.in_order(self.root.children[group[0].paths[0][0]]) != group:
            return False
        inner = {locals_[p] for p in positions[:-1]}
        for index, item in enumerate(items):
            previous = locals_[index - 1] if index else INPUT_NAME
            reads = set(_item_inputs(item, previous))
            if index in positions[1:]:
                if reads != {locals_[index - 1]}:
                    return False
            elif index not in positions and reads & inner:
                return False
        return len(_item_inputs(items[positions[0]], locals_[positions[0] - 1] if positions[0] else INPUT_NAME)) == 1


def _optional(out: str, code: str, module: str, fallback: str, conditional: bool) -> list[str]:
    """`out = code`, or where the module may be None, `code` only when it is not (else the input)."""
    if not conditional:
        return [f"{out} = {code}"]
    line = f"{out} = {code} if {module} is not None else {fallback}"
    if len(line) + 8 <= LINE:
        return [line]
    return [f"{out} = {fallback}", f"if {module} is not None:", f"    {out} = {code}"]


def _item_inputs(item: Any, previous: str) -> list[str]:
    for key in INPUT_KEYS:
        if key in item:
            raw = item[key]
            return [raw] if isinstance(raw, str) else list(raw)
    return [previous]


__all__ = ["FUNCTIONS", "Generator", "NotIdiomatic", "attribute", "class_name"]


# ---- the file ---------------------------------------------------------------------------------------------
LINE = 88  # ruff format's and black's default


def split_call(code: str) -> tuple[str, list[str], str] | None:
    """`head(`, its top-level arguments and `)tail` of code ending in a call; None if it is none."""
    depth, start, args, quote = 0, -1, [], ""
    for index, char in enumerate(code):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
            if depth == 1 and char == "(" and start < 0:
                start, last = index, index + 1
        elif char in ")]}":
            depth -= 1
            if depth == 0 and start >= 0:
                args.append(code[last:index].strip())
                return code[:start + 1], [a for a in args if a], code[index:]
        elif char == "," and depth == 1 and start >= 0:
            args.append(code[last:index].strip())
            last = index + 1
    return None


def format_line(code: str, indent: int) -> list[str]:
    """One statement in ruff format's (black's) style: on one line if it fits, else its arguments on
    one indented line, else one per line with a trailing comma (each formatted the same way)."""
    pad = " " * indent
    if len(pad + code) <= LINE:
        return [pad + code]
    parts = split_call(code)
    if parts is None or parts[2] not in (")", "),"):
        return [pad + code]
    head, args, tail = parts
    joined = ", ".join(args)
    if len(pad) + 4 + len(joined) <= LINE and not any(a.startswith("*") for a in args[:-1]):
        return [pad + head, pad + "    " + joined, pad + tail]
    if len(args) == 1:  # a sole argument is not followed by a comma
        return [pad + head, *format_line(args[0], indent + 4), pad + tail]
    lines = [pad + head]
    for arg in args:
        lines += format_line(arg + ",", indent + 4)
    return lines + [pad + tail]


def body(lines: list[str], indent: int) -> list[str]:
    out = []
    for line in lines:
        extra = len(line) - len(line.lstrip(" "))
        out += format_line(line.strip(), indent + extra)
    return out
