#!/usr/bin/env python3
"""End-to-end cost of the torch-backed commands: `cnncalc profile` and `cnncalc verify`.

    python benchmarks/bench_profile.py              # 3 timed runs of each command (about 30 to 60 s on 2 cores)
    python benchmarks/bench_profile.py --runs 5
    python benchmarks/bench_profile.py --json out.json

Standard library only (plus the installed cnncalc and torch). Each command runs as a subprocess, once
untimed (to warm the file cache), then --runs times; the median, min and max wall time are printed.
Output goes to /dev/null; a non-zero exit fails the benchmark. The commands:

    cnncalc profile resnet18 --device cpu --iters 3   (peak measurement, one check pass, 3 warm-up,
                                                      3 whole-model and 3 per-layer passes at 224x224)
    cnncalc verify resnet50                           (build on the meta device, compare every layer)

See benchmarks/README.md for the figures measured here.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_command

REPO = Path(__file__).resolve().parent.parent

COMMANDS = (
    ("profile", "resnet18", "--device", "cpu", "--iters", "3"),
    ("verify", "resnet50"),
)




def run_times(cmd: list[str], runs: int) -> dict[str, Any]:
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr.decode()}")
        if i:  # the first run is the warm-up
            times.append(elapsed)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": runs,
            "times_s": times}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each command (default 3)")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        raise SystemExit("these commands need PyTorch: pip install 'cnncalc[torch]'") from None
    import cnncalc

    env = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
           "platform": platform.platform(), "cpu_count": os.cpu_count(), "cnncalc": cnncalc.__version__,
           "torch": torch_version, "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    print(f"cnncalc {env['cnncalc']}, PyTorch {env['torch']}, Python {env['python']}, {env['platform']}, "
          f"{env['cpu_count']} CPUs")
    if env["load_average"]:
        print("load average at start: " + ", ".join(f"{x:.2f}" for x in env["load_average"]))
    cli = cli_command()
    baseline = run_times([sys.executable, "-c", "import torch"], args.runs)
    results = {"python -c 'import torch'": baseline}
    for command in COMMANDS:
        results["cnncalc " + " ".join(command)] = run_times(cli + list(command), args.runs)
    print(f"end to end (subprocesses, output to /dev/null; one warm-up run, then {args.runs}; "
          f"cnncalc = {' '.join(cli)})")
    width = max(map(len, results))
    for label, t in results.items():
        print(f"  {label:<{width}}  median {t['median_s']:7.2f} s  (min {t['min_s']:.2f}, max {t['max_s']:.2f})")
    elapsed = time.perf_counter() - began
    print(f"benchmark took {elapsed:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "cli_command": cli, "end_to_end": results,
                                         "benchmark_s": elapsed}, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
