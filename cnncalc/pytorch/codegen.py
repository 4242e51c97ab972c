"""`cnncalc export --to pytorch`: the graph as PyTorch code a person would keep. One class per spec block
(its parameters are the constructor's arguments, `when:` becomes `if`), containers built as nn.Sequential
and called once where their layers feed each other in order, repeats as loops, module paths those of
naming.py, so a reference model's weights load.

A block becomes a class when every use of it has a module path of its own and every value of its layers
can be written with its parameters: each value is checked against every use of the block by evaluating
the Python text (pyexpr.py). A block that cannot be is written out where it is used. A repeat whose
copies are one module each is a loop (`nn.Sequential(*[Block(...) for _ in range(n)])`, the first copy
written before it when it differs); others are written out copy by copy.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ..layers.fields import REQUIRED
from ..layers.torchspec import Torch
from ..spec.expr import ExprError, is_expression
from ..spec.expr import evaluate as spec_evaluate
from ..spec.graph import INPUT_KEYS, Call, Graph, Node
from ..spec.spec import INPUT_NAME
from .modules import INLINE
from .naming import ACTIVATION_SUFFIX, ModuleTree
from .pyexpr import conjuncts, evaluate, gives, names_in, same, to_python
from .pyformat import LINE, call, literal, quoted, torch_source

# names the exported code needs for itself: a block parameter with one of these names cannot be one
RESERVED = {"self", "torch", "nn", "F", "math", "super", "make_divisible", "i", "_", "x", "range", "float",
            "min", "max", "round", "int", "abs"}


BUILTINS = set(dir(builtins))


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
            out += f".get_submodule({quoted(part)})"
    return out


def variable(name: str) -> str:
    base = re.sub(r"\W", "_", name)
    if base[0].isdigit() or keyword.iskeyword(base):
        return f"x_{base}"
    return f"{base}_" if base in BUILTINS else base


def constant_name(variable_name: str) -> str:
    return re.sub(r"\W", "_", variable_name).upper()


@dataclass
class ClassCode:
    """A class (or, for a block whose layers sit in the enclosing container, a function returning them)."""

    name: str
    base: str  # nn.Module or nn.Sequential; '' for a function
    signature: list[str]
    init: list[str]  # the body of __init__ (super().__init__(...) included), or of the function
    forward: list[str] | None  # None: nn.Sequential's own


def function_name(name: str) -> str:
    base = re.sub(r"\W", "_", name).lower()
    return base if base.isidentifier() and not keyword.iskeyword(base) and base not in RESERVED else f"make_{base}"


# ---- values as code --------------------------------------------------------------------------------------
@dataclass
class Values:
    """Writes the values of some instances (a block's uses, a repeat's copies) as one Python text: a spec
    expression that gives them all, else a constant they share, else a combination."""

    envs: list[dict[str, Any]]  # per instance: Python name -> value
    names: set[str]  # the local names the code can read
    constants: dict[str, str]  # spec variable -> the file's constant
    literal_first: bool = False  # the model's own values: numbers, unless they differ (a loop's copies)
    fixed: dict[str, int] = field(default_factory=dict)  # names with one value here (a loop's first copy: i = 0)
    conditions: list[str] = field(default_factory=list)  # Python conditions for `a if c else b`
    used: set[str] = field(default_factory=set)  # the constants the texts read

    def python(self, text: Any) -> str | None:
        if not isinstance(text, str):
            return None
        if self.literal_first and text.strip() in self.constants:  # the model writes numbers, not knobs
            return None
        return to_python(text, self.names, self.constants, self.fixed)

    def code(self, values: list[Any], texts: list[str], what: str, others: list[str] = ()) -> str:  # type: ignore[assignment]
        """The texts first (the field's own), then a shared constant, then the `others` (texts of other
        layers that happen to give the values), then combinations."""
        alike = all(same(v, values[0]) for v in values)
        if alike and self.literal_first:
            return literal(values[0])
        pythons = self._pythons(texts)
        for text in pythons:
            if self._gives(text, values):
                return self._use(text)
        if alike:
            return literal(values[0])
        pythons = list(dict.fromkeys([*pythons, *self._pythons(others)]))
        for text in pythons:
            if self._gives(text, values):
                return self._use(text)
        found = self._linear(values, pythons) or self._conditional(values, pythons)
        if found is None:
            raise NotIdiomatic(f"{what}: {values!r} is no expression of the block's parameters")
        return self._use(found)

    def _pythons(self, texts: list[str]) -> list[str]:
        return list(dict.fromkeys(p for p in (self.python(t) for t in texts) if p is not None))

    def _gives(self, text: str, values: list[Any]) -> bool:
        return all(gives(text, env, _plain(value)) for env, value in zip(self.envs, values))

    def _use(self, text: str) -> str:
        self.used |= names_in(text) & set(self.constants.values())
        return text

    def _linear(self, values: list[Any], pythons: list[str]) -> str | None:
        """`base + i * step` for a loop's copies (DenseNet's in_channels + i * 32)."""
        if "i" not in self.names or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return None
        for base in pythons:
            try:
                starts = [evaluate(base, env) for env in self.envs]
            except Exception:
                continue
            steps = {(v - s) // env["i"] for v, s, env in zip(values, starts, self.envs)
                     if env["i"] and isinstance(s, int)}
            if len(steps) != 1:
                continue
            step = steps.pop()
            named = [c for v, c in self.constants.items() if same(self.envs[0].get(c), step)]
            text = f"{base} + i * {named[0] if len(named) == 1 else step}"
            if step and self._gives(text, values):
                return text
        return None

    def _conditional(self, values: list[Any], pythons: list[str]) -> str | None:
        """`a if condition else b` with the scope's conditions (ShuffleNet's branch2 input)."""
        for condition in self.conditions:
            try:
                flags = [bool(evaluate(condition, env)) for env in self.envs]
            except Exception:
                continue
            if all(flags) or not any(flags):
                continue
            sides = []
            for want in (True, False):
                part = [i for i, flag in enumerate(flags) if flag == want]
                sub = [values[i] for i in part]
                text = next((t for t in pythons if all(gives(t, self.envs[i], _plain(values[i])) for i in part)),
                            literal(sub[0]) if all(same(v, sub[0]) for v in sub) else None)
                sides.append(text)
            if None not in sides:
                return f"{sides[0]} if {condition} else {sides[1]}"
        return None

    def torch(self, descriptions: list[Torch], texts: Texts, what: str) -> str:
        """A module's code: its first argument is most often its input's channels (the texts of the layers
        it reads come first), the others come from its own fields."""
        first = descriptions[0]
        if any(d.cls != first.cls or len(d.args) != len(first.args) or [k for k, _ in d.kwargs] !=
               [k for k, _ in first.kwargs] for d in descriptions):
            raise NotIdiomatic(f"{what}: the uses lower to different modules")
        out = []
        for index in range(len(first.args)):
            values = [d.args[index] for d in descriptions]
            near = [*texts.inputs, *texts.own] if index == 0 else texts.own
            out.append(self.torch(values, texts, what) if isinstance(values[0], Torch)
                       else self.code(values, near, what, texts.others))
        for index, (key, _) in enumerate(first.kwargs):
            values = [d.kwargs[index][1] for d in descriptions]
            if isinstance(values[0], Torch):
                out.append(f"{key}={self.torch(values, texts, what)}")
                continue
            fields = [text for name, field_texts in texts.fields.items() if key.startswith(name) or
                      name.startswith(key) for text in field_texts]
            out.append(f"{key}={self.code(values, fields, what, [*texts.own, *texts.inputs, *texts.others])}")
        return call(first.cls, out)


@dataclass
class Texts:
    """The spec texts that may give a layer's values, nearest first."""

    fields: dict[str, list[str]]  # its own, by field
    inputs: list[str] = field(default_factory=list)  # those of the layers it reads, back to in_channels
    others: list[str] = field(default_factory=list)  # every other text of the block

    @property
    def own(self) -> list[str]:
        return [t for texts in self.fields.values() for t in texts]


