"""Specs shipped with cnncalc (the repository's specs/ folder, packaged as cnncalc/specs)."""
from __future__ import annotations

from pathlib import Path

from ..core.errors import SpecError, did_you_mean
from .yamlsrc import YMap, parse_yaml, read_spec_text


def specs_dir() -> Path:
    """Installed wheels carry the zoo inside the package; a source checkout has it at the top."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "specs"
    return packaged if packaged.is_dir() else package.parent / "specs"


def bundled_specs() -> dict[str, Path]:
    """Name -> path of every bundled spec, sorted by name."""
    root = specs_dir()
    if not root.is_dir():
        return {}
    found = {path.relative_to(root).with_suffix("").as_posix(): path for path in root.rglob("*.yaml")}
    return dict(sorted(found.items()))


def description_of(path: Path) -> str:
    """A bundled spec's one-line description."""
    doc = parse_yaml(read_spec_text(path), str(path))
    return str(doc.get("description", "")).strip() if isinstance(doc, YMap) else ""


def resolve(argument: str) -> tuple[Path, str]:
    """A SPEC argument -> (path, name to show): a file if one exists, else a bundled spec's name."""
    path = Path(argument)
    try:
        if path.exists():
            return path, argument
    except OSError:  # a name too long, a folder that cannot be read: the reader says which
        return path, argument
    specs = bundled_specs()
    name = argument[:-5] if argument.endswith(".yaml") else argument
    if name in specs:
        return specs[name], f"{name} (bundled)"
    looks_like_path = "/" in argument or "\\" in argument or argument.endswith((".yaml", ".yml"))
    hint = did_you_mean(name, specs)
    if hint is None and not looks_like_path:
        hint = "bundled specs: " + ", ".join(specs) if specs else None
    raise SpecError("no such file, and no bundled spec of that name", file=argument,
                    hint=hint or "run 'cnncalc specs' to list the bundled specs")
