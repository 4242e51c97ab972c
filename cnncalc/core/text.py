"""The one sanitizer for untrusted text that is printed: names, values and file names from specs,
answer sheets and options reach the terminal only through `printable` (one line) or
`printable_message` (a message, cut when long), or `printable_lines` for text already laid out in
lines. Machine formats (JSON) keep exact strings."""
from __future__ import annotations

from typing import Any

# How much of a message, a name or an echoed value is shown: enough to recognise it, bounded so
# that a 30 MB value in a spec cannot flood the terminal.
MESSAGE_CHARS = 2000
NAME_CHARS = 200
VALUE_CHARS = 60


def _safe(ch: str) -> str:
    if ch.isprintable():
        return ch
    return " " if ch in "\t\u00a0" else "\ufffd"


def printable(text: Any, limit: int | None = None) -> str:
    """`text` safe to print on one line: control and format characters (escape sequences, NUL,
    newlines, bidi overrides, zero-width spaces, lone surrogates) replaced by U+FFFD, tabs and
    no-break spaces by a space; cut to `limit` characters with an ellipsis."""
    text = str(text)
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(_safe(ch) for ch in text)
    return text + "\u2026" if cut else text


def printable_message(text: Any, limit: int | None = MESSAGE_CHARS) -> str:
    """A message safe to print on one line (a newline in a name it quotes cannot forge a line of its
    own), cut in the middle when it is long (see printable_cut)."""
    return printable(printable_cut(str(text), limit))


def printable_lines(text: Any, limit: int | None = None) -> str:
    """Rendered text safe to print: as `printable`, but its line breaks are kept."""
    return "\n".join(printable(line) for line in printable_cut(str(text), limit).split("\n"))


def printable_cut(text: str, limit: int | None) -> str:
    """`text` cut to `limit` characters, keeping its beginning and its end: an echoed value in
    the middle of a message loses its middle, the message its tail never."""
    if limit is None or len(text) <= limit:
        return text
    tail = limit // 4
    return f"{text[:limit - tail]}\u2026[{len(text) - limit:,} characters cut]\u2026{text[-tail:]}"


def file_name(name: Any) -> str:
    """A file name safe to print: control characters replaced, a very long one cut in the middle."""
    text = str(name)
    if len(text) > NAME_CHARS:
        text = text[:NAME_CHARS - 40] + "\u2026" + text[-39:]
    return printable(text)


def shown(value: Any, limit: int = VALUE_CHARS) -> str:
    """An echoed value, quoted and cut: `'widht'`, `'aaaaaaaa…' (30,000,000 characters)`."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}\u2026 ({len(text):,} characters)"
