"""Bad input: one clear, located message on stderr, exit code 2, never a traceback."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()


def run_spec(tmp_path, text: str | bytes, *options: str):
    path = tmp_path / "net.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path, runner.invoke(app, ["table", str(path), *options])


class At:
    """'{at[NEEDLE]}' in a fragment -> 'line:column' where NEEDLE first stands in the spec text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __getitem__(self, needle: str) -> str:
        index = self.text.index(needle)
        line = self.text.count("\n", 0, index) + 1
        return f"{line}:{index - (self.text.rfind(chr(10), 0, index) + 1) + 1}"


def assert_bad_input(result, *fragments: str):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


GOOD_HEAD = "input: [3, 32, 32]\nlayers:\n"

# (id, spec text, fragments the message must contain; {f} is the file path)
CASES = [
    ("yaml-syntax", "input: [3, 32, 32\nlayers:\n  - {op: relu}\n",
     ["{f}:2:7: error: YAML syntax error"]),
    ("yaml-bad-indent", "input: [3, 32, 32]\nlayers:\n  - op: relu\n   name: x\n",
     ["{f}:4:", "YAML syntax error"]),
    ("duplicate-key", GOOD_HEAD + "  - {op: conv, out: 8, out: 16, kernel: 3}\n",
     ["{f}:{at[out: 16]}: error: duplicate key 'out' (first given at line 3)"]),
    ("duplicate-top-level-key", "input: [3, 8, 8]\ninput: [3, 9, 9]\nlayers:\n  - {op: relu}\n",
     ["{f}:2:1: error: duplicate key 'input'"]),
    ("string-for-int", GOOD_HEAD + "  - {op: conv, name: c1, out: eight, kernel: 3}\n",
     ["{f}:{at[eight]}: error: layer 'c1', field 'out': must be a positive whole number, got 'eight'"]),
    ("float-kernel", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: 3.5}\n",
     ["{f}:{at[3.5]}: error: layer 'c1', field 'kernel': must be a positive whole number, got 3.5"]),
    ("int-for-bool", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: 3, bias: 1}\n",
     ["layer 'c1', field 'bias': must be true or false, got 1"]),
    ("zero-out", GOOD_HEAD + "  - {op: conv, name: c1, out: 0, kernel: 3}\n",
     ["{f}:{at[0, kernel]}: error: layer 'c1', field 'out': must be a positive whole number, got 0"]),
    ("negative-kernel", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: -3}\n",
     ["field 'kernel': must be a positive whole number, got -3"]),
    ("zero-stride", GOOD_HEAD + "  - {op: maxpool, name: p, kernel: 2, stride: 0}\n",
     ["layer 'p', field 'stride': must be a positive whole number, got 0"]),
    ("negative-pad", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: 3, pad: -1}\n",
     ["field 'pad': must be a whole number >= 0, got -1"]),
    ("bad-pad-word", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: 3, pad: full}\n",
     ["field 'pad': must be a whole number, a pair [height, width], 'same' or 'valid', got 'full'"]),
    ("bad-pair", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: [3, 3, 3]}\n",
     ["field 'kernel': must be a positive whole number or a pair [height, width], got a list of 3"]),
    ("zero-input-size", "input: [3, 0, 32]\nlayers:\n  - {op: relu}\n",
     ["{f}:{at[0, 32]}: error: field 'input': sizes must be positive whole numbers, got 0"]),
    ("input-not-a-list", "input: 224\nlayers:\n  - {op: relu}\n",
     ["{f}:1:8: error: field 'input': input must be a list [C, H, W]"]),
    ("kernel-larger-than-input", "input: [3, 7, 7]\nlayers:\n  - {op: conv, name: c1, out: 8, kernel: 11, pad: 1}\n",
     ["{f}:{at[11,]}: error: layer 'c1', field 'kernel': kernel 11 is larger than the padded input along H: "
      "7 + 1 + 1 = 9"]),
    ("groups-in-channels", "input: [8, 8, 8]\nlayers:\n  - {op: conv, name: c1, out: 6, kernel: 3, groups: 3}\n",
     ["{f}:{at[3}]}: error: layer 'c1', field 'groups': groups=3 does not divide the 8 input channels"]),
    ("groups-out-channels", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: 3, groups: 3}\n",
     ["layer 'c1', field 'groups': groups=3 does not divide the 8 output channels"]),
    ("linear-after-3d", GOOD_HEAD + "  - {op: conv, out: 8, kernel: 3}\n  - {op: fc, name: fc1, out: 10}\n",
     ["{f}:4:5: error: layer 'fc1': linear needs a flat vector or an [L, D] sequence, but its input is [8, 30, 30]",
      "hint: add '- op: flatten'"]),
    ("pool-after-flatten", GOOD_HEAD + "  - {op: flatten}\n  - {op: maxpool, name: p, kernel: 2}\n",
     ["layer 'p': maxpool needs a [C, H, W] feature map, but its input is [3072]"]),
    # nn.LayerNorm runs on the last axis of [L, D] tokens, LayerNorm2d on a map's channels; nothing else
    ("layernorm-rank-4", "input: [8, 6, 6]\nlayers:\n  - {op: reshape, shape: [2, 4, 6, 6]}\n  - {op: ln, name: n}\n",
     ["{f}:4:5: error: layer 'n': layernorm normalises the features of a vector, the last axis of an [L, D] "
      "sequence or the channels of a [C, H, W] feature map, but its input is [2, 4, 6, 6]"]),
    # vision transformers' layers
    ("mha-heads-do-not-divide", "input: [12, 10]\nlayers:\n  - {op: mha, name: a, heads: 4}\n",
     ["{f}:{at[4}]}: error: layer 'a', field 'heads': heads=4 does not divide the 10 features of each token",
      "hint: nn.MultiheadAttention splits D into heads"]),
    ("mha-heads-zero", "input: [12, 10]\nlayers:\n  - {op: mha, name: a, heads: 0}\n",
     ["{f}:{at[0}]}: error: layer 'a', field 'heads': must be a positive whole number, got 0"]),
    ("mha-heads-word", "input: [12, 10]\nlayers:\n  - {op: mha, name: a, heads: many}\n",
     ["{f}:{at[many]}: error: layer 'a', field 'heads'"]),
    ("mha-no-heads", "input: [12, 10]\nlayers:\n  - {op: mha, name: a}\n",
     ["{f}:3:5: error: layer 'a': 'heads' is required for mha", "hint: add 'heads: ...' to the layer"]),
    # nn.MultiheadAttention's dropout on the attention weights: a probability below 1
    ("mha-dropout-1", "input: [12, 10]\nlayers:\n  - {op: mha, name: a, heads: 2, dropout: 1.0}\n",
     ["{f}:{at[1.0}]}: error: layer 'a', field 'dropout': must be in [0, 1), got 1.0"]),
    ("mha-dropout-negative", "input: [12, 10]\nlayers:\n  - {op: mha, name: a, heads: 2, dropout: -0.1}\n",
     ["{f}:{at[-0.1]}: error: layer 'a', field 'dropout': must be in [0, 1), got -0.1"]),
    ("mha-dropout-word", "input: [12, 10]\nlayers:\n  - {op: mha, name: a, heads: 2, dropout: high}\n",
     ["{f}:{at[high]}: error: layer 'a', field 'dropout': must be a number, got 'high'"]),
    ("mha-dropout-bool", "input: [12, 10]\nlayers:\n  - {op: mha, name: a, heads: 2, attn_drop: true}\n",
     ["{f}:{at[true]}: error: layer 'a', field 'dropout': must be a number, got true"]),
    ("mha-unknown-field", "input: [12, 10]\nlayers:\n  - {op: mha, name: a, heads: 2, bias: false}\n",
     ["{f}:{at[bias]}: error: layer 'a': unknown field 'bias' for mha", "fields of mha: heads, dropout"]),
    ("mha-on-a-map", GOOD_HEAD + "  - {op: mha, name: a, heads: 1}\n",
     ["{f}:3:5: error: layer 'a': mha needs an [L, D] sequence of L tokens of D features, but its input is "
      "[3, 32, 32]", "hint: make tokens of a feature map"]),
    ("class-token-on-a-vector", "input: [10]\nlayers:\n  - {op: class_token, name: t}\n",
     ["{f}:3:5: error: layer 't': class_token needs an [L, D] sequence of L tokens of D features, but its input "
      "is [10]"]),
    ("class-token-field", "input: [12, 10]\nlayers:\n  - {op: class_token, name: t, tokens: 2}\n",
     ["{f}:{at[tokens]}: error: layer 't': unknown field 'tokens' for class_token"]),
    ("pos-embedding-on-a-map", GOOD_HEAD + "  - {op: pos_embedding, name: p}\n",
     ["{f}:3:5: error: layer 'p': pos_embedding needs an [L, D] sequence", "[3, 32, 32]"]),
    ("linear-rank-3-tokens", "input: [2, 12, 10]\nlayers:\n  - {op: reshape, shape: [2, 3, 4, 10]}\n"
                             "  - {op: linear, name: fc, out: 4}\n",
     ["{f}:4:5: error: layer 'fc': linear needs a flat vector or an [L, D] sequence, but its input is "
      "[2, 3, 4, 10]"]),
    ("input-rank-4", "input: [1, 3, 8, 8]\nlayers:\n  - {op: relu}\n",
     ["{f}:1:8: error: field 'input': input must be a list [C, H, W] (or [L, D] for a sequence of tokens, [F] "
      "for a vector)"]),
    ("input-tokens-zero", "input: [0, 768]\nlayers:\n  - {op: relu}\n",
     ["{f}:1:9: error: field 'input': sizes must be positive whole numbers, got 0"]),
    ("batchnorm-rank-4", "input: [8, 6, 6]\nlayers:\n  - {op: reshape, shape: [2, 4, 6, 6]}\n  - {op: bn, name: n}\n",
     ["{f}:4:5: error: layer 'n': batchnorm needs a vector, a [C, L] sequence or a [C, H, W] feature map, but "
      "its input is [2, 4, 6, 6]"]),
    ("empty-layers", "input: [3, 32, 32]\nlayers: []\n",
     ["{f}:2:9: error: field 'layers': 'layers' is empty"]),
    ("layers-not-a-list", "input: [3, 32, 32]\nlayers: {op: relu}\n",
     ["field 'layers': 'layers' must be a list of layers"]),
    ("no-layers", "input: [3, 32, 32]\n", ["{f}:1:1: error: the spec has no 'layers'", "hint: add 'layers:'"]),
    ("no-input", "layers:\n  - {op: relu}\n", ["the spec has no 'input'", "hint: add 'input: [C, H, W]'"]),
    ("unknown-op", GOOD_HEAD + "  - {op: convv, out: 8, kernel: 3}\n",
     ["{f}:{at[convv]}: error: layer '#1', field 'op': unknown layer type 'convv'", "hint: did you mean 'conv'"]),
    ("unknown-field", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernal: 3}\n",
     ["{f}:{at[kernal]}: error: layer 'c1': unknown field 'kernal' for conv", "hint: did you mean 'kernel'"]),
    ("unknown-top-level", "input: [3, 32, 32]\nlayer:\n  - {op: relu}\n",
     ["{f}:2:1: error: unknown top-level key 'layer'", "did you mean 'layers'"]),
    ("missing-required", GOOD_HEAD + "  - {op: conv, name: c1, out: 8}\n",
     ["{f}:3:5: error: layer 'c1': 'kernel' is required for conv"]),
    ("field-given-twice", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: 3, pad: 1, padding: 1}\n",
     ["field 'pad': 'pad' is given twice, as 'pad' and as 'padding'"]),
    ("no-op", GOOD_HEAD + "  - {name: c1, out: 8}\n", ["{f}:3:5: error: layer 'c1': the layer has no 'op'"]),
    ("layer-not-mapping", GOOD_HEAD + "  - conv\n", ["{f}:3:5: error: layer #1 must be a mapping"]),
    ("duplicate-layer-name", GOOD_HEAD + "  - {op: relu, name: a}\n  - {op: relu, name: a}\n",
     ["{f}:4:22: error: layer 'a', field 'name': duplicate layer name 'a' (first used at line 3)"]),
    ("reserved-name", GOOD_HEAD + "  - {op: relu, name: input}\n", ["'input' is reserved"]),
    ("bad-name", GOOD_HEAD + "  - {op: relu, name: '1 x'}\n", ["field 'name': a layer name must start"]),
    ("unknown-activation", GOOD_HEAD + "  - {op: conv, name: c1, out: 8, kernel: 3, act: rleu}\n",
     ["field 'act': must be one of", "did you mean 'relu'"]),
    ("dropout-p-1", "input: [10]\nlayers:\n  - {op: dropout, name: d, p: 1}\n",
     ["layer 'd', field 'p': must be in [0, 1), got 1"]),
    ("pool-pad-too-big", GOOD_HEAD + "  - {op: maxpool, name: p, kernel: 3, pad: 2}\n",
     ["field 'pad': padding 2 is more than half the kernel 3"]),
    ("python-tag-is-not-executed", GOOD_HEAD + "  - !!python/object/apply:os.system ['echo pwned']\n",
     ["{f}:3:5: error: unsupported YAML tag"]),
    ("python-tag-scalar", "input: !!python/name:os.system\nlayers:\n  - {op: relu}\n",
     ["unsupported YAML tag"]),
    ("recursive-alias", "input: &a [3, *a]\nlayers:\n  - {op: relu}\n", ["recursive YAML alias"]),
    ("merge-key", "base: &b {op: relu}\ninput: [3, 8, 8]\nlayers:\n  - {<<: *b}\n",
     ["{f}:{at[<<]}: error: YAML merge keys ('<<') are not supported"]),
    ("merge-key-in-layer", "input: [3, 8, 8]\nlayers:\n  - &b {op: relu}\n  - {<<: *b, name: r2}\n",
     ["{f}:4:6: error: YAML merge keys ('<<') are not supported"]),
    ("complex-key", "input: [3, 8, 8]\nlayers:\n  - {[a]: 1}\n", ["a mapping key must be a plain name"]),
    ("top-level-list", "- {op: relu}\n", ["a spec must be a mapping with 'input' and 'layers'"]),
    ("empty-file", "", ["error: the file is empty"]),
    ("name-not-string", "name: [a]\ninput: [3, 8, 8]\nlayers:\n  - {op: relu}\n",
     ["field 'name': 'name' must be a non-empty string"]),
    # ---- spec language v2 -------------------------------------------------------------------
    ("unknown-input", GOOD_HEAD + "  - {op: conv, name: conv1, out: 4, kernel: 1}\n  - {op: relu, name: r, in: cnv1}\n",
     ["{f}:{at[cnv1]}: error: layer 'r', field 'in': unknown input 'cnv1'", "did you mean 'conv1'"]),
    ("input-defined-later", GOOD_HEAD + "  - {op: relu, name: a, in: b}\n  - {op: relu, name: b}\n",
     ["{f}:{at[b}]}: error: layer 'a', field 'in': 'b' is not defined yet: a layer can only read layers above it"]),
    ("input-is-itself", GOOD_HEAD + "  - {op: relu, name: a, in: a}\n", ["'a' is not defined yet"]),
    ("add-shapes", GOOD_HEAD + "  - {op: conv, name: c, out: 4, kernel: 1}\n  - {op: add, name: s, in: [c, input]}\n",
     ["layer 's', field 'in': add needs inputs of equal shape, got [4, 32, 32] and [3, 32, 32]"]),
    ("mul-shapes", GOOD_HEAD + "  - {op: gap, name: g}\n  - {op: conv, name: c, out: 2, kernel: 1}\n"
     "  - {op: mul, name: m, in: [input, c]}\n",
     ["mul needs equal shapes or a [C, 1, 1] gate, got [3, 32, 32] and [2, 1, 1]"]),
    ("concat-sizes", GOOD_HEAD + "  - {op: maxpool, name: p, kernel: 2}\n  - {op: concat, name: cat, in: [p, input]}\n",
     ["layer 'cat', field 'in': concat needs the same height and width, got [3, 16, 16] and [3, 32, 32]"]),
    ("merge-one-input", GOOD_HEAD + "  - {op: add, name: s}\n",
     ["layer 's', field 'in': add merges two or more inputs; list them with 'in: [a, b]'"]),
    ("two-inputs-to-relu", GOOD_HEAD + "  - {op: relu, name: a}\n  - {op: relu, name: b, in: [a, input]}\n",
     ["layer 'b', field 'in': relu takes 1 input, but is given 2"]),
    ("inputs-twice", GOOD_HEAD + "  - {op: relu, name: a, in: input, from: input}\n",
     ["the inputs are given twice, as 'in' and as 'from'"]),
    ("block-missing-arg", "input: [3, 8, 8]\nblocks:\n  b:\n    params: [c]\n    layers:\n"
     "      - {op: conv, out: c, kernel: 1}\nlayers:\n  - {op: b, name: x}\n",
     ["{f}:8:5: error: layer 'x': block 'b' needs 'c'", "hint: add c: ..."]),
    ("block-unknown-arg", "input: [3, 8, 8]\nblocks:\n  b:\n    params: [chans]\n    layers:\n"
     "      - {op: conv, out: chans, kernel: 1}\nlayers:\n  - {op: b, name: x, chan: 4}\n",
     ["{f}:{at[chan:]}: error: layer 'x': block 'b' has no parameter 'chan'", "did you mean 'chans'"]),
    ("unknown-variable", "input: [3, 8, 8]\nvars:\n  width: 2\nlayers:\n  - {op: conv, name: c, out: 4*widht, kernel: 1}\n",
     ["{f}:{at[4*widht]}: error: layer 'c', field 'out': in '4*widht': unknown variable 'widht'",
      "did you mean 'width'"]),
    ("division-by-zero", "input: [3, 8, 8]\nvars:\n  g: 0\nlayers:\n  - {op: conv, name: c, out: 8 // g, kernel: 1}\n",
     ["{f}:{at[8 //]}: error: layer 'c', field 'out': in '8 // g': division by zero"]),
    ("bad-expression-in-vars", "input: [3, 8, 8]\nvars:\n  c: 4 +\nlayers:\n  - {op: relu}\n",
     ["{f}:3:6: error: field 'vars.c': in '4 +': unexpected end of expression"]),
    ("comma-in-flow-mapping", GOOD_HEAD + "  - {op: conv, name: c, out: max(4, 8), kernel: 1}\n",
     ["in 'max(4': expected ')', found the end", "hint: inside {{...}} YAML splits at commas: quote"]),
    ("expression-not-whole", "input: [3, 8, 8]\nvars:\n  c: 3\nlayers:\n  - {op: conv, name: x, out: c/2, kernel: 1}\n",
     ["field 'out': must be a positive whole number, got 1.5"]),
    ("block-recursion", "input: [3, 8, 8]\nblocks:\n  a:\n    layers:\n      - {op: b}\n  b:\n    layers:\n"
     "      - {op: a}\nlayers:\n  - {op: a, name: top}\n",
     ["block 'a' uses itself (a -> b -> a) and blocks are nested more than 32 deep", "needs a 'when:' that ends"]),
    ("repeat-limit", GOOD_HEAD + "  - {op: relu, name: r, repeat: 100000}\n",
     ["{f}:{at[100000}]}: error: layer 'r', field 'repeat': repeat 100000 is more than the limit of 1000"]),
    ("repeat-negative", GOOD_HEAD + "  - {op: relu, name: r, repeat: -1}\n",
     ["field 'repeat': must be a whole number >= 0, got -1"]),
    ("first-without-repeat", GOOD_HEAD + "  - {op: relu, name: r, first: {}}\n", ["'first' only makes sense with 'repeat'"]),
    ("control-key-in-first", GOOD_HEAD + "  - {op: relu, name: r, repeat: 2, first: {op: tanh}}\n",
     ["'op' cannot be set in 'first'"]),
    ("when-not-boolean", GOOD_HEAD + "  - {op: relu, name: r, when: maybe}\n",
     ["field 'when': must be true or false (or an expression giving one), got 'maybe'"]),
    ("block-named-like-op", "input: [3, 8, 8]\nblocks:\n  conv:\n    layers:\n      - {op: relu}\nlayers:\n  - {op: relu}\n",
     ["{f}:3:3: error: block 'conv' has the name of a layer type"]),
    ("block-unknown-key", "input: [3, 8, 8]\nblocks:\n  b:\n    layer:\n      - {op: relu}\nlayers:\n  - {op: b}\n",
     ["unknown key 'layer' in block 'b'", "did you mean 'layers'"]),
    ("block-bad-param", "input: [3, 8, 8]\nblocks:\n  b:\n    params: [[c]]\n    layers:\n      - {op: relu}\n"
     "layers:\n  - {op: b}\n", ["a parameter is a name (required) or a one-key mapping {{name: default}}"]),
    ("block-output-unknown", "input: [3, 8, 8]\nblocks:\n  b:\n    output: nope\n    layers:\n"
     "      - {op: relu, name: r}\nlayers:\n  - {op: b}\n",
     ["block 'b' names output 'nope', which is none of its layers"]),
    ("outputs-unknown", GOOD_HEAD + "  - {op: relu, name: r}\noutputs: [rr]\n",
     ["field 'outputs': 'outputs' names 'rr', which is not a layer of the network", "did you mean 'r'"]),
    ("builtin-variable", "input: [3, 8, 8]\nvars:\n  in_channels: 3\nlayers:\n  - {op: relu}\n",
     ["'in_channels' is a built-in variable"]),
    ("torchvision-bad", GOOD_HEAD + "  - {op: relu}\ntorchvision: [resnet]\n",
     ["'torchvision' must be a model name or {{model: NAME, kwargs: {{...}}}}"]),
    ("dotted-name", GOOD_HEAD + "  - {op: relu, name: a.b}\n", ["field 'name': a layer name must start"]),
]


