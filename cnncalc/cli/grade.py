"""`cnncalc grade`: grade students' answer sheets against a spec (docs/grading.md).

A command in its own module; cnncalc/cli.py calls `register(app)`. Everything heavy is imported
inside the command, so `cnncalc --help` stays fast."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

GradeFormat = Enum("GradeFormat", {name: name for name in ("table", "json", "csv", "yaml")}, type=str)


def register(app: typer.Typer) -> None:
    """Add the `grade` command to `app`."""

    @app.command("grade")
    def grade(
        spec: str = typer.Argument(..., help="Spec file, or the name of a bundled spec (see 'cnncalc specs')."),
        answers: Optional[List[Path]] = typer.Argument(
            None, help="Answer sheets: CSV (one row per layer, lecture headers) or YAML.", show_default=False),
        format: GradeFormat = typer.Option(
            GradeFormat.table, "--format", "-f",
            help="table, json or csv for results; csv (the default) or yaml for --template/--key."),
        rtol: Optional[float] = typer.Option(
            None, "--rtol", min=0.0,
            help="Accept numbers within this relative tolerance instead of the rounded-or-truncated rule."),
        template: bool = typer.Option(False, "--template", help="Write the blank answer sheet for SPEC."),
        key: bool = typer.Option(False, "--key", help="Write the answer key for SPEC (the lecture table's values)."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (atomically)."),
        depth: Optional[int] = typer.Option(None, "--depth", "-d", min=1,
                                            help="Grade one row per block below this depth (as 'table --depth')."),
        set_vars: Optional[List[str]] = typer.Option(None, "--set", metavar="NAME=VALUE",
                                                     help="Override a variable of the spec (repeatable)."),
    ) -> None:
        """Grade answer sheets cell by cell against SPEC: C_out, H'/W', Mem (KB), Params (k), MACs (M).

        A number is right when it is the true value rounded half up, or truncated, at the precision written.

        Exit code 0 when every cell of every sheet is right, 1 when any is not, 2 when a file cannot be read.

        Examples: [bold]cnncalc grade alexnet alice.csv bob.csv[/bold], [bold]cnncalc grade --template alexnet[/bold]
        """
        from .app import _stderr, parse_set_options, plain_text, reporting_errors, show
        from ..core.errors import CheckFailed, SpecError

        with reporting_errors():
            if template and key:
                raise SpecError("--template and --key exclude each other")
            if (template or key) and answers:
                raise SpecError("--template and --key write a sheet; they take no answer files",
                                hint=f"cnncalc grade {'--key' if key else '--template'} {spec} -o sheet.csv")
            if not (template or key) and not answers:
                raise SpecError("give one or more answer files to grade, or --template / --key",
                                hint=f"cnncalc grade {spec} answers.csv")
            report = _report(spec, depth, parse_set_options(set_vars or []))

            if template or key:
                from ..render.grade import answer_sheet_csv, answer_sheet_yaml

                if format is GradeFormat.json:
                    raise SpecError("--template and --key write csv or yaml, not json")
                writer = answer_sheet_yaml if format is GradeFormat.yaml else answer_sheet_csv
                _emit(writer(report, key=key), output)
                return

            from ..grade.grader import grade_files
            from ..render.grade import grade_csv, grade_json, grade_renderables

            if format is GradeFormat.yaml:
                raise SpecError("--format yaml is for --template and --key; results are table, json or csv")
            results, errors = grade_files(report, answers, rtol)
            stderr = _stderr()
            for exc in errors:
                stderr.print(exc.render(), markup=False)
            if format is GradeFormat.table:
                if not results:
                    raise typer.Exit(2)
                body = grade_renderables(results, report.name)
                if output is None:
                    show(*body, natural_width=True)
                else:
                    _emit(plain_text(*body), output)
            elif format is GradeFormat.json:
                _emit(grade_json(results, report.name, rtol, errors), output)
            else:
                _emit(grade_csv(results), output)
            if errors:
                raise typer.Exit(2)
            failing = [r for r in results if not r.all_right]
            if failing:
                named = ", ".join(f"{r.file} ({r.score}/{r.max_score} right"
                                  + (f", {r.problem_count} problem{'s' * (r.problem_count != 1)}"
                                     if r.problem_count else "") + ")"
                                  for r in failing[:5])
                if len(failing) > 5:
                    named += f" and {len(failing) - 5} more"
                raise CheckFailed(f"not all right: {named}")


def _report(spec: str, depth: Optional[int], variables: dict):
    from ..spec import bundled
    from ..analysis.engine import analyze
    from ..spec.graph import build
    from ..spec.spec import load_spec

    path, display = bundled.resolve(spec)
    report = analyze(build(load_spec(path, display, variables)))
    return report.collapse(depth) if depth is not None else report


def _emit(text: str, output: Optional[Path]) -> None:
    import sys

    if output is None:
        sys.stdout.write(text)
    else:
        from ..core.io import write_atomic

        write_atomic(output, text)
