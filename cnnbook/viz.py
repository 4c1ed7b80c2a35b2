"""Figures: one small function per kind of figure; notebooks pass data, not styling.

Every function draws with matplotlib, labels its axes, uses perceptually uniform colormaps
(viridis/cividis for intensities, RdBu centred at 0 for signed values) and returns the figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def _as_numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def show_matrix(ax, values, title: str = "", signed: bool = False, annotate: bool = False, fmt: str = "{:g}"):
    """Draw a 2-D array on `ax`: cividis for intensities, RdBu centred at 0 when `signed`.

    values: (H, W). With `annotate`, each cell shows its number (for small arrays).
    """
    v = _as_numpy(values)
    if v.ndim != 2:
        raise ValueError(f"show_matrix needs a 2-D array (H, W), got shape {v.shape}; pick one image/channel first.")
    if signed:
        lim = float(np.abs(v).max()) or 1.0
        im = ax.imshow(v, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        im = ax.imshow(v, cmap="cividis")
    if annotate:
        mid = (v.max() + v.min()) / 2
        for (i, j), number in np.ndenumerate(v):
            dark_cell = number < mid if not signed else abs(number) < 0.5 * np.abs(v).max()
            ax.text(j, i, fmt.format(number), ha="center", va="center", fontsize=8,
                    color="white" if (dark_cell and not signed) else "black")
    ax.set_title(title)
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    return im


def plot_conv(image, kernel, output, title: str = "", annotate: bool = False):
    """Input, kernel and output of one convolution side by side; returns the figure.

    image: (H, W), kernel: (kH, kW), output: (H_out, W_out). Signed arrays use RdBu centred at 0.
    """
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), gridspec_kw={"width_ratios": [3, 1.4, 3]})
    for ax, values, name in zip(axes, (image, kernel, output), ("input", "kernel", "output")):
        v = _as_numpy(values)
        im = show_matrix(ax, v, f"{name} {v.shape[0]}×{v.shape[1]}", signed=bool((v < 0).any()), annotate=annotate)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

# ---------------------------------------------------------------------------- chapters 2-4

# ---------------------------------------------------------------------------- chapter 5

# ---------------------------------------------------------------------------- chapter 6

# ---------------------------------------------------------------------------- chapter 7
