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
from fractions import Fraction
from typing import Any, Callable, Mapping

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
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExprError(f"unexpected character {text[position:].lstrip()[:1]!r}",
                            len(text) - len(text[position:].lstrip()))
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append((kind, value, match.start(kind)))
        position = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


def names_in(text: str) -> set[str]:
    """The variable names an expression mentions (not functions, not keywords)."""
    tokens = tokenize(text)
    found = set()
    for index, (kind, value, _) in enumerate(tokens):
        if kind == "name" and value not in _KEYWORDS and tokens[index + 1][1] != "(":
            found.add(value)
    return found


def is_expression(text: str) -> bool:
    """Whether a string is meant as an expression rather than a plain word such as `same`."""
    try:
        tokens = tokenize(text)
    except ExprError:
        return False
    return not (len(tokens) == 2 and tokens[0][0] == "name")


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """The value of an expression; raises ExprError for anything outside the grammar."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    parser = _Parser(tokenize(text), variables)
    value = parser.expr()
    kind, token, offset = parser.peek()
    if kind != "end":
        raise ExprError(f"unexpected {token!r}", offset)
    return normalize(value)


def normalize(value: Any) -> Any:
    """Exact fractions with no fractional part become ints; other fractions become floats."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class _Parser:
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

    def expr(self) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError("expression nested too deeply", self.peek()[2])
        try:
            value = self.or_()
            if self.at("if"):
                self.take()
                condition = self.or_()
                self.take("else")
                other = self.expr()
                return value if condition else other
            return value
        finally:
            self.depth -= 1

    def or_(self) -> Any:
        value = self.and_()
        while self.at("or"):
            self.take()
            right = self.and_()
            value = value or right
        return value

    def and_(self) -> Any:
        value = self.not_()
        while self.at("and"):
            self.take()
            right = self.not_()
            value = value and right
        return value

    def not_(self) -> Any:
        if self.at("not"):
            self.take()
            return not self.not_()
        return self.compare()

    def compare(self) -> Any:
        left = self.sum()
        if not self.at("==", "!=", "<", "<=", ">", ">="):
            return left
        op, offset = self.take()[1], self.tokens[self.index - 1][2]
        right = self.sum()
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        try:
            return {"<": lambda: left < right, "<=": lambda: left <= right,
                    ">": lambda: left > right, ">=": lambda: left >= right}[op]()
        except TypeError:
            raise ExprError(f"cannot compare {left!r} {op} {right!r}", offset) from None

    def sum(self) -> Any:
        value = self.term()
        while self.at("+", "-"):
            op, offset = self.take()[1], self.tokens[self.index - 1][2]
            right = self.term()
            value = self._arith(op, value, right, offset)
        return value

    def term(self) -> Any:
        value = self.unary()
        while self.at("*", "/", "//", "%"):
            op, offset = self.take()[1], self.tokens[self.index - 1][2]
            right = self.unary()
            value = self._arith(op, value, right, offset)
        return value

    def _arith(self, op: str, left: Any, right: Any, offset: int) -> Any:
        for side in (left, right):
            if isinstance(side, (bool, str)) or not isinstance(side, (int, float, Fraction)):
                raise ExprError(f"'{op}' needs numbers, got {side!r}", offset)
        if op in ("/", "//", "%") and right == 0:
            raise ExprError("division by zero", offset)
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            if isinstance(left, float) or isinstance(right, float):
                return left / right
            return Fraction(left) / Fraction(right)
        if op == "//":
            return left // right
        return left % right

    def unary(self) -> Any:
        if self.at("-", "+"):
            op, offset = self.take()[1], self.tokens[self.index - 1][2]
            value = self.unary()
            return self._arith("-" if op == "-" else "+", 0, value, offset)
        return self.atom()

    def atom(self) -> Any:
        kind, value, offset = self.take()
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "op" and value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind == "name":
            if value in ("true", "false"):
                return value == "true"
            if self.at("("):
                return self.call(value, offset)
            if value in _KEYWORDS:
                raise ExprError(f"unexpected {value!r}", offset)
            if value not in self.variables:
                raise ExprError(f"unknown variable '{value}'", offset)
            return self.variables[value]
        shown = "end of expression" if kind == "end" else repr(value)
        raise ExprError(f"unexpected {shown}", offset)

    def call(self, name: str, offset: int) -> Any:
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
        try:
            return FUNCTIONS[name](*[normalize(a) for a in args])
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(f"{name}(): {exc}", offset) from None
