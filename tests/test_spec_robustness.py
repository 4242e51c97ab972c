"""Issue 13, the spec side: every bad spec gets located messages (all of them, in one run), exit
code 2, no traceback, no hang and bounded memory. Each test names the case it closes."""
from __future__ import annotations

import os
import stat
import sys

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.core.errors import ErrorCollector, Location, SpecError, SpecErrors, Stopped
from cnncalc.spec.spec import parse_spec

from .test_cli_errors import At, assert_bad_input, run_spec

runner = CliRunner()
HEAD = "input: [3, 8, 8]\nlayers:\n"


def lines_of(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("  hint:")]


# ---- crash, hang, unbounded memory -----------------------------------------------------------
def test_explicit_key_nesting_is_refused_before_libyaml_composes_it(tmp_path):
    # '? ' opens a mapping per level: 100,000 of them overflowed libyaml's C stack (SIGSEGV)
    path, result = run_spec(tmp_path, "? " * 100_000 + "a\n")
    # the 201st '? ' starts at column 2*200 + 1
    assert_bad_input(result, f"{path}:1:401: error: the YAML is nested more than 200 levels deep")


def test_billion_laughs_in_vars_is_refused_before_value_resolution(tmp_path):
    # l{i} stands for 9**(i+1) ones; l5 = 531,441 is the first over 500,000 (line 3 + 5 = 8, at its anchor)
    lines = ["  l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    text = "input: [3, 8, 8]\nvars:\n" + "\n".join(lines) + "\nlayers:\n  - {op: relu}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:8:7: error: the YAML has more than 500,000 values when its aliases are "
                     "expanded")


def test_deep_alias_chain_is_refused_not_a_recursion_error(tmp_path):
    # 40 anchors, each 100 lists deep around the previous one: 4,000 levels once expanded
    lines = [f"  a{j}: &a{j} " + "[" * 100 + (f"*a{j - 1}" if j else "1") + "]" * 100 for j in range(40)]
    text = "input: [3, 8, 8]\nvars:\n" + "\n".join(lines) + "\nlayers:\n  - {op: relu}\n"
    path, result = run_spec(tmp_path, text)
    # a0 is 100 deep, a1 200, a2 (line 5) 300: its innermost list, the 101st '[' of the line, is
    # the first past 200 levels (the one around *a1, at column 7 + 100 = 107... counted inside out:
    # the list holding *a1 directly is 101 deep, so the 100th enclosing one is the first over 200)
    assert_bad_input(result, f"{path}:5:", "nested more than 200 levels deep when its aliases are expanded")
    assert "Traceback" not in result.output and "RecursionError" not in result.output


def test_too_many_values_are_refused_from_the_event_stream(tmp_path):
    # 1 (mapping) + 2 (input, list) + 3 sizes = 6 values before 'vars'; x's list holds the rest
    text = "input: [3, 8, 8]\nvars:\n  x: [" + "1," * 500_000 + "1]\nlayers:\n  - {op: relu}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:3:", "error: the YAML has more than 500,000 values", "docs/limits.md")


def test_file_over_the_size_limit(tmp_path):
    from cnncalc.spec.yamlsrc import MAX_FILE_BYTES

    text = HEAD + "  - {op: relu}\n" + "#" * MAX_FILE_BYTES
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}: error: file is too large for a spec file (the limit is 8,388,608 bytes)")


def test_adaptive_pool_size_costs_nothing_and_a_huge_output_is_refused():
    from cnncalc.analysis.engine import analyze
    from cnncalc.spec.graph import build

    # O(1): 10**9 output rows and columns from 8: reads per axis 8 + 10**9 - gcd(8, 10**9) = 10**9
    text = "input: [3, 8, 8]\nlayers:\n  - {op: adaptive_avgpool, name: p, size: 1000000000}\n"
    row = analyze(build(parse_spec(text))).rows[0]
    assert row.output_shape == (3, 10**9, 10**9)  # 3 * 10**18 elements: under 2**63 - 1 = 9.22e18
    # 10**12 per axis: 3 * 10**24 elements, more than a tensor can hold
    with pytest.raises(SpecError, match=r"its output 3x1000000000000x1000000000000 has more than 2\*\*63 - 1"):
        build(parse_spec(text.replace("1000000000}", "1000000000000}")))


