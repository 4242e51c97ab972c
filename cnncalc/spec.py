"""The spec language: a YAML file -> a validated `Spec` (name, input shape, layers).

See docs/spec.md. Top-level keys: `name`, `description`, `input: [C, H, W]` and `layers:`, a list
of mappings each with `op:` (the layer type), an optional `name:` and the type's fields.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Location, SpecError, did_you_mean
from .layers import REGISTRY, Layer
from .shapes import Shape
from .yamlsrc import YList, YMap, parse_yaml, read_text

TOP_LEVEL_KEYS = ("name", "description", "input", "layers")
INPUT_NAME = "input"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass
class Spec:
    name: str
    input_shape: Shape
    layers: list[Layer]
    description: str = ""
    file: str = "<spec>"
    input_loc: Location | None = field(default=None, repr=False)


def load_spec(path: Path, display: str | None = None) -> Spec:
    """Read and validate a spec file."""
    name = display or str(path)
    return parse_spec(read_text(path, name), name, default_name=path.stem)


def parse_spec(text: str, file: str = "<spec>", default_name: str = "model") -> Spec:
    doc = parse_yaml(text, file)
    if not isinstance(doc, YMap):
        raise SpecError("a spec must be a mapping with 'input' and 'layers'", loc=getattr(doc, "loc", None),
                        file=file)
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            raise SpecError(f"unknown top-level key '{key}'", loc=doc.key_locs[key],
                            hint=did_you_mean(str(key), TOP_LEVEL_KEYS) or f"keys: {', '.join(TOP_LEVEL_KEYS)}")
    for key in ("input", "layers"):
        if key not in doc:
            raise SpecError(f"the spec has no '{key}'", loc=doc.loc, hint=_MISSING_HINTS[key])
    name = _text(doc, "name", default_name)
    description = _text(doc, "description", "")
    input_shape = parse_shape(doc["input"], doc.value_locs["input"])
    layers = _layers(doc["layers"], doc.value_locs["layers"])
    return Spec(name, input_shape, layers, description, file, doc.value_locs["input"])


_MISSING_HINTS = {
    "input": "add 'input: [C, H, W]', e.g. 'input: [3, 224, 224]'",
    "layers": "add 'layers:' with a list of layers, e.g. '- {op: conv, out: 64, kernel: 3}'",
}


def _text(doc: YMap, key: str, default: str) -> str:
    if key not in doc:
        return default
    value = doc[key]
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"'{key}' must be a non-empty string", loc=doc.value_locs[key], field=key)
    return value.strip()


def parse_shape(value: Any, loc: Location | None) -> Shape:
    """`[C, H, W]` or `[F]` of positive whole numbers."""
    if not isinstance(value, list) or len(value) not in (1, 3):
        raise SpecError("input must be a list [C, H, W] (or [F] for a vector)", loc=loc, field="input")
    for i, size in enumerate(value):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            item_loc = value.item_locs[i] if isinstance(value, YList) else loc
            raise SpecError(f"sizes must be positive whole numbers, got {size!r}", loc=item_loc, field="input")
    return tuple(value)


def _layers(value: Any, loc: Location) -> list[Layer]:
    if not isinstance(value, list):
        raise SpecError("'layers' must be a list of layers", loc=loc, field="layers")
    if not value:
        raise SpecError("'layers' is empty: a spec needs at least one layer", loc=loc, field="layers")
    explicit = _explicit_names(value)
    taken = set(explicit) | {INPUT_NAME}
    counters: dict[str, int] = {}
    layers = []
    for index, item in enumerate(value):
        item_loc = value.item_locs[index] if isinstance(value, YList) else loc
        if not isinstance(item, YMap):
            raise SpecError(f"layer #{index + 1} must be a mapping like '{{op: conv, out: 64, kernel: 3}}'",
                            loc=item_loc)
        cls = _layer_type(item, index)
        name = item.get("name")
        if name is None:
            name = _auto_name(item["op"], counters, taken)
            taken.add(name)
        layers.append(cls.from_mapping(name, item))
    return layers


def _explicit_names(items: list) -> list[str]:
    seen: dict[str, Location] = {}
    for item in items:
        if not isinstance(item, YMap) or "name" not in item:
            continue
        name, name_loc = item["name"], item.value_locs["name"]
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise SpecError(f"a layer name must start with a letter or '_' and use letters, digits, '_', '.', "
                            f"'-'; got {name!r}", loc=name_loc, field="name")
        if name == INPUT_NAME:
            raise SpecError(f"'{INPUT_NAME}' is reserved for the network's input", loc=name_loc, field="name")
        if name in seen:
            raise SpecError(f"duplicate layer name '{name}' (first used at line {seen[name].line})",
                            loc=name_loc, layer=name, field="name")
        seen[name] = name_loc
    return list(seen)


def _layer_type(item: YMap, index: int) -> type[Layer]:
    label = f"#{index + 1}" if "name" not in item else str(item["name"])
    if "op" not in item:
        raise SpecError("the layer has no 'op' (its type)", loc=item.loc, layer=label,
                        hint=f"layer types: {', '.join(sorted(REGISTRY))}")
    op = item["op"]
    if not isinstance(op, str) or op not in REGISTRY:
        raise SpecError(f"unknown layer type {op!r}", loc=item.value_locs["op"], layer=label, field="op",
                        hint=did_you_mean(str(op), REGISTRY) or f"layer types: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[op]


def _auto_name(op: str, counters: dict[str, int], taken: set[str]) -> str:
    while True:
        counters[op] = counters.get(op, 0) + 1
        name = f"{op}{counters[op]}"
        if name not in taken:
            return name
