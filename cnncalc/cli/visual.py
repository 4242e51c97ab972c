"""`cnncalc plot` and `cnncalc report`: the slide's charts as an image, and the whole network on one
self-contained HTML page (docs/report.md)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..core.text import file_name, printable
from ..render.panels import PANEL_KEYS, PANELS, TIMELINE
from .app import BATCH, CONVENTION, DTYPE, INPUT, OUTPUT, SET, SPEC, app, emit, reporting_errors, set_values
from .memory import AMP, CHECKPOINT, FOREACH, MEMORY_DTYPES, MEMORY_MODE, OPTIMIZER, checkpoint_names

if TYPE_CHECKING:
    from ..analysis.report import Report
    from ..render.panels import BarPanel
    from ..render.timeline import TimelinePanel
    from ..spec.graph import Graph

DEPTH = typer.Option(None, "--depth", "-d", min=1,
                     help="One bar per block at this depth (1: top level). Default: every layer, or the "
                          "deepest block level that fits in 60 bars.")


@app.command()
def plot(
    spec: str = SPEC,
    output: Path = typer.Option(..., "--output", "-o", help="The image to write (atomically): .png, .svg or .pdf."),
    what: Optional[str] = typer.Option(None, "--what", "-w", metavar="PANELS",
                                       help="Panels to draw, in order: " + ", ".join(PANEL_KEYS) + " (default: "
                                       + ", ".join(PANELS) + "; timeline: live memory through one training step)."),
    depth: Optional[int] = DEPTH,
    dtype: str = DTYPE,
    batch: int = BATCH,
    mode: str = MEMORY_MODE,
    optimizer: str = OPTIMIZER,
    amp: Optional[str] = AMP,
    checkpoint: Optional[list[str]] = CHECKPOINT,
    foreach: bool = FOREACH,
    input_shape: Optional[str] = INPUT,
    convention: str = CONVENTION,
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Draw the lecture's "Memory, Parameters, and MFLOPs" slide: activation memory (KB), parameters
    (k) and multiply-adds (M) per layer, each with its takeaway computed from the numbers (needs
    the plot extra, matplotlib). --what timeline draws the live memory through one training step
    (--mode infer: an inference pass), the peak marked; --mode, --optimizer, --amp, --checkpoint and
    --foreach are cnncalc memory's and shape only that panel.

    Example: [bold]cnncalc plot alexnet -o alexnet.png[/bold]
    """
    from ..analysis.engine import analyze
    from ..api import convention_named, load_graph
    from ..render.panels import auto_depth, chosen_panels, panels
    from ..render.plot import image_format, require_matplotlib, write_panels

    with reporting_errors():
        image_format(output)
        keys = chosen_panels(what)
        require_matplotlib()
        graph, _ = load_graph(spec, set=set_values(set_vars), input=input_shape)
        report = analyze(graph, convention=convention_named(convention), dtype=dtype, batch=batch)
        print_warnings(report)
        bar_keys = [key for key in keys if key in PANELS]
        chosen_depth = (depth if depth is not None else auto_depth(report)) if bar_keys else None
        bars = panels(report, bar_keys, chosen_depth)
        timeline = memory_timeline(graph, dtype, batch, mode, optimizer, amp, checkpoint, foreach) \
            if TIMELINE in keys else None
        drawn: list[BarPanel | TimelinePanel] = [bars[bar_keys.index(key)] for key in bar_keys]
        if timeline is not None:
            drawn.insert(keys.index(TIMELINE), timeline)
        write_panels(drawn, chart_title(report.name, keys), output)
        parts = [f"{len(drawn)} panel" + ("s" if len(drawn) > 1 else "")]
        if bars:
            grouping = f", one per block at --depth {chosen_depth}" if chosen_depth is not None else ""
            parts.append(f"{len(bars[0].bars)} bars{grouping}")
        if timeline is not None:
            parts.append(f"live memory after each of the {len(timeline.points)} ops of {timeline.steps_name()}")
        typer.echo(f"wrote {file_name(output)} ({', '.join(parts)})")
        for panel in drawn:
            if panel.takeaway is not None:
                typer.echo(f"  {printable(panel.takeaway.text)}")


