"""A corpus of hostile answer sheets, each graded by the command line (tests/clirun.py), with a
time limit and a memory limit: exit code 2 for a file that cannot be graded, 1 for a readable sheet
that is simply wrong; a message naming the file (located where the grader can); never a traceback,
a signal, a hang or raw control characters in the output.

The sheets are the files of tests/data/hostile_sheets/ (written by make_corpus.py there), plus the
ones generated below: too large to keep in git, or named what no checkout should hold. The grader is
tested as a black box: only the exit code and the shape of the messages are asserted."""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnncalc.core.text import file_name, printable

from .clirun import Job, run_batch

pytestmark = pytest.mark.slow  # CI runs it with the whole suite

CORPUS = Path(__file__).resolve().parent / "data" / "hostile_sheets"
TIMEOUT_S = 60  # generous: a loaded 2-core machine; a sheet takes about a second
MEMORY_BYTES = 1 << 30  # address space of each run: the bound
MAX_OUTPUT = 200_000  # characters of stdout + stderr: every echo is bounded
PWNED = Path("/tmp/cnncalc_pwned")

CANNOT_GRADE, WRONG = 2, 1
# The exit code of each sheet of the corpus folder: 2 (cannot be graded) or 1 (readable, and wrong).
EXPECTED: dict[str, int | tuple[int, ...]] = {
    **dict.fromkeys([
        "ctrl_esc_in_layer.csv", "ctrl_esc_in_values.csv", "ctrl_esc_in_header.csv", "ctrl_bell_backspace.csv",
        "ctrl_bidi_override.csv", "ctrl_zero_width.csv", "ctrl_c1_controls.csv", "ctrl_line_separator.csv",
        "formula_cells.csv", "formula_layer.csv", "formula_dde.csv",
        "number_nan_inf.csv", "number_exponent_bomb.csv", "number_huge_digits.csv", "number_unicode_digits.csv",
        "number_hex_underscore.csv", "number_units_garbage.csv", "number_negative_zero.csv", "number_fractions.csv",
        "number_long_decimal.csv", "number_null_words.csv", "number_hw_forms.csv",
        "encoding_utf8_bom_wrong.csv",
        "csv_header_only.csv", "csv_unterminated_quote.csv", "csv_quoted_newlines.csv", "csv_semicolons.csv",
        "csv_tabs.csv", "csv_cr_only.csv", "csv_ragged_rows.csv", "csv_duplicate_rows.csv", "csv_unknown_layers.csv",
        "yaml_ctrl_chars.yaml", "yaml_nan_inf.yaml", "yaml_wrong_answers.yml", "yaml_formula_values.yaml",
    ], WRONG),
    **dict.fromkeys([
        "ctrl_nul_byte.csv", "formula_header.csv",
        "encoding_latin1.csv", "encoding_overlong_utf8.csv", "encoding_lone_surrogate.csv",
        "binary_png.csv", "binary_zip.csv", "binary_random.csv", "binary_fake.xlsx",
        "csv_empty.csv", "csv_blank_lines.csv", "csv_duplicate_headers.csv", "csv_too_many_columns.csv",
        "csv_no_layer_column.csv", "csv_unknown_columns.csv", "csv_long_header.csv",
        "yaml_python_object.yaml", "yaml_python_name.yaml", "yaml_python_module.yaml", "yaml_custom_tags.yaml",
        "yaml_unknown_tag.yaml", "yaml_billion_laughs.yaml", "yaml_alias_chain.yaml", "yaml_merge_keys.yaml",
        "yaml_deep_block.yaml", "yaml_deep_flow.yaml", "yaml_deep_mapping_flow.yaml", "yaml_explicit_keys.yaml",
        "yaml_scalar.yaml", "yaml_list.yaml", "yaml_null.yaml", "yaml_empty.yaml", "yaml_syntax_error.yaml",
        "yaml_tabs.yaml", "yaml_duplicate_keys.yaml", "yaml_multi_document.yaml", "yaml_huge_int.yaml",
        "yaml_wrong_types.yaml", "yaml_long_key.yaml", "yaml_flow_mapping_key.yaml", "yaml_flow_list_key_before_number.yaml",
        "yaml_raw_escape_in_comment.yaml", "yaml_booleans.yaml", "yaml_latin1.yaml", "yaml_nul.yaml",
    ], CANNOT_GRADE),
    # NUL bytes to a UTF-8 reader; a reader that detects UTF-16 grades it (one right row: wrong)
    "encoding_utf16.csv": (CANNOT_GRADE, WRONG),
}