@pytest.mark.parametrize("text,fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_spec(tmp_path, text, fragments):
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, *(f.format(f=path, at=At(text)) for f in fragments))


def test_python_tag_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    text = GOOD_HEAD + f"  - !!python/object/apply:os.system ['touch {marker}']\n"
    _, result = run_spec(tmp_path, text)
    assert result.exit_code == 2
    assert not marker.exists()


def test_billion_laughs_is_refused_before_it_is_expanded(tmp_path):
    # a{i} stands for 10**(i+1) ones: a5 (line 6) is the first over 500,000 values
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path, result = run_spec(tmp_path, "\n".join(lines) + "\ninput: [3, 8, 8]\nlayers:\n  - {op: relu}\n")
    assert_bad_input(result, f"{path}:6:5: error: the YAML has more than 500,000 values when its aliases are "
                     "expanded", "hint: an alias ('*name') counts as a copy")


def test_missing_file(tmp_path):
    result = runner.invoke(app, ["table", str(tmp_path / "nope.yaml")])
    assert_bad_input(result, f"{tmp_path / 'nope.yaml'}: error: no such file",
                     "hint: run 'cnncalc specs'")


def test_unknown_bundled_name_suggests():
    result = runner.invoke(app, ["table", "alexnt"])
    assert_bad_input(result, "alexnt: error: no such file, and no bundled spec of that name",
                     "did you mean 'alexnet'")


