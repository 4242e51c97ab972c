"""The HTML report as a person sees it: rendered by headless Chromium (Debian's `chromium` package),
driven over the DevTools pipe (tests/headless.py). Skipped when no chromium is installed.

`pytest --update-golden` also rewrites the screenshots in docs/images/."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.analysis.explain import explain
from cnncalc.api import convention_named, load_graph
from cnncalc.cli import app

from .conftest import ROOT
from .headless import Browser, find_chromium, png_pixels
from .test_report_html import HOSTILE, page_of

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_chromium() is None, reason="no chromium on PATH (apt-get install chromium)")]
IMAGES = ROOT / "docs" / "images"


@pytest.fixture(scope="module")
def browser():
    with Browser() as chromium:
        yield chromium


def report_file(spec: str, folder: Path) -> Path:
    path = folder / f"{spec}.html"
    result = CliRunner().invoke(app, ["report", spec, "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


# Bounds, not expected times: DenseNet-121's page (about 430 layers) lays out in seconds on an idle core, and
# took more than the driver's default 20 s on two cores shared by several test runs.
LOAD_S = 120


def opened(browser, path: Path):
    page = browser.open(path)
    page.wait_for("window.__ready === true", timeout=LOAD_S)
    return page


# For each drawn frame, the layers it covers that are not in its block (from the drawing itself).
FOREIGN_NODES_IN_FRAMES = """(() => {
  const D = JSON.parse(document.getElementById("cnncalc-data").textContent);
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const nodes = [...document.querySelectorAll("#graph g.node[data-layer]")]  // each measured once
    .map(node => [box(node.querySelector("rect")), D.layers[+node.dataset.layer].n]);
  const found = [];
  for (const frame of document.querySelectorAll("#graph g.cluster")) {
    const [x0, y0, x1, y1] = box(frame.querySelector("rect")), block = D.blocks[+frame.dataset.block].n;
    for (const [[a0, b0, a1, b1], name] of nodes) {
      if (a1 > x0 && a0 < x1 && b1 > y0 && b0 < y1 && !name.startsWith(block + ".")) found.push(block + " covers " + name);
    }
  }
  return found;
})()"""


def edges(report: cnncalc.Report) -> int:
    """The graph's arrows: one per distinct (source, layer) pair, the network's input included."""
    return len({(source, row.name) for row in report.rows for source in row.inputs})


@pytest.mark.parametrize("spec", ["alexnet", "googlenet", "resnet50", "resnet152", "densenet121", "inception_v3"])
def test_the_page_draws_every_layer_without_errors(browser, tmp_path, spec):
    report = cnncalc.analyze(spec)
    page = opened(browser, report_file(spec, tmp_path))
    assert page.eval("document.querySelectorAll('#graph g.node[data-layer]').length") == len(report.rows)
    assert page.eval("document.querySelectorAll('#graph path.edge').length") == edges(report)
    assert page.eval(FOREIGN_NODES_IN_FRAMES, timeout=LOAD_S) == []  # no block's frame covers a layer of another
    assert page.eval("document.querySelectorAll('#layers tbody tr').length") == len(report.rows)
    width, height, colours = png_pixels(page.screenshot())
    assert (width, height) == (1400, 900) and len(colours) > 20  # a drawn page, not a blank one
    assert page.errors == []
    assert page.requests == [page.url]  # nothing loaded but the file itself


def test_clicking_a_layer_shows_its_derivation(browser, tmp_path):
    graph, _ = load_graph("googlenet")
    report = cnncalc.analyze("googlenet")
    item = next(e for e in explain(graph, report, convention_named("textbook")) if e.layer == "inception3a.cat")
    page = opened(browser, report_file("googlenet", tmp_path))
    index = [row.name for row in report.rows].index("inception3a.cat")
    page.click(f'#graph g.node[data-layer="{index}"]')
    assert page.eval("document.querySelector('#details h3').textContent") == "inception3a.cat"
    assert page.eval("document.querySelector('#details pre').textContent") == "\n".join(s.text() for s in item.steps)
    shown = page.eval("document.querySelector('#details dl').textContent")
    assert "readsinception3a.branch1.relu, inception3a.branch2_1.relu, inception3a.branch3_1.relu, " \
           "inception3a.branch4_1.relu" in shown
    assert "receptive field = 43×43" in page.eval("document.querySelector('#details pre').textContent")
    # its arrows light up: 4 in from the branches, 4 out to inception3b's branches
    assert page.eval("document.querySelectorAll('#graph path.edge.hl').length") == 4 + 4
    assert page.errors == []


def test_blocks_collapse_and_expand(browser, tmp_path):
    report = cnncalc.analyze("resnet50")
    page = opened(browser, report_file("resnet50", tmp_path))
    count = "document.querySelectorAll('#graph g.node[data-layer]').length"
    page.click("#collapse-all")
    # the stem (conv1, bn1, relu, maxpool), layer1..layer4 as one node each, avgpool, flatten1, fc
    assert page.eval(count) == 7
    assert page.eval("document.querySelectorAll('#graph g.block-node').length") == 4
    page.click('#graph g.block-node[data-block="0"]')  # layer1: its details and an expand button
    assert page.eval("document.querySelector('#details h3').textContent") == "layer1"
    page.click("#expand-selected")  # one level: layer1.0, layer1.1, layer1.2 come up collapsed
    assert page.eval("document.querySelectorAll('#graph g.block-node').length") == 3 + 3
    page.click("#expand-all")
    assert page.eval(count) == len(report.rows)
    page.click('#graph g.cluster[data-block="1"] .cluster-label')  # collapse layer1.0 by its frame's label
    inside = [row.name for row in report.rows if row.name.startswith("layer1.0.")]
    assert len(inside) == 12  # three convs with their bn and relu, the downsample conv and bn, add, relu
    assert page.eval(count) == len(report.rows) - 12
    assert page.errors == []


def test_a_collapsed_block_shows_each_of_its_outputs(browser, tmp_path):
    """HRNet's modules give one output per branch: collapsed, each is a node under its block (`→ fuse.1`,
    as the table's lines), with an arrow from the block and one to each reader, as `--depth 1` names them."""
    table = cnncalc.analyze("hrnet_w18_small").collapse(1)
    page = opened(browser, report_file("hrnet_w18_small", tmp_path))
    page.click("#collapse-all")
    ports = [port.name for row in table.rows for port in row.ports]
    assert len(ports) == 2 + 3 + 4 + 4  # stage2, stage3, stage4 and the head's incre (one per branch)
    shown = page.eval("[...document.querySelectorAll('#graph g.node.port')].map(n => n.dataset.port)")
    assert sorted(shown) == sorted(ports)
    labels = page.eval("[...document.querySelectorAll('#graph g.node.port .n1')].map(n => n.textContent)")
    assert "\u2192 fuse.3" in labels
    for port in ports:
        node = f'document.querySelector(\'#graph g.node.port[data-port="{port}"]\').dataset.id'
        readers = {row.name for row in table.rows if port in row.inputs}
        assert page.eval(f"document.querySelectorAll(`#graph path.edge[data-v='${{{node}}}']`).length") == len(readers)
        assert page.eval(f"document.querySelectorAll(`#graph path.edge[data-w='${{{node}}}']`).length") == 1
    page.click('#graph g.node.port[data-port="stage3.fuse.2"]')  # its block's details
    assert page.eval("document.querySelector('#details h3').textContent") == "stage3"
    assert page.errors == []


