"""Explorers for the HTML book: the data behind three explorers that run in the reader's browser, offline.

Used by chapters 1 (convolution), 5 (receptive field) and 6 (CAM). In JupyterLab the ipywidgets explorers of
`cnnbook.widgets` need a Python kernel; the HTML book has none. So a notebook cell precomputes what the page
cannot compute (a photograph, measured gradients, class maps of a trained network), packs it into a payload
(a JSON-ready dict, maps quantised to uint8 and base64-encoded), and shows it with `Explorer(payload)`: an
output bundle of the MIME type `MIME_TYPE` with a text fallback. In the book, `book/_ext/explorers_render.py`
turns the bundle into markup and `book/_static/explorers.js` computes the rest live (the convolution, the
receptive-field recurrence, the bilinear upsampling of the maps). This module builds payloads; it draws nothing.

Every word the page shows comes from `LABELS`, one table sent with each payload, so it can be translated.
A quantised array is `{"shape": [h, w], "lo": lo, "hi": hi, "data": base64 of uint8 q}` and stands for
lo + q (hi - lo) / 255 (`dequantise`): one quantisation step is (hi - lo) / 255.
"""

from __future__ import annotations

import base64
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import _validate

MIME_TYPE = "application/vnd.cnnbook.explorer+json"
KINDS = ("convolution", "receptive_field", "cam")
BUDGET_BYTES = 200_000  # explorer data per chapter page (the JSON the page embeds)
MAX_KERNEL = 7  # the largest kernel side the convolution explorer accepts (typed kernels included)

# Every visible or spoken word of the explorers; {name} marks a value the page fills in.
LABELS = {
    "conv_title": "Convolution explorer: computed in your browser",
    "image": "image",
    "own_image": "or your own image (stays on this page)",
    "own_image_name": "your image",
    "image_error": "{name} could not be read as an image",
    "kernel": "kernel",
    "typed": "typed below",
    "typed_kernel": "typed kernel: rows separated by ';', numbers by spaces",
    "kernel_error": "kernel not used: {why}",
    "kernel_number": "'{t}' is not a number",
    "kernel_rows": "every row needs the same number of values",
    "kernel_size": "a kernel has between 1×1 and {m}×{m} values",
    "stride": "stride",
    "padding": "padding",
    "dilation": "dilation",
    "input_caption": "input {h}×{w}",
    "output_caption": "output {h}×{w}",
    "size_formula": "{axis}: ⌊({n} + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1 = {o}",
    "rows": "rows",
    "columns": "columns",
    "too_small": "{axis}: the kernel does not fit, {n} + 2·{p} − {d}·({k} − 1) − 1 < 0; add padding, or pick a "
                 "smaller dilation or kernel",
    "output_map": "output map; move the pointer over it, or focus it and use the arrow keys",
    "window": "output ({i}, {j}) reads input rows {r0}…{r1}, columns {c0}…{c1}: {terms} = {sum}",
    "rf_title": "Receptive field explorer: the recurrence computed in your browser",
    "depth": "layers",
    "rf_kernel": "kernel size",
    "rf_result": "recurrence: a unit of layer {l} sees {r}×{r} input pixels (jump {j})",
    "rf_measured": "gradient support measured by the notebook: {m}×{m} pixels",
    "rf_map": "mean |gradient| of the centre unit (random initialisations), the recurrence's field dashed",
    "rf_row": "layer {l}: field {r}, jump {j}",
    "cam_title": "CAM explorer: maps of the trained network, upsampled in your browser",
    "test_image": "test image",
    "image_option": "{n}: label {y}",
    "target": "class",
    "predicted": "predicted ({c})",
    "method": "map",
    "layer": "layer",
    "opacity": "opacity",
    "cam_caption": "{method} at the {layer} layer, class {c}: p = {p}; the map's peak ○, the true box dashed",
    "score": "the chapter's score for this map ({n} test images): box accuracy {box}, pointing game {point}",
    "no_score": "(the chapter gives no score for this map)",
}


