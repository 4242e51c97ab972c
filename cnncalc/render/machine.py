"""Machine-readable output: JSON (the documented contract, docs/json.md) and CSV, exact integers."""
from __future__ import annotations

import csv
import io
import json

from ..analysis.report import Report
from ..core.shapes import Shape

CSV_COLUMNS = ("layer", "op", "inputs", "c_in", "h_in", "w_in", "filters", "kernel", "stride", "pad",
               "c_out", "h_out", "w_out", "params", "buffers", "macs", "memory_bytes")


def to_json(report: Report) -> str:
    return dumps_readable(report.to_dict()) + "\n"


def dumps_readable(value, indent: str = "") -> str:
    """JSON indented by two spaces, with lists of plain values (shapes) kept on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {dumps_readable(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + dumps_readable(v, inner) for v in value) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


def _chw(shape: Shape) -> list:
    return [shape[0], shape[1], shape[2]] if len(shape) == 3 else [shape[0], "", ""]


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        cells = row.cells
        writer.writerow([row.name, row.op, ";".join(row.inputs), *_chw(row.input_shape), cells.filters,
                         cells.kernel, cells.stride, cells.pad, *_chw(row.output_shape), row.params,
                         row.buffers, row.macs, row.memory_bytes])
    totals = report.totals
    writer.writerow(["total", "", "", *[""] * 10, totals.params, totals.buffers, totals.macs,
                     totals.memory_bytes])
    return buffer.getvalue()
