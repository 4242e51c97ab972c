"""Building the layer graph: blocks expanded, repeats unrolled, names resolved, shapes inferred.

Nodes come out in topological order (a layer can only read earlier layers). Shapes are inferred
while building because a block's layers may depend on its input (`in_channels`).

Every problem is reported, not only the first (up to MAX_ERRORS): a layer that fails stands for
an output of unknown shape, and the layers that read it are still checked field by field, as
are the layers that `when:` skips. The work is bounded before it is done: MAX_NODES layers, and
MAX_WORK units of expansion (each layer's values counted again for every repetition and block
call, skipped layers included), so that a spec cannot make the builder loop for hours.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from ..core.errors import (
    Consequence,
    ErrorCollector,
    InputError,
    Location,
    Note,
    SpecError,
    SpecErrors,
    Stopped,
    did_you_mean,
)
from ..core.gcpause import paused_gc
from ..core.records import made
from ..core.shapes import Shape, shape_list
from ..layers import REGISTRY, Layer, LayerProblem, shared_use, suggest_ops
from ..layers.fields import REQUIRED
from .expr import UNKNOWN, ExprError, is_expression, tokenize
from .modpath import evaluate_located, interpolate, module_path
from .spec import (
    INPUT_NAME,
    NAME_PATTERN,
    Block,
    Spec,
    check_name,
    is_literal,
    names_read,
    oversized,
    resolve_value,
)
from .workfloor import least_work
from .yamlsrc import YList, YMap, weight_of

INPUT_KEYS = ("in", "inputs", "from")
CONTROL_KEYS = ("op", "name", *INPUT_KEYS, "repeat", "first", "when", "chain", "share", "module", "train_only",
                "checkpoint", "held")
_CONTROL = frozenset(CONTROL_KEYS)
MODES = ("infer", "train")
MAX_REPEAT = 1000
# The largest published CNNs have a few thousand layers; 100,000 take about 10 s and 430 MB to
# analyse (200,000 took 17 s of CPU and 760 MB as JSON; docs/limits.md).
MAX_NODES = 100_000
MAX_BLOCK_DEPTH = 32  # also the depth of a recursive block (DLA's tree)
# Units of weight_of (a value, or 4 characters of text). 2,000,000 of the cheapest kind (layers
# skipped by `when`, long expressions) cost 3 to 6 s; MAX_NODES real layers use about 1,000,000.
MAX_WORK = 2_000_000
IMAGE_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA: what a channels-last input ends with
_ABSENT = object()  # the value of a name that is no variable


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
    train_only: bool = False  # runs only in training (`train_only:` on it or on a block around it)

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
    inputs: tuple[str, ...] = ()  # every input (named inputs: `inputs:`), the first being `input`
    outputs: tuple[str, ...] = ()  # every output (`outputs:`), the first being `output`


@dataclass(frozen=True)
class Graph:
    name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    description: str = ""
    outputs: tuple[str, ...] = ()
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # block instance or repeat -> (op, output)
    group_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # instances with several outputs
    notes: tuple[Note, ...] = ()  # warnings about the graph itself (unused outputs, a channels-last input)
    calls: tuple[Call, ...] = ()  # every block instance, in the order they were built
    spec: Spec | None = field(default=None, compare=False, repr=False)  # what it was built from (export)
    train_only: tuple[str, ...] = ()  # the items marked `train_only:` (layer or block instance names)
    checkpoints: tuple[str, ...] = ()  # the items marked `checkpoint:` (activation checkpointing)
    # `held:` outputs -> the block instance ('': the whole forward) or layer until whose end a variable holds them
    held: dict[str, str] = field(default_factory=dict)

    def shape_of(self, ref: str) -> Shape:
        if ref == INPUT_NAME:
            return self.input_shape
        return next(node.output_shape for node in reversed(self.nodes) if node.layer.name == ref)  # names are unique

    def for_mode(self, mode: str) -> Graph:
        """The network that runs in `mode`: 'train' is the whole graph, 'infer' leaves out the layers
        that run only in training (auxiliary classifiers) and the outputs they give."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "train" or not self.train_only:
            return self
        dropped = {node.name for node in self.nodes if node.train_only}
        return replace(
            self,
            nodes=tuple(node for node in self.nodes if not node.train_only),
            outputs=tuple(name for name in self.outputs if name not in dropped),
            groups={key: value for key, value in self.groups.items() if value[1] not in dropped},
            group_outputs={key: value for key, value in self.group_outputs.items()
                           if not any(name in dropped for name in value)},
            notes=tuple(note for note in self.notes if note.layer not in dropped),
            calls=tuple(call for call in self.calls if call.output not in dropped),
            held={name: until for name, until in self.held.items() if name not in dropped},
            checkpoints=tuple(name for name in self.checkpoints
                              if not (name in dropped or self.groups.get(name, ("", ""))[1] in dropped)),
        )


def build(spec: Spec, input_shape: Shape | None = None, problems: ErrorCollector | None = None) -> Graph:
    """The spec's layers as a graph. Unless `in:` says otherwise, a layer reads the layer before it.
    Every problem found is raised at the end, together with those already in `problems` (the
    ones `parse_spec` found)."""
    collector = problems if problems is not None else ErrorCollector()
    shape = tuple(input_shape) if input_shape is not None else spec.input_shape
    with paused_gc():
        return _Builder(spec, shape, collector).build()


@dataclass
class _Call:
    """Where a block instance was called: its arguments' values stand at `values`' locations."""

    layer: str
    block: str
    values: YMap
    scope: _Scope


@dataclass
class _Scope:
    variables: dict[str, Any]
    prefix: str
    names: dict[str, str]  # local name -> node (or INPUT_NAME) it stands for; `blk.a`, `rep.0` too
    stack: tuple[str, ...] = ()
    module: str = ""  # the module path of the block instance (with a trailing '.'), '' at the top
    counters: Counter = field(default_factory=Counter)
    later: dict[str, Location] = field(default_factory=dict)  # explicit names not reached yet
    call: _Call | None = None  # the block call this scope expands, if any
    check_only: bool = False  # a skipped block, or one whose input is unknown: check, build nothing
    lists: dict[str, list[str]] = field(default_factory=dict)  # `NAME.*`: a repeat's copies, a port's rest...
    ports: frozenset[str] = frozenset()  # the block's inputs: not exported as `instance.port`
    kept: set[str] = field(default_factory=set)  # names of alternatives (same name, each with `when:`) kept
    train_only: bool = False  # inside a block instance marked `train_only:`
    held_until: list[tuple[str, str]] = field(default_factory=list)  # `held: LAYER`: (output, LAYER)


class _Values(NamedTuple):
    """An item's values as _checked_layer knows them: the values (kept, so that their id is not
    reused), the variables they read (None: not tracked), their keys and values with each value's
    type (`1`, `1.0` and `true` differ) as a number, and where each field's value stands."""

    values: YMap
    reads: tuple[str, ...] | None
    content: Any
    field_locs: dict[str, Location | None]


