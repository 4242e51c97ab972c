"""`cnncalc plot`: the slide's panels carry the report's numbers, the takeaways are true, and the
figure draws exactly that data (bar heights and labels, not pixels)."""
from __future__ import annotations

import importlib.util
import sys
from fractions import Fraction
from itertools import accumulate

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.core.numbers import KB, MILLION, THOUSAND
from cnncalc.render.panels import BLOCK, CONV, FC, OTHER, auto_depth, chosen_panels, layer_kind, panels, percent
from cnncalc.spec.bundled import bundled_specs

from .conftest import ROOT

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib (the plot extra) is not installed")
runner = CliRunner()


# ---- the takeaways -----------------------------------------------------------------------------------
def test_alexnet_takeaways_are_the_slides():
    memory, params, macs = (panel.takeaway for panel in panels(cnncalc.analyze("alexnet")))
    # conv1 1,161,600 + pool1 279,936 + conv2 746,496 = 2,188,032 bytes of 3,163,808: 69.16%; no two
    # consecutive layers hold half (conv1 + pool1 = 1,441,536 is 45.6%)
    assert memory.text == ("Most of the activation memory is in the early layers: 69.2% in conv1–conv2 "
                           "(3 of 12 layers)")
    assert memory.share == Fraction(2_188_032, 3_163_808)
    assert memory.layers == ("conv1", "pool1", "conv2")
    # fc6 37,752,832 + fc7 16,781,312 + fc8 4,097,000 = 58,631,144 of 62,378,344: 93.99%
    assert params.text == "Nearly all parameters are in the fully-connected layers: 94.0% in fc6–fc8 (3 layers)"
    assert params.share == Fraction(58_631_144, 62_378_344)
    # conv1..conv5: 105,415,200 + 447,897,600 + 149,520,384 + 224,280,576 + 149,520,384 = 1,076,634,144
    # of 1,136,358,272 (the pools' 1,102,176 are not conv layers): 94.74%
    assert macs.text == "Nearly all multiply-adds are in the conv layers: 94.7% in 5 layers from conv1 to conv5"
    assert macs.share == Fraction(1_076_634_144, 1_136_358_272)


def test_resnet50_takeaways_name_the_conv_layers_and_the_fc_apart():
    _, params, macs = (panel.takeaway for panel in panels(cnncalc.analyze("resnet50")))
    # torchvision's resnet50: 25,557,032 params, of which fc 2048*1000 + 1000 = 2,049,000 and the 53
    # batch norms 53,120: the convs hold 25,557,032 - 2,049,000 - 53,120 = 23,454,912 = 91.78%
    assert params.share == Fraction(23_454_912, 25_557_032)
    assert params.text.startswith("Nearly all parameters are in the conv layers: 91.8% in 53 layers from conv1 to ")
    assert macs.text.startswith("Nearly all multiply-adds are in the conv layers: 99.9%")


@pytest.mark.parametrize(("share", "text"), [
    (Fraction(2_188_032, 3_163_808), "69.2%"),
    (Fraction(1, 2), "50.0%"),
    (Fraction(9995, 10000), ">99.9%"),  # rounds to 100.0 but is not all of it
    (Fraction(1), "100.0%"),
    (Fraction(1, 10**6), "<0.1%"),
    (Fraction(0), "0.0%"),
    (Fraction(1, 2000), "0.1%"),  # 0.05% rounds half up
])
def test_percent(share, text):
    assert percent(share) == text


def _check_takeaways(report):
    """Each sentence is true of the numbers, whatever the net."""
    memory, params, macs = (panel.takeaway for panel in panels(report))
    values = [row.memory_bytes for row in report.rows]
    total = sum(values)
    first, last = memory.run
    run = sum(values[first:last + 1])
    assert 2 * run > total and memory.share == Fraction(run, total)
    assert memory.layers == tuple(row.name for row in report.rows[first:last + 1])
    length = last - first + 1
    prefix = [0, *accumulate(values)]
    assert all(2 * (prefix[i + length - 1] - prefix[i]) <= total for i in range(len(values) - length + 2)), \
        "a shorter run holds more than half"
    for takeaway, field in ((params, "params"), (macs, "macs")):
        if takeaway is None:
            assert sum(getattr(row, field) for row in report.rows) == 0
            continue
        kinds: dict[str, int] = {}
        for row in report.rows:
            kinds[layer_kind(row)] = kinds.get(layer_kind(row), 0) + getattr(row, field)
        best = max(kinds.values())
        assert takeaway.share == Fraction(best, sum(kinds.values()))
        members = [row for row in report.rows if row.name in takeaway.layers]
        assert sum(getattr(row, field) for row in members) == best
        assert len({layer_kind(row) for row in members}) == 1
        quantifier = ("Nearly all" if takeaway.share > Fraction(9, 10) else
                      "Most" if takeaway.share > Fraction(1, 2) else "The largest share")
        assert takeaway.text.startswith(quantifier)
        assert percent(takeaway.share) in takeaway.text


