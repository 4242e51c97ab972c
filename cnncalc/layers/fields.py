"""Field declarations and value parsers for layer types.

A layer type declares each field as a typed class attribute, `kernel: tuple[int, int] =
spec_field(positive_pair, ...)`; the base class collects them and parses a spec mapping against
them, so every layer gets the same checks and the same located messages, and type checkers see
`self.kernel` as what the parser returns. A parser takes the raw YAML value and returns the parsed
value or raises `FieldProblem` with a message for the user.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from ..core.errors import did_you_mean
from ..core.symbolic import factor_text, is_symbolic, text

T = TypeVar("T")
P = TypeVar("P", bound=Callable[..., Any])

# Any value may be written as an expression or a variable's name (`4*c`, `width`): JSON Schema
# sees a string.
EXPRESSION: dict[str, Any] = {"type": "string", "description": "an expression or a variable, e.g. 4*c"}


def accepts(schema: dict[str, Any]) -> Callable[[P], P]:
    """Record on a parser the JSON Schema of the values it accepts (`cnncalc schema`)."""

    def mark(parse: P) -> P:
        setattr(parse, "json_schema", schema)  # noqa: B010 (an attribute on a function)
        return parse

    return mark


def _either(*schemas: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [*schemas, EXPRESSION]}


def _pair_schema(item: dict[str, Any]) -> dict[str, Any]:
    return _either(item, {"type": "array", "items": {"anyOf": [item, EXPRESSION]}, "minItems": 2, "maxItems": 2})


POSITIVE = {"type": "integer", "minimum": 1}
NON_NEGATIVE = {"type": "integer", "minimum": 0}


class FieldProblem(ValueError):
    """A value that a parser rejects; the caller adds the location."""


REQUIRED = object()
MAX_SIZE = 2**63 - 1  # PyTorch's sizes and element counts are 64-bit: nothing larger is a tensor


@dataclass(frozen=True)
class Field:
    name: str
    parse: Callable[[Any], Any]
    default: Any = REQUIRED
    aliases: tuple[str, ...] = ()
    doc: str = ""
    default_text: str = ""  # how `cnncalc ops` and the docs show the default, when not obvious

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def json_schema(self) -> dict[str, Any]:
        """The values the field accepts, as JSON Schema, with its doc as the description."""
        schema = dict(getattr(self.parse, "json_schema", {}))
        choices = getattr(self.parse, "choices", None)
        if choices is not None:
            schema = {"enum": list(choices() if callable(choices) else choices)}
        if schema.get("type") == "array":  # a list may be a variable's too (`strides: strides`)
            schema = {"anyOf": [schema, EXPRESSION]}
        if self.doc:
            schema["description"] = self.doc
        return schema


def spec_field(parse: Callable[[Any], T], default: Any = REQUIRED, *, aliases: tuple[str, ...] = (),
               doc: str = "", default_text: str = "") -> T:
    """Declare a layer field as a class attribute; its name is the attribute's. Typed as the
    parser's result (as `dataclasses.field` is), so `self.kernel` is a `tuple[int, int]` to
    mypy and editors; at run time the attribute holds the `Field` until an instance sets its value."""
    return cast(T, Field("", parse, default, aliases, doc, default_text))


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    if isinstance(value, int) and abs(value) > MAX_SIZE:
        return f"a number of {len(str(abs(value)))} digits"
    return repr(value)


def _check_size(value: int) -> int:
    if value > MAX_SIZE:
        raise FieldProblem(f"must be at most 2**63 - 1 (PyTorch's largest size), got {_describe(value)}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_symbolic_whole(value: Any) -> bool:
    return is_symbolic(value) and value.is_integer is not False and value.is_positive is not False


@accepts(_either(POSITIVE))
def positive_int(value: Any) -> int:
    """A positive whole number, or in symbolic mode an expression that may be one (`2*C`)."""
    if type(value) is int and 0 < value <= MAX_SIZE:  # the common case, first
        return value
    if _is_symbolic_whole(value):
        return value
    if not _is_int(value):
        raise FieldProblem(f"must be a positive whole number, got {_describe(value)}")
    if value <= 0:
        raise FieldProblem(f"must be a positive whole number, got {_describe(value)}")
    return _check_size(value)


@accepts(_either(NON_NEGATIVE))
def non_negative_int(value: Any) -> int:
    if not _is_int(value):
        raise FieldProblem(f"must be a whole number >= 0, got {_describe(value)}")
    if value < 0:
        raise FieldProblem(f"must be a whole number >= 0, got {_describe(value)}")
    return _check_size(value)


def _pair(value: Any, item: Callable[[Any], int], what: str) -> tuple[int, int]:
    if isinstance(value, list):
        if len(value) != 2:
            raise FieldProblem(f"must be {what} or a pair [height, width], got a list of {len(value)}")
        try:
            return item(value[0]), item(value[1])
        except FieldProblem as exc:
            raise FieldProblem(f"{exc} in [height, width]") from None
    n = item(value)
    return n, n


_SQUARES = tuple((n, n) for n in range(64))  # `kernel: 3` is in most layers: one (3, 3) for them all


@accepts(_pair_schema(POSITIVE))
def positive_pair(value: Any) -> tuple[int, int]:
    """`3` -> (3, 3); `[1, 7]` -> (1, 7)."""
    if type(value) is int and 0 < value < 64:  # the common case, first
        return _SQUARES[value]
    return _pair(value, positive_int, "a positive whole number")


@accepts(_pair_schema(NON_NEGATIVE))
def non_negative_pair(value: Any) -> tuple[int, int]:
    return _pair(value, non_negative_int, "a whole number >= 0")


@dataclass(frozen=True)
class Padding:
    """Explicit symmetric padding per axis (`amount`), or the rule `same`/`valid`."""

    mode: str  # "explicit", "same" or "valid"
    amount: tuple[int, int] = (0, 0)

    def __str__(self) -> str:
        return self.text

    @functools.cached_property
    def text(self) -> str:
        """`1`, `0×3`, `same`: made once per padding (most layers share one, see padding()), and
        shown in every row of the lecture table."""
        if self.mode != "explicit":
            return self.mode
        return format_pair(self.amount)


_WHOLE_PADDINGS: dict[int, Padding] = {}  # `pad: 1` is in most layers: one Padding per amount


@accepts({"anyOf": [_pair_schema(NON_NEGATIVE), {"enum": ["same", "valid"]}]})
def padding(value: Any) -> Padding:
    """`2`, `[1, 3]`, `same` or `valid`."""
    if type(value) is int and 0 <= value < 64:
        if value not in _WHOLE_PADDINGS:
            _WHOLE_PADDINGS[value] = Padding("explicit", (value, value))
        return _WHOLE_PADDINGS[value]
    if isinstance(value, str):
        mode = value.strip().lower()
        if mode in ("same", "valid"):
            return Padding(mode)
        raise FieldProblem(f"must be a whole number, a pair [height, width], 'same' or 'valid', got {value!r}")
    return Padding("explicit", non_negative_pair(value))


@accepts(_either({"type": "boolean"}))
def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldProblem(f"must be true or false, got {_describe(value)}")
    return value


def number(low: float | None = None, high: float | None = None, *, high_open: bool = False,
           low_open: bool = False) -> Callable[[Any], float]:
    """A finite real number in [low, high] (or with open ends); NaN and infinities fail every range."""

    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldProblem(f"must be a number, got {_describe(value)}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int beyond float's range
            finite = False
        if not finite:
            raise FieldProblem(f"must be a finite number, got {_describe(value)}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            raise FieldProblem(f"must be in {left}{low}, {high}{right}, got {value}")
        return float(value)  # a float field: p: 0 and p: 0.0 lower alike

    bounds: dict[str, Any] = {"type": "number"}
    if low is not None:
        bounds["exclusiveMinimum" if low_open else "minimum"] = low
    if high is not None:
        bounds["exclusiveMaximum" if high_open else "maximum"] = high
    return accepts(_either(bounds))(parse)


_MOST_CHOICES = 256  # names remembered per choice field (bounded: a vocabulary, not the values of a spec)


def choice(options: Callable[[], Sequence[str]] | Sequence[str]) -> Callable[[Any], str]:
    """One of a list of names (or of a list computed when the spec is read)."""

    accepted: dict[str, None] = {}  # names found among the options: most specs repeat a few (`act: relu`)

    def parse(value: Any) -> str:
        if type(value) is str and value in accepted:  # the options only grow (a registry): still one
            return value
        names = options() if callable(options) else options
        if not isinstance(value, str) or value not in names:
            hint = did_you_mean(str(value), names) or ""
            raise FieldProblem(f"must be one of {', '.join(names)}; got {_describe(value)}. {hint}".strip())
        if type(value) is str and len(accepted) < _MOST_CHOICES:
            accepted[value] = None
        return value

    # A fixed vocabulary, known when the spec is read (the activations register after the fields):
    # editors flag a misspelt name; cnncalc also accepts a variable holding one.
    setattr(parse, "choices", options)  # noqa: B010 (an attribute on a function)
    return parse


def format_pair(pair: tuple[Any, Any]) -> str:
    """(3, 3) -> '3', (1, 7) -> '1×7'."""
    h, w = pair
    if type(h) is int and type(w) is int:  # the common case, without the symbolic checks
        return str(h) if h == w else f"{h}×{w}"
    return text(h) if h == w else f"{factor_text(h)}×{factor_text(w)}"
