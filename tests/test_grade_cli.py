"""`cnncalc grade` on the command line: the slide transcriptions, exit codes, formats, several
sheets at once, templates and keys, and files that are not answer sheets."""
from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

from .conftest import ROOT

runner = CliRunner()
DATA = ROOT / "tests" / "data"


def grade(*args: str, code: int | None = None):
    result = runner.invoke(app, ["grade", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if code is not None:
        assert result.exit_code == code, result.stdout + result.stderr
    return result


def not_right(result) -> set[tuple[str, str, str, str]]:
    data = json.loads(result.stdout)
    return {(cell["layer"], cell["column"], cell["given"], cell["expected"])
            for file in data["files"] for cell in file["cells"] if cell["verdict"] != "right"}


# --- the lecture's own tables --------------------------------------------------------------------


def test_the_slides_alexnet_table_has_one_slip():
    result = grade("alexnet", str(DATA / "slide_alexnet.csv"), "-f", "json", code=1)
    # fc8: 4096 * 1000 + 1000 = 4,097,000 params = 4,097 k; the slide prints 4,096.
    # Its pool rows print MACs as 0 for 0.63, 0.39 and 0.08 M: truncated, so right under the rule.
    # conv1's pad 2 is a slip too, but P is part of the question, not a graded column.
    # The transcription has no total row: its three cells are missing.
    assert not_right(result) == {("fc8", "params_k", "4,096", "4097"), ("total", "memory_kb", None, "3089.65625"),
                                 ("total", "params_k", None, "62378.344"), ("total", "macs_m", None, "1136.358272")}
    cells = {(c["layer"], c["column"]): c for c in json.loads(result.stdout)["files"][0]["cells"]}
    assert [cells[pool, "macs_m"]["verdict"] for pool in ("pool1", "pool2", "pool5")] == ["right"] * 3
    assert [cells[pool, "macs_m"]["expected"] for pool in ("pool1", "pool2", "pool5")] == [
        "0.629856", "0.389376", "0.082944"]


def test_the_slides_googlenet_stem_table_has_one_slip():
    result = grade("googlenet_stem", str(DATA / "slide_googlenet_stem.csv"), "-f", "json", code=1)
    # the per-layer MACs sum to 480,836,608 = 480.8 M (118 + 2 + 13 + 347 + 1 = 481); the slide says 418.
    # Its 7.5 MB (7,827,456 bytes = 7.46 MB) and 124K (124,416 params) are right.
    assert not_right(result) == {("total", "macs_m", "418", "480.836608")}


def test_the_slide_tables_under_a_tolerance():
    # with rtol 5%, 4,096 for 4,097 is right (0.02% off). Truncation gives way to the tolerance: pool1's
    # 0 for 0.63 M is wrong (rounded it is 1, as the key writes it); pool2's 0 for 0.39 and pool5's for
    # 0.08 are those values rounded to whole millions, right as the key's own rounded values are
    result = grade("alexnet", str(DATA / "slide_alexnet.csv"), "-f", "json", "--rtol", "0.05", "--only-given", code=1)
    assert {(layer, column) for layer, column, _, _ in not_right(result)} == {("pool1", "macs_m")}
    # 0 for every layer without weights, one of them wrong: named as "pooling is free"
    assert [d["mistake"] for d in json.loads(result.stdout)["files"][0]["diagnoses"]] == ["free_pooling"]
    assert json.loads(result.stdout)["rtol"] == 0.05


# --- exit codes ----------------------------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "key.csv"
    grade("--key", "alexnet", "-o", str(path), code=0)
    return path


def test_all_right_exits_0(key_file):
    result = grade("alexnet", str(key_file), code=0)
    assert "key.csv: 59/59 (59 right)" in result.stdout  # 12 layers x 5 - 4 vectors' H'/W' + 3 totals
    assert result.stderr == ""


def test_anything_wrong_exits_1(tmp_path, key_file):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(key_file.read_text().replace("conv1,3,227,96,11,4,0,96,55", "conv1,3,227,96,11,4,0,96,56"))
    result = grade("alexnet", str(wrong), code=1)
    assert "\u2717 56" in result.stdout  # the grid marks the wrong cell
    assert result.stderr == f"error: not all right: {wrong} (58/59)\n"


def test_a_problem_row_alone_exits_1(tmp_path, key_file):
    extra = tmp_path / "extra.csv"
    extra.write_text(key_file.read_text() + "fc9,1,,,,,,10,,1,1,1\n")
    result = grade("alexnet", str(extra), code=1)
    assert "problem: " in result.stdout and "no layer 'fc9' in alexnet (did you mean 'fc8' or" in result.stdout
    assert "1 problem)" in result.stderr


def test_an_unreadable_sheet_exits_2_and_the_others_are_still_graded(tmp_path, key_file):
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\x00\x01\x02")
    result = grade("alexnet", str(key_file), str(broken), str(tmp_path / "absent.csv"), "-f", "json", code=2)
    data = json.loads(result.stdout)
    assert [f["file"] for f in data["files"]] == [str(key_file)]
    assert [e["file"] for e in data["errors"]] == [str(broken), str(tmp_path / "absent.csv")]
    assert f"{broken}: error: binary data" in result.stderr
    assert f"{tmp_path / 'absent.csv'}: error: no such file" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bad_spec_exits_2(key_file):
    result = grade("no_such_net", str(key_file), code=2)
    assert "no such file, and no bundled spec" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["alexnet"], "give one or more answer files"),
    (["--template", "--key", "alexnet"], "exclude each other"),
    (["--template", "alexnet", "x.csv"], "take no answer files"),
    (["--template", "alexnet", "-f", "json"], "csv or yaml, not json"),
    (["alexnet", "x.csv", "-f", "yaml"], "--format yaml is for --template"),
    (["alexnet", "x.csv", "--rtol", "-1"], "greater than or equal to 0"),
])
def test_bad_options_exit_2(args, message):
    result = grade(*args, code=2)
    assert message in result.stderr


