"""A sequence of tokens, [L, D], as the lectures write a ViT's: L×D (197×768, tokens × features) wherever a table
prints it, never a feature map's C and H/W; formulas name its axes L and D; grading takes its C_out as L×D. Feature
maps and vectors print as before (tools/snapshot.py and the docs' golden blocks hold them)."""
from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.grade.values import output_answers, sequence_of

from .conftest import ROOT, needs_sympy

runner = CliRunner()
VIT_BLOCK = str(ROOT / "docs" / "examples" / "vit_block.yaml")  # 197 tokens of 768 features
# ln_1, then self_attention: 197 tokens in and out; fc1: 768 features in, 3072 out
HEADER = "layer,op,inputs,c_in,h_in,w_in,filters,kernel,stride,pad,c_out,h_out,w_out"


def _table(*args: str) -> str:
    result = runner.invoke(app, ["table", VIT_BLOCK, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_table_shows_tokens_times_features():
    """C_in and C_out hold the whole sequence, H/W and H'/W' are blank (a sequence has neither)."""
    lines = {line.split()[0]: line.split() for line in _table().splitlines() if line.startswith(" ") and line.split()}
    # Layer, C_in, Filters, C_out, Mem (KB) 197·768·4/1024 = 591, Params (k) 2,362,368, MACs (M) 524,391,936
    assert lines["self_attention"] == ["self_attention", "197×768", "12", "heads", "197×768", "591", "2,362", "524"]
    # fc1: 197·3072·4/1024 = 2,364 KB; 768·3072 + 3072 = 2,362,368 params; 197·768·3072 = 464,781,312 MACs
    assert lines["fc1"] == ["fc1", "197×768", "3072", "197×3072", "2,364", "2,362", "465"]
    assert lines["attention_residual"][-5:] == ["197×768+197×768", "197×768", "591", "0", "0"]


def test_markdown_and_csv():
    markdown = _table("-f", "markdown")
    assert "| fc1 |  | 197×768 |  | 3072 |  |  |  | 197×3072 |  | 2,364 | 2,362 | 465 |" in markdown
    rows = {row[0]: row for row in csv.reader(io.StringIO(_table("-f", "csv")))}
    assert ",".join(rows["layer"][:13]) == HEADER
    # c, h and w blank (no channels, no H and W); the shapes whole in in_shape and out_shape
    assert rows["fc1"][3:6] == rows["fc1"][10:13] == ["", "", ""]
    assert (rows["fc1"][-2], rows["fc1"][-1]) == ("197x768", "197x3072")


def test_a_map_made_into_tokens():
    """vit_b_16's patch embedding: a 768×14×14 map reshaped to 768×196 and transposed to 196 tokens."""
    lines = {}
    for line in runner.invoke(app, ["table", "vit_b_16"]).stdout.splitlines():
        if line.split() and line.split()[0] in ("conv_proj", "patches", "tokens", "class_token"):
            lines[line.split()[0]] = line.split()
    assert lines["conv_proj"][1:3] == ["3", "224"] and lines["conv_proj"][7:9] == ["768", "14"]  # a map, as before
    assert lines["patches"][1:5] == ["768", "14", "[768,", "-1]"] and lines["patches"][5] == "768×196"
    assert lines["tokens"][1:3] == ["768×196", "196×768"]
    assert lines["class_token"][1:5] == ["196×768", "+1", "token", "197×768"]


def _explained(layer: str, spec: str = VIT_BLOCK, *args: str) -> str:
    result = runner.invoke(app, ["explain", spec, "-l", layer, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_formulas_name_tokens_and_features():
    fc1 = _explained("fc1")
    assert "fc1 (linear): 197×768 → 197×3072" in fc1
    assert "KB = L' × D' × 4/1024 = 197 × 3072 × 4/1024 = 2,364 KB" in fc1  # 2,420,736 bytes
    assert "params = D × D' + D' = 768 × 3072 + 3072 = 2,362,368" in fc1
    assert "MACs = L × D × D' = 197 × 768 × 3072 = 464,781,312" in fc1
    assert "params = 2D = 2·768 = 1,536" in _explained("ln_1")
    attention = _explained("self_attention")
    assert "12 heads of D / heads = 768 / 12 = 64 features; 197×768 out" in attention
    assert "MACs = 4L × D × D + 2L × L × D = 4·197 × 768 × 768 + 2·197 × 197 × 768 = 524,391,936" in attention
    # a vector keeps the channel names: vit_b_16's head, 768 × 1000 + 1000 = 769,000
    assert "params = C_in × C_out + C_out = 768 × 1000 + 1000 = 769,000" in _explained("head", "vit_b_16")


@needs_sympy
def test_symbolic_tokens():
    """--symbolic makes the number of tokens a symbol (the features flow through the residual adds as written):
    the attention 4·L·768² + 2·L²·768 = 2,359,296·L + 1,536·L², the block 1,536·L² + 7,077,888·L (the two
    linears 2 × 768·3072·L = 4,718,592·L more)."""
    report = cnncalc.analyze(VIT_BLOCK, symbolic=True)
    assert str(report.input_shape[0]) == "L" and report.input_shape[1] == 768
    assert str(report.rows[1].macs) == "1536*L**2 + 2359296*L"
    assert str(report.totals.macs) == "1536*L**2 + 7077888*L"
    assert "L×768" in _table("--symbolic")


@pytest.mark.parametrize("text, expected", [("197×768", (197, 768)), ("197 x 768", (197, 768)),
                                            ("(197, 768)", (197, 768)), ("[197, 768]", (197, 768)),
                                            ("197", None), ("197²", None), ("3×197×768", None), ("many", None)])
def test_a_sequence_answer_is_read_as_written(text, expected):
    assert sequence_of(text) == expected


def test_output_answers():
    assert output_answers((197, 768)) == ((197, 768), None)
    assert output_answers((96, 55, 55)) == (96, (55, 55))
    assert output_answers((1000,)) == (1000, None)


def _grade(tmp_path, edits: dict[tuple[str, int], str]):
    """The block's answer key with some cells changed (column 8 is C_out, 11 Params (k)), graded as JSON."""
    key = tmp_path / "key.csv"
    assert runner.invoke(app, ["grade", "--key", VIT_BLOCK, "-o", str(key)]).exit_code == 0
    rows = list(csv.reader(io.StringIO(key.read_text(encoding="utf-8"))))
    assert rows[0][8] == "C_out" and rows[0][11] == "Params (k)"
    for row in rows:
        for (layer, column), value in edits.items():
            if row[0] == layer:
                row[column] = value
    sheet = tmp_path / "sheet.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    result = runner.invoke(app, ["grade", VIT_BLOCK, str(sheet), "-f", "json"])
    return rows, {(cell["layer"], cell["column"]): cell for cell in json.loads(result.stdout)["files"][0]["cells"]}


def test_the_answer_key_writes_tokens_as_the_table_does(tmp_path):
    rows, cells = _grade(tmp_path, {})
    by_layer = {row[0]: row for row in rows}
    assert by_layer["fc1"][8:10] == ["197×3072", ""]  # C_out L×D, no H'/W'
    assert {cell["verdict"] for cell in cells.values()} == {"right"}


def test_grading_a_sequence(tmp_path):
    """Any spelling of L×D is right; L alone or D×L is wrong; an fc1 of 3000 features carries to fc2, whose
    parameters are then 3000·768 + 768 = 2,304,768 (2,305 k), consistent with the student's fc1."""
    _, cells = _grade(tmp_path, {("ln_1", 8): "197 x 768", ("ln_2", 8): "(197, 768)", ("self_attention", 8): "197",
                                 ("attention_residual", 8): "768×197", ("fc1", 8): "197×3000", ("fc2", 11): "2,305"})
    verdicts = {key: cell["verdict"] for key, cell in cells.items()}
    assert verdicts[("ln_1", "c_out")] == verdicts[("ln_2", "c_out")] == "right"
    assert verdicts[("self_attention", "c_out")] == verdicts[("attention_residual", "c_out")] == "wrong"
    assert verdicts[("fc1", "c_out")] == "wrong" and cells[("fc1", "c_out")]["expected"] == "197×3072"
    assert verdicts[("fc2", "params_k")] == "consistent"