HEAD = "Layer,C_out,H'/W',Mem (KB),Params (k),MACs (M)\n"
WRONG_ROW = "conv1,69,55,1134,35,105\n"


@dataclass(frozen=True)
class Case:
    name: str  # the file name as given on the command line (relative to the folder it runs in)
    expected: int | tuple[int, ...]
    folder: Path
    options: tuple[str, ...] = ()


def _generated(folder: Path) -> list[Case]:
    """Sheets written for the run: large, or with names no checkout should hold."""
    folder.mkdir()
    cases = []

    def sheet(name: str | bytes, content: str | bytes, expected: int | tuple[int, ...]) -> None:
        path = os.path.join(os.fsencode(folder), os.fsencode(name))
        with open(path, "wb") as handle:
            handle.write(content.encode() if isinstance(content, str) else content)
        cases.append(Case(os.fsdecode(name), expected, folder))

    sheet("size_too_large.csv", HEAD + WRONG_ROW * 60_000, CANNOT_GRADE)  # 1.4 MB: over the 1 MiB limit
    sheet("size_too_large.yaml", "conv1: {c_out: 96}\n" * 70_000, CANNOT_GRADE)
    sheet("size_too_many_rows.csv", HEAD + WRONG_ROW * 10_001, CANNOT_GRADE)
    sheet("size_field_over_csv_limit.csv", "Layer,C_out\nconv1," + "9" * 200_000 + "\n", CANNOT_GRADE)
    sheet("size_huge_cell.csv", "Layer,C_out\nconv1," + "9" * 100_000 + "\n", WRONG)
    sheet("size_long_line.csv", "Layer,C_out\n" + "conv1," * 20_000 + "\n", CANNOT_GRADE)  # 20,001 columns
    sheet("yaml_explicit_keys_100k.yaml", "? " * 100_000 + "a\n", CANNOT_GRADE)  # libyaml's C stack
    sheet("yaml_deep_flow_200k.yaml", "a: " + "[" * 200_000 + "]" * 200_000 + "\n", CANNOT_GRADE)
    sheet("n" * 246 + ".csv", HEAD + WRONG_ROW, WRONG)  # a 250-character name
    sheet("esc\x1b[2J\x1b[31mname\u202e\u200b.csv", HEAD + WRONG_ROW, WRONG)
    sheet("forged\nerror: everything is fine.csv", HEAD + WRONG_ROW, WRONG)
    sheet("=cmd|' calc'!A0.csv", HEAD + WRONG_ROW, WRONG)
    sheet(":fire: [bold red]markup.csv", HEAD + WRONG_ROW, WRONG)
    sheet(b"not-utf8-\xff\xfe.csv", HEAD + WRONG_ROW, WRONG)
    sheet("-rf.csv", HEAD + WRONG_ROW, WRONG)  # given after '--', so not an option
    (folder / "folder.csv").mkdir()
    cases.append(Case("folder.csv", CANNOT_GRADE, folder))
    os.mkfifo(folder / "fifo.csv")  # reading it would block forever
    cases.append(Case("fifo.csv", CANNOT_GRADE, folder))
    (folder / "zero.csv").symlink_to("/dev/zero")  # never ends
    cases.append(Case("zero.csv", CANNOT_GRADE, folder))
    (folder / "dangling.csv").symlink_to(folder / "missing-target.csv")
    cases.append(Case("dangling.csv", CANNOT_GRADE, folder))
    cases.append(Case("does-not-exist.csv", CANNOT_GRADE, folder))
    cases.append(Case("x" * 5000 + ".csv", CANNOT_GRADE, folder))  # too long for the system: not even a folder
    return cases


