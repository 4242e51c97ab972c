"""Counting conventions: which cost terms count as multiply-adds.

Each layer type reports its work as named cost terms (exact element counts, see TERMS); a
convention is a weight per term, nothing else: the engine, the renderers and `explain` never
look at layer types. The textbook convention reproduces the lectures; the others reproduce what a
peer tool reports for the same network (fvcore, ptflops, thop, torchinfo, PyTorch's
FlopCounterMode), bugs included. docs/conventions.md has the table with the reason for each rule,
and tests/test_conventions.py proves every profile against the real tool.

Where a tool's rule is not a weighted sum of honest arithmetic (ptflops counting pooling by its
input, torchinfo counting parameters times output positions, thop's float rounding) the layer
types report a further term that is exactly what that tool counts, documented here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

# The cost terms a layer type may report, each an exact count for one sample.
MAC = "mac"  # multiply-accumulates with weights: conv, transposed conv, linear
OUTPUT_MAC = "output_mac"  # weights read per output element × output elements (thop)
PARAM_POSITIONS = "param_positions"  # parameters × output positions (torchinfo)
BIAS = "bias"  # one add per output element of a layer with a bias
WINDOW = "window"  # pooling: one read/compare/add per output element per window position
POOL_INPUT = "pool_input"  # input elements of any pooling layer (ptflops)
AVERAGE = "average"  # one division per output element of fixed-window average pooling (thop)
ADAPTIVE_INPUT = "adaptive_input"  # input elements of adaptive/global average pooling (fvcore)
ADAPTIVE_AVERAGE = "adaptive_average"  # thop's estimate for adaptive/global average pooling
ACTIVATION = "activation"  # one per output element of a nonlinearity (standalone or fused)
SOFTMAX_ADDS = "softmax_adds"  # the C - 1 additions of each softmax's denominator
NORM = "norm"  # one per output element of a normalisation (batch norm, layer norm, LRN)
BATCHNORM = "batchnorm"  # one per output element of batch norm
BATCHNORM_AFFINE = "batchnorm_affine"  # one per output element of batch norm with a learned scale and shift
LAYERNORM = "layernorm"  # one per output element of layer norm
LAYERNORM_AFFINE = "layernorm_affine"  # one per output element of layer norm with a learned scale and shift
LRN = "lrn"  # one per output element of local response normalisation
LRN_WINDOW = "lrn_window"  # elements LRN's channel window averages: (C + n - 1)·H·W
ELEMENTWISE = "elementwise"  # one per element combined: add and mul merges, layer scale
RESAMPLE = "resample"  # one per output element of an upsampling
BILINEAR = "bilinear"  # one per output element of a bilinear upsampling

# Each activation type also reports a term named after its op (one per output element), because
# the tools weigh them differently (ptflops counts a ReLU twice, a ReLU6 once, a sigmoid never).
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "silu", "softmax", "relu6",
               "hardswish", "hardsigmoid")

TERMS = {
    MAC: "multiply-accumulates with weights (conv: C_out*H'*W'*C_in/groups*K_h*K_w, transposed conv: "
         "C_in*H*W*C_out/groups*K_h*K_w, linear: in*out)",
    OUTPUT_MAC: "weights read per output element × output elements: the mac of conv and linear; for a "
                "transposed conv C_out*H'*W'*C_in/groups*K_h*K_w (as if it were a conv producing its output)",
    PARAM_POSITIONS: "parameters × output positions: (weights + bias) × H'*W' for conv and transposed conv, "
                     "the parameters once for linear, batch norm and layer norm (torchinfo's rule)",
    BIAS: "one add per output element of a layer with a bias",
    WINDOW: "pooling: output elements times window size (C*H'*W'*K_h*K_w); global pooling: C*H*W",
    POOL_INPUT: "input elements of a pooling layer (max, average, global, adaptive): C*H*W",
    AVERAGE: "one division per output element of fixed-window average pooling: C*H'*W'",
    ADAPTIVE_INPUT: "input elements of adaptive and global average pooling: C*H*W",
    ADAPTIVE_AVERAGE: "adaptive and global average pooling as thop counts it: ((H/H')*(W/W') + 1)*C*H'*W' "
                      "in float64, truncated (C*H*W + C*H'*W' when the sizes divide)",
    ACTIVATION: "one per output element of an activation, standalone or fused",
    **{name: f"one per output element of a {name} activation, standalone or fused" for name in ACTIVATIONS},
    SOFTMAX_ADDS: "the additions of a softmax's denominators: (C - 1) per position, C*H*W - H*W",
    NORM: "one per output element of a normalisation: batch norm, layer norm, LRN",
    BATCHNORM: "one per output element of batch norm",
    BATCHNORM_AFFINE: "one per output element of batch norm with a learned scale and shift (affine)",
    LAYERNORM: "one per output element of layer norm",
    LAYERNORM_AFFINE: "one per output element of layer norm with a learned scale and shift (affine)",
    LRN: "one per output element of local response normalisation",
    LRN_WINDOW: "elements LRN's channel window averages: its input padded with n - 1 channels, (C + n - 1)*H*W",
    ELEMENTWISE: "one per element combined: (inputs - 1) × output elements for add and mul, "
                 "output elements for layer scale",
    RESAMPLE: "one per output element of an upsampling",
    BILINEAR: "one per output element of a bilinear upsampling",
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

FVCORE = Convention(
    "fvcore",
    "fvcore's FlopCountAnalysis: multiply-adds of conv and linear (no bias); batch norm 1 per element "
    "(+1 with affine), layer norm 4 (+1); adaptive average pooling its input; upsampling its output "
    "(×4 bilinear); max and fixed-window pooling, activations and merges nothing",
    {MAC: 1, BATCHNORM: 1, BATCHNORM_AFFINE: 1, LAYERNORM: 4, LAYERNORM_AFFINE: 1, ADAPTIVE_INPUT: 1,
     RESAMPLE: 1, BILINEAR: 3},
)

PTFLOPS = Convention(
    "ptflops",
    "ptflops' get_model_complexity_info (pytorch backend, defaults): multiply-adds plus bias; every "
    "pooling 2× its input and ReLU, ELU, GELU and upsampling 2× their output (a module hook and the "
    "patched functional both count); ReLU6, LeakyReLU, SiLU, softmax once; batch norm 1 per element (+1 affine), layer norm 1",
    {MAC: 1, BIAS: 1, POOL_INPUT: 2, BATCHNORM: 1, BATCHNORM_AFFINE: 1, LAYERNORM: 1, "relu": 2, "elu": 2, "gelu": 2, "relu6": 1,
     "leaky_relu": 1, "silu": 1, "softmax": 1, RESAMPLE: 2, LRN: 3, LRN_WINDOW: 1},
)

THOP = Convention(
    "thop",
    "thop's profile: multiply-adds without bias, a transposed conv per output position; norms 2 per "
    "element (×2 affine); average pooling 1 per output, adaptive average input + output; softmax 3 per "
    "element - 1 per position; upsampling 1 per output (11 bilinear); max pooling and activations nothing",
    {OUTPUT_MAC: 1, BATCHNORM: 2, BATCHNORM_AFFINE: 2, LAYERNORM: 2, LAYERNORM_AFFINE: 2, AVERAGE: 1, ADAPTIVE_AVERAGE: 1, "softmax": 2, SOFTMAX_ADDS: 1,
     RESAMPLE: 1, BILINEAR: 10},
)

TORCHINFO = Convention(
    "torchinfo",
    "torchinfo's summary 'Total mult-adds': each leaf layer's weights and biases times its output "
    "positions (H'·W' for convolutions, 1 otherwise); everything without parameters counts nothing",
    {PARAM_POSITIONS: 1},
)

TORCH = Convention(
    "torch",
    "PyTorch's torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per multiply-add of conv and linear "
    "(no bias); nothing else",
    {MAC: 2},
)

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (TEXTBOOK, FVCORE, PTFLOPS, THOP, TORCHINFO, TORCH)}
