"""Variables and block parameters that nothing reads are noted where they are defined; an argument
a block does not declare is refused at the call, wherever the call stands (docs/spec.md, "Unused
variables and parameters")."""
from __future__ import annotations

import gc
import weakref

import pytest

from cnncalc import api
from cnncalc.core.errors import SpecError
from cnncalc.spec.bundled import bundled_specs
from cnncalc.spec.spec import load_spec, parse_spec, spec_from_document
from cnncalc.spec.yamlsrc import parse_yaml

BLOCK = """\
blocks:
  unit:
    params: [c, {stride: 1}]
    layers:
      - {op: conv, out: c, kernel: 3, stride: stride, pad: 1}
"""


def notes(text: str) -> list[str]:
    return [note.render() for note in parse_spec(text).notes]


def test_a_variable_nothing_reads_is_noted_at_its_definition():
    text = "input: [3, 8, 8]\nvars:\n  width: 4\n  stirde: 2\nlayers:\n  - {op: conv, out: width, kernel: 3}\n"
    assert notes(text) == ["<spec>:4:3: warning: variable 'stirde': never used: no layer, block or variable reads it"]
    graph, _ = api.load_graph(text)  # shown with the builder's notes, as the other warnings are
    assert "variable 'stirde'" in "\n".join(note.render() for note in graph.notes)


@pytest.mark.parametrize("use", [
    "  - {op: conv, out: 4, kernel: 3, when: n > 1}",                               # when:
    "  - {op: conv, out: 4, kernel: 3, repeat: n}",                                 # repeat:
    "  - {op: conv, out: 4, kernel: 3, module: 'features.{n + i}'}",                # module:
    "  - {op: conv, name: a, out: 4, kernel: 1}\n  - {op: relu, in: 'a if n > 0'}",  # an in: condition
    "  - {op: conv, name: a, out: 4, kernel: 1, repeat: 2}\n  - {op: relu, in: 'a.{n - 2}'}",  # in: {...}
    "  - {op: conv, out: '4 * n', kernel: 3}",                                       # an expression
    "  - {op: conv, out: n, kernel: 3}",                                             # a single word
    "  - {op: conv, out: 4, kernel: 3, chain: n > 0, repeat: 1}",                   # chain:
    "  - {op: unit, c: 4, first: {stride: n}, repeat: 2}",                          # first:
])
def test_a_variable_read_anywhere_is_not_noted(use):
    text = f"input: [3, 8, 8]\nvars:\n  n: 2\n{BLOCK}layers:\n{use}\n"
    assert notes(text) == []


@pytest.mark.parametrize("where", [
    "vars:\n  n: 2\n  m: n * 2\n{block}layers:\n  - {{op: conv, out: m, kernel: 1}}\n",          # another variable
    "vars:\n  n: 2\n{block}layers:\n  - {{op: conv, name: a, out: 4, kernel: 1}}\noutputs: ['a.{{n}}']\n",
    "vars:\n  n: 2\n{block_reading_n}layers:\n  - {{op: reader}}\n",                              # a block's body
    "vars:\n  n: 2\n{block_default_n}layers:\n  - {{op: reader}}\n",                             # a param's default
])
def test_a_variable_read_by_a_variable_an_output_or_a_block_is_not_noted(where):
    block_reading_n = "blocks:\n  reader:\n    layers:\n      - {op: conv, out: n, kernel: 1}\n"
    block_default_n = "blocks:\n  reader:\n    params: [{c: n}]\n    layers:\n      - {op: conv, out: c, kernel: 1}\n"
    text = "input: [3, 8, 8]\n" + where.format(block="", block_reading_n=block_reading_n,
                                               block_default_n=block_default_n)
    assert [note for note in notes(text) if "variable 'n'" in note] == []


def test_a_parameter_its_block_never_reads_is_noted_at_its_place():
    text = ("input: [3, 8, 8]\nblocks:\n  unit:\n    params: [c, {stirde: 1}]\n    layers:\n"
            "      - {op: conv, out: c, kernel: 3}\nlayers:\n  - {op: unit, c: 4}\n")
    assert notes(text) == ["<spec>:4:17: warning: block 'unit': parameter 'stirde' is never used: no value of the "
                           "block reads it"]


@pytest.mark.parametrize("body", [
    "      - {op: conv, out: 4, kernel: 3, when: p > 0}",                       # when:
    "      - {op: conv, out: 4, kernel: 3, repeat: p}",                          # repeat:
    "      - {op: conv, out: 4, kernel: 3, module: 'm.{p}'}",                    # module:
    "      - {op: conv, name: a, out: 4, kernel: 1}\n      - {op: relu, in: 'a if p'}",  # in:
    "      - {op: unit, levels: p - 1, when: p > 1}\n      - {op: relu}",       # forwarded to a block (itself)
])
def test_a_parameter_read_anywhere_in_its_block_is_not_noted(body):
    text = f"input: [3, 8, 8]\nblocks:\n  unit:\n    params: [{{p: 1}}, {{levels: 1}}]\n    layers:\n{body}\n" \
           "      - {op: relu, when: levels > 0}\nlayers:\n  - {op: unit}\n"
    assert [note for note in notes(text) if "'p'" in note] == []


