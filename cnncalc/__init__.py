"""cnncalc: a static calculator for convolutional networks (docs/api.md).

    >>> import cnncalc
    >>> cnncalc.analyze("specs/alexnet.yaml").totals.params
    62378344
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    __version__: str
    from .analysis.budget import CheckResult, Limit, Verdict
    from .analysis.compare import BlockComparison, BlockPair, Compared, Comparison
    from .analysis.memory_report import MemoryReport
    from .analysis.report import Report, Row, Totals
    from .analysis.sweep import Objective, SweepResult, Variant
    from .api import analyze, check, compare, compare_blocks, load_graph, memory, sweep
    from .core.errors import CheckFailed, CnnCalcError, InputError, OptionError, SpecError
    from .core.figures import FIGURES, Figure

# Loaded on first use, so that `cnncalc --help` does not pay for the whole library.
_LAZY = {"analyze": "api", "load_graph": "api", "memory": "api", "check": "api", "compare": "api",
         "compare_blocks": "api", "sweep": "api", "MemoryReport": "analysis.memory_report", "Report": "analysis.report",
         "Row": "analysis.report", "Totals": "analysis.report",
         "CheckResult": "analysis.budget", "Limit": "analysis.budget", "Verdict": "analysis.budget",
         "Comparison": "analysis.compare", "Compared": "analysis.compare", "BlockComparison": "analysis.compare",
         "BlockPair": "analysis.compare", "SweepResult": "analysis.sweep", "Variant": "analysis.sweep",
         "Objective": "analysis.sweep", "FIGURES": "core.figures", "Figure": "core.figures",
         "CheckFailed": "core.errors", "CnnCalcError": "core.errors", "InputError": "core.errors",
         "OptionError": "core.errors", "SpecError": "core.errors"}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata scans the installed packages: a third of the CLI's start
        global __version__
        from importlib.metadata import PackageNotFoundError, version

        try:
            __version__ = version("cnncalc")
        except PackageNotFoundError:  # a source checkout that is not installed
            __version__ = "0.0.0+unknown"
        return __version__
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")


__all__ = ["FIGURES", "BlockComparison", "BlockPair", "CheckFailed", "CheckResult", "CnnCalcError", "Compared",
           "Comparison", "Figure", "InputError", "Limit", "MemoryReport", "Objective", "OptionError", "Report", "Row",
           "SpecError", "SweepResult", "Totals", "Variant", "Verdict", "__version__", "analyze", "check", "compare",
           "compare_blocks", "load_graph", "memory", "sweep"]
