"""The memory-over-time panel (`cnncalc plot --what timeline`, the report's timeline section): the data
drawn is the MemoryReport's timeline, the peak is its peak, the phases come in order, the takeaway is
true of the numbers, a long timeline is downsampled without losing the peak, names are escaped."""
from __future__ import annotations

import html
import importlib.util
import json
import re
import sys
from dataclasses import replace
from fractions import Fraction
from itertools import pairwise

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.analysis.memory_plan import MemoryOptions
from cnncalc.analysis.memory_report import TimelinePoint, graph_memory
from cnncalc.api import load_graph
from cnncalc.cli import app
from cnncalc.render.panels import chosen_panels, percent
from cnncalc.render.plot import TIMELINE_WIDTH, timeline_svg
from cnncalc.render.timeline import MAX_BUCKETS, buckets, byte_unit, drawn_points, timeline_panel

from .conftest import ROOT
from .test_report_html import HOSTILE

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib (the plot extra) is not installed")
runner = CliRunner()
SVG_LEFT, SVG_TOP, SVG_HEIGHT = 64, 22, 180  # timeline_svg's plotting area


@pytest.fixture(scope="module")
def resnet18():
    report = cnncalc.memory("resnet18")
    return report, timeline_panel(report)


# ---- the data ---------------------------------------------------------------------------------------
def test_the_panel_is_the_memory_report(resnet18):
    report, panel = resnet18
    assert panel.points == report.timeline and len(panel.points) == 179
    peak = panel.peak_point
    assert (peak.phase, peak.layer, peak.op, peak.bytes) == \
        (report.peak_phase, report.peak_layer, report.peak_op, report.peak_bytes)
    values = [point.bytes for point in report.timeline]
    assert panel.peak == values.index(max(values))  # the first time the maximum is reached
    assert [(span.phase, span.first, span.last) for span in panel.phases] == \
        [("forward", 0, 44), ("backward", 45, 115), ("step", 116, 178)]  # 45, 71 and 63 ops
    assert [span.name for span in panel.phases] == ["forward", "backward", "optimizer step"]
    for span in panel.phases:
        assert {point.phase for point in panel.points[span.first:span.last + 1]} == {span.phase}
    # 158,260,616 bytes is 150.93 MiB: the axis is in MiB
    assert (panel.unit, panel.title, panel.heights()[panel.peak]) == (2**20, "Live memory (MiB)", 158_260_616 / 2**20)
    assert panel.setting == "training step, batch 1, momentum, float32"


def test_the_takeaway_names_the_peak_and_its_larger_side(resnet18):
    report, panel = resnet18
    # at the peak: parameters 46,758,048 + buffers 38,560 + gradients 42,846,112 + momentum 46,758,048
    # = 136,400,768 against activations 18,873,864 + temporaries 2,383,872 + input 602,112 = 21,859,848;
    # 136,400,768 / 158,260,616 = 86.19%
    assert report.at_peak == {"parameters": 46_758_048, "buffers": 38_560, "gradients": 42_846_112,
                              "optimizer_state": 46_758_048, "activations": 18_873_864, "temporary": 2_383_872}
    assert panel.takeaway.share == Fraction(136_400_768, 158_260_616)
    assert panel.takeaway.text == ("The peak, 151 MiB, is in the backward pass at layer3.0.conv1: parameters, buffers, "
                                   "gradients and optimizer state are 86.2% of it")
    assert panel.takeaway.layers == ("layer3.0.conv1",)


@pytest.mark.parametrize(("spec", "options", "start"), [
    ("resnet18", {"batch": 32, "optimizer": "adamw"},
     "The peak, 835 MiB, is in the backward pass at layer4.0.conv1: activations, temporaries and the input are"),
    ("lenet5", {"optimizer": "adam"},  # the moments (2 × 246,824) and the step's temporaries outweigh the rest
     "The peak, 1.31 MiB, is in the optimizer step (step: c5.weight): parameters, gradients and optimizer state are"),
    ("docs/examples/tiny.yaml", {"mode": "infer"},
     "The peak, 3.23 KiB, is in the forward pass at conv1: activations and the input are"),
    ("googlenet", {"mode": "infer", "batch": 8}, "The peak, "),
    ("mobilenet_v2", {"amp": "bf16", "checkpoint": ["features.4"]}, "The peak, "),
])
def test_the_takeaway_is_true(spec, options, start):
    report = cnncalc.memory(spec, **options)
    takeaway = timeline_panel(report).takeaway
    model = sum(report.at_peak[key] for key in ("parameters", "buffers", "gradients", "optimizer_state"))
    batch = report.at_peak["activations"] + report.at_peak["temporary"] + report.input_bytes
    assert model + batch == report.peak_bytes
    assert takeaway.share == Fraction(max(model, batch), report.peak_bytes)
    side = "activations" if batch >= model else "parameters"
    assert takeaway.text.startswith(start)
    assert takeaway.text.endswith(f"{percent(takeaway.share)} of it") and side in takeaway.text
    assert (report.peak_layer or report.peak_op) in takeaway.text


