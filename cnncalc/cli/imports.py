"""`cnncalc import`: a spec from another tool's model description (an Ultralytics model YAML)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app, emit, reporting_errors


@app.command("import")
def import_model(
    source: Path = typer.Argument(..., help="An Ultralytics model YAML (backbone/head rows and scales), "
                                            "e.g. ultralytics/cfg/models/v8/yolov8.yaml.", readable=False),
    scale: Optional[str] = typer.Option(None, "--scale", help="The scale the spec starts with (n, s, m, l, x); "
                                        "the spec keeps them all: --set scale=... picks another."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the spec to this file (else stdout)."),
    name: Optional[str] = typer.Option(None, "--name", help="The spec's name (default: the file's name)."),
) -> None:
    """Write a cnncalc spec from an Ultralytics model YAML, without importing ultralytics (docs/import.md).

    Example: [bold]cnncalc import yolov8.yaml --scale n -o yolov8n.yaml[/bold]
    """
    from ..core.errors import OptionError, SpecError
    from ..spec.spec import check_name, check_text
    from ..spec.ultralytics import import_ultralytics
    from ..spec.yamlsrc import read_spec_text

    with reporting_errors():
        text = read_spec_text(source, str(source))
        title = name or source.stem.replace(".", "_")
        try:
            check_text(title, None, "name")
            check_name(title if title[:1].isalpha() or title[:1] == "_" else f"_{title}", None, "spec name")
        except SpecError as exc:  # the option's fault, or the file name's
            message = exc.message if exc.message.startswith("'") else \
                f"a spec name uses letters, digits, '_' and '-', got {title!r}"  # (it may start with a digit)
            raise OptionError(f"--name: {message}" if name else f"the file's name makes no spec name: {message}",
                              file=None if name else str(source),
                              hint=None if name else "give the spec's name with --name NAME") from None
        emit(import_ultralytics(text, str(source), scale, title), output, [source])
