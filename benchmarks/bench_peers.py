#!/usr/bin/env python3
"""cnncalc against the PyTorch counting tools (torchinfo, fvcore, ptflops, thop) on ResNet-152.

    python benchmarks/bench_peers.py                 # 5 timed runs per command (about 2 to 3 minutes on 2 cores)
    python benchmarks/bench_peers.py --runs 3
    python benchmarks/bench_peers.py --no-meta       # skip the meta-device variants
    python benchmarks/bench_peers.py --json out.json

Standard library only in this process. cnncalc and each peer run only inside their own fresh
subprocess, so every figure is what a user waits for: the wall time of the whole process (interpreter
start-up, imports, building the model, counting, exit). One untimed warm-up round, then `--runs`
rounds; in each round every command runs once (round-robin, so a change in background load hits all
commands alike). The median, min and max are printed.

Commands (ResNet-152 as torchvision builds it, input 1x3x224x224):
  cnncalc    `cnncalc table specs/resnet152.yaml` (output to /dev/null) and the same with `-f json`
  torchinfo  summary(m, input_size=(1, 3, 224, 224), verbose=0)
  fvcore     FlopCountAnalysis(m, torch.zeros(1, 3, 224, 224)).total() and parameter_count(m)
  ptflops    get_model_complexity_info(m, (3, 224, 224), as_strings=False, print_per_layer_stat=False)
  thop       profile(m, inputs=(torch.zeros(1, 3, 224, 224),), verbose=False)
where m = torchvision.models.resnet152(weights=None).eval(). The "meta" variants build m under
`with torch.device("meta")` (no weight allocation or initialisation, no real arithmetic in the forward
pass) and give the peers a meta input; a peer that fails that way is reported as not supporting it.
Floors: `python -c pass` and `python -c "import torch, torchvision"`.

Each peer subprocess also times its own phases (import, build, count) with time.perf_counter and
reports the totals it computed, which are printed next to cnncalc's (`cnncalc table ... -f json`).
See benchmarks/README.md and docs/performance.md.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
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
SPEC = "specs/resnet152.yaml"
MARK = "@@bench-peers "

# One child program; {tool} and {meta} are filled in. It prints one line starting with MARK.
CHILD = r'''
import json, time
t0 = time.perf_counter()
import torch, torchvision
TOOL, META = {tool!r}, {meta!r}
if TOOL == "torchinfo":
    from torchinfo import summary
elif TOOL == "fvcore":
    from fvcore.nn import FlopCountAnalysis, parameter_count
elif TOOL == "ptflops":
    from ptflops import get_model_complexity_info
elif TOOL == "thop":
    from thop import profile
t1 = time.perf_counter()
if META:
    with torch.device("meta"):
        m = torchvision.models.resnet152(weights=None)
else:
    m = torchvision.models.resnet152(weights=None)
m.eval()
t2 = time.perf_counter()
device = "meta" if META else "cpu"
extra = {{}}
if TOOL == "torchinfo":
    stats = summary(m, input_size=(1, 3, 224, 224), verbose=0, device=device)
    params, macs = stats.total_params, stats.total_mult_adds
elif TOOL == "fvcore":
    analysis = FlopCountAnalysis(m, torch.zeros(1, 3, 224, 224, device=device))
    macs = analysis.total()
    params = parameter_count(m)[""]
    extra = {{"by_operator": dict(analysis.by_operator()),
              "unsupported_ops": dict(analysis.unsupported_ops())}}
elif TOOL == "ptflops":
    macs, params = get_model_complexity_info(m, (3, 224, 224), as_strings=False,
                                             print_per_layer_stat=False, verbose=False)
elif TOOL == "thop":
    macs, params = profile(m, inputs=(torch.zeros(1, 3, 224, 224, device=device),), verbose=False)
t3 = time.perf_counter()
print({mark!r} + json.dumps({{"import_s": t1 - t0, "build_s": t2 - t1, "count_s": t3 - t2,
                            "params": int(params), "macs": int(macs), "extra": extra}}))
'''

# key, label, tool, meta, package that must be installed
PEERS = [
    ("torchinfo", "torchinfo summary", "torchinfo", False, "torchinfo"),
    ("fvcore", "fvcore FlopCountAnalysis + parameter_count", "fvcore", False, "fvcore"),
    ("ptflops", "ptflops get_model_complexity_info", "ptflops", False, "ptflops"),
    ("thop", "thop profile", "thop", False, "thop"),
]
META_PEERS = [(f"{key}-meta", f"{label}, meta model", tool, True, pkg) for key, label, tool, _, pkg in PEERS]

# What each tool's MAC/FLOP figure is called by the tool itself.
MAC_NAMES = {"torchinfo": "total_mult_adds", "fvcore": "flops (1 per multiply-add)",
             "ptflops": "MACs", "thop": "MACs"}




def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


class Command:
    def __init__(self, key: str, label: str, argv: list[str], env: dict[str, str], peer: str | None = None):
        self.key, self.label, self.argv, self.env, self.peer = key, label, argv, env, peer
        self.times: list[float] = []
        self.phases: list[dict[str, float]] = []
        self.result: dict[str, Any] | None = None
        self.error: str | None = None

    def run(self, timed: bool) -> None:
        if self.error:
            return
        capture = subprocess.PIPE if self.peer else subprocess.DEVNULL
        start = time.perf_counter()
        proc = subprocess.run(self.argv, stdout=capture, stderr=subprocess.PIPE, cwd=REPO, env=self.env)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.decode(errors="replace").strip().splitlines() if line.strip()]
            self.error = lines[-1] if lines else f"exit {proc.returncode}"
            return
        if self.peer:
            found = [line for line in proc.stdout.decode(errors="replace").splitlines() if line.startswith(MARK)]
            if not found:
                self.error = "no result line"
                return
            data = json.loads(found[-1][len(MARK):])
            self.result = data
            if timed:
                self.phases.append({k: data[k] for k in ("import_s", "build_s", "count_s")})
        if timed:
            self.times.append(elapsed)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "argv": self.argv if not self.peer else None,
                               "error": self.error}
        if self.times:
            out.update(median_s=statistics.median(self.times), min_s=min(self.times), max_s=max(self.times),
                       runs=len(self.times), times_s=self.times)
        if self.phases:
            out["phases_median_s"] = {k: statistics.median(p[k] for p in self.phases) for k in self.phases[0]}
        if self.result:
            out.update(params=self.result["params"], macs=self.result["macs"])
            if self.result.get("extra"):
                out["extra"] = self.result["extra"]
        return out


def cnncalc_totals(cli: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(cli + ["table", SPEC, "-f", "json"], capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"cnncalc table {SPEC} -f json failed:\n{proc.stderr}")
    data = json.loads(proc.stdout)
    by_op: dict[str, int] = {}
    for layer in data["layers"]:
        by_op[layer["op"]] = by_op.get(layer["op"], 0) + layer["macs"]
    weight = by_op.get("conv", 0) + by_op.get("linear", 0)
    return {"params": data["totals"]["params"], "macs": data["totals"]["macs"], "weight_macs": weight,
            "macs_by_op": by_op, "layers": len(data["layers"]), "convention": data["convention"]}


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--no-meta", action="store_true", help="skip the meta-device variants")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    began = time.perf_counter()

    env_info = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": {d: version(d) for d in ("cnncalc", "torch", "torchvision", "torchinfo", "fvcore",
                                              "ptflops", "thop", "typer", "rich", "PyYAML")},
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    vers = ", ".join(f"{k} {v}" for k, v in env_info["versions"].items() if v)
    print(f"Python {env_info['python']}, {env_info['platform']}, {env_info['cpu_count']} CPUs")
    print(f"versions: {vers}")
    missing = [d for d in ("torchinfo", "fvcore", "ptflops", "thop") if importlib.util.find_spec(d) is None]
    has_torch = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("torchvision") is not None

    with tempfile.TemporaryDirectory(prefix="cnncalc-peers-") as tmp:
        # cnncalc is an editable checkout without __pycache__ (and this sandbox sets PYTHONDONTWRITEBYTECODE=1):
        # cache its bytecode in a private folder, as an installed package has its .pyc files. The peers and
        # torch are in site-packages with the .pyc files pip wrote; they run with the environment as is.
        cached = dict(os.environ)
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        cached["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        as_is = dict(os.environ)
        cli = cli_command()
        commands = [
            Command("python", "python -c pass", [sys.executable, "-c", "pass"], as_is),
            Command("cnncalc", f"cnncalc table {SPEC}", cli + ["table", SPEC], cached),
            Command("cnncalc-json", f"cnncalc table {SPEC} -f json", cli + ["table", SPEC, "-f", "json"], cached),
        ]
        if has_torch:
            commands.append(Command("import-torch", "python -c 'import torch, torchvision'",
                                    [sys.executable, "-c", "import torch, torchvision"], as_is))
            for key, label, tool, meta, pkg in PEERS + ([] if args.no_meta else META_PEERS):
                if pkg in missing:
                    continue
                code = CHILD.format(tool=tool, meta=meta, mark=MARK)
                commands.append(Command(key, label, [sys.executable, "-c", code],
                                        as_is, peer=tool))
        totals = cnncalc_totals(cli, cached)

        print(f"cnncalc = {' '.join(cli)}; ResNet-152, input 1x3x224x224; 1 warm-up round, then {args.runs} rounds")
        if missing:
            print(f"not installed (skipped): {', '.join(missing)}")
        if not has_torch:
            print("torch/torchvision not installed: only cnncalc is timed")
        for round_no in range(args.runs + 1):
            for command in commands:
                command.run(timed=round_no > 0)
            print(f"  round {round_no}{' (warm-up)' if round_no == 0 else ''} done "
                  f"({time.perf_counter() - began:.0f} s)", flush=True)

    results = {c.key: c.summary() for c in commands}
    env_info["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    # ---- timings
    print()
    print("1. wall time of the whole process (ms; median, min, max) and, for the torch tools, the medians")
    print("   of the phases inside it (import torch+torchvision+tool, build the model, count)")
    width = max(len(c.label) for c in commands)
    print(f"  {'command':<{width}}  {'median':>8} {'min':>8} {'max':>8} | {'import':>7} {'build':>7} {'count':>7}")
    print("  " + "-" * (width + 56))
    for c in commands:
        r = results[c.key]
        if c.error:
            print(f"  {c.label:<{width}}  FAILED (not supported): {c.error[:60]}")
            continue
        line = f"  {c.label:<{width}}  {fmt_ms(r['median_s'])} {fmt_ms(r['min_s'])} {fmt_ms(r['max_s'])}"
        if "phases_median_s" in r:
            p = r["phases_median_s"]
            line += f" | {fmt_ms(p['import_s'])[1:]} {fmt_ms(p['build_s'])[1:]} {fmt_ms(p['count_s'])[1:]}"
        print(line)
    base = results.get("cnncalc", {}).get("median_s")
    if base:
        print()
        print(f"  relative to `cnncalc table` ({base * 1000:.0f} ms):")
        for c in commands:
            r = results[c.key]
            if c.key not in ("python", "cnncalc", "import-torch") and "median_s" in r:
                print(f"    {c.label:<{width}}  x{r['median_s'] / base:5.1f}")

    # ---- totals
    print()
    print("2. totals each tool reports for ResNet-152 (batch 1)")
    weight = totals["weight_macs"]
    print(f"  cnncalc ({totals['convention']} convention, {totals['layers']} rows): params {totals['params']:,}; "
          f"MACs {totals['macs']:,}")
    print(f"    of which conv + linear (multiply-adds with weights): {weight:,}; the rest is pooling windows: "
          + ", ".join(f"{op} {v:,}" for op, v in totals["macs_by_op"].items() if v and op not in ("conv", "linear")))
    print(f"  {'tool':<16} {'params':>12} {'MACs/FLOPs':>16}  {'minus cnncalc conv+linear':>26}  what the figure is")
    seen = set()
    for c in commands:
        r = results[c.key]
        if not c.peer or "macs" not in r:
            continue
        tag = c.peer + (" (meta)" if c.key.endswith("-meta") else "")
        pair = (c.peer, r["params"], r["macs"])
        if pair in seen:  # the meta variant agrees with the CPU one: say so once
            print(f"  {tag:<16} same as on CPU")
            continue
        seen.add(pair)
        print(f"  {tag:<16} {r['params']:>12,} {r['macs']:>16,}  {r['macs'] - weight:>+26,}  {MAC_NAMES[c.peer]}")
        if c.peer == "fvcore" and r.get("extra"):
            by_op = ", ".join(f"{k} {v:,}" for k, v in r["extra"]["by_operator"].items())
            skipped = ", ".join(f"{k} x{v}" for k, v in r["extra"]["unsupported_ops"].items())
            print(f"  {'':<16} by operator: {by_op}")
            print(f"  {'':<16} skipped (unsupported): {skipped or 'nothing'}")

    elapsed = time.perf_counter() - began
    print()
    print(f"load average: start {env_info['loadavg_start']}, end {env_info['loadavg_end']}")
    print(f"benchmark took {elapsed:.1f} s")
    if args.json:
        payload = {"environment": env_info, "runs": args.runs, "spec": SPEC, "cli_command": cli,
                   "cnncalc_totals": totals, "commands": results, "benchmark_s": elapsed}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")
    cnncalc_ok = all(not results[k]["error"] for k in ("cnncalc", "cnncalc-json"))
    return 0 if cnncalc_ok else 1


if __name__ == "__main__":
    sys.exit(main())
