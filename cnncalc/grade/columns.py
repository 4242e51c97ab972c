"""The graded columns of an answer sheet and the header vocabulary that names them: 'Mem (KB)',
'mem_kb', 'Params (k)', 'MACs (M)', "H'/W'", 'C_out' and their many spellings, with the unit a
header names ('Mem (MB)', 'GMACs', 'Params (M)') read, never guessed."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..core.errors import SheetError
from ..core.numbers import KB, MILLION, THOUSAND
from ..core.text import printable

MAX_HEADER_CHARS = 60  # a header is echoed in messages cut to this length

MEMORY, PARAMS, MACS, C_OUT, HW_OUT = "memory", "params", "macs", "c_out", "hw_out"
QUANTITIES = (C_OUT, HW_OUT, MEMORY, PARAMS, MACS)
NUMERIC = (MEMORY, PARAMS, MACS)


@dataclass(frozen=True)
class GradedColumn:
    """A graded column of an answer sheet: what it measures and in which unit."""

    key: str  # the canonical key: c_out, hw_out, memory_kb, params_k, macs_m, memory_bytes, params, macs, ...
    quantity: str  # c_out, hw_out, memory, params, macs
    unit: int  # what 1 in this column counts: bytes, parameters or multiply-adds (1 for c_out, hw_out)
    header: str  # as the sheet wrote it
    flops: bool = False  # the header says FLOPs: read as multiply-adds, 2x diagnosed (grade/diagnoses.py)
    note: str = ""  # how an ambiguous header was read ('kB' as KB = 1024 bytes), shown to the TA


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
    "memory_mb": (MEMORY, KB**2, "Mem (MB)"),
    "memory_gb": (MEMORY, KB**3, "Mem (GB)"),
    "params_m": (PARAMS, MILLION, "Params (M)"),
    "params_g": (PARAMS, 10**9, "Params (G)"),
    "macs_k": (MACS, THOUSAND, "MACs (k)"),
    "macs_g": (MACS, 10**9, "MACs (G)"),
    "macs_t": (MACS, 10**12, "MACs (T)"),
}
LECTURE_KEYS = ("c_out", "hw_out", "memory_kb", "params_k", "macs_m")
LECTURE_KEY = dict(zip(QUANTITIES, LECTURE_KEYS))  # quantity -> the lecture table's column for it


def column(key: str, header: str | None = None, *, flops: bool = False, note: str = "") -> GradedColumn:
    quantity, unit, title = GRADED_COLUMNS[key]
    return GradedColumn(key, quantity, unit, header if header is not None else title, flops, note)


def key_for(quantity: str, unit: int) -> str:
    """The canonical key of a quantity in a unit: (memory, 1024) -> 'memory_kb'."""
    return next(key for key, (q, u, _) in GRADED_COLUMNS.items() if q == quantity and u == unit)


def normalize_header(header: str) -> str:
    text = str(header).strip().lower().replace("\u2019", "'").replace("\u2032", "'").replace("`", "'")
    return re.sub(r"[\s_\-.{}#\\]", "", text)


# headers of the question part of the lecture table (and of `cnncalc table --format csv`): not graded
_INPUT_HEADERS = {
    "cin", "c", "h/w", "hw", "h", "w", "hin", "win", "hin/win", "filters", "filter", "k", "kernel",
    "kernelsize", "s", "stride", "p", "pad", "padding", "op", "type", "inputs", "input", "from",
    "inputsize", "filters(cout)", "buffers", "wout", "outputs", "networkoutput",
}
LAYER_HEADERS = {"layer", "layers", "name", "layername"}
_C_OUT_HEADERS = {"cout", "c'", "outc", "outchannels", "outputchannels", "channelsout"}
_HW_OUT_HEADERS = {"h'/w'", "h'w'", "hwout", "h'", "hout", "houtwout", "hout/wout", "hw'", "outputsize",
                   "outsize", "h'xw'", "h'\u00d7w'", "h'*w'", "houtxwout", "hout\u00d7wout"}
# 'Output (C×H×W)', 'Output shape (HxWxC)': a whole output shape, graded for its H'/W' (values.hw_of_shape)
_SHAPE_HEADER = re.compile(r"(output|out)(shape|size)?\((c[x\u00d7*,])?h[x\u00d7*,]w([x\u00d7*,]c)?\)")
_FLOPS_WORDS = ("flops", "flop")
_WORDS = (
    (MEMORY, ("activationmemory", "memory", "mem")),
    (PARAMS, ("parameters", "params", "param")),
    (MACS, ("multiplyadds", "multadds", "madds", *_FLOPS_WORDS, "macs", "mac")),
)
_KILO, _MEGA, _GIGA = ("k", "thousand", "thousands"), ("m", "million", "millions", "mil"), \
    ("g", "billion", "billions", "bn")
_HEADER_UNITS: dict[str, dict[str, int]] = {  # quantity -> unit written in the header -> its size
    MEMORY: {"": 1, "b": 1, "bytes": 1, "byte": 1, "kb": KB, "kib": KB, "k": KB, "mb": KB**2, "mib": KB**2,
             "gb": KB**3, "gib": KB**3},
    PARAMS: {"": 1, **dict.fromkeys(_KILO, THOUSAND), **dict.fromkeys(_MEGA, MILLION),
             **dict.fromkeys(_GIGA, 10**9)},
    MACS: {"": 1, **dict.fromkeys(_KILO, THOUSAND), **dict.fromkeys(_MEGA, MILLION), **dict.fromkeys(_GIGA, 10**9),
           "t": 10**12},
}
_UNIT_WORDS = {"", "b", "byte", "bytes", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib", "t", "tb",
               "thousand", "thousands", "million", "millions", "mil", "billion", "billions", "bn"}
_UNIT_ADVICE = {
    MEMORY: "grade memory in bytes, KB, MB or GB: 'Mem (KB)', 'Mem (MB)' or 'memory_bytes'",
    PARAMS: "grade parameters exactly, in thousands or in millions: 'params', 'Params (k)' or 'Params (M)'",
    MACS: "grade multiply-adds exactly or in k, M, G: 'macs', 'MACs (M)' or 'GMACs'",
}
IGNORED = "ignored"
LAYER = "layer"


def _memory_note(header: str, unit: int) -> str:
    """Decimal-looking memory units are read as the lecture's binary ones, and the TA is told."""
    if unit == KB and re.search(r"(?<![A-Za-z])kB(?![A-Za-z])", header):
        return f"column {printable(header, MAX_HEADER_CHARS)!r}: kB read as KB = 1024 bytes, the lecture's unit"
    if unit in (KB**2, KB**3) and not re.search(r"i[Bb]", header):
        prefix = "MB" if unit == KB**2 else "GB"
        return (f"column {printable(header, MAX_HEADER_CHARS)!r}: {prefix} read as 1024 "
                f"{'KB' if unit == KB**2 else 'MB'}, as KB = 1024 bytes")
    return ""


