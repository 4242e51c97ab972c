"""The grader as a library: reading numbers and headers, the correctness rule, answer sheets with
missing, extra, misnamed and duplicate rows, and hostile files."""
from __future__ import annotations

from fractions import Fraction

import pytest

from cnncalc.analysis.engine import analyze
from cnncalc.core.errors import InputError
from cnncalc.core.numbers import KB, MILLION, THOUSAND, decimal_text, truncate
from cnncalc.grade import (
    IGNORED,
    LAYER,
    MAX_SHEET_BYTES,
    MISSING,
    RIGHT,
    UNPARSEABLE,
    WRONG,
    GradedColumn,
    classify_header,
    grade,
    is_right,
    parse_csv_sheet,
    parse_hw,
    parse_number,
    parse_yaml_sheet,
    read_sheet,
)
from cnncalc.render.grade import answer_sheet_csv, answer_sheet_yaml, grade_csv
from cnncalc.spec import bundled
from cnncalc.spec.graph import build
from cnncalc.spec.spec import load_spec


def report_of(name: str):
    path, display = bundled.resolve(name)
    return analyze(build(load_spec(path, display)))


@pytest.fixture(scope="module")
def alexnet():
    return report_of("alexnet")


def grade_csv_text(report, text: str, rtol=None):
    return grade(report, parse_csv_sheet(text, "answers.csv"), rtol)


def verdicts(result) -> dict[tuple[str, str], str]:
    return {(cell.layer, cell.column): cell.verdict for cell in result.cells}


# --- units helpers ---------------------------------------------------------------------------------


def test_decimal_text_is_exact():
    assert decimal_text(Fraction(96 * 55 * 55 * 4, KB)) == "1134.375"  # 1,161,600 / 1024
    assert decimal_text(Fraction(4_097_000, THOUSAND), grouping=True) == "4,097"
    assert decimal_text(Fraction(629_856, MILLION)) == "0.629856"
    assert decimal_text(Fraction(1, 3)) == "0.333333333333"  # no lecture unit does this; cut at 12 decimals


def test_truncate_goes_toward_zero():
    assert truncate(Fraction(63, 100)) == 0 and truncate(Fraction(-63, 100)) == 0 and truncate(Fraction(349, 10)) == 34


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, quantity, unit, value", [
    ("1,134", "memory", KB, 1134 * KB),
    ("1134.4", "memory", KB, Fraction(11344, 10) * KB),
    ("0.6", "macs", MILLION, 600_000),
    ("37,753", "params", THOUSAND, 37_753_000),
    ("105M", "macs", MILLION, 105_000_000),
    ("105 MFLOPs", "macs", MILLION, 105_000_000),
    ("105", "macs", 1, 105),  # an exact column: no unit
    ("105M", "macs", 1, 105_000_000),  # a suffix gives the value its own unit
    ("124K", "params", THOUSAND, 124_000),
    ("7.5 MB", "memory", KB, Fraction(75, 10) * KB * KB),  # MB = 1024 KB, like KB = 1024 bytes
    ("3 KiB", "memory", 1, 3 * KB),
    ("1.05e8", "macs", 1, 105_000_000),
    ("1\u00a0134", "memory", KB, 1134 * KB),  # a no-break space groups thousands too
    ("\u22125", "params", 1, -5),  # a typographic minus
    (".5", "params", THOUSAND, 500),
])
def test_numbers_that_are_understood(text, quantity, unit, value):
    assert parse_number(text, quantity, unit).value == value


@pytest.mark.parametrize("text, quantity", [
    ("1,13", "memory"),  # groups of three, or it is not a thousands separator
    ("0,6", "macs"),  # a decimal comma is not understood (it would read as 6)
    ("1.134,4", "memory"),
    ("abc", "params"),
    ("12 apples", "params"),
    ("105 KB", "macs"),  # bytes are not a unit of multiply-adds
    ("105 MFLOPs", "params"),
    ("1e999999999", "macs"),  # would take forever to compare exactly
    ("9" * 100, "macs"),  # longer than any honest answer
    (".", "params"),
    ("", "params"),
])
def test_numbers_that_are_not(text, quantity):
    assert parse_number(text, quantity, 1) is None


