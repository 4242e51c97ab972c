"""`use:`: a spec takes the blocks (and the variables they read) of other spec files and of
bundled specs, so that variants of a net share one definition of their blocks (docs/spec.md,
"Using blocks of other files").

Bounded as one file is: the spec and every file it uses, together, are held to the limits of one
file (docs/limits.md: 8 MiB, 500,000 values), at most MAX_USED_FILES files, and each used file is
read once per load however often it is named. Nothing is executed: a used file is read with the
same safe YAML reader as a spec.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ErrorCollector, Location, Note, SpecError, did_you_mean
from ..core.text import file_name, shown
from . import bundled
from .yamlsrc import MAX_FILE_BYTES, MAX_VALUES, YList, YMap, parse_yaml, read_spec_text

MAX_USED_FILES = 64  # files a spec uses, directly and through the files it uses
FILE_SUFFIXES = (".yaml", ".yml")
_CACHED_BYTES = 1024 * 1024  # the used files kept parsed between loads (a sweep reads its spec once per
# variant), by their size: a parsed value takes about 600 bytes, so about 50 MB at most


class LimitPassed(SpecError):
    """The spec and the files it uses passed a limit of one file, or the number of files: nothing
    more is read."""


@dataclass
class Definition:
    """A block or a variable that a used file brings: what it is and where it stands."""

    name: str
    value: Any  # a Block, or a variable's raw value (a YAML value)
    loc: Location  # of its name
    value_loc: Location | None = None  # a variable's value


@dataclass
class Used:
    """What a file's `use:` brings, its own definitions not included: blocks and variables by name,
    the names of used blocks that could not be read, and the notes of the reading."""

    blocks: dict[str, Definition] = field(default_factory=dict)
    variables: dict[str, Definition] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    notes: list[Note] = field(default_factory=list)


ReadBlocks = Callable[[YMap, ErrorCollector], tuple[dict[str, Any], set[str]]]
CheckKeys = Callable[[YMap, ErrorCollector], None]


def spec_folder(file: str, path: Path | None) -> tuple[Path, str | None]:
    """The folder a spec's `use:` paths are relative to, and the real path of the spec itself (to
    refuse a cycle back to it): its path's folder; for a spec known only by the name shown, that
    name's file if it is one, a bundled spec's folder for 'NAME (bundled)', else the working folder."""
    if path is None:
        candidate = Path(file)
        try:
            if candidate.is_file():
                path = candidate
        except OSError:
            pass
        if path is None and file.endswith(" (bundled)"):
            path = bundled.bundled_specs().get(file.removesuffix(" (bundled)"))
    if path is None:
        return Path("."), None
    return path.parent, os.path.realpath(path)


class Loader:
    """Reads the files of one spec's `use:`, recursively: each file once, cycles refused."""

    def __init__(self, problems: ErrorCollector, read_blocks: ReadBlocks, check_keys: CheckKeys,
                 spent_bytes: int, spent_values: int) -> None:
        self.problems = problems
        self.read_blocks = read_blocks
        self.check_keys = check_keys
        self.bytes = spent_bytes
        self.values = spent_values
        self.done: dict[str, Used] = {}  # real path -> what the file defines and brings
        self.files = 0
        self.bundled: dict[str, Path] | None = None  # listed once, however many entries name one

    def uses(self, doc: YMap, file: str, folder: Path, chain: tuple[str, ...]) -> Used:
        """What `doc`'s `use:` brings (`chain`: the real paths of the files that led here)."""
        used = Used()
        sources: list[tuple[Used, Location]] = []
        for entry, loc in _entries(doc, self.problems):
            try:
                found = self._file(entry, loc, folder, chain)
            except LimitPassed:
                raise
            except SpecError as exc:
                self.problems.add(exc)
                continue
            if found is not None:
                sources.append((found, loc))
        for source, loc in sources:
            for kind, key in (("blocks", "blocks"), ("variables", "vars")):
                mine, theirs = getattr(used, kind), getattr(source, kind)
                own = doc.get(key)  # a name the file defines itself replaces both: no clash
                for name, definition in theirs.items():
                    first = mine.get(name)
                    if first is None or first.loc == definition.loc or (isinstance(own, YMap) and name in own):
                        mine[name] = definition
                        continue
                    what = "block" if kind == "blocks" else "variable"
                    self.problems.add(SpecError(
                        f"{what} '{name}' is defined by two used files, at {first.loc} and at {definition.loc}",
                        loc=loc, field="use", hint=f"define '{name}' in this file to choose (it replaces both), "
                        "or rename one of them"))
            used.broken |= source.broken
            used.notes += [note for note in source.notes if note not in used.notes]
        return used

    def _file(self, entry: str, loc: Location, folder: Path, chain: tuple[str, ...]) -> Used | None:
        if not entry.endswith(FILE_SUFFIXES) and self.bundled is None:
            self.bundled = bundled.bundled_specs()
        path, display = _located(entry, loc, folder, self.bundled or {})
        real = os.path.realpath(path)
        if real in chain:
            raise SpecError(f"'{file_name(entry)}' uses this file again (a cycle: {' -> '.join(_shown(chain, real))})",
                            loc=loc, field="use", hint="a file cannot use itself, directly or through others")
        if real in self.done:
            return self.done[real]
        self.files += 1
        if self.files > MAX_USED_FILES:
            raise LimitPassed(f"a spec may use at most {MAX_USED_FILES} files, directly and through the files "
                            "they use", loc=loc, field="use", hint="see docs/limits.md")
        doc, size, values = _read(path, display, entry, loc)
        self.bytes += size
        self.values += values
        if self.bytes > MAX_FILE_BYTES:
            raise LimitPassed(f"the spec and the files it uses are over {MAX_FILE_BYTES:,} bytes together", loc=loc,
                            field="use", hint="the limit of one spec file holds for all of them (docs/limits.md)")
        if self.values > MAX_VALUES:
            raise LimitPassed(f"the spec and the files it uses have more than {MAX_VALUES:,} values together", loc=loc,
                            field="use", hint="the limit of one spec file holds for all of them (docs/limits.md)")
        self.check_keys(doc, self.problems)
        used = self.uses(doc, display, Path(path).parent, (*chain, real))
        own, broken = self.read_blocks(doc, self.problems)
        for name, block in own.items():
            earlier = used.blocks.get(name)
            if earlier is not None:
                used.notes.append(replaced(name, block.loc, earlier.loc))
            used.blocks[name] = Definition(name, block, block.loc)
        used.broken = (used.broken - set(own)) | broken
        raw = doc.get("vars")
        if isinstance(raw, YMap):  # a file's variables replace those of the files it uses
            for name, value in raw.items():
                used.variables[name] = Definition(name, value, raw.key_locs[name], raw.value_locs[name])
        self.done[real] = used
        return used


