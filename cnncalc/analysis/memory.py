"""The memory schedule: one training step (forward, backward, optimizer step) or one inference
forward pass of a spec's network in eager PyTorch, storage by storage, as PyTorch's MemTracker
counts it (docs/memory.md).

Every layer says what each of its ops allocates, keeps and frees (`Layer.memory`, layers/memory.py);
this module plays those rules in order and never asks what type a layer is:

- forward, in the spec's order: a tensor lives while a Python reference holds it (its module's
  frame until the module that reads it returns: a tensor passed into a block lives until the block
  returns) or autograd keeps it for backward;
- backward, in exactly the reverse order (autograd's): each op allocates its gradients, releases what
  it kept and hands each input its gradient (added out of place where two meet); parameter
  gradients stay; autocast's copies convert gradients back to float32;
- the optimizer step: its state, and the temporaries it makes one parameter at a time.

The tracker samples the running total after every op that allocates; the peak is the largest sample.
Every size here is (bytes per sample, bytes regardless of the batch), so one run gives the peak for
every batch size: `Schedule.peak(batch)` and `Schedule.fit(limit)` cost no new run. memory_plan.py
places the ops and decides when Python lets go of each tensor; this module plays them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..core.errors import OptionError, did_you_mean
from ..core.gcpause import paused_gc
from ..core.symbolic import is_symbolic
from ..layers.memory import (
    ACT,
    FLOAT32,
    GRAD_OUT,
    INT64,
    PARAM,
    Backward,
    Op,
    Ref,
    Tensor,
)
from ..spec.graph import INPUT_NAME, Graph
from .memory_plan import AMP_TYPES, FLOAT_BYTES, MemoryOptions, Plan, PlannedStep, Size, make_plan
from .optimizers import OPTIMIZERS, state_sizes

CATEGORIES = ("parameters", "buffers", "gradients", "optimizer_state", "activations", "temporary")
PARAMETERS, BUFFERS, GRADIENTS, OPTIMIZER_STATE, ACTIVATIONS, TEMPORARY = range(len(CATEGORIES))
PROTOCOLS = ("resident", "touched")
PHASES = ("forward", "backward", "step")


@dataclass(frozen=True)
class Sample:
    """The running total after one op: per category, (bytes per sample, fixed bytes)."""

    phase: str
    layer: str  # the layer whose op it is; "" for the loss, the step and the start
    label: str  # the op: conv, relu, grad accumulation, exp_avg of layer1.0.conv1.weight...
    sizes: tuple[Size, ...]

    def bytes(self, batch: int) -> tuple[int, ...]:
        return tuple(a * batch + b for a, b in self.sizes)

    def total(self, batch: int) -> int:
        return sum(a * batch + b for a, b in self.sizes)


@dataclass(frozen=True)
class LayerSchedule:
    """One layer in the schedule: what it keeps for backward and where its ops sit in the timeline."""

    name: str
    op: str
    saved: tuple[str, ...]  # what it keeps for backward: input, output, indices, mask, save_mean...
    saved_size: Size
    output_size: Size
    forward: tuple[int, int]  # its forward ops' samples: [first, end)
    after_forward: tuple[Size, ...]  # the running total when its forward is done
    backward: tuple[int, int] = (0, 0)  # its backward ops' samples: [first, end)
    train_only: bool = False


@dataclass(frozen=True)
class Schedule:
    """The whole step, independent of the batch size (every size is per sample plus fixed)."""

    name: str
    options: MemoryOptions
    input_size: Size  # the network's input: created before the step, never in the tracker's books
    parameters: Size
    buffers: Size
    gradients: Size  # all parameters' gradients
    optimizer_state: Size
    samples: tuple[Sample, ...]
    layers: tuple[LayerSchedule, ...]
    parameter_count: int
    checkpointed: tuple[str, ...] = ()

    def peak(self, batch: int) -> tuple[int, int]:
        """(index of the first sample with the largest total, that total) at `batch`."""
        best, where = -1, 0
        for index, sample in enumerate(self.samples):
            total = sample.total(batch)
            if total > best:  # the tracker keeps the first time a maximum is reached
                best, where = total, index
        return where, best

    def input_bytes(self, batch: int) -> int:
        return self.input_size[0] * batch + self.input_size[1]

    def fit(self, limit: int, largest: int = 1 << 40) -> int:
        """The largest batch whose peak (input included) is at most `limit` bytes; 0 if none fits.
        Each sample's total is a·N + b, so the answer is the smallest of (limit - b) // a."""
        best = largest
        for sample in (*self.samples, None):
            a, b = _summed(sample.sizes) if sample is not None else (0, 0)
            a, b = a + self.input_size[0], b + self.input_size[1]
            if a == 0:
                if b > limit:
                    return 0
                continue
            best = min(best, (limit - b) // a if limit >= b else -1)
        return max(best, 0)


def _summed(sizes: tuple[Size, ...]) -> Size:
    return sum(a for a, _ in sizes), sum(b for _, b in sizes)


def memory_schedule(graph: Graph, options: MemoryOptions = MemoryOptions()) -> Schedule:
    """The schedule of one step of `graph` (see the module docstring)."""
    _check_options(graph, options)
    with paused_gc():
        graph = graph.for_mode(options.mode)
        plan = make_plan(graph, options)
        return _Run(graph, plan, options).run()


def _check_options(graph: Graph, options: MemoryOptions) -> None:
    if options.mode not in ("train", "infer"):
        raise OptionError(f"unknown mode {options.mode!r}; choose from train, infer")
    if options.optimizer not in OPTIMIZERS:
        raise OptionError(f"unknown optimizer {options.optimizer!r}",
                          hint=did_you_mean(options.optimizer, OPTIMIZERS) or f"optimizers: {', '.join(OPTIMIZERS)}")
    if options.dtype not in FLOAT_BYTES:
        raise OptionError(f"memory needs a floating type; choose --dtype from {', '.join(FLOAT_BYTES)}")
    if options.amp is not None:
        if options.amp not in AMP_TYPES:
            raise OptionError(f"unknown --amp {options.amp!r}; choose from {', '.join(AMP_TYPES)}")
        if options.dtype != "float32":
            raise OptionError("--amp runs float32 parameters under autocast: leave --dtype at float32")
    if options.protocol not in PROTOCOLS:
        raise OptionError(f"unknown protocol {options.protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if any(is_symbolic(size) for node in graph.nodes for size in node.output_shape) or \
            any(is_symbolic(size) for size in graph.input_shape):
        raise OptionError("memory needs numbers: the spec's sizes are symbols", hint="give them values with --set")


# ---- the run ------------------------------------------------------------------------------------------------
@dataclass
class _Storage:
    size: Size
    category: int
    holders: set = field(default_factory=set)


class _Kind(NamedTuple):
    elements: Size
    dtype: int  # bytes per element

    @property
    def bytes(self) -> Size:
        return self.elements[0] * self.dtype, self.elements[1] * self.dtype


class _Run:
    """Plays the plan: storages with their holders; a storage goes when its last holder lets go."""

    def __init__(self, graph: Graph, plan: Plan, options: MemoryOptions) -> None:
        self.graph, self.plan, self.options = graph, plan, options
        self.training = options.mode == "train"
        self.storages: dict[int, _Storage] = {}
        self.next_id = 0
        self.current = [[0, 0] for _ in CATEGORIES]
        self.samples: list[Sample] = []
        self.phase = "forward"
        self.where = ("", "start")
        self.sid: dict[int, int | None] = {0: None}  # tensor -> storage (the input is not tracked)
        self.cache: dict[int, int] = {}  # parameter -> autocast's 16-bit copy
        self.gradient: dict[int, int] = {}  # tensor -> storage of its gradient so far
        self.param_grad: dict[int, int] = {}
        self.saved_by: dict[int, list[int]] = {}  # step -> storages it keeps for backward
        self.saved_labels: dict[int, list[tuple[Any, str, Size]]] = {}
        self.layers: list[dict[str, Any]] = [{} for _ in graph.nodes]
        self.producer = {step.output: s for s, step in enumerate(plan.steps)}
        self.dies_after: dict[int, list[int]] = {}
        for t, s in enumerate(plan.death):
            if s >= 0:
                self.dies_after.setdefault(s, []).append(t)
        self.segment_inputs: dict[tuple[int, int], list[int]] = {}
        self.hook_groups: dict[int, list[int]] = {}  # tensor -> the layers (several inputs) whose hooks hold it
        self.hook_members: dict[int, set[int]] = {}
        self.fired: dict[int, list[int]] = {}
        if options.tracker_hooks and self.training:
            index = {node.name: n for n, node in enumerate(graph.nodes)}
            for n, node in enumerate(graph.nodes):
                members = {t for t in (plan.node_output[index[ref]] for ref in node.inputs if ref in index)
                           if plan.tensors[t].requires_grad and plan.tensors[t].on_loss_path}
                if len(members) > 1:
                    self.hook_members[n] = members
                    for t in members:
                        self.hook_groups.setdefault(t, []).append(n)

    # -- storages ----------------------------------------------------------------------------------------
    def alloc(self, size: Size, category: int, holder: Any) -> int:
        sid = self.next_id
        self.next_id += 1
        self.storages[sid] = _Storage(size, category, {holder})
        self.current[category][0] += size[0]
        self.current[category][1] += size[1]
        return sid

    def hold(self, sid: int | None, holder: Any) -> None:
        if sid is not None and sid in self.storages:
            self.storages[sid].holders.add(holder)

    def drop(self, sid: int | None, holder: Any) -> None:
        if sid is None or sid not in self.storages:
            return
        storage = self.storages[sid]
        storage.holders.discard(holder)
        if not storage.holders:
            self.current[storage.category][0] -= storage.size[0]
            self.current[storage.category][1] -= storage.size[1]
            del self.storages[sid]

    def retag(self, sid: int, category: int) -> None:
        storage = self.storages[sid]
        for k in (0, 1):
            self.current[storage.category][k] -= storage.size[k]
            self.current[category][k] += storage.size[k]
        storage.category = category

    def sample(self, label: str | None = None) -> None:
        layer, default = self.where
        self.samples.append(Sample(self.phase, layer, label or default, tuple((a, b) for a, b in self.current)))

    def totals(self) -> tuple[Size, ...]:
        return tuple((a, b) for a, b in self.current)

    def nbytes(self, size: Size, dtype: int) -> Size:
        return size[0] * dtype, size[1] * dtype

    # -- the step --------------------------------------------------------------------------------------------
    def run(self) -> Schedule:
        plan, options = self.plan, self.options
        optimizer = OPTIMIZERS[options.optimizer]
        self.param_ids = []
        for name, elements, dtype in plan.params:
            self.param_ids.append(self.alloc((0, elements * dtype), PARAMETERS, ("param", name)))
        for name, elements, dtype in plan.buffers:
            self.alloc((0, elements * dtype), BUFFERS, ("buffer", name))
        self.states: list[list[int]] = [[] for _ in plan.params]
        if self.training and options.protocol == "resident":
            for p, (_, elements, dtype) in enumerate(plan.params):
                for nbytes in state_sizes(optimizer, elements * dtype) if plan.trained[p] else ():
                    self.states[p].append(self.alloc((0, nbytes), OPTIMIZER_STATE, ("state", p)))
        self.sample("start")
        starts = {first: (first, end) for first, end in plan.segments}
        for s, step in enumerate(plan.steps):
            if s in starts:  # checkpoint keeps the segment's inputs for the recomputation
                inside = {plan.steps[r].output for r in range(*starts[s])}
                kept = [sid for r in range(*starts[s]) for t in plan.steps[r].inputs
                        if t not in inside and (sid := self.sid.get(t)) is not None]
                for sid in kept:
                    self.hold(sid, ("checkpoint", s))
                self.segment_inputs[starts[s]] = kept
            self.forward_step(s, step)
        self.loss()
        if self.training:
            self.phase = "backward"
            self.backward()
            self.phase = "step"
            self.step()
        return self.schedule()

    def schedule(self) -> Schedule:
        plan = self.plan
        per_param = [elements * dtype for _, elements, dtype in plan.params]
        params = (0, sum(per_param))
        trained = [size for size, gets_grad in zip(per_param, plan.trained) if gets_grad] if self.training else []
        optimizer = OPTIMIZERS[self.options.optimizer]
        state = (0, sum(sum(state_sizes(optimizer, size)) for size in trained))
        layers = []
        for n, node in enumerate(self.graph.nodes):
            info = self.layers[n]
            layers.append(LayerSchedule(
                name=node.name, op=node.layer.op, saved=tuple(info.get("saved_labels", ())),
                saved_size=info.get("saved_size", (0, 0)),
                output_size=self.nbytes(plan.tensors[plan.node_output[n]].size,
                                        plan.tensors[plan.node_output[n]].dtype),
                forward=info["forward"], after_forward=info["after"], backward=info.get("backward", (0, 0)),
                train_only=node.train_only))
        checkpointed = tuple(dict.fromkeys([*self.graph.checkpoints, *self.options.checkpoint])) \
            if plan.segments else ()
        input_tensor = plan.tensors[0]
        input_dtype = 4 if plan.low is not None else plan.act_bytes
        return Schedule(self.graph.name, self.options, self.nbytes(input_tensor.size, input_dtype), params,
                        (0, sum(elements * dtype for _, elements, dtype in plan.buffers)),
                        (0, sum(trained)), state, tuple(self.samples), tuple(layers),
                        sum(elements for _, elements, _ in plan.params), checkpointed)

    # -- forward ---------------------------------------------------------------------------------------------
    def forward_step(self, s: int, step: PlannedStep, recompute: bool = False) -> None:
        plan, stage = self.plan, step.stage
        node = self.graph.nodes[step.node]
        self.where = (node.name, stage.label if not recompute else f"{stage.label} (recomputed)")
        first = plan.node_steps[step.node][0] == s
        if first and not recompute:
            self.layers[step.node]["forward_first"] = len(self.samples)
        inputs = [self.sid[t] for t in step.inputs]
        given = list(inputs)
        if plan.low is not None and stage.autocast == "lower":
            for p in reversed(step.params):  # autocast casts the bias first, then the weight, and keeps them
                if p not in self.cache:
                    name, elements, _ = plan.params[p]
                    self.cache[p] = self.alloc((0, elements * plan.low), ACTIVATIONS, "cache")
                    self.sample(f"{stage.label}: 16-bit copy of {name.rsplit('.', 1)[-1]}")
        for k, cast in enumerate(step.casts):
            if cast is not None:
                given[k] = self.alloc(self.nbytes(plan.tensors[step.inputs[k]].size, cast), ACTIVATIONS, ("arg", s))
                self.sample(f"{stage.label}: autocast copy of its input")
        named, _ = self.run_ops(step, stage.forward.ops, given, ACTIVATIONS, ("op", s))
        forward = stage.forward
        out = given[forward.output] if isinstance(forward.output, int) else named[forward.output]
        if forward.writes and not recompute:
            self.check_write(s, step, out)
        keeps = step.requires_grad and (recompute or not step.checkpointed)
        if keeps:
            kept = self.saved_by.setdefault(s, [])
            for ref in forward.saved:
                sid = self.resolve(step, ref, given, named)
                if sid is not None and sid not in kept:
                    self.hold(sid, ("saved", s))
                    kept.append(sid)
                if recompute:  # the report says what the first forward pass kept
                    continue
                if sid is not None or (isinstance(ref, int) and step.inputs[ref] == 0):  # the input: untracked
                    size = self.storages[sid].size if sid is not None else self.ref_kind(step, ref, {}).bytes
                    self.saved_labels.setdefault(step.node, []).append(
                        (sid if sid is not None else "input", self.label(step, ref, out, inputs), size))
        self.hold(out, ("t", step.output))
        self.sid[step.output] = out
        for sid in named.values():
            self.drop(sid, ("op", s))
        for k, cast in enumerate(step.casts):
            if cast is not None:
                self.drop(given[k], ("arg", s))
        if recompute:
            return
        for t in self.dies_after.get(s, ()):
            self.release(t)
        if plan.node_steps[step.node][-1] == s:
            info = self.layers[step.node]
            info["forward"] = (info.pop("forward_first"), len(self.samples))
            info["after"] = self.totals()
            self.summarise_saved(step.node)

    def run_ops(self, step: PlannedStep, ops: tuple[Op, ...], given: list[int | None], category: int, holder: Any,
                skip: frozenset[str] = frozenset()) -> tuple[dict[str, int], dict[str, _Kind]]:
        """Allocate each op's new tensors (sampling after each op that allocates), free what it frees."""
        named: dict[str, int] = {}
        kinds: dict[str, _Kind] = {}
        for op in ops:
            made = False
            for tensor in op.new:
                if tensor.name in skip:
                    continue
                kinds[tensor.name] = self.kind_of(step, tensor, kinds)
                named[tensor.name] = self.alloc(kinds[tensor.name].bytes, category, holder)
                made = True
            if made:
                self.sample()
            for name in op.frees:
                self.drop(named.get(name), holder)
        return named, kinds

    def kind_of(self, step: PlannedStep, tensor: Tensor, kinds: dict[str, _Kind]) -> _Kind:
        """Elements and type of a tensor a rule allocates."""
        plan = self.plan
        if tensor.like is not None:
            return self.ref_kind(step, tensor.like, kinds)
        dtype = {ACT: plan.tensors[step.output].dtype, FLOAT32: 4, INT64: 8, PARAM: plan.act_bytes}[tensor.dtype]
        return _Kind((tensor.per_sample, tensor.fixed), dtype)

    def ref_kind(self, step: PlannedStep, ref: Ref, kinds: dict[str, _Kind]) -> _Kind:
        plan = self.plan
        if isinstance(ref, int):
            t = plan.tensors[step.inputs[ref]]
            return _Kind(t.size, step.casts[ref] or t.dtype)
        if ref.startswith("param:"):
            p = step.params[[name for name, _ in step.stage.params].index(ref[6:])]
            return _Kind((0, plan.params[p][1]), step.param_dtype)
        return kinds[ref]

    def resolve(self, step: PlannedStep, ref: Ref, given: list[int | None], named: dict[str, int]) -> int | None:
        """The storage a saved reference stands for (a parameter costs nothing unless autocast copied it)."""
        if isinstance(ref, int):
            return given[ref]
        if ref.startswith("param:"):
            p = step.params[[name for name, _ in step.stage.params].index(ref[6:])]
            return self.cache.get(p)
        return named[ref]

    def label(self, step: PlannedStep, ref: Ref, out: int | None, inputs: list[int | None]) -> str:
        if isinstance(ref, int):
            sid = inputs[ref]
            if sid == out and step.stage.forward.writes:
                return "output"
            return "input" if len(step.inputs) == 1 or len(set(step.inputs)) == 1 else f"input {ref + 1}"
        if ref.startswith("param:"):
            return f"16-bit {ref[6:]}"
        return "output" if ref == step.stage.forward.output else ref

    def summarise_saved(self, n: int) -> None:
        """What the layer keeps for backward: its distinct storages (the network's input included)."""
        seen: dict[Any, tuple[str, Size]] = {}
        for key, label, size in self.saved_labels.pop(n, []):
            seen.setdefault(key, (label, size))
        info = self.layers[n]
        info["saved_labels"] = tuple(dict.fromkeys(label for label, _ in seen.values()))
        info["saved_size"] = (sum(size[0] for _, size in seen.values()), sum(size[1] for _, size in seen.values()))

    def release(self, t: int) -> None:
        """The last Python reference to a tensor goes. A tensor no gradient reaches takes its op's
        autograd node with it, and what the node kept."""
        self.drop(self.sid.get(t), ("t", t))
        producer = self.producer.get(t)
        if producer is not None and not self.plan.tensors[t].on_loss_path:
            for sid in self.saved_by.pop(producer, []):
                self.drop(sid, ("saved", producer))

    def check_write(self, s: int, step: PlannedStep, sid: int | None) -> None:
        """An in-place op must not overwrite what a later layer reads, nor (in training) what autograd
        keeps for another op's backward: PyTorch would compute something else, or fail in backward."""
        plan = self.plan
        written = step.inputs[step.stage.forward.output]  # type: ignore[index]
        node = self.graph.nodes[step.node]
        family = {written, *(t for t, tensor in enumerate(plan.tensors) if tensor.view_of == written)}
        later = next((plan.steps[r] for r in range(s + 1, len(plan.steps)) if family & set(plan.steps[r].inputs)
                      and plan.steps[r].node != step.node), None)
        field_name = next((f for f in ("inplace", "act_inplace") if f in node.layer.field_names()), None)
        if later is not None:
            reader = self.graph.nodes[later.node].name
            raise node.layer.error(f"works in place on its input, which '{reader}' reads later: PyTorch would give "
                                   f"'{reader}' the changed values", field_name,
                                   hint="turn inplace off, or let the other layer read another tensor")
        keepers = sorted({holder[1] for holder in self.storages[sid].holders if holder[0] == "saved"}) \
            if sid is not None and sid in self.storages else []
        if keepers and self.training:
            keeper = self.graph.nodes[plan.steps[keepers[0]].node].name
            raise node.layer.error(f"works in place on a tensor that '{keeper}' keeps for its backward pass: "
                                   "PyTorch's backward would fail ('modified by an inplace operation')", field_name,
                                   hint="turn inplace off here")

    def loss(self) -> None:
        """The loss is the sum of the outputs' sums (a scalar each); then the outputs go, and autocast's
        copies when its context closes."""
        plan = self.plan
        self.where = ("", "loss")
        total: int | None = None
        if self.training:
            for t in plan.outputs:
                part = self.alloc((0, plan.tensors[t].dtype), ACTIVATIONS, "loss")
                self.sample("loss: sum of an output")
                if total is not None:
                    added = self.alloc((0, plan.tensors[t].dtype), ACTIVATIONS, "loss")
                    self.sample("loss: sum of the outputs")
                    self.drop(total, "loss")
                    self.drop(part, "loss")
                    part = added
                total = part
        for t in plan.outputs:
            self.drop(self.sid.get(t), ("t", t))
        for sid in list(self.cache.values()):
            self.drop(sid, "cache")
        self.loss_sid = total
        self.loss_dtype = plan.tensors[plan.outputs[0]].dtype if plan.outputs else plan.act_bytes

    # -- backward --------------------------------------------------------------------------------------------
    def backward(self) -> None:
        plan = self.plan
        self.where = ("", "backward seed")
        seed = self.alloc((0, self.loss_dtype), ACTIVATIONS, "seed")  # ones_like, before autograd's task starts
        self.sample()
        for t in plan.outputs:
            self.gradient[t] = seed
            self.hold(seed, ("g", t))
        segment_of_last = {end - 1: (first, end) for first, end in plan.segments}
        for s in range(len(plan.steps) - 1, -1, -1):
            step = plan.steps[s]
            if s in segment_of_last:
                self.recompute(*segment_of_last[s])
            if step.requires_grad and step.output in self.gradient:
                self.backward_step(s, step)
            elif step.requires_grad:  # not on the loss path: its autograd node goes with its output
                for sid in self.saved_by.pop(s, []):
                    self.drop(sid, ("saved", s))
            if plan.node_steps[step.node][0] == s:
                info = self.layers[step.node]
                if "backward_last" in info:
                    info["backward"] = (info.pop("backward_last"), len(self.samples))
            for segment in [segment for segment in self.segment_inputs if segment[0] == s]:
                for sid in self.segment_inputs.pop(segment):
                    self.drop(sid, ("checkpoint", s))
        self.drop(seed, "seed")

    def backward_step(self, s: int, step: PlannedStep) -> None:
        plan, stage = self.plan, step.stage
        node = self.graph.nodes[step.node]
        self.where = (node.name, stage.label)
        self.layers[step.node].setdefault("backward_last", len(self.samples))
        g = self.gradient.pop(step.output)
        self.fire_hooks(step.output, g)
        backward = stage.backward or Backward()
        holder = ("bw", s)
        needed = [ref is not None and plan.tensors[t].requires_grad for ref, t in zip(backward.grads, step.inputs)]
        skip = frozenset(ref for ref, need in zip(backward.grads, needed) if isinstance(ref, str) and not need)
        given: list[int | None] = [self.sid.get(t) for t in step.inputs]
        grads: dict[int, int] = {}
        view = self.written_view(step)
        if view is not None:  # in place on a view: autograd's CopySlices works on the whole base
            k, base = view
            result = self.alloc(self.nbytes(plan.tensors[base].size, plan.tensors[base].dtype), TEMPORARY, holder)
            self.sample(f"{stage.label}: copy of the base's gradient")
            clone = self.alloc(self.ref_kind(step, k, {}).bytes, TEMPORARY, holder)
            self.sample(f"{stage.label}: copy of the view's gradient")
        named, kinds = self.run_ops(step, backward.ops, given, TEMPORARY, holder, skip)
        for k, (ref, need) in enumerate(zip(backward.grads, needed)):
            if need:
                grads[k] = g if ref == GRAD_OUT else named[ref]  # type: ignore[index]
                self.hold(grads[k], holder)
        for k, sid in list(grads.items()):
            if sid != g:
                grads[k] = self.validate(step, sid, kinds[backward.grads[k]], self.ref_kind(step, k, {}), holder)  # type: ignore[index]
        param_grads = [(step.params[[n for n, _ in stage.params].index(name)],
                        self.validate(step, named[tensor], kinds[tensor], self.ref_kind(step, f"param:{name}", {}),
                                      holder), name)
                       for name, tensor in backward.params]
        if view is not None:
            k = view[0]
            self.drop(clone, holder)
            if k in grads and grads[k] != g:
                self.drop(grads[k], holder)
            grads[k] = result
        for sid in self.saved_by.pop(s, []):  # the node lets go of what it kept and of its incoming gradient
            self.drop(sid, ("saved", s))
        self.drop(g, ("g", step.output))
        converted = []
        for k, sid in grads.items():
            if step.casts[k] is not None:  # autocast's copy of the input: ToCopyBackward converts it back
                self.hold(sid, ("to_copy", s))
                converted.append((k, sid))
            else:
                self.deliver(step.inputs[k], sid)
        for _, sid, _ in param_grads:
            self.hold(sid, ("to_copy", s))
        for sid in {*named.values(), *grads.values(), g}:
            self.drop(sid, holder)
        for k, sid in reversed(converted):
            t = step.inputs[k]
            wide = self.alloc(self.nbytes(plan.tensors[t].size, plan.tensors[t].dtype), TEMPORARY, ("to_copy", s))
            self.sample(f"{stage.label}: input gradient back to float32")
            self.drop(sid, ("to_copy", s))
            self.deliver(t, wide)
            self.drop(wide, ("to_copy", s))
        for p, sid, name in param_grads:
            if step.param_dtype != plan.act_bytes:  # the gradient of autocast's 16-bit copy, made float32
                wide = self.alloc((0, plan.params[p][1] * plan.act_bytes), TEMPORARY, ("to_copy", s))
                self.sample(f"{stage.label}: {name} gradient back to float32")
                self.drop(sid, ("to_copy", s))
                sid = wide
            self.accumulate_grad(p, sid, ("to_copy", s), name in backward.clone_grads, stage.label)

    def validate(self, step: PlannedStep, sid: int, made: _Kind, wanted: _Kind, holder: Any) -> int:
        """What autograd's engine does to each gradient a node returns: a broadcast input's is summed
        down to its size, and one of another type (after a type promotion) is cast to its type."""
        label = step.stage.label
        if made.elements != wanted.elements:
            summed = self.alloc(_Kind(wanted.elements, made.dtype).bytes, TEMPORARY, holder)
            self.sample(f"{label}: gradient summed to its input's size")
            self.drop(sid, holder)
            sid, made = summed, _Kind(wanted.elements, made.dtype)
        if made.dtype != wanted.dtype:
            cast = self.alloc(wanted.bytes, TEMPORARY, holder)
            self.sample(f"{label}: gradient cast to its input's type")
            self.drop(sid, holder)
            sid = cast
        return sid

    def accumulate_grad(self, p: int, sid: int, holder: Any, clone: bool, label: str) -> None:
        """AccumulateGrad: `param.grad` takes the tensor, unless its strides break the parameter's
        layout: then it copies it (channels-last convs' weights)."""
        if p in self.param_grad:  # a shared module's second use: the gradients are added, out of place
            total = self.alloc(self.storages[sid].size, TEMPORARY, ("grad", p))
            self.sample(f"{label}: gradients of a shared parameter added")
            self.drop(sid, holder)
            self.drop(self.param_grad[p], ("grad", p))
            self.retag(total, GRADIENTS)
            self.param_grad[p] = total
            return
        self.retag(sid, GRADIENTS)
        if clone:
            copy = self.alloc(self.storages[sid].size, TEMPORARY, ("grad", p))
            self.sample(f"{label}: weight gradient copied to the weight's layout")
            self.drop(sid, holder)
            self.retag(copy, GRADIENTS)
            sid = copy
        else:
            self.hold(sid, ("grad", p))
            self.drop(sid, holder)
        self.param_grad[p] = sid

    def deliver(self, t: int, sid: int) -> None:
        """Add a gradient into the tensor's; where two meet, out of place (PyTorch's FakeTensor never
        accumulates in place: docs/memory.md)."""
        if t in self.gradient:
            old = self.gradient[t]
            tensor = self.plan.tensors[t]
            total = self.alloc(self.nbytes(tensor.size, tensor.dtype), TEMPORARY, ("g", t))
            self.sample(f"gradients of {self.tensor_name(t)} added")
            self.drop(old, ("g", t))
            self.gradient[t] = total
        else:
            self.hold(sid, ("g", t))
            self.gradient[t] = sid

    def tensor_name(self, t: int) -> str:
        producer = self.producer.get(t)
        return self.graph.nodes[self.plan.steps[producer].node].name if producer is not None else INPUT_NAME

    def written_view(self, step: PlannedStep) -> tuple[int, int] | None:
        """(input, base) when the op works in place on a view of another tensor."""
        forward = step.stage.forward
        if not forward.writes or not isinstance(forward.output, int):
            return None
        base = self.plan.tensors[step.inputs[forward.output]].view_of
        return (forward.output, base) if base is not None else None

    def fire_hooks(self, t: int, g: int) -> None:
        """MemTracker's module hooks (tracker_hooks): a module with several inputs that need gradients
        keeps each input's gradient until the last one is computed."""
        for group in self.hook_groups.get(t, ()):
            self.hold(g, ("hook", group))
            self.fired.setdefault(group, []).append(g)
            if len(self.fired[group]) == len(self.hook_members[group]):
                for sid in self.fired.pop(group):
                    self.drop(sid, ("hook", group))

    def recompute(self, first: int, end: int) -> None:
        """Activation checkpointing: before the segment's backward, its forward runs again, keeping what
        the backward needs (the tracker counts these as activations); the rest goes as it is used."""
        plan = self.plan
        inside = {plan.steps[s].output for s in range(first, end)}
        last_reader = {t: s for s in range(first, end) for t in plan.steps[s].inputs if t in inside}
        for s in range(first, end):
            step = plan.steps[s]
            self.forward_step(s, step, recompute=True)
            done = [t for t in step.inputs if last_reader.get(t) == s]
            if step.output not in last_reader:
                done.append(step.output)
            for t in done:
                self.drop(self.sid.get(t), ("t", t))

    # -- the optimizer step --------------------------------------------------------------------------------
    def step(self) -> None:
        plan, options = self.plan, self.options
        optimizer = OPTIMIZERS[options.optimizer]
        touched = options.protocol == "touched"
        sizes = [elements * dtype if trained else 0 for (_, elements, dtype), trained in zip(plan.params, plan.trained)]
        if options.foreach:
            self.where = ("", "step (foreach)")
            if optimizer.foreach_temporaries:
                one = self.alloc((0, 4), OPTIMIZER_STATE, "tmp")
                self.sample("step: torch.tensor(1.0)")
                self.drop(one, "tmp")
                copies = []
                for _ in range(optimizer.foreach_temporaries):
                    copies += [self.alloc((0, size), OPTIMIZER_STATE, "tmp") for size in sizes if size]
                    self.sample("step: a copy of every parameter (_foreach_sqrt, _foreach_mul)")
                for sid in copies:
                    self.drop(sid, "tmp")
            if touched:  # the tracker registers the state when step() returns
                for p, size in enumerate(sizes):
                    if not plan.trained[p]:
                        continue
                    self.states[p] += [self.alloc((0, nbytes), OPTIMIZER_STATE, ("state", p))
                                       for nbytes in state_sizes(optimizer, size)]
        else:
            carried: int | None = None
            for p, size in enumerate(sizes):
                if not plan.trained[p]:  # a parameter without a gradient: step() skips it
                    continue
                self.where = ("", f"step: {plan.params[p][0]}")
                if optimizer.rebinds_early and carried is not None:
                    self.drop(carried, "tmp")
                    carried = None
                for nbytes in state_sizes(optimizer, size):
                    if touched:
                        self.states[p].append(self.alloc((0, nbytes), OPTIMIZER_STATE, ("state", p)))
                    self.sample()
                temporaries = []
                for _ in range(optimizer.temporaries):
                    temporaries.append(self.alloc((0, size), OPTIMIZER_STATE, "tmp"))
                    self.sample()
                for sid in temporaries[:-1]:
                    self.drop(sid, "tmp")
                if temporaries:
                    if carried is not None:
                        self.drop(carried, "tmp")
                    carried = temporaries[-1]
            if carried is not None:
                self.drop(carried, "tmp")
        self.where = ("", "step")
        self.sample("step: returns")  # optimizer.step() runs in record_function: its exit is an op
        for p, sid in self.param_grad.items():  # zero_grad(set_to_none=True)
            self.drop(sid, ("grad", p))
        self.drop(self.loss_sid, "loss")
