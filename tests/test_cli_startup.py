"""The CLI's start-up (cli/coercion.py, cli/app.py): plain command-line values are coerced without
typer's pydantic adapters, and must come out exactly as typer's would; typer's help and error
formatting (rich.markdown with it) load only when help or an error is shown; a command line builds
only the command it names, and says exactly what the whole app says. These tests read typer 0.29's
internals the CLI relies on: they fail when typer changes under it."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.cli.coercion import PlainCoercion

from .conftest import ROOT

runner = CliRunner()

# What a user might type for any parameter: plain values, and everything that must reach typer's adapter.
TYPED = ["1", "0", "-3", "12", "007", "+5", " 5", "5 ", "1_000", "1e3", "1.0", "1.5", "-0", "-0.0", "0.25", ".5", "5.",
         "\u0661\u0662", "", "x", "inf", "nan", "-inf", "99999999999999999999999", "1" * 18, "1" * 19, "0x10", "\xa05",
         "float32", "FLOAT32", "bfloat16", "table", "json", "Table", "cpu", "cuda", "onnx", "train", "specs/alexnet.yaml",
         "alexnet", "a\x00b", "x\udcff", " a ", "-", "~/x", "a" * 300, "\u202e", "a,b", "NAME=VALUE", "+rf,jump"]


def parameters():
    group = typer.main.get_group(app)
    for name, command in sorted(group.commands.items()):
        for param in command.params:
            yield pytest.param(command, param, id=f"{name}-{param.name}")
    for param in group.params:
        yield pytest.param(group, param, id=f"cnncalc-{param.name}")


def outcome(coercion, value, param, ctx):
    try:
        result = coercion.coerce(value, param=param, ctx=ctx)
    except BadParameter as error:
        return ("error", error.format_message())
    return ("value", type(result), [(type(item), item) for item in result] if isinstance(result, list) else result)


def values_for(param):
    """Typed values, in the shape click hands them over (a tuple for repeatable and variadic ones), the
    default, and None (not given)."""
    many = param.multiple or param.nargs == -1
    typed = [(value,) for value in TYPED] + [tuple(TYPED[:5]), ()] if many else TYPED
    return [*typed, param.default, None]


@pytest.mark.parametrize(("command", "param"), list(parameters()))
def test_plain_values_come_out_as_typer_coerces_them(command, param, tmp_path):
    assert isinstance(param, _TyperParameter)
    ctx = Context(command)
    plain = PlainCoercion(param.type_descriptor, build_runtime_param)
    typers = build_runtime_param(param.type_descriptor)
    for value in values_for(param):
        expected = outcome(typers, value, param, ctx)
        assert outcome(plain, value, param, ctx) == expected, value


def test_a_path_that_cannot_be_read_gets_typers_message(tmp_path, monkeypatch):
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: x\n")
    secret.chmod(0)
    real_access = os.access
    # root may read any file whatever its mode, and both coercions ask os.access: deny it for this file
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if str(path) == str(secret) and mode & os.R_OK
                        else real_access(path, mode, **kw))
    group = typer.main.get_group(app)
    param = next(p for p in group.commands["import"].params if p.name == "output")
    ctx = Context(group.commands["import"])
    plain = outcome(PlainCoercion(param.type_descriptor, build_runtime_param), str(secret), param, ctx)
    assert plain == outcome(build_runtime_param(param.type_descriptor), str(secret), param, ctx)
    assert plain[0] == "error" and "is not readable" in plain[1]


def test_the_app_coerces_through_plain_coercion():
    group = typer.main.get_group(app)
    param = next(p for p in group.commands["table"].params if p.name == "batch")
    param._runtime_param = None
    assert isinstance(param.get_runtime_param(), PlainCoercion)
    result = runner.invoke(app, ["table", "alexnet", "--batch", "2", "-f", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["batch"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--batch", "0"], "Invalid value for '--batch' / '-b': Input should be greater than or equal to 1"),
    (["--batch", "two"], "Invalid value for '--batch' / '-b': Input should be a valid integer, unable to parse"),
    (["--format", "yaml"], "Invalid value for '--format' / '-f': Value error, 'yaml' is not one of"),
])
def test_values_that_are_not_plain_get_typers_error(args, message):
    result = runner.invoke(app, ["table", "alexnet", *args])
    assert result.exit_code == 2 and message in " ".join(result.stderr.replace("│", " ").split())


def test_a_usage_error_echoes_what_was_typed_sanitized():
    result = runner.invoke(app, ["table", "alexnet", "--a\u202eb\x1b[2J"])
    assert result.exit_code == 2 and "No such option: --a\ufffdb\\x1b[2J " in result.stderr  # typer escapes ESC


LOADED = r"""
import contextlib, io, json, sys
from cnncalc.cli import app
with contextlib.redirect_stdout(io.StringIO()):
    try:
        app(sys.argv[1:], prog_name="cnncalc")
    except SystemExit as exit:
        code = exit.code
print(json.dumps([code, sorted(name for name in sys.modules if name.split(".")[0] in ("pydantic", "rich", "typer"))]))
"""


def loaded(*args: str) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return code, set(modules)


@pytest.mark.parametrize("args", [["table", "alexnet"], ["check", "resnet50", "--max-params", "30M"],
                                  ["grade", "alexnet", str(Path("tests/data/sheets/alexnet/alice.csv"))]])
def test_a_command_loads_neither_pydantic_nor_typers_help_formatting(args):
    code, modules = loaded(*args)
    assert code == 0
    assert not {name for name in modules if name.startswith("pydantic")}
    assert "typer.rich_utils" not in modules and "rich.markdown" not in modules


def test_help_and_usage_errors_still_load_typers_formatting():
    assert "typer.rich_utils" in loaded("--help")[1]
    code, modules = loaded("table", "alexnet", "--batch", "0")
    assert code == 2 and "typer.rich_utils" in modules and "pydantic" in modules


def run_in_process(command, args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            command(args, prog_name="cnncalc")
            code = 0
        except SystemExit as exit:
            code = exit.code
    return code, out.getvalue(), err.getvalue()


NAMES = sorted(typer.main.get_group(app).commands)


@pytest.mark.parametrize("args", [[name, "--help"] for name in NAMES] + [
    ["table", "alexnet", "--batch", "0"], ["table", "alexnet", "--bogus"], ["table"], ["table", "alexnet", "-f", "csv"],
    ["check", "resnet50", "--max-params", "3M"], ["grade", "alexnet", "tests/data/sheets/alexnet/alice.csv"],
    ["tabel"], ["--help"], ["--version"], [], ["table", "nosuch"]])
def test_a_command_line_builds_its_command_alone_and_says_the_same(args, monkeypatch):
    monkeypatch.chdir(ROOT)
    whole = typer.main.get_command(app)
    assert run_in_process(app, args) == run_in_process(whole, args)


def test_each_command_is_found_by_its_name_alone():
    from cnncalc.cli.app import command_name

    assert sorted(command_name(info) for info in app.registered_commands) == NAMES
