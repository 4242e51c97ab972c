"""The graded columns of an answer sheet and the header vocabulary that names them: 'Mem (KB)',
'mem_kb', 'Params (k)', 'MACs (M)', "H'/W'", 'C_out' and their many spellings."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.errors import SheetError
from ..core.numbers import KB, MILLION, THOUSAND
from ..core.text import printable

MAX_HEADER_CHARS = 60  # a header is echoed in messages cut to this length

MEMORY, PARAMS, MACS, C_OUT, HW_OUT = "memory", "params", "macs", "c_out", "hw_out"


@dataclass(frozen=True)
class GradedColumn:
    """A graded column of an answer sheet: what it measures and in which unit."""

    key: str  # the canonical key: c_out, hw_out, memory_kb, params_k, macs_m, memory_bytes, params, macs
    quantity: str  # c_out, hw_out, memory, params, macs
    unit: int  # what 1 in this column counts: bytes, parameters or multiply-adds (1 for c_out, hw_out)
    header: str  # as the sheet wrote it


# canonical key -> (quantity, unit, the header the lecture table and the templates use)
GRADED_COLUMNS: dict[str, tuple[str, int, str]] = {
    "c_out": (C_OUT, 1, "C_out"),
    "hw_out": (HW_OUT, 1, "H'/W'"),
    "memory_kb": (MEMORY, KB, "Mem (KB)"),
    "params_k": (PARAMS, THOUSAND, "Params (k)"),
    "macs_m": (MACS, MILLION, "MACs (M)"),
    "memory_bytes": (MEMORY, 1, "memory_bytes"),
    "params": (PARAMS, 1, "params"),
    "macs": (MACS, 1, "macs"),
}
LECTURE_KEYS = ("c_out", "hw_out", "memory_kb", "params_k", "macs_m")


def column(key: str, header: str | None = None) -> GradedColumn:
    quantity, unit, title = GRADED_COLUMNS[key]
    return GradedColumn(key, quantity, unit, header if header is not None else title)

def normalize_header(header: str) -> str:
    text = str(header).strip().lower().replace("\u2019", "'").replace("\u2032", "'").replace("`", "'")
    return re.sub(r"[\s_\-.{}#\\]", "", text)


# headers of the question part of the lecture table (and of `cnncalc table --format csv`): not graded
_INPUT_HEADERS = {
    "cin", "c", "h/w", "hw", "h", "w", "hin", "win", "hin/win", "filters", "filter", "k", "kernel",
    "kernelsize", "s", "stride", "p", "pad", "padding", "op", "type", "inputs", "input", "from",
    "inputsize", "filters(cout)", "buffers", "wout",
}
LAYER_HEADERS = {"layer", "layers", "name", "layername"}
_C_OUT_HEADERS = {"cout", "c'", "outc", "outchannels", "outputchannels", "channelsout"}
_HW_OUT_HEADERS = {"h'/w'", "h'w'", "hwout", "h'", "hout", "houtwout", "hout/wout", "hw'", "outputsize",
                   "outsize"}
_WORDS = (
    (MEMORY, ("activationmemory", "memory", "mem")),
    (PARAMS, ("parameters", "params", "param")),
    (MACS, ("multiplyadds", "multadds", "madds", "flops", "flop", "macs", "mac")),
)
_HEADER_UNITS = {  # quantity -> unit written in the header -> canonical key
    MEMORY: {"": "memory_bytes", "b": "memory_bytes", "bytes": "memory_bytes", "byte": "memory_bytes",
             "kb": "memory_kb", "kib": "memory_kb", "k": "memory_kb"},
    PARAMS: {"": "params", "k": "params_k", "thousands": "params_k", "thousand": "params_k"},
    MACS: {"": "macs", "m": "macs_m", "millions": "macs_m", "million": "macs_m"},
}
_UNIT_WORDS = {"", "b", "byte", "bytes", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib", "t", "tb",
               "thousand", "thousands", "million", "millions", "mil", "billion", "billions", "bn"}
_UNIT_ADVICE = {
    MEMORY: "grade memory in KB or bytes: 'Mem (KB)' or 'memory_bytes'",
    PARAMS: "grade parameters in thousands or exactly: 'Params (k)' or 'params'",
    MACS: "grade multiply-adds in millions or exactly: 'MACs (M)' or 'macs'",
}
IGNORED = "ignored"
LAYER = "layer"


def classify_header(header: str) -> str | GradedColumn | None:
    """A sheet's column header -> a graded Column, LAYER, IGNORED (the question's columns), or None
    (unknown). Forgiving about case, spaces, underscores and dots: 'Mem (KB)', 'mem_kb',
    'Params (k)', 'Flops (M)', 'MACs (M)', "H'/W'", 'C_out'. A known quantity in a unit that cannot
    be graded ('Params (M)') is a SheetError."""
    text = normalize_header(header)
    if text in LAYER_HEADERS:
        return LAYER
    if text in _C_OUT_HEADERS:
        return column("c_out", header)
    if text in _HW_OUT_HEADERS:
        return column("hw_out", header)
    if text in _INPUT_HEADERS:
        return IGNORED
    for quantity, words in _WORDS:
        for word in words:
            if text.startswith(word):
                unit = text[len(word):]
            elif text.endswith(word):
                unit = text[: -len(word)]
            else:
                continue
            unit = unit.strip("()[]")
            if unit in _HEADER_UNITS[quantity]:
                return column(_HEADER_UNITS[quantity][unit], header)
            if unit not in _UNIT_WORDS:
                return None  # 'Memo', 'Machine': not ours
            raise SheetError(f"column {printable(header, MAX_HEADER_CHARS)!r}: unit {unit!r} cannot be graded",
                             hint=_UNIT_ADVICE[quantity] + "; a cell may still carry its own unit ('7.5 MB', '105M')")
    return None


