"""The layer-type base class and its registry.

A layer type is one subclass of `Layer`, registered with `@register`; it holds every rule for
that type: its fields and their validation, output shape, parameters, buffers (and what they
hold), cost terms, the cells it shows in the lecture table, its receptive-field step, its torch
lowering and a small example. Nothing outside the class branches on its type.
"""
from __future__ import annotations

import copy
import difflib
import functools
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any, ClassVar, NamedTuple, NoReturn

from ..core.errors import Consequence, ErrorCollector, Location, SpecError, did_you_mean
from ..core.formula import Step, value_of
from ..core.shapes import Shape, shape_list
from ..core.symbolic import definitely, is_symbolic
from .fields import REQUIRED, Field, FieldProblem
from .memory import MemoryContext, Stage, stage_output
from .torchspec import Torch
from .window import RFAxis

REGISTRY: dict[str, type[Layer]] = {}
# per layer type, from_mapping's plan (see Layer._readers): a dict keyed by the class is faster to ask
# than the class's own __dict__, and subclasses do not inherit an entry
ReadersPlan = tuple[dict[str, tuple[str, Callable[[Any], Any]]], dict[str, Any], frozenset[str]]
_READERS: dict[type, ReadersPlan] = {}
# per layer type, from_fields' plan: field name -> parser, the defaults, the required names (see _readers)
_PARSERS: dict[type, tuple[dict[str, Callable[[Any], Any]], dict[str, Any], frozenset[str]]] = {}
# Names of a layer's input size in other tools' layer constructors: not fields here, because the
# size comes from the layer's input (and `out_channels` is no cure for them).
INPUT_SIZE_FIELDS = ("in_channels", "in_features", "input_channels", "in_planes", "inplanes", "in_ch", "c_in",
                     "input_size", "input_dim", "in_dim", "num_features", "normalized_shape")

