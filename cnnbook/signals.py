"""Convolution beyond 2-D images: signals (1-D), clips of frames (3-D: time and space), the frequency domain.

Used by chapter 8. The same sliding dot product works along any number of axes:
- `conv1d_loops` the definition in one dimension, y[t] = Σ_k w[k]·x[t·s + k] (cross-correlation, like torch);
- `moving_digit_clips` short clips of an MNIST digit moving in one of 8 `DIRECTIONS`, labelled by where it
  moves, for spatio-temporal (Conv3d) networks (`cnnbook.models.ClipNet`);
- `receptive_field_nd` the exact receptive field along each axis (time, height, width) of a stack of layers;
- `circular_conv2d_fft` circular convolution with an image-sized kernel as a product of Fourier transforms
  (the convolution theorem), the layer of `cnnbook.models.FourierConv2d`;
- `frequency_response` |DFT| of small kernels, zero-padded to a common size: which spatial frequencies pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _validate
from .conv import _windows  # the one output-size formula

# (dy, dx) per frame, in pixels, for labels 0..7: the direction the digit moves in (image rows grow downward)
DIRECTIONS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
DIRECTION_NAMES = ("up", "up-right", "right", "down-right", "down", "down-left", "left", "up-left")


def conv1d_loops(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """1-D convolution by its definition (the reading version of `torch.nn.functional.conv1d`).

    x: (N, C_in, L); weight: (C_out, C_in, k) -> (N, C_out, L_out), L_out = (L + 2p - k) // s + 1,
    y[n, o, t] = Σ_c Σ_j weight[o, c, j] · x_padded[n, c, t·s + j] (zero padding p on both ends).
    """
    _validate.tensor(x, "x", who="conv1d_loops", layout="(N, C_in, L)", dims=3)
    _validate.tensor(weight, "weight", who="conv1d_loops", layout="(C_out, C_in, k)", dims=3)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv1d_loops: x has {x.shape[1]} channels but weight expects {weight.shape[1]}; "
                         f"weight must be (C_out, C_in, k) with C_in = x.shape[1].")
    stride = _validate.positive_int(stride, "stride", "samples between outputs, e.g. stride=1", who="conv1d_loops")
    padding = _validate.integer(padding, "padding", minimum=0, meaning="zeros added at each end", who="conv1d_loops")
    xp = F.pad(x, (padding, padding))
    k = weight.shape[2]
    length = _windows(x.shape[2], k, stride, (padding, padding))
    if length < 1:
        raise ValueError(f"conv1d_loops: the kernel ({k}) is longer than the padded signal ({xp.shape[2]}).")
    out = x.new_zeros(x.shape[0], weight.shape[0], length)
    for t in range(length):
        window = xp[:, :, t * stride:t * stride + k]                     # (N, C_in, k)
        out[:, :, t] = torch.einsum("nck,ock->no", window, weight)
    return out


def moving_digit_clips(images: torch.Tensor, frames: int = 4, canvas: int = 32, step: int = 3,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips of each digit moving in a straight line: (clips (N, 1, frames, canvas, canvas), labels (N,)).

    images: (N, 1, h, w) digits in [0, 1] (e.g. 14 × 14: `F.avg_pool2d(load_mnist()[0], 2)`). Each clip puts
    its digit on a black canvas and moves it by `step` pixels per frame in the direction `DIRECTIONS[label]`
    (label drawn uniformly from the 8 directions); the start is drawn so that the digit stays inside the
    canvas for `frames` + 1 frames, i.e. the position it moves to next is on the canvas too. All random
    draws come from `generator` (default: a new one seeded with 0); the global random state is untouched.
    """
    _validate.tensor(images, "images", who="moving_digit_clips", layout="(N, 1, h, w)", dims=4)
    frames = _validate.integer(frames, "frames", minimum=2, meaning="frames per clip, e.g. frames=4",
                             who="moving_digit_clips")
    step = _validate.integer(step, "step", minimum=1, meaning="pixels moved per frame, e.g. step=3",
                           who="moving_digit_clips")
    canvas = _validate.positive_int(canvas, "canvas", "side of the square frame in pixels", who="moving_digit_clips")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"moving_digit_clips: generator must be a torch.Generator, e.g. "
                        f"torch.Generator().manual_seed(0), got {type(generator).__name__}.")
    n, _, h, w = images.shape
    travel = step * frames                       # from the first frame to the frame after the clip
    if canvas < max(h, w) + travel:
        raise ValueError(f"moving_digit_clips: a canvas of {canvas} pixels cannot hold a {h} × {w} digit moving "
                         f"{travel} pixels; use canvas >= {max(h, w) + travel} or smaller images/steps.")
    labels = torch.randint(0, len(DIRECTIONS), (n,), generator=generator)
    low = torch.rand(n, 2, generator=generator)
    clips = images.new_zeros(n, 1, frames, canvas, canvas)
    for i in range(n):
        dy, dx = DIRECTIONS[int(labels[i])]
        # the start (y0, x0) such that y0 + dy·travel and y0 stay in [0, canvas - h]
        y_min, x_min = max(0, -dy * travel), max(0, -dx * travel)
        y_max, x_max = canvas - h - max(0, dy * travel), canvas - w - max(0, dx * travel)
        y0 = y_min + int(low[i, 0] * (y_max - y_min + 1))
        x0 = x_min + int(low[i, 1] * (x_max - x_min + 1))
        for t in range(frames):
            y, x = y0 + dy * step * t, x0 + dx * step * t
            clips[i, 0, t, y:y + h, x:x + w] = images[i, 0]
    return clips, labels