@functools.lru_cache(maxsize=4096)  # a class's sheets share their headers; each cell of a title row is tried too
def classify_header(header: str) -> str | GradedColumn | None:
    """A sheet's column header -> a graded Column, LAYER, IGNORED (the question's columns), or None
    (unknown). Forgiving about case, spaces, underscores and dots: 'Mem (KB)', 'mem_kb',
    'Params (k)', 'MFLOPs', 'GMACs', 'Mem (MB)', "H'/W'", 'C_out'. A known quantity in a unit that
    cannot be graded ('Params (MB)') is a SheetError."""
    text = normalize_header(header)
    if text in LAYER_HEADERS:
        return LAYER
    if text in _C_OUT_HEADERS:
        return column("c_out", header)
    if text in _HW_OUT_HEADERS or _SHAPE_HEADER.fullmatch(text):
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
            if unit.startswith("in") and unit[2:] and unit[2:] in _HEADER_UNITS[quantity]:
                unit = unit[2:]  # 'Memory in KB', 'Params (in thousands)'
            if unit in _HEADER_UNITS[quantity]:
                size = _HEADER_UNITS[quantity][unit]
                flops = word in _FLOPS_WORDS
                note = _memory_note(str(header), size) if quantity == MEMORY else ""
                if flops:
                    note = (f"column {printable(header, MAX_HEADER_CHARS)!r} read as multiply-adds, as the lecture "
                            "counts 'flops' (a column of 2x the multiply-adds is diagnosed as FLOPs)")
                return column(key_for(quantity, size), header, flops=flops, note=note)
            if unit not in _UNIT_WORDS:
                return None  # 'Memo', 'Machine': not ours
            raise SheetError(f"column {printable(header, MAX_HEADER_CHARS)!r}: unit {unit!r} cannot be graded",
                             hint=_UNIT_ADVICE[quantity] + "; a cell may still carry its own unit ('7.5 MB', '105M')")
    return None
