"""One small spec per layer type, shared by the lowering and convention tests."""
from __future__ import annotations

EXAMPLES = {
    "conv": "{op: conv, out: 6, kernel: [3, 5], stride: 2, pad: same, groups: 2, dilation: 1, act: relu}",
    "maxpool": "{op: maxpool, kernel: 3, stride: 2, ceil: true, pad: 1}",
    "avgpool": "{op: avgpool, kernel: 3, stride: 2, pad: 1}",
    "global_avgpool": "{op: gap}",
    "global_maxpool": "{op: global_maxpool}",
    "flatten": "{op: flatten}",
    "dropout": "{op: dropout, p: 0.3}",
    "drop_path": "{op: drop_path, p: 0.1}",
    "identity": "{op: identity}",
    "layer_scale": "{op: layer_scale}",
    "channel_shuffle": "{op: channel_shuffle, groups: 2}",
    "channel_split": "{op: channel_split, index: 1}",
    "batchnorm": "{op: batchnorm}",
    "layernorm": "{op: layernorm}",
    "lrn": "{op: lrn, size: 3}",
    "conv_transpose": "{op: conv_transpose, out: 3, kernel: 3, stride: 2, pad: 1, output_pad: 1, act: elu}",
    "adaptive_avgpool": "{op: adaptive_avgpool, size: [3, 2]}",
    "adaptive_maxpool": "{op: adaptive_maxpool, size: 5}",
    "upsample": "{op: upsample, scale: 2, mode: bilinear}",
    "zeropad": "{op: zeropad, pad: [1, 2, 0, 3], channels: 2}",
}
MERGES = {"add": "[a, b]", "mul": "[a, g]", "concat": "[a, b]"}


def example_spec(op: str) -> str:
    """A spec on a 4x9x11 input holding `op` (merges read two branches; linear needs a flatten)."""
    head = "input: [4, 9, 11]\nlayers:\n"
    if op in MERGES:  # (a layer whose output is never used would be dropped by fvcore's trace)
        gate = "  - {op: gap, name: g, in: input}\n" if op == "mul" else ""
        return head + ("  - {op: conv, name: a, out: 4, kernel: 1}\n  - {op: conv, name: b, in: input, out: 4, kernel: 1}\n"
                       f"{gate}  - {{op: {op}, in: {MERGES[op]}}}\noutputs: [{op}1, b]\n")
    if op == "linear":
        return head + "  - {op: flatten}\n  - {op: linear, out: 7, act: gelu}\n  - {op: batchnorm, affine: false}\n"
    if op in EXAMPLES:
        return head + f"  - {EXAMPLES[op]}\n"
    return head + f"  - {{op: {op}}}\n"  # activations
