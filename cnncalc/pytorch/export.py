"""`cnncalc export`: the lowered graph as a standalone PyTorch file, or as ONNX through torch."""
from __future__ import annotations

import inspect
import keyword
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.errors import OptionError
from ..core.gcpause import paused_gc
from ..spec.graph import INPUT_NAME, Graph
from .lowering import _class_name
from .naming import ModuleTree


def pytorch_source(graph: Graph, origin: str, flat: bool = False) -> str:
    """A Python file that builds the same model with torch only: a class per block (`flat`: one class
    registering every layer by its module path, one forward line per layer)."""
    return pytorch_export(graph, origin, flat)[0]


def pytorch_export(graph: Graph, origin: str, flat: bool = False) -> tuple[str, list[str]]:
    """The file `pytorch_source` writes, and notes for the user on what it could not write as the spec says:
    each block written out where it is used instead of as a class, and why; or why the whole file is flat."""
    from .codegen import NotIdiomatic

    if flat:
        return flat_source(graph, origin), []
    try:
        return _idiomatic_source(graph, origin)
    except NotIdiomatic as exc:  # a module tree the classes cannot build (see docs/export.md): the flat form
        why = ": ".join(str(part) for part in exc.args)
        return flat_source(graph, origin), [f"the file is flat (one class registering every layer by its module "
                                            f"path, no class per block): {why}"]


def idiomatic_source(graph: Graph, origin: str) -> str:
    """A class per spec block and one for the model, in ruff format's style, needing torch only."""
    return _idiomatic_source(graph, origin)[0]


def _idiomatic_source(graph: Graph, origin: str) -> tuple[str, list[str]]:
    from .codegen import Generator
    from .pyformat import literal

    with paused_gc():  # it only allocates; the collector's passes would grow the cost per layer
        generator = Generator(graph)
        classes, model = generator.write()
    code = "\n".join(line for c in (*classes, model) for line in (*c.init, *(c.forward or [])))
    used = {name for name in _helper_names() if re.search(rf"\b{name}\(", code)}
    used |= {base for name in used for base in _helper_bases(name)}  # a class of the file subclasses them
    helpers = [_helper_source_of(name).rstrip("\n") for name in _helper_names() if name in used]
    if re.search(r"\bmake_divisible\(", code):
        helpers.insert(0, _function_source("make_divisible"))
    everything = "\n".join([code, *helpers])
    imports = [line for line, needed in (("import math", "math." in everything),
                                         ("import torch", "torch." in everything),
                                         ("import torch.nn.functional as F", "F." in everything),
                                         ("from torch import nn", True)) if needed]
    lines = [*_docstring(graph, origin, model.name), "", *imports, ""]
    constants = [f"{constant} = {literal(generator.constant_values[constant])}"
                 for constant in generator.constant_values if constant in generator.used_constants]
    if constants:
        lines += ["", *constants, ""]
    for helper in helpers:
        lines += ["", helper, ""]
    for written in (*classes, model):
        lines += ["", *_class_lines(written), ""]
    notes = [f"block '{block}' is written out where it is used, not as a class: "
             f"{generator.why[block]}" for block in generator.written_out()]
    return "\n".join(lines[:-1]) + "\n", notes


def _class_lines(written: Any) -> list[str]:
    from .pyformat import body

    if not written.base:  # a function returning modules
        return [*body([f"def {written.name}({', '.join(written.signature)}):"], 0), *body(written.init, 4)]
    lines = [f"class {written.name}({written.base}):",
             *body([f"def __init__(self{''.join(', ' + p for p in written.signature)}):"], 4),
             *body(written.init, 8)]
    if written.forward is not None:
        lines += ["", f"    def forward(self, {written.forward_args}):", *body(written.forward, 8)]
    return lines


def _function_source(name: str) -> str:
    """A function of the spec's expressions (make_divisible) as the exported file carries it: no type hints,
    and no guard clauses (`if ...: raise`), which check a spec's arguments where the file passes its own."""
    import ast

    from ..spec import expr

    tree = ast.parse(inspect.getsource(getattr(expr, name)))
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    for argument in function.args.args:
        argument.annotation = None
    function.returns = None
    function.body = [statement for statement in function.body if not _guard(statement)]
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        import textwrap

        from .pyformat import LINE

        text = " ".join(first.value.value.split())  # the docstring wrapped at the file's 88 columns
        first.value.value = "\n    ".join(textwrap.wrap(text, LINE - 10, break_long_words=False))
    return ast.unparse(tree)


