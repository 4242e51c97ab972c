"""The engine's fast path gives what the formulas give: plain numbers outside `derivations()`,
repeated layers sharing one validated prototype, expressions remembered by the values they read."""
from __future__ import annotations

import pytest

import cnncalc
from cnncalc.core.errors import SpecError
from cnncalc.core.formula import Formula, Q, bracket, derivations, output_elements, value_of
from cnncalc.layers import layer_types
from cnncalc.spec.graph import build
from cnncalc.spec.spec import parse_spec


def test_q_is_a_plain_number_unless_deriving():
    assert Q("C", 3) == 3 and bracket(3) == 3 and output_elements((4, 5, 6)) == 120  # 4 x 5 x 6
    with derivations():
        formula = bracket(Q("C", 3) + 1) * output_elements((4, 5, 6))
        assert isinstance(formula, Formula)
        assert formula.symbols() == "(C + 1) × C_out × H' × W'" and formula.value == 480  # 4 x 120


@pytest.mark.parametrize("cls", layer_types(), ids=lambda cls: cls.op)
def test_every_rule_gives_the_same_number_both_ways(cls):
    graph = build(parse_spec(cls.example_spec(), f"{cls.op}.yaml"))
    for node in graph.nodes:
        layer, inputs, output = node.layer, list(node.input_shapes), node.output_shape
        fast = (layer.params(inputs, output), layer.buffers(inputs, output), layer.costs(inputs, output))
        with derivations():
            params, buffers, costs = layer.params(inputs, output), layer.buffers(inputs, output), \
                layer.costs(inputs, output)
        assert fast[0] == value_of(params) and fast[1] == value_of(buffers)
        assert fast[2] == {term: value_of(value) for term, value in costs.items()}


REPEATED = """input: [3, 16, 16]
layers:
  - {op: conv, name: a, out: 4, kernel: 3, bias: true}
  - {op: conv, name: b, out: 4, kernel: 3, stride: 2, pad: 1, bias: true}
  - {op: conv, name: c, out: 4, kernel: 3, stride: 2, pad: 1, bias: true}
"""


def test_repeated_layers_share_a_prototype_but_keep_their_names_and_places():
    graph = build(parse_spec(REPEATED, "net.yaml"))
    a, b, c = (node.layer for node in graph.nodes)
    assert b.prototype is c.prototype is b and a.prototype is a
    column = REPEATED.splitlines()[4].index("stride: 2") + len("stride: ") + 1
    assert (c.name, str(c.loc), str(c.field_locs["stride"])) == ("c", "net.yaml:5:5", f"net.yaml:5:{column}")
    report = cnncalc.analyze(REPEATED)
    # b: 14 -> 7 (pad 1, stride 2, (14 + 2 - 3)/2 + 1 = 7.5 -> 7); c: 7 -> 4 ((7 + 2 - 3)/2 + 1 = 4)
    assert [row.output_shape for row in report.rows] == [(4, 14, 14), (4, 7, 7), (4, 4, 4)]
    assert [row.params for row in report.rows] == [112, 148, 148]  # 4 x 3 x 3 x 3 + 4, then 4 x 4 x 9 + 4


def test_equal_values_of_other_types_are_not_shared():
    # `bias: 1` after `bias: true`: 1 == True in Python, but the second is still refused
    text = "input: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 1, bias: true}\n" \
           "  - {op: conv, name: x, out: 4, kernel: 1, bias: 1}\n"
    with pytest.raises(SpecError, match="layer 'x', field 'bias': must be true or false, got 1"):
        build(parse_spec(text, "net.yaml"))
    text = "input: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 1}\n  - {op: conv, name: y, out: 4.0, kernel: 1}\n"
    with pytest.raises(SpecError, match=r"layer 'y', field 'out': must be a positive whole number, got 4\.0"):
        build(parse_spec(text, "net.yaml"))


def test_every_repeated_layer_keeps_its_own_warning():
    text = "input: [3, 7, 7]\nlayers:\n  - {op: maxpool, name: p, kernel: 1, stride: 1}\n" \
           "  - {op: conv, name: a, in: p, out: 2, kernel: 3, stride: 3}\n" \
           "  - {op: conv, name: b, in: p, out: 2, kernel: 3, stride: 3}\n  - {op: add, in: [a, b]}\n"
    notes = cnncalc.analyze(text).warnings
    assert [(note.layer, note.loc.line) for note in notes] == [("a", 4), ("b", 5)]  # (7 - 3)/3 + 1 = 2.33 both


