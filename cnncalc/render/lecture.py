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


def _spatial(shape: Shape) -> str:
    return format_pair(tuple(shape[1:3])) if len(shape) == 3 else ""


def row_cells(row: Row) -> list[str]:
    shape_in, shape_out = row.input_shape, row.output_shape
    return [
        row.name,
        _channels(shape_in),
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
    for header in HEADERS:
        justify = "left" if header == "Layer" else "right"
        table.add_column(header, justify=justify, no_wrap=True)
    for row in report.rows:
        table.add_row(*row_cells(row))
    table.add_section()
    table.add_row(*[Text(cell, style="bold") for cell in total_cells(report)])
    return table


def lecture_markdown(report: Report) -> str:
    align = ["---" if h == "Layer" else "---:" for h in HEADERS]
    lines = [f"### {report.name}", "", _md_row([h.replace("\n", " ") for h in HEADERS]), _md_row(align)]
    lines += [_md_row(row_cells(row)) for row in report.rows]
    lines.append(_md_row([f"**{c}**" if c else "" for c in total_cells(report)]))
    lines.append("")
    lines += [f"- {line}" for line in summary_lines(report)]
    return "\n".join(lines) + "\n"


def _md_row(cells) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
