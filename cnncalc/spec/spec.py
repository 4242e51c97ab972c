"""The spec language: a YAML file -> a `Spec` (name, input shape, variables, blocks, layer items).

See docs/spec.md. The structure is checked here; the layers themselves are checked when the
graph is built (graph.py), because a block's layers depend on the arguments and input it gets.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..core.errors import Location, OptionError, SpecError, did_you_mean
from ..core.figures import FIGURES
from ..core.shapes import Shape
from ..core.symbolic import is_symbolic
from ..layers import REGISTRY
from ..layers.fields import REQUIRED
from .expr import ExprError, evaluate, is_expression, tokenize
from .yamlsrc import YList, YMap, parse_yaml, read_spec_text

TOP_LEVEL_KEYS = ("name", "description", "input", "symbols", "vars", "blocks", "layers", "outputs", "torchvision",
                  "budget")
VARIABLE_KEYS = ("default", "min", "max", "above", "below", "description")
BLOCK_KEYS = ("params", "layers", "output", "description")
INPUT_NAME = "input"
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
BUILTIN_VARIABLES = ("in_channels", "in_height", "in_width", "i")


@dataclass
class Block:
    """A reusable, parametrised group of layers (`blocks:` in a spec)."""

    name: str
    params: dict[str, Any]  # name -> default value, or fields.REQUIRED
    items: YList
    output: str | None
    loc: Location
    description: str = ""


@dataclass
class Spec:
    name: str
    input_shape: Shape
    items: YList
    description: str = ""
    file: str = "<spec>"
    input_loc: Location | None = field(default=None, repr=False)
    variables: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    outputs: list[tuple[str, Location]] = field(default_factory=list)
    torchvision: dict[str, Any] | None = None
    symbolic: bool = False
    declared: dict[str, Declared] = field(default_factory=dict)  # variables declared with a range
    budget: tuple[BudgetEntry, ...] = ()


@dataclass(frozen=True)
class Declared:
    """A variable declared as a mapping, `width: {default: 1.0, above: 0, max: 4}`: its range
    (`min`/`max` inclusive, `above`/`below` exclusive) refuses values outside it, from the spec,
    from --set and from sweeps, with the declaration's location."""

    name: str
    default: Any
    loc: Location  # of the declaration
    default_loc: Location
    low: Any = None
    low_open: bool = False
    high: Any = None
    high_open: bool = False
    description: str = ""

    def describe(self) -> str:
        """'above 0', 'at least 1 and at most 8'."""
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.low_open else 'at least'} {self.low}")
        if self.high is not None:
            parts.append(f"{'below' if self.high_open else 'at most'} {self.high}")
        return " and ".join(parts) or "any value"

    def refuses(self, value: Any) -> str | None:
        """Why `value` is outside the range, or None when it is inside (or no range is declared)."""
        if (self.low is None and self.high is None) or is_symbolic(value):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)) or value != value:
            return f"'{self.name}' must be a number {self.describe()}, got {value!r}"
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        return f"'{self.name}' must be {self.describe()}, got {value}" if too_low or too_high else None


@dataclass(frozen=True)
class BudgetEntry:
    """One limit of a spec's `budget:` mapping (`params: 25M`), its value exact in the figure's unit."""

    figure: str
    value: int
    text: str  # as written
    loc: Location


def load_spec(path: Path, display: str | None = None, overrides: dict[str, str] | None = None,
              symbolic: bool = False) -> Spec:
    """Read and check a spec file; `overrides` replace variables (the CLI's --set name=value);
    `symbolic` keeps symbol sizes (`input: [C, H, W]`) as sympy symbols."""
    name = display or str(path)
    return parse_spec(read_spec_text(path, name), name, default_name=path.stem, overrides=overrides, symbolic=symbolic)


def parse_spec(text: str, file: str = "<spec>", default_name: str = "model",
               overrides: dict[str, str] | None = None, symbolic: bool = False) -> Spec:
    return spec_from_document(parse_yaml(text, file), file, default_name, overrides, symbolic)