def test_adaptive_closed_forms_match_pytorch_windows():
    from cnncalc.layers.resample import _adaptive_reads, _adaptive_widest

    for size in range(1, 60):
        for out in range(1, 80):
            # PyTorch's window i is [floor(i*N/n), ceil((i+1)*N/n))
            widths = [-(-((i + 1) * size) // out) - (i * size) // out for i in range(out)]
            assert (_adaptive_reads(size, out), _adaptive_widest(size, out)) == (sum(widths), max(widths)), (size, out)


@pytest.mark.parametrize("expression,message", [
    ("round(5, -9999999999)", "round(): the digits must be a whole number from -60 to 60, got -9999999999"),
    ("make_divisible(8, 0)", "make_divisible(): the divisor must be a positive whole number, got 0"),
    ("floor(1e308)*10 + 0.5", "a number has more than 60 digits"),
    ("1e308*10", "the result is not a finite number (inf)"),
    ("1e999", "the result is not a finite number (inf)"),
    ("-" * 999 + "8", "must be a positive whole number, got -8"),  # 999 signs: one negation, no recursion
    ("not " * 240 + "1", "must be a positive whole number, got true"),
    ("+".join(["1"] * 499), None),  # a chain of 499 terms is a loop: 499
])
def test_expressions_never_raise_python_errors(tmp_path, expression, message):
    text = HEAD + f"  - {{op: conv, name: c, out: '{expression}', kernel: 1}}\n"
    path, result = run_spec(tmp_path, text)
    if message is None:
        assert result.exit_code == 0, result.output
        assert "\nc,conv,input,3,8,8,499," in runner.invoke(app, ["table", str(path), "-f", "csv"]).stdout
        return
    where = At(text)["'" + expression[:5]]
    assert_bad_input(result, f"{path}:{where}: error: layer 'c', field 'out': ", message)


def test_squaring_chain_of_variables_stops_at_the_digit_limit(tmp_path):
    # v_k = 2**(2**k): v8 = 2**256 has 78 digits, the first over 60 (v7 = 2**128 has 39)
    text = "input: [3, 8, 8]\nvars:\n  v0: 2\n" + "".join(f"  v{i}: v{i - 1}*v{i - 1}\n" for i in range(1, 41)) \
        + "layers:\n  - {op: relu}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:11:7: error: field 'vars.v8': in 'v7*v7': a number has more than 60 digits")
    assert len(lines_of(result)) == 1  # v9 ... v40 depend on v8: not reported again


def test_exponential_expansion_of_skipped_layers_is_bounded(tmp_path, monkeypatch):
    # b5 expands to 1000**5 skipped relus; no node is ever made, the work limit stops it (lowered here
    # to keep the test fast; the hostile corpus runs the real limit in a subprocess). It stops early:
    # b1's 1000 copies of b0 cost 7,000 units (7 each: {op: b0, repeat: 1000} weighs 4, the relu 3), so
    # once b2's first copy of b1 is done, its 999 copies left are sure to cost 6,993,000 > 20,000: the
    # message points at b2's item (line 11), after 7,000 units of work rather than 20,000.
    from cnncalc.spec import buildstate

    monkeypatch.setattr(buildstate, "MAX_WORK", 20_000)
    text = "input: [3, 8, 8]\nblocks:\n  b0:\n    layers:\n      - {op: relu, when: false}\n" + \
        "".join(f"  b{i}:\n    layers:\n      - {{op: b{i - 1}, repeat: 1000}}\n" for i in range(1, 6)) + \
        "layers:\n  - {op: b5}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:11:9: error: layer ", "expanding the spec takes more than 20,000 steps",
                     "hint: see docs/limits.md")


