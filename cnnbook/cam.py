"""Class activation maps: where a CNN's evidence for a class lies in the image, and how to score it.

Used by chapter 6. `cam` is the original class activation map (Zhou et al. 2016) for networks that end in
global average pooling + one linear layer; `grad_cam` (Selvaraju et al. 2017) works at any conv layer of
any differentiable classifier, using gradients. The rest turns heat maps into numbers:
`box_from_heatmap` + `iou` (box accuracy), `pointing_game`, `deletion_curve` / `deletion_auc`, and
`rank_correlation` for the model-randomisation sanity check (Adebayo et al. 2018). `score_maps`,
`box_and_point_scores` and `deletion_score` are the chapter's scoring protocol in one call each: a box at a
threshold chosen on calibration images, the pointing game on the box and on the ink, and the start of the
deletion curve; `centre_prior`, `random_prior` and `ink_density` are the baselines that know no model.

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
    finite = torch.isfinite(heatmap) if heatmap.is_floating_point() else None
    bad = 0 if finite is None or bool(finite.all()) else (~finite).sum().item()
    if bad:
        raise ValueError(f"{name} contains {bad} NaN or infinite values, so its maximum, threshold and ranking are "
                         f"undefined (a map of NaN images, or of a model that outputs NaN). Fix the images or the "
                         f"model, or replace the values, e.g. torch.nan_to_num({name}, nan=0.0).")
    return heatmap.detach().float().cpu()  # scores are computed on the CPU, whatever device made the map


# ---------------------------------------------------------------------------- the maps
CAM_CHECK_IMAGES = 32  # images on which cam compares model(x) with classifier(GAP(features(x)))


def cam(model: nn.Module, x: torch.Tensor, target, upsample: bool = False) -> torch.Tensor:
    """Class activation map (Zhou et al. 2016): M_c(i, j) = sum_k w_ck A_k(i, j).

    The model must expose `features` (x -> last conv maps A: (N, K, h, w)) and `classifier` (one
    nn.Linear(K, classes) with weights w), and compute logits = classifier(mean over (i, j) of A), like
    `cnnbook.models.GAPNet` (checked on the first `CAM_CHECK_IMAGES` images: a model that does not end
    that way raises ValueError). x: (N, C, H, W); target: int or (N,) class indices.
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
        # the architecture check needs only a few images: a model that is not "features -> GAP -> linear"
        # differs on any of them, and the full batch would cost a second forward pass
        k = min(len(x), CAM_CHECK_IMAGES)
        logits = model(x[:k])
        gap_logits = classifier(maps[:k].mean(dim=(2, 3)))
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
    boxes = _largest_region_boxes(maps.reshape(-1, *maps.shape[-2:]).numpy(), threshold)
    return boxes[0] if maps.dim() == 2 else boxes


def _largest_region_boxes(m: np.ndarray, threshold: float) -> torch.Tensor:
    """box_from_heatmap's work on checked maps m: (N, H, W) float array -> int64 (N, 4)."""
    peak = m.max(axis=(1, 2), keepdims=True)
    # one labelling call for the whole batch: the structure links 4-neighbours within a map, never across maps
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    labels, count = ndimage.label((m >= threshold * peak) & (peak > 0), structure)
    boxes = np.zeros((len(m), 4), dtype=np.int64)
    if count:
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]  # pixels of component 1..count
        # bounding box of every component at once: sort the labelled pixels by label, then min/max per run
        flat = labels.ravel()
        where = flat.nonzero()[0]
        where = where[np.argsort(flat[where], kind="stable")]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])  # first pixel of each label in the sorted run
        owner_of_pixel, rest = np.divmod(where, m.shape[1] * m.shape[2])
        row, col = np.divmod(rest, m.shape[2])
        owner = owner_of_pixel[starts]
        bounds = np.stack([np.minimum.reduceat(col, starts), np.minimum.reduceat(row, starts),
                           np.maximum.reduceat(col, starts) + 1, np.maximum.reduceat(row, starts) + 1], axis=1)
        # largest component of each map; ties go to the first in row-major order, as np.argmax would
        order = np.lexsort((np.arange(count), -sizes, owner))
        maps_with_one, first = np.unique(owner[order], return_index=True)
        boxes[maps_with_one] = bounds[order[first]]
    return torch.from_numpy(boxes)


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


