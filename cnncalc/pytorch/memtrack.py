"""PyTorch's own measurements of a training step's memory: the references of `cnncalc verify --memory`
and tests/test_memory_torch.py (docs/memory.md).

- `measure`: MemTracker (torch.distributed._tools.mem_tracker) under FakeTensorMode on the CPU, the
  issue's protocol: model and optimizer built under fake tensors, one untracked step (it creates the
  optimizer's state), then a fresh tracker around one full step (forward, `loss.backward()`,
  `optimizer.step()`, `optimizer.zero_grad(set_to_none=True)`); the input is made before tracking.
  `resident=True` adds `track_external(model, optimizer)`, which counts parameters, gradients and
  optimizer state for as long as they exist. Inference: a tracker around one `no_grad` forward pass of
  the eval-mode model. The loss is the sum of the outputs' sums.
- `saved_per_module`: the storages autograd keeps, per module, as `torch.autograd.graph.saved_tensors_hooks`
  sees them during a training forward pass (parameters and buffers left out), each storage once.

torch is imported inside the functions: importing this module costs nothing.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

CATEGORIES = ("Parameter", "Buffer", "Gradient", "Optstate", "Activation", "Temp")  # cnncalc's order


def optimizer(name: str, params: Any) -> Any:
    import torch

    return {
        "sgd": lambda: torch.optim.SGD(params, lr=0.1),
        "momentum": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
        "adam": lambda: torch.optim.Adam(params),
        "adamw": lambda: torch.optim.AdamW(params),
        "rmsprop": lambda: torch.optim.RMSprop(params),
        "adagrad": lambda: torch.optim.Adagrad(params),
    }[name]()


def loss_of(output: Any) -> Any:
    if isinstance(output, dict):  # torchvision's segmentation models return {'out': scores}
        output = tuple(output.values())
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    total = outputs[0].sum()
    for item in outputs[1:]:
        total = total + item.sum()
    return total


def _fake(model: Any, mode: Any) -> Any:
    """A model built on the CPU (RegNet computes its widths from tensor values) turned into fake tensors."""
    from torch import nn

    for module in model.modules():
        for name, value in list(module._parameters.items()):
            if value is not None:
                module._parameters[name] = nn.Parameter(mode.from_tensor(value), requires_grad=value.requires_grad)
        for name, value in list(module._buffers.items()):
            if value is not None:
                module._buffers[name] = mode.from_tensor(value)
    return model


def _built(build: Callable[[], Any], mode: Any) -> Any:
    """`build()` under fake tensors; nn.init.trunc_normal_ (data-dependent: ConvNeXt, GoogLeNet, Inception)
    is skipped, since initial values do not change memory."""
    import torch

    original = torch.nn.init.trunc_normal_
    torch.nn.init.trunc_normal_ = lambda tensor, *args, **kwargs: tensor
    try:
        try:
            with mode:
                return build()
        except Exception:  # data-dependent construction: build for real, then fake it
            return _fake(build(), mode)
    finally:
        torch.nn.init.trunc_normal_ = original


def measure(build: Callable[[], Any], batch: int, shape: tuple, mode: str = "train",
            optimizer_name: str = "momentum", resident: bool = False, amp: str | None = None,
            foreach: bool = False) -> tuple[int, ...]:
    """MemTracker's peak snapshot: bytes per category in cnncalc's order (see CATEGORIES). `amp`: fp16 or bf16."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    cast = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp or "", torch.bfloat16)
    fake = FakeTensorMode()
    model = _built(build, fake)
    with fake:
        x = torch.randn(batch, *shape)
        tracker = peak_tracker()
        unhooked = _NoHook()
        for param in model.parameters():  # a frozen parameter takes no gradient hook (MemTracker would fail)
            if not param.requires_grad:
                tracker._param_to_grad_hook_handles[param] = (unhooked, unhooked)
        if mode == "infer":
            model.eval()
            with tracker, torch.no_grad(), torch.autocast("cpu", dtype=cast, enabled=amp is not None):
                model(x)
            return _peak(tracker)
        model.train()
        opt = optimizer(optimizer_name, model.parameters())
        if foreach:
            for group in opt.param_groups:
                group["foreach"] = True

        def step() -> None:
            with torch.autocast("cpu", dtype=cast, enabled=amp is not None):
                loss = loss_of(model(x))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        step()  # creates the optimizer's state
        if resident:
            tracker.track_external(model, opt)
        with tracker:
            step()
        return _peak(tracker)


def peak_tracker() -> Any:
    """PyTorch's MemTracker, less the peaks per module, which cnncalc never reads (it reads the step's peak
    snapshot): after every op MemTracker also walks every module it has seen and, for each one running that
    reaches a new peak of its own, deep-copies the snapshot; on DenseNet-121 (430 modules) that was 90% of a
    tracked step (15 s against 1.5 s of CPU). Its own `_update_peak_stats` still runs (so the step's peak is
    MemTracker's code, not a copy of it), seeing no modules; tests/test_memory_torch.py proves the peaks equal."""
    return _peak_tracker_class()()


@functools.cache
def _peak_tracker_class() -> Any:
    from torch.distributed._tools.mem_tracker import MemTracker

    class PeakTracker(MemTracker):
        def _update_peak_stats(self, peak_state: Any) -> None:
            modules = self.memory_tracking
            self.memory_tracking = type(modules)()
            try:
                super()._update_peak_stats(peak_state)
            finally:
                self.memory_tracking = modules

    return PeakTracker


class _NoHook:
    """Stands for the gradient hooks MemTracker cannot put on a parameter without a gradient."""

    def remove(self) -> None:
        pass


def _peak(tracker: Any) -> tuple[int, ...]:
    (_, categories), = tracker.get_tracker_snapshot("peak").items()
    named = {getattr(key, "value", key): value for key, value in categories.items()}
    return tuple(named.get(name, 0) for name in CATEGORIES)


def saved_per_module(model: Any, names: list[str], x: Any) -> dict[str, int]:
    """Bytes autograd keeps per named submodule during one training forward pass (each storage once,
    parameters and buffers left out). Works on fake tensors as on real ones."""
    import torch

    known = {id(t.untyped_storage()) for t in [*model.parameters(), *model.buffers()]}
    current: list[str] = []
    seen: dict[str, dict[int, int]] = {name: {} for name in names}
    storages: list[Any] = []  # kept alive while counting, so that ids stay unique

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        if current and id(storage) not in known:
            storages.append(storage)
            seen[current[-1]][id(storage)] = storage.nbytes()
        return tensor

    def enter(name: str) -> Callable[..., None]:
        def pre_hook(_module: Any, _inputs: Any) -> None:
            current.append(name)

        return pre_hook

    def leave(_module: Any, _inputs: Any, _output: Any) -> None:
        current.pop()  # a forward hook that returns something replaces the output

    handles = []
    for name in names:
        module = model.get_submodule(name)
        handles.append(module.register_forward_pre_hook(enter(name)))
        handles.append(module.register_forward_hook(leave))
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return {name: sum(sizes.values()) for name, sizes in seen.items()}


def session(build: Callable[[], Any], shape: tuple, batches: tuple[int, ...], optimizers: tuple[str, ...],
            build_infer: Callable[[], Any] | None = None) -> dict[tuple, Any]:
    """MemTracker's peaks for several batches, optimizers and both ways of counting the optimizer state,
    sharing what can be shared (the model, each optimizer's untracked first step): {(optimizer, protocol,
    batch): categories, ("infer", batch): categories, "parameters"/"buffers"/(optimizer, "state"): bytes}."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    fake = FakeTensorMode()
    model = _built(build, fake)
    results: dict[tuple | str, Any] = {}
    with fake:
        inputs = {batch: torch.randn(batch, *shape) for batch in batches}
        results["parameters"] = sum(p.untyped_storage().nbytes() for p in model.parameters())
        results["buffers"] = sum(b.untyped_storage().nbytes() for b in model.buffers())
        model.train()
        for name in optimizers:
            opt = optimizer(name, model.parameters())

            def step(x: Any, opt: Any = opt) -> None:
                loss = loss_of(model(x))  # referenced until the step ends, as in a training loop
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)

            step(inputs[batches[0]])  # creates the state
            results[(name, "state")] = sum(t.untyped_storage().nbytes() for state in opt.state.values()
                                           for t in state.values() if isinstance(t, torch.Tensor))
            for protocol in ("touched", "resident"):
                for batch in batches:
                    tracker = peak_tracker()
                    if protocol == "resident":
                        tracker.track_external(model, opt)
                    with tracker:
                        step(inputs[batch])
                    results[(name, protocol, batch)] = _peak(tracker)
    infer = _built(build_infer, fake) if build_infer is not None else model
    with fake:
        infer.eval()
        for batch, x in inputs.items():
            tracker = peak_tracker()
            with tracker, torch.no_grad():
                infer(x)
            results[("infer", batch)] = _peak(tracker)
    return results  # type: ignore[return-value]
