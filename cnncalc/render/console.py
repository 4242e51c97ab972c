"""Printing rich renderables: colour on a terminal (rich honours NO_COLOR), plain text when piped.

Strings are printed as they are (no markup, no emoji codes such as `:fire:`, no highlighting).
Renderers pass names, values and file names through core/text.py; as a net under them, every
segment of text rich renders here goes through the same sanitizer before it is written (styles
are not text: colours survive)."""
from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.measure import Measurement
from rich.segment import Segment

from ..core.text import printable_lines
from .grid import Grid


class Sanitized:
    """A renderable whose rendered text has no control or format characters (core/text.py)."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for segment in console.render(self.renderable, options):
            if segment.control or segment.text.isprintable():
                yield segment
            else:
                yield Segment(printable_lines(segment.text, None), segment.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable)


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
        console.print(Sanitized(item))
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
            needed = Measurement.get(console, console.options, item).maximum
            (_console(width=needed) if needed > console.width else console).print(Sanitized(item))
        else:
            console.print(Sanitized(item))
