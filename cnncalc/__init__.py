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
    """Load a spec file (or a bundled spec's name) and analyze it. Options: `input_shape`,
    `overrides` ({name: value text}, as --set), `symbolic`, and those of `engine.analyze`."""
    from .spec import bundled
    from .analysis.engine import analyze
    from .spec.graph import build
    from .spec.spec import load_spec

    resolved, display = bundled.resolve(str(path))
    input_shape = options.pop("input_shape", None)
    spec = load_spec(resolved, display, options.pop("overrides", None), symbolic=options.pop("symbolic", False))
    return analyze(build(spec, input_shape), **options)
