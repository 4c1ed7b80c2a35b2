"""Synthetic tasks: small data sets built from real digits, where the answer is known by construction.

Chapter 5: `two_dot_task`, whose label depends on two dots a set distance apart (an object bigger than a
small receptive field). Chapter 6: `make_localisation_set` pastes one real MNIST digit on a larger canvas
among clutter and records where it is (box and ink mask), so that a heat map can be scored against the
truth. Everything is deterministic given the arguments (own generators; the global random state is untouched).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from . import _validate
from .data import SPLITS, load_mnist

CLUTTER_SCALES = ("target", "original")


class LocalisationSet(NamedTuple):
    """Digits on a larger cluttered canvas, with the ground truth needed to score a heat map.

    images: float32 (N, 1, S, S) in [0, 1]; labels: int64 (N,); boxes: int64 (N, 4) as (x0, y0, x1, y1),
    half-open pixel bounds (columns x0..x1-1, rows y0..y1-1) of the target digit's ink;
    masks: bool (N, S, S), True on the target digit's ink (clutter and noise excluded).
    """
    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor
    masks: torch.Tensor


def _resize(digits: torch.Tensor, side: int) -> np.ndarray:
    """(M, 1, 28, 28) -> (M, side, side): bilinear with antialiasing, clipped to [0, 1]."""
    small = torch.nn.functional.interpolate(digits, size=(side, side), mode="bilinear", align_corners=False,
                                            antialias=True)
    return small[:, 0].clamp(0, 1).numpy()


def make_localisation_set(n: int, split: str = "train", canvas: int = 64, scale: tuple[int, int] = (20, 36),
                          clutter: int = 4, noise: float = 0.05, seed: int = 0,
                          clutter_scale: str = "target") -> LocalisationSet:
    """`n` real MNIST digits (from `load_mnist("5k", split)`) on an S×S canvas (S = `canvas`) among clutter.

    Each target digit is resized to a random side in `scale` (pixels, antialiased bilinear) and pasted at a
    random position. `clutter` stroke fragments are cut from *other* digits of the same split and pasted
    where they do not touch the target's box. With clutter_scale="target" (default) each other digit is
    first resized exactly like the target (same side), and the fragment (6-12 of the 28 original pixels,
    scaled alike) is cut from it: clutter and target then have the same stroke width and grey levels, so
    a network cannot tell the target from the clutter by how thin or grey its strokes are.
    clutter_scale="original" cuts the fragments from the 28-pixel digits (thicker, brighter strokes than a
    shrunk target): the earlier recipe, kept so that chapter 6 can measure the shortcut it offered.
    Finally Gaussian pixel noise of standard deviation `noise` is added and the result clipped to [0, 1].

    The ink mask is where the resized digit is at least half its own maximum; the box is the mask's
    bounding box. Deterministic: the same arguments give the same tensors. split="test" only ever uses
    test digits, so a model trained on the "train" set is scored on digits it has never seen.
    """
    who = "make_localisation_set"
    n = _validate.positive_int(n, "n", "number of images", who)
    _validate.choice(split, "split", SPLITS, who)
    canvas = _validate.positive_int(canvas, "canvas", "side of the canvas in pixels, e.g. 64", who)
    lo, hi = _validate.sizes(scale, "scale", 2, who=who, example="(smallest, largest) side of the digit, e.g. (20, 36)")
    if not 8 <= lo <= hi <= canvas:
        raise ValueError(f"{who}: need 8 <= scale[0] <= scale[1] <= canvas, got scale={scale!r}, canvas={canvas!r}; "
                         f"the digit must fit on the canvas.")
    clutter = _validate.integer(clutter, "clutter", minimum=0, meaning="fragments per image", who=who)
    _validate.number(noise, "noise", low=0.0, who=who,
                     meaning="standard deviation of the pixel noise, e.g. 0.05; 0 for none")
    seed = _validate.integer(seed, "seed", minimum=0, meaning="which data set, e.g. seed=0", who=who)
    _validate.choice(clutter_scale, "clutter_scale", CLUTTER_SCALES, who)
    digits, digit_labels = load_mnist("5k", split)
    rng = np.random.default_rng([seed, SPLITS.index(split)])  # the two splits never share a random stream
    chosen = rng.choice(len(digits), n, replace=n > len(digits))
    images = np.zeros((n, canvas, canvas), dtype=np.float32)
    masks = np.zeros((n, canvas, canvas), dtype=bool)
    boxes = np.zeros((n, 4), dtype=np.int64)

    sides = rng.integers(lo, hi + 1, size=n)
    corners = rng.integers(0, canvas - sides[:, None] + 1, size=(n, 2))  # (top, left) of each digit
    # clutter: all random draws up front (fast), then one loop that only pastes
    others = rng.integers(len(digits), size=(n, clutter))
    sizes = rng.integers(6, 13, size=(n, clutter))  # fragment side, in the 28-pixel digit's pixels
    ink_pick = rng.random((n, clutter))  # which ink pixel of the other digit the crop is centred on
    places = rng.random((n, clutter, 20, 2))  # 20 candidate places per fragment, as fractions of the range
    resized, sources = {}, {}  # resize all digits of one side length in one call
    for side in np.unique(sides):
        rows = np.flatnonzero(sides == side)
        resized.update(zip(rows.tolist(), _resize(digits[torch.from_numpy(chosen[rows])], int(side))))
        if clutter_scale == "target" and clutter:
            small = _resize(digits[torch.from_numpy(others[rows].ravel())], int(side))
            sources.update(zip(rows.tolist(), small.reshape(len(rows), clutter, int(side), int(side))))
    pixels = digits[:, 0].numpy()
    for i in range(n):
        side, top, left = int(sides[i]), int(corners[i, 0]), int(corners[i, 1])
        digit = resized[i]
        images[i, top:top + side, left:left + side] = digit
        masks[i, top:top + side, left:left + side] = digit >= 0.5 * digit.max()  # thin strokes fade when shrunk
        rows, cols = np.nonzero(masks[i])
        x0, y0, x1, y1 = boxes[i] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        for j in range(clutter):  # a crop around an ink pixel of another digit
            other = int(others[i, j])
            if other == chosen[i]:
                continue
            if clutter_scale == "target":
                source = sources[i][j]
                size = max(3, round(int(sizes[i, j]) * side / 28))
                ink_r, ink_c = np.nonzero(source >= 0.5 * source.max())
            else:
                source, size = pixels[other], int(sizes[i, j])
                ink_r, ink_c = np.nonzero(source > 0.5)
            k = int(ink_pick[i, j] * len(ink_r))
            r0 = min(max(int(ink_r[k]) - size // 2, 0), len(source) - size)
            c0 = min(max(int(ink_c[k]) - size // 2, 0), len(source) - size)
            fragment = source[r0:r0 + size, c0:c0 + size]
            for fr, fc in places[i, j]:  # the first place that does not touch the target's box
                r, c = int(fr * (canvas - size + 1)), int(fc * (canvas - size + 1))
                if c + size <= x0 or c >= x1 or r + size <= y0 or r >= y1:
                    images[i, r:r + size, c:c + size] = np.maximum(images[i, r:r + size, c:c + size], fragment)
                    break
    if noise > 0:
        images = np.clip(images + noise * rng.standard_normal(images.shape).astype(np.float32), 0, 1)
    return LocalisationSet(torch.from_numpy(images).unsqueeze(1), digit_labels[torch.from_numpy(chosen)],
                           torch.from_numpy(boxes), torch.from_numpy(masks))


# ---------------------------------------------------------------------------- chapter 5: an object bigger than a field
def two_dot_task(n: int, size: int = 16, gap: int = 6, noise: float = 0.1, seed: int = 0):
    """A task whose label depends only on a pattern of extent gap + 1 pixels: two bright dots `gap` apart.

    Returns images (n, 1, size, size) float32 and labels (n,) int64: label 0 = the second dot is `gap` rows
    below the first, label 1 = `gap` columns to the right. Positions wrap around (a torus), so each dot on its
    own looks the same in both classes: only a unit that sees both dots at once can tell the classes apart.
    Pixels: 1 at each dot plus Gaussian noise of standard deviation `noise`. Uses its own torch.Generator
    seeded with `seed`; the global random state is untouched.
    """
    who = "two_dot_task"
    n = _validate.positive_int(n, "n", "number of images", who)
    size = _validate.positive_int(size, "size", "side of the images in pixels, e.g. 16", who)
    gap = _validate.positive_int(gap, "gap", "rows or columns between the dots, e.g. 6", who)
    if not gap < size:
        raise ValueError(f"{who}: gap must be between 1 and size - 1 = {size - 1}, got {gap}.")
    _validate.number(noise, "noise", low=0.0, who=who, meaning="standard deviation of the pixel noise; 0 for none")
    seed = _validate.integer(seed, "seed", minimum=0, meaning="which data set, e.g. seed=0", who=who)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    row, col = torch.randint(0, size, (n,), generator=g), torch.randint(0, size, (n,), generator=g)
    images = noise * torch.randn(n, 1, size, size, generator=g)
    index = torch.arange(n)
    images[index, 0, row, col] += 1.0
    row2 = torch.where(labels == 0, (row + gap) % size, row)
    col2 = torch.where(labels == 1, (col + gap) % size, col)
    images[index, 0, row2, col2] += 1.0
    return images, labels
