"""`cnncalc report` without a browser: one self-contained page, nothing loaded from anywhere, every
name escaped, the data the script draws equal to the report; and the notebook display."""
from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.analysis.explain import explain
from cnncalc.api import convention_named, load_graph
from cnncalc.cli import app
from cnncalc.render.html import asset, page_data, report_page
from cnncalc.render.lecture import lecture_markdown
from cnncalc.render.panels import panels

from .conftest import ROOT

runner = CliRunner()
HOSTILE = '</script><script>window.__pwned=1</script><!--<img src=x onerror="window.__pwned=2">'


def page_of(spec: str, rename: dict[str, str] | None = None) -> tuple[cnncalc.Report, str]:
    """The page of a spec; `rename` gives layers other names afterwards (names a spec could not hold)."""
    graph, display = load_graph(spec)
    convention = convention_named("textbook")
    report = cnncalc.analyze(spec)
    explanations = explain(graph, report, convention)
    if rename:
        report = replace(report, rows=tuple(replace(row, name=rename.get(row.name, row.name),
                                                    inputs=tuple(rename.get(i, i) for i in row.inputs))
                                            for row in report.rows))
        explanations = [replace(item, layer=rename.get(item.layer, item.layer)) for item in explanations]
    return report, report_page(report, explanations, panels(report), "name: x\n", display)


def data_of(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="cnncalc-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def test_the_page_loads_nothing_and_allows_only_its_own_scripts():
    _, page = page_of("alexnet")
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))
    assert "default-src 'none'" in policy and "unsafe" not in policy
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == 2 and len(styles) == 1
    for text in scripts + styles:  # each inline script and style is allowed by its hash, nothing else
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page) == ["data:,"]  # the empty favicon
    assert "@import" not in page and "url(" not in page.replace("url(#arrow)", "")


def test_the_vendored_layout_library_is_the_one_recorded_with_its_licence():
    bundle = asset("dagre.min.js")
    recorded = asset("dagre.VERSION.txt").split("sha256 ")[1].strip()
    assert hashlib.sha256(bundle.encode()).hexdigest() == recorded
    _, page = page_of("alexnet")
    licence = asset("dagre.LICENSE.txt")
    assert "Copyright (c) 2012-2014 Chris Pettitt" in licence
    assert page.index(licence) < page.index(bundle[:200])  # the licence comment precedes the bundle