def test_directory(tmp_path):
    result = runner.invoke(app, ["table", str(tmp_path)])
    assert_bad_input(result, f"{tmp_path}: error: is a directory")


def test_non_utf8_file(tmp_path):
    path, result = run_spec(tmp_path, b"input: [3, 8, 8]\nname: caf\xe9\nlayers:\n  - {op: relu}\n")
    assert_bad_input(result, f"{path}:2:10: error: not UTF-8 text (byte 0xe9 at offset 26)")


def test_binary_file(tmp_path):
    path, result = run_spec(tmp_path, bytes(range(256)) * 4)
    assert_bad_input(result, "not UTF-8 text")


def test_utf8_bom_is_accepted(tmp_path):
    _, result = run_spec(tmp_path, "\ufeffinput: [3, 8, 8]\nlayers:\n  - {op: relu}\n")
    assert result.exit_code == 0, result.output


def test_stride_that_does_not_fit_warns_and_strict_refuses(tmp_path):
    text = "input: [1, 7, 7]\nlayers:\n  - {op: conv, name: c, out: 1, kernel: 3, stride: 3}\n"
    path, result = run_spec(tmp_path, text)
    assert result.exit_code == 0
    assert (f"{path}:{At(text)['3}']}: warning: layer 'c': stride 3 does not fit along H and W: (7 - 3 + 2*0)/3 + 1 = 2.33; "
            "floor gives 2, so the last input row and column are never read") in result.stderr
    path, result = run_spec(tmp_path, text, "--strict")
    assert_bad_input(result, f"{path}:{At(text)['3}']}: error: layer 'c', field 'stride': stride 3 does not fit",
                     "hint: without --strict this is a warning")


