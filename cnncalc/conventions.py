"""Counting conventions: which cost terms count as multiply-adds.

Each layer type reports its work as named cost terms (exact element counts); a convention is a
weight per term. Peer-tool profiles (fvcore, ptflops, thop, torchinfo, PyTorch's counter) become
further `Convention`s of the same engine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

# The cost terms a layer type may report, each an exact count for one sample.
MAC = "mac"  # multiply-accumulates with weights: conv, linear
BIAS = "bias"  # one add per output element of a layer with a bias
WINDOW = "window"  # pooling: one read/compare/add per output element per window position
ACTIVATION = "activation"  # one per output element of a nonlinearity (standalone or fused)
NORM = "norm"  # one per output element of a normalisation (batch norm, layer norm, LRN)
ELEMENTWISE = "elementwise"  # one per element combined: add and mul merges, layer scale
RESAMPLE = "resample"  # one per output element of an upsampling

TERMS = {
    MAC: "multiply-accumulates with weights (conv: C_out*H'*W'*C_in/groups*K_h*K_w, linear: in*out)",
    BIAS: "one add per output element of a layer with a bias",
    WINDOW: "pooling: output elements times window size (C*H'*W'*K_h*K_w)",
    ACTIVATION: "one per output element of an activation, standalone or fused",
    NORM: "one per output element of batch norm, layer norm or LRN",
    ELEMENTWISE: "one per element combined: (inputs - 1) × output elements for add and mul, "
                 "output elements for layer scale",
    RESAMPLE: "one per output element of an upsampling",
}


@dataclass(frozen=True)
class Convention:
    name: str
    description: str
    weights: Mapping[str, int] = field(default_factory=dict)

    def count(self, terms: Mapping[str, Any]) -> Any:
        return sum((self.weights.get(term, 0) * value for term, value in terms.items()), 0)


TEXTBOOK = Convention(
    "textbook",
    "the lectures: multiply-adds of conv and linear layers plus pooling windows; "
    "bias, activations and normalisation cost nothing",
    {MAC: 1, WINDOW: 1},
)

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (TEXTBOOK,)}