@pytest.mark.parametrize("spec", ["alexnet", "googlenet", "mobilenet_v3_large", "lenet5"])
def test_takeaways_are_true(spec):
    _check_takeaways(cnncalc.analyze(spec))


@pytest.mark.slow
@pytest.mark.parametrize("spec", [name for name in bundled_specs() if not name.startswith("lecture/")])
def test_takeaways_are_true_for_the_whole_zoo(spec):
    _check_takeaways(cnncalc.analyze(spec))


def test_a_net_without_parameters_has_no_parameter_takeaway(analyze_text):
    report = analyze_text("input: [3, 8, 8]\nlayers:\n  - {op: maxpool, kernel: 2}\n  - {op: relu}\n")
    memory, params, macs = (panel.takeaway for panel in panels(report))
    assert params is None
    # maxpool: 3*4*4*4 = 192 MACs, relu none: all in the layers that are neither conv nor fully-connected
    assert macs.text == ("Nearly all multiply-adds are in the layers that are neither conv nor fully-connected: "
                         "100.0% in maxpool1")
    # maxpool1 and relu1 output 3*4*4 floats each: neither alone holds more than half
    assert memory.text == "Most of the activation memory is in the early layers: 100.0% in maxpool1–relu1 (2 of 2 layers)"


def test_layer_kinds_come_from_the_data(analyze_text):
    report = analyze_text("input: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 3}\n  - {op: bn}\n"
                          "  - {op: conv_transpose, out: 2, kernel: 2}\n  - {op: flatten}\n  - {op: fc, out: 5}\n")
    assert [layer_kind(row) for row in report.rows] == [CONV, OTHER, CONV, OTHER, FC]
    assert {layer_kind(row) for row in cnncalc.analyze("resnet50", depth=1).rows} == {CONV, OTHER, FC, BLOCK}


# ---- the bars ---------------------------------------------------------------------------------------
def test_bars_are_the_reports_rows():
    report = cnncalc.analyze("alexnet")
    memory, params, macs = panels(report)
    assert [bar.label for bar in memory.bars] == [row.name for row in report.rows]
    assert [bar.value for bar in memory.bars] == [row.memory_bytes for row in report.rows]
    assert [bar.value for bar in params.bars] == [row.params for row in report.rows]
    assert [bar.value for bar in macs.bars] == [row.macs for row in report.rows]
    assert (memory.unit, params.unit, macs.unit) == (KB, THOUSAND, MILLION)
    assert memory.heights()[0] == 1134.375  # conv1: 1,161,600 / 1024 KB, as the lecture's table
    assert memory.marked == (0, 2)


def test_depth_groups_bars_and_marks_the_blocks_holding_the_run():
    report = cnncalc.analyze("resnet50")
    grouped = report.collapse(2)
    memory, params, _ = panels(report, depth=2)
    assert [bar.label for bar in memory.bars] == [row.name for row in grouped.rows]
    assert sum(bar.value for bar in params.bars) == report.totals.params == 25_557_032
    # the run conv1 .. layer2.0.bn2 lies in bars conv1 (0) .. layer2.0 (7)
    assert memory.takeaway.layers[-1] == "layer2.0.bn2"
    assert memory.marked == (0, [bar.label for bar in memory.bars].index("layer2.0"))


def test_auto_depth_fits_sixty_bars():
    assert auto_depth(cnncalc.analyze("alexnet")) is None  # 12 layers
    report = cnncalc.analyze("resnet152")
    assert auto_depth(report) == 2
    assert len(report.collapse(2).rows) == 57 and len(report.collapse(3).rows) > 60


def test_a_net_without_blocks_is_not_grouped(analyze_text):
    report = analyze_text("input: [4, 8, 8]\nlayers:\n" + "  - {op: conv, out: 4, kernel: 3, pad: 1}\n" * 130)
    assert auto_depth(report) is None
    from cnncalc.render.plot import panel_svg

    svg = panel_svg(panels(report, ["macs"])[0])
    assert svg.count('<g class="bar">') == 130
    assert "rotate(-60" not in svg  # 130 names would not fit: no labels, the tooltips name the bars
    # each conv: C_out*H'*W' * C_in*K*K = 4*8*8 * 4*3*3 = 9,216 multiply-adds
    assert "<title>conv130: 9,216 multiply-adds (0.009216 M)</title>" in svg


def test_what_chooses_panels():
    assert chosen_panels(None) == ["memory", "params", "macs"]
    assert chosen_panels("macs, memory") == ["macs", "memory"]
    with pytest.raises(cnncalc.InputError, match="unknown panel 'mac'"):
        chosen_panels("mac")


# ---- the figure draws that data ------------------------------------------------------------------------
@needs_matplotlib
def test_the_figure_draws_the_bars_and_labels():
    from cnncalc.render.plot import panels_figure

    report = cnncalc.analyze("alexnet")
    drawn = panels(report)
    figure = panels_figure(drawn, "alexnet")
    axes = figure.axes
    assert len(axes) == 3
    for ax, panel, field, unit in zip(axes, drawn, ("memory_bytes", "params", "macs"), (KB, THOUSAND, MILLION)):
        bars = [patch for patch in ax.patches if patch.get_width() < 1]
        assert [bar.get_height() for bar in bars] == pytest.approx([getattr(r, field) / unit for r in report.rows])
        assert [t.get_text() for t in ax.get_xticklabels()] == [row.name for row in report.rows]
        assert ax.get_title(loc="left").replace("\n", " ") == panel.takeaway.text
    assert axes[0].get_ylabel() == "Memory (KB)"


