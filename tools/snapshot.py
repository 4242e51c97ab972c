#!/usr/bin/env python3
"""Everything the engine says about every bundled spec, written to one text file per spec: the
guard for speed work on the builder, the layers and the engine (a faster path must say the same).

    python tools/snapshot.py /tmp/before          # on main
    python tools/snapshot.py /tmp/after           # on your branch
    diff -r /tmp/before /tmp/after                # must print nothing

Per spec: every node (name, type, inputs, input and output shapes, module path, notes, origin,
train-only), the graph's outputs, groups, calls, held tensors and notes, the JSON report in two
conventions, at depth 1, the explanation of the first layers, the receptive fields, and the
inference and training memory. Standard library only (plus cnncalc); about a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

import cnncalc  # noqa: E402
from cnncalc.api import load_graph  # noqa: E402
from cnncalc.spec.bundled import bundled_specs  # noqa: E402


def fields(layer: object) -> str:
    return repr({field: getattr(layer, field, None) for field in layer.field_names()})  # type: ignore[attr-defined]


def graph_text(name: str, symbolic: bool) -> list[str]:
    graph = load_graph(name, symbolic=symbolic)[0]
    lines = [f"graph {graph.name} input={graph.input_shape} outputs={graph.outputs}"]
    for node in graph.nodes:
        origin = node.origin
        lines.append(f"{node.name} {node.layer.op} in={node.inputs} {node.input_shapes} -> {node.output_shape} "
                     f"module={node.module} notes={node.notes} train_only={node.train_only} "
                     f"origin={(origin.local, origin.copy) if origin else None} layer={fields(node.layer)} "
                     f"loc={node.layer.loc} "
                     f"field_locs={sorted(node.layer.field_locs.items())}")
    lines += [f"groups {sorted(graph.groups.items())}", f"group_outputs {sorted(graph.group_outputs.items())}",
              f"notes {graph.notes}", f"train_only {graph.train_only}", f"checkpoints {graph.checkpoints}",
              f"held {sorted(graph.held.items())}"]
    lines += [f"call {call.name} {call.block} {sorted(call.args.items(), key=str)} {call.inputs} -> {call.outputs} "
              f"module={call.module}" for call in graph.calls]
    return lines


def reports_text(name: str, symbolic: bool) -> list[str]:
    lines = []
    for convention in ("textbook", "fvcore"):
        report = cnncalc.analyze(name, convention=convention, symbolic=symbolic)
        lines.append(json.dumps(report.to_dict(), sort_keys=True, default=str))
    lines.append(json.dumps(cnncalc.analyze(name, depth=1, symbolic=symbolic).to_dict(), sort_keys=True, default=str))
    if symbolic:  # no memory figures for symbolic sizes
        return lines
    for mode in ("infer", "train"):
        lines.append(json.dumps(cnncalc.memory(name, mode=mode, batch=2).to_dict(), sort_keys=True, default=str))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to write one NAME.txt per bundled spec")
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(bundled_specs()):
        symbolic = name.startswith("lecture/")  # the lecture specs are written with symbols (C, H, W)
        try:
            lines = graph_text(name, symbolic) + reports_text(name, symbolic)
        except cnncalc.CnnCalcError as exc:  # its message is the snapshot
            lines = [f"error: {exc}"]
        (args.folder / f"{name.replace('/', '__')}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(bundled_specs())} specs written to {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