@pytest.mark.parametrize("value", ["3,224", "a,b,c", "3,0,224", "-3,224,224", ""])
def test_bad_input_option(value):
    result = runner.invoke(app, ["table", "alexnet", "--input", value])
    assert_bad_input(result, "--input must be C,H,W")


def test_input_override_that_breaks_the_net_is_located():
    # AlexNet's conv1 (K=11) on a 5x5 image: the error points at the bundled spec's conv1 kernel
    result = runner.invoke(app, ["table", "alexnet", "--input", "3,5,5"])
    assert_bad_input(result, "alexnet (bundled):11:46:", "layer 'conv1', field 'kernel': kernel 11 is larger")


@pytest.mark.parametrize("options", [["--batch", "0"], ["--dtype", "float8"], ["--format", "xml"],
                                     ["--convention", "flops"]])
def test_bad_options_exit_2(options):
    result = runner.invoke(app, ["table", "alexnet", *options])
    assert result.exit_code == 2


def test_output_into_missing_folder(tmp_path):
    result = runner.invoke(app, ["table", "alexnet", "-o", str(tmp_path / "no" / "t.txt")])
    assert_bad_input(result, "folder", "does not exist")


def test_unused_output_warns(tmp_path):
    text = GOOD_HEAD + "  - {op: conv, name: side, out: 4, kernel: 1}\n  - {op: relu, name: main, in: input}\n"
    path, result = run_spec(tmp_path, text)
    assert result.exit_code == 0
    assert f"{path}:3:5: warning: layer 'side': its output is never used" in result.stderr
    _, listed = run_spec(tmp_path, text + "outputs: [main, side]\n")
    assert listed.exit_code == 0 and "never used" not in listed.stderr


