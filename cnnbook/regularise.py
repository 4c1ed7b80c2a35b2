"""Training well: a validation split, small stratified subsets, and seeded data augmentation.

Used by chapter 3b. `class_subset` picks the same number of examples of every class with a seeded
generator; `validation_split` carves a validation set out of the training data with it, so that choices
(learning rate, when to stop, which regulariser) are made without looking at the test set.
`shift_rotate` moves and turns each image by a small random amount (bilinear resampling), the data
augmentation the chapter measures against over-fitting. None of them touches the global random state.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F


def _check_labels(labels, who: str) -> None:
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.is_floating_point():
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise TypeError(f"{who} needs labels as a 1-D integer tensor (N,) of class indices, got {shape} — "
                        f"pass the second element of load_mnist(), e.g. labels.long().")


def _check_generator(generator, who: str) -> None:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{who} needs a torch.Generator, got {type(generator).__name__} — "
                        f"create one with torch.Generator().manual_seed(0).")


def class_subset(labels: torch.Tensor, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of `per_class` examples of every class, drawn without replacement: (C * per_class,) int64.

    labels: (N,) with classes 0..C-1. The indices are sorted (class by class in the embedded MNIST split),
    so the subset keeps the data's order; the draw depends only on `generator`.
    """
    _check_labels(labels, "class_subset")
    _check_generator(generator, "class_subset")
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive int (examples of each class), got {per_class!r}.")
    picks = []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        members = torch.nonzero(labels == c).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} example(s), fewer than per_class={per_class}; "
                             f"ask for at most {len(members)}.")
        picks.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    if not picks:
        raise ValueError("class_subset got no labels; pass the labels of a non-empty data set.")
    return torch.cat(picks).sort().values


def validation_split(images: torch.Tensor, labels: torch.Tensor, per_class: int, seed: int = 0):
    """Split training data into ((train images, labels), (validation images, labels)), stratified.

    The validation part holds `per_class` examples of each class, drawn with a generator seeded by `seed`;
    the training part holds all the others. No example is in both (each index is used once).
    """
    if not isinstance(images, torch.Tensor) or len(images) != len(labels):
        raise ValueError(f"images must be a tensor with one entry per label, got "
                         f"{type(images).__name__} of length {len(images) if hasattr(images, '__len__') else '?'}"
                         f" for {len(labels)} labels.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    val = class_subset(labels, per_class, torch.Generator().manual_seed(seed))
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[val] = False
    return (images[keep], labels[keep]), (images[val], labels[val])


def move(images: torch.Tensor, shift_x, shift_y, degrees) -> torch.Tensor:
    """Images shifted by (shift_x, shift_y) pixels (right, down) and turned `degrees` clockwise (as shown).

    images: (N, C, H, W) float; shift_x, shift_y, degrees: numbers or (N,) tensors, one per image.
    Bilinear resampling about the image centre; pixels that come from outside the image are 0. A
    whole-pixel shift without rotation moves every pixel (as torch.roll would, with zeros instead of
    wrap-around), up to float rounding (about 1e-6).
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"move needs float images of shape (N, C, H, W), got {shape} — "
                        f"for one image use image[None].")
    n, _, h, w = images.shape
    values = [torch.as_tensor(v, dtype=torch.float64).expand(n) for v in (shift_x, shift_y, degrees)]
    shift_x, shift_y, angle = values[0], values[1], torch.deg2rad(values[2])
    # affine_grid maps each output pixel to the input point it samples, in coordinates where the image
    # spans [-1, 1] (one pixel is 2 / width). Moving content by +t means sampling at -t.
    cos, sin = torch.cos(angle), torch.sin(angle)
    tx, ty = -shift_x * 2 / w, -shift_y * 2 / h
    theta = torch.stack([torch.stack([cos, sin, tx], 1), torch.stack([-sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(images.dtype).to(images.device), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def shift_rotate(images: torch.Tensor, generator: torch.Generator, max_shift: float = 1.0,
                 max_degrees: float = 15.0) -> torch.Tensor:
    """Each image moved by up to `max_shift` pixels in x and y and turned by up to `max_degrees`, at random.

    images: (N, C, H, W) float -> (N, C, H, W). Shifts and angles are uniform in [-max, max], one draw per
    image from `generator` (three numbers per image, in the order angle, x, y), then `move`.
    max_shift=0 and max_degrees=0 return a copy of the images.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"shift_rotate needs float images of shape (N, C, H, W), got {shape} — "
                        f"for one image use image[None].")
    _check_generator(generator, "shift_rotate")
    for name, value in (("max_shift", max_shift), ("max_degrees", max_degrees)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 180:
            raise ValueError(f"{name} must be a number in [0, 180), got {value!r}.")
    draws = torch.rand(len(images), 3, generator=generator, dtype=torch.float64) * 2 - 1  # in [-1, 1)
    if max_shift == 0 and max_degrees == 0:
        return images.clone()
    return move(images, draws[:, 1] * max_shift, draws[:, 2] * max_shift, draws[:, 0] * max_degrees)


def tiny_cnn(channels: int = 8, pooling: bool = True, dropout: float = 0.0, batch_norm: bool = False):
    """The chapter's small CNN for 14×14 digits: two conv blocks, then one linear layer.

    x: (N, 1, 14, 14) -> logits (N, 10). Each block halves the size, 14 -> 7 -> 3, in one of two ways with
    the same parameters: pooling=True: Conv 3×3 (padding 1) → [BatchNorm] → ReLU → MaxPool 2;
    pooling=False: Conv 3×3 with stride 2 (padding 1, then 0) → [BatchNorm] → ReLU. So the two variants
    have exactly the same parameter count (equal capacity); only the way they reduce the size differs.
    channels c gives c and 2c feature maps; head: Flatten → [Dropout(dropout)] → Linear(2c·3·3, 10).
    """
    import torch.nn as nn

    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive int (maps in the first block), got {channels!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout is a probability in [0, 1), got {dropout!r}.")
    layers, c_in = [], 1
    for c_out, padding in ((channels, 1), (2 * channels, 0)):
        if pooling:
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1))
        else:
            layers.append(nn.Conv2d(c_in, c_out, 3, stride=2, padding=padding))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU())
        if pooling:
            layers.append(nn.MaxPool2d(2))
        c_in = c_out
    layers.append(nn.Flatten())
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(2 * channels * 3 * 3, 10))
    return nn.Sequential(*layers)
