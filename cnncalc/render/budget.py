"""`check`, `compare` and `sweep` results as tables (rich), markdown, CSV and JSON. Plain data in,
text out: the figures' units and names come from core/figures.py."""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from ..analysis.budget import CheckResult, Limit, training_text
from ..analysis.compare import BlockComparison, Comparison
from ..analysis.sweep import SweepResult, Variant, pareto_front, pareto_indices
from ..core.figures import FIGURES
from ..core.shapes import Shape, format_shape
from ..core.text import printable
from .csvout import csv_text
from .jsonout import dumps

MAX_INVALID_SHOWN = 20  # invalid variants listed under a sweep's table (all of them are in csv and json)
MAX_FRONT_LABELS = 20  # a plotted front with more points than this is not annotated (the names would overlap)
MAX_LEGEND = 12  # compare --plot names each row in the legend up to this many rows, else each spec


def _table(headers: Sequence[str], left: int = 1, text: Sequence[str] = ("Verdict", "Set by")) -> Table:
    """A table in the lecture table's style: numbers right-aligned; the first `left` columns and
    those named in `text` left-aligned. Titles are lines of their own, above it: rich would wrap a
    title to the table's width."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, collapse_padding=True)
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index < left or header in text else "right", no_wrap=True)
    return table


def _md(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"

    return [line(headers), line(["---" if i < left else "---:" for i in range(len(headers))]),
            *[line(row) for row in rows]]


def headroom_text(headroom: Fraction) -> str:
    """Fraction(-557032, 25000000) -> '-2.23 %'; a figure exactly at its limit has '0.00 %'."""
    return f"{float(headroom * 100):+.2f} %".replace("+0.00", "0.00")


def ratio_text(value: Fraction | None) -> str:
    """2.0403 -> '2.04'; 0.0949 -> '0.095'; None (no base to compare with) -> '—'."""
    if value is None:
        return "—"
    number = float(value)
    return f"{number:.2f}" if number >= 0.1 or number == 0 else f"{number:.2g}"


def _shape(shape: Shape | None) -> str:
    return format_shape(shape) if shape else "?"


# ---- check ---------------------------------------------------------------------------------------

CHECK_HEADERS = ("Figure", "Limit", "Value", "Headroom", "Verdict", "Set by")


def _check_rows(result: CheckResult) -> list[list[str]]:
    rows = []
    for verdict in result.verdicts:
        figure = FIGURES[verdict.figure]
        rows.append([figure.name, figure.short(verdict.limit), figure.exact(verdict.value),
                     headroom_text(verdict.headroom), "ok" if verdict.holds else "EXCEEDED", printable(verdict.source)])
    return rows


def check_title(result: CheckResult, spec: str) -> str:
    training = f", {result.training_text}" if result.training_text else ""
    return (f"{printable(spec)}: input {format_shape(result.input_shape)}, {result.dtype}, batch {result.batch}, "
            f"{result.convention} convention{training}")


def check_table(result: CheckResult, spec: str) -> list[Any]:
    """The title, the table and the verdict line."""
    table = _table(CHECK_HEADERS)
    for row, verdict in zip(_check_rows(result), result.verdicts):
        table.add_row(*row[:4], Text(row[4], style="green" if verdict.holds else "bold red"), row[5])
    return [check_title(result, spec), table, printable(result.describe())]


def check_csv(result: CheckResult) -> str:
    return csv_text([["figure", "unit", "limit", "value", "headroom_percent", "holds", "source"],
                     *[[v.figure, FIGURES[v.figure].unit, v.limit, v.value, round(float(v.headroom * 100), 6),
                        v.holds, v.source] for v in result.verdicts]])


def check_json(result: CheckResult) -> str:
    return dumps(result.to_dict())


# ---- compare -------------------------------------------------------------------------------------


def _compare_layout(result: Comparison) -> tuple[list[str], list[list[str]]]:
    headers = ["Spec", "Input"]
    for name in result.figures:
        figure = FIGURES[name]
        headers += [figure.label + (" (B)" if figure.unit == "bytes" else ""), "×"]
    rows = []
    for row in result.rows:
        cells = [printable(row.spec), format_shape(row.input_shape)]
        for name in result.figures:
            cells += [_grouped(row.figures[name]), ratio_text(row.ratios[name])]
        rows.append(cells)
    return headers, rows


def _grouped(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def compare_caption(result: Comparison) -> str:
    training = f", {training_text(result.training)}" if result.training is not None else ""
    left_out = [name for name, figure in FIGURES.items() if figure.memory and name not in result.figures]
    note = f"; no {', '.join(left_out)}: the memory model needs a floating dtype" if left_out else ""
    return (f"{result.dtype}, batch {result.batch}, {result.convention} convention{training}; "
            f"× is each figure over the first row's{note}")


def compare_table(result: Comparison) -> list[Any]:
    headers, rows = _compare_layout(result)
    table = _table(headers, left=2)
    for row in rows:
        table.add_row(*row)
    return [table, compare_caption(result)]


def compare_markdown(result: Comparison) -> str:
    headers, rows = _compare_layout(result)
    return "\n".join([*_md(headers, rows, left=2), "", compare_caption(result)]) + "\n"


def compare_csv(result: Comparison) -> str:
    header = ["spec", "name", "c", "h", "w", *result.figures, *[f"{name}_ratio" for name in result.figures]]
    rows: list[list[Any]] = [header]
    for row in result.rows:
        shape = list(row.input_shape) + [""] * (3 - len(row.input_shape))
        ratios = [round(float(value), 6) if value is not None else None for value in row.ratios.values()]
        rows.append([row.spec, row.name, *shape, *row.figures.values(), *ratios])
    return csv_text(rows)


def compare_json(result: Comparison | BlockComparison) -> str:
    return dumps(result.to_dict())


# ---- compare --by block --------------------------------------------------------------------------


def _blocks_layout(result: BlockComparison) -> tuple[list[str], list[list[str]]]:
    headers = ["Block", "Op (A / B)"]
    for name in result.figures:
        label = FIGURES[name].label + (" (B)" if FIGURES[name].unit == "bytes" else "")
        headers += [f"{label}\nA", f"{label}\nB", "B/A"]
    rows = []
    for pair in result.pairs:
        first_op, second_op = pair.ops
        op = first_op or "—" if first_op == second_op else f"{first_op or '—'} / {second_op or '—'}"
        cells = [printable(pair.block), printable(op)]
        for name in result.figures:
            first, second = pair.figures
            cells += [_grouped(first[name]) if first else "—", _grouped(second[name]) if second else "—",
                      ratio_text(pair.ratio(name))]
        rows.append(cells)
    total = ["total", ""]
    for name in result.figures:
        first_total, second_total = result.totals[0][name], result.totals[1][name]
        total += [_grouped(first_total), _grouped(second_total),
                  ratio_text(Fraction(second_total, first_total) if first_total else None)]
    rows.append(total)
    return headers, rows


def blocks_caption(result: BlockComparison) -> str:
    first, second = (printable(name) for name in result.specs)
    shapes = format_shape(result.input_shapes[0])
    if result.input_shapes[1] != result.input_shapes[0]:
        shapes += f" and {format_shape(result.input_shapes[1])}"
    return (f"A = {first}, B = {second}: input {shapes}, {result.dtype}, batch {result.batch}, "
            f"{result.convention} convention")


def blocks_table(result: BlockComparison) -> list[Any]:
    headers, rows = _blocks_layout(result)
    table = _table(headers, left=2)
    for row in rows[:-1]:
        table.add_row(*row)
    table.add_section()
    table.add_row(*[Text(cell, style="bold") for cell in rows[-1]])
    return [blocks_caption(result), table]


def blocks_markdown(result: BlockComparison) -> str:
    headers, rows = _blocks_layout(result)
    return "\n".join([*_md(headers, rows, left=2), "", blocks_caption(result)]) + "\n"


def blocks_csv(result: BlockComparison) -> str:
    header = ["block", "op_a", "op_b"]
    for name in result.figures:
        header += [f"{name}_a", f"{name}_b", f"{name}_ratio"]
    rows: list[list[Any]] = [header]
    for pair in result.pairs:
        cells: list[Any] = [pair.block, pair.ops[0], pair.ops[1]]
        for name in result.figures:
            first, second = pair.figures
            value = pair.ratio(name)
            cells += [first[name] if first else None, second[name] if second else None,
                      round(float(value), 6) if value is not None else None]
        rows.append(cells)
    return csv_text(rows)


# ---- sweep ---------------------------------------------------------------------------------------


def _limits_text(limits: Sequence[Limit]) -> str:
    return ", ".join(f"{limit.figure} ≤ {FIGURES[limit.figure].short(limit.value)}" for limit in limits)


def sweep_title(result: SweepResult) -> str:
    """'mobilenet_v2: 1,000 variants of width (25) × input (40); macs ≤ 300 M; maximize width; ...'."""
    axes = [(printable(axis.name), len(axis.values)) for axis in result.axes]
    if len(result.inputs) > 1:
        axes.append(("input", len(result.inputs)))
    grid = axes[0][0] if len(axes) == 1 else " × ".join(f"{name} ({count})" for name, count in axes)
    parts = [f"{printable(result.spec)}: {len(result.variants):,} variant{'s' if len(result.variants) != 1 else ''}"
             + (f" of {grid}" if grid else "")]
    if len(result.inputs) == 1:
        parts.append(f"input {format_shape(result.inputs[0])}")
    if result.limits:
        parts.append(_limits_text(result.limits))
    if result.objective:
        parts.append(result.objective.describe())
    if result.pareto:
        parts.append(f"Pareto front of {', '.join(result.pareto)}")
    training = f", {training_text(result.training)}" if result.training is not None else ""
    parts.append(f"{result.dtype}, batch {result.batch}, {result.convention} convention{training}")
    return "; ".join(parts)


def _values_text(variant: Variant) -> str:
    return ", ".join(f"{printable(name)}={printable(value)}" for name, value in variant.values.items())


def best_line(result: SweepResult) -> str | None:
    """'best: width=0.98 (input 3×224×224): MACs 299,958,912 (300 M: 0.01 % to spare), ...'."""
    best = result.best
    if best is None or best.figures is None:
        return None
    limits = {limit.figure: limit for limit in result.limits}
    parts = []
    for name, value in best.figures.items():
        figure = FIGURES[name]
        text = f"{figure.label} {figure.exact(value)}"
        if name in limits:
            spare = Fraction(limits[name].value - value, limits[name].value)
            text += f" (limit {figure.short(limits[name].value)}, {float(spare * 100):.2f} % to spare)"
        parts.append(text)
    where = _values_text(best)
    shape = f"input {_shape(best.input_shape)}"
    return f"best: {where + ', ' if where else ''}{shape}: " + ", ".join(parts)


def _shown(result: SweepResult, top: int) -> tuple[list[Variant], str]:
    """The variants the table lists, and what they are."""
    if result.objective is not None or result.pareto:
        ranked = [result.variants[number - 1] for number in result.ranked]
        what = "the Pareto front" if result.pareto else \
            "the variants within the limits" if result.limits else "the valid variants"
        if result.objective is not None:
            what += ", best first"
        if top and len(ranked) > top:
            return ranked[:top], f"{what} (the first {top} of {len(ranked):,}; --top 0 for all)"
        return ranked, what
    return list(result.variants), "every variant, in grid order"


def _several_inputs(result: SweepResult) -> bool:
    return len({variant.input_shape for variant in result.variants}) > 1


def _sweep_headers(result: SweepResult) -> list[str]:
    headers = ["#", *[printable(axis.name) for axis in result.axes]]
    if _several_inputs(result):
        headers.append("Input")
    headers += [FIGURES[name].label + (" (B)" if FIGURES[name].unit == "bytes" else "") for name in result.figures]
    return [*headers, "Verdict"]


def _verdict(variant: Variant) -> str:
    if not variant.valid:
        return "invalid"
    return f"over: {', '.join(variant.exceeded)}" if variant.exceeded else "fits"


def _sweep_row(result: SweepResult, variant: Variant) -> list[str]:
    cells = [str(variant.number), *[printable(variant.values.get(axis.name, "")) for axis in result.axes]]
    if _several_inputs(result):
        cells.append(_shape(variant.input_shape))
    figures = variant.figures or {}
    cells += [_grouped(figures[name]) if name in figures else "" for name in result.figures]
    return [*cells, _verdict(variant)]


def invalid_lines(result: SweepResult) -> list[str]:
    """One line per invalid variant (at most MAX_INVALID_SHOWN): its values and its message's first line."""
    invalid = result.invalid
    lines = []
    for variant in invalid[:MAX_INVALID_SHOWN]:
        message = (variant.error or "").splitlines()[0] if variant.error else ""
        where = _values_text(variant)
        if len(result.inputs) > 1:
            where = f"{where}, input {_shape(variant.input_shape)}" if where else f"input {_shape(variant.input_shape)}"
        lines.append(f"invalid #{variant.number} ({where}): {printable(message, 300)}")
    if len(invalid) > MAX_INVALID_SHOWN:
        lines.append(f"... and {len(invalid) - MAX_INVALID_SHOWN:,} more invalid variants (all are in --format json)")
    return lines


