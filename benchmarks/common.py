"""What the benchmark scripts share."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def cli_command() -> list[str]:
    """The installed `cnncalc` script next to this interpreter (not a pyenv/asdf shim, which adds its
    own start-up), else whatever is on PATH, else `python -m cnncalc.cli`."""
    bindir = Path(sys.executable).parent
    for candidate in (bindir / "cnncalc", bindir / "cnncalc.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which("cnncalc")
    return [found] if found else [sys.executable, "-m", "cnncalc.cli"]
