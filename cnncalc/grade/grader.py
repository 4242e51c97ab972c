"""Grading students' answer sheets against a Report, cell by cell.

An answer sheet (CSV or YAML, untrusted) gives, per layer, some of the lecture table's output
columns: C_out, H'/W', Mem (KB), Params (k), MACs (M) (or exact params, macs, memory_bytes).
Each cell is compared with the Report row of the same name; the grader reads only the plain row
data (output shape, params, MACs, memory) and never looks at a layer's type.

The rule (docs/grading.md): a number is right when it equals the true value, in the unit the
student wrote, rounded half up or truncated at the precision the student wrote (1134 and 1134.4
for 1134.375; 0.6 and 0 for 0.63). With `rtol`, a relative tolerance replaces it. Channels and
spatial sizes are whole numbers and must be exact.
"""
from __future__ import annotations

import csv
import io
import re
import stat
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Optional

from ..core.errors import Location, SpecError, did_you_mean
from ..layers.fields import format_pair
from ..analysis.report import Report
from ..core.numbers import KB, MILLION, THOUSAND, decimal_text, round_half_up, truncate

# --- limits for untrusted answer files -------------------------------------------------------------

MAX_SHEET_BYTES = 1024 * 1024  # a whole class's table fits in a few KB
MAX_ROWS = 10_000
MAX_COLUMNS = 200
MAX_YAML_DEPTH = 8  # a sheet needs 3 levels; a deeper one is not an answer sheet (and libyaml recurses)
MAX_CELL_CHARS = 60  # a longer cell is unparseable; `given` is cut to this length
MAX_EXPONENT = 30  # 1e999999999 would take forever to compare exactly
MAX_MESSAGES = 50  # problems and notes listed per file; the rest are counted

# --- verdicts and columns --------------------------------------------------------------------------

RIGHT, WRONG, MISSING, UNPARSEABLE = "right", "wrong", "missing", "unparseable"
VERDICTS = (RIGHT, WRONG, MISSING, UNPARSEABLE)
TOTAL = "total"

MEMORY, PARAMS, MACS, C_OUT, HW_OUT = "memory", "params", "macs", "c_out", "hw_out"


@dataclass(frozen=True)
class Column:
    """A graded column of an answer sheet: what it measures and in which unit."""

    key: str  # the canonical key: c_out, hw_out, memory_kb, params_k, macs_m, memory_bytes, params, macs
    quantity: str  # c_out, hw_out, memory, params, macs
    unit: int  # what 1 in this column counts: bytes, parameters or multiply-adds (1 for c_out, hw_out)
    header: str  # as the sheet wrote it


