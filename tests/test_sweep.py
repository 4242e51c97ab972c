"""`cnncalc sweep`: the grid, the limits, the objective, the Pareto front, invalid variants, and
answers that do not depend on the number of processes."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from itertools import product

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.analysis.sweep import MIN_PARALLEL, parse_axis
from cnncalc.cli import app
from cnncalc.core.errors import OptionError, SpecError
from cnncalc.render.budget import sweep_points

from .test_cli_errors import assert_bad_input

runner = CliRunner()


def sweep(*args: str):
    return runner.invoke(app, ["sweep", *args])


# ---- the grid ------------------------------------------------------------------------------------


def test_a_range_is_exact_and_includes_its_end():
    axis = parse_axis("width", "0.5:1.5:0.01")
    assert len(axis.values) == 101  # (1.5 - 0.5) / 0.01 + 1, in exact decimals (floats would stop at 1.49)
    assert axis.values[:3] == ("0.5", "0.51", "0.52") and axis.values[50] == "1.0" and axis.values[-1] == "1.5"


@pytest.mark.parametrize("given, values", [
    ("2:6:2", ("2", "4", "6")),          # whole numbers stay whole
    ("1:2:0.5", ("1.0", "1.5", "2.0")),  # a real axis keeps its decimal point, as `width: 1.0` would
    ("0:1:0.4", ("0.0", "0.4", "0.8")),  # the end is included only when a step lands on it
    ("2,3,4", ("2", "3", "4")),
    ("0.75", ("0.75",)),
    (" 1e-1 : 3e-1 : 1e-1 ", ("0.1", "0.2", "0.3")),
    ([0.5, 1, True], ("0.5", "1", "True")),  # the Python API: values, as str() writes them
])
def test_axes(given, values):
    assert parse_axis("x", given).values == values


@pytest.mark.parametrize("given, message", [
    ("0.5:1.5:0", "the step must be more than 0"),
    ("1.5:0.5:0.1", "the range ends before it starts"),
    ("1:2", "a range is FROM:TO:STEP of numbers"),
    ("a:b:c", "a range is FROM:TO:STEP of numbers"),
    ("1,,2", "an empty value in the list"),
    ("0:1e6:1", "1,000,001 values, more than the limit of 100,000"),  # 0, 1, ..., 10^6
])
def test_bad_axes(given, message):
    with pytest.raises(OptionError, match=message):
        parse_axis("x", given)


def test_the_grid_order_and_size():
    result = cnncalc.sweep("mobilenet_v2", set={"width": "0.5,1.0"}, inputs=["3,160,160", "3,224,224"], jobs=1)
    assert [(v.values["width"], v.input_shape) for v in result.variants] == [
        ("0.5", (3, 160, 160)), ("0.5", (3, 224, 224)), ("1.0", (3, 160, 160)), ("1.0", (3, 224, 224))]
    assert [v.number for v in result.variants] == [1, 2, 3, 4]
    with pytest.raises(OptionError, match="the grid has 1,002,001 variants, more than the limit of 100,000"):
        cnncalc.sweep("mobilenet_v2", set={"width": "0:1000:1", "depth": "0:1000:1"})  # 1,001 x 1,001


# ---- answers --------------------------------------------------------------------------------------


def test_the_widest_mobilenet_v2_under_300M_macs_is_0_98():
    result = sweep("mobilenet_v2", "--set", "width=0.5:1.5:0.01", "--max-macs", "300M", "--maximize", "width")
    assert result.exit_code == 0, result.output
    best = next(line for line in result.stdout.splitlines() if line.startswith("best:"))
    # width 0.98: 299,958,912 multiply-adds; 0.99 already gives 300,836,992 (the 1.0 network's)
    assert best.startswith("best: width=0.98, input 3×224×224: params 3,486,936, MACs 299,958,912 (limit 300 M")
    assert "101 variants: 49 within the limits, 52 over them, 0 invalid" in result.stdout
    assert cnncalc.analyze("mobilenet_v2", set={"width": 0.98}).totals.macs == 299_958_912
    assert cnncalc.analyze("mobilenet_v2", set={"width": 0.99}).totals.macs == 300_836_992


def test_two_sizes_two_limits():
    # the largest width under 300M MACs at 224 and under 150M at 160, as the issue asks it: one sweep per size
    # (the whole range 0.5:1.5:0.01 gives 0.98 and 0.95: the windows around them keep the tests quick)
    at_224 = cnncalc.sweep("mobilenet_v2", set={"width": "0.9:1.1:0.01"}, limits={"macs": "300M"},
                           maximize="width", jobs=1)
    at_160 = cnncalc.sweep("mobilenet_v2", set={"width": "0.85:1.05:0.01"}, inputs=["3,160,160"],
                           limits={"macs": "150M"}, maximize="width", jobs=1)
    assert at_224.best.values == {"width": "0.98"} and at_160.best.values == {"width": "0.95"}
    assert at_224.best is not None and at_160.best is not None
    for result, limit in ((at_224, 300_000_000), (at_160, 150_000_000)):
        best = result.best
        assert best.figures["macs"] <= limit
        wider = [v for v in result.variants if v.variables["width"] > best.variables["width"]]
        assert all(v.figures["macs"] > limit for v in wider)


def test_minimize_and_ties_go_to_the_earlier_variant():
    # widths 0.89, 0.9 and 0.91 round to the same channels: equal params; the first in the grid wins
    result = cnncalc.sweep("mobilenet_v2", set={"width": "0.91,0.89,0.9"}, minimize="params", jobs=1)
    assert len({v.figures["params"] for v in result.variants}) == 1
    assert result.best.number == 1 and list(result.ranked) == [1, 2, 3]
    biggest = cnncalc.sweep("mobilenet_v2", set={"width": "0.5,1.5,1.0"}, maximize="macs", jobs=1)
    assert biggest.best.values == {"width": "1.5"}


TRADE = ("input: [3, 32, 32]\nvars:\n  k: {default: 1, min: 1}\n"
         "layers:\n  - {op: conv, out: 64 // k, kernel: k}\n  - {op: conv, out: 4, kernel: 1}\n")


def test_pareto_front_is_what_no_variant_beats():
    # a bigger kernel with fewer channels: params rise while activations fall, a real trade-off
    result = cnncalc.sweep(TRADE, set={"k": "1,2,3,4,6,8"}, inputs=["3,32,32", "3,16,16"], pareto="params,activations",
                           jobs=1)
    key = [(v.figures["params"], v.figures["activations"]) for v in result.variants]
    brute = [v.number for v, mine in zip(result.variants, key)
             if not any(p <= mine[0] and a <= mine[1] and (p, a) != mine for p, a in key)]
    assert list(result.ranked) == brute and len(brute) > 2
    assert cnncalc.sweep(TRADE, set={"k": "1,2"}, pareto="params,macs", jobs=1).ranked == (1,)  # k = 1 beats 2


def test_invalid_variants_are_listed_with_their_message():
    result = sweep("vgg16", "--input", "3,16,16", "--input", "3,64,64", "--input", "3,8,8")
    assert result.exit_code == 0, result.output  # one variant is valid
    assert "invalid #1 (input 3×16×16): vgg16 (bundled):13:43: error: layer 'block5.pool', field 'kernel': " \
           "kernel 2 is larger than the padded input along H: 1 + 0 + 0 = 1" in result.stdout
    assert "3 variants: 1 valid, 2 invalid" in result.stdout
    nothing = sweep("vgg16", "--input", "3,8,8")
    # every variant invalid: bad input (exit 2), the variants still listed; valid ones over the limits exit 1 (below)
    assert nothing.exit_code == 2 and "1 variant: 0 valid, 1 invalid" in nothing.stdout
    assert "vgg16 (bundled): error: no variant is valid: the only one is bad input (listed above)" in nothing.stderr


def test_no_variant_within_the_limits_exits_1():
    result = sweep("mobilenet_v2", "--set", "width=1.0,1.4", "--max-params", "1M", "--maximize", "width")
    assert result.exit_code == 1
    assert "no variant is within the limits" in result.stdout
    assert result.stderr == "error: no variant is valid and within the limits\n"


def test_the_spec_budget_applies(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: [3, 32, 32]\nvars:\n  c: {default: 8, min: 1}\nbudget: {params: 1000}\n"
                    "layers:\n  - {op: conv, out: c, kernel: 3}\n", encoding="utf-8")
    result = cnncalc.sweep(str(path), set={"c": "8:64:8"}, maximize="c", jobs=1)
    # 28·c params (c x 3 x 3 x 3 + c): 28 x 32 = 896 fits, 28 x 40 = 1,120 does not
    assert result.best.values == {"c": "32"} and result.best.figures["params"] == 896
    assert result.limits[0].source == f"{path}:4:18"


@pytest.mark.parametrize("args, message", [
    (["--set", "width=0:1:0.5"], "--set width=0.0: 'width' must be above 0, got 0"),  # refused before any work
    (["--set", "widht=1,2"], "the spec has no variable 'widht'"),
    (["--set", "width"], "--set expects NAME=VALUE, got 'width'"),
    (["--set", "width=1", "--set", "width=2"], "--set width is given twice"),
    (["--maximize", "wdth"], "--maximize wdth: neither a figure nor a variable of the spec"),
    (["--maximize", "width", "--minimize", "macs"], "give --maximize or --minimize, not both"),
    (["--pareto", "params"], "--pareto needs two or more different figures"),
    (["--pareto", "params,flops"], "--pareto: no figure 'flops'"),
    (["--max-macs", "300MB"], "--max-macs: '300MB' is a number of bytes"),
    (["--input", "3,224"], "--input 3,224 has 2 sizes, but the spec's input is a feature map [C, H, W]: "
                           "--input must be C,H,W"),  # a spec on tokens takes L,D (tests/test_input_option.py)
])
def test_bad_input_exits_2(args, message):
    assert_bad_input(sweep("mobilenet_v2", *args), message)


def test_a_value_out_of_range_in_the_api():
    with pytest.raises(SpecError, match="'width' must be above 0, got -1"):
        cnncalc.sweep("mobilenet_v2", set={"width": [-1, 1]})


@pytest.mark.parametrize("options, message", [
    ({"dtype": "float8"}, "unknown dtype 'float8'"),
    ({"batch": 0}, "batch must be at least 1, got 0"),
    ({"convention": "flops"}, "unknown convention 'flops'"),
    ({"inputs": [(3, 0, 8)]}, "input must be (C, H, W), (L, D) or (F,) of positive whole numbers"),
])
def test_api_options_are_refused_before_any_variant(options, message):
    with pytest.raises(OptionError) as caught:
        cnncalc.sweep("mobilenet_v2", set={"width": "0.5,1.0"}, **options)
    assert message in caught.value.message


# ---- processes, formats ---------------------------------------------------------------------------


def test_the_answer_does_not_depend_on_the_processes():
    # k = 1 ... 32 at 32x32 and 16x16: 64 variants, kernels past 16 do not fit the smaller input;
    # the training peak makes the workers run the memory model too
    options = {"set": {"k": "1:32:1"}, "inputs": ["3,32,32", "3,16,16"], "limits": {"params": "1k"},
               "maximize": "k", "figures": ["train_peak"]}
    alone = cnncalc.sweep(TRADE, jobs=1, **options)
    assert len(alone.variants) >= MIN_PARALLEL  # so that two jobs really start two processes
    assert alone.describe() == "64 variants: 10 within the limits, 38 over them, 16 invalid"
    seen = []
    together = cnncalc.sweep(TRADE, jobs=2, progress=lambda done, total: seen.append((done, total)), **options)
    assert together.to_dict() == alone.to_dict()
    assert seen[-1] == (len(alone.variants), len(alone.variants))


def test_no_more_worker_processes_than_cores(monkeypatch):
    # `-j 100000` started one process per chunk of work, up to 100,000: the workers are capped at the cores
    import concurrent.futures

    from cnncalc.analysis import sweep as sweeping

    started = []
    real = concurrent.futures.ProcessPoolExecutor

    def spy(*args, **kwargs):
        started.append(kwargs["max_workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", spy)
    monkeypatch.setattr(sweeping, "default_jobs", lambda: 2)
    result = cnncalc.sweep(TRADE, set={"k": "1:32:1"}, inputs=["3,32,32", "3,16,16"], jobs=100_000)
    assert started == [2] and len(result.variants) == 64


def test_json_and_csv():
    data = json.loads(sweep("mobilenet_v2", "--set", "width=0.5,1.0", "--max-macs", "200M", "--minimize", "params",
                            "-f", "json").stdout)
    assert data["axes"] == {"width": ["0.5", "1.0"]} and data["best"] == 1 and data["ranked"] == [1]
    assert data["limits"] == [{"figure": "macs", "limit": 200_000_000, "source": "option --max-macs"}]
    second = data["variants"][1]
    assert second["fits"] is False and second["exceeded"] == ["macs"] and second["figures"]["macs"] == 300_836_992
    assert second["variables"] == {"width": 1.0}
    rows = list(csv.reader(io.StringIO(sweep("mobilenet_v2", "--set", "width=0.5,1.0", "-f", "csv").stdout)))
    assert rows[0] == ["number", "width", "c", "h", "w", "params", "macs", "activations", "fits", "exceeded", "rank",
                       "error"]
    totals = cnncalc.analyze("mobilenet_v2").totals  # 3,504,872 params: torchvision's mobilenet_v2
    assert rows[2][:8] == ["2", "1.0", "3", "224", "224", "3504872", str(totals.macs), str(totals.memory_bytes)]


def test_the_table_shows_the_first_ten_unless_asked():
    result = sweep("mobilenet_v2", "--set", "width=0.5:1.0:0.05", "--maximize", "width")
    assert "(the first 10 of 11; --top 0 for all)" in result.stdout
    shown = sweep("mobilenet_v2", "--set", "width=0.5:1.0:0.05", "--maximize", "width", "--top", "0").stdout
    assert "the valid variants, best first:" in shown  # no limits were given
    assert [line.split()[1] for line in shown.splitlines() if line.rstrip().endswith("fits")] == \
           [f"{w / 100:.2f}".rstrip("0").rstrip(".") if w % 10 else f"{w / 100:.1f}" for w in range(100, 45, -5)]


@pytest.mark.parametrize("widths, inputs", list(product(["0.5,1.0"], [[], ["3,160,160"]])))
def test_the_python_result_is_plain_data(widths, inputs):
    result = cnncalc.sweep("mobilenet_v2", set={"width": widths}, inputs=inputs, jobs=1)
    assert all(v.valid and v.fits for v in result.variants)  # no limits: every valid variant fits
    assert result.best is None and list(result.ranked) == [1, 2]  # no objective: grid order
    json.dumps(result.to_dict())


def test_a_progress_bar_on_a_terminal(monkeypatch):
    import rich.console

    monkeypatch.setattr(rich.console.Console, "is_terminal", property(lambda self: True))
    result = sweep(TRADE, "--set", "k=1:32:1", "--input", "3,32,32", "--input", "3,16,16", "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert "sweep" in result.stderr  # the bar, drawn on stderr
    assert "every variant, in grid order" in result.stdout


# ---- the memory figures ------------------------------------------------------------------------------


def test_a_training_peak_limit_with_adamw():
    result = cnncalc.sweep("mobilenet_v2", set={"width": "0.5:1.0:0.05"}, limits={"train_peak": "120MB"},
                           maximize="width", optimizer="adamw", jobs=1)
    assert result.figures == ("params", "macs", "activations", "train_peak")  # the inference peak is not asked for
    for variant in result.variants:  # each equals `cnncalc memory mobilenet_v2 --set width=W --optimizer adamw`
        expected = cnncalc.memory("mobilenet_v2", set={"width": variant.values["width"]}, optimizer="adamw")
        assert variant.figures["train_peak"] == expected.peak_bytes
        assert variant.fits == (expected.peak_bytes <= 120_000_000)
    best = result.best
    assert best.values == {"width": "0.85"} and best.figures["train_peak"] == 118_316_384  # 0.9 gives 121,914,424
    assert result.variants[best.number].figures["train_peak"] > 120_000_000


def test_memory_figures_only_when_asked_and_in_every_format():
    options = {"set": {"width": "0.5,1.0"}, "jobs": 1}
    assert cnncalc.sweep("mobilenet_v2", **options).figures == ("params", "macs", "activations")
    asked = cnncalc.sweep("mobilenet_v2", figures=["peak"], minimize="train_peak", **options)
    assert asked.figures == ("params", "macs", "activations", "peak", "train_peak")
    # mobilenet_v2 at width 1.0: `cnncalc memory mobilenet_v2 --mode infer` peaks at 25,195,072 bytes
    assert asked.variants[1].figures["peak"] == 25_195_072 == cnncalc.memory("mobilenet_v2", mode="infer").peak_bytes
    assert asked.best.number == 1
    table = sweep("mobilenet_v2", "--set", "width=0.5,1.0", "--figures", "peak", "--max-train-peak", "1GiB",
                  "--optimizer", "sgd").stdout
    assert "inference peak (B)  training peak (B)" in table and "training with sgd" in table
    data = json.loads(sweep("mobilenet_v2", "--set", "width=1.0", "--max-peak", "24MiB", "-f", "json").stdout)
    assert data["figures"] == ["params", "macs", "activations", "peak"] and "optimizer" not in data
    assert data["variants"][0]["exceeded"] == ["peak"]  # 25,195,072 > 24 x 1,048,576 = 25,165,824
    rows = list(csv.reader(io.StringIO(sweep("mobilenet_v2", "--set", "width=1.0", "--pareto", "params,peak",
                                             "-f", "csv").stdout)))
    assert rows[0][5:9] == ["params", "macs", "activations", "peak"] and rows[1][8] == "25195072"


@pytest.mark.parametrize("args, message", [
    (["--figures", "peek"], "--figures: no figure 'peek'"),
    (["--max-peak", "1GiB", "--dtype", "int8"], "peak: the memory model needs a floating dtype, got 'int8'"),
    (["--minimize", "train_peak", "--optimizer", "adma"], "unknown optimizer 'adma'"),
    (["--max-train-peak", "1G"], "--max-train-peak: '1G' is ambiguous"),
])
def test_bad_memory_options_exit_2(args, message):
    assert_bad_input(sweep("mobilenet_v2", "--set", "width=0.5,1.0", *args), message)


# ---- --plot ---------------------------------------------------------------------------------------

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib (the plot extra) is not installed")


def test_the_plotted_points_and_their_front():
    result = cnncalc.sweep(TRADE, set={"k": "1,2,4"}, limits={"params": 800}, jobs=1)
    points, front = sweep_points(result, "params", "activations")
    # k=1: conv 3·64·1 + 64 = 256 and conv 64·4 + 4 = 260 params; outputs 64·32² + 4·32² = 69,632 floats
    # k=2: 3·32·4 + 32 = 416 and 32·4 + 4 = 132; outputs 32·31² + 4·31² = 34,596 floats
    # k=4: 3·16·16 + 16 = 784 and 16·4 + 4 = 68; outputs 16·29² + 4·29² = 16,820 floats
    assert points == [
        {"params": 516, "activations": 278_528, "label": "k=1", "group": "within the limits"},
        {"params": 548, "activations": 138_384, "label": "k=2", "group": "within the limits"},
        {"params": 852, "activations": 67_280, "label": "k=4", "group": "over the limits"}]
    assert front == [0, 1]  # k=4 would be on the front, but it exceeds the 800 params


@needs_matplotlib
def test_plot_writes_the_variants_with_the_front_highlighted(tmp_path):
    from cnncalc.render.plot import FRONT_COLOUR

    path = tmp_path / "trade.svg"
    result = sweep(TRADE, "--set", "k=1,2,3,4,6,8", "--input", "3,32,32", "--input", "3,16,16",
                   "--pareto", "params,activations", "--plot", str(path), "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the plot's note goes to stderr, never into the JSON
    svg = path.read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and FRONT_COLOUR in svg and "Pareto front" in svg
    assert f"wrote {path} (12 variants, {len(data['ranked'])} on the Pareto front of params and activations)" \
        in result.stderr  # --pareto's figures are the axes, so the plotted front is the table's
    assert "k=1, 3×16×16" in svg  # a front point is named by its values and its input


@needs_matplotlib
@pytest.mark.parametrize("args, message", [
    (["--plot", "a.gif"], "a.gif: error: cannot tell the image format from the file name's suffix"),
    (["--plot", "missing/a.png"], "--plot missing/a.png: folder missing does not exist"),
    (["--plot", "a.png", "--plot-axes", "params,flops"], "--plot-axes: no figure 'flops'"),
    (["--plot", "a.png", "--plot-axes", "params"], "--plot-axes params: give two different figures"),
    (["--plot-axes", "params,macs"], "--plot-axes says what --plot draws: give --plot FILE too"),
])
def test_bad_plot_options_exit_2_before_any_work(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert_bad_input(sweep("mobilenet_v2", "--set", "width=0.5,1.0", *args), message)
    assert list(tmp_path.iterdir()) == []


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = sweep("mobilenet_v2", "--set", "width=0.5,1.0", "--plot", str(tmp_path / "a.png"))
    assert_bad_input(result, "error: this command needs matplotlib, which is not installed",
                     "pip install 'cnncalc[plot]'")
    assert result.stdout == "" and not (tmp_path / "a.png").exists()  # refused before the sweep ran


def test_every_figure_has_its_limit_option():
    for command in ("check", "sweep"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
        for figure in cnncalc.FIGURES.values():
            assert figure.option in text, (command, figure.option)
