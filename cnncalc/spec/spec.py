"""The spec language: a YAML file -> a `Spec` (name, input shape, variables, blocks, layer items).

See docs/spec.md. The structure is checked here; the layers themselves are checked when the
graph is built (graph.py), because a block's layers depend on the arguments and input it gets.
"""
from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..core.errors import Consequence, ErrorCollector, Location, Note, OptionError, SpecError, did_you_mean
from ..core.figures import FIGURES
from ..core.shapes import Shape
from ..core.symbolic import is_symbolic
from ..layers import REGISTRY
from ..layers.fields import MAX_SIZE, REQUIRED
from . import using
from .expr import UNKNOWN, ExprError, Unresolved, evaluate, is_expression, tokenize
from .unused import check_calls, unused_notes, words
from .yamlsrc import MAX_VALUES, YList, YMap, parse_yaml, read_spec_text, weight_of

TOP_LEVEL_KEYS = ("name", "description", "input", "symbols", "use", "vars", "blocks", "layers", "outputs",
                  "torchvision", "timm", "budget")
VARIABLE_KEYS = ("default", "min", "max", "above", "below", "description")
BLOCK_KEYS = ("params", "inputs", "layers", "output", "outputs", "description")
INPUT_KEYS = ("in", "inputs", "from")
CONTROL_KEYS = ("op", "name", *INPUT_KEYS, "repeat", "first", "when", "chain", "share", "module", "train_only",
                "checkpoint", "held")  # the keys of a layer item that are not its fields (graph.py)
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
    inputs: tuple[str, ...] = ()  # named input ports (`inputs: [x, y]`); () is one port, `input`
    variadic: str | None = None  # the last port when it takes the remaining inputs (`rest*`)
    outputs: tuple[str, ...] = ()  # several outputs (`outputs: [y0, y1]`, `f.*`); () is `output`
    outputs_loc: Location | None = None  # where `outputs:` is written
    param_locs: dict[str, Location] = field(default_factory=dict, repr=False)  # where each parameter is listed

    @property
    def ports(self) -> tuple[str, ...]:
        return self.inputs or (INPUT_NAME,)


@dataclass
class Spec:
    """A spec read and checked as far as it can be without building its layers. Read with a
    collector (`parse_spec(..., problems=...)`), a spec with problems is still returned, as far as
    it goes: variables that failed are UNKNOWN, `input_shape` is None if it failed, and blocks that
    failed are named in `broken_blocks`, so that building it finds the other problems too."""

    name: str
    input_shape: Shape | None
    items: YList
    description: str = ""
    file: str = "<spec>"
    input_loc: Location | None = field(default=None, repr=False)
    variables: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    outputs: list[tuple[str, Location]] = field(default_factory=list)
    torchvision: dict[str, Any] | None = None
    timm: dict[str, Any] | None = None  # the timm model it equals: {model, kwargs}, as `torchvision`
    symbolic: bool = False
    broken_blocks: set[str] = field(default_factory=set)
    declared: dict[str, Declared] = field(default_factory=dict)  # variables declared with a range
    budget: tuple[BudgetEntry, ...] = ()
    notes: tuple[Note, ...] = ()  # warnings found reading it (unused variables and parameters), located


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
              symbolic: bool = False, problems: ErrorCollector | None = None) -> Spec:
    """Read and check a spec file; `overrides` replace variables (the CLI's --set name=value);
    `symbolic` keeps symbol sizes (`input: [C, H, W]`) as sympy symbols. See `parse_spec` for
    `problems`."""
    name = display or str(path)
    return parse_spec(read_spec_text(path, name), name, default_name=path.stem, overrides=overrides,
                      symbolic=symbolic, problems=problems, path=path)


