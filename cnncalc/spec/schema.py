"""The spec language as JSON Schema (`cnncalc schema`), generated from the layer registry and the
spec's own key lists, so it never drifts: editors that speak yaml-language-server complete ops and
fields and flag typos while typing (docs/spec.md says how to point them at it).

The schema is looser than cnncalc where JSON Schema cannot follow the language: any value may be an
expression (a string), and a spec that defines or uses blocks (`blocks:`, `use:`) may call them as
ops, so only a spec without either has its ops checked against the registry. A file of blocks
alone (no `input`, no `layers`), for other specs to `use:`, is valid too.
"""
from __future__ import annotations

from typing import Any

from ..core.figures import FIGURES
from ..layers import REGISTRY, Layer, layer_types
from ..layers.fields import Field
from .graph import CONTROL_KEYS, INPUT_KEYS
from .spec import BLOCK_KEYS, TOP_LEVEL_KEYS, VARIABLE_KEYS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
STRING = {"type": "string"}
EXPRESSION_OR_INT = {"anyOf": [{"type": "integer", "minimum": 1}, STRING]}
NAMES = {"anyOf": [STRING, {"type": "array", "items": STRING, "minItems": 1}]}
USED = {"type": "string", "minLength": 1}

# What each top-level key holds; a test checks that every key of the language is here.
TOP_LEVEL: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "description": "the network's name (default: the file name)"},
    "description": {"type": "string", "description": "one line, listed by `cnncalc specs`"},
    "input": {"type": "array", "items": EXPRESSION_OR_INT, "minItems": 1, "maxItems": 3,
              "description": "the input per sample: [C, H, W], [L, D] (tokens) or [F]; names make it symbolic"},
    "symbols": {"type": "array", "items": STRING, "description": "further symbols of a symbolic spec"},
    "use": {"anyOf": [USED, {"type": "array", "items": USED, "minItems": 1}],
            "description": "spec files (NAME.yaml, relative to this file's folder) or bundled specs (resnet50) "
                           "whose blocks and variables this spec uses (docs/spec.md)"},
    "vars": {"type": "object", "additionalProperties": {"anyOf": [
                 {"not": {"type": "object"}}, {"$ref": "#/$defs/variable"},
                 {"type": "object", "propertyNames": {"not": {"enum": list(VARIABLE_KEYS)}}}]},
             "description": "variables usable in any value: numbers, texts, lists, mappings (indexed as "
                            "scales[scale]); {default: ..., min/above: ..., max/below: ...} declares a range "
                            "(docs/spec.md)"},
    "blocks": {"type": "object", "additionalProperties": {"$ref": "#/$defs/block"},
               "description": "reusable, parametrised groups of layers"},
    "layers": {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 1,
               "description": "the layers, read top to bottom"},
    "outputs": {**NAMES, "description": "the network's output layer(s) (default: the last layer)"},
    "torchvision": {"anyOf": [STRING, {"type": "object", "required": ["model"], "additionalProperties": False,
                                       "properties": {"model": STRING, "kwargs": {"type": "object"}}}],
                    "description": "the torchvision constructor this spec equals"},
    "timm": {"anyOf": [STRING, {"type": "object", "required": ["model"], "additionalProperties": False,
                                "properties": {"model": STRING, "kwargs": {"type": "object"}}}],
             "description": "the timm model (timm.create_model) this spec equals"},
    "budget": {"type": "object", "minProperties": 1, "additionalProperties": False,
               "properties": {name: {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, STRING],
                                     "description": f"limit on {figure.description}"}
                              for name, figure in FIGURES.items()},
               "description": "limits that `cnncalc check` and `cnncalc sweep` hold the network to "
                              "(25M, 4.1e9, 200MiB, 24GB)"},
}
BOUND = {"type": "number"}
VARIABLE: dict[str, dict[str, Any]] = {
    "default": {"description": "the value unless --set gives another (an expression is allowed)"},
    "min": {**BOUND, "description": "the smallest value allowed"},
    "max": {**BOUND, "description": "the largest value allowed"},
    "above": {**BOUND, "description": "values must be larger than this"},
    "below": {**BOUND, "description": "values must be smaller than this"},
    "description": {"type": "string"},
}

