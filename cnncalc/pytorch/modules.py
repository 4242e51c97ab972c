"""PyTorch modules for the layer types torch.nn has no class for.

Imported only by the PyTorch side (lowering, verify, profile, export). `cnncalc export --to pytorch`
copies this file's classes into the exported model file, so they must only use torch.
"""
import torch
import torch.nn.functional as F
from torch import nn


class Add(nn.Module):
    """Elementwise sum of two or more inputs; in place, into the first (`out += identity`)."""

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
    """Concatenation along the channels."""

    def forward(self, *inputs):
        return torch.cat(inputs, dim=1)


class ChannelSplit(nn.Module):
    """Slice `index` of `parts` equal slices of the channels."""

    def __init__(self, index, parts=2):
        super().__init__()
        self.index, self.parts = index, parts

    def forward(self, x):
        return x.chunk(self.parts, dim=1)[self.index]


class ChannelPad(nn.Module):
    """Zero padding of height/width (left, right, top, bottom) and of extra zero channels."""

    def __init__(self, pad, channels=0):
        super().__init__()
        self.pad, self.channels = tuple(pad), channels

    def forward(self, x):
        return F.pad(x, (*self.pad, 0, self.channels))


class Padded(nn.Module):
    """A window layer after asymmetric padding (TensorFlow's 'same'); `value` fills the border."""

    def __init__(self, pad, value, layer):
        super().__init__()
        self.pad, self.value, self.layer = tuple(pad), value, layer

    def forward(self, x):
        return self.layer(F.pad(x, self.pad, value=self.value))


class LayerNorm2d(nn.LayerNorm):
    """Layer normalisation over the channels at each position of an N×C×H×W tensor (ConvNeXt)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """A learned scale per channel, shaped C×1×1 on a feature map as in torchvision's ConvNeXt, C on
    a vector (`spatial`: the input's axes after the channels, 2 or 0)."""

    def __init__(self, channels, init=1e-6, spatial=2):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels, *[1] * spatial), float(init)))

    def forward(self, x):
        return x * self.scale


class StochasticDepth(nn.Module):
    """Drops a whole residual branch per sample with probability p in training (torchvision's "row"
    mode); the identity at inference."""

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
    """Softmax over the channels (dim 1), whatever the rank."""

    def forward(self, x):
        return torch.softmax(x, dim=1)


# How `cnncalc export` writes a stateless helper inside a forward instead of registering it as a module
# (where it sits straight in a class, not in a numbered container): its inputs joined by the text, or
# put in place of `{}` (comma-separated). In place (`inplace=True`), the first input's in-place method
# takes each other input: `bn2.add_(downsample)`, torchvision's `out += identity`.
INLINE = {"Add": " + ", "Mul": " * ", "Concat": "torch.cat([{}], dim=1)"}
INLINE_IN_PLACE = {"Add": ".add_({})"}