def parse_spec(text: str, file: str = "<spec>", default_name: str = "model",
               overrides: dict[str, str] | None = None, symbolic: bool = False,
               problems: ErrorCollector | None = None, path: Path | None = None) -> Spec:
    """Read and check a spec. Every problem found is reported, not only the first: without
    `problems` they are raised together at the end; with a collector they are added to it and the
    spec is returned as far as it goes (see `Spec`), for `graph.build` to go on with. A problem
    that leaves nothing to go on with (YAML, no 'layers') is raised at once either way. `path` is
    the spec's file, which its `use:` paths are relative to (see `spec_from_document`)."""
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return spec_from_document(parse_yaml(text, file), file, default_name, overrides, symbolic, problems, path, size)


def spec_from_document(doc: Any, file: str = "<spec>", default_name: str = "model",
                       overrides: dict[str, str] | None = None, symbolic: bool = False,
                       problems: ErrorCollector | None = None, path: Path | None = None,
                       size: int = 0) -> Spec:
    """parse_spec on YAML already parsed (parse_yaml), which this never changes: a sweep parses
    its spec once and reads it with other variables many times. `path` is the spec's file: its
    `use:` paths are relative to its folder (without it, to that of the file `file` names, a
    bundled spec's for 'NAME (bundled)', else the working folder); `size` its length, counted
    with the files it uses against the limit of one file."""
    own = problems is None
    collector = problems if problems is not None else ErrorCollector()
    spec = _parse(doc, file, default_name, dict(overrides or {}), symbolic, collector, path, size)
    if own:
        collector.check()
    return spec


def _parse(doc: Any, file: str, default_name: str, overrides: dict[str, str], symbolic: bool,
           problems: ErrorCollector, path: Path | None = None, size: int = 0) -> Spec:
    if not isinstance(doc, YMap):
        raise SpecError("a spec must be a mapping with 'input' and 'layers'", loc=getattr(doc, "loc", None),
                        file=file)
    _check_keys(doc, problems)
    used = _used(doc, file, path, size, problems)
    if "blocks" in doc and "input" not in doc and "layers" not in doc:
        problems.add(SpecError("the file defines blocks but no network (no 'input', no 'layers'): a file of blocks "
                               "is for other specs to use", loc=doc.loc,
                               hint="write a spec with 'use: [FILE.yaml]' and layers that call its blocks"))
    for key in ("input", "layers") if "input" in doc or "layers" in doc or "blocks" not in doc else ():
        if key not in doc:
            problems.add(SpecError(f"the spec has no '{key}'", loc=doc.loc, hint=_MISSING_HINTS[key]))
    try:
        items = _item_list(doc["layers"], doc.value_locs["layers"], "layers") if "layers" in doc else None
    except SpecError as exc:
        problems.add(exc)
        items = None
    symbols = _symbols(doc, overrides, symbolic, file, problems)
    raw_vars = _raw_variables(doc, used, problems)
    variables, declared = _variables(raw_vars, overrides, file, symbols, problems)
    input_shape = None
    if "input" in doc:
        input_shape = _gathered(problems, lambda: parse_shape(doc["input"], doc.value_locs["input"], variables))
    if input_shape is not None and symbolic and not symbols:  # a numeric spec read symbolically: C, H, W
        input_shape = _symbolic_input(input_shape, variables)
    own_blocks, broken = _blocks(doc, problems)
    blocks, notes = _with_used_blocks(own_blocks, used)
    if used is not None:
        broken |= used.broken - set(own_blocks)
    check_calls(doc, blocks, CONTROL_KEYS, problems)
    spec = Spec(
        name=_gathered(problems, lambda: _text(doc, "name", default_name), default_name),
        input_shape=input_shape,
        items=items if items is not None else YList(),
        description=_gathered(problems, lambda: _text(doc, "description", ""), ""),
        file=file,
        input_loc=doc.value_locs.get("input"),
        variables=variables,
        blocks=blocks,
        outputs=_gathered(problems, lambda: _outputs(doc), []),
        torchvision=_gathered(problems, lambda: _torchvision(doc)),
        timm=_gathered(problems, lambda: _torchvision(doc, "timm")),
        symbolic=symbolic,
        broken_blocks=broken,
        declared=declared,
        budget=_gathered(problems, lambda: _budget(doc), ()),
        notes=tuple(notes + unused_notes(doc, blocks, frozenset(own_blocks), raw_vars)),
    )
    if items is None:  # nothing to build
        problems.check()
    return spec


