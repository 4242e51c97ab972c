"""Inference and training networks: `train_only:` on layers and block instances (auxiliary classifiers),
`--mode infer|train` on the totals, and the errors of marking them."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.core.errors import SpecError
from cnncalc.spec.graph import build
from cnncalc.spec.spec import parse_spec

runner = CliRunner()

AUX = """
input: [8, 16, 16]
blocks:
  head:
    layers:
      - {op: gap}
      - {op: flatten}
      - {op: fc, out: 10}
layers:
  - {op: conv, name: stem, out: 16, kernel: 3, pad: 1}
  - {op: head, name: aux, train_only: true}
  - {op: conv, name: body, in: stem, out: 32, kernel: 3, stride: 2, pad: 1}
  - {op: head, name: main}
outputs: [main, aux]
"""


def test_inference_leaves_out_train_only_items_and_says_what_they_add(analyze_text):
    infer = analyze_text(AUX)
    train = analyze_text(AUX, mode="train")
    assert [row.name for row in infer.rows] == ["stem", "body", "main.gap1", "main.flatten1", "main.fc1"]
    assert len(train.rows) == 8
    # aux.fc1: 16 * 10 + 10 = 170 parameters; main.fc1: 32 * 10 + 10 = 330; stem 8*16*9 + 16 = 1,168;
    # body 16*32*9 + 32 = 4,640
    assert infer.totals.params == 1_168 + 4_640 + 330
    assert train.totals.params == infer.totals.params + 170
    assert infer.training_only.items == ("aux",) and infer.training_only.totals.params == 170
    assert not infer.training_only.included and train.training_only.included
    assert infer.outputs == (("main.fc1", (10,)),)
    assert [name for name, _ in train.outputs] == ["main.fc1", "aux.fc1"]


def test_train_only_on_a_layer_and_on_a_repeat(analyze_text):
    text = """
input: [4, 8, 8]
layers:
  - {op: conv, name: c, out: 4, kernel: 1}
  - {op: conv, name: extra, out: 4, kernel: 1, repeat: 2, train_only: true}
  - {op: relu, name: r, in: c}
outputs: [r, extra]
"""
    infer = analyze_text(text)
    assert [row.name for row in infer.rows] == ["c", "r"]
    assert infer.training_only.items == ("extra.0", "extra.1")
    assert infer.training_only.totals.params == 2 * (4 * 4 + 4)


def test_a_spec_without_train_only_layers_has_no_training_only_part(analyze_text):
    report = analyze_text("input: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 3}\n", mode="train")
    assert report.training_only is None and report.mode == "train"


@pytest.mark.parametrize("text, message", [
    ("input: [3, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 3, train_only: true}\n"
     "  - {op: relu, name: b}\n", "reads 'a', which runs only in training"),
    ("input: [3, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 3, train_only: maybe}\n",
     "'train_only' must be true or false"),
    ("input: [3, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 3}\n"
     "  - {op: relu, name: b, train_only: true}\n", "so the network has no output at inference"),
    ("input: [3, 8, 8]\nlayers:\n  - {op: conv, name: a, out: 4, kernel: 3, checkpoint: 3}\n",
     "'checkpoint' must be true or false"),
])
def test_bad_train_only_marks_are_located_errors(text, message):
    with pytest.raises(SpecError, match=message) as caught:
        build(parse_spec(text, "net.yaml"))
    assert caught.value.loc is not None and caught.value.loc.line >= 2


def test_cli_table_and_explain_in_both_modes(tmp_path):
    path = tmp_path / "aux.yaml"
    path.write_text(AUX)
    infer = runner.invoke(app, ["table", str(path)])
    assert infer.exit_code == 0, infer.output
    assert "aux.fc1" not in infer.stdout
    # aux: global pooling of the 16x16x16 stem output, 4,096 windows, and fc 16 * 10 = 160 multiply-adds
    assert "training only:     aux: +170 params, +4,256 multiply-adds, not counted above (--mode train counts them)" \
        in infer.stdout
    train = runner.invoke(app, ["table", str(path), "--mode", "train"])
    assert "aux.fc1" in train.stdout and "counted above (--mode train)" in train.stdout
    data = json.loads(runner.invoke(app, ["table", str(path), "-f", "json"]).stdout)
    assert data["mode"] == "infer" and data["training_only"]["items"] == ["aux"]
    explained = runner.invoke(app, ["explain", str(path), "--layer", "aux.fc1"])
    assert explained.exit_code == 2 and "runs only in training" in explained.stderr
    assert runner.invoke(app, ["explain", str(path), "--layer", "aux.fc1", "--mode", "train"]).exit_code == 0
    bad = runner.invoke(app, ["table", str(path), "--mode", "training"])
    assert bad.exit_code == 2 and "unknown mode 'training'" in bad.output
