"""`cnncalc specs` and `cnncalc ops`: what a spec can start from and what it can use."""
from __future__ import annotations

from .app import app, reporting_errors


@app.command("specs")
def list_specs() -> None:
    """List the bundled specs, usable by name from any folder (e.g. 'cnncalc table alexnet')."""
    from rich.table import Table

    from ..render.console import show
    from ..spec import bundled

    with reporting_errors():
        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("name", no_wrap=True)
        table.add_column("description")
        for name, path in bundled.bundled_specs().items():
            table.add_row(name, bundled.description_of(path))
        show(table)


@app.command("ops")
def list_ops() -> None:
    """List the layer types a spec can use, with their fields and defaults (docs/spec.md)."""
    from ..render.catalog import ops_table
    from ..render.console import show

    show(ops_table())


@app.command("schema")
def json_schema() -> None:
    """Print the spec language as JSON Schema, for editors (docs/spec.md: "Editor support").

    Example: [bold]cnncalc schema > spec.schema.json[/bold]
    """
    from ..render.jsonout import dumps
    from ..spec.schema import spec_schema
    from .app import emit

    emit(dumps(spec_schema()), None)
