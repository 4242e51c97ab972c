"""The lecture table: Layer, C_in, H/W, Filters, K, S, P, C_out, H'/W', Mem (KB), Params (k), MACs (M),
and any other columns chosen with `--columns` (receptive field, jump, buffers...)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from ..analysis.report import Report, Row, Totals
from ..core.errors import OptionError, did_you_mean
from ..core.numbers import KB, MILLION, THOUSAND, float_text, grouped, human, human_bytes, integer_text, scaled
from ..core.shapes import Shape, format_shape, is_sequence
from ..core.symbolic import text as symbolic_text
from ..core.text import printable
from ..layers.fields import format_pair
from .grid import Column, Grid


def _channels(shape: Shape) -> str:
    """C of a feature map or a vector; a sequence of tokens whole, L×D (tokens × features, 197×768 as the
    lectures write a ViT's), which has no channels and no H/W."""
    return format_shape(shape) if is_sequence(shape) else symbolic_text(shape[0])


def _spatial(shape: Shape) -> str:
    """H×W of a feature map (one number when square); the sizes after the first of a tensor of
    another rank (2×64×4×16: 64×4×16); nothing for a vector or a sequence of tokens (see _channels)."""
    if len(shape) == 3:
        return format_pair(tuple(shape[1:3]))
    if is_sequence(shape):
        return ""
    return "\u00d7".join(symbolic_text(size) for size in shape[1:])


def _input_spatial(row: Row) -> str:
    """H/W of the inputs: one size when they share it, else each input's, in C_in's order (HRNet's
    modules read 56+28+14); a vector or a sequence of tokens has none (an empty place in the list)."""
    sizes = [_spatial(shape) for shape in row.input_shapes]
    return sizes[0] if len(set(sizes)) == 1 else "+".join(sizes)


def _fraction(value: Any) -> str:
    """A receptive-field figure: an int, a Fraction (4 significant digits) or a symbolic size."""
    if getattr(value, "is_Rational", False):  # a sympy number: as the Fraction it is
        value = Fraction(int(value.p), int(value.q))
    if isinstance(value, int):
        return integer_text(value)
    if isinstance(value, Fraction):
        return integer_text(int(value)) if value.denominator == 1 else float_text(value, ".4g")
    return symbolic_text(value)


def _field(row: Row, attribute: str) -> str:
    if row.receptive_field is None:
        return ""
    height, width = (_fraction(getattr(axis, attribute)) for axis in row.receptive_field)
    return format_pair((height, width))


@dataclass(frozen=True)
class TableColumn:
    header: str
    cell: Callable[[Row], str]
    total: Callable[[Totals], str] | None = None  # what the totals row shows, if anything
    left: bool = False


TABLE_COLUMNS: dict[str, TableColumn] = {
    "layer": TableColumn("Layer", lambda r: r.name, left=True),
    "op": TableColumn("Op", lambda r: r.op, left=True),
    "from": TableColumn("From", lambda r: "", left=True),  # filled by from_cells()
    "c_in": TableColumn("C_in", lambda r: "+".join(runs([_channels(shape) for shape in r.input_shapes]))),
    "hw_in": TableColumn("H/W", _input_spatial),
    "filters": TableColumn("Filters", lambda r: r.cells.filters),
    "kernel": TableColumn("K", lambda r: r.cells.kernel),
    "stride": TableColumn("S", lambda r: r.cells.stride),
    "pad": TableColumn("P", lambda r: r.cells.pad),
    "c_out": TableColumn("C_out", lambda r: _channels(r.output_shape)),
    "hw_out": TableColumn("H'/W'", lambda r: _spatial(r.output_shape)),
    "memory_kb": TableColumn("Mem\n(KB)", lambda r: scaled(r.memory_bytes, KB), lambda t: scaled(t.memory_bytes, KB)),
    "params_k": TableColumn("Params\n(k)", lambda r: scaled(r.params, THOUSAND), lambda t: scaled(t.params, THOUSAND)),
    "macs_m": TableColumn("MACs\n(M)", lambda r: scaled(r.macs, MILLION), lambda t: scaled(t.macs, MILLION)),
    "params": TableColumn("Params", lambda r: grouped(r.params), lambda t: grouped(t.params)),
    "buffers": TableColumn("Buffers", lambda r: grouped(r.buffers), lambda t: grouped(t.buffers)),
    "macs": TableColumn("MACs", lambda r: grouped(r.macs), lambda t: grouped(t.macs)),
    "memory_bytes": TableColumn("Mem (B)", lambda r: grouped(r.memory_bytes), lambda t: grouped(t.memory_bytes)),
    "rf": TableColumn("RF", lambda r: _field(r, "size")),
    "jump": TableColumn("Jump", lambda r: _field(r, "jump")),
    "rf_start": TableColumn("RF centre", lambda r: _field(r, "start")),
}
# The columns of a row's output: a row with several outputs (ports) shows them on lines of their own.
OUTPUT_COLUMNS = frozenset({"c_out", "hw_out", "rf", "jump", "rf_start"})
# The lecture's rounded columns and the exact integer behind each (Row field, what it counts).
EXACT_VALUES = {"memory_kb": ("memory_bytes", "bytes"), "params_k": ("params", "parameters"),
                "macs_m": ("macs", "MACs")}
LECTURE = ("layer", "c_in", "hw_in", "filters", "kernel", "stride", "pad", "c_out", "hw_out", "memory_kb",
           "params_k", "macs_m")
HEADERS = tuple(TABLE_COLUMNS[key].header for key in LECTURE)


def choose_columns(option: str | None) -> tuple[tuple[str, ...], bool]:
    """`--columns`: None for the lecture's; 'rf,jump' for exactly those (after the layer name);
    '+rf,jump' for the lecture's and those. Returns (keys, whether a From column may be added)."""
    if option is None:
        return LECTURE, True
    extend = option.startswith("+")
    keys = [key.strip() for key in option.lstrip("+").split(",") if key.strip()]
    for key in keys:
        if key not in TABLE_COLUMNS:
            raise OptionError(f"--columns: unknown column '{key}'",
                            hint=did_you_mean(key, TABLE_COLUMNS) or f"columns: {', '.join(TABLE_COLUMNS)}")
    if extend:
        return (*LECTURE, *[k for k in keys if k not in LECTURE]), True
    return tuple(dict.fromkeys(["layer", *keys])), "from" in keys


RUN = 4  # equal channel counts written once with their count (`64+5×32`) from this many
RANGE = 3  # consecutive copies of a repeat written as a range (`denselayer.0-5.conv2`) from this many


def runs(cells: list[str], counted: str = "{count}×{cell}") -> list[str]:
    """A run of RUN or more equal cells written once with its count: 64, 32, 32, 32, 32, 32 -> 64, 5×32."""
    out: list[str] = []
    k = 0
    while k < len(cells):
        end = k
        while end + 1 < len(cells) and cells[end + 1] == cells[k]:
            end += 1
        count = end - k + 1
        out += [counted.format(count=count, cell=cells[k])] if count >= RUN else cells[k:end + 1]
        k = end + 1
    return out


def _relative(ref: str, row: Row) -> str:
    """An input's name as seen from the row: `layer2.0.bn2` from `layer2.0.add1` is `bn2`, and
    `d.layer.0.conv` from `d.layer.1.cat` is `layer.0.conv` (never a bare copy number)."""
    mine, theirs = row.name.split(".")[:-1], ref.split(".")
    common = 0
    while common < min(len(mine), len(theirs) - 1) and mine[common] == theirs[common]:
        common += 1
    while common and theirs[common].isdigit():
        common -= 1
    return ".".join(theirs[common:])


def _copy_ranges(refs: list[str]) -> list[str]:
    """Consecutive copies of one repeat written as a range: `layer.0.conv, ..., layer.5.conv` -> `layer.0-5.conv`."""
    out: list[str] = []
    k = 0
    while k < len(refs):
        head, number, tail = _copy_parts(refs[k])
        end = k
        if number is None:
            out.append(refs[k])
            k += 1
            continue
        while end + 1 < len(refs) and _copy_parts(refs[end + 1]) == (head, number + end + 1 - k, tail):
            end += 1
        out += [f"{head}{number}-{number + end - k}{tail}"] if end - k + 1 >= RANGE else refs[k:end + 1]
        k = end + 1
    return out


def _copy_parts(ref: str) -> tuple[str, int | None, str]:
    """`layer.3.conv` -> ('layer.', 3, '.conv'): the last copy number in a name."""
    parts = ref.split(".")
    for index in range(len(parts) - 1, -1, -1):
        if parts[index].isdigit():
            return ".".join(parts[:index]) + ".", int(parts[index]), "".join("." + p for p in parts[index + 1:])
    return ref, None, ""


def from_cells(report: Report) -> list[str] | None:
    """Where each row reads from when it is not the row above; None for a plain chain.

    Inputs name rows or their ports (a collapsed report names them so); any other name inside a
    collapsed block is shown as that block's row."""
    names = {row.name for row in report.rows} | {port.name for row in report.rows for port in row.ports}

    def owner(ref: str) -> str:
        while ref not in names and "." in ref:
            ref = ref.rpartition(".")[0]
        return ref

    cells, previous, chained = [], "input", True
    for row in report.rows:
        sources = tuple(dict.fromkeys(owner(ref) for ref in row.inputs))
        sequential = sources == (previous,)
        chained &= sequential
        cells.append("" if sequential else ", ".join(_copy_ranges([_relative(ref, row) for ref in sources])))
        previous = row.name if not row.ports else ""
    return None if chained else cells


def _layout(report: Report, columns: tuple[str, ...], may_add_from: bool):
    """(headers, left-aligned flags, body rows, totals row) as strings (see body_lines)."""
    sources = from_cells(report)
    keys = list(columns)
    if "from" in keys or (may_add_from and sources is not None):
        keys = [k for k in keys if k != "from"]
        keys.insert(1, "from")
    chosen = [TABLE_COLUMNS[key] for key in keys]
    body = [cells for _, cells in body_lines(report, keys, sources)]
    totals = report.totals
    total_row = ["total"] + [_total(column, totals) for column in chosen[1:]]
    return [c.header for c in chosen], [c.left for c in chosen], body, total_row


def body_lines(report: Report, keys: list[str], sources: list[str] | None) -> list[tuple[Row | None, list[str]]]:
    """(row, its cells) per row of the report; a row with several outputs is followed by a line per
    output, named within it (`→ fuse.1` under `stage2`: `stage2.fuse.1`), with its C_out, H'/W' and
    field (row None)."""
    lines: list[tuple[Row | None, list[str]]] = []
    for index, row in enumerate(report.rows):
        lines.append((row, [(sources[index] if sources else "") if key == "from" else
                            "" if row.ports and key in OUTPUT_COLUMNS else TABLE_COLUMNS[key].cell(row)
                            for key in keys]))
        for port in row.ports:
            shown = replace(row, output_shape=port.shape, receptive_field=port.receptive_field)
            lines.append((None, [f"\u2192 {port.name.removeprefix(row.name + '.')}" if key == "layer" else
                                 TABLE_COLUMNS[key].cell(shown) if key in OUTPUT_COLUMNS else "" for key in keys]))
    return lines


def row_cells(row: Row) -> list[str]:
    """The lecture columns of one row."""
    return [TABLE_COLUMNS[key].cell(row) for key in LECTURE]


def total_cells(report: Report) -> list[str]:
    totals = report.totals
    return ["total"] + [_total(TABLE_COLUMNS[key], totals) for key in LECTURE[1:]]


def _total(column: TableColumn, totals: Totals) -> str:
    return column.total(totals) if column.total is not None else ""


def column_total(key: str, totals: Totals) -> str:
    """The totals row's cell of a column ('total' under the layer names)."""
    return "total" if key == "layer" else _total(TABLE_COLUMNS[key], totals)


def lecture_summary_lines(report: Report) -> list[str]:
    """The exact totals under the table."""
    totals = report.totals
    return [
        f"input {format_shape(report.input_shape)}, {report.dtype}, batch {report.batch}, "
        f"{report.convention} convention",
        f"params:            {grouped(totals.params)}{_approx(totals.params)}"
        + (f", buffers {grouped(totals.buffers)}" if totals.buffers else ""),
        f"multiply-adds:     {grouped(totals.macs)}{_approx(totals.macs)}",
        f"activation memory: {grouped(totals.memory_bytes)} bytes"
        + (f" ({human_bytes(totals.memory_bytes)})" if isinstance(totals.memory_bytes, int) else ""),
        *([line] if (line := outputs_line(report)) else []),
        *([line] if (line := training_only_line(report)) else []),
    ]


def outputs_line(report: Report) -> str | None:
    """The network's outputs, when they are not just the last row's."""
    if not report.outputs or (len(report.outputs) == 1 and report.rows and not report.rows[-1].ports
                              and report.outputs[0][0] == report.rows[-1].name):
        return None
    return "outputs:           " + ", ".join(f"{name} {format_shape(shape)}" for name, shape in report.outputs)


def training_only_line(report: Report) -> str | None:
    """What the layers that run only in training add, and whether the totals above count them."""
    extra = report.training_only
    if extra is None:
        return None
    added = (f"{', '.join(extra.items)}: +{grouped(extra.totals.params)} params, "
             f"+{grouped(extra.totals.macs)} multiply-adds")
    if extra.included:
        return f"training only:     {added}, counted above (--mode train)"
    return f"training only:     {added}, not counted above (--mode train counts them)"


def _approx(value) -> str:
    return f" ({human(value)})" if isinstance(value, int) and value >= 1000 else ""


WRAPPING = (TABLE_COLUMNS["c_in"].header, TABLE_COLUMNS["hw_in"].header)  # lists of inputs: 16+32+64, 56+28+14


def lecture_table(report: Report, columns: tuple[str, ...] = LECTURE, may_add_from: bool = True) -> Grid:
    """The lecture table as a Grid: full rows when piped, fitted to a terminal's width (the automatic
    From column is the one that may be hidden); bold headers and totals on a terminal."""
    headers, left, body, total_row = _layout(report, columns, may_add_from)
    grid_columns = [Column(header, is_left, optional=header == "From" and may_add_from and "from" not in columns,
                           wrap=is_left or header in WRAPPING)
                    for header, is_left in zip(headers, left)]
    return Grid(report.name, grid_columns, body, total_row if any(total_row[1:]) else None)


# Symbolic sizes have no lecture units (k, M, KB): the table shows the shapes, and a second table
# each layer's exact formulas, which are too long to share a row with the shapes.
SYMBOLIC_SHAPES = ("layer", "c_in", "hw_in", "filters", "kernel", "stride", "pad", "c_out", "hw_out")
FORMULA_COLUMNS = ("memory_bytes", "params", "macs")


def formula_table(report: Report) -> Grid:
    """Each layer's memory (bytes), parameters and multiply-adds as formulas (the totals are the
    summary lines under it); on a terminal the formulas wrap at spaces."""
    columns = [Column("Layer", left=True, wrap=True),
               *[Column(TABLE_COLUMNS[key].header, left=True, wrap=True) for key in FORMULA_COLUMNS]]
    rows = [[row.name, *[TABLE_COLUMNS[key].cell(row) for key in FORMULA_COLUMNS]] for row in report.rows]
    return Grid("", columns, rows)


def lecture_renderables(report: Report, columns: tuple[str, ...] | None = None, may_add_from: bool = True) -> list:
    """What `cnncalc table` prints: the table (the lecture's columns, or `columns`), for symbolic
    sizes without chosen columns the shapes and then the formulas, and the summary lines."""
    if columns is None and report.symbolic:
        return [lecture_table(report, SYMBOLIC_SHAPES), formula_table(report), *lecture_summary_lines(report)]
    return [lecture_table(report, columns or LECTURE, may_add_from), *lecture_summary_lines(report)]


def lecture_markdown(report: Report, columns: tuple[str, ...] = LECTURE, may_add_from: bool = True) -> str:
    headers, left, body, total_row = _layout(report, columns, may_add_from)
    lines = [f"### {printable(report.name)}", "", _md_row([h.replace("\n", " ") for h in headers]),
             _md_row(["---" if is_left else "---:" for is_left in left])]
    lines += [_md_row(cells) for cells in body]
    lines.append(_md_row([f"**{cell}**" if cell else "" for cell in total_row]))
    lines.append("")
    lines += [f"- {line}" for line in lecture_summary_lines(report)]
    return "\n".join(lines) + "\n"


def _md_row(cells) -> str:
    return "| " + " | ".join(printable(cell).replace("|", "\\|") for cell in cells) + " |"
