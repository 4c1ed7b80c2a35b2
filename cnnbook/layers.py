"""Layers: the components around the convolution, written from scratch so they can be read.

Used by chapter 2. Each forward function computes what its `torch.nn.functional` counterpart computes,
and each has a backward function that returns the gradient of a loss with respect to its input, given the
gradient `grad_out` arriving from above (the cs231n way: tests check every pair against autograd):

- `max_pool2d` / `max_pool2d_backward`: the largest number per window; the gradient goes to that
  number only (to the first one, in reading order, if several tie, as in torch);
- `avg_pool2d` / `avg_pool2d_backward`: the mean per window; the gradient is shared equally;
- `relu` / `relu_backward`: max(0, x), elementwise (NaN stays NaN, as in torch); the gradient passes
  where x > 0;
- `linear`: y = x W^T + b (a fully connected layer);
- `dropout` / `dropout_backward`: zero each number with probability p during training and scale the
  rest by 1 / (1 - p), so the expectation is unchanged; the identity in evaluation. `dropout_mask` draws
  the mask, so the backward pass can use the same one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _validate
from .conv import im2col, output_size


def _check_float(t, name: str, who: str, layout: str = "") -> None:
    _validate.tensor(t, name, who, layout, floating=True)


def _pool_geometry(x, kernel_size, stride, padding, who: str):
    """Validate pooling arguments; return (kernel, stride, padding) as pairs."""
    _validate.tensor(x, "x", who, "(N, C, H, W)", 4, floating=True)
    kernel = _validate.pair(kernel_size, "kernel_size", 1, who)
    stride = kernel if stride is None else _validate.pair(stride, "stride", 1, who)
    padding = _validate.pair(padding, "padding", 0, who)
    for a in (0, 1):
        if padding[a] > kernel[a] // 2:
            raise ValueError(f"{who}: padding must be at most half the kernel size (as in torch), got padding "
                             f"{padding} for kernel {kernel}; use less padding or a bigger kernel.")
        output_size(x.shape[2 + a], kernel[a], stride[a], padding[a])  # clear error if the window does not fit
    return kernel, stride, padding


def _pool_windows(x, kernel_size, stride, padding, pad_value: float, who: str):
    """Validate pooling arguments and return every window: (N, C, H_out, W_out, kH, kW)."""
    kernel, stride, padding = _pool_geometry(x, kernel_size, stride, padding, who)
    xp = F.pad(x, (padding[1], padding[1], padding[0], padding[0]), value=pad_value)
    return im2col(xp, kernel, stride)


def _check_grad_out(grad_out, x, expected_shape, who: str) -> None:
    _validate.tensor(grad_out, "grad_out", who, floating=True)
    if tuple(grad_out.shape) != tuple(expected_shape):
        raise ValueError(f"{who}: grad_out must have the forward output's shape {tuple(expected_shape)}, got "
                         f"{tuple(grad_out.shape)} — pass the gradient of the loss with respect to that output.")
    if grad_out.dtype != x.dtype:
        raise TypeError(f"{who}: grad_out is {grad_out.dtype} but x is {x.dtype}; call grad_out.to(x.dtype).")


def _spread_back(grad_out, shares, x, kernel, stride, padding):
    """Send each window's gradient back to its pixels: shares[..., u, v] is the part for tap (u, v).

    grad_out: (N, C, H_out, W_out); shares: (N, C, H_out, W_out, kH, kW) weights per tap.
    Returns dL/dx (N, C, H, W): the padded gradient, summed over overlapping windows, with the padding cut off.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    h_out, w_out = grad_out.shape[2:]
    grad_xp = x.new_zeros(x.shape[0], x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw)
    for u in range(kh):
        for v in range(kw):
            grad_xp[..., u: u + (h_out - 1) * sh + 1: sh, v: v + (w_out - 1) * sw + 1: sw] += grad_out * shares[..., u, v]
    return grad_xp[..., ph: ph + x.shape[2], pw: pw + x.shape[3]]