class _Builder:
    def __init__(self, spec: Spec, input_shape: Shape | None, problems: ErrorCollector) -> None:
        self.spec = spec
        self.problems = problems
        self.shapes: dict[str, Shape | None] = {INPUT_NAME: input_shape}  # absent or None: not known
        self.nodes: list[Node] = []
        self.groups: dict[str, tuple[str, str]] = {}
        self.group_outputs: dict[str, tuple[str, ...]] = {}  # block instances with several outputs
        self.node_by_name: dict[str, Node] = {}
        self.calls: list[Call] = []
        self.module_paths: dict[int, tuple[YMap, str, bool]] = {}  # by id(item): see _module
        self.modules: dict[str, Location] = {}  # module paths of the layers, and where they were given
        self.module_prefixes: set[str] = set()  # the containers on the way to them
        self.numbers: Counter = Counter()  # container path -> the number `#` takes next there
        self.readers: Counter = Counter()
        # Repeated layers (equal fields) are validated once and share a prototype, and the output
        # shape of a prototype on given input shapes is computed once (see Layer.copy_as).
        self.prototypes: dict[Any, Layer] = {}
        self.outputs: dict[Any, tuple[Shape, tuple[tuple[str, str | None], ...]]] = {}
        self.field_names: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # (type, keys) -> their fields
        self.expansions: dict[Any, _Expansion] = {}  # see _expanded
        self.plain_blocks: dict[int, bool] = {}  # by id(block): see _plain_block
        self.reported = 0  # problems given to report(), Consequences included
        self.contents: dict[Any, int] = {}  # an item's values (keys, types, values) -> their number
        self.layers_seen: dict[Any, Layer] = {}  # prototypes by values and the variables they read
        self.values_seen: dict[int, _Values | YMap] = {}  # by id(values): see _known_values
        self.explicit_names: dict[int, tuple[YList, dict[str, Location]]] = {}  # by id(items)
        self.own_values: dict[int, YMap] = {}  # an item's own keys, by the item's id (the spec outlives the build)
        self.work = 0
        self.floors: dict[str, int] = {}  # the least work of a block call, by block name (see workfloor.py)
        self.input_loc = spec.input_loc if input_shape is spec.input_shape else None
        self.train_only_nodes: set[str] = set()
        self.train_only_items: list[str] = []
        self.checkpoints: list[str] = []
        self.held: dict[str, str] = {}

    def build(self) -> Graph:
        spec = self.spec
        scope = _Scope(dict(spec.variables), "", {INPUT_NAME: INPUT_NAME})
        last = self.expand(spec.items, scope)
        outputs: list[str] = []
        given: list[tuple[str, Location | None]] = list(spec.outputs) or [("", None)]
        for name, loc in given:
            if not name:
                outputs.append(last)
                continue
            try:
                outputs += self.references(name, scope, scope.variables, "", loc or spec.items.loc, "outputs")
            except SpecError as exc:
                self.problems.add(SpecError(f"'outputs' names '{name}', which is not a layer of the network", loc=loc,
                                            field="outputs", hint=exc.hint))
        outputs = list(dict.fromkeys(outputs))
        if not self.nodes and not self.problems and spec.items:
            self.problems.add(SpecError("'when' skips every layer: the network has none", loc=spec.items.loc,
                                        field="layers", hint="check the conditions and the variables they use"))
        if outputs and all(name in self.train_only_nodes for name in outputs):
            first = next(node for node in self.nodes if node.name == outputs[0])
            self.problems.add(SpecError(f"the network's output '{outputs[0]}' runs only in training (train_only), "
                                        "so the network has no output at inference", loc=given[0][1] or first.layer.loc,
                                        hint="name the inference output first in 'outputs:'"))
        self.problems.check()
        input_shape = self.shapes[INPUT_NAME]
        assert input_shape is not None  # an unknown input shape is a problem raised above
        readers = self.readers
        notes = tuple([Note(layer.name, "its output is never used", layer.loc)
                       for layer in [node.layer for node in self.nodes]
                       if layer.name not in readers and layer.name not in outputs])
        notes = _channels_last_note(input_shape, self.input_loc) + notes
        return Graph(spec.name, input_shape, tuple(self.nodes), spec.description, tuple(outputs),
                     self.groups, self.group_outputs, notes, tuple(self.calls), spec, tuple(self.train_only_items),
                     tuple(self.checkpoints), self.held)

    # ---- items ---------------------------------------------------------------------------------
    def expand(self, items: YList, scope: _Scope) -> str:
        scope.later = dict(self._explicit_names(items))
        previous = scope.names[INPUT_NAME]
        for index, item in enumerate(items):
            previous = self.item(index, item, items.item_locs[index], scope, previous)
        for ref, target in scope.held_until:  # `held: LAYER`, LAYER being a later item of this list
            whole = scope.prefix + target
            self.held[ref] = whole if whole in self.groups else scope.names.get(target, ref)
        return previous

    def _explicit_names(self, items: YList) -> dict[str, Location]:
        """The names given in a list of items. A name may be given again only to alternatives: items
        that all have `when:`, of which at most one is kept (DLA's tree: a leaf or two subtrees).
        Found once per list when they are all good (the list is expanded again for every call of
        its block), every time otherwise (its problems with it)."""
        known = self.explicit_names.get(id(items))
        if known is not None and known[0] is items:
            return known[1]
        seen: dict[str, Location] = {}
        guarded: dict[str, bool] = {}
        clean = True
        for item in items:
            if isinstance(item, YMap) and "name" in item:
                loc = item.value_locs["name"]
                try:
                    name = check_name(item["name"], loc)
                    if name in seen and not (guarded[name] and "when" in item):
                        raise SpecError(f"duplicate layer name '{name}' (first used at line {seen[name].line})",
                                        loc=loc, layer=name, field="name",
                                        hint="two layers may share a name only as alternatives: each with a 'when:'")
                except SpecError as exc:
                    self.problems.add(exc)
                    clean = False
                    continue
                guarded[name] = guarded.get(name, True) and "when" in item
                seen.setdefault(name, loc)
        if clean:
            self.explicit_names[id(items)] = (items, seen)  # holds `items`, so that its id is not reused
        return seen

    def item(self, index: int, item: Any, loc: Location, scope: _Scope, previous: str) -> str:
        """Expand one entry of a `layers:` list; its problems are gathered, and a layer that fails
        stands for an output of unknown shape."""
        if not isinstance(item, YMap):
            self.problems.add(SpecError(f"layer #{index + 1} must be a mapping like "
                                        "'{op: conv, out: 64, kernel: 3}'", loc=loc))
            return self._unknown(f"{scope.prefix}#{index + 1}")
        given_name = item.get("name")
        if isinstance(given_name, str) and _is_name(given_name) and given_name != INPUT_NAME:
            local = given_name
        else:
            local = self._auto_name(item.get("op"), scope)
        scope.later.pop(local, None)
        name = scope.prefix + local
        ref = name
        copies: list[tuple[int, str]] = []
        exports: list[tuple[str, _Exports]] = []
        kept_any = False
        kept_list = scope.lists.get(local)  # an alternative's, kept before this one
        try:
            target = self._target(item, given_name, index)
            repeated = "repeat" in item
            count = self._repeat(item, scope.variables, name) if repeated else 1
            chain = self._chain(item, scope.variables, name) if repeated else True
            if repeated:  # a copy may read the copies before it: `NAME.*` (so far) and `NAME.K`
                so_far = scope.lists[local] = []
            if count == 0:  # no copy: the name stands for its input, as a skipped layer's does
                ref = self._inputs(item, scope, previous, name, {**scope.variables, "i": 0})[0] \
                    if chain else previous
            for k in range(count):
                variables = {**scope.variables, "i": k} if repeated else scope.variables
                instance = name + (f".{k}" if repeated else "")
                origin = made(Origin, {"item": item, "local": local, "copy": k if repeated else None})
                inputs = self._inputs(item, scope, previous, name, variables) if k == 0 or not chain else (ref,)
                ref, kept, exported = self.instance(target, item, instance, inputs, variables, scope, origin)
                if k == 0 and count > 1:  # the copies left are sure to cost their floor each
                    self.charge_ahead(item, target, count - 1, name)
                if kept:
                    kept_any = True
                    copies.append((k, ref))
                    prefix = f"{local}.{k}" if repeated else local
                    if repeated:
                        so_far.append(ref)
                        scope.names[prefix] = ref
                    if exported is not None:
                        exports.append((prefix, exported))
                        if repeated:
                            scope.names.update((f"{prefix}.{key}", value) for key, value in exported[0].items())
            if repeated and target is not None and count:
                self.groups[name] = (str(item["op"]), ref)
        except Stopped:
            raise
        except SpecError as exc:  # the first repetition that fails stands for the rest
            for one in exc.errors if isinstance(exc, SpecErrors) else (exc,):
                self.report(one, item, scope)
            ref, kept_any = self._unknown(name), True
            copies = [(0, ref)]
        if "when" in item and local in scope.kept and not kept_any:
            if kept_list is not None:  # an alternative left out: the one kept keeps the name
                scope.lists[local] = kept_list
            else:
                scope.lists.pop(local, None)
            return scope.names[local]
        if kept_any and "when" in item:
            scope.kept.add(local)
        scope.names[local] = ref
        if repeated_item(item):
            scope.lists[local] = [copy for _, copy in copies]
            scope.names.update((f"{local}.{k}", copy) for k, copy in copies)
        for prefix, (names, lists) in exports:
            scope.names.update((f"{prefix}.{key}", value) for key, value in names.items())
            scope.lists.update((f"{prefix}.{key}", value) for key, value in lists.items())
            if prefix == local and local in lists:  # a block's outputs: `NAME.*`
                scope.lists[local] = lists[local]
        return ref

    def instance(self, target: type[Layer] | Block | None, item: YMap, name: str, inputs: tuple[str, ...],
                 variables: dict[str, Any], scope: _Scope, origin: Origin) -> tuple[str, bool, _Exports | None]:
        """One repetition of an item: a layer or a block call, or, skipped by `when:`, only checked.
        Returns what it stands for, whether it was kept, and a block's names (`NAME.inner`)."""
        self.work += item.weight  # weight_of(item); charge() when past the limit
        if self.work > MAX_WORK:
            self.charge(0, item, name)
        values = self._values(item, origin.copy in (None, 0), name)
        skipped = "when" in item and not self._condition(item, variables, name)
        shapes = self.shapes
        check_only = skipped or scope.check_only or target is None or \
            (shapes.get(inputs[0]) is None if len(inputs) == 1 else None in [shapes.get(ref) for ref in inputs])
        module = "" if check_only or "share" in item else \
            self._module(item, scope, origin.local, origin.copy, variables, name, layer=not isinstance(target, Block))
        train_only = "train_only" in item and \
            self._mark(item, "train_only", variables, name, None if check_only else self.train_only_items)
        if "checkpoint" in item:
            self._mark(item, "checkpoint", variables, name, None if check_only else self.checkpoints)
        held = self._held(item, variables, name, scope) if "held" in item else None
        train_only = train_only or scope.train_only
        exports = None
        if isinstance(target, Block):
            out, exports = self.call(target, name, values, inputs, variables, scope, check_only, module, origin,
                                     train_only)
        elif target is not None and "share" in item:
            out = self.share(target, item, name, values, inputs, variables, scope, check_only, origin, train_only)
        elif target is not None:
            out = self.add_layer(target, name, values, inputs, variables, check_only, module, origin, train_only)
        else:  # a call of a block whose definition failed (already reported)
            out = self._unknown(name)
        if skipped:  # a skipped layer stands for its (first) input
            return inputs[0], False, None
        for ref in self.group_outputs.get(name, (out,)) if held and not check_only else ():
            if isinstance(held, str):  # until that later layer has run
                scope.held_until.append((ref, held))
            else:  # a variable of the frame around it: until the block instance returns
                self.held[ref] = scope.prefix.removesuffix(".")
        return out, True, exports

    def _held(self, item: YMap, variables: dict[str, Any], name: str, scope: _Scope) -> bool | str:
        """`held: true` (until the block instance returns) or `held: LAYER` (until that later layer of the same
        block has run: a variable of a helper function that returns after it, DenseNet's `bn_function`)."""
        loc = item.value_locs["held"]
        value = resolve_value(item["held"], variables, loc, name, "held")
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in scope.later:
            return value
        raise SpecError(f"'held' must be true, false or the name of a later layer of the same block, got {value!r}",
                        loc=loc, layer=name, field="held",
                        hint=did_you_mean(str(value), scope.later) if isinstance(value, str) else None)

    def _mark(self, item: YMap, key: str, variables: dict[str, Any], name: str, marked: list[str] | None) -> bool:
        """`train_only: true` or `checkpoint: true` on an item (a layer or a block instance)."""
        value = resolve_value(item[key], variables, item.value_locs[key], name, key)
        if not isinstance(value, bool):
            raise SpecError(f"'{key}' must be true or false, got {value!r}", loc=item.value_locs[key], layer=name,
                            field=key)
        if value and marked is not None:
            marked.append(name)
        return value

    def charge(self, units: int, item: YMap, name: str) -> None:
        self.work += units
        if self.work > MAX_WORK:
            self.problems.stop(SpecError(
                f"expanding the spec takes more than {MAX_WORK:,} steps (every repetition and block call "
                "counts its layers' values again, skipped layers too)", loc=item.loc, layer=name,
                hint="see docs/limits.md"))

    def charge_ahead(self, item: YMap, target: type[Layer] | Block | None, copies: int, name: str) -> None:
        """Stop before expanding `copies` more copies of `item` that are sure to pass MAX_WORK."""
        floor = least_work(item, target, self.spec.blocks, self.floors, MAX_WORK + 1)
        if self.work + copies * floor > MAX_WORK:
            self.charge(copies * floor, item, name)

    @staticmethod
    def _unknown(name: str) -> str:
        """A reference to an output whose shape is not known (a layer that failed, or one that was
        only checked): it has no entry in `shapes`, which costs nothing for a million skipped layers."""
        return name

    def _target(self, item: YMap, given_name: Any, index: int) -> type[Layer] | Block | None:
        blocks = self.spec.blocks
        op = item.get("op")
        if isinstance(op, str):
            if op in REGISTRY:
                return REGISTRY[op]
            if op in blocks:
                return blocks[op]
            if op in self.spec.broken_blocks:
                return None
        label = str(given_name or f"#{index + 1}")
        if "op" not in item:
            raise SpecError("the layer has no 'op' (its type)", loc=item.loc, layer=label,
                            hint="add 'op: ...'; 'cnncalc ops' lists the layer types")
        near = suggest_ops(op, tuple(blocks)) if isinstance(op, str) else []
        hint = ("did you mean " + " or ".join(f"'{n}'" for n in near) + "? " if near else "") + \
            "'cnncalc ops' lists the layer types" + (f"; blocks: {', '.join(blocks)}" if blocks else "")
        raise SpecError(f"unknown layer type {op!r}", loc=item.value_locs["op"], layer=label, field="op", hint=hint)

    def _auto_name(self, op: Any, scope: _Scope) -> str:
        base = op if isinstance(op, str) and _is_name(op) else "layer"
        while True:
            scope.counters[base] += 1
            name = f"{base}{scope.counters[base]}"
            if name not in scope.names and name not in scope.later:
                return name

    def _module(self, item: YMap, scope: _Scope, local: str, copy: int | None, variables: dict[str, Any],
                name: str, layer: bool) -> str:
        """The module path of one copy of an item: `module:` (or its name) inside the block instance's."""
        if "module" not in item:
            relative = local if copy is None else f"{local}.{copy}"
        else:
            known = self.module_paths.get(id(item))
            if known is not None and known[0] is item:
                relative, suffixed = known[1], known[2]
            else:
                raw = str(item["module"]).strip()
                relative = module_path(item["module"], variables, item.value_locs["module"], name)
                # copies of a repeat are numbered unless the path says otherwise
                suffixed = not ("{" in raw or "#" in raw or relative == ".")
                if "{" not in raw:  # the same path for every copy and call
                    self.module_paths[id(item)] = (item, relative, suffixed)
            if copy is not None and suffixed:
                relative += f".{copy}"
        if relative == "." and layer and not scope.module:
            raise SpecError("'.' is the module of the block the layer is in; a layer of the model needs a name "
                            "here", loc=item.value_locs["module"], layer=name, field="module")
        if relative == ".":  # a block instance that adds no level: its layers sit in the enclosing module;
            path = scope.module.removesuffix(".")  # a layer: it is the block instance's module (nn.Identity)
            if layer:
                self._take_module(path, item.value_locs["module"], name)
            return path
        path = self._number(scope.module, relative)
        if layer:
            self._take_module(path, item.value_locs.get("module", item.loc), name)
        return path

    def _number(self, container: str, relative: str) -> str:
        """container + relative, where `#` is the next free number in its container (`features.#`);
        given numbers take theirs. `container` (a block instance's path and '.', or '') is numbered."""
        if "." not in relative and relative != "#" and not relative.isdigit():
            return container + relative  # the common case: a name, nothing to number
        if "#" not in relative:  # only remember the numbers the path takes
            numbers = self.numbers
            for within, taken in _numbered_parts(relative):
                inside = container + within if within is not None else container[:-1]
                if numbers[inside] < taken:
                    numbers[inside] = taken
            return container + relative
        out = container.split(".")[:-1]
        for part in relative.split("."):
            inside = ".".join(out)
            if part == "#":
                part = str(self.numbers[inside])
            if part.isdigit():
                self.numbers[inside] = max(self.numbers[inside], int(part) + 1)
            out.append(part)
        return ".".join(out)

    def _take_module(self, path: str, loc: Location, name: str) -> None:
        """Two layers cannot share a module path, nor can one sit inside another."""
        parent = path.rpartition(".")[0]
        if (not parent or parent in self.module_prefixes) and path not in self.modules \
                and path not in self.module_prefixes:
            # its containers are known to be containers (so none is a layer): nothing new to check
            self.modules[path] = loc
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
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise SpecError(f"must be a whole number >= 0, got {count!r}", loc=loc, layer=name, field="repeat")
        if count > MAX_REPEAT:
            raise SpecError(f"repeat {count} is more than the limit of {MAX_REPEAT}", loc=loc, layer=name,
                            field="repeat")
        return count

    def _chain(self, item: YMap, variables: dict[str, Any], name: str) -> bool:
        """Whether the copies of a repeat read each other (the default) or each its own `in:`; the
        default is false when `in:` picks per copy (`in: "xs.{i}"`, or the copies before: `NAME.*`)."""
        if "chain" not in item:
            key = next((key for key in INPUT_KEYS if key in item), None)
            given = item[key] if key else None
            own = name.rsplit(".", 1)[-1] + "."
            return not any("{" in entry or entry.strip().startswith(own)
                           for entry in ([given] if isinstance(given, str) else given or []) if isinstance(entry, str))
        value = resolve_value(item["chain"], variables, item.value_locs["chain"], name, "chain")
        if not isinstance(value, bool):
            raise SpecError(f"must be true or false, got {value!r}", loc=item.value_locs["chain"], layer=name,
                            field="chain")
        return value

    def _condition(self, item: YMap, variables: dict[str, Any], name: str) -> bool:
        value = resolve_value(item["when"], variables, item.value_locs["when"], name, "when")
        if isinstance(value, bool) or (isinstance(value, (int, float)) and value == value and
                                       abs(value) != float("inf")):
            return bool(value)
        raise SpecError(f"must be true or false (or an expression giving one), got {value!r}",
                        loc=item.value_locs["when"], layer=name, field="when")

    def _inputs(self, item: YMap, scope: _Scope, previous: str, name: str,
                variables: dict[str, Any]) -> tuple[str, ...]:
        if "in" not in item and "inputs" not in item and "from" not in item:  # INPUT_KEYS
            return (previous,)
        given = [key for key in INPUT_KEYS if key in item]
        if len(given) > 1:
            raise SpecError(f"the inputs are given twice, as '{given[0]}' and as '{given[1]}'",
                            loc=item.key_locs[given[1]], layer=name, field="in")
        key = given[0]
        raw, loc = item[key], item.value_locs[key]
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise SpecError("must be a layer name or a list of layer names", loc=loc, layer=name, field="in")
        refs: list[str] = []
        for i, entry in enumerate(names):
            entry_loc = names.item_locs[i] if isinstance(names, YList) else loc
            refs += self.references(entry, scope, variables, name, entry_loc, "in")
        if not refs:
            raise SpecError(f"'{raw if isinstance(raw, str) else ', '.join(names)}' names no layer here", loc=loc,
                            layer=name, field="in", hint="its conditions are all false, or its lists are empty")
        return tuple(refs)

    def references(self, entry: str, scope: _Scope, variables: dict[str, Any], name: str, loc: Location | None,
                   field_name: str) -> list[str]:
        """The layers one `in:` entry names: `conv1`; `blk.a` and `rep.0` (inside instances and
        copies); `rep.*` (every copy, a port's rest, a block's outputs); `xs.{i}` (an expression's
        value in braces); `bottom if level_root` (only when the condition holds)."""
        text = entry.strip()
        conditional = _CONDITIONAL.fullmatch(text)
        if conditional:
            text = conditional.group(1)
            keep = evaluate_located(conditional.group(2), entry.strip(), variables, loc, name, field_name)
            if not isinstance(keep, bool):
                raise SpecError(f"the condition of '{entry.strip()}' must be true or false, got {keep!r}", loc=loc,
                                layer=name, field=field_name)
            if not keep:
                return []
        if "{" in text:
            text = interpolate(text, variables, loc, name, field_name)
        if text.endswith(".*"):
            base = text[:-2]
            if base in scope.lists:
                return list(scope.lists[base])
            if base in scope.names:
                raise SpecError(f"'{base}' is one layer; '.*' takes the copies of a repeat, the rest of a block's "
                                "inputs or a block's outputs", loc=loc, layer=name, field=field_name)
            text = base
        if text in scope.names:
            return [scope.names[text]]
        own = name.rsplit(".", 1)[-1]
        if text == own or text.split(".")[0] in scope.later:
            raise SpecError(f"'{text}' is not defined yet: a layer can only read layers above it",
                            loc=loc, layer=name, field=field_name,
                            hint=f"a copy of a repeat reads the copies before it as '{own}.*' or '{own}.K'"
                            if text == own and own in scope.lists else None)
        if text.split(".")[0] == own and own in scope.lists:
            raise SpecError(f"'{text}' is not defined yet: a copy of a repeat can only read the copies before it",
                            loc=loc, layer=name, field=field_name, hint=f"'{own}.*' is the copies before it")
        raise SpecError(f"unknown input '{text}'", loc=loc, layer=name, field=field_name,
                        hint=did_you_mean(text, scope.names) or f"names here: {', '.join(_shown(scope.names))}")

    def _values(self, item: YMap, first: bool, name: str) -> YMap:
        """The item's own keys (not control keys), with `first:` overrides on the first repetition."""
        if "first" not in item:  # the common case: the item's keys and locations as they are
            values = self.own_values.get(id(item))
            if values is None:  # once per item, however often a block or repeat expands it
                values = YMap({key: value for key, value in item.items() if key not in _CONTROL})
                values.loc, values.key_locs, values.value_locs = item.loc, item.key_locs, item.value_locs
                self.own_values[id(item)] = values
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

    # ---- reporting -----------------------------------------------------------------------------
    def report(self, exc: InputError, item: YMap, scope: _Scope) -> None:
        """Add a layer's problem, placed where it can be fixed: a value passed to a block is blamed
        at the call that passes it, and a plain word that names no variable, but nearly names one,
        is called a misspelt variable."""
        self.reported += 1
        if isinstance(exc, Consequence):
            return
        values: YMap = item
        first_use = ""
        while scope.call is not None:
            key = _key_at(values, exc.loc)
            given = [name for name in _names_in(values.get(key)) if name in scope.call.values] if key else []
            if not given:
                break
            call, param = scope.call, given[0]
            if not first_use:  # where the value is used, for the hint: the innermost use
                raw, where = values[key], exc.loc
                use = f"as '{key}'" if isinstance(raw, str) and raw.strip() == param else f"in '{key}: {raw}'"
                first_use = f"block '{call.block}' uses it {use} of layer '{exc.layer}'" + \
                    (f" (line {where.line})" if where else "")
            exc = SpecError(exc.message, loc=call.values.value_locs[param], layer=call.layer, field=param,
                            hint="; ".join(filter(None, [exc.hint if not first_use else None, first_use])))
            values, scope = call.values, call.scope
        self.problems.add(_misspelt_variable(exc, values, scope.variables))

    # ---- layers and blocks ---------------------------------------------------------------------
    def add_layer(self, cls: type[Layer], name: str, values: YMap, inputs: tuple[str, ...],
                  variables: dict[str, Any], check_only: bool = False, module: str = "",
                  origin: Origin | None = None, train_only: bool = False) -> str:
        """Check the layer; unless `check_only`, infer its output and add it to the graph."""
        if len(self.nodes) >= MAX_NODES:
            self.problems.stop(SpecError(f"the network has more than {MAX_NODES:,} layers", loc=values.loc,
                                         layer=name, hint="see docs/limits.md"))
        layer = self._checked_layer(cls, name, values, variables)
        if cls.arity is not None and len(inputs) != cls.arity:
            raise layer.error(f"{cls.op} takes {cls.arity} input, but is given {len(inputs)}", "in")
        if cls.arity is None and len(inputs) < cls.min_inputs:
            raise layer.error(f"{cls.op} merges two or more inputs; list them with 'in: [a, b]'", "in")
        if check_only:
            return self._unknown(name)
        if len(inputs) == 1:  # known: check_only otherwise
            shapes: tuple[Shape, ...] = (self.shapes[inputs[0]],)  # type: ignore[assignment]
        else:
            shapes = tuple([shape for ref in inputs if (shape := self.shapes.get(ref)) is not None])
        key = (layer.prototype, shapes)
        if key not in self.outputs:  # a repeated layer on the same input shapes: shaped once
            notes: list[tuple[str, str | None]] = []
            try:
                output = tuple(layer.output_shape(list(shapes),
                                                  lambda message, field=None: notes.append((message, field))))
            except LayerProblem as exc:
                raise layer.error(exc.message, exc.field, exc.hint) from None
            too_large = oversized(output)
            if too_large:
                raise layer.error(f"its output {too_large}", None)
            self.outputs[key] = (output, tuple(notes))
        output, warnings = self.outputs[key]
        if not train_only:
            reads = next((ref for ref in inputs if ref in self.train_only_nodes), None) if self.train_only_nodes \
                else None
            if reads is not None:
                raise layer.error(f"reads '{reads}', which runs only in training (train_only), but runs at inference",
                                  "in", hint="mark it train_only too, or read another layer")
        else:
            self.train_only_nodes.add(name)
        node = made(Node, {"layer": layer, "inputs": inputs, "input_shapes": shapes, "output_shape": output,
                           "notes": warnings, "module": module or name, "variables": variables, "origin": origin,
                           "train_only": train_only})
        self.nodes.append(node)
        self.node_by_name[name] = node
        self.shapes[name] = output
        for ref in inputs:  # not Counter.update, which first asks whether `inputs` is a Mapping
            self.readers[ref] += 1
        return name

    def _checked_layer(self, cls: type[Layer], name: str, values: YMap, variables: dict[str, Any]) -> Layer:
        """The layer, its values' expressions evaluated and its fields checked: the problems of all
        its fields together, those whose values could not be computed left out of the check. A layer
        with the same values (of the same types: `1`, `1.0` and `true` differ) as an earlier one is
        a copy of it, checked once (Layer.copy_as); values with a list are never shared. Values
        written alike that see the same variables (every repeat, every call of a block with the
        same arguments) are not even resolved again: they give the same prototype."""
        known = self._known_values(cls, values)
        seen: Any = None
        if known is not None:
            try:
                read = [variables.get(n, _ABSENT) for n in known.reads or ()]
                seen = (cls, known.content, *read, *map(type, read))
                prototype = self.layers_seen.get(seen)
            except TypeError:  # a list among the variables it reads
                seen = prototype = None
            if prototype is not None:
                return prototype.copy_as(name, values.loc, known.field_locs)
        layer = self._new_layer(cls, name, values, variables)
        if seen is not None:
            self.layers_seen[seen] = layer.prototype
        return layer

    def _known_values(self, cls: type[Layer], values: YMap) -> _Values | None:
        """What _checked_layer needs to know of an item's values, found once per item from the
        second time it is seen (most items of a long spec's top level are seen once); None the
        first time, and when they cannot be compared (a list among them)."""
        known = self.values_seen.get(id(values))
        if not isinstance(known, _Values) or known.values is not values:
            if known is not values:
                self.values_seen[id(values)] = values  # seen once: kept, so that its id is not reused
                return None
            used = [names_read(value) for value in values.values()]
            content: Any = tuple([(key, type(value), value) for key, value in values.items()])
            try:  # equal contents get one number (cheaper to hash at every lookup)
                content = self.contents.setdefault(content, len(self.contents))
            except TypeError:
                content = None
            reads = None if None in used or content is None else \
                tuple(dict.fromkeys(n for names in used if names for n in names))
            field_locs = {field: values.value_locs.get(key, values.loc) for key in values
                          if isinstance(key, str) and (field := cls.canonical_field(key)) is not None}
            known = _Values(values, reads, content, field_locs)
            self.values_seen[id(values)] = known
        return known if known.reads is not None else None

    def _new_layer(self, cls: type[Layer], name: str, values: YMap,
                   variables: dict[str, Any]) -> Layer:
        """_checked_layer's work: its values resolved and its fields checked, or a prototype's copy."""
        if all(is_literal(value, variables) for value in values.values()):  # resolving changes nothing
            try:
                prototype = self.prototypes.get((cls, tuple(values.items()), tuple(map(type, values.values()))))
            except TypeError:
                prototype = None
            if prototype is not None:  # the key of a prototype: its values resolved alike (below)
                return prototype.copy_as(name, values.loc, self._field_locs(cls, values))
        resolved = YMap()
        resolved.loc, resolved.key_locs, resolved.value_locs = values.loc, values.key_locs, values.value_locs
        problems = ErrorCollector(limit=None)
        unresolved = []
        field_locs: dict[str, Location | None] = {}  # where each field's value stands, for a copy
        for key, value in values.items():
            field = cls.canonical_field(key) if isinstance(key, str) else None
            if field is None:  # an unknown field: the layer reports it
                resolved[key] = value
                continue
            loc = values.value_locs.get(key, values.loc)
            field_locs[field] = loc
            try:
                resolved[key] = resolve_value(value, variables, loc, name, field)
            except SpecError as exc:
                problems.add(exc)
                unresolved.append(field)
        shared: Any = None
        if not unresolved:
            try:
                shared = (cls, tuple(resolved.items()), tuple(map(type, resolved.values())))
                prototype = self.prototypes.get(shared)
            except TypeError:  # a list among the values
                shared = prototype = None
            if prototype is not None:  # its keys were all fields, or it would have failed
                return prototype.copy_as(name, values.loc, field_locs)
        layer = None
        try:
            layer = cls.from_mapping(name, resolved, skip=(), unresolved=tuple(unresolved))
        except SpecError as exc:
            problems.add(exc)
        problems.check()
        if layer is None or unresolved:  # what is left follows from problems reported elsewhere
            raise Consequence(f"{cls.op} '{name}' could not be read", loc=values.loc, layer=name)
        if shared is not None:
            self.prototypes[shared] = layer
        return layer

    def _field_locs(self, cls: type[Layer], values: YMap) -> dict[str, Location | None]:
        """Where each field's value stands (the keys are all fields: a prototype has them)."""
        keys = tuple(values)
        fields = self.field_names.get((cls, keys))
        if fields is None:
            fields = self.field_names[(cls, keys)] = tuple(cls.canonical_field(key) for key in keys)
        where, default = values.value_locs, values.loc
        return {field: where.get(key, default) for field, key in zip(fields, keys)}

    def call(self, block: Block, name: str, values: YMap, inputs: tuple[str, ...], variables: dict[str, Any],
             scope: _Scope, check_only: bool = False, module: str = "", origin: Origin | None = None,
             train_only: bool = False) -> tuple[str, _Exports]:
        if len(scope.stack) >= MAX_BLOCK_DEPTH:
            last = len(scope.stack) - 1 - scope.stack[::-1].index(block.name) if block.name in scope.stack else None
            cycle = scope.stack[last:] if last is not None else ()
            what = f"block '{block.name}' uses itself ({' -> '.join((*cycle, block.name))}) and " if cycle else ""
            self.problems.stop(SpecError(
                f"{what}blocks are nested more than {MAX_BLOCK_DEPTH} deep", loc=values.loc, layer=name, field="op",
                hint="a block that uses itself needs a 'when:' that ends the recursion" if cycle else None))
        if check_only and block.name in scope.stack:  # a skipped recursive call: checked at the call only
            return self._unknown(name), ({}, {})
        ports = self._ports(block, inputs, values, name)
        args = {}
        for key, value in values.items():
            if key not in block.params:
                raise SpecError(f"block '{block.name}' has no parameter '{key}'", loc=values.key_locs[key],
                                layer=name, hint=did_you_mean(str(key), block.params)
                                or f"parameters: {', '.join(block.params) or 'none'}")
            args[key] = resolve_value(value, variables, values.value_locs[key], name, key)
        missing = [p for p, default in block.params.items() if default is REQUIRED and p not in args]
        if missing:
            raise SpecError(f"block '{block.name}' needs {', '.join(repr(m) for m in missing)}", loc=values.loc,
                            layer=name, hint=f"add {', '.join(f'{m}: ...' for m in missing)}")
        defaults = {p: d for p, d in block.params.items() if d is not REQUIRED}
        self.charge(sum(weight_of(d) for d in defaults.values()), values, name)
        shape = self.shapes.get(inputs[0]) if inputs else None
        builtins: dict[str, Any] = {"in_channels": UNKNOWN, "in_height": UNKNOWN, "in_width": UNKNOWN,
                                    "in_count": len(inputs)}
        if shape is not None:
            builtins["in_channels"] = shape[0]
            if len(shape) == 3:
                builtins.update(in_height=shape[1], in_width=shape[2])
        inner_vars = {**self.spec.variables, **builtins}
        for key, default in defaults.items():  # defaults may use earlier parameters and the input size
            if key not in args:
                args[key] = resolve_value(default, {**inner_vars, **args}, block.loc, name, key)
        names, lists = ports
        inner = _Scope({**inner_vars, **args}, name + ".", names, (*scope.stack, block.name),
                       module=module + "." if module else "", call=_Call(name, block.name, values, scope),
                       check_only=check_only, lists=lists, ports=frozenset(names), train_only=train_only)
        out = self._expanded(block, inner, args, inputs, module, check_only or train_only)
        outputs = [out]
        if block.output is not None:
            if block.output not in inner.names:
                raise SpecError(f"block '{block.name}' names output '{block.output}', which is none of its layers",
                                loc=block.loc, hint=did_you_mean(block.output, inner.names))
            outputs = [inner.names[block.output]]
        elif block.outputs:
            where = block.outputs_loc or block.loc
            outputs = [ref for entry in block.outputs
                       for ref in self.references(entry, inner, inner.variables, name, where, "outputs")]
            if not outputs:
                raise SpecError(f"the outputs of block '{block.name}' ({', '.join(block.outputs)}) name no layer",
                                loc=where, layer=name, field="outputs")
        exported = {key: ref for key, ref in inner.names.items() if key not in inner.ports}
        exported_lists = {key: refs for key, refs in inner.lists.items() if key not in inner.ports}
        if block.outputs:
            exported_lists[name.rsplit(".", 1)[-1]] = outputs  # `NAME.*`, picked up by item()
        if check_only:
            return self._unknown(name), (exported, exported_lists)
        self.groups[name] = (block.name, outputs[0])
        if len(outputs) > 1:
            self.group_outputs[name] = tuple(outputs)
        self.calls.append(Call(name, block.name, args, inner.variables, inputs[0], outputs[0], module, origin,
                               tuple(inputs), tuple(outputs)))
        return outputs[0], (exported, exported_lists)

    def _expanded(self, block: Block, inner: _Scope, args: dict[str, Any], inputs: tuple[str, ...], module: str,
                  special: bool) -> str:
        """self.expand(block.items, inner), or the layers of an earlier expansion of the block with the
        same arguments (values and types) on inputs of the same shapes, under this instance's names
        and module path (see _Expansion). Only plain blocks are remembered: layers and nothing else,
        every input a different layer, a module path of their own, no problem found, nothing
        training-only around."""
        key: Any = None
        if not special and module and not self.train_only_nodes and self._plain_block(block) \
                and len(set(inputs)) == len(inputs):
            try:
                key = (id(block), *args, *args.values(), *map(type, args.values()),
                       *[self.shapes.get(ref) for ref in inputs])
                recorded = self.expansions.get(key)
            except TypeError:  # a list among the arguments
                key = recorded = None
            if recorded is not None and not recorded.usable():
                key = None
            elif recorded is not None and self._replayed(recorded, inner, inputs, module):
                return inner.prefix + recorded.out if recorded.out_port is None else inputs[recorded.out_port]
        start, work, reported, errors = len(self.nodes), self.work, self.reported, len(self.problems.errors)
        out = self.expand(block.items, inner)
        if key is not None and self.reported == reported and len(self.problems.errors) == errors and \
                id(block.items) in self.explicit_names:  # nothing was wrong
            self.expansions[key] = _Expansion(self.nodes[start:], inner, inputs, module, out, self.work - work)
        return out

    def _plain_block(self, block: Block) -> bool:
        """Whether a block's expansions may be remembered (see _expanded): once per block."""
        plain = self.plain_blocks.get(id(block))
        if plain is None:
            plain = block.variadic is None and not block.outputs and all(
                isinstance(item, YMap) and isinstance(item.get("op"), str) and item["op"] in REGISTRY
                and not any(key in item for key in ("repeat", "share", "train_only", "checkpoint"))
                and "#" not in str(item.get("module", "")) for item in block.items)
            self.plain_blocks[id(block)] = plain
        return plain

    def _replayed(self, recorded: _Expansion, inner: _Scope, inputs: tuple[str, ...], module: str) -> bool:
        """Add a remembered expansion's layers as this instance's; False (nothing done) when the
        instance's module path is taken or the work or layer limit would be reached (then the
        expansion itself reports it where it happens)."""
        if module in self.modules or module in self.module_prefixes or \
                self.work + recorded.work > MAX_WORK or len(self.nodes) + len(recorded.nodes) > MAX_NODES:
            return False
        parts = module.split(".")
        if any(".".join(parts[:n]) in self.modules for n in range(1, len(parts))):
            return False
        self.work += recorded.work
        prefix, container = inner.prefix, module + "."
        shapes, readers, nodes, node_by_name = self.shapes, self.readers, self.nodes, self.node_by_name
        variables = inner.variables
        for node, local, refs, relative, loc in recorded.nodes:
            name = prefix + local
            ins = tuple([prefix + ref if port is None else inputs[port] for ref, port in refs])
            path = self._number(container, relative)
            self._take_module(path, loc, name)
            layer = node.layer
            copy = made(Node, {"layer": layer.copy_as(name, layer.loc, layer.field_locs), "inputs": ins,
                               "input_shapes": node.input_shapes, "output_shape": node.output_shape,
                               "notes": node.notes, "module": path, "variables": variables, "origin": node.origin,
                               "train_only": False})
            nodes.append(copy)
            node_by_name[name] = copy
            shapes[name] = node.output_shape
            for ref in ins:
                readers[ref] += 1
        inner.names.update((key, prefix + ref if port is None else inputs[port]) for key, ref, port in recorded.names)
        return True

    def _ports(self, block: Block, inputs: tuple[str, ...], values: YMap,
               name: str) -> tuple[dict[str, str], dict[str, list[str]]]:
        """The block's names for its inputs: `input` (the first) and each named input; the last, if it
        takes the rest, as `rest.0`, `rest.1`... and `rest.*`."""
        fixed = [port for port in block.ports if port != block.variadic]
        if len(inputs) < len(fixed) or (block.variadic is None and len(inputs) > len(fixed)):
            wanted = f"{len(fixed)}{' or more' if block.variadic else ''}"
            listed = f" ({', '.join(block.ports)})" if block.inputs else ""
            raise SpecError(f"block '{block.name}' takes {wanted} input{'s' if wanted != '1' else ''}{listed}, "
                            f"but is given {len(inputs)}", loc=values.loc, layer=name, field="in")
        names = {INPUT_NAME: inputs[0]} if inputs else {}
        names.update(zip(fixed, inputs))
        lists: dict[str, list[str]] = {}
        if block.variadic is not None:
            rest = list(inputs[len(fixed):])
            lists[block.variadic] = rest
            names.update((f"{block.variadic}.{k}", ref) for k, ref in enumerate(rest))
        return names, lists

    def share(self, cls: type[Layer], item: YMap, name: str, values: YMap, inputs: tuple[str, ...],
              variables: dict[str, Any], scope: _Scope, check_only: bool, origin: Origin,
              train_only: bool = False) -> str:
        """`share: LAYER`: this layer calls LAYER's module again (its weights): the type and fields are
        LAYER's, its parameters are counted once, at LAYER, and its multiply-adds at every use."""
        loc = item.value_locs["share"]
        raw = item["share"]
        if not isinstance(raw, str):
            raise SpecError("'share' must name the layer whose weights this one uses", loc=loc, layer=name,
                            field="share")
        refs = self.references(raw, scope, variables, name, loc, "share")
        if values:
            key = next(iter(values))
            raise SpecError(f"a layer that shares another's weights takes its fields from it: remove '{key}'",
                            loc=values.key_locs[key], layer=name, field=str(key), hint=f"'share: {raw}' gives them")
        if check_only or any(self.shapes.get(ref) is None for ref in (*refs, *inputs)):
            return self._unknown(name)
        owner = self.node_by_name.get(refs[0])
        if owner is None or len(refs) != 1:
            raise SpecError(f"'{raw}' is not a layer whose weights can be shared", loc=loc, layer=name,
                            field="share")
        if owner.layer.shares:
            owner = self.node_by_name[owner.layer.shares]
        if type(owner.layer) is not cls:
            raise SpecError(f"'{raw}' is a {owner.layer.op} layer; a layer sharing its weights must be one too",
                            loc=item.value_locs["op"], layer=name, field="op", hint=f"op: {owner.layer.op}")
        layer = shared_use(owner.layer, name, owner.name, item.loc, {"share": loc})
        if len(inputs) != len(owner.inputs):
            raise layer.error(f"'{raw}' takes {len(owner.inputs)} input(s), but is given {len(inputs)}", "in")
        shapes = [shape for shape in (self.shapes[ref] for ref in inputs) if shape is not None]
        if len(shapes) != len(inputs):  # an input failed, and was reported
            raise Consequence("an input of unknown shape", loc=item.loc, layer=name, field="in")
        notes: list[tuple[str, str | None]] = []
        try:
            output = tuple(layer.output_shape(shapes, lambda message, field=None: notes.append((message, field))))
            mine = layer.lowering(shapes, output)
        except LayerProblem as exc:
            raise layer.error(exc.message, exc.field, exc.hint) from None
        theirs = owner.layer.lowering(list(owner.input_shapes), owner.output_shape)
        if mine != theirs:
            raise layer.error(f"'{raw}' is {theirs.source()}, but this input needs {mine.source()}", "share",
                              hint="a shared module must fit every input it is used on")
        if not train_only:
            reads = next((ref for ref in (*inputs, owner.name) if ref in self.train_only_nodes), None)
            if reads is not None:
                raise layer.error(f"uses '{reads}', which runs only in training (train_only), but runs at inference",
                                  "share" if reads == owner.name else "in", hint="mark it train_only too")
        else:
            self.train_only_nodes.add(name)
        self.nodes.append(Node(layer, inputs, tuple(shapes), output, tuple(notes), owner.module, variables, origin,
                               train_only))
        self.node_by_name[name] = self.nodes[-1]
        self.shapes[name] = output
        self.readers.update((*inputs, owner.name))
        return name


