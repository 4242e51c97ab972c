#!/usr/bin/env python3
"""Benchmark of the CLI's start-up: what a short-lived `cnncalc` process costs, end to end.

    python benchmarks/bench_startup.py              # 10 runs of each command (about 30 s on 2 cores)
    python benchmarks/bench_startup.py --runs 3     # quicker
    python benchmarks/bench_startup.py --json out.json

Standard library only (plus cnncalc itself, in subprocesses). See benchmarks/README.md.

Every cnncalc command is its own process (a student's `cnncalc table alexnet`, a CI job's
`cnncalc check`, a TA's script looping over sheets), so the import of the CLI is paid on every call
while the engine needs milliseconds. Each command below runs once untimed (to warm the bytecode and
the OS file caches), then `--runs` times, output to /dev/null; the script prints the median wall time
and the median CPU time (user + sys of the child, from os.wait4, which a shared machine disturbs less
than wall time):

    python -c pass                                     the interpreter alone: the floor under every row
    python -c "import cnncalc.cli"                     the CLI's imports
    cnncalc --help
    cnncalc table alexnet
    cnncalc check resnet50 --max-params 30M
    cnncalc grade alexnet <one answer sheet>

Bytecode is cached in a private temporary folder (PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE
removed), as for an installed package with its .pyc files. Then `python -X importtime -c "import
cnncalc.cli"` is run and its slowest top-level imports listed (cumulative microseconds, one run), and
the modules that `cnncalc table alexnet` loads are checked for torch, numpy and rich.markdown.
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
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_command

REPO = Path(__file__).resolve().parent.parent
SHEET = "tests/data/sheets/alexnet/alice.csv"
UNWANTED = ("torch", "numpy", "sympy", "pydantic", "rich.markdown", "markdown_it")

MODULES_AFTER_TABLE = r"""
import contextlib, io, json, sys
import cnncalc.cli
with contextlib.redirect_stdout(io.StringIO()):
    try:
        cnncalc.cli.app(["table", "alexnet"])
    except SystemExit as exit:
        code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def commands(cli: list[str]) -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import cnncalc.cli'": [sys.executable, "-c", "import cnncalc.cli"],
        "cnncalc --help": cli + ["--help"],
        "cnncalc table alexnet": cli + ["table", "alexnet"],
        "cnncalc check resnet50 --max-params 30M": cli + ["check", "resnet50", "--max-params", "30M"],
        f"cnncalc grade alexnet {Path(SHEET).name}": cli + ["grade", "alexnet", SHEET],
    }


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + sys) and exit code of one run."""
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> dict[str, Any]:
    walls, cpus = [], []
    for i in range(runs + 1):
        wall, cpu, code = run_once(cmd, env)
        if code not in (0, 1):  # `check` exits 1 when a budget is exceeded: still a finished run
            raise SystemExit(f"command failed (exit {code}): {' '.join(cmd)}")
        if i:  # the first run only warms the caches
            walls.append(wall)
            cpus.append(cpu)
    return {"wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
            "cpu_median_s": statistics.median(cpus), "cpu_min_s": min(cpus), "runs": runs, "exit": code}


def import_times(env: dict[str, str], top: int) -> list[tuple[str, int]]:
    """The `top` slowest imports under `import cnncalc.cli` (cumulative µs), cnncalc.cli itself first."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import cnncalc.cli"],
                          capture_output=True, text=True, cwd=REPO, env=env, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 2:  # what cnncalc.cli and its direct imports pull in
            rows.append((name.strip(), int(cumulative)))
    rows.sort(key=lambda row: -row[1])
    return rows[:top]


def loaded_after_table(env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", MODULES_AFTER_TABLE], capture_output=True, text=True,
                          cwd=REPO, env=env, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    modules = result["modules"]
    unwanted = [name for name in UNWANTED if name in modules]
    return {"exit": result["code"], "modules_loaded": len(modules), "unwanted_loaded": unwanted}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command (default 10)")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    began = time.perf_counter()

    import cnncalc

    machine = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
               "platform": platform.platform(), "cpu_count": os.cpu_count(), "cnncalc": cnncalc.__version__,
               "load_average": os.getloadavg()}
    print(f"cnncalc {machine['cnncalc']}, Python {machine['python']}, {machine['platform']}, "
          f"{machine['cpu_count']} CPUs, load average {machine['load_average'][0]:.2f}")
    cli = cli_command()
    print(f"cnncalc = {' '.join(cli)}; median of {args.runs} runs after one warm-up, output to /dev/null")
    print()

    with tempfile.TemporaryDirectory(prefix="cnncalc-startup-") as tmp:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        env["NO_COLOR"] = "1"
        results = {label: timed(cmd, args.runs, env) for label, cmd in commands(cli).items()}
        width = max(map(len, results))
        print(f"  {'command':<{width}}  {'wall ms':>8}  {'cpu ms':>7}  (min wall, min cpu)")
        for label, t in results.items():
            print(f"  {label:<{width}}  {t['wall_median_s'] * 1000:8.1f}  {t['cpu_median_s'] * 1000:7.1f}  "
                  f"({t['wall_min_s'] * 1000:.1f}, {t['cpu_min_s'] * 1000:.1f})")
        floor = results["python -c pass"]
        print(f"  the CLI's share of 'cnncalc table alexnet' (minus the interpreter): "
              f"{(results['cnncalc table alexnet']['cpu_median_s'] - floor['cpu_median_s']) * 1000:.1f} ms CPU")

        print()
        print("slowest imports under `python -X importtime -c 'import cnncalc.cli'` (cumulative, one run)")
        imports = import_times(env, 12)
        for name, micros in imports:
            print(f"  {micros / 1000:7.1f} ms  {name}")
        check = loaded_after_table(env)
    print()
    unwanted = check["unwanted_loaded"]
    print(f"modules loaded by `cnncalc table alexnet`: {check['modules_loaded']}; "
          f"of {', '.join(UNWANTED)}: {', '.join(unwanted) or 'none'}")
    print(f"benchmark took {time.perf_counter() - began:.1f} s")

    if args.json:
        payload = {"environment": machine, "cli_command": cli, "end_to_end": results,
                   "import_times_us": imports, "table_imports": check}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")
    return 0 if check["exit"] == 0 and not {"torch", "numpy"} & set(unwanted) else 1


if __name__ == "__main__":
    sys.exit(main())
