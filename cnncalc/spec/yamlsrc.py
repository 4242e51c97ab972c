"""Reading YAML with source locations.

PyYAML's safe composer builds the node tree (no Python object is ever constructed from a tag);
we turn it into plain dicts, lists and scalars that remember where each key and value stood,
rejecting duplicate keys, unknown tags and recursive aliases on the way.

Limits (docs/limits.md), each checked before the work it bounds: the file's size (read_text), the
nesting and the number of values in libyaml's event stream (check_structure, before anything is
composed), and the same two counted with every alias expanded (while building, before any value
is resolved: an alias is shared here, but the spec's variables and blocks copy it by value).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..core.errors import InputError, Location, SpecError
from ..core.gcpause import paused_gc
from ..core.io import read_text

# libyaml is much faster on long specs; the pure-Python loader behaves the same
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The zoo's largest spec is 6 KB and a flat 10,000-conv spec 450 KB; parsing costs about 2 µs and
# 600 bytes per value, so these keep the worst file under about 4 s and 400 MB (docs/limits.md).
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_VALUES = 500_000  # scalars, lists and mappings, keys included
MAX_NESTING = 200  # libyaml's composer recurses on the C stack: very deep nesting crashes it
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class YMap(dict):
    """A mapping that knows where it, each key and each value stand in the file, and its `weight`
    (see `weight_of`)."""

    loc: Location
    key_locs: dict
    value_locs: dict
    weight: int = 1
    plan: Any = None  # the graph builder's plan of a `layers:` item (itemplan.py), made when first built


class YList(list):
    """A sequence that knows where it and each item stand in the file (a list made from one
    resolves its items but keeps their places), and its `weight` (see `weight_of`)."""

    loc: Location | None
    item_locs: list
    weight: int = 1


def weight_of(value: Any) -> int:
    """The work of resolving a value, in units: one per value, with every alias expanded, plus one
    per 4 characters of text (an expression costs about as much per token as a value). Keys are
    not counted. The graph builder charges it each time a layer is expanded (docs/limits.md)."""
    if isinstance(value, (YMap, YList)):
        return value.weight
    return 1 + len(value) // 4 if isinstance(value, str) else 1


def _loc(file: str, mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def read_spec_text(path: Path, display: str | None = None) -> str:
    """A spec file's text, or a SpecError saying clearly why it cannot be read."""
    return read_text(path, display, what="a spec file", limit=MAX_FILE_BYTES, error=SpecError)


def parse_yaml(text: str, file: str, error: type[InputError] = SpecError) -> Any:
    """Parse one YAML document into YMap/YList/scalars with locations; problems are `error`s."""
    with paused_gc():
        return _parse(text, file, error)


_OPEN, _CLOSE, _ALIAS, _SCALAR = "open", "close", "alias", "scalar"
_EVENT_KINDS: dict[type, str] = {
    yaml.MappingStartEvent: _OPEN, yaml.SequenceStartEvent: _OPEN,
    yaml.MappingEndEvent: _CLOSE, yaml.SequenceEndEvent: _CLOSE,
    yaml.AliasEvent: _ALIAS, yaml.ScalarEvent: _SCALAR,
}


def check_structure(text: str, file: str, max_depth: int = MAX_NESTING, aliases: bool = True,
                    error: type[InputError] = SpecError, what: str = "the YAML") -> None:
    """Refuse nesting deeper than `max_depth`, more than MAX_VALUES values (and, unless `aliases`,
    any alias) from libyaml's event stream, before anything is composed: the composer recurses on
    the C stack, so a deep file ('[' or '? ' repeated 100,000 times) would crash the interpreter,
    and it keeps about 600 bytes per value. An explicit key ('? ') opens a mapping, so it is
    counted like '{'. Syntax errors are left for the parse, which reports them with their location."""
    depth = 0
    values = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            kind = _EVENT_KINDS.get(type(event))  # libyaml makes these exact classes: no isinstance chain
            if kind is None:
                continue
            if kind is not _CLOSE:
                values += 1
                if values > MAX_VALUES:
                    raise error(f"{what} has more than {MAX_VALUES:,} values", loc=_loc(file, event.start_mark),
                                hint="see docs/limits.md")
            if kind is _OPEN:
                depth += 1
                if depth > max_depth:
                    raise error(f"{what} is nested more than {max_depth} levels deep",
                                loc=_loc(file, event.start_mark))
            elif kind is _CLOSE:
                depth -= 1
            elif kind is _ALIAS and not aliases:
                raise error("YAML aliases ('*name') are not allowed here; write the values out",
                            loc=_loc(file, event.start_mark))
    except yaml.MarkedYAMLError as exc:
        # PyYAML 6.0.4's libyaml stops at 1,000 levels while scanning ahead, before our count sees 200
        if "maximum nesting depth" in str(exc.problem):
            raise error(f"{what} is nested more than {max_depth} levels deep",
                        loc=_loc(file, exc.problem_mark) if exc.problem_mark else None, file=file) from None
    except yaml.YAMLError:
        return