_Exports = tuple[dict[str, str], dict[str, list[str]]]  # a block instance's names and lists
_Ref = tuple[str, int | None]  # a name inside a block instance (without its prefix), or None and an input


class _Expansion:
    """A block instance's layers, as another instance of the block with the same arguments on inputs
    of the same shapes gets them (_Builder._expanded): each node with its local name, its inputs
    (inside the instance, or the instance's inputs by position), its module path inside the
    instance's and where that is given; the names the instance's scope ends with; its output; the
    work units its expansion cost. Worked out from the first instance's nodes when a second one
    asks (most blocks are never called alike twice)."""

    nodes: list[tuple[Node, str, tuple[_Ref, ...], str, Location]]
    names: list[tuple[str, str, int | None]]
    out: str  # as a _Ref
    out_port: int | None

    def __init__(self, nodes: list[Node], inner: _Scope, inputs: tuple[str, ...], module: str, out: str,
                 work: int) -> None:
        self.work = work
        self._usable = False
        self._made: tuple[list[Node], _Scope, tuple[str, ...], str, str] | None = (nodes, inner, inputs, module, out)

    def usable(self) -> bool:
        """Whether it can be used: False when one of its names is neither the instance's nor an input."""
        if self._made is None:
            return self._usable
        nodes, inner, inputs, module, out = self._made
        self._made, self._usable = None, False
        prefix, container = inner.prefix, module + "."

        def ref(name: str) -> _Ref | None:
            if name.startswith(prefix):
                return name[len(prefix):], None
            return ("", inputs.index(name)) if name in inputs else None

        self.nodes = []
        for node in nodes:
            refs = [ref(name) for name in node.inputs]
            if None in refs or not node.module.startswith(container) or node.origin is None:
                return False
            item = node.origin.item
            self.nodes.append((node, node.name[len(prefix):], tuple(refs),  # type: ignore[arg-type]
                               node.module[len(container):], item.value_locs.get("module", item.loc)))
        self.names = []
        for key, name in inner.names.items():
            found = ref(name)
            if found is None:
                return False
            self.names.append((key, *found))
        last = ref(out)
        if last is None:
            return False
        self.out, self.out_port = last
        self._usable = True
        return True