def _plain(value: Any) -> Any:
    """A value as Python code would compute it: torch takes 3 for (3, 3)."""
    if isinstance(value, tuple) and len(value) == 2 and same(value[0], value[1]):
        return value[0]
    return list(value) if isinstance(value, tuple) else value


def field_sources(item: Any) -> dict[str, list[str]]:
    """The item's fields written as expressions or names: {field: [text]}."""
    out: dict[str, list[str]] = {}
    for key, value in (item or {}).items():
        if key in ("op", "name", *INPUT_KEYS, "repeat", "first", "when", "module"):
            continue
        if isinstance(value, str) and (is_expression(value) or value.strip().isidentifier()):
            out[str(key)] = [value]
    return out


# ---- what a scope holds ------------------------------------------------------------------------------------
@dataclass(eq=False)
class Member:
    """One item of a scope, over its instances: the node or class use it is in each (None: skipped)."""

    key: str
    item: Any
    things: list[Node | Call | None]
    paths: list[list[str]] = field(default_factory=list)  # module path segments of its parts
    modules: list[list[Any]] = field(default_factory=list)  # per part, per present instance: Torch or Call

    @property
    def present(self) -> list[int]:
        return [i for i, t in enumerate(self.things) if t is not None]

    @property
    def presence(self) -> tuple[bool, ...]:
        return tuple(t is not None for t in self.things)


@dataclass(eq=False)
class Loop(Member):
    """A repeat whose copies are one module each, in one container: per instance, its copies in order."""

    copies: list[list[Node | Call]] = field(default_factory=list)
    descriptions: list[list[Any]] = field(default_factory=list)  # per instance, per copy: Torch or Call
    segments: list[list[str]] = field(default_factory=list)  # per instance, per copy: its name in the container
    numbered: bool = True


@dataclass
class Slot:
    entries: list[tuple[Member, int]] = field(default_factory=list)  # (member, part) that may fill it
    children: dict[str, Slot] = field(default_factory=dict)
    first: int = 0


def _ordered(slot: Slot) -> list[tuple[str, Slot]]:
    def key(item: tuple[str, Slot]) -> tuple[int, int]:
        digits = item[0].removesuffix("+")
        return (int(digits) if digits.isdigit() else 0, item[1].first)
    return sorted(slot.children.items(), key=key)


def _numbered(slot: Slot) -> bool:
    return all(name.removesuffix("+").isdigit() for name in slot.children)


