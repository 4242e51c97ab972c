"""The grader as a library: reading numbers and headers, the correctness rule, answer sheets with
missing, extra, misnamed and duplicate rows, and hostile files."""
from __future__ import annotations

import re
from fractions import Fraction

import pytest

from cnncalc.analysis.engine import analyze
from cnncalc.core.errors import InputError
from cnncalc.core.numbers import KB, MILLION, THOUSAND, decimal_text, truncate
from cnncalc.grade import (
    CONSISTENT,
    IGNORED,
    LAYER,
    MAX_SHEET_BYTES,
    MISSING,
    RIGHT,
    UNPARSEABLE,
    WRONG,
    GradedColumn,
    Options,
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

from .conftest import ROOT


def report_of(name: str):
    path, display = bundled.resolve(name)
    return analyze(build(load_spec(path, display)))


@pytest.fixture(scope="module")
def alexnet():
    return report_of("alexnet")


def grade_csv_text(report, text: str, rtol=None, graph=None, **options):
    return grade(report, parse_csv_sheet(text, "answers.csv"), rtol, graph=graph, options=Options(**options))


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
                                         ("17x9", (17, 9)), ("(7, 7)", (7, 7)), ("(7, 7]", None), ("55x", None),
                                         ("big", None)])
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


def test_rtol_zero_accepts_rounding_at_the_written_precision_only():
    # the lecture's own rounded values are right under any tolerance (the key must grade right);
    # truncation gives way to the tolerance: 1134.3 truncates 1134.375 and is 0.075 away
    assert is_right(parse_number("1134.375", "memory", KB), Fraction(1_161_600), Fraction(0))
    assert is_right(parse_number("1134", "memory", KB), Fraction(1_161_600), Fraction(0))
    assert is_right(parse_number("1134.4", "memory", KB), Fraction(1_161_600), Fraction(0))
    assert not is_right(parse_number("1134.3", "memory", KB), Fraction(1_161_600), Fraction(0))
    assert not is_right(parse_number("1134.3", "memory", KB), Fraction(1_161_600), truncation=False)
    # pool1's 0.629856 M: the key writes 1 (rounded), so '1' is right at rtol 0.5; '0' is 100% off
    assert is_right(parse_number("1", "macs", MILLION), Fraction(629_856), Fraction(1, 2))
    assert not is_right(parse_number("0", "macs", MILLION), Fraction(629_856), Fraction(1, 2))


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


@pytest.mark.parametrize("header, key, unit", [
    ("Params (M)", "params_m", MILLION), ("GFLOPs", "macs_g", 10**9), ("GMACs", "macs_g", 10**9),
    ("Mem (MB)", "memory_mb", KB * KB), ("Memory [MiB]", "memory_mb", KB * KB), ("MACs (k)", "macs_k", THOUSAND),
    ("Mem (kB)", "memory_kb", KB), ("Mem (GB)", "memory_gb", KB**3), ("MFLOPs", "macs_m", MILLION),
])
def test_headers_with_units_are_read_in_their_unit(header, key, unit):
    kind = classify_header(header)
    assert (kind.key, kind.unit) == (key, unit)


@pytest.mark.parametrize("header, flops, note", [
    ("Mem (kB)", False, "kB read as KB = 1024 bytes"),  # told, never silent; kb_1000 diagnoses 1000s
    ("Mem (MB)", False, "MB read as 1024 KB"),
    ("Mem (MiB)", False, ""),  # unambiguous
    ("Mem (KB)", False, ""),
    ("MFLOPs", True, "read as multiply-adds"),  # the lecture's 'flops'; 2x is diagnosed as flops_2x
    ("MACs (M)", False, ""),
])
def test_ambiguous_header_units_are_noted(header, flops, note):
    kind = classify_header(header)
    assert kind.flops is flops and (note in kind.note if note else kind.note == "")


