"""Budgets: the figures table, `budget:` and declared variable ranges in the spec language, and
`cnncalc check` (CLI and API) with its exit codes."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.core.errors import OptionError, SpecError
from cnncalc.core.figures import FIGURES, short_bytes, short_count
from cnncalc.spec.spec import parse_spec

from .conftest import ROOT
from .test_cli_errors import At, assert_bad_input

runner = CliRunner()
RESNET50_PARAMS = 25_557_032  # torchvision.models.resnet50: sum(p.numel() for p in m.parameters())
RESNET50_MACS = 4_091_090_944  # conv + linear 4,089,184,256 (fvcore) + max pool 1,806,336 + global pool 100,352
RESNET50_ACTIVATIONS = 150_247_328  # the sum of every layer's output elements x 4 bytes


def check(*args: str):
    return runner.invoke(app, ["check", *args])


# ---- the figures --------------------------------------------------------------------------------


def test_every_figure_has_a_unit_an_option_and_a_description():
    for name, figure in FIGURES.items():
        assert figure.name == name and figure.unit in ("count", "bytes") and figure.description
        assert figure.option == "--max-" + name.replace("_", "-")


@pytest.mark.parametrize("value, text", [
    (25_000_000, "25 M"),          # 25 x 10^6
    (4_100_000_000, "4.1 G"),      # 4.1 x 10^9
    (1_500, "1.5 k"),
    (300_000_000, "300 M"),
    (25_557_032, "25,557,032"),    # 25.557032 M needs 6 decimals: shown whole
    (999, "999"),
])
def test_short_counts(value, text):
    assert short_count(value) == text


@pytest.mark.parametrize("value, text", [
    (24 * 2**30, "24 GiB"),
    (80 * 10**9, "80 GB"),          # not a whole number of GiB (74.5...): the decimal unit
    (200 * 2**20, "200 MiB"),
    (1_536, "1.5 KiB"),             # 1.5 x 1024
    (1_000, "1 KB"),
    (999, "999 B"),
    (RESNET50_ACTIVATIONS, "150,247,328 B"),
])
def test_short_bytes(value, text):
    assert short_bytes(value) == text


# ---- budget: in the spec ---------------------------------------------------------------------------

NET = "input: [3, 32, 32]\nlayers:\n  - {op: conv, out: 8, kernel: 3}\n"
NET_PARAMS = 224  # 8 x 3 x 3 x 3 + 8
NET_MACS = 194_400  # 8 x 30 x 30 x 3 x 3 x 3
NET_ACTIVATIONS = 28_800  # 8 x 30 x 30 x 4 bytes


def test_budget_values_are_exact_in_their_units():
    spec = parse_spec(NET + "budget: {params: 25M, macs: 4.1e9, activations: 200MiB}\n", "net.yaml")
    assert [(entry.figure, entry.value) for entry in spec.budget] == [
        ("params", 25_000_000), ("macs", 4_100_000_000), ("activations", 200 * 2**20)]
    assert str(spec.budget[0].loc) == "net.yaml:4:18"


def test_budget_numbers_are_plain_counts_or_bytes():
    spec = parse_spec(NET + "budget: {params: 1000, activations: 4096}\n", "net.yaml")
    assert [entry.value for entry in spec.budget] == [1000, 4096]


BUDGET_ERRORS = [
    ("budget: {parms: 25M}", "parms", "no figure 'parms' to budget", "did you mean 'params'"),
    ("budget: {params: 25MB}", "25MB", "'25MB' is a number of bytes, not a count", "k, M, G, T"),
    ("budget: {activations: 24G}", "24G", "'24G' is ambiguous: say GB (powers of 1000) or GiB", ""),
    ("budget: {params: 0}", "0}", "a limit must be more than 0", ""),
    ("budget: {params: true}", "true", "a limit is a size such as 25M or 24GiB, got True", ""),
    ("budget: {params: [1, 2]}", "[1, 2]", "a limit is a size such as 25M", ""),
    ("budget: {params: 2.5}", "2.5", "'2.5' is not a whole number", ""),
    ("budget: 25M", "25M", "'budget' must be a mapping of figures to limits", "figures: params, macs"),
    ("budget: {}", "{}", "'budget' must be a mapping of figures to limits", ""),
]


@pytest.mark.parametrize("line, needle, message, hint", BUDGET_ERRORS, ids=[case[0] for case in BUDGET_ERRORS])
def test_budget_mistakes_are_located(tmp_path, line, needle, message, hint):
    text = NET + line + "\n"
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["table", str(path)])  # every command reads the budget with the spec
    assert_bad_input(result, f"{path}:{At(text)[needle]}: error:", message, hint)


# ---- declared variables ---------------------------------------------------------------------------

WIDE = ("input: [3, 32, 32]\nvars:\n  width: {default: 1.0, above: 0, max: 4, description: width multiplier}\n"
        "layers:\n  - {op: conv, out: int(8 * width), kernel: 3}\n")


@pytest.mark.parametrize("value, accepted", [
    ("0", False), ("-1", False), ("0.01", True), ("4", True), ("4.5", False), ("2*2", True), ("2*3", False)])
def test_set_refuses_values_outside_the_declared_range(value, accepted):
    if accepted:
        spec = parse_spec(WIDE, "net.yaml", overrides={"width": value})
        assert 0 < spec.variables["width"] <= 4
        return
    with pytest.raises(SpecError) as caught:
        parse_spec(WIDE, "net.yaml", overrides={"width": value})
    assert str(caught.value.loc) == "net.yaml:3:3"  # the declaration
    assert caught.value.message.startswith(f"--set width={value}: 'width' must be above 0 and at most 4, got ")


def test_the_cli_refuses_width_0_with_the_declarations_place():
    result = runner.invoke(app, ["table", "mobilenet_v2", "--set", "width=0"])
    assert_bad_input(result, "mobilenet_v2 (bundled):7:3: error: field 'vars.width': --set width=0: "
                             "'width' must be above 0, got 0")


def test_a_declared_variable_is_a_variable_like_any_other():
    spec = parse_spec(WIDE, "net.yaml")
    assert spec.variables["width"] == 1.0
    declared = spec.declared["width"]
    assert (declared.low, declared.low_open, declared.high, declared.high_open) == (0, True, 4, False)
    assert declared.description == "width multiplier" and declared.describe() == "above 0 and at most 4"
    assert cnncalc.analyze(WIDE, set={"width": 0.5}).rows[0].output_shape == (4, 30, 30)  # int(8 x 0.5)


DECLARATION_ERRORS = [
    ("{default: 5, max: 4}", "5,", "'w' must be at most 4, got 5"),
    ("{default: 1, min: 1, above: 0}", "above", "give 'min' or 'above', not both"),
    ("{default: 1, min: 2, max: 1}", "1}", "the range is empty: 'min' 2 and 'max' 1"),
    ("{default: 1, above: 1, max: 1}", "1}", "the range is empty: 'above' 1 and 'max' 1"),
    ("{default: 1, min: low}", "low", "'min' must be a number, got 'low'"),
    ("{default: 1, max: .inf}", ".inf", "'max' must be a number, got inf"),
    ("{min: 1}", "{min", "variable 'w' is declared without a 'default'"),
    ("{default: 1, maximum: 3}", "maximum", "unknown key 'maximum' in the declaration of variable 'w'"),
    ("{default: relu, min: 0}", "relu", "'w' must be a number at least 0, got 'relu'"),
    ("{defualt: 1}", "defualt", "unknown key 'defualt' in the declaration of variable 'w'"),  # a near miss
]


@pytest.mark.parametrize("declaration, needle, message", DECLARATION_ERRORS, ids=[c[0] for c in DECLARATION_ERRORS])
def test_declaration_mistakes_are_located(declaration, needle, message):
    text = f"input: [3, 8, 8]\nvars:\n  w: {declaration}\nlayers:\n  - {{op: relu}}\n"
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "net.yaml")
    assert caught.value.message == message
    assert str(caught.value.loc) == f"net.yaml:{At(text)[needle]}"


def test_a_mapping_without_a_declarations_keys_is_a_value():
    text = ("input: [3, 8, 8]\nvars:\n  size: s\n  widths: {n: 2, s: 4}\n  w: widths[size]\n"
            "layers:\n  - {op: conv, out: w, kernel: 1}\n")
    spec = parse_spec(text, "net.yaml")
    assert spec.declared == {}
    assert cnncalc.analyze(text).rows[0].output_shape == (4, 8, 8)  # out: widths[size] = widths['s'] = 4


def test_zoo_ranges_refuse_nonsense():
    for spec, setting in [("resnet50", "groups=0"), ("efficientnet_b0", "sd_prob=1"), ("densenet121", "growth=0")]:
        with pytest.raises(SpecError, match="must be"):
            cnncalc.analyze(spec, set=dict([setting.split("=")]))


# ---- cnncalc check --------------------------------------------------------------------------------


def test_resnet50_over_25M_params_exits_1_with_the_row():
    result = check("resnet50", "--max-params", "25M")
    assert result.exit_code == 1, result.output
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("params"))
    # 25 M against 25,557,032: (25,000,000 - 25,557,032) / 25,000,000 = -2.228128 %
    assert row.split() == ["params", "25", "M", "25,557,032", "-2.23", "%", "EXCEEDED", "option", "--max-params"]
    assert "resnet50: the limit is exceeded (params)" in result.stdout
    assert result.stderr == "error: over budget: params\n"


def test_every_limit_holding_exits_0():
    result = check("resnet50", "--max-params", "25557032", "--max-macs", "4.1G", "--max-activations", "200MiB")
    assert result.exit_code == 0, result.output
    assert "resnet50: all 3 limits hold" in result.stdout
    assert " 0.00 %" in result.stdout  # exactly at the limit: no headroom, and it holds


def test_json_has_exact_values_and_the_headroom():
    result = check("resnet50", "--max-params", "25M", "--max-activations", "200MiB", "-f", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["name"] == "resnet50" and data["input_shape"] == [3, 224, 224]
    params, activations = data["limits"]
    assert params == {"figure": "params", "unit": "count", "limit": 25_000_000, "value": RESNET50_PARAMS,
                      "headroom_percent": -2.228128, "holds": False, "source": "option --max-params"}
    # (209,715,200 - 150,247,328) / 209,715,200 = 28.356689...%
    assert activations["value"] == RESNET50_ACTIVATIONS and activations["limit"] == 200 * 2**20
    assert activations["headroom_percent"] == round(float(Fraction(209_715_200 - 150_247_328, 209_715_200) * 100), 6)


def test_csv(tmp_path):
    out = tmp_path / "check.csv"
    result = check("resnet50", "--max-macs", "4G", "-f", "csv", "-o", str(out))
    assert result.exit_code == 1
    lines = out.read_text().splitlines()
    assert lines[0] == "figure,unit,limit,value,headroom_percent,holds,source"
    # (4,000,000,000 - 4,091,090,944) / 4e9 = -2.2772736 %
    assert lines[1] == f"macs,count,4000000000,{RESNET50_MACS},-2.277274,False,option --max-macs"


def test_the_spec_budget_needs_no_flags_and_options_replace_it(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(NET + "budget: {params: 200, macs: 1M}\n", encoding="utf-8")
    result = check(str(path))
    assert result.exit_code == 1 and "1 of 2 limits exceeded (params)" in result.stdout  # 224 > 200
    assert f"{path}:4:18" in result.stdout  # where the limit is set
    assert check(str(path), "--max-params", "224").exit_code == 0  # the option replaces the spec's 200


def test_the_macs_follow_the_convention_and_the_batch():
    textbook = cnncalc.check("resnet50", limits={"macs": "4G"})
    assert textbook.verdicts[0].value == RESNET50_MACS
    # FlopCounterMode: 2 per multiply-add of conv and linear only: 2 x 4,089,184,256
    assert cnncalc.check("resnet50", limits={"macs": "4G"}, convention="torch").verdicts[0].value == 8_178_368_512
    assert cnncalc.check("resnet50", limits={"macs": "4G"}, batch=2).verdicts[0].value == 2 * RESNET50_MACS


def test_the_api_result(tmp_path):
    result = cnncalc.check(NET, limits={"params": 1000, "activations": "1KiB"})
    assert [(v.figure, v.value, v.holds) for v in result.verdicts] == [
        ("params", NET_PARAMS, True), ("activations", NET_ACTIVATIONS, False)]  # 28,800 > 1,024
    assert result.verdicts[0].headroom == Fraction(1000 - 224, 1000)
    assert not result.ok and result.exceeded[0].figure == "activations"


@pytest.mark.parametrize("options, message", [
    ([], "no limits to check: the spec has no 'budget:' and no limit option was given"),
    (["--max-params", "25MB"], "--max-params: '25MB' is a number of bytes, not a count"),
    (["--max-activations", "24G"], "--max-activations: '24G' is ambiguous"),
    (["--max-params", "0"], "--max-params: a limit must be more than 0"),
    (["--max-params", "lots"], "--max-params: 'lots' is not a size"),
])
def test_bad_limits_exit_2(options, message):
    assert_bad_input(check("resnet50", *options), message)


def test_api_limit_mistakes_are_option_errors():
    with pytest.raises(OptionError, match="limit: no figure 'parms'"):
        cnncalc.check("resnet50", limits={"parms": "25M"})
    with pytest.raises(OptionError, match="a limit is a size"):
        cnncalc.check("resnet50", limits={"params": 2.5})


def test_warnings_go_to_stderr(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: [3, 7, 7]\nlayers:\n  - {op: conv, out: 2, kernel: 3, stride: 3}\n", encoding="utf-8")
    result = check(str(path), "--max-params", "1k")
    assert result.exit_code == 0, result.output  # 2 x 3 x 3 x 3 + 2 = 56 params
    assert "stride 3 does not fit" in result.stderr and "does not fit" not in result.stdout  # (7 - 3)/3 + 1 = 2.33


# test_check_compare_and_sweep_import_no_heavy_module: in tests/test_static_imports.py (the static commands, one process)


# ---- the memory figures (docs/memory.md) ------------------------------------------------------------

TINY = ROOT / "docs" / "examples" / "tiny.yaml"  # conv 3->4 3x3 pad 1 + relu, gap, flatten, fc 4->2 on 3x8x8
# batch 2, float32: 122 params (conv 4·3·9 + 4 = 112, fc 4·2 + 2 = 10) = 488 bytes; the input 3·8·8·2·4 = 1,536
TINY_PEAK = 6_120  # at conv1's relu: 488 + 1,536 + the conv's output and the relu's, 2 x 4·8·8·2·4 = 4,096
# the training step's peak, in backward at conv1's relu: parameters 488 + gradients 40 + momentum 488
# + activations 2,056 + temporaries 4,096 + input 1,536 (cnncalc memory docs/examples/tiny.yaml --batch 2)
TINY_TRAIN_PEAK = 8_704
TINY_TRAIN_PEAK_ADAM = 9_208  # Adam's state: 2 x 488 + a 4-byte step per tensor (4) = 992, not 488


def test_the_memory_figures_are_the_memory_models_peaks():
    result = cnncalc.check(TINY, limits={"peak": TINY_PEAK, "train_peak": TINY_TRAIN_PEAK - 1}, batch=2)
    assert [(v.figure, v.value, v.holds) for v in result.verdicts] == [
        ("peak", TINY_PEAK, True), ("train_peak", TINY_TRAIN_PEAK, False)]  # exactly at one limit, 1 B over the other
    adam = cnncalc.check(TINY, limits={"train_peak": "9KiB"}, batch=2, optimizer="adam")
    assert adam.verdicts[0].value == TINY_TRAIN_PEAK_ADAM and adam.ok  # 9,208 <= 9,216
    for options in ({"optimizer": "adamw", "amp": "bf16", "batch": 8}, {"optimizer": "sgd", "batch": 3}):
        value = cnncalc.check("resnet18", limits={"train_peak": "1GiB"}, **options).verdicts[0].value
        assert value == cnncalc.memory("resnet18", **options).peak_bytes
    assert cnncalc.check("resnet18", limits={"peak": "1GiB"}, batch=4).verdicts[0].value == \
        cnncalc.memory("resnet18", mode="infer", batch=4).peak_bytes
    # --amp is the training step's: the inference peak is in the dtype, whatever --amp says
    half = cnncalc.check(TINY, limits={"peak": "1MiB"}, batch=2, dtype="float16", amp="bf16").verdicts[0].value
    assert half == cnncalc.memory(TINY, mode="infer", batch=2, dtype="float16").peak_bytes == 3_060  # 6,120 / 2


def test_check_max_peak_and_max_train_peak():
    # 8.5 KiB = 8.5 x 1,024 = 8,704 bytes: the training peak exactly; 6 KiB = 6,144 >= 6,120
    result = check(str(TINY), "--batch", "2", "--max-peak", "6KiB", "--max-train-peak", "8.5KiB", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["optimizer"] == "momentum" and data["amp"] is None
    assert [(v["figure"], v["unit"], v["value"], v["headroom_percent"]) for v in data["limits"]] == [
        ("peak", "bytes", TINY_PEAK, 0.390625),  # (6,144 - 6,120) / 6,144 = 0.390625 %
        ("train_peak", "bytes", TINY_TRAIN_PEAK, 0.0)]
    over = check(str(TINY), "--batch", "2", "--max-train-peak", "9KB", "--optimizer", "adam")
    assert over.exit_code == 1  # 9,208 > 9,000
    assert "training with adam" in over.stdout.splitlines()[0]
    assert over.stdout.split("train_peak")[1].split()[:4] == ["9", "KB", "9,208", "B"]


def test_a_budget_of_peaks_in_the_spec(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.read_text() + "budget: {peak: 6KiB, train_peak: 8KiB}\n", encoding="utf-8")
    result = cnncalc.check(path, batch=2)
    assert [(v.figure, v.limit, v.value, v.holds) for v in result.verdicts] == [
        ("peak", 6_144, TINY_PEAK, True), ("train_peak", 8_192, TINY_TRAIN_PEAK, False)]
    assert result.verdicts[1].source == f"{path}:8:34"  # line 8, after "budget: {peak: 6KiB, train_peak: "


@pytest.mark.parametrize("options, message", [
    (["--max-train-peak", "24G"], "--max-train-peak: '24G' is ambiguous"),
    (["--max-peak", "25M"], "--max-peak: '25M' is ambiguous"),
    (["--max-train-peak", "1GiB", "--optimizer", "adma"], "unknown optimizer 'adma'"),
    (["--max-train-peak", "1GiB", "--amp", "fp8"], "unknown amp 'fp8'"),
    (["--max-peak", "1GiB", "--dtype", "int8"], "peak: the memory model needs a floating dtype, got 'int8'"),
    (["--max-train-peak", "1GiB", "--amp", "bf16", "--dtype", "float16"], "--amp runs float32 parameters"),
])
def test_bad_memory_options_exit_2(options, message):
    assert_bad_input(check("resnet18", *options), message)
