"""A torch module described as data, so layer types can say what they lower to without importing
torch, and one description both builds the live module and prints its source (export)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Torch:
    """A torch module as data: `nn.Conv2d` (a torch.nn class) or a class of cnncalc/pytorch/modules.py,
    with positional and keyword arguments (which may themselves be Torch descriptions)."""

    cls: str
    args: tuple = ()
    kwargs: tuple = ()  # (name, value) pairs, in order
    fused: bool = False  # an nn.Sequential of a weight layer and its fused activation (`act:`)
    frozen: bool = False  # its parameters take no gradient (`.requires_grad_(False)`)

    def source(self) -> str:
        parts = [_source(value) for value in self.args]
        parts += [f"{name}={_source(value)}" for name, value in self.kwargs]
        return f"{self.cls}({', '.join(parts)})" + (".requires_grad_(False)" if self.frozen else "")


def T(cls: str, *args: Any, **kwargs: Any) -> Torch:
    return Torch(cls, args, tuple(kwargs.items()))


def _source(value: Any) -> str:
    if isinstance(value, Torch):
        return value.source()
    if isinstance(value, float) and value == float("-inf"):
        return 'float("-inf")'
    return repr(value)
