"""Every chart cnncalc draws, and its one set of styles (colours, sizes, units).

- `panels_figure` / `write_panels`: the lecture's slide, "Memory, Parameters, and MFLOPs", one bar
  per layer or block with each panel's takeaway (`cnncalc plot`); the data is render/panels.py's.
- `panel_svg`: the same panels as inline SVG for the HTML report, without matplotlib.
- the memory-over-time panel (`--what timeline`): live memory through one training step, its phases
  shaded and the peak marked (data: render/timeline.py), in the same figure or as `timeline_svg`.
- `scatter_figure` / `scatter`: two figures of many variants with the Pareto front highlighted
  (`compare --plot`, `sweep --plot`).

matplotlib is imported inside the functions that need it (the `plot` extra), never at the top, and
only through its object-oriented API (no pyplot): drawing never touches a notebook's backend.
"""
from __future__ import annotations

import html
import io
import math
import textwrap
from collections.abc import Collection, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import OptionError
from ..core.io import write_atomic
from ..core.numbers import decimal_text, grouped, human_bytes
from ..core.text import printable
from .panels import BLOCK, CONV, FC, LEGEND, OTHER, BarPanel
from .timeline import TimelinePanel, buckets, byte_unit, bytes_text, drawn_points, point_text

Panel = BarPanel | TimelinePanel

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# ---- styles ----------------------------------------------------------------------------------------
KIND_COLOURS = {CONV: "#4c78a8", FC: "#f58518", OTHER: "#a0a4ab", BLOCK: "#54a24b"}
RUN_COLOUR = "#fbe3a1"  # the band behind the run of layers a memory takeaway names
FRONT_COLOUR = "#d62728"  # the Pareto front
POINT_COLOUR = "#a0a4ab"  # variants off the front, when they are not grouped
GROUP_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#72b7b2", "#eeca3b", "#9d755d", "#ff9da6")
PHASE_COLOURS = {"forward": "#e3edf7", "backward": "#fdebd8", "step": "#e6f2e1"}  # the timeline's phases
LINE_COLOUR = "#4c78a8"  # live memory
LINE_FILL = "#c9d9ec"
PEAK_COLOUR = FRONT_COLOUR
SIDE_BY_SIDE_BARS = 16  # up to this many bars the panels stand side by side, like the slide's
LABELLED_BARS = 120  # past this many bars, names would not fit: the axis counts layers instead
FORMATS = ("png", "svg", "pdf")
INSTALL_HINT = "install the plot extra: pip install 'cnncalc[plot]'"


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise OptionError("this command needs matplotlib, which is not installed", hint=INSTALL_HINT) from None


def image_format(path: Path) -> str:
    """'png', 'svg' or 'pdf' from the file name, or an OptionError."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise OptionError("cannot tell the image format from the file name's suffix", file=str(path),
                          hint="give a file name ending in " + ", ".join(f".{f}" for f in FORMATS))
    return suffix


def write_figure(figure: Figure, path: Path) -> None:
    """Save as the file name's format, atomically; the same figure gives the same bytes."""
    import matplotlib

    fmt = image_format(path)
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "cnncalc", "svg.fonttype": "none"}):
        figure.savefig(buffer, format=fmt, dpi=150, bbox_inches="tight", metadata=metadata)
    write_atomic(path, buffer.getvalue())


# ---- the slide's panels ---------------------------------------------------------------------------
def panels_figure(panels: Sequence[Panel], title: str) -> Figure:
    """One bar chart per bar panel: side by side like the slide for a few bars, stacked above each
    other (sharing the layer axis) for many; the timeline below them (or above, if it comes first),
    the full width. Each panel's takeaway is its heading."""
    from matplotlib.figure import Figure

    bars = [panel for panel in panels if isinstance(panel, BarPanel)]
    timeline = next((panel for panel in panels if isinstance(panel, TimelinePanel)), None)
    if timeline is None:
        return _bar_figure(bars, title)
    if not bars:
        figure = Figure(figsize=(11.0, 4.8))
        _timeline(figure.subplots(), timeline)
        figure.suptitle(title, fontsize=12, fontweight="bold")
        figure.tight_layout()
        return figure
    count = len(bars[0].bars)
    side_by_side = count <= SIDE_BY_SIDE_BARS
    bars_height = 4.6 if side_by_side else 3.2 * len(bars)
    first = panels.index(timeline) < panels.index(bars[0])
    figure = Figure(figsize=(max(11.0, 4.8 * len(bars) if side_by_side else min(max(10.0, 0.2 * count + 2.5), 30.0)),
                             bars_height + 4.6 + 1.2))
    ratios = [4.2, bars_height] if first else [bars_height, 4.2]
    grid = figure.add_gridspec(2, 1, height_ratios=ratios)
    bar_grid = grid[1 if first else 0].subgridspec(1, len(bars)) if side_by_side else \
        grid[1 if first else 0].subgridspec(len(bars), 1)
    axes = bar_grid.subplots(sharex=not side_by_side, squeeze=False)
    _bar_panels(list(axes[0] if side_by_side else axes[:, 0]), bars, side_by_side)
    _timeline(figure.add_subplot(grid[0 if first else 1]), timeline)
    _finish(figure, bars, title)
    return figure


