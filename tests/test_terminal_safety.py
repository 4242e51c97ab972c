"""Nothing from a spec, a sheet, an option or a file name reaches the terminal raw: no escape
sequences, NUL, bidi overrides or zero-width spaces (core/text.py); echoed values are cut; JSON
keeps exact strings (escaped); CSV and YAML sheets cannot be injected into."""
from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.core.errors import InputError, Location, Note
from cnncalc.core.text import file_name, printable, printable_lines, printable_message, shown

from .conftest import needs_sympy

runner = CliRunner()

HOSTILE = "net\x1b[2J\x1b[31mPWN\u202e\u200b\x00\x07\udcff"
HOSTILE_YAML = "net\\e[2J\\e[31mPWN\\u202e\\u200b\\0\\a"  # the same in a YAML double-quoted string (less the surrogate)


def assert_printable(text: str) -> None:
    bad = sorted({ch for ch in text if not ch.isprintable() and ch != "\n"})
    assert not bad, f"raw characters {bad!r} in:\n{text[:500]}"


def spec_named(tmp_path, name: str = HOSTILE_YAML):
    path = tmp_path / "net.yaml"
    path.write_text(f'name: "{name}"\ninput: [3, 8, 8]\nlayers:\n  - {{op: conv, name: c1, out: 4, kernel: 3}}\n'
                    "  - {op: relu, name: r1}\n")
    return str(path)


def test_printable_replaces_control_and_format_characters():
    assert printable(HOSTILE) == "net\ufffd[2J\ufffd[31mPWN" + "\ufffd" * 5
    assert printable("a\tb\u00a0c") == "a b c"
    assert printable("é日本😀") == "é日本😀"  # letters of every script stay
    assert printable("x" * 10, 4) == "xxxx\u2026"
    assert printable_lines("one\ntwo\x1b") == "one\ntwo\ufffd"
    assert printable_message("one\nerror: forged") == "one\ufffderror: forged"


def test_long_messages_keep_their_beginning_and_end():
    message = "got '" + "a" * 30_000_000 + "' in field 'out'"
    text = printable_message(message)
    assert len(text) < 2_100 and text.startswith("got 'aaa") and text.endswith("' in field 'out'")
    assert "30,000,000" not in text and "characters cut" in text
    assert shown("a" * 100) == repr("a" * 60) + "\u2026 (100 characters)"
    assert shown("widht") == "'widht'"
    assert len(file_name("d/" * 200 + "f.csv")) == 200 and file_name("d/" * 200 + "f.csv").endswith("f.csv")


def test_error_and_warning_rendering_is_safe():
    error = InputError("bad \x1b[2J value", loc=Location("f\x1b.yaml", 3, 4), layer="l\u202e", field="k\x00",
                       hint="try \x1b[31m")
    text = error.render()
    assert_printable(text)
    assert text == ("f\ufffd.yaml:3:4: error: layer 'l\ufffd', field 'k\ufffd': bad \ufffd[2J value\n"
                    "  hint: try \ufffd[31m")
    assert_printable(Note("l\x1b", "stride \x1b does not fit", Location("f\u200b", 1, 2)).render())


