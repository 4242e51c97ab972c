"""What each optimizer keeps per parameter and allocates inside `step()`, as PyTorch's single-tensor
(CPU default) and foreach implementations do (measured: docs/memory.md, "The optimizer step")."""
from __future__ import annotations

from dataclasses import dataclass

STEP_BYTES = 4  # Adam's, RMSprop's and Adagrad's `step`: a float32 scalar tensor per parameter


@dataclass(frozen=True)
class Optimizer:
    name: str
    summary: str
    moments: int  # state tensors the size of the parameter (momentum buffer, exp_avg, exp_avg_sq...)
    step_counter: bool  # a 4-byte `step` tensor per parameter
    # inside step(), per parameter (single-tensor): temporaries the size of the parameter alive at once
    # at its largest op, and whether the last one lives on until the next parameter rebinds it
    temporaries: int = 0
    carried: bool = False
    rebinds_early: bool = False  # the carried temporary goes before the next parameter's state is touched
    foreach_temporaries: int = 0  # foreach: whole-model copies alive at once (_foreach_sqrt, _foreach_mul)


OPTIMIZERS = {
    "sgd": Optimizer("sgd", "SGD without momentum: no state", 0, False),
    "momentum": Optimizer("momentum", "SGD with momentum: a momentum buffer per parameter", 1, False),
    "nesterov": Optimizer("nesterov", "SGD with Nesterov momentum: a buffer, and grad + buffer in step()", 1, False,
                          temporaries=1, carried=True, rebinds_early=True),
    "adam": Optimizer("adam", "Adam: exp_avg, exp_avg_sq and a 4-byte step per parameter", 2, True,
                      temporaries=2, carried=True, foreach_temporaries=1),
    "adamw": Optimizer("adamw", "AdamW: as Adam (the weight decay works in place)", 2, True,
                       temporaries=2, carried=True, foreach_temporaries=1),
    "rmsprop": Optimizer("rmsprop", "RMSprop: square_avg and a 4-byte step per parameter", 1, True,
                         temporaries=1, carried=True, foreach_temporaries=1),
    "adagrad": Optimizer("adagrad", "Adagrad: sum and a 4-byte step per parameter", 1, True,
                         temporaries=1, carried=True, foreach_temporaries=2),
}


def state_sizes(optimizer: Optimizer, parameter_bytes: int) -> tuple[int, ...]:
    """The state tensors of one parameter, in the order step() first touches them."""
    return ((STEP_BYTES,) if optimizer.step_counter else ()) + (parameter_bytes,) * optimizer.moments
