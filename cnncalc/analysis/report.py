"""Plain result data: one Row per layer and the totals. Renderers and the grader read only this."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, overload

from ..core.errors import Note
from ..core.shapes import Shape
from ..core.symbolic import as_text, is_symbolic
from ..layers import RF, Cells
from ..layers.window import RFAxis

JSON_FORMAT_VERSION = 1
_new, _set = object.__new__, object.__setattr__  # Row.of: what core/records.py's made() does, inline
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


@dataclass(frozen=True)
class Port:
    """One output of a row that gives several: a block instance collapsed by `--depth` that declares
    `outputs:` or whose layers are read from outside it (HRNet's modules, a repeat's copies)."""

    name: str  # as readers name it: the instance or copy that returns it (`stage2.fuse.0`), else `p.prod`
    layer: str  # the layer that computes it
    shape: Shape
    receptive_field: RF | None  # along H and W


class CellsWhenAsked:
    """A layer's table cells (Filters, K, S, P), computed the first time a renderer asks: analysing a
    network for its numbers (a sweep, a budget check, `-f json`) never needs them. The rows of one
    layer's repeats share one (the engine counts a prototype once per input shape)."""

    __slots__ = ("cells", "inputs", "layer", "output")

    def __init__(self, layer: Any, inputs: list[Shape], output: Shape) -> None:
        self.layer, self.inputs, self.output = layer, inputs, output
        self.cells: Cells | None = None

    def get(self) -> Cells:
        if self.cells is None:
            self.cells = self.layer.cells(self.inputs, self.output)
            self.layer = None  # what made them is no longer needed
        return self.cells


class _Cells:
    """Row.cells: a row the engine made keeps a CellsWhenAsked until its cells are read; a row made
    field by field has them in its own attributes, which Python reads before this (no __set__)."""

    @overload
    def __get__(self, row: None, owner: Any = None) -> Cells: ...
    @overload
    def __get__(self, row: Row, owner: Any = None) -> Cells: ...

    def __get__(self, row: Row | None, owner: Any = None) -> Cells:
        if row is None:  # the dataclass's default for the field
            return Cells()
        state = row.__dict__
        source = state.get("_cells")
        if source is None:  # another thread made them meanwhile
            return state["cells"]
        cells = state["cells"] = source.get()
        state.pop("_cells", None)
        return cells


@dataclass(frozen=True)
class Row:
    """One layer's figures."""

    name: str
    op: str
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    params: Any
    buffers: Any
    macs: Any
    memory_bytes: Any
    cells: Cells = _Cells()  # type: ignore[assignment]  # made when read (see CellsWhenAsked)
    receptive_field: tuple[RFAxis, RFAxis] | None = None  # along H and W
    train_only: bool = False  # runs only in training (an auxiliary classifier's layer)
    # a collapsed block's outputs when it gives several; output_shape is the one its name stands for
    ports: tuple[Port, ...] = ()

    @classmethod
    def of(cls, name: str, op: str, inputs: tuple[str, ...], input_shapes: tuple[Shape, ...], output_shape: Shape,
           params: Any, buffers: Any, macs: Any, memory_bytes: Any, cells: CellsWhenAsked,
           receptive_field: tuple[RFAxis, RFAxis] | None, train_only: bool = False) -> Row:
        """Row(...), as the engine makes one per layer (core/records.py), its cells made when read."""
        record = _new(cls)
        _set(record, "__dict__", {"name": name, "op": op, "inputs": inputs, "input_shapes": input_shapes,
                          "output_shape": output_shape, "params": params, "buffers": buffers, "macs": macs,
                          "memory_bytes": memory_bytes, "_cells": cells, "receptive_field": receptive_field,
                          "train_only": train_only})  # ports: the class's default, ()
        return record

    def __getstate__(self) -> dict[str, Any]:
        """Pickled and copied with its cells made (the layer that makes them stays behind)."""
        state = dict(self.__dict__)
        if "_cells" in state:
            state["cells"] = state.pop("_cells").get()
        return state

    @property
    def input_shape(self) -> Shape:
        return self.input_shapes[0]

    @property
    def outputs(self) -> tuple[Port, ...]:
        """Every output of the row: its ports, or its one output."""
        return self.ports or (Port(self.name, self.name, self.output_shape, self.receptive_field),)


@dataclass(frozen=True)
class Totals:
    params: Any
    buffers: Any
    macs: Any
    memory_bytes: Any


@dataclass(frozen=True)
class TrainingOnly:
    """The layers that run only in training (`train_only:`), and what they add to the totals.
    `included`: the report counts them (mode train); otherwise they are left out (mode infer)."""

    items: tuple[str, ...]  # the marked layers or block instances, as the spec names them
    totals: Totals
    included: bool


