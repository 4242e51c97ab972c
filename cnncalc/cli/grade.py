"""`cnncalc grade`: grade students' answer sheets against a spec (docs/grading.md)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Literal, Optional

import typer

from .app import OUTPUT, SET, SPEC, app, emit, finite, input_files, reporting_errors, set_values

SHEET_SUFFIXES = (".csv", ".tsv", ".txt", ".yaml", ".yml", ".xlsx", ".xlsm")
STDOUT = "-"


@app.command("grade")
def grade(
    spec: str = SPEC,
    answers: Optional[list[Path]] = typer.Argument(
        # readable=False: cnncalc's reader says why a sheet cannot be read, located, and the others are graded
        None, help="Answer sheets (CSV, YAML or .xlsx), or folders of them.", show_default=False, readable=False),
    format: Literal["table", "json", "csv", "yaml"] = typer.Option(
        "table", "--format", "-f",
        help="table, json or csv for results; csv (the default) or yaml for --template/--key."),
    assignment: Optional[Path] = typer.Option(
        None, "--assignment", "-a", metavar="FILE", readable=False,
        help="The template or key the class was given: its rows and columns are graded (and its weight and "
        "points rows). Default: every layer and the total, in the lecture table's five columns."),
    only_given: bool = typer.Option(
        False, "--only-given", help="Grade only the columns (and the total row) each sheet has: partial exercises."),
    points: Optional[float] = typer.Option(
        None, "--points", min=0.0, callback=finite("--points"),
        help="Scale each sheet's score to this many points (overrides the assignment's)."),
    weights: Optional[list[str]] = typer.Option(
        None, "--weight", metavar="COLUMN=W", help="Points per cell of a column, e.g. memory_kb=2 (repeatable)."),
    carry_credit: float = typer.Option(
        1.0, "--carry-forward-credit", min=0.0, max=1.0, callback=finite("--carry-forward-credit"),
        help="Credit for a cell that is consistent with the student's own earlier mistake (error carried forward)."),
    rtol: Optional[float] = typer.Option(
        None, "--rtol", min=0.0, callback=finite("--rtol"),
        help="Accept numbers within this relative tolerance (or rounded as written) instead of truncated ones."),
    no_truncation: bool = typer.Option(
        False, "--no-truncation", help="Accept rounded values only (by default truncated ones are right too)."),
    decimal_comma: bool = typer.Option(
        False, "--decimal-comma", help="Read '1134,4' as 1134.4 and '1.134' as 1134 (European sheets)."),
    gradebook: Optional[str] = typer.Option(
        None, "--gradebook", metavar="FILE.csv", help="Write one CSV row per student for an LMS import ('-': stdout)."),
    summary: bool = typer.Option(
        False, "--summary", help="Print the class summary (most-missed cells, mistakes) instead of every sheet."),
    feedback: Optional[str] = typer.Option(
        None, "--feedback", metavar="DIR",
        help="Write one Markdown feedback file per student into DIR (created if missing; '-': stdout)."),
    template: bool = typer.Option(False, "--template", help="Write the blank answer sheet for SPEC."),
    key: bool = typer.Option(False, "--key", help="Write the answer key for SPEC (the lecture table's values)."),
    output: Optional[Path] = OUTPUT,
    depth: Optional[int] = typer.Option(None, "--depth", "-d", min=1,
                                        help="Grade one row per block below this depth (as 'table --depth')."),
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Grade answer sheets cell by cell against SPEC: C_out, H'/W', Mem (KB), Params (k), MACs (M).

    A number is right when it is the true value rounded half up, or truncated, at the precision written;
    a wrong cell that follows from the student's own earlier answer is [italic]consistent[/italic]. Systematic
    mistakes (FLOPs for MACs, KB = 1000 bytes, no bias, another padding...) are named once.

    Exit code 0 when every cell of every sheet is right, 1 when any is not, 2 when a file cannot be read.

    Examples: [bold]cnncalc grade alexnet sheets/[/bold],
    [bold]cnncalc grade alexnet sheets/ --summary --gradebook grades.csv --feedback feedback/[/bold],
    [bold]cnncalc grade --template alexnet -o sheet.csv[/bold]
    """
    from ..core.errors import OptionError

    with reporting_errors():
        if template and key:
            raise OptionError("--template and --key exclude each other")
        if (template or key) and answers:
            raise OptionError("--template and --key write a sheet; they take no answer files",
                              hint=f"cnncalc grade {'--key' if key else '--template'} {spec} -o sheet.csv")
        if not (template or key) and not answers:
            raise OptionError("give one or more answer files to grade, or --template / --key",
                              hint=f"cnncalc grade {spec} answers.csv")
        if gradebook == STDOUT and feedback == STDOUT:
            raise OptionError("only one of --gradebook and --feedback can go to stdout ('-')")
        scale = Fraction(str(points)) if points is not None else None
        if scale == 0:
            raise OptionError("--points must be more than 0")
        from ..analysis.engine import analyze
        from ..api import load_graph

        graph, _ = load_graph(spec, set=set_values(set_vars))
        report = analyze(graph)
        if depth is not None:
            report = report.collapse(depth)

        if template or key:
            from ..render.grade import answer_sheet_csv, answer_sheet_yaml

            if format == "json":
                raise OptionError("--template and --key write csv or yaml, not json")
            writer = answer_sheet_yaml if format == "yaml" else answer_sheet_csv
            emit(writer(report, key=key, weights=_weights(weights, None), points=scale), output, [spec])
            return
        if format == "yaml":
            raise OptionError("--format yaml is for --template and --key; results are table, json or csv")
        _grade(graph, report, answers or [], format=format, assignment_file=assignment, only_given=only_given,
               scale=scale, weights=weights, carry_credit=Fraction(str(carry_credit)),
               rtol=Fraction(str(rtol)) if rtol is not None else None, truncation=not no_truncation,
               decimal_comma=decimal_comma, gradebook=gradebook, summary=summary, feedback=feedback, output=output,
               inputs=[spec, *(answers or []), *([assignment] if assignment else [])])


