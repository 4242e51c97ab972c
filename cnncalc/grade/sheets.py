"""Reading answer sheets (CSV, YAML or .xlsx, untrusted) into rows of cell texts per graded column.
Nothing in a sheet is ever executed (a spreadsheet's formulas included); every limit below is
checked before the work it bounds.

Besides layer rows, a sheet may carry a few named rows (keys in YAML): `student` (who wrote it),
and, in an assignment (the template or key the TA grades against), `weight` (each column's points
per cell) and `points` (what the whole sheet is worth)."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

from ..core.errors import Location, SheetError
from ..core.io import read_bytes, read_text
from ..core.numbers import exact_number
from ..core.text import printable
from ..spec.yamlsrc import YList, YMap, check_structure, parse_yaml
from .columns import IGNORED, LAYER, LAYER_HEADERS, GradedColumn, classify_header, normalize_header
from .values import MAX_CELL_CHARS

MAX_SHEET_BYTES = 1024 * 1024  # a whole class's table fits in a few KB
MAX_XLSX_UNPACKED = 16 * 1024 * 1024  # a workbook's XML, unzipped (a zip bomb is refused before parsing)
MAX_ROWS = 10_000
MAX_COLUMNS = 200
MAX_YAML_DEPTH = 8  # a sheet needs 3 levels; a deeper one is not an answer sheet
MAX_MESSAGES = 50  # problems and notes listed per file; the rest are counted
STUDENT, WEIGHT, POINTS = "student", "weight", "points"
_SETTING_ROWS = {"student": STUDENT, "weight": WEIGHT, "weights": WEIGHT, "points": POINTS}
_STUDENT_TITLE = re.compile(r"\s*#?\s*student\s*[:=]\s*(?P<name>\S.*?)\s*", re.I)
XLSX_SUFFIXES = (".xlsx", ".xlsm")


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
    student: Optional[str] = None  # from a `student` row or key; None: the file name says who
    weights: dict[str, Fraction] = field(default_factory=dict)  # column key -> points per cell (assignments)
    points: Optional[Fraction] = None  # what the sheet is worth in all (assignments)

    def column_for(self, quantity: str) -> GradedColumn | None:
        """The sheet's column for a quantity (the first, if it has several in different units)."""
        return next((col for col in self.columns if col.quantity == quantity), None)


# --- reading answer files --------------------------------------------------------------------------


def read_sheet(path: Path, display: str | None = None) -> Sheet:
    """Read and parse an answer sheet: YAML for .yaml/.yml, a workbook for .xlsx (needs openpyxl),
    CSV otherwise (UTF-8, or UTF-16 with its byte order mark). A file that cannot be a sheet
    (missing, not a regular file, too large, binary, not UTF-8, malformed) is a SheetError naming
    it. Nothing in the file is ever executed."""
    name = display or str(path)
    if path.suffix.lower() in XLSX_SUFFIXES:
        data = read_bytes(path, name, what="an answer sheet", limit=MAX_SHEET_BYTES, error=SheetError)
        return parse_records(xlsx_records(data, name), name)
    text = read_text(path, name, what="an answer sheet", limit=MAX_SHEET_BYTES, error=SheetError,
                     binary_hint="save the sheet as UTF-8 CSV (or YAML)", utf16=True)
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
        if kind.quantity in seen:
            raise SheetError(f"columns {_clean(seen[kind.quantity])!r} and {_clean(header)!r} both give "
                             f"{kind.quantity}", loc=Location(file, line, index + 1) if line else None, file=file,
                             hint="keep one of them (or rename the other so that it is not graded)")
        seen[kind.quantity] = header
        graded.append((index, kind))
        if kind.note:
            _capped(notes, kind.note)
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


