"""A corpus of malformed specs, one class of mistake or attack at a time (issue 13).

`corpus()` returns Hostile(id, text, needle): the spec's text (str or bytes) and a fragment its
error message must contain. Every spec must make `cnncalc table` exit 2 with a located message,
no traceback, no raw control character, within the test's time and memory limits."""
from __future__ import annotations

from dataclasses import dataclass

import yaml

from cnncalc.layers import layer_types

HEAD = "input: [3, 8, 8]\nlayers:\n"
ONE = HEAD + "  - {op: relu}\n"


@dataclass(frozen=True)
class Hostile:
    id: str
    text: str | bytes
    needle: str  # a fragment of the expected message
    timeout: float = 60.0


def _yaml_structure() -> list[Hostile]:
    out = []
    for depth in (201, 1_000, 100_000):
        out += [Hostile(f"nest-flow-seq-{depth}", "input: " + "[" * depth + "]" * depth + "\n", "nested more than"),
                Hostile(f"nest-flow-map-{depth}", "input: " + "{a: " * depth + "1" + "}" * depth + "\n",
                        "nested more than"),
                Hostile(f"nest-block-seq-{depth}", "input:\n  " + "- " * depth + "x\n", "nested more than"),
                Hostile(f"nest-explicit-key-{depth}", "? " * depth + "a\n", "nested more than")]
    for fan, levels in ((9, 9), (10, 8), (2, 25), (100, 4), (1000, 2)):
        lines = [f"  l0: &l0 [{', '.join(['1'] * fan)}]"]
        lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels + 1)]
        out.append(Hostile(f"billion-laughs-{fan}x{levels}", "input: [3, 8, 8]\nvars:\n" + "\n".join(lines)
                           + "\nlayers:\n  - {op: relu}\n", "values when its aliases are expanded"))
        out.append(Hostile(f"billion-laughs-top-{fan}x{levels}", "\n".join(line.strip() for line in lines)
                           + "\n" + ONE, "values when its aliases are expanded"))
    for anchors, depth in ((40, 100), (3, 100), (300, 2), (100, 10)):
        lines = [f"  a{j}: &a{j} " + "[" * depth + (f"*a{j - 1}" if j else "1") + "]" * depth for j in range(anchors)]
        out.append(Hostile(f"alias-chain-{anchors}x{depth}", "input: [3, 8, 8]\nvars:\n" + "\n".join(lines)
                           + "\nlayers:\n  - {op: relu}\n", "nested more than 200 levels deep when its aliases"))
    out.append(Hostile("too-many-values", "input: [3, 8, 8]\nvars:\n  x: [" + "1," * 500_001 + "1]\n"
                       "layers:\n  - {op: relu}\n", "more than 500,000 values"))
    out.append(Hostile("file-too-large", ONE + "#" * (8 * 1024 * 1024), "file is too large"))
    tags = ["!!python/object/apply:os.system ['echo x']", "!!python/name:os.system", "!!binary aGVsbG8=",
            "!!set {a, b}", "!!omap [{a: 1}]", "!custom 1", "!!timestamp 2001-12-14", "!!pairs [{a: 1}]",
            "!<tag:yaml.org,2002:python/none> ''", "!!python/tuple [1, 2]"]
    out += [Hostile(f"tag-{i}", HEAD + f"  - {tag}\n", "unsupported YAML tag") for i, tag in enumerate(tags)]
    out += [Hostile(f"tag-in-input-{i}", f"input: {tag}\nlayers:\n  - {{op: relu}}\n", "unsupported YAML tag")
            for i, tag in enumerate(tags)]
    syntax = ["input: [3, 8, 8\nlayers:\n  - {op: relu}\n", "input: [3, 8, 8]\nlayers:\n  - op: relu\n   name: x\n",
              "input: [3, 8, 8]\nlayers:\n\t- {op: relu}\n", "input: '3\nlayers: x\n", "{{{{\n", "- - - :\n  ? ]\n",
              "input: [3, 8, 8]\nlayers:\n  - {op: relu\n", "%YAML 9.9\n---\ninput: 1\n", "a: b: c\n",
              "input: &a\nlayers: *b\n", "---\ninput: 1\n---\ninput: 2\n"]
    out += [Hostile(f"syntax-{i}", text, "error: ") for i, text in enumerate(syntax)]
    out += [
        Hostile("recursive-alias", "input: &a [3, *a]\nlayers:\n  - {op: relu}\n", "recursive YAML alias"),
        Hostile("merge-key", "base: &b {op: relu}\n" + HEAD + "  - {<<: *b}\n", "merge keys"),
        Hostile("complex-key", HEAD + "  - {[a]: 1}\n", "a mapping key must be a plain name"),
        Hostile("duplicate-key", HEAD + "  - {op: relu, op: tanh}\n", "duplicate key 'op'"),
        Hostile("empty", "", "the file is empty"),
        Hostile("only-comment", "# nothing\n", "the file is empty"),
        Hostile("top-level-list", "- {op: relu}\n", "a spec must be a mapping"),
        Hostile("top-level-scalar", "relu\n", "a spec must be a mapping"),
        Hostile("not-utf8", b"input: [3, 8, 8]\nname: caf\xe9\nlayers:\n  - {op: relu}\n", "not UTF-8 text"),
        Hostile("binary", bytes(range(256)) * 8, "not UTF-8 text"),
        Hostile("nul-byte", b"input: [3, 8, 8]\x00\nlayers:\n  - {op: relu}\n", "error: "),
        Hostile("utf16", "input: [3, 8, 8]\nlayers:\n  - {op: relu}\n".encode("utf-16"), "not UTF-8 text"),
        # a character YAML refuses anywhere (a comment too) is located, not 'position 649' of a string
        Hostile("raw-esc-in-comment", ONE + "# \x1b[2J\x1b]0;pwned\x07\n",
                "4:3: error: YAML does not allow the character U+001B anywhere in the file"),
        Hostile("raw-nul-at-end", ONE + "\x00", "4:1: error: YAML does not allow the character U+0000"),
        Hostile("raw-c1-in-value", HEAD + "  - {op: relu, name: a\x9bb}\n", "error: YAML does not allow the character U+009B"),
        Hostile("huge-int-literal", "input: [3, " + "9" * 5000 + ", 8]\nlayers:\n  - {op: relu}\n", "error: "),
    ]
    return out


