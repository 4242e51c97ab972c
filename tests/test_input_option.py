"""`--input` takes the spec's input's rank, on every command that has it: C,H,W for a spec on a feature map,
L,D for one on a sequence of tokens (docs/spec.md, "Vision transformers"), F for one on a vector. Another rank
is refused, located at the spec's `input:`, with the form it needs."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.api import parse_input_option
from cnncalc.cli import app
from cnncalc.core.errors import OptionError, SpecError

from .conftest import ROOT
from .test_cli_errors import assert_bad_input

runner = CliRunner()
VIT_BLOCK = str(ROOT / "docs" / "examples" / "vit_block.yaml")  # input: [197, 768] on line 3, column 8


def _args(command: str, spec: str, value: str, tmp_path) -> list[str]:
    """Each command that takes --input, with what else it needs to run."""
    extra = {"check": ["--max-params", "1G"], "export": ["-o", str(tmp_path / "net.py")],
             "plot": ["-o", str(tmp_path / "plot.svg")], "report": ["-o", str(tmp_path / "report.html")],
             "profile": ["--device", "cpu"]}.get(command, [])
    return [command, spec, "--input", value, *extra]


COMMANDS = ["table", "explain", "check", "compare", "sweep", "memory", "verify", "export", "profile", "plot",
            "report"]
# profile and plot say first that their extra is missing (torch, matplotlib): their input is checked only with it
_EXTRA = {"profile": "torch", "plot": "matplotlib"}
RUNNABLE = [pytest.param(command, marks=pytest.mark.skipif(
    command in _EXTRA and importlib.util.find_spec(_EXTRA[command]) is None,
    reason=f"{_EXTRA.get(command)} is not installed")) for command in COMMANDS]


def test_every_command_with_an_input_option_is_tested():
    from cnncalc.cli.app import INPUT
    from cnncalc.cli.budget import INPUTS

    takes = sorted(command.name or command.callback.__name__ for command in app.registered_commands
                   if any(param.default in (INPUT, INPUTS) for param in __import__("inspect").signature(
                       command.callback).parameters.values()))
    assert takes == sorted(COMMANDS)


@pytest.mark.parametrize("command", RUNNABLE)
def test_a_map_spec_refuses_two_sizes(command, tmp_path):
    """alexnet's input is [3, 227, 227] (line 9 of the bundled spec, `input:` at column 8)."""
    result = runner.invoke(app, _args(command, "alexnet", "3,227", tmp_path))
    assert_bad_input(result, "alexnet (bundled):9:8: error: --input 3,227 has 2 sizes, but the spec's input is a "
                             "feature map [C, H, W]: --input must be C,H,W", "hint: e.g. --input 3,227,227")


@pytest.mark.parametrize("command", RUNNABLE)
def test_a_sequence_spec_refuses_three_sizes(command, tmp_path):
    result = runner.invoke(app, _args(command, VIT_BLOCK, "3,224,224", tmp_path))
    assert_bad_input(result, "vit_block.yaml:3:8: error: --input 3,224,224 has 3 sizes, but the spec's input is a "
                             "sequence [L, D] of L tokens of D features: --input must be L,D",
                     "hint: e.g. --input 197,768")


def test_a_vector_spec_refuses_a_map():
    text = "input: [10]\nlayers:\n  - {op: linear, name: fc, out: 4}\n"
    with pytest.raises(SpecError, match=r"--input 3,8,8 has 3 sizes, but the spec's input is a vector \[F\]: "
                                        "--input must be F"):
        cnncalc.analyze(text, input="3,8,8")


@pytest.mark.parametrize("command", ["table", "explain", "check", "compare", "sweep", "memory"])
def test_a_sequence_spec_takes_two_sizes(command, tmp_path):
    """Each static command on the block with --input 50,768 says what it says of the block written with
    `input: [50, 768]` (its figures: test_the_new_input_gives_the_new_figures), not what it says at 197."""
    written = tmp_path / "vit_block.yaml"
    written.write_text(Path(VIT_BLOCK).read_text(encoding="utf-8").replace("input: [197, 768]", "input: [50, 768]"),
                       encoding="utf-8")
    given = runner.invoke(app, [*_args(command, VIT_BLOCK, "50,768", tmp_path), "-f", "json"])
    assert given.exit_code == 0, given.output
    spec_at_50 = runner.invoke(app, [*_args(command, str(written), "50,768", tmp_path), "-f", "json"])
    at_197 = runner.invoke(app, [*_args(command, VIT_BLOCK, "197,768", tmp_path), "-f", "json"])
    assert given.stdout.replace(VIT_BLOCK, "SPEC") == spec_at_50.stdout.replace(str(written), "SPEC")
    assert given.stdout != at_197.stdout


def test_the_new_input_gives_the_new_figures():
    """One encoder block at 50 tokens: the attention's 121,804,800 multiply-adds (4·50·768² = 117,964,800 for
    the projections, 2·50²·768 = 3,840,000 for the two products) and the MLP's 2·50·768·3072 = 235,929,600."""
    report = cnncalc.analyze(VIT_BLOCK, input="50,768")
    assert report.input_shape == (50, 768)
    assert report.rows[1].macs == 121_804_800
    assert report.totals.macs == 121_804_800 + 235_929_600
    # two layer norms 2 × 2·768, attention 4·768² + 4·768 = 2,362,368, fc1 768·3072 + 3072 = 2,362,368,
    # fc2 3072·768 + 768 = 2,360,064: 3,072 + 2,362,368 + 2,362,368 + 2,360,064 = 7,087,872 at any L
    assert report.totals.params == cnncalc.analyze(VIT_BLOCK).totals.params == 7_087_872


def test_parse_input_option_reads_one_two_or_three_sizes():
    assert parse_input_option("197,768") == (197, 768)
    assert parse_input_option("197x768") == (197, 768)
    assert parse_input_option("3,224,224") == (3, 224, 224)
    assert parse_input_option("512") == (512,)
    for bad in ("1,2,3,4", "197,0", "a,b", ""):
        with pytest.raises(OptionError, match="--input must be C,H,W"):
            parse_input_option(bad)


def test_the_api_takes_a_sequence_as_a_tuple():
    assert cnncalc.analyze(VIT_BLOCK, input=(50, 768)).input_shape == (50, 768)
    with pytest.raises(OptionError, match=r"input must be \(C, H, W\), \(L, D\) or \(F,\)"):
        cnncalc.analyze(VIT_BLOCK, input=(1, 2, 3, 4))
