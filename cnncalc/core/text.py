"""The one sanitizer for untrusted text that is printed: names, values and file names from specs,
answer sheets and options reach the terminal only through `printable`."""
from __future__ import annotations

from typing import Any


def printable(text: Any, limit: int | None = None) -> str:
    """`text` safe to print: control and format characters (escape sequences, NUL, bidi
    overrides, zero-width spaces) replaced by U+FFFD, tabs and no-break spaces by a space; cut to
    `limit` characters with an ellipsis."""
    text = str(text)
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    text = "".join(ch if ch.isprintable() else (" " if ch in "\t\u00a0" else "\ufffd") for ch in text)
    return text + "\u2026" if cut else text