def test_names_from_the_spec_are_text(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(f"name: '{HOSTILE}'\ndescription: '<b>bold</b> & \"quoted\"'\ninput: [3, 8, 8]\n"
                    "layers:\n  - {op: conv, name: c1, out: 4, kernel: 3}\n", encoding="utf-8")
    result = runner.invoke(app, ["report", str(spec), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count("<script") == 3 and page.lower().count("</script") == 3  # the page's own three
    assert "<img" not in page and "<b>" not in page and "<!--" not in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;" in page
    assert data_of(page)["name"] == HOSTILE  # the JSON block gives back the name as it was


def test_a_layer_named_script_is_text():
    report, page = page_of("alexnet", {"conv2": "<script>", "fc8": HOSTILE})
    assert page.count("<script") == 3 and page.lower().count("</script") == 3
    assert "&lt;script&gt;" in page  # in the charts' labels
    layers = data_of(page)["layers"]
    assert layers[2]["n"] == "<script>" and layers[11]["n"] == HOSTILE
    assert layers[3]["i"] == [2]  # pool2 still reads the renamed layer
    assert "&lt;script&gt;" in report._repr_html_() and "<script>" not in report._repr_html_()


def test_the_data_is_the_reports():
    report = cnncalc.analyze("googlenet")
    graph, _ = load_graph("googlenet")
    explanations = explain(graph, report, convention_named("textbook"))
    data = page_data(report, explanations)
    layers = data["layers"]
    assert [layer["n"] for layer in layers] == [row.name for row in report.rows]
    assert [layer["x"] for layer in layers] == [[str(r.memory_bytes), str(r.params), str(r.macs)] for r in report.rows]
    # the inference network (aux1 and aux2 run only in training): torchvision's published 6,624,904 parameters
    assert data["totals"] == ["49342432", "6624904", "1510979776"]
    cat = next(i for i, row in enumerate(report.rows) if row.name == "inception3a.cat")
    names = [layers[i]["n"] for i in layers[cat]["i"]]
    assert names == ["inception3a.branch1.relu", "inception3a.branch2_1.relu", "inception3a.branch3_1.relu",
                     "inception3a.branch4_1.relu"]
    assert layers[0]["i"] == [-1]  # the network's input
    steps = [step.text() for step in explanations[0].steps]
    assert [data["strings"][k] for k in layers[0]["d"]] == steps
    blocks = {block["n"]: block for block in data["blocks"]}
    assert blocks["inception3a.branch1"]["op"] == "basic"
    assert data["blocks"][blocks["inception3a.branch1"]["p"]]["n"] == "inception3a"
    assert layers[cat]["b"] == data["blocks"].index(blocks["inception3a"])
    header = [column["h"] for column in data["columns"]]
    assert header[:3] == ["Layer", "Op", "From"] and header[-4:] == ["Mem (KB)", "Params (k)", "MACs (M)", "RF"]


def test_the_data_names_each_output_of_a_block_that_gives_several():
    """A block with several outputs lists them (`o`: name within the block, the layer computing it), as
    `--depth` shows them: HRNet's stage3 gives one per branch, a single-output block none."""
    report = cnncalc.analyze("hrnet_w18_small")
    data = page_data(report, [])
    blocks = {block["n"]: block for block in data["blocks"]}
    table = {row.name: row for row in report.collapse(1).rows}
    names = [row.name for row in report.rows]
    assert [[name, names[i]] for name, i in blocks["stage3"]["o"]] == \
        [[port.name.removeprefix("stage3."), port.layer] for port in table["stage3"].ports]
    assert [name for name, _ in blocks["stage3"]["o"]] == ["fuse.0", "fuse.1", "fuse.2"]
    assert "o" not in blocks["layer1"]


def test_the_charts_are_inline_svg_with_exact_values():
    _, page = page_of("alexnet")
    assert page.count('<svg class="chart"') == 3
    assert "conv1: 1,161,600 bytes (1,134.375 KB)" in page
    assert "fc6: 37,752,832 parameters (37,752.832 k)" in page


def test_resnet152_page_is_a_few_hundred_kb(tmp_path):
    result = runner.invoke(app, ["report", "resnet152", "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0
    assert (tmp_path / "r.html").stat().st_size < 400 * 1024


def test_report_command(tmp_path):
    path = tmp_path / "g.html"
    result = runner.invoke(app, ["report", "googlenet", "-o", str(path)])
    assert result.exit_code == 0, result.output
    # the inference network: 213 layers less the 16 of aux1 and aux2, which run only in training
    assert re.fullmatch(rf"wrote {re.escape(str(path))} \(\d+ KB, 197 layers\)\n", result.stdout)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "name: googlenet" in page  # the spec's source
    piped = runner.invoke(app, ["report", "alexnet"])
    assert piped.exit_code == 0 and piped.stdout.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("args", "message"), [
    (["nosuchnet"], "no such file, and no bundled spec of that name"),
    (["alexnet", "--depth", "0"], "Invalid value for '--depth'"),
    (["alexnet", "-o", "missing-folder/r.html"], "folder missing-folder does not exist"),
])
def test_report_bad_input_exits_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_report_warnings_go_to_stderr_and_the_page(tmp_path):
    spec = tmp_path / "w.yaml"
    spec.write_text("input: [3, 7, 7]\nlayers:\n  - {op: conv, name: c, out: 2, kernel: 3, stride: 3}\n")
    result = runner.invoke(app, ["report", str(spec), "-o", str(tmp_path / "w.html")])
    assert result.exit_code == 0
    assert "does not fit" in result.stderr
    data = data_of((tmp_path / "w.html").read_text(encoding="utf-8"))
    assert data["layers"][0]["w"] and "does not fit" in data["layers"][0]["w"][0]


# ---- notebook display ----------------------------------------------------------------------------------
def test_a_report_shows_itself_in_a_notebook():
    report = cnncalc.analyze("alexnet")
    shown = report._repr_html_()
    assert shown.count("<tr>") == 12 + 2  # header, 12 layers, totals
    assert '<td title="1,161,600 bytes">1,134</td>' in shown  # conv1's memory, exact on hover
    assert '<td title="37,752,832 parameters">37,753</td>' in shown
    assert "<b>62,378</b>" in shown and "multiply-adds:     1,136,358,272 (1.14 G)" in shown
    assert report._repr_markdown_() == lecture_markdown(report)


def test_a_notebook_table_shows_where_branches_read_from():
    shown = cnncalc.analyze("resnet50")._repr_html_()
    assert "<th style=\"text-align:left\">From</th>" in shown
    assert 'style="max-height:32em;overflow:auto"' in shown  # 175 rows scroll


def test_the_wheel_ships_the_assets(tmp_path):
    wheel = pytest.importorskip("hatchling.builders.wheel")
    import zipfile

    built = next(iter(wheel.WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])))
    names = zipfile.ZipFile(built).namelist()
    for name in ("dagre.min.js", "dagre.LICENSE.txt", "dagre.VERSION.txt", "report.js", "report.css"):
        assert f"cnncalc/render/assets/{name}" in names
