"""Spec expressions written as Python for `cnncalc export`, and checked with Python's own meaning.

A spec expression (`4 * planes`, `make_divisible(c * width, 8)`, `stride == 1 and in_channels == out`)
becomes Python text: names the exported code can read stay as they are, the spec's variables become
the file's module-level constants (`WIDTH`), `true` becomes `True`, `ceil` becomes `math.ceil`. The text
is then evaluated the way Python would (`/` gives a float, `round` rounds half to even) by a small
interpreter over Python's syntax tree, so that every value the exported file computes is checked
against the value cnncalc computed. Nothing is ever handed to `eval`.
"""
from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from ..spec.expr import ExprError, make_divisible, tokenize

# the spec's functions as the exported file writes them; make_divisible's source is copied into the file
FUNCTIONS: dict[str, str] = {"min": "min", "max": "max", "round": "round", "int": "int", "abs": "abs",
                             "ceil": "math.ceil", "floor": "math.floor", "make_divisible": "make_divisible"}
_CALLABLE: dict[str, Callable[..., Any]] = {"min": min, "max": max, "round": round, "int": int, "abs": abs,
                                           "math.ceil": math.ceil, "math.floor": math.floor,
                                           "make_divisible": make_divisible}
_KEYWORDS = {"if": "if", "else": "else", "and": "and", "or": "or", "not": "not", "true": "True",
             "false": "False"}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge}
MAX_DIGITS = 4000  # a whole number this long is no channel count: stop rather than grow without bound


class EvalError(ValueError):
    """Python would fail (or we refuse) to compute the text."""


def to_python(text: str, names: set[str], constants: Mapping[str, str], fixed: Mapping[str, int] | None = None) \
        -> str | None:
    """The spec expression as Python text in ruff format's spacing; None when it reads something the
    code cannot (a name neither in `names` nor a spec variable) or is no expression at all. Names in
    `fixed` are replaced by their values, and `x + 0 * y` comes out as `x`."""
    try:
        tokens = tokenize(str(text))
    except ExprError:
        return None
    out = []
    for index, (kind, value, _) in enumerate(tokens[:-1]):
        if kind == "name":
            if value in _KEYWORDS:  # before calls: `or (i - 1) == n` is no call of `or`
                value = _KEYWORDS[value]
            elif tokens[index + 1][1] == "(":
                if value not in FUNCTIONS:
                    return None
                value = FUNCTIONS[value]
            elif fixed and value in fixed:
                value = repr(fixed[value])
            elif value in names:
                pass
            elif value in constants:
                value = constants[value]
            else:
                return None
        out.append(value)
    try:
        tree = ast.parse(" ".join(out), mode="eval")
    except SyntaxError:
        return None
    if not _allowed(tree):
        return None
    return ast.unparse(_Simplify().visit(tree) if fixed else tree)


class _Simplify(ast.NodeTransformer):
    """`0 * x` is 0; `x + 0` and `x - 0` are x (whole-number zeros only); comparisons of two numbers are
    folded, and so are the booleans that decide nothing in `and` and `or`."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        zero = [_is_zero(node.left), _is_zero(node.right)]
        if isinstance(node.op, ast.Mult) and any(zero):
            return ast.Constant(0)
        if isinstance(node.op, ast.Add) and zero[0]:
            return node.right
        if isinstance(node.op, (ast.Add, ast.Sub)) and zero[1]:
            return node.left
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        """`0 > 0` is False (a loop's first copy: `relu=start_with_relu or i > 0` at i = 0)."""
        self.generic_visit(node)
        left, right = node.left, node.comparators[0]
        if len(node.ops) == 1 and isinstance(left, ast.Constant) and isinstance(right, ast.Constant) and \
                type(left.value) is int and type(right.value) is int:
            return ast.Constant(_COMPARE[type(node.ops[0])](left.value, right.value))
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        """`x or False` is x, `x and True` is x; `False and x` is False, `True or x` is True."""
        self.generic_visit(node)
        neutral = isinstance(node.op, ast.And)
        kept = [v for v in node.values if not (isinstance(v, ast.Constant) and v.value is neutral)]
        if not kept:
            return ast.Constant(neutral)
        if isinstance(kept[0], ast.Constant) and kept[0].value is (not neutral):
            return kept[0]
        return kept[0] if len(kept) == 1 else ast.BoolOp(node.op, kept)

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        """`a if True else b` is a."""
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant) and isinstance(node.test.value, bool):
            return node.body if node.test.value else node.orelse
        return node


def _is_zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == 0


def _allowed(tree: ast.AST) -> bool:
    kinds = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Name,
             ast.Constant, ast.Load, ast.Attribute, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
             ast.JoinedStr, ast.FormattedValue)
    return all(isinstance(node, kinds) for node in ast.walk(tree))


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """The value Python gives the text with the names in `env`."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise EvalError(str(exc)) from None
    try:
        return _eval(tree.body, env)
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise EvalError(str(exc)) from None


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise EvalError(f"unknown name {node.id!r}")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        value = _BINARY[type(node.op)](_eval(node.left, env), _eval(node.right, env))
        if isinstance(value, int) and abs(value).bit_length() > MAX_DIGITS:
            raise EvalError("number too large")
        return value
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BoolOp):
        value = _eval(node.values[0], env)
        for item in node.values[1:]:
            if bool(value) == isinstance(node.op, ast.Or):
                return value
            value = _eval(item, env)
        return value
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _eval(node.left, env)
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, env)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env) else node.orelse, env)
    if isinstance(node, ast.Call) and not node.keywords:
        function = _CALLABLE.get(ast.unparse(node.func))
        if function is None:
            raise EvalError(f"unknown function {ast.unparse(node.func)}")
        return function(*[_eval(arg, env) for arg in node.args])
    if isinstance(node, ast.JoinedStr):
        return "".join(_eval(part, env) if isinstance(part, ast.Constant) else str(_eval(part.value, env))
                       for part in node.values if isinstance(part, (ast.Constant, ast.FormattedValue)))
    raise EvalError(f"{ast.unparse(node)!r} is outside the expressions export writes")


def gives(text: str, env: Mapping[str, Any], value: Any) -> bool:
    """Whether Python computes `value` (same type, same value) from the text."""
    try:
        got = evaluate(text, env)
    except EvalError:
        return False
    return same(got, value)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def conjuncts(text: str) -> list[str]:
    """`a and b and c` as [a, b, c] (a text that is no conjunction: [text])."""
    tree = ast.parse(text, mode="eval").body
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And):
        return [ast.unparse(value) for value in tree.values]
    return [text]


def names_in(text: str) -> set[str]:
    """The names a Python text reads (the functions it calls aside)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            found.add(node.id)
        for child in ast.iter_child_nodes(node):
            if not (isinstance(node, ast.Call) and child is node.func):
                visit(child)

    visit(ast.parse(text, mode="eval"))
    return found


def uses_function(text: str, name: str) -> bool:
    tree = ast.parse(text, mode="eval")
    return any(isinstance(node, ast.Call) and ast.unparse(node.func) == name for node in ast.walk(tree))
