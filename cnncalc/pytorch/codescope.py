"""A scope's module tree as __init__ code (containers as nn.Sequential, loops, conditions), and the model's class."""
from __future__ import annotations

import ast
import keyword
import re
from itertools import pairwise, takewhile
from typing import Any

from ..layers.torchspec import Torch
from ..spec.graph import Call
from ..spec.spec import INPUT_NAME
from .codeparts import (
    RESERVED,
    ClassCode,
    Loop,
    Member,
    NotIdiomatic,
    Piece,
    Slot,
    Texts,
    Values,
    attribute,
    class_name,
    field_sources,
    function_name,
    numbered,
    ordered,
    variable,
)
from .codetree import Tree
from .modules import INLINE, INLINE_IN_PLACE
from .pyexpr import conjuncts, evaluate, gives, names_in, to_python
from .pyformat import quoted


def inline_form(member: Member) -> str | None:
    """The forward-time form of a stateless helper straight in the scope (`a + b`), if it has one."""
    if isinstance(member, Loop) or len(member.paths) != 1 or len(member.paths[0]) != 1:
        return None
    module = member.modules[0][0]
    if not isinstance(module, Torch) or module.args:
        return None
    if not module.kwargs:
        return INLINE.get(module.cls)
    return INLINE_IN_PLACE.get(module.cls) if dict(module.kwargs) == {"inplace": True} else None


def inline_code(form: str, inputs: list[str]) -> str:
    if form.startswith("."):  # in place: a method of the first input, once per other input
        return inputs[0] + "".join(form.format(item) for item in inputs[1:])
    if "[{}]" in form and len(inputs) == 1 and inputs[0].startswith("*"):  # torch.cat(features): the list as it is
        return form.replace("[{}]", inputs[0][1:])
    return form.format(", ".join(inputs)) if "{}" in form else form.join(inputs)