def _csv_records(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) per CSV record; comma, semicolon or tab, whichever makes the best header."""
    first_lines = [line for line in text.splitlines()[:20] if line.strip() and not line.lstrip().startswith("#")]
    delimiter = ","
    if first_lines:
        best = -1
        for candidate in (",", ";", "\t"):
            score = max(_header_score(_split(line, candidate)) for line in first_lines)
            if score > best:
                delimiter, best = candidate, score
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous_line = 0
    try:
        for record in reader:
            line = previous_line + 1
            previous_line = reader.line_num
            yield line, record
    except csv.Error as exc:
        raise SheetError(f"not a readable CSV file: {exc}", loc=Location(file, reader.line_num or 1, 1)) from None


def parse_csv_sheet(text: str, file: str) -> Sheet:
    """A CSV sheet: a header row (the first row naming a graded column; rows above it are titles),
    then one row per layer. Comma, semicolon or tab separated; '#' lines are comments."""
    return parse_records(_csv_records(text, file), file)


def _setting(cells: list[str], layer_index: int) -> str | None:
    """`student`, `weight` or `points` when the row's layer cell names one of them."""
    if layer_index >= len(cells):
        return None
    return _SETTING_ROWS.get(cells[layer_index].strip().rstrip(":").strip().lower())


def _student_title(cells: list[str]) -> str | None:
    """'Student: Alice' (or '# student = Alice') in a title row or comment -> 'Alice'."""
    match = next((m for cell in cells if (m := _STUDENT_TITLE.fullmatch(cell))), None)
    return _clean(match["name"]) if match else None


def _next_cell(cells: list[str], index: int) -> str | None:
    """The first non-blank cell after `index`: the value of a `student` row."""
    return _clean(next((cell.strip() for cell in cells[index + 1:] if cell.strip()), "")) or None


def _fraction(text: str, what: str, loc: Location, positive: bool) -> Fraction:
    try:
        value = exact_number(text.strip().replace(",", "."))
    except (ValueError, ZeroDivisionError):
        raise SheetError(f"{what} must be a number (exponents from -60 to 60), got {_clean(text)!r}",
                         loc=loc) from None
    if value < 0 or (positive and value == 0):
        raise SheetError(f"{what} must be {'positive' if positive else 'at least 0'}, got {_clean(text)!r}",
                         loc=loc)
    return value


def parse_records(records: Iterable[tuple[int, list[str]]], file: str) -> Sheet:
    """Rows of cell texts (from CSV or a workbook) as a Sheet: titles, then the header, then layers."""
    rows: list[SheetRow] = []
    notes: list[str] = []
    header: list[str] | None = None
    layer_index = 0
    graded: list[tuple[int, GradedColumn]] = []
    student: str | None = None
    weights: dict[str, Fraction] = {}
    points: Fraction | None = None
    for line, record in records:
        if len(record) > MAX_COLUMNS:
            raise SheetError(f"too many columns ({len(record):,}; the limit is {MAX_COLUMNS})",
                             loc=Location(file, line, 1))
        if not any(cell.strip() for cell in record):
            continue
        if record[0].lstrip().startswith("#"):
            student = student or _student_title([",".join(record)])
            continue
        if header is None:
            student = student or _student_title(record)
        if header is None:
            found_layer, graded, notes = _columns(record, file, line)
            if not graded:
                if _setting(record, 0) == STUDENT:
                    student = student or _next_cell(record, 0)
                if line > 20:
                    break
                continue  # a title row above the header
            header = record
            if found_layer is None:
                first = record[0].strip()
                if first and _safe_classify(first) is not None:
                    raise SheetError("no Layer column: name the first column 'Layer'", loc=Location(file, line, 1))
                found_layer = 0
                notes = [note for note in notes if note != f"column {_clean(first)!r} is not graded"]
            layer_index = found_layer
            continue
        setting = _setting(record, layer_index)
        if setting == STUDENT:
            student = student or _next_cell(record, layer_index)
            continue
        if setting == WEIGHT:
            for index, col in graded:
                if index < len(record) and record[index].strip():
                    weights[col.key] = _fraction(record[index], f"the weight of {col.key}",
                                                 Location(file, line, index + 1), positive=False)
            continue
        if setting == POINTS:
            index, text = next(((i, cell) for i, cell in enumerate(record) if i != layer_index and cell.strip()),
                               (layer_index, ""))
            points = _fraction(text, "points", Location(file, line, index + 1), positive=True)
            continue
        if [cell.strip() for cell in record] == [cell.strip() for cell in header][:len(record)]:
            _capped(notes, f"line {line}: the header again, skipped")  # two tables pasted one after the other
            continue
        if len(rows) >= MAX_ROWS:
            raise SheetError(f"too many rows (the limit is {MAX_ROWS:,})", loc=Location(file, line, 1))
        if len(record) > len(header) and any(cell.strip() for cell in record[len(header):]):
            _capped(notes, f"line {line}: {len(record) - len(header)} cell(s) beyond the header ignored"
                    + (" (an unquoted thousands separator? write 1134 or \"1,134\")" if "," not in "".join(header)
                       else ""))
        values = {col.key: record[index].strip() for index, col in graded if index < len(record)}
        name = record[layer_index].strip() if layer_index < len(record) else ""
        rows.append(SheetRow(name, line, values))
    if header is None:
        raise SheetError("no header row naming a graded column",
                         hint="expected a header such as: Layer,C_out,H'/W',Mem (KB),Params (k),MACs (M) "
                             "(see 'cnncalc grade --template SPEC')", file=file)
    return Sheet(file, tuple(col for _, col in graded), tuple(rows), tuple(notes), student, weights, points)