def _expressions() -> list[Hostile]:
    # text outside the grammar is not an expression: it stays a word, which no number field takes
    WORD = "must be a positive whole number, got "
    bad = {
        "make_divisible(8, 0)": "the divisor must be a positive whole number",
        "make_divisible(8, -8)": "the divisor must be a positive whole number",
        "make_divisible(8, 0.5)": "the divisor must be a positive whole number",
        "round(5, -9999999999)": "the digits must be a whole number from -60 to 60",
        "round(5, 9999999999)": "the digits must be a whole number from -60 to 60",
        "round(5, 1.5)": "the digits must be a whole number",
        "floor(1e308)*10 + 0.5": "more than 60 digits",
        "ceil(1e300)": "more than 60 digits",
        "int(1e100)": "more than 60 digits",
        "1e308*10": "not a finite number",
        "1e999": "not a finite number",
        "-1e999": "not a finite number",
        "1e308 + 1e308": "not a finite number",
        "10" * 40: "more than 60 digits",
        "1" * 61: "more than 60 digits",
        "99999999999999999999999999999999 * 99999999999999999999999999999999": "more than 60 digits",
        "1 // 0": "division by zero", "1 % 0": "division by zero", "1 / 0": "division by zero",
        "1 // 0.0": "division by zero", "1.5 % 0.0": "division by zero",
        "-" * 999 + "8": "must be a positive whole number, got -8",
        "+" * 998 + "-8": "must be a positive whole number, got -8",
        "not " * 240 + "1": "must be a positive whole number, got true",
        "(" * 60 + "1" + ")" * 60: "nested too deeply",
        "max(" * 60 + "1" + ")" * 60: "nested too deeply",
        "1 if true else " * 60 + "1": "nested too deeply",
        "1+" * 600 + "1": "longer than 1000 characters",
        "__import__('os')": WORD,
        "c.real": WORD, "[1][5]": "index 5 is outside the list of 1", "lambda: 1": WORD,
        "open(1)": "unknown function 'open'", "eval(1)": "unknown function 'eval'", "exp(800)": "unknown function",
        "2 ** 3": "unexpected '*'", "1 +": "unexpected end of expression", "(1": "expected ')'",
        "true + 1": "'+' needs numbers", "'a' * 3": WORD, "min()": "min(): ",
        "max(1, 'a')": WORD, "abs(-1) - 1": "must be a positive whole number, got 0",
        "1 < true < 2": "unexpected '<'", "nope * 2": "unknown variable 'nope'", "c + widht": "unknown variable",
        "floor(1.5, 2)": "floor(): ", "ceil()": "ceil(): ", "round()": "round(): ",
        "c[0]": "only a list or a mapping can be indexed", "[1] + 1": "'+' needs numbers",
    }
    out = []
    for i, (expression, needle) in enumerate(bad.items()):
        quoted = expression.replace("'", "''")
        out.append(Hostile(f"expr-{i}", "input: [3, 8, 8]\nvars: {c: 2}\nlayers:\n"
                           f"  - op: conv\n    name: x\n    out: '{quoted}'\n    kernel: 1\n", needle))
    out.append(Hostile("expr-squares-vars", "input: [3, 8, 8]\nvars:\n  v0: 2\n" + "".join(
        f"  v{i}: v{i - 1}*v{i - 1}\n" for i in range(1, 41)) + "layers:\n  - {op: relu}\n", "more than 60 digits"))
    out.append(Hostile("expr-squares-floats", "input: [3, 8, 8]\nvars:\n  v0: 3\n" + "".join(
        f"  v{i}: v{i - 1}*v{i - 1} + 1/7\n" for i in range(1, 41)) + "layers:\n  - {op: relu}\n",
        "not a finite number"))
    return out


