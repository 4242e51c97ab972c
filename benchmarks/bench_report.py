#!/usr/bin/env python3
"""Benchmark of `cnncalc report` and `cnncalc plot`: the time to write the page, and the time a
browser takes to open it and lay out the layer graph.

    python benchmarks/bench_report.py               # about 1 to 2 minutes on 2 cores
    python benchmarks/bench_report.py --runs 3      # fewer runs
    python benchmarks/bench_report.py --json out.json

1. End to end, as subprocesses: `cnncalc report SPEC -o FILE.html` (and `cnncalc plot SPEC -o
   FILE.png`, which imports matplotlib, and its memory timeline), one untimed warm-up, then the median, min and max of
   `--runs` runs; bytecode cached in a private temporary folder, as an installed package has it.
2. In headless Chromium (tests/headless.py; skipped without chromium): each page is opened by a
   fresh browser `--runs` times (a cold page: the first layout of a page is the slowest), and the
   page reports, in ms since navigation started, when it was ready (graph laid out and drawn, table
   built: `window.__readyAt`) and painted (`__paintedAt`), and how long dagre's layout took
   (`__layoutMs`). Browser start-up is not included: the 3 s budget is the page's.
"""
from __future__ import annotations

import argparse
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
from common import cli_command

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.headless import Browser, find_chromium  # noqa: E402

REPORT_SPECS = ("alexnet", "googlenet", "resnet50", "resnet152", "densenet121", "inception_v3")
PAGE_FIGURES = ("__readyAt", "__paintedAt", "__layoutMs", "__layoutMode", "__framesDropped")


def summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def command_times(command: list[str], runs: int, env: dict[str, str]) -> dict[str, float]:
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
        if i:  # the first run warms the bytecode and file caches
            times.append(time.perf_counter() - start)
    return summary(times)


def page_times(path: Path, runs: int) -> dict[str, Any]:
    figures: dict[str, list[Any]] = {name: [] for name in PAGE_FIGURES}
    for _ in range(runs):
        with Browser() as browser:
            page = browser.open(path)
            page.wait_for("window.__ready === true", timeout=60)
            page.wait_for("window.__paintedAt !== undefined")
            for name in PAGE_FIGURES:
                figures[name].append(page.eval(f"window.{name}"))
            if page.errors:
                raise SystemExit(f"{path.name}: {page.errors}")
    result: dict[str, Any] = {name: summary(figures[name]) for name in ("__readyAt", "__paintedAt", "__layoutMs")}
    result["mode"] = sorted(set(figures["__layoutMode"]))
    result["frames_dropped"] = sorted(set(figures["__framesDropped"]))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    cli = cli_command()
    results: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count(), "runs": args.runs,
                               "load_start": os.getloadavg(), "commands": {}, "pages": {}}
    with tempfile.TemporaryDirectory(prefix="cnncalc-bench-") as folder:
        work = Path(folder)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        print(f"1. end to end (subprocesses; cnncalc = {' '.join(cli)}; seconds: median, min, max of {args.runs})")
        commands = {f"cnncalc report {spec} -o {spec}.html": [*cli, "report", spec, "-o", str(work / f"{spec}.html")]
                    for spec in ("alexnet", "resnet152")}
        commands["cnncalc plot alexnet -o alexnet.png"] = [*cli, "plot", "alexnet", "-o", str(work / "alexnet.png")]
        commands["cnncalc plot resnet152 -o resnet152.png"] = [*cli, "plot", "resnet152", "-o",
                                                               str(work / "resnet152.png")]
        commands["cnncalc plot resnet152 -w timeline -o t.png"] = [*cli, "plot", "resnet152", "--what", "timeline",
                                                                   "-o", str(work / "t.png")]
        for label, command in commands.items():
            figures = command_times(command, args.runs, env)
            results["commands"][label] = figures
            print(f"  {label:42} {figures['median']:6.2f} {figures['min']:6.2f} {figures['max']:6.2f}")
        if find_chromium() is None:
            print("2. no chromium on PATH: the page timings are skipped")
        else:
            print(f"2. in headless Chromium (a fresh browser per run; ms since navigation: median, min, max of "
                  f"{args.runs})")
            columns = " | ".join(f"{name:>17}" for name in ("ready", "painted", "dagre.layout"))
            print(f"  {'spec':14} {'layers':>6} {'KB':>5} | {columns} | mode")
            for spec in REPORT_SPECS:
                path = work / f"{spec}.html"
                subprocess.run([*cli, "report", spec, "-o", str(path)], check=True, stdout=subprocess.DEVNULL, env=env)
                layers = len(json.loads(path.read_text(encoding="utf-8").split('id="cnncalc-data">')[1]
                                        .split("</script>")[0])["layers"])
                figures = page_times(path, args.runs)
                figures.update(layers=layers, kb=path.stat().st_size / 1024)
                results["pages"][spec] = figures
                cells = " | ".join(f"{figures[k]['median']:5.0f} {figures[k]['min']:5.0f} {figures[k]['max']:5.0f}"
                                   for k in ("__readyAt", "__paintedAt", "__layoutMs"))
                dropped = f", frames dropped {figures['frames_dropped']}" if any(figures["frames_dropped"]) else ""
                print(f"  {spec:14} {layers:6} {figures['kb']:5.0f} | {cells} | {'/'.join(figures['mode'])}{dropped}")
    results["load_end"] = os.getloadavg()
    print(f"load average: start {results['load_start']}, end {results['load_end']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