@pytest.mark.parametrize("header", ["Params (MB)", "Flops (GB)", "Mem (bn)", "Params (T)"])
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
total,,,"3,090","62,378","1,136"
"""


def test_a_right_sheet(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY)
    # 12 layers x 5 columns, less H'/W' of the 4 vector rows (flatten, fc6, fc7, fc8) = 56 cells, and
    # the total row's memory, params and MACs: 59
    assert (result.score, result.max_score) == (59, 59) and result.all_right
    assert not result.problems and not result.notes
    assert [(s.layer, s.score, s.max_score) for s in result.layer_scores()][-2:] == [("fc8", 4, 4), ("total", 3, 3)]


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
    assert (result.score, result.max_score) == (59 - 6, 59)
    assert all(c.given is None for c in result.cells if c.verdict == MISSING)


def test_missing_columns_score_what_they_miss(alexnet):
    # the v1 loophole: 'Layer,C_out' scored 12/12; graded against the assignment it is 12/59
    result = grade_csv_text(alexnet, "Layer,C_out\n" + "".join(
        f"{line.split(',')[0]},{line.split(',')[1]}\n" for line in ALEXNET_KEY.splitlines()[1:13]))
    assert (result.score, result.max_score, result.count(MISSING)) == (12, 59, 47)
    assert not result.all_right


def test_only_given_grades_the_sheets_columns(alexnet):
    result = grade_csv_text(alexnet, "Layer,Params (k)\nconv1,35\n", only_given=True)
    assert (result.score, result.max_score) == (1, 12)  # the other 11 layers' params are missing
    assert {c.column for c in result.cells} == {"params_k"}


def test_the_total_row_is_part_of_the_assignment(alexnet):
    without = "\n".join(ALEXNET_KEY.splitlines()[:-1]) + "\n"
    assert [c.verdict for c in grade_csv_text(alexnet, without).cells[-3:]] == [MISSING] * 3
    assert "total" not in {c.layer for c in grade_csv_text(alexnet, without, only_given=True).cells}
    # totals: 3,163,808 bytes = 3089.656 KB; 62,378,344 params = 62,378.344 k; 1,136,358,272 MACs
    result = grade_csv_text(alexnet, without + 'Total,,,"3,090","62,378","1,136"\n', only_given=True)
    assert [(c.layer, c.column, c.verdict) for c in result.cells[-3:]] == [
        ("total", "memory_kb", RIGHT), ("total", "params_k", RIGHT), ("total", "macs_m", RIGHT)]
    assert grade_csv_text(alexnet, without + 'totals,,,,"62,378",1136\n').cells[-3].verdict == MISSING


def test_cells_where_nothing_is_due(alexnet):
    text = ALEXNET_KEY.replace("fc6,4096,,", "fc6,4096,1,").replace("fc7,4096,,", "fc7,4096,-,")
    result = grade_csv_text(alexnet, text.replace("total,,", "total,1000,"))
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
                        (15, "no layer 'input' in alexnet", None)]
    assert verdicts(result)["fc7", "params_k"] == MISSING  # not guessed: the TA fixes the name
    assert not result.all_right and result.score == 59 - 4  # fc7's C_out, Mem, Params, MACs


def test_names_match_ignoring_case(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY.replace("conv1,", " CONV1 ,"))
    assert result.all_right


def test_duplicate_rows_grade_the_first(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY + "conv1,1,1,1,1,1\n")
    assert [(p.line, p.message) for p in result.problems] == [
        (15, "duplicate row for 'conv1' (first at line 2); only the first is graded")]
    assert result.score == result.max_score and not result.all_right  # a problem is not all right


def test_a_row_without_a_name(alexnet):
    result = grade_csv_text(alexnet, ALEXNET_KEY + ",96,55,,,\n,,,,,\n")
    assert [(p.line, p.message) for p in result.problems] == [(15, "a row with answers but no layer name")]


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
    # graded as the assignment's columns, each in the sheet's own unit
    assert {c.column for c in result.cells} == {"c_out", "hw_out", "memory_kb", "params_k", "macs_m"}
    assert {c.header for c in result.cells} == {"c_out", "h_out", "params", "macs", "memory_bytes"}
    assert result.cells[-1].layer == "total"
    only = grade_csv_text(alexnet, to_csv(alexnet), only_given=True)
    assert {c.column for c in only.cells} == {"c_out", "hw_out", "params", "macs", "memory_bytes"}


def test_two_columns_for_one_quantity():
    with pytest.raises(InputError, match="both give memory"):
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
    ("conv1: {Params (MB): 1}\n", "cannot be graded"),
    ("conv1: {params_k: 1, params: 1000}\n", "both give params"),
    ("conv1: {c_out: 96, memory_kb: 1,134}\n", "reads as memory_kb: 1 and a key 134"),
    ("student: x\npoints: many\nconv1: {c_out: 1}\n", "points must be a number"),
    ("weight: {lots: 2}\nconv1: {c_out: 1}\n", "not a graded column"),
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
        "utf16.csv": ("Layer,C_out\nconv1,96\n".encode("utf-16-le"), "binary data"),  # no byte order mark
        "utf16bad.csv": (b"\xff\xfe" + b"L\x00" + b"\x00\xdc", "not UTF-16"),  # a lone surrogate
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


# --- grading v2: numbers, sheets and units --------------------------------------------------------

PLAIN_KEY = re.sub(r'"(\d+),(\d+)"', r"\1\2", ALEXNET_KEY)  # no thousands separators: 1134, 37753


@pytest.mark.parametrize("text, quantity, unit, value", [
    ("1134,4", "memory", KB, Fraction(11344, 10) * KB),
    ("0,6", "macs", MILLION, 600_000),
    ("1.134,4", "memory", KB, Fraction(11344, 10) * KB),  # '.' groups thousands
    ("1 134,375", "memory", KB, 1_161_600),  # 1134.375 KB = 1,161,600 bytes
    ("37.753", "params", THOUSAND, 37_753_000),
    ("1,5 MB", "memory", KB, Fraction(15, 10) * KB * KB),
])
def test_decimal_commas(text, quantity, unit, value):
    assert parse_number(text, quantity, unit, decimal_comma=True).value == value


def test_a_decimal_comma_sheet_gets_a_hint_without_the_option(alexnet):
    # a European export: semicolons, '.' grouping thousands, ',' before the decimals
    text = ("Layer;C_out;H'/W';Mem (KB);Params (k);MACs (M)\nconv1;96;55;1.134,4;34,9;105,4\n"
            "pool1;96;27;273,4;0;0,6\nfc6;4096;;16,0;37.752,8;37,7\n")
    result = grade_csv_text(alexnet, text, only_given=True)
    assert verdicts(result)["conv1", "memory_kb"] == UNPARSEABLE
    assert "cells such as '0,6' look like decimal commas: grade with --decimal-comma" in result.notes
    european = grade_csv_text(alexnet, text, only_given=True, decimal_comma=True)
    # 1134.375 -> 1134.4, 34.944 -> 34.9, 105.4152 -> 105.4, 273.375 -> 273.4, 0.63 -> 0.6, 37,752.832 -> 37,752.8
    assert {cell.verdict for cell in european.cells if cell.layer in ("conv1", "pool1", "fc6")} == {RIGHT}
    assert not european.notes


def test_utf16_with_a_byte_order_mark_is_read(tmp_path, alexnet):
    path = tmp_path / "excel.txt"
    path.write_bytes(PLAIN_KEY.replace(",", "\t").encode("utf-16"))  # a byte order mark, little-endian
    assert grade(alexnet, read_sheet(path)).all_right
    path.write_bytes(b"\xfe\xff" + PLAIN_KEY.replace(",", ";").encode("utf-16-be"))
    assert grade(alexnet, read_sheet(path)).all_right


@pytest.mark.parametrize("text, student", [
    ("# student: Alice Smith\n" + ALEXNET_KEY, "Alice Smith"),
    ("Student: Bob, Li\n" + ALEXNET_KEY, "Bob"),  # a title row: the first cell that names one
    ("student,Carol\n" + ALEXNET_KEY, "Carol"),
    (ALEXNET_KEY + "student:,Dave\n", "Dave"),
    (ALEXNET_KEY, "answers"),  # the file name says who
])
def test_who_wrote_the_sheet(alexnet, text, student):
    result = grade_csv_text(alexnet, text)
    assert result.student == student and result.all_right


def test_weight_and_points_rows(alexnet):
    sheet = parse_csv_sheet("Layer,C_out,Mem (KB)\nweight,1,2.5\nconv1,96,1134\npoints,20\n", "a.csv")
    assert sheet.weights == {"c_out": 1, "memory_kb": Fraction(5, 2)} and sheet.points == 20
    assert [row.layer for row in sheet.rows] == ["conv1"]
    yaml_sheet = parse_yaml_sheet("points: 20\nweight: {memory_kb: 2}\nstudent: Eve\nconv1: {c_out: 96}\n", "a.yaml")
    assert (yaml_sheet.points, yaml_sheet.weights, yaml_sheet.student) == (20, {"memory_kb": 2}, "Eve")
    with pytest.raises(InputError, match="the weight of memory_kb must be a number"):
        parse_csv_sheet("Layer,C_out,Mem (KB)\nweight,1,lots\n", "a.csv")
    with pytest.raises(InputError, match="points must be positive"):
        parse_csv_sheet("Layer,C_out\nconv1,96\npoints,0\n", "a.csv")


def test_flow_style_thousands_are_a_located_error():
    with pytest.raises(InputError) as caught:
        parse_yaml_sheet("# x\nconv1: {c_out: 96, memory_kb: 1,134, params_k: 37,753,000}\n", "a.yaml")
    assert caught.value.render() == (
        "a.yaml:2:33: error: 'memory_kb: 1,134' in a flow mapping {...} reads as memory_kb: 1 and a key 134\n"
        '  hint: quote the number, memory_kb: "1,134", or write it without the comma')
    with pytest.raises(InputError, match="'params_k: 37,753,000' in a flow mapping"):
        parse_yaml_sheet("conv1: {params_k: 37,753,000}\n", "a.yaml")
    # in block style the comma is part of the value
    assert parse_yaml_sheet("conv1:\n  memory_kb: 1,134\n", "a.yaml").rows[0].values == {"memory_kb": "1,134"}


def _workbook(tmp_path, rows, formats=None):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for ref, number_format in (formats or {}).items():
        sheet[ref].number_format = number_format
    path = tmp_path / "answers.xlsx"
    book.save(path)
    return path


def test_xlsx_sheets(tmp_path, alexnet):
    path = _workbook(tmp_path, [["HW 3"], ["Layer", "C_out", "Mem (KB)", "Params (k)"], ["conv1", 96, 1134.4, 35.0],
                                ["pool1", 96.0, "=B4*2", 0]], {"C3": "0.0", "D3": "0.00"})
    sheet = read_sheet(path)
    # numbers at their cell's format ('0.00': two decimals), whole floats as whole numbers, a formula
    # never evaluated (a file saved by openpyxl has no cached value for it: blank)
    assert [row.values for row in sheet.rows] == [{"c_out": "96", "memory_kb": "1134.4", "params_k": "35.00"},
                                                  {"c_out": "96", "memory_kb": "", "params_k": "0"}]
    found = verdicts(grade(alexnet, sheet, options=Options(only_given=True)))
    assert found["conv1", "params_k"] == WRONG  # 35.00 claims two decimals: 34.944 is 34.94
    assert found["conv1", "memory_kb"] == RIGHT and found["pool1", "memory_kb"] == MISSING


def test_xlsx_without_openpyxl_says_how_to_get_it(tmp_path, monkeypatch):
    path = tmp_path / "answers.xlsx"
    path.write_bytes(b"PK\x03\x04")
    monkeypatch.setitem(__import__("sys").modules, "openpyxl", None)
    with pytest.raises(InputError, match=r"reading \.xlsx sheets needs openpyxl") as caught:
        read_sheet(path)
    assert "pip install 'cnncalc[xlsx]'" in caught.value.render()


def test_hostile_workbooks(tmp_path):
    pytest.importorskip("openpyxl")
    import zipfile

    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"Layer,C_out\nconv1,96\n")
    with pytest.raises(InputError, match=r"not a readable \.xlsx workbook"):
        read_sheet(fake)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"a" * (20 * 1024 * 1024))  # 20 MiB of XML in a few KB
    assert bomb.stat().st_size < MAX_SHEET_BYTES
    with pytest.raises(InputError, match="the workbook unpacks to 20,971,520 bytes"):
        read_sheet(bomb)
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    with pytest.raises(InputError, match=r"not a readable \.xlsx workbook"):
        read_sheet(broken)


# --- grading v2: error carried forward, diagnoses, points ------------------------------------------


@pytest.fixture(scope="module")
def net():
    """AlexNet's graph and report: what the CLI grades against."""
    from cnncalc.api import load_graph

    graph, _ = load_graph("alexnet")
    return graph, analyze(graph)


