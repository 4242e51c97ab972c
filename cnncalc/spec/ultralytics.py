"""`cnncalc import`: an Ultralytics model YAML (backbone and head as `[from, repeats, module, args]` rows,
`scales`) as a cnncalc spec, without importing ultralytics.

The YAML is untrusted input: it is read by the project's safe loader with its limits (yamlsrc.py), and
its values are only ever copied into the spec as numbers and words. The spec reads like the YAML: one
layer per row, named `m<index>` with Ultralytics' module path (`model.<index>`, so that a checkpoint's
weights load into an exported model), a block per module (Conv, C2f, SPPF, Detect...), and the
scale's arithmetic as parse_model does it (ultralytics/nn/tasks.py, version 8.4.190): channels
make_divisible_up(min(c2, max_channels) * width, 8), repeats max(round(n * depth), 1) when n > 1.
docs/import.md lists the modules and the shipped YAMLs this covers.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..core.errors import Location, SpecError, did_you_mean
from .yamlsrc import YList, YMap, parse_yaml

ULTRALYTICS_VERSION = "8.4.190"  # the version whose modules the blocks below reproduce (tests prove it)
SCALED = "make_divisible_up(min(c2, max_channels) * width, 8)"
REPEATS = "max(round(n * depth), 1) if n > 1 else n"

# Each block: its YAML (under `blocks:`) and the blocks it uses.
BLOCKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cbs": ("""\
  cbs:                              # Conv: conv without bias ('same' padding), BN, SiLU (none with act: false)
    params: [c2, {k: 1}, {s: 1}, {p: k // 2}, {g: 1}, {act: true}]
    layers:
      - {op: conv, name: conv, out: c2, kernel: k, stride: s, pad: p, groups: g, bias: false}
      - {op: bn, name: bn, eps: 0.001}
      - {op: silu, name: act, when: act}
""", ()),
    "Conv": (f"""\
  Conv:                             # a Conv row of the YAML: [c2, k, s, p, g]
    params: [c2, {{k: 1}}, {{s: 1}}, {{p: k // 2}}, {{g: 1}}, {{c: "{SCALED}"}}]
    layers:
      - {{op: cbs, name: cv, c2: c, k: k, s: s, p: p, g: g, module: .}}
""", ("cbs",)),
    "Bottleneck": ("""\
  Bottleneck:                       # two convs and, with shortcut, a residual add
    params: [c2, {shortcut: true}, {e: 0.5}, {k1: 3}, {k2: 3}, {g: 1}]
    layers:
      - {op: cbs, name: cv1, c2: int(c2 * e), k: k1}
      - {op: cbs, name: cv2, c2: c2, k: k2, g: g}
      - {op: add, name: add, in: [cv2, input], when: shortcut and in_channels == c2}
""", ("cbs",)),
    "C2f": (f"""\
  C2f:                              # cv1, split in halves, n bottlenecks on the second, all concatenated, cv2
    params: [c2, {{shortcut: false}}, {{n: 1}}, {{c_out: "{SCALED}"}}, {{c: "int(c_out * 0.5)"}}]
    layers:
      - {{op: cbs, name: cv1, c2: 2 * c}}
      - {{op: split, name: y0, index: 0, held: true}}      # y = list(self.cv1(x).chunk(2, 1)): the list y
      - {{op: split, name: y1, in: cv1, index: 1, held: true}}   # holds both halves and, after
      - {{op: Bottleneck, name: m, c2: c, shortcut: shortcut, e: 1.0, repeat: "{REPEATS}", held: true}}
      - {{op: concat, name: cat, in: [y0, y1, m.*]}}     # y.extend(m(y[-1]) ...), every output, until cv2 returns
      - {{op: cbs, name: cv2, c2: c_out}}
""", ("cbs", "Bottleneck")),
    "C2": (f"""\
  C2:                               # cv1, split in halves, n bottlenecks on the first, concatenated with the second
    params: [c2, {{shortcut: true}}, {{n: 1}}, {{c_out: "{SCALED}"}}, {{c: "int(c_out * 0.5)"}}]
    layers:
      - {{op: cbs, name: cv1, c2: 2 * c}}
      - {{op: split, name: a, index: 0}}
      - {{op: Bottleneck, name: m, c2: c, shortcut: shortcut, e: 1.0, repeat: "{REPEATS}"}}
      - {{op: split, name: b, in: cv1, index: 1}}
      - {{op: concat, name: cat, in: [m, b]}}
      - {{op: cbs, name: cv2, c2: c_out}}
""", ("cbs", "Bottleneck")),
    "C3": (f"""\
  C3:                               # CSP bottleneck with 3 convolutions: cv3(cat(m(cv1(x)), cv2(x)))
    params: [c2, {{shortcut: true}}, {{n: 1}}, {{c_out: "{SCALED}"}}, {{c: "int(c_out * 0.5)"}}]
    layers:
      - {{op: cbs, name: cv1, c2: c}}
      - {{op: Bottleneck, name: m, c2: c, shortcut: shortcut, e: 1.0, k1: 1, k2: 3, repeat: "{REPEATS}"}}
      - {{op: cbs, name: cv2, in: input, c2: c}}
      - {{op: concat, name: cat, in: [m, cv2]}}
      - {{op: cbs, name: cv3, c2: c_out}}
""", ("cbs", "Bottleneck")),
    "C3k": ("""\
  C3k:                              # C3 with k x k bottlenecks (inside C3k2, unscaled): cv3(cat(m(cv1(x)), cv2(x)))
    params: [c2, {shortcut: true}, {n: 2}, {g: 1}, {e: 0.5}, {k: 3}, {c: "int(c2 * e)"}]
    layers:
      - {op: cbs, name: cv1, c2: c}
      - {op: Bottleneck, name: m, c2: c, shortcut: shortcut, e: 1.0, k1: k, k2: k, g: g, repeat: n}
      - {op: cbs, name: cv2, in: input, c2: c}
      - {op: concat, name: cat, in: [m, cv2]}
      - {op: cbs, name: cv3, c2: c2}
""", ("cbs", "Bottleneck")),
    "C3k2": (f"""\
  C3k2:                             # C2f whose inner blocks are C3k (c3k), Bottlenecks, or Bottleneck+PSABlock (attn)
    params: [c2, {{c3k: false}}, {{e: 0.5}}, {{attn: false}}, {{g: 1}}, {{shortcut: true}}, {{n: 1}},
             {{c_out: "{SCALED}"}}, {{c: "int(c_out * e)"}}, {{reps: "{REPEATS}"}}]
    layers:
      - {{op: cbs, name: cv1, c2: 2 * c}}
      - {{op: split, name: y0, index: 0, held: true}}      # C2f's forward: the list y holds both halves and
      - {{op: split, name: y1, in: cv1, index: 1, held: true}}   # every inner block's output until cv2 returns
      - {{op: C3k, name: m, c2: c, shortcut: shortcut, g: g, repeat: reps, when: c3k and not attn, held: true}}
      - {{op: Bottleneck, name: m, c2: c, shortcut: shortcut, g: g, repeat: reps, when: not c3k and not attn,
         held: true}}
      - {{op: BottleneckPSA, name: m, shortcut: shortcut, g: g, repeat: reps, when: attn, held: true}}
      - {{op: concat, name: cat, in: [y0, y1, m.*]}}
      - {{op: cbs, name: cv2, c2: c_out}}
""", ("cbs", "C3k", "Bottleneck", "BottleneckPSA")),
    "BottleneckPSA": ("""\
  BottleneckPSA:                    # C3k2's attn unit: nn.Sequential(Bottleneck, PSABlock)
    params: [{shortcut: true}, {g: 1}]
    layers:
      - {op: Bottleneck, name: b, c2: in_channels, shortcut: shortcut, g: g, module: 0}
      - {op: PSABlock, name: psa, num_heads: "max(in_channels // 64, 1)", module: 1}
""", ("Bottleneck", "PSABlock")),
    "Attention": ("""\
  Attention:                        # multi-head self-attention over the H*W positions, plus a depthwise 3x3 (pe)
    params: [{num_heads: 8}, {attn_ratio: 0.5}, {head_dim: in_channels // num_heads},
             {key_dim: "int(head_dim * attn_ratio)"}, {sizes: [key_dim, key_dim, head_dim]}]
    layers:
      - {op: cbs, name: qkv, c2: in_channels + 2 * key_dim * num_heads, act: false, held: true}   # a local
      - {op: reshape, name: heads, shape: [num_heads, 2 * key_dim + head_dim, -1]}   # view(B, heads, ..., H*W)
      - {op: split, name: q, sizes: sizes, index: 0, dim: 2}
      - {op: split, name: k, in: heads, sizes: sizes, index: 1, dim: 2}
      - {op: split, name: v, in: heads, sizes: sizes, index: 2, dim: 2}
      - {op: scale, name: q_scaled, in: q, factor: 1 / sqrt(key_dim)}     # q * key_dim ** -0.5
      - {op: transpose, name: q_t, dims: [-2, -1]}
      - {op: matmul, name: scores, in: [q_t, k]}                         # [heads, H*W, H*W]
      - {op: softmax, name: attn, dim: -1, held: true}                    # attn = (...).softmax(dim=-1): a local
      - {op: transpose, name: attn_t, dims: [-2, -1]}
      - {op: matmul, name: mixed, in: [v, attn_t]}                       # [heads, head_dim, H*W]
      - {op: reshape, name: mixed_map, shape: [in_channels, in_height, in_width]}
      - {op: reshape, name: v_map, in: v, shape: [in_channels, in_height, in_width]}
      - {op: cbs, name: pe, c2: in_channels, k: 3, g: in_channels, act: false}
      - {op: add, name: sum, in: [mixed_map, pe]}
      - {op: cbs, name: proj, c2: in_channels, act: false}
""", ("cbs",)),
    "PSABlock": ("""\
  PSABlock:                         # x + attn(x), then x + ffn(x) (ffn: Conv 1x1 to 2c, Conv 1x1 back without act)
    params: [{num_heads: 4}, {attn_ratio: 0.5}, {shortcut: true}]
    layers:
      - {op: Attention, name: attn, num_heads: num_heads, attn_ratio: attn_ratio}
      - {op: add, name: add1, in: [attn, input], when: shortcut}
      - {op: cbs, name: ffn0, c2: 2 * in_channels, module: ffn.0}
      - {op: cbs, name: ffn1, c2: in_channels, act: false, module: ffn.1}
      - {op: add, name: add2, in: [ffn1, add1], when: shortcut}
""", ("Attention", "cbs")),
    "C2PSA": (f"""\
  C2PSA:                            # cv1, split in halves, n PSABlocks on the second, concatenated with the first, cv2
    params: [c2, {{e: 0.5}}, {{n: 1}}, {{c_out: "{SCALED}"}}, {{c: "int(in_channels * e)"}}]
    layers:
      - {{op: cbs, name: cv1, c2: 2 * c}}
      - {{op: split, name: a, index: 0, held: true}}       # a, b = self.cv1(x).split(...); b = self.m(b):
      - {{op: split, name: b, in: cv1, index: 1}}          # a and b until the block returns
      - {{op: PSABlock, name: m, num_heads: "max(c // 64, 1)", repeat: "{REPEATS}", held: true}}
      - {{op: concat, name: cat, in: [a, m]}}
      - {{op: cbs, name: cv2, c2: c_out}}
""", ("cbs", "PSABlock")),
    "AAttn": ("""\
  AAttn:                            # YOLO12's area attention: 32-channel heads within each of `area` strips
    params: [num_heads, {area: 1}, {head_dim: in_channels // num_heads}, {c: head_dim * num_heads},
             {a: "area if area > 1 else 1"}, {sizes: [head_dim, head_dim, head_dim]}]
    layers:
      - {op: cbs, name: qkv, c2: 3 * c, act: false}
      - {op: reshape, name: flat, shape: [3 * c, -1]}                     # flatten(2)
      - {op: transpose, name: rows, dims: [1, 2]}                         # [H*W, 3c]
      - {op: reshape, name: areas, shape: [a, -1, num_heads, 3 * head_dim], held: true}  # qkv = ...reshape(...)
      - {op: transpose, name: heads0, dims: [2, 3]}                       # .permute(0, 2, 3, 1), in two swaps
      - {op: transpose, name: heads, dims: [3, 4]}                        # [area, heads, 3 * head_dim, N / area]
      - {op: split, name: q, sizes: sizes, index: 0, dim: 3}
      - {op: split, name: k, in: heads, sizes: sizes, index: 1, dim: 3}
      - {op: split, name: v, in: heads, sizes: sizes, index: 2, dim: 3}
      - {op: scale, name: q_scaled, in: q, factor: 1 / sqrt(head_dim)}
      - {op: transpose, name: q_t, dims: [-2, -1]}
      - {op: matmul, name: scores, in: [q_t, k]}
      - {op: softmax, name: attn, dim: -1, held: true}                     # attn = attn.softmax(dim=-1): a local
      - {op: transpose, name: attn_t, dims: [-2, -1]}
      - {op: matmul, name: mixed, in: [v, attn_t]}                        # [area, heads, head_dim, N / area]
      - {op: transpose, name: x0, dims: [3, 4]}                           # .permute(0, 3, 1, 2), in two swaps
      - {op: transpose, name: x1, dims: [2, 3]}
      - {op: reshape, name: x_hwc, shape: [in_height, in_width, c]}
      - {op: transpose, name: x2, dims: [2, 3]}                           # .permute(0, 3, 1, 2), in two swaps
      - {op: transpose, name: x_map, dims: [1, 2]}
      - {op: contiguous, name: x_c}                                       # .contiguous(): a copy at area > 1
      - {op: transpose, name: v0, in: v, dims: [3, 4]}
      - {op: transpose, name: v1, dims: [2, 3]}
      - {op: reshape, name: v_hwc, shape: [in_height, in_width, c]}
      - {op: transpose, name: v2, dims: [2, 3]}
      - {op: transpose, name: v_map, dims: [1, 2]}
      - {op: contiguous, name: v_c, held: true}                           # v = ....contiguous(): a local
      - {op: cbs, name: pe, c2: c, k: 7, p: 3, g: c, act: false}
      - {op: add, name: sum, in: [x_c, pe]}
      - {op: cbs, name: proj, c2: in_channels, act: false}
""", ("cbs",)),
    "ABlock": ("""\
  ABlock:                           # x + attn(x), then x + mlp(x) (Conv 1x1 to int(c * mlp_ratio), Conv 1x1 back)
    params: [num_heads, {mlp_ratio: 1.2}, {area: 1}]
    layers:
      - {op: AAttn, name: attn, num_heads: num_heads, area: area}
      - {op: add, name: add1, in: [attn, input]}
      - {op: cbs, name: mlp0, c2: int(in_channels * mlp_ratio), module: mlp.0}
      - {op: cbs, name: mlp1, c2: in_channels, act: false, module: mlp.1}
      - {op: add, name: add2, in: [mlp1, add1]}
""", ("AAttn", "cbs")),
    "ABlocks": ("""\
  ABlocks:                          # A2C2f's unit: nn.Sequential(ABlock, ABlock)
    params: [num_heads, mlp_ratio, area]
    layers:
      - {op: ABlock, name: b0, num_heads: num_heads, mlp_ratio: mlp_ratio, area: area, module: 0}
      - {op: ABlock, name: b1, num_heads: num_heads, mlp_ratio: mlp_ratio, area: area, module: 1}
""", ("ABlock",)),
    "A2C2f": (f"""\
  A2C2f:                            # cv1, n units (two ABlocks, or C3k), all concatenated, cv2; x + gamma * y
    params: [c2, {{a2: true}}, {{area: 1}}, {{residual: false}}, {{mlp_ratio: 2.0}}, {{n: 1}},
             {{c_out: "{SCALED}"}}, {{c: "int(c_out * 0.5)"}}, {{reps: "{REPEATS}"}}]
    layers:
      - {{op: cbs, name: cv1, c2: c, held: cv2}}             # y = [self.cv1(x)]; y.extend(m(y[-1]) ...): the list
      - {{op: ABlocks, name: m, num_heads: c // 32, mlp_ratio: mlp_ratio, area: area, repeat: reps, when: a2,
         held: cv2}}
      - {{op: C3k, name: m, c2: c, repeat: reps, when: not a2, held: cv2}}   # until y = self.cv2(torch.cat(y, 1))
      - {{op: concat, name: cat, in: [cv1, m.*]}}
      - {{op: cbs, name: cv2, c2: c_out}}
      - {{op: layer_scale, name: gamma, init: 0.01, bare: true, when: a2 and residual}}   # the parameter gamma
      - {{op: add, name: res, in: [gamma, input], when: a2 and residual}}
""", ("cbs", "ABlocks", "C3k")),
    "SPPF": (f"""\
  SPPF:                             # cv1, one 5x5 max pool applied three times, all concatenated, cv2
    params: [c2, {{k: 5}}, {{c_out: "{SCALED}"}}]
    layers:
      - {{op: cbs, name: cv1, c2: in_channels // 2, held: true}}   # y = [self.cv1(x)]; y.extend(self.m(y[-1]) ...):
      - {{op: maxpool, name: m, kernel: k, stride: 1, pad: k // 2, held: true}}   # the list until cv2 returns
      - {{op: maxpool, name: m_again, share: m, repeat: 2, held: true}}   # the same module, called again
      - {{op: concat, name: cat, in: [cv1, m, m_again.*]}}
      - {{op: cbs, name: cv2, c2: c_out}}
""", ("cbs",)),
    "box_branch": ("""\
  box_branch:                       # Detect.cv2[i]: Conv 3x3, Conv 3x3, Conv2d 1x1 with bias
    params: [c, out]
    layers:
      - {op: cbs, name: conv1, c2: c, k: 3, module: 0}
      - {op: cbs, name: conv2, c2: c, k: 3, module: 1}
      - {op: conv, name: pred, out: out, kernel: 1, module: 2}
""", ("cbs",)),
    "cls_branch": ("""\
  cls_branch:                       # Detect.cv3[i]: YOLOv8's (legacy) Conv 3x3 twice; YOLO11's DWConv + Conv twice
    params: [c, nc, {legacy: true}]
    layers:
      - {op: cbs, name: conv1, c2: c, k: 3, module: 0, when: legacy}
      - {op: cbs, name: conv2, c2: c, k: 3, module: 1, when: legacy}
      - {op: cbs, name: dw1, c2: in_channels, k: 3, g: in_channels, module: "0.0", when: not legacy}
      - {op: cbs, name: pw1, c2: c, module: "0.1", when: not legacy}
      - {op: cbs, name: dw2, c2: c, k: 3, g: c, module: "1.0", when: not legacy}
      - {op: cbs, name: pw2, c2: c, module: "1.1", when: not legacy}
      - {op: conv, name: pred, out: nc, kernel: 1, module: 2}
""", ("cbs",)),
    "Detect": ("""\
  Detect:                           # boxes by DFL and decoding, class scores by sigmoid: [4 + nc, anchors]
    inputs: [feats*]
    params: [nc, {reg_max: 16}, {strides: [8, 16, 32]}, {legacy: true},
             {c2: "max(16, in_channels // 4, reg_max * 4)"}, {c3: "max(in_channels, min(nc, 100))"}]
    layers:
      # torch.cat([box_head[i](x[i]).view(bs, 64, -1) for i in range(self.nl)], dim=-1), then the classes' likewise
      - {op: box_branch, name: cv2, in: "feats.{i}", repeat: in_count, c: c2, out: 4 * reg_max}
      - {op: reshape, name: box_flat, in: "cv2.{i}", repeat: in_count, shape: [4 * reg_max, -1]}
      - {op: concat, name: boxes, in: [box_flat.*], dim: 2, held: true}   # preds = {"boxes": ..., "scores": ...}:
      - {op: cls_branch, name: cv3, in: "feats.{i}", repeat: in_count, c: c3, nc: nc, legacy: legacy}
      - {op: reshape, name: score_flat, in: "cv3.{i}", repeat: in_count, shape: [nc, -1]}
      - {op: concat, name: scores, in: [score_flat.*], dim: 2, held: true}   # a local until forward returns
      # DFL: x.view(b, 4, 16, a).transpose(2, 1).softmax(1), then a fixed 1x1 conv with weights 0..15
      - {op: reshape, name: bins, in: boxes, shape: [4, reg_max, -1]}
      - {op: transpose, name: bins_t, dims: [2, 1]}
      - {op: softmax, name: bin_prob, dim: 1}
      - {op: conv, name: dfl, out: 1, kernel: 1, bias: false, frozen: true, module: dfl.conv}
      - {op: reshape, name: dist, shape: [4, -1]}
      - {op: dist2bbox, name: dbox, in: [dist, feats.*], strides: strides}
      - {op: sigmoid, name: cls, in: scores}
      - {op: concat, name: y, in: [dbox, cls]}
""", ("box_branch", "cls_branch")),
}

# Ultralytics module -> (block or op, the names of its YAML arguments after c2 with their defaults).
MODULES: dict[str, tuple[str, tuple[tuple[str, Any], ...]]] = {
    "Conv": ("Conv", (("c2", None), ("k", 1), ("s", 1), ("p", None), ("g", 1))),
    "C2f": ("C2f", (("c2", None), ("shortcut", False))),
    "C2": ("C2", (("c2", None), ("shortcut", True))),
    "C3": ("C3", (("c2", None), ("shortcut", True))),
    "C3k2": ("C3k2", (("c2", None), ("c3k", False), ("e", 0.5), ("attn", False), ("g", 1), ("shortcut", True))),
    "C2PSA": ("C2PSA", (("c2", None), ("e", 0.5))),
    "A2C2f": ("A2C2f", (("c2", None), ("a2", True), ("area", 1))),
    "SPPF": ("SPPF", (("c2", None), ("k", 5))),
    "Concat": ("concat", (("dimension", 1),)),
    "nn.Upsample": ("upsample", (("size", None), ("scale_factor", None), ("mode", "nearest"))),
    "Detect": ("Detect", (("nc", None),)),
}
C3K_SCALES = ("m", "l", "x")  # parse_model: `if m is C3k2 and scale in {"m", "l", "x"}: args[3:4] = [...]`
A2_SCALES = ("l", "x")  # parse_model: `if m is A2C2f and scale in {"l", "x"}: args.extend((True, 1.2))`
# parse_model passes n to these modules (args.insert(2, n))
REPEATED_INSIDE = {"C2f", "C2", "C3", "C3k2", "C2PSA", "A2C2f"}
KNOWN_UNSUPPORTED = ("C2fCIB", "C2fAttn", "PSA", "SCDown", "v10Detect", "Segment", "Pose",
                     "OBB", "Classify", "RTDETRDecoder", "WorldDetect", "YOLOEDetect", "GhostConv", "C3Ghost")
TOP_KEYS = ("nc", "scales", "backbone", "head", "depth_multiple", "width_multiple", "reg_max", "end2end",
            "kpt_shape", "activation", "channels")
MAX_ROWS = 1000


@dataclass(frozen=True)
class Row:
    index: int
    sources: tuple[int, ...]  # absolute indexes (-1 is the network's input)
    repeats: int
    module: str
    args: tuple[Any, ...]
    loc: Location
    raw: str  # the row as written, for the comment
    froms: tuple[int, ...] = ()  # `from` as written (-1: the row above)


def import_ultralytics(text: str, file: str, scale: str | None = None, name: str = "model") -> str:
    """The spec (YAML text) of an Ultralytics model YAML. Unknown modules and arguments the blocks do
    not reproduce are located errors naming them."""
    doc = parse_yaml(text, file)
    if not isinstance(doc, YMap):
        raise SpecError("an Ultralytics model YAML is a mapping with 'backbone' and 'head'", file=file,
                        loc=getattr(doc, "loc", None))
    for key in doc:
        if key not in TOP_KEYS:
            raise SpecError(f"the key '{key}' is not supported by cnncalc import", loc=doc.key_locs[key],
                            hint=did_you_mean(str(key), TOP_KEYS) or f"keys: {', '.join(TOP_KEYS)}")
    for key, wanted in (("activation", None), ("end2end", False), ("reg_max", 16), ("kpt_shape", None)):
        if key in doc and doc[key] != wanted and not (key == "end2end" and doc[key] is None):
            raise SpecError(f"'{key}: {doc[key]}' is not supported by cnncalc import", loc=doc.value_locs[key],
                            hint="docs/import.md lists what is")
    for key in ("backbone", "head"):
        if not isinstance(doc.get(key), YList):
            raise SpecError(f"the YAML has no '{key}' list of [from, repeats, module, args] rows",
                            loc=doc.value_locs.get(key, doc.loc))
    scales, chosen = _scale(doc, scale)
    rows = _rows(doc)
    _check_channels(rows, scales)
    return _spec(name, rows, scales, chosen, _number(doc, "nc", 80))


def _number(doc: YMap, key: str, default: Any) -> Any:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SpecError(f"'{key}' must be a positive number, got {value!r}", loc=doc.value_locs.get(key, doc.loc))
    return value


def _scale(doc: YMap, scale: str | None) -> tuple[dict[str, tuple[Any, Any, Any]], str]:
    """The YAML's scales ({letter: (depth, width, max_channels)}) and the one chosen."""
    if "scales" not in doc:  # an older YAML: depth_multiple and width_multiple, no channel limit
        if scale is not None:
            raise SpecError(f"--scale {scale}: the YAML has no 'scales'", loc=doc.loc)
        depth, width = _number(doc, "depth_multiple", 1.0), _number(doc, "width_multiple", 1.0)
        return {"": (depth, width, 2**31)}, ""
    raw, loc = doc["scales"], doc.value_locs["scales"]
    if not isinstance(raw, YMap) or not raw:
        raise SpecError("'scales' must map letters to [depth, width, max_channels]", loc=loc)
    scales = {}
    for letter, value in raw.items():
        ok = isinstance(letter, str) and re.fullmatch(r"[a-z]", letter) and isinstance(value, YList) and \
            len(value) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)
        if not ok:
            raise SpecError(f"scale '{letter}' must be a letter with [depth, width, max_channels]",
                            loc=raw.value_locs.get(letter, loc))
        scales[str(letter)] = (value[0], value[1], value[2])
    if scale is None:
        return scales, next(iter(scales))
    if scale not in scales:
        raise SpecError(f"--scale {scale}: the YAML's scales are {', '.join(scales)}", loc=loc)
    return scales, scale


def _rows(doc: YMap) -> list[Row]:
    rows: list[Row] = []
    items = [(item, items.item_locs[k]) for items in (doc["backbone"], doc["head"]) for k, item in enumerate(items)]
    if len(items) > MAX_ROWS:
        raise SpecError(f"more than {MAX_ROWS} rows", loc=doc.loc)
    for index, (item, loc) in enumerate(items):
        if not isinstance(item, YList) or len(item) != 4:
            raise SpecError(f"row {index} must be [from, repeats, module, args]", loc=loc)
        source, repeats, module, args = item
        if not isinstance(module, str):
            raise SpecError(f"row {index}: the module must be a name, got {module!r}", loc=item.item_locs[2])
        if module not in MODULES:
            known = ", ".join(MODULES)
            why = " (not supported yet)" if module in KNOWN_UNSUPPORTED else ""
            raise SpecError(f"row {index}: unknown module '{module}'{why}", loc=item.item_locs[2],
                            hint=f"cnncalc import knows {known}; docs/import.md")
        if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 1000:
            raise SpecError(f"row {index}: repeats must be a whole number from 1 to 1000", loc=item.item_locs[1])
        if not isinstance(args, YList):
            raise SpecError(f"row {index}: args must be a list", loc=item.item_locs[3])
        listed = source if isinstance(source, list) else [source]
        sources = tuple(_source(s, index, item.item_locs[0]) for s in listed)
        if len(sources) != 1 and module not in MANY_INPUTS:  # parse_model reads ch[f]: one index
            raise SpecError(f"row {index}: {module} reads one input, but its from lists {len(sources)}",
                            loc=item.item_locs[0], hint=f"only {' and '.join(MANY_INPUTS)} read several")
        rows.append(Row(index, sources, repeats, module, tuple(args), loc, _flow(item), tuple(listed)))
    return rows


MANY_INPUTS = ("Concat", "Detect")
SCALED_MODULES = {"Conv", "C2f", "C2", "C3", "C3k2", "C2PSA", "A2C2f", "SPPF"}


def _check_channels(rows: list[Row], scales: dict[str, tuple[Any, Any, Any]], channels: int = 3) -> None:
    """parse_model's channel count per row at every scale, for the assertion C2PSA makes (`assert c1 ==
    c2`): Ultralytics refuses to build such a model, so the import refuses it too, naming the scales."""
    for letter, (_, width, limit) in scales.items():
        out: dict[int, int] = {-1: channels}
        for row in rows:
            if row.module in SCALED_MODULES:
                count = _scaled_channels(row.args[0] if row.args else 0, width, limit)
                if count is None:
                    break  # not a finite number: refused, located, where the row is read (_spec)
                out[row.index] = count
            elif row.module == "Concat":
                out[row.index] = sum(out[s] for s in row.sources)
            else:  # nn.Upsample (and Detect, the last row)
                out[row.index] = out[row.sources[0]]
            c1 = out[row.sources[0]]
            if row.module == "C2PSA" and c1 != out[row.index]:
                at = f" at scale {letter}" if letter else ""
                raise SpecError(f"row {row.index}: C2PSA needs as many output channels as input channels "
                                f"(Ultralytics asserts c1 == c2): {c1} in, {out[row.index]} out{at}", loc=row.loc,
                                hint="give C2PSA its input's channel count")


def _scaled_channels(c2: Any, width: Any, limit: Any) -> int | None:
    """parse_model's `make_divisible(min(c2, max_channels) * width, 8)`, None where it is no number."""
    if isinstance(c2, bool) or not isinstance(c2, (int, float)):
        return 0
    try:
        return math.ceil(min(c2, limit) * width / 8) * 8
    except (ArithmeticError, ValueError, TypeError):  # nan, inf, a number too large for a float
        return None


def _source(value: Any, index: int, loc: Location) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -index - 1 <= value < index:
        raise SpecError(f"row {index}: 'from' must name an earlier row (or -1, the row above), got {value!r}", loc=loc)
    return index + value if value < 0 else value


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, bool):
        return str(value)
    return str(value)


def _spec(name: str, rows: list[Row], scales: dict[str, tuple[Any, Any, Any]], chosen: str, nc: Any) -> str:
    legacy = True  # parse_model: False once a C3k2 (or an A2C2f, C2fCIB: not supported) is built
    strides: dict[int, int] = {-1: 1}
    layers: list[str] = []
    used: list[str] = []
    saved = _saved(rows)
    for row in rows:
        block, fields = _layer(row, nc, legacy, strides, bool(chosen))
        if row.index in saved:
            fields.insert(-1, ("held", "true"))
        legacy = legacy and row.module not in ("C3k2", "A2C2f")
        if block in BLOCKS:
            used.append(block)
        stride = strides[row.sources[0]]
        if row.module in ("Conv",):
            stride *= _arg(row, 2, 1)
        elif row.module == "nn.Upsample":
            stride = max(1, stride // _arg(row, 1, 1))
        strides[row.index] = stride
        text = ", ".join(f"{key}: {value}" for key, value in fields)
        layers.append(f"  - {{{text}}}  # {row.raw}")
    blocks = _with_dependencies(used)
    lines = ["# yaml-language-server: $schema=spec.schema.json",
             "# Written by cnncalc import from an Ultralytics model YAML "
             f"(modules as in ultralytics {ULTRALYTICS_VERSION}).",
             f"name: {name}",
             f"description: {name} as Ultralytics builds it (--set scale=... picks the scale)" if chosen
             else f"description: {name} as Ultralytics builds it",
             "input: [3, 640, 640]", "vars:"]
    if chosen:
        lines += [f"  scale: {chosen}                          # {', '.join(scales)}",
                  "  scales:                           # [depth, width, max_channels]"]
        lines += [f"    {letter}: [{depth}, {width}, {limit}]" for letter, (depth, width, limit) in scales.items()]
        lines += ["  depth: scales[scale][0]", "  width: scales[scale][1]", "  max_channels: scales[scale][2]"]
    else:
        depth, width, limit = scales[""]
        lines += [f"  depth: {depth}", f"  width: {width}", f"  max_channels: {limit}            # no limit"]
    if chosen and "C3k2" in used:
        big = ", ".join(f"{letter}: {'true' if letter in C3K_SCALES else 'false'}" for letter in scales)
        lines += [f"  c3k_at_scale: {{{big}}}   # parse_model: C3k2 builds C3k blocks at scales m, l and x"]
    if chosen and "A2C2f" in used:
        big = ", ".join(f"{letter}: {'true' if letter in A2_SCALES else 'false'}" for letter in scales)
        lines += [f"  a2_residual_at_scale: {{{big}}}   # parse_model: A2C2f is residual, mlp_ratio 1.2, at l and x"]
    lines += [f"  nc: {nc}                            # classes", "blocks:"]
    lines += [BLOCKS[block][0].rstrip("\n") for block in blocks]
    lines += ["layers:", *layers]
    return "\n".join(lines) + "\n"


def _saved(rows: list[Row]) -> set[int]:
    """The rows whose output DetectionModel keeps until its forward returns: parse_model's save list, every
    row a later row's `from` names other than as -1 (`y.append(x if m.i in self.save else None)`)."""
    return {source for row in rows for written, source in zip(row.froms, row.sources) if written != -1}


def _with_dependencies(used: list[str]) -> list[str]:
    out: list[str] = []

    def add(block: str) -> None:
        for dependency in BLOCKS[block][1]:
            add(dependency)
        if block not in out:
            out.append(block)

    for block in used:
        add(block)
    return out


def _arg(row: Row, index: int, default: Any) -> Any:
    return row.args[index] if len(row.args) > index else default


def _layer(row: Row, nc: Any, legacy: bool, strides: dict[int, int],
           scaled: bool) -> tuple[str, list[tuple[str, str]]]:
    """The spec layer of one row: (block or op, its fields in order)."""
    block, names = MODULES[row.module]
    if len(row.args) > len(names):
        raise SpecError(f"row {row.index}: {row.module} takes at most {len(names)} arguments here "
                        f"({', '.join(n for n, _ in names)}), got {len(row.args)}", loc=row.loc,
                        hint="docs/import.md lists what cnncalc import reproduces")
    fields: list[tuple[str, str]] = [("op", block), ("name", f"m{row.index}")]
    sources = [f"m{s}" if s >= 0 else "input" for s in row.sources]
    if row.sources != (row.index - 1,):
        fields.append(("in", sources[0] if len(sources) == 1 else "[" + ", ".join(sources) + "]"))
    if row.module in REPEATED_INSIDE:
        fields.append(("n", str(row.repeats)))
    values = dict(zip((n for n, _ in names), row.args))
    if row.module == "nn.Upsample":
        scale, mode = values.get("scale_factor"), values.get("mode", "nearest")
        if values.get("size") not in (None, "None") or isinstance(scale, bool) or not isinstance(scale, int) or \
                scale < 1 or mode != "nearest":
            raise SpecError(f"row {row.index}: nn.Upsample is supported as [None, FACTOR, 'nearest']", loc=row.loc)
        fields.append(("scale", str(scale)))
    elif row.module == "Concat":
        if values.get("dimension", 1) != 1:
            raise SpecError(f"row {row.index}: Concat is supported along dimension 1", loc=row.loc)
    elif row.module == "Detect":
        if values.get("nc") not in ("nc", nc):
            raise SpecError(f"row {row.index}: Detect's argument must be nc", loc=row.loc)
        fields += [("nc", "nc"), ("strides", "[" + ", ".join(str(strides[s]) for s in row.sources) + "]")]
        if not legacy:
            fields.append(("legacy", "false"))
    else:
        if row.module == "C3k2" and scaled:
            values.setdefault("c3k", False)
        for key, value in values.items():
            if row.module == "C3k2" and key == "c3k" and scaled and value is False:
                fields.append((key, '"c3k_at_scale[scale]"'))  # parse_model: args[3:4] = [True] at m, l and x
            elif value is not None and value != "None":  # None: the block's default (Conv's 'same' padding)
                fields.append((key, _value(value, row, key)))
    if row.module == "A2C2f" and scaled:
        fields += [("residual", '"a2_residual_at_scale[scale]"'),
                   ("mlp_ratio", '"1.2 if a2_residual_at_scale[scale] else 2.0"')]
    if row.repeats > 1 and row.module not in REPEATED_INSIDE:
        fields.append(("repeat", f'"max(round({row.repeats} * depth), 1)"'))
    fields.append(("module", f"model.{row.index}"))
    return block, fields


def _value(value: Any, row: Row, key: str) -> str:
    if value is None or value == "None":
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):  # not .nan, not .inf
        return str(value)
    if value == "nc":
        return "nc"
    raise SpecError(f"row {row.index}: {row.module}'s argument '{key}' must be a number or a boolean, got {value!r}",
                    loc=row.loc)
