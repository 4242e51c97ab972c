"""A block as a class (one body for all its uses, its forward following its items) or, when its layers sit in
the enclosing container, as a function returning them."""
from __future__ import annotations

import ast
import keyword
import re
from itertools import pairwise
from typing import Any

from ..layers.fields import REQUIRED
from ..spec.expr import ExprError
from ..spec.expr import evaluate as spec_evaluate
from ..spec.graph import INPUT_KEYS, Call
from ..spec.spec import INPUT_NAME
from .codeparts import (
    RESERVED,
    ClassCode,
    Loop,
    Member,
    NotIdiomatic,
    Signature,
    Texts,
    attribute,
    class_name,
    field_sources,
    function_name,
    is_literal,
    numbered,
    ordered,
    variable,
)
from .codescope import Names, ScopeWriter, inline_code, inline_form
from .codetree import Tree
from .pyexpr import gives, names_in, same, to_python
from .pyformat import LINE, literal


# ---- a class per block -------------------------------------------------------------------------------------
class UseWriter(ScopeWriter):
    """A block's code, one body for all its uses: its parameters, its values as their expressions."""

    def __init__(self, gen: Tree, block: Any, calls: list[Call], function: bool = False) -> None:
        self.block, self.calls = block, calls
        bad = [p for p in block.params if p in RESERVED or keyword.iskeyword(p) or not p.isidentifier()]
        if bad:
            raise NotIdiomatic(f"parameter {bad[0]!r} is a name the code needs")
        if function:
            positions = {id(item): index for index, item in enumerate(block.items)}
            members = gen.members([c.name for c in calls], [gen.run(c, final=True)[0] for c in calls], final=True,
                                  items=positions)
        else:
            members = gen.members([c.name for c in calls], [c.module for c in calls], final=False)
        position = {id(item): index for index, item in enumerate(block.items)}
        members.sort(key=lambda m: position.get(id(m.item), len(position)))
        for member in members:
            if not isinstance(member, Loop) and not member.shared and ("." in member.key or any(
                    t is not None and t.origin is not None and t.origin.copy is not None for t in member.things)):
                raise NotIdiomatic(f"{member.key}: repeats and written-out blocks inside a class")
        envs = [self._env(gen, c) for c in calls]
        super().__init__(gen, members, envs, {"in_channels", *block.params}, literal_first=False)
        self._previous: dict[int, str] = {}  # per item, the local it reads by default (the one above)
        self.chains = self._input_texts()

    def texts_of(self, item: Any) -> Texts:
        texts = super().texts_of(item)
        texts.inputs = self.chains.get(id(item), [])
        return texts

    def _channel_divisor(self, member: Member) -> int | None:
        """What the member divides its input's channels by in every use (1: it keeps them; a split in halves:
        2); None where no one number does."""
        things = [t for row in member.copies for t in row] if isinstance(member, Loop) else member.things
        pairs = [(self.gen.in_channels(t), self.gen.shapes[t.output][0]) if isinstance(t, Call) else
                 (t.input_shapes[0][0], t.output_shape[0]) for t in things if t is not None]
        divisors = {given // out if out and given % out == 0 else None for given, out in pairs}
        return divisors.pop() if len(divisors) == 1 else 1 if not divisors else None

    def _input_texts(self) -> dict[int, list[str]]:
        """Per item, the texts of the layers it reads, nearest first, back to the block's input; past a layer
        that divides the channels (a split in halves), divided too (`in_channels // 2`)."""
        producers: dict[str, tuple[Any, str]] = {}  # local name -> (item, what it read)
        chains: dict[int, list[str]] = {}
        by_item = {id(m.item): m for m in self.members}
        previous = INPUT_NAME
        for index, item in enumerate(self.block.items):
            ref, texts, seen, divisor = _item_inputs(item, previous)[0], [], set(), 1
            while ref in producers and ref not in seen:
                seen.add(ref)
                producer, ref = producers[ref]
                texts += [_divided(t, divisor) for t in _last_copy(
                    [t for field_texts in field_sources(producer).values() for t in field_texts], producer)]
                by = self._channel_divisor(by_item[id(producer)]) if id(producer) in by_item else 1
                if by is None and not field_sources(producer):  # a concatenation: the sum of what it reads
                    total = self._sum_text(producer, producers, chains, by_item)
                    texts += [_divided(total, divisor)] if total else []
                if by is None or (by != 1 and field_sources(producer)):
                    ref = ""  # its channels are its own: the texts before it say nothing of them
                    break
                divisor *= by
            first_port = ref in (INPUT_NAME, self.block.ports[0]) and ref != self.block.variadic
            chains[id(item)] = [*texts, *([_divided("in_channels", divisor)] if first_port else [])]
            local = str(item["name"]) if "name" in item else f"#{index}"
            producers[local] = (item, _item_inputs(item, previous)[0])
            self._previous[id(item)] = previous
            previous = local
        return chains

    def _sum_text(self, item: Any, producers: dict[str, tuple[Any, str]], chains: dict[int, list[str]],
                  by_item: dict[int, Member]) -> str | None:
        """The channels of a layer that concatenates what it reads, as a sum of a text per input that gives
        its channels in every use (`c + c + n * c`); a repeat read whole (`m.*`) is its count times one
        copy's channels. None where an input has no such text, or the sum is not the layer's channels."""
        values = self.values(self.envs)
        terms = []
        for ref in _item_inputs(item, self._previous.get(id(item), INPUT_NAME)):
            name = ref.removesuffix(".*")
            source = producers.get(name)
            member = by_item.get(id(source[0])) if source else None
            if ref in (INPUT_NAME, self.block.ports[0]) and ref != self.block.variadic:
                terms.append("in_channels")
                continue
            if ref.endswith(".*"):
                if not isinstance(member, Loop) or "repeat" not in member.item:
                    return None
                count, wanted = str(member.item["repeat"]), [self.gen.shapes[_out(row[0])][0] for row in member.copies]
                count_python = values.python(count)
                if count_python is None or not values._gives(count_python, [len(row) for row in member.copies]):
                    return None
            elif member is not None:
                wanted = [self.gen.shapes[_out(t)][0] if t is not None else None for t in member.things]
            else:
                return None
            own = field_sources(source[0]) if source else {}
            candidates = [*(t for texts in own.values() for t in texts),
                          *(chains.get(id(source[0]), []) if source else []), *sorted(self.block.params)]
            text = next((t for t in candidates if (python := values.python(t)) and values._gives(python, wanted)),
                        None)
            if text is None:
                return None
            terms.append(text if not ref.endswith(".*") else f"({count}) * {_grouped(text)}")
        total = " + ".join(terms)
        whole = [self.gen.shapes[_out(t)][0] if t is not None else None for t in by_item[id(item)].things] \
            if id(item) in by_item else None
        python = values.python(total)
        return total if whole and python and values._gives(python, whole) else None

    @staticmethod
    def _env(gen: Tree, use: Call) -> dict[str, Any]:
        env = {c: v for c, v in gen.constant_values.items()}
        env.update(in_channels=gen.in_channels(use), **use.args)
        return env

    def signature(self, body: list[str]) -> tuple[list[str], list[str]]:
        """The constructor's parameters (those the code reads) and the lines computing the others."""
        block, calls = self.block, self.calls
        needed = _loaded(body)
        computed: dict[str, str] = {}
        overridden: dict[str, set[str]] = {}
        for name in reversed(list(block.params)):
            default = block.params[name]
            if name not in needed or default is REQUIRED or is_literal(default):
                continue
            text = to_python(str(default), {"in_channels", *block.params}, self.constants)
            spec_values = [_spec_default(str(default), c) for c in calls]
            keeps = [c for c, v in zip(calls, spec_values) if same(v, c.args[name])]
            if text is None or not all(gives(text, env, c.args[name]) for env, c in zip(self.envs, calls)
                                       if c in keeps):
                continue  # written as a required parameter
            computed[name] = text
            overridden[name] = {c.name for c in calls if c not in keeps}
            needed |= names_in(text)
            self.gen.used_constants |= names_in(text) & set(self.constants.values())
        params: list[tuple[str, str]] = []
        for name, default in block.params.items():
            if name not in needed or (name in computed and not overridden[name]):
                continue
            kind = "computed" if name in computed else "required" if default is REQUIRED or not is_literal(default) \
                else "default"
            params.append((name, kind))
        params.sort(key=lambda p: p[1] != "required")
        self.gen.signatures[block.name] = Signature("in_channels" in needed, params,
                                                    {n: block.params[n] for n, k in params if k == "default"},
                                                    overridden)
        signature = ["in_channels"] if "in_channels" in needed else []
        signature += [n if k == "required" else f"{n}={literal(block.params[n])}" if k == "default" else f"{n}=None"
                      for n, k in params]
        lines = []
        for name in block.params:
            if name in computed and name in needed:
                lines += [f"{name} = {computed[name]}"] if not overridden[name] else \
                    [f"if {name} is None:", f"    {name} = {computed[name]}"]
        return signature, lines

    def _whole_chain(self) -> bool:
        """Whether every item reads the one before it and the last is the output: nn.Sequential's forward."""
        items = list(self.block.items)
        previous = INPUT_NAME
        for index, item in enumerate(items):
            if _item_inputs(item, previous) != [previous]:
                return False
            previous = str(item["name"]) if "name" in item else f"#{index}"
        by_item = {id(m.item): m for m in self.members}
        order = [by_item[id(i)] for i in items if id(i) in by_item]
        return not self.block.outputs and self.block.output in (None, previous) and self.in_order(self.root) == order


class FunctionWriter(UseWriter):
    """A block whose layers sit in the enclosing numbered container (VGG's stages in `features`): a function
    returning its modules in order, spliced in where it is used (`*stage(64, c=128, n=2)`)."""

    def __init__(self, gen: Tree, block: Any, calls: list[Call]) -> None:
        super().__init__(gen, block, calls, function=True)

    def write(self) -> ClassCode:
        if not self._whole_chain():
            raise NotIdiomatic("its layers do not feed each other in order")
        for i, use in enumerate(self.calls):  # each use's modules are in the order of its items
            things = [t for m in self.members for t in (m.copies[i] if isinstance(m, Loop) else [m.things[i]])
                      if t is not None]
            numbers = [int(path.rpartition(".")[2]) for t in things for path, _ in self.gen._parts(t, True)]
            if numbers != sorted(numbers):
                raise NotIdiomatic(f"{use.name}: its modules are not in the order of its layers")
        kids = [p for _, child in ordered(self.root) for p in self.pieces(child, "layers")]
        everywhere = tuple(True for _ in self.envs)
        lines, entries = self.entries(kids, everywhere, "layers")
        body = [*lines, f"return {entries[0][1:]}" if lines else f"return [{', '.join(entries)}]"]
        signature, computed = self.signature(body)
        return ClassCode(function_name(self.block.name), "", signature, [*computed, *body], None)


class WrapperWriter(UseWriter):
    """A block that is one use of another at its own module path (`module: .`): a subclass of that one's
    class, whose __init__ computes the arguments (Ultralytics' Conv row: `class Conv(Cbs)`)."""

    def write(self) -> ClassCode:
        if len(self.members) != 1 or not all(self.members[0].presence):
            raise NotIdiomatic("not one use of a class in every use")
        member = self.members[0]
        code = self.module_code(member.modules[0], self.envs, member.item, member.key)
        base, _, arguments = code.partition("(")
        if base != class_name(str(member.item["op"])):
            raise NotIdiomatic("its block is no class")
        body = [f"super().__init__({arguments}"]
        signature, computed = self.signature(body)
        return ClassCode(class_name(self.block.name), base, signature, [*computed, *body], None)


class BlockWriter(UseWriter):
    """A block's class: one body for all its uses; its forward follows the block's items."""

    def write(self) -> ClassCode:
        sequential = numbered(self.root) or any(isinstance(m, Loop) and not m.paths[0][:-1] for m in self.members)
        if sequential and not numbered(self.root) and not self._whole_chain() and self._collecting():
            sequential = False  # a repeat whose copies read every copy before them: a forward of its own
        if sequential:
            if not self._whole_chain():
                raise NotIdiomatic("a numbered module or a repeat straight in a class whose layers do not "
                                   "feed each other in order")
            piece = self.container(self.root, "layers", "self")
            if piece.entries is not None:  # numbered: the entries are nn.Sequential's arguments
                body = [*piece.lines, f"super().__init__({', '.join(piece.entries)})"]
            else:  # named: registered one by one
                body = ["super().__init__()", *piece.lines]
            forward = None
        else:
            body = ["super().__init__()", *self.init_lines()]
            forward = self.forward_lines()
        signature, computed = self.signature(body)
        if sequential and not body[0].startswith("super().__init__()"):
            body = [*computed, *body]
        else:
            body = [body[0], *computed, *body[1:]]
        return ClassCode(class_name(self.block.name), "nn.Sequential" if sequential else "nn.Module", signature,
                         body, forward, self.forward_args)

    @property
    def listed(self) -> str | None:
        """The port of a block given only a list of inputs (`inputs: [features*]`): forward(self, *features)."""
        block = self.block
        return block.variadic if block.variadic is not None and len(block.ports) == 1 else None

    @property
    def forward_args(self) -> str:
        """One argument per input port (`x, shortcut`), the last `*rest` where it takes the remaining inputs."""
        if self.listed:
            return f"*{self.listed}"
        if not self.block.inputs:
            return "x"
        return ", ".join(f"*{variable(p)}" if p == self.block.variadic else variable(p) for p in self.block.ports)

    def _port_values(self, names: Names) -> dict[str, str]:
        """What forward calls each input port (and `input`, the first one) and `PORT.*`, a list's inputs."""
        block = self.block
        if self.listed:
            port = names.new(self.listed)
            return {INPUT_NAME: f"{port}[0]", f"{self.listed}.*": f"*{port}"}
        if not block.inputs:
            return {INPUT_NAME: names.new("x")}
        value: dict[str, str] = {}
        for port in block.ports:
            name = names.new(variable(port))
            if name != variable(port):
                raise NotIdiomatic(f"input {port!r} is a name the code needs")
            if port == block.variadic:
                value[f"{port}.*"] = f"*{name}"
            else:
                value[port] = name
        if block.ports[0] in value:
            value[INPUT_NAME] = value[block.ports[0]]
        return value

    def _collecting(self) -> bool:
        """Whether the repeats straight in the class are side by side, each copy reading the copies before it
        (`in: [input, NAME.*]`), and every other member is written in forward (a concatenation)."""
        loops = [m for m in self.members if isinstance(m, Loop)]
        return bool(loops) and all(
            m.item is not None and f"{m.key}.*" in _item_inputs(m.item, "") and all(m.presence)
            for m in loops) and all(isinstance(m, Loop) or inline_form(m) is not None for m in self.members)

    def forward_lines(self) -> list[str]:
        by_item = {id(m.item): m for m in self.members}
        copies: dict[int, list[Member]] = {}  # an item's copies that call one shared module
        for m in self.members:
            if m.shared and m.item is not None:
                copies.setdefault(id(m.item), []).append(m)
        groups = self.containers()
        names = Names()
        value = self._port_values(names)
        lines: list[str] = []
        previous = INPUT_NAME
        done: set[str] = set()  # members called through their container
        items = list(self.block.items)
        locals_ = [self._local(item, m) for item, m in ((i, by_item.get(id(i))) for i in items)]
        everywhere = tuple(True for _ in self.envs)
        for item, local in zip(items, locals_):
            inputs = _item_inputs(item, previous)
            member = by_item.get(id(item))
            previous = local
            if member is None and local in value:
                raise NotIdiomatic(f"{local}: two items of that name, each under its own condition")
            if member is None:  # skipped by every use: it stands for its first input
                if inputs[0] not in value:
                    raise NotIdiomatic(f"{local}: its input is no name of the block's layers")
                value[local] = value[inputs[0]]
                continue
            if member.key in done:
                continue
            if len(copies.get(id(item), [])) > 1:
                lines += self._shared_copies(copies[id(item)], local, inputs, value, names)
                continue
            own = f"{local}.*" if isinstance(member, Loop) else None  # a repeat reading the copies before it
            if not all(name in value or name == own for name in inputs):  # `m.*`, `xs.{i}`, `NAME if CONDITION`...
                raise NotIdiomatic(f"{local}: its inputs are no names of the block's layers")
            top = member.paths[0][0]
            group = groups.get(top)
            if group is not None and not (group[0] is member and self._spec_chain(group, items, locals_)):
                group = None  # its entries do not feed each other in order: each is called on its own
            if group is not None:
                done.update(m.key for m in group)
                if self._kept(group, local, items):
                    lines += self._chained_outputs(top, local, value[inputs[0]], value, names)
                    continue
                code = f"{attribute(top)}({value[inputs[0]]})"
                out = names.new(variable(top))
                presence = tuple(any(m.presence[i] for m in group) for i in range(len(self.envs)))
                lines += _optional(out, code, attribute(top), value[inputs[0]], presence != everywhere)
                value[self._local_of(group[-1], items, locals_)] = out
                continue
            if isinstance(member, Loop):
                lines += self._collected(member, local, inputs, value, names)
                continue
            if any(self.gen.is_function(t) for t in member.things):
                raise NotIdiomatic(f"{member.key}: a function's modules outside a container called as a whole")
            form = inline_form(member)
            out = names.new(variable(local))
            if form is not None:
                code = inline_code(form, [_read(value, name) for name in inputs])
                condition = self.condition(member.presence, everywhere, member.item)
                lines.append(f"{out} = {code}" if condition is None else
                             f"{out} = {code} if self.use_{variable(member.paths[0][0])} else {value[inputs[0]]}")
            else:
                code = ", ".join(_read(value, name) for name in inputs)
                for segments in member.paths:
                    code = f"{attribute('.'.join(segments))}({code})"
                several = self._outputs_of(member, local, names, value)
                if several:
                    if member.presence != everywhere:
                        raise NotIdiomatic(f"{local}: a block of several outputs that some uses skip")
                    lines.append(f"{', '.join(several)} = {code}")
                    continue
                lines += _optional(out, code, attribute(".".join(member.paths[0])), value[inputs[0]],
                                   member.presence != everywhere)
            value[local] = out
        if self.block.outputs:
            returned = [_read(value, ref) for ref in self.block.outputs]
            lone_list = len(returned) == 1 and returned[0].startswith("*")  # `return *xs` is no statement
            lines.append(f"return [{returned[0]}]" if lone_list else f"return {', '.join(returned)}")
            return lines
        output = self.block.output or locals_[-1]
        lines.append(f"return {value[output]}")
        return lines

    def _kept(self, group: list[Member], local: str, items: list[Any]) -> bool:
        """Whether a repeat called as a container is read whole later (`in: [y0, y1, m.*]`): every copy's
        output is kept, each copy reading the one before in every use."""
        member = group[0]
        if len(group) != 1 or not isinstance(member, Loop) or not all(member.presence) or \
                len(member.paths[0]) != 2 or len(member.descriptions[0][0]) != 1:
            return False  # not one module per copy, straight in the container
        if not any(f"{local}.*" in _item_inputs(item, "") for item in items):
            return False
        for row in member.copies:
            for before, after in pairwise(row):
                read = after.input if isinstance(after, Call) else after.inputs[0]
                if read != (before.output if isinstance(before, Call) else before.name):
                    raise NotIdiomatic(f"{local}: copies read whole that do not read each other in turn")
        return True

    @staticmethod
    def _chained_outputs(top: str, local: str, source: str, value: dict[str, str], names: Names) -> list[str]:
        """A chain of copies whose outputs are all read: a list of them, as Ultralytics' C2f keeps
        `y.extend(m(y[-1]) for m in self.m)`; its first entry is the chain's input."""
        out, layer = names.new(variable(local)), names.new("layer")
        value[local], value[f"{local}.*"] = f"{out}[-1]", f"*{out}[1:]"
        return [f"{out} = [{source}]", f"for {layer} in {attribute(top)}:", f"    {out}.append({layer}({out}[-1]))"]

    def _outputs_of(self, member: Member, local: str, names: Names, value: dict[str, str]) -> list[str]:
        """The variables a use of a block with named outputs (`outputs: [a, b]`) is unpacked into, each
        readable as `LOCAL.a`; [] for one output."""
        thing = member.things[member.present[0]]
        if not isinstance(thing, Call) or not self.gen.spec.blocks[thing.block].outputs:
            return []
        declared = self.gen.spec.blocks[thing.block].outputs
        if any(ref.endswith(".*") for ref in declared) or len({len(t.outputs) for t in member.things
                                                                if isinstance(t, Call)}) != 1:
            raise NotIdiomatic(f"{local}: a block whose number of outputs is not fixed")
        out = [names.new(variable(ref)) for ref in declared]
        for ref, name in zip(declared, out):
            value[f"{local}.{ref}"] = name
        return out

    def _shared_copies(self, members: list[Member], local: str, inputs: list[str], value: dict[str, str],
                       names: Names) -> list[str]:
        """A repeat of a layer that calls another's module again (`share:`), written call by call, each copy
        reading the one before (SPPF's max pool applied three times)."""
        if any(m.presence != members[0].presence or not all(m.presence) for m in members):
            raise NotIdiomatic(f"{local}: copies of a shared layer that some uses skip")
        lines: list[str] = []
        outs: list[str] = []
        previous: list[Any] = []
        for k, member in enumerate(sorted(members, key=lambda m: int(m.key.rsplit(".", 1)[1]))):
            source = _read(value, inputs[0]) if k == 0 else outs[-1]
            if k and any(t is not None and t.inputs != (p.name,) for t, p in zip(member.things, previous)):
                raise NotIdiomatic(f"{local}: copies of a shared layer that do not read each other in turn")
            previous = member.things
            outs.append(names.new(variable(local)))
            lines.append(f"{outs[-1]} = {attribute('.'.join(member.paths[0]))}({source})")
            value[f"{local}.{k}"] = outs[-1]
        value[local], value[f"{local}.*"] = outs[-1], ", ".join(outs)
        return lines

    def _collected(self, loop: Loop, local: str, inputs: list[str], value: dict[str, str], names: Names) -> list[str]:
        """A repeat whose copies read the copies before them, the class's only modules (DenseNet's block):
        a list that each copy's output joins, each copy called with the inputs and the list so far."""
        own = f"{local}.*"
        if not self._collecting() or own not in inputs:
            raise NotIdiomatic(f"{loop.key}: a repeat straight in a class")
        out, layer = names.new(variable(local)), names.new("layer")
        value[own] = f"*{out}"
        args = ", ".join(_read(value, name) for name in inputs)
        value[local] = f"{out}[-1]"
        return [f"{out} = []", f"for {layer} in self.children():", f"    {out}.append({layer}({args}))"]

    def _local(self, item: Any, member: Member | None) -> str:
        if "name" in item:
            return str(item["name"])
        if member is not None:
            return member.key
        return f"_skipped{id(item)}"

    def _local_of(self, member: Member, items: list[Any], locals_: list[str]) -> str:
        return next(local for item, local in zip(items, locals_) if item is member.item)

    def _spec_chain(self, group: list[Member], items: list[Any], locals_: list[str]) -> bool:
        """In the spec: each member of the container reads the one before; only the last is read after."""
        order = {id(item): index for index, item in enumerate(items)}
        positions = [order[id(m.item)] for m in group]
        if positions != list(range(positions[0], positions[0] + len(group))):
            return False
        if self.in_order(self.root.children[group[0].paths[0][0]]) != group:
            return False
        inner = {locals_[p] for p in positions[:-1]}
        for index, item in enumerate(items):
            previous = locals_[index - 1] if index else INPUT_NAME
            reads = set(_item_inputs(item, previous))
            if index in positions[1:]:
                if reads != {locals_[index - 1]}:
                    return False
            elif index not in positions and reads & inner:
                return False
        return len(_item_inputs(items[positions[0]], locals_[positions[0] - 1] if positions[0] else INPUT_NAME)) == 1


def _out(thing: Any) -> str:
    return thing.output if isinstance(thing, Call) else thing.name


def _grouped(text: str) -> str:
    return text if text.isidentifier() or text.isdigit() else f"({text})"


def _divided(text: str, divisor: int) -> str:
    if divisor == 1:
        return text
    product = re.fullmatch(r"(\d+) \* (\w+)", text.strip())
    if product and int(product[1]) % divisor == 0:  # `2 * c` in halves: `c`
        factor = int(product[1]) // divisor
        return product[2] if factor == 1 else f"{factor} * {product[2]}"
    return f"{text} // {divisor}" if text.isidentifier() else f"({text}) // {divisor}"


def _last_copy(texts: list[str], item: Any) -> list[str]:
    """A repeat's texts as its last copy reads them (what comes after it sees that copy): i = repeat - 1."""
    if "repeat" not in item:
        return texts
    last = f"({item['repeat']} - 1)"
    return [re.sub(r"\bi\b", last, t) for t in texts]


def _spec_default(text: str, use: Call) -> Any:
    try:
        return spec_evaluate(text, use.variables)
    except ExprError:
        return None


def _loaded(lines: list[str]) -> set[str]:
    """The names the statements read."""
    tree = ast.parse("\n".join(lines))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _optional(out: str, code: str, module: str, fallback: str, conditional: bool) -> list[str]:
    """`out = code`, or where the module may be None, `code` only when it is not (else the input)."""
    if not conditional:
        return [f"{out} = {code}"]
    line = f"{out} = {code} if {module} is not None else {fallback}"
    if len(line) + 8 <= LINE:
        return [line]
    return [f"{out} = {fallback}", f"if {module} is not None:", f"    {out} = {code}"]


def _read(value: dict[str, str], ref: str) -> str:
    """The forward variable that holds a layer's output (an input the class cannot name: no class)."""
    if ref not in value:
        raise NotIdiomatic(f"reads '{ref}', which the class's forward cannot name")
    return value[ref]


def _item_inputs(item: Any, previous: str) -> list[str]:
    for key in INPUT_KEYS:
        if key in item:
            raw = item[key]
            return [raw] if isinstance(raw, str) else list(raw)
    return [previous]