_CONDITIONAL = re.compile(r"(\S+)\s+if\s+(.+)")


@functools.lru_cache(maxsize=4096)
def _numbered_parts(relative: str) -> tuple[tuple[str | None, int], ...]:
    """For each whole number in a relative module path without `#`: the path before it, inside which
    it stands (None: the container itself), and the next free number there (`conv.0.1`: ('conv', 1)
    and ('conv.0', 2))."""
    parts = relative.split(".")
    return tuple((".".join(parts[:n]) if n else None, int(part) + 1) for n, part in enumerate(parts)
                 if part.isdigit())


@functools.lru_cache(maxsize=4096)
def _is_name(text: str) -> bool:
    """Whether `text` is a valid layer name; remembered, as a block's items give the same few."""
    return NAME_PATTERN.match(text) is not None


def repeated_item(item: YMap) -> bool:
    return "repeat" in item


def _shown(names: dict[str, str]) -> list[str]:
    """The names to list in a hint: the local ones (not every `blk.inner`), at most 30."""
    local = [name for name in names if "." not in name]
    return local[:30] + (["..."] if len(local) > 30 else [])


def _key_at(values: YMap, loc: Location | None) -> str | None:
    """The key whose value stands at `loc` (where an error about it points), if any."""
    if loc is None:
        return None
    return next((key for key, where in values.value_locs.items() if where == loc), None)


