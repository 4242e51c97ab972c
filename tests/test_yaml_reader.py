"""The YAML reader (cnncalc/spec/yamlsrc.py): one pass over the event stream, with libyaml and with
the pure-Python fallback, must read the same values, places and weights, refuse the same files with
the same located messages, and pick the same first problem where a file has several."""
from __future__ import annotations

import pytest
import yaml

from cnncalc.core.errors import Location, SpecError
from cnncalc.spec import yamlsrc
from cnncalc.spec.bundled import bundled_specs
from cnncalc.spec.yamlsrc import YList, YMap, parse_yaml

LOADERS = ["python"] + (["libyaml"] if hasattr(yaml, "CSafeLoader") else [])


@pytest.fixture(params=LOADERS)
def loader(request, monkeypatch):
    """Each test runs with libyaml (where installed) and with PyYAML's pure-Python reader."""
    if request.param == "python":
        monkeypatch.setattr(yamlsrc, "_Loader", yaml.SafeLoader)
    return request.param


def refusal(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_yaml(text, "f.yaml")
    return str(info.value)


def test_values_places_and_weights(loader):
    doc = parse_yaml("name: n\nlayers:\n  - {op: conv, out: 16}\n  - [1, 'ab cd efgh']\n", "f.yaml")
    assert doc == {"name": "n", "layers": [{"op": "conv", "out": 16}, [1, "ab cd efgh"]]}
    assert type(doc) is YMap and type(doc["layers"]) is YList and type(doc["layers"][0]) is YMap
    assert doc.loc == Location("f.yaml", 1, 1)
    assert doc.key_locs == {"name": Location("f.yaml", 1, 1), "layers": Location("f.yaml", 2, 1)}
    assert doc.value_locs == {"name": Location("f.yaml", 1, 7), "layers": Location("f.yaml", 3, 3)}
    layers = doc["layers"]
    assert layers.item_locs == [Location("f.yaml", 3, 5), Location("f.yaml", 4, 5)]
    conv = layers[0]
    assert conv.key_locs == {"op": Location("f.yaml", 3, 6), "out": Location("f.yaml", 3, 16)}
    assert conv.value_locs == {"op": Location("f.yaml", 3, 10), "out": Location("f.yaml", 3, 21)}
    # weights: one per value plus one per 4 characters of text, keys not counted
    assert conv.weight == 1 + (1 + 4 // 4) + 1  # the mapping, 'conv', 16
    assert layers[1].weight == 1 + 1 + (1 + 10 // 4)  # the list, 1, 'ab cd efgh'
    assert layers.weight == 1 + 4 + 5
    assert doc.weight == 1 + (1 + 1 // 4) + 10  # the mapping, 'n', the layers


def test_scalar_types_follow_yaml_1_1(loader):
    doc = parse_yaml("a: 1\nb: 1.5\nc: '1'\nd: yes\ne: ~\nf: 0x10\ng: !!str 2\nh: .inf\ni: ! 3\n", "f.yaml")
    assert [(k, type(v).__name__, v) for k, v in doc.items()] == [
        ("a", "int", 1), ("b", "float", 1.5), ("c", "str", "1"), ("d", "bool", True), ("e", "NoneType", None),
        ("f", "int", 16), ("g", "str", "2"), ("h", "float", float("inf")),
        ("i", "int", 3)]  # PyYAML resolves a plain scalar with the non-specific tag '!' as if untagged


def test_an_alias_shares_its_value_and_stands_where_its_anchor_is(loader):
    doc = parse_yaml("a: &x [1, 2]\nb: *x\nc: [*x, *x]\nd: &s word\ne: *s\n", "f.yaml")
    assert doc["b"] is doc["a"] and doc["c"][0] is doc["a"] and doc["e"] == "word"
    assert doc.value_locs["b"] == Location("f.yaml", 1, 4)  # the anchored list's place (at '&'), not the alias's
    assert doc["c"].item_locs == [Location("f.yaml", 1, 4)] * 2
    assert doc.value_locs["e"] == Location("f.yaml", 4, 4)
    # an alias counts as a copy: c is 1 + 2 * (1 + 2) values, weight 1 + 2 * 3
    assert doc["c"].weight == 7
    assert doc.weight == 1 + 3 + 3 + 7 + 2 + 2  # the mapping, a, b, c, 'word' twice


@pytest.mark.parametrize("text, message", [
    ("", "f.yaml: error: the file is empty"),
    ("# only a comment\n", "f.yaml: error: the file is empty"),
    ("a: 1\na: 2\n", "f.yaml:2:1: error: duplicate key 'a' (first given at line 1)"),
    ("{1: a, true: b}", "f.yaml:1:8: error: duplicate key 'True' (first given at line 1)"),
    ("<<: {a: 1}\n", "f.yaml:1:1: error: YAML merge keys ('<<') are not supported; write the fields out"),
    ("a: <<\n", "f.yaml:1:4: error: unsupported YAML tag 'tag:yaml.org,2002:merge': only plain strings, numbers, "
                "booleans and null are allowed"),
    ("? [a]\n: 1\n", "f.yaml:1:3: error: a mapping key must be a plain name, not a list or mapping"),
    ("a: &k [1]\n*k : 2\n", "f.yaml:1:4: error: a mapping key must be a plain name, not a list or mapping"),
    ("a: &r [1, *r]\n", "f.yaml:1:4: error: recursive YAML alias"),
    ("a: !!set {x}\n", "f.yaml:1:4: error: unsupported YAML tag 'tag:yaml.org,2002:set'"),
    ("a: !!binary aGk=\n", "f.yaml:1:4: error: unsupported YAML tag 'tag:yaml.org,2002:binary': only plain "
                           "strings, numbers, booleans and null are allowed"),
    ("a: 2001-12-14\n", "f.yaml:1:4: error: unsupported YAML tag 'tag:yaml.org,2002:timestamp'"),
    ("a: !!int x\n", "f.yaml:1:4: error: bad scalar value: invalid literal for int() with base 10: 'x'"),
    # PyYAML's constructors raise KeyError and IndexError for these: a traceback once
    ("a: !!bool maybe\n", "f.yaml:1:4: error: bad scalar value: 'maybe' is not a YAML bool"),
    ("a: !!int ''\n", "f.yaml:1:4: error: bad scalar value: '' is not a YAML int"),
    ("a: [1\n", "f.yaml:2:1: error: YAML syntax error: while parsing a flow sequence, "),
    ("a: 1\n---\nb: 2\n", "f.yaml:2:1: error: YAML syntax error: expected a single document in the stream, but found "
                          "another document"),
])
def test_refusals_are_located(loader, text, message):
    assert refusal(text).startswith(message)


def test_the_composer_messages_of_each_reader(loader):
    undefined = refusal("a: *nowhere\n")
    duplicate = refusal("a: &x 1\nb: &x 2\n")
    if loader == "libyaml":
        assert undefined == "f.yaml:1:4: error: YAML syntax error: found undefined alias"
        assert duplicate == "f.yaml:2:4: error: YAML syntax error: found duplicate anchor; first occurrence, second " \
                            "occurrence"
    else:
        assert undefined == "f.yaml:1:4: error: YAML syntax error: found undefined alias 'nowhere'"
        assert duplicate == "f.yaml:2:4: error: YAML syntax error: found duplicate anchor 'x'; first occurrence, " \
                            "second occurrence"


def test_a_character_yaml_refuses_is_located(loader):
    assert refusal("a: 1\nb: \x07\n").startswith("f.yaml:2:4: error: YAML does not allow the character U+0007")


DEEP = "x: " + "[" * 201 + "]" * 201 + "\n"  # the mapping is level 1: the 200th '[' (column 4 + 199) is level 201
# after 'a: 1\na: 2\n' the mapping, a, 1, a, 2, x and the list are 7 values: the 500,001st is the
# 499,994th 1, at column 5 + 3 * 499,993 = 1,499,984
MANY = "x: [" + "1, " * 500_000 + "1]\n"


@pytest.mark.parametrize("text, first", [
    # the limits come first, wherever they are passed: before a duplicate key, a bad tag or an undefined alias
    ("a: 1\na: 2\n" + DEEP, "f.yaml:3:203: error: the YAML is nested more than 200 levels deep"),
    ("a: !!set {}\n" + DEEP, "f.yaml:2:203: error: the YAML is nested more than 200 levels deep"),
    ("a: *nowhere\n" + DEEP, "f.yaml:2:203: error: the YAML is nested more than 200 levels deep"),
    ("a: 1\n---\n" + DEEP, "f.yaml:3:203: error: the YAML is nested more than 200 levels deep"),
    ("a: 1\na: 2\n" + MANY, "f.yaml:3:1499984: error: the YAML has more than 500,000 values"),
    # ... but not past a syntax error: the file is not read beyond it
    ("a: [1\nb: 2\n" + DEEP, "f.yaml:2:2: error: YAML syntax error"),
    # then the syntax, libyaml's and the composer's, in file order, before any other problem
    ("a: 1\na: 2\nb: [1\n", "f.yaml:4:1: error: YAML syntax error: while parsing a flow sequence"),
    ("a: &r [*r]\nb: *nowhere\n", "f.yaml:2:4: error: YAML syntax error: found undefined alias"),
    ("a: 1\na: 2\n---\nb: 1\n", "f.yaml:3:1: error: YAML syntax error: expected a single document"),
    ("a: *nowhere\nb: [1\n", "f.yaml:1:4: error: YAML syntax error: found undefined alias"),
    # then the rest, in file order
    ("a: !!set {}\nb: 1\nb: 2\n", "f.yaml:1:4: error: unsupported YAML tag 'tag:yaml.org,2002:set'"),
    ("b: 1\nb: 2\na: !!set {}\n", "f.yaml:2:1: error: duplicate key 'b' (first given at line 1)"),
])
def test_the_first_problem_is_the_one_composing_then_building_met_first(loader, text, first):
    assert refusal(text).startswith(first)


def test_expanded_aliases_are_counted_as_copies(loader):
    # l{i} stands for 10**(i+1) ones plus its lists; l5 stands for over 500,000 values
    lines = ["l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 7)]
    assert refusal("\n".join(lines) + "\n").startswith(
        "f.yaml:6:5: error: the YAML has more than 500,000 values when its aliases are expanded")
    nested = "a: &a " + "[" * 150 + "1" + "]" * 150 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n"
    # b's innermost list holds a (150 deep): 151 levels; the 51st from the inside, the 10th '[' (column
    # 4 + 9), is 201 deep
    assert refusal(nested).startswith("f.yaml:2:13: error: the YAML is nested more than 200 levels deep when its "
                                      "aliases are expanded")


def test_both_readers_read_every_bundled_spec_alike(monkeypatch):
    """The pure-Python fallback reads each bundled spec to the same values, places and weights."""

    def shape(value):
        if isinstance(value, YMap):
            return ("map", value.loc, value.weight, list(value.key_locs.items()), list(value.value_locs.items()),
                    [(key, type(key), shape(item)) for key, item in value.items()])
        if isinstance(value, YList):
            return ("list", value.loc, value.weight, list(value.item_locs), [shape(item) for item in value])
        return (type(value), value)

    texts = {name: path.read_text(encoding="utf-8") for name, path in bundled_specs().items()}
    assert len(texts) > 50
    read = {name: shape(parse_yaml(text, name)) for name, text in texts.items()}
    monkeypatch.setattr(yamlsrc, "_Loader", yaml.SafeLoader)
    for name, text in texts.items():
        assert shape(parse_yaml(text, name)) == read[name], name