def spec_from_document(doc: Any, file: str = "<spec>", default_name: str = "model",
                       overrides: dict[str, str] | None = None, symbolic: bool = False) -> Spec:
    """parse_spec on YAML already parsed (parse_yaml), which this never changes: a sweep parses
    its spec once and reads it with other variables many times."""
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
    overrides = dict(overrides or {})
    symbols = _symbols(doc, overrides, symbolic, file)
    variables, declared = _variables(doc, overrides, file, symbols)
    input_shape = parse_shape(doc["input"], doc.value_locs["input"], variables)
    if symbolic and not symbols:  # a numeric spec read symbolically: its input becomes C, H, W
        input_shape = _symbolic_input(input_shape, variables)
    return Spec(
        name=_text(doc, "name", default_name),
        input_shape=input_shape,
        items=_item_list(doc["layers"], doc.value_locs["layers"], "layers"),
        description=_text(doc, "description", ""),
        file=file,
        input_loc=doc.value_locs["input"],
        variables=variables,
        blocks=_blocks(doc),
        outputs=_outputs(doc),
        torchvision=_torchvision(doc),
        symbolic=symbolic,
        declared=declared,
        budget=_budget(doc),
    )


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


def parse_shape(value: Any, loc: Location | None, variables: dict[str, Any] | None = None) -> Shape:
    """`[C, H, W]` or `[F]` of positive whole numbers (or, in symbolic mode, symbols: `[C, 2*H, 2*W]`)."""
    if not isinstance(value, list) or len(value) not in (1, 3):
        raise SpecError("input must be a list [C, H, W] (or [F] for a vector)", loc=loc, field="input")
    sizes = []
    for i, size in enumerate(value):
        item_loc = value.item_locs[i] if isinstance(value, YList) else loc
        if isinstance(size, str):
            size = resolve_value(size, variables or {}, item_loc, field_name="input")
        if is_symbolic(size):
            sizes.append(size)
            continue
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise SpecError(f"sizes must be positive whole numbers, got {size!r}", loc=item_loc, field="input")
        sizes.append(size)
    return tuple(sizes)


def _symbol_names(doc: YMap) -> list[tuple[str, Location]]:
    """Names used as sizes in `input` (C, H, W) and the names listed under `symbols:`."""
    found: list[tuple[str, Location]] = []
    raw = doc.get("input")
    if isinstance(raw, YList):
        for item, loc in zip(raw, raw.item_locs):
            if isinstance(item, str) and NAME_PATTERN.match(item.strip()):
                found.append((item.strip(), loc))
    if "symbols" in doc:
        listed, loc = doc["symbols"], doc.value_locs["symbols"]
        if not isinstance(listed, YList) or not all(isinstance(n, str) for n in listed):
            raise SpecError("'symbols' must be a list of names, e.g. [G, c]", loc=loc, field="symbols")
        for name, item_loc in zip(listed, listed.item_locs):
            found.append((check_name(name, item_loc, "symbol name"), item_loc))
    return list({name: (name, loc) for name, loc in found}.values())


def _symbols(doc: YMap, overrides: dict[str, str], symbolic: bool, file: str) -> dict[str, Any]:
    """The spec's symbols: sympy symbols in symbolic mode; otherwise each needs --set NAME=VALUE."""
    values: dict[str, Any] = {}
    for name, loc in _symbol_names(doc):
        if name in overrides:
            text = overrides.pop(name)
            try:
                values[name] = evaluate(text, values)
            except ExprError as exc:
                raise SpecError(f"--set {name}={text}: {exc}", file=file) from None
        elif symbolic:
            from ..core.symbolic import symbol

            values[name] = symbol(name)
        else:
            raise SpecError(f"'{name}' is a symbol: the spec is meant to be read with --symbolic", loc=loc,
                            hint=f"run with --symbolic, or give it a value with --set {name}=...")
    return values


def _symbolic_input(shape: Shape, variables: dict[str, Any]) -> Shape:
    from ..core.symbolic import symbol

    names = ("C", "H", "W") if len(shape) == 3 else ("F",)
    for name in names:
        variables.setdefault(name, symbol(name))
    return tuple(variables[name] for name in names)


def _item_list(value: Any, loc: Location, what: str) -> YList:
    if not isinstance(value, YList):
        raise SpecError(f"'{what}' must be a list of layers", loc=loc, field="layers")
    if not value:
        raise SpecError(f"'{what}' is empty: it needs at least one layer", loc=loc, field="layers")
    return value