# ---------------------------------------------------------------------------- the chapter's scoring protocol
BOX_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # fractions of a map's maximum tried for its box


def _check_boxes(boxes, n: int, name: str, who: str) -> torch.Tensor:
    boxes = torch.as_tensor(boxes)
    if boxes.shape != (n, 4) or boxes.dtype.is_floating_point or boxes.dtype == torch.bool:
        raise ValueError(f"{who}: {name} must be an integer tensor (N, 4) = ({n}, 4) of boxes (x0, y0, x1, y1), "
                         f"one per map, got {boxes.dtype} {tuple(boxes.shape)}; a single box b: b.expand({n}, 4).")
    return boxes.cpu()


def _check_masks(masks, shape, name: str, who: str) -> torch.Tensor:
    masks = torch.as_tensor(masks).cpu()
    if masks.shape != shape or masks.dtype != torch.bool:
        raise ValueError(f"{who}: {name} must be a bool tensor of the maps' shape {tuple(shape)}, got {masks.dtype} "
                         f"{tuple(masks.shape)}; for boxes use box_mask(boxes, (H, W)), for an ink mask images > 0.5.")
    return masks


def _check_thresholds(thresholds, who: str) -> tuple[float, ...]:
    if not isinstance(thresholds, (tuple, list)) or not thresholds:
        raise TypeError(f"{who}: thresholds must be a non-empty tuple of fractions of the map's maximum, e.g. "
                        f"BOX_THRESHOLDS = {BOX_THRESHOLDS}, got {thresholds!r}.")
    thresholds = tuple(_validate.number(t, "threshold", low=0.0, high=1.0, who=who,
                                        meaning="a fraction of the map's maximum") for t in thresholds)
    if 0.0 in thresholds:
        raise ValueError(f"{who}: every threshold must be in (0, 1] (a fraction of the map's maximum; 0 would box "
                         f"the whole map), got {thresholds}; e.g. BOX_THRESHOLDS = {BOX_THRESHOLDS}.")
    return thresholds


def box_mask(boxes, size) -> torch.Tensor:
    """bool (N, H, W), True inside each half-open box (x0, y0, x1, y1) of boxes (N, 4); size = (H, W) or an int."""
    height, width = _validate.pair(size, "size", who="box_mask", example="for a 40×40 image pass 40 or (40, 40)")
    boxes = torch.as_tensor(boxes)
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"box_mask: boxes must be (N, 4) = (x0, y0, x1, y1) per image, got shape "
                         f"{tuple(boxes.shape)}; for one box use box[None].")
    x0, y0, x1, y1 = (boxes[:, k, None, None].cpu() for k in range(4))
    rows, cols = torch.arange(height)[:, None], torch.arange(width)[None, :]
    return (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)


def box_accuracy_curve(heatmaps, boxes, thresholds=BOX_THRESHOLDS) -> torch.Tensor:
    """Box accuracy at each threshold: the fraction of maps whose box (box_from_heatmap at t) has IoU >= 0.5
    with the true box. heatmaps: (N, H, W); boxes: (N, 4). Returns float (T,) in [0, 1]."""
    who = "box_accuracy_curve"
    maps = _check_heatmaps(heatmaps, "heatmaps")
    if maps.dim() != 3:
        raise ValueError(f"{who}: heatmaps must be a batch (N, H, W), got shape {tuple(maps.shape)}; use m[None].")
    boxes = _check_boxes(boxes, len(maps), "boxes", who)
    thresholds = _check_thresholds(thresholds, who)
    m = maps.numpy()
    return torch.tensor([(iou(_largest_region_boxes(m, t), boxes) >= 0.5).float().mean().item() for t in thresholds])


