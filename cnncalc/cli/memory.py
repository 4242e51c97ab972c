"""`cnncalc memory`: the peak memory of a training step or an inference pass, and the batch that fits."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import typer

from .app import INPUT, OUTPUT, SET, SPEC, app, batch_limit, choice, emit, reporting_errors, set_values

OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
MEMORY_DTYPES = ("float32", "float16", "bfloat16", "float64")

# The step's options, shared with `plot` and `report` (their memory timeline).
MEMORY_MODE = typer.Option("train", "--mode", metavar="MODE", callback=choice(("train", "infer"), "mode"),
                           help="train: forward, backward and the optimizer's step; infer: a no_grad forward "
                           "pass of the eval-mode network.")


def optimizer_option(help: str) -> Any:
    """--optimizer, as every command that plays a training step takes it; `help` in its words."""
    return typer.Option("momentum", "--optimizer", metavar="NAME", callback=choice(OPTIMIZER_NAMES, "optimizer"),
                        help=help + ": " + ", ".join(OPTIMIZER_NAMES) + ".")


def amp_option(help: str) -> Any:
    """--amp fp16|bf16, as every command that plays a training step takes it."""
    return typer.Option(None, "--amp", metavar="fp16|bf16", callback=choice(("fp16", "bf16"), "amp"), help=help)


OPTIMIZER = optimizer_option("Its state and step temporaries")
AMP = amp_option("Mixed precision: torch.autocast with this type (parameters stay float32).")
MEMORY_DTYPE = typer.Option("float32", "--dtype", metavar="DTYPE", callback=choice(MEMORY_DTYPES, "dtype"),
                            help="Parameters and activations without autocast: " + ", ".join(MEMORY_DTYPES) + ".")
CHECKPOINT = typer.Option(None, "--checkpoint", metavar="BLOCK", help="Run this block instance (or repeat, or "
                          "layer) under activation checkpointing; repeatable, or comma-separated.")
FOREACH = typer.Option(False, "--foreach", help="The optimizer's foreach implementation (CUDA's default; the CPU's "
                       "is one tensor at a time).")


def checkpoint_names(items: Optional[list[str]]) -> list[str]:
    """--checkpoint a --checkpoint b,c -> ['a', 'b', 'c']; an empty name (`a,,b`, `,`) is refused."""
    from ..core.errors import OptionError
    from ..core.text import shown

    names = [name.strip() for item in items or [] for name in item.split(",")]
    if "" in names:
        given = " ".join(f"--checkpoint {shown(item)}" for item in items or [])
        raise OptionError(f"--checkpoint names a block instance, a repeat or a layer; {given} holds an empty name",
                          hint="e.g. --checkpoint layer1,layer2")
    return names


@app.command()
def memory(
    spec: str = SPEC,
    mode: str = MEMORY_MODE,
    batch: Optional[int] = typer.Option(None, "--batch", "-b", min=1, callback=batch_limit,
                                        help="Batch size (default 1)."),
    optimizer: str = OPTIMIZER,
    amp: Optional[str] = AMP,
    dtype: str = MEMORY_DTYPE,
    checkpoint: Optional[list[str]] = CHECKPOINT,
    foreach: bool = FOREACH,
    fit: Optional[str] = typer.Option(None, "--fit", metavar="SIZE", help="Find the largest batch whose peak fits in "
                                      "SIZE (24GiB, 80GB) and report at that batch; exit 1 if not even one fits."),
    format: Literal["table", "json", "csv"] = typer.Option("table", "--format", "-f", help="Output format."),
    output: Optional[Path] = OUTPUT,
    input_shape: Optional[str] = INPUT,
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Peak memory of one training step (or inference pass) in eager PyTorch, from the spec alone: what
    each layer keeps for backward, the live memory over the step, and the peak broken down into
    parameters, buffers, gradients, optimizer state, activations and temporaries (exact against
    PyTorch's MemTracker; docs/memory.md).

    Example: [bold]cnncalc memory resnet50 --batch 64 --optimizer adamw --amp bf16[/bold]
    """
    from ..api import memory as measure
    from ..core.errors import CheckFailed, OptionError
    from ..render.console import plain_text, show
    from ..render.memory import memory_csv, memory_json, memory_renderables

    with reporting_errors():
        if fit is not None and batch is not None:
            raise OptionError("give --batch or --fit, not both", hint="--fit finds the batch")
        report = measure(spec, mode=mode, batch=batch or 1, optimizer=optimizer, amp=amp, dtype=dtype,
                         set=set_values(set_vars), input=input_shape, checkpoint=checkpoint_names(checkpoint),
                         foreach=foreach, fit=fit)
        if format == "table":
            body = memory_renderables(report)
            if output is None:
                show(*body, natural_width=True)
            else:
                emit(plain_text(*body), output)
        else:
            emit(memory_json(report) if format == "json" else memory_csv(report), output)
        if report.fit is not None and report.fit.batch == 0:
            raise CheckFailed(f"not even one sample fits in {fit}")
