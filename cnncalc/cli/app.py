"""The command line. A thin layer: parse options, call the library, turn errors into exit codes."""
from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console

from .. import __version__
from ..spec import bundled
from ..analysis.conventions import CONVENTIONS
from ..core.errors import CnnCalcError, SpecError
from ..render.lecture import COLUMNS
from ..analysis.report import DTYPE_BYTES

app = typer.Typer(
    help="A static calculator for convolutional networks: shapes, parameters, multiply-adds and "
    "memory of every layer, from a plain YAML spec, printed the way CNN lectures print them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

Format = Enum("Format", {name: name for name in ("table", "csv", "json", "markdown")}, type=str)
DType = Enum("DType", {name: name for name in DTYPE_BYTES}, type=str)
ConventionName = Enum("ConventionName", {name: name for name in CONVENTIONS}, type=str)


# Options shared by several commands (typer reads these defaults; it does not change them).
SPEC = typer.Argument(..., help="Spec file, or the name of a bundled spec (see 'cnncalc specs').")
INPUT = typer.Option(None, "--input", help="Override the spec's input, as C,H,W.")
SET = typer.Option(None, "--set", metavar="NAME=VALUE", help="Override a variable of the spec (repeatable).")
DTYPE = typer.Option(DType.float32, "--dtype", help="Element type for activation memory.")
BATCH = typer.Option(1, "--batch", "-b", min=1, help="Batch size: scales MACs and memory.")
OUTPUT = typer.Option(None, "--output", "-o", help="Write to this file (atomically).")
CONVENTION = typer.Option(ConventionName.textbook, "--convention",
                          help="What counts as a multiply-add (docs/conventions.md).")


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Domain errors become a message on stderr and their exit code; never a traceback."""
    try:
        yield
    except CnnCalcError as exc:
        _stderr().print(exc.render(), markup=False)
        raise typer.Exit(exc.exit_code) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """cnncalc: shapes, params, multiply-adds and memory of a CNN from a YAML spec."""


def parse_input_option(text: str) -> tuple[int, ...]:
    """'3,224,224' or '3x224x224' -> (3, 224, 224)."""
    parts = [p for p in re.split(r"[,x×\s]+", text.strip()) if p]
    if len(parts) not in (1, 3) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise SpecError(f"--input must be C,H,W (or F) of positive whole numbers, got {text!r}",
                        hint="e.g. --input 3,224,224")
    return tuple(int(p) for p in parts)


# Symbolic values have no lecture units (k, M, KB): the table shows the exact formulas.
SYMBOLIC_COLUMNS = "c_in,hw_in,filters,kernel,stride,pad,c_out,hw_out,memory_bytes,params,macs"


def parse_set_options(items: list[str]) -> dict[str, str]:
    """['width=0.5', 'c=32'] -> {'width': '0.5', 'c': '32'}."""
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise SpecError(f"--set expects NAME=VALUE, got {item!r}", hint="e.g. --set width=0.5")
        values[name.strip()] = value.strip()
    return values


def _graph(spec: str, set_vars: Optional[list[str]], input_shape: Optional[str], symbolic: bool = False):
    """The spec's graph and the name to show for it, with the command's --set and --input."""
    from ..spec.graph import build
    from ..spec.spec import load_spec

    override = parse_input_option(input_shape) if input_shape is not None else None
    path, display = bundled.resolve(spec)
    return build(load_spec(path, display, parse_set_options(set_vars or []), symbolic=symbolic), override), display


def plain_text(*renderables) -> str:
    """Rich renderables as plain text at their natural width, trailing spaces removed."""
    import io

    console = Console(file=io.StringIO(), width=1000, color_system=None, highlight=False)
    for item in renderables:
        console.print(item, markup=False)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"


def show(*renderables, natural_width: bool = False) -> None:
    """Print to the terminal with colour (rich honours NO_COLOR), or as plain text when piped.

    With `natural_width`, a terminal too narrow for the tables gets long lines rather than cut cells.
    """
    console = Console(highlight=False)
    if console.is_terminal:
        if natural_width:
            from rich.measure import Measurement

            needed = max(Measurement.get(console, console.options, item).maximum for item in renderables
                         if not isinstance(item, str))
            if needed > console.width:
                console = Console(highlight=False, width=needed)
        for item in renderables:
            console.print(item, markup=False)
    else:
        sys.stdout.write(plain_text(*renderables))


@app.command()
def table(
    spec: str = SPEC,
    format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    output: Optional[Path] = OUTPUT,
    dtype: DType = DTYPE,
    batch: int = BATCH,
    input_shape: Optional[str] = INPUT,
    convention: ConventionName = CONVENTION,
    strict: bool = typer.Option(False, "--strict", help="Treat warnings (a stride that does not fit) as errors."),
    depth: Optional[int] = typer.Option(None, "--depth", "-d", min=1,
                                        help="Collapse blocks below this depth into one row each (1: top level)."),
    set_vars: Optional[list[str]] = SET,
    columns: Optional[str] = typer.Option(
        None, "--columns", "-c",
        help="Columns of the table and markdown: a list such as 'rf,jump,params' (after the layer name), or "
             "'+rf,jump' to add to the lecture's. Keys: " + ", ".join(COLUMNS) + "."),
    symbolic: bool = typer.Option(False, "--symbolic", help="Sizes as symbols: input [C, H, W] (or the spec's "
                                  "own symbols) and formulas for params, MACs and memory (needs sympy)."),
) -> None:
    """Print the lecture table of a network: per layer C_in, H/W, Filters, K, S, P, C_out, H'/W',
    memory (KB), parameters (k) and multiply-adds (M), with totals.

    Example: [bold]cnncalc table specs/alexnet.yaml[/bold]
    """
    from ..analysis.engine import analyze
    from ..render import lecture_markdown, lecture_table, to_csv, to_json
    from ..render.lecture import choose_columns, summary_lines

    with reporting_errors():
        chosen, may_add_from = choose_columns(columns if columns or not symbolic else SYMBOLIC_COLUMNS)
        graph, _ = _graph(spec, set_vars, input_shape, symbolic)
        report = analyze(graph, convention=CONVENTIONS[convention.value], dtype=dtype.value, batch=batch,
                         strict=strict)
        if depth is not None:
            report = report.collapse(depth)
        errors = _stderr()
        for note in report.warnings:
            errors.print(note.render(), markup=False)
        if format is Format.table:
            body = [lecture_table(report, chosen, may_add_from), *summary_lines(report)]
            if output is None:
                show(*body, natural_width=True)
                return
            text = plain_text(*body)
        else:
            if format is Format.markdown:
                text = lecture_markdown(report, chosen, may_add_from)
            else:
                text = {Format.csv: to_csv, Format.json: to_json}[format](report)
        if output is None:
            sys.stdout.write(text)
        else:
            from ..core.io import write_atomic

            write_atomic(output, text)


ExplainFormat = Enum("ExplainFormat", {name: name for name in ("text", "markdown", "json")}, type=str)


@app.command()
def explain(
    spec: str = SPEC,
    layer: Optional[list[str]] = typer.Option(None, "--layer", "-l", help="Explain only this layer (repeatable)."),
    format: ExplainFormat = typer.Option(ExplainFormat.text, "--format", "-f", help="Output format."),
    output: Optional[Path] = OUTPUT,
    dtype: DType = DTYPE,
    batch: int = BATCH,
    input_shape: Optional[str] = INPUT,
    convention: ConventionName = CONVENTION,
    set_vars: Optional[list[str]] = SET,
    symbolic: bool = typer.Option(False, "--symbolic", help="Sizes as symbols (see 'cnncalc table --help')."),
) -> None:
    """Show how every number of each layer is computed, formula and values, as the lectures do:
    W' = (W - K + 2P)/S + 1 = (227 - 11 + 2·0)/4 + 1 = 55.

    Example: [bold]cnncalc explain alexnet --layer conv1 --layer pool1[/bold]
    """
    from ..analysis.engine import analyze
    from ..analysis.explain import explain as derive
    from ..render.explain import explain_json, explain_markdown, explain_text

    with reporting_errors():
        graph, _ = _graph(spec, set_vars, input_shape, symbolic)
        chosen = CONVENTIONS[convention.value]
        report = analyze(graph, convention=chosen, dtype=dtype.value, batch=batch)
        items = derive(graph, report, chosen, layer or [])
        if format is ExplainFormat.text:
            if output is None:
                show(*explain_text(items))
                return
            text = plain_text(*explain_text(items))
        elif format is ExplainFormat.markdown:
            text = explain_markdown(items)
        else:
            text = explain_json(items, report.name, report.convention, report.dtype, report.batch)
        if output is None:
            sys.stdout.write(text)
        else:
            from ..core.io import write_atomic

            write_atomic(output, text)


VerifyFormat = Enum("VerifyFormat", {name: name for name in ("table", "json")}, type=str)
Device = Enum("Device", {name: name for name in ("meta", "cpu")}, type=str)
Target = Enum("Target", {name: name for name in ("pytorch", "onnx")}, type=str)


@app.command()
def verify(
    spec: str = SPEC,
    device: Device = typer.Option(Device.meta, "--device", help="meta: shapes only, nothing computed; cpu: a real "
                                  "forward pass of one zero image."),
    format: VerifyFormat = typer.Option(VerifyFormat.table, "--format", "-f", help="Output format."),
    input_shape: Optional[str] = INPUT,
    set_vars: Optional[list[str]] = SET,
    convention: ConventionName = typer.Option(
        "fvcore", "--convention",
        help="Also check each layer's multiply-adds against this convention's tool where it can count "
             "layers: fvcore (FlopCountAnalysis, the default) or torch (FlopCounterMode)."),
) -> None:
    """Build the spec as a PyTorch nn.Module, run it, and check every layer against the static
    engine: output shape, parameters, BatchNorm statistics and (fvcore, torch conventions) multiply-adds
    as the convention's tool counts them. Exit code 1 on any mismatch.

    Example: [bold]cnncalc verify resnet50[/bold]
    """
    import json

    from ..analysis.engine import analyze
    from ..core.errors import CheckFailed
    from ..pytorch.verify import REFERENCE_COUNTERS, verify as check

    with reporting_errors():
        graph, display = _graph(spec, set_vars, input_shape)
        checks = check(graph, analyze(graph, convention=CONVENTIONS[convention.value]), device.value)
        wrong = [c for c in checks if not c.ok]
        if format is VerifyFormat.json:
            sys.stdout.write(json.dumps({"spec": display, "device": device.value, "convention": convention.value,
                                         "checks": len(checks),
                                         "mismatches": [{"layer": c.layer, "quantity": c.quantity,
                                                         "static": _plain(c.static), "torch": _plain(c.measured)}
                                                        for c in wrong]}, indent=2) + "\n")
        elif wrong:
            from rich.table import Table

            table = Table(title=f"{len(wrong)} mismatches", title_justify="left")
            for header in ("layer", "quantity", "cnncalc", "torch"):
                table.add_column(header)
            for c in wrong:
                table.add_row(c.layer, c.quantity, str(c.static), str(c.measured))
            show(table)
        else:
            layers = len({c.layer for c in checks})
            counted = (f", and multiply-adds ({convention.value})" if convention.value in REFERENCE_COUNTERS
                       else "")
            typer.echo(f"{display}: all {layers} layers match PyTorch ({device.value} device): output shapes, "
                       f"parameters and BatchNorm statistics{counted}")
        if wrong:
            raise CheckFailed(f"{len(wrong)} of {len(checks)} checks differ from PyTorch")


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


@app.command()
def export(
    spec: str = SPEC,
    to: Target = typer.Option(..., "--to", help="pytorch: a standalone Python file; onnx: an ONNX model."),
    output: Path = typer.Option(..., "--output", "-o", help="The file to write (atomically)."),
    force: bool = typer.Option(False, "--force", help="Replace the file if it exists."),
    input_shape: Optional[str] = INPUT,
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Write the network as PyTorch code (an nn.Module class needing only torch) or as ONNX
    (opens in Netron).

    Example: [bold]cnncalc export resnet18 --to pytorch -o resnet18.py[/bold]
    """
    from ..pytorch.export import onnx_bytes, pytorch_source, write_new

    with reporting_errors():
        graph, display = _graph(spec, set_vars, input_shape)
        if to is Target.pytorch:
            from ..pytorch.lowering import require_torch

            require_torch()  # the file needs torch to run; say so now rather than at import
            data = pytorch_source(graph, display)
        else:
            data = onnx_bytes(graph)
        write_new(output, data, force)
        typer.echo(f"wrote {output} ({to.value}, {len(graph.nodes)} layers)")


@app.command("specs")
def list_specs() -> None:
    """List the bundled specs, usable by name from any folder (e.g. 'cnncalc table alexnet')."""
    from rich.table import Table

    with reporting_errors():
        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("name", no_wrap=True)
        table.add_column("description")
        for name, path in bundled.bundled_specs().items():
            table.add_row(name, bundled.describe(path))
        show(table)


@app.command("ops")
def list_ops() -> None:
    """List the layer types a spec can use, with their fields and defaults (docs/spec.md)."""
    from rich.table import Table

    from ..layers.fields import REQUIRED
    from ..layers import layer_types

    table = Table(box=None, show_header=True, header_style="bold")
    for header in ("op", "aliases", "fields", "what it is"):
        table.add_column(header)
    for cls in layer_types():
        fields = ", ".join(f.name if f.default is REQUIRED else f"{f.name}={f.default_text or _default(f.default)}"
                           for f in cls.fields)
        table.add_row(cls.op, ", ".join(cls.aliases), fields, cls.summary)
    show(table)


def _default(value) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


from .grade import register as _register_grade  # noqa: E402  (a command in its own module)

_register_grade(app)

from .profile import register as _register_profile  # noqa: E402  (a command in its own module)

_register_profile(app)

if __name__ == "__main__":  # pragma: no cover
    app()
