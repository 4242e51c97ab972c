"""`module:` on a layer or block item: the PyTorch module path it takes in an exported model, so that
a spec can name its layers as a reference model does (torchvision's `layer1.0.downsample.0`).

The path is relative to the enclosing block instance; `{expression}` inside it is replaced by the
expression's value (`features.{2 + i}`, `denselayer{i + 1}`). Segments are names, whole numbers or
`#`, the next free number in that container (`features.#`: torchvision's lists built by appending).
A block item's `.` puts the block's layers straight into the enclosing module (no level of its own).
"""
from __future__ import annotations

import functools
import re
from typing import Any

from ..core.errors import Consequence, Location, SpecError
from .expr import ExprError, Unresolved, evaluate

SEGMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_\-]*|\d+|#)$")
_FIELD = re.compile(r"\{([^{}]*)\}")
MAX_LENGTH = 300


def evaluate_located(expression: str, shown: str, variables: dict[str, Any], loc: Location | None, layer: str,
                     field: str) -> Any:
    """`expression`'s value; its errors located at the layer's field and quoting `shown` (what the spec wrote)."""
    try:
        return evaluate(expression, variables)
    except Unresolved as exc:
        raise Consequence(str(exc), loc=loc, layer=layer, field=field) from None
    except ExprError as exc:
        raise SpecError(f"in '{shown}': {exc}", loc=loc, layer=layer, field=field) from None


def interpolate(text: str, variables: dict[str, Any], loc: Location | None, layer: str, field: str) -> str:
    """`text` with each `{expression}` replaced by its value, a whole number or a word (module paths,
    and names in `in:` such as `xs.{i}`)."""
    if len(text) > MAX_LENGTH:
        raise SpecError(f"'{text[:40]}...' is longer than {MAX_LENGTH} characters", loc=loc, layer=layer, field=field)
    if "{" not in text:  # nothing to replace (most paths)
        return text

    def value(match: re.Match[str]) -> str:
        result = evaluate_located(match.group(1), f"{{{match.group(1)}}}", variables, loc, layer, field)
        if isinstance(result, bool) or not isinstance(result, (int, str)):
            raise SpecError(f"'{{{match.group(1)}}}' must give a whole number or a name, got {result!r}", loc=loc,
                            layer=layer, field=field)
        return str(result)

    return _FIELD.sub(value, text)


def module_path(raw: Any, variables: dict[str, Any], loc: Location | None, layer: str) -> str:
    """The path `raw` gives, its `{...}` expressions evaluated with the item's variables."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise SpecError("'module' must be a dotted module path like 'downsample.0' or 'features.{2 + i}'",
                        loc=loc, layer=layer, field="module")
    text = str(raw).strip()
    if len(text) > MAX_LENGTH:
        raise SpecError(f"'module' is longer than {MAX_LENGTH} characters", loc=loc, layer=layer, field="module")
    path = interpolate(text, variables, loc, layer, "module")
    if path == "." or _well_formed(path):
        return path
    bad = next((part for part in path.split(".") if not SEGMENT.match(part)), None)
    if bad is not None:
        raise SpecError(f"'{path}' is not a module path: {bad!r} is neither a name nor a whole number", loc=loc,
                        layer=layer, field="module",
                        hint="segments are names (letters, digits, '_', '-'), whole numbers or '#', joined by '.'")
    return path


@functools.lru_cache(maxsize=4096)
def _well_formed(path: str) -> bool:
    """Whether every segment is a name, a whole number or `#`; remembered, as every copy of a
    block's layers gives the same few paths."""
    return all(SEGMENT.match(part) for part in path.split("."))
