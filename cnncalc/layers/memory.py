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
    part: int | None = None  # a view's own elements per sample, where it is a part of its input (q of qkv)


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
    # A view's strides (Strides) when they are not its input's: () for a contiguous view, None for a view
    # that keeps its input's layout (identity, flatten of a contiguous map).
    strides: Strides | None = None


@dataclass(frozen=True)
class MemoryContext:
    """What a layer's rule depends on besides its shapes."""

    training: bool
    requires_grad: tuple[bool, ...]  # per input
    channels_last: tuple[bool, ...]  # per input: a channels-last view (after a LayerNorm over channels)
    strides: tuple[Strides | None, ...] = ()  # per input: a view's strides, None if contiguous
    autocast: bool = False  # under autocast (--amp), where an op takes another path (fused attention)
    low: tuple[bool, ...] = ()  # per input, under autocast: whether it is already 16-bit


# A tensor's strides in elements, the batch axis first (its stride: the elements of storage per sample),
# as PyTorch has them for a batch of two or more; a view (transpose, split, reshape) has its own.
Strides = tuple[int, ...]
BATCH = 2  # any batch above 1: a batch of one lets a view merge across the batch axis as well


def contiguous_strides(shape: tuple) -> Strides:
    out, step = [], 1
    for size in reversed(shape):
        out.append(step)
        step *= size
    return (step, *reversed(out))


def input_strides(ctx: MemoryContext, k: int, shape: tuple) -> Strides | None:
    """Input k's strides (contiguous unless it is a view that is not); None where a size is symbolic."""
    given = ctx.strides[k] if k < len(ctx.strides) else None
    if given is not None:
        return given
    return None if any(not isinstance(size, int) for size in shape) else contiguous_strides(shape)


def settled(shape: tuple, strides: Strides) -> Strides:
    """Stage.strides of a view: () when it is contiguous (size-1 axes aside, as is_contiguous has it)."""
    plain = contiguous_strides(shape)
    sizes = (BATCH, *shape)
    return () if all(a == b or size == 1 for a, b, size in zip(strides, plain, sizes)) else tuple(strides)


def view_strides(shape: tuple, strides: Strides, new: tuple) -> Strides | None:
    """The strides of x.view(new) for x of per-sample `shape` and `strides`, or None where no view can
    give that shape (then x.reshape copies): PyTorch's computeStride (aten/src/ATen/TensorUtils.cpp),
    which merges axes only where their storage is one run."""
    return strides_as((BATCH, *shape), strides, (BATCH, *new))


def strides_as(old: tuple, strides: Strides, target: tuple) -> Strides | None:
    """view_strides on whole shapes, the batch axis included (matmul merges it with the others)."""
    out = [0] * len(target)
    view_d, base = len(target) - 1, strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old) - 1, -1, -1):
        tensor_numel *= old[d]
        if d == 0 or (old[d - 1] != 1 and strides[d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or target[view_d] == 1):
                out[view_d] = view_numel * base
                view_numel *= target[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base, tensor_numel, view_numel = strides[d - 1], 1, 1
    return tuple(out) if view_d == -1 else None


def reshape_view(ctx: MemoryContext, shape: tuple, output: tuple) -> Strides | None:
    """Stage.strides of x.reshape(output) when it is a view; None when it copies: where computeStride finds
    no view (a transposed or channels-last tensor whose axes it merges, a part of an axis merged with
    the axes before it)."""
    strides = input_strides(ctx, 0, shape)
    if ctx.channels_last[0] and not (ctx.strides and ctx.strides[0]):
        if len(shape) != 3:
            return None
        c, h, w = shape
        strides = (c * h * w, 1, w * c, c)
    if strides is None or any(not isinstance(size, int) for size in output):
        return ()
    new = view_strides(shape, strides, output)
    return None if new is None else settled(output, new)


def is_permuted(ctx: MemoryContext, shape: tuple) -> bool:
    """Whether input 0 is not contiguous: a view whose storage is out of order or has gaps, or a
    channels-last map (as PyTorch's is_contiguous sees it: size-1 axes aside)."""
    if ctx.strides and ctx.strides[0]:
        return True
    return ctx.channels_last[0] and len(shape) == 3 and shape[0] != 1 and shape[1] * shape[2] != 1


def reshaped(label: str, ctx: MemoryContext, shape: tuple, output: tuple) -> Stage:
    """x.reshape (or x.flatten(1)): a view (reshape_view), or a contiguous copy whose gradient is the
    incoming one, viewed."""
    strides = reshape_view(ctx, shape, output)
    if strides is not None:
        return view(label, strides)
    copy = 1
    for size in output:
        copy *= size
    return Stage(label, (0,), Forward((Op((Tensor("output", copy),)),)),
                 Backward(grads=(GRAD_OUT,)) if ctx.training else None)


def batched_copies(ctx: MemoryContext, inputs: list) -> tuple[bool, ...]:
    """Per input of a matmul: whether torch.matmul copies it, viewing it as one batch of matrices
    (x.reshape(-1, n, k), the batch axes merged): where those axes are not one run of storage (area
    attention's k and v, whose areas lie between the positions)."""
    copies = []
    for k, shape in enumerate(inputs):
        strides = input_strides(ctx, k, shape)
        if strides is None or len(shape) < 2:
            copies.append(False)
            continue
        merged = BATCH
        for size in shape[:-2]:
            merged *= size
        copies.append(strides_as((BATCH, *shape), strides, (merged, *shape[-2:])) is None)
    return tuple(copies)


def dense_like(shape: tuple, strides: Strides) -> Strides:
    """The strides of a new tensor that an elementwise op makes from a view (TensorIterator): dense, its
    axes in the order of the view's strides (a transposed input gives a transposed output)."""
    sizes = (BATCH, *shape)
    out, step = [0] * len(sizes), 1
    for d in sorted(range(len(sizes)), key=lambda d: (strides[d], -d)):
        out[d] = step
        step *= sizes[d]
    return tuple(out)



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


def narrowed(label: str, strides: Strides | None = None) -> Stage:
    """A view of a part of its input (x.narrow): backward writes the gradient into zeros the input's size."""
    return Stage(label, (0,), Forward(output=0), Backward((Op((like("grad_in", 0),)),), ("grad_in",)),
                 layout="input", strides=strides)


def part_strides(ctx: MemoryContext, shape: tuple, part: tuple) -> Strides | None:
    """Stage.strides of a part of the input (a split, a slice): the input's strides, its own shape."""
    strides = input_strides(ctx, 0, shape)
    return None if strides is None else settled(part, strides)


def view(label: str, strides: Strides | None = None) -> Stage:
    """The output shares the input's storage and its gradient is the incoming one (flatten, identity);
    `strides`: the view's own (Stage.strides)."""
    return Stage(label, (0,), Forward(output=0), Backward(grads=(GRAD_OUT,)), layout="input", strides=strides)


__all__ = ["ACT", "FLOAT32", "GRAD_OUT", "INT64", "PARAM", "Backward", "Forward", "MemoryContext", "Op", "Ref",
           "Stage", "Strides", "Tensor", "batched_copies", "contiguous_strides", "dense_like", "elementwise",
           "input_strides", "is_permuted", "like", "max_pool_stage", "mean_stage", "narrowed", "padding",
           "part_strides", "reshape_view", "reshaped", "settled", "stage_output", "strides_as", "view", "view_strides",
           "weighted"]
