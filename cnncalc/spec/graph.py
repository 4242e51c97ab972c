"""Building the layer graph: blocks expanded, repeats unrolled, names resolved, shapes inferred.

Nodes come out in topological order (a layer can only read earlier layers). Shapes are inferred
while building because a block's layers may depend on its input (`in_channels`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import Location, Note, SpecError, did_you_mean
from ..core.gcpause import paused_gc
from ..core.shapes import Shape
from ..layers import REGISTRY, Layer, LayerProblem
from .modpath import module_path
from .spec import INPUT_NAME, Block, Spec, check_name, resolve_value
from .yamlsrc import YList, YMap

INPUT_KEYS = ("in", "inputs", "from")
CONTROL_KEYS = ("op", "name", *INPUT_KEYS, "repeat", "first", "when", "module")
_CONTROL = frozenset(CONTROL_KEYS)
MAX_REPEAT = 1000
MAX_NODES = 200_000
MAX_BLOCK_DEPTH = 32


@dataclass(frozen=True)
class Origin:
    """The spec item a node or block instance comes from: its local name and repeat copy."""

    item: YMap
    local: str
    copy: int | None = None


@dataclass(frozen=True)
class Node:
    layer: Layer
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    notes: tuple[tuple[str, str | None], ...] = ()
    module: str = ""  # its module path in PyTorch (`module:` in the spec); its name when not given
    variables: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # what its fields saw
    origin: Origin | None = field(default=None, compare=False, repr=False)  # the spec item it comes from

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass(frozen=True)
class Call:
    """One use of a block: the instance `name` (its layers are `name.<local>`), the block's
    parameters as resolved, the variables its layers see, and where it sits."""

    name: str
    block: str
    args: dict[str, Any]
    variables: dict[str, Any]
    input: str
    output: str
    module: str  # its module path in PyTorch
    origin: Origin | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Graph:
    name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    description: str = ""
    outputs: tuple[str, ...] = ()
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # block instance or repeat -> (op, output)
    notes: tuple[Note, ...] = ()  # warnings about the graph itself (unused outputs)
    calls: tuple[Call, ...] = ()  # every block instance, in the order they were built
    spec: Spec | None = field(default=None, compare=False, repr=False)  # what it was built from (export)

    def shape_of(self, ref: str) -> Shape:
        if ref == INPUT_NAME:
            return self.input_shape
        return next(node.output_shape for node in self.nodes if node.name == ref)


def build(spec: Spec, input_shape: Shape | None = None) -> Graph:
    """The spec's layers as a graph. Unless `in:` says otherwise, a layer reads the layer before it."""
    with paused_gc():
        return _Builder(spec, tuple(input_shape or spec.input_shape)).build()


@dataclass
class _Scope:
    variables: dict[str, Any]
    prefix: str
    names: dict[str, str]  # local name -> node (or INPUT_NAME) it stands for
    stack: tuple[str, ...] = ()
    module: str = ""  # the module path of the block instance (with a trailing '.'), '' at the top
    counters: Counter = field(default_factory=Counter)
    later: dict[str, Location] = field(default_factory=dict)  # explicit names not reached yet


