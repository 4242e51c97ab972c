"""The lecture table: Layer, C_in, H/W, Filters, K, S, P, C_out, H'/W', Mem (KB), Params (k), MACs (M)."""
from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from ..fields import format_pair
from ..report import Report, Row
from ..shapes import Shape, format_shape
from ..units import KB, MILLION, THOUSAND, grouped, human, human_bytes, scaled

HEADERS = ("Layer", "C_in", "H/W", "Filters", "K", "S", "P", "C_out", "H'/W'", "Mem\n(KB)", "Params\n(k)",
           "MACs\n(M)")


def _channels(shape: Shape) -> str:
    return str(shape[0])


def _input_channels(row: Row) -> str:
    return "+".join(_channels(shape) for shape in row.input_shapes)


def _relative(ref: str, row: Row) -> str:
    """An input's name as seen from the row: `layer2.0.bn2` from `layer2.0.add1` is `bn2`."""
    block = row.name.rpartition(".")[0]
    return ref[len(block) + 1:] if block and ref.startswith(block + ".") else ref


def from_cells(report: Report) -> list[str] | None:
    """Where each row reads from when it is not the row above; None for a plain chain.

    An input inside a collapsed block (`--depth`) is shown as that block's row."""
    names = {row.name for row in report.rows}

    def owner(ref: str) -> str:
        while ref not in names and "." in ref:
            ref = ref.rpartition(".")[0]
        return ref

    cells, previous, chained = [], "input", True
    for row in report.rows:
        sources = tuple(dict.fromkeys(owner(ref) for ref in row.inputs))
        sequential = sources == (previous,)
        chained &= sequential
        cells.append("" if sequential else ", ".join(_relative(ref, row) for ref in sources))
        previous = row.name
    return None if chained else cells


def _spatial(shape: Shape) -> str:
    return format_pair(tuple(shape[1:3])) if len(shape) == 3 else ""


def row_cells(row: Row) -> list[str]:
    shape_in, shape_out = row.input_shape, row.output_shape
    return [
        row.name,
        _input_channels(row),
        _spatial(shape_in),
        row.cells.filters,
        row.cells.kernel,
        row.cells.stride,
        row.cells.pad,
        _channels(shape_out),
        _spatial(shape_out),
        scaled(row.memory_bytes, KB),
        scaled(row.params, THOUSAND),
        scaled(row.macs, MILLION),
    ]


def total_cells(report: Report) -> list[str]:
    totals = report.totals
    return ["total"] + [""] * 8 + [
        scaled(totals.memory_bytes, KB),
        scaled(totals.params, THOUSAND),
        scaled(totals.macs, MILLION),
    ]


def summary_lines(report: Report) -> list[str]:
    """The exact totals under the table."""
    totals = report.totals
    lines = [
        f"input {format_shape(report.input_shape)}, {report.dtype}, batch {report.batch}, "
        f"{report.convention} convention",
        f"params:            {grouped(totals.params)}{_approx(totals.params)}"
        + (f", buffers {grouped(totals.buffers)}" if totals.buffers else ""),
        f"multiply-adds:     {grouped(totals.macs)}{_approx(totals.macs)}",
        f"activation memory: {grouped(totals.memory_bytes)} bytes ({human_bytes(totals.memory_bytes)})",
    ]
    return lines


def _approx(value) -> str:
    return f" ({human(value)})" if value >= 1000 else ""


def lecture_table(report: Report) -> Table:
    """The rich table (caller prints it; rich drops colour when piped or under NO_COLOR)."""
    table = Table(title=report.name, box=box.SIMPLE_HEAD, title_justify="left", header_style="bold",
                  pad_edge=False, collapse_padding=True)
    sources = from_cells(report)
    headers = _with_from(list(HEADERS), "From", sources is not None)
    for header in headers:
        justify = "left" if header in ("Layer", "From") else "right"
        table.add_column(header, justify=justify, no_wrap=True)
    for index, row in enumerate(report.rows):
        table.add_row(*_with_from(row_cells(row), sources and sources[index], sources is not None))
    table.add_section()
    table.add_row(*_with_from([Text(cell, style="bold") for cell in total_cells(report)], "", sources is not None))
    return table


def _with_from(cells: list, source, shown: bool) -> list:
    return [cells[0], source or "", *cells[1:]] if shown else cells


def lecture_markdown(report: Report) -> str:
    sources = from_cells(report)
    shown = sources is not None
    headers = _with_from([h.replace("\n", " ") for h in HEADERS], "From", shown)
    align = ["---" if h in ("Layer", "From") else "---:" for h in headers]
    lines = [f"### {report.name}", "", _md_row(headers), _md_row(align)]
    lines += [_md_row(_with_from(row_cells(row), sources and sources[i], shown)) for i, row in enumerate(report.rows)]
    lines.append(_md_row(_with_from([f"**{c}**" if c else "" for c in total_cells(report)], "", shown)))
    lines.append("")
    lines += [f"- {line}" for line in summary_lines(report)]
    return "\n".join(lines) + "\n"


def _md_row(cells) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
