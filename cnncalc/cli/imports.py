"""`cnncalc import`: a spec from another tool's model description (an Ultralytics model YAML)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app, emit, reporting_errors


@app.command("import")
def import_model(
    source: Path = typer.Argument(..., help="An Ultralytics model YAML (backbone/head rows and scales), "
                                            "e.g. ultralytics/cfg/models/v8/yolov8.yaml."),
    scale: Optional[str] = typer.Option(None, "--scale", help="The scale the spec starts with (n, s, m, l, x); "
                                        "the spec keeps them all: --set scale=... picks another."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the spec to this file (else stdout)."),
    name: Optional[str] = typer.Option(None, "--name", help="The spec's name (default: the file's name)."),
) -> None:
    """Write a cnncalc spec from an Ultralytics model YAML, without importing ultralytics (docs/import.md).

    Example: [bold]cnncalc import yolov8.yaml --scale n -o yolov8n.yaml[/bold]
    """
    from ..spec.spec import check_name, check_text
    from ..spec.ultralytics import import_ultralytics
    from ..spec.yamlsrc import read_spec_text

    with reporting_errors():
        text = read_spec_text(source, str(source))
        title = name or source.stem.replace(".", "_")
        check_text(title, None, "name")
        check_name(title if title[:1].isalpha() or title[:1] == "_" else f"_{title}", None, "spec name")
        emit(import_ultralytics(text, str(source), scale, title), output, [source])
