"""A small, safe expression language for spec values: `4*c`, `make_divisible(32*width, 8)`,
`2 if i == 0 else 1`. A hand-written parser over a whitelisted grammar; nothing is ever handed
to Python's eval.

Grammar (lowest precedence first):
    expr    := or ['if' or 'else' expr]
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := sum (('=='|'!='|'<'|'<='|'>'|'>=') sum)?
    sum     := term (('+'|'-') term)*
    term    := unary (('*'|'/'|'//'|'%') unary)*
    unary   := ('-'|'+') unary | atom
    atom    := NUMBER | NAME | NAME '(' [expr (',' expr)*] ')' | '(' expr ')' | 'true' | 'false'
Whole numbers stay exact: `/` on whole numbers gives an exact fraction, and a result with no
fractional part is a whole number again (`c/2` with c = 64 is 32).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

MAX_LENGTH = 1000
MAX_DEPTH = 50


class ExprError(ValueError):
    """A problem with an expression; `offset` is the 0-based character where it is."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


def make_divisible(value: Any, divisor: Any = 8, min_value: Any = None) -> int:
    """MobileNet's rounding: the nearest multiple of `divisor`, not below 90% of `value`."""
    if min_value is None:
        min_value = divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def _round(value: Any, digits: Any = None) -> Any:
    return round(value) if digits is None else round(value, digits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "round": _round,
    "ceil": math.ceil,
    "floor": math.floor,
    "int": int,
    "abs": abs,
    "make_divisible": make_divisible,
}

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>//|==|!=|<=|>=|[-+*/%<>(),]))"
)
_KEYWORDS = {"if", "else", "and", "or", "not", "true", "false"}


def tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExprError(f"unexpected character {text[position:].lstrip()[:1]!r}",
                            len(text) - len(text[position:].lstrip()))
        kind = match.lastgroup or ""
        value = match.group(kind)
        tokens.append((kind, value, match.start(kind)))
        position = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


def is_expression(text: str) -> bool:
    """Whether a string is meant as an expression rather than a plain word such as `same`."""
    try:
        tokens = tokenize(text)
    except ExprError:
        return False
    return not (len(tokens) == 2 and tokens[0][0] == "name")


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """The value of an expression; raises ExprError for anything outside the grammar.

    `and`, `or` and `A if C else B` evaluate only the side they need, as in Python."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    parser = _Parser(tokenize(text), variables)
    thunk = parser.expr()
    kind, token, offset = parser.peek()
    if kind != "end":
        raise ExprError(f"unexpected {token!r}", offset)
    return normalize(thunk())


def normalize(value: Any) -> Any:
    """Exact fractions with no fractional part become ints; other fractions become floats."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if getattr(value, "is_Integer", False):  # sympy's whole numbers
        return int(value)
    return value


Thunk = Callable[[], Any]