def _guard(statement: Any) -> bool:
    import ast

    return isinstance(statement, ast.If) and not statement.orelse and all(
        isinstance(inner, ast.Raise) for inner in statement.body)


def _docstring(graph: Graph, origin: str, model: str) -> list[str]:
    """The file's docstring, its paragraphs wrapped at 88 columns (ruff's E501 at black's line length)."""
    import textwrap

    from ..analysis.engine import analyze
    from .pyformat import LINE

    totals = analyze(graph).totals
    shape = ", ".join(str(d) for d in graph.input_shape)
    title = f'"""{docstring_text(graph.name)}: {docstring_text(graph.description or "a network")}.'
    generated = (f"Generated by cnncalc {__version__} from {docstring_text(origin)}: {totals.params:,} parameters, "
                 f"{totals.macs:,} multiply-adds for a {'x'.join(str(d) for d in graph.input_shape)} input. "
                 "It needs only torch:")
    wrap = textwrap.TextWrapper(LINE, break_long_words=False, break_on_hyphens=False)
    return [*wrap.wrap(title), "", *wrap.wrap(generated), "",
            f"    model = {model}().eval()", f"    y = model(torch.zeros(1, {shape}))", '"""']


def docstring_text(text: str) -> str:
    """Spec text as it may stand in the file's docstring: never ending it (`\"""`), no backslash read as an
    escape, no control character (the file is Python that a user imports: nothing of the spec runs)."""
    out = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in out)


def _helper_names() -> list[str]:
    from torch import nn

    from . import modules

    return [name for name, value in vars(modules).items()
            if isinstance(value, type) and issubclass(value, nn.Module) and value.__module__ == modules.__name__]


def _helper_bases(name: str) -> list[str]:
    """The helper classes of modules.py that helper `name` subclasses."""
    from . import modules

    return [base.__name__ for base in getattr(modules, name).__mro__[1:] if base.__module__ == modules.__name__]


def _helper_source_of(name: str) -> str:
    from . import modules

    return inspect.getsource(getattr(modules, name))


