"""Cost terms: the named, exact counts of work that layer types report (`Layer.costs`).

A convention (analysis/conventions.py) is a weight per term; layer types never know conventions.
Besides these, every activation type reports a term named after its op (see `activation_terms`),
because the peer tools weigh activations differently.
"""
from __future__ import annotations

# The cost terms a layer type may report, each an exact count for one sample.
MAC = "mac"  # multiply-accumulates with weights: conv, transposed conv, linear
MATMUL = "matmul"  # multiply-accumulates of a matrix product of two activations (attention's q @ k)
ATTENTION = "attention"  # multiply-accumulates of a fused attention's q @ kᵀ and weights @ v
ATTENTION_SCALE = "attention_scale"  # one multiply per query element of a fused attention (q / sqrt(d), ptflops)
ATTENTION_SOFTMAX = "attention_softmax"  # one per attention weight of a fused attention: heads·L·L (ptflops)
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
RESAMPLE_MODULE = "resample_module"  # one per output element of an upsampling module (nn.Upsample), not F.interpolate
BILINEAR_MODULE = "bilinear_module"  # one per output element of a bilinear nn.Upsample

TERMS = {
    MAC: "multiply-accumulates with weights (conv: C_out*H'*W'*C_in/groups*K_h*K_w, transposed conv: "
         "C_in*H*W*C_out/groups*K_h*K_w, linear: in*out)",
    MATMUL: "multiply-accumulates of a matrix product of two activations: n*k*m per [n, k] @ [k, m] matrix "
            "pair, times the batch axes before them",
    ATTENTION: "multiply-accumulates of a fused multi-head attention's two products (F.scaled_dot_product_attention "
               "inside nn.MultiheadAttention): L*L*D for q @ k^T and L*L*D for the weights @ v, 2*L*L*D in all",
    ATTENTION_SCALE: "one multiply per query element of a fused attention (q scaled by 1/sqrt(D/heads)): L*D",
    ATTENTION_SOFTMAX: "one per attention weight of a fused attention's softmax: heads*L*L",
    OUTPUT_MAC: "weights read per output element × output elements: the mac of conv and linear; for a "
                "transposed conv C_out*H'*W'*C_in/groups*K_h*K_w (as if it were a conv producing its output)",
    PARAM_POSITIONS: "parameters × output positions: (weights + bias) × H'*W' for conv and transposed conv, "
                     "the parameters once for linear, batch norm and layer norm (torchinfo's rule)",
    BIAS: "one add per output element of a layer with a bias (a multi-head attention: its in- and out-projections', "
          "4*L*D)",
    WINDOW: "pooling: output elements times window size (C*H'*W'*K_h*K_w); global pooling: C*H*W",
    POOL_INPUT: "input elements of a pooling layer (max, average, global, adaptive): C*H*W",
    AVERAGE: "one division per output element of fixed-window average pooling: C*H'*W'",
    ADAPTIVE_INPUT: "input elements of adaptive and global average pooling: C*H*W",
    ADAPTIVE_AVERAGE: "adaptive and global average pooling as thop counts it: ((H/H')*(W/W') + 1)*C*H'*W' "
                      "in float64, truncated (C*H*W + C*H'*W' when the sizes divide)",
    ACTIVATION: "one per output element of an activation, standalone or fused",
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
    RESAMPLE_MODULE: "one per output element of an upsampling written as a module (nn.Upsample, what module hooks "
                     "see); 0 for a functional F.interpolate (interpolate)",
    BILINEAR_MODULE: "one per output element of a bilinear upsampling written as a module (nn.Upsample)",
}
