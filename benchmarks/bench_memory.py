#!/usr/bin/env python3
"""Benchmark of `cnncalc memory`: the static memory model of a training step, and `--fit`.

    python benchmarks/bench_memory.py              # about 20 seconds on 2 cores
    python benchmarks/bench_memory.py --runs 5
    python benchmarks/bench_memory.py --json out.json

Standard library only (plus cnncalc itself).

1. End to end, as subprocesses (one untimed warm-up run, then the median of --runs; output to
   /dev/null; bytecode cached in a private temporary folder): `cnncalc memory resnet152 --fit 24GiB`
   (the table), the same with `-f json`, and `python -c pass` as the floor.
2. In-process phases for ResNet-152 (best of --runs, time.perf_counter): loading the spec into a graph,
   the schedule (one simulated training step: every op of every layer, forward, backward, SGD with
   momentum), `--fit`'s search (evaluating each sample's a·N + b: no further simulation), the report at
   the fitted batch, and rendering the table as plain text.
3. That the command imports none of torch, numpy, sympy.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_command

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from bench_table import cached_bytecode_env, run_times  # noqa: E402

SPEC = "resnet152"
LIMIT = "24GiB"
WATCHED = ("torch", "numpy", "sympy")


def phases(runs: int) -> dict[str, float]:
    from cnncalc.analysis.memory import MemoryOptions, memory_schedule
    from cnncalc.analysis.memory_report import fit_batch, report_at
    from cnncalc.api import load_graph
    from cnncalc.core.quantities import parse_bytes
    from cnncalc.render.console import plain_text
    from cnncalc.render.memory import memory_renderables

    best: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        start = time.perf_counter()
        result = fn()
        best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
        return result

    for _ in range(runs):
        graph, _ = timed("load spec", lambda: load_graph(SPEC))
        schedule = timed("schedule (one step)", lambda graph=graph: memory_schedule(graph, MemoryOptions()))
        found = timed("fit search", lambda schedule=schedule: fit_batch(schedule, parse_bytes(LIMIT)))
        report = timed("report at the batch", lambda s=schedule, f=found: report_at(s, f.batch, fit=f))
        timed("render table", lambda report=report: plain_text(*memory_renderables(report)))
    best["samples"] = len(schedule.samples)
    best["layers"] = len(graph.nodes)
    best["fitted batch"] = found.batch
    return best


IMPORTS = f"""
import sys, contextlib, io, cnncalc.cli
with contextlib.redirect_stdout(io.StringIO()):
    cnncalc.cli.app(["memory", "{SPEC}", "--fit", "{LIMIT}"], standalone_mode=False)
print([m for m in {WATCHED!r} if m in sys.modules])
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    import cnncalc

    print(f"cnncalc {cnncalc.__version__}, Python {platform.python_version()}, {platform.platform()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    cli = cli_command()
    with tempfile.TemporaryDirectory(prefix="cnncalc-bench-") as tmp:
        env = cached_bytecode_env(Path(tmp) / "pycache")
        end_to_end = {
            "python -c pass": run_times([sys.executable, "-c", "pass"], args.runs, env),
            f"cnncalc memory {SPEC} --fit {LIMIT}": run_times(cli + ["memory", SPEC, "--fit", LIMIT], args.runs, env),
            "  same, -f json": run_times(cli + ["memory", SPEC, "--fit", LIMIT, "-f", "json"], args.runs, env),
        }
    print("\n1. end to end (subprocesses, output to /dev/null)")
    for label, t in end_to_end.items():
        print(f"  {label:<42} median {t['median_s'] * 1000:7.1f} ms  (min {t['min_s'] * 1000:.1f}, "
              f"max {t['max_s'] * 1000:.1f}, {t['runs']} runs)")
    print(f"\n2. in-process phases for {SPEC} (best of {args.runs})")
    inside = phases(args.runs)
    for name, value in inside.items():
        print(f"  {name:<22} {value * 1000:8.1f} ms" if isinstance(value, float) else f"  {name:<22} {value:>8}")
    heavy = json.loads(subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True,
                                      cwd=REPO).stdout.strip().splitlines()[-1].replace("'", '"'))
    print(f"\n3. heavy imports after `cnncalc memory`: {', '.join(heavy) or 'none of ' + '/'.join(WATCHED)}")
    if args.json:
        payload = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
                   "cpu_count": os.cpu_count(), "cnncalc": cnncalc.__version__, "end_to_end": end_to_end,
                   "phases_s": inside, "heavy_imports": heavy}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if not heavy else 1


if __name__ == "__main__":
    raise SystemExit(main())
