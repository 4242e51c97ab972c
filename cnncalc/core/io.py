"""Files in and out: one reader of untrusted files with limits (bytes or text), one atomic writer."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import InputError, Location


def read_bytes(path: Path, display: str | None = None, *, what: str, limit: int,
               error: type[InputError] = InputError) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or an `error` saying why not.

    `what` names what the file should be ("a spec file", "an answer sheet") in the messages.
    Devices, pipes and sockets are refused before they are opened (a FIFO would block, /dev/zero
    never ends); the size is checked before and while reading (a file may grow)."""
    name = display or str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error("no such file", file=name) from None
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", file=name) from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"is a directory, not {what}", file=name)
    if not stat.S_ISREG(info.st_mode):
        raise error(f"not a regular file (a device, pipe or socket), not {what}", file=name)
    too_large = error(f"file is too large for {what} (the limit is {limit:,} bytes)", file=name)
    if info.st_size > limit:
        raise too_large
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", file=name) from None
    if len(data) > limit:
        raise too_large
    return data


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_text(path: Path, display: str | None = None, *, what: str, limit: int,
              error: type[InputError] = InputError, binary_hint: str | None = None, utf16: bool = False) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes (see `read_bytes`), or an `error`
    saying why not. With `binary_hint`, a NUL byte is refused as binary data. With `utf16`, a file
    that starts with a UTF-16 byte order mark (a spreadsheet's "Unicode text" export) is UTF-16."""
    name = display or str(path)
    data = read_bytes(path, display, what=what, limit=limit, error=error)
    if utf16 and data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise error(f"not UTF-16 text (bad bytes at offset {exc.start})", file=name,
                        hint="save the file as UTF-8 (or UTF-16 with its byte order mark)") from None
    if binary_hint is not None:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise error(f"binary data (a NUL byte at offset {nul}), not {what}", file=name, hint=binary_hint)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise error(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                    loc=Location(name, line, column), hint="save the file as UTF-8") from None


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write a file whole or not at all: a temporary file in the same folder, then a rename."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist", file=str(path))
    if path.is_dir():
        raise InputError("is a directory; give a file name", file=str(path))
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
        raise InputError(f"cannot write file: {exc.strerror or exc}", file=str(path)) from None