def calibrate_threshold(calib_heatmaps, calib_boxes, thresholds=BOX_THRESHOLDS) -> float:
    """The threshold with the best box accuracy on calibration images (M, H, W) with boxes (M, 4): chosen on
    other images than the ones scored, so the score is not fitted to them. Ties go to the smaller threshold."""
    thresholds = _check_thresholds(thresholds, "calibrate_threshold")
    curve = box_accuracy_curve(calib_heatmaps, calib_boxes, thresholds).tolist()
    return thresholds[curve.index(max(curve))]


def box_and_point_scores(predicted_boxes, points, boxes, masks) -> dict[str, float]:
    """Box accuracy and the two pointing games of given boxes and points, in %.

    predicted_boxes, boxes: (N, 4) (x0, y0, x1, y1); points: (N,) flat pixel indices row * W + col (the
    argmax of a map, or a baseline's guess); masks: bool (N, H, W), the object's pixels (its ink).
    Returns {"box acc": % with IoU >= 0.5, "point (box)": % of points inside the true box,
    "point (ink)": % of points on the mask}.
    """
    who = "box_and_point_scores"
    masks = torch.as_tensor(masks).cpu()
    if masks.dim() != 3 or masks.dtype != torch.bool:
        raise ValueError(f"{who}: masks must be a bool tensor (N, H, W), got {masks.dtype} {tuple(masks.shape)}.")
    n, height, width = masks.shape
    predicted_boxes = _check_boxes(predicted_boxes, n, "predicted_boxes", who)
    boxes = _check_boxes(boxes, n, "boxes", who)
    points = torch.as_tensor(points).cpu()
    if points.shape != (n,) or points.dtype.is_floating_point or points.dtype == torch.bool:
        raise ValueError(f"{who}: points must be an integer tensor ({n},) of flat pixel indices row * W + col, got "
                         f"{points.dtype} {tuple(points.shape)}; from a map: heat.flatten(1).argmax(1).")
    if n and (points.min() < 0 or points.max() >= height * width):
        raise ValueError(f"{who}: points must lie in [0, H * W) = [0, {height * width}), got "
                         f"{points.min().item()}..{points.max().item()}.")
    inside = box_mask(boxes, (height, width)).flatten(1).gather(1, points[:, None].long())[:, 0]
    on_ink = masks.flatten(1).gather(1, points[:, None].long())[:, 0]
    return {"box acc": 100 * (iou(predicted_boxes, boxes) >= 0.5).float().mean().item(),
            "point (box)": 100 * inside.float().mean().item(), "point (ink)": 100 * on_ink.float().mean().item()}


def score_maps(heatmaps, boxes, masks, calib_heatmaps, calib_boxes, thresholds=BOX_THRESHOLDS,
               curve: bool = True) -> dict:
    """Score one method's heat maps as chapter 6 does; every score in %.

    1. The box threshold is chosen on *other* images: the t in `thresholds` (fractions of each map's
       maximum) with the best box accuracy on calib_heatmaps (M, H, W) against calib_boxes (M, 4); ties
       go to the smaller t.
    2. On heatmaps (N, H, W), with boxes (N, 4) and masks bool (N, H, W) (the object's ink):
       "box acc": % of boxes (box_from_heatmap at t) with IoU >= 0.5; "point (box)" and "point (ink)":
       % of maps whose hottest pixel (first in row-major order) lies in the true box / on the ink.
    Returns those three, "threshold": t, and with `curve` "curve": box accuracy (%) at every threshold on
    the scored images (how much the choice of t matters).
    """
    who = "score_maps"
    maps, calib = _check_heatmaps(heatmaps, "heatmaps"), _check_heatmaps(calib_heatmaps, "calib_heatmaps")
    if maps.dim() != 3 or calib.dim() != 3 or maps.shape[1:] != calib.shape[1:]:
        raise ValueError(f"{who}: heatmaps and calib_heatmaps must be batches (N, H, W) and (M, H, W) of the same "
                         f"image size, got {tuple(maps.shape)} and {tuple(calib.shape)}.")
    boxes = _check_boxes(boxes, len(maps), "boxes", who)
    masks = _check_masks(masks, maps.shape, "masks", who)
    thresholds = _check_thresholds(thresholds, who)
    if not isinstance(curve, bool):
        raise TypeError(f"{who}: curve must be True or False, got {curve!r}.")
    t = calibrate_threshold(calib, calib_boxes, thresholds)
    scores = box_and_point_scores(_largest_region_boxes(maps.numpy(), t), maps.flatten(1).argmax(1), boxes, masks)
    scores["threshold"] = t
    if curve:
        scores["curve"] = (100 * box_accuracy_curve(maps, boxes, thresholds)).tolist()
    return scores


