"""Models: every network the book trains or dissects, in plain `torch.nn`, no pretrained weights.

Sections, in the order the book meets them:
1. the source articles' models and small MNIST CNNs (chapters 2-4);
2. classic ImageNet feature extractors for receptive-field arithmetic (chapter 5);
3. networks for class activation maps (chapter 6);
4. architectures: VGG-style, ResNet, SE, a tiny ViT, and `summary` (chapter 7).
5. photographs: `FaceNet`, a fully convolutional face detector, and `LocalContrastNorm` (chapters 4, 6, 8);
6. beyond 2-D images: `ClipNet` (Conv3d on clips), `FourierConv2d` and `ShiftNet` (chapter 8).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

# ============================================================================ 1. chapters 2-4
class KerasCNN(nn.Sequential):
    """Seed 000's "20-line" Keras model, in PyTorch: Conv 32@3×3 → ReLU → MaxPool 2 → Flatten → Linear 10.

    x: (N, 1, 28, 28) -> logits (N, 10). Shapes: 28 -conv3-> 26 -pool2-> 13, so 32·13·13 = 5408 features.
    The Keras original ends with `Dense(10, activation="softmax")`. Here the last layer returns raw scores
    (logits) instead: `nn.CrossEntropyLoss` applies log-softmax itself, which is the same loss as
    softmax + categorical cross-entropy but numerically safer. Take `model(x).softmax(1)` for probabilities.
    Parameters: 32·(3·3·1) + 32 = 320 in the convolution, 5408·10 + 10 = 54 090 in the linear layer.
    """

    def __init__(self):
        super().__init__(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 13 * 13, 10))


class AlchemyNet(nn.Module):
    """Seed 001's network: Conv2d(1, 32, 3) → ReLU → MaxPool2d(2, 2) → flatten → Linear(32·13·13, 10).

    x: (N, 1, 28, 28) -> logits (N, 10). The same layers as `KerasCNN`, written as the article writes them
    (a `forward` method). `features(x)` returns the flattened (N, 5408) vector that feeds the classifier.
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 32, kernel_size=3)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(32 * 13 * 13, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) -> (N, 5408): conv, ReLU, pool, flatten."""
        return torch.flatten(self.pool(torch.relu(self.conv(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class PhilosopherStone(nn.Module):
    """Seed 001's fully connected head: flatten → Linear(1024, 512) → ReLU → Linear(512, 10).

    x: (N, ...) with 1024 values per example (e.g. (N, 64, 4, 4)) -> logits (N, 10).
    It expects 1024 input features; AlchemyNet produces 5408, so the two do not fit together as printed
    (chapter 3 shows the error and the fix: `in_features=5408`).
    """

    def __init__(self, in_features: int = 1024, hidden: int = 512, num_classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998), adapted to 28×28 MNIST and modern defaults.

    x: (N, 1, 28, 28) -> logits (N, 10).
    C1 conv 6@5×5 (padding=2) → tanh → S2 avg-pool 2 → C3 conv 16@5×5 → tanh → S4 avg-pool 2
    → C5 Linear(16·5·5, 120) → tanh → F6 Linear(120, 84) → tanh → Linear(84, 10).
    Adaptations: the paper feeds 32×32 images (MNIST digits padded by 2 pixels); here the first convolution
    pads by 2 instead, so C1 still outputs 28×28 and everything after has the paper's sizes. The paper's
    trainable subsampling, partial C3 connection table, scaled tanh and RBF output layer are replaced by plain
    average pooling, full connections, tanh and a linear layer read with cross-entropy.
    Parameters: 156 + 2 416 + 48 120 + 10 164 + 850 = 61 706.
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class SmallCNN(nn.Module):
    """The book's own small MNIST CNN: three conv blocks with BatchNorm, then dropout and one linear layer.

    x: (N, 1, 28, 28) -> logits (N, 10).
    block(c_in, c_out) = Conv 3×3 (padding 1, no bias: BatchNorm adds one) → BatchNorm → ReLU → MaxPool 2.
    Sizes: 28 -> 14 -> 7 -> 3 (the last pool floors 7/2), so the head sees c3·3·3 features:
    flatten → Dropout → Linear(c3·9, 10). With the default channels (16, 32, 64): 29 178 parameters.
    `blocks[i]` is "layer i+1" when reading feature maps; `activations(x)` returns all three outputs.
    """

    def __init__(self, channels: tuple[int, int, int] = (16, 32, 64), dropout: float = 0.25):
        super().__init__()
        if len(channels) != 3 or not all(isinstance(c, int) and c > 0 for c in channels):
            raise ValueError(f"channels must be three positive ints (one per block), got {channels!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout!r}.")
        c1, c2, c3 = channels

        def block(c_in, c_out):
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                                 nn.ReLU(), nn.MaxPool2d(2))

        self.blocks = nn.Sequential(block(1, c1), block(c1, c2), block(c2, c3))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c3 * 3 * 3, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))

    @torch.no_grad()
    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Output of each block (after ReLU and pooling), in eval mode:
        x (N, 1, 28, 28) -> [(N, c1, 14, 14), (N, c2, 7, 7), (N, c3, 3, 3)]."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"activations needs a batch of grayscale images (N, 1, H, W), got {shape}; "
                             f"for one image use images[:1].")
        self.eval()
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs


# SmallCNN's training recipe and `train_small_cnn` live in cnnbook.recipes (networks do not import training).

# ============================================================================ 2. chapter 5 (receptive fields)
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


# ============================================================================ 3. chapter 6 (CAM)
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


# ============================================================================ 4. chapter 7 (architectures)
# Chapter 7 builds each architecture from the same few parts and measures what each idea bought.
# `summary` counts parameters and multiply-accumulates (MACs) per layer so that the costs are computed,
# not quoted. Shapes use N = batch, C = channels, H × W = spatial size, T = tokens, D = embedding width.

def _check_positive_int(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


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
    layers, c = [], _check_positive_int(in_channels, "in_channels")
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        elif isinstance(item, int) and not isinstance(item, bool) and item > 0:
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


class SEBlock(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): re-weight each channel by a learned gate in (0, 1).

    x: (N, C, H, W) -> (N, C, H, W).
    squeeze   z = mean over (H, W) of x                    (N, C)
    excite    s = sigmoid(W_U · relu(W_D · z + b_D) + b_U)  (N, C), W_D: (C/r, C), W_U: (C, C/r)
    scale     out[n, c] = s[n, c] · x[n, c]
    Parameters: 2·C²/r weights + C/r + C biases. `excitation(x)` returns s.
    """

    def __init__(self, channels: int, r: int = 16):
        super().__init__()
        _check_positive_int(channels, "channels")
        _check_positive_int(r, "r")
        if channels % r:
            raise ValueError(f"channels ({channels}) must be divisible by the reduction ratio r ({r}); "
                             f"pick r from the divisors of {channels}.")
        self.down = nn.Linear(channels, channels // r)   # W_D
        self.up = nn.Linear(channels // r, channels)     # W_U

    def excitation(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> s: (N, C), the per-channel scales in (0, 1)."""
        z = x.mean(dim=(2, 3))                                # squeeze: global average pool
        return torch.sigmoid(self.up(torch.relu(self.down(z))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.excitation(x)[:, :, None, None]


class BasicBlock(nn.Module):
    """ResNet basic block: out = relu(F(x) + shortcut(x)), F = conv3×3 → [BN] → ReLU → conv3×3 → [BN] → [SE].

    x: (N, C_in, H, W) -> (N, C_out, H/stride, W/stride). With residual=False there is no shortcut
    (a "plain" block: out = relu(F(x))), so plain and residual nets have exactly the same parameters.
    When the shape changes, the shortcut subsamples by `stride` and pads the new channels with zeros
    (He et al.'s option A for CIFAR: parameter free).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, residual: bool = True, batch_norm: bool = True,
                 se_reduction: int | None = None):
        super().__init__()
        self.residual, self.stride, self.extra = residual, stride, c_out - c_in
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(c_out) if batch_norm else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=not batch_norm)
        self.bn2 = nn.BatchNorm2d(c_out) if batch_norm else nn.Identity()
        self.se = SEBlock(c_out, se_reduction) if se_reduction else nn.Identity()

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Identity, or subsample + zero channels when the block changes the shape."""
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.extra:
            x = nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        if self.residual:
            out = out + self.shortcut(x)                        # H(x) = F(x) + x
        return torch.relu(out)


class ResNet(nn.Module):
    """CIFAR-style ResNet-n (He et al. 2016, section 4.2): n = 6k + 2 weight layers.

    x: (N, in_channels, H, W) -> logits (N, num_classes).
    stem conv3×3 (width) → 3 stages of k basic blocks with widths (w, 2w, 4w), the 2nd and 3rd starting
    with stride 2 → global average pool → Linear. Layers counted: 1 stem + 6k block convs + 1 Linear.
    residual=False gives the "plain" net of the same depth (no shortcuts, same parameters);
    se_reduction=r puts an SEBlock(C, r) in every block (SE-ResNet).
    """

    def __init__(self, depth: int = 20, width: int = 16, in_channels: int = 1, num_classes: int = 10,
                 residual: bool = True, batch_norm: bool = True, se_reduction: int | None = None):
        super().__init__()
        _check_positive_int(depth, "depth")
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"a CIFAR-style ResNet has depth 6k + 2 with k >= 1 (8, 14, 20, 32, 56, 110, "
                             f"1202, ...), got {depth}.")
        _check_positive_int(width, "width")
        k, self.depth = (depth - 2) // 6, depth
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=not batch_norm),
                                  nn.BatchNorm2d(width) if batch_norm else nn.Identity(), nn.ReLU())
        blocks, c = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(k):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(BasicBlock(c, c_out, stride, residual, batch_norm, se_reduction))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class PatchEmbedding(nn.Module):
    """Cut the image into p×p patches and map each to a D-vector: (N, C, H, W) -> (N, T, D), T = (H/p)·(W/p).

    One Linear(C·p·p, D) applied to every patch, written as a conv with kernel = stride = p.
    """

    def __init__(self, patch_size: int, in_channels: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)          # (N, D, H/p, W/p) -> (N, T, D)


class MultiHeadSelfAttention(nn.Module):
    """softmax(Q Kᵀ / sqrt(d)) V for h heads of width d = D/h, then an output Linear(D, D).

    x: (N, T, D) -> (N, T, D). `attention(x)` returns the weights (N, h, T, T); each row sums to 1.
    MACs besides the two Linears: Q Kᵀ and A V cost T·T·d each per head, 2·T²·D in all.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads}) so every head gets dim/heads.")
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)                       # W_Q, W_K, W_V stacked
        self.out = nn.Linear(dim, dim)

    def _qkv(self, x):
        n, t, _ = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, self.head_dim)   # (N, T, 3, h, d)
        return qkv.permute(2, 0, 3, 1, 4)                                # (3, N, h, T, d)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, D) -> A: (N, h, T, T), A = softmax(Q Kᵀ / sqrt(d)) over the last axis."""
        q, k, _ = self._qkv(x)
        return torch.softmax(q @ k.transpose(-2, -1) / self.head_dim ** 0.5, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, dim = x.shape
        q, k, v = self._qkv(x)                                           # each (N, h, T, d)
        a = torch.softmax(q @ k.transpose(-2, -1) / self.head_dim ** 0.5, dim=-1)   # (N, h, T, T)
        y = (a @ v).transpose(1, 2).reshape(n, t, dim)                   # (N, h, T, d) -> (N, T, D)
        return self.out(y)


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder block: x + MHSA(LN(x)), then x + MLP(LN(x)); (N, T, D) -> (N, T, D)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 2):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A Vision Transformer (Dosovitskiy et al. 2021) small enough for a CPU.

    x: (N, C, H, W) -> logits (N, num_classes).
    patches (N, T, D) [+ class token -> T+1] + learned position embeddings → `depth` TransformerBlocks
    → LayerNorm → the class token's output (pooling="cls") or the mean over patch tokens ("mean") → Linear.
    `tokens(x)` returns the patch tokens after the last block, (N, T, D), for probing.
    position=False drops the position embeddings (then the model cannot tell where a patch came from).
    """

    def __init__(self, image_size: int = 28, patch_size: int = 7, in_channels: int = 1, num_classes: int = 10,
                 dim: int = 32, depth: int = 2, heads: int = 4, mlp_ratio: int = 2, pooling: str = "cls",
                 position: bool = True):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size ({patch_size}).")
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}.")
        self.pooling, self.num_patches = pooling, (image_size // patch_size) ** 2
        self.patch_embed = PatchEmbedding(patch_size, in_channels, dim)
        n_tokens = self.num_patches + (pooling == "cls")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pooling == "cls" else None
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, n_tokens, dim)) if position else None
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch_embed(x)                                          # (N, T, D)
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(len(t), -1, -1), t], dim=1)   # (N, T+1, D)
        if self.pos_embed is not None:
            t = t + self.pos_embed
        return self.norm(self.blocks(t))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens after the encoder: (N, C, H, W) -> (N, T, D) (the class token removed)."""
        t = self._encode(x)
        return t[:, 1:] if self.cls_token is not None else t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self._encode(x)
        return self.head(t[:, 0] if self.pooling == "cls" else t.mean(dim=1))