def flat_source(graph: Graph, origin: str) -> str:
    """One class registering every layer by its module path; a forward line per layer."""
    class_name = _class_name(graph.name)
    variables = _variable_names([INPUT_NAME, *(node.name for node in graph.nodes)])
    lines = [
        f'"""{docstring_text(graph.name)}: {docstring_text(graph.description or "a network")}.',
        "",
        f"Generated by cnncalc {__version__} from {docstring_text(origin)}; it needs only torch.",
        f"    model = {class_name}().eval()",
        f"    y = model(torch.zeros(1, {', '.join(str(d) for d in graph.input_shape)}))",
        '"""',
        _helper_source(),
        "",
        f"class {class_name}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    placed = ModuleTree(graph).placed
    registered = set()
    for item in placed:
        for path, description in item.modules:
            if path not in registered:  # a layer that shares a module (`share:`) calls it by the same path
                registered.add(path)
                lines.append(f"        self._add({path!r}, {description.source()})")
    lines += [
        "",
        "    def _add(self, path, module):",
        '        """Register a module under a dotted name (layer1.0.conv1), making containers on the way."""',
        '        *parents, leaf = path.split(".")',
        "        node = self",
        "        for part in parents:",
        "            if part not in node._modules:",
        "                node.add_module(part, nn.Module())",
        "            node = node._modules[part]",
        "        node.add_module(leaf, module)",
        "",
        f"    def forward(self, {variables[INPUT_NAME]}):",
    ]
    for item in placed:
        value = ", ".join(variables[ref] for ref in item.node.inputs)
        for path, _ in item.modules:
            simple = path.isidentifier() and not keyword.iskeyword(path)
            value = f"{f'self.{path}' if simple else f'self.get_submodule({path!r})'}({value})"
        lines.append(f"        {variables[item.node.name]} = {value}")
    outputs = ", ".join(variables[name] for name in graph.outputs)
    lines.append(f"        return {outputs}")
    return "\n".join(lines) + "\n"


def _helper_source() -> str:
    """torch_modules.py as it is: imports and the helper classes."""
    from . import modules as torch_modules

    source = inspect.getsource(torch_modules)
    source = source.split("\n\n# How `cnncalc export` writes", 1)[0] + "\n"  # the classes, not export's table
    return source.split('"""', 2)[2].lstrip("\n")  # drop the module docstring


def _variable_names(names: list[str]) -> dict[str, str]:
    taken: set[str] = set()
    result = {}
    for name in names:
        base = re.sub(r"\W", "_", name)
        if base[0].isdigit() or keyword.iskeyword(base) or base in ("self", "torch", "nn", "F"):
            base = f"x_{base}"
        candidate, count = base, 1
        while candidate in taken:
            count += 1
            candidate = f"{base}_{count}"
        taken.add(candidate)
        result[name] = candidate
    return result


def onnx_bytes(graph: Graph, model: Any = None) -> bytes:
    """The model (by default `to_module(graph)`) exported to ONNX with a batch-1 input, as bytes.

    With onnxscript installed: torch's dynamo exporter (opset 18), constants folded but no layer fused, so
    that every layer of the spec is a node named `/<layer>/<op>` (`/layer1.0.bn1/BatchNormalization`) and
    the initializers are the model's own weights under its state_dict names. Without it: the TorchScript
    exporter (opset 17), which folds batch norm into the convolution before it and names nodes after the
    layer's own name only (`/conv1_1/Conv`). A failure is a located SpecError (in a layer) or an
    OptionError, never a traceback."""
    from .lowering import require_torch, to_module
    from .verify import located_failures

    torch = require_torch()
    try:
        import onnx  # noqa: F401  (both exporters write through it)
    except ImportError:
        raise OptionError("ONNX export needs the onnx package, which is not installed",
                          hint="pip install 'cnncalc[torch]' (or: pip install onnx onnxscript)") from None
    model = to_module(graph) if model is None else model
    sample = (torch.zeros(1, *graph.input_shape),)
    names = [name.replace(".", "_") for name in graph.outputs]
    try:
        with located_failures(graph, model, "the ONNX exporter"):
            return _onnx_export(torch, model, sample, names)
    except RuntimeError as exc:  # the exporter's own errors (OnnxExporterError), outside any layer
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OptionError(f"the ONNX export failed: {message}",
                          hint="--to pytorch writes the model as code; please report this with the spec") from None


def _onnx_export(torch: Any, model: Any, sample: tuple, names: list[str]) -> bytes:
    import io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _installed("onnxscript"):
            program = torch.onnx.export(model, sample, input_names=["input"], output_names=names, opset_version=18,
                                        dynamo=True, optimize=False, verbose=False)
            return _tidy(program.model)
        buffer = io.BytesIO()
        torch.onnx.export(model, sample, buffer, input_names=["input"], output_names=names, opset_version=17,
                          dynamo=False)
        return buffer.getvalue()


def _tidy(model: Any) -> bytes:
    """The dynamo exporter's graph with its constants folded (the shape arithmetic of a conv without bias)
    and no fusion (torch's own optimisation folds batch norm into convs), nodes named by layer."""
    from collections import Counter

    from onnxscript import ir
    from onnxscript.optimizer import fold_constants

    fold_constants(model)
    ir.passes.common.RemoveUnusedNodesPass()(model)
    seen: Counter[str] = Counter()
    for node in model.graph:
        scopes = node.metadata_props.get("pkg.torch.onnx.name_scopes", "")
        layer = _layer_scope(scopes)
        if layer:
            base = f"/{layer}/{node.op_type}"
            seen[base] += 1
            node.name = base if seen[base] == 1 else f"{base}_{seen[base] - 1}"
    return ir.to_proto(model).SerializeToString()


def _layer_scope(scopes: str) -> str:
    """The layer a node comes from: the module the model's forward called (`['', 'layer1.0.bn1', ...]`)."""
    import ast

    try:
        parts = ast.literal_eval(scopes)
    except (ValueError, SyntaxError):
        return ""
    return parts[1] if isinstance(parts, list) and len(parts) > 1 and isinstance(parts[1], str) else ""


def _installed(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def write_new(path: Path, data: bytes | str, force: bool, inputs: Sequence[Path] = ()) -> None:
    from ..core.errors import OptionError
    from ..core.io import write_atomic

    if os.path.isfile(path) and not force:  # a folder, pipe or device: write_atomic says what it is
        raise OptionError("the file exists; add --force to replace it", file=str(path))
    write_atomic(path, data, inputs=inputs)
