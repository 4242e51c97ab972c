#!/usr/bin/env python3
"""Benchmark of `cnncalc sweep`: a 1,000-variant sweep of MobileNetV2 (25 widths × 40 resolutions).

    python benchmarks/bench_sweep.py               # the sweep with every core, then with one
    python benchmarks/bench_sweep.py --runs 3 --json out.json
    python benchmarks/bench_sweep.py --memory       # with a training-peak limit on every variant

What is timed is the whole command as a user runs it, a fresh process each time:

    cnncalc sweep mobilenet_v2 --set width=0.5:1.7:0.05 --input 3,96,96 ... --input 3,252,252
                               --max-macs 300M --maximize width --format json

with the default `--jobs` (every core) and with `--jobs 1`, best and median of `--runs`. It checks
that both give the same answer. `--memory` adds `--max-train-peak 200MB`: every variant then also
plays a training step through the memory model. The CPU time of the process and its workers is
printed too (resource.getrusage of the children): on a machine shared with other work, the wall
time of a parallel run depends on what else runs, the CPU time much less.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_command

REPO = Path(__file__).resolve().parent.parent
WIDTHS = "0.5:1.7:0.05"  # 25 values
RESOLUTIONS = range(96, 256, 4)  # 40 sizes


def command(jobs: int | None, memory: bool = False) -> list[str]:
    args = [*cli_command(), "sweep", "mobilenet_v2", "--set", f"width={WIDTHS}"]
    for size in RESOLUTIONS:
        args += ["--input", f"3,{size},{size}"]
    args += ["--max-macs", "300M", "--maximize", "width", "--format", "json"]
    args += ["--max-train-peak", "200MB"] if memory else []
    return args + (["--jobs", str(jobs)] if jobs else [])


def run(jobs: int | None, memory: bool) -> tuple[float, float, dict]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command(jobs, memory), capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"sweep failed (exit {proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (default 3)")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON to FILE")
    parser.add_argument("--memory", action="store_true", help="add --max-train-peak 200MB (the memory model)")
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f}")
    results = {}
    answers = {}
    for label, jobs in (("every core", None), ("--jobs 1", 1)):
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu, data = run(jobs, args.memory)
            walls.append(wall)
            cpus.append(cpu)
            answers[label] = (data["best"], data["ranked"])
        variants = len(data["variants"])
        best = data["variants"][data["best"] - 1]
        results[label] = {"variants": variants, "best_s": min(walls), "median_s": statistics.median(walls),
                          "cpu_s": min(cpus)}
        print(f"  {label:<11} {variants} variants: best {min(walls):.2f} s, median {statistics.median(walls):.2f} s "
              f"(CPU {min(cpus):.2f} s); answer width={best['values']['width']} at "
              f"{'×'.join(map(str, best['input_shape']))}, {best['figures']['macs']:,} MACs")
    same = answers["every core"] == answers["--jobs 1"]
    print(f"  same answer with every core and with one: {'yes' if same else 'NO'}")
    print(f"  load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