def test_remembered_expressions_keep_their_types():
    text = "input: [3, 8, 8]\nvars:\n  c: 1\nlayers:\n  - {op: conv, out: c + 3, kernel: 1}\n"
    assert cnncalc.analyze(text).rows[0].output_shape == (4, 8, 8)  # 1 + 3
    with pytest.raises(SpecError, match="'\\+' needs numbers, got True"):
        cnncalc.analyze(text, set={"c": True})  # True == 1 in Python: a memo by value alone would answer 4
    with pytest.raises(SpecError, match="unknown variable 'd'"):
        cnncalc.analyze(text.replace("c + 3", "d + 3"))


def test_explain_after_the_fast_engine_prints_formulas(tmp_path):
    from cnncalc.analysis.conventions import TEXTBOOK
    from cnncalc.analysis.engine import analyze
    from cnncalc.analysis.explain import explain

    graph = build(parse_spec(REPEATED, "net.yaml"))
    report = analyze(graph)
    steps = {step.label: step for step in explain(graph, report, TEXTBOOK, ["c"])[0].steps}
    assert steps["params"].equation() == "params = C_out × C_in × K × K + C_out = 4 × 4 × 3 × 3 + 4 = 148"


def test_a_copy_to_change_keeps_nothing_derived():
    import copy

    from cnncalc.layers.fields import padding

    graph = build(parse_spec(REPEATED, "net.yaml"))
    layer = graph.nodes[2].layer  # c: 7 -> 4 with pad 1, its window axes cached, a copy of b
    clone = copy.copy(layer)
    clone.pad = padding(0)  # as the grader tries another padding
    assert clone.prototype is clone and layer.prototype is graph.nodes[1].layer
    assert clone.output_shape([(4, 7, 7)], lambda *args: None) == (4, 3, 3)  # (7 - 3)/2 + 1 = 3
    assert layer.output_shape([(4, 7, 7)], lambda *args: None) == (4, 4, 4)


def test_rows_made_at_once_are_the_dataclass():
    from dataclasses import FrozenInstanceError, asdict, replace

    from cnncalc.analysis.report import Row

    row = cnncalc.analyze(REPEATED).rows[0]
    assert row == Row(**asdict(row) | {"cells": row.cells})  # equal to one made field by field
    assert replace(row, name="z").name == "z" and hash(row) == hash(replace(row))
    with pytest.raises(FrozenInstanceError):
        row.name = "z"  # type: ignore[misc]


BLOCK_CALLS = """input: [3, 8, 8]
blocks:
  unit:
    params: [c]
    layers:
      - {op: conv, out: c, kernel: 1}
layers:
  - {op: unit, c: 4}
  - {op: unit, c: 4}
  - {op: conv, out: "4 * (i + 1)", kernel: 1, repeat: 2}
"""


def test_a_block_called_alike_shares_its_layers_but_not_across_other_values():
    graph = build(parse_spec(BLOCK_CALLS, "net.yaml"))
    first, second, copy0, copy1 = graph.nodes
    assert second.layer.prototype is first.layer and second.name == "unit2.conv1"
    assert copy0.layer.prototype is first.layer  # out: 4 * (0 + 1) = 4, the same fields as c: 4
    assert copy1.layer.prototype is copy1.layer and copy1.output_shape == (8, 8, 8)  # 4 * (1 + 1) = 8
    assert [str(node.layer.loc) for node in graph.nodes] == ["net.yaml:6:9"] * 2 + ["net.yaml:10:5"] * 2
    # the same block with c: 4.0: 4.0 == 4 in Python, but a float is no channel count
    with pytest.raises(SpecError, match=r"layer 'x', field 'c': must be a positive whole number, got 4\.0"):
        build(parse_spec(BLOCK_CALLS + "  - {op: unit, name: x, c: 4.0}\n", "net.yaml"))


