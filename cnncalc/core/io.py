"""Files in and out: one reader of untrusted files with limits (bytes or text), one atomic writer."""
from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError, Location
from .text import NAME_CHARS, printable


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
        if path.is_symlink():
            raise error("is a symbolic link to a file that does not exist", file=name,
                        hint=f"it points to {printable(os.readlink(path), NAME_CHARS)}") from None
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
_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")


def _utf16_without_bom(data: bytes) -> bool:
    """Every other byte NUL (ASCII text in UTF-16, either byte order): not binary junk."""
    head = data[:4096]
    return len(head) >= 8 and any(head[start::2].count(0) == len(head[start::2]) for start in (0, 1))


def read_text(path: Path, display: str | None = None, *, what: str, limit: int,
              error: type[InputError] = InputError, binary_hint: str | None = None, utf16: bool = False) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes (see `read_bytes`), or an `error`
    saying why not. With `binary_hint`, a NUL byte is refused as binary data. With `utf16`, a file
    that starts with a UTF-16 byte order mark (a spreadsheet's "Unicode text" export) is UTF-16."""
    name = display or str(path)
    data = read_bytes(path, display, what=what, limit=limit, error=error)
    if utf16 and data.startswith(_UTF32_BOMS):
        raise error("UTF-32 text, not " + what, file=name, hint="save the file as UTF-8 (or UTF-16)")
    if utf16 and data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise error(f"not UTF-16 text (bad bytes at offset {exc.start})", file=name,
                        hint="save the file as UTF-8 (or UTF-16 with its byte order mark)") from None
    if binary_hint is not None:
        nul = data.find(b"\x00")
        if nul >= 0:
            if utf16 and _utf16_without_bom(data):
                binary_hint = "it looks like UTF-16 text without its byte order mark: save it as UTF-8 (or as " \
                              "UTF-16 with the mark, Excel's 'Unicode Text')"
            raise error(f"binary data (a NUL byte at offset {nul}), not {what}", file=name, hint=binary_hint)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise error(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                    loc=Location(name, line, column), hint="save the file as UTF-8") from None


def write_atomic(path: Path, text: str | bytes, *, inputs: Iterable[Path] = ()) -> None:
    """Write a file whole or not at all: a temporary file in the same folder, then a rename.

    - A new file gets the mode the user's umask gives (0644 under umask 022), as `open` would; a
      file that exists keeps its mode.
    - A symbolic link is followed: the file it points to is replaced, the link stays.
    - Only a regular file is replaced: a directory, FIFO, device or socket is refused (writing to
      /dev/stdout is `cnncalc ... > file`), and so is a dangling link.
    - `inputs` are the files the command read (the spec, answer sheets): writing over one of them
      is refused, since the output would destroy what it was computed from."""
    shown = str(path)
    if "\x00" in shown:  # no system call takes it (Python raises ValueError)
        raise InputError("a file name cannot hold a NUL character", file=shown)
    target = Path(os.path.realpath(path))
    try:
        info: os.stat_result | None = target.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise InputError(f"cannot write file: {exc.strerror or exc}", file=shown) from None
    if info is None and path.is_symlink():
        raise InputError("is a symbolic link to a file that does not exist", file=shown,
                         hint=f"it points to {os.readlink(path)}")
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise InputError("is a directory; give a file name", file=shown)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError("not a regular file (a device, pipe or socket); only a regular file is replaced",
                         file=shown, hint="to write to a pipe, leave out --output and redirect stdout")
    for source in inputs:
        if info is not None and _same_file(source, info):
            raise InputError(f"is {source}, an input of this command: writing would overwrite it", file=shown,
                             hint="choose another --output file")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"cannot write {shown}: folder {path.parent} does not exist", file=shown)
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".cnncalc-", suffix=".tmp")  # short: any name fits
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(text if isinstance(text, bytes) else text.encode("utf-8"))
            os.replace(temp, target)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as exc:
        raise InputError(f"cannot write file: {exc.strerror or exc}", file=shown) from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same_file(source: Path, info: os.stat_result) -> bool:
    try:
        other = source.stat()
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino)