CONTROL: dict[str, dict[str, Any]] = {
    "op": {"type": "string", "description": "the layer type (`cnncalc ops`) or a block of the spec"},
    "name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_\-]*$", "description": "unique layer name"},
    **{key: {**NAMES, "description": "the layer(s) it reads (default: the layer above)"} for key in INPUT_KEYS},
    "repeat": {"anyOf": [{"type": "integer", "minimum": 0}, STRING], "description": "how many copies (0: none)"},
    "first": {"type": "object", "description": "fields that differ for the first copy of a repeat"},
    "when": {"anyOf": [{"type": "boolean"}, STRING], "description": "keep the layer only when this holds"},
    "chain": {"anyOf": [{"type": "boolean"}, STRING],
              "description": "whether each copy of a repeat reads the one before (default) or its own `in:`"},
    "share": {**STRING, "description": "the layer whose module (weights) this one uses again"},
    "module": {"anyOf": [STRING, {"type": "integer", "minimum": 0}],
               "description": "its module path in an exported PyTorch file (downsample.0, features.{2 + i}, #, .)"},
    "train_only": {"anyOf": [{"type": "boolean"}, STRING],
                   "description": "runs only in training (auxiliary classifiers): left out of inference totals"},
    "checkpoint": {"anyOf": [{"type": "boolean"}, STRING],
                   "description": "activation checkpointing of this layer or block instance (`cnncalc memory`)"},
    "held": {"anyOf": [{"type": "boolean"}, STRING],
             "description": "a Python variable keeps its output until the block instance around it returns "
                            "(true) or a later layer of the block has run (its name): `cnncalc memory`"},
}
BLOCK: dict[str, dict[str, Any]] = {
    "params": {"type": "array", "items": {"anyOf": [STRING, {"type": "object", "minProperties": 1,
                                                             "maxProperties": 1}]},
               "description": "parameters: a name (required) or {name: default}"},
    "inputs": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_\-]*\*?$"},
               "minItems": 1, "description": "named inputs; the last may end in '*' to take the rest"},
    "layers": {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 1},
    "output": {"type": "string", "description": "the layer whose output is the block's (default: the last)"},
    "outputs": {"type": "array", "items": STRING, "minItems": 1,
                "description": "several outputs: layers of the block (`f.*`: every copy of a repeat)"},
    "description": {"type": "string"},
}


def layer_schema(cls: type[Layer], values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One layer type: its fields (and their aliases) beside the control keys, nothing else. The
    kinds of value are shared through `values` (name -> schema, filled here)."""
    properties = {key: _shared(field, values) for field in cls.fields for key in (field.name, *field.aliases)}
    required = [field.name for field in cls.fields if field.required]
    # the control keys' values are checked by "item"; here only which keys may stand
    schema: dict[str, Any] = {"properties": properties, "propertyNames": {"enum": [*CONTROL, *properties]}}
    if required:  # an alias may stand for a required field: each must be given one way or another,
        # unless the layer shares another's module (`share: LAYER`), whose fields it takes
        schema["if"] = {"not": {"required": ["share"]}}
        schema["then"] = {"allOf": [{"anyOf": [{"required": [key]} for key in (field.name, *field.aliases)]}
                                    for field in cls.fields if field.required]}
    if cls.summary:
        schema["description"] = cls.summary
    return schema


def _shared(field: Field, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A `$ref` to the field's kind of value (named after its parser), with the field's own doc."""
    schema = dict(field.json_schema)
    doc = schema.pop("description", "")
    name = field.parse.__name__ if field.parse.__name__ != "parse" else "value"
    key, count = name, 1
    while key in values and values[key] != schema:
        count += 1
        key = f"{name}_{count}"
    values[key] = schema
    return {"$ref": f"#/$defs/{key}", "description": doc} if doc else {"$ref": f"#/$defs/{key}"}


def spec_schema() -> dict[str, Any]:
    missing = (set(TOP_LEVEL_KEYS) - set(TOP_LEVEL) | set(CONTROL_KEYS) - set(CONTROL) | set(BLOCK_KEYS) - set(BLOCK)
               | set(VARIABLE_KEYS) - set(VARIABLE))
    if missing:
        raise RuntimeError(f"the schema has no entry for {sorted(missing)}")
    ops = sorted(REGISTRY)
    values: dict[str, dict[str, Any]] = {}
    layers = {cls.op: layer_schema(cls, values) for cls in layer_types()}
    by_op = [{"if": {"properties": {"op": {"const": op}}, "required": ["op"]},
              "then": {"$ref": f"#/$defs/{REGISTRY[op].op}"}} for op in ops]
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "cnncalc spec",
        "description": "A convolutional network for cnncalc (docs/spec.md).",
        "type": "object",
        # a network, or a file of blocks (and variables) for other specs to use
        "anyOf": [{"required": ["input", "layers"]},
                  {"required": ["blocks"], "not": {"anyOf": [{"required": ["input"]}, {"required": ["layers"]}]}}],
        "properties": TOP_LEVEL,
        "additionalProperties": False,
        # Without blocks, defined or used, every op is a layer type: a typo is flagged.
        "if": {"not": {"anyOf": [{"required": ["blocks"]}, {"required": ["use"]}]}},
        "then": {"properties": {"layers": {"items": {"properties": {"op": {"enum": ops}}}}}},
        "$defs": {
            "item": {"type": "object", "required": ["op"], "properties": CONTROL, "allOf": by_op},
            "block": {"type": "object", "required": ["layers"], "properties": BLOCK, "additionalProperties": False},
            "variable": {"type": "object", "required": ["default"], "properties": VARIABLE,
                         "additionalProperties": False},
            **layers,
            **values,
        },
    }