def test_inference_has_one_phase():
    panel = timeline_panel(cnncalc.memory("resnet18", mode="infer"))
    assert [span.phase for span in panel.phases] == ["forward"]
    assert panel.steps_name() == "one inference pass"
    assert panel.setting == "inference (no_grad, eval), batch 1, float32"


@pytest.mark.parametrize(("largest", "unit"), [(0, (1, "bytes")), (1023, (1, "bytes")), (1024, (1024, "KiB")),
                                               (2**30 - 1, (2**20, "MiB")), (2**30, (2**30, "GiB"))])
def test_byte_unit(largest, unit):
    assert byte_unit(largest) == unit


def test_buckets_cut_the_timeline_evenly():
    assert buckets(5, 10) == [range(0, 1), range(1, 2), range(2, 3), range(3, 4), range(4, 5)]
    parts = buckets(1300, 120)
    assert len(parts) == 120 and parts[0].start == 0 and parts[-1].stop == 1300
    assert all(a.stop == b.start for a, b in pairwise(parts))
    assert {len(part) for part in parts} == {10, 11}  # 1300 / 120 = 10.83


def test_a_long_timeline_keeps_each_buckets_extremes_and_the_exact_peak():
    report = cnncalc.memory("resnet152")
    panel = timeline_panel(report)
    values = [point.bytes for point in panel.points]
    kept = drawn_points(panel)
    assert len(values) == 1300 and len(kept) <= 2 * MAX_BUCKETS + 3
    assert panel.peak in kept and values[panel.peak] == report.peak_bytes == max(values)
    assert kept[0] == 0 and kept[-1] == len(values) - 1
    for part in buckets(len(values)):
        inside = [i for i in kept if i in part]
        assert min(values[i] for i in inside) == min(values[i] for i in part)
        assert max(values[i] for i in inside) == max(values[i] for i in part)
    short = timeline_panel(cnncalc.memory("alexnet"))  # 62 points: every one is drawn
    assert drawn_points(short) == list(range(62))


# ---- the SVG ----------------------------------------------------------------------------------------
def _line_points(svg: str, count: int) -> list[tuple[int, float]]:
    """(index, y) of each vertex of the drawn line, the index read back from its x."""
    path = re.search(r'<path class="line" d="M([^"]*)"', svg).group(1)
    step = TIMELINE_WIDTH / count
    out = []
    for pair in path.split():
        x, y = map(float, pair.split(","))
        index = (x - SVG_LEFT) / step - 0.5
        assert abs(index - round(index)) < 0.02
        out.append((round(index), y))
    return out


@pytest.mark.parametrize("spec", ["alexnet", "resnet152"])
def test_the_svg_draws_the_timeline(spec):
    report = cnncalc.memory(spec)
    panel = timeline_panel(report)
    svg = timeline_svg(panel)
    vertices = _line_points(svg, len(panel.points))
    assert [index for index, _ in vertices] == drawn_points(panel)
    base = SVG_TOP + SVG_HEIGHT
    ticks = re.findall(r'<line x1="64" x2="\d+" y1="([\d.]+)" y2="[\d.]+" class="grid"/><text[^>]*>([\d,]+)</text>', svg)
    assert float(ticks[-1][0]) == SVG_TOP  # the top tick is the top of the plotting area
    scale = SVG_HEIGHT / (float(ticks[-1][1].replace(",", "")) * panel.unit)  # px per byte
    for index, y in vertices:  # every vertex's height is its point's bytes, to the 0.1 px it is written with
        assert abs((base - y) - panel.points[index].bytes * scale) <= 0.05 + 1e-9
    highest = min(vertices, key=lambda vertex: vertex[1])
    assert panel.points[highest[0]].bytes == report.peak_bytes
    assert re.findall(r'data-phase="(\w+)"', svg) == ["forward", "backward", "step"]
    peak = re.search(r'<circle class="peak"[^>]*><title>([^<]*)</title>', svg).group(1)
    assert f"{report.peak_bytes:,} bytes" in peak and html.escape(report.peak_layer or report.peak_op) in peak
    titles = re.findall(r'<rect class="hit"[^>]*><title>([^<]*)</title>', svg)
    assert len(titles) == min(len(panel.points), MAX_BUCKETS)
    text = "\n".join(titles)
    for index in drawn_points(panel):  # each drawn point's exact bytes and place are in a tooltip
        assert f"{panel.points[index].bytes:,} bytes" in text
        assert html.escape(panel.points[index].layer) in text


