"""Photographs: real images that ship inside scikit-image, as tensors, with nothing downloaded.

Used by chapters 1, 4, 6 and 8. The MNIST digits cannot show textures or objects; these can:

- `photo(name)` one of scikit-image's sample photographs (`PHOTOS`: a cat, an astronaut, coffee, ...) as a
  float tensor (C, H, W) in [0, 1]; `gray=True` for (1, H, W), `size=` to shrink it (antialiased).
- `faces(split)` the 200 crops of scikit-image's `lfw_subset` (25 × 25, grayscale, from Labeled Faces in the
  Wild): 100 faces (label 1) and 100 non-faces (label 0), split stratified and seeded into 120 training,
  40 validation and 40 test crops.
- `augment(images, generator)` random horizontal flips and shifts of a few pixels, drawn from the
  `torch.Generator` the caller passes (no global random state is used).
- `texture_patches(split)` square patches cut from the texture photographs brick, grass and gravel
  (labels 0, 1, 2), training patches from the top half of each photograph, test patches from the bottom half,
  so that no pixel is in both.

All images come from the installed scikit-image wheel (`skimage.data`); nothing is fetched from a network.
The fully convolutional face detector trained on `faces` is `cnnbook.models.FaceNet`, trained by
`cnnbook.recipes.train_face_net`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import _validate

# Photographs that ship inside the scikit-image wheel (no pooch download), in colour or grayscale.
PHOTOS = ("astronaut", "chelsea", "coffee", "camera", "brick", "grass", "gravel")
TEXTURES = ("brick", "grass", "gravel")  # texture_patches labels 0, 1, 2
FACE_SPLITS = ("train", "validation", "test")
FACES_PER_SPLIT = {"train": 60, "validation": 20, "test": 20}  # per class; 100 faces + 100 non-faces
FACE_LABELS = ("non-face", "face")  # label 0, label 1


def _skimage_data():
    """scikit-image's sample data module, or an error that says how to install it."""
    try:
        import skimage.data
    except ImportError as err:  # pragma: no cover - scikit-image is in requirements.txt
        raise ImportError("cnnbook.photos needs scikit-image (pip install -r requirements.txt installs the "
                          "pinned version); its sample photographs ship inside the wheel.") from err
    return skimage.data


def to_gray(image: torch.Tensor) -> torch.Tensor:
    """Luminance of an RGB image: (3, H, W) or (N, 3, H, W) -> (1, H, W) or (N, 1, H, W).

    gray = 0.2125 R + 0.7154 G + 0.0721 B (the ITU-R BT.709 weights scikit-image's rgb2gray uses).
    A one-channel image is returned unchanged.
    """
    if not isinstance(image, torch.Tensor) or image.dim() not in (3, 4):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"to_gray needs an image (C, H, W) or a batch (N, C, H, W), got {shape}.")
    channels = image.shape[-3]
    if channels == 1:
        return image
    if channels != 3:
        raise ValueError(f"to_gray needs 1 or 3 channels (grayscale or RGB), got {channels}.")
    weights = torch.tensor([0.2125, 0.7154, 0.0721], dtype=image.dtype, device=image.device)
    return (image * weights.view(3, 1, 1)).sum(dim=-3, keepdim=True)


