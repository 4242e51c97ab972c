"""Printing rich renderables: colour on a terminal (rich honours NO_COLOR), plain text when piped."""
from __future__ import annotations

import io
import sys
from typing import Any

from rich.console import Console


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def plain_text(*renderables: Any) -> str:
    """Rich renderables as plain text at their natural width, trailing spaces removed."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=1000, color_system=None, highlight=False)
    for item in renderables:
        console.print(item, markup=False)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def show(*renderables: Any, natural_width: bool = False) -> None:
    """Print to the terminal with colour, or as plain text when piped.

    With `natural_width`, a terminal too narrow for the tables gets long lines rather than cut cells.
    """
    console = Console(highlight=False)
    if console.is_terminal:
        if natural_width:
            from rich.measure import Measurement

            needed = max((Measurement.get(console, console.options, item).maximum for item in renderables
                          if not isinstance(item, str)), default=0)
            if needed > console.width:
                console = Console(highlight=False, width=needed)
        for item in renderables:
            console.print(item, markup=False)
    else:
        sys.stdout.write(plain_text(*renderables))
