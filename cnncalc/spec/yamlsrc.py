"""Reading YAML with source locations.

libyaml's event stream (PyYAML's safe loader; no Python object is ever constructed from a tag) is
read once, straight into plain dicts, lists and scalars that remember where each key and value
stood, rejecting duplicate keys, unknown tags and recursive aliases on the way. No node tree is
composed: that was a second pass over the file and most of the time and memory of a long spec.

Limits (docs/limits.md), each checked before the work it bounds: the file's size (read_text), the
nesting and the number of values, counted as the events come (before the value an event stands for
is made), and the same two counted with every alias expanded (as each list or mapping closes,
before any value is resolved: an alias is shared here, but the spec's variables and blocks copy it
by value). Where a file has several problems, the one reported is the one the former two passes
(limits in the event stream, then composing, then building) met first: see _Refused.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import yaml

from ..core.errors import InputError, Location, SpecError
from ..core.gcpause import paused_gc
from ..core.io import read_text

# libyaml is much faster on long specs; the pure-Python loader behaves the same
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The zoo's largest spec is 6 KB and a flat 10,000-conv spec 450 KB; reading costs about 1 µs and
# 150 bytes per value, so these keep the worst file under about 1 s and 100 MB (docs/limits.md).
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_VALUES = 500_000  # scalars, lists and mappings, keys included
MAX_NESTING = 200  # no spec nests deeper; libyaml's composer (answer sheets) recurses on the C stack
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


def _past_libyaml_nesting(exc: yaml.YAMLError) -> bool:
    # PyYAML 6.0.4's libyaml stops at 1,000 levels while scanning ahead, before our count sees 200
    return isinstance(exc, yaml.MarkedYAMLError) and "maximum nesting depth" in str(exc.problem)


def check_structure(text: str, file: str, max_depth: int = MAX_NESTING, aliases: bool = True,
                    error: type[InputError] = SpecError, what: str = "the YAML") -> None:
    """Refuse nesting deeper than `max_depth`, more than MAX_VALUES values (and, unless `aliases`,
    any alias) from libyaml's event stream, before anything is composed: the composer recurses on
    the C stack, so a deep file ('[' or '? ' repeated 100,000 times) would crash the interpreter,
    and it keeps about 600 bytes per value. An explicit key ('? ') opens a mapping, so it is
    counted like '{'. Syntax errors are left for the parse, which reports them with their location.
    For readers that compose the file (answer sheets); parse_yaml counts the same as it reads."""
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
        if _past_libyaml_nesting(exc):
            raise error(f"{what} is nested more than {max_depth} levels deep",
                        loc=_loc(file, exc.problem_mark) if exc.problem_mark else None, file=file) from None
    except yaml.YAMLError:
        return


def _parse(text: str, file: str, error: type[InputError]) -> Any:
    reader = _Reader(text, file, error)
    try:
        return reader.read()
    finally:
        if reader.loader is not None:
            reader.loader.dispose()


# in this order: the first four are values, the first three have a place of their own
_SCALAR_EVENT, _MAPPING_START, _SEQUENCE_START, _ALIAS_EVENT, _END, _DOCUMENT_START, _STREAM_END, _OTHER = range(8)
_READER_KINDS: dict[type, int] = {
    yaml.ScalarEvent: _SCALAR_EVENT, yaml.MappingStartEvent: _MAPPING_START,
    yaml.SequenceStartEvent: _SEQUENCE_START, yaml.MappingEndEvent: _END, yaml.SequenceEndEvent: _END,
    yaml.AliasEvent: _ALIAS_EVENT, yaml.DocumentStartEvent: _DOCUMENT_START, yaml.StreamEndEvent: _STREAM_END,
    yaml.StreamStartEvent: _OTHER, yaml.DocumentEndEvent: _OTHER,
}
_MAP_TAG, _SEQ_TAG, _MERGE_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:merge"
_UNSEEN: Any = object()
_NO_KEY: Any = object()  # a mapping waiting for its next key

# Location(file, line, column) made without the dataclass's __init__ (half the cost: a spec has
# one per key and per value); the same frozen object, its three slots set once
_new_location = Location.__new__
_set_file, _set_line, _set_column = (vars(Location)[name].__set__ for name in ("file", "line", "column"))


class _Refused(Exception):
    """The first problem found while reading. It is raised only once the whole event stream has
    been read: the limits come first wherever they are passed, then libyaml's syntax errors and
    the composer's (an undefined alias, a second document), in file order, then the rest, in file
    order, as if the file had been composed first and built after."""

    def __init__(self, error: InputError, composer: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.composer = composer


class _Anchor:
    """What an anchor stands for: its value (a container while it is still open), where its node
    starts, its tag, and whether it is a container and still open."""

    __slots__ = ("container", "loc", "open", "tag", "value")

    def __init__(self, loc: Location, tag: str, container: bool) -> None:
        self.value: Any = None
        self.loc, self.tag, self.container, self.open = loc, tag, container, container


class _Reader:
    """libyaml's events -> YMap/YList/scalars in one pass: the limits of check_structure counted
    as the events come, before anything is made from them; each scalar constructed once per
    distinct text and tag; each container's expanded size, nesting and weight added up as its
    children come (an alias counted as a copy of what it stands for; an alias of a finished value
    shares it)."""

    def __init__(self, text: str, file: str, error: type[InputError]) -> None:
        self.loader: Any = None
        self.libyaml = False
        self.text = text
        self.file = file
        self.error = error
        self.plain: dict[str, Any] = {}  # text -> value of untagged plain scalars (their tag follows from the text)
        self.scalars: dict[tuple[str, str], Any] = {}  # (tag, text) -> value: one per distinct scalar of the file
        self.sizes: dict[int, tuple[int, int]] = {}  # id(container) -> (values, nesting) with aliases expanded
        self.anchors: dict[str, _Anchor] = {}

    def read(self) -> Any:
        kinds, file, plain, sizes = _READER_KINDS, self.file, self.plain, self.sizes
        new_location, set_file, set_line, set_column = _new_location, _set_file, _set_line, _set_column
        values = depth = 0
        documents = 0
        root = _UNSEEN
        stack: list[tuple] = []
        # the container being read: its value, whether it is a mapping, the key waiting for its value
        # and where that key stands, key_locs and value_locs (item_locs and None for a list), its
        # expanded size and nesting, its weight, and its anchor
        cur: Any = None
        in_map = False
        key: Any = _NO_KEY
        key_loc: Any = None
        locs: Any = None
        value_locs: Any = None
        size = deep = weight = 0
        anchor: _Anchor | None = None
        try:
            # the pure-Python reader refuses a character YAML does not allow as it starts
            self.loader = _Loader(self.text)
            self.libyaml = not isinstance(self.loader, yaml.parser.Parser)  # its composer's words differ a little
            get_event = self.loader.get_event
            while True:
                event = get_event()
                kind = kinds[type(event)]
                if kind < _END:  # a value
                    values += 1
                    if values > MAX_VALUES:
                        raise self._too_many(event)
                    if kind != _ALIAS_EVENT:
                        mark = event.start_mark
                        loc = new_location(Location)
                        set_file(loc, file)
                        set_line(loc, mark.line + 1)
                        set_column(loc, mark.column + 1)
                if kind == _SCALAR_EVENT:
                    value = plain.get(event.value, _UNSEEN) \
                        if event.tag is None and event.anchor is None and event.implicit[0] else _UNSEEN
                    if value is _UNSEEN:
                        value = self._scalar(event, loc, in_map and key is _NO_KEY)
                elif kind == _END:
                    depth -= 1
                    value, value_size, value_deep = cur, size, deep + 1
                    value.weight = weight
                    sizes[id(value)] = (value_size, value_deep)
                    if value_size > MAX_VALUES or value_deep > MAX_NESTING:
                        raise self._too_large_expanded(value.loc, value_size)
                    if anchor is not None:
                        anchor.open = False
                    cur, in_map, key, key_loc, locs, value_locs, size, deep, weight, anchor = stack.pop()
                    loc = value.loc
                elif kind in (_MAPPING_START, _SEQUENCE_START):
                    depth += 1
                    if depth > MAX_NESTING:
                        raise self._too_deep(event)
                    new_anchor = self._container_anchor(event, loc, kind) if event.anchor is not None else None
                    if event.tag is not None or (in_map and key is _NO_KEY):
                        self._check_container(event, loc, kind, in_map and key is _NO_KEY)
                    stack.append((cur, in_map, key, key_loc, locs, value_locs, size, deep, weight, anchor))
                    if kind == _MAPPING_START:
                        cur = YMap()
                        cur.loc = loc
                        cur.key_locs = locs = {}
                        cur.value_locs = value_locs = {}
                        in_map, key = True, _NO_KEY
                    else:
                        cur = YList()
                        cur.loc = loc
                        cur.item_locs = locs = []
                        in_map = False
                    size, deep, weight, anchor = 1, 0, 1, new_anchor
                    if new_anchor is not None:
                        new_anchor.value = cur
                    continue
                elif kind == _ALIAS_EVENT:
                    value, loc = self._alias(event, in_map and key is _NO_KEY)
                elif kind == _DOCUMENT_START:
                    if documents:
                        raise self._second_document(event)
                    documents += 1
                    continue
                elif kind == _STREAM_END:
                    break
                else:
                    continue
                # a value read (a scalar, a container just closed, an alias) joins the container around it
                if not in_map:
                    if cur is None:
                        root = value
                        continue
                    cur.append(value)
                    locs.append(loc)
                elif key is _NO_KEY:  # a key: always a scalar (a container is refused as it opens)
                    if value in cur:
                        raise self._duplicate(value, cur, loc)
                    key, key_loc = value, loc
                    continue
                else:
                    cur[key] = value
                    locs[key] = key_loc
                    value_locs[key] = loc
                    key = _NO_KEY
                    size += 1
                of = type(value)
                if of is str:
                    size += 1
                    weight += 1 + len(value) // 4
                elif of is YMap or of is YList:
                    value_size, value_deep = sizes[id(value)]
                    size += value_size
                    if value_deep > deep:
                        deep = value_deep
                    weight += value.weight
                else:
                    size += 1
                    weight += 1
        except _Refused as refused:
            self._read_rest(refused, values, depth, documents)
        except yaml.YAMLError as exc:
            raise self._yaml_error(exc) from None
        if root is _UNSEEN:
            raise self.error("the file is empty", file=self.file)
        return root

    # --- scalars, aliases and anchors ---------------------------------------------------------

    def _scalar(self, event: Any, loc: Location, as_key: bool) -> Any:
        """The value of a scalar not read before (or anchored, or tagged), its tag checked."""
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if event.anchor is not None:
            self._register(event, _Anchor(loc, tag, container=False))
        if as_key and tag == _MERGE_TAG:
            raise _Refused(self.error("YAML merge keys ('<<') are not supported; write the fields out", loc=loc))
        if tag not in _SCALAR_TAGS:
            raise _Refused(self.error(
                f"unsupported YAML tag {tag!r}: only plain strings, numbers, booleans and null are allowed", loc=loc))
        key = (tag, event.value)
        value = self.scalars.get(key, _UNSEEN)  # a scalar's value depends only on its tag and text
        if value is _UNSEEN:
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            try:
                # SafeConstructor's function for the tag, as construct_object would call it
                value = self.scalars[key] = self.loader.yaml_constructors[tag](self.loader, node)
            except (yaml.YAMLError, ValueError) as exc:
                raise _Refused(self.error(f"bad scalar value: {exc}", loc=loc)) from None
            except (KeyError, IndexError):  # PyYAML's `!!bool maybe`, `!!int ''`
                raise _Refused(self.error(f"bad scalar value: {event.value!r} is not a YAML {tag.rsplit(':', 1)[-1]}",
                                          loc=loc)) from None
        if event.tag is None and event.implicit[0]:
            self.plain[event.value] = value
        if event.anchor is not None:
            self.anchors[event.anchor].value = value
        return value

    def _container_anchor(self, event: Any, loc: Location, kind: int) -> _Anchor:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _MAP_TAG if kind == _MAPPING_START else _SEQ_TAG
        return self._register(event, _Anchor(loc, tag, container=True))

    def _register(self, event: Any, anchor: _Anchor) -> _Anchor:
        name = event.anchor
        if name in self.anchors:
            first = "found duplicate anchor; first occurrence" if self.libyaml else \
                f"found duplicate anchor {name!r}; first occurrence"
            raise _Refused(self._syntax(yaml.composer.ComposerError(
                first, None, "second occurrence", event.start_mark)), composer=True)
        self.anchors[name] = anchor
        return anchor

    def _check_container(self, event: Any, loc: Location, kind: int, as_key: bool) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _MAP_TAG if kind == _MAPPING_START else _SEQ_TAG
        if as_key:
            if tag == _MERGE_TAG:
                raise _Refused(self.error("YAML merge keys ('<<') are not supported; write the fields out", loc=loc))
            raise _Refused(self.error("a mapping key must be a plain name, not a list or mapping", loc=loc))
        if tag != (_MAP_TAG if kind == _MAPPING_START else _SEQ_TAG):
            raise _Refused(self.error(f"unsupported YAML tag {tag!r}", loc=loc))

    def _alias(self, event: Any, as_key: bool) -> tuple[Any, Location]:
        """What an alias stands for and where that stands (an alias is placed where its anchor is)."""
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            raise self._undefined(event)
        if as_key:
            if anchor.tag == _MERGE_TAG:
                raise _Refused(self.error("YAML merge keys ('<<') are not supported; write the fields out",
                                          loc=anchor.loc))
            if anchor.container:
                raise _Refused(self.error("a mapping key must be a plain name, not a list or mapping",
                                          loc=anchor.loc))
        elif anchor.open:
            raise _Refused(self.error("recursive YAML alias", loc=anchor.loc))
        return anchor.value, anchor.loc

    # --- problems -------------------------------------------------------------------------------

    def _duplicate(self, key: Any, mapping: YMap, loc: Location) -> _Refused:
        first = mapping.key_locs[key]
        return _Refused(self.error(f"duplicate key '{key}' (first given at line {first.line})", loc=loc))

    def _too_large_expanded(self, loc: Location, size: int) -> _Refused:
        if size > MAX_VALUES:
            return _Refused(self.error(
                f"the YAML has more than {MAX_VALUES:,} values when its aliases are expanded", loc=loc,
                hint="an alias ('*name') counts as a copy of what it stands for; see docs/limits.md"))
        return _Refused(self.error(
            f"the YAML is nested more than {MAX_NESTING} levels deep when its aliases are expanded", loc=loc,
            hint="an alias ('*name') counts as a copy of what it stands for"))

    def _too_many(self, event: Any) -> InputError:
        return self.error(f"the YAML has more than {MAX_VALUES:,} values", loc=_loc(self.file, event.start_mark),
                          hint="see docs/limits.md")

    def _too_deep(self, event: Any) -> InputError:
        return self.error(f"the YAML is nested more than {MAX_NESTING} levels deep",
                          loc=_loc(self.file, event.start_mark))

    def _undefined(self, event: Any) -> _Refused:
        problem = "found undefined alias" if self.libyaml else f"found undefined alias {event.anchor!r}"
        return _Refused(self._syntax(yaml.composer.ComposerError(None, None, problem, event.start_mark)),
                        composer=True)

    def _second_document(self, event: Any) -> _Refused:
        return _Refused(self._syntax(yaml.composer.ComposerError(
            "expected a single document in the stream", None, "but found another document", event.start_mark)),
            composer=True)

    def _syntax(self, exc: yaml.MarkedYAMLError) -> InputError:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        return self.error(f"YAML syntax error: {problem}", loc=_loc(self.file, mark) if mark else None, file=self.file)

    def _yaml_error(self, exc: yaml.YAMLError) -> InputError:
        """libyaml's refusal: past its own nesting limit (ours, reported as such), or a syntax error."""
        if isinstance(exc, yaml.MarkedYAMLError):
            if _past_libyaml_nesting(exc):
                return self.error(f"the YAML is nested more than {MAX_NESTING} levels deep",
                                  loc=_loc(self.file, exc.problem_mark) if exc.problem_mark else None, file=self.file)
            return self._syntax(exc)
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses anywhere, a comment too
            text = self.text
            before = text[:exc.position]
            where = Location(self.file, before.count("\n") + 1, exc.position - before.rfind("\n"))
            return self.error(f"YAML does not allow the character U+{exc.character:04X} anywhere in the file, "
                              "comments included", loc=where, hint="remove it; inside a double-quoted string an "
                              "escape such as \\x1b may stand for it")
        return self.error(f"YAML syntax error: {exc}", file=self.file)

    def _read_rest(self, refused: _Refused, values: int, depth: int, documents: int) -> NoReturn:
        """After the first problem: the rest of the event stream, for a limit passed or a syntax
        error (which come first), building nothing."""
        get_event, kinds, anchors = self.loader.get_event, _READER_KINDS, self.anchors
        composer = refused.composer  # once the composer has refused, only the limits and syntax are left
        try:
            while True:
                event = get_event()
                kind = kinds[type(event)]
                if kind == _STREAM_END:
                    break
                if kind < _END:  # a value
                    values += 1
                    if values > MAX_VALUES:
                        raise self._too_many(event)
                    if kind in (_MAPPING_START, _SEQUENCE_START):
                        depth += 1
                        if depth > MAX_NESTING:
                            raise self._too_deep(event)
                    if composer:
                        continue
                    if kind == _ALIAS_EVENT:
                        if event.anchor not in anchors:
                            refused, composer = self._undefined(event), True
                    elif event.anchor is not None:
                        try:
                            self._register(event, _Anchor(_loc(self.file, event.start_mark), "", False))
                        except _Refused as duplicate:
                            refused, composer = duplicate, True
                elif kind == _END:
                    depth -= 1
                elif kind == _DOCUMENT_START and not composer:
                    if documents:
                        refused, composer = self._second_document(event), True
                    documents += 1
        except yaml.YAMLError as exc:
            if composer and not _past_libyaml_nesting(exc):  # the composer's refusal came first
                raise refused.error from None
            raise self._yaml_error(exc) from None
        raise refused.error