def test_expansion_limit_in_units(monkeypatch):
    from cnncalc.spec import buildstate, graph

    # each instance of '{op: relu, when: c, repeat: 11}' weighs 1 (the mapping) + 2 ('relu': 1 + 4 // 4)
    # + 1 ('c') + 1 (11) = 5: 8 repetitions weigh 40, the 9th (relu1.8) goes over 42
    # 11 repetitions weigh 55: with a limit of 54 the first copy is made, and the 10 left are sure to
    # weigh 50 more, so the repeat stops there (docs/limits.md: bounded before the work is done)
    monkeypatch.setattr(buildstate, "MAX_WORK", 54)
    text = "input: [3, 8, 8]\nvars: {c: true}\nlayers:\n  - {op: relu, when: c, repeat: 11}\n"
    with pytest.raises(Stopped, match="more than 54 steps") as caught:
        graph.build(parse_spec(text))
    assert caught.value.errors[-1].layer == "relu1"
    monkeypatch.setattr(buildstate, "MAX_WORK", 55)  # 11 * 5
    assert len(graph.build(parse_spec(text)).nodes) == 11
    # a repeat given by an expression may be 0, so a block's floor does not count it: a call of b
    # weighs 3 ({op: b, repeat: 2}) + 11 * 5 = 58, but its floor is 3. The first call (58) and the
    # floor of the second (3) fit in 100; the second's relus are counted when n is known: 58 + 3 + 5,
    # and the 10 copies left, 50 more, pass 100
    text = "input: [3, 8, 8]\nvars: {c: true, n: 11}\nblocks:\n  b:\n    layers:\n      - {op: relu, when: c, repeat: n}\n" \
        "layers:\n  - {op: b, repeat: 2}\n"
    monkeypatch.setattr(buildstate, "MAX_WORK", 100)
    with pytest.raises(Stopped, match="more than 100 steps") as caught:
        graph.build(parse_spec(text))
    assert caught.value.errors[-1].layer == "b1.1.relu1"


def test_the_least_work_of_a_block_call():
    from cnncalc.spec.workfloor import least_work

    spec = parse_spec("input: [3, 8, 8]\nblocks:\n  a:\n    layers:\n      - {op: relu, repeat: 3}\n"
                      "  b:\n    layers:\n      - {op: a, repeat: 2}\n      - {op: relu}\n"
                      "  r:\n    layers:\n      - {op: relu}\n      - {op: r, when: false}\n"
                      "layers:\n  - {op: b}\n  - {op: r}\n")
    known: dict[str, int] = {}
    call_b, call_r = spec.items
    # {op: relu, repeat: 3} weighs 1 (the mapping) + 2 ('relu') + 1 (3) = 4: a's body is 3 * 4 = 12;
    # {op: a, repeat: 2} weighs 3: b's body is 2 * (3 + 12) + 3 ({op: relu}) = 33; the call {op: b} weighs 2
    assert least_work(call_b, spec.blocks["b"], spec.blocks, known, 10**9) == 2 + 33
    assert known == {"a": 12, "b": 33}
    assert least_work(call_b, spec.blocks["b"], spec.blocks, known, 20) == 20  # at most the cap
    # r calls itself (a recursion that `when:` ends): the builder only checks a skipped recursive call,
    # so its body counts 0 and the call only its own weight, {op: r}: 2
    assert least_work(call_r, spec.blocks["r"], spec.blocks, known, 10**9) == 2


