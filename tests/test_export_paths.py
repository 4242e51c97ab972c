"""`cnncalc export` of numbered module paths (`module: 0`, `1`, `2`): where they make an nn.Sequential (a block's
class, the model itself), where they close gaps, and where a container would hold both numbers and names
(no class can: the file is flat). Each exported file imports, builds, takes the lowered module's weights
strictly (renamed from layer names to module paths) and computes its outputs bit for bit."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.pytorch.export import pytorch_export
from cnncalc.spec.graph import build
from cnncalc.spec.spec import parse_spec

from .test_export import load_exported

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch")]


def assert_takes_the_lowered_weights(tmp_path, text: str, name: str) -> tuple[str, list[str]]:
    """Export a spec; the file's model loads the lowered module's state_dict (keys renamed from layer names to
    module paths) strictly and gives its output exactly. Returns the source and export's notes."""
    import torch

    from cnncalc.pytorch.lowering import to_module
    from cnncalc.pytorch.naming import ModuleTree

    graph = build(parse_spec(text, f"{name}.yaml"))
    source, notes = pytorch_export(graph, name)
    model = load_exported(tmp_path, name, source)
    lowered = to_module(graph)
    with torch.no_grad():
        for value in lowered.state_dict().values():  # weights unlike the default ones (BN's statistics too)
            if value.is_floating_point():
                value.uniform_(0.5, 1.5)
    paths = {p.node.name: p.modules[0][0] for p in ModuleTree(graph).placed}
    # a fused activation's layer is lowered as [layer, activation]: `h.c1.0.weight` is the layer's
    paths |= {f"{p.node.name}.{part}": path for p in ModuleTree(graph).placed if len(p.modules) == 2
              for part, (path, _) in enumerate(p.modules)}
    renamed = {}
    for key, value in lowered.state_dict().items():
        layer, _, leaf = key.rpartition(".")
        renamed[f"{paths[layer]}.{leaf}"] = value
    model.load_state_dict(renamed, strict=True)
    x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = lowered(x), model(x)
    assert expected.abs().max() > 0.1
    assert torch.equal(got, expected)
    return source, notes


# The bug: a block's layers at 0, 1, 2 and one more without a module path (so at its name, `out`). The class
# was an nn.Module whose __init__ did `self[0] = nn.Conv2d(...)`: a TypeError when the model was built.
NUMBERS_AND_A_NAME = """
input: [3, 8, 8]
blocks:
  head:
    params: [c]
    layers:
      - {op: conv, name: c0, out: c, kernel: 3, pad: 1, module: 0}
      - {op: bn, name: b0, module: 1}
      - {op: conv, name: c1, out: c, kernel: 1, module: 2}
      - {op: relu, name: out}
layers:
  - {op: head, name: h, c: 4}
"""


def test_a_block_of_numbered_layers_and_a_named_one_is_flat_not_a_broken_class(tmp_path):
    """A module cannot hold `0` and `out` as nn.Sequential (its index is a position) nor as nn.Module
    (`self[0]` is no attribute): no class is written; the file is flat, says why, and works."""
    source, notes = assert_takes_the_lowered_weights(tmp_path, NUMBERS_AND_A_NAME, "numbers_and_a_name")
    assert "self[0] =" not in source and "class Head(" not in source
    assert notes == ["the file is flat (one class registering every layer by its module path, no class per "
                     "block): a container with both names (out) and numbers (0, 1, 2) inside"]
    assert "self._add('h.0', nn.Conv2d(" in source and "self._add('h.out', nn.ReLU())" in source


def test_the_cli_says_why_the_file_is_flat(tmp_path):
    spec = tmp_path / "mixed.yaml"
    spec.write_text(NUMBERS_AND_A_NAME)
    result = CliRunner().invoke(app, ["export", str(spec), "-o", str(tmp_path / "mixed.py")])
    assert result.exit_code == 0
    assert "note: the file is flat" in result.stderr and "names (out) and numbers (0, 1, 2)" in result.stderr


def test_numbers_and_explicit_names_side_by_side_are_flat_too(tmp_path):
    text = NUMBERS_AND_A_NAME.replace("{op: relu, name: out}", "{op: relu, name: out, module: act}")
    source, notes = assert_takes_the_lowered_weights(tmp_path, text, "numbers_and_names")
    assert "self[0] =" not in source and "names (act) and numbers (0, 1, 2)" in notes[0]