class _Builder:
    def __init__(self, spec: Spec, input_shape: Shape) -> None:
        self.spec = spec
        self.shapes: dict[str, Shape] = {INPUT_NAME: input_shape}
        self.nodes: list[Node] = []
        self.groups: dict[str, tuple[str, str]] = {}
        self.calls: list[Call] = []
        self.modules: dict[str, Location] = {}  # module paths of the layers, and where they were given
        self.module_prefixes: set[str] = set()  # the containers on the way to them
        self.numbers: Counter = Counter()  # container path -> the number `#` takes next there
        self.readers: Counter = Counter()
        # Repeated layers (equal fields) are validated once and share a prototype, and the output
        # shape of a prototype on given input shapes is computed once (see Layer.copy_as).
        self.prototypes: dict[Any, Layer] = {}
        self.outputs: dict[Any, tuple[Shape, tuple[tuple[str, str | None], ...]]] = {}

    def build(self) -> Graph:
        spec = self.spec
        scope = _Scope(dict(spec.variables), "", {INPUT_NAME: INPUT_NAME})
        last = self.expand(spec.items, scope)
        outputs = []
        given: list[tuple[str, Location | None]] = list(spec.outputs) or [("", None)]
        for name, loc in given:
            if not name:
                outputs.append(last)
            elif name in scope.names:
                outputs.append(scope.names[name])
            else:
                raise SpecError(f"'outputs' names '{name}', which is not a top-level layer", loc=loc,
                                field="outputs", hint=did_you_mean(name, scope.names))
        notes = tuple(
            Note(node.name, "its output is never used", node.layer.loc)
            for node in self.nodes if not self.readers[node.name] and node.name not in outputs
        )
        return Graph(spec.name, self.shapes[INPUT_NAME], tuple(self.nodes), spec.description, tuple(outputs),
                     self.groups, notes, tuple(self.calls), spec)

    # ---- items ---------------------------------------------------------------------------------
    def expand(self, items: YList, scope: _Scope) -> str:
        scope.later = self._explicit_names(items)
        previous = scope.names[INPUT_NAME]
        for index, item in enumerate(items):
            previous = self.item(index, item, items.item_locs[index], scope, previous)
        return previous

    def _explicit_names(self, items: YList) -> dict[str, Location]:
        seen: dict[str, Location] = {}
        for item in items:
            if isinstance(item, YMap) and "name" in item:
                loc = item.value_locs["name"]
                name = check_name(item["name"], loc)
                if name in seen:
                    raise SpecError(f"duplicate layer name '{name}' (first used at line {seen[name].line})",
                                    loc=loc, layer=name, field="name")
                seen[name] = loc
        return seen

    def item(self, index: int, item: Any, loc: Location, scope: _Scope, previous: str) -> str:
        if not isinstance(item, YMap):
            raise SpecError(f"layer #{index + 1} must be a mapping like '{{op: conv, out: 64, kernel: 3}}'", loc=loc)
        label = item.get("name", f"#{index + 1}")
        target = self._target(item, str(label), scope)
        local = item["name"] if "name" in item else self._auto_name(item["op"], scope)
        scope.later.pop(local, None)
        repeated = "repeat" in item
        count = self._repeat(item, scope.variables, local) if repeated else 1
        first_inputs = self._inputs(item, scope, previous, local)
        ref = previous
        for k in range(count):
            variables = {**scope.variables, "i": k} if repeated else scope.variables
            name = scope.prefix + local + (f".{k}" if repeated else "")
            inputs = first_inputs if k == 0 else (ref,)
            values = self._values(item, k == 0, name)
            if "when" in item and not self._condition(item, variables, name):
                ref = inputs[0]  # a skipped layer stands for its (first) input
                continue
            module = self._module(item, scope, local, k if repeated else None, variables, name,
                                  layer=not isinstance(target, Block))
            origin = Origin(item, local, k if repeated else None)
            if isinstance(target, Block):
                ref = self.call(target, name, values, inputs, variables, scope, module, origin)
            else:
                ref = self.add_layer(target, name, values, inputs, variables, module, origin)
        if repeated:
            self.groups[scope.prefix + local] = (str(item["op"]), ref)
        scope.names[local] = ref
        return ref

    def _target(self, item: YMap, label: str, scope: _Scope) -> type[Layer] | Block:
        if "op" not in item:
            raise SpecError("the layer has no 'op' (its type)", loc=item.loc, layer=label,
                            hint=f"layer types: {', '.join(sorted(REGISTRY))}")
        op = item["op"]
        if isinstance(op, str) and op in REGISTRY:
            return REGISTRY[op]
        if isinstance(op, str) and op in self.spec.blocks:
            return self.spec.blocks[op]
        known = [*REGISTRY, *self.spec.blocks]
        raise SpecError(f"unknown layer type {op!r}", loc=item.value_locs["op"], layer=label, field="op",
                        hint=did_you_mean(str(op), known) or f"layer types: {', '.join(sorted(REGISTRY))}"
                        + (f"; blocks: {', '.join(self.spec.blocks)}" if self.spec.blocks else ""))

    def _auto_name(self, op: str, scope: _Scope) -> str:
        while True:
            scope.counters[op] += 1
            name = f"{op}{scope.counters[op]}"
            if name not in scope.names and name not in scope.later:
                return name

    def _module(self, item: YMap, scope: _Scope, local: str, copy: int | None, variables: dict[str, Any],
                name: str, layer: bool) -> str:
        """The module path of one copy of an item: `module:` (or its name) inside the block instance's."""
        if "module" not in item:
            relative = local if copy is None else f"{local}.{copy}"
        else:
            raw = str(item["module"]).strip()
            relative = module_path(item["module"], variables, item.value_locs["module"], name)
            if copy is not None and not ("{" in raw or "#" in raw or relative == "."):
                relative += f".{copy}"  # copies of a repeat are numbered unless the path says otherwise
        if relative == "." and layer:
            raise SpecError("'.' is for blocks (their layers then sit in the enclosing module); a layer needs a "
                            "name here", loc=item.value_locs["module"], layer=name, field="module")
        if relative == ".":  # a block instance that adds no level: its layers sit in the enclosing module
            return scope.module.removesuffix(".")
        path = self._number(scope.module + relative)
        if layer:
            self._take_module(path, item.value_locs.get("module", item.loc), name)
        return path

    def _number(self, path: str) -> str:
        """`#` is the next free number in its container (`features.#`); given numbers take theirs."""
        if "." not in path and path != "#" and not path.isdigit():
            return path  # a top-level name: nothing to number
        out: list[str] = []
        for part in path.split("."):
            container = ".".join(out)
            if part == "#":
                part = str(self.numbers[container])
            if part.isdigit():
                self.numbers[container] = max(self.numbers[container], int(part) + 1)
            out.append(part)
        return ".".join(out)

    def _take_module(self, path: str, loc: Location, name: str) -> None:
        """Two layers cannot share a module path, nor can one sit inside another."""
        if "." not in path and path not in self.modules and path not in self.module_prefixes:
            self.modules[path] = loc  # a top-level path: no containers on the way
            return
        parts = path.split(".")
        clash = path if path in self.modules or path in self.module_prefixes else next(
            (prefix for prefix in (".".join(parts[:n]) for n in range(1, len(parts))) if prefix in self.modules), None)
        if clash is not None:
            taken = "is taken" if clash == path else f"collides with '{clash}'"
            where = self.modules.get(clash)
            raise SpecError(f"module path '{path}' {taken}" + (f" (line {where.line})" if where else ""), loc=loc,
                            layer=name, field="module", hint="give each layer its own module path")
        self.modules[path] = loc
        self.module_prefixes.update(".".join(parts[:n]) for n in range(1, len(parts)))

    def _repeat(self, item: YMap, variables: dict[str, Any], name: str) -> int:
        loc = item.value_locs["repeat"]
        count = resolve_value(item["repeat"], variables, loc, name, "repeat")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SpecError(f"must be a positive whole number, got {count!r}", loc=loc, layer=name, field="repeat")
        if count > MAX_REPEAT:
            raise SpecError(f"repeat {count} is more than the limit of {MAX_REPEAT}", loc=loc, layer=name,
                            field="repeat")
        return count

    def _condition(self, item: YMap, variables: dict[str, Any], name: str) -> bool:
        value = resolve_value(item["when"], variables, item.value_locs["when"], name, "when")
        if not isinstance(value, (bool, int, float)):
            raise SpecError(f"must be true or false (or an expression giving one), got {value!r}",
                            loc=item.value_locs["when"], layer=name, field="when")
        return bool(value)

    def _inputs(self, item: YMap, scope: _Scope, previous: str, name: str) -> tuple[str, ...]:
        given = [key for key in INPUT_KEYS if key in item]
        if not given:
            return (previous,)
        if len(given) > 1:
            raise SpecError(f"the inputs are given twice, as '{given[0]}' and as '{given[1]}'",
                            loc=item.key_locs[given[1]], layer=name, field="in")
        key = given[0]
        raw, loc = item[key], item.value_locs[key]
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise SpecError("must be a layer name or a list of layer names", loc=loc, layer=name, field="in")
        refs = []
        for i, ref in enumerate(names):
            ref_loc = names.item_locs[i] if isinstance(names, YList) else loc
            if ref in scope.names:
                refs.append(scope.names[ref])
            elif ref == name or ref in scope.later:
                raise SpecError(f"'{ref}' is not defined yet: a layer can only read layers above it",
                                loc=ref_loc, layer=name, field="in")
            else:
                raise SpecError(f"unknown input '{ref}'", loc=ref_loc, layer=name, field="in",
                                hint=did_you_mean(ref, scope.names)
                                or f"names here: {', '.join(scope.names)}")
        return tuple(refs)

    def _values(self, item: YMap, first: bool, name: str) -> YMap:
        """The item's own keys (not control keys), with `first:` overrides on the first repetition."""
        if "first" not in item:  # the common case: the item's keys and locations as they are
            values = YMap({key: value for key, value in item.items() if key not in _CONTROL})
            values.loc, values.key_locs, values.value_locs = item.loc, item.key_locs, item.value_locs
            return values
        values = YMap()
        values.loc, values.key_locs, values.value_locs = item.loc, {}, {}
        sources = [item]
        if "first" in item:
            overrides = item["first"]
            if not isinstance(overrides, YMap):
                raise SpecError("'first' must be a mapping of fields for the first repetition",
                                loc=item.value_locs["first"], layer=name, field="first")
            if "repeat" not in item:
                raise SpecError("'first' only makes sense with 'repeat'", loc=item.key_locs["first"], layer=name,
                                field="first")
            if first:
                sources.append(overrides)
        for source in sources:
            for key, value in source.items():
                if key in CONTROL_KEYS:
                    if source is not item:
                        raise SpecError(f"'{key}' cannot be set in 'first'", loc=source.key_locs[key], layer=name)
                    continue
                values[key] = value
                values.key_locs[key] = source.key_locs[key]
                values.value_locs[key] = source.value_locs[key]
        return values

    # ---- layers and blocks ---------------------------------------------------------------------
    def add_layer(self, cls: type[Layer], name: str, values: YMap, inputs: tuple[str, ...],
                  variables: dict[str, Any], module: str = "", origin: Origin | None = None) -> str:
        if len(self.nodes) >= MAX_NODES:
            raise SpecError(f"the network has more than {MAX_NODES:,} layers", loc=values.loc, layer=name)
        locs = values.value_locs
        resolved = {key: resolve_value(value, variables, locs[key], name, key) for key, value in values.items()}
        layer = self._layer(cls, name, resolved, values)
        shapes = tuple(self.shapes[ref] for ref in inputs)
        if cls.arity is not None and len(inputs) != cls.arity:
            raise layer.error(f"{cls.op} takes {cls.arity} input, but is given {len(inputs)}", "in")
        if cls.arity is None and len(inputs) < 2:
            raise layer.error(f"{cls.op} merges two or more inputs; list them with 'in: [a, b]'", "in")
        key = (layer.prototype, shapes)
        if key not in self.outputs:
            notes: list[tuple[str, str | None]] = []
            try:
                output = tuple(layer.output_shape(list(shapes),
                                                  lambda message, field=None: notes.append((message, field))))
            except LayerProblem as exc:
                raise layer.error(exc.message, exc.field, exc.hint) from None
            self.outputs[key] = (output, tuple(notes))
        output, warnings = self.outputs[key]
        self.nodes.append(Node(layer, inputs, shapes, output, warnings, module or name, variables, origin))
        self.shapes[name] = output
        for ref in inputs:  # not Counter.update, which first asks whether `inputs` is a Mapping
            self.readers[ref] += 1
        return name

    def _layer(self, cls: type[Layer], name: str, resolved: dict[str, Any], values: YMap) -> Layer:
        """The layer, as a copy of an earlier one with the same fields where there is one. Equal
        means equal values of equal types (`1`, `1.0` and `true` differ); a list is never shared."""
        try:
            key: Any = (cls, tuple(resolved.items()), tuple(map(type, resolved.values())))
            prototype = self.prototypes.get(key)
        except TypeError:  # a list among the values
            key = prototype = None
        if prototype is None:
            layer = cls.from_values(name, resolved, values.loc, values.key_locs, values.value_locs)
            if key is not None:
                self.prototypes[key] = layer
            return layer
        field_locs = {cls.field_keys[key]: values.value_locs.get(key, values.loc) for key in resolved}
        return prototype.copy_as(name, values.loc, field_locs)

    def call(self, block: Block, name: str, values: YMap, inputs: tuple[str, ...], variables: dict[str, Any],
             scope: _Scope, module: str = "", origin: Origin | None = None) -> str:
        if block.name in scope.stack:
            chain = " -> ".join((*scope.stack[scope.stack.index(block.name):], block.name))
            raise SpecError(f"block '{block.name}' uses itself: {chain}", loc=values.loc, layer=name, field="op")
        if len(scope.stack) >= MAX_BLOCK_DEPTH:
            raise SpecError(f"blocks nested more than {MAX_BLOCK_DEPTH} deep", loc=values.loc, layer=name)
        if len(inputs) != 1:
            raise SpecError(f"block '{block.name}' takes one input, but is given {len(inputs)}", loc=values.loc,
                            layer=name, field="in")
        args = {}
        for key, value in values.items():
            if key not in block.params:
                raise SpecError(f"block '{block.name}' has no parameter '{key}'", loc=values.key_locs[key],
                                layer=name, hint=did_you_mean(str(key), block.params)
                                or f"parameters: {', '.join(block.params) or 'none'}")
            args[key] = resolve_value(value, variables, values.value_locs[key], name, key)
        from ..layers.fields import REQUIRED

        missing = [p for p, default in block.params.items() if default is REQUIRED and p not in args]
        if missing:
            raise SpecError(f"block '{block.name}' needs {', '.join(repr(m) for m in missing)}", loc=values.loc,
                            layer=name, hint=f"add {', '.join(f'{m}: ...' for m in missing)}")
        defaults = {p: d for p, d in block.params.items() if d is not REQUIRED}
        shape = self.shapes[inputs[0]]
        builtins = {"in_channels": shape[0]}
        if len(shape) == 3:
            builtins.update(in_height=shape[1], in_width=shape[2])
        inner_vars = {**self.spec.variables, **builtins}
        for key, default in defaults.items():  # defaults may use earlier parameters and the input size
            if key not in args:
                args[key] = resolve_value(default, {**inner_vars, **args}, block.loc, name, key)
        inner = _Scope({**inner_vars, **args}, name + ".", {INPUT_NAME: inputs[0]}, (*scope.stack, block.name),
                       module=module + "." if module else "")
        out = self.expand(block.items, inner)
        if block.output is not None:
            if block.output not in inner.names:
                raise SpecError(f"block '{block.name}' names output '{block.output}', which is none of its layers",
                                loc=block.loc, hint=did_you_mean(block.output, inner.names))
            out = inner.names[block.output]
        self.groups[name] = (block.name, out)
        self.calls.append(Call(name, block.name, args, inner.variables, inputs[0], out, module, origin))
        return out