def test_max_nodes(monkeypatch):
    from cnncalc.spec import buildstate, graph

    monkeypatch.setattr(buildstate, "MAX_NODES", 5)
    with pytest.raises(Stopped, match="the network has more than 5 layers"):
        graph.build(parse_spec("input: [3, 8, 8]\nlayers:\n  - {op: relu, repeat: 6}\n"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    result = runner.invoke(app, ["table", str(fifo)])  # opening it would block forever
    assert_bad_input(result, f"{fifo}: error: not a regular file (a device, pipe or socket), not a spec file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("link", [False, True])
def test_device_and_link_to_a_device_are_refused(tmp_path, link):
    target = "/dev/zero"
    if link:
        target = str(tmp_path / "zero.yaml")
        os.symlink("/dev/zero", target)
    assert stat.S_ISCHR(os.stat(target).st_mode)
    result = runner.invoke(app, ["table", target])
    assert_bad_input(result, f"{target}: error: not a regular file (a device, pipe or socket), not a spec file")


def test_file_growing_while_read_is_cut_at_the_limit(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from cnncalc.core.io import read_text

    path = tmp_path / "grows.yaml"
    path.write_text("x" * 10)
    # stat says 5 bytes (it was, a moment ago); the file has 10 when it is read
    monkeypatch.setattr(type(path), "stat", lambda self, **kw: SimpleNamespace(st_mode=stat.S_IFREG, st_size=5))
    with pytest.raises(SpecError, match=r"file is too large for a spec file \(the limit is 8 bytes\)"):
        read_text(path, what="a spec file", limit=8, error=SpecError)


# ---- tracebacks --------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["²,8,8", "３,8,8", "٣,8,8", "3,8,8" + "0" * 40, "3,4294967296,4294967296"])
def test_input_option_takes_ascii_digits_and_tensor_sizes(value):
    result = runner.invoke(app, ["table", "alexnet", "--input", value])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "error: --input" in result.stderr


def test_long_file_name_is_a_message(tmp_path):
    name = "a" * 256 + ".yaml"  # one over the usual 255-byte limit of a file name
    result = runner.invoke(app, ["table", str(tmp_path / name)])
    assert_bad_input(result, "error: cannot read file: File name too long")


# ---- accepted but wrong ------------------------------------------------------------------------
@pytest.mark.parametrize("layer,field", [
    ("{op: dropout, name: x, p: .nan}", "p"), ("{op: dropout, name: x, p: -.inf}", "p"),
    ("{op: bn, name: x, eps: .inf}", "eps"), ("{op: leaky_relu, name: x, slope: .nan}", "slope"),
    ("{op: elu, name: x, alpha: .inf}", "alpha"), ("{op: lrn, name: x, beta: .nan}", "beta"),
    ("{op: layer_scale, name: x, init: .nan}", "init"), ("{op: layer_scale, name: x, init: '1e308*10'}", "init"),
])
def test_nan_and_infinity_fail_every_range(tmp_path, layer, field):
    path, result = run_spec(tmp_path, HEAD + f"  - {layer}\n")
    expected = "the result is not a finite number" if "*" in layer else "must be a finite number, got "
    assert_bad_input(result, f"{path}:3:", f"layer 'x', field '{field}': ", expected)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_when_must_be_a_truth_value(tmp_path, value):
    text = HEAD + f"  - {{op: relu, name: r, when: {value}}}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:{At(text)[value + '}']}: error: layer 'r', field 'when': must be true or false")


def test_skipped_layers_are_still_checked(tmp_path):
    text = HEAD + "  - {op: relu}\n  - {op: conv, name: c, out: -5, kernel: banana, bogus: 1, when: false}\n"
    path, result = run_spec(tmp_path, text)
    at = At(text)
    assert_bad_input(result)
    assert lines_of(result) == [
        f"{path}:{at['-5']}: error: layer 'c', field 'out': must be a positive whole number, got -5",
        f"{path}:{at['banana']}: error: layer 'c', field 'kernel': must be a positive whole number, got 'banana'",
        f"{path}:{at['bogus']}: error: layer 'c': unknown field 'bogus' for conv",
    ]


def test_skipped_block_calls_and_unknown_ops_are_checked(tmp_path):
    text = ("input: [3, 8, 8]\nblocks:\n  b:\n    params: [c]\n    layers:\n      - {op: conv, out: c, kernel: 1}\n"
            "layers:\n  - {op: relu}\n  - {op: b, name: x, c: 4, d: 1, when: false}\n  - {op: Relu, when: false}\n")
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:{At(text)['d: 1']}: error: layer 'x': block 'b' has no parameter 'd'",
                     f"{path}:{At(text)['Relu']}: error: layer '#3', field 'op': unknown layer type 'Relu'",
                     "did you mean 'relu'?")


def test_skipped_layers_may_fail_on_shapes(analyze_text):
    # a skipped layer is checked field by field, not against its input: that is why it is skipped
    report = analyze_text(HEAD + "  - {op: linear, out: 4, when: false}\n  - {op: relu}\n")
    assert [row.name for row in report.rows] == ["relu1"]


def test_a_network_whose_layers_are_all_skipped_is_an_error(tmp_path):
    text = "input: [3, 8, 8]\nvars: {deep: false}\nlayers:\n  - {op: relu, when: deep}\n  - {op: tanh, when: deep}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:4:3: error: field 'layers': 'when' skips every layer: the network has none")


@pytest.mark.parametrize("key,value,shown", [
    ("name", '"net\\e[2J\\e[31mPWN"', "character 4 is U+001B, a control character"),
    ("name", '"two\\nlines"', "character 4 is a line break"),
    ("name", '"a\\u202eb"', "character 2 is U+202E, right-to-left override"),
    ("name", '"a\\u200bb"', "character 2 is U+200B, zero width space"),
    ("description", '"ok\\0"', "character 3 is U+0000, a control character"),
    ("description", '"x\\u2028y"', "character 2 is a line break"),
    ("torchvision", '"resnet\\t18"', "character 7 is U+0009, a control character"),
])
def test_names_and_descriptions_are_one_line_of_printable_text(tmp_path, key, value, shown):
    text = f"{key}: {value}\n" + HEAD + "  - {op: relu}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:1:{len(key) + 3}: error: field '{key}': '{key}' must be one line of "
                     f"printable text, but {shown}")
    assert "\x1b" not in result.output and "\u202e" not in result.output


