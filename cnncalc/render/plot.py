"""Every chart cnncalc draws, and its one set of styles (colours, sizes, units).

- `panels_figure` / `write_panels`: the lecture's slide, "Memory, Parameters, and MFLOPs", one bar
  per layer or block with each panel's takeaway (`cnncalc plot`); the data is render/panels.py's.
- `panels_svg`: the same panels as inline SVG for the HTML report, without matplotlib.
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
from ..core.numbers import decimal_text, grouped
from .panels import BLOCK, CONV, FC, LEGEND, OTHER, BarPanel

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# ---- styles ----------------------------------------------------------------------------------------
KIND_COLOURS = {CONV: "#4c78a8", FC: "#f58518", OTHER: "#a0a4ab", BLOCK: "#54a24b"}
RUN_COLOUR = "#fbe3a1"  # the band behind the run of layers a memory takeaway names
FRONT_COLOUR = "#d62728"  # the Pareto front
POINT_COLOUR = "#a0a4ab"  # variants off the front, when they are not grouped
GROUP_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#72b7b2", "#eeca3b", "#9d755d", "#ff9da6")
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
        raise OptionError(f"cannot tell the image format of '{path.name}'",
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
def panels_figure(panels: Sequence[BarPanel], title: str) -> Figure:
    """One bar chart per panel: side by side like the slide for a few bars, stacked above each
    other (sharing the layer axis) for many. Each panel's takeaway is its heading."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import StrMethodFormatter

    count = len(panels[0].bars)
    side_by_side = count <= SIDE_BY_SIDE_BARS
    if side_by_side:
        figure = Figure(figsize=(4.8 * len(panels), 5.0))
        axes = list(figure.subplots(1, len(panels), squeeze=False)[0])
    else:
        figure = Figure(figsize=(min(max(10.0, 0.2 * count + 2.5), 30.0), 3.2 * len(panels) + 1.2))
        axes = list(figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0])
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
    handles = [Patch(color=colour, label=text) for colour, text in legend_items(panels)]
    figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8,
                  bbox_to_anchor=(0.5, -0.02))
    figure.tight_layout(rect=(0, 0.04, 1, 0.97))
    return figure


def _bars(ax: Axes, panel: BarPanel) -> None:
    ax.bar(range(len(panel.bars)), panel.heights(), color=[KIND_COLOURS[bar.kind] for bar in panel.bars],
           width=0.75 if len(panel.bars) <= LABELLED_BARS else 1.0, zorder=2)
    if panel.marked:
        ax.axvspan(panel.marked[0] - 0.5, panel.marked[1] + 0.5, color=RUN_COLOUR, zorder=1, lw=0)
    ax.set_ylabel(panel.title)
    ax.set_xlim(-0.6, len(panel.bars) - 0.4)
    ax.grid(axis="y", color="#e4e6ea", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)


def write_panels(panels: Sequence[BarPanel], title: str, path: Path) -> None:
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
    for tick in ticks:
        y = base - tick * scale
        out.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick_text(tick)}</text>')
    out.append(f'<text x="12" y="{base - SVG_HEIGHT / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 12 {base - SVG_HEIGHT / 2:.0f})">{esc(panel.title)}</text>')
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
    steps = ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"), (1, "bytes")) if binary else \
        ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"), (1, ""))
    for divisor, unit in steps:
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
