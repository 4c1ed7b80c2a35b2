"""Figures: one small function per kind of figure; notebooks pass data, not styling.

Every function draws with matplotlib, labels its axes, uses perceptually uniform colormaps
(viridis/cividis for intensities, RdBu centred at 0 for signed values) and returns the figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
import torch


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

# ---------------------------------------------------------------------------- chapters 2-4
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


def training_curves(history, title: str = ""):
    """Loss and accuracy per epoch from `cnnbook.train.fit`'s history; returns the figure (2 axes).

    Left: training loss (running mean over each epoch). Right: training accuracy (running, as Keras prints)
    and test accuracy (measured after each epoch), in %.
    """
    needed = {"epoch", "loss", "train_acc", "test_acc"}
    if not isinstance(history, (list, tuple)) or not history or not all(
            isinstance(row, dict) and needed <= row.keys() for row in history):
        raise ValueError(f"training_curves needs the list of per-epoch dicts returned by fit (keys {sorted(needed)}), "
                         f"got {type(history).__name__} of length {len(history) if hasattr(history, '__len__') else '?'}.")
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_loss.plot(epochs, [row["loss"] for row in history], "o-", label="train (running mean)")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss (nats)")
    ax_loss.set_title("training loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [100 * row["train_acc"] for row in history], "o-", label="train (running, as Keras prints)")
    if all(row["test_acc"] is not None for row in history):
        ax_acc.plot(epochs, [100 * row["test_acc"] for row in history], "s-", label="test (after the epoch)")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title("accuracy")
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(counts, title: str = ""):
    """Confusion matrix counts (K, K), row = true class, column = predicted class, each cell annotated.

    Use `cnnbook.train.confusion_matrix(labels, preds)` to compute it. cividis, darker = fewer.
    """
    c = _nonempty(counts, "counts", "plot_confusion_matrix",
                  "compute it with cnnbook.train.confusion_matrix(labels, preds)")
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"plot_confusion_matrix needs a square (K, K) array of counts, got shape {c.shape}; "
                         f"compute it with cnnbook.train.confusion_matrix(labels, preds).")
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    im = ax.imshow(c, cmap="cividis")
    for (i, j), n in np.ndenumerate(c):
        ax.text(j, i, f"{int(n)}", ha="center", va="center", fontsize=8,
                color="black" if n > 0.5 * c.max() else "white")
    ax.set_xticks(range(len(c)))
    ax.set_yticks(range(len(c)))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="number of test images")
    fig.tight_layout()
    return fig


def plot_prediction(image, probabilities, true_label=None, title: str = ""):
    """One digit and the model's probability for each class, side by side; returns the figure (2 axes).

    image: (H, W) or (1, H, W); probabilities: (K,) summing to 1 (e.g. model(x).softmax(1)[0]).
    """
    img = _nonempty(image, "image", "plot_prediction", "pass one image, e.g. images[i, 0]")
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    p = _nonempty(probabilities, "probabilities", "plot_prediction",
                  "pass one probability per class, e.g. model(x).softmax(1)[0]")
    if img.ndim != 2:
        raise ValueError(f"plot_prediction needs one image (H, W), got shape {img.shape}; pass images[i, 0].")
    if p.ndim != 1:
        raise ValueError(f"plot_prediction needs one probability vector (K,), got shape {p.shape}; "
                         f"pass model(x).softmax(1)[0] for the first image.")
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8, 3), gridspec_kw={"width_ratios": [1, 2]})
    ax_img.imshow(img, cmap="gray", vmin=0, vmax=1)
    ax_img.set_xlabel("column (pixel)")
    ax_img.set_ylabel("row (pixel)")
    ax_img.set_title("input" if true_label is None else f"true digit {int(true_label)}")
    colors = ["tab:orange" if k == int(p.argmax()) else "tab:blue" for k in range(len(p))]
    ax_bar.bar(range(len(p)), 100 * p, color=colors)
    ax_bar.set_xticks(range(len(p)))
    ax_bar.set_ylim(0, 100)
    ax_bar.set_xlabel("digit")
    ax_bar.set_ylabel("probability (%)")
    ax_bar.set_title(f"predicted {int(p.argmax())} with {p.max():.0%}")
    fig.suptitle(title)
    fig.tight_layout()
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


# ---------------------------------------------------------------------------- chapter 5
def _draw_field(ax, box, color: str = "#f0e442", label: str | None = None, style: str = "-") -> None:
    """Outline the inclusive pixel box (top, left, bottom, right) on an imshow axis."""
    top, left, bottom, right = box
    ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                               edgecolor=color, linewidth=1.6, linestyle=style, label=label))


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

# ---------------------------------------------------------------------------- chapter 6
def _draw_box(ax, box, color: str, style: str, label: str | None = None) -> None:
    x0, y0, x1, y1 = (float(v) for v in _as_numpy(box))
    if x1 > x0 and y1 > y0:  # half-open pixel bounds -> pixel edges at +-0.5
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color,
                                   linestyle=style, linewidth=1.5, label=label))


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


def _finish_lines(fig, ax, xlabel: str, ylabel: str, ylim: tuple, title: str):
    """Label, bound, grid and title a line plot with a legend; returns the figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
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