def test_module_paths_are_numbered_inside_a_block_instance():
    text = BLOCK_CALLS.replace("{op: conv, out: c, kernel: 1}", "{op: conv, out: c, kernel: 1, module: 'seq.#'}") \
        .replace("{op: unit, c: 4}", "{op: unit, c: 4, module: 'stage.#'}")
    graph = build(parse_spec(text, "net.yaml"))
    # the instances take stage.0 and stage.1; inside each, its conv takes the first free number of seq
    assert [node.module for node in graph.nodes] == ["stage.0.seq.0", "stage.1.seq.0", "conv1.0", "conv1.1"]


def test_nodes_made_at_once_have_every_field():
    from dataclasses import fields

    from cnncalc.spec.graph import Node, Origin

    node = build(parse_spec(BLOCK_CALLS, "net.yaml")).nodes[3]
    for record, cls in ((node, Node), (node.origin, Origin)):
        assert set(vars(record)) == {f.name for f in fields(cls)}  # a new field must be given where it is made
        assert record == cls(**vars(record))


def _graph_dump(graph) -> list[str]:
    """Everything a node and a block instance record, as text (the layers by their fields and places)."""
    def layer(node) -> str:
        public = sorted((key, repr(value)) for key, value in vars(node.layer).items() if not key.startswith("_"))
        return f"{public} {sorted(node.layer.field_locs.items())}"

    return [f"{node.name} {node.inputs} {node.input_shapes} {node.output_shape} {node.notes} {node.module} "
            f"{node.train_only} {node.origin!r} {sorted(node.variables.items(), key=repr)} {layer(node)}"
            for node in graph.nodes] + [f"{call!r} {call.origin!r}" for call in graph.calls] + \
        [repr(graph.groups), repr(graph.notes), repr(graph.outputs)]


@pytest.mark.parametrize("name", ["resnet152", "inception_v3", "mobilenet_v2"])
def test_a_block_expansion_reused_is_the_one_made_afresh(name, monkeypatch):
    from cnncalc.analysis.engine import analyze
    from cnncalc.spec import graph as graph_module
    from cnncalc.spec.bundled import bundled_specs
    from cnncalc.spec.spec import load_spec

    spec = load_spec(bundled_specs()[name], name)
    replays = []
    replayed = graph_module._Builder._replayed
    monkeypatch.setattr(graph_module._Builder, "_replayed", lambda self, *args: replays.append(replayed(self, *args))
                        or replays[-1])
    reused = build(spec)
    # resnet152: every bottleneck after the first of its kind (42 of 50); inception_v3 and mobilenet_v2 fewer
    assert replays and all(replays) and (name != "resnet152" or len(replays) == 42)
    monkeypatch.setattr(graph_module._Builder, "_plain_block", lambda self, block: False)
    afresh = build(spec)
    assert _graph_dump(reused) == _graph_dump(afresh)
    assert analyze(reused) == analyze(afresh)


@pytest.mark.parametrize("reuse", [True, False])
def test_a_block_instance_whose_module_path_is_taken_is_reported_as_without_reuse(reuse, monkeypatch):
    from cnncalc.spec import graph as graph_module

    if not reuse:
        monkeypatch.setattr(graph_module._Builder, "_plain_block", lambda self, block: False)
    text = BLOCK_CALLS.replace("  - {op: unit, c: 4}\n  - {op: unit, c: 4}\n",
                               "  - {op: unit, c: 4}\n  - {op: conv, out: 4, kernel: 1, module: unit2.conv1}\n"
                               "  - {op: unit, c: 4}\n")
    # the second instance, unit2, would put its conv at unit2.conv1, which the plain conv took (line 9)
    with pytest.raises(SpecError, match=r"net.yaml:6:9: error: layer 'unit2.conv1', field 'module': "
                                        r"module path 'unit2.conv1' is taken \(line 9\)"):
        build(parse_spec(text, "net.yaml"))


@pytest.mark.parametrize("cls", layer_types(), ids=lambda cls: cls.op)
def test_a_layer_read_in_one_pass_is_the_one_made_field_by_field(cls):
    """from_mapping's one pass over the keys gives the layer that __init__'s parse of the same values
    gives: the same attributes, in the same order (each type's example values)."""
    from cnncalc.spec.yamlsrc import YMap

    spec = parse_spec(cls.example_spec(), "example.yaml")
    for item in spec.items:
        if not isinstance(item, YMap) or item.get("op") not in (cls.op, *cls.aliases) or \
                any(key not in ("op", *cls.field_names()) for key in item):
            continue
        values = {cls.canonical_field(key): value for key, value in item.items() if key != "op"}
        read = cls.from_mapping("x", item)
        made = cls("x", values, loc=item.loc, field_locs=dict(read.field_locs))
        assert list(vars(read).items()) == list(vars(made).items())