# values no field of any layer type accepts
UNIVERSALLY_BAD = {"nan": ".nan", "ninf": "-.inf", "map": "{x: 1}", "nested": "[[1, 2], [3]]"}


def _example_item(cls) -> tuple[str, dict]:
    """The class's example spec without its `layers:` item for the class, and that item."""
    doc = yaml.safe_load(cls.example_spec())
    item = next(entry for entry in doc["layers"] if entry["op"] in (cls.op, *cls.aliases))
    return doc, item


def _fields() -> list[Hostile]:
    out = []
    for cls in layer_types():
        for field in cls.fields:
            for label, value in UNIVERSALLY_BAD.items():
                doc, item = _example_item(cls)
                item["name"] = "target"
                item[field.name] = "__BAD__"
                text = yaml.safe_dump(doc, sort_keys=False).replace("__BAD__", value)
                out.append(Hostile(f"field-{cls.op}-{field.name}-{label}", text,
                                   f"layer 'target', field '{field.name}': "))
        doc, item = _example_item(cls)
        item["name"] = "target"
        item["bogus"] = 1
        item["when"] = False
        out.append(Hostile(f"skipped-{cls.op}-bogus", yaml.safe_dump(doc, sort_keys=False),
                           f"layer 'target': unknown field 'bogus' for {cls.op}"))
    return out


def _sizes() -> list[Hostile]:
    out = []
    for label, size in (("2e63", 2**63), ("1e30", 10**30), ("1e70", 10**70)):
        out.append(Hostile(f"size-out-{label}", HEAD + f"  - {{op: conv, name: x, out: {size}, kernel: 1}}\n",
                           "field 'out': must be at most 2**63 - 1"))
        out.append(Hostile(f"size-input-{label}", f"input: [3, {size}, 8]\nlayers:\n  - {{op: relu}}\n",
                           "has more than 2**63 - 1 elements"))
    for size in ("1000000000000", "[1000000000000, 1000000000]", "4294967296"):
        out.append(Hostile(f"size-adaptive-{size[:14]}", HEAD + f"  - {{op: adaptive_avgpool, name: x, size: {size}}}\n",
                           "more than 2**63 - 1 elements"))
    out.append(Hostile("size-upsample-chain", HEAD + "  - {op: upsample, name: x, scale: 65536, repeat: 1000}\n",
                       "more than 2**63 - 1 elements"))
    out.append(Hostile("size-input-product", "input: [3000000000, 3000000000, 3000000000]\nlayers:\n  - {op: relu}\n",
                       "has more than 2**63 - 1 elements"))
    out.append(Hostile("size-flatten-fc", "input: [3000000, 3000000, 2]\nlayers:\n  - {op: flatten}\n"
                       "  - {op: linear, name: x, out: 9223372036854775808}\n", "field 'out': must be at most 2**63 - 1"))
    return out