def test_block_description_is_checked_too(tmp_path):
    text = 'input: [3, 8, 8]\nblocks:\n  b:\n    description: "a\\x07"\n    layers:\n      - {op: relu}\n' \
        "layers:\n  - {op: b}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:4:18: error: field 'description': ", "character 2 is U+0007")


def test_spaces_of_every_kind_are_allowed_in_names(analyze_text):
    assert analyze_text("name: 'Res\u00a0Net\u2009v2'\n" + HEAD + "  - {op: relu}\n").name == "Res\u00a0Net\u2009v2"


@pytest.mark.parametrize("shape,warned", [
    ("[224, 224, 3]", "[224, 224, 3] reads as 224 channels of 224×3; if it is height, width, channels, "
                      "write [C, H, W]: [3, 224, 224]"),
    ("[28, 28, 1]", "[28, 28, 1] reads as 28 channels of 28×1"),
    ("[32, 32, 4]", "[32, 32, 4] reads as 32 channels of 32×4"),
    ("[3, 224, 224]", None), ("[1, 28, 28]", None), ("[64, 56, 56]", None), ("[3, 3, 3]", None),
    ("[8, 12, 3]", None),  # 8 < 4 * 3: plausibly a small feature map
])
def test_channels_last_input_is_a_located_warning(tmp_path, shape, warned):
    text = f"input: {shape}\nlayers:\n  - {{op: relu}}\n"
    path, result = run_spec(tmp_path, text)
    assert result.exit_code == 0, result.output
    if warned:
        assert f"{path}:1:8: warning: layer 'input': {warned}" in result.stderr
    else:
        assert "warning" not in result.stderr


def test_channels_last_input_option_warns_without_a_place(tmp_path):
    path, result = run_spec(tmp_path, HEAD + "  - {op: relu}\n", "--input", "32,32,1")
    assert result.exit_code == 0
    assert "\nwarning: layer 'input': [32, 32, 1] reads as 32 channels of 32×1" in "\n" + result.stderr