# canonical key -> (quantity, unit, the header the lecture table and the templates use)
COLUMNS: dict[str, tuple[str, int, str]] = {
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


def column(key: str, header: str | None = None) -> Column:
    quantity, unit, title = COLUMNS[key]
    return Column(key, quantity, unit, header if header is not None else title)


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One graded cell. `given` is None when the cell (or its whole row) is blank; `expected` is
    None when the layer has no such value (H'/W' of a vector), so anything written there is wrong."""

    layer: str
    column: str
    given: Optional[str]
    expected: Optional[str]
    verdict: str


@dataclass(frozen=True)
class Problem:
    """A row that could not be graded: unknown layer name, duplicate, no name. Not right."""

    message: str
    line: Optional[int] = None
    hint: Optional[str] = None

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}: " if self.line else f"{file}: "
        return where + self.message + (f" ({self.hint})" if self.hint else "")


@dataclass(frozen=True)
class LayerScore:
    layer: str
    score: int
    max_score: int


@dataclass(frozen=True)
class GradeResult:
    """The verdicts for one answer sheet."""

    file: str
    spec: str
    columns: tuple[Column, ...]
    cells: tuple[Cell, ...]
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()  # harmless: columns that are not graded, cells beyond the header
    more_problems: int = 0  # problems not listed (beyond MAX_MESSAGES)

    @property
    def score(self) -> int:
        return self.count(RIGHT)

    @property
    def max_score(self) -> int:
        return len(self.cells)

    def count(self, verdict: str) -> int:
        return sum(1 for cell in self.cells if cell.verdict == verdict)

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.more_problems

    @property
    def all_right(self) -> bool:
        return self.score == self.max_score and not self.problem_count

    def layer_scores(self) -> list[LayerScore]:
        scores: dict[str, list[int]] = {}
        for cell in self.cells:
            entry = scores.setdefault(cell.layer, [0, 0])
            entry[0] += cell.verdict == RIGHT
            entry[1] += 1
        return [LayerScore(layer, right, total) for layer, (right, total) in scores.items()]


# --- answer sheets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    layer: str  # as written ('' when the row names no layer)
    line: Optional[int]
    values: dict[str, str]  # canonical column key -> the cell's text


@dataclass(frozen=True)
class Sheet:
    file: str
    columns: tuple[Column, ...]
    rows: tuple[SheetRow, ...]
    notes: tuple[str, ...] = ()


def _normalize_header(header: str) -> str:
    text = str(header).strip().lower().replace("\u2019", "'").replace("\u2032", "'").replace("`", "'")
    return re.sub(r"[\s_\-.{}#\\]", "", text)


# headers of the question part of the lecture table (and of `cnncalc table --format csv`): not graded
_INPUT_HEADERS = {
    "cin", "c", "h/w", "hw", "h", "w", "hin", "win", "hin/win", "filters", "filter", "k", "kernel",
    "kernelsize", "s", "stride", "p", "pad", "padding", "op", "type", "inputs", "input", "from",
    "inputsize", "filters(cout)", "buffers", "wout", "hin", "win",
}
_LAYER_HEADERS = {"layer", "layers", "name", "layername"}
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


def classify_header(header: str) -> str | Column | None:
    """A sheet's column header -> a graded Column, LAYER, IGNORED (the question's columns), or None
    (unknown). Forgiving about case, spaces, underscores and dots: 'Mem (KB)', 'mem_kb',
    'Params (k)', 'Flops (M)', 'MACs (M)', "H'/W'", 'C_out'. A known quantity in a unit that cannot
    be graded ('Params (M)') is a SpecError."""
    text = _normalize_header(header)
    if text in _LAYER_HEADERS:
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
            raise SpecError(f"column {_clean(header)!r}: unit {unit!r} cannot be graded",
                            hint=_UNIT_ADVICE[quantity] + "; a cell may still carry its own unit ('7.5 MB', '105M')")
    return None


# --- values ----------------------------------------------------------------------------------------

_NUMBER = re.compile(
    r"""(?P<sign>[+-])?
        (?P<int>\d{1,3}(?P<sep>[,\u00a0\u2009\u202f' ])\d{3}(?:(?P=sep)\d{3})*|\d+)?
        (?:\.(?P<frac>\d+))?
        (?:[eE](?P<exp>[+-]?\d+))?
        \s*(?P<suffix>[^\W\d_]+)?""",
    re.X,
)
_SHAPE = re.compile(r"\(?\s*(\d+)\s*(?:[x\u00d7X*]\s*(\d+))?\s*\)?")
_NOT_APPLICABLE = {"-", "\u2013", "\u2014", "n/a", "na", "none"}
_MEMORY_SUFFIX = {"b": 1, "byte": 1, "bytes": 1, "k": KB, "kb": KB, "kib": KB, "m": KB**2, "mb": KB**2,
                  "mib": KB**2, "g": KB**3, "gb": KB**3, "gib": KB**3}
_COUNT_PREFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_COUNT_WORDS = {PARAMS: ("parameters", "params", "param"),
                MACS: ("flops", "flop", "macs", "mac", "madds", "ops")}


@dataclass(frozen=True)
class Number:
    """A written number: `mantissa` × `step`, `step` (in the column's base unit: bytes, parameters,
    multiply-adds) being the precision the student wrote ('1134.4' KB: 11344 × 102.4 bytes)."""

    mantissa: int
    step: Fraction

    @property
    def value(self) -> Fraction:
        return self.mantissa * self.step


def parse_number(text: str, quantity: str, unit: int) -> Number | None:
    """'1,134' / '1134.4' / '0.6' / '37,753' / '105M' / '7.5 MB' / '1.05e8' -> Number; None if not a number.

    Thousands separators must group by three ('1,13' is not a number, nor is the European '0,6').
    A suffix gives the value's own unit: k, M, G (1000s) for counts, KB, MB, GB (1024s) for memory."""
    text = text.strip().replace("\u2212", "-")
    if len(text) > MAX_CELL_CHARS:
        return None
    match = _NUMBER.fullmatch(text)
    if not match or (match["int"] is None and match["frac"] is None):
        return None
    digits = re.sub(r"\D", "", match["int"] or "") + (match["frac"] or "")
    exponent = int(match["exp"] or 0) - len(match["frac"] or "")
    if abs(exponent) > MAX_EXPONENT:
        return None
    if match["suffix"] is not None:
        scale = _suffix_unit(match["suffix"].lower(), quantity)
        if scale is None:
            return None
    else:
        scale = unit
    mantissa = int(digits) * (-1 if match["sign"] == "-" else 1)
    return Number(mantissa, Fraction(10) ** exponent * scale)


def _suffix_unit(suffix: str, quantity: str) -> int | None:
    if quantity == MEMORY:
        return _MEMORY_SUFFIX.get(suffix)
    if quantity not in _COUNT_WORDS:
        return None
    for word in _COUNT_WORDS[quantity]:
        if suffix.endswith(word):
            suffix = suffix[: -len(word)]
            break
    else:
        if not suffix:
            return None
    return _COUNT_PREFIX.get(suffix)


def is_right(given: Number, exact: Fraction, rtol: Fraction | None = None) -> bool:
    """The grading rule. Without `rtol`: the true value rounded half up, or truncated, at the
    precision the student wrote. With `rtol`: |given - exact| <= rtol * |exact|."""
    if rtol is not None:
        return abs(given.value - exact) <= rtol * abs(exact)
    steps = Fraction(exact) / given.step
    return given.mantissa in (round_half_up(steps), truncate(steps))


def parse_shape(text: str) -> tuple[int, int] | None:
    """'55' / '55x55' / '55×55' / '17x9' -> (H, W)."""
    match = _SHAPE.fullmatch(text.strip()) if len(text) <= MAX_CELL_CHARS else None
    if not match:
        return None
    h = int(match[1])
    return h, int(match[2]) if match[2] else h


def _clean(text: Any, limit: int = MAX_CELL_CHARS) -> str:
    """Untrusted text made safe to print: control and format characters (escape sequences, bidi
    overrides) replaced, cut to `limit` characters."""
    text = str(text)
    cut = len(text) > limit
    text = "".join(ch if ch.isprintable() else (" " if ch in "\t\u00a0" else "\ufffd") for ch in text[:limit])
    return text + "\u2026" if cut else text


# --- reading answer files --------------------------------------------------------------------------


def read_sheet(path: Path, display: str | None = None) -> Sheet:
    """Read and parse an answer sheet: YAML for .yaml/.yml, CSV otherwise. A file that cannot be a
    sheet (missing, not a regular file, too large, binary, not UTF-8, malformed) is a SpecError
    naming it. Nothing in the file is ever executed."""
    name = display or str(path)
    text = _read_text(path, name)
    if path.suffix.lower() in (".yaml", ".yml"):
        return parse_yaml_sheet(text, name)
    return parse_csv_sheet(text, name)


def _read_text(path: Path, name: str) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SpecError("no such file", file=name) from None
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    if stat.S_ISDIR(info.st_mode):
        raise SpecError("is a directory, not an answer sheet", file=name)
    if not stat.S_ISREG(info.st_mode):
        raise SpecError("not a regular file (a device, pipe or socket), not an answer sheet", file=name)
    too_large = SpecError(f"file is too large for an answer sheet (the limit is {MAX_SHEET_BYTES:,} bytes)",
                          file=name)
    if info.st_size > MAX_SHEET_BYTES:
        raise too_large
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SHEET_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    if len(data) > MAX_SHEET_BYTES:
        raise too_large
    nul = data.find(b"\x00")
    if nul >= 0:
        raise SpecError(f"binary data (a NUL byte at offset {nul}), not a CSV or YAML answer sheet",
                        file=name, hint="save the sheet as UTF-8 CSV (or YAML)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        raise SpecError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                        loc=Location(name, before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1),
                        hint="save the sheet as UTF-8") from None


def _capped(messages: list, item) -> None:
    if len(messages) < MAX_MESSAGES:
        messages.append(item)


def _columns(headers: list[str], file: str, line: int | None) -> tuple[int | None, list[tuple[int, Column]], list[str]]:
    """(index of the layer column, graded (index, Column)s, notes) from a header row."""
    layer_index, graded, notes, seen = None, [], [], {}
    for index, header in enumerate(headers):
        if not str(header).strip():
            continue
        try:
            kind = classify_header(header)
        except SpecError as exc:
            raise SpecError(exc.message, loc=Location(file, line, index + 1) if line else None, file=file,
                            hint=exc.hint) from None
        if kind == LAYER:
            if layer_index is None:
                layer_index = index
            continue
        if kind == IGNORED:
            continue
        if kind is None:
            _capped(notes, f"column {_clean(header)!r} is not graded")
            continue
        if kind.key in seen:
            raise SpecError(f"columns {_clean(seen[kind.key])!r} and {_clean(header)!r} both give {kind.key}",
                            loc=Location(file, line, index + 1) if line else None, file=file)
        seen[kind.key] = header
        graded.append((index, kind))
    return layer_index, graded, notes


def _safe_classify(header: str) -> str | Column | None:
    try:
        return classify_header(header)
    except SpecError:
        return IGNORED


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def _header_score(cells: list[str]) -> int:
    return sum(1 for cell in cells if isinstance(_safe_classify(cell), Column) or _safe_classify(cell) == LAYER)


def parse_csv_sheet(text: str, file: str) -> Sheet:
    """A CSV sheet: a header row (the first row naming a graded column; rows above it are titles),
    then one row per layer. Comma, semicolon or tab separated; '#' lines are comments."""
    first_lines = [line for line in text.splitlines()[:20] if line.strip() and not line.lstrip().startswith("#")]
    delimiter = ","
    if first_lines:
        best = -1
        for candidate in (",", ";", "\t"):
            score = max(_header_score(_split(line, candidate)) for line in first_lines)
            if score > best:
                delimiter, best = candidate, score
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[SheetRow] = []
    notes: list[str] = []
    header = None
    layer_index: int | None = None
    graded: list[tuple[int, Column]] = []
    previous_line = 0
    try:
        for record in reader:
            line = previous_line + 1
            previous_line = reader.line_num
            if len(record) > MAX_COLUMNS:
                raise SpecError(f"too many columns ({len(record):,}; the limit is {MAX_COLUMNS})",
                                loc=Location(file, line, 1))
            if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
                continue
            if header is None:
                layer_index, graded, notes = _columns(record, file, line)
                if not graded:
                    if line > 20:
                        break
                    continue  # a title row above the header
                header = record
                if layer_index is None:
                    first = record[0].strip()
                    if first and _safe_classify(first) is not None:
                        raise SpecError("no Layer column: name the first column 'Layer'", loc=Location(file, line, 1))
                    layer_index = 0
                    notes = [note for note in notes if note != f"column {_clean(first)!r} is not graded"]
                continue
            if len(rows) >= MAX_ROWS:
                raise SpecError(f"too many rows (the limit is {MAX_ROWS:,})", loc=Location(file, line, 1))
            if len(record) > len(header) and any(cell.strip() for cell in record[len(header):]):
                _capped(notes, f"line {line}: {len(record) - len(header)} cell(s) beyond the header ignored")
            values = {col.key: record[index].strip() for index, col in graded if index < len(record)}
            name = record[layer_index].strip() if layer_index < len(record) else ""
            rows.append(SheetRow(name, line, values))
    except csv.Error as exc:
        raise SpecError(f"not a readable CSV file: {exc}", loc=Location(file, reader.line_num or 1, 1)) from None
    if header is None:
        raise SpecError("no header row naming a graded column",
                        hint="expected a header such as: Layer,C_out,H'/W',Mem (KB),Params (k),MACs (M) "
                             "(see 'cnncalc grade --template SPEC')", file=file)
    return Sheet(file, tuple(col for _, col in graded), tuple(rows), tuple(notes))


def _scan_yaml(text: str, file: str) -> None:
    """Refuse deep nesting and aliases before anything is composed: libyaml's composer recurses
    (a file of 100,000 '[' crashes the interpreter) and aliases can multiply a small file."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader_class):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    mark = event.start_mark
                    raise SpecError(f"nested more than {MAX_YAML_DEPTH} levels deep; not an answer sheet",
                                    loc=Location(file, mark.line + 1, mark.column + 1))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                raise SpecError("YAML aliases ('*name') are not allowed in an answer sheet; write the values out",
                                loc=Location(file, mark.line + 1, mark.column + 1))
    except yaml.YAMLError:
        return  # a syntax error: parse_yaml reports it with its location


def _raw_scalars(text: str) -> dict[tuple[int, int], str]:
    """(line, column) -> the scalar as written ('1134.40', not 1134.4; '055', not 45)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    raw: dict[tuple[int, int], str] = {}
    stack = [node] if node is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.value != "":
                raw.setdefault((node.start_mark.line + 1, node.start_mark.column + 1), node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return raw


def parse_yaml_sheet(text: str, file: str) -> Sheet:
    """A YAML sheet: a mapping of layer name to {column: value}, or a list of {layer: name, column:
    value} mappings. Read by the safe, located loader of cnncalc/yamlsrc.py."""
    from ..spec.yamlsrc import YList, YMap, parse_yaml

    _scan_yaml(text, file)
    doc = parse_yaml(text, file)
    raw = _raw_scalars(text)
    entries: list[tuple[str, Optional[int], Any]] = []  # (layer, line, mapping or None)
    if isinstance(doc, YMap):
        for name, value in doc.items():
            loc = doc.value_locs[name]
            if value is not None and not isinstance(value, YMap):
                raise SpecError("give each layer a mapping of column: value, e.g. conv1: {c_out: 96, hw_out: 55}",
                                loc=loc, layer=_clean(name))
            entries.append((str(name), doc.key_locs[name].line, value))
    elif isinstance(doc, YList):
        for item, loc in zip(doc, doc.item_locs):
            if not isinstance(item, YMap):
                raise SpecError("each row must be a mapping such as {layer: conv1, c_out: 96}", loc=loc)
            key = next((k for k in item if _normalize_header(k) in _LAYER_HEADERS), None)
            name = item.get(key) if key is not None else None
            entries.append(("" if name is None else str(name), loc.line, item))
    else:
        raise SpecError("an answer sheet in YAML is a mapping of layer: {column: value}, or a list of rows",
                        loc=getattr(doc, "loc", None), file=file)
    if len(entries) > MAX_ROWS:
        raise SpecError(f"too many rows (the limit is {MAX_ROWS:,})", file=file)

    kinds: dict[Any, Any] = {}
    graded: dict[str, Column] = {}
    notes: list[str] = []
    rows: list[SheetRow] = []
    for name, line, mapping in entries:
        values: dict[str, str] = {}
        headers: dict[str, Any] = {}
        for key, value in (mapping or {}).items():
            if key not in kinds:
                if len(kinds) >= MAX_COLUMNS:
                    raise SpecError(f"too many columns (the limit is {MAX_COLUMNS})", loc=mapping.key_locs[key])
                try:
                    kinds[key] = classify_header(str(key))
                except SpecError as exc:
                    raise SpecError(exc.message, loc=mapping.key_locs[key], hint=exc.hint) from None
                if kinds[key] is None:
                    _capped(notes, f"column {_clean(key)!r} is not graded")
            kind = kinds[key]
            if not isinstance(kind, Column):
                continue
            if kind.key in values:
                raise SpecError(f"columns {_clean(headers[kind.key])!r} and {_clean(key)!r} both give {kind.key}",
                                loc=mapping.key_locs[key])
            headers[kind.key] = key
            graded.setdefault(kind.key, kind)
            values[kind.key] = _yaml_text(value, mapping.value_locs[key], raw)
        rows.append(SheetRow(name, line, values))
    if not graded:
        raise SpecError("no graded column (c_out, hw_out, memory_kb, params_k, macs_m, ...)", file=file,
                        hint="see 'cnncalc grade --template SPEC --format yaml'")
    return Sheet(file, tuple(graded.values()), tuple(rows), tuple(notes))


def _yaml_text(value: Any, loc: Location, raw: dict[tuple[int, int], str]) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return "[...]" if isinstance(value, list) else "{...}"
    return raw.get((loc.line, loc.column), str(value))


# --- grading ---------------------------------------------------------------------------------------


def _truths(report: Report) -> dict[str, dict[str, Any]]:
    """Per layer (and 'total'): the true value of each quantity; None where there is none."""
    truths: dict[str, dict[str, Any]] = {}
    for row in report.rows:
        shape = row.output_shape
        truths[row.name] = {
            C_OUT: shape[0] if shape else None,
            HW_OUT: (shape[1], shape[2]) if len(shape) == 3 else None,
            MEMORY: row.memory_bytes,
            PARAMS: row.params,
            MACS: row.macs,
        }
    totals = report.totals
    truths.setdefault(TOTAL, {C_OUT: None, HW_OUT: None, MEMORY: totals.memory_bytes, PARAMS: totals.params,
                              MACS: totals.macs})
    for name, values in truths.items():
        for value in values.values():
            if value is not None and not isinstance(value, (int, tuple)):
                raise SpecError(f"cannot grade a symbolic size ({value}); give the spec concrete sizes",
                                layer=name, hint="e.g. --set NAME=VALUE")
    return truths


def expected_text(truth: Any, col: Column) -> str | None:
    """The true value in the column's unit, exactly: '1134.375', '34.944', '55', '17×9'."""
    if truth is None:
        return None
    if col.quantity == HW_OUT:
        return format_pair(truth)
    if col.quantity == C_OUT:
        return str(truth)
    return decimal_text(Fraction(truth, col.unit))


def judge(text: str | None, truth: Any, col: Column, rtol: Fraction | None = None) -> str | None:
    """The verdict for one cell, or None when there is nothing to grade (blank where nothing is due)."""
    written = (text or "").strip()
    if not written or written.lower() in _NOT_APPLICABLE:
        if truth is None:
            return None
        return MISSING if not written else WRONG
    if truth is None:
        return WRONG  # a value where the layer has none (H'/W' of a vector, C_out of the total)
    if col.quantity == HW_OUT:
        shape = parse_shape(written)
        return UNPARSEABLE if shape is None else (RIGHT if shape == tuple(truth) else WRONG)
    number = parse_number(written, col.quantity, col.unit)
    if number is None:
        return UNPARSEABLE
    if col.quantity == C_OUT:
        return RIGHT if number.value == truth else WRONG
    return RIGHT if is_right(number, Fraction(truth), rtol) else WRONG


def grade(report: Report, sheet: Sheet, rtol: Fraction | float | None = None) -> GradeResult:
    """Compare every cell of `sheet` with `report`: each layer of the report, for each graded
    column the sheet has (a blank cell or an absent row is `missing`), and the `total` row when
    the sheet gives one. Unknown, duplicate and nameless rows are Problems."""
    if rtol is not None:
        rtol = Fraction(str(rtol)) if isinstance(rtol, float) else Fraction(rtol)
    truths = _truths(report)
    names = [row.name for row in report.rows]
    folded: dict[str, list[str]] = {}
    for name in [*names, TOTAL]:
        folded.setdefault(name.casefold(), []).append(name)

    problems: list[Problem] = []
    more = 0
    found: dict[str, SheetRow] = {}

    def problem(item: Problem) -> None:
        nonlocal more
        if len(problems) < MAX_MESSAGES:
            problems.append(item)
        else:
            more += 1

    for row in sheet.rows:
        written = row.layer.strip()
        if not written:
            if any(value.strip() for value in row.values.values()):
                problem(Problem("a row with answers but no layer name", row.line))
            continue
        target = written if written in truths else None
        if target is None:
            matches = folded.get(written.casefold(), [])
            if written.casefold() == "totals":
                matches = [TOTAL]
            target = matches[0] if len(matches) == 1 else None
        if target is None:
            problem(Problem(f"no layer {_clean(written)!r} in {report.name}", row.line,
                            did_you_mean(written, [*names, TOTAL])))
            continue
        if target in found:
            first = found[target].line
            problem(Problem(f"duplicate row for {target!r}" + (f" (first at line {first})" if first else "")
                            + "; only the first is graded", row.line))
            continue
        found[target] = row

    graded_layers = names + ([TOTAL] if TOTAL in found and TOTAL not in names else [])
    cells: list[Cell] = []
    for name in graded_layers:
        row = found.get(name)
        for col in sheet.columns:
            truth = truths[name][col.quantity]
            text = row.values.get(col.key) if row is not None else None
            verdict = judge(text, truth, col, rtol)
            if verdict is None:
                continue
            given = _clean(text.strip()) if text is not None and text.strip() else None
            cells.append(Cell(name, col.key, given, expected_text(truth, col), verdict))
    return GradeResult(sheet.file, report.name, sheet.columns, tuple(cells), tuple(problems), sheet.notes, more)


def grade_files(report: Report, paths: Iterable[Path], rtol=None) -> tuple[list[GradeResult], list[SpecError]]:
    """Grade each file; a file that cannot be read is a SpecError in the second list, not a stop."""
    _truths(report)  # a symbolic spec cannot be graded: say so once, not once per file
    results, errors = [], []
    for path in paths:
        try:
            results.append(grade(report, read_sheet(Path(path), str(path)), rtol))
        except SpecError as exc:
            if exc.file is None and exc.loc is None:
                exc = SpecError(exc.message, file=str(path), layer=exc.layer, field=exc.field, hint=exc.hint)
            errors.append(exc)
    return results, errors
