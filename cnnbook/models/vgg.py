"""VGG-style networks built from a list of stages (chapters 7 and 7c; the search space of `cnnbook.nas`)."""

from __future__ import annotations

import torch.nn as nn

from .. import _validate

def vgg_style(config, in_channels: int = 1, num_classes: int = 10, kernel_size: int = 3,
              batch_norm: bool = False, padding_mode: str = "zeros") -> nn.Sequential:
    """A VGG-style network (Simonyan & Zisserman 2015): stacks of k×k convolutions with ReLU, max-pools between.

    config: a list of ints (a conv with that many output channels, "same" padding) and "M" (MaxPool 2×2),
    e.g. [16, 16, "M", 32, "M"]. x: (N, in_channels, H, W) -> logits (N, num_classes).
    VGG ends in three large fully connected layers; here the last feature maps are averaged over (H, W)
    (global average pooling) and one Linear classifies, which keeps the network small and input-size free.
    padding_mode="circular" makes every convolution exactly equivariant to torch.roll shifts.
    """
    if not isinstance(config, (list, tuple)) or not config:
        raise ValueError(f"config must be a non-empty list like [16, 'M', 32], got {config!r}.")
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd so that 'same' padding keeps H×W, got {kernel_size}.")
    layers, c = [], _validate.positive_int(in_channels, "in_channels", "input channels, e.g. 1 for grey digits", who="vgg_style")
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        elif _validate.is_int(item) and item > 0:
            layers.append(nn.Conv2d(c, item, kernel_size, padding=kernel_size // 2, padding_mode=padding_mode,
                                    bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(item))
            layers.append(nn.ReLU())
            c = item
        else:
            raise ValueError(f"config entries must be positive ints (conv channels) or 'M' (max-pool), "
                             f"got {item!r} in {config!r}.")
    if c == in_channels:
        raise ValueError(f"config {config!r} has no convolution; add at least one channel count.")
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