def sweep_table(result: SweepResult, top: int) -> list[Any]:
    """The title, the best variant, the table of the variants shown, the invalid ones and a summary."""
    shown, what = _shown(result, top)
    body: list[Any] = [sweep_title(result)]
    best = best_line(result)
    if best:
        body.append(best)
    elif not result.ranked and (result.objective is not None or result.pareto):
        body.append("no variant is within the limits" if result.limits else "no valid variant")
    if shown:
        table = _table(_sweep_headers(result), left=1 + len(result.axes))
        for variant in shown:
            cells = _sweep_row(result, variant)
            style = "green" if variant.fits else ("red" if variant.valid else "yellow")
            table.add_row(*cells[:-1], Text(cells[-1], style=style))
        body += ["", f"{what}:", table]
    body += invalid_lines(result)
    body.append(result.describe())
    return body


def sweep_csv(result: SweepResult) -> str:
    ranks = {number: rank for rank, number in enumerate(result.ranked, 1)}
    header = ["number", *[axis.name for axis in result.axes], "c", "h", "w", *result.figures, "fits", "exceeded",
              "rank", "error"]
    rows: list[list[Any]] = [header]
    for variant in result.variants:
        shape = list(variant.input_shape or ()) + [""] * (3 - len(variant.input_shape or ()))
        figures = variant.figures or {}
        rows.append([variant.number, *[variant.values.get(axis.name) for axis in result.axes], *shape,
                     *[figures.get(name) for name in result.figures], variant.fits, ";".join(variant.exceeded),
                     ranks.get(variant.number), variant.error])
    return csv_text(rows)


