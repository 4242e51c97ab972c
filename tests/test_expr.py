"""The safe expression evaluator."""
from __future__ import annotations

import pytest

from cnncalc.spec.expr import ExprError, evaluate, is_expression, make_divisible

VARS = {"c": 64, "width": 0.75, "i": 0, "flag": True, "w": "x"}


@pytest.mark.parametrize("text,value", [
    ("4*c", 256),
    ("c/2", 32),  # exact: a whole result is an int
    ("c/3", 64 / 3),
    ("c//3", 21),
    ("c % 10", 4),
    ("-(c + 1) * 2", -130),
    ("2 + 3 * 4", 14),  # precedence
    ("(2 + 3) * 4", 20),
    ("2 if i == 0 else 1", 2),
    ("1 if i > 0 else 3 if c > 10 else 4", 3),
    ("c >= 64 and not i", True),
    ("flag or 1/0 == 0", True),  # only the side needed is evaluated, as in Python
    ("0 if c == 64 else c // 0", 0),
    ("i and 1/i", 0),
    ("max(1, c // 4)", 16),
    ("min(3, 2, 5)", 2),
    ("round(2.5)", 2),  # Python's rounding, halves to even (as torchvision computes)
    ("round(3.5)", 4),
    ("ceil(c / 3)", 22),
    ("floor(c / 3)", 21),
    ("int(width * 10)", 7),
    ("make_divisible(32 * width, 8)", 24),
    ("1e-3", 0.001),
    ("1 / sqrt(16)", 0.25),  # attention's scale, key_dim ** -0.5
    ("sqrt(c)", 8.0),
    ("true", True),
    ("pow(2, 10)", 1024),  # exact for whole numbers
    ("pow(2, -2)", 0.25),  # a fraction, 1/4
    ("pow(c, 0.5)", 8.0),  # 64 ** 0.5
    ("pow(width, 2)", 0.5625),  # 0.75 ** 2
    ("log(1)", 0.0),
    ("log(8, 2)", 3.0),
    ("pow(1, 1000000000)", 1),  # 1 to any power is small: computed
    # RegNetY-400MF's last block width (torchvision's BlockParams.from_init_params, w_0 = 48, w_a = 27.89,
    # w_m = 2.09, block 15): capacity round(log((15·27.89 + 48)/48) / log(2.09)) = round(3.084) = 3, width
    # round(48 · 2.09³ / 8) · 8 = round(54.77) · 8 = 440
    ("round(48 * pow(2.09, round(log((15 * 27.89 + 48) / 48) / log(2.09))) / 8) * 8", 440),
])
def test_values(text, value):
    assert evaluate(text, VARS) == value


def test_make_divisible_matches_torchvision():
    # torchvision.models._utils._make_divisible: max(8, int(v + 4) // 8 * 8), +8 if below 90% of v
    assert make_divisible(32 * 0.75) == 24
    assert make_divisible(16 * 0.5) == 8
    assert make_divisible(96 * 0.35) == 32  # 33.6 -> 32 (not below 30.24)
    assert make_divisible(10) == 16  # int(14)//8*8 = 8 < 9 -> 16


@pytest.mark.parametrize("text,message,offset", [
    ("c // 0", "division by zero", 2),
    ("c % 0", "division by zero", 2),
    ("foo + 1", "unknown variable 'foo'", 0),
    ("1 +", "unexpected end of expression", 3),
    ("(1", "expected ')', found the end", 2),
    ("2 ** 3", "unexpected '*'", 3),
    ("__import__('os')", "unexpected character", 11),
    ("c.real", "unexpected character '.'", 1),
    ("open(1)", "unknown function 'open'", 0),
    ("min()", "min(): ", 0),
    ("1 if c", "expected 'else'", 6),
    ("[1][2]", "index 2 is outside the list of 1", 3),
    ("[1", "expected ']', found the end", 2),
    ("3[0]", "only a list or a mapping can be indexed", 1),
    ("sqrt(0 - 1)", "sqrt() of a negative number, -1", 0),
    # a word or a mapping given to a function: its own message, not Python's TypeError text
    ("min(4, w)", "min() needs numbers, got 'x'", 0),
    ("abs(w)", "abs() needs numbers, got 'x'", 0),
    ("round(w)", "round() needs numbers, got 'x'", 0),
    ("int(w)", "int() needs numbers, got 'x'", 0),
    ("max([1, w])", "max() needs numbers, got 'x'", 0),
    ("max([])", "max() of an empty list", 0),
    ("pow(10, 61)", "more than 60 digits", 0),
    ("pow(2, 1000000000)", "pow(): the result has more than 60 digits", 0),  # refused before it is computed
    ("pow(0, 0 - 1)", "pow(): 0 to a negative power", 0),
    ("pow(0 - 8, 0.5)", "pow(): a negative number to a fractional power, -8 to 0.5", 0),
    ("pow(1.5, 2000.5)", "pow(): the result is too large", 0),  # a float beyond 1e308
    ("pow(w, 2)", "pow() needs numbers, got 'x'", 0),
    ("log(0)", "log(): of a number that is not positive, 0", 0),
    ("log(8, 1)", "log(): the base must be positive and not 1, got 1", 0),
])
def test_errors(text, message, offset):
    with pytest.raises(ExprError) as info:
        evaluate(text, VARS)
    assert message in str(info.value)
    assert info.value.offset == offset


def test_too_long_and_too_deep():
    with pytest.raises(ExprError, match="longer than"):
        evaluate("1+" * 600 + "1", {})
    with pytest.raises(ExprError, match="nested too deeply"):
        evaluate("(" * 60 + "1" + ")" * 60, {})


def test_words_are_not_expressions():
    assert not is_expression("same")
    assert not is_expression("relu")
    assert not is_expression("c")
    assert is_expression("4*c")
    assert is_expression("64")


@pytest.mark.parametrize("text, expected", [
    ("[16, 32, 64][i]", 64),                               # i = 2
    ("ch[-1]", 128),                                       # negative indexes count from the end
    ("scales[scale][1]", 0.25),                            # a mapping indexed by its key, then a list
    ("make_divisible_up(min(1024, 768) * 0.75, 8)", 576),  # 768 * 0.75 = 576.0, a multiple of 8
    ("make_divisible_up(64 * 1.25)", 80),                  # 80.0
    ("make_divisible_up(20)", 24),                         # ceil(20 / 8) * 8 = 3 * 8; make_divisible gives 24 too
    ("make_divisible_up(17)", 24),                         # ceil(17 / 8) * 8 = 24; make_divisible(17) = 16
    ("make_divisible(17)", 16),                            # int(17 + 4) // 8 * 8 = 16, not below 0.9 * 17
    ("len(ch) + sum([1, 2])", 7),                          # 4 + 3
    ("[c / 2, 3]", [32, 3]),                               # list items are exact like any value
])
def test_lists_and_indexing(text, expected):
    variables = {"i": 2, "ch": [16, 32, 64, 128], "scales": {"n": [0.33, 0.25, 1024]}, "scale": "n", "c": 64}
    assert evaluate(text, variables) == expected
