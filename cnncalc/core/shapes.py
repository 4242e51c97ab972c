"""Tensor shapes per sample (no batch axis): (C, H, W) for feature maps, (L, D) for a sequence of L tokens of D
features, (F,) for vectors."""
from __future__ import annotations

import math
from typing import Any

Shape = tuple[Any, ...]


def numel(shape: Shape) -> Any:
    return math.prod(shape)


def is_sequence(shape: Shape) -> bool:
    """Whether a shape is a sequence of tokens, [L, D]: every tensor of two axes reads so (docs/spec.md, "Vision
    transformers"), in the tables as L×D, in the formulas with the axes L and D."""
    return len(shape) == 2


def format_shape(shape: Shape) -> str:
    """(3, 227, 227) -> '3×227×227'."""
    from .symbolic import factor_text

    return "×".join(factor_text(d) for d in shape)


def shape_list(shape: Shape) -> str:
    from .symbolic import text

    return f"[{', '.join(text(d) for d in shape)}]"
