"""Making many frozen dataclass instances fast.

A frozen dataclass's __init__ sets each field through object.__setattr__, which costs about half
of making one; the graph builder and the engine make one or two per layer. `made` sets them all
at once. It does what __init__ does for a dataclass with no __post_init__, no slots and every
field given."""
from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def made(cls: type[T], **fields: Any) -> T:
    """cls(**fields), its fields set at once (see the module's note)."""
    record = object.__new__(cls)
    record.__dict__.update(fields)
    return record