def conv_gradient_norms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """‖∂L/∂W‖ for every Conv2d weight, input side first, after one cross-entropy backward pass.

    images: (N, C, H, W); labels: (N,) int64. The model is left in train mode with its gradients zeroed.
    The norms depend only on the weights and the batch, but they are floating-point sums: another CPU
    changes their last digits (chapter 7b prints their orders of magnitude in the measured form).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"conv_gradient_norms needs an nn.Module, got {type(model).__name__}.")
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise ValueError("conv_gradient_norms found no nn.Conv2d in the model: it reports one norm per convolution.")
    if not (isinstance(images, torch.Tensor) and images.dim() == 4 and images.is_floating_point()):
        raise ValueError(f"images must be a float tensor (N, C, H, W), got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}; "
                         f"add a batch dimension with images[None] for one image.")
    if not (isinstance(labels, torch.Tensor) and labels.dtype == torch.int64 and labels.shape == images.shape[:1]):
        raise ValueError(f"labels must be an int64 tensor (N,) with one class index per image, got "
                         f"{labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__} "
                         f"{tuple(labels.shape) if isinstance(labels, torch.Tensor) else ''} for {len(images)} images.")
    model.train()
    model.zero_grad()
    nn.functional.cross_entropy(model(images), labels).backward()
    norms = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Conv2d)]
    model.zero_grad()
    return norms


class ModelSummary:
    """The table `summary` returns: one row per layer plus totals; print it to see it.

    rows: list of dicts {"layer", "type", "output", "params", "macs"}; total_params, total_macs (per example).
    """

    def __init__(self, rows: list[dict], total_params: int, input_size: tuple):
        self.rows, self.total_params, self.input_size = rows, total_params, input_size
        self.total_macs = sum(r["macs"] for r in rows)

    def table(self, free_layers: bool = True) -> str:
        """The table as text; free_layers=False hides rows with neither parameters nor MACs (ReLU, pooling)."""
        head = f"{'layer':<28} {'type':<24} {'output shape':<18} {'params':>10} {'MACs':>13}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            if not free_layers and not (r["params"] or r["macs"]):
                continue
            shape = "×".join(str(s) for s in r["output"])
            lines.append(f"{r['layer'][:28]:<28} {r['type'][:24]:<24} {shape:<18} {r['params']:>10,} "
                         f"{r['macs']:>13,}")
        lines += ["-" * len(head), f"{'total':<72} {self.total_params:>10,} {self.total_macs:>13,}",
                  f"input {'×'.join(map(str, self.input_size))}, one example; MACs = multiply-accumulates of "
                  f"Conv2d, Linear and attention matmuls (norms, activations, pooling, additions excluded)"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()


def _macs(module: nn.Module, inputs, output) -> int:
    """Multiply-accumulates of one forward call for ONE example (output[0])."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        _, h_out, w_out = output.shape[1:]
        return kh * kw * (module.in_channels // module.groups) * module.out_channels * h_out * w_out
    if isinstance(module, nn.Linear):
        positions = output[0].numel() // module.out_features      # a Linear on (T, D) runs once per token
        return module.in_features * module.out_features * positions
    if isinstance(module, MultiHeadSelfAttention):
        t, dim = inputs[0].shape[1:]
        return 2 * t * t * dim                                     # Q Kᵀ and A V, all heads
    return 0


def summary(model: nn.Module, input_size) -> ModelSummary:
    """Per-layer output shape, parameters and MACs of `model` on one input of shape input_size = (C, H, W).

    MACs: Conv2d k_h·k_w·(C_in/groups)·C_out·H_out·W_out; Linear in·out per position;
    self-attention 2·T²·D for Q Kᵀ and A V (its Linears are counted as Linears). Rows are the leaf modules
    in the order they run, plus attention modules and modules owning parameters directly (e.g. a class token).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary needs an nn.Module, got {type(model).__name__}.")
    if (not isinstance(input_size, (tuple, list)) or len(input_size) != 3
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in input_size)):
        raise ValueError(f"input_size must be (C, H, W) for one example, e.g. (1, 28, 28), got {input_size!r}; "
                         f"leave out the batch dimension.")
    rows, handles, names = [], [], {m: n for n, m in model.named_modules()}

    def hook(module, inputs, output):
        if not isinstance(output, torch.Tensor):
            return
        own = sum(p.numel() for p in module.parameters(recurse=False))
        macs = _macs(module, inputs, output)
        if isinstance(module, nn.Identity):
            return
        if own or macs or not list(module.children()):
            own_names = ", ".join(n for n, _ in module.named_parameters(recurse=False))
            label = names[module] or (f"(own: {own_names})" if own_names else "(the model itself)")
            rows.append({"layer": label, "type": type(module).__name__,
                         "output": tuple(output.shape[1:]), "params": own, "macs": macs})

    for module in model.modules():
        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            # a model without parameters (nn.ReLU(), a pooling layer) runs on the CPU; it still gets a table
            device = next(iter(model.parameters()), next(iter(model.buffers()), torch.zeros(0))).device
            model(torch.zeros(1, *input_size, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    # modules owning parameters directly but returning no tensor of their own (none in this book) would be
    # missed by the hooks; adding them keeps total_params honest
    counted = sum(r["params"] for r in rows)
    total = sum(p.numel() for p in model.parameters())
    if counted != total:
        rows.append({"layer": "(parameters used outside a forward hook)", "type": "-", "output": (),
                     "params": total - counted, "macs": 0})
    return ModelSummary(rows, total, tuple(input_size))


# ============================================================================ 5. photographs (chapters 4, 6, 8)
class LocalContrastNorm(nn.Module):
    """Local contrast normalisation without padding: (N, C, H, W) -> (N, C, H-k+1, W-k+1), no parameters.

    y = (x_centre - mean_k(x)) / sqrt(var_k(x) + eps²): each pixel minus the mean of the k × k window around
    it, divided by that window's standard deviation (mean_k and var_k are box averages, `nn.AvgPool2d(k, 1)`).
    The window never leaves the image ("valid", like an unpadded convolution), so the layer slides like one:
    a bright, flat photograph and a dark, contrasty one give the same pattern. k must be odd.
    """

    def __init__(self, kernel_size: int = 9, eps: float = 0.05):
        super().__init__()
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int (the window has a centre), got {kernel_size!r}.")
        if not eps > 0:
            raise ValueError(f"eps must be > 0 (it keeps flat windows finite), got {eps!r}.")
        self.kernel_size, self.eps = kernel_size, float(eps)
        self.box = nn.AvgPool2d(kernel_size, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.kernel_size // 2
        mean = self.box(x)
        var = (self.box(x * x) - mean * mean).clamp(min=0.0)
        centre = x[:, :, c:x.shape[2] - c, c:x.shape[3] - c]
        return (centre - mean) / torch.sqrt(var + self.eps ** 2)


class FaceNet(nn.Module):
    """A fully convolutional face detector for 25 × 25 grayscale crops (`cnnbook.photos.faces`).

    features: LocalContrastNorm 9 → Conv 5×5 → BN → ReLU → MaxPool 3 (stride 2) → Conv 3×3 → BN → ReLU →
    MaxPool 2 → Conv 2×2 → BN → ReLU, no padding anywhere, with width, 2·width, 4·width channels;
    classifier: a 1×1 convolution to 2 classes (0 non-face, 1 face). Sizes on a crop:
    25 -> 17 -> 13 -> 6 -> 4 -> 2 -> 1, so a 25 × 25 crop gives one output cell, whose receptive field is
    exactly the crop (`RECEPTIVE_FIELD` = 25, `STRIDE` = 4 pixels between neighbouring cells).

    forward(x): (N, 1, H, W) -> logits (N, 2), the mean of `heat_map(x)` over its cells (global average
    pooling, the only non-convolutional step, at the very end). heat_map(x): (N, 2, (H-25)//4+1, (W-25)//4+1),
    the class logits of every 25 × 25 window of x whose corner lies on the stride-4 grid: the classifier
    slides over a photograph as a convolution, and cell (i, j) is exactly what the network says about the
    crop x[..., 4i:4i+25, 4j:4j+25] (in eval mode). With width 16: 13 554 parameters.
    """

    RECEPTIVE_FIELD = 25
    STRIDE = 4

    def __init__(self, width: int = 16):
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int (channels of the first layer), got {width!r}.")

        def block(c_in: int, c_out: int, k: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, k, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(LocalContrastNorm(9),
                                      *block(1, width, 5), nn.MaxPool2d(3, stride=2),
                                      *block(width, 2 * width, 3), nn.MaxPool2d(2),
                                      *block(2 * width, 4 * width, 2))
        self.classifier = nn.Conv2d(4 * width, 2, 1)

    def _check(self, x) -> None:
        if isinstance(x, torch.fx.Proxy):  # traced by torch.fx (e.g. cnnbook.rf.receptive_field): no data yet
            return
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"FaceNet needs grayscale images (N, 1, H, W), got {shape}; for a colour photo use "
                             f"cnnbook.photos.photo(name, gray=True).unsqueeze(0).")
        if min(x.shape[-2:]) < self.RECEPTIVE_FIELD:
            raise ValueError(f"FaceNet needs images of at least 25 × 25 pixels (its receptive field), "
                             f"got {tuple(x.shape[-2:])}.")

    def heat_map(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of every stride-4 window: (N, 1, H, W) -> (N, 2, (H-25)//4+1, (W-25)//4+1)."""
        self._check(x)
        return self.classifier(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heat_map(x).mean(dim=(2, 3))


# ============================================================================ 6. beyond 2-D images (chapter 8)
class ClipNet(nn.Module):
    """A spatio-temporal CNN for clips (N, 1, T, H, W): which of 8 directions is the digit moving in?

    Conv3d(1, width, (kt, 5, 5), stride (1, 2, 2), padding (0, 2, 2)) → ReLU →
    Conv3d(width, 2·width, (kt, 3, 3), padding (0, 1, 1)) → ReLU → mean over (T, H, W) → Linear(2·width, 8).
    (A strided convolution rather than 3-D pooling downsamples space: MaxPool3d has no deterministic
    backward pass on CUDA.)
    temporal_kernel = kt: with kt ≥ 2 a filter spans several frames and can see motion (a 3-D network);
    with kt = 1 every filter sees one frame, so the network is a 2-D CNN run on each frame separately, and
    averaging over time makes it blind to the order of the frames (exactly: reversing a clip gives the same
    output). Clips need T ≥ 2·kt − 1 frames.
    """

    def __init__(self, temporal_kernel: int = 2, width: int = 8, num_classes: int = 8):
        super().__init__()
        for value, name in ((temporal_kernel, "temporal_kernel"), (width, "width"), (num_classes, "num_classes")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        kt = temporal_kernel
        self.temporal_kernel = kt
        self.features = nn.Sequential(
            nn.Conv3d(1, width, (kt, 5, 5), stride=(1, 2, 2), padding=(0, 2, 2)), nn.ReLU(),
            nn.Conv3d(width, 2 * width, (kt, 3, 3), padding=(0, 1, 1)), nn.ReLU())
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.fx.Proxy) and (not isinstance(x, torch.Tensor) or x.dim() != 5):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"ClipNet needs clips (N, 1, T, H, W), e.g. from cnnbook.signals.moving_digit_clips, "
                             f"got {shape}.")
        return self.head(self.features(x).mean(dim=(2, 3, 4)))


class FourierConv2d(nn.Module):
    """A global convolution layer: circular, image-sized kernels, computed by multiplying Fourier transforms.

    x: (N, C_in, H, W) -> (N, C_out, H, W) = `cnnbook.signals.circular_conv2d_fft(x, weight)` + bias.
    weight: (C_out, C_in, H, W), one real number per channel pair and pixel, so C_in·C_out·H·W + C_out
    parameters. Each output pixel depends on every input pixel (no locality); the layer still commutes with
    circular shifts of the input (the convolution theorem: a shift multiplies the spectrum by a phase).
    """

    def __init__(self, in_channels: int, out_channels: int, size: tuple[int, int]):
        super().__init__()
        h, w = size
        self.size = (int(h), int(w))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, h, w) / (in_channels * h * w) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .signals import circular_conv2d_fft

        if tuple(x.shape[-2:]) != self.size:
            raise ValueError(f"FourierConv2d was built for {self.size} images, got {tuple(x.shape[-2:])}: its kernels "
                             f"are image-sized; build it with size={tuple(x.shape[-2:])}.")
        return circular_conv2d_fft(x, self.weight) + self.bias.view(1, -1, 1, 1)


class ShiftNet(nn.Module):
    """Local or global (Fourier-domain) convolutions, then 4 × 4 average pooling and one Linear layer (chapter 8).

    kind="local": `layers` Conv2d k×k layers (k = kernel_size, odd) with circular padding, stride 1 — each
    output pixel of the first layer sees a k × k neighbourhood. kind="fourier": `FourierConv2d` layers on
    `size` images — each output pixel sees the whole image. Both: ReLU after every layer (`features`), then
    `head` = AvgPool2d(4) → Flatten → Linear(channels·(H/4)·(W/4), 10). `features` commutes with circular
    shifts in both kinds (exactly, up to rounding); locality is the only structural difference.
    x: (N, 1, H, W) -> logits (N, 10). Parameters, 28 × 28 inputs, one layer: local 16 channels 5 × 5:
    416 + 7 850 = 8 266; Fourier 6 channels: 4 710 + 2 950 = 7 660.
    """

    def __init__(self, kind: str = "local", channels: int = 16, layers: int = 1, kernel_size: int = 5,
                 size: tuple[int, int] = (28, 28)):
        super().__init__()
        if kind not in ("local", "fourier"):
            raise ValueError(f"kind must be 'local' or 'fourier', got {kind!r}.")
        for value, name in ((channels, "channels"), (layers, "layers"), (kernel_size, "kernel_size")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (so that circular padding keeps the size), got {kernel_size}.")
        h, w = size
        if h % 4 or w % 4:
            raise ValueError(f"size must be divisible by 4 (the 4 × 4 pooling), got {size}.")
        self.kind = kind
        blocks, c_in = [], 1
        for _ in range(layers):
            conv = (nn.Conv2d(c_in, channels, kernel_size, padding=kernel_size // 2, padding_mode="circular")
                    if kind == "local" else FourierConv2d(c_in, channels, size))
            blocks += [conv, nn.ReLU()]
            c_in = channels
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AvgPool2d(4), nn.Flatten(), nn.Linear(channels * (h // 4) * (w // 4), 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