@pytest.mark.parametrize("content, message", [
    (b"[" * 100_000, "nested more than"),
    (b"a: &x [1]\nb: *x\n", "aliases"),
    (b"conv1: {c_out: !!python/object/apply:os.system ['echo hacked']}\n", "unsupported YAML tag"),
    ("conv1: {}".encode("utf-16-le"), "binary data"),  # UTF-16 without its byte order mark
])
def test_hostile_yaml_sheets_exit_2_naming_the_file(tmp_path, content, message):
    path = tmp_path / "answers.yaml"
    path.write_bytes(content)
    result = grade("alexnet", str(path), code=2)
    assert str(path) in result.stderr and message in result.stderr
    assert "hacked" not in result.stdout + result.stderr


def test_a_huge_sheet_exits_2(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of nothing
    result = grade("alexnet", str(path), code=2)
    assert f"{path}: error: file is too large for an answer sheet" in result.stderr


# --- formats -------------------------------------------------------------------------------------


def test_json_contract():
    result = grade("googlenet_stem", str(DATA / "slide_googlenet_stem.csv"), "--format", "json", code=1)
    data = json.loads(result.stdout)
    assert set(data) >= {"files"}
    (file,) = data["files"]
    assert set(file) >= {"sheet", "student", "score", "max_score", "cells", "diagnoses", "file", "points"}
    assert (file["sheet"], file["student"], file["score"], file["max_score"]) == (
        str(DATA / "slide_googlenet_stem.csv"), "slide_googlenet_stem", 27, 28)
    for cell in file["cells"]:
        assert set(cell) == {"layer", "column", "given", "expected", "verdict", "header", "weight", "credit", "because"}
        assert cell["verdict"] in ("right", "consistent", "wrong", "missing", "unparseable")
        assert cell["column"] in ("c_out", "hw_out", "memory_kb", "params_k", "macs_m")
    assert file["cells"][-1] == {"layer": "total", "column": "macs_m", "given": "418", "expected": "480.836608",
                                 "verdict": "wrong", "header": "Flops (M)", "weight": 1, "credit": 0, "because": []}
    assert file["layers"][-1] == {"layer": "total", "score": 2, "max_score": 3}
    assert file["diagnoses"] == []


def test_csv_output_one_row_per_cell():
    result = grade("googlenet_stem", str(DATA / "slide_googlenet_stem.csv"), "-f", "csv", code=1)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["file", "layer", "column", "given", "expected", "verdict", "student", "weight", "credit",
                             "because"]
    assert len(rows) == 28
    assert rows[-3] == {"file": str(DATA / "slide_googlenet_stem.csv"), "layer": "total", "column": "memory_kb",
                        "given": "7.5 MB", "expected": "7644", "verdict": "right", "student": "slide_googlenet_stem",
                        "weight": "1", "credit": "1", "because": ""}


def test_several_sheets_give_a_summary(key_file):
    result = grade("alexnet", str(key_file), str(DATA / "slide_alexnet.csv"), code=1)
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["File", "Student", "Score"])
    assert lines[header + 2].split() == [str(key_file), "key", "59/59", "59", "0", "0", "0", "0", "0"]
    assert lines[header + 3].split() == [str(DATA / "slide_alexnet.csv"), "slide_alexnet", "55/59", "55", "0", "1",
                                         "3", "0", "0", "free_pooling"]
    assert f"{key_file}: 59/59 (59 right)" in result.stdout
    assert f"{DATA / 'slide_alexnet.csv'}: 55/59 (55 right, 1 wrong, 3 missing)" in result.stdout


