"""Global convolutions in the frequency domain (chapter 8): FourierConv2d, and ShiftNet, which compares
them with local convolutions."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import _validate


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
        from ..signals import circular_conv2d_fft

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
        _validate.choice(kind, "kind", ("local", "fourier"), "ShiftNet")
        for value, name in ((channels, "channels"), (layers, "layers"), (kernel_size, "kernel_size")):
            _validate.positive_int(value, name, who="ShiftNet")
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
