"""What a spec defines but never reads, and calls that pass a block what it does not take,
found when the spec is read (docs/spec.md, "Unused variables and parameters").

A name counts as read where it appears as a word in any value the spec could evaluate: a field,
`when:`, `repeat:`, `chain:`, `module:`, `in:` and its `{...}` and `if` parts, `outputs:`, the
input, a variable's or a parameter's default. That can only over-count reads (a layer named like
a variable reads it here), so a warning is never wrong: the name is read nowhere.
"""
from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from ..core.errors import ErrorCollector, Note, SpecError, did_you_mean
from ..layers import REGISTRY
from .yamlsrc import YList, YMap

Block = Any  # spec.Block: spec.py reads this module
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")  # a name may hold '-', which an expression reads as minus
_CACHED = 64
_WORDS: dict[int, tuple[weakref.ref, frozenset[str]]] = {}  # id(list or mapping) -> (it, its words): a sweep
# reads the same parsed document once per variant, and a document is never changed; held weakly, so
# that a document is freed when its spec is


def words(values: Iterable[Any]) -> set[str]:
    """Every word of every string in `values`, lists and mappings included (their values, not keys)."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, (list, dict)):
            found |= _words_in(value)
        elif isinstance(value, str):
            found |= _words_of(value)
    return found


def _words_in(container: list | dict) -> frozenset[str]:
    known = _WORDS.get(id(container))
    if known is not None and known[0]() is container:
        return known[1]
    texts: set[str] = set()
    stack: list[Any] = [container]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            texts.add(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    found = frozenset(word for text in texts for word in _words_of(text))
    if len(_WORDS) >= _CACHED:
        _WORDS.pop(next(iter(_WORDS)))
    if isinstance(container, (YList, YMap)):  # a plain list or dict cannot be referred to weakly
        _WORDS[id(container)] = (weakref.ref(container), found)
    return found


def _words_of(text: str) -> set[str]:
    """`a-b` is the name `a-b` (a single word) and `a` minus `b` (an expression)."""
    names = set(_NAME.findall(text))
    return names.union(*(name.split("-") for name in names if "-" in name))


def unused_notes(doc: YMap, blocks: dict[str, Block], own_blocks: frozenset[str], variables: YMap) -> list[Note]:
    """Notes for the spec's own variables that nothing reads, and for the parameters that their
    block never reads, in the spec's own blocks and the used ones it calls."""
    notes = []
    own_vars = doc.get("vars")
    if isinstance(own_vars, YMap) and own_vars:
        read = words([doc.get("layers"), doc.get("outputs"), doc.get("input"), *variables.values()])
        for block in blocks.values():
            read |= words(_block_values(block))
        for name in own_vars:
            if isinstance(name, str) and name not in read:
                notes.append(Note(name, "never used: no layer, block or variable reads it", own_vars.key_locs[name],
                                  what="variable"))
    for name in _checked_blocks(doc, blocks, own_blocks):
        block = blocks[name]
        body = words([block.items, block.output, list(block.outputs)])
        defaults = {param: words([default]) for param, default in block.params.items()}
        for param in block.params:
            if param not in body and not any(param in read for other, read in defaults.items() if other != param):
                notes.append(Note(name, f"parameter '{param}' is never used: no value of the block reads it",
                                  block.param_locs.get(param, block.loc), what="block"))
    return notes


def _block_values(block: Block) -> Iterator[Any]:
    yield block.items
    yield block.output
    yield list(block.outputs)
    yield from block.params.values()


def _checked_blocks(doc: YMap, blocks: dict[str, Block], own: frozenset[str]) -> list[str]:
    """The spec's own blocks, and the used ones its layers call (directly or through other blocks)."""
    if not blocks:
        return []
    names = [name for name in blocks if name in own]
    seen = set(names)
    stack = [doc.get("layers"), *(blocks[name].items for name in names)]
    while stack:
        items = stack.pop()
        for op in _ops(items):
            if op in blocks and op not in seen:
                seen.add(op)
                names.append(op)
                stack.append(blocks[op].items)
    return names


def _ops(items: Any) -> Iterator[str]:
    if isinstance(items, YList):
        for item in items:
            if isinstance(item, YMap) and isinstance(item.get("op"), str):
                yield item["op"]


def check_calls(doc: YMap, blocks: dict[str, Block], control_keys: tuple[str, ...], problems: ErrorCollector) -> None:
    """A call that passes a block an argument it does not declare (`stirde: 2`), in a layer, its
    `first:` or a block's layer: refused here, where every call is seen, also those that are never
    made (`repeat: 0`, a `when:` that is false). The graph builder says the same at a call it makes."""
    if not blocks:
        return
    lists = [doc.get("layers"), *(block.items for block in blocks.values())]
    for items in lists:
        for item in items if isinstance(items, YList) else ():
            op = item.get("op") if isinstance(item, YMap) else None
            if not isinstance(op, str) or op in REGISTRY or op not in blocks or "share" in item:
                continue
            block = blocks[op]
            first = item.get("first")
            for values in (item, first if isinstance(first, YMap) else YMap()):
                for key in values:
                    if key in control_keys or key in block.params:  # `first: {in: ..}`: the builder says
                        continue
                    name = item.get("name")
                    problems.add(SpecError(f"block '{block.name}' has no parameter '{key}'", loc=values.key_locs[key],
                                           layer=name if isinstance(name, str) else None,
                                           hint=did_you_mean(str(key), block.params)
                                           or f"parameters: {', '.join(block.params) or 'none'}"))