def test_output_file(tmp_path):
    out = tmp_path / "grades.json"
    result = grade("alexnet", str(DATA / "slide_alexnet.csv"), "-f", "json", "-o", str(out), code=1)
    assert result.stdout == ""
    assert json.loads(out.read_text())["files"][0]["score"] == 55


def test_piped_table_is_plain_text():
    result = grade("alexnet", str(DATA / "slide_alexnet.csv"), code=1)
    assert "\x1b[" not in result.stdout
    assert all(line == line.rstrip() for line in result.stdout.splitlines())


# --- templates and keys --------------------------------------------------------------------------


def test_template_and_key_round_trip(tmp_path):
    sheet, key = tmp_path / "sheet.csv", tmp_path / "key.yaml"
    assert grade("--template", "googlenet_stem", "-o", str(sheet), code=0).stdout == ""
    grade("--key", "googlenet_stem", "-o", str(key), "--format", "yaml", code=0)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left
    blank = json.loads(grade("googlenet_stem", str(sheet), "-f", "json", code=1).stdout)["files"][0]
    assert (blank["score"], blank["max_score"], blank["counts"]["missing"]) == (0, 28, 28)
    assert grade("googlenet_stem", str(key), code=0)


def test_template_to_stdout_is_csv():
    lines = grade("--template", "alexnet", code=0).stdout.splitlines()
    assert lines[0] == "Layer,C_in,H/W,Filters,K,S,P,C_out,H'/W',Mem (KB),Params (k),MACs (M)"
    assert lines[1] == "conv1,3,227,96,11,4,0,,,,,"


def test_key_by_depth_grades_a_collapsed_table(tmp_path):
    key = tmp_path / "key.csv"
    grade("--key", "googlenet_paper", "--depth", "1", "-o", str(key), code=0)
    assert "inception3a," in key.read_text()
    grade("googlenet_paper", str(key), "--depth", "1", code=0)
    result = grade("googlenet_paper", str(key), "-f", "json", code=1)  # graded row by row, it misses them all
    assert "no layer 'inception3a' in googlenet_paper" in result.stdout


# --- grading a class ------------------------------------------------------------------------------

SHEETS = DATA / "sheets"
CLASS = SHEETS / "alexnet"


def test_a_folder_stands_for_its_sheets():
    result = grade("alexnet", str(CLASS), "-f", "json", code=1)
    files = [f["sheet"] for f in json.loads(result.stdout)["files"]]
    assert files == sorted(str(p) for p in CLASS.iterdir() if p.suffix in (".csv", ".yaml", ".txt", ".xlsx"))
    assert len(files) >= 20


