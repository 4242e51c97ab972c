"""Reading answer sheets (CSV or YAML, untrusted) into rows of cell texts per graded column.
Nothing in a sheet is ever executed; every limit below is checked before the work it bounds."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..core.errors import Location, SheetError
from ..core.io import read_text
from ..core.text import printable
from ..spec.yamlsrc import YList, YMap, check_structure, parse_yaml
from .columns import IGNORED, LAYER, LAYER_HEADERS, GradedColumn, classify_header, normalize_header
from .values import MAX_CELL_CHARS

MAX_SHEET_BYTES = 1024 * 1024  # a whole class's table fits in a few KB
MAX_ROWS = 10_000
MAX_COLUMNS = 200
MAX_YAML_DEPTH = 8  # a sheet needs 3 levels; a deeper one is not an answer sheet
MAX_MESSAGES = 50  # problems and notes listed per file; the rest are counted


@dataclass(frozen=True)
class SheetRow:
    layer: str  # as written ('' when the row names no layer)
    line: Optional[int]
    values: dict[str, str]  # canonical column key -> the cell's text


@dataclass(frozen=True)
class Sheet:
    file: str
    columns: tuple[GradedColumn, ...]
    rows: tuple[SheetRow, ...]
    notes: tuple[str, ...] = ()



# --- reading answer files --------------------------------------------------------------------------


def read_sheet(path: Path, display: str | None = None) -> Sheet:
    """Read and parse an answer sheet: YAML for .yaml/.yml, CSV otherwise. A file that cannot be a
    sheet (missing, not a regular file, too large, binary, not UTF-8, malformed) is a SheetError
    naming it. Nothing in the file is ever executed."""
    name = display or str(path)
    text = read_text(path, name, what="an answer sheet", limit=MAX_SHEET_BYTES, error=SheetError,
                     binary_hint="save the sheet as UTF-8 CSV (or YAML)")
    if path.suffix.lower() in (".yaml", ".yml"):
        return parse_yaml_sheet(text, name)
    return parse_csv_sheet(text, name)


def _capped(messages: list, item) -> None:
    if len(messages) < MAX_MESSAGES:
        messages.append(item)


def _columns(headers: list[str], file: str,
             line: int | None) -> tuple[int | None, list[tuple[int, GradedColumn]], list[str]]:
    """(index of the layer column, graded (index, GradedColumn)s, notes) from a header row."""
    layer_index: int | None = None
    graded: list[tuple[int, GradedColumn]] = []
    notes: list[str] = []
    seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        if not str(header).strip():
            continue
        try:
            kind = classify_header(header)
        except SheetError as exc:
            raise SheetError(exc.message, loc=Location(file, line, index + 1) if line else None, file=file,
                             hint=exc.hint) from None
        if kind == LAYER:
            if layer_index is None:
                layer_index = index
            continue
        if kind == IGNORED:
            continue
        if not isinstance(kind, GradedColumn):
            _capped(notes, f"column {_clean(header)!r} is not graded")
            continue
        if kind.key in seen:
            raise SheetError(f"columns {_clean(seen[kind.key])!r} and {_clean(header)!r} both give {kind.key}",
                             loc=Location(file, line, index + 1) if line else None, file=file)
        seen[kind.key] = header
        graded.append((index, kind))
    return layer_index, graded, notes


def _safe_classify(header: str) -> str | GradedColumn | None:
    try:
        return classify_header(header)
    except SheetError:
        return IGNORED


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def _header_score(cells: list[str]) -> int:
    return sum(1 for cell in cells if isinstance(_safe_classify(cell), GradedColumn) or _safe_classify(cell) == LAYER)


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
    graded: list[tuple[int, GradedColumn]] = []
    previous_line = 0
    try:
        for record in reader:
            line = previous_line + 1
            previous_line = reader.line_num
            if len(record) > MAX_COLUMNS:
                raise SheetError(f"too many columns ({len(record):,}; the limit is {MAX_COLUMNS})",
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
                        raise SheetError("no Layer column: name the first column 'Layer'", loc=Location(file, line, 1))
                    layer_index = 0
                    notes = [note for note in notes if note != f"column {_clean(first)!r} is not graded"]
                continue
            if len(rows) >= MAX_ROWS:
                raise SheetError(f"too many rows (the limit is {MAX_ROWS:,})", loc=Location(file, line, 1))
            if len(record) > len(header) and any(cell.strip() for cell in record[len(header):]):
                _capped(notes, f"line {line}: {len(record) - len(header)} cell(s) beyond the header ignored")
            values = {col.key: record[index].strip() for index, col in graded if index < len(record)}
            name = record[layer_index].strip() if layer_index is not None and layer_index < len(record) else ""
            rows.append(SheetRow(name, line, values))
    except csv.Error as exc:
        raise SheetError(f"not a readable CSV file: {exc}", loc=Location(file, reader.line_num or 1, 1)) from None
    if header is None:
        raise SheetError("no header row naming a graded column",
                         hint="expected a header such as: Layer,C_out,H'/W',Mem (KB),Params (k),MACs (M) "
                             "(see 'cnncalc grade --template SPEC')", file=file)
    return Sheet(file, tuple(col for _, col in graded), tuple(rows), tuple(notes))


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
    value} mappings. Read by the safe, located loader of spec/yamlsrc.py."""
    check_structure(text, file, MAX_YAML_DEPTH, aliases=False, error=SheetError, what="the answer sheet")
    doc = parse_yaml(text, file, SheetError)
    raw = _raw_scalars(text)
    entries: list[tuple[str, Optional[int], Any]] = []  # (layer, line, mapping or None)
    if isinstance(doc, YMap):
        for name, value in doc.items():
            loc = doc.value_locs[name]
            if value is not None and not isinstance(value, YMap):
                raise SheetError("give each layer a mapping of column: value, e.g. conv1: {c_out: 96, hw_out: 55}",
                                 loc=loc, layer=_clean(name))
            entries.append((str(name), doc.key_locs[name].line, value))
    elif isinstance(doc, YList):
        for item, loc in zip(doc, doc.item_locs):
            if not isinstance(item, YMap):
                raise SheetError("each row must be a mapping such as {layer: conv1, c_out: 96}", loc=loc)
            key = next((k for k in item if normalize_header(k) in LAYER_HEADERS), None)
            name = item.get(key) if key is not None else None
            entries.append(("" if name is None else str(name), loc.line, item))
    else:
        raise SheetError("an answer sheet in YAML is a mapping of layer: {column: value}, or a list of rows",
                         loc=getattr(doc, "loc", None), file=file)
    if len(entries) > MAX_ROWS:
        raise SheetError(f"too many rows (the limit is {MAX_ROWS:,})", file=file)

    kinds: dict[Any, Any] = {}
    graded: dict[str, GradedColumn] = {}
    notes: list[str] = []
    rows: list[SheetRow] = []
    for name, line, mapping in entries:
        values: dict[str, str] = {}
        headers: dict[str, Any] = {}
        for key, value in (mapping or {}).items():
            if key not in kinds:
                if len(kinds) >= MAX_COLUMNS:
                    raise SheetError(f"too many columns (the limit is {MAX_COLUMNS})", loc=mapping.key_locs[key])
                try:
                    kinds[key] = classify_header(str(key))
                except SheetError as exc:
                    raise SheetError(exc.message, loc=mapping.key_locs[key], hint=exc.hint) from None
                if kinds[key] is None:
                    _capped(notes, f"column {_clean(key)!r} is not graded")
            kind = kinds[key]
            if not isinstance(kind, GradedColumn):
                continue
            if kind.key in values:
                raise SheetError(f"columns {_clean(headers[kind.key])!r} and {_clean(key)!r} both give {kind.key}",
                                 loc=mapping.key_locs[key])
            headers[kind.key] = key
            graded.setdefault(kind.key, kind)
            values[kind.key] = _yaml_text(value, mapping.value_locs[key], raw)
        rows.append(SheetRow(name, line, values))
    if not graded:
        raise SheetError("no graded column (c_out, hw_out, memory_kb, params_k, macs_m, ...)", file=file,
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




def _clean(text: Any) -> str:
    return printable(text, MAX_CELL_CHARS)