def test_precision_is_what_the_student_wrote():
    # '1134.4' KB: 11344 steps of 0.1 KB = 102.4 bytes
    number = parse_number("1134.4", "memory", KB)
    assert (number.mantissa, number.step) == (11344, Fraction(1024, 10))
    # '7.5 MB': 75 steps of 0.1 MB
    assert parse_number("7.5 MB", "memory", KB).step == Fraction(KB * KB, 10)


@pytest.mark.parametrize("text, shape", [("55", (55, 55)), ("55x55", (55, 55)), ("55 × 55", (55, 55)),
                                         ("17x9", (17, 9)), ("(7, 7)", None), ("55x", None), ("big", None)])
def test_shapes(text, shape):
    assert parse_hw(text) == shape


# --- the rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize("written, exact, unit, right", [
    # conv1 memory: 96 * 55 * 55 * 4 / 1024 = 1134.375 KB
    ("1134", 1_161_600, KB, True),  # rounded
    ("1,134", 1_161_600, KB, True),
    ("1134.4", 1_161_600, KB, True),  # rounded at 0.1
    ("1134.3", 1_161_600, KB, True),  # truncated at 0.1
    ("1134.375", 1_161_600, KB, True),  # exact
    ("1135", 1_161_600, KB, False),
    ("1134.0", 1_161_600, KB, False),  # claims a precision it does not have: 1134.375 is not 1134.0
    ("1.1 MB", 1_161_600, KB, True),  # 1134.375 / 1024 = 1.108 MB
    # pool1 MACs: 96 * 27 * 27 * 3 * 3 = 629,856 = 0.629856 M
    ("0.6", 629_856, MILLION, True),  # rounded
    ("0.63", 629_856, MILLION, True),  # rounded
    ("0.62", 629_856, MILLION, True),  # truncated
    ("0", 629_856, MILLION, True),  # truncated, as the slide's pool rows print it
    ("1", 629_856, MILLION, True),  # rounded
    ("0.7", 629_856, MILLION, False),
    ("0.5", 629_856, MILLION, False),
    # conv1 params: 96 * 3 * 11 * 11 + 96 = 34,944 = 34.944 k
    ("35", 34_944, THOUSAND, True),
    ("34", 34_944, THOUSAND, True),
    ("34.9", 34_944, THOUSAND, True),
    ("36", 34_944, THOUSAND, False),
    ("34944", 34_944, 1, True),
    ("34,943", 34_944, 1, False),  # exact columns are exact
    ("35k", 34_944, 1, True),  # unless the student writes a coarser unit
    # fc8 params: 4096 * 1000 + 1000 = 4,097,000 = 4,097 k exactly: nothing to round or truncate
    ("4,097", 4_097_000, THOUSAND, True),
    ("4,096", 4_097_000, THOUSAND, False),
    ("4,098", 4_097_000, THOUSAND, False),
    ("28", 27, 1, False),
    # half-way: 450,000 = 0.45 M -> 0.5 rounded half up, 0.4 truncated
    ("0.5", 450_000, MILLION, True),
    ("0.4", 450_000, MILLION, True),
    ("0.3", 450_000, MILLION, False),
    # just below half-way: 449,999 = 0.449999 M -> 0.4 either way
    ("0.5", 449_999, MILLION, False),
    ("0.4", 449_999, MILLION, True),
    # 253.5 KB (259,584 bytes, conv3) -> 254 rounded half up, 253 truncated
    ("254", 259_584, KB, True),
    ("253", 259_584, KB, True),
    ("255", 259_584, KB, False),
    ("0", 0, MILLION, True),
    ("0.0", 0, MILLION, True),
    ("-1", 629_856, MILLION, False),
])
def test_rounded_or_truncated_at_the_written_precision(written, exact, unit, right):
    quantity = "memory" if unit == KB else "macs"
    assert is_right(parse_number(written, quantity, unit), Fraction(exact)) is right


@pytest.mark.parametrize("written, exact, right", [
    ("1130", 1_161_600, True),  # |1130 - 1134.375| = 4.4 <= 1% of 1134.375 = 11.3
    ("1120", 1_161_600, False),  # 14.4 > 11.3
    ("1146", 1_161_600, False),  # 11.6 > 11.3
    ("0", 629_856, False),  # under a tolerance, 0 is not 0.63
])
def test_relative_tolerance_replaces_the_rule(written, exact, right):
    assert is_right(parse_number(written, "memory", KB), Fraction(exact), Fraction(1, 100)) is right