def test_alexnet_tooltips_name_each_op():
    panel = timeline_panel(cnncalc.memory("alexnet"))
    titles = re.findall(r'<rect class="hit"[^>]*><title>([^<]*)</title>', timeline_svg(panel))
    # conv2's backward ReLU, op 41 of 62 (index 40): live memory 750,800,980 bytes
    assert titles[40] == "750,800,980 bytes: op 41, backward, conv2: relu"
    assert titles[43] == "752,503,508 bytes (the peak): op 44, backward, conv1: relu"


def test_a_hostile_name_is_escaped():
    report = cnncalc.memory("alexnet")
    renamed = tuple(replace(point, layer=HOSTILE) if point.layer == "conv1" else point for point in report.timeline)
    report = replace(report, timeline=renamed, peak_layer=HOSTILE)
    panel = timeline_panel(report)
    svg = timeline_svg(panel)
    assert "<script" not in svg and "<img" not in svg and "<!--" not in svg
    assert html.escape(HOSTILE) in svg
    assert panel.takeaway.text.startswith(f"The peak, 718 MiB, is in the backward pass at {HOSTILE}:")


# ---- the report's page ------------------------------------------------------------------------------
def test_the_report_has_the_timeline(tmp_path):
    path = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "alexnet", "-o", str(path), "--batch", "4", "--optimizer", "adamw"])
    assert result.exit_code == 0, result.output
    page = path.read_text(encoding="utf-8")
    panel = timeline_panel(cnncalc.memory("alexnet", batch=4, optimizer="adamw"))
    assert page.count('<svg class="chart timeline"') == 1 and timeline_svg(panel) in page
    assert "<h2>Live memory through one training step</h2>" in page
    assert f"<li>{html.escape(panel.takeaway.text)}</li>" in page  # among the takeaways at the top
    infer = runner.invoke(app, ["report", "alexnet", "--mode", "infer"])
    assert "<h2>Live memory through one inference pass</h2>" in infer.stdout


def test_the_report_without_a_timeline_says_why(tmp_path):
    result = runner.invoke(app, ["report", "alexnet", "--dtype", "int8"])  # int8: the table's, not PyTorch training's
    assert result.exit_code == 0
    assert "note: no memory timeline: the memory model has no --dtype int8" in result.stderr
    assert '<p class="warning">No memory timeline: the memory model has no --dtype int8' in result.stdout
    spec = tmp_path / "s.yaml"  # the in-place ReLU overwrites what the sigmoid keeps: the table is fine,
    spec.write_text("input: [4, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 1}\n"  # training is not
                    "  - {op: sigmoid, name: s}\n  - {op: relu, name: r, inplace: true}\n")
    result = runner.invoke(app, ["report", str(spec)])
    assert result.exit_code == 0
    assert "No memory timeline: layer &#x27;r&#x27;: works in place on a tensor that &#x27;s&#x27; keeps" \
        in result.stdout
    assert 'class="chart timeline"' in runner.invoke(app, ["report", str(spec), "--mode", "infer"]).stdout