# ---- writing a scope ---------------------------------------------------------------------------------------
class ScopeWriter:
    """The module tree of a scope (the model or a class) as __init__ code."""

    def __init__(self, gen: Tree, members: list[Member], envs: list[dict[str, Any]], names: set[str],
                 literal_first: bool) -> None:
        self.gen, self.members, self.envs, self.names = gen, members, envs, names
        gen.unrolled |= {m.key for m in members if not isinstance(m, Loop) and any(
            t is not None and t.origin is not None and t.origin.copy is not None for t in m.things)}
        self.literal_first = literal_first
        self.constants = {v: c for v, c in gen.constants.items() if v not in names}
        self.texts = [t for m in members for texts in field_sources(m.item).values() for t in texts]
        self.root = Slot()
        for order, member in enumerate(members):
            if member.shared:  # its module is registered by its owner
                continue
            for part, segments in enumerate(member.paths):
                slot = self.root
                for segment in segments:
                    slot = slot.children.setdefault(segment, Slot(first=order * 2 + part))
                slot.entries.append((member, part))
        self.conditions: list[str] = []
        values = self.values(envs)
        whens = [values.python(m.item["when"]) for m in members if m.item is not None and "when" in m.item]
        self.conditions = list(dict.fromkeys(c for text in whens if text for c in [text, *conjuncts(text)]))
        # a local list must hide no parameter, constant, function or class of the file
        generated = {function_name(b) for b in gen.functions} | {class_name(b) for b in gen.classes}
        self.locals = Names(set(names) | set(self.constants.values()) | generated | RESERVED)

    def values(self, envs: list[dict[str, Any]], loop: bool = False, first: bool = False) -> Values:
        names = self.names | ({"i"} if loop else set())
        return Values(envs, names, self.constants, self.literal_first, {"i": 0} if first else {}, self.conditions)

    def texts_of(self, item: Any) -> Texts:
        return Texts(field_sources(item), [], ["in_channels", *self.texts])

    def condition(self, presence: tuple[bool, ...], context: tuple[bool, ...], own: Any = None) -> str | None:
        """A condition true exactly where the thing exists, among the instances of its context: its own
        `when:` if that says it, else the shortest of the scope's."""
        where = [i for i, inside in enumerate(context) if inside]
        if all(presence[i] for i in where):
            return None
        mine = self.values(self.envs).python(own["when"]) if own is not None and "when" in own else None
        for text in [*([mine] if mine else []), *sorted(self.conditions, key=len)]:
            if all(gives_flag(text, self.envs[i], presence[i]) for i in where):
                return text
        raise NotIdiomatic("its uses differ in a way 'when' does not say")

    # ---- modules as code -----------------------------------------------------------------------
    def module_code(self, descriptions: list[Any], envs: list[dict[str, Any]], item: Any, what: str,
                    loop: bool = False, first: bool = False) -> str:
        values = self.values(envs, loop, first)
        texts = self.texts_of(item)
        if loop:  # a copy reads the copy before it, whose output its own texts say (at i - 1)
            texts.inputs = [*(re.sub(r"\bi\b", "(i - 1)", t) for t in texts.own), *texts.inputs]
        try:
            if isinstance(descriptions[0], Call):
                return self.gen.call_code(descriptions, values, texts)
            return values.torch(descriptions, texts, what)
        finally:
            self.gen.used_constants |= values.used

    def leaf_pieces(self, slot: Slot, name: str) -> list[Piece]:
        if slot.children:
            raise NotIdiomatic("a layer's module path is also a container")
        if len(slot.entries) == 1 and isinstance(slot.entries[0][0], Loop):
            return self.loop_pieces(slot.entries[0][0])
        options = []
        for member, part in slot.entries:
            if isinstance(member, Loop):
                raise NotIdiomatic("a repeat shares its module path")
            envs = [self.envs[i] for i in member.present]
            code = self.module_code(member.modules[part], envs, member.item, member.key)
            options.append((code, member.presence))
        if len(options) == 1:
            first = slot.entries[0][0].modules[0][0]
            return [Piece(options[0][0], options[0][1], name=name, item=slot.entries[0][0].item,
                          splat=self.gen.is_function(first))]
        if any(self.gen.is_function(m.modules[0][0]) for m, _ in slot.entries):
            raise NotIdiomatic("several layers share a module path")
        if len(options) == 2 and not any(a and b for a, b in zip(options[0][1], options[1][1])):
            union = tuple(a or b for a, b in zip(options[0][1], options[1][1]))
            (a, pa), (b, pb) = options
            for text in sorted(self.conditions, key=len):
                where = [i for i, inside in enumerate(union) if inside]
                for (x, px), (y, _) in (((a, pa), (b, pb)), ((b, pb), (a, pa))):
                    if all(gives_flag(text, self.envs[i], px[i]) for i in where):
                        return [Piece(f"{x} if {text} else {y}", union, name=name)]
        raise NotIdiomatic("several layers share a module path")

    def loop_pieces(self, loop: Loop) -> list[Piece]:
        counts = [len(row) for row in loop.copies]
        count = self.count_text(loop, counts)
        everything = [(i, k) for i, n in enumerate(counts) for k in range(n)]
        presence = tuple(True for _ in self.envs)

        parts = len(loop.descriptions[0][0])
        splat = parts > 1 or self.gen.is_function(loop.descriptions[0][0][0])

        def code(selection: list[tuple[int, int]], with_i: bool) -> list[str]:
            envs = [{**self.envs[i], "i": k} for i, k in selection]
            first = not with_i and all(k == 0 for _, k in selection)
            return [self.module_code([loop.descriptions[i][k][part] for i, k in selection], envs, loop.item,
                                     loop.key, loop=with_i, first=first) for part in range(parts)]

        def piece(codes: list[str], name: str | None, clause: str | None = None) -> Piece:
            if len(codes) == 1:
                return Piece(codes[0], presence, clause, name, splat=splat)
            return Piece(f"[{', '.join(codes)}]", presence, clause, name, splat=True, parts=codes)

        def name(selection: list[tuple[int, int]], looped: bool = False) -> str | None:
            """The copies' name in a named container: a literal, or for a loop, an f-string."""
            if loop.numbered:
                return None
            names = {loop.segments[i][k] for i, k in selection}
            if len(names) == 1 and not looped:
                return names.pop()
            pattern = self.name_pattern(loop, selection)
            if pattern is None:
                raise NotIdiomatic(f"{loop.key}: the names of its copies are no pattern")
            return pattern

        single = self.literal_first and counts == [1]
        try:
            whole = code(everything, not single)
        except NotIdiomatic:
            whole = None
        if single and whole is not None:
            return [piece(whole, name(everything))]
        if whole is not None:
            counter = "i" if "i" in names_in_code(" + ".join(whole)) or not loop.numbered else "_"
            return [piece(whole, name(everything, looped=True), f"for {counter} in range({count})")]
        firsts = [(i, 0) for i in range(len(counts))]
        rest = [(i, k) for i, k in everything if k]
        pieces = [piece(code(firsts, False), name(firsts))]
        if not rest:
            return pieces
        if count == "2":  # a lone copy after a different first one is no loop
            return [*pieces, piece(code(rest, False), name(rest))]
        try:
            body = code(rest, True)
        except NotIdiomatic:
            if not self.literal_first:
                raise
            # the model's copies whose values no expression of `i` gives: each written as it is
            return [*pieces, *(piece(code([copy], False), name([copy])) for copy in rest)]
        if "i" in names_in_code(" + ".join(body)) or not loop.numbered:
            clause = f"for i in range(1, {count})"
        else:
            clause = f"for _ in range({count} - 1)" if not count.isdigit() else f"for _ in range({int(count) - 1})"
        return [*pieces, piece(body, name(rest, looped=True), clause)]

    def count_text(self, loop: Loop, counts: list[int]) -> str:
        if self.literal_first:
            return str(counts[0])
        values = self.values(self.envs)
        text = values.python(loop.item.get("repeat"))
        if text is not None and values._gives(text, counts):
            values._use(text)
            self.gen.used_constants |= values.used
            return text
        if len(set(counts)) == 1:
            return str(counts[0])
        raise NotIdiomatic(f"{loop.key}: its number of copies is no expression of the block's parameters")

    def name_pattern(self, loop: Loop, selection: list[tuple[int, int]]) -> str | None:
        """The f-string that names the copies, from the `module:` text's last segment."""
        raw = str(loop.item.get("module", ""))
        depth, cut = 0, -1
        for index, char in enumerate(raw):
            depth += {"{": 1, "}": -1}.get(char, 0)
            if char == "." and depth == 0:
                cut = index
        out = []
        for part in re.split(r"(\{[^{}]*\})", raw[cut + 1:].strip()):
            if part.startswith("{"):
                text = to_python(part[1:-1], self.names | {"i"}, self.constants)
                if text is None:
                    return None
                out.append("{" + text + "}")
            elif "{" in part or "}" in part or '"' in part:
                return None
            else:
                out.append(part)
        pattern = 'f"' + "".join(out) + '"'
        if all(gives(pattern, {**self.envs[i], "i": k}, loop.segments[i][k]) for i, k in selection):
            self.gen.used_constants |= names_in(pattern) & set(self.constants.values())
            return pattern
        return None

    # ---- containers ----------------------------------------------------------------------------
    def pieces(self, slot: Slot, name: str, target: str | None = None) -> list[Piece]:
        if slot.entries:
            return self.leaf_pieces(slot, name)
        return [self.container(slot, name, target)]

    def container(self, slot: Slot, name: str, target: str | None) -> Piece:
        """A container as nn.Sequential: an expression of its entries, else built by statements (a numbered
        one whose entries exist under different conditions; a named one)."""
        is_numbered = numbered(slot)
        kids: list[Piece] = []
        for segment, child in ordered(slot):
            inner = None if is_numbered or target is None else _child_target(target, segment)
            kids += self.pieces(child, segment, inner)
        presence = tuple(any(k.presence[i] for k in kids) for i in range(len(self.envs)))
        if is_numbered:
            lines, entries = self.entries(kids, presence, name)
            return Piece(f"nn.Sequential({', '.join(entries)})", presence, lines=lines, entries=entries, name=name,
                         item=_common_item(kids, presence))
        if any(k.splat for k in kids):
            raise NotIdiomatic("a function's modules in a container with names")
        conditions = [self.condition(k.presence, presence, k.item) for k in kids]
        where = target or self.local(name)
        lines = [] if where == "self" else [f"{where} = nn.Sequential()"]
        for kid, condition in zip(kids, conditions):
            lines += _guarded([*kid.lines, *([] if kid.assigned else _set(where, kid))], condition)
        return Piece(where, presence, lines=lines, assigned=target is not None, name=name)

    def entries(self, kids: list[Piece], presence: tuple[bool, ...], name: str) -> tuple[list[str], list[str]]:
        """The entries of a numbered container as nn.Sequential's arguments (or a list's, `*layers`) and the
        statements building that list where an entry is conditional, or a loop of several modules."""
        conditions = [self.condition(k.presence, presence, k.item) for k in kids]
        if not any(conditions) and not any(k.lines or (k.loop and k.splat) for k in kids):
            return [], [e for k in kids for e in ([f"*[{k.code} {k.loop}]"] if k.loop else k.parts or
                                                   [f"*{k.code}" if k.splat else k.code])]
        local = self.local(name)
        lines = [f"{local} = []"]
        for kid, condition in zip(kids, conditions):
            add = f"{local} += {kid.code}" if kid.splat else f"{local}.append({kid.code})"
            lines += _guarded([*kid.lines, *([f"{kid.loop}:", f"    {add}"] if kid.loop else [add])], condition)
        return lines, [f"*{local}"]

    def local(self, name: str) -> str:
        """A new local variable of __init__ for a container built as a list."""
        return self.locals.new(variable(name) if not name.isdigit() else "layers")

    def containers(self) -> dict[str, list[Member]]:
        """Members grouped by the container at the top of the scope that holds them."""
        groups: dict[str, list[Member]] = {}
        for member in self.members:
            top = member.paths[0][0]
            if self.root.children[top].children:
                groups.setdefault(top, []).append(member)
        return groups

    def in_order(self, slot: Slot) -> list[Member]:
        """The members of a container in the order its Sequential calls them."""
        out: list[Member] = []
        for _, child in ordered(slot):
            for member, part in child.entries:
                if part == 0:
                    out.append(member)
            out += [m for m in self.in_order(child) if m not in out]
        return out

    def init_lines(self) -> list[str]:
        """`self.<name> = ...` for each module at the top of the scope, in order."""
        lines: list[str] = []
        everywhere = tuple(True for _ in self.envs)
        for name, slot in sorted(self.root.children.items(), key=lambda kv: kv[1].first):
            target = attribute(name)
            member = slot.entries[0][0] if len(slot.entries) == 1 else None
            form = inline_form(member) if member is not None else None
            if member is not None and form is not None:
                condition = self.condition(member.presence, everywhere, member.item)
                if condition is not None:
                    lines.append(f"self.use_{variable(name)} = {condition}")
                continue
            loop = member if isinstance(member, Loop) and not member.numbered else None
            pieces = self.pieces(slot, name, target if not slot.entries and not numbered(slot) else None)
            if loop is not None and all(loop.presence):  # named copies on the class itself: add_module
                lines += [line for piece in pieces for line in [*piece.lines, *_set("self", piece)]]
                continue
            if len(pieces) != 1 or pieces[0].loop:
                raise NotIdiomatic(f"{name}: a repeat straight in the class")
            piece = pieces[0]
            condition = self.condition(piece.presence, everywhere, piece.item)
            body = [*piece.lines, *([] if piece.assigned else [f"{target} = {piece.code}"])]
            lines += [f"{target} = None", f"if {condition}:", *("    " + line for line in body)] if condition \
                else body
        return lines


