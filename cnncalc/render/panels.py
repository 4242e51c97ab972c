"""What the slide-style charts show, as plain data: one bar per layer (or per block) for activation
memory, parameters and multiply-adds in the lecture table's units, and each panel's takeaway,
computed from the numbers (docs/report.md). Drawing is render/plot.py's job.

The takeaways follow the lecture's three sentences ("Most of the memory usage is in the early conv.
layers", "Nearly all parameters are in the fully-connected layers", "Most floating-point ops. occur
in the Conv. layers") with rules that hold for any net:

- memory: the shortest run of consecutive layers that holds more than half of it, and where in the
  network that run lies (early, middle or late third);
- parameters and multiply-adds: the kind of layer that holds the largest share, where a layer's kind
  is read from plain data: a weight layer (its class's `weight_layer`) with a vector output is a
  fully-connected layer, one with a feature map output a conv layer; everything else is "other".
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..analysis.report import Report, Row
from ..core.errors import OptionError, did_you_mean
from ..core.numbers import KB, MILLION, THOUSAND, round_half_up
from ..layers import REGISTRY

MAX_BARS = 60  # without --depth, a larger net is grouped by block until it fits
CONV, FC, OTHER, BLOCK = "convolutional", "fully-connected", "other", "block"  # kinds of bar
KIND_NAMES = {CONV: "conv layers", FC: "fully-connected layers",
              OTHER: "layers that are neither conv nor fully-connected", BLOCK: "blocks"}
LEGEND = {CONV: "conv layers", FC: "fully-connected layers", OTHER: "other layers", BLOCK: "blocks (summed)"}


@dataclass(frozen=True)
class Bar:
    label: str  # the row's name (a layer, or a block with --depth)
    value: int  # the exact count: bytes, parameters or multiply-adds
    kind: str  # CONV, FC, OTHER, or BLOCK for a row that sums a block


@dataclass(frozen=True)
class Takeaway:
    text: str  # the sentence, e.g. "Nearly all parameters are in the fully-connected layers: ..."
    share: Fraction  # of the total, exactly
    layers: tuple[str, ...]  # the layers it is about
    run: tuple[int, int] | None = None  # first and last row of a run of consecutive layers


@dataclass(frozen=True)
class BarPanel:
    key: str  # "memory", "params", "macs"
    title: str  # the axis title with its unit, "Memory (KB)"
    unit: int  # bar heights are value / unit
    unit_name: str  # "KB"
    counted: str  # what the exact values count: "bytes"
    bars: tuple[Bar, ...]
    takeaway: Takeaway | None  # None when the total is zero
    marked: tuple[int, int] | None = None  # first and last bar of the takeaway's run, to mark

    def heights(self) -> list[float]:
        return [bar.value / self.unit for bar in self.bars]


Value = Callable[[Row], int]


@dataclass(frozen=True)
class PanelKind:
    title: str
    unit: int
    unit_name: str
    counted: str
    noun: str  # what the takeaway talks about
    value: Value
    rule: Callable[[Sequence[Row], str, Value], Takeaway | None]  # run_takeaway or kind_takeaway


def layer_kind(row: Row) -> str:
    """CONV, FC or OTHER from the row's data and its layer class; BLOCK for an op that is no layer
    type (the row of a collapsed block). A caller that collapsed a repeat of one layer type knows its
    rows from the layers' names (see `panels`)."""
    cls = REGISTRY.get(row.op)
    if cls is None:
        return BLOCK
    if not cls.weight_layer:
        return OTHER
    return FC if len(row.output_shape) == 1 else CONV


def percent(share: Fraction) -> str:
    """One decimal, rounded half up; never '100.0%' or '0.0%' for a share that is not."""
    tenths = round_half_up(share * 1000)
    if tenths == 1000 and share < 1:
        return ">99.9%"
    if tenths == 0 and share > 0:
        return "<0.1%"
    return f"{tenths // 10}.{tenths % 10}%"


def _quantifier(share: Fraction, noun: str) -> str:
    if share > Fraction(9, 10):
        return f"Nearly all {noun} are"
    if share > Fraction(1, 2):
        return f"Most {noun} are"
    return f"The largest share of the {noun} is"


