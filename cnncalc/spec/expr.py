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
    unary   := ('-'|'+') unary | postfix
    postfix := atom ('[' expr ']')*
    atom    := NUMBER | NAME | NAME '(' [expr (',' expr)*] ')' | '(' expr ')' | 'true' | 'false'
             | '[' [expr (',' expr)*] ']'
Lists come from list literals (`[16, 32, 64]`) and from variables that hold a YAML list or mapping;
`xs[i]` indexes a list (from 0; negative from the end) or a mapping by its key (`scales[scale]`).
Whole numbers stay exact: `/` on whole numbers gives an exact fraction, and a result with no
fractional part is a whole number again (`c/2` with c = 64 is 32).

Limits (docs/limits.md): MAX_LENGTH characters, MAX_DEPTH nested parentheses, calls and `if`s;
every number (literal, variable, intermediate result) below 10**MAX_DIGITS in magnitude and
finite, so no chain of products can grow without bound; chains of operators and signs are
evaluated in loops, never by recursion.
"""
from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

MAX_LENGTH = 1000
MAX_DEPTH = 50
MAX_DIGITS = 60  # whole numbers (and the parts of fractions) below 10**60: far beyond any size
_TOO_LARGE = 10**MAX_DIGITS


class ExprError(ValueError):
    """A problem with an expression; `offset` is the 0-based character where it is."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class Unresolved(ExprError):
    """The expression needs a value that could not be computed; that value's own problem is
    reported where it is, so this one is not reported again."""


class _Unknown:
    """The value of a variable whose definition failed (or of a size no one could infer)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


def make_divisible(value: Any, divisor: Any = 8, min_value: Any = None) -> int:
    """MobileNet's rounding: the nearest multiple of `divisor`, not below 90% of `value`."""
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor <= 0:
        raise ValueError(f"the divisor must be a positive whole number, got {divisor!r}")
    if min_value is None:
        min_value = divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def make_divisible_up(value: Any, divisor: Any = 8) -> int:
    """Ultralytics' rounding: the smallest multiple of `divisor` not below `value`, ceil(x / d) * d."""
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor <= 0:
        raise ValueError(f"the divisor must be a positive whole number, got {divisor!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise ValueError(f"needs a number, got {value!r}")
    return math.ceil(value / divisor) * divisor if isinstance(value, float) else \
        math.ceil(Fraction(value) / divisor) * divisor


def _len(value: Any) -> int:
    if not isinstance(value, (list, tuple, dict)):
        raise ValueError(f"needs a list or a mapping, got {value!r}")
    return len(value)


def _sum(value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"needs a list, got {value!r}")
    total: Any = 0
    for item in value:
        total = _arith("+", total, item, 0)
    return total


def _round(value: Any, digits: Any = None) -> Any:
    if digits is None:
        return round(value)
    if isinstance(digits, bool) or not isinstance(digits, int) or abs(digits) > MAX_DIGITS:
        raise ValueError(f"the digits must be a whole number from -{MAX_DIGITS} to {MAX_DIGITS}, got {digits!r}")
    return round(value, digits)


def _pow(base: Any, exponent: Any) -> Any:
    """base ** exponent: exact for a whole exponent of a whole or exact base (a negative one gives a
    fraction), a float otherwise; a result beyond the limit on numbers is refused before it is computed."""
    numbers = (int, float, Fraction)
    if not isinstance(base, numbers) or not isinstance(exponent, numbers):  # symbols (symbolic mode)
        return base ** exponent
    if isinstance(exponent, int) and not isinstance(exponent, bool) and not isinstance(base, float):
        size = abs(Fraction(base))
        if size not in (0, 1) and abs(exponent) * max(abs(math.log10(size.numerator or 1)),
                                                       math.log10(size.denominator)) > MAX_DIGITS + 1:
            raise ValueError(f"the result has more than {MAX_DIGITS} digits")
        if base == 0 and exponent < 0:
            raise ValueError("0 to a negative power")
        return Fraction(base) ** exponent
    if base < 0 and exponent != int(exponent):
        raise ValueError(f"a negative number to a fractional power, {base} to {exponent}")
    try:
        return math.pow(float(base), float(exponent))
    except OverflowError:
        raise ValueError("the result is too large") from None


def _log(value: Any, base: Any = None) -> float:
    """The natural logarithm, or to `base` (RegNet's block widths: log(w / w_0) / log(w_m))."""
    if value <= 0:
        raise ValueError(f"of a number that is not positive, {value}")
    if base is None:
        return math.log(value)
    if base <= 0 or base == 1:
        raise ValueError(f"the base must be positive and not 1, got {base}")
    return math.log(value, base)


def bounded(value: Any, offset: int = 0) -> Any:
    """`value` if it is within the limits on numbers; otherwise an ExprError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -_TOO_LARGE < value < _TOO_LARGE:
            return value
    elif isinstance(value, float):
        if math.isfinite(value):
            return value
        raise ExprError(f"the result is not a finite number ({value})", offset)
    elif isinstance(value, Fraction):
        if abs(value.numerator) < _TOO_LARGE and value.denominator < _TOO_LARGE:
            return value
    else:
        return value  # words, and sympy expressions in symbolic mode
    raise ExprError(f"a number has more than {MAX_DIGITS} digits", offset)


def _check_numbers(name: str, values: list[Any], offset: int) -> None:
    """The arguments of every function but len are numbers (or one list of them): a word or a mapping
    gets a message of its own rather than Python's ('<' not supported between 'int' and 'str')."""
    for value in values:
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, (str, dict)):
                raise ExprError(f"{name}() needs numbers, got {'a mapping' if isinstance(item, dict) else repr(item)}",
                                offset)
    if name in ("min", "max") and len(values) == 1 and isinstance(values[0], (list, tuple)) and not values[0]:
        raise ExprError(f"{name}() of an empty list", offset)
    if name == "sqrt" and values and isinstance(values[0], (int, float, Fraction)) and values[0] < 0:
        raise ExprError(f"sqrt() of a negative number, {values[0]}", offset)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "round": _round,
    "ceil": math.ceil,
    "floor": math.floor,
    "int": int,
    "abs": abs,
    "sqrt": math.sqrt,
    "pow": _pow,
    "log": _log,
    "make_divisible": make_divisible,
    "make_divisible_up": make_divisible_up,
    "len": _len,
    "sum": _sum,
}
MAX_LIST = 10_000  # items of a list literal or of a list a function returns

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>//|==|!=|<=|>=|[-+*/%<>(),\[\]]))"
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


