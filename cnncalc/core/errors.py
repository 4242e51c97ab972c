"""Error types. Every problem a user can cause is a CnnCalcError with an exit code; the CLI
prints its message and exits with that code, never with a traceback."""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from .text import NAME_CHARS, file_name, printable, printable_message


@dataclass(frozen=True)
class Location:
    """A place in a source file, 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{file_name(self.file)}:{self.line}:{self.column}"


class CnnCalcError(Exception):
    """Base of the errors the CLI turns into a message and an exit code."""

    exit_code = 2

    def render(self) -> str:
        """The message for the terminal: control characters replaced, long values cut (text.py)."""
        return f"error: {printable_message(self)}"


class InputError(CnnCalcError):
    """Bad input, located as precisely as it can be: file, line and column, layer, field. Exit code 2."""

    def __init__(
        self,
        message: str,
        *,
        loc: Location | None = None,
        file: str | None = None,
        layer: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.file = file if file is not None else (loc.file if loc else None)
        self.layer = layer
        self.field = field
        self.hint = hint

    def render(self) -> str:
        """`file:line:col: error: layer 'x', field 'y': message`, then an indented hint; every
        part safe to print (control characters replaced, long names and values cut)."""
        where = str(self.loc) if self.loc else file_name(self.file or "")
        subject = []
        if self.layer is not None:
            subject.append(f"layer '{printable(self.layer, NAME_CHARS)}'")
        if self.field is not None:
            subject.append(f"field '{printable(self.field, NAME_CHARS)}'")
        text = ", ".join(subject)
        message = printable_message(self.message)
        text = f"error: {text}: {message}" if text else f"error: {message}"
        if where:
            text = f"{where}: {text}"
        if self.hint:
            text += f"\n  hint: {printable_message(self.hint)}"
        return text

    def __str__(self) -> str:
        return self.render()


class SpecError(InputError):
    """A spec that cannot be used: YAML, structure, layers, variables, shapes."""


class OptionError(InputError):
    """A command-line option that cannot be used (--input, --set, --columns, a device...)."""


class SheetError(InputError):
    """An answer sheet that cannot be graded (unreadable, malformed, an ungradable column)."""


class CheckFailed(CnnCalcError):
    """A check that ran and failed (wrong answer, mismatch, budget exceeded). Exit code 1."""

    exit_code = 1


@dataclass(frozen=True)
class Note:
    """A warning about one layer, located."""

    layer: str
    message: str
    loc: Location | None = None

    def render(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        return f"{where}warning: layer '{printable(self.layer, NAME_CHARS)}': {printable_message(self.message)}"


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean ...?' hint naming the closest candidates, or None if none is close."""
    close = difflib.get_close_matches(str(word), sorted(set(candidates)), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
