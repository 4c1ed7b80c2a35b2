"""Figures of receptive fields (chapter 5): gradient support, effective fields, fields drawn on an image."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ._common import _as_numpy, _nonempty, _draw_field


def plot_gradient_support(panels, title: str = ""):
    """Where the gradient of one output unit is non-zero, with the analytic field outlined.

    panels: list of (name, values (H, W), box) where values is the gradient (or mask) of one output unit with
    respect to the input and box = (top, left, bottom, right) the analytic receptive field. Log scale, cividis.
    """
    if not panels:
        raise ValueError("plot_gradient_support: panels is empty; pass a list of (name, values (H, W), box).")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    for ax, (name, values, box) in zip(axes[0], panels):
        v = _as_numpy(values).astype(float)
        shown = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
        im = ax.imshow(shown, cmap="cividis")
        _draw_field(ax, box, label="analytic field")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("input column (pixels)")
        ax.set_ylabel("input row (pixels)")
        fig.colorbar(im, ax=ax, shrink=0.75, label="log10 gradient")
    axes[0][0].legend(loc="lower left", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_effective_fields(fields: dict, title: str = "", crop: int | None = None):
    """Effective receptive fields side by side: {name: (map (H, W), theoretical box)}; viridis, max-normalised.

    crop: show only the central crop×crop window (all maps must have the same size).
    """
    if not isinstance(fields, dict) or not fields:
        raise ValueError("plot_effective_fields: fields is empty; pass {name: (map (H, W), box)}.")
    fig, axes = plt.subplots(1, len(fields), figsize=(2.7 * len(fields), 3.1), squeeze=False)
    for ax, (name, (values, box)) in zip(axes[0], fields.items()):
        v = _as_numpy(values).astype(float)
        off = (0, 0)
        if crop is not None:
            off = ((v.shape[0] - crop) // 2, (v.shape[1] - crop) // 2)
            v = v[off[0]:off[0] + crop, off[1]:off[1] + crop]
        ax.imshow(v / v.max(), cmap="viridis", vmin=0, vmax=1)
        _draw_field(ax, (box[0] - off[0], box[1] - off[1], box[2] - off[0], box[3] - off[1]), color="white",
                    style="--")
        ax.set_xlim(-0.5, v.shape[1] - 0.5)
        ax.set_ylim(v.shape[0] - 0.5, -0.5)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("input column (pixels)")
    axes[0][0].set_ylabel("input row (pixels)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_field_on_image(image, boxes, title: str = ""):
    """An image (H, W) with receptive fields outlined: boxes = [(box, label), ...], box = (top, left, bottom, right)
    in pixels (parts outside the image are padding and are drawn clipped)."""
    v = _nonempty(image, "image", "plot_field_on_image", "pass one image (H, W), e.g. images[0, 0]")
    if v.ndim != 2:
        raise ValueError(f"plot_field_on_image needs one image (H, W), got shape {v.shape}; use images[0, 0].")
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.imshow(v, cmap="cividis")
    colors = ["#cc79a7", "#56b4e9", "#e69f00", "#ffffff", "#009e73"]   # visible on both ends of cividis
    for (box, label), color in zip(boxes, colors * 4):
        clipped = (max(box[0], 0), max(box[1], 0), min(box[2], v.shape[0] - 1), min(box[3], v.shape[1] - 1))
        _draw_field(ax, clipped, color=color, label=label)
    ax.set_xlim(-0.5, v.shape[1] - 0.5)
    ax.set_ylim(v.shape[0] - 0.5, -0.5)
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    if boxes:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=7, ncol=2)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
