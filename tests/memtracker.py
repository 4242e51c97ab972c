"""PyTorch's own measurements of a training step's memory, the references of tests/test_memory_torch.py.

- `measure`: MemTracker (torch.distributed._tools.mem_tracker) under FakeTensorMode on the CPU, the
  issue's protocol: model and optimizer built under fake tensors, one untracked step (it creates the
  optimizer's state), then a fresh tracker around one full step (forward, `loss.backward()`,
  `optimizer.step()`, `optimizer.zero_grad(set_to_none=True)`); the input is made before tracking.
  `resident=True` adds `track_external(model, optimizer)`, which counts parameters, gradients and
  optimizer state for as long as they exist. Inference: a tracker around one `no_grad` forward pass of
  the eval-mode model. The loss is the sum of the outputs' sums.
- `saved_per_module`: the storages autograd keeps, per module, as `torch.autograd.graph.saved_tensors_hooks`
  sees them on real CPU tensors (parameters and buffers left out), each storage once.
"""
from __future__ import annotations

import torch
from torch import nn

CATEGORIES = ("Parameter", "Buffer", "Gradient", "Optstate", "Activation", "Temp")  # cnncalc's order


def optimizer(name: str, params):
    return {
        "sgd": lambda: torch.optim.SGD(params, lr=0.1),
        "momentum": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
        "adam": lambda: torch.optim.Adam(params),
        "adamw": lambda: torch.optim.AdamW(params),
        "rmsprop": lambda: torch.optim.RMSprop(params),
        "adagrad": lambda: torch.optim.Adagrad(params),
    }[name]()


def loss_of(output):
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    total = outputs[0].sum()
    for item in outputs[1:]:
        total = total + item.sum()
    return total


def _fake(model: nn.Module, mode) -> nn.Module:
    """A model built on the CPU (RegNet computes its widths from tensor values) turned into fake tensors."""
    for module in model.modules():
        for name, value in list(module._parameters.items()):
            if value is not None:
                module._parameters[name] = nn.Parameter(mode.from_tensor(value), requires_grad=value.requires_grad)
        for name, value in list(module._buffers.items()):
            if value is not None:
                module._buffers[name] = mode.from_tensor(value)
    return model


def _built(build, mode):
    """`build()` under fake tensors; nn.init.trunc_normal_ (data-dependent: ConvNeXt, GoogLeNet, Inception)
    is skipped, since initial values do not change memory."""
    original = torch.nn.init.trunc_normal_
    torch.nn.init.trunc_normal_ = lambda tensor, *args, **kwargs: tensor
    try:
        try:
            with mode:
                return build()
        except Exception:  # noqa: BLE001  (data-dependent construction: build for real, then fake it)
            return _fake(build(), mode)
    finally:
        torch.nn.init.trunc_normal_ = original


def measure(build, batch: int, shape: tuple, mode: str = "train", optimizer_name: str = "momentum",
            resident: bool = False, amp: torch.dtype | None = None, foreach: bool = False) -> tuple[int, ...]:
    """MemTracker's peak snapshot: bytes per category in cnncalc's order (see CATEGORIES)."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    fake = FakeTensorMode()
    model = _built(build, fake)
    with fake:
        x = torch.randn(batch, *shape)
        tracker = MemTracker()
        if mode == "infer":
            model.eval()
            with tracker, torch.no_grad(), torch.autocast("cpu", dtype=amp or torch.bfloat16, enabled=amp is not None):
                model(x)
            return _peak(tracker)
        model.train()
        opt = optimizer(optimizer_name, model.parameters())
        if foreach:
            for group in opt.param_groups:
                group["foreach"] = True

        def step():
            with torch.autocast("cpu", dtype=amp or torch.bfloat16, enabled=amp is not None):
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


def _peak(tracker) -> tuple[int, ...]:
    (_, categories), = tracker.get_tracker_snapshot("peak").items()
    named = {getattr(key, "value", key): value for key, value in categories.items()}
    return tuple(named.get(name, 0) for name in CATEGORIES)


def saved_per_module(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, int]:
    """Bytes autograd keeps per named submodule during one training forward pass (each storage once,
    parameters and buffers left out)."""
    known = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    current: list[str] = []
    seen: dict[str, dict[int, int]] = {name: {} for name in names}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if current and storage.data_ptr() not in known:
            seen[current[-1]][storage.data_ptr()] = storage.nbytes()
        return tensor

    def enter(name):
        return lambda _module, _inputs: current.append(name)

    def leave(_module, _inputs, _output):
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
    return {name: sum(storages.values()) for name, storages in seen.items()}
