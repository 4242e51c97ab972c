"""Grading each output of a multi-output block at `--depth`: the sheet names them as the table shows
them (`→ fuse.1` under the row `stage3`) or in full (`stage3.fuse.1`), and each is graded (C_out and
H'/W'); the block's own row keeps its memory, parameters and multiply-adds."""
from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
HRNET = ["hrnet_w18_small", "--depth", "1"]  # stage2/3/4: HRNet's modules, one output per branch


def _key(tmp_path, fmt: str = "csv"):
    result = runner.invoke(app, ["grade", "--key", *HRNET, "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


def _graded(tmp_path, text: str, suffix: str = ".csv") -> dict:
    sheet = tmp_path / f"student{suffix}"
    sheet.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["grade", *HRNET, str(sheet), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["files"][0]


def _cells(result: dict) -> dict[tuple[str, str], dict]:
    return {(cell["layer"], cell["column"]): cell for cell in result["cells"]}


def test_the_key_has_a_line_per_output_as_the_table_shows_it(tmp_path):
    rows = list(csv.reader(io.StringIO(_key(tmp_path))))
    names = [row[0] for row in rows]
    at = names.index("stage3")
    assert names[at + 1:at + 4] == ["\u2192 fuse.0", "\u2192 fuse.1", "\u2192 fuse.2"]
    header = rows[0]
    c_out, hw = header.index("C_out"), header.index("H'/W'")
    # stage3's branches: 16 channels at 56x56, 32 at 28x28, 64 at 14x14 (the table's → lines)
    assert [(rows[at + k][c_out], rows[at + k][hw]) for k in (1, 2, 3)] == [("16", "56"), ("32", "28"), ("64", "14")]
    assert (rows[at][c_out], rows[at][hw]) == ("", "")  # blank on the block's row, as in the table


def test_the_key_grades_all_right_and_each_output_is_graded(tmp_path):
    result = _graded(tmp_path, _key(tmp_path))
    cells = _cells(result)
    assert all(cell["verdict"] == "right" for cell in result["cells"])
    assert {("stage3.fuse.2", "c_out"), ("stage3.fuse.2", "hw_out"), ("stage4.fuse.3", "c_out")} <= set(cells)
    assert ("stage3", "c_out") not in cells  # nothing due there: the outputs are on their own lines


def test_a_wrong_output_is_wrong_and_the_others_stay_right(tmp_path):
    key = _key(tmp_path).replace("\u2192 fuse.1,,,,,,,,32,28,", "\u2192 fuse.1,,,,,,,,32,14,", 1)  # stage2's
    cells = _cells(_graded(tmp_path, key))
    assert cells[("stage2.fuse.1", "hw_out")]["verdict"] == "wrong"
    assert cells[("stage2.fuse.1", "hw_out")]["expected"] == "28"
    assert cells[("stage2.fuse.1", "c_out")]["verdict"] == "right"
    assert cells[("stage3.fuse.1", "hw_out")]["verdict"] == "right"  # the same label under stage3


def test_outputs_named_in_full_and_a_value_on_the_block_row(tmp_path):
    """`stage3.fuse.2` names the output as well as `→ fuse.2` does; a C_out written on the block's own
    row is graded against the output its name stands for (its first, fuse.0: 16)."""
    text = ("Layer,C_out,H'/W'\nstage3,16,56\nstage3.fuse.2,64,7\n")
    cells = _cells(_graded(tmp_path, text))
    assert cells[("stage3", "c_out")]["verdict"] == "right"
    assert cells[("stage3.fuse.2", "c_out")]["verdict"] == "right"
    assert cells[("stage3.fuse.2", "hw_out")]["verdict"] == "wrong"  # 14, not 7
    assert cells[("stage3.fuse.0", "c_out")]["verdict"] == "missing"


def test_the_yaml_key_names_outputs_in_full_and_grades_all_right(tmp_path):
    text = _key(tmp_path, "yaml")
    assert "stage3.fuse.1: {c_out: 32, hw_out: 28}" in text
    result = _graded(tmp_path, text, ".yaml")
    assert result["cells"] and all(cell["verdict"] == "right" for cell in result["cells"])


def test_an_output_the_block_does_not_have_is_a_located_problem(tmp_path):
    key = _key(tmp_path).replace("\u2192 fuse.2", "\u2192 fuse.9", 1)
    result = _graded(tmp_path, key)
    assert any("fuse.9" in problem["message"] for problem in result["problems"])
    assert any(problem["line"] for problem in result["problems"] if "fuse.9" in problem["message"])
