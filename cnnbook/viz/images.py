"""Figures of images and what convolution does to them (chapters 1, 2 and 4): matrices, kernels, feature maps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ._common import _as_numpy, _nonempty, _integer_ticks, _grid, _stack


def show_matrix(ax, values, title: str = "", signed: bool = False, annotate: bool = False, fmt: str = "{:g}"):
    """Draw a 2-D array on `ax`: cividis for intensities, RdBu centred at 0 when `signed`.

    values: (H, W). With `annotate`, each cell shows its number (for small arrays).
    """
    v = _nonempty(values, "values", "show_matrix", "pass an (H, W) array with at least one number")
    if v.ndim != 2:
        raise ValueError(f"show_matrix needs a 2-D array (H, W), got shape {v.shape}; pick one image/channel first.")
    if signed:
        lim = float(np.abs(v).max()) or 1.0
        im = ax.imshow(v, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        im = ax.imshow(v, cmap="cividis")
    if annotate:  # white text on the dark cells: low end of cividis, both ends of RdBu
        mid = (v.max() + v.min()) / 2
        for (i, j), number in np.ndenumerate(v):
            dark_cell = abs(number) > 0.5 * np.abs(v).max() if signed else number < mid
            ax.text(j, i, fmt.format(number), ha="center", va="center", fontsize=8,
                    color="white" if dark_cell else "black")
    _integer_ticks(ax)
    ax.set_title(title)
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    return im


def plot_conv(image, kernel, output, title: str = "", annotate: bool = False):
    """Input, kernel and output of one convolution side by side; returns the figure.

    image: (H, W), kernel: (kH, kW), output: (H_out, W_out). Signed arrays use RdBu centred at 0.
    """
    for name, values in (("image", image), ("kernel", kernel), ("output", output)):
        _nonempty(values, name, "plot_conv", "pass the (H, W) input, the (kH, kW) kernel and conv2d's output")
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), gridspec_kw={"width_ratios": [3, 1.4, 3]})
    for ax, values, name in zip(axes, (image, kernel, output), ("input", "kernel", "output")):
        v = _as_numpy(values)
        im = show_matrix(ax, v, f"{name} {v.shape[0]}×{v.shape[1]}", signed=bool((v < 0).any()), annotate=annotate)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images, titles=None, ncols: int = 10, title: str = ""):
    """Grayscale images in a grid, each with an optional title (e.g. "true 7 / pred 1"); returns the figure.

    images: (N, H, W) or (N, 1, H, W) with values in [0, 1] (white ink on black, as MNIST stores it).
    """
    v = _stack(images, "image_grid", "for a batch from load_mnist pass images[:20].")
    if titles is not None and len(titles) != len(v):
        raise ValueError(f"image_grid got {len(v)} images but {len(titles)} titles; give one title per image.")
    fig, axes = _grid(len(v), ncols)
    for k, ax in enumerate(axes):
        ax.imshow(v[k], cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=8)
    fig.suptitle(title)
    fig.supxlabel(f"each panel: one image, {v.shape[1]}×{v.shape[2]} pixels", fontsize=9)
    fig.tight_layout()
    return fig


def kernels_grid(kernels, ncols: int = 8, title: str = ""):
    """Convolution kernels (one input channel) in a grid, RdBu centred at 0 on one shared scale.

    kernels: (C_out, k, k) or (C_out, 1, k, k), e.g. model.conv.weight. Red = positive, blue = negative.
    """
    w = _stack(kernels, "kernels_grid", "for a first layer with one input channel pass conv.weight (C_out, 1, k, k).")
    lim = float(np.abs(w).max()) or 1.0
    fig, axes = _grid(len(w), ncols, extra_height=0.9)
    for k, ax in enumerate(axes):
        im = ax.imshow(w[k], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"filter {k}", fontsize=8)
    fig.suptitle(title)
    fig.supxlabel(f"each panel: one {w.shape[1]}×{w.shape[2]} kernel (weight value: red > 0 > blue)", fontsize=9)
    fig.tight_layout()
    fig.colorbar(im, ax=axes, shrink=0.7, label="weight")
    return fig


def feature_maps_grid(maps, ncols: int = 8, title: str = "", titles=None):
    """Feature maps on one shared colour scale, one panel each: e.g. all channels of one image (C, H, W),
    or one channel for several images.

    maps: (C, H, W). cividis for non-negative maps (after ReLU), RdBu centred at 0 when some are negative.
    titles: optional panel titles (default "ch 0", "ch 1", ...).
    """
    m = _stack(maps, "feature_maps_grid", "for one image's activations pass acts[0] (C, H, W), not the batch.")
    titles = [f"ch {k}" for k in range(len(m))] if titles is None else [str(t) for t in titles]
    if len(titles) != len(m):
        raise ValueError(f"feature_maps_grid got {len(m)} maps but {len(titles)} titles; give one per map.")
    signed = bool((m < 0).any())
    lim = float(np.abs(m).max()) or 1.0
    fig, axes = _grid(len(m), ncols, extra_height=0.9)
    for k, ax in enumerate(axes):
        im = (ax.imshow(m[k], cmap="RdBu_r", vmin=-lim, vmax=lim) if signed
              else ax.imshow(m[k], cmap="cividis", vmin=0, vmax=lim))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(titles[k], fontsize=8)
    fig.suptitle(title)
    fig.supxlabel(f"each panel: one feature map, {m.shape[1]}×{m.shape[2]} positions", fontsize=9)
    fig.tight_layout()
    fig.colorbar(im, ax=axes, shrink=0.7, label="activation")
    return fig


def plot_pooling(image, pooled, kind: str, size: int, stride: int):
    """A digit before and after pooling, side by side, same intensity scale; returns the figure.

    image: (H, W); pooled: (H_out, W_out).
    """
    img = _nonempty(image, "image", "plot_pooling", "pass one image (H, W), e.g. images[0, 0]")
    out = _nonempty(pooled, "pooled", "plot_pooling", "pass the pooled image, e.g. max_pool2d(x, 2)[0, 0]")
    for name, v in (("image", img), ("pooled", out)):
        if v.ndim != 2:
            raise ValueError(f"plot_pooling: {name} must be one image (H, W), got shape {v.shape}; "
                             f"pick one with [0, 0].")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), layout="constrained")
    for ax, v, name in zip(axes, (img, out), ("input", f"after {kind} pooling")):
        im = ax.imshow(v, cmap="cividis", vmin=float(img.min()), vmax=float(img.max()))
        ax.set_title(f"{name}: {v.shape[0]}×{v.shape[1]} pixels")
        ax.set_xlabel("column (pixels)")
        ax.set_ylabel("row (pixels)")
        _integer_ticks(ax)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="intensity")
    fig.suptitle(f"{size}×{size} {kind} pooling, stride {stride}: {img.size / out.size:.1f}× fewer numbers,\n"
                 f"the digit is still readable")
    return fig


def plot_kernel_responses(images: dict, responses: dict, title: str = ""):
    """Rows = images, columns = the input then its response to each kernel (chapter 1: digit and photograph).

    images: {row name: (H, W) image}; responses: {kernel name: {row name: (H', W') response}}. Inputs are grey
    (0 = black); each response uses RdBu centred at 0, scaled to the 99th percentile of its |values| (the
    colour bar says how large; the rare stronger values saturate, so the faint edges of a photograph stay
    visible next to its strongest ones). Returns the figure.
    """
    if not isinstance(images, dict) or not images:
        raise ValueError("plot_kernel_responses: images must be a non-empty dict {name: (H, W) image}.")
    if not isinstance(responses, dict) or not responses:
        raise ValueError("plot_kernel_responses: responses must be a non-empty dict {kernel: {image name: map}}.")
    for kernel, maps in responses.items():
        if not isinstance(maps, dict) or set(maps) != set(images):
            raise ValueError(f"plot_kernel_responses: responses[{kernel!r}] must map every image name "
                             f"{sorted(images)} to its response, got {sorted(maps) if isinstance(maps, dict) else maps!r}.")
    rows, cols = len(images), 1 + len(responses)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.5 * rows + 0.6), squeeze=False)
    for r, (name, image) in enumerate(images.items()):
        v = _nonempty(image, f"images[{name!r}]", "plot_kernel_responses", "pass one (H, W) image")
        axes[r, 0].imshow(v, cmap="gray")
        axes[r, 0].set_title(f"{name}, {v.shape[0]}×{v.shape[1]}", fontsize=9)
        axes[r, 0].set_ylabel("row (pixels)", fontsize=8)
        for c, (kernel, maps) in enumerate(responses.items(), start=1):
            m = _nonempty(maps[name], f"responses[{kernel!r}][{name!r}]", "plot_kernel_responses",
                          "pass the convolution's output (H', W')")
            lim = float(np.percentile(np.abs(m), 99)) or float(np.abs(m).max()) or 1.0
            im = axes[r, c].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
            axes[r, c].set_title(kernel, fontsize=9)
            fig.colorbar(im, ax=axes[r, c], shrink=0.7)
        for ax in axes[r]:
            ax.set_xlabel("column (pixels)", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