# ---------------------------------------------------------------------------- chapter 7
def plot_lines(x, ys: dict, xlabel: str, ylabel: str, title: str = "", logx: bool = False, logy: bool = False,
               styles: dict | None = None):
    """One line per entry of ys = {label: (S,) values} against x (S,) (or against 1..S when x is None).

    For loss curves, gradient norms per layer and accuracy against data size. styles: {label: "--"}.
    Returns the figure.
    """
    _nonempty_dict(ys, "ys", "plot_lines", "pass {label: values}, one line each")
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(ys), 2)))
    for color, (label, values) in zip(colors, ys.items()):
        v = _as_numpy(values)
        xs = np.arange(1, len(v) + 1) if x is None else _as_numpy(x)
        ax.plot(xs, v, (styles or {}).get(label, "-"), color=color, label=label, marker="o" if len(v) < 12 else None)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_excitations(excitations: dict, title: str = ""):
    """Grouped bars of SE channel weights: excitations = {label: (C,) mean scales in (0, 1)}. Returns the figure."""
    _nonempty_dict(excitations, "excitations", "plot_excitations", "pass {label: (C,) channel scales}")
    fig, ax = plt.subplots(figsize=(7, 3.4))
    colors = plt.cm.viridis(np.linspace(0.15, 0.85, max(len(excitations), 2)))
    width = 0.8 / max(len(excitations), 1)
    for i, (color, (label, values)) in enumerate(zip(colors, excitations.items())):
        v = _as_numpy(values)
        ax.bar(np.arange(len(v)) + i * width, v, width, color=color, label=label)
    ax.set_xlabel("channel")
    ax.set_ylabel("excitation s (scale, 0 to 1)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the bars, never over them
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- chapter 3b
def plot_trajectories(xs, ys, surface, paths: dict, title: str = ""):
    """Optimiser paths on a 2-D loss surface: contour lines of `surface` and one line per optimiser.

    xs: (W,), ys: (H,) grid coordinates; surface: (H, W) loss values on that grid (drawn on a log scale);
    paths: {name: (T, 2) points (x, y), start first}. The start is a black dot, each end a cross.
    Returns the figure.
    """
    if not isinstance(paths, dict) or not paths:
        raise ValueError("plot_trajectories needs paths as a non-empty dict {name: (T, 2) points}.")
    z = _as_numpy(surface)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    levels = np.geomspace(max(z.min(), 1e-3), z.max(), 14)
    ax.contour(_as_numpy(xs), _as_numpy(ys), z, levels=levels, cmap="cividis", linewidths=0.8)
    colors = plt.cm.viridis(np.linspace(0, 0.85, max(len(paths), 2)))
    for color, (name, points) in zip(colors, paths.items()):
        p = _as_numpy(points)
        ax.plot(p[:, 0], p[:, 1], "-", color=color, label=name, linewidth=1.6, marker=".", markersize=3)
        ax.plot(p[-1, 0], p[-1, 1], "x", color=color, markersize=9, markeredgewidth=2)
    first = _as_numpy(next(iter(paths.values())))[0]
    ax.plot(first[0], first[1], "o", color="black", label="start")
    ax.set_xlabel("parameter $w_1$")
    ax.set_ylabel("parameter $w_2$")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_seed_bars(panels: dict, title: str = ""):
    """Mean ± standard deviation over seeds (a diamond with error bars), each seed's value as a dot.

    panels: {y-axis label: {setting name: [one value per seed]}}, one subplot per panel, side by side.
    The y axis fits the data (it does not start at 0), so differences of a point or two stay visible.
    Returns the figure.
    """
    if not isinstance(panels, dict) or not panels or not all(isinstance(v, dict) and v for v in panels.values()):
        raise ValueError("plot_seed_bars needs panels = {axis label: {setting: [value per seed]}}, none empty.")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, (label, groups) in zip(axes[0], panels.items()):
        colors = plt.cm.viridis(np.linspace(0.1, 0.85, max(len(groups), 2)))
        for i, (color, values) in enumerate(zip(colors, groups.values())):
            v = _as_numpy(values).astype(float)
            ax.errorbar(i, v.mean(), yerr=v.std(ddof=1) if len(v) > 1 else None, fmt="D", color=color,
                        markersize=8, capsize=5, elinewidth=2)
            ax.plot(np.full(len(v), i) + np.linspace(-0.15, 0.15, len(v)), v, "k.", markersize=5)
        ax.set_xticks(range(len(groups)), list(groups), rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_mean_and_spread(x, runs: dict, xlabel: str, ylabel: str, title: str = "", logx: bool = False):
    """Mean ± sample standard deviation over seeds: runs = {label: (seeds, S) values} against x (S,).

    One line with error bars per label, for comparisons between trainings repeated over seeds (chapter 7c).
    Returns the figure.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    colors = plt.cm.viridis(np.linspace(0, 0.75, max(len(runs), 2)))
    xs = _as_numpy(x)
    for color, (label, values) in zip(colors, runs.items()):
        v = _as_numpy(values)
        if v.ndim != 2 or v.shape[1] != len(xs) or v.shape[0] < 2:
            raise ValueError(f"runs[{label!r}] must be (seeds >= 2, {len(xs)}) values, one row per seed, "
                             f"got shape {v.shape}.")
        ax.errorbar(xs, v.mean(0), yerr=v.std(0, ddof=1), color=color, marker="o", capsize=4,
                    label=f"{label} (mean ± std, {v.shape[0]} seeds)")
    ax.set_xscale("log" if logx else "linear")
    ax.set_xticks(xs, [f"{value:g}" for value in xs])           # the measured sizes, not powers of ten
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- chapter 1: kernels on any image
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