def sweep_json(result: SweepResult) -> str:
    return dumps(result.to_dict())


# ---- sweep --plot ----------------------------------------------------------------------------------


def sweep_points(result: SweepResult, x: str, y: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The valid variants as points for `render.plot.scatter` (one mapping each: the two figures,
    a label and a group), and the indices of the Pareto front of `x` and `y` (both minimized) among
    those within the limits. Points are grouped by input size when there are several, and by
    whether they keep the limits when there are limits."""
    several = _several_inputs(result)
    valid = [variant for variant in result.variants if variant.figures is not None]
    points = []
    for variant in valid:
        figures = variant.figures or {}
        label = _values_text(variant)
        if several:
            label = f"{label}, {_shape(variant.input_shape)}" if label else _shape(variant.input_shape)
        group = [_shape(variant.input_shape)] if several else []
        if result.limits:
            group.append("over the limits" if variant.exceeded else "within the limits")
        points.append({x: figures[x], y: figures[y], "label": label or f"#{variant.number}",
                       "group": ", ".join(group)})
    place = {variant.number: index for index, variant in enumerate(valid)}
    front = [place[variant.number] for variant in pareto_front([v for v in valid if v.fits], (x, y))]
    return points, front


def compare_plot(result: Comparison, x: str, y: str, path: Path) -> str:
    """Draw the compared rows, `y` against `x`, each in the legend (by spec past MAX_LEGEND), with the Pareto front
    of the two figures (both minimized) highlighted; what was drawn."""
    from .plot import scatter

    several = len({row.input_shape for row in result.rows}) > 1
    drawn = [row for row in result.rows if row.figures.get(x) is not None and row.figures.get(y) is not None]
    points = [{x: row.figures[x], y: row.figures[y], "spec": printable(row.spec),
               "label": f"{printable(row.spec)}, {_shape(row.input_shape)}" if several else printable(row.spec)}
              for row in drawn]
    front = pareto_indices([(point[x], point[y]) for point in points])
    scatter(points, x, y, path, front=front, label="label", group="label" if len(points) <= MAX_LEGEND else "spec",
            title=f"{len(points)} compared, {len(front)} on the front")
    return f"{len(points)} points, {len(front)} on the Pareto front of {x} and {y}"


def sweep_plot(result: SweepResult, x: str, y: str, path: Path) -> str:
    """Draw the sweep's valid variants, `y` against `x`, with the front highlighted; what was drawn."""
    from .plot import scatter

    points, front = sweep_points(result, x, y)
    grouped = bool(result.limits) or _several_inputs(result)
    scatter(points, x, y, path, front=front, label="label" if len(front) <= MAX_FRONT_LABELS else None,
            group="group" if grouped else None,
            title=f"{printable(result.spec)}: {len(points):,} valid variants, {len(front):,} on the front")
    return f"{len(points):,} variants, {len(front):,} on the Pareto front of {x} and {y}"
