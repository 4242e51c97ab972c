"""The package's layout keeps its promises (docs/architecture.md): stages import only from
themselves and earlier stages, no module imports itself back through others, the layer registry
owns everything per type, and the docs' tables of layer types are the registry's."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cnncalc.layers import REGISTRY, layer_types
from cnncalc.render.catalog import layer_types_markdown, parameters_markdown

from .conftest import ROOT

PACKAGE = ROOT / "cnncalc"
# The pipeline's stages in order: a module may import from its own stage and earlier ones.
STAGES = ["core", "layers", "spec", "analysis", "api", "grade", "pytorch", "render", "cli"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """Every cnncalc module `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("cnncalc")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("cnncalc"):
                continue
            for alias in node.names:  # `from . import modules` names a submodule
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return found


# The one call back into a later stage: IPython's display protocol asks a Report itself for its HTML
# and markdown (`Report._repr_html_`), and how it looks is render/'s business. The import sits inside
# those methods (test below), so importing the analysis never loads the renderers.
PRESENTATION_HOOKS = {("cnncalc.analysis.report", "cnncalc.render.notebook")}
GRAPH = {name: _imports(name, path) - {target for module, target in PRESENTATION_HOOKS if module == name}
         for name, path in MODULES.items()}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package itself (its lazy public API) and __main__ stand above the stages
    return STAGES.index(parts[1]) if parts[1] in STAGES else None


def test_every_module_belongs_to_a_stage():
    loose = [name for name in MODULES if name.count(".") >= 1 and _stage(name) is None and name != "cnncalc.__main__"]
    assert loose == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_a_later_stage(module):
    mine = _stage(module)
    if mine is None:
        return
    later = sorted(target for target in GRAPH[module] if (_stage(target) or 0) > mine)
    assert later == [], f"{module} ({STAGES[mine]}) imports from later stages: {later}"


def test_no_import_cycle():
    """Depth-first search over every import (lazy ones too): no module reaches itself again."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(GRAPH.get(name, ())):
            if target not in GRAPH or target == name:
                continue
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    # a package's __init__ that imports its own submodules is not a cycle through them
    real = [cycle for cycle in cycles if not all(step.startswith(cycle[0] + ".") or step == cycle[0]
                                                 for step in cycle)]
    assert real == []


@pytest.mark.parametrize("module, target", sorted(PRESENTATION_HOOKS))
def test_presentation_hooks_import_their_renderer_inside_a_function_only(module, target):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not any(target.rpartition(".")[2] in ast.dump(node) for node in top)
    assert target in _imports(module, MODULES[module])  # the hook exists: the exemption is not stale


def test_the_static_stages_never_import_torch_or_numpy_at_the_top():
    """torch is imported inside the functions that need it; the stages before pytorch/ and the
    renderers never import torch or numpy at all."""
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        names = {alias.name for node in top if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in top if isinstance(node, ast.ImportFrom)}
        heavy = {n for n in names if n.split(".")[0] in ("torch", "numpy", "sympy", "matplotlib")}
        assert not heavy or name == "cnncalc.pytorch.modules", (name, heavy)


# ---- the registry owns every per-type fact -------------------------------------------------------


@pytest.mark.parametrize("cls", layer_types(), ids=lambda cls: cls.op)
def test_each_layer_type_has_an_example_that_uses_it(cls):
    from cnncalc.spec.graph import build
    from cnncalc.spec.spec import parse_spec

    graph = build(parse_spec(cls.example_spec(), f"{cls.op}.yaml"))
    assert any(type(node.layer) is cls for node in graph.nodes)


def test_every_layer_type_has_a_summary_and_documented_fields():
    for cls in layer_types():
        assert cls.summary, cls.op
        for field in cls.fields:
            assert field.doc, (cls.op, field.name)


def test_fields_are_typed_attributes():
    """`kernel: tuple[int, int] = spec_field(...)`: the annotation is there for type checkers."""
    for cls in layer_types():
        annotations = {}
        for klass in reversed(cls.__mro__):
            annotations.update(getattr(klass, "__annotations__", {}))
        for field in cls.fields:
            assert field.name in annotations, (cls.op, field.name)


# Words that are layer types' names but mean something else where they stand.
NOT_LAYER_TYPES = {
    ("roofline.py", "conv"),  # the peak benchmark's convolution kernel, a JSON key
    ("roofline.py", "matmul"),  # the peak benchmark's matrix-product kernel, a JSON key
    ("columns.py", "bn"),  # billions, as a unit in a sheet's header
}


def test_the_engine_renderers_and_grader_never_name_a_layer_type():
    ops = set(REGISTRY)
    for stage in ("analysis", "render", "grade"):
        for path in sorted((PACKAGE / stage).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            named = {op for op in ops if re.search(rf"""["']{re.escape(op)}["']""", text)
                     and (path.name, op) not in NOT_LAYER_TYPES}
            assert not named, f"{path.name} names layer types {sorted(named)}"


# ---- docs generated from the registry ------------------------------------------------------------

GENERATED = {
    ("spec.md", "layer-types"): layer_types_markdown,
    ("conventions.md", "parameters"): parameters_markdown,
}


def _section(text: str, marker: str) -> tuple[int, int]:
    start = text.index(f"<!-- generated: {marker} -->\n") + len(f"<!-- generated: {marker} -->\n")
    return start, text.index(f"<!-- end: {marker} -->", start)


@pytest.mark.parametrize("doc, marker", list(GENERATED))
def test_docs_tables_are_the_registrys(request, doc, marker):
    path = ROOT / "docs" / doc
    text = path.read_text(encoding="utf-8")
    start, end = _section(text, marker)
    fresh = GENERATED[(doc, marker)]()
    if request.config.getoption("--update-golden"):
        path.write_text(text[:start] + fresh + text[end:], encoding="utf-8")
        return
    assert text[start:end] == fresh, f"docs/{doc} is stale; run pytest --update-golden"
