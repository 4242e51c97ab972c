#!/usr/bin/env python3
"""Benchmark of `cnncalc table`: how the cost grows with the number of layers, and what the CLI costs.

    python benchmarks/bench_table.py              # full run (about 1 to 1.5 minutes on 2 cores)
    python benchmarks/bench_table.py --quick      # smaller sizes, fewer repeats (about 10 seconds)
    python benchmarks/bench_table.py --json out.json

Standard library only (plus cnncalc itself). See benchmarks/README.md for what each figure means.

1. Synthetic sequential specs of N identical conv layers (input [16, 32, 32], every layer
   `{op: conv, out: 16, kernel: 3, pad: 1, act: relu}`, so the shape never changes) are written to a
   temporary folder. For each N, best of a few repeats (at least 5 for the engine; time.perf_counter,
   garbage collector on, a gc.collect() before each repeat):
     parse   spec.parse_spec(text, file)                    (YAML -> validated Spec)
     engine  engine.analyze(graph.build(spec))              (on a spec already parsed, never built before)
     render  plain_text(render.lecture_table(report))       (the lecture table as text)
   plus two diagnostics: parse again with the garbage collector disabled, and the YAML alone
   (yamlsrc.parse_yaml: text -> located values; parse minus this is the spec's own checks).
   Cost per layer should stay flat if a phase is linear; the ratio of the per-layer time at the
   largest N to that at the smallest N is printed for each phase.
2. End to end, as subprocesses (one warm-up run, then the median of several; output to /dev/null;
   bytecode cached in a private temporary folder): `python -c pass`, `python -c "import cnncalc.cli"`
   (also with the environment as is), `cnncalc table specs/alexnet.yaml` and `cnncalc table` on the
   big synthetic spec.
3. That importing cnncalc.cli and running the table imports none of torch, numpy, sympy.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_command

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from cnncalc.analysis.engine import analyze  # noqa: E402
from cnncalc.render import lecture_table  # noqa: E402
from cnncalc.render.console import plain_text  # noqa: E402
from cnncalc.spec.graph import build  # noqa: E402
from cnncalc.spec.spec import parse_spec  # noqa: E402
from cnncalc.spec.yamlsrc import parse_yaml  # noqa: E402

INPUT_SHAPE = (16, 32, 32)
LAYER_LINE = "  - {op: conv, out: 16, kernel: 3, pad: 1, act: relu}\n"
WATCHED_MODULES = ("torch", "numpy", "sympy")
# Verdicts on the ratio (per-layer time at the largest N) / (per-layer time at the smallest N).
# Up to FLAT_RATIO is flat; up to GROWS_RATIO is mild growth that CPU caches and the garbage collector
# cause even in linear code once the heap holds hundreds of thousands of objects; above it, it grows.
FLAT_RATIO = 1.25
GROWS_RATIO = 1.5
ENGINE_MIN_REPEATS = 5  # the engine is cheap and its timings noisy: always take the best of at least 5

FULL = {"sizes": (625, 1250, 2500, 5000, 10000), "repeats": 3, "cli_runs": 10,
        "big_layers": 5000, "big_runs": 3}
QUICK = {"sizes": (250, 500, 1000, 2000), "repeats": 2, "cli_runs": 5,
         "big_layers": 2000, "big_runs": 1}

PHASES = ("parse", "engine", "render")


# --------------------------------------------------------------------------------------------
# helpers


def synthetic_spec(layers: int) -> str:
    header = (f"name: seq{layers}\n"
              f"description: {layers} identical 3x3 convs (benchmarks/bench_table.py)\n"
              f"input: [{', '.join(map(str, INPUT_SHAPE))}]\n"
              "layers:\n")
    return header + LAYER_LINE * layers


def best_of(repeats: int, fn: Callable[[], Any], *, gc_enabled: bool = True) -> tuple[float, Any]:
    """The fastest of `repeats` calls, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        result = None  # the previous result must not sit in the heap while timing the next call
        gc.collect()
        if not gc_enabled:
            gc.disable()
        try:
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        best = min(best, elapsed)
    return best, result




def run_times(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall time of `runs` runs of a command after one untimed warm-up run, output to /dev/null.
    Fails loudly on a non-zero exit."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=env)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"command failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                             f"{proc.stderr.decode(errors='replace')}")
        if i:  # the first run only warms the bytecode cache and the OS file cache
            times.append(elapsed)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": runs}


