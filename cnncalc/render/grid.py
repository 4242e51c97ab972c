"""A plain-text table that fits the terminal without cutting a number, and renders fast.

Piped (or written with `--output`) a Grid prints its full rows, in the layout of rich's
SIMPLE_HEAD table: a title, a blank line, the headers (bottom-aligned) over a rule, the rows, a
blank line and the total row. On a terminal narrower than that, it fits in steps, each only if the
previous one was not enough:

1. compact: one space between columns instead of two, no margin;
2. optional columns (the automatic From column) are hidden, and a note under the table says so;
3. wrapping columns (layer names, From, the channels of a concatenation's inputs, formulas) wrap
   onto more lines, as little as needed, after a '.' or '_' in a name, between items of a list,
   before a ' + ' or ' - ' in a formula;
4. if it still does not fit, the narrowest layout is printed, longer than the terminal.

Numbers are never cut or wrapped. The layout is computed from the strings alone (one pass over
the cells), so a table of 500 rows renders in a few milliseconds; rich's Table measures and
renders every cell as a renderable, about 0.5 ms per row.
"""
from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

from ..core.text import printable

# Where a wrapping cell may break: after '.', '_', ', ' or a '+' between numbers (names, lists of
# inputs, 64+32 channels), before ' + ' or ' - ' (formulas), or after another space.
_BREAK = re.compile(r"(?<=[._])|(?<=, )|(?<=\+)(?! )|(?= [-+] )|(?<= )(?<![-+] )(?![-+] )")


@dataclass(frozen=True)
class Column:
    header: str  # may span lines: "Mem\n(KB)"
    left: bool = False  # text is left-aligned, numbers right-aligned
    optional: bool = False  # may be hidden to fit a narrow terminal
    wrap: bool = False  # may wrap (names, lists, formulas: see _BREAK); a number never wraps


Line = tuple[str, str]  # (text, style name: "" for none)


def width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