def test_the_table_sorts_and_selects(browser, tmp_path):
    report = cnncalc.analyze("alexnet")
    page = opened(browser, report_file("alexnet", tmp_path))
    macs = page.eval("[...document.querySelectorAll('#layers th')].findIndex(th => th.textContent === 'MACs (M)')")
    page.click(f"#layers th:nth-child({macs + 1})")
    first = page.eval("document.querySelector('#layers tbody tr').dataset.layer")
    assert report.rows[int(first)].name == "conv2"  # 447,897,600 MACs, the most
    assert page.eval(f"document.querySelector('#layers th:nth-child({macs + 1})').getAttribute('aria-sort')") \
        == "descending"
    assert page.eval(f"document.querySelector('#layers tbody tr td:nth-child({macs + 1})').title") \
        == "447,897,600 MACs"
    page.click("#layers tbody tr")
    assert page.eval("document.querySelector('#details h3').textContent") == "conv2"
    assert page.eval("document.querySelector('#graph g.node.selected').dataset.layer") == first
    assert page.errors == []


def test_the_memory_timeline_is_drawn(browser, tmp_path):
    """The timeline section: the chart laid out at its size, its three phases, the exact peak in the
    peak's tooltip, a tooltip per stretch; no console error."""
    memory = cnncalc.memory("resnet18")
    page = opened(browser, report_file("resnet18", tmp_path))
    size = page.eval("(() => { const r = document.querySelector('#timeline svg.chart').getBoundingClientRect();"
                     " return [r.width, r.height]; })()")
    assert size == [980, 236]
    assert page.eval("[...document.querySelectorAll('#timeline rect.phase')].map(r => r.dataset.phase)") == \
        ["forward", "backward", "step"]
    assert page.eval("document.querySelector('#timeline circle.peak title').textContent") == \
        f"peak: {memory.peak_bytes:,} bytes (151 MiB)\nbackward, layer3.0.conv1: {memory.peak_op}"
    assert page.eval("document.querySelectorAll('#timeline rect.hit title').length") == 120
    assert page.eval("document.querySelector('#timeline figcaption').textContent").startswith("The peak, 151 MiB")
    page.eval("document.querySelector('#timeline').scrollIntoView()")
    assert len(png_pixels(page.screenshot())[2]) > 20
    assert page.errors == []


def test_hostile_names_stay_text(browser, tmp_path):
    _, text = page_of("alexnet", {"conv2": "<script>", "fc8": HOSTILE})
    path = tmp_path / "hostile.html"
    path.write_text(text, encoding="utf-8")
    page = opened(browser, path)
    assert page.eval("typeof window.__pwned") == "undefined"
    assert page.eval("document.querySelector('#graph g.node[data-layer=\"2\"] .n1').textContent") == "<script>"
    assert page.eval("document.querySelector('#layers tbody tr:nth-child(12) td').textContent") == HOSTILE
    assert page.eval("document.querySelectorAll('img').length") == 0
    assert page.errors == []
    assert page.requests == [page.url]


def test_screenshots_for_the_docs(browser, tmp_path, request):
    """docs/images: the AlexNet report with conv2's derivation, the ResNet-50 report at a residual block."""
    shots = {"report_alexnet.png": ("alexnet", "conv2"), "report_resnet50.png": ("resnet50", "layer1.0.add1")}
    for image, (spec, layer) in shots.items():
        index = [row.name for row in cnncalc.analyze(spec).rows].index(layer)
        page = opened(browser, report_file(spec, tmp_path))
        page.click(f'#graph g.node[data-layer="{index}"]')
        page.eval("window.scrollTo(0, 0)")
        data = page.screenshot()
        assert png_pixels(data)[:2] == (1400, 900)
        if request.config.getoption("--update-golden"):
            (IMAGES / image).write_bytes(data)
        assert (IMAGES / image).read_bytes()[:4] == b"\x89PNG"
