"""The lecture table fits the terminal without cutting a number; piped, it prints full rows."""
from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

import cnncalc.render.console as console_module
from cnncalc.api import analyze
from cnncalc.cli import app
from cnncalc.render.grid import Column, Grid
from cnncalc.render.lecture import LECTURE, lecture_renderables, row_cells

from .conftest import needs_sympy

runner = CliRunner()


def on_terminal(monkeypatch, width: int, *arguments: str) -> str:
    """What `cnncalc ARGUMENTS` shows on a terminal `width` columns wide (colour off)."""
    buffer = io.StringIO()

    def terminal(**options) -> Console:
        options = {key: value for key, value in options.items() if key != "width"}
        return Console(file=buffer, width=width, force_terminal=True, color_system=None, highlight=False,
                       emoji=False, markup=False, **options)

    monkeypatch.setattr(console_module, "_console", terminal)
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return buffer.getvalue()


def number_cells_intact(text: str, spec: str) -> None:
    """Each row's numbers (C_in to MACs) stand whole, in order, at the end of one line; a
    concatenation's C_in (64+128+32+32) may wrap after a '+', so it is left out."""
    lines = [line.split() for line in text.splitlines()]
    for row in analyze(spec).rows:
        cells = row_cells(row)
        numbers = [cell for cell in cells[2 if "+" in cells[1] else 1:] if cell]
        assert any(tokens[-len(numbers):] == numbers for tokens in lines if len(tokens) >= len(numbers)), \
            f"{row.name}: {numbers} not whole in:\n{text}"


@pytest.mark.parametrize("spec", ["vgg16", "resnet50", "googlenet", "inception_v3", "densenet121"])
def test_fits_80_columns_without_cutting_a_number(monkeypatch, spec):
    text = on_terminal(monkeypatch, 80, "table", spec)
    assert max(len(line) for line in text.splitlines()) <= 80
    number_cells_intact(text, spec)


def test_vgg16_fits_80_columns_with_every_column(monkeypatch):
    text = on_terminal(monkeypatch, 80, "table", "vgg16")
    assert "note:" not in text
    assert re.search(r"^Layer +C_in H/W Filters +K S P C_out H'/W' +\(KB\) +\(k\) +\(M\)$", text, re.M)
    assert "block1.conv.0     3 224      64" in text  # one space between columns: 80 wide, not 91


def test_resnet50_hides_the_from_column_with_a_note(monkeypatch):
    text = on_terminal(monkeypatch, 80, "table", "resnet50")
    assert "From" not in text.splitlines()[3]
    assert "note: column From hidden to fit 80 columns" in " ".join(text.split())
    wide = on_terminal(monkeypatch, 140, "table", "resnet50")
    assert "From" in wide and "note:" not in wide


def test_a_wide_terminal_gets_the_piped_layout(monkeypatch):
    piped = runner.invoke(app, ["table", "alexnet"]).stdout
    assert on_terminal(monkeypatch, 200, "table", "alexnet") == piped


def test_piped_rows_are_full(monkeypatch):
    piped = runner.invoke(app, ["table", "resnet50"]).stdout
    assert max(len(line) for line in piped.splitlines()) == 115  # the natural width, From included
    assert "note:" not in piped


def test_names_wrap_only_when_needed_and_at_dots():
    grid = Grid("t", [Column("Layer", left=True, wrap=True), Column("MACs")],
                [["stage1.block2.conv3", "1,234,567"], ["fc", "8"]])
    natural = grid.plain_lines()
    assert natural[4] == " stage1.block2.conv3  1,234,567"
    assert [text for text, _ in grid.lines(31)] == natural  # 31 wide: it fits as it is
    fitted = [text for text, _ in grid.lines(24)]
    assert fitted[4:7] == ["stage1.block2. 1,234,567", "conv3", "fc                     8"]
    assert max(len(line) for line in fitted) <= 24


def test_the_narrowest_layout_when_nothing_fits():
    grid = Grid("t", [Column("N", left=True, wrap=True), Column("Params"), Column("MACs")],
                [["abcdef.ghijkl", "123,456,789", "987,654,321"]])
    lines = [text for text, _ in grid.lines(10)]
    assert lines[4:6] == ["abcdef. 123,456,789 987,654,321", "ghijkl"]  # numbers whole: longer than 10


@needs_sympy
def test_symbolic_keeps_the_layer_column(monkeypatch):
    text = on_terminal(monkeypatch, 80, "table", "lenet5", "--symbolic")
    assert text.count("Layer") == 2  # the shapes and the formulas
    for name in ("c1", "s2", "c3", "s4", "c5", "flatten", "f6", "output"):
        assert re.search(rf"^{name}\b", text, re.M), name


@needs_sympy
def test_symbolic_lenet_piped_is_readable():
    text = runner.invoke(app, ["table", "lenet5", "--symbolic"]).stdout
    table, _, summary = text.partition("\ninput C×H×W")
    assert max(len(line) for line in table.splitlines()) < 200  # 2,380 characters before
    assert "floor(floor(" not in text and "(H - 4)×(W - 4)" in text
    # c5: 120 filters of 16x5x5 on (floor(H/4) - 3) x (floor(W/4) - 3): 48,000 MACs per position
    assert re.search(r"^ c5 +480\*\(floor\(H/4\) - 7\)\*\(floor\(W/4\) - 7\) +48,120 +"
                     r"48000\*\(floor\(H/4\) - 7\)\*\(floor\(W/4\) - 7\)$", table, re.M)


def test_rendering_keeps_every_number(monkeypatch):
    # every lecture cell of every row of the piped table is printed (no cell dropped or rounded)
    report = analyze("googlenet")
    piped = runner.invoke(app, ["table", "googlenet"]).stdout
    for row in report.rows:
        assert row.name in piped
    assert len(lecture_renderables(report)) == 6  # the table and five summary lines (one: what aux1 and aux2 add)
    assert LECTURE[0] == "layer"