@needs_matplotlib
def test_the_figure_stacks_many_bars_and_labels_the_last_panel():
    from cnncalc.render.plot import panels_figure

    drawn = panels(cnncalc.analyze("resnet50"), depth=2)
    axes = panels_figure(drawn, "resnet50").axes
    assert len(axes[0].patches) >= 23
    assert not any(t.get_text() for t in axes[0].get_xticklabels())  # the panels share the layer axis
    assert [t.get_text() for t in axes[2].get_xticklabels()] == [bar.label for bar in drawn[2].bars]


@needs_matplotlib
def test_scatter_draws_the_variants_and_the_front(tmp_path):
    from cnncalc.render.plot import scatter, scatter_figure

    points = [{"name": f"w={w}", "params": 1_000_000 * w, "macs": 300_000_000 * w * w, "input": size}
              for w in (1, 2, 3) for size in ("160", "224")]
    points.append({"name": "invalid", "params": None, "macs": None, "input": "224"})
    figure = scatter_figure(points, "params", "macs", front=[0, 2], label="name", group="input")
    ax = figure.axes[0]
    assert ax.get_xlabel() == "Parameters (M)" and ax.get_ylabel() == "Multiply-adds (G)"
    drawn = [tuple(map(tuple, c.get_offsets())) for c in ax.collections]
    # points 0..5 are (w=1, 160), (w=1, 224), (w=2, 160), ...; params in M, MACs in G: 0.3 w²
    # off the front, in order of first appearance: input 224 (points 1, 3, 5), input 160 (point 4);
    # point 6, invalid, is not drawn
    assert drawn[0] == ((1.0, 0.3), (2.0, 1.2), (3.0, 2.7))
    assert drawn[1] == ((3.0, 2.7),)
    assert drawn[2] == ((1.0, 0.3), (2.0, 1.2))  # the front (points 0 and 2), in order of x
    assert [t.get_text() for t in ax.texts] == ["w=1", "w=2"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["224", "160", "Pareto front"]
    scatter(points, "params", "macs", tmp_path / "s.svg", front=[0, 2])
    assert (tmp_path / "s.svg").read_text().startswith("<?xml")


# ---- the command --------------------------------------------------------------------------------------
@needs_matplotlib
@pytest.mark.parametrize(("suffix", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_plot_writes_each_format(tmp_path, suffix, magic):
    path = tmp_path / f"a.{suffix}"
    result = runner.invoke(app, ["plot", "alexnet", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes().startswith(magic)
    assert result.stdout.splitlines()[0] == f"wrote {path} (3 panels, 12 bars)"
    assert "94.0% in fc6–fc8" in result.stdout


@needs_matplotlib
def test_plot_depth_and_what(tmp_path):
    result = runner.invoke(app, ["plot", "resnet152", "-o", str(tmp_path / "r.png"), "--what", "macs"])
    assert result.exit_code == 0, result.output
    assert "(1 panel, 57 bars, one per block at --depth 2)" in result.stdout
    result = runner.invoke(app, ["plot", "resnet152", "-o", str(tmp_path / "r.png"), "-d", "1"])
    assert "(3 panels, 11 bars, one per block at --depth 1)" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "a.gif"], "a.gif: error: cannot tell the image format from the file name's suffix"),
    (["-o", "a.png", "--what", "flops"], "--what: unknown panel 'flops'"),
    (["-o", "a.png", "--what", ","], "--what names no panel"),
    (["-o", "missing-folder/a.png"], "folder missing-folder does not exist"),
])
def test_plot_bad_options_exit_2(tmp_path, monkeypatch, args, message):
    if args[1].startswith("missing") and importlib.util.find_spec("matplotlib") is None:
        pytest.skip("needs matplotlib to get as far as writing")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plot", "alexnet", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = runner.invoke(app, ["plot", "alexnet", "-o", str(tmp_path / "a.png")])
    assert result.exit_code == 2
    assert "error: this command needs matplotlib, which is not installed" in result.stderr
    assert "pip install 'cnncalc[plot]'" in result.stderr
    assert not (tmp_path / "a.png").exists()


# test_the_static_commands_never_import_matplotlib: in tests/test_static_imports.py (the static commands, one process)


@needs_matplotlib
def test_the_chart_for_the_docs(request):
    """docs/images/plot_alexnet.png is `cnncalc plot alexnet` (rewritten by --update-golden)."""
    path = ROOT / "docs" / "images" / "plot_alexnet.png"
    if request.config.getoption("--update-golden"):
        assert runner.invoke(app, ["plot", "alexnet", "-o", str(path)]).exit_code == 0
    assert path.read_bytes()[:4] == b"\x89PNG"