def photo(name: str, gray: bool = False, size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """One of scikit-image's sample photographs as float32 (C, H, W) in [0, 1].

    name: one of `PHOTOS` ("chelsea" is a cat, 300 × 451; "astronaut" 512 × 512; "coffee" 400 × 600 are
    RGB; "camera", "brick", "grass", "gravel" are grayscale, 512 × 512). C = 3 for RGB photographs, 1 for
    grayscale ones or when gray=True (luminance, `to_gray`). size: an int (the shorter side, aspect kept)
    or (H, W) to resize with antialiased bilinear interpolation; None keeps the original size.
    """
    if name not in PHOTOS:
        raise ValueError(f"name must be one of {PHOTOS}, got {name!r}.")
    array = getattr(_skimage_data(), name)()
    image = torch.from_numpy(np.ascontiguousarray(array)).float() / 255.0
    image = image.permute(2, 0, 1) if image.dim() == 3 else image.unsqueeze(0)
    if gray:
        image = to_gray(image)
    if size is not None:
        image = resize(image, size)
    return image.contiguous()


def resize(image: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize (C, H, W) or (N, C, H, W) with antialiased bilinear interpolation, values clamped to [0, 1].

    size: an int sets the shorter side (aspect ratio kept, the other side rounded), (H, W) sets both.
    """
    _validate.tensor(image, "image", "resize", "(C, H, W) or (N, C, H, W), e.g. photo(name)", floating=True)
    if image.dim() not in (3, 4):
        raise ValueError(f"resize needs an image (C, H, W) or a batch (N, C, H, W), e.g. photo(name), got shape "
                         f"{tuple(image.shape)}.")
    h, w = image.shape[-2:]
    if _validate.is_int(size):
        size = _validate.positive_int(size, "size", "the shorter side in pixels", "resize")
        scale = size / min(h, w)
        out = (max(1, round(h * scale)), max(1, round(w * scale)))
    else:
        out = _validate.pair(size, "size", 1, "resize", "an int (the shorter side) or a pair (H, W)")
    batch = image if image.dim() == 4 else image.unsqueeze(0)
    resized = F.interpolate(batch, size=out, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return resized if image.dim() == 4 else resized[0]


def _split_indices(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Stratified, seeded split of the 200 lfw_subset indices: per class 60 / 20 / 20, each part sorted."""
    rng = np.random.default_rng(seed)
    parts = {s: [] for s in FACE_SPLITS}
    for label in (0, 1):
        order = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for split in FACE_SPLITS:
            parts[split].append(order[start:start + FACES_PER_SPLIT[split]])
            start += FACES_PER_SPLIT[split]
    return {s: np.sort(np.concatenate(p)) for s, p in parts.items()}


def faces(split: str = "train", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Faces and non-faces from Labeled Faces in the Wild (scikit-image's `lfw_subset`), as (images, labels).

    images: float32 (N, 1, 25, 25) in [0, 1]; labels: int64 (N,), 1 = face, 0 = non-face (`FACE_LABELS`).
    split: "train" (N = 120), "validation" (N = 40) or "test" (N = 40), each half faces and half non-faces.
    seed: which stratified split (the same seed always gives the same three disjoint parts). The faces are
    tight crops of 100 different photographs of people; the non-faces are crops of other scenes.
    """
    _validate.choice(split, "split", FACE_SPLITS, "faces")
    seed = _validate.integer(seed, "seed", 0, "it picks the split", "faces")
    crops = _skimage_data().lfw_subset()  # (200, 25, 25) float64 in [0, 1]: 100 faces, then 100 non-faces
    labels = np.r_[np.ones(100, dtype=np.int64), np.zeros(100, dtype=np.int64)]
    idx = _split_indices(labels, int(seed))[split]
    images = torch.from_numpy(crops[idx]).float().unsqueeze(1).contiguous()
    return images, torch.from_numpy(labels[idx])


def augment(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2, flip: bool = True,
            contrast: float = 0.0, brightness: float = 0.0) -> torch.Tensor:
    """Randomly flipped (left-right) and shifted copies of a batch: (N, C, H, W) -> (N, C, H, W).

    Each image is flipped with probability 1/2 (if flip) and shifted by whole pixels dy, dx drawn uniformly
    from [-max_shift, max_shift]; the border it uncovers repeats the edge pixels. With contrast = c > 0 and
    brightness = b > 0, each image then becomes (x - mean)·u + mean + v, clamped to [0, 1], with u uniform
    in [1 - c, 1 + c] and v uniform in [-b, b] (its mean over all pixels). All randomness comes from
    `generator` (a CPU `torch.Generator`, e.g. torch.Generator().manual_seed(0)), so the same generator
    state gives the same batch and the global random state is not touched.
    """
    _validate.tensor(images, "images", "augment", "(N, C, H, W); for one image use image.unsqueeze(0)", dims=4,
                     floating=True)
    _validate.generator(generator, "generator", "augment")
    max_shift = _validate.integer(max_shift, "max_shift", minimum=0, meaning="pixels", who="augment")
    flip = _validate.flag(flip, "flip", "augment")
    for value, name in ((contrast, "contrast"), (brightness, "brightness")):
        _validate.number(value, name, low=0.0, high=1.0, high_open=True, who="augment",
                         meaning="the largest relative change")
    n, _, h, w = images.shape
    if max_shift >= min(h, w):
        raise ValueError(f"max_shift={max_shift} must be smaller than the image ({h} × {w}).")
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)
    gains = 1.0 + contrast * (2 * torch.rand(n, generator=generator) - 1)
    offsets = brightness * (2 * torch.rand(n, generator=generator) - 1)
    out = torch.where(flips.view(n, 1, 1, 1).to(images.device), images.flip(-1), images)
    if max_shift > 0:
        s = int(max_shift)
        padded = F.pad(out, (s, s, s, s), mode="replicate")
        rows = []
        for i in range(n):
            dy, dx = int(shifts[i, 0]), int(shifts[i, 1])
            # content moves by (dy, dx): output pixel (y, x) reads input pixel (y - dy, x - dx)
            rows.append(padded[i, :, s - dy:s - dy + h, s - dx:s - dx + w])
        out = torch.stack(rows)
    if contrast > 0 or brightness > 0:
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        view = (n, 1, 1, 1)
        out = ((out - mean) * gains.view(view).to(out) + mean + offsets.view(view).to(out)).clamp(0.0, 1.0)
    return out.clone() if out is images else out


def texture_patches(split: str = "train", size: int = 32, stride: int | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Square grayscale patches of the texture photographs brick, grass, gravel: (images, labels).

    images: float32 (N, 1, size, size) in [0, 1]; labels: int64 (N,), the index in `TEXTURES`
    (0 brick, 1 grass, 2 gravel). Each photograph is 512 × 512: split="train" cuts patches from its top
    half (rows 0-255), split="test" from its bottom half (rows 256-511), on a grid with step `stride`
    (default: size, i.e. patches do not overlap). With size 32: 8 × 16 = 128 patches per texture and split.
    """
    _validate.choice(split, "split", ("train", "test"), "texture_patches")
    size = _validate.integer(size, "size", 4, "patch side in pixels", "texture_patches")
    if size > 256:
        raise ValueError(f"texture_patches: size must be an int in [4, 256] (patch side in pixels), got {size!r}.")
    stride = size if stride is None else stride
    stride = _validate.positive_int(stride, "stride", "pixels between patches", "texture_patches")
    images, labels = [], []
    for label, name in enumerate(TEXTURES):
        half = photo(name)[:, :256] if split == "train" else photo(name)[:, 256:]
        patches = half.unfold(1, size, stride).unfold(2, size, stride)  # (1, nh, nw, size, size)
        patches = patches.reshape(-1, 1, size, size)
        images.append(patches)
        labels.append(torch.full((len(patches),), label, dtype=torch.int64))
    return torch.cat(images).contiguous(), torch.cat(labels)