def _when_and_work() -> list[Hostile]:
    out = [Hostile(f"when-{label}", HEAD + f"  - {{op: relu, name: r, when: {value}}}\n", "field 'when': must be")
           for label, value in (("nan", ".nan"), ("inf", ".inf"), ("ninf", "-.inf"), ("word", "maybe"),
                                ("list", "[true]"), ("map", "{a: 1}"), ("null", "null"), ("expr-nan", "'1e999 > 0'"))]
    out[-1] = Hostile("when-expr-inf", HEAD + "  - {op: relu, name: r, when: '1e999 > 0'}\n", "not a finite number")
    out.append(Hostile("when-all-skipped", HEAD + "  - {op: relu, when: false}\n  - {op: tanh, when: false}\n",
                       "'when' skips every layer"))
    out.append(Hostile("when-exponential", "input: [3, 8, 8]\nblocks:\n  b0:\n    layers:\n      - {op: relu, when: false}\n"
                       + "".join(f"  b{i}:\n    layers:\n      - {{op: b{i - 1}, repeat: 1000}}\n" for i in range(1, 6))
                       + "layers:\n  - {op: b5}\n", "expanding the spec takes more than 2,000,000 steps"))
    out.append(Hostile("work-expressions", "input: [3, 8, 8]\nvars: {c: 1}\nlayers:\n" + (
        "  - op: relu\n    repeat: 1000\n    when: '" + "+".join(["c*2"] * 240) + " < 0'\n") * 20,
        "expanding the spec takes more than", 180))
    out.append(Hostile("max-nodes", "input: [3, 8, 8]\nblocks:\n  b:\n    layers:\n      - {op: relu, repeat: 1000}\n"
                       "layers:\n  - {op: b, repeat: 101}\n", "the network has more than 100,000 layers", 240))
    out += [
        Hostile("repeat-huge", HEAD + "  - {op: relu, name: r, repeat: 100000}\n", "more than the limit of 1000"),
        Hostile("repeat-nan", HEAD + "  - {op: relu, name: r, repeat: .nan}\n", "field 'repeat'"),
        Hostile("repeat-expr-huge", HEAD + "  - {op: relu, name: r, repeat: '10**3'}\n", "field 'repeat'"),
        Hostile("block-recursion", "input: [3, 8, 8]\nblocks:\n  a:\n    layers:\n      - {op: b}\n  b:\n    layers:\n"
                "      - {op: a}\nlayers:\n  - {op: a}\n", "uses itself"),
        Hostile("block-depth", "input: [3, 8, 8]\nblocks:\n" + "".join(
            f"  b{i}:\n    layers:\n      - {{op: {'b' + str(i + 1) if i < 40 else 'relu'}}}\n" for i in range(41))
            + "layers:\n  - {op: b0}\n", "blocks are nested more than 32 deep"),
    ]
    return out


CONTROL = {"esc": "\\e[2J\\e[31mPWN", "nul": "a\\0b", "newline": "net\\ninput: [1]", "cr": "a\\rb", "bel": "a\\ab",
           "del": "a\\x7fb", "bidi": "a\\u202eb", "zwsp": "a\\u200bb", "nel": "a\\x85b", "lsep": "a\\u2028b",
           "tab": "a\\tb", "bom": "a\\ufeffb", "c1": "a\\x9bb"}


def _names() -> list[Hostile]:
    out = []
    for label, text in CONTROL.items():
        out.append(Hostile(f"name-{label}", f'name: "{text}"\n' + ONE, "'name' must be one line of printable text"))
        out.append(Hostile(f"description-{label}", f'description: "{text}"\n' + ONE,
                           "'description' must be one line of printable text"))
        out.append(Hostile(f"layer-name-{label}", HEAD + f'  - {{op: relu, name: "{text}"}}\n', "a layer name must"))
        out.append(Hostile(f"key-{label}", f'"{text}": 1\n' + ONE, "unknown top-level key"))
        out.append(Hostile(f"op-{label}", HEAD + f'  - {{op: "{text}"}}\n', "unknown layer type"))
        out.append(Hostile(f"field-key-{label}", HEAD + f'  - {{op: relu, "{text}": 1}}\n', "unknown field"))
        out.append(Hostile(f"var-{label}", f'input: [3, 8, 8]\nvars: {{"{text}": 1}}\n'
                           "layers:\n  - {op: relu}\n", "a variable name must"))
        out.append(Hostile(f"block-description-{label}", "input: [3, 8, 8]\nblocks:\n  b:\n"
                           f'    description: "{text}"\n    layers:\n      - {{op: relu}}\n'
                           "layers:\n  - {op: b}\n", "'description' must be one line of printable text"))
    return out