def deletion_score(model: nn.Module, x: torch.Tensor, heatmap, target, max_fraction: float = 0.05,
                   steps: int = 10) -> tuple[float, torch.Tensor]:
    """The start of the deletion game, in one number: the mean p(target) (in %) while the first
    `max_fraction` of the pixels are deleted in the order of heatmap (area under `deletion_curve` / max_fraction,
    averaged over the N images). Lower = the map finds the evidence faster. Also returns the mean curve
    (steps + 1,), for plotting. x: (N, C, H, W); heatmap: (N, H, W); target: int or (N,).
    """
    fractions, probs = deletion_curve(model, x, heatmap, target, steps=steps, max_fraction=max_fraction)
    return 100 * deletion_auc(fractions, probs).mean().item() / fractions[-1].item(), probs.mean(0)


# ---------------------------------------------------------------------------- baselines that know no model
def centre_prior(size, box_size) -> tuple[torch.Tensor, int, torch.Tensor]:
    """The centre baseline on an image of size (H, W): a box of box_size (w, h) at the centre, the centre pixel
    as its point (a flat index row * W + col) and a heat map that is hottest at the centre and cools in
    ellipses of the box's shape (for the deletion game). Returns (box (4,), point, heat (H, W))."""
    height, width = _validate.pair(size, "size", who="centre_prior", example="for 40×40 images pass 40")
    w, h = _validate.pair(box_size, "box_size", who="centre_prior", example="the mean box (width, height)")
    box = torch.tensor([(width - w) // 2, (height - h) // 2, (width + w) // 2, (height + h) // 2])
    yy, xx = torch.meshgrid(torch.arange(height) - (height - 1) / 2, torch.arange(width) - (width - 1) / 2,
                            indexing="ij")
    return box, (height // 2) * width + width // 2, -((yy / h) ** 2 + (xx / w) ** 2)


def random_prior(n: int, size, box_size, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The random baseline: n boxes of box_size (w, h) at uniform positions inside an image of size (H, W), and
    n uniform points (flat indices). Returns (boxes (n, 4), points (n,)), drawn from `generator`."""
    n = _validate.positive_int(n, "n", "how many images, e.g. 1000", "random_prior")
    height, width = _validate.pair(size, "size", who="random_prior", example="for 40×40 images pass 40")
    w, h = _validate.pair(box_size, "box_size", who="random_prior", example="the mean box (width, height)")
    generator = _validate.generator(generator, who="random_prior")
    corner = torch.stack([torch.randint(0, width - w + 1, (n,), generator=generator),
                          torch.randint(0, height - h + 1, (n,), generator=generator)], dim=1)
    boxes = torch.cat([corner, corner + torch.tensor([w, h])], dim=1)
    return boxes, torch.randint(0, height * width, (n,), generator=generator)


def ink_density(images: torch.Tensor, window: int = 7) -> torch.Tensor:
    """The no-model baseline map: mean brightness in a window × window neighbourhood (odd window), (N, 1, H, W)
    -> (N, H, W) on the CPU. It finds ink, the object's or the clutter's, without knowing any class."""
    images = _check_images(images)
    window = _validate.positive_int(window, "window", "an odd side in pixels, e.g. 7", "ink_density")
    if window % 2 == 0 or images.shape[1] != 1:
        raise ValueError(f"ink_density: needs an odd window (so each pixel is the centre) and one channel, got "
                         f"window={window} and {images.shape[1]} channels; for colour use images.mean(1, keepdim=True).")
    return F.avg_pool2d(images.cpu(), window, stride=1, padding=window // 2)[:, 0]
