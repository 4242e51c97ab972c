"""PyTorch modules for the layer types torch.nn has no class for.

Imported only by the PyTorch side (lowering, verify, profile, export). `cnncalc export --to pytorch`
copies this file's classes into the exported model file, so they must only use torch.
"""

import torch
import torch.nn.functional as F
from torch import nn


class Add(nn.Module):
    """Elementwise sum of two or more inputs; in place, into the first
    (`out += identity`)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, *inputs):
        result = inputs[0]
        for item in inputs[1:]:
            if self.inplace:
                result += item
            else:
                result = result + item
        return result


class Mul(nn.Module):
    """Elementwise product; a [N, C, 1, 1] input scales each channel."""

    def forward(self, *inputs):
        result = inputs[0]
        for item in inputs[1:]:
            result = result * item
        return result


class Concat(nn.Module):
    """Concatenation along the channels (or the axis `dim`)."""

    def __init__(self, dim=1):
        super().__init__()
        self.dim = dim

    def forward(self, *inputs):
        return torch.cat(inputs, dim=self.dim)


class ChannelSplit(nn.Module):
    """Part `index` of `parts` equal parts of the channels (or of the axis `dim`), or of
    parts of `sizes`."""

    def __init__(self, index, parts=2, sizes=None, dim=1):
        super().__init__()
        self.index, self.parts, self.sizes, self.dim = index, parts, sizes, dim

    def forward(self, x):
        if self.sizes is not None:
            return x.split(list(self.sizes), dim=self.dim)[self.index]
        return x.chunk(self.parts, dim=self.dim)[self.index]


class ChannelPad(nn.Module):
    """Zero padding of height/width (left, right, top, bottom) and of extra zero
    channels."""

    def __init__(self, pad, channels=0):
        super().__init__()
        self.pad, self.channels = tuple(pad), channels

    def forward(self, x):
        return F.pad(x, (*self.pad, 0, self.channels))


class Padded(nn.Module):
    """A window layer after asymmetric padding (TensorFlow's 'same'); `value` fills the
    border."""

    def __init__(self, pad, value, layer):
        super().__init__()
        self.pad, self.value, self.layer = tuple(pad), value, layer

    def forward(self, x):
        return self.layer(F.pad(x, self.pad, value=self.value))


class LayerNorm2d(nn.LayerNorm):
    """Layer normalisation over the channels at each position of an N×C×H×W tensor
    (ConvNeXt)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """A learned scale per channel, shaped C×1×1 on a feature map as in torchvision's
    ConvNeXt, C on a vector (`spatial`: the input's axes after the channels, 2 or 0)."""

    def __init__(self, channels, init=1e-6, spatial=2):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels, *[1] * spatial), float(init)))

    def forward(self, x):
        return x * self.scale


class BareParameter(nn.Module):
    """A module around one parameter (named by `bare`) that the state_dict keeps as a
    bare parameter of the enclosing module: key `<path>`, not `<path>.<bare>`. To load
    such a key, the enclosing module gets a load hook (torch's registration hook sees it
    take this module)."""

    bare = "weight"
    _watching = False

    def __init__(self):
        super().__init__()
        if not BareParameter._watching:
            BareParameter._watching = True
            hook = BareParameter._taken
            nn.modules.module.register_module_module_registration_hook(hook)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        value = getattr(self, self.bare)
        destination[prefix[:-1]] = value if keep_vars else value.detach()

    @staticmethod
    def _taken(parent, name, module):
        if isinstance(module, BareParameter):

            def rename(_, state_dict, prefix, *args):
                key = prefix + name
                if key in state_dict:
                    state_dict[f"{key}.{module.bare}"] = state_dict.pop(key)

            parent.register_load_state_dict_pre_hook(rename)


class BareScale(BareParameter):
    """A learned scale per channel kept as a bare parameter (state_dict key `<path>`,
    shape [C]), as Ultralytics' A2C2f keeps `gamma`."""

    bare = "scale"

    def __init__(self, channels, init=1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x):
        return self.scale.view(-1, self.scale.shape[0], *[1] * (x.dim() - 2)) * x


class ClassToken(BareParameter):
    """A learned token put before a sequence's N×L×D tokens (ViT's class token,
    state_dict key `<path>`, shape 1×1×D): cat([token.expand(N, -1, -1), x], dim=1)."""

    bare = "token"

    def __init__(self, features):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, features))

    def forward(self, x):
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class PositionEmbedding(BareParameter):
    """A learned 1×L×D tensor added to a sequence's tokens (ViT's positional embedding,
    state_dict key `<path>`)."""

    bare = "embedding"

    def __init__(self, length, features):
        super().__init__()
        embedding = torch.empty(1, length, features).normal_(std=0.02)
        self.embedding = nn.Parameter(embedding)

    def forward(self, x):
        return x + self.embedding


class SelfAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention on N×L×D tokens (batch_first), query, key and value all the
    input, as torchvision's ViT calls it: attention(x, x, x, need_weights=False)[0]."""

    def __init__(self, embed_dim, num_heads, dropout=0.0):
        super().__init__(embed_dim, num_heads, dropout=dropout, batch_first=True)

    def forward(self, x):  # type: ignore[override]
        return super().forward(x, x, x, need_weights=False)[0]


class StochasticDepth(nn.Module):
    """Drops a whole residual branch per sample with probability p in training
    (torchvision's "row" mode); the identity at inference."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1)
        noise = torch.empty(size, dtype=x.dtype, device=x.device)
        return x * noise.bernoulli_(survival).div_(survival)


class Softmax2d(nn.Module):
    """Softmax over the channels (dim 1) whatever the rank, or over the axis `dim`."""

    def __init__(self, dim=1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return torch.softmax(x, dim=self.dim)


class Reshape(nn.Module):
    """A new shape per sample (the batch axis kept)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Transpose(nn.Module):
    """x.transpose(dim0, dim1), the batch being dim 0."""

    def __init__(self, dim0, dim1):
        super().__init__()
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x):
        return x.transpose(self.dim0, self.dim1)


class Contiguous(nn.Module):
    """x.contiguous(): a copy of a view whose storage is not in order (a transposed map), else x."""

    def forward(self, x):
        return x.contiguous()


class Slice(nn.Module):
    """`length` entries of axis `dim` from `start` (x[:, start:start + length] for dim
    1)."""

    def __init__(self, start, length, dim=1):
        super().__init__()
        self.start, self.length, self.dim = start, length, dim

    def forward(self, x):
        return x.narrow(self.dim, self.start, self.length)


class Mean(nn.Module):
    """x.mean(dims), as torchvision's MNASNet and ShuffleNetV2 pool globally."""

    def __init__(self, dims, keepdim=False):
        super().__init__()
        self.dims, self.keepdim = tuple(dims), keepdim

    def forward(self, x):
        return x.mean(self.dims, keepdim=self.keepdim)


class Dist2BBox(nn.Module):
    """YOLOv8's decoding (make_anchors, dist2bbox): distances (B, 4, A) from the cell
    centres of the feature maps to boxes (x, y, w, h), times each map's stride."""

    def __init__(self, strides):
        super().__init__()
        self.strides = tuple(strides)

    def forward(self, distance, *feats):
        points, scales = [], []
        for feat, stride in zip(feats, self.strides):
            h, w = feat.shape[2:]
            sy, sx = torch.meshgrid(
                torch.arange(h, device=feat.device, dtype=distance.dtype) + 0.5,
                torch.arange(w, device=feat.device, dtype=distance.dtype) + 0.5,
                indexing="ij",
            )
            points.append(torch.stack((sx, sy), -1).view(-1, 2))
            scales.append(
                torch.full(
                    (h * w, 1), float(stride), device=feat.device, dtype=distance.dtype
                )
            )
        anchors, strides = (
            torch.cat(points).transpose(0, 1),
            torch.cat(scales).transpose(0, 1),
        )
        lt, rb = distance.chunk(2, 1)
        x1y1, x2y2 = anchors - lt, anchors + rb
        return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides


class Shared(nn.Module):
    """Another call of a module registered under another name (`share: LAYER`): its
    parameters stay there, counted once. It runs the module's forward directly, so that
    the module's own hooks (and a tool's per-module count) see only the owner's call,
    and this one's under this name."""

    def __init__(self, module):
        super().__init__()
        object.__setattr__(self, "target", module)  # not a submodule

    def forward(self, *inputs):
        forward = type(self.target).forward  # type: ignore[union-attr]
        return forward(self.target, *inputs)


class MatMul(nn.Module):
    """a @ b: the matrix product over the last two axes, batched over the axes
    before."""

    def forward(self, a, b):
        return a @ b


class Scale(nn.Module):
    """Its input times a constant."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class Interpolate(nn.Module):
    """F.interpolate as a forward calls it: to `size`, by `scale_factor`, or to the
    size of a second input (torchvision's `F.interpolate(x, size=low.shape[-2:])`)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest"):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode

    def forward(self, x, *like):
        size = like[0].shape[-2:] if like else self.size
        corners = {} if self.mode == "nearest" else {"align_corners": False}
        return F.interpolate(
            x, size=size, scale_factor=self.scale_factor, mode=self.mode, **corners
        )


# How `cnncalc export` writes a stateless helper inside a forward instead of registering it as a module
# (where it sits straight in a class, not in a numbered container): its inputs joined by the text, or
# put in place of `{}` (comma-separated). In place (`inplace=True`), the first input's in-place method
# takes each other input: `bn2.add_(downsample)`, torchvision's `out += identity`.
INLINE = {
    "Add": " + ",
    "Mul": " * ",
    "MatMul": " @ ",
    "Concat": "torch.cat([{}], dim=1)",
}
INLINE_IN_PLACE = {"Add": ".add_({})"}