def memory_timeline(graph: Graph, dtype: str, batch: int, mode: str, optimizer: str, amp: Optional[str],
                    checkpoint: Optional[list[str]], foreach: bool) -> TimelinePanel:
    """The timeline panel of one step, with `cnncalc memory`'s options."""
    from ..analysis.memory_plan import MemoryOptions
    from ..analysis.memory_report import graph_memory
    from ..render.timeline import timeline_panel

    options = MemoryOptions(mode=mode, optimizer=optimizer, amp=amp, dtype=dtype,
                            checkpoint=tuple(checkpoint_names(checkpoint)), foreach=foreach)
    return timeline_panel(graph_memory(graph, options, batch))


def print_warnings(report: Report) -> None:
    from ..render.console import stderr_console

    errors = stderr_console()
    for note in report.warnings:
        errors.print(note.render(), markup=False)


def chart_title(name: str, keys: list[str]) -> str:
    """'alexnet: memory, parameters and multiply-adds' for the chosen panels."""
    nouns = ["live memory" if key == TIMELINE else PANELS[key].noun.replace("activation ", "") for key in keys]
    listed = nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + " and " + nouns[-1]
    return f"{name}: {listed}"


@app.command()
def report(
    spec: str = SPEC,
    output: Optional[Path] = OUTPUT,
    depth: Optional[int] = DEPTH,
    dtype: str = DTYPE,
    batch: int = BATCH,
    mode: str = MEMORY_MODE,
    optimizer: str = OPTIMIZER,
    amp: Optional[str] = AMP,
    checkpoint: Optional[list[str]] = CHECKPOINT,
    foreach: bool = FOREACH,
    input_shape: Optional[str] = INPUT,
    convention: str = CONVENTION,
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Write one self-contained HTML page (works offline, loads nothing): the layer graph with
    collapsible blocks, each layer's derivation on a click, the sortable lecture table, the charts,
    the live memory through one training step, the totals and the spec's source. --depth applies to
    the charts; --mode, --optimizer, --amp, --checkpoint and --foreach (as for cnncalc memory) to the
    memory timeline.

    Example: [bold]cnncalc report resnet50 -o resnet50.html[/bold]
    """
    from ..analysis.engine import analyze
    from ..analysis.explain import explain
    from ..api import convention_named, load_graph
    from ..core.errors import InputError, OptionError
    from ..core.text import printable_message
    from ..render.console import stderr_console
    from ..render.html import report_page
    from ..render.panels import auto_depth, panels

    with reporting_errors():
        graph, display = load_graph(spec, set=set_values(set_vars), input=input_shape)
        chosen = convention_named(convention)
        result = analyze(graph, convention=chosen, dtype=dtype, batch=batch)
        print_warnings(result)
        charts = panels(result, list(PANELS), depth if depth is not None else auto_depth(result))
        timeline, missing = None, ""
        if dtype not in MEMORY_DTYPES:
            missing = f"the memory model has no --dtype {dtype} (its types: {', '.join(MEMORY_DTYPES)})"
        else:
            try:
                timeline = memory_timeline(graph, dtype, batch, mode, optimizer, amp, checkpoint, foreach)
            except OptionError:
                raise  # the options asked for something impossible
            except InputError as problem:  # a spec the table takes but PyTorch could not train as written
                where = f"layer '{problem.layer}': " if problem.layer else ""
                missing = f"{where}{problem.message}"
        if missing:
            stderr_console().print(f"note: no memory timeline: {printable_message(missing)}", markup=False)
        page = report_page(result, explain(graph, result, chosen), charts, spec_source(spec), display, timeline,
                           missing)
        emit(page, output, [spec])
        if output is not None:
            typer.echo(f"wrote {file_name(output)} ({len(page.encode()) / 1024:,.0f} KB, {len(result.rows)} layers)")


def spec_source(spec: str) -> str:
    """The spec's YAML text, as the page shows it."""
    if "\n" in spec:
        return spec
    from ..spec.bundled import resolve
    from ..spec.yamlsrc import read_spec_text

    path, display = resolve(spec)
    return read_spec_text(path, display)
