"""Typer 0.29 turns every command-line value into its parameter's type through a pydantic
TypeAdapter that it builds when the command parses: importing pydantic and building the adapters
costs about as much CPU as everything else a `cnncalc table` does. What a command line gives is
plain (a string for a `str`, digits for an `int`, a path, one of a few choices), so those values are
taken here directly, and any other value (a malformed or out-of-range number, a choice not offered,
an unreadable file) goes through typer's own adapter: the result and every error message stay
typer's. tests/test_cli_startup.py compares the two on every parameter of every command."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

INTEGER = re.compile(r"-?[0-9]{1,18}")
DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")


class Defer(Exception):
    """The value is not a plain one: typer's adapter decides."""


def plain_value(annotation: Any, info: Any, value: Any) -> Any:
    """`value` as typer's adapter for `annotation` would return it, or Defer."""
    if annotation is str:
        if isinstance(value, str):
            return value
    elif annotation is int:
        if isinstance(value, str) and INTEGER.fullmatch(value):
            return within(int(value), info)
        if type(value) is int:
            return within(value, info)
    elif annotation is float:
        if isinstance(value, str) and DECIMAL.fullmatch(value):
            return within(float(value), info)
        if type(value) is float:
            return within(value, info)
    elif annotation is Path:
        if isinstance(value, str) and value and "\0" not in value and plain_path(info) and readable(value, info):
            return Path(value)
    elif get_origin(annotation) is Literal and isinstance(value, str) and info.case_sensitive \
            and value in get_args(annotation):
        return value
    raise Defer


def within(number: float, info: Any) -> Any:
    if info.clamp or (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
        raise Defer
    return number


def plain_path(info: Any) -> bool:
    """A path option typer only checks for readability (no --exists, no resolving, no '-')."""
    return (info.parser is None and info.path_type in (None, Path) and not info.exists and not info.resolve_path
            and not info.allow_dash and not info.writable and info.file_okay and info.dir_okay)


def readable(value: str, info: Any) -> bool:
    """Typer refuses a path that exists and cannot be read (when `readable`, its default)."""
    return not info.readable or not os.path.exists(value) or os.access(value, os.R_OK)


class PlainCoercion:
    """A parameter's coercion: plain values here, the others by typer's own (built when first needed)."""

    def __init__(self, descriptor: Any, typers: Callable[[Any], Any]) -> None:
        self.descriptor = descriptor
        self.typers = typers
        self.fallback: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return self.plain(value, param, ctx)
        except Defer:
            if self.fallback is None:
                self.fallback = self.typers(self.descriptor)
            return self.fallback.coerce(value, param=param, ctx=ctx)

    def plain(self, value: Any, param: Any, ctx: Any) -> Any:
        descriptor = self.descriptor
        info = descriptor.parameter_info
        if descriptor.file_annotation is not None or info.parser is not None or ctx.token_normalize_func:
            raise Defer
        if value is None:  # as typer: an option not given, a variadic argument without values
            return () if param.multiple or param.nargs == -1 else None
        if descriptor.is_list:
            if not isinstance(value, (list, tuple)) or len(get_args(descriptor.annotation)) != 1:
                raise Defer
            item = get_args(descriptor.annotation)[0]
            return [plain_value(item, info, one) for one in value]
        if param.multiple or param.nargs != 1:
            raise Defer
        return plain_value(descriptor.annotation, info, value)
