"""cnncalc: a static calculator for convolutional networks (docs/api.md).

    >>> import cnncalc
    >>> cnncalc.analyze("specs/alexnet.yaml").totals.params
    62378344
"""
from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("cnncalc")
except PackageNotFoundError:  # a source checkout that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from .analysis.memory_report import MemoryReport
    from .analysis.report import Report, Row, Totals
    from .api import analyze, load_graph, memory
    from .core.errors import CheckFailed, CnnCalcError, InputError, SpecError

# Loaded on first use, so that `cnncalc --help` does not pay for the whole library.
_LAZY = {"analyze": "api", "load_graph": "api", "memory": "api", "MemoryReport": "analysis.memory_report",
         "Report": "analysis.report", "Row": "analysis.report",
         "Totals": "analysis.report", "CheckFailed": "core.errors", "CnnCalcError": "core.errors",
         "InputError": "core.errors", "SpecError": "core.errors"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")


__all__ = ["CheckFailed", "CnnCalcError", "InputError", "MemoryReport", "Report", "Row", "SpecError", "Totals",
           "__version__", "analyze", "load_graph", "memory"]