def edited(report, changes: dict, drop: tuple = ()) -> str:
    """The lecture key of `report` as a CSV sheet, with cells {(layer, header): text} changed."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(answer_sheet_csv(report, key=True))))
    header = rows[0]
    for (layer, column), text in changes.items():
        row = next(r for r in rows if r[0] == layer)
        row[header.index(column)] = text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [[cell for i, cell in enumerate(row) if header[i] not in drop] for row in rows])
    return out.getvalue()


def graded(net, changes: dict, drop: tuple = (), **options):
    graph, report = net
    return grade(report, parse_csv_sheet(edited(report, changes, drop), "sheet.csv"), graph=graph,
                 options=Options(**options))


def cells_of(result) -> dict:
    return {(c.layer, c.column): c for c in result.cells}


def mistakes(result) -> list[str]:
    return [d.mistake for d in result.diagnoses]


def test_the_key_is_right_and_names_nothing(net):
    result = graded(net, {})
    assert result.all_right and not result.diagnoses and result.score == 59


def test_a_wrong_output_size_is_carried_forward(net):
    # conv1 with pad 2: (227 - 11 + 2*2)/4 + 1 = 56; memory 96*56*56*4/1024 = 1176 KB and MACs
    # 96*56*56*363 = 109,283,328 follow from it; totals 3,206,432 B = 3,131.28 KB, 1,140,226,400 MACs
    result = graded(net, {("conv1", "H'/W'"): "56", ("conv1", "Mem (KB)"): "1,176", ("conv1", "MACs (M)"): "109",
                          ("total", "Mem (KB)"): "3,131", ("total", "MACs (M)"): "1,140"})
    cells = cells_of(result)
    assert cells["conv1", "hw_out"].verdict == WRONG and cells["conv1", "hw_out"].because == ()
    for key in (("conv1", "memory_kb"), ("conv1", "macs_m"), ("total", "memory_kb"), ("total", "macs_m")):
        assert cells[key].verdict == CONSISTENT and cells[key].because == ("conv1:hw_out",)
    assert (result.count(RIGHT), result.count(CONSISTENT), result.count(WRONG)) == (54, 4, 1)
    assert result.score == 58 and not result.all_right


def test_carry_forward_credit(net):
    changes = {("conv1", "H'/W'"): "56", ("conv1", "Mem (KB)"): "1,176", ("conv1", "MACs (M)"): "109"}
    # 56 right (the totals too: they are the key's), conv1's memory and MACs consistent
    assert graded(net, changes, carry_forward_credit=Fraction(1, 2)).score == 56 + Fraction(1, 2) * 2
    assert graded(net, changes, carry_forward_credit=Fraction(0)).score == 56


def test_a_channel_mistake_carries_into_the_next_layers_parameters(net):
    # conv2 with 255 filters: pool2 keeps 255 channels, conv3 reads 255: 384*255*9 + 384 = 881,664 params
    result = graded(net, {("conv2", "C_out"): "255", ("pool2", "C_out"): "255", ("conv3", "Params (k)"): "882"})
    cells = cells_of(result)
    assert cells["conv2", "c_out"].verdict == WRONG
    assert cells["pool2", "c_out"].verdict == CONSISTENT and cells["pool2", "c_out"].because == ("conv2:c_out",)
    assert cells["conv3", "params_k"].verdict == CONSISTENT
    assert cells["conv3", "c_out"].verdict == RIGHT  # its own filters: 384 whatever its input


def test_what_does_not_follow_from_the_students_answers_stays_wrong(net):
    # conv2's H' 26 is no consequence of a right pool1 (27): wrong, and so is a memory of 999
    result = graded(net, {("conv2", "H'/W'"): "26", ("conv2", "Mem (KB)"): "999"})
    cells = cells_of(result)
    assert cells["conv2", "hw_out"].verdict == WRONG and cells["conv2", "memory_kb"].verdict == WRONG
    # pool2 from conv2's 26: (26 - 3)/2 + 1 = 12.5 -> 12; the key's 13 is still right
    assert cells["pool2", "hw_out"].verdict == RIGHT


def test_a_total_is_right_as_the_sum_of_rounded_values(net):
    # the key's MACs sum to 105 + 1 + 448 + 0.4 + 150 + 224 + 150 + 0.08 + 0 + 38 + 17 + 4 = 1,137.48,
    # while the true total 1,136.358272 rounds to 1,136: both are right when every value summed is
    assert cells_of(graded(net, {("total", "MACs (M)"): "1,137"}))["total", "macs_m"].verdict == RIGHT
    assert cells_of(graded(net, {("total", "MACs (M)"): "1,138"}))["total", "macs_m"].verdict == WRONG
    # with one of them wrong (106 for 105.4), 1,137 follows from the student's own column: consistent
    changed = graded(net, {("total", "MACs (M)"): "1,137", ("conv1", "MACs (M)"): "106"})
    assert cells_of(changed)["total", "macs_m"].verdict == CONSISTENT


def test_without_the_graph_nothing_is_carried(net):
    graph, report = net
    text = edited(report, {("conv1", "H'/W'"): "56", ("conv1", "Mem (KB)"): "1,176"})
    result = grade(report, parse_csv_sheet(text, "a.csv"))
    assert cells_of(result)["conv1", "memory_kb"].verdict == WRONG


def test_flops_2x(net):
    doubled = {("conv1", "MACs (M)"): "211", ("conv2", "MACs (M)"): "896", ("fc6", "MACs (M)"): "75",
               ("total", "MACs (M)"): "2,273"}  # 2 x 105.4152, 2 x 447.8976, 2 x 37.748736, 2 x 1136.36
    result = graded(net, doubled)
    assert mistakes(result) == ["flops_2x"]
    assert set(result.diagnoses[0].cells) == {"conv1:macs_m", "conv2:macs_m", "fc6:macs_m", "total:macs_m"}
    assert "you counted FLOPs" in result.diagnoses[0].message
    assert mistakes(graded(net, {("conv1", "MACs (M)"): "211"})) == []  # one doubled cell is no habit


def test_kb_1000(net):
    # 1,161,600 / 1000 = 1,161.6 -> 1,162; 746,496 / 1000 = 746; 36,864 / 1000 = 37
    result = graded(net, {("conv1", "Mem (KB)"): "1,162", ("conv2", "Mem (KB)"): "746", ("pool5", "Mem (KB)"): "37"})
    assert mistakes(result) == ["kb_1000"] and "1,000 where the lecture's KB is 1024 bytes" in result.diagnoses[0].message


def test_kb_1000_in_megabytes(net):
    # a Mem (MB) column divided by 10^6: 1,161,600 B = 1.16 MB (1.11 MiB), 746,496 B = 0.75 MB (0.71)
    sheet = "Layer,Mem (MB)\nconv1,1.16\nconv2,0.75\npool1,0.27\n"
    graph, report = net
    result = grade(report, parse_csv_sheet(sheet, "a.csv"), graph=graph, options=Options(only_given=True))
    assert mistakes(result) == ["kb_1000"] and "1,000,000 where the lecture's MB is 1024 × 1024" in \
        result.diagnoses[0].message


def test_wrong_unit(net):
    # bytes in the KB column: 1,161,600 and 279,936 (x 1024)
    result = graded(net, {("conv1", "Mem (KB)"): "1,161,600", ("pool1", "Mem (KB)"): "279,936"})
    assert mistakes(result) == ["wrong_unit"] and "1,024 times the true ones" in result.diagnoses[0].message


def test_no_bias(net):
    # fc6 9216*4096 = 37,748,736 (37,749 k), fc7 16,777 k, fc8 4,096 k; conv2's 614 (614,400 without
    # its 256 biases) is right by truncation of 614.656 and named with them
    result = graded(net, {("fc6", "Params (k)"): "37,749", ("fc7", "Params (k)"): "16,777",
                          ("fc8", "Params (k)"): "4,096", ("conv2", "Params (k)"): "614"})
    assert mistakes(result) == ["no_bias"]
    assert {"conv2:params_k", "fc6:params_k", "fc8:params_k"} <= set(result.diagnoses[0].cells)
    assert "C_in × C_out + C_out" in result.diagnoses[0].message
    # one slip that happens to equal a bias-free count, among rows that keep their bias, is no habit
    assert mistakes(graded(net, {("fc8", "Params (k)"): "4,096"})) == []


def test_padding_names_the_pad_that_reproduces_the_numbers(net):
    result = graded(net, {("conv1", "H'/W'"): "56", ("conv1", "Mem (KB)"): "1,176"})
    (diagnosis,) = result.diagnoses
    assert diagnosis.mistake == "padding"
    assert diagnosis.message.startswith("conv1: your H'/W' 56 is what pad 2 gives: H' = W' = (227 - 11 + 2·2)/4 + 1 = "
                                        "56; the layer has pad 0: (227 - 11 + 2·0)/4 + 1 = 55")
    assert diagnosis.cells == ("conv1:hw_out", "conv1:memory_kb")
    # 70 is no padding's output: (227 - 11 + 2P)/4 + 1 = 70 needs P = 30, far beyond the 11x11 kernel
    assert mistakes(graded(net, {("conv1", "H'/W'"): "70"})) == []


def test_ceil_mode():
    from cnncalc.api import load_graph

    graph, _ = load_graph("googlenet_stem")
    report = analyze(graph)
    # pool1 floors (112 - 3)/2 + 1 = 55.5 to 55 where the stem rounds up to 56
    text = edited(report, {("pool1", "H'/W'"): "55"})
    result = grade(report, parse_csv_sheet(text, "a.csv"), graph=graph)
    assert mistakes(result) == ["ceil_mode"]
    assert "what rounding down (floor) gives" in result.diagnoses[0].message


def test_free_pooling_when_the_zeros_are_wrong():
    from cnncalc.api import load_graph

    graph, _ = load_graph("googlenet_stem")
    report = analyze(graph)
    # pool1: 64*56*56*9 = 1,806,336 (1.8 M), pool2 1.35 M: 0 is neither rounded nor truncated
    text = edited(report, {("pool1", "MACs (M)"): "0", ("pool2", "MACs (M)"): "0"})
    result = grade(report, parse_csv_sheet(text, "a.csv"), graph=graph)
    assert mistakes(result) == ["free_pooling"]
    assert "(64 × 56 × 56) × (3 × 3) = 1,806,336" in result.diagnoses[0].message


def test_free_pooling_or_truncation(net):
    zeros = {("pool1", "MACs (M)"): "0", ("pool2", "MACs (M)"): "0", ("pool5", "MACs (M)"): "0"}
    # rounding elsewhere (the key's 448 for 447.9): the zeros are not truncation
    rounding = graded(net, zeros)
    assert rounding.all_right and mistakes(rounding) == ["free_pooling"]
    assert "accepted as truncation here" in rounding.diagnoses[0].message
    # truncating elsewhere too (447 for 447.9, 37,752 for 37,752.832) while rounding others: the zeros
    # may be truncation, and neither habit is clear enough to name (the corpus's mallory truncates all)
    mixed = graded(net, {**zeros, ("conv2", "MACs (M)"): "447", ("fc6", "Params (k)"): "37,752"})
    assert mixed.all_right and mistakes(mixed) == []
    # under --no-truncation the truncated cells are wrong, and that is the reason given
    strict = graded(net, {("conv2", "MACs (M)"): "447"}, truncation=False)
    assert cells_of(strict)["conv2", "macs_m"].verdict == WRONG and mistakes(strict) == ["truncation"]


def test_swapped_columns(net):
    swapped = {(layer, "Params (k)"): macs for layer, macs in (("conv1", "105"), ("conv2", "448"), ("fc6", "38"))}
    swapped.update({(layer, "MACs (M)"): params for layer, params in (("conv1", "35"), ("conv2", "615"),
                                                                       ("fc6", "37,753"))})
    result = graded(net, swapped)
    assert mistakes(result) == ["swapped_columns"] and len(result.diagnoses[0].cells) == 6


def test_hwc_order(net):
    swapped = {("conv1", "C_out"): "55", ("conv1", "H'/W'"): "96", ("conv2", "C_out"): "27", ("conv2", "H'/W'"): "256"}
    assert mistakes(graded(net, swapped)) == ["hwc_order"]
    three = graded(net, {("conv1", "H'/W'"): "55x55x96", ("pool1", "H'/W'"): "27x27x96"})
    # the whole shape holds the right H'/W' (55 × 55 beside the true 96 channels): right, the order named
    assert mistakes(three) == ["hwc_order"] and cells_of(three)["conv1", "hw_out"].verdict == RIGHT
    assert "the lecture's order is C × H × W: C_out 96, H'/W' 55" in three.diagnoses[0].message


def test_weights_and_points(net):
    from cnncalc.grade import lecture_assignment

    graph, report = net
    text = edited(report, {("conv1", "Mem (KB)"): "1,135"})  # one memory cell wrong
    assignment = lecture_assignment().with_settings({"memory_kb": Fraction(2)}, Fraction(10))
    result = grade(report, parse_csv_sheet(text, "a.csv"), graph=graph, assignment=assignment)
    # 13 memory cells (12 layers and the total) weigh 2: 59 + 13 = 72; one of them is wrong
    assert (result.score, result.max_score) == (70, 72)
    assert result.points == Fraction(10 * 70, 72) and result.max_points == 10


def test_the_assignment_from_a_template(net):
    from cnncalc.grade import assignment_from_sheet

    graph, report = net
    template = parse_csv_sheet("Layer,C_out,Params (k)\nweight,1,3\nconv1,,\nfc6,,\npoints,8\n", "t.csv")
    assignment = assignment_from_sheet(template, report)
    assert (assignment.rows, [c.key for c in assignment.columns]) == (("conv1", "fc6"), ["c_out", "params_k"])
    result = grade(report, parse_csv_sheet(edited(report, {}), "a.csv"), graph=graph, assignment=assignment)
    assert [(c.layer, c.column) for c in result.cells] == [("conv1", "c_out"), ("conv1", "params_k"),
                                                         ("fc6", "c_out"), ("fc6", "params_k")]
    assert (result.score, result.max_score, result.points) == (8, 8, 8)
    with pytest.raises(InputError, match="the assignment names no layer 'conv9'") as caught:
        assignment_from_sheet(parse_csv_sheet("Layer,C_out\nconv9,\n", "t.csv"), report)
    assert "did you mean" in caught.value.render()


def test_rtol_grades_the_tools_own_key_right(net):
    # the key writes pool1's 0.629856 M as 1 (rounded); v1 marked it wrong under --rtol even at 0.5
    for rtol in (Fraction(0), Fraction(1, 100), Fraction(1, 2)):
        assert graded(net, {}, rtol=rtol).all_right


# --- the corpus -------------------------------------------------------------------------------------

CORPUS = ROOT / "tests" / "data" / "sheets"


def _manifest() -> dict:
    import yaml

    return yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))


def test_the_corpus_is_large_enough_and_every_sheet_is_described():
    entries = _manifest()
    files = {path.relative_to(CORPUS).as_posix() for path in CORPUS.rglob("*") if path.is_file()} - {"manifest.yaml"}
    described = {entry.get("file", name) for name, entry in entries.items()}
    assert files == described and len(files) >= 25
    assert all(entry["mistake"] for entry in entries.values())


@pytest.mark.parametrize("name, entry", list(_manifest().items()), ids=list(_manifest()))
def test_corpus(name, entry):
    from cnncalc.api import load_graph

    if entry.get("needs"):
        pytest.importorskip(entry["needs"])
    graph, _ = load_graph(entry["spec"])
    report = analyze(graph)
    options = Options(decimal_comma="--decimal-comma" in entry.get("options", []))
    path = CORPUS / entry.get("file", name)
    if "error" in entry:
        with pytest.raises(InputError) as caught:
            read_sheet(path, f"{name}")
        assert entry["error"] in caught.value.render()
        return
    result = grade(report, read_sheet(path, name), graph=graph, options=options)
    score, maximum = (int(part) for part in entry["score"].split("/"))
    assert (result.score, result.max_score) == (score, maximum)
    counts = {verdict: entry.get("counts", {}).get(verdict, 0) for verdict in (CONSISTENT, WRONG, MISSING, UNPARSEABLE)}
    assert {verdict: result.count(verdict) for verdict in counts} == counts
    assert result.count(RIGHT) == len(result.cells) - sum(counts.values())
    if "mistakes" in entry:
        assert mistakes(result) == entry["mistakes"]
    for cell, verdict in entry.get("cells", {}).items():
        layer, column = cell.split(":")
        assert cells_of(result)[layer, column].verdict == verdict, cell
    assert result.problem_count == entry.get("problems", 0)
    if "student" in entry:
        assert result.student == entry["student"]