class Grid:
    """A table of strings: a title, columns, body rows and an optional total row.

    Every string is passed through the sanitizer; rendering never changes the numbers."""

    def __init__(self, title: str, columns: Sequence[Column], rows: Iterable[Sequence[str]],
                 total: Sequence[str] | None = None, title_style: str = "italic") -> None:
        self.title = printable(title)
        self.columns = list(columns)
        self.headers = [[printable(part) for part in column.header.split("\n")] for column in self.columns]
        self.rows = [[_cell(cell) for cell in row] for row in rows]
        self.total = [_cell(cell) for cell in total] if total is not None else None
        self.title_style = title_style
        cells = [*self.rows, *([self.total] if self.total is not None else [])]
        self.ascii = all(cell.isascii() for row in cells for cell in row)  # then width is len: the fast path
        measure = len if self.ascii else width
        self.widths = [max([width(part) for part in header] + [measure(row[i]) for row in cells])
                       for i, header in enumerate(self.headers)]

    # ---- layout ----------------------------------------------------------------------------------
    def natural_width(self, gap: int = 2, margin: int = 1, keep: Sequence[int] | None = None) -> int:
        keep = range(len(self.columns)) if keep is None else keep
        return margin + sum(self.widths[i] for i in keep) + gap * max(len(keep) - 1, 0)

    def _fit(self, available: int) -> tuple[list[int], list[int], int, int, list[str]]:
        """(columns kept, their widths, gap, margin, notes) for a terminal `available` wide: the first
        of the steps in the module's docstring that fits, or else the narrowest layout."""
        every = list(range(len(self.columns)))
        if self.natural_width() <= available:
            return every, list(self.widths), 2, 1, []
        if self.natural_width(1, 0) <= available:
            return every, list(self.widths), 1, 0, []
        keep = [i for i in every if not self.columns[i].optional]
        notes: list[str] = []
        if len(keep) < len(every):
            names = ", ".join(" ".join(self.headers[i]) for i in every if i not in keep)
            notes.append(f"note: column {names} hidden to fit {available} columns "
                         "(widen the terminal, or pipe the output, to see it)")
        return keep, self._wrapped(keep, available), 1, 0, notes

    def _wrapped(self, keep: list[int], available: int) -> list[int]:
        """Widths of the kept columns with one space between columns, the wrapping columns narrowed
        as little as fits `available` (the one with the most room to spare first), or as far as
        they go."""
        widths = [self.widths[i] for i in keep]
        excess = sum(widths) + max(len(keep) - 1, 0) - available
        floors = {j: self._floor(i) for j, i in enumerate(keep) if self.columns[i].wrap} if excess > 0 else {}
        while excess > 0 and floors:
            j = max(floors, key=lambda k: widths[k] - floors[k])
            if widths[j] <= floors[j]:
                break
            widths[j] -= 1
            excess -= 1
        return widths

    def narrowest(self) -> int:
        """The width of the narrowest layout that fits (hidden columns, wrapped text)."""
        keep = [i for i in range(len(self.columns)) if not self.columns[i].optional]
        floors = [self._floor(i) if self.columns[i].wrap else self.widths[i] for i in keep]
        return max(sum(floors) + max(len(keep) - 1, 0), width(self.title))

    def _floor(self, index: int) -> int:
        """The narrowest a text column can wrap to: its longest header line or unbreakable piece."""
        rows = [*self.rows, *([self.total] if self.total is not None else [])]
        pieces = [width(piece) for row in rows for piece in _BREAK.split(row[index])]
        return max([width(part) for part in self.headers[index]] + pieces + [1])

    def lines(self, available: int | None = None) -> list[Line]:
        """The table as styled lines: full rows when `available` is None, else fitted to it."""
        notes: list[str]
        if available is None:
            keep, widths, gap, margin, notes = list(range(len(self.columns))), list(self.widths), 2, 1, []
        else:
            keep, widths, gap, margin, notes = self._fit(available)
        columns = [self.columns[i] for i in keep]
        space, lead = " " * gap, " " * margin
        out: list[Line] = [(self.title, self.title_style)] if self.title else []
        out.append(("", ""))
        headers = [self.headers[i] for i in keep]
        height = max((len(h) for h in headers), default=1)
        for level in range(height):
            cells = []
            for header, column, size in zip(headers, columns, widths):
                offset = height - len(header)  # headers are bottom-aligned
                cells.append(_align(header[level - offset] if level >= offset else "", size, column.left))
            out.append(((lead + space.join(cells)).rstrip(), "bold"))
        out.append((lead + "\u2500" * (sum(widths) + gap * max(len(widths) - 1, 0)), ""))
        if self.ascii and widths == [self.widths[i] for i in keep]:  # no cell wraps: str.ljust/rjust
            layout = [(i, size, column.left) for i, column, size in zip(keep, columns, widths)]
            out += [((lead + space.join(row[i].ljust(size) if left else row[i].rjust(size)
                                        for i, size, left in layout)).rstrip(), "") for row in self.rows]
        else:
            for row in self.rows:
                out += [(line, "") for line in _row_lines([row[i] for i in keep], columns, widths, space, lead)]
        if self.total is not None:
            out.append(("", ""))
            out += [(line, "bold") for line in
                    _row_lines([self.total[i] for i in keep], columns, widths, space, lead)]
        out.append(("", ""))
        for note in notes:
            out += [(line, "dim") for line in textwrap.wrap(note, max(available or 0, 20))]
        return out

    def plain_lines(self) -> list[str]:
        """The full rows as text (what is piped or written to a file)."""
        return [text for text, _ in self.lines()]

    # ---- rich protocol ---------------------------------------------------------------------------
    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        styles: dict[str, Style] = {}
        for text, style in self.lines(options.max_width):
            if style:
                yield Segment(text, styles.setdefault(style, console.get_style(style)))
            else:
                yield Segment(text)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        narrowest = self.narrowest()
        return Measurement(narrowest, max(narrowest, self.natural_width()))


def _cell(cell: object) -> str:
    return printable("" if cell is None else cell)


def _align(text: str, size: int, left: bool) -> str:
    pad = " " * (size - width(text))
    return text + pad if left else pad + text


def _wrap(text: str, size: int) -> list[str]:
    """A text cell in lines of at most `size` (an unbreakable piece longer than that stays whole)."""
    if width(text) <= size:
        return [text]
    lines, current = [], ""
    for piece in _BREAK.split(text):
        if current and width(current) + width(piece) > size:
            lines.append(current.rstrip())
            current = piece.lstrip()
        else:
            current += piece
    return [*lines, current.rstrip()]


def _row_lines(cells: Sequence[str], columns: Sequence[Column], widths: Sequence[int], space: str,
               lead: str) -> list[str]:
    if all(width(cell) <= size for cell, size in zip(cells, widths)):  # the common case: one line
        return [(lead + space.join(_align(cell, size, column.left)
                                   for cell, column, size in zip(cells, columns, widths))).rstrip()]
    parts = [_wrap(cell, size) if column.wrap else [cell] for cell, column, size in zip(cells, columns, widths)]
    height = max(len(part) for part in parts)
    return [(lead + space.join(_align(part[level] if level < len(part) else "", size, column.left)
                               for part, column, size in zip(parts, columns, widths))).rstrip()
            for level in range(height)]
