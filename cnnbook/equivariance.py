"""Translation equivariance, measured: does a feature map shift when its input shifts?

Used by chapter 7c (CNN feature maps against ViT tokens). A map f is equivariant to a shift s when
f(shift_s x) = shift_{s'} f(x), with s' = s / stride. `equivariance_error` measures how far a model is
from that, with circular shifts (`torch.roll`), so that nothing falls off the edge.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import _validate


@torch.no_grad()
def equivariance_error(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, shift: int, out_shift: int,
                       grid: tuple[int, int] | None = None) -> float:
    """‖f(roll(x, shift)) − roll(f(x), out_shift)‖ / ‖f(x)‖, rolling along the width (the last axis).

    x: (N, C, H, W). f(x): feature maps (N, C', H', W'), or tokens (N, T, D) with grid = (rows, cols) of
    the T = rows·cols patches, which are put back on their grid (N, D, rows, cols) before rolling.
    0 means exactly equivariant; out_shift = 0 compares with the unshifted output (invariance).
    """
    if not callable(f):
        raise TypeError(f"f must be a model or function of the images, got {type(f).__name__}.")
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}.")
    for value, name in ((shift, "shift"), (out_shift, "out_shift")):
        if not _validate.is_int(value):
            raise TypeError(f"{name} must be an int (pixels or positions to roll by, e.g. 1), got {value!r}.")
    y, y_shifted = f(x), f(torch.roll(x, shift, dims=3))
    if grid is not None:
        rows, cols = _validate.pair(grid, "grid", example="the (rows, cols) of the patch grid, e.g. (4, 4)")
        if y.dim() != 3 or y.shape[1] != rows * cols:
            raise ValueError(f"with grid={tuple(grid)}, f must return tokens (N, {rows * cols}, D), got "
                             f"{tuple(y.shape)}.")
        y, y_shifted = (t.transpose(1, 2).reshape(len(t), -1, rows, cols) for t in (y, y_shifted))
    elif y.dim() != 4:
        raise ValueError(f"f returned shape {tuple(y.shape)}: feature maps (N, C, H, W) are needed, or pass "
                         f"grid=(rows, cols) for tokens (N, T, D).")
    return ((y_shifted - torch.roll(y, out_shift, dims=3)).norm() / y.norm()).item()
