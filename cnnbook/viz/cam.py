"""Figures of class activation maps and their scores (chapters 6 and 6b)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ._common import _as_numpy, _nonempty, _nonempty_dict, _draw_box, _finish_lines


def plot_cam_grid(images, maps: dict, boxes: dict | None = None, true_boxes=None, row_titles=None,
                  title: str = ""):
    """Each row: the image (true box dashed white), then one heat-map overlay per method (its box in orange).

    images: (R, H, W); maps: {method name: (R, H, W) heat maps at the image's resolution};
    boxes: {method name: (R, 4)} boxes (x0, y0, x1, y1) from the maps; true_boxes: (R, 4). Returns the figure.
    """
    images = _as_numpy(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (R, H, W), got shape {images.shape}; use images[:, 0] for (N, 1, H, W).")
    _nonempty(images, "images", "plot_cam_grid", "pass at least one image, e.g. images[:4, 0]")
    rows, cols = len(images), 1 + len(maps)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.9 * rows + 0.5), squeeze=False)
    for r in range(rows):
        ax = axes[r, 0]
        ax.imshow(images[r], cmap="gray", vmin=0, vmax=1)
        if true_boxes is not None:
            _draw_box(ax, true_boxes[r], "white", "--")
        ax.set_ylabel(row_titles[r] if row_titles is not None else f"image {r}", fontsize=8)
        for c, (name, heat) in enumerate(maps.items(), start=1):
            h = _as_numpy(heat[r])
            if h.shape != images[r].shape:
                raise ValueError(f"map {name!r} has shape {h.shape} but the image is {images[r].shape}; "
                                 f"upsample the map to the input size (upsample=True).")
            ax = axes[r, c]
            ax.imshow(images[r], cmap="gray", vmin=0, vmax=1)
            ax.imshow(h / (h.max() if h.max() > 0 else 1), cmap="viridis", alpha=0.55, vmin=0, vmax=1)
            if true_boxes is not None:
                _draw_box(ax, true_boxes[r], "white", "--")
            if boxes is not None and name in boxes:
                _draw_box(ax, boxes[name][r], "orange", "-")
            if r == 0:
                ax.set_title(name, fontsize=9)
        if r == 0:
            axes[0, 0].set_title("input", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1, 0].set_xlabel(f"{images.shape[-1]} × {images.shape[-2]} pixels", fontsize=8)
    fig.suptitle(title + "\n(white dashed: true box; orange: box from the map; colour: heat / its max)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def plot_threshold_sensitivity(thresholds, scores: dict, title: str = ""):
    """Box accuracy (IoU >= 0.5) against the threshold (fraction of the map's max) that cuts out the box.

    thresholds: (T,); scores: {method name: (T,) accuracies in [0, 1]}. Returns the figure.
    """
    _nonempty(thresholds, "thresholds", "plot_threshold_sensitivity", "pass the thresholds that were tried")
    _nonempty_dict(scores, "scores", "plot_threshold_sensitivity", "pass {method name: accuracies}")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    styles = ["-o", "-s", "-^", "--", ":"]
    for (name, values), style in zip(scores.items(), styles * 3):
        ax.plot(_as_numpy(thresholds), 100 * _as_numpy(values), style, label=name, markersize=4)
    return _finish_lines(fig, ax, "threshold (fraction of the heat map's maximum)", "box accuracy, IoU ≥ 0.5 (%)",
                         (0, 100), title)


def plot_deletion_curves(fractions, curves: dict, title: str = ""):
    """Mean probability of the target class as the hottest pixels are deleted, one line per map.

    fractions: (S,) in [0, 1]; curves: {name: (S,) mean probabilities}; a name containing "(no " (a baseline
    such as "random ink (no model)") is drawn dashed. Returns the figure.
    """
    _nonempty(fractions, "fractions", "plot_deletion_curves", "pass the fractions of pixels deleted")
    _nonempty_dict(curves, "curves", "plot_deletion_curves", "pass {name: mean probabilities}")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, values in curves.items():  # baselines (names with "(no model)" / "(no image)") dashed
        ax.plot(_as_numpy(fractions) * 100, _as_numpy(values), "--" if "(no " in name else "-", label=name)
    return _finish_lines(fig, ax, "pixels deleted, in each order, hottest first (%)", "mean p(target class)", (0, 1),
                         title)