def _weights(items: Optional[list[str]], asked) -> dict[str, Fraction]:
    """--weight COLUMN=W items -> {column key: W}; a column the assignment does not ask is an error."""
    from ..core.errors import InputError, OptionError
    from ..core.numbers import exact_number
    from ..grade import GradedColumn, classify_header

    found: dict[str, Fraction] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            kind = classify_header(name) if sep else None
            weight = exact_number(value.strip())
        except (ValueError, ZeroDivisionError, InputError):
            raise OptionError(f"--weight expects COLUMN=W with W a number, got {item!r}",
                              hint="e.g. --weight memory_kb=2") from None
        if not isinstance(kind, GradedColumn) or weight < 0:
            raise OptionError(f"--weight expects COLUMN=W, a graded column and a number >= 0, got {item!r}",
                              hint="columns: c_out, hw_out, memory_kb, params_k, macs_m")
        if asked is not None and kind.key not in asked:
            raise OptionError(f"--weight {kind.key}: the assignment does not ask for {kind.key}",
                              hint="columns asked: " + ", ".join(asked))
        found[kind.key] = weight
    return found


def sheet_paths(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for the sheets in it (by suffix, sorted, hidden files skipped).
    An entry with a sheet's suffix that is not a readable file (a folder, a broken or looping link, a
    pipe) is kept, so that the reader refuses it by name: no student's sheet is skipped unsaid."""
    from ..core.errors import OptionError

    found: list[Path] = []
    for path in paths:
        try:
            folder = path.is_dir()
        except OSError:  # a name too long for the system: the reader says so, located
            folder = False
        if folder:
            try:
                names = list(path.iterdir())
            except OSError as exc:
                raise OptionError(f"cannot read folder: {exc.strerror or exc}", file=str(path)) from None
            inside = sorted(p for p in names if p.suffix.lower() in SHEET_SUFFIXES and not p.name.startswith("."))
            if not inside:
                raise OptionError(f"a folder with no answer sheets ({', '.join(SHEET_SUFFIXES)}) in it",
                                  file=str(path))
            found += inside
        else:
            found.append(path)
    return found