class _Parser:
    """Recursive descent; each rule returns a thunk that computes its value when called."""

    def __init__(self, tokens, variables: Mapping[str, Any]) -> None:
        self.tokens = tokens
        self.index = 0
        self.variables = variables
        self.depth = 0

    def peek(self):
        return self.tokens[self.index]

    def take(self, value: str | None = None):
        token = self.tokens[self.index]
        if value is not None and token[1] != value:
            shown = "the end" if token[0] == "end" else repr(token[1])
            raise ExprError(f"expected {value!r}, found {shown}", token[2])
        self.index += 1
        return token

    def at(self, *values: str) -> bool:
        kind, value, _ = self.peek()
        return kind in ("op", "name") and value in values

    def expr(self) -> Thunk:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError("expression nested too deeply", self.peek()[2])
        try:
            value = self.or_()
            if not self.at("if"):
                return value
            self.take()
            condition = self.or_()
            self.take("else")
            other = self.expr()
            return lambda: value() if condition() else other()
        finally:
            self.depth -= 1

    def or_(self) -> Thunk:
        value = self.and_()
        while self.at("or"):
            self.take()
            value = (lambda left, right: lambda: left() or right())(value, self.and_())
        return value

    def and_(self) -> Thunk:
        value = self.not_()
        while self.at("and"):
            self.take()
            value = (lambda left, right: lambda: left() and right())(value, self.not_())
        return value

    def not_(self) -> Thunk:
        if self.at("not"):
            self.take()
            inner = self.not_()
            return lambda: not inner()
        return self.compare()

    def compare(self) -> Thunk:
        left = self.sum()
        if not self.at("==", "!=", "<", "<=", ">", ">="):
            return left
        op, offset = self.take()[1], self.tokens[self.index - 1][2]
        right = self.sum()
        return lambda: _compare(op, left(), right(), offset)

    def sum(self) -> Thunk:
        value = self.term()
        while self.at("+", "-"):
            op, offset = self.take()[1], self.tokens[self.index - 1][2]
            value = _binary(op, value, self.term(), offset)
        return value

    def term(self) -> Thunk:
        value = self.unary()
        while self.at("*", "/", "//", "%"):
            op, offset = self.take()[1], self.tokens[self.index - 1][2]
            value = _binary(op, value, self.unary(), offset)
        return value

    def unary(self) -> Thunk:
        if self.at("-", "+"):
            op, offset = self.take()[1], self.tokens[self.index - 1][2]
            return _binary(op, lambda: 0, self.unary(), offset)
        return self.atom()

    def atom(self) -> Thunk:
        kind, value, offset = self.take()
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            return lambda: number
        if kind == "op" and value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind == "name":
            if value in ("true", "false"):
                return lambda: value == "true"
            if self.at("("):
                return self.call(value, offset)
            if value in _KEYWORDS:
                raise ExprError(f"unexpected {value!r}", offset)
            if value not in self.variables:
                raise ExprError(f"unknown variable '{value}'", offset)
            return lambda: self.variables[value]
        shown = "end of expression" if kind == "end" else repr(value)
        raise ExprError(f"unexpected {shown}", offset)

    def call(self, name: str, offset: int) -> Thunk:
        if name not in FUNCTIONS:
            raise ExprError(f"unknown function '{name}' (functions: {', '.join(FUNCTIONS)})", offset)
        self.take("(")
        args = []
        if not self.at(")"):
            args.append(self.expr())
            while self.at(","):
                self.take()
                args.append(self.expr())
        self.take(")")

        def run() -> Any:
            try:
                return FUNCTIONS[name](*[normalize(arg()) for arg in args])
            except (TypeError, ValueError, OverflowError) as exc:
                raise ExprError(f"{name}(): {exc}", offset) from None

        return run


def _compare(op: str, left: Any, right: Any, offset: int) -> bool:
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    try:
        return {"<": lambda: left < right, "<=": lambda: left <= right,
                ">": lambda: left > right, ">=": lambda: left >= right}[op]()
    except TypeError:
        raise ExprError(f"cannot compare {left!r} {op} {right!r}", offset) from None


def _binary(op: str, left: Thunk, right: Thunk, offset: int) -> Thunk:
    return lambda: _arith(op, left(), right(), offset)


def _arith(op: str, left: Any, right: Any, offset: int) -> Any:
    for side in (left, right):
        if isinstance(side, (bool, str)) or (not isinstance(side, (int, float, Fraction)) and \
                not hasattr(side, "free_symbols")):  # a sympy expression in symbolic mode
            raise ExprError(f"'{op}' needs numbers, got {side!r}", offset)
    if op in ("/", "//", "%") and isinstance(right, (int, float, Fraction)) and right == 0:
        raise ExprError("division by zero", offset)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if isinstance(left, int) and isinstance(right, int):
            return Fraction(left) / Fraction(right)
        return left / right
    if op == "//":
        return left // right
    return left % right