@dataclass
class Piece:
    """A module (or a loop's modules) as code, where it exists, and its name in a named container."""

    code: str
    presence: tuple[bool, ...]
    loop: str | None = None  # `for i in range(1, 4)`: the code is the loop's element
    name: str | None = None  # a literal name, or an f-string for a loop
    splat: bool = False  # the code gives a list of modules (a function's, a copy of several modules)
    parts: list[str] | None = None  # a copy of several modules: each one's code
    lines: list[str] = field(default_factory=list)  # statements that build it first
    assigned: bool = False  # `lines` already set it where it belongs
    entries: list[str] | None = None  # a numbered container's: the arguments of its nn.Sequential
    item: Any = None  # the spec item of a single module (its `when:` says where it exists)


@dataclass
class Signature:
    in_channels: bool
    params: list[tuple[str, str]]  # (name, 'required' | 'default' | 'computed')
    defaults: dict[str, Any]  # literal defaults
    overridden: dict[str, set[str]]  # computed defaults: the uses that give another value


class Generator:
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
        self.classes = {block for block, calls in self.uses.items() if self._own_modules(calls)}
        self._runs: dict[tuple[str, bool], tuple[str, list[int]]] = {}
        self.functions = {block for block, calls in self.uses.items()
                          if block not in self.classes and all(self._in_container(c) for c in calls)}
        self.why: dict[str, str] = {}  # blocks written out, and why
        names = {name: constant_name(name) for name in self.spec.variables}
        clashes = {c for c in names.values() if list(names.values()).count(c) > 1}
        self.constants = {name: c for name, c in names.items() if c not in clashes and c.isidentifier()}
        self.constant_values = {self.constants[n]: v for n, v in self.spec.variables.items() if n in self.constants}
        self.used_constants: set[str] = set()
        self.signatures: dict[str, Signature] = {}
        self.unrolled: set[str] = set()  # copies of repeats written one by one (not as a loop)

    def _own_modules(self, calls: list[Call]) -> bool:
        paths = [use.module for use in calls]
        return all(paths) and len(set(paths)) == len(paths) and all(
            use.module != self._parent_module(use) for use in calls)

    def _parent_module(self, use: Call) -> str:
        parts = use.name.split(".")
        for n in range(len(parts) - 1, 0, -1):
            parent = self.calls.get(".".join(parts[:n]))
            if parent is not None:
                return parent.module
        return ""

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
            paths = []
            for thing in [*self.graph.nodes, *self.graph.calls]:
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

    def write(self) -> tuple[list[ClassCode], ClassCode]:
        """Each class and function, innermost first, and the model's class."""
        while True:
            self.used_constants, self.signatures, self._runs, self.unrolled = set(), {}, {}, set()
            try:
                blocks = sorted(self.classes | self.functions,
                                key=lambda b: (-max(c.name.count(".") for c in self.uses[b]),
                                               self.order.get(self.uses[b][0].name, 0)))
                written = [self.block_code(block) for block in blocks]
                return written, ModelWriter(self).write()
            except NotIdiomatic as exc:
                if len(exc.args) != 2:
                    raise
                block, reason = exc.args
                self.classes.discard(block)
                self.functions.discard(block)
                self.why[block] = reason

    def block_code(self, block_name: str) -> ClassCode:
        writer = FunctionWriter if block_name in self.functions else BlockWriter
        try:
            return writer(self, self.spec.blocks[block_name], self.uses[block_name]).write()
        except NotIdiomatic as exc:
            raise NotIdiomatic(block_name, str(exc)) from None

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
            if not member.modules:
                member.modules = [[] for _ in parts]
            for part, (_, module) in enumerate(parts):
                member.modules[part].append(module)
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
        paths = [thing.module] + ([_activation(thing.module)] if len(described) == 2 else [])
        return list(zip(paths, described))

    def _loops(self, members: list[Member], owners: list[str], final: bool) -> list[Member]:
        repeats: dict[int, list[Member]] = {}
        for member in members:
            origins = [t.origin for t in member.things if t is not None]
            if all(o is not None and o.copy is not None and member.key == f"{o.local}.{o.copy}" for o in origins):
                repeats.setdefault(id(member.item), []).append(member)
        out = [m for m in members if not any(m in group for group in repeats.values())]
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
        copies, descriptions, segments = [], [], []
        for i in range(len(owners)):
            present = [m.things[i] is not None for m in group]
            if present != sorted(present, reverse=True) or not present[0]:
                return None  # a copy skipped by `when:`
            copies.append([m.things[i] for m in group if m.things[i] is not None])
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
        return Loop(key, first.item, [row[0] for row in copies], [path], [], copies, descriptions, segments, numbered)

    def call_code(self, calls: list[Call], values: Values, texts: Texts) -> str:
        """`Bottleneck(256, planes=128, stride=2)`: the class (or function) with the uses' in_channels and
        arguments."""
        block = self.spec.blocks[calls[0].block]
        name = function_name(block.name) if block.name in self.functions else class_name(block.name)
        if name in values.names:
            raise NotIdiomatic(f"{name} is also a parameter's name")
        signature = self.signatures[block.name]
        args = []
        if signature.in_channels:
            args.append(values.code([c.variables["in_channels"] for c in calls], texts.inputs, calls[0].name,
                                    texts.others))
        for param, kind in signature.params:
            given = [c.args[param] for c in calls]
            if kind == "default" and all(same(v, signature.defaults[param]) for v in given):
                continue
            if kind == "computed" and not any(c.name in signature.overridden[param] for c in calls):
                continue
            args.append(f"{param}={values.code(given, texts.fields.get(param, []), calls[0].name, texts.others)}")
        return f"{name}({', '.join(args)})"


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


