"""Planning the memory schedule (analysis/memory.py): every op of every layer placed in the network, with
the size, type, layout and gradient need of each tensor, when Python lets go of it, and which ops run
under activation checkpointing. Nothing is allocated here; `memory.py` plays the plan."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import OptionError, did_you_mean
from ..core.shapes import numel
from ..layers.memory import INT64, MemoryContext, Stage, Strides, dense_like, settled
from ..spec.graph import INPUT_NAME, Graph

FLOAT_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
AMP_TYPES = {"fp16": "float16", "bf16": "bfloat16"}

Size = tuple[int, int]  # (per sample of the batch, regardless of the batch)


@dataclass(frozen=True)
class MemoryOptions:
    """What the step is: `mode` train (forward, backward, optimizer step) or infer (a no_grad forward
    pass of the eval-mode network); `amp` fp16 or bf16 (torch.autocast); `dtype` the parameters' and
    activations' type without autocast; `checkpoint` block instances (or layers) run under activation
    checkpointing. `protocol` resident counts the optimizer state for as long as it exists, as a GPU
    holds it; touched counts it as MemTracker does without track_external: from the moment step()
    touches it. `tracker_hooks` adds what MemTracker's own module hooks keep (the gradients of a
    module's several inputs until the last one is computed), and `flat` runs every layer from the
    model's own forward (cnncalc's lowered module) rather than inside its blocks: for comparing with
    the tracker on that module only."""

    mode: str = "train"
    optimizer: str = "momentum"
    amp: str | None = None
    dtype: str = "float32"
    checkpoint: tuple[str, ...] = ()
    foreach: bool = False
    protocol: str = "resident"
    tracker_hooks: bool = False
    flat: bool = False


@dataclass
class PlannedTensor:
    size: Size  # elements: per sample, fixed
    dtype: int  # bytes per element
    requires_grad: bool = False
    channels_last: bool = False
    view_of: int | None = None  # the tensor whose storage it shares without writing (a view)
    strides: Strides | None = None  # a view's strides where it is not contiguous (Stage.strides)
    shape: tuple | None = None  # per sample, where `strides` is given
    on_loss_path: bool = False


@dataclass
class PlannedStep:
    """One stage of one layer, placed in the network."""

    node: int
    index: int  # the stage's index in its layer
    stage: Stage
    inputs: tuple[int, ...]  # tensor ids
    output: int
    requires_grad: bool
    casts: tuple[int | None, ...]  # per input: the type autocast copies it to (bytes), or None
    param_dtype: int
    params: tuple[int, ...]  # global parameter ids, in the stage's order
    checkpointed: bool = False


@dataclass
class Plan:
    tensors: list[PlannedTensor]
    steps: list[PlannedStep]
    node_steps: list[list[int]]
    node_output: list[int]
    params: list[tuple[str, int, int]]  # (name, elements, bytes per element)
    buffers: list[tuple[str, int, int]]  # (name, elements, bytes per element)
    outputs: list[int]
    death: list[int]  # per tensor: the step after which Python no longer holds it (-1: the network's output)
    segments: list[tuple[int, int]]  # checkpointed runs of steps: [first, end)
    act_bytes: int
    low: int | None  # autocast's type, in bytes
    trained: list[bool] = field(default_factory=list)  # per parameter: it gets a gradient (the loss depends on it)


def make_plan(graph: Graph, options: MemoryOptions) -> Plan:
    training = options.mode == "train"
    act = FLOAT_BYTES[options.dtype]
    low = FLOAT_BYTES[AMP_TYPES[options.amp]] if options.amp else None
    tensors = [PlannedTensor((numel(graph.input_shape), 0), act)]  # the network's input
    ids = {INPUT_NAME: 0}
    steps: list[PlannedStep] = []
    node_steps: list[list[int]] = []
    params: list[tuple[str, int, int]] = []
    buffers: list[tuple[str, int, int]] = []
    checkpointed = _checkpointed_nodes(graph, options)
    param_ids: dict[tuple[str, int], dict[str, int]] = {}  # (layer, stage) -> its parameters' ids
    for n, node in enumerate(graph.nodes):
        inputs = [ids[ref] for ref in node.inputs]
        ctx = MemoryContext(training, tuple(tensors[t].requires_grad for t in inputs),
                            tuple(tensors[t].channels_last for t in inputs), tuple(tensors[t].strides for t in inputs),
                            low is not None, tuple(low is not None and tensors[t].dtype == low for t in inputs))
        layer, shapes = node.layer, list(node.input_shapes)
        stages = layer.memory(shapes, node.output_shape, ctx)
        for name, elements, kind in layer.buffer_tensors(shapes, node.output_shape):
            buffers.append((f"{node.name}.{name}", elements, 8 if kind == INT64 else act))
        mine: list[int] = []
        for index, stage in enumerate(stages):
            refs = tuple(inputs[k] if k >= 0 else steps[mine[-1 - k]].output for k in stage.inputs)
            owner = param_ids.get((node.layer.shares, index)) if node.layer.shares else None
            own = numel(node.output_shape) if index == len(stages) - 1 else None
            step = _place(n, index, stage, refs, tensors, params, node.name, training, act, low,
                          n in checkpointed, owner, own)
            if index == len(stages) - 1:
                _lay_out(tensors, step, node.output_shape)
            param_ids[node.name, index] = dict(zip((name for name, _ in stage.params), step.params))
            mine.append(len(steps))
            steps.append(step)
        node_steps.append(mine)
        ids[node.name] = steps[mine[-1]].output
    outputs = [ids[name] for name in graph.outputs]
    _mark_loss_path(tensors, steps, outputs)
    trained = [False] * len(params)
    for step in steps:
        for p, (name, _) in zip(step.params, step.stage.params):
            if name not in step.stage.frozen:
                trained[p] = trained[p] or (step.requires_grad and tensors[step.output].on_loss_path)
    death = _deaths(graph, steps, node_steps, outputs, len(tensors), options.flat)
    return Plan(tensors, steps, node_steps, [steps[m[-1]].output for m in node_steps], params, buffers, outputs,
                 death, _segments(node_steps, checkpointed), act, low, trained)


def _place(n: int, index: int, stage: Stage, refs: tuple[int, ...], tensors: list[PlannedTensor],
           params: list[tuple[str, int, int]], layer: str, training: bool, act: int, low: int | None,
           checkpointed: bool, owned: dict[str, int] | None = None, elements: int | None = None) -> PlannedStep:
    lowers = low is not None and stage.autocast == "lower"
    target = low if lowers else (4 if low is not None and stage.autocast == "float32" else None)
    casts = tuple(target if target is not None and tensors[t].dtype != target else None for t in refs)
    types = [cast or tensors[t].dtype for cast, t in zip(casts, refs)]
    param_dtype = low if lowers and low is not None else act
    if stage.promotes and stage.params:
        types.append(param_dtype)
    ids = []
    for name, elements in stage.params:  # a layer that shares another's module uses that one's parameters
        if owned is not None:
            ids.append(owned[name])
            continue
        ids.append(len(params))
        params.append((f"{layer}.{name}", elements, act))
    trainable = any(name not in stage.frozen for name, _ in stage.params)
    requires_grad = training and (trainable or any(tensors[t].requires_grad for t in refs))
    forward = stage.forward
    if isinstance(forward.output, int):  # the storage of an input: a view, or changed in place
        source = tensors[refs[forward.output]]  # a view has its own size (a chunk's part), the storage is shared
        size = source.size if elements is None or forward.writes else (elements, 0)
        if forward.part is not None and not forward.writes:
            size = (forward.part, 0)
        out = PlannedTensor(size, source.dtype, requires_grad, source.channels_last,
                            None if forward.writes else refs[forward.output], source.strides, source.shape)
    else:
        made = next(t for op in forward.ops for t in op.new if t.name == forward.output)
        layout = stage.layout
        channels_last = layout == "channels_last" or (layout == "input" and bool(refs)
                                                       and tensors[refs[0]].channels_last)
        out = PlannedTensor((made.per_sample, made.fixed), max(types, default=act), requires_grad, channels_last)
    tensors.append(out)
    return PlannedStep(n, index, stage, refs, len(tensors) - 1, requires_grad, casts, param_dtype, tuple(ids),
                 checkpointed)


def _lay_out(tensors: list[PlannedTensor], step: PlannedStep, shape: tuple) -> None:
    """The strides of a layer's output: a view's own (Stage.strides), or, for an elementwise op's new
    tensor (layout "input") of a view that is not contiguous, dense in the view's order. A view whose
    strides are a C×H×W map's channels-last ones is channels-last (convolutions keep that layout)."""
    out, stage = tensors[step.output], step.stage
    if isinstance(stage.forward.output, int) and not stage.forward.writes:
        if stage.strides is not None:
            out.strides, out.shape = stage.strides or None, tuple(shape)
    elif stage.layout == "input" and step.inputs:
        source = tensors[step.inputs[0]]
        if source.strides is not None and source.shape == tuple(shape):
            out.strides, out.shape = settled(shape, dense_like(shape, source.strides)) or None, tuple(shape)
    if out.strides is not None and len(shape) == 3:
        c, h, w = shape
        out.channels_last = out.channels_last or settled(shape, out.strides) == settled(shape, (c * h * w, 1, w * c, c))


