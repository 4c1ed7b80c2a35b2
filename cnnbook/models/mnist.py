"""The source articles' models and small MNIST CNNs (chapters 2-4): KerasCNN, AlchemyNet,
PhilosopherStone, LeNet5, SmallCNN; and `tiny_cnn`, chapter 3b's CNN for 14×14 digits. Inputs (N, 1, 28, 28), outputs logits (N, 10)."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import _validate

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


def tiny_cnn(channels: int = 8, pooling: bool = True, dropout: float = 0.0, batch_norm: bool = False):
    """The chapter's small CNN for 14×14 digits: two conv blocks, then one linear layer.

    x: (N, 1, 14, 14) -> logits (N, 10). Each block halves the size, 14 -> 7 -> 3, in one of two ways with
    the same parameters: pooling=True: Conv 3×3 (padding 1) → [BatchNorm] → ReLU → MaxPool 2;
    pooling=False: Conv 3×3 with stride 2 (padding 1, then 0) → [BatchNorm] → ReLU. So the two variants
    have exactly the same parameter count (equal capacity); only the way they reduce the size differs.
    channels c gives c and 2c feature maps; head: Flatten → [Dropout(dropout)] → Linear(2c·3·3, 10).
    """
    channels = _validate.positive_int(channels, "channels", "maps in the first block, e.g. 8", "tiny_cnn")
    pooling = _validate.flag(pooling, "pooling", "tiny_cnn")
    batch_norm = _validate.flag(batch_norm, "batch_norm", "tiny_cnn")
    dropout = _validate.number(dropout, "dropout", low=0.0, high=1.0, high_open=True, who="tiny_cnn",
                               meaning="a probability")
    layers, c_in = [], 1
    for c_out, padding in ((channels, 1), (2 * channels, 0)):
        if pooling:
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1))
        else:
            layers.append(nn.Conv2d(c_in, c_out, 3, stride=2, padding=padding))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU())
        if pooling:
            layers.append(nn.MaxPool2d(2))
        c_in = c_out
    layers.append(nn.Flatten())
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(2 * channels * 3 * 3, 10))
    return nn.Sequential(*layers)