def test_rtol_zero_needs_the_exact_value():
    assert is_right(parse_number("1134.375", "memory", KB), Fraction(1_161_600), Fraction(0))
    assert not is_right(parse_number("1134", "memory", KB), Fraction(1_161_600), Fraction(0))


# --- headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header, key", [
    ("Mem (KB)", "memory_kb"), ("mem_kb", "memory_kb"), ("Memory (KB)", "memory_kb"), ("Mem. (KB)", "memory_kb"),
    ("MEM KB", "memory_kb"), ("memory_bytes", "memory_bytes"), ("Memory", "memory_bytes"),
    ("Params (k)", "params_k"), ("Param. (k)", "params_k"), ("params_k", "params_k"), ("#params", "params"),
    ("Parameters", "params"), ("Flops (M)", "macs_m"), ("MACs (M)", "macs_m"), ("MFLOPs", "macs_m"),
    ("macs_m", "macs_m"), ("macs", "macs"), ("H'/W'", "hw_out"), ("H\u2019 / W\u2019", "hw_out"),
    ("hw_out", "hw_out"), ("h_out", "hw_out"), ("C_out", "c_out"), ("c out", "c_out"), ("C_{out}", "c_out"),
])
def test_graded_headers(header, key):
    kind = classify_header(header)
    assert isinstance(kind, GradedColumn) and kind.key == key and kind.header == header


@pytest.mark.parametrize("header, kind", [
    ("Layer", LAYER), ("name", LAYER), ("C_in", IGNORED), ("H/W", IGNORED), ("Filters", IGNORED), ("K", IGNORED),
    ("S", IGNORED), ("P", IGNORED), ("From", IGNORED), ("w_out", IGNORED), ("Notes", None), ("Memo", None),
])
def test_headers_that_are_not_graded(header, kind):
    assert classify_header(header) == kind


@pytest.mark.parametrize("header", ["Params (M)", "GFLOPs", "Mem (MB)", "MACs (k)"])
def test_headers_in_units_that_cannot_be_graded(header):
    with pytest.raises(InputError, match="cannot be graded"):
        classify_header(header)


# --- sheets --------------------------------------------------------------------------------------

ALEXNET_KEY = """Layer,C_out,H'/W',Mem (KB),Params (k),MACs (M)
conv1,96,55,"1,134",35,105
pool1,96,27,273,0,0.6
conv2,256,27,729,615,448
pool2,256,13,169,0,0.4
conv3,384,13,254,885,150
conv4,384,13,254,"1,327",224
conv5,256,13,169,885,150
pool5,256,6,36,0,0.08
flatten,9216,,36,0,0
fc6,4096,,16,"37,753",38
fc7,4096,,16,"16,781",17
fc8,1000,,4,"4,097",4
"""


def test_a_right_sheet(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY)
    # 12 layers x 5 columns, less H'/W' of the 4 vector rows (flatten, fc6, fc7, fc8) = 56 cells
    assert (result.score, result.max_score) == (56, 56) and result.all_right
    assert not result.problems and not result.notes
    assert [(s.layer, s.score, s.max_score) for s in result.layer_scores()][-1] == ("fc8", 4, 4)


def test_expected_values_are_exact_in_the_columns_unit(alexnet):
    cells = {(c.layer, c.column): c for c in grade_csv_text(alexnet, ALEXNET_KEY).cells}
    assert cells["conv1", "memory_kb"].expected == "1134.375"
    assert cells["conv1", "memory_kb"].given == "1,134"
    assert cells["conv1", "params_k"].expected == "34.944"
    assert cells["pool1", "macs_m"].expected == "0.629856"
    assert cells["conv1", "hw_out"].expected == "55"


def test_blank_cells_and_missing_rows_are_missing(alexnet):
    text = "\n".join(line for line in ALEXNET_KEY.splitlines() if not line.startswith("conv3"))
    text = text.replace("conv1,96,55,", "conv1,96,,")
    result = grade_csv_text(alexnet, text)
    found = verdicts(result)
    assert found["conv1", "hw_out"] == MISSING
    assert all(found["conv3", key] == MISSING for key in ("c_out", "hw_out", "memory_kb", "params_k", "macs_m"))
    assert (result.score, result.max_score) == (56 - 6, 56)
    assert all(c.given is None for c in result.cells if c.verdict == MISSING)