def _mark_loss_path(tensors: list[PlannedTensor], steps: list[PlannedStep], outputs: list[int]) -> None:
    """Which tensors the loss depends on: only those get a gradient."""
    for t in outputs:
        tensors[t].on_loss_path = True
    for step in reversed(steps):
        if tensors[step.output].on_loss_path:
            for t in step.inputs:
                tensors[t].on_loss_path = True


def _deaths(graph: Graph, steps: list[PlannedStep], node_steps: list[list[int]], outputs: list[int],
            count: int, flat: bool = False) -> list[int]:
    """The step after which no Python reference holds each tensor. A tensor lives in the frame of the
    module that made it; handed to a module inside that frame, it stays until that module returns
    (`x = self.layer1(x)` rebinds x only then), so a tensor passed into a block lives until the
    block's last op; inside one frame it goes after its last reader. The modules are the layers'
    module paths (`module:`, else their names): `layer1.0.conv1` runs inside `layer1.0`, inside `layer1`.
    A `held:` output stays until the block instance around it returns, or the layer it names has run (a
    Python variable that is not reassigned: DenseNet's `concated_features`), whatever its module path."""
    paths = [(str(n),) if flat else _ancestors(node.module) for n, node in enumerate(graph.nodes)]
    death = [-2] * count
    readers: dict[int, list[int]] = {}
    for s, step in enumerate(steps):
        for t in step.inputs:
            readers.setdefault(t, []).append(s)
    made_by = {step.output: s for s, step in enumerate(steps)}
    last_step = [m[-1] for m in node_steps]
    for t, s in made_by.items():
        step = steps[s]
        mine = node_steps[step.node]
        if s != mine[-1]:  # a tensor inside a layer: until the last op of the layer that reads it
            end = max((r for r in readers.get(t, []) if steps[r].node == step.node), default=s)
            keep = step.stage.keep_until
            death[t] = max(end, mine[keep] if keep is not None else s)
            continue
        frame = paths[step.node][:-1]
        end = s
        for r in readers.get(t, []):
            consumer = paths[steps[r].node]
            k = _common(frame, consumer)
            if k + 1 >= len(consumer):  # read by a layer of the same frame
                end = max(end, last_step[steps[r].node])
                continue
            container = consumer[k]
            node = steps[r].node
            while node + 1 < len(paths) and container in paths[node + 1]:
                node += 1
            end = max(end, last_step[node])
        death[t] = end
    if graph.held and not flat:
        ends = _instance_ends(graph, last_step)
        for t, s in made_by.items():
            until = graph.held.get(graph.nodes[steps[s].node].name) if s == node_steps[steps[s].node][-1] else None
            if until is not None:
                death[t] = max(death[t], ends.get(until, death[t]))
    for t in outputs:
        death[t] = -1
    return death


