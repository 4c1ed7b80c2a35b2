"""Residual and squeeze-and-excitation networks (chapters 7 and 7b): SEBlock, BasicBlock, ResNet."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import _validate

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
        _validate.positive_int(channels, "channels", who="SEBlock")
        _validate.positive_int(r, "r", who="SEBlock")
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
    se_reduction=r puts an SEBlock(C, r) in every block (SE-ResNet);
    zero_init_residual=True starts every block's last BatchNorm scale γ at 0 (Goyal et al. 2017, chapter 7a),
    so that each residual block starts as the identity and the net as its stem and head.
    """

    def __init__(self, depth: int = 20, width: int = 16, in_channels: int = 1, num_classes: int = 10,
                 residual: bool = True, batch_norm: bool = True, se_reduction: int | None = None,
                 zero_init_residual: bool = False):
        super().__init__()
        _validate.positive_int(depth, "depth", who="ResNet")
        _validate.flag(zero_init_residual, "zero_init_residual", who="ResNet")
        if zero_init_residual and not (residual and batch_norm):
            raise ValueError("ResNet: zero_init_residual sets each block's last BatchNorm scale to 0, which "
                             "needs residual=True (a plain block would output 0) and batch_norm=True.")
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"a CIFAR-style ResNet has depth 6k + 2 with k >= 1 (8, 14, 20, 32, 56, 110, "
                             f"1202, ...), got {depth}.")
        _validate.positive_int(width, "width", who="ResNet")
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
        if zero_init_residual:
            for block in blocks:
                nn.init.zeros_(block.bn2.weight)                 # F(x) = 0 at the start: out = relu(x)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))
