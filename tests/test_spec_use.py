"""`use:`: a spec takes the blocks and variables of other spec files and of bundled specs
(docs/spec.md, "Using blocks of other files"); every problem located in the file it stands in."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc import api
from cnncalc.cli import app
from cnncalc.core.errors import SpecError
from cnncalc.spec import using
from cnncalc.spec.spec import load_spec, parse_spec

runner = CliRunner()

COMMON = """\
vars:
  act: relu
  c0: 8
blocks:
  cbr:
    params: [c, {k: 3}]
    layers:
      - {op: conv, name: conv, out: c, kernel: k, pad: k // 2, bias: false}
      - {op: bn, name: bn}
      - {op: relu, name: act}
"""
NET = """\
use: [common.yaml]
input: [3, 16, 16]
layers:
  - {op: cbr, name: stem, c: c0}
  - {op: cbr, name: body, c: 2 * c0, k: 1}
"""


def write(folder, name: str, text: str | bytes):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def table(path, *options: str):
    return runner.invoke(app, ["table", str(path), *options])


def refused(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


def test_a_used_files_blocks_and_variables(tmp_path):
    write(tmp_path, "common.yaml", COMMON)
    report = api.analyze(str(write(tmp_path, "net.yaml", NET)))
    # stem: 3*8*3*3 = 216 weights + bn 2*8 = 16; body: 8*16*1*1 = 128 + bn 2*16 = 32: 392
    assert report.totals.params == 216 + 16 + 128 + 32
    assert [row.name for row in report.rows][:3] == ["stem.conv", "stem.bn", "stem.act"]


def test_a_bundled_specs_block_with_its_variables(tmp_path):
    # resnet50's bottleneck reads resnet50's variables groups and width_per_group (1 and 64)
    text = "use: resnet50\ninput: [64, 56, 56]\nlayers:\n  - {op: bottleneck, name: b, planes: 64}\n"
    graph, _ = api.load_graph(text)
    report = api.analyze(text)
    # torchvision's resnet50 layer1[0]: 1x1 64*64 = 4,096, 3x3 64*64*9 = 36,864, 1x1 64*256 = 16,384,
    # projection 64*256 = 16,384; BN 2*(64 + 64 + 256 + 256) = 1,280: 75,008
    assert report.totals.params == 4096 + 36864 + 16384 + 16384 + 1280 == 75008
    assert graph.spec.torchvision is None and graph.spec.name == "model"  # only blocks and variables come


def test_a_spec_sets_a_used_variable_keeping_its_range(tmp_path):
    base = "use: resnet50\ninput: [64, 56, 56]\n{vars}layers:\n  - {{op: bottleneck, name: b, planes: 64}}\n"
    # ResNeXt's grouping: width = int(64 * 4 / 64) * 32 = 128; conv2 128*128*9/32 = 4,608
    resnext = api.analyze(base.format(vars="vars: {groups: 32, width_per_group: 4}\n"))
    # 64*128 + 4,608 + 128*256 + 64*256 + BN 2*(128 + 128 + 256 + 256)
    assert resnext.totals.params == 8192 + 4608 + 32768 + 16384 + 1536
    set_by_option = api.analyze(base.format(vars=""), set={"groups": 32, "width_per_group": 4})
    assert set_by_option.totals.params == resnext.totals.params
    with pytest.raises(SpecError) as caught:
        api.analyze(base.format(vars="vars: {groups: 0}\n"))
    assert "'groups' must be at least 1, got 0" in caught.value.render()
    assert "<spec>:3:16" in caught.value.render()  # at the spec's own value


def test_paths_are_relative_to_the_using_files_folder(tmp_path, monkeypatch):
    write(tmp_path, "lib/base.yaml", COMMON)
    write(tmp_path, "lib/more.yaml", "use: base.yaml\nblocks:\n  two:\n    params: [c]\n    layers:\n"
          "      - {op: cbr, name: a, c: c}\n      - {op: cbr, name: b, c: c}\n")
    net = write(tmp_path, "nets/net.yaml", "use: ../lib/more.yaml\ninput: [3, 8, 8]\nlayers:\n  - {op: two, c: c0}\n")
    monkeypatch.chdir(write(tmp_path, "elsewhere/x", "").parent)
    assert table(net).exit_code == 0
    absolute = write(tmp_path, "abs.yaml", f"use: {tmp_path / 'lib' / 'base.yaml'}\ninput: [3, 8, 8]\n"
                     "layers:\n  - {op: cbr, c: 4}\n")
    assert table(absolute).exit_code == 0


def test_a_diamond_is_read_once_and_is_no_clash(tmp_path):
    write(tmp_path, "d.yaml", COMMON)
    write(tmp_path, "b.yaml", "use: d.yaml\nblocks:\n  bb: {params: [c], layers: [{op: cbr, c: c}]}\n")
    write(tmp_path, "c.yaml", "use: d.yaml\nblocks:\n  cc: {params: [c], layers: [{op: cbr, c: c}]}\n")
    net = write(tmp_path, "a.yaml", "use: [b.yaml, c.yaml]\ninput: [3, 8, 8]\nlayers:\n  - {op: bb, c: 4}\n"
                "  - {op: cc, c: 4}\n")
    result = table(net)
    assert result.exit_code == 0, result.output


def test_an_error_inside_a_used_file_is_located_there(tmp_path):
    used = write(tmp_path, "common.yaml", COMMON.replace("params: [c, {k: 3}]", "params: [c, {k: 3}]\n    outpt: x"))
    refused(table(write(tmp_path, "net.yaml", NET)), f"{used}:7:5: error: unknown key 'outpt' in block 'cbr'")


def test_a_layer_error_of_a_used_block_is_located_in_its_file(tmp_path):
    used = write(tmp_path, "common.yaml", COMMON.replace("bias: false", "bias: 1"))
    net = write(tmp_path, "net.yaml", NET)
    refused(table(net), f"{used}:8:70: error: layer 'stem.conv', field 'bias'")
    # a value passed to the block is blamed at the call, and the hint names the used file
    write(tmp_path, "common.yaml", COMMON.replace("out: c, kernel: k", "out: c - 100, kernel: k"))
    refused(table(net), f"{net}:4:30: error: layer 'stem', field 'c': must be a positive whole number, got -92",
            f"hint: block 'cbr' uses it in 'out: c - 100' of layer 'stem.conv' ({used}:8:")


def test_a_yaml_error_and_a_tag_in_a_used_file_are_located_there(tmp_path):
    used = write(tmp_path, "common.yaml", "blocks: [1, 2\n")
    refused(table(write(tmp_path, "net.yaml", NET)), f"{used}:2:1: error: YAML syntax error")
    write(tmp_path, "common.yaml", "blocks: !!python/object/apply:os.system [echo hacked]\n")
    refused(table(tmp_path / "net.yaml"), f"{used}:1:9: error: unsupported YAML tag")


@pytest.mark.parametrize("entry, make, message", [
    ("nope.yaml", None, "no such file"),
    ("folder.yaml", lambda p: p.mkdir(), "is a directory"),
    ("binary.yaml", lambda p: p.write_bytes(b"\xff\xfe\x00\x01binary"), "not UTF-8 text"),
    ("huge.yaml", lambda p: p.write_bytes(b"#" * (8 * 1024 * 1024 + 1)), "too large"),
    ("loop.yaml", lambda p: p.symlink_to(p), "cannot read file"),
    ("dangling.yaml", lambda p: p.symlink_to(p.parent / "gone.yaml"), "symbolic link to a file that does not exist"),
    ("fifo.yaml", lambda p: os.mkfifo(p), "not a regular file"),
    ("empty.yaml", lambda p: p.write_text("# nothing\n"), "the file is empty"),
])
def test_a_used_file_that_cannot_be_read_is_refused_at_its_entry(tmp_path, entry, make, message):
    if make is not None:
        make(tmp_path / entry)
    text = f"use: [{entry}]\ninput: [3, 8, 8]\nlayers:\n  - {{op: relu}}\n"
    result = table(write(tmp_path, "net.yaml", text))
    shown = "binary.yaml:1:1" if entry == "binary.yaml" else "net.yaml:1:7: error: field 'use'"
    refused(result, shown, message)


def test_a_cycle_is_refused_where_it_closes(tmp_path):
    write(tmp_path, "a.yaml", "use: b.yaml\ninput: [3, 8, 8]\nlayers:\n  - {op: relu}\n")
    b = write(tmp_path, "b.yaml", "use: [a.yaml]\nblocks:\n  x: {layers: [{op: relu}]}\n")
    refused(table(tmp_path / "a.yaml"), f"{b}:1:7: error: field 'use': 'a.yaml' uses this file again "
            "(a cycle: a.yaml -> b.yaml -> a.yaml)")
    itself = write(tmp_path, "self.yaml", "use: self.yaml\ninput: [3, 8, 8]\nlayers:\n  - {op: relu}\n")
    refused(table(itself), "self.yaml:1:6: error: field 'use': 'self.yaml' uses this file again")
    bundled_cycle = write(tmp_path, "c.yaml", "use: [d.yaml]\nblocks:\n  y: {layers: [{op: relu}]}\n")
    write(tmp_path, "d.yaml", "use: [c.yaml]\n")
    refused(table(write(tmp_path, "n.yaml", "use: c.yaml\ninput: [3, 8, 8]\nlayers:\n  - {op: y}\n")),
            f"{tmp_path / 'd.yaml'}:1:7: error: field 'use': 'c.yaml' uses this file again")
    assert bundled_cycle.exists()


@pytest.mark.parametrize("use, message", [
    ("3", "'use' must be a file or a bundled spec"),
    ("[3]", "an entry of 'use' must be a file name or a bundled spec's name, got '3'"),
    ("['']", "an entry of 'use' must be a file name"),
    ('["a\\x1bb.yaml"]', "an entry of 'use' must be a file name"),
    ("[resnet5]", "'resnet5' is no bundled spec"),
    ("[common]", "a file's name ends in .yaml ('common.yaml')"),
])
def test_a_bad_entry_is_refused_at_it(tmp_path, use, message):
    refused(table(write(tmp_path, "net.yaml", f"use: {use}\ninput: [3, 8, 8]\nlayers:\n  - {{op: relu}}\n")),
            "net.yaml:1:", message)


def test_the_same_name_from_two_used_files_is_refused_with_both_places(tmp_path):
    write(tmp_path, "one.yaml", COMMON)
    write(tmp_path, "two.yaml", COMMON)
    net = write(tmp_path, "net.yaml", NET.replace("[common.yaml]", "[one.yaml, two.yaml]"))
    refused(table(net), f"net.yaml:1:17: error: field 'use': block 'cbr' is defined by two used files, at "
            f"{tmp_path / 'one.yaml'}:5:3 and at {tmp_path / 'two.yaml'}:5:3",
            "variable 'act' is defined by two used files")
    # the spec settles it by defining the name itself: its own wins, with a note for a block
    settled = NET.replace("[common.yaml]", "[one.yaml, two.yaml]") + (
        "vars: {act: relu, c0: 4}\nblocks:\n  cbr:\n    params: [c, {k: 3}]\n    layers:\n"
        "      - {op: conv, out: c, kernel: k, pad: k // 2, act: act}\n")
    result = table(write(tmp_path, "net.yaml", settled))
    assert result.exit_code == 0, result.output
    assert "net.yaml:8:3: warning: block 'cbr': this definition replaces the used one at" in result.stderr


def test_a_block_of_the_spec_replaces_a_used_one_with_a_note(tmp_path):
    write(tmp_path, "common.yaml", COMMON)
    text = NET + "blocks:\n  cbr:\n    params: [c, {k: 3}]\n    layers:\n      - {op: conv, out: c, kernel: k}\n"
    result = table(write(tmp_path, "net.yaml", text))
    assert result.exit_code == 0, result.output
    assert (f"net.yaml:7:3: warning: block 'cbr': this definition replaces the used one at "
            f"{tmp_path / 'common.yaml'}:5:3") in result.stderr
    assert "stem.conv1" in result.stdout and "stem.bn" not in result.stdout  # the spec's own block: one conv


def test_the_limits_of_one_file_hold_for_all_files_together(tmp_path):
    comment = "#" * 1000 + "\n"
    write(tmp_path, "a.yaml", "vars: {a: 1}\n" + comment * 3000)  # 3 MB each: over 8 MiB together
    write(tmp_path, "b.yaml", "vars: {b: 1}\n" + comment * 3000)
    write(tmp_path, "c.yaml", "vars: {c: 1}\n" + comment * 3000)
    net = write(tmp_path, "net.yaml", "use: [a.yaml, b.yaml, c.yaml]\ninput: [3, 8, 8]\nlayers:\n  - {op: relu}\n")
    refused(table(net), "net.yaml:1:23: error: field 'use': the spec and the files it uses are over 8,388,608 bytes")
    values = "vars:\n  v: [" + "1, " * 200_000 + "1]\n"  # 200,001 values each: over 500,000 together
    for name in ("a", "b", "c"):
        write(tmp_path, f"{name}.yaml", values.replace("v:", f"{name}:"))
    refused(table(net), "the spec and the files it uses have more than 500,000 values together")


def test_the_number_of_used_files_is_bounded(tmp_path):
    count = using.MAX_USED_FILES + 1
    for index in range(count):
        write(tmp_path, f"f{index}.yaml", f"use: f{index + 1}.yaml\n" if index + 1 < count else "vars: {x: 1}\n")
    net = write(tmp_path, "net.yaml", "use: f0.yaml\ninput: [3, 8, 8]\nlayers:\n  - {op: relu}\n")
    refused(table(net), f"a spec may use at most {using.MAX_USED_FILES} files")


def test_a_used_file_must_be_a_spec(tmp_path):
    used = write(tmp_path, "common.yaml", "- 1\n- 2\n")
    refused(table(write(tmp_path, "net.yaml", NET)), f"{used}:1:1: error: a used file must be a spec")
    write(tmp_path, "common.yaml", "blocks: {}\nlayrs: []\nvars: [1]\n")
    refused(table(tmp_path / "net.yaml"), f"{used}:2:1: error: unknown top-level key 'layrs'",
            f"{used}:3:7: error: field 'vars': 'vars' must be a mapping")


def test_every_command_reads_a_spec_that_uses_files(tmp_path, monkeypatch):
    write(tmp_path, "common.yaml", COMMON)
    net = str(write(tmp_path, "net.yaml", NET))
    monkeypatch.chdir(write(tmp_path, "elsewhere/x", "").parent)
    for command in (["table", net], ["explain", net, "--layer", "stem"], ["check", net, "--max-params", "1M"],
                    ["compare", net, "resnet18"], ["sweep", net, "--set", "c0=4,8", "-j", "1"], ["memory", net],
                    ["grade", net, "--template"], ["report", net, "-o", str(tmp_path / "r.html")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
    swept = runner.invoke(app, ["sweep", net, "--set", "c0=4,8", "-j", "1", "--format", "csv"])
    # c0 = 4: 3*4*9 + 2*4 + 4*8 + 2*8 = 164; c0 = 8: 392 (test_a_used_files_blocks_and_variables)
    assert "164" in swept.stdout and "392" in swept.stdout


@pytest.mark.slow
def test_verify_and_export_read_a_spec_that_uses_files(tmp_path, torch):
    write(tmp_path, "common.yaml", COMMON)
    net = str(write(tmp_path, "net.yaml", NET.replace("use: [common.yaml]", "use: [common.yaml, resnet50]")
                    + "  - {op: bottleneck, name: b, planes: 4}\n"))
    assert runner.invoke(app, ["verify", net]).exit_code == 0
    out = tmp_path / "net.py"
    result = runner.invoke(app, ["export", net, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "class" in out.read_text(encoding="utf-8")


def test_yaml_text_uses_files_of_the_working_folder(tmp_path, monkeypatch):
    write(tmp_path, "common.yaml", COMMON)
    monkeypatch.chdir(tmp_path)
    assert parse_spec(NET).blocks["cbr"].loc.file == "common.yaml"
    assert load_spec(write(tmp_path, "n.yaml", NET)).variables["c0"] == 8


def test_a_used_file_is_parsed_once_while_unchanged(tmp_path):
    common = write(tmp_path, "common.yaml", COMMON)
    net = write(tmp_path, "net.yaml", NET)
    first = load_spec(net).blocks["cbr"]
    assert load_spec(net).blocks["cbr"].items is first.items  # the same parse
    common.write_text(COMMON.replace("c0: 8", "c0: 16 "), encoding="utf-8")  # another size: read again
    assert load_spec(net).variables["c0"] == 16


def test_a_spec_variable_replaces_a_used_one_in_its_place(tmp_path):
    write(tmp_path, "lib.yaml", "vars:\n  base: 8\n  double: 2 * base\n")
    spec = load_spec(write(tmp_path, "net.yaml", "use: lib.yaml\ninput: [3, 8, 8]\nvars: {base: 4, top: double + 1}\n"
                           "layers:\n  - {op: conv, out: top, kernel: 1}\n"))
    assert (spec.variables["base"], spec.variables["double"], spec.variables["top"]) == (4, 8, 9)  # 2 * 4, 8 + 1
    assert list(spec.variables) == ["base", "double", "top"]
    assert load_spec(tmp_path / "net.yaml", overrides={"base": "5"}).variables["double"] == 10  # --set: 2 * 5
    # in its place, it reads what stands above that place: the spec's own later variables are not there yet
    with pytest.raises(SpecError, match=r"'base' replaces the variable of the same name at .*lib.yaml:2:3, in its "
                       "place, where 'top' is not defined yet"):
        load_spec(write(tmp_path, "bad.yaml", "use: lib.yaml\ninput: [3, 8, 8]\nvars: {top: 3, base: top}\n"
                        "layers:\n  - {op: conv, out: double, kernel: 1}\n"))


def test_a_file_of_blocks_alone_is_no_network(tmp_path):
    refused(table(write(tmp_path, "common.yaml", COMMON)), "common.yaml:1:1: error: the file defines blocks but no "
            "network (no 'input', no 'layers'): a file of blocks is for other specs to use")


def test_only_small_used_files_are_kept_parsed(tmp_path):
    small = write(tmp_path, "small.yaml", COMMON)
    large = write(tmp_path, "large.yaml", COMMON + "#" * (using._CACHED_BYTES + 1) + "\n")
    for used in (small, large):
        load_spec(write(tmp_path, "net.yaml", NET.replace("common.yaml", used.name)))
    kept = {key[0] for key in using._PARSED}
    assert os.path.realpath(small) in kept and os.path.realpath(large) not in kept
    assert sum(size for _, size, _ in using._PARSED.values()) <= using._CACHED_BYTES


def test_the_docs_show_the_example_files_as_they_are():
    root = Path(__file__).resolve().parent.parent
    section = (root / "docs" / "spec.md").read_text(encoding="utf-8").split("## Using blocks of other files")[1]
    shown = section.split("```yaml\n")[1:3]
    for snippet, name in zip(shown, ("use_demo.yaml", "common_blocks.yaml")):
        assert snippet.split("```")[0] in (root / "docs" / "examples" / name).read_text(encoding="utf-8")


def test_a_clash_with_a_used_blocks_layer_names_the_other_file(tmp_path):
    """A message given in the spec that points at a place in a used file names that file, not only its line."""
    write(tmp_path, "blocks.yaml", "blocks:\n  unit:\n    layers:\n      - {op: conv, name: c, out: 4, kernel: 1}\n")
    spec = write(tmp_path, "net.yaml", "use: [blocks.yaml]\ninput: [3, 8, 8]\nlayers:\n"
                 "  - {op: unit, name: u, module: .}\n  - {op: conv, name: c2, out: 4, kernel: 1, module: c}\n")
    with pytest.raises(SpecError) as caught:
        api.analyze(str(spec))
    assert f"module path 'c' is taken ({tmp_path / 'blocks.yaml'}:4:9)" in str(caught.value)


def test_a_clash_in_one_file_names_the_line_alone(tmp_path):
    spec = write(tmp_path, "net.yaml", "input: [3, 8, 8]\nlayers:\n  - {op: conv, name: c, out: 4, kernel: 1}\n"
                 "  - {op: conv, name: c2, out: 4, kernel: 1, module: c}\n")
    with pytest.raises(SpecError) as caught:
        api.analyze(str(spec))
    assert "module path 'c' is taken (line 3)" in str(caught.value)