def _instance_ends(graph: Graph, last_step: list[int]) -> dict[str, int]:
    """The last step of every layer and block instance (and '': of the whole network)."""
    ends: dict[str, int] = {}
    for n, node in enumerate(graph.nodes):
        parts = node.name.split(".")
        for k in range(len(parts) + 1):
            ends[".".join(parts[:k])] = last_step[n]
    return ends


def _ancestors(module: str) -> tuple[str, ...]:
    parts = module.split(".")
    return tuple(".".join(parts[:k]) for k in range(1, len(parts) + 1))


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    k = 0
    while k < len(a) and k < len(b) and a[k] == b[k]:
        k += 1
    return k


def _checkpointed_nodes(graph: Graph, options: MemoryOptions) -> dict[int, str]:
    """Node index -> the checkpointed segment it belongs to: a block instance, repeat or layer by its
    name, or else a module path (`features`, as torchvision would wrap `model.features`)."""
    names = [*graph.checkpoints, *options.checkpoint]
    known = {node.name for node in graph.nodes} | set(graph.groups)
    modules = {prefix for node in graph.nodes for prefix in _ancestors(node.module)}
    found: dict[int, str] = {}
    for name in names:
        if name not in known and name not in modules:
            raise OptionError(f"--checkpoint: no block instance, layer or module named {name!r}",
                              hint=did_you_mean(name, known) or _checkpoint_choices(graph))
        for n, node in enumerate(graph.nodes):
            inside = name in known and (node.name == name or node.name.startswith(name + "."))
            if inside or (name not in known and name in _ancestors(node.module)):
                found.setdefault(n, name)
    return found if options.mode == "train" else {}  # inference keeps nothing to recompute


def _segments(node_steps: list[list[int]], checkpointed: dict[int, str]) -> list[tuple[int, int]]:
    segments: list[tuple[int, int]] = []
    current: str | None = None
    for n, mine in enumerate(node_steps):
        name = checkpointed.get(n)
        if name is not None and name == current:
            segments[-1] = (segments[-1][0], mine[-1] + 1)
        elif name is not None:
            segments.append((mine[0], mine[-1] + 1))
        current = name
    return segments


def _checkpoint_choices(graph: Graph) -> str:
    """What --checkpoint can name, for the hint: the first blocks, else the first layers."""
    blocks = list(graph.groups)
    if blocks:
        return f"blocks: {', '.join(blocks[:12])}" + (", ..." if len(blocks) > 12 else "")
    layers = [node.name for node in graph.nodes]
    return f"the net has no blocks; a layer: {', '.join(layers[:12])}" + (", ..." if len(layers) > 12 else "")
