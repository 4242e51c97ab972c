"""The typer app and what its commands share: options, error handling, output.

The CLI is thin: parse options, call the library, render, and turn domain errors into exit codes
(2 bad input, 1 a check that failed) with a message, never a traceback."""
from __future__ import annotations

import copy
import inspect
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from ..analysis.conventions import CONVENTIONS
from ..analysis.report import DTYPE_BYTES
from ..core.errors import CnnCalcError, did_you_mean
from ..core.text import shown
from ..render.console import stderr_console


def _typer_fixes() -> None:
    """Four slips of typer 0.29, fixed here for every command. Its help shows a flag as taking a
    value (`--strict <bool>`, so users write `--strict true` and get "unexpected extra argument"),
    folds choices mid-word (`<float32|float16|bfloat1 6>`), shows a repeatable option's type as
    Python's (`<list[str]>`) and a bounded number's as `<int range>`: a flag now shows no type,
    choices have spaces between them, where the column can wrap, a repeatable option shows its
    item's type and a bounded number `<int>`. And it coerces every value through pydantic, whose
    import costs a short command half its time: plain values are coerced without it (coercion.py).
    (Its usage errors echoing what was typed raw: CnnCalcGroup below.)"""
    from typer._coercion import build_runtime_param
    from typer.core import TyperArgument, TyperOption, _TyperParameter

    from .coercion import PlainCoercion

    shown = TyperOption.display_type_rich
    shown_argument = TyperArgument.display_type_rich
    if getattr(shown, "cnncalc", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> Optional[str]:
        if self.is_flag and not self.count:
            return None
        text = shown(self, ctx)
        if text and self.metavar is None and self.type_descriptor.is_choice:
            text = text.replace("|", " | ")
        return _item_type(text)

    def argument_type_rich(self: TyperArgument, ctx: Any) -> Optional[str]:
        return _item_type(shown_argument(self, ctx))

    def get_runtime_param(self: _TyperParameter) -> Any:
        if self._runtime_param is None:
            self._runtime_param = PlainCoercion(self.type_descriptor, build_runtime_param)  # type: ignore[assignment]
        return self._runtime_param

    display_type_rich.cnncalc = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument_type_rich  # type: ignore[method-assign, assignment]
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


class CnnCalcGroup(TyperGroup):
    """The app's group: typer's usage errors echo what was typed raw (`No such option: --a<U+202E>b`);
    here they go through the sanitizer before typer prints them. (Done where the error is raised, not
    in typer's rich_utils, whose import, rich.markdown and markdown_it with it, would otherwise be
    paid by every command.)"""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _printable_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _printable_usage_errors():
            return super().invoke(ctx)


@contextmanager
def _printable_usage_errors() -> Iterator[None]:
    from typer._click.exceptions import ClickException

    from ..core.text import printable_message

    try:
        yield
    except ClickException as error:
        if isinstance(getattr(error, "message", None), str):
            error.message = printable_message(error.message)
        raise


def _item_type(text: Optional[str]) -> Optional[str]:
    """`<list[Path]>` for a repeatable option or a variadic argument: the item's type (`<path>`);
    the help text says it repeats, the usage line's `...` too. `<int range>` (a bounded number,
    whose bounds typer shows beside it, `[x>=1]`): `<int>`."""
    match = re.fullmatch(r"<list\[(\w+)\]>", text or "")
    if text in ("<int range>", "<float range>"):
        return text.replace(" range", "")
    return f"<{match.group(1).lower()}>" if match else text


_typer_fixes()


def one_line_summaries(typer_app: typer.Typer) -> None:
    """The command list of `cnncalc --help` shows each command's whole first paragraph, with the
    docstring's line breaks kept (rich markup mode): ragged lines, a screen of text. Each command
    is listed by its first clause instead (up to the first colon or full stop outside brackets); its
    own --help still gives the whole text."""
    for info in typer_app.registered_commands:
        if info.short_help is None:
            doc = inspect.cleandoc(info.help or getattr(info.callback, "__doc__", None) or "")
            info.short_help = first_clause(" ".join(doc.split("\n\n")[0].split()))


def first_clause(text: str) -> str:
    depth = 0
    for i, char in enumerate(text):
        depth += (char in "([{") - (char in ")]}")
        if depth == 0 and char in ":." and text[i + 1 : i + 2] in (" ", ""):
            return text[:i]
    return text


class CnnCalcApp(typer.Typer):
    """The app: typer builds every command's click command on each start, reading each signature's
    type hints (most of what a command line costs once the modules are imported). A command line
    that names a command builds that command alone, under the same group; any other (no command,
    --help, --version, a misspelt command, shell completion) builds them all."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        given = kwargs.get("args", args[0] if args else None)
        argv = sys.argv[1:] if given is None else list(given)
        named = [info for info in self.registered_commands if argv and command_name(info) == argv[0]]
        if len(named) != 1 or any(key.endswith("_COMPLETE") for key in os.environ):
            return super().__call__(*args, **kwargs)
        alone = copy.copy(self)
        alone.registered_commands = named
        return typer.Typer.__call__(alone, *args, **kwargs)


def command_name(info: Any) -> str:
    """A registered command's name as typer gives it (typer.main.get_command_name)."""
    callback = info.callback
    return info.name or (callback.__name__.lower().replace("_", "-") if callback else "")


app = CnnCalcApp(
    help="A static calculator for convolutional networks: shapes, parameters, multiply-adds and "
    "memory of every layer, from a plain YAML spec, printed the way CNN lectures print them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    cls=CnnCalcGroup,
)

DTYPES = tuple(DTYPE_BYTES)
CONVENTION_NAMES = tuple(CONVENTIONS)


def choice(names: Sequence[str], what: str) -> Callable[[Any], Any]:
    """An option callback that accepts one of `names` (or None) and suggests the closest otherwise."""

    def check(value: Any) -> Any:
        if value is not None and value not in names:
            hint = did_you_mean(str(value), names)
            raise typer.BadParameter(f"unknown {what} {shown(value)}; choose from {', '.join(names)}"
                                     + (f" ({hint})" if hint else ""))
        return value

    return check


def finite(option: str) -> Callable[[Any], Any]:
    """An option callback refusing inf and nan (click's float type takes them)."""

    def check(value: Any) -> Any:
        if value is not None and not math.isfinite(value):
            raise typer.BadParameter(f"{option} must be a finite number, got {value}")
        return value

    return check


MAX_BATCH = 2**63 - 1  # a batch is a tensor dimension: PyTorch's sizes are 64-bit (docs/limits.md)


def batch_limit(value: int | None) -> int | None:
    """An option callback for --batch's upper bound (as `max=`, click would print the 19-digit range in --help)."""
    if value is not None and value > MAX_BATCH:
        raise typer.BadParameter(f"a batch is a tensor size: at most 2**63 - 1 (PyTorch's largest), got {value}")
    return value


# Options shared by several commands (typer reads these defaults; it does not change them).
SPEC = typer.Argument(..., help="Spec file, or the name of a bundled spec (see 'cnncalc specs').")
INPUT = typer.Option(None, "--input", help="Override the spec's input, of its rank: C,H,W (L,D for a spec on a "
                     "sequence of tokens, F for one on a vector).")
SET = typer.Option(None, "--set", metavar="NAME=VALUE", help="Override a variable of the spec (repeatable).")
DTYPE = typer.Option("float32", "--dtype", metavar="DTYPE", callback=choice(DTYPES, "dtype"),
                     help="Element type for activation memory: " + ", ".join(DTYPES) + ".")
BATCH = typer.Option(1, "--batch", "-b", min=1, callback=batch_limit, help="Batch size: scales MACs and memory.")
OUTPUT = typer.Option(None, "--output", "-o", help="Write to this file (atomically).")
MODE = typer.Option("infer", "--mode", metavar="MODE", callback=choice(("infer", "train"), "mode"),
                    help="infer: the network that runs at inference; train: with the layers marked train_only "
                    "(auxiliary classifiers).")


def convention_option(default: str = "textbook",
                      help: str = "What counts as a multiply-add (docs/conventions.md)") -> Any:
    return typer.Option(default, "--convention", metavar="NAME", callback=choice(CONVENTION_NAMES, "convention"),
                        help=f"{help}: {', '.join(CONVENTION_NAMES)}.")


CONVENTION = convention_option()
SYMBOLIC = typer.Option(False, "--symbolic", help="Sizes as symbols: input [C, H, W] (or the spec's own symbols) "
                        "and formulas for params, MACs and memory (needs sympy).")


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Domain errors become a message on stderr and their exit code; never a traceback."""
    try:
        yield
    except CnnCalcError as exc:
        stderr_console().print(exc.render(), markup=False)
        raise typer.Exit(exc.exit_code) from None


def emit(text: str | bytes, output: Optional[Path], inputs: Sequence[str | Path] = ()) -> None:
    """Write the command's output to stdout, or atomically to `--output` (core/io.py: the umask or
    the file's own mode, regular files only, never over one of the command's `inputs`)."""
    if output is None:
        sys.stdout.write(text if isinstance(text, str) else text.decode())
    else:
        from ..core.io import write_atomic

        write_atomic(output, text, inputs=input_files(inputs))


def input_files(arguments: Sequence[str | Path]) -> list[Path]:
    """The files that SPEC and answer-sheet arguments name (a bundled spec's name: its file)."""
    from ..core.errors import InputError
    from ..spec import bundled

    files = []
    for argument in arguments:
        try:
            files.append(Path(argument) if Path(argument).exists() else bundled.resolve(str(argument))[0])
        except (InputError, OSError, ValueError):  # not a file, nor a bundled spec: nothing to protect
            continue
    return files


def set_values(items: Optional[Sequence[str]]) -> Mapping[str, str]:
    from ..api import parse_set_options

    return parse_set_options(items or [])


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """cnncalc: shapes, params, multiply-adds and memory of a CNN from a YAML spec."""
