"""Hostile option values and output paths found by tools/hostile_fuzz.py, one case each: exit code 2,
a message that names the option or the file, no traceback, no raw control character."""
from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
SHEET = str(ROOT / "tests" / "data" / "sheets" / "alexnet" / "bob.csv")


def _raw_controls(text: str) -> list[str]:
    return sorted({f"U+{ord(ch):04X}" for ch in text
                   if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")})


# (id, arguments ({tmp}: a fresh folder), fragments of the message)
CASES = [
    ("points-inf", ["grade", "alexnet", SHEET, "--points", "inf"], ["--points must be a finite number, got inf"]),
    ("points-1e400", ["grade", "alexnet", SHEET, "--points", "1e400"], ["--points must be a finite number"]),
    ("carry-credit-nan", ["grade", "alexnet", SHEET, "--carry-forward-credit", "nan"],
     ["--carry-forward-credit"]),
    ("sheet-name-too-long", ["grade", "alexnet", "--", "x" * 5000 + ".csv"],
     ["xxx.csv: error: cannot read file: File name too long"]),
    ("output-nul", ["table", "alexnet", "-o", "{tmp}/a\x00b.txt"], ["embedded null byte"]),
    ("gradebook-nul", ["grade", "alexnet", SHEET, "--gradebook", "{tmp}/a\x00b.csv"],
     ["b.csv: error: a file name cannot hold a NUL character"]),
    ("feedback-nul", ["grade", "alexnet", SHEET, "--feedback", "{tmp}/a\x00b"],
     ["b: error: cannot make the feedback folder: embedded null byte"]),
    ("plot-folder", ["plot", "alexnet", "-o", "{tmp}"], ["{tmp}: error: cannot tell the image format"]),
    ("plot-escape", ["plot", "alexnet", "-o", "{tmp}/\x1b[2Jx.gif"], ["x.gif: error: cannot tell the image format"]),
    ("import-name-digit", ["import", str(ROOT / "docs/examples/ultralytics_tiny.yaml"), "--name", "1.5"],
     ["error: --name: a spec name uses letters, digits, '_' and '-', got '1.5'"]),
    ("import-name-escape", ["import", str(ROOT / "docs/examples/ultralytics_tiny.yaml"), "--name", "\x1b[31m"],
     ["error: --name: 'name' must be one line of printable text, but character 1 is U+001B"]),
    ("export-to-folder", ["export", "lenet5", "--to", "pytorch", "-o", "{tmp}"], ["{tmp}: error: is a directory"]),
    # Fraction('1e-99999999') computes 10**99999999 first: these ran for minutes
    ("weight-exponent", ["grade", "alexnet", SHEET, "--weight", "memory_kb=1e-99999999"],
     ["--weight expects COLUMN=W with W a number, got 'memory_kb=1e-99999999'"]),
    ("sweep-step-exponent", ["sweep", "alexnet", "--set", "width=1:2:1e-99999999"],
     ["error: --set width=1:2:1e-99999999: the exponent of '1e-99999999' is beyond 60"]),
    ("sweep-stop-exponent", ["sweep", "alexnet", "--set", "width=1:1e99999999:1"], ["is beyond 60"]),
    # 10**60 values: counted, not printed digit by digit
    ("sweep-range-count", ["sweep", "alexnet", "--set", "width=1:2:1e-60"],
     ["--set width=1:2:1e-60: 1e+60 values, more than the limit of 100,000"]),
    # a batch is a tensor dimension: at most 2**63 - 1 (a 4,000-digit batch printed 4,000-digit figures)
    *[(f"batch-{command}", [command, "alexnet", "--batch", str(2**63)], ["Invalid value for '--batch'"])
      for command in ("table", "memory", "check", "compare", "report", "profile")],
]


@pytest.mark.parametrize("args,fragments", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_option(tmp_path, args, fragments):
    if args[0] == "export" and importlib.util.find_spec("torch") is None:
        pytest.skip("export says first that it needs PyTorch")
    result = runner.invoke(app, [arg.replace("{tmp}", str(tmp_path)) for arg in args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert _raw_controls(result.output) == []
    for fragment in fragments:
        assert fragment.replace("{tmp}", str(tmp_path)) in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("row,message", [
    # Fraction('1e-99999999') computes 10**99999999 first: this assignment ran for minutes
    ("points,1e-99999999", "t.csv:16:2: error: points must be a number (exponents from -60 to 60), got '1e-99999999'"),
    ("points,1e400", "points must be a number (exponents from -60 to 60), got '1e400'"),
    ("points," + "9" * 200, "points must be a number"),
    ("weight,,,,,,,1,1,1e-99999999,1,1", "t.csv:2:10: error: the weight of memory_kb must be a number"),
])
def test_hostile_assignment(tmp_path, row, message):
    template = runner.invoke(app, ["grade", "--template", "alexnet", "--weight", "memory_kb=2", "--points", "20"])
    lines = template.stdout.splitlines()
    key = row.split(",")[0]
    text = "\n".join(row if line.startswith(key + ",") else line for line in lines) + "\n"
    (tmp_path / "t.csv").write_text(text)
    result = runner.invoke(app, ["grade", "alexnet", "--assignment", str(tmp_path / "t.csv"), SHEET])
    assert result.exit_code == 2, result.output
    assert message in result.stderr.replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_import_refuses_a_number_that_is_not_finite(tmp_path, value):
    # .nan was written into the spec as the word 'nan', which only `cnncalc table` then refused
    text = (ROOT / "docs" / "examples" / "ultralytics_tiny.yaml").read_text(encoding="utf-8")
    source = tmp_path / "model.yaml"
    source.write_text(text.replace("  - [-1, 3, C2f, [128, True]]", f"  - [-1, 3, C2f, [{value}, True]]"))
    result = runner.invoke(app, ["import", str(source)])
    assert result.exit_code == 2, result.output
    assert f"{source}:10:5: error: row 2: C2f's argument 'c2' must be a number or a boolean, got " in result.stderr


@pytest.mark.parametrize("value", [",,,", "layer1,", "a,,b", " "])
def test_a_checkpoint_list_with_an_empty_name_is_refused(value):
    result = runner.invoke(app, ["memory", "resnet18", "--checkpoint", value])
    assert result.exit_code == 2, result.output
    assert "--checkpoint names a block instance, a repeat or a layer;" in result.stderr
    assert "holds an empty name" in result.stderr


def test_import_refuses_several_inputs_to_a_module_that_reads_one(tmp_path):
    # parse_model indexes ch[f] with the row's from: a list there fails in Ultralytics; the import wrote a
    # spec that only `cnncalc table` then refused, located in the generated spec instead of the YAML
    text = (ROOT / "docs" / "examples" / "ultralytics_tiny.yaml").read_text(encoding="utf-8")
    source = tmp_path / "model.yaml"
    source.write_text(text.replace("  - [-1, 3, C2f, [128, True]]", "  - [[-1, 0], 3, C2f, [128, True]]"))
    result = runner.invoke(app, ["import", str(source)])
    assert result.exit_code == 2, result.output
    assert f"{source}:10:6: error: row 2: C2f reads one input, but its from lists 2" in result.stderr
    assert "hint: only Concat and Detect read several" in result.stderr


@pytest.mark.parametrize("key", ["true", "1", "null", "1.5"])
def test_a_variable_named_by_a_yaml_boolean_or_number_is_refused(tmp_path, key):
    # `true:` under vars: became a variable named True, and the did-you-mean of a later unknown variable
    # crashed sorting the names (TypeError: '<' not supported between 'bool' and 'str'); hostile_fuzz.py
    text = (ROOT / "specs" / "resnext50_32x4d.yaml").read_text(encoding="utf-8")
    spec = tmp_path / "s.yaml"
    spec.write_text(text.replace("  groups: {default: 32, min: 1}", f"  {key}: {{default: 32, min: 1}}"))
    result = runner.invoke(app, ["table", str(spec)])
    assert result.exit_code == 2, result.output
    assert f"{spec}:12:3: error: field 'name': a variable name must start with a letter" in result.stderr
    assert "hint: variables here: in_channels" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["table"], ["memory"], ["check", "--max-params", "1M"], ["sweep"]])
def test_an_empty_spec_argument_is_named(command):
    # it said '.: error: is a directory' (the empty path is the working folder), then, unlocated, "an empty spec"
    result = runner.invoke(app, [command[0], "", *command[1:]])
    assert result.exit_code == 2
    assert "'': error: an empty spec: give a file path, a bundled spec's name or YAML text" in result.stderr