def test_only_the_sheets_columns_are_graded(alexnet):
    result = grade_csv_text(alexnet, "Layer,Params (k)\nconv1,35\n")
    assert (result.score, result.max_score) == (1, 12)  # the other 11 layers' params are missing
    assert {c.column for c in result.cells} == {"params_k"}


def test_the_total_row_is_graded_when_given(alexnet):
    assert "total" not in {c.layer for c in grade_csv_text(alexnet, ALEXNET_KEY).cells}
    # totals: 3,163,808 bytes = 3089.656 KB; 62,378,344 params = 62,378.344 k; 1,136,358,272 MACs
    result = grade_csv_text(alexnet, ALEXNET_KEY + 'Total,,,"3,090","62,378","1,136"\n')
    assert [(c.layer, c.column, c.verdict) for c in result.cells[-3:]] == [
        ("total", "memory_kb", RIGHT), ("total", "params_k", RIGHT), ("total", "macs_m", RIGHT)]
    assert grade_csv_text(alexnet, ALEXNET_KEY + 'totals,,,,"62,378",1136\n').cells[-3].verdict == MISSING


def test_cells_where_nothing_is_due(alexnet):
    text = ALEXNET_KEY.replace("fc6,4096,,", "fc6,4096,1,").replace("fc7,4096,,", "fc7,4096,-,")
    result = grade_csv_text(alexnet, text + "total,1000,,,,\n")
    found = {(c.layer, c.column): c for c in result.cells}
    assert found["fc6", "hw_out"].verdict == WRONG and found["fc6", "hw_out"].expected is None  # a vector
    assert ("fc7", "hw_out") not in found  # a dash where nothing is due is fine
    assert found["total", "c_out"].verdict == WRONG


def test_a_dash_where_a_value_is_due_is_wrong(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY.replace("pool1,96,27,273,0,", "pool1,96,27,273,-,"))
    assert verdicts(result)["pool1", "params_k"] == WRONG


def test_unparseable_cells_are_reported_not_fatal(alexnet):
    text = ALEXNET_KEY.replace("conv2,256,27,729,615,448", "conv2,256ch,27 x 27,729 KiB,615k?,0,448")
    result = grade_csv_text(alexnet, text)
    found = verdicts(result)
    assert found["conv2", "c_out"] == UNPARSEABLE
    assert found["conv2", "hw_out"] == RIGHT  # '27 x 27'
    assert found["conv2", "memory_kb"] == RIGHT  # '729 KiB'
    assert found["conv2", "params_k"] == UNPARSEABLE
    assert found["conv2", "macs_m"] == WRONG  # '0' for 447.9
    assert any("beyond the header" in note for note in result.notes)  # the row has one cell too many


def test_unknown_layer_names_with_a_suggestion(alexnet):
    text = ALEXNET_KEY.replace("fc7,", "fc_7,") + "input,3,227,,,\n"
    result = grade_csv_text(alexnet, text)
    messages = [(p.line, p.message, p.hint) for p in result.problems]
    assert messages == [(12, "no layer 'fc_7' in alexnet", "did you mean 'fc7'?"),
                        (14, "no layer 'input' in alexnet", None)]
    assert verdicts(result)["fc7", "params_k"] == MISSING  # not guessed: the TA fixes the name
    assert not result.all_right and result.score == 52


def test_names_match_ignoring_case(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY.replace("conv1,", " CONV1 ,"))
    assert result.all_right


def test_duplicate_rows_grade_the_first(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY + "conv1,1,1,1,1,1\n")
    assert [(p.line, p.message) for p in result.problems] == [
        (14, "duplicate row for 'conv1' (first at line 2); only the first is graded")]
    assert result.score == result.max_score and not result.all_right  # a problem is not all right


def test_a_row_without_a_name(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY + ",96,55,,,\n,,,,,\n")
    assert [(p.line, p.message) for p in result.problems] == [(14, "a row with answers but no layer name")]