def _common_item(kids: list[Piece], presence: tuple[bool, ...]) -> Any:
    """The item whose `when:` a container takes: that of its first entry that exists where it does."""
    return next((k.item for k in kids if k.item is not None and k.presence == presence), None)


def gives_flag(text: str, env: dict[str, Any], flag: bool) -> bool:
    try:
        return bool(evaluate(text, env)) == flag
    except Exception:
        return False


def names_in_code(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _child_target(target: str, segment: str) -> str | None:
    return f"{target}.{segment}" if segment.isidentifier() and not keyword.iskeyword(segment) else None


def _set(target: str, piece: Piece) -> list[str]:
    """Statements that put a piece into a named container."""
    name = piece.name or ""
    if piece.loop:
        return [f"{piece.loop}:", f"    {target}.add_module({name}, {piece.code})"]
    if name.isidentifier() and not keyword.iskeyword(name):
        return [f"{target}.{name} = {piece.code}"]
    return [f"{target}.add_module({quoted(name)}, {piece.code})"]


def _guarded(lines: list[str], condition: str | None) -> list[str]:
    return [f"if {condition}:", *("    " + line for line in lines)] if condition else lines


# ---- the model -------------------------------------------------------------------------------------------
class ModelWriter(ScopeWriter):
    """The model: one instance, every value a number; its forward follows the graph."""

    def __init__(self, gen: Tree) -> None:
        env = dict(gen.constant_values)
        super().__init__(gen, gen.members([""], [""], final=True), [env], set(), literal_first=True)

    def write(self) -> ClassCode:
        name = class_name(self.gen.graph.name)
        if name in {class_name(block) for block in self.gen.classes | self.gen.wrappers}:
            name += "Model"  # a net named like one of its blocks (`c2f`)
        if self.root.children and numbered(self.root):  # `module: 0`, `module: 1`...: the model is a Sequential
            if not self._whole_chain():
                raise NotIdiomatic("the model's modules are numbered (an nn.Sequential) but do not feed each "
                                   "other in order")
            piece = self.container(self.root, "layers", "self")
            entries = ", ".join(piece.entries or [])
            return ClassCode(name, "nn.Sequential", [], [*piece.lines, f"super().__init__({entries})"], None)
        init = ["super().__init__()", *self.init_lines()]
        return ClassCode(name, "nn.Module", [], init, self.forward_lines())

    def _whole_chain(self) -> bool:
        """Whether the model's modules feed each other in the order nn.Sequential calls them, from the input
        to the one output."""
        members = [m for m in self.members if not m.shared]
        return len(members) == len(self.members) and self.in_order(self.root) == members and \
            _inputs(members[0]) == (INPUT_NAME,) and _chain(members, members) and \
            list(self.gen.graph.outputs) == [_output(members[-1])]

    def forward_lines(self) -> list[str]:
        names = Names()
        value = {INPUT_NAME: names.new("x")}
        groups = self._chains()
        lines: list[str] = []
        done: set[str] = set()
        for member in self.members:
            if member.key in done:
                continue
            if id(member) in groups:
                path, group = groups[id(member)]
                done.update(m.key for m in group)
                out = names.new(_group_variable(path, group))
                lines.append(f"{out} = {attribute(path)}({value[_inputs(group[0])[0]]})")
                value[_output(group[-1])] = out
                continue
            if isinstance(member, Loop):
                raise NotIdiomatic(f"{member.key}: a repeat in a container that is not called as a whole")
            inputs = [value[ref] for ref in _inputs(member)]
            form = inline_form(member)
            if form is not None:
                code = inline_code(form, inputs)
            else:
                code = ", ".join(inputs)
                for path in self._called(member):
                    code = f"{attribute(path)}({code})"
            thing = member.things[0]
            if isinstance(thing, Call) and len(thing.outputs) > 1:  # `x0, x1 = self.stage2(x0, x1)`
                outs = [names.new(self._output_variable(thing, ref)) for ref in thing.outputs]
                lines.append(f"{', '.join(outs)} = {code}")
                value.update(zip(thing.outputs, outs))
                continue
            out = names.new(variable(member.key.split(".")[-1]))
            lines.append(f"{out} = {code}")
            value[_output(member)] = out
        lines.append(f"return {', '.join(value[ref] for ref in self.gen.graph.outputs)}")
        return lines

    def _chains(self) -> dict[int, tuple[str, list[Member]]]:
        """The containers forward calls as a whole (the outermost whose layers feed each other in order, only
        the last read outside), by their first member."""
        found: dict[int, tuple[str, list[Member]]] = {}

        def visit(slot: Slot, path: list[str]) -> None:
            for segment, child in ordered(slot):
                if not child.children:
                    continue
                inside = [m for m in self.members
                          if not m.shared and all(p[:len(path) + 1] == [*path, segment] for p in m.paths)]
                several = any(isinstance(t, Call) and len(t.outputs) > 1 for m in inside for t in m.things)
                if inside and not several and self.in_order(child) == inside and _chain(inside, self.members):
                    found[id(inside[0])] = (".".join([*path, segment]), inside)
                else:
                    visit(child, [*path, segment])

        visit(self.root, [])
        return found

    def _output_variable(self, use: Call, ref: str) -> str:
        """The variable for one output of a use of several: the output the block declares (`fuse.0` for
        `outputs: [fuse.*]`), as its spec names it."""
        groups = self.gen.graph.groups
        inner = ref.removeprefix(use.name + ".")
        parts = inner.split(".")
        for n in range(1, len(parts) + 1):  # the shortest name of the instance (or layer) giving it
            name = ".".join(parts[:n])
            if f"{use.name}.{name}" in groups and groups[f"{use.name}.{name}"][1] == ref:
                return variable(name)
        return variable(inner)

    def _called(self, member: Member) -> list[str]:
        """The modules a member's forward line calls, in order: a function use's are all its modules, which
        feed each other (`features.3`, `features.4`, `features.5`)."""
        thing = member.things[0]
        if isinstance(thing, Call) and self.gen.is_function(thing):
            container, numbers = self.gen.run(thing, final=True)
            return [f"{container}.{number}" if container else str(number) for number in numbers]
        return [".".join(segments) for segments in member.paths]


def _group_variable(path: str, group: list[Member]) -> str:
    """The variable for a container's output: its name, or for a numbered one, what its layers share
    (`transition2_2` for `transition2_2.conv`, `.bn`, `.relu`)."""
    segments = [s for s in path.split(".") if not s.isdigit()]
    if not path.rpartition(".")[2].isdigit():
        return variable(segments[-1])
    keys = [m.key.split(".") for m in group]
    common = [parts[0] for parts in takewhile(lambda parts: len(set(parts)) == 1, zip(*keys))]
    named = [s for s in common if not s.isdigit()] or segments or ["x"]
    return variable(named[-1])


def _inputs(member: Member) -> tuple[str, ...]:
    thing = member.things[0]
    assert thing is not None
    return (thing.inputs or (thing.input,)) if isinstance(thing, Call) else thing.inputs


def _output(member: Member) -> str:
    thing = member.copies[0][-1] if isinstance(member, Loop) else member.things[0]
    assert thing is not None
    return thing.output if isinstance(thing, Call) else thing.name


def _chain(group: list[Member], members: list[Member]) -> bool:
    """Whether a container's members feed each other in order and only the last is read outside."""
    if len(_inputs(group[0])) != 1 or any(_inputs(b) != (_output(a),) for a, b in pairwise(group)):
        return False
    inner = {_output(m) for m in group[:-1]}
    keys = {m.key for m in group}
    return not any(set(_inputs(m)) & inner for m in members if m.key not in keys)


class Names:
    """Variable names, each new one unlike those taken (`conv`, `conv_2`)."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken: set[str] = {"self", "torch", "nn", "F", *(taken or ())}

    def new(self, base: str) -> str:
        name, count = base, 1
        while name in self.taken:
            count += 1
            name = f"{base}_{count}"
        self.taken.add(name)
        return name
