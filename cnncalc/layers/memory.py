"""What a layer does to memory in eager PyTorch, as data: the vocabulary of `Layer.memory`.

A layer is one or more *stages*, each one PyTorch operation as the lowered module runs it (a conv
with a fused activation is two; a conv with TensorFlow's asymmetric padding is a pad, then the
conv). A stage says, for the forward pass, which tensors each of its aten ops allocates (PyTorch's
memory tracker samples the running total after every op), which tensor is its output (a new one,
or an input's storage: a view, or the input changed in place) and what autograd keeps for the
backward pass; and for the backward pass, what each op allocates and which tensor becomes each
input's gradient and each parameter's. The schedule (analysis/memory.py) plays the stages of every
layer in order, frees tensors when the last reference goes, and never asks what type a layer is.

The rules were measured, not guessed: `tests/test_memory_torch.py` compares them, layer type by
layer type, with what `torch.autograd.graph.saved_tensors_hooks` sees and with PyTorch's MemTracker
(docs/memory.md says why each rule is what it is).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

# Element types of the tensors a rule allocates.
ACT = "act"  # the stage's compute type, which its output has: float32, or 16 bits under autocast or --dtype
PARAM = "param"  # the parameters' floating type (float32, or --dtype): BatchNorm's running statistics
FLOAT32 = "float32"
INT64 = "int64"

GRAD_OUT = "grad_out"  # in Backward.grads: the input's gradient is the incoming gradient itself (add, views)

# A reference to a tensor inside a stage: an int is the stage's input at that position; a str names a
# tensor its ops allocate, or "param:NAME" one of its parameters.
Ref = Union[int, str]


@dataclass(frozen=True)
class Tensor:
    """A tensor an op allocates: `per_sample` elements for each sample of the batch plus `fixed` ones,
    or, with `like`, as many as that tensor has and of its type (gradients: like the input)."""

    name: str
    per_sample: int = 0
    fixed: int = 0
    dtype: str = ACT
    like: Ref | None = None


def like(name: str, ref: Ref) -> Tensor:
    """A tensor the size and type of `ref` (an input, a tensor of the stage, or "param:NAME")."""
    return Tensor(name, like=ref)


@dataclass(frozen=True)
class Op:
    """One aten op that allocates: its new tensors (the tracker samples right after), and the tensors
    freed right after it (before the next op). Tensors not freed here live until the stage ends,
    unless they are its output, saved, or a gradient it hands on."""

    new: tuple[Tensor, ...] = ()
    frees: tuple[str, ...] = ()


@dataclass(frozen=True)
class Forward:
    ops: tuple[Op, ...] = ()
    output: Ref = "output"  # a tensor of `ops`, or an input whose storage the output shares
    writes: bool = False  # the output is that input changed in place (not a view of it)
    saved: tuple[Ref, ...] = ()  # what autograd keeps for the backward pass


@dataclass(frozen=True)
class Backward:
    ops: tuple[Op, ...] = ()
    grads: tuple[Ref | None, ...] = ()  # per input: the tensor that becomes its gradient, GRAD_OUT, or None
    params: tuple[tuple[str, str], ...] = ()  # (parameter, the tensor that becomes its gradient)
    clone_grads: tuple[str, ...] = ()  # parameters whose gradient AccumulateGrad copies (layout mismatch)


# Stage inputs: an int >= 0 is the layer's input at that position; -1 - k is the output of stage k.
def stage_output(index: int) -> int:
    return -1 - index


@dataclass(frozen=True)
class Stage:
    """One PyTorch operation of a layer."""

    label: str  # what the op is, for the schedule's timeline (conv, relu, pad...)
    inputs: tuple[int, ...]
    forward: Forward
    backward: Backward | None = None  # None at inference, or when nothing needs a gradient
    params: tuple[tuple[str, int], ...] = ()  # (name, elements) of the parameters it uses, in registration order
    autocast: str = "same"  # "lower": autocast runs it in 16 bits (conv, linear); "float32": in float32
    promotes: bool = False  # its output takes the widest of its inputs' and parameters' types (x * scale)
    layout: str = "contiguous"  # its output's memory layout: contiguous, channels_last, or "input" (as input 0's)
    keep_until: int | None = None  # a Python variable holds its output until that later stage of the layer ends
    frozen: tuple[str, ...] = ()  # parameters that take no gradient (requires_grad_(False)): no optimizer state
    # A view of a part of an axis after the first (a split along dim 2): the per-sample count of index
    # positions on the axes before it, where the view's storage jumps. A reshape merging across it copies.
    gap: int | None = None


@dataclass(frozen=True)
class MemoryContext:
    """What a layer's rule depends on besides its shapes."""

    training: bool
    requires_grad: tuple[bool, ...]  # per input
    channels_last: tuple[bool, ...]  # per input: a channels-last view (after a LayerNorm over channels)
    gaps: tuple[tuple[int, ...], ...] = ()  # per input: where a view's storage jumps (Stage.gap); () if none


def gap_of(shape: tuple, index: int, part: int) -> int | None:
    """Stage.gap of a view of `part` of the sample axis `index` of a contiguous `shape`: None when the
    view is contiguous within a sample (the first axis, a whole axis, or only size-1 axes before)."""
    before = 1
    for size in shape[:index]:
        before *= size
    return before if before > 1 and part != shape[index] else None


