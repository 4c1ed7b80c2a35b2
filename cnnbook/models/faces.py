"""Networks for photographs (chapters 4, 6b, 8): LocalContrastNorm and the fully convolutional FaceNet."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import _validate


class LocalContrastNorm(nn.Module):
    """Local contrast normalisation without padding: (N, C, H, W) -> (N, C, H-k+1, W-k+1), no parameters.

    y = (x_centre - mean_k(x)) / sqrt(var_k(x) + eps²): each pixel minus the mean of the k × k window around
    it, divided by that window's standard deviation (mean_k and var_k are box averages, `nn.AvgPool2d(k, 1)`).
    The window never leaves the image ("valid", like an unpadded convolution), so the layer slides like one:
    a bright, flat photograph and a dark, contrasty one give the same pattern. k must be odd.
    """

    def __init__(self, kernel_size: int = 9, eps: float = 0.05):
        super().__init__()
        kernel_size = _validate.positive_int(kernel_size, "kernel_size", "the window's side", "LocalContrastNorm")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int (the window has a centre), got {kernel_size!r}.")
        if not _validate.number(eps, "eps", low=0.0, who="LocalContrastNorm") > 0:
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
        width = _validate.positive_int(width, "width", "channels of the first layer", "FaceNet")

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
