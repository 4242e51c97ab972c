"""Machine-readable output: JSON (the documented contract, docs/json.md) and CSV, exact integers."""
from __future__ import annotations

from ..analysis.report import Report
from ..core.shapes import Shape, is_sequence
from ..core.symbolic import as_text
from .csvout import csv_text
from .jsonout import dumps

CSV_COLUMNS = ("layer", "op", "inputs", "c_in", "h_in", "w_in", "filters", "kernel", "stride", "pad",
               "c_out", "h_out", "w_out", "params", "buffers", "macs", "memory_bytes", "outputs", "network_output",
               "in_shape", "out_shape")


def to_json(report: Report) -> str:
    return dumps(report.to_dict())


def _chw(shape: Shape) -> list:
    """c, h, w of a feature map; c of a vector; nothing of a sequence of tokens (no channels, no H and W: its
    L and D are in in_shape and out_shape)."""
    if len(shape) == 3:
        return [shape[0], shape[1], shape[2]]
    return ["", "", ""] if is_sequence(shape) else [shape[0], "", ""]


def _dims(shape: Shape) -> str:
    return "x".join(str(as_text(size)) for size in shape)


def to_csv(report: Report) -> str:
    """One line per row; c_out, h_out, w_out are its output (of a block with several, the one its
    name stands for: the first of its `outputs:`, a repeat's last copy), and `outputs` lists every
    output of a row that gives several as NAME:CxHxW; `network_output` names the network's outputs
    that the row gives. `in_shape` and `out_shape` are the whole shapes (any rank) as CxHxW, `in_shape`
    each input's joined with `;`: c/h/w alone cannot say 84x8400 or 2x64x4x16."""
    rows: list[list] = [list(CSV_COLUMNS)]
    network = {name for name, _ in report.outputs}
    for row in report.rows:
        cells = row.cells
        ports = ";".join(f"{port.name}:{_dims(port.shape)}" for port in row.ports)
        given = ";".join(port.name for port in row.outputs if port.name in network)
        rows.append([row.name, row.op, ";".join(row.inputs), *_chw(row.input_shape), cells.filters, cells.kernel,
                     cells.stride, cells.pad, *_chw(row.output_shape), row.params, row.buffers, row.macs,
                     row.memory_bytes, ports, given, ";".join(_dims(shape) for shape in row.input_shapes),
                     _dims(row.output_shape)])
    totals = report.totals
    rows.append(["total", "", "", *[""] * 10, totals.params, totals.buffers, totals.macs, totals.memory_bytes,
                 "", "", "", ""])
    return csv_text(rows)
