"""What the graph builder keeps while it works: its state, a block instance's scope, the limits on the
work, and how a problem is placed where it can be fixed. The builder's parts (names.py,
references.py, layering.py, reuse.py, graph.py) each add their steps on top of BuildState."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..core.errors import Consequence, ErrorCollector, InputError, Location, SpecError, did_you_mean
from ..core.shapes import Shape
from ..layers import Layer
from .expr import UNKNOWN, ExprError, is_expression, tokenize
from .graphdata import Call, Node
from .spec import INPUT_NAME, Block, Spec
from .workfloor import least_work
from .yamlsrc import YList, YMap

MAX_REPEAT = 1000
# The largest published CNNs have a few thousand layers; 100,000 take about 10 s and 430 MB to
# analyse (200,000 took 17 s of CPU and 760 MB as JSON; docs/limits.md).
MAX_NODES = 100_000
MAX_BLOCK_DEPTH = 32  # also the depth of a recursive block (DLA's tree)
# Units of weight_of (a value, or 4 characters of text). 2,000,000 of the cheapest kind (layers
# skipped by `when`, long expressions) cost 3 to 6 s; MAX_NODES real layers use about 1,000,000.
MAX_WORK = 2_000_000
Exports = tuple[dict[str, str], dict[str, list[str]]]  # a block instance's names and lists


@dataclass
class CallSite:
    """Where a block instance was called: its arguments' values stand at `values`' locations."""

    layer: str
    block: str
    values: YMap
    scope: Scope


@dataclass
class Scope:
    variables: dict[str, Any]
    prefix: str
    names: dict[str, str]  # local name -> node (or INPUT_NAME) it stands for; `blk.a`, `rep.0` too
    stack: tuple[str, ...] = ()
    module: str = ""  # the module path of the block instance (with a trailing '.'), '' at the top
    counters: dict[str, int] = field(default_factory=dict)  # automatic names given so far, by their start
    later: dict[str, Location] = field(default_factory=dict)  # explicit names not reached yet
    call: CallSite | None = None  # the block call this scope expands, if any
    check_only: bool = False  # a skipped block, or one whose input is unknown: check, build nothing
    lists: dict[str, list[str]] = field(default_factory=dict)  # `NAME.*`: a repeat's copies, a port's rest...
    ports: frozenset[str] = frozenset()  # the block's inputs: not exported as `instance.port`
    kept: set[str] = field(default_factory=set)  # names of alternatives (same name, each with `when:`) kept
    train_only: bool = False  # inside a block instance marked `train_only:`
    held_until: list[tuple[str, str]] = field(default_factory=list)  # `held: LAYER`: (output, LAYER)


class Values(NamedTuple):
    """An item's values as _checked_layer knows them: the values (kept, so that their id is not
    reused), the variables they read (None: not tracked), their keys and values with each value's
    type (`1`, `1.0` and `true` differ) as a number, and where each field's value stands."""

    values: YMap
    reads: tuple[str, ...] | None
    content: Any
    field_locs: dict[str, Location | None]


class BuildState:
    """The builder's state (see graph._Builder), its work counted and its problems reported."""

    def __init__(self, spec: Spec, input_shape: Shape | None, problems: ErrorCollector) -> None:
        self.spec = spec
        self.problems = problems
        self.shapes: dict[str, Shape | None] = {INPUT_NAME: input_shape}  # absent or None: not known
        self.nodes: list[Node] = []
        self.groups: dict[str, tuple[str, str]] = {}
        self.group_outputs: dict[str, tuple[str, ...]] = {}  # block instances with several outputs
        self.node_by_name: dict[str, Node] = {}
        self.calls: list[Call] = []
        self.modules: dict[str, Location] = {}  # module paths of the layers, and where they were given
        self.module_prefixes: set[str] = set()  # the containers on the way to them
        self.numbers: Counter = Counter()  # container path -> the number `#` takes next there
        self.unnumbered: dict[str, list[str]] = {}  # container -> numbered paths not counted yet: _settle
        self.readers: set[str] = set()  # the layers (and the input) that some layer reads
        # Repeated layers (equal fields) are validated once and share a prototype, and the output
        # shape of a prototype on given input shapes is computed once (see Layer.copy_as).
        self.prototypes: dict[Any, Layer] = {}
        self.outputs: dict[Any, tuple[Shape, tuple[tuple[str, str | None], ...]]] = {}
        self.field_names: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # (type, keys) -> their fields
        self.expansions: dict[Any, Any] = {}  # see _expanded
        self.plain_blocks: dict[int, bool] = {}  # by id(block): see _plain_block
        self.block_params: dict[int, tuple[Any, list[str], tuple[tuple[str, Any, bool], ...], int]] = {}  # _params
        self.reported = 0  # problems given to report(), Consequences included
        self.contents: dict[Any, int] = {}  # an item's values (keys, types, values) -> their number
        self.layers_seen: dict[Any, Layer] = {}  # prototypes by values and the variables they read
        self.planned_prototypes: dict[Any, Layer] = {}  # by it and the variables it reads
        self.values_seen: dict[int, Values | YMap] = {}  # by id(values): see _known_values
        self.explicit_names: dict[int, tuple[YList, dict[str, Location]]] = {}  # by id(items)
        self.first_values: dict[tuple[int, bool], tuple[YMap, YMap]] = {}  # an item's values with `first:`
        self.conditions: dict[tuple[int, str], tuple[dict[str, Any], bool]] = {}  # by id(variables), text
        self.work = 0
        self.floors: dict[str, int] = {}  # the least work of a block call, by block name (see workfloor.py)
        self.max_work, self.max_nodes = MAX_WORK, MAX_NODES  # read here, so that a test can lower them
        self.input_loc = spec.input_loc if input_shape is spec.input_shape else None
        self.train_only_nodes: set[str] = set()
        self.train_only_items: list[str] = []
        self.checkpoints: list[str] = []
        self.held: dict[str, str] = {}
        self.dangling: dict[str, SpecError] = {}  # left-out layers whose inputs name no layer: _item_inputs

    def charge(self, units: int, item: YMap, name: str) -> None:
        self.work += units
        if self.work > self.max_work:
            self.problems.stop(SpecError(
                f"expanding the spec takes more than {self.max_work:,} steps (every repetition and block call "
                "counts its layers' values again, skipped layers too)", loc=item.loc, layer=name,
                hint="see docs/limits.md"))

    def charge_ahead(self, item: YMap, target: type[Layer] | Block | None, copies: int, name: str) -> None:
        """Stop before expanding `copies` more copies of `item` that are sure to pass the work limit."""
        floor = least_work(item, target, self.spec.blocks, self.floors, self.max_work + 1)
        if self.work + copies * floor > self.max_work:
            self.charge(copies * floor, item, name)

    @staticmethod
    def _unknown(name: str) -> str:
        """A reference to an output whose shape is not known (a layer that failed, or one that was
        only checked): it has no entry in `shapes`, which costs nothing for a million skipped layers."""
        return name

    # ---- reporting -----------------------------------------------------------------------------
    def report(self, exc: InputError, item: YMap, scope: Scope) -> None:
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
                place = "" if where is None else f" ({where.seen_from(call.values.value_locs[param])})"
                first_use = f"block '{call.block}' uses it {use} of layer '{exc.layer}'{place}"
            exc = SpecError(exc.message, loc=call.values.value_locs[param], layer=call.layer, field=param,
                            hint="; ".join(filter(None, [exc.hint if not first_use else None, first_use])))
            values, scope = call.values, call.scope
        self.problems.add(_misspelt_variable(exc, values, scope.variables))


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

