"""Reading YAML with source locations.

PyYAML's safe composer builds the node tree (no Python object is ever constructed from a tag);
we turn it into plain dicts, lists and scalars that remember where each key and value stood,
rejecting duplicate keys, unknown tags and recursive aliases on the way.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import Location, SpecError
from ..core.gcpause import paused_gc

try:  # libyaml is much faster on long specs; the pure-Python loader behaves the same
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

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
    """A sequence that knows where it and each item stand in the file."""

    loc: Location
    item_locs: list


def _loc(file: str, mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def read_text(path: Path, display: str | None = None) -> str:
    """The file's text, or a SpecError saying clearly why it cannot be read."""
    name = display or str(path)
    if not path.exists():
        raise SpecError("no such file", file=name)
    if path.is_dir():
        raise SpecError("is a directory, not a spec file", file=name)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(f"file is too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})", file=name)
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            loc=Location(name, line, column),
            hint="save the file as UTF-8",
        ) from None


def parse_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into YMap/YList/scalars with locations."""
    with paused_gc():
        return _parse(text, file)


def nesting_bound(text: str) -> int:
    """An upper bound on the YAML nesting depth: the deepest bracket nesting plus, on one line, the
    indentation and the sequence dashes (`- - - x` nests three deep). Cheap: no parse."""
    brackets = _NOT_BRACKET.sub("", text)
    flow, deepest = 0, 0
    for char in brackets:
        flow += 1 if char in "[{" else -1
        deepest = max(deepest, flow)
    block = max((len(line) - len(line.lstrip(" ")) + line.count("- ") for line in text.splitlines()), default=0)
    return deepest + block


_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _parse(text: str, file: str) -> Any:
    if nesting_bound(text) > MAX_NESTING:
        raise SpecError(f"the YAML is nested more than {MAX_NESTING} levels deep", file=file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        raise SpecError(f"YAML syntax error: {problem}", loc=_loc(file, mark) if mark else None, file=file) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML syntax error: {exc}", file=file) from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError("the file is empty", file=file)
    return _Builder(loader, file).build(node)


class _Builder:
    def __init__(self, loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()

    def build(self, node) -> Any:
        key = id(node)
        if key in self.done:  # an alias of a finished node: share it, never expand it again
            return self.done[key]
        if key in self.active:
            raise SpecError("recursive YAML alias", loc=_loc(self.file, node.start_mark))
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
            raise SpecError(
                f"unsupported YAML tag {node.tag!r}: only plain strings, numbers, booleans and null are allowed",
                loc=_loc(self.file, node.start_mark),
            )
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            raise SpecError(f"bad scalar value: {exc}", loc=_loc(self.file, node.start_mark)) from None

    def _sequence(self, node) -> YList:
        if node.tag != "tag:yaml.org,2002:seq":
            raise SpecError(f"unsupported YAML tag {node.tag!r}", loc=_loc(self.file, node.start_mark))
        out = YList(self.build(item) for item in node.value)
        out.loc = _loc(self.file, node.start_mark)
        out.item_locs = [_loc(self.file, item.start_mark) for item in node.value]
        return out

    def _mapping(self, node) -> YMap:
        if node.tag != "tag:yaml.org,2002:map":
            raise SpecError(f"unsupported YAML tag {node.tag!r}", loc=_loc(self.file, node.start_mark))
        out = YMap()
        out.loc = _loc(self.file, node.start_mark)
        out.key_locs, out.value_locs = {}, {}
        for key_node, value_node in node.value:
            key_loc = _loc(self.file, key_node.start_mark)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("YAML merge keys ('<<') are not supported; write the fields out", loc=key_loc)
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("a mapping key must be a plain name, not a list or mapping", loc=key_loc)
            key = self._scalar(key_node)
            if key in out:
                first = out.key_locs[key]
                raise SpecError(f"duplicate key '{key}' (first given at line {first.line})", loc=key_loc)
            out[key] = self.build(value_node)
            out.key_locs[key] = key_loc
            out.value_locs[key] = _loc(self.file, value_node.start_mark)
        return out
