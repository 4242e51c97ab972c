"""`--help` of every command: flags are not shown as taking a value, choices are never cut mid-word."""
from __future__ import annotations

import re

import pytest
import typer
import typer.rich_utils
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
COMMAND = typer.main.get_command(app)
NAMES = sorted(COMMAND.commands)  # type: ignore[attr-defined]


def help_text(monkeypatch, width: int, *arguments: str) -> str:
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", width)
    result = runner.invoke(app, [*arguments, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_checked():
    assert {"table", "explain", "grade", "verify", "export", "profile", "specs", "ops"} <= set(NAMES)


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("name", NAMES)
def test_flags_take_no_value_and_choices_stay_whole(monkeypatch, name, width):
    text = help_text(monkeypatch, width, name)
    assert "<bool>" not in text and "<boolean>" not in text
    command = COMMAND.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and descriptor.is_choice:
            for choice in descriptor.choices:
                assert re.search(rf"(?<![\w-]){re.escape(str(choice))}(?![\w-])", text), \
                    f"{name} {param.name}: choice {choice!r} is cut in:\n{text}"


def test_strict_is_shown_as_a_flag(monkeypatch):
    text = help_text(monkeypatch, 100, "table")
    line = next(line for line in text.splitlines() if "--strict" in line)
    assert re.search(r"--strict\s+Treat warnings", line), line


def test_profile_dtype_choices_are_whole_at_80_columns(monkeypatch):
    text = help_text(monkeypatch, 80, "profile")
    assert "bfloat16" in text and "bfloat1 " not in text


def test_main_help(monkeypatch):
    text = help_text(monkeypatch, 80)
    assert "<bool>" not in text and "table" in text


def test_command_list_shows_each_commands_first_clause(monkeypatch):
    # typer's rich mode kept every docstring line break of the whole first paragraph: ragged lines,
    # 62 lines of commands at 80 columns. Each is listed by its first clause; its --help has the rest.
    text = help_text(monkeypatch, 80)
    assert re.search(r"│ table +Print the lecture table of a network +│", text), text
    assert re.search(r"│ check +Check a spec against limits +│", text), text
    listed = text[text.index("Commands"):]
    assert len(listed.splitlines()) < 2 + 2 * len(NAMES), listed  # at most two lines per command
    for name in NAMES:
        summary = COMMAND.commands[name].short_help  # type: ignore[attr-defined]
        assert summary and "\n" not in summary, name


@pytest.mark.parametrize(("text", "clause"), [
    ("Check a spec against limits: the budget. More.", "Check a spec against limits"),
    ("List specs (e.g. 'cnncalc table alexnet'). More.", "List specs (e.g. 'cnncalc table alexnet')"),
    ("Print the schema (docs/spec.md: editors): more", "Print the schema (docs/spec.md: editors)"),
    ("Use nn.Module and torch.fx", "Use nn.Module and torch.fx"),
])
def test_first_clause(text, clause):
    from cnncalc.cli.app import first_clause

    assert first_clause(text) == clause


@pytest.mark.parametrize("name", NAMES)
def test_repeatable_options_show_their_items_type(monkeypatch, name):
    # typer 0.29 showed `--layer <list[str]>` and `answers... <list[Path]>`
    text = help_text(monkeypatch, 120, name)
    assert "<list[" not in text, text


def test_repeatable_option_types_read_as_their_items(monkeypatch):
    assert re.search(r"--layer\s+-l\s+<str>\s+Explain only this layer", help_text(monkeypatch, 120, "explain"))
    assert re.search(r"answers\.\.\.\s+<path>\s+Answer sheets", help_text(monkeypatch, 120, "grade"))


@pytest.mark.parametrize("name", NAMES)
def test_bounded_numbers_show_a_short_type_and_range(monkeypatch, name):
    # typer showed `--batch <int range> [1<=x<=9223372036854775807]`, the 19 digits folded over two lines
    text = help_text(monkeypatch, 120, name)
    assert "range>" not in text and "9223372036854775807" not in text, text


def test_batch_shows_its_lower_bound(monkeypatch):
    assert re.search(r"--batch\s+-b\s+<int> \[x>=1\]", help_text(monkeypatch, 120, "table"))