@functools.lru_cache(maxsize=4096)
def is_expression(text: str) -> bool:
    """Whether a string is meant as an expression rather than a plain word such as `same`."""
    try:
        tokens = tokenize(text)
    except ExprError:
        return False
    return not (len(tokens) == 2 and tokens[0][0] == "name")


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """The value of an expression; raises ExprError for anything outside the grammar.

    `and`, `or` and `A if C else B` evaluate only the side they need, as in Python; every name
    must be a variable all the same."""
    thunk, names = _compiled(text)
    for name, offset in names:
        if name not in variables:
            raise ExprError(f"unknown variable '{name}'", offset)
    return normalize(bounded(thunk(variables)))


@functools.lru_cache(maxsize=4096)
def _compiled(text: str) -> tuple[Thunk, tuple[tuple[str, int], ...]]:
    """The expression parsed once (a spec's repeats and blocks evaluate the same text again and
    again with other variables), and the variables it names, with their offsets."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    parser = _Parser(tokenize(text))
    thunk = parser.expr()
    kind, token, offset = parser.peek()
    if kind != "end":
        raise ExprError(f"unexpected {token!r}", offset)
    return thunk, tuple(parser.names)


def normalize(value: Any) -> Any:
    """Exact fractions with no fractional part become ints; other fractions become floats."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if getattr(value, "is_Integer", False):  # sympy's whole numbers
        return int(value)
    if isinstance(value, list) and not hasattr(value, "item_locs"):  # a list literal's items
        return [normalize(item) for item in value]
    return value


Env = Mapping[str, Any]
Thunk = Callable[[Env], Any]