# ---- every problem in one run ------------------------------------------------------------------
def test_every_problem_is_reported_in_file_order(tmp_path):
    text = ("input: [3, -8, 8]\nnmae: x\nvars:\n  a: 1/0\n  b: a + 1\n  width: 2\n"
            "blocks:\n  blk:\n    params: [c]\n    layer: []\n"
            "layers:\n"
            "  - {op: conv, name: c1, out: b, kernel: 3}\n"  # b failed already: not reported again
            "  - {op: convolution, out: 8, kernel: 3}\n"
            "  - {op: conv, name: c3, out: widht, kernel: 0}\n"
            "  - {op: bn, eps: .nan, momentum: 0.1}\n"
            "  - {op: add, name: s, in: [c1, c3]}\n")  # c1 and c3 failed: their shapes are unknown, no cascade
    path, result = run_spec(tmp_path, text)
    at = At(text)
    assert_bad_input(result)
    assert lines_of(result) == [
        f"{path}:1:12: error: field 'input': sizes must be positive whole numbers, got -8",
        f"{path}:2:1: error: unknown top-level key 'nmae'",
        f"{path}:4:6: error: field 'vars.a': in '1/0': division by zero",
        f"{path}:10:5: error: unknown key 'layer' in block 'blk'",
        f"{path}:{at['convolution']}: error: layer '#2', field 'op': unknown layer type 'convolution'",
        f"{path}:{at['widht']}: error: layer 'c3', field 'out': unknown variable 'widht'",
        f"{path}:{at['0}']}: error: layer 'c3', field 'kernel': must be a positive whole number, got 0",
        f"{path}:{at['.nan']}: error: layer 'bn1', field 'eps': must be a finite number, got nan",
        f"{path}:{at['momentum']}: error: layer 'bn1': unknown field 'momentum' for batchnorm",
    ]
    assert "hint: did you mean 'conv'? 'cnncalc ops' lists the layer types" in result.stderr
    assert "hint: did you mean 'width'?" in result.stderr


def test_problems_stop_at_the_limit(tmp_path):
    text = HEAD + "".join(f"  - {{op: conv, out: {-i}, kernel: 1}}\n" for i in range(1, 31))
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}: error: stopped after 20 problems; fix these and run again")
    assert len(lines_of(result)) == 21
    assert lines_of(result)[19].endswith("got -20")


def test_a_failed_repetition_stands_for_the_rest(tmp_path):
    # i - 1 is -1 first, 0 next...: one message, not a hundred
    text = HEAD + "  - {op: conv, name: c, out: 'i - 1', kernel: 1, repeat: 100}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result)
    assert lines_of(result) == [f"{path}:3:30: error: layer 'c.0', field 'out': must be a positive whole number, got -1"]


def test_a_block_layer_that_fails_at_each_call_is_reported_once(tmp_path):
    text = ("input: [3, 8, 8]\nblocks:\n  b:\n    layers:\n      - {op: conv, out: 4, kernel: 1, stride: 0}\n"
            "layers:\n  - {op: b, repeat: 3}\n  - {op: b}\n")
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result)
    assert lines_of(result) == [f"{path}:{At(text)['0}']}: error: layer 'b1.0.conv1', field 'stride': must be "
                                "a positive whole number, got 0"]


def test_spec_errors_type():
    first = SpecError("one", loc=Location("f.yaml", 3, 1), layer="a", field="out", hint="h")
    second = SpecError("two", loc=Location("f.yaml", 1, 5))
    collector = ErrorCollector(limit=2)
    collector.add(first)
    collector.add(second)
    with pytest.raises(SpecErrors) as caught:
        collector.check()
    error = caught.value
    assert error.errors == (second, first)  # in file order
    assert (error.message, error.loc, error.exit_code) == ("two", Location("f.yaml", 1, 5), 2)
    assert error.render() == ("f.yaml:1:5: error: two\n"
                              "f.yaml:3:1: error: layer 'a', field 'out': one\n  hint: h")
    with pytest.raises(Stopped) as stopped:
        collector.add(SpecError("three", file="f.yaml"))
    assert stopped.value.render().endswith("f.yaml: error: stopped after 2 problems; fix these and run again")


