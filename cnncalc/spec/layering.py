"""A layer item made into a node: its values resolved, its fields checked (once per prototype: equal
values of equal types share one), its output shape inferred (once per prototype and input shapes);
`share:` (a layer that calls another's module again)."""
from __future__ import annotations

from itertools import repeat
from typing import Any

from ..core.errors import Consequence, ErrorCollector, Location, SpecError
from ..core.shapes import Shape
from ..layers import Layer, LayerProblem, shared_use
from .buildstate import Scope, Values
from .graphdata import Node, Origin
from .itemplan import ItemPlan, number_of, values_number
from .references import BuildReferences
from .spec import is_literal, names_read, oversized, resolve_value
from .yamlsrc import YMap

_ABSENT = object()  # the value of a name that is no variable
_new, _set = object.__new__, object.__setattr__


class BuildLayers(BuildReferences):
    def add_layer(self, cls: type[Layer], name: str, values: YMap, inputs: tuple[str, ...],
                  variables: dict[str, Any], check_only: bool = False, module: str = "",
                  origin: Origin | None = None, train_only: bool = False) -> str:
        """Check the layer; unless `check_only`, infer its output and add it to the graph."""
        if len(self.nodes) >= self.max_nodes:
            self._too_many(name, values.loc)
        layer = self._checked_layer(cls, name, values, variables)
        return self._placed(layer, inputs, variables, check_only, module, origin, train_only)

    def _too_many(self, name: str, loc: Location) -> None:
        self.problems.stop(SpecError(f"the network has more than {self.max_nodes:,} layers", loc=loc, layer=name,
                                     hint="see docs/limits.md"))

    def _placed(self, layer: Layer, inputs: tuple[str, ...], variables: dict[str, Any], check_only: bool,
                module: str, origin: Origin | None, train_only: bool) -> str:
        """A checked layer added to the graph (unless `check_only`), its output inferred."""
        cls = type(layer)
        arity = cls.arity
        if arity is None:
            if len(inputs) < cls.min_inputs:
                raise layer.error(f"{cls.op} merges two or more inputs; list them with 'in: [a, b]'", "in")
        elif len(inputs) != arity:
            raise layer.error(f"{cls.op} takes {arity} input, but is given {len(inputs)}", "in")
        name = layer.name
        if check_only:
            return self._unknown(name)
        if len(inputs) == 1:  # known: check_only otherwise
            shapes: tuple[Shape, ...] = (self.shapes[inputs[0]],)  # type: ignore[assignment]
        else:
            shapes = tuple([shape for ref in inputs if (shape := self.shapes.get(ref)) is not None])
        key = (layer._prototype or layer, shapes)  # layer.prototype
        found = self.outputs.get(key)
        if found is None:  # a repeated layer on the same input shapes: shaped once
            notes: list[tuple[str, str | None]] = []
            try:
                output = tuple(layer.output_shape(list(shapes),
                                                  lambda message, field=None: notes.append((message, field))))
            except LayerProblem as exc:
                raise layer.error(exc.message, exc.field, exc.hint) from None
            too_large = oversized(output)
            if too_large:
                raise layer.error(f"its output {too_large}", None)
            found = self.outputs[key] = (output, tuple(notes))
        output, warnings = found
        if not train_only:
            reads = next((ref for ref in inputs if ref in self.train_only_nodes), None) if self.train_only_nodes \
                else None
            if reads is not None:
                raise layer.error(f"reads '{reads}', which runs only in training (train_only), but runs at inference",
                                  "in", hint="mark it train_only too, or read another layer")
        else:
            self.train_only_nodes.add(name)
        node = _new(Node)  # made(Node, ...), without its call
        _set(node, "__dict__", {"layer": layer, "inputs": inputs, "input_shapes": shapes, "output_shape": output,
                                "notes": warnings, "module": module or name, "variables": variables,
                                "origin": origin, "train_only": train_only})
        self.nodes.append(node)
        self.node_by_name[name] = node
        self.shapes[name] = output
        self.readers.update(inputs)
        return name

    def _planned(self, plan: ItemPlan, name: str, variables: dict[str, Any]) -> Layer:
        """_checked_layer for a plain layer item, with what its plan knows: values that are literal share
        a prototype by their content's number; others by it and the values of the variables they read."""
        if plan.content is None:
            return self._checked_layer(plan.layer, name, plan.values, variables)  # type: ignore[arg-type]
        if plan.literal and (not plan.words or variables.keys().isdisjoint(plan.words)):
            prototype = self.prototypes.get(plan.content)  # as _literal_layer keys them
            if prototype is None:  # the values as they stand are the layer's: made from the plan, in one pass
                layer = plan.layer.from_fields(name, plan.item.loc, plan.field_locs, plan.given)  # type: ignore
                if layer is None:  # something is amiss: reported as any layer's values are
                    return self._literal_layer(plan.layer, name, plan.values)  # type: ignore[arg-type]
                self.prototypes[plan.content] = layer
                return layer
            return prototype.copy_as(name, plan.item.loc, plan.field_locs)
        seen: Any = None
        try:
            read = list(map(variables.get, plan.reads, repeat(_ABSENT, len(plan.reads))))  # no comprehension
            seen = (plan.content, *read, *map(type, read))
            prototype = self.planned_prototypes.get(seen)
        except TypeError:  # a list among the variables it reads
            seen = prototype = None
        if prototype is not None:
            return prototype.copy_as(name, plan.item.loc, plan.field_locs)
        layer = self._resolved_layer(plan, name, variables)
        if seen is not None:
            self.planned_prototypes[seen] = layer.prototype
        return layer

    def _resolved_layer(self, plan: ItemPlan, name: str, variables: dict[str, Any]) -> Layer:
        """_new_layer for a plain layer item whose values read a variable (see _planned): its plan knows
        that every key is a field (and which), and that resolving changes something."""
        cls: type[Layer] = plan.layer  # type: ignore[assignment]
        field_locs = plan.field_locs
        try:  # the common case, in one pass: every value resolved, the layer made from them
            given = tuple([resolve_value(value, variables, loc, name, field)
                           for value, (field, loc) in zip(plan.given, field_locs.items())])
        except SpecError:
            pass  # reported below
        else:
            try:  # numbered as a plan numbers literal values: equal layers share one prototype
                number: int | None = number_of((cls, *field_locs, *given, *map(type, given)))
            except TypeError:  # a list among them
                number = None
            prototype = self.prototypes.get(number) if number is not None else None
            if prototype is not None:
                return prototype.copy_as(name, plan.item.loc, field_locs)
            layer = cls.from_fields(name, plan.item.loc, field_locs, given)
            if layer is not None:
                if number is not None:
                    self.prototypes[number] = layer
                return layer
        values = plan.values
        resolved = YMap()
        resolved.loc, resolved.key_locs, resolved.value_locs = values.loc, values.key_locs, values.value_locs
        problems: ErrorCollector | None = None
        unresolved = []
        for (key, value), (field, loc) in zip(values.items(), plan.field_locs.items()):
            try:
                resolved[key] = resolve_value(value, variables, loc, name, field)
            except SpecError as exc:
                if problems is None:
                    problems = ErrorCollector(limit=None)
                problems.add(exc)
                unresolved.append(field)
        return self._layer_of(plan.layer, name, values, resolved, unresolved, problems,  # type: ignore[arg-type]
                              plan.field_locs)

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

    def _known_values(self, cls: type[Layer], values: YMap) -> Values | None:
        """What _checked_layer needs to know of an item's values, found once per item from the
        second time it is seen (most items of a long spec's top level are seen once); None the
        first time, and when they cannot be compared (a list among them)."""
        known = self.values_seen.get(id(values))
        if not isinstance(known, Values) or known.values is not values:
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
            known = Values(values, reads, content, field_locs)
            self.values_seen[id(values)] = known
        return known if known.reads is not None else None

    def _new_layer(self, cls: type[Layer], name: str, values: YMap,
                   variables: dict[str, Any]) -> Layer:
        """_checked_layer's work: its values resolved and its fields checked, or a prototype's copy."""
        for value in values.values():
            if not is_literal(value, variables):
                break
        else:  # resolving changes nothing
            return self._literal_layer(cls, name, values)
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
        return self._layer_of(cls, name, values, resolved, unresolved, problems, field_locs)

    def _layer_of(self, cls: type[Layer], name: str, values: YMap, resolved: YMap, unresolved: list[str],
                  problems: ErrorCollector | None, field_locs: dict[str, Location | None]) -> Layer:
        """_new_layer's end: the layer of the resolved values, a prototype's copy when one has them."""
        shared: int | None = None
        if not unresolved:
            shared = values_number(cls, resolved)  # None: a list among the values
            prototype = self.prototypes.get(shared) if shared is not None else None
            if prototype is not None:  # its keys were all fields, or it would have failed
                return prototype.copy_as(name, values.loc, field_locs)
        layer = None
        try:
            layer = cls.from_mapping(name, resolved, skip=(), unresolved=tuple(unresolved))
        except SpecError as exc:
            if problems is None:
                problems = ErrorCollector(limit=None)
            problems.add(exc)
        if problems is not None:
            problems.check()
        if layer is None or unresolved:  # what is left follows from problems reported elsewhere
            raise Consequence(f"{cls.op} '{name}' could not be read", loc=values.loc, layer=name)
        if shared is not None:
            self.prototypes[shared] = layer
        return layer

    def _literal_layer(self, cls: type[Layer], name: str, values: YMap) -> Layer:
        """_new_layer for values that resolve to themselves: they are the layer's values as they stand."""
        shared = values_number(cls, values)  # None: a list among the values
        prototype = self.prototypes.get(shared) if shared is not None else None
        if prototype is not None:  # the key of a prototype: its values resolved alike (_new_layer)
            return prototype.copy_as(name, values.loc, self._field_locs(cls, values))
        try:
            layer = cls.from_mapping(name, values, skip=())
        except SpecError as exc:  # as _new_layer reports it
            problems = ErrorCollector(limit=None)
            problems.add(exc)
            problems.check()
            raise Consequence(f"{cls.op} '{name}' could not be read", loc=values.loc, layer=name) from None
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

    def share(self, cls: type[Layer], item: YMap, name: str, values: YMap, inputs: tuple[str, ...],
              variables: dict[str, Any], scope: Scope, check_only: bool, origin: Origin,
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
