"""Printing rich renderables: colour on a terminal (rich honours NO_COLOR), plain text when piped.

Strings given to these functions are printed as they are (no markup, no emoji codes such as
`:fire:`, no highlighting): whatever came from a spec or a sheet has been through core/text.py."""
from __future__ import annotations

import io
import sys
from typing import Any

from rich.console import Console

from .grid import Grid


def _console(**options: Any) -> Console:
    return Console(highlight=False, emoji=False, markup=False, **options)


def stderr_console() -> Console:
    return _console(stderr=True, soft_wrap=True)


def plain_text(*renderables: Any) -> str:
    """Renderables as plain text at their natural width (a Grid prints its full rows), trailing
    spaces removed."""
    out: list[str] = []
    console = None
    for item in renderables:
        if isinstance(item, Grid):
            out += item.plain_lines()
            continue
        if console is None:
            console = _console(file=io.StringIO(), width=1000, color_system=None)
        buffer = console.file
        assert isinstance(buffer, io.StringIO)
        buffer.seek(0)
        buffer.truncate()
        console.print(item)
        out += [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(out) + "\n" if out else ""


def show(*renderables: Any, natural_width: bool = False) -> None:
    """Print to the terminal with colour, or as plain text when piped.

    Grids fit the terminal's width (render/grid.py). With `natural_width`, a terminal too narrow
    for the other tables gets long lines rather than cut cells."""
    console = _console()
    if not console.is_terminal:
        sys.stdout.write(plain_text(*renderables))
        return
    for item in renderables:
        if isinstance(item, Grid):  # it fits itself, or its rows stay whole: never crop them
            console.print(item, crop=False)
        elif natural_width and not isinstance(item, str):
            from rich.measure import Measurement

            needed = Measurement.get(console, console.options, item).maximum
            (_console(width=needed) if needed > console.width else console).print(item)
        else:
            console.print(item)
