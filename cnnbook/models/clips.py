"""A network on clips of frames (chapter 8): ClipNet, Conv3d over time and space."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import _validate


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
            _validate.positive_int(value, name, who="ClipNet")
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