def reshape_copies(ctx: MemoryContext, output: tuple) -> bool:
    """Whether x.reshape makes a copy: of a channels-last input, or of a view whose storage jumps (a gap)
    where the new shape has no axis boundary: PyTorch's view rule for the strides these views have."""
    if ctx.channels_last[0]:
        return True
    boundaries, product = {1}, 1
    for size in output:
        product *= size
        boundaries.add(product)
    return any(gap not in boundaries for gap in (ctx.gaps[0] if ctx.gaps else ()))



def elementwise(label: str, elements: int, saves: str | None, training: bool, layout: str = "input") -> Stage:
    """A one-input op that allocates its `elements`-element output, keeps `saves` ("input", "output" or
    nothing) and, in backward, allocates its input's gradient: activations, pooling, padding, upsampling."""
    saved: tuple[Ref, ...] = (0,) if saves == "input" else ("output",) if saves == "output" else ()
    return Stage(label, (0,), Forward((Op((Tensor("output", elements),)),), saved=saved),
                 Backward((Op((like("grad_in", 0),)),), ("grad_in",)) if training else None, layout=layout)


def weighted(label: str, source: int, elements: int, params: tuple[tuple[str, int], ...], training: bool, *,
             separate_grads: bool = False, clone_weight_grad: bool = False, layout: str = "input",
             frozen: bool = False) -> Stage:
    """A conv, transposed conv or linear layer: it keeps its input (and its weight: a 16-bit copy under
    autocast) and computes the input's and the parameters' gradients in one op (convolution_backward),
    or, `separate_grads`, one op each (linear: mm, mm, sum; without a bias the weight's comes first).
    `frozen`: its parameters take no gradient (YOLO's DFL); convolution_backward computes the input's only."""
    forward = Forward((Op((Tensor("output", elements),)),), saved=(0, "param:weight"))
    held = tuple(name for name, _ in params) if frozen else ()
    if not training:
        return Stage(label, (source,), forward, params=params, autocast="lower", layout=layout, frozen=held)
    grads = {name: like(f"grad_{name}", f"param:{name}") for name, _ in params if name not in held}
    grad_in = like("grad_in", 0)
    if not separate_grads:
        ops: tuple[Op, ...] = (Op((grad_in, *grads.values())),)
    elif "bias" in grads:
        ops = (Op((grad_in,)), *(Op((tensor,)) for tensor in grads.values()))
    else:
        ops = (Op((grads["weight"],)), Op((grad_in,)))
    backward = Backward(ops, ("grad_in",), tuple((name, f"grad_{name}") for name in grads),
                        ("weight",) if clone_weight_grad else ())
    return Stage(label, (source,), forward, backward, params=params, autocast="lower", layout=layout, frozen=held)


def padding(elements: int, training: bool) -> Stage:
    """An explicit F.pad before a window layer (TensorFlow's asymmetric 'same'): a padded copy."""
    return elementwise("pad", elements, None, training)


def mean_stage(channels: int, ctx: MemoryContext) -> Stage:
    """Global average pooling is x.mean((2, 3)): it keeps nothing. Its backward expands and divides the
    gradient; on a channels-last input it first re-strides the N×C×1×1 gradient (a transient copy)."""
    restride = (Op((Tensor("restride", channels),), frees=("restride",)),) if ctx.channels_last[0] else ()
    backward = Backward((*restride, Op((like("grad_in", 0),))), ("grad_in",)) if ctx.training else None
    return Stage("mean", (0,), Forward((Op((Tensor("output", channels),)),)), backward)


def max_pool_stage(label: str, elements: int, ctx: MemoryContext) -> Stage:
    """Max pooling returns int64 indices beside its output, even under no_grad (freed at once then);
    in training it keeps its input and the indices."""
    new = (Tensor("output", elements), Tensor("indices", elements, dtype=INT64))
    if not ctx.training:
        return Stage(label, (0,), Forward((Op(new, frees=("indices",)),)))
    return Stage(label, (0,), Forward((Op(new),), saved=(0, "indices")),
                 Backward((Op((like("grad_in", 0),)),), ("grad_in",)))


def narrowed(label: str, gap: int | None = None) -> Stage:
    """A view of a part of its input (x.narrow): backward writes the gradient into zeros the input's size."""
    return Stage(label, (0,), Forward(output=0), Backward((Op((like("grad_in", 0),)),), ("grad_in",)),
                 layout="input", gap=gap)


def view(label: str) -> Stage:
    """The output shares the input's storage and its gradient is the incoming one (flatten, identity)."""
    return Stage(label, (0,), Forward(output=0), Backward(grads=(GRAD_OUT,)), layout="input")


__all__ = ["ACT", "FLOAT32", "GRAD_OUT", "INT64", "PARAM", "Backward", "Forward", "MemoryContext", "Op", "Ref",
           "Stage", "Tensor", "elementwise", "gap_of", "like", "max_pool_stage",
           "mean_stage", "narrowed", "padding", "reshape_copies", "stage_output", "view", "weighted"]