def _check_keys(doc: YMap, problems: ErrorCollector) -> None:
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            problems.add(SpecError(f"unknown top-level key '{key}'", loc=doc.key_locs[key],
                                   hint=did_you_mean(str(key), TOP_LEVEL_KEYS)
                                   or f"keys: {', '.join(TOP_LEVEL_KEYS)}"))


def _check_used_file(doc: YMap, problems: ErrorCollector) -> None:
    """A used file is a spec, or a spec without `input` and `layers` (a file of blocks)."""
    _check_keys(doc, problems)
    if "vars" in doc and not isinstance(doc["vars"], YMap):
        problems.add(SpecError("'vars' must be a mapping of names to values", loc=doc.value_locs["vars"],
                               field="vars"))


def _used(doc: YMap, file: str, path: Path | None, size: int, problems: ErrorCollector) -> using.Used | None:
    """What the spec's `use:` brings (see using.py), or None without `use:`."""
    if "use" not in doc:
        return None
    folder, real = using.spec_folder(file, path)
    loader = using.Loader(problems, _blocks, _check_used_file, size, using.count_values(doc, MAX_VALUES + 1))
    try:
        return loader.uses(doc, file, folder, (real,) if real else ())
    except SpecError as exc:  # the limit of one file passed by all of them: nothing more is read
        problems.add(exc)
        return using.Used()


def _raw_variables(doc: YMap, used: using.Used | None, problems: ErrorCollector) -> YMap:
    """The spec's `vars:` after those its used files bring: a variable of its own with the name of
    a used one takes that one's place (the used variables computed from it follow it), and when
    it is a plain value and the used one is declared with a range, it is the declaration's default."""
    raw = doc.get("vars", YMap())
    if not isinstance(raw, YMap):
        problems.add(SpecError("'vars' must be a mapping of names to values", loc=doc.value_locs["vars"],
                               field="vars"))
        raw = YMap()
    if not used or not used.variables:
        return raw
    merged = YMap()
    merged.loc, merged.key_locs, merged.value_locs, merged.weight = raw.loc if raw else doc.loc, {}, {}, 1
    later = {name for name in raw if name not in used.variables}  # the spec's own, after every used one
    for definition in used.variables.values():
        name, value, key_loc, value_loc = definition.name, definition.value, definition.loc, definition.value_loc
        if name in raw:
            too_early = sorted(words([raw[name]]) & later)
            if too_early:  # the used value stays: what is computed from it is not reported again
                problems.add(SpecError(
                    f"'{name}' replaces the variable of the same name at {definition.loc}, in its place, where "
                    f"'{too_early[0]}' is not defined yet", loc=raw.value_locs[name], field=f"vars.{name}",
                    hint=f"give '{name}' a value that reads only the used variables, or compute "
                    f"'{too_early[0]}' from them"))
                merged[name], merged.key_locs[name], merged.value_locs[name] = value, key_loc, value_loc
                continue
            value, key_loc, value_loc = _overriding(value, key_loc, raw[name], raw.key_locs[name],
                                                    raw.value_locs[name])
        merged[name], merged.key_locs[name], merged.value_locs[name] = value, key_loc, value_loc
    for name, value in raw.items():
        if name not in merged:
            merged[name], merged.key_locs[name], merged.value_locs[name] = value, raw.key_locs[name], \
                raw.value_locs[name]
    return merged


def _overriding(used: Any, used_loc: Location, own: Any, key_loc: Location,
                value_loc: Location) -> tuple[Any, Location, Location]:
    """A variable of a spec replacing a used one of the same name (see _raw_variables): a plain
    value replacing a declaration is its default, the range (and its place) the declaration's."""
    if isinstance(used, YMap) and _is_declaration(used) and not (isinstance(own, YMap) and _is_declaration(own)):
        declaration = YMap(used)
        declaration.loc, declaration.weight = value_loc, used.weight
        declaration.key_locs, declaration.value_locs = dict(used.key_locs), dict(used.value_locs)
        declaration["default"], declaration.value_locs["default"] = own, value_loc
        return declaration, used_loc, value_loc
    return own, key_loc, value_loc


