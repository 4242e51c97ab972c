"""`cnncalc export --to pytorch`: the graph as PyTorch code a person would keep. One class per spec block
(its parameters are the constructor's arguments, `when:` becomes `if`), containers built as nn.Sequential
and called once where their layers feed each other in order, repeats as loops, module paths those of
naming.py, so a reference model's weights load.

A block becomes a class when every use of it has a module path of its own and every value of its layers
can be written with its parameters: each value is checked against every use of the block by evaluating
the Python text (pyexpr.py). A block that cannot be is written out where it is used. A repeat whose
copies are one module each is a loop (`nn.Sequential(*[Block(...) for _ in range(n)])`, the first copy
written before it when it differs); others are written out copy by copy.
"""
from __future__ import annotations

from .codeblock import BlockWriter, FunctionWriter, WrapperWriter
from .codeparts import ClassCode, NotIdiomatic, class_name
from .codescope import ModelWriter
from .codetree import Tree


class Generator(Tree):
    """Writes the classes and functions of a graph's blocks and the model's class."""

    def write(self) -> tuple[list[ClassCode], ClassCode]:
        """Each class and function, innermost first, and the model's class."""
        while True:
            self.used_constants, self.signatures, self._runs, self.unrolled = set(), {}, {}, set()
            try:
                blocks = sorted(self.classes | self.functions,
                                key=lambda b: (-max(c.name.count(".") for c in self.uses[b]),
                                               self.order.get(self.uses[b][0].name, 0)))
                written = [self.block_code(block) for block in blocks]
                return written, ModelWriter(self).write()
            except NotIdiomatic as exc:
                if len(exc.args) != 2:
                    raise
                block, reason = exc.args
                self.classes.discard(block)
                self.functions.discard(block)
                self.why[block] = reason

    def block_code(self, block_name: str) -> ClassCode:
        writer = FunctionWriter if block_name in self.functions else \
            WrapperWriter if block_name in self.wrappers else BlockWriter
        try:
            return writer(self, self.spec.blocks[block_name], self.uses[block_name]).write()
        except NotIdiomatic as exc:
            raise NotIdiomatic(block_name, str(exc)) from None


__all__ = ["ClassCode", "Generator", "NotIdiomatic", "class_name"]
