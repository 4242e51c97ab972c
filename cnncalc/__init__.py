"""cnncalc: a static calculator for convolutional networks.

    >>> import cnncalc
    >>> report = cnncalc.analyze_file("specs/alexnet.yaml")
    >>> report.totals.params
    62378344
"""
from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def analyze_file(path: str | Path, **options):
    """Load a spec file (or a bundled spec's name) and analyze it; options as for `engine.analyze`."""
    from . import bundled
    from .engine import analyze
    from .graph import build
    from .spec import load_spec

    resolved, display = bundled.resolve(str(path))
    input_shape = options.pop("input_shape", None)
    return analyze(build(load_spec(resolved, display), input_shape), **options)
