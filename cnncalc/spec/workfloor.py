"""The least expansion work (docs/limits.md) one copy of a `layers:` item is sure to cost, known
before it is expanded: the graph builder stops a repeat whose copies left would pass the limit
after its first copy, instead of expanding copies for seconds before it gets there.

A copy of an item costs its own values' weight; a block call also costs its parameters' defaults
and, at least, the floor of every item of its body (times a literal `repeat:`; a repeat given by
an expression may be 0). A block that can reach itself (a recursion that `when:` ends) counts 0,
and so does anything past MAX_DEPTH blocks: a floor is never more than the real work."""
from __future__ import annotations

from typing import Any

from ..layers import REGISTRY
from ..layers.fields import REQUIRED
from .spec import Block
from .yamlsrc import YList, YMap, weight_of

MAX_DEPTH = 32  # blocks nested in a body followed; deeper is counted 0 (the builder refuses it anyway)


def least_work(item: YMap, target: Any, blocks: dict[str, Block], known: dict[str, int], cap: int) -> int:
    """The floor of one copy of `item`, whose op is `target` (a layer type, a Block, or None: unknown),
    at most `cap`; `known` remembers the blocks' floors between calls."""
    floor = item.weight
    if isinstance(target, Block):
        floor += _block(target, blocks, known, cap, ())
    return min(floor, cap)


def _block(block: Block, blocks: dict[str, Block], known: dict[str, int], cap: int, stack: tuple[str, ...]) -> int:
    """A call's floor beyond the calling item: its defaults and its body. 0 for a block that can reach
    a block being counted (a cycle: the builder skips a recursive call it only checks)."""
    if block.name in known:
        return known[block.name]
    if block.name in stack or len(stack) >= MAX_DEPTH:
        return -1  # a cycle, or too deep: the blocks on the way count 0
    floor = sum(weight_of(default) for default in block.params.values() if default is not REQUIRED)
    for item in block.items if isinstance(block.items, YList) else ():
        op = item.get("op") if isinstance(item, YMap) else None
        if not isinstance(op, str) or (op not in REGISTRY and op not in blocks):
            continue  # not expanded: refused (or a block that failed)
        repeat = item.get("repeat", 1)
        copies = repeat if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat >= 0 else 0
        inner = _block(blocks[op], blocks, known, cap, (*stack, block.name)) if op in blocks else 0
        if inner < 0:
            known[block.name] = 0
            return -1 if stack else 0
        floor = min(floor + copies * (item.weight + inner), cap)
    known[block.name] = floor
    return floor