Warn = Callable[..., None]
RF = tuple[RFAxis, RFAxis]  # receptive field along H and W
EXAMPLE_INPUT = "[4, 9, 11]"  # the input of every layer type's example spec


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make a layer type known under its op name and aliases."""
    for op in (cls.op, *cls.aliases):
        if op in REGISTRY:
            raise RuntimeError(f"op name {op!r} of {cls.__name__} is taken by {REGISTRY[op].__name__}")
        REGISTRY[op] = cls
    return cls


def suggest_ops(word: str, others: tuple[str, ...] = ()) -> list[str]:
    """Up to three op names (or `others`, block names) a mistyped op probably meant: the same name
    in another case or spelling (`ReLU`, `Conv2D`, `max_pool_2d`), another tool's name for a layer
    type (`convolution`, `fully_connected`, `InnerProduct`: each class's `known_as`), then close
    spellings. Names are compared lower case, without '_' and '-'."""
    def key(name: str) -> str:
        return re.sub(r"[^0-9a-z]", "", name.lower())

    names: dict[str, str] = {}  # key -> the name to suggest
    for name in others:
        names.setdefault(key(name), name)
    for op in REGISTRY:
        names.setdefault(key(op), op)
    for cls in layer_types():
        for known in cls.known_as:
            names.setdefault(key(known), cls.op)
    wanted = key(word)
    if not wanted:
        return []
    for candidate in (wanted, re.sub(r"(layer|[123]d)$", "", wanted)):
        if candidate in names:
            return [names[candidate]]
    close = difflib.get_close_matches(wanted, list(names), n=6, cutoff=0.75)
    close += [k for k in names if len(k) >= 3 and len(wanted) >= 3 and (k.startswith(wanted) or wanted.startswith(k))]
    return list(dict.fromkeys(names[k] for k in close))[:3]


def layer_types() -> list[type[Layer]]:
    """Every registered layer type once, in registration order."""
    return list(dict.fromkeys(REGISTRY.values()))


def fused_activation_names() -> tuple[str, ...]:
    """Names accepted by `act:` on conv and linear layers: every standalone activation type."""
    return _activation_names(len(REGISTRY))


@functools.lru_cache(maxsize=1)
def _activation_names(registered: int) -> tuple[str, ...]:
    """Computed once per state of the registry (it only grows): every conv and linear asks."""
    return tuple(op for op, cls in REGISTRY.items() if cls.is_activation)


def activation_terms() -> tuple[str, ...]:
    """The cost term each activation type reports under its own op name (see layers/terms.py)."""
    return tuple(getattr(cls, "term") for cls in layer_types() if cls.is_activation)  # noqa: B009 (activations only)


class LayerProblem(Exception):
    """A rule found the layer unusable; `field` names the field to blame, if one is."""

    def __init__(self, message: str, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field, self.hint = message, field, hint


class Cells(NamedTuple):
    """What a layer shows in the lecture table's Filters, K, S and P columns (a named tuple: one is
    made per layer, five times faster than a frozen dataclass)."""

    filters: str = ""
    kernel: str = ""
    stride: str = ""
    pad: str = ""


class Layer:
    op: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    known_as: ClassVar[tuple[str, ...]] = ()  # other tools' names for it: suggested, not accepted
    summary: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = ()  # collected from the `spec_field` attributes
    _field_index: ClassVar[dict[str, str]]  # name or alias -> field name (see canonical_field)
    # field name -> parser, the defaults, the required names (see _parsed)
    _plan: ClassVar[tuple[dict[str, Callable[[Any], Any]], dict[str, Any], tuple[str, ...]]]
    arity: ClassVar[int | None] = 1  # inputs it takes; None: `min_inputs` or more (a merge)
    min_inputs: ClassVar[int] = 2
    is_activation: ClassVar[bool] = False  # usable as a conv's or linear's fused `act:`
    keeps_field: ClassVar[bool] = True  # see __init_subclass__
    weightless: ClassVar[bool] = True  # see __init_subclass__
    cost_terms: ClassVar[tuple[str, ...]] = ()  # an activation's: the terms its costs report
    # Multiplies its input by learned filters or a weight matrix: the lectures' "conv" and
    # "fully-connected" layers, as the charts' takeaways name them (render/panels.py).
    weight_layer: ClassVar[bool] = False
    buffer_note: ClassVar[str] = ""  # what its buffers hold, for `explain`
    # A small example on a 4×9×11 input: the YAML items of `layers:` (and `outputs:`), shared by the
    # tests that lower, count and verify every layer type. Empty: a single `{op: <op>}`.
    example: ClassVar[str] = ""
    example_outputs: ClassVar[str] = ""
    shares: str | None = None  # the layer whose module (weights) this one uses again (`share:`), if any
    # the layer this one is a copy of (copy_as), None for a prototype: read `layer._prototype or layer`
    # where a property's call counts (the engine, the builder), `prototype` elsewhere
    _prototype: Layer | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # whether a one-input layer's receptive field is its input's (Layer.receptive_field's rule, not
        # overridden): the engine then takes it without the call
        cls.keeps_field = cls.receptive_field is Layer.receptive_field
        # whether it has neither parameters nor buffers (Layer's params and buffers, not overridden): figures()
        # then asks only for its costs
        cls.weightless = cls.params is Layer.params and cls.buffers is Layer.buffers
        declared = {name: value for name, value in vars(cls).items() if isinstance(value, Field)}
        if declared:
            merged = {f.name: f for f in cls.fields}
            merged.update({name: replace(f, name=name) for name, f in declared.items()})
            cls.fields = tuple(merged.values())

    def __init__(self, name: str, values: dict[str, Any] | None = None, *, loc: Location | None = None,
                 field_locs: dict[str, Location | None] | None = None, absent: tuple[str, ...] = ()) -> None:
        """Parse and check the fields; every problem is reported (a SpecErrors when there are
        several). `absent` names keys that were given but cannot be used (an unknown field, a value
        that failed): a required field that one of them is, or misspells, is not reported missing
        too, and the layer is then a Consequence of those problems."""
        self.name = name
        self.loc = loc
        self.field_locs = field_locs or {}
        if not self._parsed(values or {}):
            self._parse_reporting(dict(values or {}), absent)
        try:
            self.check()
        except LayerProblem as exc:
            raise self.error(exc.message, exc.field, exc.hint) from None

    def _parsed(self, values: dict[str, Any]) -> bool:
        """The common case, fast: every key a field, every value good, every required field given;
        the defaults are set at once. False when anything is amiss (_parse_reporting then says what)."""
        cls = type(self)
        plan = cls.__dict__.get("_plan")
        if plan is None:  # per layer type: its fields by name, defaults and required names
            plan = cls._plan = ({f.name: f.parse for f in cls.fields},
                                {f.name: f.default for f in cls.fields if f.default is not REQUIRED},
                                tuple(f.name for f in cls.fields if f.default is REQUIRED))
        parsers, defaults, required = plan
        state = self.__dict__  # fields are plain attributes (a Field is no descriptor)
        state.update(defaults)
        for key, value in values.items():
            parse = parsers.get(key) if type(key) is str else None
            if parse is None:
                return False
            try:
                state[key] = parse(value)
            except FieldProblem:
                return False
        return all(name in values for name in required)

    def _parse_reporting(self, values: dict[str, Any], absent: tuple[str, ...]) -> None:
        """Parse the fields in their order, reporting every problem (see __init__)."""
        problems = ErrorCollector(limit=None)
        incomplete = False
        state = self.__dict__
        for f in self.fields:
            if f.name in values:
                try:
                    state[f.name] = f.parse(values.pop(f.name))
                except FieldProblem as exc:
                    problems.add(self.error(str(exc), f.name))
            elif f.default is REQUIRED:  # f.required
                if any(key in (f.name, *f.aliases) or did_you_mean(key, (f.name, *f.aliases)) for key in absent):
                    incomplete = True
                else:
                    problems.add(self.error(f"'{f.name}' is required for {self.op}", None,
                                            hint=f"add '{f.name}: ...' to the layer"))
            else:
                state[f.name] = f.default
        for key in values:
            problems.add(self.error(f"unknown field '{key}' for {self.op}", None, hint=self.field_hint(key)))
        problems.check()
        if incomplete:
            raise Consequence(f"{self.op} '{self.name}' lacks a field that could not be read", loc=self.loc,
                              layer=self.name)

    @classmethod
    def from_mapping(cls, name: str, mapping: Any, skip: tuple[str, ...] = ("op", "name"),
                     unresolved: tuple[str, ...] = ()) -> Layer:
        """Build from a spec mapping (a yamlsrc.YMap), accepting field aliases; every problem is
        reported, located (a SpecErrors when there are several). `unresolved` names fields left out
        of `mapping` because their values could not be computed (their problems are reported).

        The common case, in one pass: every key a field given once, every value good, every required
        field given, the checks passed. Anything amiss, and _from_mapping_reporting says what."""
        readers, defaults, required = _READERS.get(cls) or cls._readers()
        value_locs = getattr(mapping, "value_locs", {})
        layer_loc = getattr(mapping, "loc", None)
        locs: dict[str, Location | None] = {}
        layer = object.__new__(cls)
        # as __init__ sets it: name, loc, field_locs, the defaults, the values given. Set in this order,
        # one key at a time, the instance's dict shares its keys with the type's other layers, and the
        # rules read its attributes faster (a dict copied or updated into an empty one does not)
        state = layer.__dict__
        state["name"], state["loc"], state["field_locs"] = name, layer_loc, locs
        state.update(defaults)
        for key, value in mapping.items():
            if key in skip:
                continue
            reader = readers.get(key) if type(key) is str else None
            if reader is None or reader[0] in locs:
                return cls._from_mapping_reporting(name, mapping, skip, unresolved)
            field, parse = reader
            try:
                state[field] = parse(value)
            except FieldProblem:
                return cls._from_mapping_reporting(name, mapping, skip, unresolved)
            locs[field] = value_locs.get(key, layer_loc)
        if unresolved or not locs.keys() >= required:
            return cls._from_mapping_reporting(name, mapping, skip, unresolved)
        try:
            layer.check()
        except LayerProblem:
            return cls._from_mapping_reporting(name, mapping, skip, unresolved)
        return layer

    @classmethod
    def from_fields(cls, name: str, loc: Location | None, field_locs: dict[str, Location | None],
                    given: tuple[Any, ...]) -> Layer | None:
        """from_mapping's common case for values whose keys are known to be fields, each given once
        (`field_locs`: field -> where its value stands, in the order of the values `given`): the layer,
        or None when anything is amiss (a value, a required field, a check: from_mapping then says
        what). The layer keeps `field_locs` (its copies share it)."""
        plan = _PARSERS.get(cls)
        if plan is None:
            cls._readers()
            plan = _PARSERS[cls]
        parsers, defaults, required = plan
        layer = object.__new__(cls)
        state = layer.__dict__  # set in from_mapping's order (see there)
        state["name"], state["loc"], state["field_locs"] = name, loc, field_locs
        state.update(defaults)
        try:
            for field, value in zip(field_locs, given):
                state[field] = parsers[field](value)
        except FieldProblem:
            return None
        if not field_locs.keys() >= required:
            return None
        try:
            layer.check()
        except LayerProblem:
            return None
        return layer

    @classmethod
    def _readers(cls) -> ReadersPlan:
        """from_mapping's plan, made once per layer type (kept in _READERS): field name or alias ->
        (field name, parser), the defaults, the required names."""
        parsers = {f.name: f.parse for f in cls.fields}
        readers = _READERS[cls] = (
            {key: (field, parsers[field]) for key, field in cls._index().items()},
            {f.name: f.default for f in cls.fields if f.default is not REQUIRED},
            frozenset(f.name for f in cls.fields if f.default is REQUIRED))
        _PARSERS[cls] = (parsers, readers[1], readers[2])
        return readers

    @classmethod
    def _from_mapping_reporting(cls, name: str, mapping: Any, skip: tuple[str, ...],
                                unresolved: tuple[str, ...]) -> Layer:
        """from_mapping's work when something is amiss: every problem found and reported."""
        values: dict[str, Any] = {}
        locs: dict[str, Location | None] = {}
        given_as: dict[str, str] = {}
        key_locs = getattr(mapping, "key_locs", {})
        value_locs = getattr(mapping, "value_locs", {})
        layer_loc = getattr(mapping, "loc", None)
        problems = ErrorCollector(limit=None)
        absent = list(unresolved)
        index = cls._index()
        for key, value in mapping.items():
            if key in skip:
                continue
            field = index.get(key) if isinstance(key, str) else None
            if field is None:
                problems.add(SpecError(f"unknown field '{key}' for {cls.op}", loc=key_locs.get(key, layer_loc),
                                       layer=name, hint=cls.field_hint(str(key))))
                absent.append(str(key))
            elif field in values:
                problems.add(SpecError(f"'{field}' is given twice, as '{given_as[field]}' and as '{key}'",
                                       loc=key_locs.get(key, layer_loc), layer=name, field=field))
            else:
                values[field], given_as[field] = value, key
                locs[field] = value_locs.get(key, layer_loc)
        layer = None
        try:
            layer = cls(name, values, loc=layer_loc, field_locs=locs, absent=tuple(absent))
        except SpecError as exc:
            problems.add(exc)
        problems.check()
        if layer is None:  # only Consequences: nothing new to report
            raise Consequence(f"{cls.op} '{name}' could not be read", loc=layer_loc, layer=name)
        return layer

    def copy_as(self, name: str, loc: Location | None, field_locs: dict[str, Location | None]) -> Layer:
        """This layer under another name and place. A spec's repeated layers (the same fields after
        their expressions are evaluated) are validated once and share their prototype, so that the
        graph builder and the engine can reuse what the rules computed for the same input shapes."""
        # a copy of the prototype's dict keeps its keys shared with the type's other layers (half the work
        # and memory of a new dict); the keys set are already in it, but for the prototype's
        state = self.__dict__.copy()
        state["_prototype"] = state.get("_prototype") or self  # self.prototype
        state["name"], state["loc"], state["field_locs"] = name, loc, field_locs
        twin = object.__new__(type(self))
        twin.__dict__ = state
        return twin

    def __copy__(self) -> Layer:
        """A copy to change (the grader tries other field values on one): attributes whose names
        start with '_' are derived from the fields (cached window axes, the fused activation, the
        prototype link) and are left behind."""
        twin = object.__new__(type(self))
        twin.__dict__.update({key: value for key, value in self.__dict__.items() if not key.startswith("_")})
        return twin

    @property
    def prototype(self) -> Layer:
        """The layer this one was copied from (`copy_as`), or itself: equal prototypes mean equal fields."""
        return self._prototype or self

    @classmethod
    def field_names(cls) -> list[str]:
        return [name for f in cls.fields for name in (f.name, *f.aliases)]

    @classmethod
    def field_hint(cls, unknown: str) -> str:
        known = ", ".join(f.name for f in cls.fields) or "none"
        if unknown.lower() in INPUT_SIZE_FIELDS:
            return (f"the input's size is not a field: it comes from the layer's input (the layer above, or "
                    f"the one named by 'in:'); remove '{unknown}'. Fields of {cls.op}: {known}")
        near = did_you_mean(unknown, cls.field_names())
        return f"{near + ' ' if near else ''}fields of {cls.op}: {known}"

    @classmethod
    def canonical_field(cls, key: str) -> str | None:
        index = cls.__dict__.get("_field_index")
        return (index if index is not None else cls._index()).get(key)

    @classmethod
    def _index(cls) -> dict[str, str]:
        """Field name or alias -> field name, built once per layer type (fields are fixed when the
        class is made)."""
        index = cls.__dict__.get("_field_index")
        if index is None:
            index = {name: f.name for f in reversed(cls.fields) for name in (f.name, *f.aliases)}
            cls._field_index = index
        return index

    @classmethod
    def example_spec(cls) -> str:
        """The layer type's example as a whole spec (see `example`)."""
        layers = cls.example or f"- {{op: {cls.op}}}"
        text = f"input: {EXAMPLE_INPUT}\nlayers:\n" + "".join(f"  {line}\n" for line in layers.splitlines())
        return text + (f"outputs: {cls.example_outputs}\n" if cls.example_outputs else "")

    # ---- rules: override in each layer type -------------------------------------------------
    def check(self) -> None:
        """Checks across fields, before any shape is known."""

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        raise NotImplementedError

    def params(self, inputs: list[Shape], output: Shape) -> Any:
        """Trainable parameters (a number or a Formula)."""
        return 0

    def buffers(self, inputs: list[Shape], output: Shape) -> Any:
        """Non-trainable state saved with the model (BatchNorm's running statistics)."""
        return 0

    def costs(self, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """Cost terms (see layers/terms.py) for one sample."""
        return {}

    def cells(self, inputs: list[Shape], output: Shape) -> Cells:
        return Cells()

    def figures(self, inputs: list[Shape], output: Shape,
                weighed: AbstractSet[str] | None) -> tuple[Any, Any, dict[str, Any]]:
        """What the engine asks of a layer, in one call: its parameters and buffers as plain values,
        and its cost terms, of which those not in `weighed` (the terms the engine's convention weighs;
        None: all) may be left out. A layer type may compute them together, faster."""
        if self.weightless:
            return 0, 0, self.costs(inputs, output)
        params, buffers = self.params(inputs, output), self.buffers(inputs, output)
        return (params if type(params) is int else value_of(params),
                buffers if type(buffers) is int else value_of(buffers), self.costs(inputs, output))

    def explain_shape(self, inputs: list[Shape], output: Shape) -> list[Step]:
        """How the output size follows from the input (window arithmetic, flattening); [] when
        there is nothing to derive (the explanation then shows the shape)."""
        return []

    def lowering(self, inputs: list[Shape], output: Shape) -> Torch:
        """The torch module this layer is (as data: see torchspec.Torch)."""
        raise NotImplementedError(f"{type(self).__name__} must say what torch module it lowers to")

    def memory(self, inputs: list[Shape], output: Shape, ctx: MemoryContext) -> tuple[Stage, ...]:
        """What its lowering does to memory in eager PyTorch, op by op (see layers/memory.py)."""
        raise NotImplementedError(f"{type(self).__name__} must say what it does to memory")

    def buffer_tensors(self, inputs: list[Shape], output: Shape) -> tuple[tuple[str, int, str], ...]:
        """(name, elements, type) of each buffer its torch module registers, in order; the type is
        PARAM (the model's floating type) or INT64 (BatchNorm's num_batches_tracked)."""
        return ()

    def receptive_field(self, fields: list[RF], inputs: list[Shape], output: Shape) -> RF | None:
        """(H, W) receptive field of the output. A pointwise layer keeps its input's; a merge
        takes the largest of its inputs' (the maximum over paths). None: the output's positions are no
        longer the image's (a reshape): the engine then gives None to what reads it, too."""
        if len(fields) == 1:
            return fields[0]
        areas = [_area(field) for field in fields]
        if not any(is_symbolic(area) for area in areas):
            return fields[areas.index(max(areas))]  # the first of the largest
        # symbolic sizes (--symbolic): the one provably largest, else not known (None)
        return next((field for field, area in zip(fields, areas) if all(definitely(area >= other) for other in areas)),
                    None)

    # ---- helpers for the rules ----------------------------------------------------------------
    def fail(self, message: str, field: str | None = None, hint: str | None = None) -> NoReturn:
        raise LayerProblem(message, field, hint)

    def image(self, shape: Shape) -> tuple[Any, Any, Any]:
        """(C, H, W) of an input that must be a feature map."""
        if len(shape) != 3:
            self.fail(f"{self.op} needs a [C, H, W] feature map, but its input is {shape_list(shape)}")
        return shape[0], shape[1], shape[2]

    def error(self, message: str, field: str | None, hint: str | None = None) -> SpecError:
        """A SpecError located at the field's value (or at the layer)."""
        loc = self.field_locs.get(field, self.loc) if field else self.loc
        return SpecError(message, loc=loc, layer=self.name, field=field, hint=hint)


def _area(field: RF) -> Any:
    """The receptive field's area: which of a merge's inputs sees the most."""
    height, width = field[0].size, field[1].size
    if type(height) is int and type(width) is int:
        return height * width
    return value_of(height) * value_of(width)


def shared_use(owner: Layer, name: str, owner_name: str, loc: Location | None,
               field_locs: dict[str, Location | None]) -> Layer:
    """A second use of `owner`'s module (`share: LAYER`): the same type and fields, no parameters or
    buffers of its own (they are counted once, at the owner), its multiply-adds at every use."""
    use = copy.copy(owner)
    use.__class__ = _shared_class(type(owner))
    use.name, use.loc, use.field_locs, use.shares = name, loc, field_locs, owner_name
    return use


_SHARED_CLASSES: dict[type[Layer], type[Layer]] = {}


def _shared_class(cls: type[Layer]) -> type[Layer]:
    if cls not in _SHARED_CLASSES:
        _SHARED_CLASSES[cls] = _make_shared_class(cls)
    return _SHARED_CLASSES[cls]


def _make_shared_class(cls: type[Layer]) -> type[Layer]:
    def params(self: Layer, inputs: list[Shape], output: Shape) -> Any:
        return 0

    def costs(self: Layer, inputs: list[Shape], output: Shape) -> dict[str, Any]:
        """The work of a use is the owner's rule's (torchinfo's terms read the parameters it uses)."""
        plain = copy.copy(self)
        plain.__class__ = cls
        return plain.costs(inputs, output)

    def figures(self: Layer, inputs: list[Shape], output: Shape,
                weighed: AbstractSet[str] | None) -> tuple[Any, Any, dict[str, Any]]:
        return 0, 0, costs(self, inputs, output)

    return type(cls.__name__, (cls,), {"params": params, "buffers": params, "costs": costs, "figures": figures,
                                       "__doc__": shared_use.__doc__})


class SameShape(Layer):
    """A layer whose output has its input's shape (activations, normalisations, dropout...)."""

    def output_shape(self, inputs: list[Shape], warn: Warn) -> Shape:
        return inputs[0]


# the fused activation layer of each `act:`, without and with act_inplace
_FUSED: tuple[dict[str, Layer], dict[str, Layer]] = ({}, {})


class FusedActivation(Layer):
    """A weight layer (conv, transposed conv, linear) with an optional fused `act:` that adds no
    table row: its costs and its lowering include the activation's."""

    weight_layer = True
    act: str | None
    act_inplace: bool

    def activation(self) -> Layer | None:
        act = self.act
        if not act:
            return None
        made = _FUSED[1] if self.act_inplace else _FUSED[0]  # named by its op: every layer with it shares it
        fused = made.get(act)
        if fused is None:
            fused = made[act] = REGISTRY[act](act, {"inplace": True} if self.act_inplace else None)
        return fused

    def check_act_inplace(self) -> None:
        if self.act_inplace and (self.act is None or "inplace" not in REGISTRY[self.act].field_names()):
            what = f"{self.act} has no in-place form" if self.act else "there is no fused activation ('act:')"
            in_place = [cls.op for cls in layer_types() if cls.is_activation and "inplace" in cls.field_names()]
            self.fail(f"act_inplace: {what}", "act_inplace", hint="in-place activations: " + ", ".join(in_place))

    def with_activation_costs(self, terms: dict[str, Any], output: Shape,
                              weighed: AbstractSet[str] | None = None) -> dict[str, Any]:
        """The layer's own terms and the fused activation's, as a standalone layer reports them; the
        activation's are left out when none of them is `weighed` (see Layer.figures)."""
        act = self.act
        if act and (weighed is None or not weighed.isdisjoint(REGISTRY[act].cost_terms)):
            terms.update(self.activation().costs([output], output))  # type: ignore[union-attr]
        return terms

    def with_activation(self, core: Torch, output: Shape) -> Torch:
        """The lowering followed by the fused activation's, as one nn.Sequential."""
        activation = self.activation()
        if activation is None:
            return core
        return Torch("nn.Sequential", (core, activation.lowering([output], output)), fused=True)

    def with_activation_memory(self, stages: tuple[Stage, ...], output: Shape,
                               ctx: MemoryContext) -> tuple[Stage, ...]:
        """The layer's stages, then the fused activation's, reading the last of them."""
        activation = self.activation()
        if activation is None:
            return stages
        inner = MemoryContext(ctx.training, (ctx.training,), (False,))
        return stages + tuple(replace(stage, inputs=(stage_output(len(stages) - 1),))
                              for stage in activation.memory([output], output, inner))


__all__ = [
    "REGISTRY",
    "REQUIRED",
    "RF",
    "Cells",
    "Field",
    "FusedActivation",
    "Layer",
    "LayerProblem",
    "SameShape",
    "Warn",
    "activation_terms",
    "fused_activation_names",
    "layer_types",
    "register",
    "shared_use",
    "suggest_ops",
]
