"""Counting conventions: which cost terms count as multiply-adds.

Each layer type reports its work as named cost terms (exact element counts, see TERMS); a
convention is a weight per term, nothing else: the engine, the renderers and `explain` never
look at layer types. The textbook convention reproduces the lectures; the others reproduce what a
peer tool reports for the same network (fvcore, ptflops, thop, torchinfo, PyTorch's
FlopCounterMode), bugs included. docs/conventions.md has the table with the reason for each rule,
and tests/test_conventions.py proves every profile against the real tool.

Where a tool's rule is not a weighted sum of honest arithmetic (ptflops counting pooling by its
input, torchinfo counting parameters times output positions, thop's float rounding) the layer
types report a further term that is exactly what that tool counts, documented in layers/terms.py.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.formula import value_of
from ..layers import activation_terms
from ..layers.activation import ELU, GELU, LeakyReLU, ReLU, ReLU6, SiLU, Softmax
from ..layers.terms import (
    ADAPTIVE_AVERAGE,
    ADAPTIVE_INPUT,
    ATTENTION,
    ATTENTION_SCALE,
    ATTENTION_SOFTMAX,
    AVERAGE,
    BATCHNORM,
    BATCHNORM_AFFINE,
    BIAS,
    BILINEAR,
    BILINEAR_MODULE,
    LAYERNORM,
    LAYERNORM_AFFINE,
    LRN,
    LRN_WINDOW,
    MAC,
    MATMUL,
    OUTPUT_MAC,
    PARAM_POSITIONS,
    POOL_INPUT,
    RESAMPLE,
    RESAMPLE_MODULE,
    SOFTMAX_ADDS,
    WINDOW,
)
from ..layers.terms import TERMS as _SHARED_TERMS

# Every activation type also reports a term named after its op (one per output element), because
# the tools weigh them differently (ptflops counts a ReLU twice, a ReLU6 once, a sigmoid never).
ACTIVATIONS: tuple[str, ...] = activation_terms()
TERMS: dict[str, str] = {
    **_SHARED_TERMS,
    **{name: f"one per output element of a {name} activation, standalone or fused" for name in ACTIVATIONS},
}


@dataclass(frozen=True)
class Convention:
    name: str
    description: str
    weights: Mapping[str, int] = field(default_factory=dict)
    _weighed: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False, default=())
    # the terms it weighs: a layer may leave the others out of its cost terms (Layer.figures)
    terms: frozenset[str] = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(TERMS)
        if unknown:  # a renamed op or a typo would otherwise count as nothing, silently
            raise ValueError(f"convention {self.name!r} weighs unknown cost terms: {sorted(unknown)}")
        object.__setattr__(self, "_weighed", tuple(self.weights.items()))  # count's loop, once per layer
        object.__setattr__(self, "terms", frozenset(self.weights))

    def count(self, terms: Mapping[str, Any]) -> Any:
        """The weighted sum of the terms (values, or Formulas whose values count)."""
        total = 0
        if terms:
            for term, weight in self._weighed:
                value = terms.get(term)
                if value is not None:
                    total += weight * (value if type(value) is int else value_of(value))
        return total


TEXTBOOK = Convention(
    "textbook",
    "the lectures: multiply-adds of conv and linear layers (and of matrix products and attention) plus pooling "
    "windows; bias, activations and normalisation cost nothing",
    {MAC: 1, MATMUL: 1, ATTENTION: 1, WINDOW: 1},
)

FVCORE = Convention(
    "fvcore",
    "fvcore's FlopCountAnalysis: multiply-adds of conv, linear and matmul (no bias); batch norm 1 per element "
    "(+1 with affine), layer norm 4 (+1); adaptive average pooling its input; upsampling its output "
    "(×4 bilinear); max and fixed-window pooling, activations, merges and the fused attention of "
    "nn.MultiheadAttention (scaled_dot_product_attention) nothing",
    {MAC: 1, MATMUL: 1, BATCHNORM: 1, BATCHNORM_AFFINE: 1, LAYERNORM: 4, LAYERNORM_AFFINE: 1, ADAPTIVE_INPUT: 1,
     RESAMPLE: 1, BILINEAR: 3},
)

PTFLOPS = Convention(
    "ptflops",
    "ptflops' get_model_complexity_info (pytorch backend, defaults): multiply-adds plus bias; every "
    "pooling 2× its input and ReLU, ELU, GELU and nn.Upsample 2× their output (a module hook and the "
    "patched functional both count; F.interpolate once); ReLU6, LeakyReLU, SiLU, softmax once; batch norm 1 "
    "per element (+1 affine), layer norm 1; a @ b nothing (it patches torch.matmul, not the operator); "
    "nn.MultiheadAttention by its own formula: projections and biases, q scaled, q·kᵀ, softmax, weights·v",
    {MAC: 1, BIAS: 1, ATTENTION: 1, ATTENTION_SCALE: 1, ATTENTION_SOFTMAX: 1, POOL_INPUT: 2, BATCHNORM: 1,
     BATCHNORM_AFFINE: 1, LAYERNORM: 1, ReLU.term: 2, ELU.term: 2,
     GELU.term: 2, ReLU6.term: 1, LeakyReLU.term: 1, SiLU.term: 1, Softmax.term: 1, RESAMPLE: 1, RESAMPLE_MODULE: 1,
     LRN: 3, LRN_WINDOW: 1},
)

THOP = Convention(
    "thop",
    "thop's profile: multiply-adds without bias, a transposed conv per output position; norms 2 per "
    "element (×2 affine); average pooling 1 per output, adaptive average input + output; softmax 3 per "
    "element - 1 per position; nn.Upsample 1 per output (11 bilinear), F.interpolate nothing; max pooling, "
    "activations, a @ b and nn.MultiheadAttention nothing",
    {OUTPUT_MAC: 1, BATCHNORM: 2, BATCHNORM_AFFINE: 2, LAYERNORM: 2, LAYERNORM_AFFINE: 2, AVERAGE: 1,
     ADAPTIVE_AVERAGE: 1, Softmax.term: 2, SOFTMAX_ADDS: 1, RESAMPLE_MODULE: 1, BILINEAR_MODULE: 10},
)

TORCHINFO = Convention(
    "torchinfo",
    "torchinfo's summary 'Total mult-adds': each leaf layer's weights and biases times its output "
    "positions (H'·W' for convolutions, 1 otherwise); everything without parameters, and "
    "nn.MultiheadAttention, counts nothing",
    {PARAM_POSITIONS: 1},
)

TORCH = Convention(
    "torch",
    "PyTorch's torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per multiply-add of conv, linear, "
    "matmul and attention (no bias); nothing else (nn.MultiheadAttention's fused inference fast path, which "
    "it does not see, aside)",
    {MAC: 2, MATMUL: 2, ATTENTION: 2},
)

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (TEXTBOOK, FVCORE, PTFLOPS, THOP, TORCHINFO, TORCH)}