def _with_used_blocks(own: dict[str, Block], used: using.Used | None) -> tuple[dict[str, Block], list[Note]]:
    """The spec's blocks after those of its used files; its own replace used ones of the same name,
    with a note."""
    if not used:
        return own, []
    blocks = {name: definition.value for name, definition in used.blocks.items()}
    notes = list(used.notes)
    for name, block in own.items():
        if name in used.blocks:
            notes.append(using.replaced(name, block.loc, used.blocks[name].loc))
        blocks[name] = block
    return blocks, notes


def _gathered(problems: ErrorCollector, read: Any, fallback: Any = None) -> Any:
    """`read()`, or `fallback` with its SpecError added to `problems`."""
    try:
        return read()
    except SpecError as exc:
        problems.add(exc)
        return fallback


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
    return check_text(value.strip(), doc.value_locs[key], key)


def check_text(text: str, loc: Location | None, what: str) -> str:
    """`text` if it is one line of printable text: names and descriptions are printed in tables,
    titles and the YAML that `--template` writes, where a control character, a line break or a
    bidi override would act instead of showing. Spaces of every kind are allowed."""
    for index, char in enumerate(text):
        if not char.isprintable() and unicodedata.category(char) != "Zs":
            kind = "a line break" if char in "\n\r\u2028\u2029\x85" else \
                f"U+{ord(char):04X}, {unicodedata.name(char, 'a control character').lower()}"
            raise SpecError(f"'{what}' must be one line of printable text, but character {index + 1} is {kind}",
                            loc=loc, field=what, hint="remove it (a folded '>' block joins lines with spaces)")
    return text


def parse_shape(value: Any, loc: Location | None, variables: dict[str, Any] | None = None) -> Shape:
    """`[C, H, W]`, `[L, D]` or `[F]` of positive whole numbers (or, in symbolic mode, symbols: `[C, 2*H, 2*W]`)."""
    if not isinstance(value, list) or len(value) not in (1, 2, 3):
        raise SpecError("input must be a list [C, H, W] (or [L, D] for a sequence of tokens, [F] for a vector)",
                        loc=loc, field="input")
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
    shape = tuple(sizes)
    problem = oversized(shape)
    if problem:
        raise SpecError(problem, loc=loc, field="input")
    return shape


def oversized(shape: Shape) -> str | None:
    """Why a shape cannot be a tensor (a size or the element count beyond 2**63 - 1), or None."""
    count = math.prod(shape)
    if type(count) is not int:  # a symbolic size (or a float, which is no size)
        return None
    if count > MAX_SIZE:
        shown = "x".join(str(s) if s <= MAX_SIZE else f"<{len(str(s))} digits>" for s in shape)
        return f"{shown} has more than 2**63 - 1 elements, PyTorch's limit"
    return None


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


def _symbols(doc: YMap, overrides: dict[str, str], symbolic: bool, file: str,
             problems: ErrorCollector) -> dict[str, Any]:
    """The spec's symbols: sympy symbols in symbolic mode; otherwise each needs --set NAME=VALUE
    (one that has none is UNKNOWN, its problem added to `problems`)."""
    values: dict[str, Any] = {}
    try:
        names = _symbol_names(doc)
    except SpecError as exc:
        problems.add(exc)
        return values
    for name, loc in names:
        values[name] = UNKNOWN
        if name in overrides:
            text = overrides.pop(name)
            try:
                values[name] = evaluate(text, values)
            except ExprError as exc:
                if not isinstance(exc, Unresolved):
                    problems.add(SpecError(f"--set {name}={text}: {exc}", file=file))
        elif symbolic:
            from ..core.symbolic import symbol

            values[name] = symbol(name)
        else:
            problems.add(SpecError(f"'{name}' is a symbol: the spec is meant to be read with --symbolic", loc=loc,
                                   hint=f"run with --symbolic, or give it a value with --set {name}=..."))
    return values