# --- workbooks -------------------------------------------------------------------------------------


def xlsx_records(data: bytes, file: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cell texts) of a workbook's first sheet, through openpyxl (the `xlsx` extra).
    Values are what the spreadsheet last showed (formulas are never evaluated), written at the
    precision of the cell's number format ('0.0' keeps one decimal)."""
    import zipfile

    try:
        import openpyxl
    except ImportError:
        raise SheetError("reading .xlsx sheets needs openpyxl", file=file,
                         hint="pip install 'cnncalc[xlsx]', or save the sheet as CSV") from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise SheetError("not a readable .xlsx workbook (not a zip archive)", file=file,
                         hint="save the sheet as .xlsx or CSV") from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise SheetError(f"the workbook unpacks to {unpacked:,} bytes (the limit is {MAX_XLSX_UNPACKED:,})",
                         file=file)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file; all mean "cannot read it"
        raise SheetError(f"not a readable .xlsx workbook ({type(exc).__name__})", file=file) from None
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(max_row=MAX_ROWS + 50, max_col=MAX_COLUMNS + 1), start=1):
            cells = [_xlsx_text(cell) for cell in row]
            while cells and not cells[-1]:
                cells.pop()
            yield number, cells
    finally:
        book.close()


def _xlsx_text(cell: Any) -> str:
    value = getattr(cell, "value", None)
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, (int, float)):
        decimals = re.search(r"\.(0+)", str(getattr(cell, "number_format", "") or ""))
        if decimals:
            return f"{value:.{len(decimals[1])}f}"
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value) if isinstance(value, float) else str(value)
    return str(value)


# --- YAML ------------------------------------------------------------------------------------------


def _composed(text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError:
        return None  # the located parse reports it
    finally:
        loader.dispose()


def _raw_scalars(node: Any, file: str) -> dict[tuple[int, int], str]:
    """(line, column) -> the scalar as written ('1134.40', not 1134.4; '055', not 45); refuses
    `{memory_kb: 1,134}`, which YAML reads as memory_kb: 1 and a key 134."""
    import yaml

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
            _check_flow_thousands(node, file)
            for key, value in node.value:
                stack.extend((key, value))
    return raw


_GROUP_KEY = re.compile(r"\d{3}(\.\d+)?")


def _check_flow_thousands(node: Any, file: str) -> None:
    import yaml

    pairs = node.value
    for index, (key, value) in enumerate(pairs):
        if not (index and isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode)
                and not key.style and _GROUP_KEY.fullmatch(str(key.value)) and value.value == ""
                and value.tag.endswith(":null")):
            continue
        start = index - 1
        while start > 0 and _GROUP_KEY.fullmatch(str(pairs[start][0].value)) and pairs[start][1].value == "":
            start -= 1
        if not all(isinstance(part, yaml.ScalarNode) for part in pairs[start]):  # not a number split at a comma
            continue
        name, first = pairs[start][0].value, pairs[start][1].value
        end = index
        while end + 1 < len(pairs) and _GROUP_KEY.fullmatch(str(pairs[end + 1][0].value)) \
                and pairs[end + 1][1].value == "":
            end += 1
        number = ",".join([str(first), *(str(pairs[i][0].value) for i in range(start + 1, end + 1))])
        raise SheetError(f"'{_clean(name)}: {number}' in a flow mapping {{...}} reads as {_clean(name)}: {first} "
                         f"and a key {key.value}", loc=Location(file, key.start_mark.line + 1,
                                                                 key.start_mark.column + 1),
                         hint=f'quote the number, {_clean(name)}: "{number}", or write it without the comma')


