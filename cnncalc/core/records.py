"""Making many frozen dataclass instances fast.

A frozen dataclass's __init__ sets each field through object.__setattr__, which costs about half
of making one; the graph builder and the engine make one or two per layer. `made` gives it its
fields' dict at once. It does what __init__ does for a dataclass with no __post_init__, no slots
and every field given."""
from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def made(cls: type[T], fields: dict[str, Any]) -> T:
    """cls(**fields), taking `fields` (a new dict: the record keeps it) as its attributes (see the
    module's note)."""
    record = object.__new__(cls)
    object.__setattr__(record, "__dict__", fields)
    return record
