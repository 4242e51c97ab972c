"""The commands that build the network in PyTorch: `verify`, `export` and `profile`. torch is
imported inside them only, so `cnncalc --help` and the static commands stay fast."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from ..core.errors import OptionError
from ..core.text import file_name
from .app import (
    INPUT,
    MODE,
    OUTPUT,
    SET,
    SPEC,
    app,
    batch_limit,
    convention_option,
    emit,
    input_files,
    reporting_errors,
    set_values,
)


@app.command()
def verify(
    spec: str = SPEC,
    device: Literal["meta", "cpu"] = typer.Option("meta", "--device", help="meta: shapes only, nothing computed; "
                                                  "cpu: a real forward pass of one zero image."),
    format: Literal["table", "json"] = typer.Option("table", "--format", "-f", help="Output format."),
    input_shape: Optional[str] = INPUT,
    set_vars: Optional[list[str]] = SET,
    convention: str = convention_option(
        "fvcore", "Also check each layer's multiply-adds against this convention's tool where it can count layers: "
        "fvcore (FlopCountAnalysis, the default) or torch (FlopCounterMode); the others check no multiply-adds"),
    mode: str = MODE,
    memory: bool = typer.Option(False, "--memory", help="Also check the memory model: each layer's bytes kept for "
                                "backward (saved_tensors_hooks) and the peak of a training step and of an inference "
                                "pass per category (MemTracker), under fake tensors; seconds for a large network."),
) -> None:
    """Build the spec as a PyTorch nn.Module, run it, and check every layer against the static
    engine: output shape, parameters, BatchNorm statistics and (fvcore, torch conventions) multiply-adds
    as the convention's tool counts them; with --memory, the memory model too. Exit code 1 on any mismatch.

    Example: [bold]cnncalc verify resnet50[/bold]
    """
    from ..analysis.conventions import CONVENTIONS
    from ..analysis.engine import analyze
    from ..api import load_graph
    from ..core.errors import CheckFailed
    from ..pytorch.verify import REFERENCE_COUNTERS
    from ..pytorch.verify import verify as check
    from ..render.console import show
    from ..render.verify import verify_json, verify_renderables

    with reporting_errors():
        graph, display = load_graph(spec, set=set_values(set_vars), input=input_shape)
        checks = check(graph, analyze(graph, convention=CONVENTIONS[convention], mode=mode), device)
        if memory:
            from ..pytorch.verify import memory_checks

            checks += memory_checks(graph)
        if format == "json":
            emit(verify_json(checks, display, device, convention), None)
        else:
            show(*verify_renderables(checks, display, device, convention, convention in REFERENCE_COUNTERS))
        wrong = [c for c in checks if not c.ok]
        if wrong:
            raise CheckFailed(f"{len(wrong)} of {len(checks)} checks differ from PyTorch")


EXPORT_SUFFIXES: dict[str, Literal["pytorch", "onnx"]] = {".py": "pytorch", ".onnx": "onnx"}


def export_format(output: Path) -> Literal["pytorch", "onnx"]:
    """What `export` writes when --to is not given: the output's suffix says."""
    if output.suffix.lower() not in EXPORT_SUFFIXES:
        raise OptionError(f"--to is needed: the suffix of '{file_name(output)}' names no format",
                          hint="name the file .py or .onnx, or give --to pytorch|onnx")
    return EXPORT_SUFFIXES[output.suffix.lower()]


@app.command()
def export(
    spec: str = SPEC,
    to: Optional[Literal["pytorch", "onnx"]] = typer.Option(
        None, "--to", help="pytorch: a standalone Python file; onnx: an ONNX model. Default: from the output's "
        "suffix (.py, .onnx)."),
    output: Path = typer.Option(..., "--output", "-o", help="The file to write (atomically)."),
    force: bool = typer.Option(False, "--force", help="Replace the file if it exists."),
    flat: bool = typer.Option(False, "--flat", help="pytorch: one class registering every layer by its module "
                              "path, one forward line per layer (no class per block)."),
    input_shape: Optional[str] = INPUT,
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Write the network as PyTorch code or as ONNX: a class per block and one for the model,
    needing only torch, its modules named as the spec's `module:` paths say, so that a reference
    model's weights load; ONNX opens in Netron (the dynamo exporter when onnxscript is installed).

    Example: [bold]cnncalc export resnet18 -o resnet18.py[/bold]
    """
    from ..api import load_graph
    from ..core.text import printable_message
    from ..pytorch.export import onnx_bytes, pytorch_export, write_new
    from ..pytorch.lowering import require_torch
    from ..render.console import stderr_console

    with reporting_errors():
        to = to or export_format(output)
        graph, display = load_graph(spec, set=set_values(set_vars), input=input_shape)
        notes: list[str] = []
        if to == "pytorch":
            require_torch()  # the file needs torch to run; say so now rather than at import
            data: str | bytes
            data, notes = pytorch_export(graph, display, flat=flat)
        else:
            data = onnx_bytes(graph)
        write_new(output, data, force, input_files([spec]))
        typer.echo(f"wrote {file_name(output)} ({to}, {len(graph.nodes)} layers)")
        for note in notes:
            stderr_console().print(f"note: {printable_message(note)}", markup=False, highlight=False)


@app.command("profile")
def profile(
    spec: str = SPEC,
    device: Literal["auto", "cpu", "cuda"] = typer.Option("auto", "--device",
                                                          help="auto: cuda when a GPU is visible, else cpu."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, callback=batch_limit, help="Images per forward pass."),
    dtype: Literal["float32", "float16", "bfloat16"] = typer.Option("float32", "--dtype",
                                                                    help="Weights and activations."),
    warmup: int = typer.Option(3, "--warmup", min=0, help="Untimed forward passes before timing."),
    iters: int = typer.Option(10, "--iters", min=1, help="Timed forward passes (whole model, then per layer)."),
    channels_last: bool = typer.Option(False, "--channels-last",
                                       help="NHWC memory format for the input and the conv weights."),
    input_shape: Optional[str] = INPUT,
    set_vars: Optional[list[str]] = SET,
    format: Literal["table", "json"] = typer.Option("table", "--format", "-f", help="Output format."),
    output: Optional[Path] = OUTPUT,
) -> None:
    """Run the network in PyTorch and time every layer: median and IQR over the iterations,
    throughput, achieved TFLOP/s and share of the device's measured peak, next to the static
    MACs, bytes, arithmetic intensity and roofline bound.

    Example: [bold]cnncalc profile resnet18 --device cpu --iters 3[/bold]
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..analysis.engine import analyze
    from ..api import load_graph
    from ..pytorch.lowering import require_torch
    from ..render.console import plain_text, show

    with reporting_errors():
        require_torch()
        from ..pytorch.profile import profile as measure
        from ..render.profile import profile_json, profile_renderables

        graph, _ = load_graph(spec, set=set_values(set_vars), input=input_shape)
        graph = graph.for_mode("infer")  # a forward pass times the inference network
        report = analyze(graph, dtype=dtype, batch=batch)
        stderr = Console(stderr=True)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
            task = bar.add_task("profiling", total=None)

            def on_step(description: str, completed: int, total: int) -> None:
                bar.update(task, description=description, completed=completed, total=total)

            result = measure(graph, report, report.name, device=device, dtype=dtype, warmup=warmup, iters=iters,
                             channels_last=channels_last, progress=on_step)
        if format == "table":
            body = profile_renderables(result)
            if output is None:
                show(*body, natural_width=True)
                return
            emit(plain_text(*body), output, [spec])
        else:
            emit(profile_json(result), output, [spec])
