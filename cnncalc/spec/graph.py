"""Building the layer graph: blocks expanded, repeats unrolled, names resolved, shapes inferred.

Nodes come out in topological order (a layer can only read earlier layers). Shapes are inferred
while building because a block's layers may depend on its input (`in_channels`).

Every problem is reported, not only the first (up to MAX_ERRORS): a layer that fails stands for
an output of unknown shape, and the layers that read it are still checked field by field, as
are the layers that `when:` skips. The work is bounded before it is done: MAX_NODES layers, and
MAX_WORK units of expansion (each layer's values counted again for every repetition and block
call, skipped layers included), so that a spec cannot make the builder loop for hours.

The builder is one class in layers, each a module of one concern: buildstate.py (its state, scopes,
limits, where a problem is reported), names.py (layer names, module paths), references.py (what
`in:` names), layering.py (a layer item made into a node, prototypes shared), reuse.py (block
expansions reused), and here the items, repeats, conditions and block calls. graphdata.py holds
what it makes: Node, Call, Graph.
"""
from __future__ import annotations

import functools
from typing import Any

from ..core.errors import (
    ErrorCollector,
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
from ..layers import REGISTRY, Layer, suggest_ops
from ..layers.fields import REQUIRED
from .buildstate import MAX_BLOCK_DEPTH, MAX_NODES, MAX_REPEAT, MAX_WORK, CallSite, Exports, Scope
from .expr import UNKNOWN
from .graphdata import CONTROL_KEYS, INPUT_KEYS, MODES, Call, Graph, Node, Origin
from .itemplan import ItemPlan, plan_of
from .names import is_name
from .reuse import BuildReuse
from .spec import INPUT_NAME, Block, Spec, resolve_value
from .yamlsrc import YList, YMap, weight_of

__all__ = ["CONTROL_KEYS", "INPUT_KEYS", "INPUT_NAME", "MAX_BLOCK_DEPTH", "MAX_NODES", "MAX_REPEAT", "MAX_WORK",
           "MODES", "Call", "Graph", "Node", "Origin", "build"]
IMAGE_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA: what a channels-last input ends with
_INPUT_PORT = frozenset((INPUT_NAME,))  # a block's ports when it has one input
# The keys that make an item's block call more than one plain instance (see _call_item): copies, a condition,
# marks, a shared module (an error on a block).
_NOT_PLAIN_CALL = frozenset(("repeat", "first", "chain", "share", "train_only", "checkpoint", "held", "when"))


def build(spec: Spec, input_shape: Shape | None = None, problems: ErrorCollector | None = None) -> Graph:
    """The spec's layers as a graph. Unless `in:` says otherwise, a layer reads the layer before it.
    Every problem found is raised at the end, together with those already in `problems` (the
    ones `parse_spec` found)."""
    collector = problems if problems is not None else ErrorCollector()
    shape = tuple(input_shape) if input_shape is not None else spec.input_shape
    with paused_gc():
        return _Builder(spec, shape, collector).build()


class _Builder(BuildReuse):
    def build(self) -> Graph:
        spec = self.spec
        scope = Scope(dict(spec.variables), "", {INPUT_NAME: INPUT_NAME})
        last = self.expand(spec.items, scope)
        outputs: list[str] = []
        given: list[tuple[str, Location | None]] = list(spec.outputs) or [("", None)]
        for name, loc in given:
            if not name:
                try:  # the last layer, unless it is left out and stands for an input it cannot name
                    outputs.append(self._readable(last, last, self.dangling[last].loc, last, "in")
                                   if last in self.dangling else last)
                except SpecError as exc:
                    self.problems.add(exc)
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
        readers, ends = self.readers, set(outputs)
        notes = tuple([Note(name, "its output is never used", node.layer.loc)
                       for name, node in self.node_by_name.items() if name not in readers and name not in ends])
        notes = _channels_last_note(input_shape, self.input_loc) + spec.notes + notes
        return Graph(spec.name, input_shape, tuple(self.nodes), spec.description, tuple(outputs),
                     self.groups, self.group_outputs, notes, tuple(self.calls), spec, tuple(self.train_only_items),
                     tuple(self.checkpoints), self.held)

    # ---- items ---------------------------------------------------------------------------------
    def expand(self, items: YList, scope: Scope) -> str:
        known = self.explicit_names.get(id(items))  # _explicit_names, found once when they are all good
        scope.later = dict(known[1] if known is not None and known[0] is items else self._explicit_names(items))
        previous = scope.names[INPUT_NAME]
        blocks, item_locs = self.spec.blocks, items.item_locs
        for index, item in enumerate(items):  # the common cases first (item() is the rest)
            if isinstance(item, YMap):
                plan = item.plan or plan_of(item)
                if plan.layer is not None:
                    if not plan.conditional or self._kept(item, scope.variables):
                        previous = self._layer_item(plan, scope, previous)
                        continue
                else:
                    op = item.get("op")
                    if type(op) is str and op in blocks and op not in REGISTRY and _NOT_PLAIN_CALL.isdisjoint(item):
                        previous = self._call_item(plan, blocks[op], scope, previous)
                        continue
            previous = self.item(index, item, item_locs[index], scope, previous)
        for ref, target in scope.held_until:  # `held: LAYER`, LAYER being a later item of this list
            whole = scope.prefix + target
            self.held[ref] = whole if whole in self.groups else scope.names.get(target, ref)
        return previous

    def item(self, index: int, item: Any, loc: Location, scope: Scope, previous: str) -> str:
        """Expand one entry of a `layers:` list; its problems are gathered, and a layer that fails
        stands for an output of unknown shape."""
        if not isinstance(item, YMap):
            self.problems.add(SpecError(f"layer #{index + 1} must be a mapping like "
                                        "'{op: conv, out: 64, kernel: 3}'", loc=loc))
            return self._unknown(f"{scope.prefix}#{index + 1}")
        plan = item.plan or plan_of(item)  # not a plain layer kept, nor a plain block call (see expand)
        given_name = item.get("name")
        if isinstance(given_name, str) and is_name(given_name) and given_name != INPUT_NAME:
            local = given_name
        else:
            local = self._auto_name(item.get("op"), scope)
        scope.later.pop(local, None)
        name = scope.prefix + local
        ref = name
        copies: list[tuple[int, str]] = []
        exports: list[tuple[str, Exports]] = []
        kept_any = False
        kept_list = scope.lists.get(local)  # an alternative's, kept before this one
        repeated = "repeat" in item
        try:
            target = self._target(item, given_name, index)
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
                origin = made(Origin, {"item": item, "local": local, "copy": k}) if repeated else plan.origin_of(local)
                inputs: tuple[str, ...]
                if k and chain:
                    inputs = (ref,)
                elif plan.inputs or self.dangling:
                    inputs = self._item_inputs(item, scope, previous, name, variables, instance)
                else:  # no `in:` (as _inputs)
                    inputs = (previous,)
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
                        if repeated:  # the names now, for the copies after it; its lists below
                            dotted = prefix + "."
                            scope.names.update(zip([dotted + key for key in exported[0]], exported[0].values()))
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
        if repeated:
            scope.lists[local] = [copy for _, copy in copies]
            scope.names.update((f"{local}.{k}", copy) for k, copy in copies)
        for prefix, (names, lists) in exports:
            dotted = prefix + "."
            if not repeated:  # a copy's names are in already
                scope.names.update(zip([dotted + key for key in names], names.values()))
            if lists:
                scope.lists.update(zip([dotted + key for key in lists], lists.values()))
            if prefix == local and local in lists:  # a block's outputs: `NAME.*`
                scope.lists[local] = lists[local]
        return ref

    def _kept(self, item: YMap, variables: dict[str, Any]) -> bool:
        """Whether `when:` keeps a plain layer; False when it cannot tell (item() then reports why)."""
        try:
            return self._condition(item, variables, "")
        except SpecError:
            return False

    def _plain_inputs(self, plan: ItemPlan, scope: Scope, previous: str, name: str) -> tuple[tuple[str, ...], bool]:
        """The first steps of _layer_item and _call_item: the item's inputs, its work charged, and whether it is
        only checked (an input of unknown shape, or a scope that is)."""
        item = plan.item
        inputs = self._inputs(item, scope, previous, name, scope.variables) if plan.inputs or self.dangling \
            else (previous,)
        self.work += item.weight  # weight_of(item); charge() when past the limit
        if self.work > self.max_work:
            self.charge(0, item, name)
        shapes = self.shapes
        check_only = scope.check_only or \
            (shapes.get(inputs[0]) is None if len(inputs) == 1 else None in [shapes.get(ref) for ref in inputs])
        return inputs, check_only

    def _layer_item(self, plan: ItemPlan, scope: Scope, previous: str) -> str:
        """item() and instance() for a plain layer that is kept (see ItemPlan), without the steps it has
        no use for."""
        item = plan.item
        local = plan.local or self._auto_name(plan.base, scope)
        scope.later.pop(local, None)
        name = scope.prefix + local
        variables = scope.variables
        try:
            inputs, check_only = self._plain_inputs(plan, scope, previous, name)
            if check_only:
                module = ""
            elif plan.module_path is not None and plan.module_path[0] != ".":  # a constant `module:` (_module)
                module = self._number(scope.module, plan.module_path[0])
                self._take_module(module, item.value_locs.get("module", item.loc), name)
            elif plan.module:
                module = self._module(item, scope, local, None, variables, name, layer=True)
            else:  # a name: nothing to number (_number), and where the item stands (_module)
                module = scope.module + local
                self._take_module(module, item.loc, name)
            until = self._held(item, variables, name, scope) if plan.held else None
            if len(self.nodes) >= self.max_nodes:  # add_layer's steps
                self._too_many(name, item.loc)
            origin = plan.origin  # plan.origin_of(local), without its call when it has it
            if origin is None or origin.local != local:
                origin = plan.origin_of(local)
            ref = self._placed(self._planned(plan, name, variables), inputs, variables, check_only, module, origin,
                               scope.train_only)
            if until and not check_only:  # as instance() does
                if isinstance(until, str):
                    scope.held_until.append((ref, until))
                else:
                    self.held[ref] = scope.prefix.removesuffix(".")
        except Stopped:
            raise
        except SpecError as exc:
            for one in exc.errors if isinstance(exc, SpecErrors) else (exc,):
                self.report(one, item, scope)
            ref = self._unknown(name)
        if plan.conditional:  # kept: an alternative of the same name after it is left out
            scope.kept.add(local)
        scope.names[local] = ref
        return ref

    def _call_item(self, plan: ItemPlan, block: Block, scope: Scope, previous: str) -> str:
        """item(), instance() and call() for a block call with none of the keys that make copies, skip it or
        mark it (_NOT_PLAIN_CALL): the common case, without the steps it has no use for."""
        item = plan.item
        local = plan.local or self._auto_name(plan.base, scope)
        scope.later.pop(local, None)
        name = scope.prefix + local
        variables = scope.variables
        try:
            inputs, check_only = self._plain_inputs(plan, scope, previous, name)
            if check_only:
                module = ""
            elif plan.module:
                module = self._module(item, scope, local, None, variables, name, layer=False)
            else:  # a name: nothing to number (_number)
                module = scope.module + local
            ref, inner, outputs = self._called(block, name, plan.values, inputs, variables, scope, check_only, module,
                                               plan.origin_of(local), scope.train_only)
        except Stopped:
            raise
        except SpecError as exc:
            for one in exc.errors if isinstance(exc, SpecErrors) else (exc,):
                self.report(one, item, scope)
            ref = scope.names[local] = self._unknown(name)
            return ref
        scope.names[local] = ref
        if inner is not None:  # its names, as `NAME.inner` (but its ports)
            dotted, ports = local + ".", inner.ports
            scope.names.update({dotted + key: value for key, value in inner.names.items() if key not in ports})
            lists = inner.lists
            if lists or block.outputs:
                exported = self._exported_lists(block, inner, name, outputs)
                scope.lists.update(zip([dotted + key for key in exported], exported.values()))
                if local in exported:  # a block's outputs: `NAME.*`
                    scope.lists[local] = exported[local]
        return ref

    def instance(self, target: type[Layer] | Block | None, item: YMap, name: str, inputs: tuple[str, ...],
                 variables: dict[str, Any], scope: Scope, origin: Origin) -> tuple[str, bool, Exports | None]:
        """One repetition of an item: a layer or a block call, or, skipped by `when:`, only checked.
        Returns what it stands for, whether it was kept, and a block's names (`NAME.inner`)."""
        self.work += item.weight  # weight_of(item); charge() when past the limit
        if self.work > self.max_work:
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
        if skipped and self.dangling and inputs[0] in self.dangling:  # its inputs cannot be checked
            if isinstance(target, type):
                self._checked_layer(target, name, values, variables)  # but its fields can
            return inputs[0], False, None
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

    def _held(self, item: YMap, variables: dict[str, Any], name: str, scope: Scope) -> bool | str:
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

    def _repeat(self, item: YMap, variables: dict[str, Any], name: str) -> int:
        loc = item.value_locs["repeat"]
        count = resolve_value(item["repeat"], variables, loc, name, "repeat")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise SpecError(f"must be a whole number >= 0, got {count!r}", loc=loc, layer=name, field="repeat")
        if count > MAX_REPEAT:
            raise SpecError(f"repeat {count} is more than the limit of {MAX_REPEAT}", loc=loc, layer=name,
                            field="repeat")
        return count

    def _values(self, item: YMap, first: bool, name: str) -> YMap:
        """The item's own keys (not control keys), with `first:` overrides on the first repetition."""
        if "first" not in item:  # the common case: the item's keys and locations as they are
            return (item.plan or plan_of(item)).values
        known = self.first_values.get((id(item), first))  # the same for every copy after the first, and every call
        if known is not None and known[0] is item:
            return known[1]
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
        self.first_values[(id(item), first)] = (item, values)  # holds `item`, so that its id is not reused
        return values

    def call(self, block: Block, name: str, values: YMap, inputs: tuple[str, ...], variables: dict[str, Any],
             scope: Scope, check_only: bool = False, module: str = "", origin: Origin | None = None,
             train_only: bool = False) -> tuple[str, Exports]:
        """A block instance: what it stands for, and its names and lists for the caller (`NAME.inner`)."""
        out, inner, outputs = self._called(block, name, values, inputs, variables, scope, check_only, module, origin,
                                           train_only)
        if inner is None:
            return out, ({}, {})
        exported = inner.names.copy()  # but the ports
        for port in inner.ports:
            exported.pop(port, None)
        return out, (exported, self._exported_lists(block, inner, name, outputs))

    @staticmethod
    def _exported_lists(block: Block, inner: Scope, name: str, outputs: list[str]) -> dict[str, list[str]]:
        """A block instance's lists for the caller: its own (but the ports'), and its outputs as `NAME.*`."""
        exported = inner.lists.copy()
        for port in inner.ports:
            exported.pop(port, None)
        if block.outputs:
            exported[name.rsplit(".", 1)[-1]] = outputs  # `NAME.*`, picked up by item()
        return exported

    def _called(self, block: Block, name: str, values: YMap, inputs: tuple[str, ...], variables: dict[str, Any],
                scope: Scope, check_only: bool, module: str, origin: Origin | None,
                train_only: bool) -> tuple[str, Scope | None, list[str]]:
        """call()'s work: what the instance stands for, its scope (None: a skipped recursive call, nothing to
        export) and its outputs."""
        if len(scope.stack) >= MAX_BLOCK_DEPTH:
            last = len(scope.stack) - 1 - scope.stack[::-1].index(block.name) if block.name in scope.stack else None
            cycle = scope.stack[last:] if last is not None else ()
            what = f"block '{block.name}' uses itself ({' -> '.join((*cycle, block.name))}) and " if cycle else ""
            self.problems.stop(SpecError(
                f"{what}blocks are nested more than {MAX_BLOCK_DEPTH} deep", loc=values.loc, layer=name, field="op",
                hint="a block that uses itself needs a 'when:' that ends the recursion" if cycle else None))
        if check_only and block.name in scope.stack:  # a skipped recursive call: checked at the call only
            return self._unknown(name), None, []
        if not block.inputs and block.variadic is None and len(inputs) == 1:  # _ports' common case: one input
            names: dict[str, str] = {INPUT_NAME: inputs[0]}
            lists: dict[str, list[str]] = {}
        else:
            names, lists = self._ports(block, inputs, values, name)
        args = {}
        params = block.params
        for key, value in values.items():
            if key not in params:
                raise SpecError(f"block '{block.name}' has no parameter '{key}'", loc=values.key_locs[key],
                                layer=name, hint=did_you_mean(str(key), block.params)
                                or f"parameters: {', '.join(block.params) or 'none'}")
            args[key] = value if type(value) is int else \
                resolve_value(value, variables, values.value_locs[key], name, key)
        known = self.block_params.get(id(block))
        if known is not None and known[0] is block:
            _, required, defaults, weight = known
        else:
            required, defaults, weight = self._params(block)
        for param in required:
            if param not in args:
                missing = [p for p in required if p not in args]
                raise SpecError(f"block '{block.name}' needs {', '.join(repr(m) for m in missing)}", loc=values.loc,
                                layer=name, hint=f"add {', '.join(f'{m}: ...' for m in missing)}")
        self.work += weight  # charge() when past the limit
        if self.work > self.max_work:
            self.charge(0, values, name)
        shape = self.shapes.get(inputs[0]) if inputs else None
        if shape is None:
            channels = height = width = UNKNOWN
        else:
            channels = shape[0]
            height, width = (shape[1], shape[2]) if len(shape) == 3 else (UNKNOWN, UNKNOWN)
        seen = {**self.spec.variables, "in_channels": channels, "in_height": height, "in_width": width,
                "in_count": len(inputs), **args}
        for key, default, plain in defaults:  # defaults may use earlier parameters and the input size
            if key not in args:
                args[key] = seen[key] = default if plain else resolve_value(default, seen, block.loc, name, key)
        inner = made(Scope, {  # Scope(...) with every field given
            "variables": seen,
            "prefix": name + ".", "names": names,
            "stack": (*scope.stack, block.name), "module": module + "." if module else "", "counters": {},
            "later": {}, "call": made(CallSite, {"layer": name, "block": block.name, "values": values, "scope": scope}),
            "check_only": check_only,
            "lists": lists, "ports": _INPUT_PORT if len(names) == 1 else frozenset(names), "kept": set(),
            "train_only": train_only, "held_until": []})
        out = self._expanded(block, inner, args, inputs, module, check_only or train_only)
        if self.dangling and block.output is None and not block.outputs:  # its last layer is its output
            out = self._readable(out, out.removeprefix(inner.prefix), block.loc, name, "op")
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
        if check_only:
            return self._unknown(name), inner, outputs
        self.groups[name] = (block.name, outputs[0])
        if len(outputs) > 1:
            self.group_outputs[name] = tuple(outputs)
        self.calls.append(made(Call, {
            "name": name, "block": block.name, "args": args, "variables": inner.variables, "input": inputs[0],
            "output": outputs[0], "module": module, "origin": origin, "inputs": inputs,
            "outputs": tuple(outputs)}))
        return outputs[0], inner, outputs

    def _params(self, block: Block) -> tuple[list[str], tuple[tuple[str, Any, bool], ...], int]:
        """A block's required parameters, its defaults (each with whether it is a whole number, which
        resolves to itself) and their weight in work units: once per block."""
        known = self.block_params.get(id(block))
        if known is None or known[0] is not block:
            defaults = tuple([(p, d, type(d) is int) for p, d in block.params.items() if d is not REQUIRED])
            known = self.block_params[id(block)] = (
                block, [p for p, d in block.params.items() if d is REQUIRED], defaults,
                sum(weight_of(d) for _, d, _ in defaults))
        return known[1], known[2], known[3]

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
            names.update(zip(_numbered(block.variadic, len(rest)), rest))
        return names, lists


@functools.lru_cache(maxsize=1024)
def _numbered(port: str, count: int) -> tuple[str, ...]:
    """`port.0`, `port.1`... `port.{count - 1}`: the names of a port's rest (DenseNet's growing inputs)."""
    return tuple([f"{port}.{k}" for k in range(count)])


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