def test_numbered_layers_alone_are_a_sequential_and_gaps_close(tmp_path):
    """module 0, 2, 5 with a fused activation: renumbered 0..3 (the activation takes the number after its
    conv's) in an nn.Sequential subclass whose forward is nn.Sequential's."""
    text = NUMBERS_AND_A_NAME.replace("module: 1}", "module: 2}").replace("out: c, kernel: 1, module: 2}",
                                                                           "out: c, kernel: 1, act: relu, module: 5}")
    text = text.replace("      - {op: relu, name: out}\n", "")
    source, notes = assert_takes_the_lowered_weights(tmp_path, text, "gaps")
    assert notes == []
    assert ("class Head(nn.Sequential):\n    def __init__(self, in_channels, c):\n        super().__init__(\n"
            "            nn.Conv2d(in_channels, c, kernel_size=3, padding=1),\n            nn.BatchNorm2d(c),\n"
            "            nn.Conv2d(c, c, kernel_size=1),\n            nn.ReLU(),\n        )\n") in source
    assert "self.h = Head(3, c=4)" in source


def test_a_model_of_numbered_layers_is_a_sequential(tmp_path):
    """The model's own layers at 0, 1, 2: `class Net(nn.Sequential)`, not an nn.Module doing `self[0] = ...`."""
    text = """
name: net
input: [3, 8, 8]
layers:
  - {op: conv, name: c0, out: 4, kernel: 3, pad: 1, module: 0}
  - {op: relu, name: r0, module: 1}
  - {op: conv, name: c1, out: 2, kernel: 1, module: 2}
"""
    source, notes = assert_takes_the_lowered_weights(tmp_path, text, "net")
    assert notes == []
    assert ("class Net(nn.Sequential):\n    def __init__(self):\n        super().__init__(\n"
            "            nn.Conv2d(3, 4, kernel_size=3, padding=1),\n            nn.ReLU(),\n") in source


def test_a_model_of_numbered_layers_that_branch_is_flat(tmp_path):
    """nn.Sequential calls its modules one after another: a model whose numbered layers do not feed each other
    in order cannot be one, and an nn.Module cannot number its attributes: the file is flat."""
    text = """
input: [3, 8, 8]
layers:
  - {op: conv, name: c0, out: 4, kernel: 3, pad: 1, module: 0}
  - {op: conv, name: c1, in: input, out: 4, kernel: 1, module: 1}
  - {op: add, name: s, in: [c0, c1], module: 2}
"""
    source, notes = assert_takes_the_lowered_weights(tmp_path, text, "branching")
    assert "self[0] =" not in source
    assert notes == ["the file is flat (one class registering every layer by its module path, no class per "
                     "block): the model's modules are numbered (an nn.Sequential) but do not feed each other "
                     "in order"]


def test_the_model_at_numbers_and_names_is_flat(tmp_path):
    text = """
input: [3, 8, 8]
layers:
  - {op: conv, name: c0, out: 4, kernel: 3, pad: 1, module: 0}
  - {op: conv, name: c1, out: 4, kernel: 1, module: 1}
  - {op: relu, name: out}
"""
    source, notes = assert_takes_the_lowered_weights(tmp_path, text, "model_mixed")
    assert "self[0] =" not in source and "names (out) and numbers (0, 1)" in notes[0]


NESTED = """
input: [3, 8, 8]
blocks:
  head:
    params: [c]
    layers:
      - {op: conv, name: c0, out: c, kernel: 3, pad: 1, module: 0}
      - {op: conv, name: c1, out: c, kernel: 1, module: 1}
      - {op: relu, name: out}
  outer:
    params: [c]
    layers:
      - {op: conv, name: stem, out: c, kernel: 1}
      - {op: head, name: body, c: c}
      - {op: conv, name: tail, out: 2, kernel: 1}
layers:
  - {op: outer, name: o1, c: 4}
  - {op: outer, name: o2, c: 6}
"""


def test_a_nested_block_of_numbers_and_a_name_is_flat(tmp_path):
    source, notes = assert_takes_the_lowered_weights(tmp_path, NESTED, "nested")
    assert "self[0] =" not in source and "names (out) and numbers (0, 1)" in notes[0]
    assert "self._add('o2.body.1', nn.Conv2d(6, 6," in source


def test_a_nested_block_of_numbers_is_a_sequential_in_a_class(tmp_path):
    text = NESTED.replace("      - {op: relu, name: out}\n", "      - {op: relu, name: out, module: 2}\n")
    source, notes = assert_takes_the_lowered_weights(tmp_path, text, "nested_numbers")
    assert notes == []
    assert "class Head(nn.Sequential):" in source and "class Outer(nn.Module):" in source
    assert "        self.body = Head(c, c=c)\n" in source
    assert "        body = self.body(stem)\n" in source
