"""The pieces `cnncalc export`'s code generator shares: names, values as code (a spec text that gives every
use's value), and what a scope holds (members, loops, slots of its module tree, pieces of code)."""
from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from ..layers.torchspec import Torch
from ..spec.expr import is_expression
from ..spec.graph import INPUT_KEYS, Call, Node
from .naming import ACTIVATION_SUFFIX
from .pyexpr import evaluate, gives, names_in, same, to_python
from .pyformat import call, literal, quoted

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
    forward_args: str = "x"  # `*features` for a block given any number of inputs


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
        """The texts as Python, each with `/` also as `//` (the spec's `c * expand / 2` gives 64 where
        Python's gives 64.0: the floor division gives the int wherever it gives the same number)."""
        pythons = [p for p in (self.python(t) for t in texts) if p is not None]
        floors = [re.sub(r"(?<!/)/(?!/)", "//", p) for p in pythons if re.search(r"(?<!/)/(?!/)", p)]
        return list(dict.fromkeys([*pythons, *floors]))

    def _gives(self, text: str, values: list[Any]) -> bool:
        return all(gives(text, env, _plain(value)) for env, value in zip(self.envs, values))

    def _use(self, text: str) -> str:
        self.used |= names_in(text) & set(self.constants.values())
        return text

    def _linear(self, values: list[Any], pythons: list[str]) -> str | None:
        """`base + i * step` for a loop's copies, the step a constant or parameter (DenseNet's GROWTH)."""
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
            if not step:
                continue
            # the step must have a name (DenseNet's GROWTH): a bare number that happens to fit two uses is
            # no rule a reader would recognise (3 + i * 5 for a stage whose first copy reads 3 channels)
            named = [c for c in self.constants.values() if same(self.envs[0].get(c), step)]
            named += sorted(n for n in self.names if n not in ("i", "in_channels") and same(self.envs[0].get(n), step))
            for name in named:
                text = f"{base} + i * {name}"
                if self._gives(text, values):
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
        if not all(isinstance(d, Torch) for d in descriptions):  # a layer in one use, a block in another
            raise NotIdiomatic(f"{what}: a layer in some uses, a block in others")
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
        if key in ("op", "name", *INPUT_KEYS, "repeat", "first", "when", "module", "held"):
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

    @property
    def shared(self) -> bool:
        """Whether it calls again a module another layer owns (`share:`): it registers nothing."""
        return all(isinstance(t, Node) and t.layer.shares for t in self.things if t is not None)


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


def ordered(slot: Slot) -> list[tuple[str, Slot]]:
    def key(item: tuple[str, Slot]) -> tuple[int, int]:
        digits = item[0].removesuffix("+")
        return (int(digits) if digits.isdigit() else 0, item[1].first)
    return sorted(slot.children.items(), key=key)


def numbered(slot: Slot) -> bool:
    """Whether a container (a class's or the model's own modules included) is an nn.Sequential of numbered
    entries (True) or holds named modules (False). One holding both is neither: `self[0] = ...` fails on an
    nn.Module and an nn.Sequential's index is a position, not a name; so no class or container is written."""
    numbers = [name for name in slot.children if name.removesuffix("+").isdigit()]
    if numbers and len(numbers) < len(slot.children):
        names = [name for name in slot.children if name not in numbers]
        raise NotIdiomatic(f"a container with both names ({', '.join(names)}) and numbers "
                           f"({', '.join(n for n in numbers if n.isdigit())}) inside")
    return bool(numbers) or not slot.children


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


def is_literal(value: Any) -> bool:
    return isinstance(value, (int, float, bool)) or (isinstance(value, str) and not is_expression(value)
                                                        and not value.isidentifier())


def activation_path(path: str) -> str:
    *parent, leaf = path.split(".")
    return ".".join([*parent, f"{leaf}+" if leaf.isdigit() else leaf + ACTIVATION_SUFFIX])