def _is_literal(value: Any) -> bool:
    return isinstance(value, (int, float, bool)) or (isinstance(value, str) and not is_expression(value)
                                                        and not value.isidentifier())


def _activation(path: str) -> str:
    *parent, leaf = path.split(".")
    return ".".join([*parent, f"{leaf}+" if leaf.isdigit() else leaf + ACTIVATION_SUFFIX])


def _inline(member: Member) -> str | None:
    """The forward-time form of a stateless helper straight in the scope (`a + b`), if it has one."""
    if isinstance(member, Loop) or len(member.paths) != 1 or len(member.paths[0]) != 1:
        return None
    module = member.modules[0][0]
    return INLINE.get(module.cls) if isinstance(module, Torch) and not module.args and not module.kwargs else None


def inline_code(form: str, inputs: list[str]) -> str:
    return form.format(", ".join(inputs)) if "{}" in form else form.join(inputs)


# ---- writing a scope ---------------------------------------------------------------------------------------
class ScopeWriter:
    """The module tree of a scope (the model or a class) as __init__ code."""

    def __init__(self, gen: Generator, members: list[Member], envs: list[dict[str, Any]], names: set[str],
                 literal_first: bool) -> None:
        self.gen, self.members, self.envs, self.names = gen, members, envs, names
        gen.unrolled |= {m.key for m in members if not isinstance(m, Loop) and any(
            t is not None and t.origin is not None and t.origin.copy is not None for t in m.things)}
        self.literal_first = literal_first
        self.constants = {v: c for v, c in gen.constants.items() if v not in names}
        self.texts = [t for m in members for texts in field_sources(m.item).values() for t in texts]
        self.root = Slot()
        for order, member in enumerate(members):
            for part, segments in enumerate(member.paths):
                slot = self.root
                for segment in segments:
                    slot = slot.children.setdefault(segment, Slot(first=order * 2 + part))
                slot.entries.append((member, part))
        self.conditions: list[str] = []
        values = self.values(envs)
        whens = [values.python(m.item["when"]) for m in members if m.item is not None and "when" in m.item]
        self.conditions = list(dict.fromkeys(c for text in whens if text for c in [text, *conjuncts(text)]))
        self.taken = set(names) | set(self.constants.values())

    def values(self, envs: list[dict[str, Any]], loop: bool = False, first: bool = False) -> Values:
        names = self.names | ({"i"} if loop else set())
        return Values(envs, names, self.constants, self.literal_first, {"i": 0} if first else {}, self.conditions)

    def texts_of(self, item: Any) -> Texts:
        return Texts(field_sources(item), [], ["in_channels", *self.texts])

    def condition(self, presence: tuple[bool, ...], context: tuple[bool, ...], own: Any = None) -> str | None:
        """A condition true exactly where the thing exists, among the instances of its context: its own
        `when:` if that says it, else the shortest of the scope's."""
        where = [i for i, inside in enumerate(context) if inside]
        if all(presence[i] for i in where):
            return None
        mine = self.values(self.envs).python(own["when"]) if own is not None and "when" in own else None
        for text in [*([mine] if mine else []), *sorted(self.conditions, key=len)]:
            if all(gives_flag(text, self.envs[i], presence[i]) for i in where):
                return text
        raise NotIdiomatic("its uses differ in a way 'when' does not say")

    # ---- modules as code -----------------------------------------------------------------------
    def module_code(self, descriptions: list[Any], envs: list[dict[str, Any]], item: Any, what: str,
                    loop: bool = False, first: bool = False) -> str:
        values = self.values(envs, loop, first)
        texts = self.texts_of(item)
        if loop:  # a copy reads the copy before it: its own texts at i - 1
            texts.inputs = [*(re.sub(r"\bi\b", "(i - 1)", t) for t in texts.own if re.search(r"\bi\b", t)),
                            *texts.inputs]
        try:
            if isinstance(descriptions[0], Call):
                return self.gen.call_code(descriptions, values, texts)
            return values.torch(descriptions, texts, what)
        finally:
            self.gen.used_constants |= values.used

    def leaf_pieces(self, slot: Slot, name: str) -> list[Piece]:
        if slot.children:
            raise NotIdiomatic("a layer's module path is also a container")
        if len(slot.entries) == 1 and isinstance(slot.entries[0][0], Loop):
            return self.loop_pieces(slot.entries[0][0])
        options = []
        for member, part in slot.entries:
            if isinstance(member, Loop):
                raise NotIdiomatic("a repeat shares its module path")
            envs = [self.envs[i] for i in member.present]
            code = self.module_code(member.modules[part], envs, member.item, member.key)
            options.append((code, member.presence))
        if len(options) == 1:
            first = slot.entries[0][0].modules[0][0]
            return [Piece(options[0][0], options[0][1], name=name, item=slot.entries[0][0].item,
                          splat=self.gen.is_function(first))]
        if any(self.gen.is_function(m.modules[0][0]) for m, _ in slot.entries):
            raise NotIdiomatic("several layers share a module path")
        if len(options) == 2 and not any(a and b for a, b in zip(options[0][1], options[1][1])):
            union = tuple(a or b for a, b in zip(options[0][1], options[1][1]))
            (a, pa), (b, pb) = options
            for text in sorted(self.conditions, key=len):
                where = [i for i, inside in enumerate(union) if inside]
                for (x, px), (y, _) in (((a, pa), (b, pb)), ((b, pb), (a, pa))):
                    if all(gives_flag(text, self.envs[i], px[i]) for i in where):
                        return [Piece(f"{x} if {text} else {y}", union, name=name)]
        raise NotIdiomatic("several layers share a module path")

    def loop_pieces(self, loop: Loop) -> list[Piece]:
        counts = [len(row) for row in loop.copies]
        count = self.count_text(loop, counts)
        everything = [(i, k) for i, n in enumerate(counts) for k in range(n)]
        presence = tuple(True for _ in self.envs)

        parts = len(loop.descriptions[0][0])
        splat = parts > 1 or self.gen.is_function(loop.descriptions[0][0][0])

        def code(selection: list[tuple[int, int]], with_i: bool) -> list[str]:
            envs = [{**self.envs[i], "i": k} for i, k in selection]
            first = not with_i and all(k == 0 for _, k in selection)
            return [self.module_code([loop.descriptions[i][k][part] for i, k in selection], envs, loop.item,
                                     loop.key, loop=with_i, first=first) for part in range(parts)]

        def piece(codes: list[str], name: str | None, clause: str | None = None) -> Piece:
            if len(codes) == 1:
                return Piece(codes[0], presence, clause, name, splat=splat)
            return Piece(f"[{', '.join(codes)}]", presence, clause, name, splat=True, parts=codes)

        def name(selection: list[tuple[int, int]]) -> str | None:
            if loop.numbered:
                return None
            names = {loop.segments[i][k] for i, k in selection}
            if len(names) == 1:
                return names.pop()
            pattern = self.name_pattern(loop, selection)
            if pattern is None:
                raise NotIdiomatic(f"{loop.key}: the names of its copies are no pattern")
            return pattern

        single = self.literal_first and counts == [1]
        try:
            whole = code(everything, not single)
        except NotIdiomatic:
            whole = None
        if single and whole is not None:
            return [piece(whole, name(everything))]
        if whole is not None:
            counter = "i" if "i" in names_in_code(" + ".join(whole)) or not loop.numbered else "_"
            return [piece(whole, name(everything), f"for {counter} in range({count})")]
        firsts = [(i, 0) for i in range(len(counts))]
        rest = [(i, k) for i, k in everything if k]
        pieces = [piece(code(firsts, False), name(firsts))]
        if not rest:
            return pieces
        if count == "2":  # a lone copy after a different first one is no loop
            return [*pieces, piece(code(rest, False), name(rest))]
        body = code(rest, True)
        if "i" in names_in_code(" + ".join(body)) or not loop.numbered:
            clause = f"for i in range(1, {count})"
        else:
            clause = f"for _ in range({count} - 1)" if not count.isdigit() else f"for _ in range({int(count) - 1})"
        return [*pieces, piece(body, name(rest), clause)]

    def count_text(self, loop: Loop, counts: list[int]) -> str:
        if self.literal_first:
            return str(counts[0])
        values = self.values(self.envs)
        text = values.python(loop.item.get("repeat"))
        if text is not None and values._gives(text, counts):
            values._use(text)
            self.gen.used_constants |= values.used
            return text
        if len(set(counts)) == 1:
            return str(counts[0])
        raise NotIdiomatic(f"{loop.key}: its number of copies is no expression of the block's parameters")

    def name_pattern(self, loop: Loop, selection: list[tuple[int, int]]) -> str | None:
        """The f-string that names the copies, from the `module:` text's last segment."""
        raw = str(loop.item.get("module", ""))
        depth, cut = 0, -1
        for index, char in enumerate(raw):
            depth += {"{": 1, "}": -1}.get(char, 0)
            if char == "." and depth == 0:
                cut = index
        out = []
        for part in re.split(r"(\{[^{}]*\})", raw[cut + 1:].strip()):
            if part.startswith("{"):
                text = to_python(part[1:-1], self.names | {"i"}, self.constants)
                if text is None:
                    return None
                out.append("{" + text + "}")
            elif "{" in part or "}" in part or '"' in part:
                return None
            else:
                out.append(part)
        pattern = 'f"' + "".join(out) + '"'
        if all(gives(pattern, {**self.envs[i], "i": k}, loop.segments[i][k]) for i, k in selection):
            self.gen.used_constants |= names_in(pattern) & set(self.constants.values())
            return pattern
        return None

    # ---- containers ----------------------------------------------------------------------------
    def pieces(self, slot: Slot, name: str, target: str | None = None) -> list[Piece]:
        if slot.entries:
            return self.leaf_pieces(slot, name)
        return [self.container(slot, name, target)]

    def container(self, slot: Slot, name: str, target: str | None) -> Piece:
        """A container as nn.Sequential: an expression of its entries, else built by statements (a numbered
        one whose entries exist under different conditions; a named one)."""
        numbered = _numbered(slot)
        if not numbered and any(segment.removesuffix("+").isdigit() for segment in slot.children):
            raise NotIdiomatic("a container with both names and numbers inside")
        kids: list[Piece] = []
        for segment, child in _ordered(slot):
            inner = None if numbered or target is None else _child_target(target, segment)
            kids += self.pieces(child, segment, inner)
        presence = tuple(any(k.presence[i] for k in kids) for i in range(len(self.envs)))
        if numbered:
            lines, entries = self.entries(kids, presence, name)
            return Piece(f"nn.Sequential({', '.join(entries)})", presence, lines=lines, entries=entries, name=name,
                         item=_common_item(kids, presence))
        if any(k.splat for k in kids):
            raise NotIdiomatic("a function's modules in a container with names")
        conditions = [self.condition(k.presence, presence, k.item) for k in kids]
        where = target or self.local(name)
        lines = [] if where == "self" else [f"{where} = nn.Sequential()"]
        for kid, condition in zip(kids, conditions):
            lines += _guarded([*kid.lines, *([] if kid.assigned else _set(where, kid))], condition)
        return Piece(where, presence, lines=lines, assigned=target is not None, name=name)

    def entries(self, kids: list[Piece], presence: tuple[bool, ...], name: str) -> tuple[list[str], list[str]]:
        """The entries of a numbered container as nn.Sequential's arguments (or a list's, `*layers`) and the
        statements building that list where an entry is conditional, or a loop of several modules."""
        conditions = [self.condition(k.presence, presence, k.item) for k in kids]
        if not any(conditions) and not any(k.lines or (k.loop and k.splat) for k in kids):
            return [], [e for k in kids for e in ([f"*[{k.code} {k.loop}]"] if k.loop else k.parts or
                                                   [f"*{k.code}" if k.splat else k.code])]
        local = self.local(name)
        lines = [f"{local} = []"]
        for kid, condition in zip(kids, conditions):
            add = f"{local} += {kid.code}" if kid.splat else f"{local}.append({kid.code})"
            lines += _guarded([*kid.lines, *([f"{kid.loop}:", f"    {add}"] if kid.loop else [add])], condition)
        return lines, [f"*{local}"]

    def local(self, name: str) -> str:
        base = variable(name) if not name.isdigit() else "layers"
        out, count = base, 1
        while out in self.taken:
            count += 1
            out = f"{base}_{count}"
        self.taken.add(out)
        return out

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
            for member, part in child.entries:
                if part == 0:
                    out.append(member)
            out += [m for m in self.in_order(child) if m not in out]
        return out

    def init_lines(self) -> list[str]:
        """`self.<name> = ...` for each module at the top of the scope, in order."""
        lines: list[str] = []
        everywhere = tuple(True for _ in self.envs)
        for name, slot in sorted(self.root.children.items(), key=lambda kv: kv[1].first):
            target = attribute(name)
            member = slot.entries[0][0] if len(slot.entries) == 1 else None
            form = _inline(member) if member is not None else None
            if member is not None and form is not None:
                condition = self.condition(member.presence, everywhere, member.item)
                if condition is not None:
                    lines.append(f"self.use_{variable(name)} = {condition}")
                continue
            pieces = self.pieces(slot, name, target if not slot.entries and not _numbered(slot) else None)
            if len(pieces) != 1 or pieces[0].loop:
                raise NotIdiomatic(f"{name}: a repeat straight in the class")
            piece = pieces[0]
            condition = self.condition(piece.presence, everywhere, piece.item)
            body = [*piece.lines, *([] if piece.assigned else [f"{target} = {piece.code}"])]
            lines += [f"{target} = None", f"if {condition}:", *("    " + line for line in body)] if condition \
                else body
        return lines