def test_comments_titles_semicolons_and_extra_columns(alexnet):
    import csv
    import io

    rows = list(csv.reader(io.StringIO(ALEXNET_KEY)))
    out = io.StringIO()
    out.write("# homework 3, Alice\nAlexNet: layer by layer\n")  # a comment and a title row above the header
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["Layer", "Notes", "C_in", *rows[0][1:]])
    for row in rows[1:]:
        writer.writerow([row[0], "ok", "", *[cell.replace(",", "") for cell in row[1:]]])
    result = grade_csv_text(alexnet, out.getvalue())
    assert result.all_right and result.notes == ("column 'Notes' is not graded",)


def test_the_machine_csv_of_cnncalc_table_is_a_key(alexnet):
    from cnncalc.render import to_csv

    result = grade_csv_text(alexnet, to_csv(alexnet))  # c_out, h_out, params, macs, memory_bytes, exact
    assert result.all_right
    assert {c.column for c in result.cells} == {"c_out", "hw_out", "params", "macs", "memory_bytes"}
    assert result.cells[-1].layer == "total"


def test_two_columns_for_one_quantity():
    with pytest.raises(InputError, match="both give memory_kb"):
        parse_csv_sheet("Layer,Mem (KB),mem_kb\nconv1,1,1\n", "a.csv")


def test_no_layer_column():
    with pytest.raises(InputError, match="no Layer column"):
        parse_csv_sheet("C_out,Mem (KB)\n96,1134\n", "a.csv")


def test_a_nameless_first_column_is_the_layer_column(alexnet):
    assert grade_csv_text(alexnet, ALEXNET_KEY.replace("Layer,", ",", 1)).all_right


# --- YAML sheets ---------------------------------------------------------------------------------


def test_yaml_mapping_and_list_forms(alexnet):
    mapping = parse_yaml_sheet("conv1: {C_out: 96, \"H'/W'\": 55x55, Mem (KB): 1134.4}\n"
                               "pool1:\n  c_out: 96\n  hw_out: 27\n  memory_kb: '273'\n", "a.yaml")
    listed = parse_yaml_sheet("- {layer: conv1, c_out: 96, hw_out: 55, memory_kb: 1134.4}\n"
                              "- {name: pool1, c_out: 96, hw_out: 27, memory_kb: 273}\n", "a.yaml")
    for sheet in (mapping, listed):
        found = verdicts(grade(alexnet, sheet))
        assert found["conv1", "memory_kb"] == RIGHT and found["pool1", "hw_out"] == RIGHT
        assert found["conv2", "c_out"] == MISSING


def test_yaml_values_are_read_as_written(alexnet):
    # '1134.40' claims two decimals: 1134.375 -> 1134.38 or 1134.37, so it is wrong (a float would say 1134.4);
    # '055' is 55 as written (YAML 1.1 reads it as octal 45); a block value '1,327' is a string (in a flow
    # mapping {params_k: 1,327} the comma would end the value: quote it there)
    sheet = parse_yaml_sheet("conv1: {memory_kb: 1134.40, hw_out: 055}\nconv4:\n  params_k: 1,327\n", "a.yaml")
    cells = {(c.layer, c.column): c for c in grade(alexnet, sheet).cells}
    assert cells["conv1", "memory_kb"].given == "1134.40" and cells["conv1", "memory_kb"].verdict == WRONG
    assert cells["conv1", "hw_out"].verdict == RIGHT
    assert cells["conv4", "params_k"].verdict == RIGHT


def test_yaml_non_scalar_cells_and_booleans(alexnet):
    sheet = parse_yaml_sheet("conv1: {c_out: [96], hw_out: yes, memory_kb: ~}\n", "a.yaml")
    found = {(c.layer, c.column): c for c in grade(alexnet, sheet).cells}
    assert found["conv1", "c_out"].verdict == UNPARSEABLE and found["conv1", "c_out"].given == "[...]"
    assert found["conv1", "hw_out"].verdict == UNPARSEABLE
    assert found["conv1", "memory_kb"].verdict == MISSING