def test_cells_are_made_when_read_once_per_repeat():
    import pickle

    from cnncalc.layers import Cells

    text = "input: [3, 8, 8]\nlayers:\n" + "  - {op: conv, out: 3, kernel: 3, pad: 1, stride: 1}\n" * 2
    first, second = cnncalc.analyze(text).rows
    assert "cells" not in vars(first) and "cells" not in vars(second)  # analyze formats no table
    assert first.cells == Cells("3", "3", "1", "1") and second.cells is first.cells  # one layer's, shared
    copied = pickle.loads(pickle.dumps(cnncalc.analyze(text).rows[0]))  # pickled with its cells, not the layer
    assert "_cells" not in vars(copied) and copied.cells == Cells("3", "3", "1", "1")


@pytest.mark.parametrize("fields", [
    "{op: conv, out: 8, kernel: 3, pad: 1}",
    "{op: conv, out: 8, kernel: [1, 3], bias: false, dilation: 2}",
    "{op: conv, out: 4, kernel: 3, groups: 4, act: relu6}",  # depthwise
])
def test_conv_plain_counts_are_the_formulas_values(fields):
    """Conv computes its parameters and cost terms without naming the quantities outside derivations()."""
    graph = build(parse_spec(f"input: [4, 9, 11]\nlayers:\n  - {fields}\n", "conv.yaml"))
    layer, inputs, output = graph.nodes[0].layer, list(graph.nodes[0].input_shapes), graph.nodes[0].output_shape
    params, costs = layer.params(inputs, output), layer.costs(inputs, output)
    with derivations():
        named = {term: value_of(value) for term, value in layer.costs(inputs, output).items()}
        assert value_of(layer.params(inputs, output)) == params and named == costs
    assert type(params) is int and all(type(value) is int for value in costs.values())


def test_choice_remembers_accepted_names_and_still_refuses_others():
    from cnncalc.layers.fields import FieldProblem, choice

    parse = choice(("nearest", "bilinear"))
    assert parse("bilinear") == "bilinear" and parse("bilinear") == "bilinear"
    with pytest.raises(FieldProblem, match="must be one of nearest, bilinear; got 'bilinar'"):
        parse("bilinar")
    many = choice(tuple(f"n{i}" for i in range(300)))
    for i in range(300):
        assert many(f"n{i}") == f"n{i}"
    accepted = next(cell.cell_contents for cell in many.__closure__ if isinstance(cell.cell_contents, dict))
    assert len(accepted) == 256  # bounded: _MOST_CHOICES


def test_from_mapping_sets_what_the_constructor_sets_in_its_order():
    from cnncalc.layers.conv import Conv

    mapping = {"out": 8, "kernel": 3, "act": "relu", "stride": 2}
    made, constructed = Conv.from_mapping("c", mapping, skip=()), Conv("c", dict(mapping), field_locs=dict.fromkeys(mapping))
    assert list(vars(made)) == list(vars(constructed)) and vars(made) == vars(constructed)


@pytest.mark.parametrize("cls", layer_types(), ids=lambda cls: cls.op)
def test_figures_are_the_rules_numbers_and_leave_out_only_unweighed_terms(cls):
    """Layer.figures (the engine's one call per layer) gives params() and buffers() as plain values and
    costs(); given the terms a convention weighs, it may leave out others, and every convention's count
    is the same as of costs()."""
    from cnncalc.analysis.conventions import CONVENTIONS

    graph = build(parse_spec(cls.example_spec(), f"{cls.op}.yaml"))
    for node in graph.nodes:
        layer, inputs, output = node.layer, list(node.input_shapes), node.output_shape
        costs = layer.costs(inputs, output)
        assert layer.figures(inputs, output, None) == (value_of(layer.params(inputs, output)),
                                                       value_of(layer.buffers(inputs, output)), costs)
        for convention in CONVENTIONS.values():
            params, buffers, terms = layer.figures(inputs, output, convention.terms)
            assert terms.items() <= costs.items() and not convention.terms & (costs.keys() - terms)
            assert convention.count(terms) == convention.count(costs)