def _common_item(kids: list[Piece], presence: tuple[bool, ...]) -> Any:
    """The item whose `when:` a container takes: that of its first entry that exists where it does."""
    return next((k.item for k in kids if k.item is not None and k.presence == presence), None)


def gives_flag(text: str, env: dict[str, Any], flag: bool) -> bool:
    try:
        return bool(evaluate(text, env)) == flag
    except Exception:
        return False


def names_in_code(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _child_target(target: str, segment: str) -> str | None:
    return f"{target}.{segment}" if segment.isidentifier() and not keyword.iskeyword(segment) else None


def _set(target: str, piece: Piece) -> list[str]:
    """Statements that put a piece into a named container."""
    name = piece.name or ""
    if piece.loop:
        return [f"{piece.loop}:", f"    {target}.add_module({name}, {piece.code})"]
    if name.isidentifier() and not keyword.iskeyword(name):
        return [f"{target}.{name} = {piece.code}"]
    return [f"{target}.add_module({quoted(name)}, {piece.code})"]


def _guarded(lines: list[str], condition: str | None) -> list[str]:
    return [f"if {condition}:", *("    " + line for line in lines)] if condition else lines


# ---- the model -------------------------------------------------------------------------------------------
class ModelWriter(ScopeWriter):
    """The model: one instance, every value a number; its forward follows the graph."""

    def __init__(self, gen: Generator) -> None:
        env = dict(gen.constant_values)
        super().__init__(gen, gen.members([""], [""], final=True), [env], set(), literal_first=True)

    def write(self) -> ClassCode:
        init = ["super().__init__()", *self.init_lines()]
        return ClassCode(class_name(self.gen.graph.name), "nn.Module", [], init, self.forward_lines())

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
            if isinstance(member, Loop):
                raise NotIdiomatic(f"{member.key}: a repeat in a container that is not called as a whole")
            inputs = [value[ref] for ref in _inputs(member)]
            form = _inline(member)
            if form is not None:
                code = inline_code(form, inputs)
            else:
                code = ", ".join(inputs)
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
    thing = member.copies[0][-1] if isinstance(member, Loop) else member.things[0]
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


# ---- a class per block -------------------------------------------------------------------------------------
class UseWriter(ScopeWriter):
    """A block's code, one body for all its uses: its parameters, its values as their expressions."""

    def __init__(self, gen: Generator, block: Any, calls: list[Call], function: bool = False) -> None:
        self.block, self.calls = block, calls
        bad = [p for p in block.params if p in RESERVED or keyword.iskeyword(p) or not p.isidentifier()]
        if bad:
            raise NotIdiomatic(f"parameter {bad[0]!r} is a name the code needs")
        if function:
            positions = {id(item): index for index, item in enumerate(block.items)}
            members = gen.members([c.name for c in calls], [gen.run(c, final=True)[0] for c in calls], final=True,
                                  items=positions)
        else:
            members = gen.members([c.name for c in calls], [c.module for c in calls], final=False)
        position = {id(item): index for index, item in enumerate(block.items)}
        members.sort(key=lambda m: position.get(id(m.item), len(position)))
        for member in members:
            if not isinstance(member, Loop) and ("." in member.key or any(
                    t is not None and t.origin is not None and t.origin.copy is not None for t in member.things)):
                raise NotIdiomatic(f"{member.key}: repeats and written-out blocks inside a class")
        envs = [self._env(gen, c) for c in calls]
        super().__init__(gen, members, envs, {"in_channels", *block.params}, literal_first=False)
        self.chains = self._input_texts()

    def texts_of(self, item: Any) -> Texts:
        texts = super().texts_of(item)
        texts.inputs = self.chains.get(id(item), [])
        return texts

    def _keeps_channels(self, member: Member) -> bool:
        """Whether the member's output has its input's channels in every use (a skipped one does)."""
        things = [t for row in member.copies for t in row] if isinstance(member, Loop) else member.things
        for thing in things:
            if isinstance(thing, Call):
                if self.gen.shapes[thing.output][0] != thing.variables["in_channels"]:
                    return False
            elif thing is not None and thing.output_shape[0] != thing.input_shapes[0][0]:
                return False
        return True

    def _input_texts(self) -> dict[int, list[str]]:
        """Per item, the texts of the layers it reads, nearest first, back to the block's input."""
        producers: dict[str, tuple[Any, str]] = {}  # local name -> (item, what it read)
        chains: dict[int, list[str]] = {}
        by_item = {id(m.item): m for m in self.members}
        previous = INPUT_NAME
        for index, item in enumerate(self.block.items):
            ref, texts, seen = _item_inputs(item, previous)[0], [], set()
            while ref in producers and ref not in seen:
                seen.add(ref)
                producer, ref = producers[ref]
                texts += _last_copy([t for field_texts in field_sources(producer).values() for t in field_texts],
                                    producer)
                if id(producer) in by_item and not self._keeps_channels(by_item[id(producer)]):
                    ref = ""  # its channels are its own: the texts before it say nothing of them
                    break
            chains[id(item)] = [*texts, *(["in_channels"] if ref == INPUT_NAME else [])]
            local = str(item["name"]) if "name" in item else f"#{index}"
            producers[local] = (item, _item_inputs(item, previous)[0])
            previous = local
        return chains

    @staticmethod
    def _env(gen: Generator, use: Call) -> dict[str, Any]:
        env = {c: v for c, v in gen.constant_values.items()}
        env.update(in_channels=use.variables["in_channels"], **use.args)
        return env

    def signature(self, body: list[str]) -> tuple[list[str], list[str]]:
        """The constructor's parameters (those the code reads) and the lines computing the others."""
        block, calls = self.block, self.calls
        needed = _loaded(body)
        computed: dict[str, str] = {}
        overridden: dict[str, set[str]] = {}
        for name in reversed(list(block.params)):
            default = block.params[name]
            if name not in needed or default is REQUIRED or _is_literal(default):
                continue
            text = to_python(str(default), {"in_channels", *block.params}, self.constants)
            spec_values = [_spec_default(str(default), c) for c in calls]
            keeps = [c for c, v in zip(calls, spec_values) if same(v, c.args[name])]
            if text is None or not all(gives(text, env, c.args[name]) for env, c in zip(self.envs, calls) if c in keeps):
                continue  # written as a required parameter
            computed[name] = text
            overridden[name] = {c.name for c in calls if c not in keeps}
            needed |= names_in(text)
            self.gen.used_constants |= names_in(text) & set(self.constants.values())
        params: list[tuple[str, str]] = []
        for name, default in block.params.items():
            if name not in needed or (name in computed and not overridden[name]):
                continue
            kind = "computed" if name in computed else "required" if default is REQUIRED or not _is_literal(default) \
                else "default"
            params.append((name, kind))
        params.sort(key=lambda p: p[1] != "required")
        self.gen.signatures[block.name] = Signature("in_channels" in needed, params,
                                                    {n: block.params[n] for n, k in params if k == "default"},
                                                    overridden)
        signature = ["in_channels"] if "in_channels" in needed else []
        signature += [n if k == "required" else f"{n}={literal(block.params[n])}" if k == "default" else f"{n}=None"
                      for n, k in params]
        lines = []
        for name in block.params:
            if name in computed and name in needed:
                lines += [f"{name} = {computed[name]}"] if not overridden[name] else \
                    [f"if {name} is None:", f"    {name} = {computed[name]}"]
        return signature, lines

    def _whole_chain(self) -> bool:
        """Whether every item reads the one before it and the last is the output: nn.Sequential's forward."""
        items = list(self.block.items)
        previous = INPUT_NAME
        for index, item in enumerate(items):
            if _item_inputs(item, previous) != [previous]:
                return False
            previous = str(item["name"]) if "name" in item else f"#{index}"
        by_item = {id(m.item): m for m in self.members}
        order = [by_item[id(i)] for i in items if id(i) in by_item]
        return self.block.output in (None, previous) and self.in_order(self.root) == order


class FunctionWriter(UseWriter):
    """A block whose layers sit in the enclosing numbered container (VGG's stages in `features`): a function
    returning its modules in order, spliced in where it is used (`*stage(64, c=128, n=2)`)."""

    def __init__(self, gen: Generator, block: Any, calls: list[Call]) -> None:
        super().__init__(gen, block, calls, function=True)

    def write(self) -> ClassCode:
        if not self._whole_chain():
            raise NotIdiomatic("its layers do not feed each other in order")
        for i, use in enumerate(self.calls):  # each use's modules are in the order of its items
            things = [t for m in self.members for t in (m.copies[i] if isinstance(m, Loop) else [m.things[i]])
                      if t is not None]
            numbers = [int(path.rpartition(".")[2]) for t in things for path, _ in self.gen._parts(t, True)]
            if numbers != sorted(numbers):
                raise NotIdiomatic(f"{use.name}: its modules are not in the order of its layers")
        kids = [p for _, child in _ordered(self.root) for p in self.pieces(child, "layers")]
        everywhere = tuple(True for _ in self.envs)
        lines, entries = self.entries(kids, everywhere, "layers")
        body = [*lines, f"return {entries[0][1:]}" if lines else f"return [{', '.join(entries)}]"]
        signature, computed = self.signature(body)
        return ClassCode(function_name(self.block.name), "", signature, [*computed, *body], None)


class BlockWriter(UseWriter):
    """A block's class: one body for all its uses; its forward follows the block's items."""

    def write(self) -> ClassCode:
        sequential = _numbered(self.root) or any(isinstance(m, Loop) and not m.paths[0][:-1] for m in self.members)
        if sequential:
            if not self._whole_chain():
                raise NotIdiomatic("a numbered module or a repeat straight in a class whose layers do not "
                                   "feed each other in order")
            piece = self.container(self.root, "layers", "self")
            if piece.entries is not None:  # numbered: the entries are nn.Sequential's arguments
                body = [*piece.lines, f"super().__init__({', '.join(piece.entries)})"]
            else:  # named: registered one by one
                body = ["super().__init__()", *piece.lines]
            forward = None
        else:
            body = ["super().__init__()", *self.init_lines()]
            forward = self.forward_lines()
        signature, computed = self.signature(body)
        if sequential and not body[0].startswith("super().__init__()"):
            body = [*computed, *body]
        else:
            body = [body[0], *computed, *body[1:]]
        return ClassCode(class_name(self.block.name), "nn.Sequential" if sequential else "nn.Module", signature,
                         body, forward)

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
        everywhere = tuple(True for _ in self.envs)
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
                if group[0] is not member or not self._spec_chain(group, items, locals_):
                    raise NotIdiomatic(f"{top}: its layers do not feed each other in order")
                done.update(m.key for m in group)
                code = f"{attribute(top)}({value[inputs[0]]})"
                out = names.new(variable(top))
                presence = tuple(any(m.presence[i] for m in group) for i in range(len(self.envs)))
                lines += _optional(out, code, attribute(top), value[inputs[0]], presence != everywhere)
                value[self._local_of(group[-1], items, locals_)] = out
                continue
            if isinstance(member, Loop):
                raise NotIdiomatic(f"{member.key}: a repeat straight in a class")
            form = _inline(member)
            out = names.new(variable(local))
            if form is not None:
                code = inline_code(form, [value[name] for name in inputs])
                condition = self.condition(member.presence, everywhere, member.item)
                lines.append(f"{out} = {code}" if condition is None else
                             f"{out} = {code} if self.use_{variable(member.paths[0][0])} else {value[inputs[0]]}")
            else:
                code = ", ".join(value[name] for name in inputs)
                for segments in member.paths:
                    code = f"{attribute('.'.join(segments))}({code})"
                lines += _optional(out, code, attribute(".".join(member.paths[0])), value[inputs[0]],
                                   member.presence != everywhere)
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

    def _spec_chain(self, group: list[Member], items: list[Any], locals_: list[str]) -> bool:
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


def _last_copy(texts: list[str], item: Any) -> list[str]:
    """A repeat's texts as its last copy reads them (what comes after it sees that copy): i = repeat - 1."""
    if "repeat" not in item:
        return texts
    last = f"({item['repeat']} - 1)"
    return [re.sub(r"\bi\b", last, t) for t in texts]


def _spec_default(text: str, use: Call) -> Any:
    try:
        return spec_evaluate(text, use.variables)
    except ExprError:
        return None


def _loaded(lines: list[str]) -> set[str]:
    """The names the statements read."""
    tree = ast.parse("\n".join(lines))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


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


__all__ = ["ClassCode", "Generator", "NotIdiomatic", "attribute", "class_name", "torch_source"]
