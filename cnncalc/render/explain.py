"""Rendering `cnncalc explain`: plain text (bold layer headings on a terminal), markdown, JSON."""
from __future__ import annotations

from rich.text import Text

from ..analysis.explain import Explanation
from ..core.shapes import format_shape
from ..core.text import printable, printable_message
from .jsonout import dumps
from .lecture import runs


def heading(item: Explanation) -> str:
    """`p (pair): 8×16×16 + 8×16×16 → sum 8×16×16, prod 8×16×16`: a block with several outputs names
    each (relative to the block); a run of equal input shapes is written once (`512×7×7 + 16 × (32×7×7)`)."""
    shapes = " + ".join(runs([format_shape(shape) for shape in item.input_shapes], "{count} × ({cell})"))
    outputs = ", ".join(f"{name.removeprefix(item.layer + '.')} {format_shape(shape)}"
                        for name, shape in item.outputs) or format_shape(item.output_shape)
    return printable(f"{item.layer} ({item.op}): {shapes} → {outputs}")


def explain_text(items: list[Explanation]) -> list:
    """Renderables for the terminal: a bold heading, then one indented line per step."""
    out: list = []
    for index, item in enumerate(items):
        if index:
            out.append("")
        out.append(Text(heading(item), style="bold"))
        out += [f"  {step.text()}" for step in item.steps]
        out += [f"  note: {printable_message(note)}" for note in item.notes]
    return out


def explain_markdown(items: list[Explanation]) -> str:
    lines = []
    for item in items:
        lines += [f"#### {heading(item)}", ""]
        lines += [f"- `{step.equation()}`" + (f" ({step.note})" if step.note else "") for step in item.steps]
        lines += [f"- note: {printable_message(note)}" for note in item.notes]
        lines.append("")
    return "\n".join(lines)


def explain_json(items: list[Explanation], name: str, convention: str, dtype: str, batch: int) -> str:
    data = {
        "name": name,
        "convention": convention,
        "dtype": dtype,
        "batch": batch,
        "layers": [
            {
                "name": item.layer,
                "op": item.op,
                "inputs": list(item.inputs),
                "input_shapes": [list(shape) for shape in item.input_shapes],
                "output_shape": list(item.output_shape),
                **({"outputs": [{"name": name, "shape": list(shape)} for name, shape in item.outputs]}
                   if item.outputs else {}),
                "steps": [
                    {
                        "label": step.label,
                        "formula": step.formula.symbols() if step.formula is not None else None,
                        "substituted": step.formula.numbers() if step.formula is not None else None,
                        "result": step.result,
                        "note": step.note,
                    }
                    for step in item.steps
                ],
                "notes": list(item.notes),
            }
            for item in items
        ],
    }
    return dumps(data)
