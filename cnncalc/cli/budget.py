"""`cnncalc check`, `cnncalc compare` and `cnncalc sweep`: design-time budgets (docs/budgets.md)."""
from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Optional

import typer

from ..core.figures import FIGURES
from ..core.text import file_name
from .app import BATCH, CONVENTION, DTYPE, INPUT, OUTPUT, SET, SPEC, app, emit, reporting_errors, set_values
from .memory import amp_option, optimizer_option

INPUTS = typer.Option(None, "--input", metavar="C,H,W", help="An input size (repeatable), of the spec's input's "
                      "rank: C,H,W (L,D for a sequence of tokens, F for a vector).")
STRICT = typer.Option(False, "--strict", help="Treat warnings (a stride that does not fit) as errors.")
OPTIMIZER = optimizer_option("The training peak's optimizer (its state and step temporaries)")
AMP = amp_option("The training peak under mixed precision (torch.autocast; parameters stay float32).")


def with_limits(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command one `--max-NAME SIZE` option per figure of core/figures.py (so a new figure
    is a new limit everywhere); the command receives them as `limits`, {figure: text}."""
    signature = inspect.signature(command, eval_str=True)
    options = [
        inspect.Parameter(f"max_{figure.name}", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],
                          default=typer.Option(None, figure.option, metavar="SIZE", show_default=False,
                                               help=f"Limit on {figure.description} "
                                                    f"({'25M, 4.1e9' if figure.unit == 'count' else '200MiB, 24GB'})."))
        for figure in FIGURES.values()
    ]

    @functools.wraps(command)
    def run(**kwargs: Any) -> None:
        limits = {name: kwargs.pop(f"max_{name}") for name in FIGURES}
        command(**kwargs, limits={name: text for name, text in limits.items() if text is not None})

    kept = [parameter for parameter in signature.parameters.values() if parameter.name != "limits"]
    shown = signature.replace(parameters=[*kept, *options])  # what typer reads
    run.__signature__ = shown  # type: ignore[attr-defined]
    run.__annotations__ = {parameter.name: parameter.annotation for parameter in shown.parameters.values()}
    return run


def _warn(notes: Any) -> None:
    from ..render.console import stderr_console

    errors = stderr_console()
    for note in notes:
        errors.print(note.render(), markup=False)


@app.command("check")
@with_limits
def check(
    spec: str = SPEC,
    format: Literal["table", "json", "csv"] = typer.Option("table", "--format", "-f", help="Output format."),
    output: Optional[Path] = OUTPUT,
    input_shape: Optional[str] = INPUT,
    set_vars: Optional[list[str]] = SET,
    convention: str = CONVENTION,
    batch: int = BATCH,
    dtype: str = DTYPE,
    strict: bool = STRICT,
    optimizer: str = OPTIMIZER,
    amp: Optional[str] = AMP,
    limits: Optional[dict[str, str]] = None,
) -> None:
    """Check a spec against limits: the spec's own [bold]budget:[/bold] mapping and the --max-* options
    (an option replaces the spec's limit on the same figure). One row per limit: the limit, the value,
    the headroom and the verdict.

    Exit code 0 when every limit holds, 1 when any is exceeded, 2 on bad input: ready for CI.

    Example: [bold]cnncalc check resnet50 --max-params 25M --max-macs 4.1G[/bold]
    """
    from ..api import check as run_check
    from ..core.errors import CheckFailed
    from ..render.budget import check_csv, check_json, check_table
    from ..render.console import plain_text, show

    with reporting_errors():
        result = run_check(spec, limits=limits, set=set_values(set_vars), input=input_shape, convention=convention,
                           batch=batch, dtype=dtype, strict=strict, optimizer=optimizer, amp=amp)
        _warn(result.warnings)
        if format == "table":
            body = check_table(result, spec)
            if output is None:
                show(*body)
            else:
                emit(plain_text(*body), output)
        else:
            emit(check_json(result) if format == "json" else check_csv(result), output)
        if not result.ok:
            raise CheckFailed(f"over budget: {', '.join(verdict.figure for verdict in result.exceeded)}")


@app.command("compare")
def compare(
    specs: list[str] = typer.Argument(..., help="Specs to compare: files or bundled names (see 'cnncalc specs')."),
    inputs: Optional[list[str]] = INPUTS,
    by: Literal["spec", "block"] = typer.Option(
        "spec", "--by", help="spec: one row per spec and input size; block: two specs' top-level blocks side by "
                             "side where their names match."),
    format: Literal["table", "markdown", "csv", "json"] = typer.Option("table", "--format", "-f",
                                                                      help="Output format."),
    output: Optional[Path] = OUTPUT,
    set_vars: Optional[list[str]] = SET,
    convention: str = CONVENTION,
    batch: int = BATCH,
    dtype: str = DTYPE,
    strict: bool = STRICT,
    optimizer: str = OPTIMIZER,
    amp: Optional[str] = AMP,
    plot: Optional[Path] = typer.Option(
        None, "--plot", metavar="FILE",
        help="Also draw the rows (.png, .svg or .pdf; needs the plot extra): two figures, each row named, "
             "the Pareto front highlighted."),
    plot_axes: Optional[str] = typer.Option(
        None, "--plot-axes", metavar="X,Y", help="The two figures --plot draws (default: params,macs)."),
) -> None:
    """Compare specs side by side: one row per (spec, input size) with parameters, multiply-adds,
    activation memory and the inference and training peaks, each also as a ratio to the first row.

    Examples: [bold]cnncalc compare resnet50 efficientnet_b0 convnext_tiny --input 3,224,224 --input 3,320,320[/bold],
    [bold]cnncalc compare resnet50 resnext50_32x4d --by block[/bold]
    """
    from ..api import compare as run_compare
    from ..api import compare_blocks
    from ..core.errors import OptionError
    from ..render import budget as render
    from ..render.console import plain_text, show

    with reporting_errors():
        axes = _plot_axes(plot, plot_axes, None)  # before the work: a bad --plot costs nothing
        options: dict[str, Any] = {"set": set_values(set_vars), "convention": convention, "batch": batch,
                                   "dtype": dtype, "strict": strict}
        if by == "block" and plot is not None:
            raise OptionError("--plot draws the rows of --by spec; --by block has none to draw")
        if by == "block":
            if len(specs) != 2:
                raise OptionError(f"--by block compares two specs, got {len(specs)}",
                                  hint="e.g. cnncalc compare resnet50 resnext50_32x4d --by block")
            if inputs and len(inputs) > 1:
                raise OptionError("--by block takes at most one --input")
            result: Any = compare_blocks(specs[0], specs[1], input=inputs[0] if inputs else None, **options)
            renderers: dict[str, Callable[[Any], Any]] = {
                "table": render.blocks_table, "markdown": render.blocks_markdown, "csv": render.blocks_csv}
        else:
            result = run_compare(specs, inputs=inputs or None, optimizer=optimizer, amp=amp, **options)
            renderers = {"table": render.compare_table, "markdown": render.compare_markdown,
                         "csv": render.compare_csv}
        if format == "table" and output is None:
            show(*renderers["table"](result), natural_width=True)
        else:
            if format == "table":
                text = plain_text(*renderers["table"](result))
            else:
                text = render.compare_json(result) if format == "json" else renderers[format](result)
            emit(text, output)
        if plot is not None and axes is not None:
            _wrote(plot, render.compare_plot(result, *axes, plot))


@app.command("sweep")
@with_limits
def sweep(
    spec: str = SPEC,
    set_vars: Optional[list[str]] = typer.Option(
        None, "--set", metavar="NAME=VALUES",
        help="Values of a variable (repeatable): FROM:TO:STEP (width=0.5:1.5:0.05, TO included), a list "
             "(depth=2,3,4) or one value."),
    inputs: Optional[list[str]] = INPUTS,
    maximize: Optional[str] = typer.Option(None, "--maximize", metavar="NAME",
                                           help="Rank the variants within the limits: the largest figure or "
                                                "variable first (e.g. width)."),
    minimize: Optional[str] = typer.Option(None, "--minimize", metavar="NAME",
                                           help="Rank the variants within the limits: the smallest first (e.g. macs)."),
    pareto: Optional[str] = typer.Option(None, "--pareto", metavar="A,B",
                                         help="Keep only the Pareto front of these figures (all minimized), "
                                              "e.g. params,macs."),
    top: int = typer.Option(10, "--top", min=0, help="Rows of the ranked table (0: all)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                       help="Worker processes (default and at most: every core; the answer is "
                                       "the same)."),
    format: Literal["table", "csv", "json"] = typer.Option("table", "--format", "-f", help="Output format."),
    output: Optional[Path] = OUTPUT,
    plot: Optional[Path] = typer.Option(
        None, "--plot", metavar="FILE",
        help="Also draw the valid variants (.png, .svg or .pdf; needs the plot extra): two figures with the "
             "Pareto front of the variants within the limits highlighted."),
    plot_axes: Optional[str] = typer.Option(
        None, "--plot-axes", metavar="X,Y",
        help="The two figures --plot draws (default: the first two of --pareto, else params,macs)."),
    figures: Optional[str] = typer.Option(
        None, "--figures", metavar="A,B",
        help="Also compute these figures for every variant: the memory peaks (peak, train_peak) are computed "
             "only when named here or by a limit, the objective, --pareto or --plot-axes."),
    convention: str = CONVENTION,
    batch: int = BATCH,
    dtype: str = DTYPE,
    strict: bool = STRICT,
    optimizer: str = OPTIMIZER,
    amp: Optional[str] = AMP,
    limits: Optional[dict[str, str]] = None,
) -> None:
    """Sweep a grid of the spec's variables and input sizes: every variant analysed, judged against
    the limits (the --max-* options and the spec's budget, as in check), ranked by --maximize or
    --minimize, or cut to a --pareto front. Variants the spec cannot build are listed as invalid with
    their message.

    Exit code 0 when some variant is valid and within the limits, 1 when none is, 2 on bad input
    (every variant invalid included).

    Example: [bold]cnncalc sweep mobilenet_v2 --set width=0.5:1.5:0.01 --max-macs 300M --maximize width[/bold]
    """
    from ..api import sweep as run_sweep
    from ..core.errors import CheckFailed, InputError, OptionError
    from ..render.budget import sweep_csv, sweep_json, sweep_plot, sweep_table
    from ..render.console import plain_text, show

    with reporting_errors():
        axes = _plot_axes(plot, plot_axes, pareto)  # before the sweep: a bad --plot costs no work
        grid = set_values(set_vars)
        names = [item.partition("=")[0].strip() for item in set_vars or []]
        if len(names) != len(grid):
            repeated = next(name for name in names if names.count(name) > 1)
            raise OptionError(f"--set {repeated} is given twice",
                              hint="one --set per variable: --set width=0.5,0.75,1.0")
        with ProgressBar() as progress:
            wanted = [*(figures.split(",") if figures else []), *(axes or ())]
            result = run_sweep(spec, set=grid, inputs=inputs or None, limits=limits, maximize=maximize,
                               minimize=minimize, pareto=pareto, figures=wanted, convention=convention, batch=batch,
                               dtype=dtype, strict=strict, optimizer=optimizer, amp=amp, jobs=jobs, progress=progress)
        if format == "table":
            body = sweep_table(result, top)
            if output is None:
                show(*body, natural_width=True)
            else:
                emit(plain_text(*body), output)
        else:
            emit(sweep_json(result) if format == "json" else sweep_csv(result), output)
        if plot is not None and axes is not None:
            _wrote(plot, sweep_plot(result, *axes, plot))
        if result.variants and not any(variant.valid for variant in result.variants):
            count = len(result.variants)
            raise InputError(f"no variant is valid: {'the only one is' if count == 1 else f'all {count:,} are'} bad "
                             "input (listed above)",
                             file=result.spec, hint="every value swept makes a spec that cannot be built")
        if not result.fitting:
            raise CheckFailed("no variant is valid and within the limits" if result.limits else "no variant is valid")


def _wrote(plot: Path, drawn: str) -> None:
    """The note that --plot wrote its file: on stderr, after the table (when both go to one place)."""
    from ..render.console import stderr_console

    sys.stdout.flush()
    stderr_console().print(f"wrote {file_name(plot)} ({drawn})", markup=False, highlight=False)


def _plot_axes(plot: Path | None, given: str | None, pareto: str | None) -> tuple[str, str] | None:
    """The two figures `--plot` draws (None without --plot); the file name, matplotlib and the
    folder are checked first."""
    from ..analysis.sweep import named_figures, pareto_from
    from ..core.errors import OptionError
    from ..render.plot import image_format, require_matplotlib

    if plot is None:
        if given is not None:
            raise OptionError("--plot-axes says what --plot draws: give --plot FILE too")
        return None
    image_format(plot)
    require_matplotlib()
    if not plot.parent.is_dir():
        raise OptionError(f"--plot {file_name(plot)}: folder {file_name(plot.parent)} does not exist")
    if given is None:
        x, y = pareto_from(pareto)[:2] if pareto else ("params", "macs")
        return x, y
    axes = named_figures(given.split(","), "--plot-axes")
    if len(axes) != 2:
        raise OptionError(f"--plot-axes {given}: give two different figures, e.g. --plot-axes params,macs")
    return axes[0], axes[1]


class ProgressBar:
    """A rich progress bar on stderr while the sweep runs (on a terminal only); yields the callback.
    It redraws when told, with no thread of its own, so that the sweep may fork its workers."""

    def __init__(self, label: str = "sweep") -> None:
        self.label = label

    def __enter__(self) -> Callable[[int, int], None] | None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from ..render.console import stderr_console

        console = stderr_console()
        if not console.is_terminal:
            self.bar = None
            return None
        self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=console, transient=True, auto_refresh=False)
        self.bar.start()
        task = self.bar.add_task(self.label, total=None)
        bar = self.bar

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, refresh=True)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
