"""Spec expressions as the Python that `cnncalc export` writes, checked with Python's own meaning (no torch,
no eval)."""
from __future__ import annotations

import pytest

from cnncalc.pytorch.pyexpr import EvalError, conjuncts, evaluate, gives, names_in, to_python
from cnncalc.pytorch.pyformat import format_line, split_call


@pytest.mark.parametrize(("text", "python"), [
    ("4*planes", "4 * planes"),  # ruff format's spacing
    ("(k-1)//2", "(k - 1) // 2"),
    ("make_divisible(c * width, 8)", "make_divisible(c * WIDTH, 8)"),  # spec variables are the file's constants
    ("ceil(c / 2)", "math.ceil(c / 2)"),
    ("stride == 1 and in_channels == out", "stride == 1 and in_channels == out"),
    ("true if not proj else false", "True if not proj else False"),
    ("-c", "-c"),
    ("c if grow or (i - 1) == n - 1 else k", "c if grow or i - 1 == n - 1 else k"),  # `or (` is no call of `or`
    ("not (c > k)", "not c > k"),
])
def test_spec_expressions_become_python(text, python):
    names = {"planes", "k", "c", "stride", "in_channels", "out", "proj", "grow", "i", "n"}
    assert to_python(text, names, {"width": "WIDTH"}) == python


@pytest.mark.parametrize("text", ["c * unknown", "sqrt(c)", "c +", "same"])
def test_what_the_code_cannot_read_is_no_python(text):
    assert to_python(text, {"c"}, {}) is None


def test_a_fixed_name_is_replaced_and_zero_terms_vanish():
    # a repeat's first copy: i = 0, so `c + i * w` is c
    assert to_python("c + i * w", {"c", "i"}, {"w": "W"}, {"i": 0}) == "c"
    assert to_python("2 - i", {"i"}, {}, {"i": 0}) == "2"
    # legacy Xception's first unit: `relu: start_with_relu or i > 0` at i = 0 is start_with_relu
    assert to_python("s or i > 0", {"s", "i"}, {}, {"i": 0}) == "s"
    assert to_python("s and i == 0", {"s", "i"}, {}, {"i": 0}) == "s"
    assert to_python("i > 0 and s", {"s", "i"}, {}, {"i": 0}) == "False"  # decided by its first operand
    assert to_python("i > 0 or i < 0", {"i"}, {}, {"i": 0}) == "False"
    assert to_python("c if i == 0 else k", {"c", "k", "i"}, {}, {"i": 0}) == "c"


def test_python_meaning_not_the_specs():
    # the spec's / is exact (c/2 with c = 64 is the whole number 32); Python's gives the float 32.0
    assert evaluate("c / 2", {"c": 64}) == 32.0 and not gives("c / 2", {"c": 64}, 32)
    assert gives("c // 2", {"c": 64}, 32)
    assert evaluate("round(2.5)", {}) == 2  # Python rounds half to even
    assert evaluate("int(planes * 64 / 64) * 1", {"planes": 64}) == 64
    assert evaluate('f"denselayer{i + 1}"', {"i": 0}) == "denselayer1"
    assert evaluate("make_divisible(16 * 0.75, 8)", {}) == 16  # 12 rounds up to 16 (never below 90%)
    assert evaluate("a if b else c", {"a": 1, "b": False, "c": 2}) == 2
    assert evaluate("x and y", {"x": 0, "y": 1}) == 0  # short-circuits as Python does


@pytest.mark.parametrize("text", ["__import__('os')", "x.y", "[1, 2]", "lambda: 1", "open('f')", "2 ** 3",
                                  "c / 0", "unknown"])
def test_nothing_outside_the_expressions_is_evaluated(text):
    with pytest.raises(EvalError):
        evaluate(text, {"c": 1, "x": 1})


def test_conjuncts_and_names():
    assert conjuncts("e != in_channels and not hs") == ["e != in_channels", "not hs"]
    assert conjuncts("a or b") == ["a or b"]
    assert names_in("make_divisible(c * WIDTH, 8) + math.ceil(k)") == {"c", "WIDTH", "k"}


def test_long_statements_split_as_ruff_format_does():
    code = "super().__init__(nn.Conv2d(in_channels, out, kernel_size=1, bias=False), nn.BatchNorm2d(out), nn.ReLU())"
    assert split_call(code) == ("super().__init__(", ["nn.Conv2d(in_channels, out, kernel_size=1, bias=False)",
                                                      "nn.BatchNorm2d(out)", "nn.ReLU()"], ")")
    assert format_line(code, 8) == [
        "        super().__init__(",
        "            nn.Conv2d(in_channels, out, kernel_size=1, bias=False),",
        "            nn.BatchNorm2d(out),",
        "            nn.ReLU(),",
        "        )",
    ]
    long = "*[Bottleneck(1024, planes=256, stride=1, width=256, groups=1, other=2) for _ in range(5)],"
    assert format_line(long, 12) == [
        "            *[",
        "                Bottleneck(1024, planes=256, stride=1, width=256, groups=1, other=2)",
        "                for _ in range(5)",
        "            ],",
    ]
