"""Figures of training (chapters 3, 3b and 7): curves, confusion matrices, predictions, comparisons over seeds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ._common import _as_numpy, _nonempty, _nonempty_dict, _finish_lines


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
    return _finish_lines(fig, ax, xlabel, ylabel, None, title)


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
    return _finish_lines(fig, ax, xlabel, ylabel, None, title)