def replaced(name: str, loc: Location, earlier: Location) -> Note:
    """The note of a block defined in a file that also uses one of that name: its own wins."""
    return Note(name, f"this definition replaces the used one at {earlier}", loc, what="block")


def _entries(doc: YMap, problems: ErrorCollector) -> list[tuple[str, Location]]:
    """`use: FILE` or `use: [FILE, ...]`: each entry with its place."""
    if "use" not in doc:
        return []
    raw, loc = doc["use"], doc.value_locs["use"]
    if isinstance(raw, str):
        raw_list = YList([raw])
        raw_list.item_locs = [loc]
        raw = raw_list
    if not isinstance(raw, YList):
        problems.add(SpecError("'use' must be a file or a bundled spec, or a list of them, e.g. "
                               "[common_blocks.yaml, resnet50]", loc=loc, field="use"))
        return []
    entries = []
    for entry, entry_loc in zip(raw, raw.item_locs):
        if not isinstance(entry, str) or not entry.strip() or not entry.strip().isprintable():
            problems.add(SpecError("an entry of 'use' must be a file name or a bundled spec's name, got "
                                   f"{shown(entry)}", loc=entry_loc, field="use"))
            continue
        entries.append((entry.strip(), entry_loc))
    return entries


def _located(entry: str, loc: Location, folder: Path, specs: dict[str, Path]) -> tuple[Path, str]:
    """The path of a `use:` entry and the name to show for it: a name ending in .yaml or .yml is a
    file, relative to the using file's folder unless absolute; any other name a bundled spec's."""
    if entry.endswith(FILE_SUFFIXES):
        path = Path(entry)
        if not path.is_absolute():
            path = folder / path
        return path, str(path)
    if entry not in specs:
        raise SpecError(f"'{file_name(entry)}' is no bundled spec", loc=loc, field="use",
                        hint=(did_you_mean(entry, specs) or "'cnncalc specs' lists them")
                        + f"; a file's name ends in .yaml ('{file_name(entry)}.yaml')")
    return specs[entry], f"{entry} (bundled)"


def _read(path: Path, display: str, entry: str, loc: Location) -> tuple[YMap, int, int]:
    """The used file parsed, its size in bytes and its values; problems located at the `use:` entry
    when the file cannot be read at all, inside it when its YAML is wrong."""
    try:
        info = path.stat()
        key: tuple[Any, ...] | None = (os.path.realpath(path), info.st_mtime_ns, info.st_size, info.st_ino, display)
    except OSError:
        key = None
    if key is not None and key in _PARSED:
        return _PARSED[key]
    try:
        text = read_spec_text(path, display)
        doc = parse_yaml(text, display)
    except SpecError as exc:
        if exc.loc is not None:  # inside the file (a YAML error, not UTF-8): there
            raise
        raise SpecError(f"cannot use '{file_name(entry)}': {file_name(display)}: {exc.message}", loc=loc,
                        field="use", hint=exc.hint) from None
    if not isinstance(doc, YMap):
        raise SpecError("a used file must be a spec: a mapping with 'blocks' (and 'vars', 'use')",
                        loc=getattr(doc, "loc", None) or loc, file=display)
    found = (doc, len(text.encode("utf-8", "surrogatepass")), count_values(doc, MAX_VALUES + 1))
    if key is not None and found[1] <= _CACHED_BYTES:
        while _PARSED and sum(size for _, size, _ in _PARSED.values()) + found[1] > _CACHED_BYTES:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = found
    return found


_PARSED: dict[tuple[Any, ...], tuple[YMap, int, int]] = {}


def count_values(value: Any, limit: int) -> int:
    """The values of a parsed YAML document, keys included, aliases counted as copies (as the
    parser's limit counts them), counting stopped past `limit`."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _shown(chain: tuple[str, ...], again: str) -> list[str]:
    start = chain.index(again)
    return [os.path.basename(real) for real in (*chain[start:], again)]
