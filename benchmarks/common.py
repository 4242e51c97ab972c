"""What the benchmark scripts share."""
from __future__ import annotations

import gc
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cli_command() -> list[str]:
    """The installed `cnncalc` script next to this interpreter (not a pyenv/asdf shim, which adds its
    own start-up), else whatever is on PATH, else `python -m cnncalc.cli`."""
    bindir = Path(sys.executable).parent
    for candidate in (bindir / "cnncalc", bindir / "cnncalc.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which("cnncalc")
    return [found] if found else [sys.executable, "-m", "cnncalc.cli"]


def best_of(repeats: int, run: Callable[[], Any]) -> float:
    """The fastest of `repeats` wall-clock runs of `run()`, in seconds, each after a gc.collect()."""
    times = []
    for _ in range(repeats):
        gc.collect()
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)
