"""`cnncalc plot` and `cnncalc report`: the slide's charts as an image, and the whole network on one
self-contained HTML page (docs/report.md)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..core.text import file_name, printable
from ..render.panels import PANELS
from .app import BATCH, CONVENTION, DTYPE, INPUT, OUTPUT, SET, SPEC, app, emit, reporting_errors, set_values

if TYPE_CHECKING:
    from ..analysis.report import Report

DEPTH = typer.Option(None, "--depth", "-d", min=1,
                     help="One bar per block at this depth (1: top level). Default: every layer, or the "
                          "deepest block level that fits in 60 bars.")


@app.command()
def plot(
    spec: str = SPEC,
    output: Path = typer.Option(..., "--output", "-o", help="The image to write (atomically): .png, .svg or .pdf."),
    what: Optional[str] = typer.Option(None, "--what", "-w", metavar="PANELS",
                                       help="Panels to draw, in order: " + ", ".join(PANELS) + " (default: all)."),
    depth: Optional[int] = DEPTH,
    dtype: str = DTYPE,
    batch: int = BATCH,
    input_shape: Optional[str] = INPUT,
    convention: str = CONVENTION,
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Draw the lecture's "Memory, Parameters, and MFLOPs" slide: activation memory (KB), parameters
    (k) and multiply-adds (M) per layer, each with its takeaway computed from the numbers (needs
    the plot extra, matplotlib).

    Example: [bold]cnncalc plot alexnet -o alexnet.png[/bold]
    """
    from ..api import analyze
    from ..render.panels import auto_depth, chosen_panels, panels
    from ..render.plot import image_format, require_matplotlib, write_panels

    with reporting_errors():
        image_format(output)
        keys = chosen_panels(what)
        require_matplotlib()
        report = analyze(spec, set=set_values(set_vars), input=input_shape, convention=convention, dtype=dtype,
                         batch=batch)
        print_warnings(report)
        chosen_depth = depth if depth is not None else auto_depth(report)
        drawn = panels(report, keys, chosen_depth)
        write_panels(drawn, chart_title(report.name, keys), output)
        bars = len(drawn[0].bars)
        grouping = f", one per block at --depth {chosen_depth}" if chosen_depth is not None else ""
        typer.echo(f"wrote {file_name(output)} ({len(drawn)} panels, {bars} bars{grouping})")
        for panel in drawn:
            if panel.takeaway is not None:
                typer.echo(f"  {printable(panel.takeaway.text)}")


def print_warnings(report: Report) -> None:
    from ..render.console import stderr_console

    errors = stderr_console()
    for note in report.warnings:
        errors.print(note.render(), markup=False)


def chart_title(name: str, keys: list[str]) -> str:
    """'alexnet: memory, parameters and multiply-adds' for the chosen panels."""
    nouns = [PANELS[key].noun.replace("activation ", "") for key in keys]
    listed = nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + " and " + nouns[-1]
    return f"{name}: {listed}"


@app.command()
def report(
    spec: str = SPEC,
    output: Optional[Path] = OUTPUT,
    depth: Optional[int] = DEPTH,
    dtype: str = DTYPE,
    batch: int = BATCH,
    input_shape: Optional[str] = INPUT,
    convention: str = CONVENTION,
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Write one self-contained HTML page (works offline, loads nothing): the layer graph with
    collapsible blocks, each layer's derivation on a click, the sortable lecture table, the charts,
    the totals and the spec's source. --depth applies to the charts.

    Example: [bold]cnncalc report resnet50 -o resnet50.html[/bold]
    """
    from ..analysis.engine import analyze
    from ..analysis.explain import explain
    from ..api import convention_named, load_graph
    from ..render.html import report_page
    from ..render.panels import auto_depth, panels

    with reporting_errors():
        graph, display = load_graph(spec, set=set_values(set_vars), input=input_shape)
        chosen = convention_named(convention)
        result = analyze(graph, convention=chosen, dtype=dtype, batch=batch)
        print_warnings(result)
        charts = panels(result, list(PANELS), depth if depth is not None else auto_depth(result))
        page = report_page(result, explain(graph, result, chosen), charts, spec_source(spec), display)
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
