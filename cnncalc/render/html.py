"""`cnncalc report`: the whole network on one self-contained HTML page (docs/report.md).

The page loads nothing: its styles, the vendored layout library (@dagrejs/dagre, with its MIT
licence), the page's script and the data are inline, and a Content-Security-Policy allows only
those exact inline scripts and styles (by hash) and no network at all. Text from the spec reaches
the page only escaped: through `html.escape` here, inside a JSON block that no name can end, and
through `textContent` in the script.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from .. import __version__
from ..analysis.explain import Explanation
from ..analysis.report import Report, Row
from ..core.numbers import grouped, human, human_bytes
from ..core.shapes import format_shape
from ..core.text import printable
from .lecture import EXACT_VALUES, LECTURE, TABLE_COLUMNS, column_total, from_cells, lecture_summary_lines
from .panels import BarPanel, layer_kind
from .plot import legend_items, panel_svg, timeline_svg
from .timeline import TimelinePanel

COLUMNS = ("layer", "op", "from", *LECTURE[1:], "rf")
OWN_CELLS = {"layer": "n", "op": "op"}  # cells the script takes from the layer's own fields


@cache
def asset(name: str) -> str:
    """A file of cnncalc/render/assets (shipped in the wheel)."""
    return (resources.files(__package__) / "assets" / name).read_text(encoding="utf-8")


def _esc(text: Any) -> str:
    return html.escape(printable(text), quote=True)


def _json_block(data: Any) -> str:
    """JSON that cannot end its <script type="application/json"> element early: <, > and & as
    \\u escapes (a name '</script><script>...' stays text), and U+2028/2029 escaped."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def _script_text(code: str) -> str:
    """JavaScript safe between <script> and </script>: no '</script' or '<!--' may appear in it."""
    code = code.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT").replace("<!--", "<\\!--")
    if "</script" in code.lower():
        raise ValueError("a script contains '</script' in a form that cannot be escaped")
    return code


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _blocks(rows: Sequence[Row], groups: dict[str, tuple[str, str]]) -> tuple[list[dict[str, Any]], list[int]]:
    """The blocks (every dotted prefix of a layer's name), each with its parent, and each layer's
    innermost block (-1: none)."""
    index: dict[str, int] = {}
    blocks: list[dict[str, Any]] = []
    innermost = []
    for row in rows:
        parts = row.name.split(".")
        parent = -1
        for depth in range(1, len(parts)):
            name = ".".join(parts[:depth])
            if name not in index:
                index[name] = len(blocks)
                op = groups.get(name, ("", ""))[0]
                blocks.append({"n": name, "op": op, "p": parent})
            parent = index[name]
        innermost.append(parent)
    return blocks, innermost


def _ports(report: Report, blocks: list[dict[str, Any]]) -> None:
    """Each block that gives several outputs gets them as `o`: [[name within the block, the layer (row
    number) that computes it], ...], as the table's `→ NAME` lines: the page draws them under the
    block's node when it is collapsed."""
    index = {block["n"]: j for j, block in enumerate(blocks)}
    position = {row.name: i for i, row in enumerate(report.rows)}
    for depth in range(1, 1 + max((len(block["n"].split(".")) for block in blocks), default=0)):
        for row in report.collapse(depth).rows:
            if row.ports and row.name in index:
                blocks[index[row.name]]["o"] = [[port.name.removeprefix(row.name + "."), position[port.layer]]
                                                for port in row.ports if port.layer in position]