def _bar_figure(panels: Sequence[BarPanel], title: str) -> Figure:
    from matplotlib.figure import Figure

    count = len(panels[0].bars)
    side_by_side = count <= SIDE_BY_SIDE_BARS
    if side_by_side:
        figure = Figure(figsize=(4.8 * len(panels), 5.0))
        axes = list(figure.subplots(1, len(panels), squeeze=False)[0])
    else:
        figure = Figure(figsize=(min(max(10.0, 0.2 * count + 2.5), 30.0), 3.2 * len(panels) + 1.2))
        axes = list(figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0])
    _bar_panels(axes, panels, side_by_side)
    _finish(figure, panels, title)
    return figure


def _bar_panels(axes: list[Axes], panels: Sequence[BarPanel], side_by_side: bool) -> None:
    from matplotlib.ticker import StrMethodFormatter

    count = len(panels[0].bars)
    wrap = 52 if side_by_side else 160
    for ax, panel in zip(axes, panels):
        _bars(ax, panel)
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,g}"))
        heading = panel.takeaway.text if panel.takeaway else f"{panel.title}: all zero"
        ax.set_title(textwrap.fill(heading, wrap), loc="left", fontsize=9)
        if count <= LABELLED_BARS:
            show_labels = side_by_side or ax is axes[-1]
            ax.set_xticks(range(count), [bar.label for bar in panel.bars] if show_labels else [""] * count,
                          rotation=90, fontsize=8 if count <= 40 else 6)
        elif ax is axes[-1]:
            ax.set_xlabel(f"the {count} layers in order (0 is {panel.bars[0].label})")


def _finish(figure: Figure, panels: Sequence[BarPanel], title: str) -> None:
    """The title, the legend of the bars' colours, and the layout."""
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, label=text) for colour, text in legend_items(panels)]
    figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8,
                  bbox_to_anchor=(0.5, -0.02))
    figure.tight_layout(rect=(0, 0.04, 1, 0.97))


def _bars(ax: Axes, panel: BarPanel) -> None:
    ax.bar(range(len(panel.bars)), panel.heights(), color=[KIND_COLOURS[bar.kind] for bar in panel.bars],
           width=0.75 if len(panel.bars) <= LABELLED_BARS else 1.0, zorder=2)
    if panel.marked:
        ax.axvspan(panel.marked[0] - 0.5, panel.marked[1] + 0.5, color=RUN_COLOUR, zorder=1, lw=0)
    ax.set_ylabel(panel.title)
    ax.set_xlim(-0.6, len(panel.bars) - 0.4)
    ax.grid(axis="y", color="#e4e6ea", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)


def _mpl_text(text: str) -> str:
    """Text from a spec as matplotlib shows it literally: one printable line, `$` not mathtext."""
    return printable(text).replace("$", r"\$")


