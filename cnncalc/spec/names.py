"""The graph builder's names: layer names (given, automatic, given twice as alternatives) and module
paths (a layer's place in the exported PyTorch model: `module:`, numbered with `#`, each taken once)."""
from __future__ import annotations

import functools
from typing import Any

from ..core.errors import Location, SpecError
from .buildstate import BuildState, Scope
from .modpath import module_path
from .spec import INPUT_NAME, NAME_PATTERN, check_name
from .yamlsrc import YList, YMap


class BuildNames(BuildState):
    def _explicit_names(self, items: YList) -> dict[str, Location]:
        """The names given in a list of items. A name may be given again only to alternatives: items
        that all have `when:`, of which at most one is kept (DLA's tree: a leaf or two subtrees).
        Found once per list when they are all good (the list is expanded again for every call of
        its block), every time otherwise (its problems with it)."""
        known = self.explicit_names.get(id(items))
        if known is not None and known[0] is items:
            return known[1]
        seen: dict[str, Location] = {}
        guarded: dict[str, bool] = {}
        clean = True
        for item in items:
            if isinstance(item, YMap) and "name" in item:
                loc = item.value_locs["name"]
                try:
                    name = item["name"]
                    if type(name) is not str or not is_name(name) or name == INPUT_NAME:
                        name = check_name(name, loc)  # which says why
                    if name in seen and not (guarded[name] and "when" in item):
                        raise SpecError(f"duplicate layer name '{name}' (first used at {seen[name].seen_from(loc)})",
                                        loc=loc, layer=name, field="name",
                                        hint="two layers may share a name only as alternatives: each with a 'when:'")
                except SpecError as exc:
                    self.problems.add(exc)
                    clean = False
                    continue
                guarded[name] = guarded.get(name, True) and "when" in item
                seen.setdefault(name, loc)
        if clean:
            self.explicit_names[id(items)] = (items, seen)  # holds `items`, so that its id is not reused
        return seen

    def _auto_name(self, op: Any, scope: Scope) -> str:
        base = op if isinstance(op, str) and is_name(op) else "layer"
        while True:
            number = scope.counters[base] = scope.counters.get(base, 0) + 1
            name = f"{base}{number}"
            if name not in scope.names and name not in scope.later:
                return name

    def _module(self, item: YMap, scope: Scope, local: str, copy: int | None, variables: dict[str, Any],
                name: str, layer: bool) -> str:
        """The module path of one copy of an item: `module:` (or its name) inside the block instance's."""
        if "module" not in item:
            relative = local if copy is None else f"{local}.{copy}"
        else:
            plan = item.plan  # itemplan.ItemPlan: item() made it
            if plan.module_path is not None:
                relative, suffixed = plan.module_path
            else:
                raw = str(item["module"]).strip()
                relative = module_path(item["module"], variables, item.value_locs["module"], name)
                # copies of a repeat are numbered unless the path says otherwise
                suffixed = not ("{" in raw or "#" in raw or relative == ".")
                if "{" not in raw:  # the same path for every copy and call
                    plan.module_path = (relative, suffixed)
            if copy is not None and suffixed:
                relative += f".{copy}"
        if relative == "." and layer and not scope.module:
            raise SpecError("'.' is the module of the block the layer is in; a layer of the model needs a name "
                            "here", loc=item.value_locs["module"], layer=name, field="module")
        if relative == ".":  # a block instance that adds no level: its layers sit in the enclosing module;
            path = scope.module.removesuffix(".")  # a layer: it is the block instance's module (nn.Identity)
            if layer:
                self._take_module(path, item.value_locs["module"], name)
            return path
        path = self._number(scope.module, relative)
        if layer:
            self._take_module(path, item.value_locs.get("module", item.loc), name)
        return path

    def _number(self, container: str, relative: str) -> str:
        """container + relative, where `#` is the next free number in its container (`features.#`);
        given numbers take theirs. `container` (a block instance's path and '.', or '') is numbered."""
        if "." not in relative and relative != "#" and not relative.isdigit():
            return container + relative  # the common case: a name, nothing to number
        if "#" not in relative:  # the numbers it takes, counted when a `#` asks for the next one (_settle)
            pending = self.unnumbered.get(container)
            if pending is None:
                self.unnumbered[container] = [relative]
            else:
                pending.append(relative)
            return container + relative
        out = container.split(".")[:-1]
        for part in relative.split("."):
            inside = ".".join(out)
            if part == "#":
                if self.unnumbered:
                    self._settle(inside)
                part = str(self.numbers[inside])
            if part.isdigit():
                self.numbers[inside] = max(self.numbers[inside], int(part) + 1)
            out.append(part)
        return ".".join(out)

    def _settle(self, inside: str) -> None:
        """Count the numbers taken in `inside` by the paths _number left uncounted: those of the containers
        it can be in ('' and each of its own paths and '.'). A path's numbers are counted once, and in any
        order (each is a maximum), so that most (a block's `conv.0.1` inside its instance) never are."""
        unnumbered, numbers = self.unnumbered, self.numbers
        containers = [""]
        if inside:
            parts = inside.split(".")
            containers += [".".join(parts[:n]) + "." for n in range(1, len(parts) + 1)]
        for container in containers:
            for relative in unnumbered.pop(container, ()):
                for within, taken in _numbered_parts(relative):
                    place = container + within if within is not None else container[:-1]
                    if numbers.get(place, 0) < taken:  # get: a Counter's [] of a missing key is a Python call
                        numbers[place] = taken

    def _take_module(self, path: str, loc: Location, name: str) -> None:
        """Two layers cannot share a module path, nor can one sit inside another."""
        parent = path.rpartition(".")[0]
        if (not parent or parent in self.module_prefixes) and path not in self.modules \
                and path not in self.module_prefixes:
            # its containers are known to be containers (so none is a layer): nothing new to check
            self.modules[path] = loc
            return
        # The containers not known yet, innermost first: a known container's own containers are known,
        # and no known container is a layer, so only these can be one.
        prefixes, new = self.module_prefixes, []
        prefix = parent
        while prefix and prefix not in prefixes:
            new.append(prefix)
            prefix = prefix.rpartition(".")[0]
        clash = path if path in self.modules or path in prefixes else None
        for prefix in reversed(new) if clash is None else ():
            if prefix in self.modules:
                clash = prefix
                break
        if clash is not None:
            taken = "is taken" if clash == path else f"collides with '{clash}'"
            where = self.modules.get(clash)
            raise SpecError(f"module path '{path}' {taken}" + (f" ({where.seen_from(loc)})" if where else ""), loc=loc,
                            layer=name, field="module", hint="give each layer its own module path")
        self.modules[path] = loc
        prefixes.update(new)


@functools.lru_cache(maxsize=4096)
def _numbered_parts(relative: str) -> tuple[tuple[str | None, int], ...]:
    """For each whole number in a relative module path without `#`: the path before it, inside which
    it stands (None: the container itself), and the next free number there (`conv.0.1`: ('conv', 1)
    and ('conv.0', 2))."""
    parts = relative.split(".")
    return tuple((".".join(parts[:n]) if n else None, int(part) + 1) for n, part in enumerate(parts)
                 if part.isdigit())


@functools.lru_cache(maxsize=4096)
def is_name(text: str) -> bool:
    """Whether `text` is a valid layer name; remembered, as a block's items give the same few."""
    return NAME_PATTERN.match(text) is not None