@pytest.mark.parametrize("text, message", [
    ("conv1: {c_out: 96}\nconv1: {c_out: 96}\n", "duplicate key 'conv1'"),
    ("conv1: 96\n", "give each layer a mapping"),
    ("- 96\n", "each row must be a mapping"),
    ("just text\n", "a mapping of layer"),
    ("conv1: {notes: fine}\n", "no graded column"),
    ("conv1: {c_out: !!python/object/apply:os.system ['echo hi']}\n", "unsupported YAML tag"),
    ("a: &x [1, 2]\nb: *x\n", "aliases"),
    ("[" * 100_000 + "]" * 100_000, "nested more than"),  # libyaml's composer would crash the interpreter
    ("conv1: {c_out: 96\n", "YAML syntax error"),
    ("conv1: {Params (M): 1}\n", "cannot be graded"),
    ("conv1: {C_out: 96, c_out: 96}\n", "both give c_out"),
])
def test_bad_yaml_sheets(text, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_yaml_sheet(text, "a.yaml")


# --- templates and keys --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["alexnet", "googlenet_stem", "googlenet_paper", "resnet18", "inception_v3",
                                  "lenet5"])
@pytest.mark.parametrize("form", ["csv", "yaml"])
def test_the_key_is_right_and_the_template_is_all_missing(spec, form):
    report = report_of(spec)
    for rows in (report, report.collapse(1)):
        write, read = (answer_sheet_csv, parse_csv_sheet) if form == "csv" else (answer_sheet_yaml, parse_yaml_sheet)
        key = grade(rows, read(write(rows, key=True), f"key.{form}"))
        assert key.all_right, [c for c in key.cells if c.verdict != RIGHT][:3]
        blank = grade(rows, read(write(rows), f"sheet.{form}"))
        assert blank.score == 0 and blank.count(MISSING) == blank.max_score == key.max_score
        assert not blank.problems and not blank.notes


def test_the_template_gives_the_question():
    lines = answer_sheet_csv(report_of("googlenet_stem")).splitlines()
    assert lines[0] == "Layer,C_in,H/W,Filters,K,S,P,C_out,H'/W',Mem (KB),Params (k),MACs (M)"
    assert lines[1] == "conv1,3,224,64,7,2,3,,,,,"
    assert lines[-1] == "total,,,,,,,,,,,"


# --- hostile files -------------------------------------------------------------------------------


def test_hostile_files(tmp_path):
    cases = {
        "binary.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary data"),
        "utf16.csv": ("Layer,C_out\nconv1,96\n".encode("utf-16"), "binary data"),
        "latin1.csv": ("Layer,C_out\nc\u00f6nv1,96\n".encode("latin-1"), "not UTF-8"),
        "huge.csv": (b"Layer,C_out\n" + b"conv1,96\n" * (MAX_SHEET_BYTES // 9), "too large"),
        "field.csv": (b'Layer,C_out\nconv1,"' + b"x" * 200_000 + b'"\n', "not a readable CSV"),
        "wide.csv": (b"Layer" + b",C_out" + b",x" * 500 + b"\n", "too many columns"),
        "long.csv": (b"Layer,C_out\n" + b"c,1\n" * 20_000, "too many rows"),
        "empty.csv": (b"", "no header row"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InputError, match=message) as caught:
            read_sheet(path)
        assert str(path) in caught.value.render(), name
    with pytest.raises(InputError, match="is a directory"):
        read_sheet(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        read_sheet(tmp_path / "nothing.csv")


def test_devices_and_pipes_are_not_read(tmp_path):
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # opening it would block forever
    with pytest.raises(InputError, match="not a regular file"):
        read_sheet(fifo)


def test_hostile_cells_are_inert(alexnet):
    text = ('Layer,C_out,Mem (KB)\nconv1,"=HYPERLINK(""http://x"")",1e999999999\n'
            'pool1,"\x1b[31m96\u202e",[bold]273\n')
    result = grade_csv_text(alexnet, text)
    cells = {(c.layer, c.column): c for c in result.cells}
    assert cells["conv1", "memory_kb"].verdict == UNPARSEABLE
    assert cells["pool1", "c_out"].given == "\ufffd[31m96\ufffd"  # escape and bidi override replaced
    assert cells["pool1", "memory_kb"].given == "[bold]273"  # printed as text, never as rich markup
    assert "\"'=HYPERLINK" in grade_csv([result])  # a spreadsheet will not run it