def test_parse_spec_alone_raises_all_its_problems():
    with pytest.raises(SpecErrors) as caught:
        parse_spec("input: [1, 3, 8, 8]\nbogus: 1\nlayers: 3\n", "x.yaml")
    assert [e.message for e in caught.value.errors] == [
        "input must be a list [C, H, W] (or [L, D] for a sequence of tokens, [F] for a vector)",
        "unknown top-level key 'bogus'",
        "'layers' must be a list of layers"]


def test_error_parts_are_sanitized():
    error = SpecError("unknown top-level key 'a\x1b[2Jb'", loc=Location("f\u202e.yaml", 1, 1), hint="x\x00")
    assert error.render() == "f\ufffd.yaml:1:1: error: unknown top-level key 'a\ufffd[2Jb'\n  hint: x\ufffd"


# ---- usability -------------------------------------------------------------------------------
@pytest.mark.parametrize("op,suggested", [
    ("ReLU", "'relu'"), ("convolution", "'conv'"), ("fully_connected", "'linear'"), ("Conv2d", "'conv2d'"),
    ("Conv2D", "'conv2d'"), ("InnerProduct", "'linear'"), ("MaxPooling2D", "'maxpool'"),
    ("BatchNormalization", "'batchnorm'"), ("GlobalAveragePooling2D", "'global_avgpool'"),
    ("Deconvolution", "'conv_transpose'"), ("concatenate", "'concat'"), ("convv", "'conv'"),
    ("softmx", "'softmax'"), ("AdaptiveAvgPool2d", "'adaptive_avgpool'"), ("myblock", "'my_block'"),
])
def test_unknown_ops_get_a_suggestion_not_a_list(tmp_path, op, suggested):
    text = ("input: [3, 8, 8]\nblocks:\n  my_block:\n    layers:\n      - {op: relu}\n"
            f"layers:\n  - {{op: {op}}}\n")
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:7:10: error: layer '#1', field 'op': unknown layer type '{op}'",
                     f"hint: did you mean {suggested}? 'cnncalc ops' lists the layer types; blocks: my_block")
    assert "hardsigmoid" not in result.stderr  # no list of every op


def test_an_op_like_nothing_points_to_the_ops_command(tmp_path):
    path, result = run_spec(tmp_path, HEAD + "  - {op: xyzzy}\n")
    assert_bad_input(result, "unknown layer type 'xyzzy'", "hint: 'cnncalc ops' lists the layer types")
    assert "did you mean" not in result.stderr


@pytest.mark.parametrize("field", ["in_channels", "in_features", "inplanes", "num_features"])
def test_input_size_fields_are_explained_not_matched_to_out(tmp_path, field):
    op = "linear" if field == "in_features" else "conv"
    text = (("input: [3, 8, 8]\nlayers:\n  - {op: flatten}\n" if op == "linear" else HEAD)
            + f"  - {{op: {op}, name: x, {field}: 3, out: 8{', kernel: 3' if op == 'conv' else ''}}}\n")
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:{At(text)[field]}: error: layer 'x': unknown field '{field}' for {op}",
                     "hint: the input's size is not a field: it comes from the layer's input (the layer above, "
                     f"or the one named by 'in:'); remove '{field}'")
    assert "out_channels" not in result.stderr and "out_features" not in result.stderr


def test_misspelt_single_word_variable(tmp_path):
    text = "input: [3, 8, 8]\nvars:\n  width: 8\nlayers:\n  - {op: conv, name: c, out: widht, kernel: 3}\n"
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:{At(text)['widht']}: error: layer 'c', field 'out': unknown variable 'widht'",
                     "hint: did you mean 'width'?")


