"""What the graph builder needs to know of a `layers:` item, worked out once per item and kept on it
(`YMap.plan`): a long spec's items are each seen once, a block's items at every call, and a sweep
builds the same items again with other variables. A plan depends on the item alone, never on the
variables or on one build, so it can outlive the build that made it."""
from __future__ import annotations

import itertools
from typing import Any

from ..core.errors import Location
from ..layers import REGISTRY, Layer
from .graphdata import CONTROL_KEYS, Origin
from .names import is_name
from .spec import INPUT_NAME, LITERAL_TYPES, is_expression_cached, names_read
from .yamlsrc import YMap

_CONTROL = frozenset(CONTROL_KEYS)
_NOT_PLAIN = frozenset(("repeat", "first", "chain", "share", "train_only", "checkpoint"))
# A layer's content (its type, its fields, their values, their values' types) -> a number: equal values
# of the same type get the same number, cheaper to look up than the values themselves (the builder's
# prototypes are keyed by it). Numbers are never reused, so the table can be emptied when it grows
# large: plans made after that only stop sharing numbers with those made before it (their layers are
# then checked once more, no more).
_CONTENT_NUMBERS: dict[Any, int] = {}
_NEXT_NUMBER = itertools.count()
MAX_CONTENT_NUMBERS = 65536


def number_of(content: tuple[Any, ...]) -> int:
    """The number of a layer's content (hashable)."""
    number = _CONTENT_NUMBERS.get(content)
    if number is None:
        if len(_CONTENT_NUMBERS) >= MAX_CONTENT_NUMBERS:
            _CONTENT_NUMBERS.clear()
        number = _CONTENT_NUMBERS[content] = next(_NEXT_NUMBER)
    return number


def values_number(cls: type[Layer], values: dict[Any, Any]) -> int | None:
    """number_of the layer type and values, as ItemPlan numbers an item's (its type, its keys, its values,
    their types), or None when a value is no hashable one (a list)."""
    given = tuple(values.values())
    try:
        return number_of((cls, *values, *given, *map(type, given)))
    except TypeError:
        return None


_new, _set = object.__new__, object.__setattr__
_BASES: dict[str, str] = {}  # an op -> the start of its layers' automatic names (bounded as the numbers)
_FIELD_INDEX: dict[type[Layer], dict[str, str | None]] = {}  # a layer type's field names and aliases -> fields


class ItemPlan:
    """One item as the builder sees it before any variable is known.

    `layer` is its layer type when it is a plain layer (no repeat, sharing or marks: most items),
    else None; `local` its name when it gives a valid one; `base` the start of its automatic name;
    `values` its own keys (not control keys), with their locations. For a plain layer whose keys are
    all fields and whose values are no lists: `content` numbers its type and values, `reads` names
    the variables its values may read, `literal` says that its values resolve to themselves unless
    a variable is named by one of its words (`words`), `field_locs` says where each field's value
    stands (shared by all its layers), and `given` holds the values in the order of `field_locs`."""

    __slots__ = ("base", "conditional", "content", "field_locs", "given", "held", "inputs", "item", "layer",
                 "literal", "local", "module", "module_path", "origin", "own", "reads", "words")

    def __init__(self, item: YMap) -> None:
        op = item.get("op")
        cls = REGISTRY.get(op) if type(op) is str else None
        given = item.get("name")
        self.item = item
        self.layer: type[Layer] | None = None  # see _layer_values
        self.local: str | None = given if isinstance(given, str) and is_name(given) and given != INPUT_NAME \
            else None
        base = _BASES.get(op) if type(op) is str else None
        if base is None:
            base = op if isinstance(op, str) and is_name(op) else "layer"
            if type(op) is str and len(_BASES) < MAX_CONTENT_NUMBERS:
                _BASES[op] = base
        self.base = base
        self.conditional = "when" in item
        self.held = "held" in item
        self.module = "module" in item
        self.module_path: tuple[str, bool] | None = None  # a `module:` without `{...}`, relative, and suffixed
        self.inputs = "in" in item or "inputs" in item or "from" in item  # INPUT_KEYS
        self.own: YMap | None = None  # see values
        self.origin: Origin | None = None  # the last one made (see origin_of)
        self.content: int | None = None
        self.reads: tuple[str, ...] = ()
        self.words: tuple[str, ...] = ()
        self.literal = False
        self.field_locs: dict[str, Location | None] = {}
        self.given: tuple[Any, ...] = ()
        if cls is not None:
            self._layer_values(cls, item)

    def _layer_values(self, cls: type[Layer], item: YMap) -> None:
        """`layer` (`cls` unless the item has one of the keys that make it no plain layer) and a plain
        layer's values, in one pass (each item of a long spec is planned once, on its first build)."""
        fields: dict[str, Location | None] = {}
        values: list[Any] = []
        kinds: list[type] = []
        words: list[str] = []
        expressions: list[str] = []
        value_locs, loc = item.value_locs, item.loc
        index = _FIELD_INDEX.get(cls)
        if index is None:
            index = _FIELD_INDEX[cls] = {key: cls.canonical_field(key) for key in cls.field_names()}
        for key, value in item.items():
            field = index.get(key)  # keys are hashable; only strings are fields (none is a control key)
            if field is None:
                if key in _CONTROL:
                    if key in _NOT_PLAIN:
                        return  # no plain layer
                    continue
                self.layer = cls if _NOT_PLAIN.isdisjoint(item) else None
                return  # reported as the builder checks the values
            if field in fields:
                self.layer = cls if _NOT_PLAIN.isdisjoint(item) else None
                return
            fields[field] = value_locs.get(key, loc)
            kind = type(value)
            if kind is str:
                if is_expression_cached(value):
                    expressions.append(value)
                else:
                    words.append(value.strip())
            elif kind not in LITERAL_TYPES:  # a list, a mapping: not worth tracking
                self.layer = cls if _NOT_PLAIN.isdisjoint(item) else None
                return
            values.append(value)
            kinds.append(kind)
        self.layer = cls
        given = self.given = tuple(values)
        self.content = number_of((cls, *fields, *given, *kinds))  # as values_number numbers them
        self.field_locs, self.literal, self.words = fields, not expressions, tuple(words)
        self.reads = self.words if not expressions else \
            tuple(dict.fromkeys([*words, *[n for text in expressions for n in names_read(text) or ()]]))

    @property
    def values(self) -> YMap:
        """The item's own keys (not control keys), with their locations."""
        values = self.own
        if values is None:
            item = self.item
            values = self.own = YMap(item)
            for key in _CONTROL.intersection(item):
                del values[key]
            values.loc, values.key_locs, values.value_locs = item.loc, item.key_locs, item.value_locs
        return values

    def origin_of(self, local: str) -> Origin:
        """Origin(item, local): the same one for every layer of the item with that name (its calls)."""
        origin = self.origin
        if origin is None or origin.local != local:
            origin = self.origin = _new(Origin)  # made(Origin, ...), without its call
            _set(origin, "__dict__", {"item": self.item, "local": local, "copy": None})
        return origin


def plan_of(item: YMap) -> ItemPlan:
    """The item's plan, made the first time it is asked for."""
    plan = item.plan
    if plan is None:
        plan = item.plan = ItemPlan(item)
    return plan