def test_a_parameter_read_only_by_another_parameters_default_or_the_outputs_is_not_noted():
    text = ("input: [3, 8, 8]\nblocks:\n  unit:\n    params: [c, {width: 2 * c}, {last: 1}]\n    outputs: ['f.{last}']\n"
            "    layers:\n      - {op: conv, name: f, out: width, kernel: 1, repeat: 2}\nlayers:\n  - {op: unit, c: 2}\n")
    assert notes(text) == []


def test_a_used_blocks_parameters_are_checked_only_when_the_spec_calls_it(tmp_path):
    (tmp_path / "lib.yaml").write_text("blocks:\n  called:\n    params: [c, {unread: 1}]\n    layers:\n"
                                       "      - {op: conv, out: c, kernel: 1}\n  idle:\n    params: [unread2]\n"
                                       "    layers:\n      - {op: relu}\n", encoding="utf-8")
    net = tmp_path / "net.yaml"
    net.write_text("use: lib.yaml\ninput: [3, 8, 8]\nlayers:\n  - {op: called, c: 4}\n", encoding="utf-8")
    rendered = [note.render() for note in load_spec(net).notes]
    assert rendered == [f"{tmp_path / 'lib.yaml'}:3:17: warning: block 'called': parameter 'unread' is never used: "
                        "no value of the block reads it"]


@pytest.mark.parametrize("call", [
    "  - {op: unit, c: 4, stirde: 2}",                          # made
    "  - {op: unit, c: 4, stirde: 2, repeat: 0}",               # never made
    "  - {op: unit, c: 4, stirde: 2, when: false}",             # skipped
    "  - {op: unit, c: 4, repeat: 2, first: {stirde: 2}}",      # in first:
])
def test_an_argument_the_block_does_not_declare_is_refused(call):
    with pytest.raises(SpecError) as caught:
        api.load_graph(f"input: [3, 8, 8]\n{BLOCK}layers:\n{call}\n")
    rendered = caught.value.render()
    column = call.index("stirde") + 1
    assert f"<spec>:8:{column}: error:" in rendered and "block 'unit' has no parameter 'stirde'" in rendered
    assert "did you mean 'stride'?" in rendered
    assert rendered.count("has no parameter") == 1  # once, though the builder finds it too


def test_a_call_inside_a_block_is_checked_too():
    text = (f"input: [3, 8, 8]\n{BLOCK}  outer:\n    layers:\n      - {{op: unit, c: 2, strde: 1, when: false}}\n"
            "layers:\n  - {op: outer}\n")
    with pytest.raises(SpecError, match="block 'unit' has no parameter 'strde'"):
        api.load_graph(text)


@pytest.mark.parametrize("name, path", sorted(bundled_specs().items()))
def test_no_bundled_spec_has_an_unused_variable_or_parameter(name, path):
    symbolic = "symbols:" in path.read_text(encoding="utf-8") or name.startswith("lecture/")  # [C, H, W]
    if symbolic:
        pytest.importorskip("sympy")
    assert [note.render() for note in load_spec(path, symbolic=symbolic).notes] == []


def test_json_says_what_a_warning_is_about(analyze_text):
    text = "input: [3, 8, 8]\nvars: {n: 2}\nlayers:\n  - {op: conv, name: conv, out: 4, kernel: 1}\n"
    warnings = analyze_text(text).to_dict()["warnings"]
    assert warnings == [{"layer": "n", "message": "never used: no layer, block or variable reads it",
                         "location": "test.yaml:2:8", "kind": "variable"}]


def test_the_html_report_lists_a_variables_warning_apart_from_the_rows(tmp_path):
    from typer.testing import CliRunner

    from cnncalc.cli import app

    spec = tmp_path / "net.yaml"  # the variable has the name the conv is given: conv1
    spec.write_text("input: [3, 8, 8]\nvars: {conv1: 2}\nlayers:\n  - {op: conv, out: 4, kernel: 1}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(spec), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<li>variable conv1: never used: no layer, block or variable reads it</li>" in page
    assert '"w":[]' in page  # the one row, conv1, has no warning


def test_what_is_remembered_of_a_spec_does_not_keep_it_alive():
    doc = parse_yaml("input: [3, 8, 8]\nvars: {n: 2}\nlayers:\n  - {op: conv, out: n, kernel: 1}\n", "x.yaml")
    assert spec_from_document(doc).notes == ()
    layers = weakref.ref(doc["layers"])
    del doc
    gc.collect()
    assert layers() is None
