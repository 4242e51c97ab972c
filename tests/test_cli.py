"""The CLI's happy paths: formats, options, bundled specs, the JSON contract, plain output."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

from .conftest import ROOT, SPECS

runner = CliRunner()
BUNDLED = ["alexnet", "googlenet_stem"]


def invoke(*args: str, **kwargs):
    result = runner.invoke(app, list(args), **kwargs)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("spec", BUNDLED)
@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_golden_outputs(golden, spec, fmt):
    text = invoke("table", str(SPECS / f"{spec}.yaml"), "--format", fmt).stdout
    golden(f"{spec}.{ {'table': 'txt', 'markdown': 'md'}.get(fmt, fmt)}", text)


def test_piped_table_is_plain_text():
    text = invoke("table", "alexnet").stdout
    assert "\x1b[" not in text  # no colour codes when not a terminal
    assert all(line == line.rstrip() for line in text.splitlines())


def test_no_color_in_a_terminal():
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": ""}
    env.pop("FORCE_COLOR")
    # rich honours NO_COLOR even when it believes it writes to a terminal
    code = ("import rich.console as c; c.Console.is_terminal = property(lambda self: True); "
            "from cnncalc.cli import app; app(['table', 'googlenet_stem'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "conv1" in out.stdout
    for sequence in re.findall(r"\x1b\[([0-9;]*)m", out.stdout):  # bold and italic may stay, colour may not
        codes = [int(code) for code in sequence.split(";") if code]
        assert not [c for c in codes if 30 <= c <= 49 or 90 <= c <= 107], sequence


def test_json_contract():
    data = json.loads(invoke("table", "alexnet", "-f", "json").stdout)
    assert {"name", "input_shape", "dtype", "batch", "layers", "totals"} <= set(data)
    assert data["name"] == "alexnet" and data["input_shape"] == [3, 227, 227]
    assert data["dtype"] == "float32" and data["batch"] == 1 and data["convention"] == "textbook"
    first = data["layers"][0]
    assert first == {"name": "conv1", "op": "conv", "inputs": ["input"], "input_shape": [3, 227, 227],
                     "output_shape": [96, 55, 55], "params": 34_944, "buffers": 0, "macs": 105_415_200,
                     "memory_bytes": 96 * 55 * 55 * 4,
                     "receptive_field": [11, 11], "jump": [4, 4], "rf_start": [5, 5]}
    assert [layer["name"] for layer in data["layers"]] == [
        "conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5", "flatten", "fc6", "fc7", "fc8"]
    assert data["layers"][8]["output_shape"] == [9216]  # shapes are per sample, no batch axis


@pytest.mark.parametrize("spec", BUNDLED)
def test_column_sums_equal_totals(spec):
    data = json.loads(invoke("table", spec, "-f", "json", "--batch", "3").stdout)
    for key in ("params", "buffers", "macs", "memory_bytes"):
        assert sum(layer[key] for layer in data["layers"]) == data["totals"][key]
    rows = list(csv.DictReader(io.StringIO(invoke("table", spec, "-f", "csv").stdout)))
    body, total = rows[:-1], rows[-1]
    assert total["layer"] == "total"
    for key in ("params", "buffers", "macs", "memory_bytes"):
        assert sum(int(row[key]) for row in body) == int(total[key])


def test_batch_and_dtype_in_json():
    one = json.loads(invoke("table", "alexnet", "-f", "json").stdout)
    many = json.loads(invoke("table", "alexnet", "-f", "json", "--batch", "8", "--dtype", "float16").stdout)
    assert many["batch"] == 8 and many["dtype"] == "float16" and many["bytes_per_element"] == 2
    assert many["totals"]["params"] == one["totals"]["params"]
    assert many["totals"]["macs"] == 8 * one["totals"]["macs"]
    assert many["totals"]["memory_bytes"] == 8 * one["totals"]["memory_bytes"] // 2  # 8 samples, 2 bytes not 4


def test_input_override():
    data = json.loads(invoke("table", "googlenet_stem", "--input", "3,448,448", "-f", "json").stdout)
    assert data["input_shape"] == [3, 448, 448]
    # (448 - 7 + 6)/2 + 1 = 224 (floor of 224.5), then ceil((224 - 3)/2) + 1 = 112, 112, 112, 56
    assert [layer["output_shape"][1] for layer in data["layers"]] == [224, 112, 112, 112, 56]
    assert invoke("table", "googlenet_stem", "--input", "3x448x448", "-f", "json").stdout == \
        invoke("table", "googlenet_stem", "--input", "3,448,448", "-f", "json").stdout


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_output_file_equals_stdout(tmp_path, fmt):
    target = tmp_path / "out"
    result = invoke("table", "alexnet", "-f", fmt, "-o", str(target))
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8") == invoke("table", "alexnet", "-f", fmt).stdout
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary file left behind


def test_output_file_is_replaced_atomically(tmp_path):
    target = tmp_path / "t.json"
    target.write_text("old")
    invoke("table", "alexnet", "-f", "json", "-o", str(target))
    assert json.loads(target.read_text())["name"] == "alexnet"


def test_bundled_spec_by_name_from_any_folder(tmp_path):
    by_name = invoke("table", "alexnet", "-f", "json").stdout
    by_path = invoke("table", str(SPECS / "alexnet.yaml"), "-f", "json").stdout
    assert json.loads(by_name)["totals"] == json.loads(by_path)["totals"]
    out = subprocess.run([sys.executable, "-m", "cnncalc", "table", "googlenet_stem.yaml", "-f", "csv"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "total,,,,,,,,,,,,,124416,0,480836608,7827456,,,,"


def test_specs_lists_bundled_specs_with_descriptions():
    text = invoke("specs").stdout
    for name in BUNDLED:
        assert name in text
    assert "Justin Johnson" in text


def test_ops_lists_every_layer_type():
    from cnncalc.layers import layer_types

    text = invoke("ops").stdout
    for cls in layer_types():
        assert cls.op in text
    assert "stride=kernel" in text  # pooling's stride defaults to its kernel


def test_version_and_help():
    from cnncalc import __version__

    assert invoke("--version").stdout.strip() == f"cnncalc {__version__}"
    assert "--format" in invoke("table", "--help").stdout


# test_static_path_imports_neither_torch_nor_numpy: in tests/test_static_imports.py (the static commands, one process)


def test_library_api():
    import cnncalc

    report = cnncalc.analyze("alexnet", batch=2, input=(3, 227, 227))
    assert report.totals.params == 62_378_344
    assert report.batch == 2


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "pip install -e '.[test]' && python -m pytest"
    assert command in readme
    assert command in ci


def test_readme_example_is_real_output():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("prints:\n\n```\n", 1)[1].split("```", 1)[0]
    assert example == invoke("table", str(SPECS / "alexnet.yaml")).stdout


def test_depth_option_collapses_blocks():
    full = json.loads(invoke("table", "resnet18", "-f", "json").stdout)
    one = json.loads(invoke("table", "resnet18", "-f", "json", "--depth", "1").stdout)
    assert [layer["name"] for layer in one["layers"]] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten1", "fc"]
    assert one["totals"] == full["totals"]
    layer2 = one["layers"][5]
    assert layer2["op"] == "basic" and layer2["input_shape"] == [64, 56, 56] and layer2["output_shape"] == [128, 28, 28]
    assert layer2["params"] == sum(l["params"] for l in full["layers"] if l["name"].startswith("layer2."))


def test_set_option_overrides_a_variable():
    # resnet18_paper's option B shortcuts (--set projection=true) are torchvision's resnet18
    paper = json.loads(invoke("table", "resnet18_paper", "-f", "json", "--set", "projection=true").stdout)
    torchvision = json.loads(invoke("table", "resnet18", "-f", "json").stdout)
    assert paper["totals"]["params"] == torchvision["totals"]["params"] == 11_689_512


def test_from_column_for_branches():
    text = invoke("table", "resnet18").stdout
    assert "From" in text.splitlines()[3]
    add_row = next(line for line in text.splitlines() if line.lstrip().startswith("layer1.0.add1"))
    assert "bn2, maxpool" in add_row and "64+64" in add_row


def test_columns_option():
    added = invoke("table", "alexnet", "--columns", "+rf,jump").stdout.splitlines()
    assert added[3].split()[-2:] == ["RF", "Jump"]
    assert added[5].split()[-2:] == ["11", "4"]  # conv1: 11x11 field, jump 4
    chosen = invoke("table", "alexnet", "--columns", "rf,params").stdout.splitlines()
    assert chosen[2].split() == ["Layer", "RF", "Params"]
    assert chosen[4].split() == ["conv1", "11", "34,944"]
    assert chosen[-6].split() == ["total", "62,378,344"]
    markdown = invoke("table", "alexnet", "-f", "markdown", "-c", "op,rf_start").stdout
    assert "| Layer | Op | RF centre |" in markdown and "| pool1 | maxpool | 9 |" in markdown


def test_unknown_column_is_bad_input():
    result = runner.invoke(app, ["table", "alexnet", "--columns", "rff"])
    assert result.exit_code == 2 and "unknown column 'rff'" in result.stderr and "did you mean 'rf'" in result.stderr