@pytest.mark.parametrize("act", [cls.op for cls in layer_types() if cls.is_activation])
def test_an_activation_reports_only_its_cost_terms(act):
    """FusedActivation leaves a fused activation's terms out when a convention weighs none of `cost_terms`."""
    from cnncalc.layers import REGISTRY

    graph = build(parse_spec(f"input: [4, 9, 11]\nlayers:\n  - {{op: {act}}}\n", "act.yaml"))
    node = graph.nodes[0]
    assert set(node.layer.costs(list(node.input_shapes), node.output_shape)) <= set(REGISTRY[act].cost_terms)


def test_no_field_is_a_control_key():
    """An item's control keys (op, name, in, repeat...) are never a layer's values: a field or alias of that
    name could not be given (the item plan reads a known field before it looks for a control key)."""
    from cnncalc.spec.graphdata import CONTROL_KEYS

    assert not [(cls.op, name) for cls in layer_types() for name in cls.field_names() if name in CONTROL_KEYS]


@pytest.mark.parametrize("cls", layer_types(), ids=lambda cls: cls.op)
def test_a_layer_made_from_its_plan_is_the_one_read_from_its_mapping(cls):
    """from_fields (a plain item's values as its plan keeps them) makes the layer from_mapping makes."""
    from cnncalc.spec.itemplan import ItemPlan
    from cnncalc.spec.yamlsrc import YMap

    spec = parse_spec(cls.example_spec(), "example.yaml")
    for item in spec.items:
        plan = ItemPlan(item) if isinstance(item, YMap) else None
        if plan is None or plan.layer is not cls or plan.content is None:
            continue
        made = cls.from_fields("x", item.loc, plan.field_locs, plan.given)
        read = cls.from_mapping("x", plan.values, skip=())
        assert made is not None and list(vars(made).items()) == list(vars(read).items())


def test_equal_layers_share_a_prototype_whether_literal_resolved_or_aliased():
    """Literal values, values read from variables and values given under an alias number their content
    alike: equal layers share one prototype."""
    text = """input: [3, 8, 8]
vars: {c: 4}
layers:
  - {op: conv, name: a, out: 4, kernel: 1}
  - {op: conv, name: b, out: c, kernel: 1}
  - {op: conv, name: d, filters: 4, kernel: 1}
  - {op: conv, name: e, out: 4, kernel: 1, bias: true}
"""
    nodes = {node.name: node.layer for node in build(parse_spec(text, "net.yaml")).nodes}
    assert nodes["b"].prototype is nodes["a"] and nodes["d"].prototype is nodes["a"]
    assert nodes["e"].prototype is nodes["e"]  # another value: another layer
    assert [nodes[n].name for n in "abde"] == ["a", "b", "d", "e"]
    assert nodes["b"].field_locs["out"].line == 5 and nodes["a"].field_locs["out"].line == 4  # each its own place


def test_a_layer_that_keeps_its_inputs_field_is_one_whose_rule_says_so():
    """The engine takes a one-input layer's receptive field as its input's, without asking, exactly when
    its type keeps Layer.receptive_field (whose rule gives a single input's field back)."""
    from cnncalc.layers import Layer
    from cnncalc.layers.window import RFAxis

    field = (RFAxis(3, 2, 1), RFAxis(5, 2, 1))
    for cls in layer_types():
        assert cls.keeps_field == (cls.receptive_field is Layer.receptive_field)
        if cls.keeps_field:
            assert Layer.receptive_field(object.__new__(cls), [field], [(1, 4, 4)], (1, 4, 4)) is field
    from cnncalc.layers import REGISTRY

    assert not REGISTRY["conv"].keeps_field and REGISTRY["relu"].keeps_field and REGISTRY["batchnorm"].keeps_field


def test_a_weightless_layer_is_one_that_keeps_layers_params_and_buffers():
    """figures() asks a type for its costs alone exactly when it keeps Layer's params and buffers (both 0)."""
    from cnncalc.layers import REGISTRY, Layer

    for cls in layer_types():
        assert cls.weightless == (cls.params is Layer.params and cls.buffers is Layer.buffers)
    assert REGISTRY["relu"].weightless and REGISTRY["add"].weightless and REGISTRY["mul"].weightless
    assert not REGISTRY["conv"].weightless and not REGISTRY["batchnorm"].weightless
