#!/usr/bin/env python3
"""Benchmark of the engine: microseconds per layer of `analyze(build(spec))` on long specs.

    python benchmarks/bench_engine.py              # about 30 s on 2 cores
    python benchmarks/bench_engine.py --quick      # about 10 s
    python benchmarks/bench_engine.py --json out.json

Standard library only (plus cnncalc). Three kinds of spec, because the engine shares the work of
repeated layers (equal fields on equal input shapes are validated, shaped and counted once):

  repeated  N identical `{op: conv, out: 16, kernel: 3, pad: 1, act: relu}` on [16, 32, 32]
            (bench_table.py's spec): every layer after the first is a repeat
  distinct  N convs whose output channels all differ (16, 17, 18, ...): nothing is shared
  zoo       the bundled specs with the most layers: what real networks cost

Two figures per spec, because the builder keeps a plan on each parsed item (spec/itemplan.py):
  first    a spec parsed anew before every run (the parse not timed): what `cnncalc table` pays
  rebuilt  the same parsed spec built again: what each variant of a sweep pays after the first

Each figure is the best of several runs (the garbage collector on, as in real use; a gc.collect()
before each run). Wall time (perf_counter) and CPU time of this process (process_time) are both
printed: on a machine shared with other work the CPU time is the steadier of the two.
"""
from __future__ import annotations

import argparse
import functools
import gc
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from cnncalc.analysis.engine import analyze  # noqa: E402
from cnncalc.spec.bundled import bundled_specs  # noqa: E402
from cnncalc.spec.graph import build  # noqa: E402
from cnncalc.spec.spec import load_spec, parse_spec  # noqa: E402

ZOO = ("resnet152", "densenet121", "inception_v3", "efficientnet_b0", "mobilenet_v2")


def repeated(layers: int) -> str:
    return "input: [16, 32, 32]\nlayers:\n" + "  - {op: conv, out: 16, kernel: 3, pad: 1, act: relu}\n" * layers


def distinct(layers: int) -> str:
    return "input: [16, 32, 32]\nlayers:\n" + "".join(
        f"  - {{op: conv, out: {16 + i}, kernel: 3, pad: 1, act: relu}}\n" for i in range(layers))


def best(runs: int, parse: Callable[[], Any]) -> dict[str, float]:
    """The best of `runs` of analyze(build(spec)), for a spec parsed anew before each run (first) and
    for one parsed spec built again (rebuilt)."""
    figures: dict[str, float] = {}
    rebuilt = parse()
    for kind in ("first", "rebuilt"):
        wall, cpu = float("inf"), float("inf")
        for _ in range(runs):
            spec = parse() if kind == "first" else rebuilt
            gc.collect()
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            report = analyze(build(spec))
            wall = min(wall, time.perf_counter() - start_wall)
            cpu = min(cpu, time.process_time() - start_cpu)
            layers = len(report.rows)
            del report, spec
        figures.update({"layers": layers, f"{kind}_wall_us_per_layer": wall / layers * 1e6,
                        f"{kind}_cpu_us_per_layer": cpu / layers * 1e6})
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    sizes = (1000, 5000) if args.quick else (1000, 5000, 10000)
    runs = 3 if args.quick else 7
    import cnncalc

    print(f"cnncalc {cnncalc.__version__}, Python {platform.python_version()}, {platform.platform()}")
    print(f"best of {runs}; µs per layer of analyze(build(spec)), wall and CPU time, of a spec's first build")
    print("and of the same parsed spec built again\n")
    print(f"{'':<30} {'first':>19} {'rebuilt':>19}")
    print(f"{'spec':<22} {'layers':>7} {'wall µs':>9} {'cpu µs':>9} {'wall µs':>9} {'cpu µs':>9}")
    results = []
    for kind, make in (("repeated", repeated), ("distinct", distinct)):
        for layers in sizes:
            parse = functools.partial(parse_spec, make(layers), f"{kind}{layers}.yaml")
            figures = best(runs, parse)
            results.append({"spec": f"{kind} {layers}", **figures})
    zoo = bundled_specs()
    for name in ZOO:
        figures = best(runs * 3, functools.partial(load_spec, zoo[name], name))
        results.append({"spec": name, **figures})
    for row in results:
        print(f"{row['spec']:<22} {row['layers']:>7} {row['first_wall_us_per_layer']:>9.1f} "
              f"{row['first_cpu_us_per_layer']:>9.1f} {row['rebuilt_wall_us_per_layer']:>9.1f} "
              f"{row['rebuilt_cpu_us_per_layer']:>9.1f}")
    if args.json:
        args.json.write_text(json.dumps({"python": platform.python_version(), "runs": runs, "results": results},
                                        indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