COMMANDS = [["table"], ["table", "-f", "markdown"], ["table", "-f", "csv"], pytest.param(["table", "--symbolic"], marks=needs_sympy), ["explain"],
            ["explain", "-f", "markdown"], ["grade", "--key"], ["grade", "--template", "-f", "yaml"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_hostile_spec_name_is_refused_and_echoed_safely(tmp_path, command):
    result = runner.invoke(app, [*command, spec_named(tmp_path)])
    assert result.exit_code == 2 and "'name' must be one line of printable text" in result.stderr
    assert_printable(result.stdout)
    assert_printable(result.stderr)


def hostile_report(name: str = HOSTILE):
    """A Report whose name the loader would refuse: the renderers must stand on their own."""
    from dataclasses import replace

    import cnncalc

    report = cnncalc.analyze("input: [3, 8, 8]\nlayers:\n  - {op: conv, name: c1, out: 4, kernel: 3}\n"
                             "  - {op: relu, name: r1}\n")
    return replace(report, name=name, description=name)


def test_the_renderers_print_a_hostile_name_safely():
    from cnncalc.render.console import plain_text
    from cnncalc.render.grade import answer_sheet_csv, answer_sheet_yaml
    from cnncalc.render.lecture import lecture_markdown, lecture_summary_lines, lecture_table
    from cnncalc.render.machine import to_csv

    report = hostile_report()
    for text in (plain_text(lecture_table(report), *lecture_summary_lines(report)), lecture_markdown(report),
                 to_csv(report), answer_sheet_csv(report, key=True), answer_sheet_yaml(report)):
        assert_printable(text)


def test_json_keeps_the_exact_name_escaped():
    from cnncalc.render.machine import to_json

    text = to_json(hostile_report())
    assert_printable(text)
    assert "\\u202e" in text and "\\u001b" in text
    assert json.loads(text)["name"] == HOSTILE


def test_a_newline_in_the_name_cannot_inject_yaml_into_an_answer_key():
    from cnncalc.render.grade import answer_sheet_yaml

    key = yaml.safe_load(answer_sheet_yaml(hostile_report("net\nconv1: {c_out: 999}\n#"), key=True))
    assert list(key) == ["c1", "r1", "total"] and key["c1"]["c_out"] == 4


def test_emoji_codes_and_markup_are_printed_as_written(tmp_path):
    path = spec_named(tmp_path, ":fire: [bold]x[/bold]")
    result = runner.invoke(app, ["table", path])
    assert result.stdout.startswith(":fire: [bold]x[/bold]\n")


@pytest.mark.parametrize("arguments, fragment", [
    (["table", "no\x1b[2Jsuch.yaml"], "no\ufffd[2Jsuch.yaml: error: no such file"),
    (["table", "alexnet", "--set", "a\x1b[2J=3"], "the spec has no variable"),
    (["table", "alexnet", "--dtype", "f\x1b[2J"], "unknown dtype 'f\\x1b[2J'"),
    (["table", "alexnet", "--columns", "+r\u202ef"], "unknown column 'r\ufffdf'"),
    (["explain", "alexnet", "--layer", "c\x1b[2J"], "no layer or block named 'c\ufffd[2J'"),
    (["table", "alexnet", "--input", "3,\u202e8,8"], "--input must be C,H,W"),
    (["table", "alexnet", "--a\u202eb"], "No such option: --a\ufffdb"),  # click's own usage errors
    (["table", "alexnet", "extra\u200b"], "Got unexpected extra argument"),
    (["t\u202eable"], "No such command"),
])
def test_hostile_options_are_echoed_safely(arguments, fragment):
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert fragment in result.output
    assert_printable(result.output)


def test_a_huge_value_is_echoed_cut(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: [3, 8, 8]\nlayers:\n  - {op: conv, name: c1, out: " + "w" * 1_000_000 + ", kernel: 3}\n")
    result = runner.invoke(app, ["table", str(path)])
    assert result.exit_code == 2
    assert "field 'out'" in result.stderr and len(result.stderr) < 3_000


def test_a_huge_option_value_is_echoed_cut():
    result = runner.invoke(app, ["table", "alexnet", "--dtype", "x" * 100_000])
    assert result.exit_code == 2 and len(result.output) < 3_000


def test_grade_csv_escapes_a_formula_in_the_file_column(tmp_path, monkeypatch):
    # A sheet named like a spreadsheet formula: every cell of the CSV, the file column too, gets
    # a leading apostrophe (render/csvout.py), so a spreadsheet shows the text and runs nothing.
    monkeypatch.chdir(tmp_path)
    name = "=cmd|' calc'!A0.csv"
    (tmp_path / name).write_text("Layer,C_out\nconv1,96\n")
    result = runner.invoke(app, ["grade", "alexnet", name, "-f", "csv"])
    assert result.exit_code == 1, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:6] == ["file", "layer", "column", "given", "expected", "verdict"]
    assert {row[0] for row in rows[1:]} == {"'=cmd|' calc'!A0.csv"}


def test_grade_output_with_a_hostile_file_name_is_safe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "a\x1b[2Jb\u202e.csv"
    (tmp_path / name).write_text("Layer,C_out,H'/W'\nconv1,96,5\x1b[31m5\n")
    for fmt in ("table", "csv", "json"):
        result = runner.invoke(app, ["grade", "alexnet", name, "-f", fmt])
        assert result.exit_code == 1, result.output
        assert_printable(result.stdout)
        assert_printable(result.stderr)