def max_pool2d(x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """Max pooling: out[n, c, i, j] = max over the window of x starting at (i*s - p, j*s - p).

    x: (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2p - k) / s) + 1. stride defaults to
    kernel_size (windows side by side). Padding counts as -inf, so it never wins.
    """
    windows = _pool_windows(x, kernel_size, stride, padding, float("-inf"), "max_pool2d")
    return windows.amax(dim=(-2, -1))


def max_pool2d_backward(grad_out: torch.Tensor, x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """dL/dx of max_pool2d(x, kernel_size, stride, padding): each window's gradient goes to its maximum.

    grad_out: (N, C, H_out, W_out), the gradient of the loss with respect to the pooled output. If several
    numbers of a window tie for the maximum, the first in reading order gets it (as in torch). Where windows
    overlap, a pixel that is the maximum of several collects all their gradients. Returns (N, C, H, W).
    """
    kernel, stride, padding = _pool_geometry(x, kernel_size, stride, padding, "max_pool2d_backward")
    windows = _pool_windows(x, kernel, stride, padding, float("-inf"), "max_pool2d_backward")
    _check_grad_out(grad_out, x, windows.shape[:4], "max_pool2d_backward")
    winner = windows.flatten(-2).argmax(dim=-1)  # (N, C, H_out, W_out): index of the first maximum in each window
    shares = F.one_hot(winner, kernel[0] * kernel[1]).to(x.dtype).unflatten(-1, kernel)
    return _spread_back(grad_out, shares, x, kernel, stride, padding)


def avg_pool2d(x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """Average pooling: out[n, c, i, j] = mean of the window (padding zeros included, like torch's default).

    x: (N, C, H, W) -> (N, C, H_out, W_out); stride defaults to kernel_size.
    """
    windows = _pool_windows(x, kernel_size, stride, padding, 0.0, "avg_pool2d")
    return windows.mean(dim=(-2, -1))


def avg_pool2d_backward(grad_out: torch.Tensor, x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """dL/dx of avg_pool2d(x, kernel_size, stride, padding): each window shares its gradient equally.

    Every pixel of a kH×kW window gets grad_out / (kH·kW) (padding counted, as in the forward pass).
    grad_out: (N, C, H_out, W_out); returns (N, C, H, W).
    """
    kernel, stride, padding = _pool_geometry(x, kernel_size, stride, padding, "avg_pool2d_backward")
    out_hw = tuple(output_size(x.shape[2 + a], kernel[a], stride[a], padding[a]) for a in (0, 1))
    _check_grad_out(grad_out, x, (*x.shape[:2], *out_hw), "avg_pool2d_backward")
    shares = x.new_full((1, 1, 1, 1, *kernel), 1.0 / (kernel[0] * kernel[1]))
    return _spread_back(grad_out, shares, x, kernel, stride, padding)


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit, elementwise: relu(x) = max(0, x). Any shape."""
    _check_float(x, "x", "relu")
    return torch.where(x <= 0, torch.zeros_like(x), x)  # `x > 0` would turn NaN into 0; torch keeps NaN


def relu_backward(grad_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """dL/dx of relu: grad_out where x > 0 (or NaN, as torch does), 0 elsewhere. Same shape as x."""
    _check_float(x, "x", "relu_backward")
    _check_grad_out(grad_out, x, x.shape, "relu_backward")
    return torch.where(x <= 0, torch.zeros_like(grad_out), grad_out)


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


def _check_p(p, who: str) -> float:
    return _validate.number(p, "p", low=0.0, high=1.0, high_open=True, who=who,
                            meaning="the probability of zeroing a number; p=1 would zero everything and divide by 0")


def dropout_mask(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """The numbers dropout keeps: a bool tensor shaped like x, True with probability 1 - p.

    generator: a torch.Generator for a reproducible mask (the same seed gives the same mask).
    """
    _check_float(x, "x", "dropout_mask")
    p = _check_p(p, "dropout_mask")
    return torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout: in training keep each number with probability 1 - p and divide it by 1 - p.

    E[dropout(x)] = x, so nothing needs rescaling at evaluation time, where dropout is the identity.
    x: any shape; p in [0, 1); generator: a torch.Generator for reproducible masks (`dropout_mask`).
    """
    _check_float(x, "x", "dropout")
    p = _check_p(p, "dropout")
    training = _validate.flag(training, "training (pass model.training)", "dropout")
    if not training or p == 0:
        return x
    return x * dropout_mask(x, p, generator) / (1 - p)


def dropout_backward(grad_out: torch.Tensor, mask: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """dL/dx of training-mode dropout with keep-mask `mask`: grad_out · mask / (1 - p).

    The gradient flows only through the numbers that were kept, scaled like them. mask: the bool tensor
    from `dropout_mask` (draw it with the same generator seed as the forward pass).
    """
    p = _check_p(p, "dropout_backward")
    _validate.tensor(mask, "mask", "dropout_backward")
    if mask.dtype != torch.bool:
        raise TypeError(f"dropout_backward: mask must be the bool tensor from dropout_mask, got {mask.dtype}.")
    _check_grad_out(grad_out, grad_out, mask.shape, "dropout_backward")
    return grad_out * mask / (1 - p)