def check_name(name: Any, loc: Location, what: str = "layer name") -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise SpecError(f"a {what} must start with a letter or '_' and use letters, digits, '_' and '-'; "
                        f"got {name!r}", loc=loc, field="name")
    if name == INPUT_NAME:
        raise SpecError(f"'{INPUT_NAME}' is reserved for the input", loc=loc, field="name")
    return name


def resolve_value(value: Any, variables: dict[str, Any], loc: Location | None, layer: str | None = None,
                  field_name: str | None = None) -> Any:
    """A field value with its expressions evaluated: `4*c` -> 256; a variable's name -> its value;
    a plain word that names no variable (`same`, `relu`) stays a word."""
    if type(value) is int:
        return value
    if isinstance(value, str):
        if _is_expression(value):
            try:
                return _evaluate(value, variables)
            except ExprError as exc:
                raise SpecError(f"in '{value}': {exc}", loc=loc, layer=layer, field=field_name,
                                hint=_variable_hint(exc, variables)) from None
        return variables.get(value.strip(), value)
    if isinstance(value, list):
        locs = getattr(value, "item_locs", [loc] * len(value))
        out = YList(resolve_value(item, variables, item_loc, layer, field_name) for item, item_loc in zip(value, locs))
        out.loc, out.item_locs = getattr(value, "loc", None) or loc, locs
        return out
    return value


@functools.lru_cache(maxsize=4096)
def _is_expression(text: str) -> bool:
    """is_expression, remembered: a spec repeats the same few words and expressions many times."""
    return is_expression(text)


@functools.lru_cache(maxsize=4096)
def _names_read(text: str) -> tuple[str, ...]:
    """The names an expression mentions (variables, and functions and keywords, which do no harm)."""
    return tuple(dict.fromkeys(value for kind, value, _ in tokenize(text) if kind == "name"))


class _Missing:
    """Stands for a name that is not a variable in the keys of `_EVALUATED`."""


_EVALUATED: dict[Any, Any] = {}  # (text, (type, value) of each name it mentions) -> its value
MAX_EVALUATED = 65536


def _evaluate(text: str, variables: dict[str, Any]) -> Any:
    """evaluate(text, variables), remembered: expressions are pure, and a block's expressions are
    evaluated with the same values again and again (every repeat, every sweep variant). Values
    of different types never share an entry (`c/2` is 32 for c = 64 and 32.0 for c = 64.0)."""
    try:
        key = (text, tuple((type(v), v) for v in (variables.get(name, _Missing) for name in _names_read(text))))
        return _EVALUATED[key]
    except KeyError:
        pass
    except TypeError:  # a value that cannot be a key (a list)
        return evaluate(text, variables)
    value = evaluate(text, variables)
    if len(_EVALUATED) >= MAX_EVALUATED:
        _EVALUATED.clear()
    _EVALUATED[key] = value
    return value


def _variable_hint(exc: ExprError, variables: dict[str, Any]) -> str | None:
    message = str(exc)
    if "found the end" in message or "end of expression" in message:
        return "inside {...} YAML splits at commas: quote an expression that has one, e.g. \"max(16, c // 4)\""
    if message.startswith("unknown variable"):
        name = message.split("'")[1]
        return did_you_mean(name, variables) or (
            f"variables here: {', '.join(sorted(variables))}" if variables else "define it under 'vars:'")
    return None


def _variables(doc: YMap, overrides: dict[str, str], file: str,
               symbols: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Declared]]:
    raw = doc.get("vars", YMap())
    if not isinstance(raw, YMap):
        raise SpecError("'vars' must be a mapping of names to values", loc=doc.value_locs["vars"], field="vars")
    for name in overrides:
        if name not in raw:
            raise SpecError(f"--set {name}=...: the spec has no variable '{name}'", file=file,
                            hint=did_you_mean(name, raw) or (
                                f"variables: {', '.join(raw)}" if raw else "the spec defines no 'vars:'"))
    values: dict[str, Any] = dict(symbols)
    declared: dict[str, Declared] = {}
    for name, value in raw.items():
        check_name(name, raw.key_locs[name], "variable name")
        value_loc = raw.value_locs[name]
        if isinstance(value, YMap):
            declared[name] = _declared(name, value, raw.key_locs[name])
            value, value_loc = declared[name].default, declared[name].default_loc
        if name in symbols:
            raise SpecError(f"'{name}' is already a symbol of the spec", loc=raw.key_locs[name], field="vars")
        if name in BUILTIN_VARIABLES:
            raise SpecError(f"'{name}' is a built-in variable and cannot be redefined", loc=raw.key_locs[name],
                            field="vars")
        if name in overrides:
            text = overrides[name]
            try:
                values[name] = evaluate(text, values) if is_expression(text) else values.get(text, _scalar(text))
            except ExprError as exc:
                raise SpecError(f"--set {name}={text}: {exc}", file=file) from None
            problem = declared[name].refuses(values[name]) if name in declared else None
            if problem:
                raise SpecError(f"--set {name}={text}: {problem} (its range is declared here)", loc=declared[name].loc,
                                field=f"vars.{name}")
        else:
            values[name] = resolve_value(value, values, value_loc, field_name=f"vars.{name}")
            problem = declared[name].refuses(values[name]) if name in declared else None
            if problem:
                raise SpecError(problem, loc=value_loc, field=f"vars.{name}")
    return values, declared


