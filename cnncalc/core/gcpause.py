"""Pausing Python's cyclic garbage collector around work that only allocates.

Parsing, building and analysing a spec create many small objects that all live until the end and
form no cycles; the collector's full passes over them grew the cost per layer with the number of
layers (4x at 10,000 layers). Reference counting still frees everything as usual.

When the pause ends, the objects made during it would all still count as young: the first
allocation after it would make the collector traverse every one of them (4 to 7 µs per layer).
They are results that live on, so they go straight to the oldest generation instead
(`gc.freeze()` then `gc.unfreeze()`: two list splices, no traversal). That is skipped when the
program froze objects itself, since unfreezing would undo its freeze."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