def page_data(report: Report, explanations: Sequence[Explanation]) -> dict[str, Any]:
    """Everything the page's script draws, compactly: the table's cells, the exact numbers, the
    graph (inputs as row numbers; -1 is the network's input), blocks, derivations (lines of a
    string table: repeated blocks repeat their lines), warnings."""
    position = {row.name: i for i, row in enumerate(report.rows)}
    sources = from_cells(report)
    columns = [key for key in COLUMNS if key != "from" or sources is not None]
    derivations = {item.layer: item for item in explanations}
    warnings: dict[str, list[str]] = {}
    for note in report.warnings:
        if note.what == "layer":  # a variable's or a block's warning is in the list below only
            warnings.setdefault(note.layer, []).append(note.message)
    outputs = {name for name, _ in report.outputs}
    blocks, innermost = _blocks(report.rows, report.groups)
    _ports(report, blocks)
    strings: dict[str, int] = {}
    layers = []
    for i, row in enumerate(report.rows):
        item = derivations.get(row.name)
        steps = [step.text() for step in item.steps] if item else []
        cells = [(sources[i] if sources else "") if key == "from" else TABLE_COLUMNS[key].cell(row)
                 for key in columns if key not in OWN_CELLS]
        layers.append({
            "n": row.name, "op": row.op, "k": layer_kind(row), "b": innermost[i],
            "i": [position.get(ref, -1) for ref in row.inputs],
            "s": format_shape(row.output_shape),
            "c": cells,
            "x": [str(getattr(row, field)) for field, _ in EXACT_VALUES.values()],
            "d": [strings.setdefault(line, len(strings)) for line in steps],
            "w": warnings.get(row.name, []),
            **({"o": 1} if row.name in outputs else {}),
        })
    totals = report.totals
    cell_index = iter(range(len(columns)))
    return {
        "name": report.name,
        "input": format_shape(report.input_shape),
        "columns": [{"h": TABLE_COLUMNS[key].header.replace("\n", " "), "left": TABLE_COLUMNS[key].left,
                     "c": OWN_CELLS[key] if key in OWN_CELLS else next(cell_index),
                     "exact": list(EXACT_VALUES).index(key) if key in EXACT_VALUES else -1,
                     "unit": EXACT_VALUES[key][1] if key in EXACT_VALUES else ""} for key in columns],
        "totalCells": [column_total(key, totals) for key in columns],
        "totals": [str(getattr(totals, field)) for field, _ in EXACT_VALUES.values()],
        "layers": layers,
        "blocks": blocks,
        "strings": list(strings),
    }


def report_page(report: Report, explanations: Sequence[Explanation], charts: Sequence[BarPanel], source: str,
                display: str, timeline: TimelinePanel | None = None, no_timeline: str = "") -> str:
    """The page as one string of HTML; `timeline`, the live memory through one step, gets a section
    of its own after the charts (or `no_timeline` says why there is none)."""
    data = _json_block(page_data(report, explanations))
    dagre = f"/*! @dagrejs/dagre 3.1.3 (npm, dist/dagre.min.js; bundles @dagrejs/graphlib)\n" \
            f"{asset('dagre.LICENSE.txt')}*/\n{_script_text(asset('dagre.min.js'))}"
    script = _script_text(asset("report.js"))
    style = asset("report.css")
    policy = (f"default-src 'none'; script-src {_sha256(dagre)} {_sha256(script)}; style-src {_sha256(style)}; "
              "img-src data:; base-uri 'none'; form-action 'none'")
    totals = report.totals
    title = f"{report.name} · cnncalc report"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_esc(policy)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cnncalc {_esc(__version__)}">
