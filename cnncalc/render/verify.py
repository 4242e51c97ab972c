"""`cnncalc verify` results (pytorch/verify.py) as a table of mismatches, a sentence, or JSON."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..pytorch.verify import Check
from .jsonout import dumps


def verify_json(checks: Sequence[Check], spec: str, device: str, convention: str) -> str:
    wrong = [c for c in checks if not c.ok]
    return dumps({"spec": spec, "device": device, "convention": convention, "checks": len(checks),
                  "mismatches": [{"layer": c.layer, "quantity": c.quantity, "static": c.static, "torch": c.measured}
                                 for c in wrong]})


def verify_renderables(checks: Sequence[Check], spec: str, device: str, convention: str,
                       counted: bool) -> list[Any]:
    """A table of the mismatches, or the one line saying that everything matches."""
    from rich.table import Table

    wrong = [c for c in checks if not c.ok]
    if not wrong:
        layers = len({c.layer for c in checks if c.quantity in ("shape", "params", "buffers")})
        macs = f", and multiply-adds ({convention})" if counted else ""
        memory = ("; memory: what each layer keeps for backward, and the peaks of a training step and an inference "
                  "pass per category (MemTracker, fake tensors)") if any(c.quantity.startswith("memory")
                                                                        for c in checks) else ""
        return [f"{spec}: all {layers} layers match PyTorch ({device} device): output shapes, parameters and "
                f"BatchNorm statistics{macs}{memory}"]
    table = Table(title=f"{len(wrong)} mismatches", title_justify="left")
    for header in ("layer", "quantity", "cnncalc", "torch"):
        table.add_column(header)
    for c in wrong:
        table.add_row(c.layer, c.quantity, str(c.static), str(c.measured))
    return [table]