def _cases(tmp: Path) -> list[Case]:
    static = sorted(path.name for path in CORPUS.iterdir() if path.suffix != ".py")
    assert sorted(EXPECTED) == static, "every sheet of the corpus needs its expected exit code"
    return [Case(name, EXPECTED[name], CORPUS) for name in static] + _generated(tmp / "generated")


@dataclass(frozen=True)
class Run:
    case: Case
    returncode: int | str | None  # None: it ran past TIMEOUT_S; "raised ...": an exception escaped the CLI
    stdout: str
    stderr: str


def _job(case: Case) -> Job:
    return Job(" ".join((*case.options, case.name)), ["grade", "alexnet", *case.options, "--", case.name],
               str(case.folder), TIMEOUT_S)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Every sheet, graded once, in batches (tests/clirun.py: one process per CPU)."""
    PWNED.unlink(missing_ok=True)
    cases = _cases(tmp_path_factory.mktemp("hostile"))
    cases += [Case(case.name, case.expected, case.folder, ("--format", "csv")) for case in cases
              if "formula" in case.name or case.name.startswith("=")]
    outcomes = run_batch([_job(case) for case in cases], {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"},
                         MEMORY_BYTES)
    return {key: Run(case, *outcomes[key]) for case in cases for key in [_job(case).key]}


def test_the_corpus_has_at_least_60_sheets(runs):
    assert len({run.case.name for run in runs.values()}) >= 60
    assert sum(1 for run in runs.values() if run.case.folder == CORPUS) >= 60


def test_every_sheet(runs):
    """One assertion per property, over every sheet, with every failure listed at once."""
    failures = []
    for key, run in runs.items():
        problems = _problems(run)
        if problems:
            failures.append(f"{key!a}: {'; '.join(problems)}\n  stderr: {run.stderr[:300]!a}")
    assert not failures, f"{len(failures)} of {len(runs)} sheets misbehave:\n" + "\n".join(failures)


def _problems(run: Run) -> list[str]:
    if run.returncode is None:
        return [f"no answer within {TIMEOUT_S} s"]
    problems = []
    expected = run.case.expected if isinstance(run.case.expected, tuple) else (run.case.expected,)
    if run.returncode not in expected:
        problems.append(f"exit code {run.returncode}, expected {' or '.join(map(str, expected))}"
                        + (" (killed by a signal)" if isinstance(run.returncode, int) and run.returncode < 0 else ""))
    output = run.stdout + run.stderr
    if "Traceback" in output:
        problems.append("a traceback")
    raw = sorted({ch for ch in output if not ch.isprintable() and ch != "\n"})
    if raw:
        problems.append(f"raw characters {raw!r}")
    if len(output) > MAX_OUTPUT:
        problems.append(f"{len(output):,} characters of output")
    shown = file_name(run.case.name)  # as messages name it: at most 200 characters, safe to print
    if run.returncode == CANNOT_GRADE:
        if not re.search(rf"^{re.escape(shown)}(:\d+:\d+)?: error: \S", run.stderr, re.M):
            problems.append(f"no 'error:' line naming {shown!r} (and its line and column, where known)")
    elif shown not in output and printable(run.case.name) not in output:
        problems.append(f"the output does not name {shown!r}")
    return problems


def test_nothing_in_a_sheet_is_executed(runs):
    assert "yaml_python_object.yaml" in runs
    assert not PWNED.exists()


def test_a_forged_line_in_a_file_name_stays_on_its_line(runs):
    run = next(run for run in runs.values() if run.case.name.startswith("forged"))
    assert not any(line.startswith("error: everything is fine") for line in (run.stdout + run.stderr).splitlines())


@pytest.mark.parametrize("name", ["formula_cells.csv", "formula_layer.csv", "formula_dde.csv",
                                  "yaml_formula_values.yaml", "=cmd|' calc'!A0.csv"])
def test_csv_results_escape_every_formula(runs, name):
    run = runs[f"--format csv {name}"]
    assert run.returncode == WRONG, run.stderr
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows[0][0] == "file" and len(rows) > 1
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), row
            assert not re.match(r"-.*[A-Za-z(]", cell), row
