"""Formulas that carry their own derivation.

A layer rule builds its numbers from named quantities, `Q("C_out", 96) * Q("C_in", 3) * ...`.
Inside `with derivations():` (what `explain` does) `Q` makes a `Formula`: the result knows its
value and can print itself with names (`C_out × C_in × K × K + C_out`) and with the values
substituted (`96 × 3 × 11 × 11 + 96`). Everywhere else `Q` returns the plain value, so the same
rule computes the same number without building a tree (the engine's fast path, 4x cheaper).
`explain` runs the very rules the engine ran, in derivation mode, and checks that each formula's
value is the engine's number, so the text and the table cannot disagree. Values may be sympy
expressions (symbolic mode): the arithmetic never looks at their type.

Rules that bracket a sub-formula use `bracket(x)` (a no-op on plain numbers), never `x.bracketed()`.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

# Whether `Q` builds Formulas (explain) or passes plain values through (the engine).
_DERIVING: ContextVar[bool] = ContextVar("cnncalc_deriving", default=False)
# Whether formulas are being built (inside `derivations()`), asked by every rule (bound once); when not, a
# rule may compute plain values without naming its quantities (the engine's path; `explain` checks its
# formulas' values against them).
deriving = _DERIVING.get


@contextmanager
def derivations() -> Iterator[None]:
    """Within this block the layer rules build Formulas that can print their derivation."""
    token = _DERIVING.set(True)
    try:
        yield
    finally:
        _DERIVING.reset(token)

# Binding strength of each operator, for parentheses when printing.
_PRECEDENCE = {"+": 1, "-": 1, "×": 2, "/": 2, "//": 2, "atom": 3, "group": 3}


class Formula:
    __slots__ = ("_value", "args", "name", "op")

    def __init__(self, op: str, args: tuple = (), name: str | None = None, value: Any = None) -> None:
        self.op, self.args, self.name, self._value = op, args, name, value

    # ---- construction ------------------------------------------------------------------------
    def __add__(self, other: Any) -> Formula:
        return _combine("+", self, other)

    def __radd__(self, other: Any) -> Formula:
        return _combine("+", other, self)

    def __sub__(self, other: Any) -> Formula:
        return _combine("-", self, other)

    def __rsub__(self, other: Any) -> Formula:
        return _combine("-", other, self)

    def __mul__(self, other: Any) -> Formula:
        return _combine("×", self, other)

    def __rmul__(self, other: Any) -> Formula:
        return _combine("×", other, self)

    def __truediv__(self, other: Any) -> Formula:
        return _combine("/", self, other)

    def __floordiv__(self, other: Any) -> Formula:
        return _combine("//", self, other)

    def bracketed(self) -> Formula:
        """The same formula, printed in parentheses: `(C_out × H' × W') × (C_in × K × K)`."""
        return Formula("group", (self,))

    # ---- reading -----------------------------------------------------------------------------
    @property
    def value(self) -> Any:
        if self.op == "atom":
            return self._value
        if self.op == "group":
            return self.args[0].value
        left, right = (arg.value for arg in self.args)
        if self.op == "+":
            return left + right
        if self.op == "-":
            return left - right
        if self.op == "×":
            return left * right
        if self.op == "//":
            return left // right
        return divide(left, right)

    def symbols(self) -> str:
        """`C_out × C_in × K × K + C_out`."""
        return self._text(named=True)

    def numbers(self) -> str:
        """`96 × 3 × 11 × 11 + 96`."""
        return self._text(named=False)

    def _text(self, named: bool) -> str:
        if self.op == "atom":
            return self.name if (named and self.name) else _number(self._value)
        if self.op == "group":
            return f"({self.args[0]._text(named)})"
        left, right = self.args
        mine = _PRECEDENCE[self.op]
        left_text = left._text(named)
        right_text = right._text(named)
        if _PRECEDENCE[left.op] < mine:
            left_text = f"({left_text})"
        # a - (b + c), a / (b × c): the right side needs parentheses at equal precedence too
        if _PRECEDENCE[right.op] < mine or (_PRECEDENCE[right.op] == mine and self.op in ("-", "/", "//")):
            right_text = f"({right_text})"
        if self.op in ("/", "//"):
            return f"{left_text}/{right_text}"
        if self.op == "×" and left.op == "atom" and left.name is None and right.op == "atom" and right.name:
            return f"{left_text}{right_text}" if named else f"{left_text}·{right_text}"  # 2P, 2·0
        return f"{left_text} {self.op} {right_text}"

    def __repr__(self) -> str:
        return f"Formula({self.symbols()} = {self.numbers()} = {self.value})"


@dataclass(frozen=True)
class Step:
    """One line of a derivation: `label = symbols = numbers = result`."""

    label: str
    formula: Formula | None
    result: str
    note: str = ""

    def text(self) -> str:
        line = self.equation()
        return f"{line}  ({self.note})" if self.note else line

    def equation(self) -> str:
        parts = [self.label]
        if self.formula is not None:
            symbols, numbers = self.formula.symbols(), self.formula.numbers()
            parts.append(symbols)
            if numbers != symbols:
                parts.append(numbers)
        if self.result != parts[-1]:  # `c_out = c_in = 5`, not `= 5 = 5`
            parts.append(self.result)
        return " = ".join(parts)


def Q(name: str | None, value: Any) -> Any:
    """A named quantity (or a plain number when name is None): a Formula inside `derivations()`,
    else the value itself."""
    if not deriving() or isinstance(value, Formula):
        return value
    return Formula("atom", (), name, value)


def bracket(value: Any) -> Any:
    """A formula printed in parentheses; a plain number unchanged."""
    return value.bracketed() if isinstance(value, Formula) else value


def _lift(value: Any) -> Formula:
    return value if isinstance(value, Formula) else Formula("atom", (), None, value)


def _combine(op: str, left: Any, right: Any) -> Formula:
    return Formula(op, (_lift(left), _lift(right)))


def divide(left: Any, right: Any) -> Any:
    """left / right, exact: an int or a Fraction for whole numbers and fractions, sympy's division
    for symbols."""
    from fractions import Fraction

    if isinstance(left, (int, Fraction)) and isinstance(right, (int, Fraction)):
        result = Fraction(left) / Fraction(right)
        return int(result) if result.denominator == 1 else result
    return left / right


def total(formulas: list[Formula]) -> Formula | int:
    """The sum of several formulas as one formula (0 for none)."""
    if not formulas:
        return 0
    result = formulas[0]
    for item in formulas[1:]:
        result = result + item
    return result


def _number(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        from .numbers import integer_text

        return integer_text(value, grouping=abs(value) >= 10_000)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Fraction):  # 0.5, or (79/3) when its decimals do not end soon
        from .numbers import decimal_text

        shown = decimal_text(value)
        return shown if Fraction(shown) == value else f"({value.numerator}/{value.denominator})"
    from .symbolic import text

    shown = text(value)
    return f"({shown})" if any(op in shown.lstrip("-") for op in "+-") else shown  # a symbolic sum: C + 1


def value_of(item: Any) -> Any:
    """The value of a formula, or the item itself when it is a plain number."""
    return item.value if isinstance(item, Formula) else item


def product(factors: Sequence[Formula]) -> Formula:
    result = factors[0]
    for factor in factors[1:]:
        result = result * factor
    return result


def axis_names(rank: int, prime: str = "") -> tuple[str, ...]:
    """The lectures' names of a tensor's axes: C, H, W for a feature map, C for a vector, L, D for a
    sequence of L tokens of D features (shapes.is_sequence), and C, D1, D2, D3... for other ranks. `prime`
    "in" or "out" names an input's or an output's: C_in, C_out × H' × W', L' × D'."""
    if rank == 2:
        return ("L'", "D'") if prime == "out" else ("L", "D")
    names = {1: ("C",), 3: ("C", "H", "W")}.get(rank) or ("C", *(f"D{i}" for i in range(1, rank)))
    channels = f"C_{prime}" if prime else "C"
    return (channels, *(name + ("'" if prime == "out" else "") for name in names[1:]))


def output_elements(shape: tuple) -> Formula:
    """C_out × H' × W' (C_out for a vector, L' × D' for a sequence), named as the lectures name them."""
    if not deriving():
        return math.prod(shape)
    return product([Q(name, size) for name, size in zip(axis_names(len(shape), "out"), shape)])


def input_elements(shape: tuple) -> Formula:
    """C_in × H × W (C_in for a vector, L × D for a sequence)."""
    if not deriving():
        return math.prod(shape)
    return product([Q(name, size) for name, size in zip(axis_names(len(shape), "in"), shape)])


def kernel_factors(kernel: tuple) -> tuple[Formula, Formula]:
    """K × K for a square kernel, K_h × K_w otherwise."""
    kh, kw = kernel
    if not deriving():
        return kh, kw
    return (Q("K", kh), Q("K", kw)) if kh == kw else (Q("K_h", kh), Q("K_w", kw))


__all__ = ["Formula", "Q", "Step", "axis_names", "bracket", "derivations", "deriving", "divide", "input_elements",
           "kernel_factors", "output_elements", "product", "total", "value_of"]
