"""`cnncalc table` and `cnncalc explain`: the lecture table and the worked derivations."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from ..render.lecture import TABLE_COLUMNS
from .app import (
    BATCH,
    CONVENTION,
    DTYPE,
    INPUT,
    MODE,
    OUTPUT,
    SET,
    SPEC,
    SYMBOLIC,
    app,
    emit,
    reporting_errors,
    set_values,
)

# Symbolic values have no lecture units (k, M, KB): markdown shows the exact formulas in the table.
SYMBOLIC_COLUMNS = "c_in,hw_in,filters,kernel,stride,pad,c_out,hw_out,memory_bytes,params,macs"


@app.command()
def table(
    spec: str = SPEC,
    format: Literal["table", "csv", "json", "markdown"] = typer.Option("table", "--format", "-f",
                                                                      help="Output format."),
    output: Optional[Path] = OUTPUT,
    dtype: str = DTYPE,
    batch: int = BATCH,
    input_shape: Optional[str] = INPUT,
    convention: str = CONVENTION,
    strict: bool = typer.Option(False, "--strict", help="Treat warnings (a stride that does not fit) as errors."),
    depth: Optional[int] = typer.Option(None, "--depth", "-d", min=1,
                                        help="Collapse blocks below this depth into one row each (1: top level)."),
    set_vars: Optional[list[str]] = SET,
    columns: Optional[str] = typer.Option(
        None, "--columns", "-c",
        help="Columns of the table and markdown: a list such as 'rf,jump,params' (after the layer name), or "
             "'+rf,jump' to add to the lecture's. Keys: " + ", ".join(TABLE_COLUMNS) + "."),
    symbolic: bool = SYMBOLIC,
    mode: str = MODE,
) -> None:
    """Print the lecture table of a network: per layer C_in, H/W, Filters, K, S, P, C_out, H'/W',
    memory (KB), parameters (k) and multiply-adds (M), with totals.

    Example: [bold]cnncalc table specs/alexnet.yaml[/bold]
    """
    from ..api import analyze
    from ..render.console import plain_text, show, stderr_console
    from ..render.lecture import choose_columns, lecture_markdown, lecture_renderables
    from ..render.machine import to_csv, to_json

    with reporting_errors():
        chosen, may_add_from = choose_columns(columns if columns or not symbolic else SYMBOLIC_COLUMNS)
        report = analyze(spec, set=set_values(set_vars), input=input_shape, convention=convention, dtype=dtype,
                         batch=batch, strict=strict, symbolic=symbolic, depth=depth, mode=mode)
        errors = stderr_console()
        for note in report.warnings:
            errors.print(note.render())
        if format == "table":
            body = lecture_renderables(report, chosen if columns or not symbolic else None, may_add_from)
            if output is None:
                show(*body, natural_width=True)
                return
            text = plain_text(*body)
        elif format == "markdown":
            text = lecture_markdown(report, chosen, may_add_from)
        else:
            text = to_csv(report) if format == "csv" else to_json(report)
        emit(text, output, [spec])


@app.command()
def explain(
    spec: str = SPEC,
    layer: Optional[list[str]] = typer.Option(None, "--layer", "-l", help="Explain only this layer (repeatable)."),
    format: Literal["text", "markdown", "json"] = typer.Option("text", "--format", "-f", help="Output format."),
    output: Optional[Path] = OUTPUT,
    dtype: str = DTYPE,
    batch: int = BATCH,
    input_shape: Optional[str] = INPUT,
    convention: str = CONVENTION,
    set_vars: Optional[list[str]] = SET,
    symbolic: bool = SYMBOLIC,
    mode: str = MODE,
) -> None:
    """Show how every number of each layer is computed, formula and values, as the lectures do:
    W' = (W - K + 2P)/S + 1 = (227 - 11 + 2·0)/4 + 1 = 55.

    Example: [bold]cnncalc explain alexnet --layer conv1 --layer pool1[/bold]
    """
    from ..analysis.conventions import CONVENTIONS
    from ..analysis.engine import analyze
    from ..analysis.explain import explain as derive
    from ..api import load_graph
    from ..render.console import plain_text, show
    from ..render.explain import explain_json, explain_markdown, explain_text
    from ..render.lecture import training_only_line

    with reporting_errors():
        graph, _ = load_graph(spec, set=set_values(set_vars), input=input_shape, symbolic=symbolic)
        chosen = CONVENTIONS[convention]
        report = analyze(graph, convention=chosen, dtype=dtype, batch=batch, mode=mode)
        items = derive(graph, report, chosen, layer or [])
        if format == "text":
            body = explain_text(items)
            if not layer and (line := training_only_line(report)):
                body += ["", line]
            if output is None:
                show(*body)
                return
            text = plain_text(*body)
        elif format == "markdown":
            text = explain_markdown(items)
        else:
            text = explain_json(items, report.name, report.convention, report.dtype, report.batch)
        emit(text, output, [spec])
