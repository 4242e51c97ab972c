#!/usr/bin/env python3
"""Benchmark of `cnncalc export --to pytorch`: what writing the idiomatic file costs, how much of it is the
analysis behind the docstring's totals, and how the cost grows with the number of block uses.

    python benchmarks/bench_export.py            # zoo specs and sizes 100..800 (about 1 minute on 2 cores)
    python benchmarks/bench_export.py --quick    # fewer specs, sizes 50..200
    python benchmarks/bench_export.py --json out.json

Needs torch (the generator reads torch's defaults to leave them out). See benchmarks/README.md.

1. Zoo specs, in-process, best of 3 (time.perf_counter, a gc.collect() before each repeat):
     build      graph.build(spec) on the parsed spec
     analyze    engine.analyze(graph): the totals of the file's docstring
     idiomatic  export.idiomatic_source(graph): classes, loops and functions, docstring included
     flat       export.flat_source(graph): one class registering every layer
2. Scaling: a spec whose residual block is repeated N times at the top level and used N more times
   one by one (2N uses of one class); the idiomatic file's cost per use should stay flat.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of  # noqa: E402

started = time.perf_counter()
import torch  # noqa: E402,F401  (imported once, up front, so that no phase pays for it)

TORCH_IMPORT_S = time.perf_counter() - started

from cnncalc.analysis.engine import analyze  # noqa: E402
from cnncalc.pytorch.export import flat_source, idiomatic_source  # noqa: E402
from cnncalc.spec.bundled import resolve  # noqa: E402
from cnncalc.spec.graph import build  # noqa: E402
from cnncalc.spec.spec import load_spec, parse_spec  # noqa: E402

ZOO = ["alexnet", "resnet50", "resnet152", "mobilenet_v2", "googlenet", "inception_v3", "densenet121",
       "regnet_y_400mf", "efficientnet_b0", "vgg19_bn"]
QUICK_ZOO = ["resnet50", "densenet121", "vgg19_bn"]
SCALING = """name: chain{n}
input: [16, 32, 32]
blocks:
  res:
    params: [{{stride: 1}}]
    layers:
      - {{op: conv, name: conv, out: in_channels, kernel: 3, stride: stride, pad: 1, bias: false}}
      - {{op: bn, name: bn}}
      - {{op: add, name: add, in: [bn, input], when: stride == 1}}
      - {{op: relu, name: relu}}
layers:
  - {{op: res, name: stage, repeat: {n}}}
{uses}"""


def zoo(names: list[str], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        spec = load_spec(resolve(name)[0])
        graph = build(spec)
        row = {"spec": name, "layers": len(graph.nodes),
               "build": best_of(repeats, lambda spec=spec: build(spec)),
               "analyze": best_of(repeats, lambda graph=graph: analyze(graph)),
               "idiomatic": best_of(repeats, lambda graph=graph, name=name: idiomatic_source(graph, name)),
               "flat": best_of(repeats, lambda graph=graph, name=name: flat_source(graph, name))}
        row["analyze share"] = row["analyze"] / row["idiomatic"]
        rows.append(row)
    return rows


def scaling(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        uses = "".join(f"  - {{op: res, name: one{k}}}\n" for k in range(n))
        graph = build(parse_spec(SCALING.format(n=n, uses=uses)))
        seconds = best_of(repeats, lambda graph=graph: idiomatic_source(graph, "chain"))
        rows.append({"uses": 2 * n, "layers": len(graph.nodes), "idiomatic": seconds,
                     "us per use": seconds / (2 * n) * 1e6})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer specs and smaller sizes")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    repeats = 2 if args.quick else 3
    print(f"import torch: {TORCH_IMPORT_S:.2f} s (once per `cnncalc export`, before any of the below)\n")
    rows = zoo(QUICK_ZOO if args.quick else ZOO, repeats)
    print(f"{'spec':<16}{'layers':>7}{'build ms':>10}{'analyze ms':>12}{'idiomatic ms':>14}{'flat ms':>9}"
          f"{'analyze share':>15}")
    for row in rows:
        print(f"{row['spec']:<16}{row['layers']:>7}{row['build'] * 1e3:>10.1f}{row['analyze'] * 1e3:>12.1f}"
              f"{row['idiomatic'] * 1e3:>14.1f}{row['flat'] * 1e3:>9.1f}{row['analyze share']:>15.0%}")
    growth = scaling([50, 100, 200] if args.quick else [100, 200, 400, 800], repeats)
    print(f"\n{'uses':>6}{'layers':>8}{'idiomatic s':>13}{'us per use':>12}")
    for row in growth:
        print(f"{row['uses']:>6}{row['layers']:>8}{row['idiomatic']:>13.3f}{row['us per use']:>12.0f}")
    ratio = growth[-1]["us per use"] / growth[0]["us per use"]
    print(f"per-use cost at the largest size / at the smallest: {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"torch_import_s": TORCH_IMPORT_S, "zoo": rows, "scaling": growth},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
