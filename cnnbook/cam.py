"""Class activation maps: where a CNN's evidence for a class lies in the image, and how to score it.

Used by chapter 6. `cam` is the original class activation map (Zhou et al. 2016) for networks that end in
global average pooling + one linear layer; `grad_cam` (Selvaraju et al. 2017) works at any conv layer of
any differentiable classifier, using gradients. The rest turns heat maps into numbers:
`box_from_heatmap` + `iou` (box accuracy), `pointing_game`, `deletion_curve` / `deletion_auc`, and
`rank_correlation` for the model-randomisation sanity check (Adebayo et al. 2018).

Both map functions explain the model as it predicts, so they require `model.eval()` (in training mode
BatchNorm would use the batch's statistics and Dropout would drop units).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import ndimage

from . import _validate


# ---------------------------------------------------------------------------- checks
def _check_model(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if model.training:
        raise ValueError("the model is in training mode; call model.eval() first, so that BatchNorm uses its "
                         "running statistics and Dropout keeps every unit (a map should explain the model as "
                         "it predicts).")
    return model


def _check_images(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        got = f"{x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a float batch of images (N, C, H, W), got {got}; "
                         f"for one image use x[None] (or images[i:i+1]).")
    bad = (~torch.isfinite(x)).sum().item()
    if bad:
        raise ValueError(f"x contains {bad} NaN or infinite pixel values: the images must be finite before a map "
                         f"can explain them. Find where they come from (torch.isnan(x).nonzero()) and fix the data, "
                         f"or replace them, e.g. torch.nan_to_num(x, nan=0.0).")
    return x


def _check_target(target, n: int, num_classes: int) -> torch.Tensor:
    """int or (N,) integer tensor/list -> int64 (N,) class indices, each in [0, num_classes)."""
    if isinstance(target, (bool, np.bool_)):
        raise TypeError("target must be a class index (int) or an (N,) tensor of them, got a bool.")
    if isinstance(target, (float, np.floating)):
        raise TypeError(f"target must be a class index (int) or an (N,) tensor of them, got {target!r} — "
                        f"pass int(target).")
    t = torch.full((n,), int(target), dtype=torch.int64) if _validate.is_int(target) else torch.as_tensor(target)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise TypeError(f"target must hold integer class indices, got dtype {t.dtype} — call .long() on it.")
    if t.shape != (n,):
        raise ValueError(f"target must be an int or an integer tensor of shape ({n},) (one class per image), "
                         f"got dtype {t.dtype} and shape {tuple(t.shape)}.")
    if t.numel() and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"target classes must lie in [0, {num_classes}), got {t.min().item()}..{t.max().item()}.")
    return t.long()


def _upsample(maps: torch.Tensor, size) -> torch.Tensor:
    """(N, h, w) -> (N, H, W), bilinear (align_corners=False), as in Zhou et al. and Selvaraju et al."""
    return F.interpolate(maps[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def _check_heatmaps(heatmap, name: str = "heatmap") -> torch.Tensor:
    if not isinstance(heatmap, torch.Tensor):
        heatmap = torch.as_tensor(np.asarray(heatmap))
    if heatmap.dim() not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or a batch (N, H, W), got shape {tuple(heatmap.shape)}; "
                         f"drop the channel axis with maps[:, 0] if there is one.")
    bad = (~torch.isfinite(heatmap)).sum().item() if heatmap.is_floating_point() else 0
    if bad:
        raise ValueError(f"{name} contains {bad} NaN or infinite values, so its maximum, threshold and ranking are "
                         f"undefined (a map of NaN images, or of a model that outputs NaN). Fix the images or the "
                         f"model, or replace the values, e.g. torch.nan_to_num({name}, nan=0.0).")
    return heatmap.detach().float().cpu()  # scores are computed on the CPU, whatever device made the map


# ---------------------------------------------------------------------------- the maps
def cam(model: nn.Module, x: torch.Tensor, target, upsample: bool = False) -> torch.Tensor:
    """Class activation map (Zhou et al. 2016): M_c(i, j) = sum_k w_ck A_k(i, j).

    The model must expose `features` (x -> last conv maps A: (N, K, h, w)) and `classifier` (one
    nn.Linear(K, classes) with weights w), and compute logits = classifier(mean over (i, j) of A), like
    `cnnbook.models.GAPNet`. x: (N, C, H, W); target: int or (N,) class indices.
    Returns (N, h, w) — signed, as in the paper — or (N, H, W) bilinearly upsampled when `upsample`.
    """
    _check_model(model)
    x = _check_images(x)
    features, classifier = getattr(model, "features", None), getattr(model, "classifier", None)
    if not isinstance(features, nn.Module) or not isinstance(classifier, nn.Linear):
        raise TypeError("cam needs a model that ends in global average pooling + one linear layer and names "
                        "the parts: model.features (conv layers, output (N, K, h, w)) and model.classifier "
                        f"(one nn.Linear(K, classes)); got features={type(features).__name__}, classifier="
                        f"{type(classifier).__name__}. See cnnbook.models.GAPNet, or use grad_cam, which works "
                        "with any conv layer.")
    with torch.no_grad():
        maps = features(x)
        if maps.dim() != 4 or maps.shape[1] != classifier.in_features:
            raise ValueError(f"model.features must return (N, K, h, w) with K = classifier.in_features = "
                             f"{classifier.in_features}, got shape {tuple(maps.shape)}.")
        logits = model(x)
        gap_logits = classifier(maps.mean(dim=(2, 3)))
        if logits.shape != gap_logits.shape or not torch.allclose(logits, gap_logits, rtol=1e-4, atol=1e-4):
            raise ValueError("model(x) differs from model.classifier(model.features(x).mean((2, 3))): the model "
                             "is not 'features -> global average pool -> one linear layer', so CAM does not apply."
                             " Use grad_cam instead.")
        t = _check_target(target, len(x), classifier.out_features)
        weights = classifier.weight[t.to(classifier.weight.device)]  # (N, K): the class's row of the linear layer, w_ck
        result = torch.einsum("nk,nkhw->nhw", weights, maps)
    return _upsample(result, x.shape[-2:]) if upsample else result


def grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target, upsample: bool = False) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017) at `layer`: L_c = ReLU(sum_k alpha_k A_k), alpha_k = mean_ij dy_c/dA_k(i, j).

    A: (N, K, h, w) is the output of `layer` (a module inside `model`), caught by a forward hook; y_c is the
    class's logit (pre-softmax score). The gradient is asked for directly with torch.autograd.grad(y_c, A), so
    no backward hook is needed and the parameters' .grad stay untouched. The hook is removed in a `finally`,
    even when the forward pass raises. x: (N, C, H, W); target: int or (N,) class indices.
    Returns (N, h, w), or (N, H, W) bilinearly upsampled to the input when `upsample`.
    """
    _check_model(model)
    x = _check_images(x)
    if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
        raise ValueError(f"layer must be a module inside model (e.g. model.features[-1]), got "
                         f"{type(layer).__name__}, which is not one of model.modules().")
    caught = {}

    def keep_output(module, inputs, output):
        caught["A"], caught["version"] = output, getattr(output, "_version", None)

    handle = layer.register_forward_hook(keep_output)
    try:
        with torch.enable_grad():
            logits = model(x.detach().requires_grad_(True))  # a graph exists even if the weights are frozen
    finally:
        handle.remove()
    if "A" not in caught:
        raise ValueError(f"the layer {type(layer).__name__} was not called during model(x); pick a layer on the "
                         f"forward path.")
    activation = caught["A"]
    if not isinstance(activation, torch.Tensor) or activation.dim() != 4:
        shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) else type(activation).__name__
        raise ValueError(f"Grad-CAM needs a layer whose output is conv maps (N, K, h, w), got {shape}; "
                         f"a linear or pooled layer has no spatial axes to make a map from.")
    if activation._version != caught["version"]:
        raise ValueError("the layer's output was modified in place later in the forward pass (e.g. "
                         "nn.ReLU(inplace=True)); use inplace=False so the caught activation is the real one.")
    if logits.dim() != 2:
        raise ValueError(f"model(x) must return class scores (N, classes), got shape {tuple(logits.shape)}.")
    t = _check_target(target, len(x), logits.shape[1]).to(logits.device)
    score = logits.gather(1, t[:, None]).sum()  # images are independent, so one backward serves the batch
    (grads,) = torch.autograd.grad(score, activation)
    alpha = grads.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    maps = torch.relu((alpha * activation).sum(dim=1)).detach()
    return _upsample(maps, x.shape[-2:]) if upsample else maps


