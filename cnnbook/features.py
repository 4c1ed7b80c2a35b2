"""Feature maps: what the channels of a trained network respond to.

Used by chapter 4. Three measurements, each returning tensors (drawing is `cnnbook.viz`'s job):
- `response_correlation` / `edge_like`: does a learned 3×3 filter behave like an edge detector or a blur,
  judged by its responses on real images, not by its nine weights;
- `top_patches`: the image patches that excite one channel most, cropped at the unit's receptive field;
- `class_means` / `class_selectivity`: how much a channel's mean response depends on the class
  (the class selectivity index of Morcos et al. 2018).
Every function works on the device its tensors are on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _validate
from .conv import kernel_bank


def edge_kernels() -> dict[str, torch.Tensor]:
    """Five 3×3 reference kernels (float32) by name: four edges (vertical, horizontal, two diagonals) and a blur.

    The order matters to `edge_like`: the first four are edges, the last is the box blur. They come from
    `cnnbook.conv.kernel_bank`, the book's one bank of hand-designed kernels, under chapter 4's short names.
    """
    bank = kernel_bank()
    names = {"vertical": "vertical edge", "horizontal": "horizontal edge", "diagonal /": "diagonal /",
             "diagonal \\": "diagonal \\", "blur": "box blur"}
    return {short: bank[name] for short, name in names.items()}


def _filters(w, name: str) -> torch.Tensor:
    w = _validate.tensor(w, name, who="response_correlation", layout="(C, 1, k, k)", dims=4, floating=True)
    if w.shape[1] != 1 or w.shape[2] != w.shape[3] or w.shape[2] % 2 == 0:
        raise ValueError(f"response_correlation: {name} must be square filters of odd size on one input channel "
                         f"(C, 1, k, k), got shape {tuple(w.shape)} — for one kernel (k, k) pass kernel[None, None].")
    return w


def _images(images, who: str) -> torch.Tensor:
    images = _validate.tensor(images, "images", who=who, layout="(N, 1, H, W)", dims=4, floating=True)
    if images.shape[1] != 1:
        raise ValueError(f"{who}: images must be grayscale (N, 1, H, W), got shape {tuple(images.shape)}.")
    _validate.not_empty(len(images), "images", who=who, fix="pass at least one image, e.g. x_test[:100]")
    return images


def response_correlation(weights_a: torch.Tensor, weights_b: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Pearson correlation (A, B) between the responses of filters a and b on the same images.

    weights_a: (A, 1, k, k), weights_b: (B, 1, k', k') with odd k, k'; images: (N, 1, H, W).
    Each filter is run over every image ('same' padding); its N·H·W responses are centred and scaled to unit
    length, so entry (i, j) = Σ r̂_a,i · r̂_b,j is the correlation of filter i's and filter j's responses.
    A filter whose response is constant has no direction: its row or column is 0.
    """
    a, b = _filters(weights_a, "weights_a"), _filters(weights_b, "weights_b")
    images = _images(images, "response_correlation")

    def standardised(w):
        r = F.conv2d(images, w.to(images), padding=w.shape[-1] // 2).transpose(0, 1).reshape(len(w), -1)
        r = r - r.mean(1, keepdim=True)
        return r / r.norm(dim=1, keepdim=True).clamp_min(1e-12)

    return standardised(a) @ standardised(b).T


def edge_like(filters: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Bool (C,): True where a filter's best |correlation| with an edge kernel beats its |correlation| with a blur.

    filters: (C, 1, 3, 3), e.g. a first layer's weight; images: (N, 1, H, W). The sign does not matter
    (a filter and its negative find the same edge), hence the absolute value. Kernels: `edge_kernels()`.
    """
    bank = torch.stack(list(edge_kernels().values()))[:, None]
    corr = response_correlation(filters, bank, images).abs()
    return corr[:, :4].amax(1) > corr[:, 4]


def top_patches(activations: torch.Tensor, images: torch.Tensor, size: int, jump: int, first: int,
                k: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The k image patches that excite one channel most: (patches (k, size, size), image index (k,), values (k,)).

    activations: (N, H, W), one channel's feature map on each of the N images; images: (N, 1, H_in, W_in).
    Unit (i, j) sees the input square of side `size` whose top-left pixel is (first + i·jump, first + j·jump)
    (its receptive field; `first` may be negative: the field then starts in the padding). The k largest
    activations over all images and positions are cropped from their images, zero (black) outside the image,
    largest first.
    """
    who = "top_patches"
    activations = _validate.tensor(activations, "activations", who=who, layout="(N, H, W)", dims=3)
    images = _images(images, who)
    if len(activations) != len(images):
        raise ValueError(f"top_patches: {len(activations)} feature maps but {len(images)} images; pass one "
                         f"channel's maps on the same images, e.g. acts[layer][:, channel].")
    size = _validate.positive_int(size, "size", "the receptive field's side in pixels", who=who)
    jump = _validate.positive_int(jump, "jump", "input pixels between neighbouring units", who=who)
    first = _validate.integer(first, "first", minimum=-size, meaning="the first unit's top row", who=who)
    k = _validate.positive_int(k, "k", "how many patches", who=who)
    if k > activations.numel():
        raise ValueError(f"top_patches: k={k} but the maps hold only {activations.numel()} units; lower k.")
    n_images, height, width = activations.shape
    values, flat = activations.reshape(-1).topk(k)
    n, rest = flat // (height * width), flat % (height * width)
    rows, cols = first + (rest // width) * jump + size, first + (rest % width) * jump + size
    padded = F.pad(images[:, 0], (size, size, size, size))
    patches = torch.stack([padded[n[t], rows[t]:rows[t] + size, cols[t]:cols[t] + size] for t in range(k)])
    return patches, n, values


def _class_activations(activations, labels, num_classes: int, who: str):
    activations = _validate.tensor(activations, "activations", who=who, layout="(N, C, H, W)", dims=4,
                                 floating=True)
    labels = _validate.tensor(labels, "labels", who=who, layout="(N,)", dims=1)
    num_classes = _validate.positive_int(num_classes, "num_classes", "the number of classes, e.g. 10", who=who)
    if labels.is_floating_point() or len(labels) != len(activations):
        raise ValueError(f"{who}: labels must be (N,) integer class indices, one per image ({len(activations)} "
                         f"images), got {labels.dtype} of shape {tuple(labels.shape)}.")
    counts = torch.bincount(labels.long().cpu(), minlength=num_classes)
    if len(counts) > num_classes or (counts == 0).any():
        raise ValueError(f"{who}: every class 0..{num_classes - 1} needs at least one image and no label may be "
                         f"larger; images per class: {counts.tolist()}.")
    return activations, labels.to(activations.device)


def class_means(activations: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """(num_classes, C): entry (d, c) = channel c's activation averaged over its positions and the images of class d.

    activations: (N, C, H, W); labels: (N,) integer classes, each of 0..num_classes-1 present at least once.
    """
    activations, labels = _class_activations(activations, labels, num_classes, "class_means")
    return torch.stack([activations[labels == d].mean((0, 2, 3)) for d in range(num_classes)])


def class_selectivity(activations: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Class selectivity index per channel (C,): SI = (μ_max − μ̄_rest) / (μ_max + μ̄_rest).

    μ_d = `class_means` (a channel's mean activation on class d), μ_max the largest, μ̄_rest the mean of the
    other num_classes − 1. 0: the channel responds equally to every class; 1: to one class only. Needs
    non-negative activations (after a ReLU); a channel silent on every class gets 0.
    """
    _validate.integer(num_classes, "num_classes", minimum=2, meaning="the number of classes, e.g. 10",
                    who="class_selectivity")
    activations, labels = _class_activations(activations, labels, num_classes, "class_selectivity")
    if (activations < 0).any():
        raise ValueError("class_selectivity needs non-negative activations (after a ReLU), got negative values — "
                         "pass the output of a block that ends in ReLU (and pooling), e.g. model.activations(x).")
    mu = class_means(activations, labels, num_classes)
    top = mu.amax(0)
    rest = (mu.sum(0) - top) / (num_classes - 1)
    return (top - rest) / (top + rest).clamp_min(1e-12)