def _declared(name: str, body: YMap, loc: Location) -> Declared:
    """`{default: 1.0, above: 0, max: 4, description: ...}` (see Declared)."""
    for key in body:
        if key not in VARIABLE_KEYS:
            raise SpecError(f"unknown key '{key}' in the declaration of variable '{name}'", loc=body.key_locs[key],
                            field=f"vars.{name}", hint=did_you_mean(str(key), VARIABLE_KEYS)
                            or f"keys: {', '.join(VARIABLE_KEYS)}")
    if "default" not in body:
        raise SpecError(f"variable '{name}' is declared without a 'default'", loc=body.loc, field=f"vars.{name}",
                        hint=f"e.g. '{name}: {{default: 1.0, above: 0}}'")
    bounds = {}
    for key in ("min", "max", "above", "below"):
        if key in body:
            bound = body[key]
            if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound):
                raise SpecError(f"'{key}' must be a number, got {bound!r}", loc=body.value_locs[key],
                                field=f"vars.{name}.{key}")
            bounds[key] = bound
    for first, second in (("min", "above"), ("max", "below")):
        if first in bounds and second in bounds:
            raise SpecError(f"give '{first}' or '{second}', not both", loc=body.key_locs[second],
                            field=f"vars.{name}")
    low_key = "above" if "above" in bounds else "min"
    high_key = "below" if "below" in bounds else "max"
    low, high = bounds.get(low_key), bounds.get(high_key)
    if low is not None and high is not None and (low > high or (low == high and (low_key, high_key) != ("min", "max"))):
        raise SpecError(f"the range is empty: '{low_key}' {low} and '{high_key}' {high}", loc=body.value_locs[high_key],
                        field=f"vars.{name}")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise SpecError("'description' must be a string", loc=body.value_locs["description"], field=f"vars.{name}")
    return Declared(name, body["default"], loc, body.value_locs["default"], low, low_key == "above", high,
                    high_key == "below", description.strip())