def _grade(graph, report, answers: list[Path], *, format: str, assignment_file: Optional[Path], only_given: bool,
           scale: Optional[Fraction], weights: Optional[list[str]], carry_credit: Fraction, rtol: Optional[Fraction],
           truncation: bool, decimal_comma: bool, gradebook: Optional[str], summary: bool, feedback: Optional[str],
           output: Optional[Path], inputs: list) -> None:
    """`inputs`: the spec, sheet and assignment arguments, which no file written here may replace."""
    from ..core.errors import CheckFailed
    from ..core.text import file_name
    from ..grade import Grader, Options, assignment_from_sheet, lecture_assignment, read_sheet
    from ..render.console import plain_text, show, stderr_console
    from ..render.grade import grade_csv, grade_json, grade_renderables
    from ..render.gradebook import class_summary, class_summary_renderables

    asked = lecture_assignment() if assignment_file is None else \
        assignment_from_sheet(read_sheet(assignment_file, str(assignment_file)), report)
    asked = asked.with_settings(_weights(weights, [col.key for col in asked.columns]), scale)
    options = Options(rtol=rtol, truncation=truncation, decimal_comma=decimal_comma,
                      carry_forward_credit=carry_credit, only_given=only_given)
    grader = Grader(report, graph, asked, options)
    from .budget import ProgressBar

    paths = sheet_paths(answers)
    with ProgressBar("grade") as progress:
        results, errors = grader.grade_files(paths, progress if len(paths) > 1 else None)
    stderr = stderr_console()
    for exc in errors:
        stderr.print(exc.render(), markup=False)
    if gradebook is not None:
        from ..render.gradebook import gradebook_csv

        _write(gradebook, gradebook_csv(results), inputs)
    if feedback is not None:
        _feedback(feedback, results, graph, report, carry_credit, inputs)
    class_data = class_summary(results) if summary else None
    if STDOUT not in (gradebook, feedback):
        if format == "table":
            if results:
                body = grade_renderables(results, report.name, details=not summary)
                if class_data is not None:
                    body += class_summary_renderables(class_data)
                if output is None:
                    show(*body, natural_width=True)
                else:
                    emit(plain_text(*body), output, inputs)
        elif format == "json":
            emit(grade_json(results, report.name, rtol, errors, assignment=asked, carry_forward_credit=carry_credit,
                            summary=class_data), output, inputs)
        else:
            emit(grade_csv(results), output, inputs)
    if errors:
        raise typer.Exit(2)
    failing = [r for r in results if not r.all_right]
    if failing:
        from ..render.grade import amount

        named = ", ".join(f"{file_name(r.file)} ({amount(r.score)}/{amount(r.max_score)}"
                          + (f", {r.problem_count} problem{'s' * (r.problem_count != 1)}" if r.problem_count else "")
                          + ")" for r in failing[:5])
        if len(failing) > 5:
            named += f" and {len(failing) - 5} more"
        raise CheckFailed(f"not all right: {named}")


def _write(target: str, text: str, inputs: list) -> None:
    emit(text, None if target == STDOUT else Path(target), inputs)


def _feedback(target: str, results, graph, report, carry_credit: Fraction, inputs: list) -> None:
    """One Markdown file per sheet in the folder `target` (made if missing), or all to stdout."""
    from ..core.errors import InputError
    from ..grade.diagnoses import derivations
    from ..render.gradebook import feedback_markdown, feedback_names

    steps = derivations(graph, report)
    texts = [feedback_markdown(result, steps, carry_credit) for result in results]
    if target == STDOUT:
        emit("\n".join(texts), None)
        return
    folder = Path(target)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the name
        raise InputError(f"cannot make the feedback folder: {getattr(exc, 'strerror', None) or exc}",
                         file=target) from None
    from ..core.io import write_atomic

    protected = input_files(inputs)
    for name, text in zip(feedback_names(results), texts):
        write_atomic(folder / name, text, inputs=protected)

