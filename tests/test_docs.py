"""Examples in the docs are real output: every ```console block starting with `$ cnncalc ...`
must print exactly what follows it (stdout, then stderr). Regenerate with --update-golden."""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import tempfile

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.layers import layer_types

from .conftest import ROOT

TORCH_COMMANDS = ("verify", "export", "profile")
pytestmark = pytest.mark.slow  # every console example of the docs run: CI, not the fast lane
BLOCK = re.compile(r"```console\n\$ (cnncalc [^\n]*)\n(.*?)```", re.S)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _run(command: str) -> str:
    """The command's output, run in a scratch folder that sees the checkout's files (links to its
    top-level entries), so that examples read `specs/...` and what they write stays out of it."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        for entry in ROOT.iterdir():
            os.symlink(entry, os.path.join(scratch, entry.name))
        os.chdir(scratch)
        try:
            result = CliRunner().invoke(app, shlex.split(command)[1:])
        finally:
            os.chdir(cwd)
    return result.stdout + result.stderr


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_console_examples_are_real_output(request, path):
    text = path.read_text(encoding="utf-8")
    if request.config.getoption("--update-golden"):
        new = BLOCK.sub(lambda m: f"```console\n$ {m.group(1)}\n{_run(m.group(1))}```", text)
        path.write_text(new, encoding="utf-8")
        return
    for command, shown in BLOCK.findall(text):
        if command.split()[1] in TORCH_COMMANDS and importlib.util.find_spec("torch") is None:
            continue  # the example needs PyTorch; a torch-less run checks the others
        if "--symbolic" in command and importlib.util.find_spec("sympy") is None:
            continue  # likewise sympy (the `symbolic` extra)
        draws = command.split()[1] == "plot" or "--plot" in command.split()
        if draws and importlib.util.find_spec("matplotlib") is None:
            continue  # likewise matplotlib (the `plot` extra): `cnncalc plot`, `compare/sweep --plot`
        assert shown == _run(command), f"{path.name}: output of '{command}' changed; run pytest --update-golden"


def test_spec_docs_list_every_layer_type():
    text = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    for cls in layer_types():
        assert f"`{cls.op}`" in text, cls.op
        for alias in cls.aliases:
            assert alias in text, alias
