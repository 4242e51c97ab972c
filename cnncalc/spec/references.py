"""How an item names its inputs (`in:`, `inputs:`, `from:`) and what each name stands for: `conv1`,
`blk.a`, `rep.0`, `rep.*`, `xs.{i}`, `bottom if level_root`; and whether a repeat's copies chain."""
from __future__ import annotations

import functools
import re
from typing import Any

from ..core.errors import Location, SpecError, Stopped, did_you_mean
from .buildstate import Scope
from .graphdata import INPUT_KEYS
from .modpath import evaluate_located, interpolate
from .names import BuildNames
from .spec import resolve_value
from .yamlsrc import YList, YMap


class BuildReferences(BuildNames):
    def _chain(self, item: YMap, variables: dict[str, Any], name: str) -> bool:
        """Whether the copies of a repeat read each other (the default) or each its own `in:`; the
        default is false when `in:` picks per copy (`in: "xs.{i}"`, or the copies before: `NAME.*`)."""
        if "chain" not in item:
            key = next((key for key in INPUT_KEYS if key in item), None)
            given = item[key] if key else None
            own = name.rsplit(".", 1)[-1] + "."
            return not any("{" in entry or entry.strip().startswith(own)
                           for entry in ([given] if isinstance(given, str) else given or []) if isinstance(entry, str))
        value = resolve_value(item["chain"], variables, item.value_locs["chain"], name, "chain")
        if not isinstance(value, bool):
            raise SpecError(f"must be true or false, got {value!r}", loc=item.value_locs["chain"], layer=name,
                            field="chain")
        return value

    def _condition(self, item: YMap, variables: dict[str, Any], name: str) -> bool:
        """`when:`; a text is evaluated once with the same variables (a block's layers often share one)."""
        raw = item["when"]
        if type(raw) is str:
            key = (id(variables), raw)
            known = self.conditions.get(key)
            if known is not None and known[0] is variables:
                return known[1]
        value = resolve_value(raw, variables, item.value_locs["when"], name, "when")
        if isinstance(value, bool) or (isinstance(value, (int, float)) and value == value and
                                       abs(value) != float("inf")):
            if type(raw) is str:
                self.conditions[key] = (variables, bool(value))  # holds `variables`: its id stays its own
            return bool(value)
        raise SpecError(f"must be true or false (or an expression giving one), got {value!r}",
                        loc=item.value_locs["when"], layer=name, field="when")

    def _item_inputs(self, item: YMap, scope: Scope, previous: str, name: str, variables: dict[str, Any],
                     instance: str) -> tuple[str, ...]:
        """The inputs of one copy of an item. A copy that `when:` leaves out need not find its inputs (they
        may exist only in the variants that keep it): then its name stands for an input it cannot name,
        and reading that name is the error (see _readable)."""
        try:
            return self._inputs(item, scope, previous, name, variables)
        except Stopped:
            raise
        except SpecError as exc:
            if "when" not in item or self._condition(item, variables, instance):
                raise
            self.dangling[instance] = exc
            return (instance,)

    def _readable(self, ref: str, text: str, loc: Location | None, name: str, field_name: str) -> str:
        """`ref`, unless it is a left-out layer whose inputs name no layer (see _item_inputs)."""
        if ref in self.dangling:
            cause = self.dangling[ref]
            where = f" ({cause.loc.seen_from(loc)})" if cause.loc else ""
            raise SpecError(f"'{text}' is left out ('when' is false) and stands for its input, but its inputs "
                            f"name no layer here{where}: {cause.message}", loc=loc, layer=name, field=field_name,
                            hint="read it only when its condition holds: 'NAME if CONDITION'")
        return ref

    def _inputs(self, item: YMap, scope: Scope, previous: str, name: str,
                variables: dict[str, Any]) -> tuple[str, ...]:
        if "in" not in item and "inputs" not in item and "from" not in item:  # INPUT_KEYS
            if self.dangling and previous in self.dangling:
                self._readable(previous, previous.rsplit(".", 1)[-1], item.loc, name, "in")
            return (previous,)
        given = [key for key in INPUT_KEYS if key in item]
        if len(given) > 1:
            raise SpecError(f"the inputs are given twice, as '{given[0]}' and as '{given[1]}'",
                            loc=item.key_locs[given[1]], layer=name, field="in")
        key = given[0]
        raw, loc = item[key], item.value_locs[key]
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise SpecError("must be a layer name or a list of layer names", loc=loc, layer=name, field="in")
        refs: list[str] = []
        for i, entry in enumerate(names):
            entry_loc = names.item_locs[i] if isinstance(names, YList) else loc
            refs += self.references(entry, scope, variables, name, entry_loc, "in")
        if not refs:
            raise SpecError(f"'{raw if isinstance(raw, str) else ', '.join(names)}' names no layer here", loc=loc,
                            layer=name, field="in", hint="its conditions are all false, or its lists are empty")
        return tuple(refs)

    def references(self, entry: str, scope: Scope, variables: dict[str, Any], name: str, loc: Location | None,
                   field_name: str) -> list[str]:
        """The layers one `in:` entry names: `conv1`; `blk.a` and `rep.0` (inside instances and
        copies); `rep.*` (every copy, a port's rest, a block's outputs); `xs.{i}` (an expression's
        value in braces); `bottom if level_root` (only when the condition holds)."""
        text = entry.strip()
        conditional = _conditional(text)
        if conditional is not None:
            text, condition = conditional
            keep = evaluate_located(condition, entry.strip(), variables, loc, name, field_name)
            if not isinstance(keep, bool):
                raise SpecError(f"the condition of '{entry.strip()}' must be true or false, got {keep!r}", loc=loc,
                                layer=name, field=field_name)
            if not keep:
                return []
        if "{" in text:
            text = interpolate(text, variables, loc, name, field_name)
        if text.endswith(".*"):
            base = text[:-2]
            if base in scope.lists:
                if self.dangling:
                    for ref in scope.lists[base]:
                        self._readable(ref, text, loc, name, field_name)
                return list(scope.lists[base])
            if base in scope.names:
                raise SpecError(f"'{base}' is one layer; '.*' takes the copies of a repeat, the rest of a block's "
                                "inputs or a block's outputs", loc=loc, layer=name, field=field_name)
            text = base
        if text in scope.names:
            return [self._readable(scope.names[text], text, loc, name, field_name) if self.dangling
                    else scope.names[text]]
        own = name.rsplit(".", 1)[-1]
        if text == own or text.split(".")[0] in scope.later:
            raise SpecError(f"'{text}' is not defined yet: a layer can only read layers above it",
                            loc=loc, layer=name, field=field_name,
                            hint=f"a copy of a repeat reads the copies before it as '{own}.*' or '{own}.K'"
                            if text == own and own in scope.lists else None)
        if text.split(".")[0] == own and own in scope.lists:
            raise SpecError(f"'{text}' is not defined yet: a copy of a repeat can only read the copies before it",
                            loc=loc, layer=name, field=field_name, hint=f"'{own}.*' is the copies before it")
        raise SpecError(f"unknown input '{text}'", loc=loc, layer=name, field=field_name,
                        hint=did_you_mean(text, scope.names) or f"names here: {', '.join(_shown(scope.names))}")


# `NAME if CONDITION`; NAME may hold `{...}` with spaces (`c.{i - 1} if i > 0`)
_CONDITIONAL = re.compile(r"((?:[^\s{}]|\{[^{}]*\})+)\s+if\s+(.+)")


@functools.lru_cache(maxsize=4096)
def _conditional(text: str) -> tuple[str, str] | None:
    """`NAME if CONDITION` as (NAME, CONDITION), or None; remembered, as a block's items give the same few."""
    found = _CONDITIONAL.fullmatch(text)
    return (found.group(1), found.group(2)) if found else None


def _shown(names: dict[str, str]) -> list[str]:
    """The names to list in a hint: the local ones (not every `blk.inner`), at most 30."""
    local = [name for name in names if "." not in name]
    return local[:30] + (["..."] if len(local) > 30 else [])