def parse_yaml_sheet(text: str, file: str) -> Sheet:
    """A YAML sheet: a mapping of layer name to {column: value}, or a list of {layer: name, column:
    value} mappings. Read by the safe, located loader of spec/yamlsrc.py. Top-level keys `student`,
    `points` and `weight` are the sheet's settings, not layers."""
    check_structure(text, file, MAX_YAML_DEPTH, aliases=False, error=SheetError, what="the answer sheet")
    raw = _raw_scalars(_composed(text), file)
    doc = parse_yaml(text, file, SheetError)
    entries: list[tuple[str, Optional[int], Any]] = []  # (layer, line, mapping or None)
    settings: dict[str, tuple[Any, Location]] = {}
    if isinstance(doc, YMap):
        for name, value in doc.items():
            loc = doc.value_locs[name]
            setting = _SETTING_ROWS.get(str(name).lower())
            if setting is not None:
                settings[setting] = (value, loc)
                continue
            if value is not None and not isinstance(value, YMap):
                raise SheetError("give each layer a mapping of column: value, e.g. conv1: {c_out: 96, hw_out: 55}",
                                 loc=loc, layer=_clean(name))
            entries.append((str(name), doc.key_locs[name].line, value))
    elif isinstance(doc, YList):
        for item, loc in zip(doc, doc.item_locs):
            if not isinstance(item, YMap):
                raise SheetError("each row must be a mapping such as {layer: conv1, c_out: 96}", loc=loc)
            if len(item) == 1 and str(next(iter(item))).lower() == STUDENT:
                settings[STUDENT] = (next(iter(item.values())), loc)
                continue
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
            known = graded.get(kind.quantity)
            if kind.quantity in headers or (known is not None and known.key != kind.key):
                first = headers.get(kind.quantity, known.header if known else "")
                raise SheetError(f"columns {_clean(first)!r} and {_clean(key)!r} both give {kind.quantity}",
                                 loc=mapping.key_locs[key])
            headers[kind.quantity] = key
            if known is None:
                graded[kind.quantity] = kind
                if kind.note:
                    _capped(notes, kind.note)
            values[kind.key] = _yaml_text(value, mapping.value_locs[key], raw)
        rows.append(SheetRow(name, line, values))
    if not graded:
        raise SheetError("no graded column (c_out, hw_out, memory_kb, params_k, macs_m, ...)", file=file,
                         hint="see 'cnncalc grade --template SPEC --format yaml'")
    student, weights, points = _yaml_settings(settings, raw)
    return Sheet(file, tuple(graded.values()), tuple(rows), tuple(notes), student, weights, points)


def _yaml_settings(settings: dict[str, tuple[Any, Location]],
                   raw: dict[tuple[int, int], str]) -> tuple[str | None, dict[str, Fraction], Fraction | None]:
    student = points = None
    weights: dict[str, Fraction] = {}
    if STUDENT in settings:
        value, loc = settings[STUDENT]
        student = _clean(_yaml_text(value, loc, raw)) or None
    if POINTS in settings:
        value, loc = settings[POINTS]
        points = _fraction(_yaml_text(value, loc, raw), "points", loc, positive=True)
    if WEIGHT in settings:
        value, loc = settings[WEIGHT]
        if not isinstance(value, YMap):
            raise SheetError("weight is a mapping of column: points per cell, e.g. {memory_kb: 2}", loc=loc)
        for key, item in value.items():
            kind = _safe_classify(str(key))
            if not isinstance(kind, GradedColumn):
                raise SheetError(f"weight: {_clean(key)!r} is not a graded column", loc=value.key_locs[key])
            weights[kind.key] = _fraction(_yaml_text(item, value.value_locs[key], raw), f"the weight of {kind.key}",
                                          value.value_locs[key], positive=False)
    return student, weights, points


def _yaml_text(value: Any, loc: Location, raw: dict[tuple[int, int], str]) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and 1 < len(value) <= 3 and all(isinstance(item, int) and not isinstance(item, bool)
                                                             for item in value):
        return "x".join(str(item) for item in value)  # hw_out: [55, 55] (or the whole shape [96, 55, 55])
    if isinstance(value, (list, dict)):
        return "[...]" if isinstance(value, list) else "{...}"
    return raw.get((loc.line, loc.column), str(value))


def _clean(text: Any) -> str:
    return printable(text, MAX_CELL_CHARS)