@dataclass(frozen=True)
class Report:
    name: str
    input_shape: Shape
    dtype: str
    batch: int
    convention: str
    rows: tuple[Row, ...]
    warnings: tuple[Note, ...] = ()
    description: str = ""
    outputs: tuple[tuple[str, Shape], ...] = ()  # the network's outputs: (node name, shape)
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # block instance or repeat -> (op, output)
    group_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # instances with several `outputs:`
    mode: str = "infer"  # infer: the network that runs at inference; train: with the training-only layers
    training_only: TrainingOnly | None = None  # None when the spec marks no layer train_only

    @property
    def totals(self) -> Totals:
        return _sum(self.rows)

    def for_mode(self, mode: str, marked: tuple[str, ...]) -> Report:
        """The report of the network that runs in `mode`, saying what the training-only layers add."""
        extra = [row for row in self.rows if row.train_only]
        if not extra:
            return replace(self, mode=mode)
        kept = self.rows if mode == "train" else tuple(row for row in self.rows if not row.train_only)
        left_out = {row.name for row in extra}
        return replace(self, rows=kept, mode=mode,
                       outputs=tuple(o for o in self.outputs if mode == "train" or o[0] not in left_out),
                       groups={k: v for k, v in self.groups.items() if mode == "train" or v[1] not in left_out},
                       group_outputs={k: v for k, v in self.group_outputs.items()
                                      if mode == "train" or v[0] not in left_out},
                       warnings=tuple(w for w in self.warnings if mode == "train" or w.layer not in left_out),
                       training_only=TrainingOnly(marked, _sum(extra), mode == "train"))

    @property
    def symbolic(self) -> bool:
        """True when sizes or counts are formulas (`--symbolic`)."""
        totals = self.totals
        return any(is_symbolic(value) for value in (*self.input_shape, totals.params, totals.macs,
                                                    totals.memory_bytes))

    def collapse(self, depth: int) -> Report:
        """One row per block instance (or repeat) whose name has more than `depth` parts, summing
        params, buffers, MACs and memory: `--depth 1` prints GoogLeNet one row per inception module.
        Every row's inputs, and the network's outputs, then name what the table shows: the block's
        row (`m15`), or the port of a block that gives several outputs (`stage2.fuse.1`)."""
        if depth < 1:
            raise ValueError("depth must be at least 1")
        segments: list[tuple[str | None, list[Row]]] = []
        for row in self.rows:
            parts = row.name.split(".")
            key = ".".join(parts[:depth]) if len(parts) > depth else None
            if key is not None and segments and segments[-1][0] == key:
                segments[-1][1].append(row)
            else:
                segments.append((key, [row]))
        context = _Context(self)
        rows: list[Row] = []
        labels: dict[str, str] = {}  # a layer read from outside its collapsed block -> the name readers see
        for key, members in segments:
            if key is None:
                rows.append(members[0])
                continue
            row, ports = self._group(key, members, context)
            labels.update((port.layer, port.name) for port in ports if port.layer.startswith(key + "."))
            rows.append(row)
        rows = [row if not any(ref in labels for ref in row.inputs) else
                replace(row, inputs=tuple(labels.get(ref, ref) for ref in row.inputs)) for row in rows]
        return replace(self, rows=tuple(rows), outputs=tuple((labels.get(name, name), shape)
                                                             for name, shape in self.outputs))

    def _group(self, name: str, members: list[Row], context: _Context) -> tuple[Row, list[Port]]:
        """One row for a block instance or repeat: its `members` summed, its inputs those from outside,
        its outputs the ones it declares and the layers read from outside (ports, when several)."""
        inside = {row.name for row in members}
        inputs = tuple(dict.fromkeys(ref for row in members for ref in row.inputs if ref not in inside))
        op, output = self.groups.get(name, ("group", members[-1].name))
        ports = self._ports(name, members, inside, output, context)
        main = next((port for port in ports if port.layer == output), ports[0])  # what the name stands for
        return Row(
            name=name,
            op=op,
            inputs=inputs,
            input_shapes=tuple(context.shape(ref) for ref in inputs),
            output_shape=main.shape,
            params=sum((r.params for r in members), 0),
            buffers=sum((r.buffers for r in members), 0),
            macs=sum((r.macs for r in members), 0),
            memory_bytes=sum((r.memory_bytes for r in members), 0),
            receptive_field=main.receptive_field,
            train_only=all(r.train_only for r in members),
            ports=tuple(ports) if len(ports) > 1 else (),
        ), ports

    def _ports(self, name: str, members: list[Row], inside: set[str], output: str, context: _Context) -> list[Port]:
        """The block's outputs: those it declares (in their order), then every other layer read from
        outside it, in the block's order. One output is named as the block; several each by the
        largest instance inside the block that returns it and no other (`stage2.fuse.0`), else by
        their own name (`p.prod`)."""
        declared = self.group_outputs.get(name, (output,))
        read = {row.name for row in members
                if any(reader not in inside for reader in context.readers.get(row.name, ()))}
        if name in self.group_outputs:
            refs = [*[ref for ref in declared if ref in inside], *[row.name for row in members
                                                                   if row.name in read and row.name not in declared]]
        else:
            refs = [row.name for row in members if row.name in read or row.name in declared]
        refs = refs or [output]  # a block that passes its input on
        labelled = [name] if len(refs) == 1 else [self._port_name(ref, name, refs) for ref in refs]
        return [Port(label, ref, context.shape(ref), context.field(ref)) for label, ref in zip(labelled, refs)]

    def _port_name(self, ref: str, block: str, ports: list[str]) -> str:
        """`stage2.fuse.0.fuse_act` -> `stage2.fuse.0`: the largest instance inside `block` whose one
        output the layer is and that holds no other of the block's `ports`."""
        name = ref
        while (parent := name.rpartition(".")[0]).startswith(block + ".") and \
                self.groups.get(parent, ("", ""))[1] == ref and parent not in self.group_outputs and \
                not any(other != ref and other.startswith(parent + ".") for other in ports):
            name = parent
        return name

    # Jupyter's rich display: IPython asks the object itself. Presentation belongs to render/, so
    # these import it inside the method: the one call into a later stage that tests/test_architecture.py
    # allows (docs/architecture.md).
    def _repr_html_(self) -> str:
        from ..render.notebook import report_html

        return report_html(self)

    def _repr_markdown_(self) -> str:
        from ..render.notebook import report_markdown

        return report_markdown(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (docs/json.md)."""
        totals = self.totals
        return {
            "format_version": JSON_FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "input_shape": [as_text(size) for size in self.input_shape],
            "dtype": self.dtype,
            "bytes_per_element": DTYPE_BYTES[self.dtype],
            "batch": self.batch,
            "convention": self.convention,
            "mode": self.mode,
            "layers": [
                {
                    "name": r.name,
                    "op": r.op,
                    "inputs": list(r.inputs),
                    "input_shape": [as_text(size) for size in r.input_shape],
                    **({"input_shapes": [[as_text(size) for size in shape] for shape in r.input_shapes]}
                       if len(r.input_shapes) > 1 else {}),
                    "output_shape": [as_text(size) for size in r.output_shape],
                    "params": as_text(r.params),
                    "buffers": as_text(r.buffers),
                    "macs": as_text(r.macs),
                    "memory_bytes": as_text(r.memory_bytes),
                    **_field_dict(r.receptive_field),
                    **({"outputs": [_port_dict(port) for port in r.ports]} if r.ports else {}),
                }
                for r in self.rows
            ],
            "totals": {
                "params": as_text(totals.params),
                "buffers": as_text(totals.buffers),
                "macs": as_text(totals.macs),
                "memory_bytes": as_text(totals.memory_bytes),
            },
            "outputs": [{"name": name, "shape": [as_text(size) for size in shape]} for name, shape in self.outputs],
            "training_only": None if self.training_only is None else {
                "items": list(self.training_only.items),
                "included": self.training_only.included,
                "params": as_text(self.training_only.totals.params),
                "buffers": as_text(self.training_only.totals.buffers),
                "macs": as_text(self.training_only.totals.macs),
                "memory_bytes": as_text(self.training_only.totals.memory_bytes),
            },
            "warnings": [{"layer": w.layer, "message": w.message, "location": str(w.loc) if w.loc else None,
                          **({"kind": w.what} if w.what != "layer" else {})}  # a variable's, a block's
                         for w in self.warnings],
        }


class _Context:
    """What grouping rows needs to know of the whole report: each layer's row and its readers."""

    def __init__(self, report: Report) -> None:
        self.rows = {row.name: row for row in report.rows}
        self.input_shape = report.input_shape
        self.readers: dict[str, list[str]] = {}
        for row in report.rows:
            for ref in row.inputs:
                self.readers.setdefault(ref, []).append(row.name)
        for name, _ in report.outputs:
            self.readers.setdefault(name, []).append("")  # the network's output: read from outside

    def shape(self, ref: str) -> Shape:
        row = self.rows.get(ref)
        return row.output_shape if row is not None else self.input_shape

    def field(self, ref: str) -> RF | None:
        row = self.rows.get(ref)
        return row.receptive_field if row is not None else None


def _sum(rows: tuple[Row, ...] | list[Row]) -> Totals:
    return Totals(
        params=sum((r.params for r in rows), 0),
        buffers=sum((r.buffers for r in rows), 0),
        macs=sum((r.macs for r in rows), 0),
        memory_bytes=sum((r.memory_bytes for r in rows), 0),
    )


def plain_number(value: Any) -> Any:
    """A Fraction as an int when whole, else a float (JSON has no fractions; one too large for a
    float stays a Fraction, which the JSON writer prints approximately); a symbolic expression as a
    string that sympy.sympify parses."""
    from fractions import Fraction

    if isinstance(value, Fraction):
        if value.denominator == 1:
            return int(value)
        try:
            return float(value)
        except OverflowError:
            return value
    return as_text(value)


def _port_dict(port: Port) -> dict[str, Any]:
    return {"name": port.name, "layer": port.layer, "output_shape": [as_text(size) for size in port.shape],
            **_field_dict(port.receptive_field)}


def _field_dict(field: tuple[RFAxis, RFAxis] | None) -> dict[str, Any]:
    if field is None:
        return {}
    return {
        "receptive_field": [plain_number(axis.size) for axis in field],
        "jump": [plain_number(axis.jump) for axis in field],
        "rf_start": [plain_number(axis.start) for axis in field],
    }