@pytest.mark.parametrize(("command", "args", "message"), [
    ("report", ["--checkpoint", "layer9"], "--checkpoint: no block instance, layer or module named 'layer9'"),
    ("report", ["--optimizer", "lion"], "unknown optimizer 'lion'"),
    ("plot", ["--what", "timeline", "--dtype", "int8", "-o", "t.png"], "memory needs a floating type"),
    ("plot", ["--what", "timeline", "--amp", "bf16", "--dtype", "float16", "-o", "t.png"], "leave --dtype at float32"),
    ("plot", ["--what", "timline", "-o", "t.png"], "did you mean 'timeline'?"),
    ("plot", ["--mode", "eval", "-o", "t.png"], "unknown mode 'eval'"),
])
def test_bad_timeline_options_exit_2(tmp_path, monkeypatch, command, args, message):
    if command == "plot" and "--dtype" in args and importlib.util.find_spec("matplotlib") is None:
        pytest.skip("needs matplotlib to get as far as the timeline")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [command, "resnet18", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_memory_json_is_what_is_drawn():
    result = runner.invoke(app, ["memory", "resnet18", "-f", "json"])
    data = json.loads(result.stdout)
    panel = timeline_panel(graph_memory(load_graph("resnet18")[0], MemoryOptions()))
    assert [TimelinePoint(**point) for point in data["timeline"]] == list(panel.points)
    assert data["peak_bytes"] == panel.peak_point.bytes


# ---- the figure ---------------------------------------------------------------------------------------
def test_what_takes_the_timeline_but_the_default_is_the_slide():
    assert chosen_panels(None) == ["memory", "params", "macs"]
    assert chosen_panels("timeline,memory") == ["timeline", "memory"]


@needs_matplotlib
def test_the_figure_draws_the_timeline(resnet18):
    from matplotlib.collections import PathCollection

    from cnncalc.render.plot import panels_figure

    report, panel = resnet18
    figure = panels_figure([panel], "resnet18: live memory")
    (ax,) = figure.axes
    (line,) = ax.lines
    assert list(line.get_xdata()) == list(range(179))
    assert list(line.get_ydata()) == [point.bytes / 2**20 for point in report.timeline]
    (peak,) = [c for c in ax.collections if isinstance(c, PathCollection)]  # the scatter
    assert tuple(peak.get_offsets()[0]) == (panel.peak, report.peak_bytes / 2**20)
    (note,) = [t for t in ax.texts if t.get_text().startswith("peak")]
    assert note.get_text() == ("peak: 158,260,616 bytes (151 MiB)\n"
                               "backward, layer3.0.conv1: gradients of layer2.1.out added")
    spans = [patch.get_x() for patch in ax.patches]  # axvspan rectangles: one per phase, from each first op
    assert spans == [-0.5, 44.5, 115.5]
    assert [t.get_text() for t in ax.texts if t is not note] == ["forward", "backward", "optimizer step"]
    assert ax.get_title(loc="left") == panel.takeaway.text
    assert ax.get_ylabel() == "Live memory (MiB)"


@needs_matplotlib
@pytest.mark.parametrize(("what", "timeline_on_top"), [("memory,params,timeline", False), ("timeline,macs", True)])
def test_the_timeline_shares_a_figure_with_bars(what, timeline_on_top):
    from cnncalc.render.panels import panels
    from cnncalc.render.plot import panels_figure

    keys = chosen_panels(what)
    bars = panels(cnncalc.analyze("alexnet"), [key for key in keys if key != "timeline"])
    timeline = timeline_panel(cnncalc.memory("alexnet"))
    drawn = [timeline if key == "timeline" else bars.pop(0) for key in keys]
    axes = panels_figure(drawn, "alexnet").axes
    assert len(axes) == len(keys)
    line_axes = [ax for ax in axes if ax.lines]
    assert len(line_axes) == 1
    tops = sorted(axes, key=lambda ax: -ax.get_position().y1)
    assert (tops[0] is line_axes[0]) == timeline_on_top


@needs_matplotlib
def test_plot_timeline_command(tmp_path):
    path = tmp_path / "t.svg"
    result = runner.invoke(app, ["plot", "alexnet", "--what", "timeline", "-o", str(path), "--mode", "infer"])
    assert result.exit_code == 0, result.output
    panel = timeline_panel(cnncalc.memory("alexnet", mode="infer"))
    assert result.stdout == (f"wrote {path} (1 panel, live memory after each of the {len(panel.points)} ops of one "
                             f"inference pass)\n  {panel.takeaway.text}\n")
    assert path.read_text().startswith("<?xml")
    result = runner.invoke(app, ["plot", "alexnet", "--what", "macs,timeline", "-o", str(path)])
    assert result.stdout.splitlines()[0] == (f"wrote {path} (2 panels, 12 bars, live memory after each of the 62 "
                                             "ops of one training step)")


def test_plot_timeline_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = runner.invoke(app, ["plot", "alexnet", "--what", "timeline", "-o", str(tmp_path / "t.png")])
    assert result.exit_code == 2
    assert "error: this command needs matplotlib, which is not installed" in result.stderr
    assert "pip install 'cnncalc[plot]'" in result.stderr
    assert not (tmp_path / "t.png").exists()


@needs_matplotlib
def test_the_timeline_for_the_docs(request):
    """docs/images/plot_timeline_resnet18.png is `cnncalc plot resnet18 --what timeline` (--update-golden)."""
    path = ROOT / "docs" / "images" / "plot_timeline_resnet18.png"
    if request.config.getoption("--update-golden"):
        assert runner.invoke(app, ["plot", "resnet18", "--what", "timeline", "-o", str(path)]).exit_code == 0
    assert path.read_bytes()[:4] == b"\x89PNG"
