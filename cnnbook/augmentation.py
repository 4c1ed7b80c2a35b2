"""Data augmentation for digits: move and turn images, at random from a seeded generator (chapter 3b).

`move` shifts and rotates each image by given amounts (bilinear resampling); `shift_rotate` draws those
amounts from a `torch.Generator`, the augmentation the chapter measures against over-fitting; pass it to
`cnnbook.train.fit(augment=...)`. Nothing here touches the global random state. (The face crops of
chapter 6b have their own flips and shifts: `cnnbook.photos.augment`.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _validate


def move(images: torch.Tensor, shift_x, shift_y, degrees) -> torch.Tensor:
    """Images shifted by (shift_x, shift_y) pixels (right, down) and turned `degrees` clockwise (as shown).

    images: (N, C, H, W) float; shift_x, shift_y, degrees: numbers or (N,) tensors, one per image.
    Bilinear resampling about the image centre; pixels that come from outside the image are 0. A
    whole-pixel shift without rotation moves every pixel (as torch.roll would, with zeros instead of
    wrap-around), up to float rounding (about 1e-6).
    """
    _validate.tensor(images, "images", "move", "(N, C, H, W); for one image use image[None]", dims=4, floating=True)
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
    _validate.tensor(images, "images", "shift_rotate", "(N, C, H, W); for one image use image[None]", dims=4, floating=True)
    _validate.generator(generator, "generator", "shift_rotate")
    for name, value in (("max_shift", max_shift), ("max_degrees", max_degrees)):
        _validate.number(value, name, low=0.0, high=180.0, high_open=True, who="shift_rotate")
    draws = torch.rand(len(images), 3, generator=generator, dtype=torch.float64) * 2 - 1  # in [-1, 1)
    if max_shift == 0 and max_degrees == 0:
        return images.clone()
    return move(images, draws[:, 1] * max_shift, draws[:, 2] * max_shift, draws[:, 0] * max_degrees)