# ---------------------------------------------------------------------------- arrays
def quantise(values: torch.Tensor, lo: float | None = None, hi: float | None = None) -> dict:
    """A 2-D tensor as {"shape", "lo", "hi", "data"}: uint8 q = round(255 (v - lo) / (hi - lo)), base64.

    lo, hi: the range that maps to 0 and 255 (default: the tensor's min and max); values outside are clipped.
    """
    values = _validate.tensor(values, "values", "quantise", "(H, W)", dims=2, floating=True)
    _validate.not_empty(values.numel(), "values", "quantise", "pass a map with at least one pixel")
    if not torch.isfinite(values).all():
        raise ValueError("quantise: values must be finite; replace NaN/inf first (e.g. torch.nan_to_num).")
    v = values.detach().double().cpu()
    lo = float(v.min()) if lo is None else float(lo)
    hi = float(v.max()) if hi is None else float(hi)
    if hi < lo:
        raise ValueError(f"quantise: hi must be >= lo, got lo={lo}, hi={hi}.")
    q = torch.zeros_like(v) if hi == lo else ((v - lo) / (hi - lo) * 255).round().clamp(0, 255)
    data = base64.b64encode(q.to(torch.uint8).numpy().tobytes()).decode("ascii")
    return {"shape": list(v.shape), "lo": lo, "hi": hi, "data": data}


def dequantise(array: dict) -> torch.Tensor:
    """The float64 (H, W) tensor a quantised array stands for: lo + q (hi - lo) / 255."""
    if not isinstance(array, dict) or not {"shape", "lo", "hi", "data"} <= set(array):
        raise ValueError("dequantise needs a dict with keys shape, lo, hi, data, as made by quantise(values).")
    q = torch.frombuffer(bytearray(base64.b64decode(array["data"])), dtype=torch.uint8).double()
    return (array["lo"] + q * ((array["hi"] - array["lo"]) / 255)).reshape(array["shape"])


def step(array: dict) -> float:
    """One quantisation step of a quantised array: (hi - lo) / 255."""
    return (array["hi"] - array["lo"]) / 255


# ---------------------------------------------------------------------------- payloads
def _payload(kind: str, explorer_id: str, data: dict) -> dict:
    if not isinstance(explorer_id, str) or not explorer_id.replace("-", "").isalnum():
        raise ValueError(f"explorer_id must be letters, digits and '-' (it becomes an HTML id), got {explorer_id!r}.")
    return {"kind": kind, "id": explorer_id, "version": 1, "labels": dict(LABELS), "data": data}


def _image(image, name: str, who: str) -> torch.Tensor:
    image = _validate.tensor(image, name, who, "(H, W) with values in [0, 1]", dims=2, floating=True)
    if image.numel() == 0 or image.min() < 0 or image.max() > 1:
        raise ValueError(f"{who}: {name} must be a non-empty (H, W) image with values in [0, 1]; "
                         f"for a photograph use cnnbook.photos.photo(name, gray=True, size=64)[0].")
    return image


def convolution_payload(images: dict, kernels: dict, explorer_id: str = "conv") -> dict:
    """Chapter 1: grayscale images {name: (H, W) in [0, 1]} and kernels {name: (k_h, k_w)}, for the page's
    live `conv2d` (cross-correlation, zero padding, stride 1-4, padding 0-3, dilation 1-3, as torch)."""
    who = "convolution_payload"
    if not isinstance(images, dict) or not images:
        raise ValueError(f"{who}: images must be a non-empty dict {{name: (H, W) tensor}}, e.g. {{'digit': digit}}.")
    if not isinstance(kernels, dict) or not kernels:
        raise ValueError(f"{who}: kernels must be a non-empty dict {{name: (k, k) tensor}}, e.g. "
                         f"cnnbook.conv.classic_kernels().")
    packed_kernels = {}
    for name, k in kernels.items():
        k = _validate.tensor(k, f"kernels[{name!r}]", who, "(k_h, k_w)", dims=2, floating=True)
        if not 1 <= min(k.shape) <= max(k.shape) <= MAX_KERNEL:
            raise ValueError(f"{who}: kernels[{name!r}] must be between 1×1 and {MAX_KERNEL}×{MAX_KERNEL}, "
                             f"got {tuple(k.shape)}.")
        packed_kernels[str(name)] = k.double().tolist()
    packed_images = {str(name): quantise(_image(im, f"images[{name!r}]", who), 0.0, 1.0)
                     for name, im in images.items()}
    return _payload("convolution", explorer_id, {
        "images": packed_images, "kernels": packed_kernels, "max_kernel": MAX_KERNEL,
        "stride": [1, 4], "padding": [0, 3], "dilation": [1, 3]})