def _names_in(value: Any) -> list[str]:
    """The names a value refers to: a plain word, or the names in an expression (or in a list's items)."""
    if isinstance(value, list):
        return [name for item in value for name in _names_in(item)]
    if not isinstance(value, str):
        return []
    if not is_expression(value):
        return [value.strip()]
    try:
        return [text for kind, text, _ in tokenize(value) if kind == "name"]
    except ExprError:
        return []


def _misspelt_variable(exc: InputError, values: YMap, variables: dict[str, Any]) -> InputError:
    """`out: widht` fails as 'must be a number, got 'widht''; when the word is close to a variable's
    name, the better message is that it names no variable."""
    key = _key_at(values, exc.loc)
    raw = values.get(key) if key else None
    if not isinstance(raw, str) or is_expression(raw) or raw.strip() in variables:
        return exc
    word = raw.strip()
    near = did_you_mean(word, [name for name, value in variables.items() if value is not UNKNOWN])
    if near is None:
        return exc
    return SpecError(f"unknown variable '{word}'", loc=exc.loc, layer=exc.layer, field=exc.field, hint=near)


def _channels_last_note(shape: Shape, loc: Location | None) -> tuple[Note, ...]:
    """A warning when the input looks like height, width, channels ([224, 224, 3]): cnncalc reads
    [C, H, W], so that is 224 channels of 224×3, which is almost never meant. A warning, not an
    error: a 1- or 3-pixel-wide feature map is unusual but possible."""
    if len(shape) != 3 or not all(isinstance(size, int) for size in shape):
        return ()
    c, h, w = shape
    if w in IMAGE_CHANNELS and c not in IMAGE_CHANNELS and min(c, h) >= 4 * w:
        fixed = shape_list((w, c, h))
        return (Note(INPUT_NAME, f"{shape_list(shape)} reads as {c} channels of {h}×{w}; if it is height, width, "
                     f"channels, write [C, H, W]: {fixed}", loc),)
    return ()