def test_an_empty_folder_exits_2(tmp_path):
    result = grade("alexnet", str(tmp_path), code=2)
    assert f"{tmp_path}: error: a folder with no answer sheets (.csv, .tsv, .txt, .yaml, .yml, .xlsx, .xlsm) in it" \
        in result.stderr


def test_gradebook(tmp_path):
    book = tmp_path / "grades.csv"
    grade("alexnet", str(CLASS / "alice.csv"), str(CLASS / "bob.csv"), str(CLASS / "niaj.yaml"),
          "--gradebook", str(book), "--points", "10", code=1)
    rows = list(csv.DictReader(io.StringIO(book.read_text())))
    assert list(rows[0]) == ["student", "sheet", "points", "max_points", "score", "max_score", "right", "consistent",
                             "wrong", "missing", "unparseable", "problems", "mistakes"]
    # bob: 58 of 59 cells (4 consistent at full credit): 10 * 58/59 = 9.830... -> 9.83
    assert [(r["student"], r["points"], r["max_points"], r["score"], r["mistakes"]) for r in rows] == [
        ("alice", "10", "10", "59", ""), ("bob", "9.83", "10", "58", "padding"), ("Niaj Patel", "9.83", "10", "58", "")]
    assert not list(tmp_path.glob(".*.tmp"))


def test_gradebook_to_stdout_with_half_credit_for_consistent_cells():
    result = grade("alexnet", str(CLASS / "bob.csv"), "--gradebook", "-", "--carry-forward-credit", "0.5", code=1)
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    # 54 right + 4 consistent x 0.5 = 56 of 59
    assert (row["score"], row["consistent"], row["wrong"]) == ("56", "4", "1")


def test_gradebook_cells_are_formula_escaped(tmp_path):
    sheet = tmp_path / "=cmd.csv"
    sheet.write_text("# student: =HYPERLINK(1)\nLayer,C_out\nconv1,96\n")
    result = grade("alexnet", str(sheet), "--gradebook", "-", code=1)
    assert result.stdout.splitlines()[1].startswith("'=HYPERLINK(1),")


def test_summary_names_the_most_missed_cells_and_mistakes():
    result = grade("alexnet", str(CLASS), "--summary", "-f", "json", code=1)
    summary = json.loads(result.stdout)["summary"]
    assert summary["sheets"] == len(json.loads(result.stdout)["files"])
    mistakes = {item["mistake"]: item["students"] for item in summary["mistakes"]}
    assert mistakes["flops_2x"] == ["carol", "rupert"] and mistakes["kb_1000"] == ["dave", "trent"]
    assert mistakes["padding"] == ["bob", "walter"]
    top = summary["cells"][0]
    assert set(top) == {"layer", "column", "missed", "consistent", "common_answer", "common_count"}
    assert top["missed"] == max(item["missed"] for item in summary["cells"])
    table = grade("alexnet", str(CLASS), "--summary", code=1).stdout
    assert "most-missed cells" in table and "mistakes named" in table
    assert "Layer    C_out" not in table  # no sheet's own grid


def test_feedback_files(tmp_path):
    folder = tmp_path / "feedback" / "hw3"  # made if missing
    grade("alexnet", str(CLASS / "bob.csv"), str(CLASS / "carol.csv"), str(CLASS / "alice.csv"),
          "--feedback", str(folder), code=1)
    assert sorted(p.name for p in folder.iterdir()) == ["alice.md", "bob.md", "carol.md"]
    bob = (folder / "bob.md").read_text()
    assert bob.startswith("# alexnet: feedback for bob\n")
    assert "- **padding**: conv1: your H'/W' 56 is what pad 2 gives" in bob
    assert "| conv1 | H'/W' | 56 | 55 | wrong | mistake padding (above) |" in bob
    assert "| conv1 | Mem (KB) | 1,176 | 1,134.375 | consistent | follows from your conv1 H'/W' |" in bob
    # the right value with its formula from explain
    assert "- conv1 H'/W': 55, from `H' = W' = (W - K + 2P)/S + 1 = (227 - 11 + 2·0)/4 + 1 = 55`" in bob
    carol = (folder / "carol.md").read_text()
    assert carol.count("flops_2x") == 1 + carol.count("mistake flops_2x (above)")  # named once, pointed at
    assert "MACs = (C_out × H' × W') × (C_in × K × K) = (96 × 55 × 55) × (3 × 11 × 11) = 105,415,200" in carol
    assert (folder / "alice.md").read_text().endswith("Every cell is right.\n")