def chain(depth: int, kernel: int, stride: int = 1, dilation: int = 1, width: int = 4) -> nn.Sequential:
    """`depth` × (Conv2d(kernel, stride, dilation, no padding) → ReLU), 1 input channel, `width` channels:
    the networks of the receptive-field explorer (chapter 5)."""
    who = "chain"
    depth = _validate.positive_int(depth, "depth", "the number of conv layers, e.g. 3", who)
    kernel = _validate.positive_int(kernel, "kernel", "the kernel side, e.g. 3", who)
    stride = _validate.positive_int(stride, "stride", "e.g. 2", who)
    dilation = _validate.positive_int(dilation, "dilation", "e.g. 2", who)
    width = _validate.positive_int(width, "width", "channels per layer, e.g. 4", who)
    layers, c = [], 1
    for _ in range(depth):
        layers += [nn.Conv2d(c, width, kernel, stride=stride, dilation=dilation), nn.ReLU()]
        c = width
    return nn.Sequential(*layers)


def field_size(depth: int, kernel: int, stride: int, dilation: int) -> int:
    """The bottom-up recurrence of chapter 5 for `chain`: r += (k - 1) d j, then j *= s; r_0 = j_0 = 1."""
    r, j = 1, 1
    for _ in range(depth):
        r, j = r + (kernel - 1) * dilation * j, j * stride
    return r


def receptive_field_payload(depths=(1, 2, 3, 4), kernels=(3, 5), strides=(1, 2), dilations=(1, 2),
                            width: int = 4, n_inits: int = 2, n_inputs: int = 4, seed: int = 0,
                            explorer_id: str = "rf") -> dict:
    """Chapter 5: for every setting of the grid, the network `chain(depth, kernel, stride, dilation)` measured
    by the notebook: the support of the positive twin's gradient (`rf.empirical_receptive_field`, exact) and
    the effective field (`rf.effective_receptive_field`, mean |∂y/∂x| over n_inits × n_inputs, random), both
    for the centre unit, on an input with a margin of M ≥ 2 pixels around the field (M a multiple of the
    jump). The map is cropped to the field plus 2 pixels on each side and quantised (its maximum → 255)."""
    from .rf import effective_receptive_field, empirical_receptive_field

    who = "receptive_field_payload"
    grid = {}
    for name, values in (("depths", depths), ("kernels", kernels), ("strides", strides), ("dilations", dilations)):
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"{who}: {name} must be a non-empty list of ints, e.g. {name}=(1, 2).")
        grid[name] = [_validate.positive_int(v, name, "a grid value", who) for v in values]
    settings = {}
    for depth in grid["depths"]:
        for k in grid["kernels"]:
            for s in grid["strides"]:
                for d in grid["dilations"]:
                    r, jump = field_size(depth, k, s, d), s ** depth
                    margin = jump * math.ceil(2 / jump)
                    n = r + 2 * margin
                    net = chain(depth, k, s, d, width)
                    support = empirical_receptive_field(net, n)
                    erf = effective_receptive_field(net, n, n_inits=n_inits, n_inputs=n_inputs, seed=seed)
                    crop = erf.map[margin - 2:margin + r + 2, margin - 2:margin + r + 2]
                    settings[f"{depth},{k},{s},{d}"] = {
                        "measured": support.size[0], "box": [support.box[0] - margin + 2, support.box[2] - margin + 2],
                        "map": quantise(crop / crop.max(), 0.0, 1.0), "erf_std": round(erf.std[1], 3)}
    return _payload("receptive_field", explorer_id, {**grid, "margin": 2, "settings": settings})


