"""Classic ImageNet feature extractors, layer for layer and without weights (chapter 5): AlexNet, VGG-16 and
ResNet-50 convolutional parts, so that `cnnbook.rf.receptive_field` can compute their receptive fields."""

from __future__ import annotations

import torch
import torch.nn as nn

# Feature extractors of three classic ImageNet networks, layer for layer, without weights, so that
# `cnnbook.rf.receptive_field` can compute their receptive fields. Input (N, 3, 224, 224).

def alexnet_features() -> nn.Sequential:
    """AlexNet's convolutional part (Krizhevsky et al. 2012, single-tower layout of torchvision), conv1 … pool5.

    x: (N, 3, 224, 224) -> (N, 256, 6, 6). conv 11×11/4 (pad 2) → pool 3/2 → conv 5×5 (pad 2) → pool 3/2
    → three conv 3×3 (pad 1) → pool 3/2, ReLU after every convolution.
    """
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))


def vgg16_features() -> nn.Sequential:
    """VGG-16's convolutional part (Simonyan & Zisserman 2015, configuration D), conv1_1 … pool5.

    x: (N, 3, 224, 224) -> (N, 512, 7, 7). Five stages of 2, 2, 3, 3, 3 conv 3×3 (pad 1) + ReLU, each followed
    by max-pool 2×2/2.
    """
    layers, c = [], 3
    for width, n in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(n):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
            c = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class ResNet50Bottleneck(nn.Module):
    """ResNet bottleneck unit: out = relu(conv1×1 → conv3×3 → conv1×1 (BN, ReLU between) + shortcut(x)).

    x: (N, C_in, H, W) -> (N, 4·width, H/stride, W/stride). The shortcut is a 1×1 convolution with the same
    stride (+ BN) when the shape changes. stride_in_3x3=True puts the stride on the 3×3 convolution
    ("ResNet v1.5", torchvision); False puts it on the first 1×1 convolution (the original Caffe ResNet).
    """

    def __init__(self, c_in: int, width: int, stride: int = 1, stride_in_3x3: bool = True):
        super().__init__()
        c_out = 4 * width
        s1, s3 = (1, stride) if stride_in_3x3 else (stride, 1)
        self.conv1 = nn.Conv2d(c_in, width, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=s3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.downsample = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
                           if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.downsample(x))


def resnet50_features(stride_in_3x3: bool = True) -> nn.Sequential:
    """ResNet-50's convolutional part (He et al. 2016), stem … last bottleneck (before global average pooling).

    x: (N, 3, 224, 224) -> (N, 2048, 7, 7). conv 7×7/2 (pad 3) → BN → ReLU → max-pool 3/2 (pad 1) → stages of
    3, 4, 6, 3 bottlenecks with widths 64, 128, 256, 512; stages 2-4 start with stride 2.
    See `ResNet50Bottleneck` for stride_in_3x3.
    """
    layers = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, padding=1)]
    c = 64
    for i, (width, n) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
        stage = []
        for b in range(n):
            stage.append(ResNet50Bottleneck(c, width, stride=2 if (b == 0 and i > 0) else 1,
                                            stride_in_3x3=stride_in_3x3))
            c = 4 * width
        layers.append(nn.Sequential(*stage))
    return nn.Sequential(*layers)
