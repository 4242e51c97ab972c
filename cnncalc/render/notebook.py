"""How a Report shows itself in Jupyter (`Report._repr_html_`, `Report._repr_markdown_`): the lecture
table as HTML, with the exact integers on hover, or as markdown; the totals under it."""
from __future__ import annotations

import html

from ..analysis.report import Report
from ..core.numbers import grouped
from ..core.text import printable
from .lecture import (
    EXACT_VALUES,
    LECTURE,
    TABLE_COLUMNS,
    body_lines,
    column_total,
    from_cells,
    lecture_markdown,
    lecture_summary_lines,
)


def report_markdown(report: Report) -> str:
    return lecture_markdown(report)


def report_html(report: Report) -> str:
    """A <table> (scrolling past 30 rows) and the totals; every name escaped. Notebooks right-align
    table cells: only the name columns say otherwise."""
    esc = html.escape
    sources = from_cells(report)
    keys = [LECTURE[0], *(["from"] if sources is not None else []), *LECTURE[1:]]
    head = "".join(f"<th{_left(key)}>{esc(TABLE_COLUMNS[key].header.replace(chr(10), ' '))}</th>" for key in keys)
    body = []
    for row, texts in body_lines(report, keys, sources):  # row None: a line for one of a block's outputs
        cells = []
        for key, text in zip(keys, texts):
            field, counted = EXACT_VALUES.get(key, ("", ""))
            title = f' title="{esc(grouped(getattr(row, field)))} {counted}"' if field and row is not None else ""
            cells.append(f"<td{_left(key)}{title}>{esc(printable(text))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    foot = "".join(f"<td{_left(key)}><b>{esc(column_total(key, report.totals))}</b></td>" for key in keys)
    summary = "<br>".join(esc(line) for line in lecture_summary_lines(report))
    scroll = ' style="max-height:32em;overflow:auto"' if len(report.rows) > 30 else ""
    return (f"<div><b>{esc(printable(report.name))}</b><div{scroll}><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody><tfoot><tr>{foot}</tr></tfoot></table></div>"
            f'<p style="font-family:monospace">{summary}</p></div>')


def _left(key: str) -> str:
    return ' style="text-align:left"' if TABLE_COLUMNS[key].left else ""
