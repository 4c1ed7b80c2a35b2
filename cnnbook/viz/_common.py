"""Helpers shared by the figure modules (private): arrays, empty-input checks, grids, boxes, line finishing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator


def _as_numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _nonempty(values, name: str, who: str, fix: str) -> np.ndarray:
    """`values` as an array, or a ValueError naming the function and argument if it holds nothing to draw."""
    v = _as_numpy(values)
    if v.size == 0:
        raise ValueError(f"{who}: {name} is empty (shape {v.shape}), so there is nothing to draw; {fix}.")
    return v


def _nonempty_dict(d, name: str, who: str, fix: str) -> None:
    if not isinstance(d, dict) or not d:
        raise ValueError(f"{who}: {name} must be a non-empty dict {{label: values}}, got {d!r:.60}; {fix}.")
    for label, values in d.items():
        _nonempty(values, f"{name}[{label!r}]", who, fix)


def _integer_ticks(ax) -> None:
    """Rows and columns of an image are whole numbers: no 2.5 on the axes."""
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))


def _grid(n: int, ncols: int, panel: float = 1.1, extra_height: float = 0.6):
    """A figure with exactly n axes laid out in rows of ncols (unused cells removed)."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 0.4, (panel + 0.3) * nrows + extra_height),
                             squeeze=False)  # + 0.3 inch per row leaves room for the panel titles
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, list(axes.flat[:n])


def _stack(values, name: str, example: str) -> np.ndarray:
    """(N, H, W) or (N, 1, H, W) -> (N, H, W) NumPy array, with a teaching error otherwise."""
    v = _as_numpy(values)
    if v.ndim == 4 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 3 or len(v) == 0:
        raise ValueError(f"{name} needs a non-empty stack (N, H, W) or (N, 1, H, W), got shape {v.shape}; "
                         f"{example}")
    return v


def _draw_box(ax, box, color: str, style: str, label: str | None = None) -> None:
    x0, y0, x1, y1 = (float(v) for v in _as_numpy(box))
    if x1 > x0 and y1 > y0:  # half-open pixel bounds -> pixel edges at +-0.5
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color,
                                   linestyle=style, linewidth=1.5, label=label))


def _draw_field(ax, box, color: str = "#f0e442", label: str | None = None, style: str = "-") -> None:
    """Outline the inclusive pixel box (top, left, bottom, right) on an imshow axis."""
    top, left, bottom, right = box
    ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                               edgecolor=color, linewidth=1.6, linestyle=style, label=label))


def _finish_lines(fig, ax, xlabel: str, ylabel: str, ylim: tuple | None, title: str):
    """Label, bound (unless ylim is None), grid and title a line plot with a legend; returns the figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig
