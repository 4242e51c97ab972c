"""`cnncalc profile`: time the network on a device, layer by layer, next to the static prediction
(docs/profile.md).

A command in its own module; cnncalc/cli.py calls `register(app)`. torch and everything heavy are
imported inside the command, so `cnncalc --help` and the static commands stay fast."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

ProfileDevice = Enum("ProfileDevice", {name: name for name in ("auto", "cpu", "cuda")}, type=str)
ProfileDType = Enum("ProfileDType", {name: name for name in ("float32", "float16", "bfloat16")}, type=str)
ProfileFormat = Enum("ProfileFormat", {name: name for name in ("table", "json")}, type=str)


def register(app: typer.Typer) -> None:
    """Add the `profile` command to `app`."""

    @app.command("profile")
    def profile(
        spec: str = typer.Argument(..., help="Spec file, or the name of a bundled spec (see 'cnncalc specs')."),
        device: ProfileDevice = typer.Option(ProfileDevice.auto, "--device",
                                             help="auto: cuda when a GPU is visible, else cpu."),
        batch: int = typer.Option(1, "--batch", "-b", min=1, help="Images per forward pass."),
        dtype: ProfileDType = typer.Option(ProfileDType.float32, "--dtype", help="Weights and activations."),
        warmup: int = typer.Option(3, "--warmup", min=0, help="Untimed forward passes before timing."),
        iters: int = typer.Option(10, "--iters", min=1, help="Timed forward passes (whole model, then per layer)."),
        channels_last: bool = typer.Option(False, "--channels-last",
                                           help="NHWC memory format for the input and the conv weights."),
        input_shape: Optional[str] = typer.Option(None, "--input", help="Override the spec's input, as C,H,W."),
        set_vars: Optional[List[str]] = typer.Option(None, "--set", metavar="NAME=VALUE",
                                                     help="Override a variable of the spec (repeatable)."),
        format: ProfileFormat = typer.Option(ProfileFormat.table, "--format", "-f", help="Output format."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (atomically)."),
    ) -> None:
        """Run the network in PyTorch and time every layer: median and IQR over the iterations,
        throughput, achieved TFLOP/s and share of the device's measured peak, next to the static
        MACs, bytes, arithmetic intensity and roofline bound.

        Example: [bold]cnncalc profile resnet18 --device cpu --iters 3[/bold]
        """
        import sys

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from .app import _graph, plain_text, reporting_errors, show

        with reporting_errors():
            from ..analysis.engine import analyze
            from ..pytorch.lowering import require_torch

            require_torch()
            from ..pytorch.profile import profile as measure
            from ..render.profile import profile_json, profile_renderables

            graph, _ = _graph(spec, set_vars, input_shape)
            report = analyze(graph, dtype=dtype.value, batch=batch)
            stderr = Console(stderr=True)
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
                task = bar.add_task("profiling", total=None)

                def on_step(description: str, completed: int, total: int) -> None:
                    bar.update(task, description=description, completed=completed, total=total)

                result = measure(graph, report, report.name, device=device.value,
                                 dtype=dtype.value, warmup=warmup, iters=iters, channels_last=channels_last,
                                 progress=on_step)
            if format is ProfileFormat.table:
                body = profile_renderables(result)
                if output is None:
                    show(*body, natural_width=True)
                    return
                text = plain_text(*body)
            else:
                text = profile_json(result)
            if output is None:
                sys.stdout.write(text)
            else:
                from ..core.io import write_atomic

                write_atomic(output, text)
