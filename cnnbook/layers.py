"""Layers: the components around the convolution, written from scratch so they can be read.

Used by chapter 2. Each function computes what its `torch.nn.functional` counterpart computes:

- `max_pool2d`, `avg_pool2d`: one number per window (the windows come from `cnnbook.conv.im2col`);
- `relu`: max(0, x), elementwise;
- `linear`: y = x W^T + b (a fully connected layer);
- `dropout`: zero each number with probability p during training and scale the rest by 1 / (1 - p),
  so the expectation is unchanged; the identity in evaluation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .conv import _pair as _conv_pair
from .conv import im2col, output_size


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints -> a pair, with a teaching error for anything else (e.g. 2.5)."""
    if not isinstance(value, (int, tuple, list)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a pair of ints like (2, 2), got {value!r}.")
    return _conv_pair(value, name, minimum)


def _check_float(t, name: str, who: str, layout: str = "") -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{who} needs {name} as a torch.Tensor{layout}, got {type(t).__name__} — "
                        f"wrap it with torch.tensor(...).")
    if not t.is_floating_point():
        raise TypeError(f"{who} needs a floating-point {name}, got {t.dtype} — call {name}.float() first.")


def _pool_windows(x, kernel_size, stride, padding, pad_value: float, who: str):
    """Validate pooling arguments and return every window: (N, C, H_out, W_out, kH, kW)."""
    _check_float(x, "x", who, " of shape (N, C, H, W)")
    if x.dim() != 4:
        hint = " — add the batch axis with x.unsqueeze(0)" if x.dim() == 3 else ""
        raise ValueError(f"{who}: x must have shape (N, C, H, W) (4 dims), got shape {tuple(x.shape)}{hint}.")
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    for a in (0, 1):
        if padding[a] > kernel[a] // 2:
            raise ValueError(f"{who}: padding must be at most half the kernel size (as in torch), got padding "
                             f"{padding} for kernel {kernel}; use less padding or a bigger kernel.")
        output_size(x.shape[2 + a], kernel[a], stride[a], padding[a])  # clear error if the window does not fit
    xp = F.pad(x, (padding[1], padding[1], padding[0], padding[0]), value=pad_value)
    return im2col(xp, kernel, stride)


def max_pool2d(x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """Max pooling: out[n, c, i, j] = max over the window of x starting at (i*s - p, j*s - p).

    x: (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2p - k) / s) + 1. stride defaults to
    kernel_size (windows side by side). Padding counts as -inf, so it never wins.
    """
    windows = _pool_windows(x, kernel_size, stride, padding, float("-inf"), "max_pool2d")
    return windows.amax(dim=(-2, -1))


def avg_pool2d(x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """Average pooling: out[n, c, i, j] = mean of the window (padding zeros included, like torch's default).

    x: (N, C, H, W) -> (N, C, H_out, W_out); stride defaults to kernel_size.
    """
    windows = _pool_windows(x, kernel_size, stride, padding, 0.0, "avg_pool2d")
    return windows.mean(dim=(-2, -1))


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit, elementwise: relu(x) = max(0, x). Any shape."""
    _check_float(x, "x", "relu")
    return torch.where(x > 0, x, torch.zeros_like(x))


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Fully connected layer: y = x W^T + b.

    x: (N, in_features); weight: (out_features, in_features); bias: (out_features,) or None.
    Returns (N, out_features). Every output sees every input: in*out weights + out biases.
    """
    _check_float(x, "x", "linear", " of shape (N, in_features)")
    _check_float(weight, "weight", "linear", " of shape (out_features, in_features)")
    if x.dim() != 2:
        raise ValueError(f"linear: x must have shape (N, in_features), got shape {tuple(x.shape)} — "
                         f"flatten images first with x.flatten(1).")
    if weight.dim() != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"linear: weight must have shape (out_features, {x.shape[1]}) to match x's "
                         f"{x.shape[1]} input features, got {tuple(weight.shape)}.")
    out = x @ weight.T
    if bias is not None:
        _check_float(bias, "bias", "linear")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), one number per output, "
                             f"got {tuple(bias.shape)}.")
        out = out + bias
    return out


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout: in training keep each number with probability 1 - p and divide it by 1 - p.

    E[dropout(x)] = x, so nothing needs rescaling at evaluation time, where dropout is the identity.
    x: any shape; p in [0, 1); generator: a torch.Generator for reproducible masks.
    """
    _check_float(x, "x", "dropout")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"dropout: p is the probability of zeroing a number and must be in [0, 1), got {p!r}; "
                         f"p=1 would zero everything and divide by 0.")
    if not isinstance(training, bool):
        raise TypeError(f"dropout: training must be True or False, got {training!r} — pass model.training.")
    if not training or p == 0:
        return x
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p
    return x * keep / (1 - p)