def test_feedback_names_are_safe_and_unique(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    for folder in (first, second):
        (folder / "../../x y.csv".replace("../../", "")).write_text("Layer,C_out\nconv1,96\n")
    out = tmp_path / "out"
    grade("alexnet", str(first / "x y.csv"), str(second / "x y.csv"), "--feedback", str(out), code=1)
    assert sorted(p.name for p in out.iterdir()) == ["x_y-2.md", "x_y.md"]


def test_feedback_to_stdout():
    result = grade("alexnet", str(CLASS / "erin.csv"), "--feedback", "-", code=1)
    assert result.stdout.startswith("# alexnet: feedback for erin")
    assert "- **no_bias**: your parameter counts leave out the biases" in result.stdout


def test_an_assignment_with_weights_and_points(tmp_path):
    template = tmp_path / "hw3.csv"
    grade("--template", "alexnet", "--weight", "memory_kb=2", "--points", "20", "-o", str(template), code=0)
    text = template.read_text()
    assert text.splitlines()[1] == "weight,,,,,,,1,1,2,1,1" and text.splitlines()[-1] == "points,20"
    result = grade("alexnet", str(CLASS / "dave.csv"), "--assignment", str(template), "-f", "json", code=1)
    sheet = json.loads(result.stdout)["files"][0]
    # dave: 9 memory cells wrong (weight 2), the total's memory consistent: max 59 + 13 = 72, score 72 - 18
    assert (sheet["score"], sheet["max_score"], sheet["max_points"]) == (54, 72, 20)
    assert sheet["points"] == pytest.approx(20 * 54 / 72)
    assert json.loads(result.stdout)["assignment"]["points"] == 20


def test_only_some_rows_and_columns_asked(tmp_path):
    template = tmp_path / "part.csv"
    template.write_text("Layer,C_out,H'/W'\nconv1,,\npool1,,\n")
    result = grade("alexnet", str(CLASS / "bob.csv"), "--assignment", str(template), code=1)
    assert "bob.csv: 3/4 (3 right, 1 wrong)" in result.stdout  # conv1's 56


@pytest.mark.parametrize("args, message", [
    (["--weight", "lots=2"], "--weight expects COLUMN=W"),
    (["--weight", "memory=2"], "the assignment does not ask for memory_bytes"),
    (["--weight", "memory_kb=lots"], "W a number"),
    (["--weight", "memory_kb=-1"], "a number >= 0"),
    (["--weight", "params=2"], "the assignment does not ask for params"),
    (["--points", "0"], "--points must be more than 0"),
    (["--carry-forward-credit", "2"], "less than or"),
    (["--gradebook", "-", "--feedback", "-"], "only one of --gradebook and --feedback"),
])
def test_bad_class_options_exit_2(args, message):
    result = grade("alexnet", str(CLASS / "alice.csv"), *args, code=2)
    assert message in result.stderr


def test_a_flow_style_thousands_sheet_exits_2_located():
    result = grade("alexnet", str(SHEETS / "broken" / "flow_thousands.yaml"), str(CLASS / "alice.csv"), code=2)
    assert "flow_thousands.yaml:2:45: error: 'memory_kb: 1,134' in a flow mapping" in result.stderr
    assert 'hint: quote the number, memory_kb: "1,134"' in result.stderr
    assert "alice.csv: 59/59" in result.stdout  # the others are graded


def test_xlsx_without_openpyxl_exits_2(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openpyxl", None)
    result = grade("alexnet", str(SHEETS / "xlsx" / "zoe.xlsx"), code=2)
    assert "zoe.xlsx: error: reading .xlsx sheets needs openpyxl" in result.stderr
    assert "pip install 'cnncalc[xlsx]'" in result.stderr