@pytest.mark.parametrize("option,message", [
    ("nope=1", "--set nope=...: the spec has no variable 'nope'"),
    ("width", "--set expects NAME=VALUE, got 'width'"),
    ("width=2+", "--set width=2+: unexpected end of expression"),
])
def test_bad_set_option(tmp_path, option, message):
    _, result = run_spec(tmp_path, "input: [3, 8, 8]\nvars:\n  width: 1\nlayers:\n  - {op: relu}\n",
                         "--set", option)
    assert_bad_input(result, message)


@pytest.mark.parametrize("text", ["input: " + "[" * 100_000 + "]" * 100_000 + "\n",
                                  "input:\n  " + "- " * 100_000 + "x\n"])
def test_deep_nesting_is_refused_not_a_crash(tmp_path, text):
    # libyaml's composer recurses on the C stack: 100,000 levels crashed the interpreter
    path, result = run_spec(tmp_path, text)
    assert_bad_input(result, f"{path}:", "error: the YAML is nested more than 200 levels deep")


def test_export_without_to_needs_a_suffix_that_names_a_format(tmp_path):
    result = runner.invoke(app, ["export", "alexnet", "-o", str(tmp_path / "net.txt")])
    assert_bad_input(result, "error: --to is needed: the suffix of", "net.txt' names no format")
    assert not (tmp_path / "net.txt").exists()
