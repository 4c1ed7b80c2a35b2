"""A network that ends in global average pooling and one linear layer, as CAM needs (chapter 6)."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import _validate

class GAPNet(nn.Module):
    """A small CNN that ends the way CAM needs: conv blocks -> global average pool -> one Linear.

    Each block is conv 3x3 -> BatchNorm -> ReLU; two 2x2 max-pools.
    x: (N, in_channels, H, W) -> logits (N, num_classes). `features` maps the input to K = width*4 maps
    at 1/4 of the input resolution ((N, K, H/4, W/4)); `classifier` is the one nn.Linear(K, num_classes).
    forward(x) = classifier(features(x).mean over (H, W)), so `cnnbook.cam.cam` can read the class
    weights straight from `classifier.weight`.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 8):
        super().__init__()
        for value, name in ((in_channels, "in_channels"), (num_classes, "num_classes"), (width, "width")):
            _validate.positive_int(value, name, who="GAPNet")

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(
            *block(in_channels, width), nn.MaxPool2d(2),
            *block(width, 2 * width), nn.MaxPool2d(2),
            *block(2 * width, 2 * width),
            *block(2 * width, 4 * width),
        )
        self.classifier = nn.Linear(4 * width, num_classes)
        self.to(memory_format=torch.channels_last)  # weights stored (K, h, w, C): up to ~1.4x faster on a CPU

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))
