"""Error types. Every problem a user can cause is a CnnCalcError with an exit code; the CLI
prints its message and exits with that code, never with a traceback."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from .text import NAME_CHARS, file_name, printable, printable_message

MAX_ERRORS = 20  # problems reported from one input: the search stops at the next one


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a source file, 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{file_name(self.file)}:{self.line}:{self.column}"

    def seen_from(self, here: Location | None) -> str:
        """This place as a message given at `here` names it: its line when both are in one file, else
        file:line:column (a block of a used file, docs/spec.md)."""
        return f"line {self.line}" if here is not None and here.file == self.file else str(self)


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


class Consequence(SpecError):
    """A problem that only follows from another one already reported (a value computed from a
    variable that failed, a layer reading one that failed): collectors drop it, so that one
    mistake gives one message."""


class SpecErrors(SpecError):
    """Several problems found in one spec, reported together: one located line each (with its
    hint), in file order; `truncated` when the search stopped at MAX_ERRORS. As a
    SpecError it stands for its first problem (`message`, `loc`, `layer`, `field`, `hint`)."""

    def __init__(self, errors: Sequence[InputError], truncated: bool = False) -> None:
        if not errors:
            raise ValueError("SpecErrors needs at least one error")
        first = errors[0]
        super().__init__(first.message, loc=first.loc, file=first.file, layer=first.layer, field=first.field,
                         hint=first.hint)
        self.errors = tuple(errors)
        self.truncated = truncated

    def render(self) -> str:
        lines = [error.render() for error in self.errors]
        if self.truncated:
            where = f"{file_name(self.file)}: " if self.file else ""
            lines.append(f"{where}error: stopped after {len(self.errors)} problems; fix these and run again")
        return "\n".join(lines)


class Stopped(SpecErrors):
    """The search for problems stopped: MAX_ERRORS were found, or a limit on the work was reached.
    Whoever gathers problems lets it pass: it already holds all of them."""


class ErrorCollector:
    """The problems of one input, gathered so that one run reports them all. `add` records one (or
    each of a SpecErrors); past `limit` it raises them all at once, so a spec with thousands of
    broken repetitions costs no more than `limit` problems."""

    DEDUPE = 50  # how many recent problems a new one is compared with

    def __init__(self, limit: int | None = MAX_ERRORS) -> None:
        self.limit = limit  # None: no limit, for the few problems of one part (a layer's fields)
        self.errors: list[InputError] = []

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, error: InputError) -> None:
        for one in error.errors if isinstance(error, SpecErrors) else (error,):
            if isinstance(one, Consequence) or any(
                    (seen.loc, seen.message) == (one.loc, one.message) for seen in self.errors[-self.DEDUPE:]):
                continue  # the same problem again: a block's layer checked at each call
            if self.limit is not None and len(self.errors) >= self.limit:
                raise Stopped(self._in_order(), truncated=True)
            self.errors.append(one)

    def check(self) -> None:
        """Raise the problems gathered so far, if any, in the order they stand in the file."""
        if self.errors:
            raise self.errors[0] if len(self.errors) == 1 else SpecErrors(self._in_order())

    def stop(self, error: InputError) -> NoReturn:
        """Raise `error` (a limit on the work reached: going on would cost too much) after those
        gathered so far."""
        raise Stopped([*self._in_order(), error])

    def _in_order(self) -> list[InputError]:
        """Problems without a place first (options), then by line and column; found order otherwise."""
        files = {error.loc.file: None for error in self.errors if error.loc}  # several files (`use:`): as met
        rank = {file: index for index, file in enumerate(files)}
        return sorted(self.errors, key=lambda e: (e.loc is not None, rank[e.loc.file] if e.loc else 0,
                                                  e.loc.line if e.loc else 0, e.loc.column if e.loc else 0))


class OptionError(InputError):
    """A command-line option that cannot be used (--input, --set, --columns, a device...)."""


class SheetError(InputError):
    """An answer sheet that cannot be graded (unreadable, malformed, an ungradable column)."""


class CheckFailed(CnnCalcError):
    """A check that ran and failed (wrong answer, mismatch, budget exceeded). Exit code 1."""

    exit_code = 1


@dataclass(frozen=True)
class Note:
    """A warning about one layer (or, as `what` says, a block or a variable), located."""

    layer: str
    message: str
    loc: Location | None = None
    what: str = "layer"

    def render(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        return f"{where}warning: {self.what} '{printable(self.layer, NAME_CHARS)}': {printable_message(self.message)}"


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean ...?' hint naming the closest candidates, or None if none is close."""
    close = difflib.get_close_matches(str(word), sorted({str(c) for c in candidates}), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