# ---------------------------------------------------------------------------- scores
def box_from_heatmap(heatmap, threshold: float = 0.2) -> torch.Tensor:
    """Box around the largest connected region where heatmap >= threshold * max(heatmap).

    heatmap: (H, W) or (N, H, W), at the input's resolution. Connected = 4-neighbours (scipy.ndimage.label);
    largest = most pixels. Returns int64 (4,) or (N, 4) boxes (x0, y0, x1, y1), half-open pixel bounds.
    A map with no positive value (no evidence) gives the empty box (0, 0, 0, 0), whose IoU is 0.
    A map with a NaN or infinite value raises ValueError (its maximum, hence the threshold, is undefined).
    Maps on a GPU are copied to the CPU; the boxes are CPU tensors.
    """
    threshold = _validate.number(threshold, "threshold", low=0.0, high=1.0, who="box_from_heatmap",
                                 meaning="a fraction of the map's maximum; Zhou et al. use 0.2")
    if threshold == 0.0:
        raise ValueError("box_from_heatmap: threshold must be in (0, 1] (a fraction of the map's maximum; "
                         "0 would box the whole map), got 0.0; Zhou et al. use 0.2.")
    maps = _check_heatmaps(heatmap)
    single = maps.dim() == 2
    m = maps.reshape(-1, *maps.shape[-2:]).numpy()
    peak = m.max(axis=(1, 2), keepdims=True)
    # one labelling call for the whole batch: the structure links 4-neighbours within a map, never across maps
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    labels, count = ndimage.label((m >= threshold * peak) & (peak > 0), structure)
    boxes = np.zeros((len(m), 4), dtype=np.int64)
    if count:
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]  # pixels of component 1..count
        slices = ndimage.find_objects(labels)  # (map, rows, cols) bounding slices of each component
        owner = np.array([s[0].start for s in slices])
        # largest component of each map; ties go to the first in row-major order, as np.argmax would
        order = np.lexsort((np.arange(count), -sizes, owner))
        maps_with_one, first = np.unique(owner[order], return_index=True)
        for n, k in zip(maps_with_one, order[first]):
            _, rows, cols = slices[k]
            boxes[n] = (cols.start, rows.start, cols.stop, rows.stop)
    boxes = torch.from_numpy(boxes)
    return boxes[0] if single else boxes


