#!/usr/bin/env python3
"""Benchmark of rendering the lecture table: the Grid (render/grid.py) against rich's Table.

    python benchmarks/bench_render.py            # about 20 to 40 seconds on 2 cores
    python benchmarks/bench_render.py --quick    # fewer repeats, about 10 seconds
    python benchmarks/bench_render.py --json out.json

Standard library only (plus cnncalc and rich, which it depends on). For each report (ResNet-152's
515 rows, a synthetic 500-layer chain, AlexNet's 12 rows), best of several repeats with
time.perf_counter (garbage collector on, gc.collect() before each repeat):

  grid piped      plain_text(lecture_table(report))                      what `cnncalc table | ...` prints
  grid 200 cols   the Grid printed on a 200-column colour terminal       (full rows, the piped layout)
  grid 80 cols    the Grid printed on an 80-column colour terminal       (fitted: compact, From hidden)
  rich Table      the same cells in rich's Table (box SIMPLE_HEAD, bold header and totals), printed
                  as plain text: what cnncalc used before the Grid

and, as subprocesses (median of a few runs, output to /dev/null), `cnncalc table resnet152` and
`cnncalc table resnet152 -f json` (which renders no table).
"""
from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, cli_command

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from rich import box  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from rich.text import Text  # noqa: E402

from cnncalc.analysis.report import Report  # noqa: E402
from cnncalc.api import analyze  # noqa: E402
from cnncalc.render.console import plain_text  # noqa: E402
from cnncalc.render.lecture import lecture_table  # noqa: E402

CHAIN = "input: [16, 32, 32]\nlayers:\n" + "  - {op: conv, out: 16, kernel: 3, pad: 1, act: relu}\n" * 500


def on_terminal(width: int, renderable: Any) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=True, color_system="truecolor", highlight=False,
            emoji=False).print(renderable, crop=False)
    return buffer.getvalue()


def rich_table(report: Report) -> Table:
    """The lecture table as cnncalc built it with rich's Table before the Grid."""
    grid = lecture_table(report)
    table = Table(title=grid.title, box=box.SIMPLE_HEAD, title_justify="left", header_style="bold",
                  pad_edge=False, collapse_padding=True)
    for header, column in zip(grid.headers, grid.columns):
        table.add_column("\n".join(header), justify="left" if column.left else "right", no_wrap=True)
    for row in grid.rows:
        table.add_row(*row)
    if grid.total is not None:
        table.add_section()
        table.add_row(*[Text(cell, style="bold") for cell in grid.total])
    return table


def subprocess_median(command: list[str], runs: int) -> tuple[float, float, float]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as cache:
        env["PYTHONPYCACHEPREFIX"] = cache
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
            times.append(time.perf_counter() - began)
    return statistics.median(times), min(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    repeats, runs = (3, 3) if options.quick else (7, 7)

    reports = {"resnet152": analyze("resnet152"), "chain500": analyze(CHAIN), "alexnet": analyze("alexnet")}
    results: dict[str, Any] = {"date": datetime.date.today().isoformat(), "machine": platform.machine(),
                               "python": platform.python_version(), "cpus": os.cpu_count(), "render": {}}
    print(f"{'report':<10} {'rows':>5} {'grid piped':>11} {'grid 200':>9} {'grid 80':>8} {'rich Table':>11} "
          f"{'speed-up':>8}")
    ok = True
    for name, report in reports.items():
        grid_piped = best_of(repeats, lambda report=report: plain_text(lecture_table(report)))
        grid_wide = best_of(repeats, lambda report=report: on_terminal(200, lecture_table(report)))
        grid_80 = best_of(repeats, lambda report=report: on_terminal(80, lecture_table(report)))
        rich = best_of(max(2, repeats // 2), lambda report=report: plain_text(rich_table(report)))
        same = plain_text(lecture_table(report)) == plain_text(rich_table(report))
        ok &= same
        results["render"][name] = {"rows": len(report.rows), "grid_piped_s": grid_piped, "grid_200_s": grid_wide,
                                   "grid_80_s": grid_80, "rich_table_s": rich, "same_text": same}
        print(f"{name:<10} {len(report.rows):>5} {grid_piped * 1e3:>8.1f} ms {grid_wide * 1e3:>6.1f} ms "
              f"{grid_80 * 1e3:>5.1f} ms {rich * 1e3:>8.1f} ms {rich / grid_piped:>7.0f}x"
              + ("" if same else "  (TEXT DIFFERS)"))
    print("grid piped and rich Table print the same text" if ok else "the texts differ: see above")

    cli = cli_command()
    spec = str(REPO / "specs" / "resnet152.yaml")
    for label, command in (("cnncalc table resnet152", [*cli, "table", spec]),
                           ("cnncalc table resnet152 -f json", [*cli, "table", spec, "-f", "json"])):
        median, low, high = subprocess_median(command, runs)
        results[label] = {"median_s": median, "min_s": low, "max_s": high, "runs": runs}
        print(f"{label:<32} median {median * 1e3:6.0f} ms (min {low * 1e3:.0f}, max {high * 1e3:.0f}, {runs} runs)")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