def cached_bytecode_env(folder: Path) -> dict[str, str]:
    """The environment with bytecode caching on, into a private folder (nothing is written to the
    checkout). An installed package has its .pyc files; with PYTHONDONTWRITEBYTECODE=1 and an editable
    install without __pycache__, every run would compile cnncalc from source instead."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(folder)
    return env


IMPORT_CHECK = rf"""
import contextlib, importlib.util, io, json, sys
WATCH = {WATCHED_MODULES!r}
import cnncalc.cli
after_import = [m for m in WATCH if m in sys.modules]
buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    cnncalc.cli.app(["table", sys.argv[1]], standalone_mode=False)
text = buffer.getvalue()
print(json.dumps({{
    "after_import": after_import,
    "after_table": [m for m in WATCH if m in sys.modules],
    "installed": [m for m in WATCH if importlib.util.find_spec(m) is not None],
    "table_ok": "conv1" in text and "total" in text,
    "modules_loaded": len(sys.modules),
}}))
"""


def import_check(spec: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", IMPORT_CHECK, spec], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"import check failed (exit {proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# the benchmark


def scaling(sizes: tuple[int, ...], repeats: int, folder: Path) -> list[dict[str, Any]]:
    results = []
    for layers in sizes:
        path = folder / f"seq{layers}.yaml"
        path.write_text(synthetic_spec(layers), encoding="utf-8")
        text = path.read_text(encoding="utf-8")

        parse_s, spec = best_of(repeats, lambda text=text, path=path: parse_spec(text, str(path)))
        parse_nogc_s, _ = best_of(repeats, lambda text=text, path=path: parse_spec(text, str(path)), gc_enabled=False)
        yaml_s, _ = best_of(repeats, lambda text=text, path=path: parse_yaml(text, str(path)))
        engine_repeats = max(repeats, ENGINE_MIN_REPEATS)  # each run builds a spec parsed anew, as the CLI does
        fresh = iter([parse_spec(text, str(path)) for _ in range(engine_repeats)])  # (the builder keeps plans on items)
        engine_s, report = best_of(engine_repeats, lambda fresh=fresh: analyze(build(next(fresh))))
        render_s, rendered = best_of(repeats, lambda report=report: plain_text(lecture_table(report)))

        # sanity: the work really was done
        assert len(report.rows) == layers, (len(report.rows), layers)
        assert all(row.output_shape == INPUT_SHAPE for row in report.rows)
        assert rendered.count("\n") >= layers

        row = {"layers": layers, "parse_s": parse_s, "engine_s": engine_s, "render_s": render_s,
               "parse_nogc_s": parse_nogc_s, "yaml_s": yaml_s}
        for key in ("parse", "engine", "render", "parse_nogc", "yaml"):
            row[f"{key}_us_per_layer"] = row[f"{key}_s"] / layers * 1e6
        results.append(row)
        print(f"  {layers:>6} layers: parse {parse_s:7.3f} s  engine {engine_s:7.3f} s  "
              f"render {render_s:7.3f} s", flush=True)
        del spec, report, rendered
    return results


def verdict_for(ratio: float) -> str:
    if ratio <= FLAT_RATIO:
        return "flat: linear"
    if ratio <= GROWS_RATIO:
        return "mild growth (caches/GC); work is linear"
    return "GROWS: not linear over this range"


def print_scaling(results: list[dict[str, Any]]) -> dict[str, float]:
    print()
    print(f"{'layers':>7} | {'parse s':>8} {'engine s':>9} {'render s':>9} | "
          f"{'parse':>7} {'engine':>7} {'render':>7} | {'parse, gc off':>13} {'yaml':>7}")
    print(f"{'':>7} | {'':>8} {'':>9} {'':>9} | {'us/layer':>23} | {'us/layer':>21}")
    print("-" * 96)
    for r in results:
        print(f"{r['layers']:>7} | {r['parse_s']:>8.4f} {r['engine_s']:>9.4f} {r['render_s']:>9.4f} | "
              f"{r['parse_us_per_layer']:>7.1f} {r['engine_us_per_layer']:>7.1f} "
              f"{r['render_us_per_layer']:>7.1f} | {r['parse_nogc_us_per_layer']:>13.1f} "
              f"{r['yaml_us_per_layer']:>7.1f}")
    small, large = results[0], results[-1]
    ratios = {}
    print()
    print(f"per-layer time at {large['layers']} layers / at {small['layers']} layers "
          f"(1.0 = perfectly linear; <= {FLAT_RATIO} flat, <= {GROWS_RATIO} mild, above grows):")
    for key in (*PHASES, "parse_nogc", "yaml"):
        ratio = large[f"{key}_us_per_layer"] / small[f"{key}_us_per_layer"]
        ratios[key] = ratio
        verdict = verdict_for(ratio)
        label = "parse, gc off" if key == "parse_nogc" else key
        print(f"  {label:<14} x{ratio:5.2f}  {verdict}")
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    began = time.perf_counter()

    import yaml  # only to report whether libyaml (the C loader) is in use

    import cnncalc

    env = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cnncalc": cnncalc.__version__,
        "pyyaml": yaml.__version__,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
    }
    print(f"cnncalc {env['cnncalc']}, Python {env['python']} ({env['implementation']}), {env['platform']}, "
          f"{env['cpu_count']} CPUs, PyYAML {env['pyyaml']} {'with' if env['libyaml'] else 'WITHOUT'} libyaml")
    print(f"mode: {'quick' if args.quick else 'full'}; sizes {list(config['sizes'])}, best of {config['repeats']}")
    print()
    print("1. scaling with the number of layers (in-process)")

    with tempfile.TemporaryDirectory(prefix="cnncalc-bench-") as tmp:
        folder = Path(tmp)
        results = scaling(config["sizes"], config["repeats"], folder)
        ratios = print_scaling(results)

        print()
        print("2. end to end (subprocesses, output to /dev/null)")
        cli = cli_command()
        big = folder / f"seq{config['big_layers']}.yaml"
        if not big.exists():
            big.write_text(synthetic_spec(config["big_layers"]), encoding="utf-8")
        alexnet = REPO / "specs" / "alexnet.yaml"
        alexnet_arg = str(alexnet.relative_to(REPO)) if alexnet.exists() else "alexnet"
        runs = config["cli_runs"]
        cached = cached_bytecode_env(folder / "pycache")
        end_to_end = {
            "python -c pass": run_times([sys.executable, "-c", "pass"], runs, cached),
            "python -c 'import cnncalc.cli'": run_times([sys.executable, "-c", "import cnncalc.cli"], runs, cached),
            "  same, environment as is": run_times([sys.executable, "-c", "import cnncalc.cli"], runs),
            f"cnncalc table {alexnet_arg}": run_times(cli + ["table", alexnet_arg], runs, cached),
            f"cnncalc table <{config['big_layers']}-layer spec>": run_times(cli + ["table", str(big)],
                                                                             config["big_runs"], cached),
        }
    print(f"   (cnncalc = {' '.join(cli)}; bytecode cached in a private folder, except 'environment as is',"
          f" where PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')})")
    width = max(map(len, end_to_end))
    for label, t in end_to_end.items():
        print(f"  {label:<{width}}  median {t['median_s'] * 1000:8.1f} ms  "
              f"(min {t['min_s'] * 1000:.1f}, max {t['max_s'] * 1000:.1f}, {t['runs']} runs)")
    import_cost = (end_to_end["python -c 'import cnncalc.cli'"]["median_s"]
                   - end_to_end["python -c pass"]["median_s"])
    print(f"  import cnncalc.cli alone (minus interpreter start-up): {import_cost * 1000:.1f} ms")

    print()
    print("3. heavy imports (import cnncalc.cli, then app(['table', 'alexnet']) in a fresh interpreter)")
    check = import_check("alexnet")
    clean = not check["after_import"] and not check["after_table"]
    print(f"  after import cnncalc.cli: {', '.join(check['after_import']) or 'none of ' + '/'.join(WATCHED_MODULES)}")
    print(f"  after running the table:  {', '.join(check['after_table']) or 'none of ' + '/'.join(WATCHED_MODULES)}")
    print(f"  installed here (so the check is meaningful for these): {', '.join(check['installed']) or 'none'}")
    print(f"  table rendered: {'yes' if check['table_ok'] else 'NO'}; modules loaded: {check['modules_loaded']}")
    print(f"  -> {'OK: no heavy imports' if clean else 'PROBLEM: heavy modules imported'}")

    elapsed = time.perf_counter() - began
    print()
    print(f"benchmark took {elapsed:.1f} s")

    if args.json:
        payload = {
            "environment": env,
            "mode": "quick" if args.quick else "full",
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
            "spec": {"input": list(INPUT_SHAPE), "layer": LAYER_LINE.strip()[2:]},
            "scaling": results,
            "per_layer_ratio_largest_vs_smallest": ratios,
            "verdicts": {key: verdict_for(ratio) for key, ratio in ratios.items()},
            "ratio_thresholds": {"flat": FLAT_RATIO, "grows": GROWS_RATIO},
            "end_to_end": end_to_end,
            "import_cnncalc_cli_minus_startup_s": import_cost,
            "cli_command": cli,
            "heavy_imports": check,
            "benchmark_s": elapsed,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")
    return 0 if clean and check["table_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