def iou(box_a, box_b) -> torch.Tensor:
    """Intersection over union of boxes (..., 4) = (x0, y0, x1, y1), half-open; broadcasts. 0 if both empty."""
    a, b = torch.as_tensor(box_a).float().cpu(), torch.as_tensor(box_b).float().cpu()
    if a.shape[-1] != 4 or b.shape[-1] != 4:
        raise ValueError(f"boxes must have 4 numbers (x0, y0, x1, y1) in the last axis, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}.")
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = w * h
    area = lambda box: (box[..., 2] - box[..., 0]).clamp(min=0) * (box[..., 3] - box[..., 1]).clamp(min=0)  # noqa: E731
    union = area(a) + area(b) - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))


def pointing_game(heatmap, mask) -> torch.Tensor:
    """Hit (True) when the heat map's maximum lies on the object: mask[argmax(heatmap)].

    heatmap, mask: (H, W) or (N, H, W), same shape; mask is bool. Ties go to the first maximum in row-major
    order (torch.argmax). Returns bool () or (N,).
    """
    maps = _check_heatmaps(heatmap)
    mask = torch.as_tensor(mask).cpu()
    if mask.shape != maps.shape or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor of the heat map's shape {tuple(maps.shape)}, got {mask.dtype} "
                         f"{tuple(mask.shape)}; upsample the map to the input size first (upsample=True).")
    pixels = maps.shape[-2] * maps.shape[-1]
    flat_maps, flat_mask = maps.reshape(-1, pixels), mask.reshape(-1, pixels)
    hits = flat_mask.gather(1, flat_maps.argmax(dim=1, keepdim=True))[:, 0]
    return hits[0] if maps.dim() == 2 else hits