def test_a_word_like_no_variable_keeps_the_field_message(tmp_path):
    path, result = run_spec(tmp_path, HEAD + "  - {op: conv, name: c, out: eight, kernel: 3}\n")
    assert_bad_input(result, "layer 'c', field 'out': must be a positive whole number, got 'eight'")


@pytest.mark.parametrize("arg,use,message", [
    ("c: -3", "as 'out' of layer 'b1.conv1' (line 6)", "must be a positive whole number, got -3"),
    ("c: 0.5", "as 'out' of layer 'b1.conv1' (line 6)", "must be a positive whole number, got 0.5"),
    ("k: 9", "as 'kernel' of layer 'b1.conv1' (line 6)", "kernel 9 is larger than the padded input along H"),
    ("c: widht", None, "unknown variable 'widht'"),
])
def test_a_bad_block_argument_is_reported_at_the_call(tmp_path, arg, use, message):
    text = ("input: [3, 8, 8]\nvars: {width: 4}\nblocks:\n  b:\n    params: [{c: 4}, {k: 1}]\n"
            "    layers:\n      - {op: conv, out: c, kernel: k}\n"
            f"layers:\n  - {{op: b, {arg}}}\n").replace("(line 6)", "(line 7)")
    use = use and use.replace("(line 6)", "(line 7)")
    path, result = run_spec(tmp_path, text)
    param = arg.split(":")[0]
    assert_bad_input(result, f"{path}:{At(text)[arg.split(': ')[1] + '}']}: error: layer 'b1', field '{param}': "
                     f"{message}", f"block 'b' uses it {use}" if use else "did you mean 'width'?")


def test_a_block_argument_used_in_an_expression_through_nested_blocks(tmp_path):
    text = ("input: [3, 8, 8]\nblocks:\n  inner:\n    params: [w]\n    layers:\n"
            "      - {op: conv, out: 2*w, kernel: 1}\n"
            "  outer:\n    params: [width]\n    layers:\n      - {op: inner, w: width}\n"
            "layers:\n  - {op: outer, name: o, width: -1}\n")
    path, result = run_spec(tmp_path, text)
    # -1 goes through outer's 'width' to inner's 'w' and becomes out = 2*w = -2
    assert_bad_input(result, f"{path}:{At(text)['-1']}: error: layer 'o', field 'width': must be a positive whole "
                     "number, got -2", "hint: block 'inner' uses it in 'out: 2*w' of layer 'o.inner1.conv1' (line 6)")


def test_hostile_spec_never_reaches_python_errors_in_process():
    # the in-process API raises InputErrors only (the CLI test corpus runs the same in subprocesses)
    from cnncalc import InputError, analyze

    for text in ["input: [3, 8, 8]\nlayers:\n  - {op: conv, out: '" + "(" * 60 + "1" + ")" * 60 + "', kernel: 1}\n",
                 "input: [3, 8, 8]\nlayers:\n  - {op: upsample, scale: 4294967296, repeat: 3}\n"]:
        with pytest.raises(InputError):
            analyze(text)
    assert sys.getrecursionlimit() >= 1000


def test_equal_text_of_different_tags_keeps_each_type():
    """The loader constructs each distinct (tag, text) once per file: `1` (int), `1.0` (float), `'1'` (str),
    `true`/`yes`/`on` (bools in YAML 1.1) and a second `1` must come out as their own types."""
    from cnncalc.spec.yamlsrc import parse_yaml

    data = parse_yaml("a: 1\nb: 1.0\nc: '1'\nd: true\ne: yes\nf: 'yes'\ng: 1\nh: 0x1\ni: 01\n", "t.yaml")
    assert [(key, type(value).__name__, value) for key, value in data.items()] == [
        ("a", "int", 1), ("b", "float", 1.0), ("c", "str", "1"), ("d", "bool", True), ("e", "bool", True),
        ("f", "str", "yes"), ("g", "int", 1), ("h", "int", 1), ("i", "int", 1)]
    assert data.value_locs["g"].line == 7  # a repeated scalar keeps its own location