def _budget(doc: YMap) -> tuple[BudgetEntry, ...]:
    """`budget: {params: 25M, macs: 4.1e9, activations: 200MiB}`: limits in the figures' units."""
    if "budget" not in doc:
        return ()
    raw, loc = doc["budget"], doc.value_locs["budget"]
    if not isinstance(raw, YMap) or not raw:
        raise SpecError("'budget' must be a mapping of figures to limits, e.g. {params: 25M, macs: 4G}", loc=loc,
                        field="budget", hint=f"figures: {', '.join(FIGURES)}")
    entries = []
    for name, value in raw.items():
        if name not in FIGURES:
            raise SpecError(f"no figure '{name}' to budget", loc=raw.key_locs[name], field="budget",
                            hint=did_you_mean(str(name), FIGURES) or f"figures: {', '.join(FIGURES)}")
        figure, value_loc = FIGURES[name], raw.value_locs[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise SpecError(f"a limit is a size such as 25M or 24GiB, got {value!r}", loc=value_loc,
                            field=f"budget.{name}")
        text = value if isinstance(value, str) else repr(value)
        try:
            limit = figure.parse_limit(text, f"budget {name}")
        except OptionError as exc:
            raise SpecError(exc.message, loc=value_loc, field=f"budget.{name}", hint=exc.hint) from None
        if limit <= 0:
            raise SpecError(f"a limit must be more than 0, got {text}", loc=value_loc, field=f"budget.{name}")
        entries.append(BudgetEntry(name, limit, text.strip(), value_loc))
    return tuple(entries)


def _scalar(text: str) -> Any:
    lowered = text.strip().lower()
    return {"true": True, "false": False, "null": None, "none": None}.get(lowered, text.strip())


def _blocks(doc: YMap) -> dict[str, Block]:
    raw = doc.get("blocks", YMap())
    if not isinstance(raw, YMap):
        raise SpecError("'blocks' must be a mapping of block names to definitions",
                        loc=doc.value_locs["blocks"], field="blocks")
    blocks = {}
    for name, body in raw.items():
        loc = raw.key_locs[name]
        check_name(name, loc, "block name")
        if name in REGISTRY:
            raise SpecError(f"block '{name}' has the name of a layer type; choose another", loc=loc)
        if not isinstance(body, YMap):
            raise SpecError(f"block '{name}' must be a mapping with 'params' and 'layers'", loc=raw.value_locs[name])
        for key in body:
            if key not in BLOCK_KEYS:
                raise SpecError(f"unknown key '{key}' in block '{name}'", loc=body.key_locs[key],
                                hint=did_you_mean(str(key), BLOCK_KEYS) or f"keys: {', '.join(BLOCK_KEYS)}")
        if "layers" not in body:
            raise SpecError(f"block '{name}' has no 'layers'", loc=body.loc)
        output = body.get("output")
        if output is not None and not isinstance(output, str):
            raise SpecError("'output' must be the name of one of the block's layers", loc=body.value_locs["output"])
        description = body.get("description", "")
        blocks[name] = Block(name, _params(body, name), _item_list(body["layers"], body.value_locs["layers"], "layers"),
                             output, loc, str(description))
    return blocks


def _params(body: YMap, block: str) -> dict[str, Any]:
    """`params: [c, {stride: 1}]`: a plain name is required, a one-key mapping gives a default."""
    raw = body.get("params", YList())
    loc = body.value_locs.get("params", body.loc)
    if not isinstance(raw, list):
        raise SpecError(f"'params' of block '{block}' must be a list like [c, {{stride: 1}}]", loc=loc)
    params: dict[str, Any] = {}
    for index, entry in enumerate(raw):
        entry_loc = raw.item_locs[index] if isinstance(raw, YList) else loc
        if isinstance(entry, str):
            name, default = entry, REQUIRED
        elif isinstance(entry, YMap) and len(entry) == 1:
            name, default = next(iter(entry.items()))
        else:
            raise SpecError("a parameter is a name (required) or a one-key mapping {name: default}", loc=entry_loc)
        check_name(name, entry_loc, "parameter name")
        if name in params:
            raise SpecError(f"parameter '{name}' is listed twice", loc=entry_loc)
        if name in BUILTIN_VARIABLES:
            raise SpecError(f"'{name}' is a built-in variable and cannot be a parameter", loc=entry_loc)
        params[name] = default
    return params


def _outputs(doc: YMap) -> list[tuple[str, Location]]:
    if "outputs" not in doc:
        return []
    raw, loc = doc["outputs"], doc.value_locs["outputs"]
    if isinstance(raw, str):
        return [(raw, loc)]
    if not isinstance(raw, YList) or not all(isinstance(v, str) for v in raw) or not raw:
        raise SpecError("'outputs' must be a layer name or a list of layer names", loc=loc, field="outputs")
    return list(zip(raw, raw.item_locs))


def _torchvision(doc: YMap) -> dict[str, Any] | None:
    """`torchvision: resnet50` or `{model: googlenet, kwargs: {aux_logits: true}}`: the equivalent model."""
    if "torchvision" not in doc:
        return None
    raw, loc = doc["torchvision"], doc.value_locs["torchvision"]
    if isinstance(raw, str):
        return {"model": raw, "kwargs": {}}
    if isinstance(raw, YMap) and isinstance(raw.get("model"), str) and set(raw) <= {"model", "kwargs"} \
            and isinstance(raw.get("kwargs", {}), dict):
        return {"model": raw["model"], "kwargs": dict(raw.get("kwargs", {}))}
    raise SpecError("'torchvision' must be a model name or {model: NAME, kwargs: {...}}", loc=loc,
                    field="torchvision")