def _timeline(ax: Axes, panel: TimelinePanel) -> None:
    """Live memory after every op (a step line: each total holds until the next op), the phases
    shaded and named, the peak marked and annotated with its exact bytes and where it is."""
    from matplotlib.ticker import StrMethodFormatter

    heights = panel.heights()
    count = len(heights)
    for span in panel.phases:
        ax.axvspan(span.first - 0.5, span.last + 0.5, color=PHASE_COLOURS[span.phase], lw=0, zorder=0)
        ax.text((span.first + span.last) / 2, 0.02, span.name, transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=8, color="#555a63", zorder=3)
    ax.fill_between(range(count), heights, step="post", color=LINE_FILL, alpha=0.35, lw=0, zorder=1)
    ax.plot(range(count), heights, drawstyle="steps-post", color=LINE_COLOUR, lw=1.3, zorder=2)
    peak, top = panel.peak, heights[panel.peak]
    ax.scatter([peak], [top], s=30, color=PEAK_COLOUR, zorder=4)
    point = panel.peak_point
    right = peak < count / 2  # the note goes above the peak, towards the side with room
    ax.annotate(f"peak: {bytes_text(point.bytes)}\n{_mpl_text(point_text(point))}", (peak, top),
                textcoords="offset points", xytext=(-6 if right else 6, 8), ha="left" if right else "right",
                va="bottom", fontsize=8, color=PEAK_COLOUR, zorder=5)
    ax.set_xlim(-0.5, count - 0.5)
    ax.set_ylim(0, top * 1.3 if top else 1)
    ax.set_ylabel(panel.title)
    ax.set_xlabel(f"the {count} ops in order: {_mpl_text(panel.setting)}")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,g}"))
    ax.grid(axis="y", color="#e4e6ea", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(textwrap.fill(_mpl_text(panel.takeaway.text), 150), loc="left", fontsize=9)


def write_panels(panels: Sequence[Panel], title: str, path: Path) -> None:
    write_figure(panels_figure(panels, title), path)


# ---- the same panels as inline SVG (the HTML report) ------------------------------------------------
SVG_BAR = 16  # px per bar
SVG_HEIGHT = 150  # px of the plotting area


def _nice_ticks(top: float) -> list[float]:
    """0 and up to 6 round steps (1, 2 or 5 × 10^k) reaching at least `top`."""
    if top <= 0:
        return [0.0]
    step = 10.0 ** math.floor(math.log10(top))
    step *= next(factor for factor in (0.1, 0.2, 0.5, 1, 2, 5, 10) if top / (step * factor) <= 6)
    return [step * n for n in range(math.ceil(top / step - 1e-9) + 1)]


def _tick_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 1 or value == 0 else f"{value:g}"


def _y_axis(ticks: Sequence[float], scale: float, left: int, right: int, base: int, height: int, title: str) -> str:
    """An SVG chart's grid lines with their values, and its axis title turned on its side."""
    out = []
    for tick in ticks:
        y = base - tick * scale
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick_text(tick)}</text>')
    out.append(f'<text x="12" y="{base - height / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 12 {base - height / 2:.0f})">{html.escape(title)}</text>')
    return "".join(out)


