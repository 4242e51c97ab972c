"""Messy real-world answer sheets and hostile API arguments found by tools/hostile_fuzz.py (the
`fair`, `messy` and `api` kinds), one case each: a right answer in a form students write gets its
points, a wrong one does not; a file that cannot be a sheet is named with a reason (exit 2); a
Python API call with a wrong type or value raises a located `InputError`, never another exception."""
from __future__ import annotations

import csv
import io
import json
import math
import os
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.core.numbers import KB
from cnncalc.grade import classify_header, parse_hw, parse_number

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "docs" / "examples" / "tiny.yaml")
KEY = runner.invoke(app, ["grade", "--key", "alexnet"]).stdout  # the lecture table's values: all right
ROWS = list(csv.reader(io.StringIO(KEY)))
HEADER = ROWS[0]


def grade(folder: Path, content: str | bytes, *options: str, name: str = "sheet.csv"):
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    result = runner.invoke(app, ["grade", "alexnet", str(path), "-f", "json", *options])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def cells(result) -> dict[tuple[str, str], dict]:
    return {(c["layer"], c["column"]): c for c in json.loads(result.stdout)["files"][0]["cells"]}


def rewritten(layer: str, column: str, text: str) -> str:
    """The key with one cell (by layer and header) written as `text`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in ROWS:
        writer.writerow([text if row[0] == layer and HEADER[i] == column else cell for i, cell in enumerate(row)])
    return out.getvalue()


# --- numbers as students write them ----------------------------------------------------------------


@pytest.mark.parametrize("text, quantity, unit, value", [
    # the right value of the column at the precision written: (mantissa x step) in bytes, params, MACs
    ("35 k params", "params", 1000, 35_000),
    ("105 M MACs", "macs", 10**6, 105_000_000),
    ("1.2 million", "params", 1, 1_200_000),
    ("1.2 mil", "macs", 1, 1_200_000),
    ("1.2B", "params", 1, 1_200_000_000),  # billions of parameters; for memory B is bytes (below)
    ("1.2 billion", "macs", 1, 1_200_000_000),
    ("62.4 thousand", "params", 1, 62_400),
    ("1.2×10^6", "params", 1, 1_200_000),
    ("1.2 x 10^6", "macs", 1, 1_200_000),
    ("1.2*10**6", "params", 1, 1_200_000),
    ("1.2·10⁶", "params", 1, 1_200_000),
    ("4 × 10⁻¹", "macs", 10**6, 400_000),  # 0.4 M
    ("1134.", "memory", KB, 1134 * KB),  # a trailing point
    ("1’134", "memory", KB, 1134 * KB),  # the Swiss apostrophe
    ("3 kilobytes", "memory", KB, 3 * KB),
    ("1.2B", "memory", KB, Fraction(12, 10)),  # 1.2 bytes
])
def test_numbers_students_write(text, quantity, unit, value):
    number = parse_number(text, quantity, unit)
    assert number is not None and number.value == value


def test_the_precision_of_a_power_of_ten_is_its_mantissa():
    # '1.2×10^6' params: 12 steps of 0.1 × 10^6 = 100,000, as '1.2M' (so 1,234,567 is not right)
    assert parse_number("1.2×10^6", "params", 1).step == parse_number("1.2M", "params", 1).step == 100_000


@pytest.mark.parametrize("text", ["12 apples", "1.2 M params extra", "1e5x10^3", "10^6", "x10^6", "1.2 × 10",
                                  "~1134", "lots", "."])
def test_what_is_still_not_a_number(text):
    assert parse_number(text, "params", 1) is None


@pytest.mark.parametrize("text, shape", [
    ("(55, 55)", (55, 55)), ("[55,55]", (55, 55)), ("55,55", (55, 55)), ("55 by 55", (55, 55)),
    ("55²", (55, 55)), ("55^2", (55, 55)), ("55.0", (55, 55)), ("55.0x55.0", (55, 55)),
    ("(96, 55, 55)", (96, 55, 55)), ("55x55x96", (55, 55, 96)), ("96×55×55", (96, 55, 55)),
    ("(55, 55]", None), ("(55", None), ("55x55x96x2", None), ("55.5", None),
])
def test_sizes_students_write(text, shape):
    assert parse_hw(text) == shape


def test_a_decimal_comma_size():
    assert parse_hw("55,0") == (55, 0) and parse_hw("55,0", decimal_comma=True) == (55, 55)


@pytest.mark.parametrize("written", ["(96, 55, 55)", "96×55×55", "55x55x96", "(55, 55)", "55²", "55.0"])
def test_a_whole_output_shape_is_right_for_its_size(tmp_path, written):
    # conv1's output is 96 × 55 × 55: H'/W' 55, in the lecture's C × H × W order or in H × W × C
    result = grade(tmp_path, rewritten("conv1", "H'/W'", written))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert cells(result)["conv1", "hw_out"]["verdict"] == "right"


@pytest.mark.parametrize("written", ["(96, 56, 56)", "56x56x96", "(69, 55, 55)", "55x55x69", "(56, 56)"])
def test_a_wrong_output_shape_is_wrong(tmp_path, written):
    # 56 is not 55; 69 channels are neither the layer's 96 nor the student's own C_out (96)
    result = grade(tmp_path, rewritten("conv1", "H'/W'", written))
    assert result.exit_code == 1
    assert cells(result)["conv1", "hw_out"]["verdict"] == "wrong"


def test_a_shape_follows_the_students_own_channels(tmp_path):
    # C_out written 69 (wrong), H'/W' written 69 × 55 × 55: its size 55 is right
    sheet = rewritten("conv1", "H'/W'", "69x55x55").replace("conv1,3,227,96,11,4,0,96,", "conv1,3,227,96,11,4,0,69,")
    found = cells(grade(tmp_path, sheet))
    assert found["conv1", "c_out"]["verdict"] == "wrong" and found["conv1", "hw_out"]["verdict"] == "right"


@pytest.mark.parametrize("column, written", [
    ("Mem (KB)", "1 134 KB"), ("Mem (KB)", "1.134e3"), ("Mem (KB)", "1.134 × 10^3"), ("Params (k)", "35 k params"),
    ("Params (k)", "0.035 M"), ("MACs (M)", "105 million"), ("MACs (M)", "105 M MACs"), ("C_out", "96.0"),
])
def test_right_values_in_student_forms_get_their_points(tmp_path, column, written):
    assert grade(tmp_path, rewritten("conv1", column, written)).exit_code == 0


@pytest.mark.parametrize("column, written, verdict", [
    ("Mem (KB)", "1 143 KB", "wrong"), ("Mem (KB)", "1.143e3", "wrong"), ("Params (k)", "53 k params", "wrong"),
    ("MACs (M)", "150 million", "wrong"), ("MACs (M)", "1.05 × 10^3", "wrong"),  # 1,050 M for 105.4 M
    ("C_out", "96.5", "unparseable"),  # not a whole number of channels
])
def test_wrong_values_in_student_forms_do_not(tmp_path, column, written, verdict):
    result = grade(tmp_path, rewritten("conv1", column, written))
    assert result.exit_code == 1
    key = {"Mem (KB)": "memory_kb", "Params (k)": "params_k", "MACs (M)": "macs_m", "C_out": "c_out"}[column]
    assert cells(result)["conv1", key]["verdict"] == verdict


# --- headers, layer names and rows -----------------------------------------------------------------


@pytest.mark.parametrize("header, key", [
    ("Memory in KB", "memory_kb"), ("Params (in thousands)", "params_k"), ("Memory (in MB)", "memory_mb"),
    ("H' x W'", "hw_out"), ("H'×W'", "hw_out"), ("Output (C×H×W)", "hw_out"), ("Output shape (H x W x C)", "hw_out"),
])
def test_headers_students_write(header, key):
    assert classify_header(header).key == key


@pytest.mark.parametrize("header", ["Mem in", "Output shape", "Min", "Output"])
def test_headers_still_not_graded(header):
    # 'Output shape' is cnncalc table's own column (beside h_out): not a second H'/W'
    assert classify_header(header) is None


@pytest.mark.parametrize("total", ["Total:", "TOTAL", "Sum", "Σ", "Grand total"])
def test_the_total_row_by_other_names(tmp_path, total):
    assert grade(tmp_path, KEY.replace("\ntotal,", f"\n{total},")).exit_code == 0


def test_a_layer_name_with_a_colon(tmp_path):
    assert grade(tmp_path, KEY.replace("\nconv1,", "\nconv1:,")).exit_code == 0


def test_the_header_pasted_again_is_skipped(tmp_path):
    lines = KEY.splitlines(keepends=True)
    result = grade(tmp_path, "".join(lines[:5] + [lines[0]] + lines[5:]))
    assert result.exit_code == 0
    assert "line 6: the header again, skipped" in json.loads(result.stdout)["files"][0]["notes"]


# --- encodings and files that are not sheets -------------------------------------------------------


def test_utf16_without_its_mark_is_named(tmp_path):
    result = grade(tmp_path, KEY.encode("utf-16-le"))
    assert result.exit_code == 2
    assert "sheet.csv: error: binary data (a NUL byte at offset 1)" in result.stderr
    assert "it looks like UTF-16 text without its byte order mark" in result.stderr


def test_utf16_big_endian_with_its_mark_is_read(tmp_path):
    assert grade(tmp_path, b"\xfe\xff" + KEY.encode("utf-16-be")).exit_code == 0


def test_utf32_is_named(tmp_path):
    # its mark starts with UTF-16's: it was read as UTF-16 and said "no header row"
    result = grade(tmp_path, KEY.encode("utf-32"))
    assert result.exit_code == 2 and "sheet.csv: error: UTF-32 text, not an answer sheet" in result.stderr


def test_a_folder_names_every_entry_that_is_not_a_sheet_file(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.csv").write_text(KEY)
    (folder / "bob.csv").mkdir()
    (folder / "carol.csv").symlink_to("carol.csv")
    (folder / "dave.csv").symlink_to(tmp_path / "nowhere.csv")
    os.mkfifo(folder / "erin.csv")
    (folder / ".hidden.csv").write_text("junk")  # hidden: skipped, as before
    result = runner.invoke(app, ["grade", "alexnet", str(folder), "--summary"])
    assert result.exit_code == 2  # they were skipped unsaid: a student's sheet lost, exit 0
    assert "alice" in result.stdout
    for message in ("bob.csv: error: is a directory, not an answer sheet",
                    "carol.csv: error: cannot read file: Too many levels of symbolic links",
                    "dave.csv: error: is a symbolic link to a file that does not exist",
                    "erin.csv: error: not a regular file (a device, pipe or socket), not an answer sheet"):
        assert message in result.stderr
    assert "hidden" not in result.stderr


# --- sweep: every variant invalid ------------------------------------------------------------------


def test_a_sweep_whose_every_variant_is_invalid_is_bad_input(tmp_path):
    spec = tmp_path / "k.yaml"
    spec.write_text("input: [3, 8, 8]\nvars:\n  k: 3\nlayers:\n  - {op: conv, out: 4, kernel: k}\n"
                    "  - {op: gap}\n  - {op: flatten}\n  - {op: fc, out: 10}\n")
    result = runner.invoke(app, ["sweep", str(spec), "--set", "k=20,30", "-j", "1"])
    assert result.exit_code == 2
    assert "kernel 20 is larger than the padded input along H" in result.stdout
    assert "k.yaml: error: no variant is valid: all 2 are bad input (listed above)" in result.stderr
    over = runner.invoke(app, ["sweep", str(spec), "--set", "k=3,30", "-j", "1", "--max-params", "10"])
    assert over.exit_code == 1  # a valid variant over the limits: a failed check


# --- the Python API --------------------------------------------------------------------------------

NAN = math.nan
API_CASES = [
    # (function, arguments, fragment of the InputError's message)
    ("analyze", {"spec": None}, "a spec is a file path, a bundled spec's name or YAML text, got NoneType"),
    ("analyze", {"spec": 42}, "got int 42"),
    ("analyze", {"spec": ""}, "an empty spec"),
    ("analyze", {"spec": {"input": [3, 8, 8]}}, "got dict"),
    ("analyze", {"set": [1, 2]}, "set must be a mapping such as {'width': 0.5}, got list"),
    ("analyze", {"input": 5}, "input must be (C, H, W), (L, D) or (F,) of positive whole numbers, got 5"),
    ("analyze", {"batch": NAN}, "batch must be a whole number, got float nan"),
    ("analyze", {"batch": 2.5}, "batch must be a whole number, got float 2.5"),
    ("analyze", {"batch": "2"}, "batch must be a whole number, got str '2'"),
    ("analyze", {"batch": True}, "batch must be a whole number, got bool True"),
    ("analyze", {"batch": 2**63}, "batch must be at most 9,223,372,036,854,775,807 (2**63 - 1)"),
    ("analyze", {"depth": 0}, "depth must be at least 1, got 0"),
    ("analyze", {"depth": "2"}, "depth must be a whole number"),
    ("analyze", {"mode": "bogus"}, "unknown mode 'bogus'; choose from infer, train"),
    ("analyze", {"convention": [1]}, "convention must be a name (a string), got list"),
    ("analyze", {"dtype": [1]}, "dtype must be a name (a string), got list"),
    ("memory", {"fit": -5}, "fit (bytes) must be at least 1, got -5"),
    ("memory", {"fit": NAN}, "fit (bytes) must be a whole number, got float nan"),
    ("memory", {"batch": NAN}, "batch must be a whole number"),
    ("memory", {"optimizer": {"a": 1}}, "optimizer must be a name (a string), got dict"),
    ("memory", {"checkpoint": [1]}, "checkpoint must be a name or a list of names, got [1]"),
    ("check", {"limits": [1]}, "limits must be a mapping such as {'params': '25M'}, got list"),
    ("compare", {"specs": 5}, "specs must be a list of specs, got int 5"),
    ("compare", {"inputs": 1.5}, "inputs must be a list of input sizes such as [(3, 224, 224)], got float 1.5"),
    ("sweep", {"set": 5}, "set must be a mapping"),
    ("sweep", {"pareto": 3}, "pareto must be a name or a list of names, got 3"),
    ("sweep", {"figures": None}, None),  # no extra figures: fine
    ("sweep", {"figures": [1]}, "figures must be a name or a list of names, got [1]"),
    ("sweep", {"maximize": [1]}, "maximize must be a name (a string), got list"),
    ("sweep", {"jobs": 0}, "jobs must be at least 1, got 0"),
]


@pytest.mark.parametrize("function, arguments, message", API_CASES,
                         ids=[f"{f}-{next(iter(a))}-{i}" for i, (f, a, _) in enumerate(API_CASES)])
def test_hostile_api_arguments(function, arguments, message):
    call = {"analyze": {"spec": TINY}, "memory": {"spec": TINY}, "check": {"spec": TINY, "limits": {"params": "1M"}},
            "compare": {"specs": [TINY, TINY]}, "sweep": {"spec": TINY, "jobs": 1}}[function] | arguments
    first = call.pop("specs" if function == "compare" else "spec")
    if message is None:
        getattr(cnncalc, function)(first, **call)
        return
    with pytest.raises(cnncalc.InputError) as raised:
        getattr(cnncalc, function)(first, **call)
    assert message in str(raised.value)


def test_one_checkpoint_name_is_not_its_letters():
    # 'layer3' was read as the names 'l', 'a', 'y', ...: "no block instance, layer or module named 'l'"
    one = cnncalc.memory("resnet18", checkpoint="layer3")
    assert one.to_dict() == cnncalc.memory("resnet18", checkpoint=["layer3"]).to_dict()
    assert one.to_dict() != cnncalc.memory("resnet18").to_dict()  # layer3 keeps less for backward


def test_a_sweep_value_may_be_one_number():
    spec = "input: [3, 8, 8]\nvars:\n  w: 4\nlayers:\n  - {op: conv, out: w, kernel: 3}\n"
    assert [v.values for v in cnncalc.sweep(spec, set={"w": 8}, jobs=1).variants] == [{"w": "8"}]


def test_feedback_for_two_students_with_very_long_names(tmp_path):
    # 'y' * 251 + '-2.md' is 256 bytes, one more than a file name holds: the second file failed, exit 2
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / ("é" * 120 + ".csv")).write_text(KEY)
    result = runner.invoke(app, ["grade", "alexnet", str(tmp_path / "a"), str(tmp_path / "b"),
                                 "--feedback", str(tmp_path / "out"), "--summary"])
    assert result.exit_code == 0, result.stderr
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == sorted(["é" * 100 + ".md", "é" * 100 + "-2.md"])  # 200 bytes of the name, then the suffix


@pytest.mark.parametrize("written", ["[55, 55]", "[96, 55, 55]", "[55, 55, 96]"])
def test_a_yaml_list_is_a_size(tmp_path, written):
    # it was '[...]': unparseable
    key = runner.invoke(app, ["grade", "--key", "alexnet", "-f", "yaml"]).stdout
    result = grade(tmp_path, key.replace("conv1: {c_out: 96, hw_out: 55,", f"conv1: {{c_out: 96, hw_out: {written},"),
                   name="sheet.yaml")
    assert result.exit_code == 0, result.stdout
    assert cells(result)["conv1", "hw_out"]["given"] == written.strip("[]").replace(", ", "x")


def test_a_yaml_list_of_other_things_is_not(tmp_path):
    key = runner.invoke(app, ["grade", "--key", "alexnet", "-f", "yaml"]).stdout
    result = grade(tmp_path, key.replace("hw_out: 55,", "hw_out: [55, true],", 1), name="sheet.yaml")
    assert cells(result)["conv1", "hw_out"]["verdict"] == "unparseable"


def test_thousands_of_misnamed_rows_look_for_a_near_name_only_for_those_listed(monkeypatch):
    # 9,999 unknown rows against ResNet-152's 500-odd layers took 16 s of CPU looking for a did-you-mean
    # for each, of which the first 50 are listed
    from cnncalc.grade import Grader, assignment, parse_csv_sheet

    calls = []
    near = assignment.did_you_mean
    monkeypatch.setattr(assignment, "did_you_mean", lambda *args: calls.append(args) or near(*args))
    report = cnncalc.analyze("resnet152")
    rows = "".join(f"layer{i}xyz,{i}\n" for i in range(9_999))
    result = Grader(report).grade(parse_csv_sheet("Layer,C_out\n" + rows + "layer1.0.conv,64\n", "big.csv"))
    assert len(result.problems) == 50 and result.more_problems == 9_950
    assert len(calls) == 50


def test_the_progress_of_a_class():
    from cnncalc.grade import Grader

    seen: list[tuple[int, int]] = []
    sheets = [ROOT / "tests" / "data" / "sheets" / "alexnet" / name for name in ("alice.csv", "bob.csv", "nope.csv")]
    results, errors = Grader(cnncalc.analyze("alexnet")).grade_files(sheets, lambda done, total: seen.append((done, total)))
    assert (len(results), len(errors)) == (2, 1) and seen == [(1, 3), (2, 3), (3, 3)]