def cam_payload(model: nn.Module, inputs: torch.Tensor, images: torch.Tensor, labels: torch.Tensor, layers: dict,
                scores: dict | None = None, true_boxes: torch.Tensor | None = None, explorer_id: str = "cam") -> dict:
    """Chapter 6: CAM (at the last conv maps) and Grad-CAM (at each of `layers`, {name: module}) of `model`
    for every class and every image, at feature resolution, ReLU applied (as the explorer of
    `cnnbook.widgets.cam_explorer` shows them), each map quantised on its own range.

    inputs: (N, 1, H, W) what the model reads; images: (N, H, W) in [0, 1], what the reader sees;
    labels: (N,); scores: {"CAM last" or "Grad-CAM NAME": {"n": images scored, "box": text, "point": text}},
    the chapter's scores, shown as given;
    true_boxes: (N, 4) (x0, y0, x1, y1) or None. The page upsamples the maps bilinearly to H × W.
    """
    from .cam import cam, grad_cam

    who = "cam_payload"
    inputs = _validate.tensor(inputs, "inputs", who, "(N, 1, H, W)", dims=4, floating=True)
    images = _validate.tensor(images, "images", who, "(N, H, W)", dims=3, floating=True)
    if images.shape[0] != inputs.shape[0] or images.shape[1:] != inputs.shape[2:]:
        raise ValueError(f"{who}: images {tuple(images.shape)} must be the inputs {tuple(inputs.shape)} as the "
                         f"reader sees them, (N, H, W) with the same N, H, W.")
    if not isinstance(labels, torch.Tensor) or labels.shape != (len(inputs),):
        raise ValueError(f"{who}: labels must be a (N,) tensor with one label per image ({len(inputs)} images).")
    if not isinstance(layers, dict) or not layers:
        raise ValueError(f"{who}: layers must be a non-empty dict {{name: module}} for Grad-CAM, e.g. "
                         f"{{'last': model.features[-1]}}.")
    n = len(inputs)
    with torch.no_grad():
        probs = model(inputs).softmax(dim=1)
    classes = probs.shape[1]
    x = inputs.repeat_interleave(classes, 0)  # image i, class c at row i * classes + c
    c = torch.arange(classes).repeat(n)
    maps = {"CAM last": cam(model, x, c).relu()}
    maps.update({f"Grad-CAM {name}": grad_cam(model, layer, x, c) for name, layer in layers.items()})
    packed = {name: [[quantise(m[i * classes + k]) for k in range(classes)] for i in range(n)]
              for name, m in maps.items()}
    return _payload("cam", explorer_id, {
        "images": [quantise(im, 0.0, 1.0) for im in images], "labels": [int(y) for y in labels],
        "probs": [[round(float(p), 4) for p in row] for row in probs],
        "boxes": None if true_boxes is None else [[int(v) for v in b] for b in true_boxes],
        "layers": list(layers), "maps": packed, "scores": scores or {}})


# ---------------------------------------------------------------------------- display
def payload_bytes(payload: dict) -> int:
    """Bytes of the payload as the page embeds it (compact UTF-8 JSON)."""
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class Explorer:
    """The notebook output of an explorer: a bundle {MIME_TYPE: payload, "text/plain": a fallback line}.

    The last expression of a cell; in JupyterLab the text shows (use the ipywidgets explorer there), in the
    HTML book the explorer runs. Refuses a payload that is not one of this module's or over `BUDGET_BYTES`.
    """

    def __init__(self, payload: dict):
        if not isinstance(payload, dict) or payload.get("kind") not in KINDS or "data" not in payload:
            raise ValueError("Explorer needs a payload from convolution_payload, receptive_field_payload or "
                             "cam_payload.")
        size = payload_bytes(payload)
        if size > BUDGET_BYTES:
            raise ValueError(f"the {payload['kind']} explorer's payload has {size:,} bytes, over the budget of "
                             f"{BUDGET_BYTES:,} per page; pass fewer images or a smaller grid.")
        self.payload, self.bytes = payload, size

    def __repr__(self) -> str:
        title = self.payload["labels"][{"convolution": "conv_title", "receptive_field": "rf_title",
                                        "cam": "cam_title"}[self.payload["kind"]]]
        return f"{title} — runs in the HTML book ({self.bytes // 1000} kB of data); in JupyterLab use the explorer above."

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {MIME_TYPE: self.payload, "text/plain": repr(self)}
