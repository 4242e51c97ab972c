"""`cnncalc grade`: grade students' answer sheets against a spec (docs/grading.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from .app import OUTPUT, SET, SPEC, app, emit, finite, reporting_errors, set_values


@app.command("grade")
def grade(
    spec: str = SPEC,
    answers: Optional[list[Path]] = typer.Argument(
        None, help="Answer sheets: CSV (one row per layer, lecture headers) or YAML.", show_default=False),
    format: Literal["table", "json", "csv", "yaml"] = typer.Option(
        "table", "--format", "-f",
        help="table, json or csv for results; csv (the default) or yaml for --template/--key."),
    rtol: Optional[float] = typer.Option(
        None, "--rtol", min=0.0, callback=finite("--rtol"),
        help="Accept numbers within this relative tolerance instead of the rounded-or-truncated rule."),
    template: bool = typer.Option(False, "--template", help="Write the blank answer sheet for SPEC."),
    key: bool = typer.Option(False, "--key", help="Write the answer key for SPEC (the lecture table's values)."),
    output: Optional[Path] = OUTPUT,
    depth: Optional[int] = typer.Option(None, "--depth", "-d", min=1,
                                        help="Grade one row per block below this depth (as 'table --depth')."),
    set_vars: Optional[list[str]] = SET,
) -> None:
    """Grade answer sheets cell by cell against SPEC: C_out, H'/W', Mem (KB), Params (k), MACs (M).

    A number is right when it is the true value rounded half up, or truncated, at the precision written.

    Exit code 0 when every cell of every sheet is right, 1 when any is not, 2 when a file cannot be read.

    Examples: [bold]cnncalc grade alexnet alice.csv bob.csv[/bold], [bold]cnncalc grade --template alexnet[/bold]
    """
    from ..api import analyze
    from ..core.errors import CheckFailed, OptionError
    from ..core.text import file_name
    from ..render.console import plain_text, show, stderr_console

    with reporting_errors():
        if template and key:
            raise OptionError("--template and --key exclude each other")
        if (template or key) and answers:
            raise OptionError("--template and --key write a sheet; they take no answer files",
                              hint=f"cnncalc grade {'--key' if key else '--template'} {spec} -o sheet.csv")
        if not (template or key) and not answers:
            raise OptionError("give one or more answer files to grade, or --template / --key",
                              hint=f"cnncalc grade {spec} answers.csv")
        report = analyze(spec, set=set_values(set_vars), depth=depth)

        if template or key:
            from ..render.grade import answer_sheet_csv, answer_sheet_yaml

            if format == "json":
                raise OptionError("--template and --key write csv or yaml, not json")
            writer = answer_sheet_yaml if format == "yaml" else answer_sheet_csv
            emit(writer(report, key=key), output, [spec])
            return

        from ..grade import grade_files
        from ..render.grade import grade_csv, grade_json, grade_renderables

        if format == "yaml":
            raise OptionError("--format yaml is for --template and --key; results are table, json or csv")
        results, errors = grade_files(report, answers or [], rtol)
        inputs: list[str | Path] = [spec, *(answers or [])]
        stderr = stderr_console()
        for exc in errors:
            stderr.print(exc.render(), markup=False)
        if format == "table":
            if not results:
                raise typer.Exit(2)
            body = grade_renderables(results, report.name)
            if output is None:
                show(*body, natural_width=True)
            else:
                emit(plain_text(*body), output, inputs)
        elif format == "json":
            emit(grade_json(results, report.name, rtol, errors), output, inputs)
        else:
            emit(grade_csv(results), output, inputs)
        if errors:
            raise typer.Exit(2)
        failing = [r for r in results if not r.all_right]
        if failing:
            named = ", ".join(f"{file_name(r.file)} ({r.score}/{r.max_score} right"
                              + (f", {r.problem_count} problem{'s' * (r.problem_count != 1)}"
                                 if r.problem_count else "") + ")"
                              for r in failing[:5])
            if len(failing) > 5:
                named += f" and {len(failing) - 5} more"
            raise CheckFailed(f"not all right: {named}")