def _symbolic_input(shape: Shape, variables: dict[str, Any]) -> Shape:
    from ..core.symbolic import symbol

    if len(shape) == 2:  # a sequence of tokens: L tokens of its D features (D flows through residual adds)
        variables.setdefault("L", symbol("L"))
        return (variables["L"], shape[1])
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


def check_name(name: Any, loc: Location | None, what: str = "layer name") -> str:
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
        if is_expression_cached(value):
            try:
                return _evaluate(value, variables)
            except Unresolved as exc:
                raise Consequence(f"in '{value}': {exc}", loc=loc, layer=layer, field=field_name) from None
            except ExprError as exc:
                raise SpecError(f"in '{value}': {exc}", loc=loc, layer=layer, field=field_name,
                                hint=_variable_hint(exc, variables)) from None
        resolved = variables.get(value.strip(), value)
        if resolved is UNKNOWN:
            raise Consequence(f"'{value.strip()}' has no value", loc=loc, layer=layer, field=field_name)
        return resolved
    if isinstance(value, list):
        locs = getattr(value, "item_locs", [loc] * len(value))
        out = YList(resolve_value(item, variables, item_loc, layer, field_name) for item, item_loc in zip(value, locs))
        out.loc, out.item_locs, out.weight = getattr(value, "loc", None) or loc, locs, weight_of(value)
        return out
    if isinstance(value, YMap):  # a mapping variable (`scales: {n: [0.33, 0.25, 1024]}`): its values resolved
        resolved = YMap((key, resolve_value(item, variables, value.value_locs.get(key, loc), layer, field_name))
                        for key, item in value.items())
        resolved.loc, resolved.key_locs, resolved.value_locs, resolved.weight = \
            value.loc, value.key_locs, value.value_locs, weight_of(value)
        return resolved
    return value


LITERAL_TYPES = (int, float, bool, type(None))


def is_literal(value: Any, variables: dict[str, Any]) -> bool:
    """Whether `resolve_value(value, variables, ...)` is `value` itself: a number, a flag, nothing,
    or a word that is no expression and names no variable (`same`, `relu`)."""
    if type(value) in LITERAL_TYPES:
        return True
    return type(value) is str and not is_expression_cached(value) and value.strip() not in variables


def names_read(value: Any) -> tuple[str, ...] | None:
    """The variables `resolve_value(value, ...)` may read (a word is read as a variable's name),
    so that equal values of those give an equal result; None for a list (not worth tracking)."""
    if isinstance(value, str):
        return _names_read(value) if is_expression_cached(value) else (value.strip(),)
    return None if isinstance(value, list) else ()


@functools.lru_cache(maxsize=4096)
def is_expression_cached(text: str) -> bool:
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
        names = _names_read(text)  # their values, without a comprehension's frame:
        read = list(map(variables.get, names, itertools.repeat(_Missing, len(names))))
        key = (text, *read, *map(type, read))  # the number of values follows from the text
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


def _variables(raw: YMap, overrides: dict[str, str], file: str, symbols: dict[str, Any],
               problems: ErrorCollector) -> tuple[dict[str, Any], dict[str, Declared]]:
    """The variables of `raw` (`vars:`, after those of the used files) in order, and those declared
    with a range; one that cannot be computed is UNKNOWN, its problem added to `problems`, and what
    depends on it is not reported again."""
    values: dict[str, Any] = dict(symbols)
    declared: dict[str, Declared] = {}
    for name in overrides:
        if name not in raw:
            problems.add(SpecError(f"--set {name}=...: the spec has no variable '{name}'", file=file,
                                   hint=did_you_mean(name, raw) or (
                                       f"variables: {', '.join(raw)}" if raw else "the spec defines no 'vars:'")))
    for name, value in raw.items():
        try:
            check_name(name, raw.key_locs[name], "variable name")  # before it is a variable: `true:` is no name
            values[name] = UNKNOWN
            value_loc = raw.value_locs[name]
            if isinstance(value, YMap) and _is_declaration(value):
                declared[name] = _declared(name, value, raw.key_locs[name])
                value, value_loc = declared[name].default, declared[name].default_loc
            computed = _variable(name, value, value_loc, raw, overrides, values, symbols, file)
            _check_range(declared.get(name), computed, overrides.get(name), value_loc)
            values[name] = computed  # a value out of range stays UNKNOWN: its uses are not reported again
        except Consequence:
            pass
        except SpecError as exc:
            problems.add(exc)
    return values, declared