def _parse(text: str, file: str, error: type[InputError]) -> Any:
    check_structure(text, file, error=error)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        raise error(f"YAML syntax error: {problem}", loc=_loc(file, mark) if mark else None, file=file) from None
    except yaml.reader.ReaderError as exc:  # a character YAML refuses anywhere, a comment too: no mark of its own
        before = text[:exc.position]
        where = Location(file, before.count("\n") + 1, exc.position - before.rfind("\n"))
        raise error(f"YAML does not allow the character U+{exc.character:04X} anywhere in the file, comments included",
                    loc=where, hint="remove it; inside a double-quoted string an escape such as \\x1b may stand "
                    "for it") from None
    except yaml.YAMLError as exc:
        raise error(f"YAML syntax error: {exc}", file=file) from None
    finally:
        loader.dispose()
    if node is None:
        raise error("the file is empty", file=file)
    return _Builder(loader, file, error).build(node)


_UNSEEN = object()


class _Builder:
    """Nodes -> YMap/YList/scalars. An alias of a finished node shares its value, never builds it
    again; the value's expanded size (values, nesting, weight) is measured as if every alias were
    a copy, and refused past the limits before anything copies it."""

    def __init__(self, loader: Any, file: str, error: type[InputError]) -> None:
        self.loader = loader
        self.file = file
        self.error = error
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, nesting) with aliases expanded
        self.scalars: dict[tuple[str, str], Any] = {}  # (tag, text) -> value: one per distinct scalar of the file

    def build(self, node) -> Any:
        key = id(node)
        if key in self.done:
            return self.done[key]
        if key in self.active:
            raise self.error("recursive YAML alias", loc=_loc(self.file, node.start_mark))
        self.active.add(key)
        try:
            if isinstance(node, yaml.ScalarNode):
                value = self._scalar(node)
            elif isinstance(node, yaml.SequenceNode):
                value = self._sequence(node)
            else:
                value = self._mapping(node)
        finally:
            self.active.discard(key)
        self.done[key] = value
        return value

    def _measure(self, node, out: YMap | YList, children: list, values: list, keys: int = 0) -> None:
        """Record the container's expanded size, nesting and weight (its `children` nodes built
        into `values`; `keys` scalar keys), refusing a size or nesting past its limit."""
        size, depth, weight = 1 + keys, 0, 1
        for child, value in zip(children, values):
            if isinstance(value, (YMap, YList)):
                child_size, child_depth = self.sizes[id(child)]
                size += child_size
                depth = max(depth, child_depth)
                weight += value.weight
            else:
                size += 1
                weight += 1 + len(value) // 4 if isinstance(value, str) else 1
        depth += 1
        self.sizes[id(node)] = (size, depth)
        out.weight = weight
        loc = _loc(self.file, node.start_mark)
        if size > MAX_VALUES:
            raise self.error(f"the YAML has more than {MAX_VALUES:,} values when its aliases are expanded",
                             loc=loc, hint="an alias ('*name') counts as a copy of what it stands for; "
                             "see docs/limits.md")
        if depth > MAX_NESTING:
            raise self.error(f"the YAML is nested more than {MAX_NESTING} levels deep when its aliases are "
                             "expanded", loc=loc, hint="an alias ('*name') counts as a copy of what it stands for")

    def _scalar(self, node) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self.error(
                f"unsupported YAML tag {node.tag!r}: only plain strings, numbers, booleans and null are allowed",
                loc=_loc(self.file, node.start_mark),
            )
        key = (node.tag, node.value)
        value = self.scalars.get(key, _UNSEEN)  # a scalar's value depends only on its tag and text
        if value is not _UNSEEN:
            return value
        try:
            value = self.scalars[key] = self.loader.construct_object(node, deep=True)
            return value
        except (yaml.YAMLError, ValueError) as exc:
            raise self.error(f"bad scalar value: {exc}", loc=_loc(self.file, node.start_mark)) from None

    def _sequence(self, node) -> YList:
        if node.tag != "tag:yaml.org,2002:seq":
            raise self.error(f"unsupported YAML tag {node.tag!r}", loc=_loc(self.file, node.start_mark))
        out = YList(self.build(item) for item in node.value)
        out.loc = _loc(self.file, node.start_mark)
        out.item_locs = [_loc(self.file, item.start_mark) for item in node.value]
        self._measure(node, out, node.value, out)
        return out

    def _mapping(self, node) -> YMap:
        if node.tag != "tag:yaml.org,2002:map":
            raise self.error(f"unsupported YAML tag {node.tag!r}", loc=_loc(self.file, node.start_mark))
        out = YMap()
        out.loc = _loc(self.file, node.start_mark)
        out.key_locs, out.value_locs = {}, {}
        for key_node, value_node in node.value:
            key_loc = _loc(self.file, key_node.start_mark)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.error("YAML merge keys ('<<') are not supported; write the fields out", loc=key_loc)
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error("a mapping key must be a plain name, not a list or mapping", loc=key_loc)
            key = self._scalar(key_node)
            if key in out:
                first = out.key_locs[key]
                raise self.error(f"duplicate key '{key}' (first given at line {first.line})", loc=key_loc)
            out[key] = self.build(value_node)
            out.key_locs[key] = key_loc
            out.value_locs[key] = _loc(self.file, value_node.start_mark)
        self._measure(node, out, [value for _, value in node.value], list(out.values()), keys=len(out))
        return out
