"""Numbers of any size print: exact while Python can print them (4,300 digits), approximate and
marked beyond; no float overflow, no traceback."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.core.numbers import decimal_text, grouped, human, human_bytes, integer_text, scaled, scientific

runner = CliRunner()


def test_scientific_is_computed_with_integers():
    assert scientific(123456789) == "1.23456e+8"  # digits truncated, not rounded
    assert scientific(10**5000) == "1e+5000"
    assert scientific(-(7 * 10**4400 + 3)) == "-7e+4400"
    assert scientific(999_999) == "9.99999e+5"
    assert scientific(10**22 - 1, 3) == "9.99e+21"  # log10 rounds to 22.0: corrected by the check


def test_integers_print_exactly_up_to_pythons_limit():
    assert integer_text(10**4299) == "1" + "0" * 4299  # 4,300 digits: exact
    assert integer_text(10**4300) == "\u22481e+4300"  # 4,301 digits: approximate, marked
    assert grouped(1234567) == "1,234,567"
    assert grouped(3 * 10**5000) == "\u22483e+5000"
    assert decimal_text(Fraction(10**5000, 1024)).startswith("\u2248")


def test_human_sizes_do_not_overflow():
    assert human(1_135_906_176) == "1.14 G"
    assert human(10**400) == "1e+400"
    assert human_bytes(1_161_600) == "1.11 MiB"
    assert human_bytes(3 * 1024**4) == "3 TiB"
    assert human_bytes(10**400) == "\u22489.09494e+387 TiB"  # 10^400 / 2^40 = 9.09494...e387
    assert scaled(10**400, 10**6) == grouped(10**394)  # exact: 395 digits are within the limit
    assert scaled(10**4400, 10**6) == "\u22481e+4394"


def big_spec(tmp_path, size: int) -> str:
    path = tmp_path / "big.yaml"
    path.write_text(f"input: [3, {size}, {size}]\nlayers:\n  - {{op: conv, out: 8, kernel: 3}}\n"
                    "  - {op: global_avgpool}\n")
    return str(path)


COMMANDS = [["table"], ["table", "-f", "json"], ["table", "-f", "csv"], ["table", "-f", "markdown"],
            ["table", "-c", "+rf,jump,rf_start,macs"], ["explain"], ["explain", "-f", "json"], ["grade", "--key"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_the_largest_sizes_print(tmp_path, command):
    # 3 x 2^30 x 2^30 = 3 x 2^60 elements: just under PyTorch's limit of 2^63 - 1
    result = runner.invoke(app, [*command, big_spec(tmp_path, 2**30)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    if "json" in command:
        json.loads(result.stdout)


@pytest.mark.parametrize("command", COMMANDS)
def test_sizes_beyond_pytorchs_limit_are_refused(tmp_path, command):
    result = runner.invoke(app, [*command, big_spec(tmp_path, 10**200)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "PyTorch's limit" in result.stderr


def test_large_totals_in_json_are_exact(tmp_path):
    data = json.loads(runner.invoke(app, ["table", big_spec(tmp_path, 2**30), "-f", "json"]).stdout)
    # conv 3 -> 8, 3x3: 8 x (2^30 - 2)^2 outputs x 27 multiply-adds each
    assert data["layers"][0]["macs"] == 8 * (2**30 - 2) ** 2 * 27


def test_an_infinite_tolerance_is_refused(tmp_path):
    key = tmp_path / "key.csv"
    key.write_text(runner.invoke(app, ["grade", "--key", "alexnet"]).stdout)
    for value in ("inf", "nan", "1e999"):
        result = runner.invoke(app, ["grade", "alexnet", str(key), "--rtol", value])
        assert result.exit_code == 2, value
        assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["\u00b2,8,8", "3,\u0663,8", "9" * 5000 + ",8,8", "3,8"])
def test_input_option_takes_ascii_digits_only(value):
    result = runner.invoke(app, ["table", "lenet5", "--input", value])
    assert result.exit_code == 2
    assert "--input must be C,H,W" in result.stderr  # 3,8: of lenet5's rank (tests/test_input_option.py)
    assert len(result.stderr) < 500