def _check_range(declared: Declared | None, value: Any, setting: str | None, loc: Location) -> None:
    """A SpecError if the value is outside the variable's declared range: at the declaration for a
    --set value, at the value for the spec's own default."""
    problem = declared.refuses(value) if declared is not None else None
    if problem and declared is not None:
        if setting is not None:
            raise SpecError(f"--set {declared.name}={setting}: {problem} (its range is declared here)",
                            loc=declared.loc, field=f"vars.{declared.name}")
        raise SpecError(problem, loc=loc, field=f"vars.{declared.name}")


def _is_declaration(body: YMap) -> bool:
    """A mapping in `vars:` declares a variable (`{default: 1.0, above: 0}`) when a key is one of a
    declaration's, or a near miss of `default`; any other mapping is a value (`{n: 0.25, s: 0.5}`,
    indexed as `scales[scale]`)."""
    return any(key in VARIABLE_KEYS or did_you_mean(str(key), ["default"]) for key in body)


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


def _variable(name: str, value: Any, loc: Location, raw: YMap, overrides: dict[str, str], values: dict[str, Any],
              symbols: dict[str, Any], file: str) -> Any:
    if name in symbols:
        raise SpecError(f"'{name}' is already a symbol of the spec", loc=raw.key_locs[name], field="vars")
    if name in BUILTIN_VARIABLES:
        raise SpecError(f"'{name}' is a built-in variable and cannot be redefined", loc=raw.key_locs[name],
                        field="vars")
    if name not in overrides:
        return resolve_value(value, values, loc, field_name=f"vars.{name}")
    text = overrides[name]
    try:
        return evaluate(text, values) if is_expression(text) else values.get(text, _scalar(text))
    except Unresolved as exc:
        raise Consequence(str(exc), file=file) from None
    except ExprError as exc:
        raise SpecError(f"--set {name}={text}: {exc}", file=file) from None


def _scalar(text: str) -> Any:
    lowered = text.strip().lower()
    return {"true": True, "false": False, "null": None, "none": None}.get(lowered, text.strip())


def _blocks(doc: YMap, problems: ErrorCollector) -> tuple[dict[str, Block], set[str]]:
    """The blocks that could be read, and the names of those that could not (their problems added
    to `problems`; a call of one is then not reported again)."""
    raw = doc.get("blocks", YMap())
    if not isinstance(raw, YMap):
        problems.add(SpecError("'blocks' must be a mapping of block names to definitions",
                               loc=doc.value_locs["blocks"], field="blocks"))
        return {}, set()
    blocks, broken = {}, set()
    for name, body in raw.items():
        try:
            blocks[name] = _block(name, body, raw)
        except SpecError as exc:
            problems.add(exc)
            broken.add(str(name))
    return blocks, broken


def _block(name: Any, body: Any, raw: YMap) -> Block:
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
    if not isinstance(description, str):
        raise SpecError("'description' must be a string", loc=body.value_locs["description"], field="description")
    ports, variadic = _ports(body)
    outputs = _block_outputs(body)
    params, param_locs = _params(body, name)
    clash = next((port for port in ports if port in params), None)
    if clash is not None:
        raise SpecError(f"'{clash}' is both an input and a parameter of block '{name}'", loc=body.value_locs["inputs"])
    return Block(name, params, _item_list(body["layers"], body.value_locs["layers"], "layers"),
                 output, loc, check_text(description.strip(), body.value_locs.get("description"), "description"),
                 ports, variadic, outputs, body.value_locs.get("outputs"), param_locs)


