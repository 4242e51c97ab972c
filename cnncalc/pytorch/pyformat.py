"""Python source for `cnncalc export`: values and torch modules as code, and statements laid out in ruff
format's (black's) style, 88 columns."""
from __future__ import annotations

import inspect
import re
from functools import cache
from typing import Any

from ..layers.torchspec import Torch
from .pyexpr import same

LINE = 88  # ruff format's and black's default
_KEYWORD = re.compile(r"^[A-Za-z_]\w*=(?!=)")


def literal(value: Any) -> str:
    if isinstance(value, Torch):
        return torch_source(value)
    if isinstance(value, float) and value == float("-inf"):
        return 'float("-inf")'
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, tuple) and len(value) == 2 and same(value[0], value[1]) and isinstance(value[0], int):
        return repr(value[0])  # torch takes 3 for (3, 3)
    if isinstance(value, (tuple, list)) and any(isinstance(v, str) for v in value):
        inner = ", ".join(literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)


def quoted(text: str) -> str:
    """A string literal as ruff format writes it: in double quotes."""
    return f'"{text}"' if '"' not in text and "\\" not in text and text.isprintable() else repr(text)


def torch_source(description: Torch) -> str:
    """A description's code with 3 for (3, 3) and torch's defaults left out."""
    args = [literal(v) for v in description.args]
    args += [f"{k}={literal(v)}" for k, v in description.kwargs]
    return call(description.cls, args)


def call(cls: str, args: list[str]) -> str:
    """`cls(args)` without the keyword arguments that equal the class's defaults."""
    defaults = _defaults(cls)
    kept = [a for a in args if not _KEYWORD.match(a) or defaults.get(a.split("=", 1)[0]) != a.split("=", 1)[1]]
    return f"{cls}({', '.join(kept)})"


@cache
def _defaults(cls: str) -> dict[str, str]:
    from torch import nn

    from . import modules

    factory = getattr(nn if cls.startswith("nn.") else modules, cls.removeprefix("nn."), None)
    if factory is None:
        return {}
    return {name: literal(p.default) for name, p in inspect.signature(factory).parameters.items()
            if p.default is not inspect.Parameter.empty}


def split_call(code: str) -> tuple[str, list[str], str] | None:
    """`head(`, the top-level arguments and `)tail` of the last bracket pair of the code (black's right-hand
    split); None if the code does not end in a bracket."""
    pairs, stack, quote = [], [], ""
    for index, char in enumerate(code):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            stack.append(index)
        elif char in ")]}" and stack:
            pairs.append((stack.pop(), index))
    closing = [(start, end) for start, end in pairs if not stack and code[end + 1:].strip() in ("", ",", ":")]
    if not closing:
        return None
    start, end = max(closing, key=lambda pair: pair[1])
    args, depth, last, quote = [], 0, start + 1, ""
    for index in range(start + 1, end):
        char = code[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            args.append(code[last:index].strip())
            last = index + 1
    args.append(code[last:end].strip())
    return code[:start + 1], [a for a in args if a], code[end:]


def format_line(code: str, indent: int) -> list[str]:
    """One statement in ruff format's (black's) style: on one line if it fits, else its arguments on
    one indented line, else one per line with a trailing comma (each formatted the same way)."""
    pad = " " * indent
    if len(pad + code) <= LINE:
        return [pad + code]
    parts = split_call(code)
    if parts is None or parts[2] not in (")", "),", "]", "],", ")]", "):"):
        return [pad + code]
    head, args, tail = parts
    if head.endswith("[") and len(args) == 1 and " for " in args[0]:
        return _comprehension(head, args[0], tail, indent)
    joined = ", ".join(args)
    # a list, tuple or set of several items that does not fit is one item per line (black's rule)
    before = head[-2:-1]  # `f(`, `x[`: a call or a subscript; `= [`, `(`: a collection
    collection = head[-1] == "{" or (head[-1] in "[(" and not (before.isalnum() or before in ("_", ")", "]")))
    if len(pad) + 4 + len(joined) <= LINE and not any(a.startswith("*") for a in args[:-1]) and not (
            collection and len(args) > 1):
        return [pad + head, pad + "    " + joined, pad + tail]
    if len(args) == 1:  # a sole argument is not followed by a comma
        return [pad + head, *format_line(args[0], indent + 4), pad + tail]
    lines = [pad + head]
    for arg in args:
        lines += format_line(arg + ",", indent + 4)
    return lines + [pad + tail]


def _comprehension(head: str, inner: str, tail: str, indent: int) -> list[str]:
    """`[element for i in range(n)]` split as black does: the element, then its `for` clause."""
    pad = " " * indent
    element, _, clause = inner.rpartition(" for ")
    if len(pad) + 4 + len(inner) <= LINE:
        return [pad + head, pad + "    " + inner, pad + tail]
    return [pad + head, *format_line(element, indent + 4), pad + "    for " + clause, pad + tail]


def body(lines: list[str], indent: int) -> list[str]:
    out = []
    for line in lines:
        extra = len(line) - len(line.lstrip(" "))
        out += format_line(line.strip(), indent + extra)
    return out
