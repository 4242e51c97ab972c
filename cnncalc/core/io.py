"""Writing output files atomically: a temporary file in the same folder, then a rename."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import SpecError


def write_atomic(path: Path, text: str | bytes) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SpecError(f"cannot write {path}: folder {folder} does not exist", file=str(path))
    if path.is_dir():
        raise SpecError("is a directory; give a file name", file=str(path))
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            if isinstance(text, bytes):
                with os.fdopen(fd, "wb") as handle:
                    handle.write(text)
            else:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as exc:
        raise SpecError(f"cannot write file: {exc.strerror or exc}", file=str(path)) from None