def _ports(body: YMap) -> tuple[tuple[str, ...], str | None]:
    """`inputs: [x, y]`: the block's named inputs; a last name ending in '*' (`children*`) takes
    the remaining inputs, zero or more (`children.0`, `children.*` inside)."""
    if "inputs" not in body:
        return (), None
    raw, loc = body["inputs"], body.value_locs["inputs"]
    if not isinstance(raw, YList) or not raw or not all(isinstance(port, str) for port in raw):
        raise SpecError("'inputs' must be a list of input names, e.g. [x, skip] or [x, rest*]", loc=loc,
                        field="inputs")
    ports: list[str] = []
    variadic = None
    for index, (port, port_loc) in enumerate(zip(raw, raw.item_locs)):
        bare = port.strip()
        if bare.endswith("*"):
            if index != len(raw) - 1:
                raise SpecError(f"only the last input may take the rest ('{bare}')", loc=port_loc, field="inputs")
            bare = variadic = bare[:-1]
        if bare == INPUT_NAME:
            raise SpecError(f"'{INPUT_NAME}' names the first input already; choose another name", loc=port_loc,
                            field="inputs")
        check_name(bare, port_loc, "input name")
        if bare in ports:
            raise SpecError(f"input '{bare}' is listed twice", loc=port_loc, field="inputs")
        ports.append(bare)
    return tuple(ports), variadic


def _block_outputs(body: YMap) -> tuple[str, ...]:
    if "outputs" not in body:
        return ()
    raw, loc = body["outputs"], body.value_locs["outputs"]
    if "output" in body:
        raise SpecError("give 'output' (one) or 'outputs' (several), not both", loc=loc, field="outputs")
    if not isinstance(raw, YList) or not raw or not all(isinstance(name, str) for name in raw):
        raise SpecError("'outputs' must be a list of the block's layers, e.g. [y0, y1] or [f.*]", loc=loc,
                        field="outputs")
    return tuple(name.strip() for name in raw)


def _params(body: YMap, block: str) -> tuple[dict[str, Any], dict[str, Location]]:
    """`params: [c, {stride: 1}]`: a plain name is required, a one-key mapping gives a default;
    and where each is listed."""
    raw = body.get("params", YList())
    loc = body.value_locs.get("params", body.loc)
    if not isinstance(raw, list):
        raise SpecError(f"'params' of block '{block}' must be a list like [c, {{stride: 1}}]", loc=loc)
    params: dict[str, Any] = {}
    locs: dict[str, Location] = {}
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
        params[name], locs[name] = default, entry_loc
    return params, locs


def _outputs(doc: YMap) -> list[tuple[str, Location]]:  # the spec's `outputs:` (a layer or a list)
    if "outputs" not in doc:
        return []
    raw, loc = doc["outputs"], doc.value_locs["outputs"]
    if isinstance(raw, str):
        return [(raw, loc)]
    if not isinstance(raw, YList) or not all(isinstance(v, str) for v in raw) or not raw:
        raise SpecError("'outputs' must be a layer name or a list of layer names", loc=loc, field="outputs")
    return list(zip(raw, raw.item_locs))


def _torchvision(doc: YMap, key: str = "torchvision") -> dict[str, Any] | None:
    """`torchvision: resnet50` or `{model: googlenet, kwargs: {aux_logits: true}}`: the equivalent model
    (`timm: dla34` likewise)."""
    if key not in doc:
        return None
    raw, loc = doc[key], doc.value_locs[key]
    if isinstance(raw, str):
        return {"model": check_text(raw, loc, key), "kwargs": {}}
    if isinstance(raw, YMap) and isinstance(raw.get("model"), str) and set(raw) <= {"model", "kwargs"} \
            and isinstance(raw.get("kwargs", {}), dict):
        return {"model": check_text(raw["model"], loc, key), "kwargs": dict(raw.get("kwargs", {}))}
    raise SpecError(f"'{key}' must be a model name or {{model: NAME, kwargs: {{...}}}}", loc=loc, field=key)
