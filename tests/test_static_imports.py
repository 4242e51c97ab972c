"""The static path imports no heavy package (the brief: torch, numpy, matplotlib and sympy only in the
commands that need them). Every command below runs in one fresh Python, one after the other, and the
heavy packages in sys.modules are read after each: the first command that imports one is named. One
process instead of one per command: a fresh `cnncalc` costs about 0.5 s of CPU (CONTRIBUTING.md,
test lanes)."""
from __future__ import annotations

import json
import subprocess
import sys

from .conftest import HEAVY_PACKAGES, ROOT

HEAVY = (*HEAVY_PACKAGES, "sympy")

COMMANDS = [
    ["table", "alexnet"],
    ["table", "alexnet", "-f", "json"],
    # the peer conventions are weights in cnncalc: none of them needs its tool, or torch
    *(["table", "resnet18", "-f", "json", "--convention", tool] for tool in ("fvcore", "ptflops", "thop", "torchinfo",
                                                                          "torch")),
    ["check", "resnet50", "--max-params", "30M"],
    ["compare", "resnet50", "alexnet"],
    ["sweep", "mobilenet_v2", "--set", "width=0.5,1.0", "--jobs", "1"],
    ["memory", "resnet18", "--fit", "8GiB", "-f", "json"],
    ["report", "alexnet", "-o", "{tmp}/alexnet.html"],  # the HTML report draws its own charts
    ["profile", "--help"],  # the torch commands' help
]

RUN = """
import contextlib, io, json, sys
from cnncalc.cli import app
heavy, tmp = json.loads(sys.argv[1]), sys.argv[2]
for args in json.loads(sys.argv[3]):
    args = [arg.replace("{tmp}", tmp) for arg in args]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            app(args)
            code = 0
        except SystemExit as exit:
            code = exit.code or 0
    imported = sorted({name.split(".")[0] for name in sys.modules} & set(heavy))
    print(json.dumps([args, code, imported]))
"""


def test_the_static_commands_import_no_heavy_package(tmp_path):
    out = subprocess.run([sys.executable, "-c", RUN, json.dumps(HEAVY), str(tmp_path), json.dumps(COMMANDS)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    runs = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(runs) == len(COMMANDS)
    assert [(args, code, imported) for args, code, imported in runs if code != 0 or imported] == []
    assert (tmp_path / "alexnet.html").stat().st_size > 10_000  # the report was written, not refused


def test_starting_the_cli_does_not_scan_the_installed_packages():
    # importlib.metadata (for cnncalc.__version__) read every installed distribution: a third of the CPU of
    # `import cnncalc.cli`; the version is now looked up when asked (`cnncalc --version`, the report's footer)
    code = "import sys, cnncalc.cli; print('importlib.metadata' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
