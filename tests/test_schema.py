"""The spec language's JSON Schema (`cnncalc schema`, specs/spec.schema.json): generated from the
registry, accepted by a real validator, true for the whole zoo, and strict where it can be."""
from __future__ import annotations

import json

import pytest
import yaml

from cnncalc.spec.bundled import bundled_specs
from cnncalc.spec.schema import spec_schema

from .conftest import ROOT, SPECS

jsonschema = pytest.importorskip("jsonschema")
SCHEMA_FILE = SPECS / "spec.schema.json"


@pytest.fixture(scope="module")
def validator():
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, text: str) -> list[str]:
    return [error.message for error in validator.iter_errors(yaml.safe_load(text))]


def test_the_committed_schema_is_the_generated_one(request):
    from cnncalc.render.jsonout import dumps

    fresh = dumps(spec_schema())
    if request.config.getoption("--update-golden"):
        SCHEMA_FILE.write_text(fresh, encoding="utf-8")
        return
    assert SCHEMA_FILE.read_text(encoding="utf-8") == fresh, "run pytest --update-golden"


@pytest.mark.parametrize("name, path", sorted(bundled_specs().items()))
def test_every_zoo_spec_is_valid_and_points_at_the_schema(validator, name, path):
    text = path.read_text(encoding="utf-8")
    assert _errors(validator, text) == []
    relative = "../" * name.count("/") + "spec.schema.json"
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={relative}"


@pytest.mark.parametrize("layer, fragment", [
    ("{op: convv, out: 3, kernel: 3}", "'convv' is not one of"),           # unknown op
    ("{op: conv, out: 3, kernal: 3}", "'kernal' is not one of"),           # misspelt field
    ("{op: conv, out: 3}", "is not valid under any of the given schemas"),  # kernel is required
    ("{op: conv, out: 0, kernel: 3}", "0 is not valid"),                    # out >= 1
    ("{op: conv, out: 3, kernel: 3, act: rellu}", "'rellu' is not one of"),
    ("{op: dropout, p: 1.5}", "1.5 is not valid"),                          # p in [0, 1)
])
def test_the_schema_flags_mistakes(validator, layer, fragment):
    errors = _errors(validator, f"input: [3, 8, 8]\nlayers:\n  - {layer}\n")
    assert any(fragment in error for error in errors), errors


@pytest.mark.parametrize("layer", [
    "{op: conv, out: 3, kernel_size: 3}",          # an alias stands for a required field
    "{op: conv, out: 4*c, kernel: [1, k]}",        # expressions and variables
    "{op: maxpool, kernel: 2, pad: same}",
    "{op: zeropad, pad: [1, 2, 0, 3]}",
])
def test_the_schema_accepts_what_cnncalc_accepts(validator, layer):
    assert _errors(validator, f"input: [3, 8, 8]\nvars: {{c: 2, k: 3}}\nlayers:\n  - {layer}\n") == []


def test_a_block_call_is_an_op_the_registry_does_not_know(validator):
    text = ("input: [3, 8, 8]\nblocks:\n  unit: {params: [c], layers: [{op: conv, out: c, kernel: 3}]}\n"
            "layers:\n  - {op: unit, c: 8}\n")
    assert _errors(validator, text) == []


def test_the_cli_prints_the_schema():
    from typer.testing import CliRunner

    from cnncalc.cli import app

    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "cnncalc spec"
    assert (ROOT / "specs" / "spec.schema.json").exists()


def test_a_used_block_is_an_op_and_a_file_of_blocks_is_valid(validator):
    using = "use: [common.yaml, resnet50]\ninput: [3, 8, 8]\nlayers:\n  - {op: bottleneck, planes: 8}\n"
    assert _errors(validator, using) == []
    assert _errors(validator, "use: common.yaml\ninput: [3, 8, 8]\nlayers:\n  - {op: cbr, c: 8}\n") == []
    library = "vars: {act: relu}\nblocks:\n  cbr: {params: [c], layers: [{op: conv, out: c, kernel: 3}]}\n"
    assert _errors(validator, library) == []


@pytest.mark.parametrize("text, fragment", [
    ("use: [3]\ninput: [3, 8, 8]\nlayers:\n  - {op: relu}\n", "is not valid under any of the given schemas"),
    ("use: []\ninput: [3, 8, 8]\nlayers:\n  - {op: relu}\n", "is not valid under any of the given schemas"),
    ("vars: {a: 1}\n", "is not valid under any of the given schemas"),  # neither a network nor blocks
    ("blocks:\n  b: {layers: [{op: relu}]}\nlayers:\n  - {op: b}\n", "is not valid under any of the given schemas"),
    ("input: [3, 8, 8]\nlayers:\n  - {op: convv}\n", "'convv' is not one of"),  # no blocks, none used: checked
])
def test_the_schema_flags_a_bad_use(validator, text, fragment):
    errors = _errors(validator, text)
    assert any(fragment in error for error in errors), errors