def _span(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{names[0]}–{names[-1]}"


def run_takeaway(rows: Sequence[Row], noun: str, value: Value) -> Takeaway | None:
    """The shortest run of consecutive layers holding more than half of the total (of two runs
    as short, the larger; then the earlier), and where it lies: 'Most of the activation memory
    is in the early layers: 69.2% in conv1–conv2 (3 of 12 layers)'."""
    values = [value(row) for row in rows]
    total = sum(values)
    if not total:
        return None
    best: tuple[int, int, int] | None = None  # (length, -sum, start)
    start, running = 0, 0
    for end, size in enumerate(values):  # two pointers: the shortest run ending at `end`
        running += size
        while 2 * (running - values[start]) > total:
            running -= values[start]
            start += 1
        if 2 * running > total:
            candidate = (end - start + 1, -running, start)
            best = candidate if best is None or candidate < best else best
    assert best is not None  # the whole network holds all of it
    length, minus_sum, first = best
    last = first + length - 1
    share = Fraction(-minus_sum, total)
    where = ("early", "middle", "late")[min(2, 3 * (first + last) // (2 * len(rows)))]
    names = [row.name for row in rows[first:last + 1]]
    text = (f"Most of the {noun} is in the {where} layers: {percent(share)} in {_span(names)} "
            f"({length} of {len(rows)} layers)")
    return Takeaway(text, share, tuple(names), (first, last))


def kind_takeaway(rows: Sequence[Row], noun: str, value: Value) -> Takeaway | None:
    """The kind of layer (conv, fully-connected, other) holding the largest share: 'Nearly all
    parameters are in the fully-connected layers: 94.0% in fc6–fc8 (3 layers)'."""
    total = sum(value(row) for row in rows)
    if not total:
        return None
    members: dict[str, list[int]] = {CONV: [], FC: [], OTHER: []}
    for index, row in enumerate(rows):
        members[layer_kind(row)].append(index)
    sums = {kind: sum(value(rows[i]) for i in indices) for kind, indices in members.items()}
    kind = max(sums, key=lambda k: sums[k])  # ties: conv, then fully-connected, then other
    indices = [i for i in members[kind] if value(rows[i])]  # the layers of that kind that hold any
    share = Fraction(sums[kind], total)
    names = [rows[i].name for i in indices]
    count = f"{len(names)} layer" + ("s" if len(names) > 1 else "")
    if len(names) == 1:
        where = names[0]
    elif indices[-1] - indices[0] + 1 == len(indices):
        where = f"{_span(names)} ({count})"
    else:
        where = f"{count} from {names[0]} to {names[-1]}"
    text = f"{_quantifier(share, noun)} in the {KIND_NAMES[kind]}: {percent(share)} in {where}"
    return Takeaway(text, share, tuple(names))


PANELS: dict[str, PanelKind] = {
    "memory": PanelKind("Memory (KB)", KB, "KB", "bytes", "activation memory", lambda row: row.memory_bytes,
                        run_takeaway),
    "params": PanelKind("Params (k)", THOUSAND, "k", "parameters", "parameters", lambda row: row.params,
                        kind_takeaway),
    "macs": PanelKind("MACs (M)", MILLION, "M", "multiply-adds", "multiply-adds", lambda row: row.macs,
                      kind_takeaway),
}
# Live memory through one training step (or inference pass), the peak marked: render/timeline.py
# builds it from a MemoryReport. Not drawn unless asked for: the default is the slide's three panels.
TIMELINE = "timeline"
PANEL_KEYS = (*PANELS, TIMELINE)


def chosen_panels(what: str | None) -> list[str]:
    """`--what memory,macs` -> ['memory', 'macs']; None: the slide's three panels."""
    if what is None:
        return list(PANELS)
    keys = [key.strip() for key in what.split(",") if key.strip()]
    if not keys:
        raise OptionError("--what names no panel", hint=f"panels: {', '.join(PANEL_KEYS)}")
    for key in keys:
        if key not in PANEL_KEYS:
            raise OptionError(f"--what: unknown panel '{key}'",
                              hint=did_you_mean(key, PANEL_KEYS) or f"panels: {', '.join(PANEL_KEYS)}")
    return list(dict.fromkeys(keys))


def auto_depth(report: Report, max_bars: int = MAX_BARS) -> int | None:
    """None when every layer fits in `max_bars` bars; else the deepest block level that fits, or
    the level with the fewest bars when none does; None when no level groups anything."""
    if len(report.rows) <= max_bars:
        return None
    deepest = max(row.name.count(".") for row in report.rows)
    bars = {depth: len(report.collapse(depth).rows) for depth in range(deepest, 0, -1)}
    fitting = [depth for depth, count in bars.items() if count <= max_bars]
    if fitting:
        return max(fitting)
    fewest = min(bars, key=lambda depth: (bars[depth], -depth), default=None)
    return fewest if fewest is not None and bars[fewest] < len(report.rows) else None


def bar_of_row(report: Report, grouped: Report) -> list[int]:
    """For each of the report's rows, the index of the grouped row (bar) that holds it: collapsing
    keeps the order and makes each block one run of consecutive rows."""
    owners, bar = [], 0
    for row in report.rows:
        while not (row.name == grouped.rows[bar].name or row.name.startswith(grouped.rows[bar].name + ".")):
            bar += 1
        owners.append(bar)
    return owners


def panels(report: Report, what: Sequence[str] = tuple(PANELS), depth: int | None = None) -> list[BarPanel]:
    """The chosen panels of a (not collapsed) report; `depth` groups the bars by block (the
    takeaways always speak of layers)."""
    grouped = report.collapse(depth) if depth is not None else report
    owners = bar_of_row(report, grouped) if depth is not None else list(range(len(report.rows)))
    single = {row.name for row in report.rows}
    out = []
    for key in what:
        kind = PANELS[key]
        takeaway = kind.rule(report.rows, kind.noun, kind.value)
        marked = (owners[takeaway.run[0]], owners[takeaway.run[1]]) if takeaway and takeaway.run else None
        bars = tuple(Bar(row.name, kind.value(row), layer_kind(row) if row.name in single else BLOCK)
                     for row in grouped.rows)
        out.append(BarPanel(key, kind.title, kind.unit, kind.unit_name, kind.counted, bars, takeaway, marked))
    return out
