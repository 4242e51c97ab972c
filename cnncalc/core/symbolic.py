"""Symbolic sizes (`--symbolic`): sizes and channel counts may be sympy symbols.

sympy is imported only here, and only when a spec is read in symbolic mode. The rest of the code
stays free of type checks on values; where a check needs a definite answer (does the kernel fit?
do the groups divide the channels?), it asks `definitely`, which is False when sympy cannot tell.
"""
from __future__ import annotations

from typing import Any


def is_symbolic(value: Any) -> bool:
    """True for a sympy expression that is not a plain number."""
    if type(value) is int:  # the common case, without the failed attribute lookup
        return False
    return hasattr(value, "free_symbols") and bool(value.free_symbols)


def symbol(name: str) -> Any:
    try:
        import sympy
    except ImportError:
        from .errors import OptionError

        raise OptionError("symbolic sizes need sympy, which is not installed",
                          hint="pip install 'cnncalc[symbolic]'") from None
    return sympy.Symbol(name, integer=True, positive=True)


def definitely(condition: Any) -> bool:
    """A comparison that is provably true; False when it is false or cannot be decided."""
    if isinstance(condition, bool):
        return condition
    try:
        return bool(condition)
    except TypeError:  # a sympy relation between symbols
        return False


def nonzero(value: Any) -> bool:
    """`value != 0` when that can be proved (ints, or sympy expressions sympy can decide)."""
    if isinstance(value, int):
        return value != 0
    return getattr(value, "is_zero", None) is False


def to_int(value: Any) -> Any:
    """A sympy Integer as a Python int; anything else unchanged."""
    if type(value) is not int and getattr(value, "is_Integer", False):
        return int(value)
    return value


def as_text(value: Any) -> Any:
    """A number for JSON: ints stay ints, symbolic expressions become strings sympy can parse,
    and sympy's plain numbers become ints or floats."""
    if not hasattr(value, "free_symbols"):
        return value
    if value.free_symbols:
        return str(value)
    return int(value) if value.is_Integer else float(value)
