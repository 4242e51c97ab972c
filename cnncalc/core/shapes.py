"""Tensor shapes per sample (no batch axis): (C, H, W) for feature maps, (F,) for vectors."""
from __future__ import annotations

import math
from typing import Any

Shape = tuple[Any, ...]


def numel(shape: Shape) -> Any:
    return math.prod(shape)


def format_shape(shape: Shape) -> str:
    """(3, 227, 227) -> '3×227×227'."""
    from .symbolic import factor_text

    return "×".join(factor_text(d) for d in shape)


def shape_list(shape: Shape) -> str:
    from .symbolic import text

    return f"[{', '.join(text(d) for d in shape)}]"