def panel_svg(panel: BarPanel) -> str:
    """One panel as an <svg> element: bars coloured by kind, y ticks, rotated layer names, and the
    exact value of each bar in its tooltip. Every name is escaped."""
    esc = html.escape
    count = len(panel.bars)
    labelled = count <= LABELLED_BARS
    step = SVG_BAR if labelled else max(1, 1600 // count)  # px per bar
    left, top, label_room = 64, 8, 120 if labelled else 8
    width = left + step * count + 12
    height = top + SVG_HEIGHT + label_room
    heights = panel.heights()
    ticks = _nice_ticks(max(heights, default=0))
    scale = SVG_HEIGHT / ticks[-1] if ticks[-1] else 0
    base = top + SVG_HEIGHT
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(panel.title)}">']
    if panel.marked:
        x0 = left + step * panel.marked[0]
        out.append(f'<rect class="run" x="{x0}" y="{top}" width="{step * (panel.marked[1] - panel.marked[0] + 1)}" '
                   f'height="{SVG_HEIGHT}" fill="{RUN_COLOUR}"/>')
    out.append(_y_axis(ticks, scale, left, width - 8, base, SVG_HEIGHT, panel.title))
    gap = 4 if step >= 8 else 0
    for index, (bar, value) in enumerate(zip(panel.bars, heights)):
        x = left + step * index
        h = value * scale
        exact = (f"{grouped(bar.value)} {panel.counted} "
                 f"({decimal_text(Fraction(bar.value, panel.unit), grouping=True)} {panel.unit_name})")
        out.append(f'<g class="bar"><rect x="{x + gap / 2}" y="{base - h:.2f}" width="{step - gap}" height="{h:.2f}" '
                   f'fill="{KIND_COLOURS[bar.kind]}"><title>{esc(bar.label)}: {esc(exact)}</title></rect>')
        if labelled:
            label = esc(bar.label if len(bar.label) <= 22 else bar.label[:21] + "…")
            out.append(f'<text x="{x + step / 2 + 3}" y="{base + 6}" text-anchor="end" '
                       f'transform="rotate(-60 {x + step / 2 + 3} {base + 6})">{label}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


TIMELINE_WIDTH = 900  # px of the timeline's plotting area
TIMELINE_HEIGHT = 180


def timeline_svg(panel: TimelinePanel) -> str:
    """The timeline as an <svg> element: the phases shaded and named, live memory as one line, the
    peak marked with its exact bytes, and a strip per stretch of the timeline whose tooltip gives the
    exact bytes and the place of the points drawn there. A long timeline is drawn from each
    stretch's lowest and highest point (render/timeline.py: `drawn_points`), the true peak always
    among them. Every name is escaped."""
    esc = html.escape
    count = len(panel.points)
    left, top, bottom = 64, 22, 34
    width, height, base = left + TIMELINE_WIDTH + 16, top + TIMELINE_HEIGHT + bottom, top + TIMELINE_HEIGHT
    heights = panel.heights()
    ticks = _nice_ticks(max(heights) * 1.12)  # room above the peak for its label
    scale = TIMELINE_HEIGHT / ticks[-1] if ticks[-1] else 0
    step = TIMELINE_WIDTH / count

    def x(index: float) -> float:
        return left + (index + 0.5) * step

    out = [f'<svg class="chart timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(panel.title)}">']
    for span in panel.phases:
        x0, span_width = left + span.first * step, (span.last - span.first + 1) * step
        out.append(f'<rect class="phase" data-phase="{esc(span.phase)}" x="{x0:.2f}" y="{top}" '
                   f'width="{span_width:.2f}" height="{TIMELINE_HEIGHT}" fill="{PHASE_COLOURS[span.phase]}"/>'
                   f'<text x="{x0 + span_width / 2:.1f}" y="{top - 7}" text-anchor="middle">{esc(span.name)}</text>')
    out.append(_y_axis(ticks, scale, left, width - 8, base, TIMELINE_HEIGHT, panel.title))
    kept = drawn_points(panel)
    line = " ".join(f"{x(i):.2f},{base - heights[i] * scale:.1f}" for i in kept)
    out.append(f'<path class="area" d="M{x(kept[0]):.2f},{base} L{line} L{x(kept[-1]):.2f},{base} Z" '
               f'fill="{LINE_FILL}" fill-opacity="0.6"/><path class="line" d="M{line}" fill="none" '
               f'stroke="{LINE_COLOUR}"/>')
    for part in buckets(count):
        out.append(f'<rect class="hit" x="{left + part.start * step:.2f}" y="{top}" width="{len(part) * step:.2f}" '
                   f'height="{TIMELINE_HEIGHT}"><title>{esc(_stretch_text(panel, part))}</title></rect>')
    peak = panel.peak_point
    px, py = x(panel.peak), base - heights[panel.peak] * scale
    right = panel.peak < count / 2
    out.append(f'<circle class="peak" cx="{px:.2f}" cy="{py:.1f}" r="4" fill="{PEAK_COLOUR}">'
               f'<title>peak: {esc(bytes_text(peak.bytes))}\n{esc(point_text(peak))}</title></circle>'
               f'<text class="peak-label" x="{px + (8 if right else -8):.1f}" y="{max(py - 6, top + 12):.1f}" '
               f'text-anchor="{"start" if right else "end"}" fill="{PEAK_COLOUR}">peak {esc(human_bytes(peak.bytes))}'
               f' · {esc(point_text(peak))}</text>')
    out.append(f'<text x="{left + TIMELINE_WIDTH / 2:.0f}" y="{height - 8}" text-anchor="middle">the {count} ops in '
               f'order: {esc(panel.setting)}</text></svg>')
    return "".join(out)


def _stretch_text(panel: TimelinePanel, part: range) -> str:
    """A tooltip: the point, or a stretch's highest and lowest point, with exact bytes."""
    points = panel.points

    def described(index: int) -> str:
        mark = " (the peak)" if index == panel.peak else ""
        return f"{grouped(points[index].bytes)} bytes{mark}: op {index + 1}, {point_text(points[index])}"

    if len(part) == 1:
        return described(part.start)
    high = max(part, key=lambda i: points[i].bytes)
    low = min(part, key=lambda i: points[i].bytes)
    if points[high].bytes == points[low].bytes:
        return (f"ops {part.start + 1}–{part.stop}: {grouped(points[low].bytes)} bytes each, from "
                f"{point_text(points[part.start])} to {point_text(points[part[-1]])}")
    return f"ops {part.start + 1}–{part.stop}\nhighest {described(high)}\nlowest {described(low)}"


def legend_items(panels: Sequence[BarPanel]) -> list[tuple[str, str]]:
    """(colour, text) of each kind of bar drawn, and of the run band if one is marked."""
    drawn = {bar.kind for panel in panels for bar in panel.bars}
    items = [(colour, LEGEND[kind]) for kind, colour in KIND_COLOURS.items() if kind in drawn]
    if any(panel.marked for panel in panels):
        items.append((RUN_COLOUR, "the run of layers a takeaway names"))
    return items


# ---- many variants: two figures and the Pareto front -----------------------------------------------
# Names of the figures a compare or sweep row carries, for the axis titles; sizes in bytes use
# binary units (KiB, MiB, GiB), counts decimal ones (k, M, G).
FIGURES: dict[str, tuple[str, bool]] = {
    "params": ("Parameters", False),
    "macs": ("Multiply-adds", False),
    "memory_bytes": ("Activation memory", True),
    "activations": ("Activation memory", True),
    "peak": ("Inference peak memory", True),
    "train_peak": ("Training peak memory", True),
}


def _axis(key: str, values: Sequence[float]) -> tuple[str, float]:
    """The axis title with its unit and the divisor that gives that unit."""
    title, binary = FIGURES.get(key, (key, False))
    largest = max((abs(v) for v in values), default=0)
    if binary:
        divisor, unit = byte_unit(int(largest))
        return f"{title} ({unit})", float(divisor)
    for divisor, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"), (1, "")):
        if largest >= divisor or divisor == 1:
            return (f"{title} ({unit})" if unit else title), float(divisor)
    return title, 1.0


def scatter_figure(points: Sequence[Mapping[str, Any]], x: str, y: str, *, front: Collection[int] = (),
                   label: str | None = None, group: str | None = None, title: str = "",
                   log: bool = False) -> Figure:
    """Two figures of many variants, one dot each, with the Pareto front highlighted.

    points: one mapping per variant (a row of `compare` or `sweep`), e.g.
        {"name": "width=0.75, 3×224×224", "params": 2_636_136, "macs": 209_110_656, "input": "3×224×224"}.
        A point whose `x` or `y` is None or missing (an invalid variant) is not drawn.
    x, y: the keys of the two figures to draw ("params", "macs", "peak", ...; FIGURES names their
        axes and picks k/M/G or KiB/MiB/GiB from the largest value; any other numeric key works).
    front: indices into `points` of the Pareto front: drawn larger in FRONT_COLOUR and joined by a
        line in order of `x`; each front point is annotated with its `label` value.
    label: the key whose value names a front point (e.g. "name"); None: no annotations.
    group: the key whose value colours the other points, one legend entry per value (e.g. the input
        size or the spec); None: all grey.
    log: logarithmic axes, for variants spanning orders of magnitude.
    """
    from matplotlib.figure import Figure

    drawn = [i for i, p in enumerate(points) if p.get(x) is not None and p.get(y) is not None]
    x_title, x_div = _axis(x, [float(points[i][x]) for i in drawn])
    y_title, y_div = _axis(y, [float(points[i][y]) for i in drawn])
    figure = Figure(figsize=(7.5, 5.0))
    ax = figure.subplots()
    on_front = [i for i in drawn if i in set(front)]
    rest = [i for i in drawn if i not in set(front)]
    groups = list(dict.fromkeys(str(points[i].get(group)) for i in rest)) if group else [""]
    for n, name in enumerate(groups):
        members = [i for i in rest if not group or str(points[i].get(group)) == name]
        colour = GROUP_COLOURS[n % len(GROUP_COLOURS)] if group else POINT_COLOUR
        ax.scatter([points[i][x] / x_div for i in members], [points[i][y] / y_div for i in members], s=14,
                   color=colour, alpha=0.75, label=name if group else "variants", zorder=2)
    if on_front:
        ordered = sorted(on_front, key=lambda i: points[i][x])
        xs, ys = [points[i][x] / x_div for i in ordered], [points[i][y] / y_div for i in ordered]
        ax.plot(xs, ys, color=FRONT_COLOUR, lw=1.2, zorder=3)
        ax.scatter(xs, ys, s=36, color=FRONT_COLOUR, label="Pareto front", zorder=4)
        if label:
            for i, px, py in zip(ordered, xs, ys):
                ax.annotate(str(points[i].get(label, "")), (px, py), textcoords="offset points", xytext=(5, 4),
                            fontsize=7)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.grid(color="#e4e6ea", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    if drawn:
        ax.legend(frameon=False, fontsize=8)
    figure.tight_layout()
    return figure


def scatter(points: Sequence[Mapping[str, Any]], x: str, y: str, path: Path, *, front: Collection[int] = (),
            label: str | None = None, group: str | None = None, title: str = "", log: bool = False) -> None:
    """`scatter_figure(...)` written to `path` (.png, .svg or .pdf), atomically."""
    image_format(path)
    write_figure(scatter_figure(points, x, y, front=front, label=label, group=group, title=title, log=log), path)
