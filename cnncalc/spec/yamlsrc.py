"""Reading YAML with source locations.

PyYAML's safe composer builds the node tree (no Python object is ever constructed from a tag);
we turn it into plain dicts, lists and scalars that remember where each key and value stood,
rejecting duplicate keys, unknown tags and recursive aliases on the way.
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

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_NESTING = 200  # libyaml's composer recurses on the C stack: very deep nesting crashes it
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class YMap(dict):
    """A mapping that knows where it, each key and each value stand in the file."""

    loc: Location
    key_locs: dict
    value_locs: dict


class YList(list):
    """A sequence that knows where it and each item stand in the file (a list made from one
    resolves its items but keeps their places)."""

    loc: Location | None
    item_locs: list


def _loc(file: str, mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def read_spec_text(path: Path, display: str | None = None) -> str:
    """A spec file's text, or a SpecError saying clearly why it cannot be read."""
    return read_text(path, display, what="a spec file", limit=MAX_FILE_BYTES, error=SpecError)


def parse_yaml(text: str, file: str, error: type[InputError] = SpecError) -> Any:
    """Parse one YAML document into YMap/YList/scalars with locations; problems are `error`s."""
    with paused_gc():
        return _parse(text, file, error)


def check_structure(text: str, file: str, max_depth: int = MAX_NESTING, aliases: bool = True,
                    error: type[InputError] = SpecError, what: str = "the YAML") -> None:
    """Refuse nesting deeper than `max_depth` (and, unless `aliases`, any alias) from libyaml's
    event stream, before anything is composed: the composer recurses on the C stack, so a deep
    file ('[' or '? ' repeated 100,000 times) would crash the interpreter. Syntax errors are left
    for the parse, which reports them with their location."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise error(f"{what} is nested more than {max_depth} levels deep",
                                loc=_loc(file, event.start_mark))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent) and not aliases:
                raise error("YAML aliases ('*name') are not allowed here; write the values out",
                            loc=_loc(file, event.start_mark))
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
    except yaml.YAMLError as exc:
        raise error(f"YAML syntax error: {exc}", file=file) from None
    finally:
        loader.dispose()
    if node is None:
        raise error("the file is empty", file=file)
    return _Builder(loader, file, error).build(node)


class _Builder:
    def __init__(self, loader: Any, file: str, error: type[InputError]) -> None:
        self.loader = loader
        self.file = file
        self.error = error
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()

    def build(self, node) -> Any:
        key = id(node)
        if key in self.done:  # an alias of a finished node: share it, never expand it again
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

    def _scalar(self, node) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self.error(
                f"unsupported YAML tag {node.tag!r}: only plain strings, numbers, booleans and null are allowed",
                loc=_loc(self.file, node.start_mark),
            )
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            raise self.error(f"bad scalar value: {exc}", loc=_loc(self.file, node.start_mark)) from None

    def _sequence(self, node) -> YList:
        if node.tag != "tag:yaml.org,2002:seq":
            raise self.error(f"unsupported YAML tag {node.tag!r}", loc=_loc(self.file, node.start_mark))
        out = YList(self.build(item) for item in node.value)
        out.loc = _loc(self.file, node.start_mark)
        out.item_locs = [_loc(self.file, item.start_mark) for item in node.value]
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
        return out