def _usability() -> list[Hostile]:
    ops = ["ReLU", "convolution", "fully_connected", "Conv2d", "Conv2D", "InnerProduct", "MaxPooling2D", "Dense2",
           "BatchNormalization", "GlobalAveragePooling2D", "Deconvolution", "concatenate", "convv", "softmx", "Linear",
           "nn.Conv2d", "torch.nn.ReLU", "xyzzy", "", "123", "[conv]"]
    out = [Hostile(f"op-{i}", HEAD + f"  - {{op: '{op}'}}\n", "unknown layer type") for i, op in enumerate(ops)]
    out += [Hostile(f"input-size-field-{f}", HEAD + f"  - {{op: conv, out: 4, kernel: 1, {f}: 3}}\n",
                    "the input's size is not a field") for f in ("in_channels", "in_planes", "input_channels", "c_in")]
    out += [
        Hostile("misspelt-variable", "input: [3, 8, 8]\nvars: {width: 4}\nlayers:\n  - {op: conv, out: widht, kernel: 1}\n",
                "unknown variable 'widht'"),
        Hostile("block-arg", "input: [3, 8, 8]\nblocks:\n  b:\n    params: [c]\n    layers:\n"
                "      - {op: conv, out: c, kernel: 1}\nlayers:\n  - {op: b, name: x, c: -3}\n",
                "layer 'x', field 'c': must be a positive whole number, got -3"),
        Hostile("hwc-and-error", "input: [224, 224, 3]\nlayers:\n  - {op: conv, out: 0, kernel: 3}\n",
                "field 'out': must be a positive whole number"),
        Hostile("many-problems", "input: [3, -8, 8]\nbogus: 1\nlayers:\n  - {op: convv}\n  - {op: relu, x: 1}\n",
                "unknown layer type 'convv'"),
        Hostile("forty-problems", HEAD + "".join(f"  - {{op: conv, out: {-i}, kernel: 1}}\n" for i in range(1, 41)),
                "stopped after 20 problems"),
        Hostile("no-input", "layers:\n  - {op: relu}\n", "the spec has no 'input'"),
        Hostile("no-layers", "input: [3, 8, 8]\n", "the spec has no 'layers'"),
        Hostile("layers-map", "input: [3, 8, 8]\nlayers: {op: relu}\n", "must be a list of layers"),
        Hostile("layers-empty", "input: [3, 8, 8]\nlayers: []\n", "is empty"),
        Hostile("vars-list", "input: [3, 8, 8]\nvars: [1]\nlayers:\n  - {op: relu}\n", "'vars' must be a mapping"),
        Hostile("blocks-list", "input: [3, 8, 8]\nblocks: [1]\nlayers:\n  - {op: relu}\n", "'blocks' must be a mapping"),
        Hostile("input-words", "input: [three, 8, 8]\nlayers:\n  - {op: relu}\n", "is a symbol"),
        Hostile("input-floats", "input: [3.5, 8, 8]\nlayers:\n  - {op: relu}\n", "sizes must be positive whole numbers"),
        Hostile("input-bools", "input: [true, 8, 8]\nlayers:\n  - {op: relu}\n", "sizes must be positive whole numbers"),
        Hostile("input-four", "input: [1, 3, 8, 8]\nlayers:\n  - {op: relu}\n", "input must be a list [C, H, W]"),
        Hostile("in-unknown", HEAD + "  - {op: relu, in: nope}\n", "unknown input 'nope'"),
        Hostile("in-self", HEAD + "  - {op: relu, name: a, in: a}\n", "is not defined yet"),
        Hostile("outputs-unknown", ONE + "outputs: [zz]\n", "'outputs' names 'zz'"),
        Hostile("name-dup", HEAD + "  - {op: relu, name: a}\n  - {op: relu, name: a}\n", "duplicate layer name"),
    ]
    return out


def _uses() -> list[Hostile]:
    """`use:` entries that name no readable spec file (the spec is written as ID.yaml)."""
    return [
        Hostile("use-self", "use: use-self.yaml\n" + ONE, "uses this file again"),
        Hostile("use-missing", "use: [nope.yaml]\n" + ONE, "no such file"),
        Hostile("use-parent-missing", "use: ../../../../../../../../nope.yaml\n" + ONE, "no such file"),
        Hostile("use-device", "use: /dev/zero\n" + ONE, "'/dev/zero' is no bundled spec"),
        Hostile("use-bundled-typo", "use: resnet5\n" + ONE, "did you mean 'resnet50'"),
        Hostile("use-esc", 'use: ["\\e[2J\\e[31mx.yaml"]\n' + ONE, "an entry of 'use' must be a file name"),
        Hostile("use-nul", 'use: ["a\\0b.yaml"]\n' + ONE, "an entry of 'use' must be a file name"),
        Hostile("use-long-name", f"use: [{'a' * 5000}.yaml]\n" + ONE, "cannot read file"),
        Hostile("use-mapping", "use: [{a: 1}]\n" + ONE, "an entry of 'use' must be a file name"),
        Hostile("use-many", "use: [" + "resnet50, " * 20_000 + "resnet50]\n" + ONE + "layers2: 1\n",
                "unknown top-level key 'layers2'"),
    ]


def corpus() -> list[Hostile]:
    items = _yaml_structure() + _expressions() + _fields() + _sizes() + _when_and_work() + _names() + _usability() \
        + _uses()
    ids = [item.id for item in items]
    assert len(ids) == len(set(ids)), "duplicate corpus ids"
    return items