<link rel="icon" href="data:,">
<title>{_esc(title)}</title>
<style>{style}</style></head>
<body>
<header>
<h1>{_esc(report.name)}</h1>
{f'<p class="description">{_esc(report.description)}</p>' if report.description else ''}
<p class="meta">{_esc(lecture_summary_lines(report)[0])} · {len(report.rows)} layers · spec {_esc(display)}</p>
<dl class="totals">
<div><dt>parameters</dt><dd title="{grouped(totals.params)}">{_esc(grouped(totals.params))}</dd>
<dd class="approx">{_esc(human(totals.params))}</dd></div>
{_buffers(totals.buffers)}
<div><dt>multiply-adds</dt><dd>{_esc(grouped(totals.macs))}</dd><dd class="approx">{_esc(human(totals.macs))}</dd></div>
<div><dt>activation memory</dt><dd>{_esc(grouped(totals.memory_bytes))} bytes</dd>
<dd class="approx">{_esc(human_bytes(totals.memory_bytes))}</dd></div>
</dl>
<ul class="takeaways">{''.join(f'<li>{_esc(panel.takeaway.text)}</li>' for panel in [*charts, timeline]
                              if panel is not None and panel.takeaway)}</ul>
{_warnings(report)}
</header>
<noscript><p class="warning">The graph and the table need JavaScript; the charts and the spec do not.</p></noscript>
<main>
<section id="graph-pane" aria-label="layer graph">
<div id="toolbar"><button type="button" id="zoom-in" title="zoom in">+</button>
<button type="button" id="zoom-out" title="zoom out">−</button>
<button type="button" id="fit" title="fit the width">fit</button>
<button type="button" id="collapse-all">collapse blocks</button>
<button type="button" id="expand-all">expand all</button>
<span id="graph-stats"></span></div>
<div id="graph-view"><svg id="graph" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="layer graph"></svg></div>
</section>
<aside id="details" aria-live="polite"><p class="hint">Click a layer in the graph or the table to see
how its numbers are derived. Click a block's label to collapse it.</p></aside>
</main>
<section id="charts"><h2>Memory, parameters and multiply-adds</h2>
<p class="legend">{_legend(charts)}</p>
{''.join(_chart(panel) for panel in charts)}
</section>
{_timeline(timeline, no_timeline)}<section id="layers-section"><h2>Layers</h2>
<p class="hint">Click a column to sort; hover a number for its exact value.</p>
<div id="table-wrap"><table id="layers"></table></div></section>
<section id="source"><details><summary>Spec source: {_esc(display)}</summary>
<pre>{_source(source)}</pre></details></section>
<footer>Made by cnncalc {_esc(__version__)}. The graph is laid out by @dagrejs/dagre 3.1.3 (MIT licence,
included in this file).</footer>
<script type="application/json" id="cnncalc-data">{data}</script>
<script>{dagre}</script>
<script>{script}</script>
</body></html>
"""


def _buffers(buffers: Any) -> str:
    if not buffers:
        return ""
    return f'<div><dt>buffers</dt><dd>{_esc(grouped(buffers))}</dd><dd class="approx">not trained</dd></div>'


def _warnings(report: Report) -> str:
    if not report.warnings:
        return ""
    items = "".join(f"<li>{'' if note.what == 'layer' else _esc(note.what) + ' '}{_esc(note.layer)}: "
                    f"{_esc(note.message)}</li>" for note in report.warnings)
    return f'<ul class="warnings">{items}</ul>'


def _legend(charts: Sequence[BarPanel]) -> str:
    return " ".join(f'<svg class="swatch" width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
                    f'fill="{_esc(colour)}"/></svg> {_esc(text)}' for colour, text in legend_items(charts))


def _chart(panel: BarPanel) -> str:
    caption = _esc(panel.takeaway.text) if panel.takeaway else f"{_esc(panel.title)}: all zero"
    return f'<figure class="chart-panel"><figcaption>{caption}</figcaption>{panel_svg(panel)}</figure>'


def _timeline(panel: TimelinePanel | None, missing: str) -> str:
    if panel is None:
        return f'<section id="timeline"><p class="warning">No memory timeline: {_esc(missing)}</p></section>\n' \
            if missing else ""
    return (f'<section id="timeline"><h2>Live memory through {_esc(panel.steps_name())}</h2>\n'
            f'<p class="legend">{_esc(panel.setting)}: the bytes live after each op that allocates, as '
            f'<code>cnncalc memory</code> counts them; hover the chart for exact values.</p>\n'
            f'<figure class="chart-panel"><figcaption>{_esc(panel.takeaway.text)}</figcaption>'
            f'{timeline_svg(panel)}</figure>\n</section>\n')


def _source(text: str) -> str:
    return "\n".join(_esc(line) for line in text.splitlines())