@torch.no_grad()
def deletion_curve(model: nn.Module, x: torch.Tensor, heatmap, target, steps: int = 20, fill: float = 0.0,
                   batch_size: int = 500, max_fraction: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Delete the most salient pixels first and track p(target | image) (Petsiuk et al. 2018's deletion game).

    x: (N, C, H, W); heatmap: (N, H, W) at the input resolution; target: int or (N,). At step s = 0..steps
    the fraction max_fraction * s/steps of pixels with the highest heat (all channels) is set to `fill`
    (max_fraction < 1 zooms in on the start of the curve, where small objects lose their evidence).
    Returns fractions (steps+1,) and probabilities (N, steps+1), on the CPU; x stays on the model's device.
    A faithful map makes the probability fall fast.
    """
    _check_model(model)
    x = _check_images(x)
    maps = _check_heatmaps(heatmap)
    if maps.shape != (x.shape[0], *x.shape[-2:]):
        raise ValueError(f"heatmap must be (N, H, W) = {(x.shape[0], *x.shape[-2:])} to match x, got "
                         f"{tuple(maps.shape)}; use upsample=True in cam/grad_cam.")
    steps = _validate.positive_int(steps, "steps", "deletion steps, e.g. 20", "deletion_curve")
    max_fraction = _validate.number(max_fraction, "max_fraction", low=0.0, high=1.0, who="deletion_curve",
                                    meaning="the largest fraction of pixels deleted")
    if max_fraction == 0:
        raise ValueError("deletion_curve: max_fraction must be in (0, 1] (the largest fraction of pixels deleted), "
                         "got 0.")
    pixels = maps.shape[-2] * maps.shape[-1]
    order = maps.reshape(len(maps), -1).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(pixels).expand_as(order))  # 0 = hottest
    rank = rank.to(x.device)  # the pixels are deleted where the images are
    rank = rank.reshape(len(maps), 1, *maps.shape[-2:])
    fractions = torch.linspace(0, max_fraction, steps + 1)
    probs = torch.empty(len(x), steps + 1)
    t = None
    for s, fraction in enumerate(fractions):
        deleted = rank < int(round(fraction.item() * pixels))
        for i in range(0, len(x), batch_size):
            xb = torch.where(deleted[i:i + batch_size], torch.tensor(fill, dtype=x.dtype, device=x.device),
                             x[i:i + batch_size])
            p = model(xb).softmax(dim=1)
            if t is None:
                t = _check_target(target, len(x), p.shape[1]).to(p.device)
            probs[i:i + batch_size, s] = p.gather(1, t[i:i + batch_size, None])[:, 0].cpu()
    return fractions, probs


def deletion_auc(fractions: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """Area under each deletion curve (trapezoid rule over the deleted fraction): (N, S) -> (N,). Lower = better."""
    return torch.trapezoid(probs, fractions, dim=-1)


def rank_correlation(a, b) -> torch.Tensor:
    """Spearman rank correlation of each pair of maps: a, b (N, ...) -> (N,) in [-1, 1].

    Pearson correlation of the ranks, tied values sharing their average rank. NaN where a map is constant.
    """
    a, b = torch.as_tensor(a).detach().double(), torch.as_tensor(b).detach().double()
    if a.shape != b.shape or a.dim() < 2:
        raise ValueError(f"a and b must be batches of maps with the same shape (N, ...), got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}.")

    def ranks(v: torch.Tensor) -> torch.Tensor:
        v = v.reshape(len(v), -1)
        s = v.sort(dim=1).values
        below = torch.searchsorted(s, v, right=False)  # how many are smaller
        upto = torch.searchsorted(s, v, right=True)  # how many are smaller or equal
        return (below + upto + 1) / 2  # average 1-based rank of the tie group

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(dim=1, keepdim=True), rb - rb.mean(dim=1, keepdim=True)
    return ((ra * rb).sum(dim=1) / (ra.norm(dim=1) * rb.norm(dim=1))).float()


def localisation_scores(heatmaps, boxes, masks, threshold: float = 0.2) -> dict[str, float]:
    """Box accuracy (IoU >= 0.5 with the true box), mean IoU and pointing-game accuracy of a batch of maps.

    heatmaps: (N, H, W) at the input resolution; boxes: (N, 4); masks: bool (N, H, W).
    """
    maps = _check_heatmaps(heatmaps)
    overlaps = iou(box_from_heatmap(maps, threshold), boxes)
    return {"box accuracy": (overlaps >= 0.5).float().mean().item(), "mean IoU": overlaps.mean().item(),
            "pointing accuracy": pointing_game(maps, masks).float().mean().item()}