class _Parser:
    """Recursive descent; each rule returns a thunk that computes its value from the variables."""

    def __init__(self, tokens) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.names: list[tuple[str, int]] = []  # the variables named, in order

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
            return lambda env: value(env) if condition(env) else other(env)
        finally:
            self.depth -= 1

    def or_(self) -> Thunk:
        operands = [self.and_()]
        while self.at("or"):
            self.take()
            operands.append(self.and_())
        return operands[0] if len(operands) == 1 else lambda env: _first(operands, True, env)

    def and_(self) -> Thunk:
        operands = [self.not_()]
        while self.at("and"):
            self.take()
            operands.append(self.not_())
        return operands[0] if len(operands) == 1 else lambda env: _first(operands, False, env)

    def not_(self) -> Thunk:
        count = 0
        while self.at("not"):
            self.take()
            count += 1
        inner = self.compare()
        if not count:
            return inner
        return (lambda env: not inner(env)) if count % 2 else (lambda env: bool(inner(env)))

    def compare(self) -> Thunk:
        left = self.sum()
        if not self.at("==", "!=", "<", "<=", ">", ">="):
            return left
        op, offset = self.take()[1], self.tokens[self.index - 1][2]
        right = self.sum()
        return lambda env: _compare(op, left(env), right(env), offset)

    def sum(self) -> Thunk:
        return self.chain(self.term, ("+", "-"))

    def term(self) -> Thunk:
        return self.chain(self.unary, ("*", "/", "//", "%"))

    def chain(self, operand: Callable[[], Thunk], ops: tuple[str, ...]) -> Thunk:
        """`a + b - c`: the operands and operators of one precedence level, evaluated left to
        right in a loop (a recursion as deep as the chain is long would overflow the stack)."""
        first = operand()
        rest: list[tuple[str, int, Thunk]] = []
        while self.at(*ops):
            op, offset = self.take()[1], self.tokens[self.index - 1][2]
            rest.append((op, offset, operand()))
        if not rest:
            return first

        def run(env: Env) -> Any:
            value = first(env)
            for op, offset, right in rest:
                value = _arith(op, value, right(env), offset)
            return value

        return run

    def unary(self) -> Thunk:
        """Signs in front of an atom, however many (`- - -x`), as one negation or none."""
        negate, offset = False, None
        while self.at("-", "+"):
            op, offset = self.take()[1], self.tokens[self.index - 1][2]
            negate ^= op == "-"
        inner = self.postfix()
        if offset is None:
            return inner
        op = "-" if negate else "+"
        return lambda env: _arith(op, 0, inner(env), offset)

    def postfix(self) -> Thunk:
        """An atom followed by any number of subscripts: `xs[i]`, `scales[scale][0]`."""
        value = self.atom()
        while self.at("["):
            offset = self.take()[2]
            index = self.expr()
            self.take("]")
            value = _subscript_thunk(value, index, offset)
        return value

    def atom(self) -> Thunk:
        kind, value, offset = self.take()
        if kind == "number":
            try:
                literal = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:  # an int literal longer than Python converts
                raise ExprError(f"a number has more than {MAX_DIGITS} digits", offset) from None
            number = bounded(literal, offset)
            return lambda env: number
        if kind == "op" and value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind == "op" and value == "[":
            items = self.items("]")
            if len(items) > MAX_LIST:
                raise ExprError(f"a list of more than {MAX_LIST:,} items", offset)
            return lambda env: [item(env) for item in items]
        if kind == "name":
            if value in ("true", "false"):
                truth = value == "true"
                return lambda env: truth
            if self.at("("):
                return self.call(value, offset)
            if value in _KEYWORDS:
                raise ExprError(f"unexpected {value!r}", offset)
            self.names.append((value, offset))
            return lambda env: _variable(env, value, offset)
        shown = "end of expression" if kind == "end" else repr(value)
        raise ExprError(f"unexpected {shown}", offset)

    def items(self, close: str) -> list[Thunk]:
        """Comma-separated expressions up to and including `close` (a list's items, a call's arguments)."""
        items: list[Thunk] = []
        if not self.at(close):
            items.append(self.expr())
            while self.at(","):
                self.take()
                items.append(self.expr())
        self.take(close)
        return items

    def call(self, name: str, offset: int) -> Thunk:
        if name not in FUNCTIONS:
            raise ExprError(f"unknown function '{name}' (functions: {', '.join(FUNCTIONS)})", offset)
        self.take("(")
        args = self.items(")")

        def run(env: Env) -> Any:
            values = [normalize(arg(env)) for arg in args]
            if name != "len":
                _check_numbers(name, values, offset)
            try:
                return bounded(FUNCTIONS[name](*values), offset)
            except ExprError:
                raise
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise ExprError(f"{name}(): {exc}", offset) from None

        return run


def _subscript_thunk(value: Thunk, index: Thunk, offset: int) -> Thunk:
    return lambda env: _subscript(value(env), normalize(index(env)), offset)


def _subscript(container: Any, index: Any, offset: int) -> Any:
    """`xs[i]` of a list (negative from the end) or `m[key]` of a mapping."""
    if isinstance(container, dict):
        if isinstance(index, (list, dict)) or index not in container:
            keys = ", ".join(str(key) for key in list(container)[:10])
            raise ExprError(f"no key {index!r} (keys: {keys})", offset)
        return bounded(container[index], offset)
    if not isinstance(container, (list, tuple)):
        raise ExprError(f"only a list or a mapping can be indexed, not {container!r}", offset)
    if isinstance(index, bool) or not isinstance(index, int):
        raise ExprError(f"a list index must be a whole number, got {index!r}", offset)
    if not -len(container) <= index < len(container):
        raise ExprError(f"index {index} is outside the list of {len(container)}", offset)
    return bounded(container[index], offset)


def _first(operands: list[Thunk], wanted: bool, env: Env) -> Any:
    """`a or b or c` (wanted true) and `a and b and c` (wanted false): the first operand whose truth
    is `wanted`, else the last, evaluating no further, as Python does."""
    value = None
    for operand in operands:
        value = operand(env)
        if bool(value) is wanted:
            return value
    return value


def _variable(variables: Env, name: str, offset: int) -> Any:
    value = variables[name]
    if value is UNKNOWN:
        raise Unresolved(f"'{name}' has no value (see its own error)", offset)
    return bounded(value, offset)


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


def _arith(op: str, left: Any, right: Any, offset: int) -> Any:
    for side in (left, right):
        if isinstance(side, (bool, str)) or (not isinstance(side, (int, float, Fraction)) and \
                not hasattr(side, "free_symbols")):  # a sympy expression in symbolic mode
            raise ExprError(f"'{op}' needs numbers, got {side!r}", offset)
    if op in ("/", "//", "%") and isinstance(right, (int, float, Fraction)) and right == 0:
        raise ExprError("division by zero", offset)
    try:
        return bounded(_apply(op, left, right), offset)
    except (OverflowError, ZeroDivisionError) as exc:  # int to float beyond 1e308; x // 0.0
        raise ExprError(f"'{op}': {exc}", offset) from None


def _apply(op: str, left: Any, right: Any) -> Any:
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