def receptive_field_nd(layers) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Exact receptive field and jump, per axis, of a stack of convolution/pooling layers.

    layers: a sequence of (kernel, stride) pairs, each a tuple with one entry per axis, e.g.
    [((3, 5, 5), (1, 1, 1)), ((1, 2, 2), (1, 2, 2))] for Conv3d(k=(3, 5, 5)) then MaxPool3d((1, 2, 2)).
    Per axis: r_l = r_{l-1} + (k_l - 1)·j_{l-1}, j_l = j_{l-1}·s_l, from r_0 = j_0 = 1 (chapter 5's formula).
    Returns (sizes, jumps).
    """
    from .rf.calculator import step  # the one recurrence (chapter 5), applied on every axis

    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"receptive_field_nd: layers must be a sequence of (kernel, stride) pairs, got "
                        f"{type(layers).__name__}.")
    layers = list(layers)
    if not layers:
        raise ValueError("receptive_field_nd needs at least one (kernel, stride) pair.")
    if not (isinstance(layers[0], (tuple, list)) and len(layers[0]) == 2 and isinstance(layers[0][0], (tuple, list))):
        raise TypeError(f"receptive_field_nd: layer 0 must be (kernel, stride), two tuples of ints, got {layers[0]!r}.")
    dims = len(layers[0][0])
    size, jump = [1] * dims, [1] * dims
    for i, layer in enumerate(layers):
        if not (isinstance(layer, (tuple, list)) and len(layer) == 2):
            raise ValueError(f"receptive_field_nd: layer {i} must be (kernel, stride), two tuples of {dims} ints, "
                             f"got {layer!r}.")
        example = f"each layer is (kernel, stride), two tuples of {dims} ints (one per axis)"
        kernel = _validate.sizes(layer[0], f"layer {i}'s kernel", dims, who="receptive_field_nd", example=example)
        stride = _validate.sizes(layer[1], f"layer {i}'s stride", dims, who="receptive_field_nd", example=example)
        for a in range(dims):
            size[a], jump[a], _ = step(size[a], jump[a], 0.0, kernel[a], stride[a])
    return tuple(size), tuple(jump)


def circular_conv2d_fft(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Circular cross-correlation with image-sized kernels, computed as a product of Fourier transforms.

    x: (N, C_in, H, W); kernel: (C_out, C_in, H, W) -> (N, C_out, H, W),
    y[n, o, i, j] = Σ_c Σ_{u, v} kernel[o, c, u, v] · x[n, c, (i + u) mod H, (j + v) mod W],
    computed as y = IDFT( Σ_c conj(DFT(kernel[o, c])) · DFT(x[n, c]) ) (the convolution theorem, for
    cross-correlation: the conjugate). Every output pixel sees the whole image: the layer is global.
    """
    _validate.tensor(x, "x", who="circular_conv2d_fft", layout="(N, C_in, H, W)", dims=4)
    _validate.tensor(kernel, "kernel", who="circular_conv2d_fft", layout="(C_out, C_in, H, W)", dims=4)
    if kernel.shape[1] != x.shape[1] or kernel.shape[2:] != x.shape[2:]:
        raise ValueError(f"circular_conv2d_fft: kernel {tuple(kernel.shape)} must be (C_out, {x.shape[1]}, "
                         f"{x.shape[2]}, {x.shape[3]}), image-sized with x's channels.")
    size = x.shape[-2:]
    spectrum = torch.einsum("nchw,ochw->nohw", torch.fft.rfft2(x), torch.fft.rfft2(kernel).conj())
    return torch.fft.irfft2(spectrum, s=size)


def frequency_response(kernels: torch.Tensor, size: int = 32) -> torch.Tensor:
    """|DFT| of small kernels zero-padded to size × size, zero frequency in the centre (fftshift).

    kernels: (K, k, k) or (K, 1, k, k) -> (K, size, size), non-negative. High values mark the spatial
    frequencies (along rows: vertical, along columns: horizontal) that the kernel lets through.
    """
    _validate.tensor(kernels, "kernels", who="frequency_response", layout="(K, k, k) or (K, 1, k, k)")
    if kernels.dim() == 4 and kernels.shape[1] == 1:
        kernels = kernels[:, 0]
    if kernels.dim() != 3:
        raise ValueError(f"frequency_response needs (K, k, k) or (K, 1, k, k) kernels, got {tuple(kernels.shape)}.")
    size = _validate.positive_int(size, "size", "the padded size, e.g. size=32", who="frequency_response")
    if size < max(kernels.shape[-2:]):
        raise ValueError(f"frequency_response: size={size} is smaller than the kernels {tuple(kernels.shape[-2:])}.")
    spectrum = torch.fft.fft2(kernels.detach().float().cpu(), s=(size, size))
    return torch.fft.fftshift(spectrum.abs(), dim=(-2, -1))
